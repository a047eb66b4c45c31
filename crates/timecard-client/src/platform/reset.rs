//! *Clear cache and restart* (D4): wipe the data folder, start again.

use std::io;
use std::path::Path;

use super::DataDir;

/// Deletes everything in the data folder (the folder itself stays), except
/// `keep` if that lies inside it (an export made just before).
pub fn wipe(data: &DataDir, keep: Option<&Path>) -> io::Result<()> {
    let keep = keep.and_then(|k| std::path::absolute(k).ok());
    for entry in std::fs::read_dir(data.root())? {
        let path = entry?.path();
        let absolute = std::path::absolute(&path)?;
        if keep.as_ref().is_some_and(|k| k.starts_with(&absolute)) {
            continue;
        }
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Starts a new copy of this program with the same arguments.
pub fn relaunch() {
    if let Ok(exe) = std::env::current_exe() {
        let _ = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .spawn();
    }
}
