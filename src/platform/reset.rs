//! *Clear cache and restart* (D4): wipe the data folder, start again.

use std::io;

use super::DataDir;

/// Deletes everything in the data folder (the folder itself stays).
pub fn wipe(data: &DataDir) -> io::Result<()> {
    for entry in std::fs::read_dir(data.root())? {
        let path = entry?.path();
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
