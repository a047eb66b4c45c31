//! *Clear cache and restart* (D4): wipe the data folder, start again.

use std::io;
use std::path::Path;

use super::DataDir;

/// Deletes everything in the data folder (the folder itself stays), except
/// `keep` if that lies inside it (an export made just before) and the
/// instance lock, which the process doing this holds.
///
/// All or nothing: everything is first moved aside into one folder inside
/// the data folder (a rename each, on the same disk), and deleted only once
/// all of it moved. If one entry cannot move (a mount point, a file another
/// program holds), the ones already moved go back and the error names the
/// entry: nothing is lost and the data folder is as it was.
pub fn wipe(data: &DataDir, keep: Option<&Path>) -> io::Result<()> {
    wipe_with(data, keep, |from, to| std::fs::rename(from, to))
}

fn wipe_with(
    data: &DataDir,
    keep: Option<&Path>,
    mut rename: impl FnMut(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let root = data.root();
    let keep = keep.and_then(|k| std::path::absolute(k).ok());
    let aside = root.join(format!(".clearing-{}", std::process::id()));
    let skip = [aside.clone(), data.instance_lock_file()];
    if aside.exists() {
        std::fs::remove_dir_all(&aside)?;
    }
    std::fs::create_dir(&aside)?;
    let mut moved = Vec::new();
    let mut move_all = || -> io::Result<()> {
        for entry in std::fs::read_dir(root)? {
            let entry = entry?;
            let path = entry.path();
            let absolute = std::path::absolute(&path)?;
            if skip.contains(&path) || keep.as_ref().is_some_and(|k| k.starts_with(&absolute)) {
                continue;
            }
            let to = aside.join(entry.file_name());
            rename(&path, &to)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            moved.push((path, to));
        }
        Ok(())
    };
    if let Err(e) = move_all() {
        for (from, to) in moved.iter().rev() {
            if let Err(back) = std::fs::rename(to, from) {
                log::error!("cannot move {} back: {back}", to.display());
            }
        }
        let _ = std::fs::remove_dir(&aside);
        return Err(e);
    }
    std::fs::remove_dir_all(&aside)
}

/// Starts a new copy of this program with the same arguments.
pub fn relaunch() {
    if let Ok(exe) = std::env::current_exe() {
        let _ = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .spawn();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_goes_but_the_export_and_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path().to_owned()).unwrap();
        std::fs::create_dir_all(data.cache_dir().join("2026")).unwrap();
        std::fs::write(data.cache_dir().join("2026/a.seg"), b"x").unwrap();
        std::fs::write(data.settings_file(), b"{}").unwrap();
        std::fs::write(data.instance_lock_file(), b"").unwrap();
        let export = data.root().join("export");
        std::fs::create_dir(&export).unwrap();
        wipe(&data, Some(&export)).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(data.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["export", "instance.lock"]);
    }

    #[test]
    fn an_entry_that_cannot_move_puts_the_others_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path().to_owned()).unwrap();
        std::fs::write(data.settings_file(), b"{}").unwrap();
        std::fs::create_dir_all(data.cache_dir()).unwrap();
        std::fs::write(data.cache_dir().join("a.seg"), b"x").unwrap();
        std::fs::write(data.root().join("session.json"), b"{}").unwrap();
        let before = names(&data);
        // The third entry cannot move (a mount point, say): two have moved.
        let mut calls = 0;
        let result = wipe_with(&data, None, |from, to| {
            calls += 1;
            if calls == 3 {
                return Err(io::Error::new(io::ErrorKind::ResourceBusy, "busy"));
            }
            std::fs::rename(from, to)
        });
        let error = result.unwrap_err().to_string();
        assert!(error.contains("busy"), "{error}");
        assert_eq!(names(&data), before, "nothing was lost");
        assert_eq!(std::fs::read(data.cache_dir().join("a.seg")).unwrap(), b"x");
    }

    fn names(data: &DataDir) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(data.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}
