//! Durable file writes (K1): write to a temporary file in the same folder,
//! fsync it, rename it over the final name, fsync the folder. A crash at any
//! point leaves either no file or the whole file under the final name; the
//! temporary files a crash leaves behind are recognised by their name.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::private;

/// Prefix and suffix of temporary files; nothing with this shape is ever a segment.
pub const TEMP_PREFIX: &str = ".tmp-";
pub const TEMP_SUFFIX: &str = ".partial";

pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

/// Writes `bytes` to `dir/name` so that once this returns `Ok` the file
/// survives a crash or power loss with exactly these contents.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    write(dir, name, bytes, false)
}

/// Writes a file readable by its owner only, durably, at `path`.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // A bare file name is in the working folder.
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    write_private_file(dir, &name, bytes)
}

/// [`write_file`] for secrets (session token, private key): the file is
/// readable by its owner only, from its first byte on.
pub fn write_private_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    write(dir, name, bytes, true)
}

fn write(dir: &Path, name: &str, bytes: &[u8], private: bool) -> io::Result<()> {
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{name}.{}{TEMP_SUFFIX}",
        std::process::id()
    ));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        if private {
            private::create_owner_only(&mut options);
        }
        let mut file = options.open(&temp)?;
        if private && cfg!(windows) {
            private::restrict(&temp)?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        rename(&temp, &dir.join(name))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Creates `dir` and any missing parents readable by their owner only
/// (0700 whatever the umask allows); folders that exist are left as they are.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    private::create_dir_all(dir)
}

/// Removes `dir/name` and makes the removal durable.
pub fn remove_file(dir: &Path, name: &str) -> io::Result<()> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Moves `from_dir/name` to `to_dir/to_name` durably (both folders synced).
/// Whatever the entry is (a file, a folder, a link, a FIFO), it is moved,
/// never opened.
pub fn move_file(
    from_dir: &Path,
    name: impl AsRef<Path>,
    to_dir: &Path,
    to_name: impl AsRef<Path>,
) -> io::Result<()> {
    rename(&from_dir.join(name), &to_dir.join(to_name))?;
    sync_dir(to_dir)?;
    sync_dir(from_dir)
}

/// Makes the folder's entries (creations, renames, removals) durable.
///
/// On Windows a folder cannot be opened as a file to flush it; there the
/// rename itself is written through ([`rename`]) and NTFS journals the
/// folder's entries, so this does nothing.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        let _ = dir;
        Ok(())
    }
    #[cfg(not(windows))]
    fs::File::open(dir)?.sync_all()
}

/// Renames `from` over `to`. On Windows the call returns only once the
/// move is on the disk (`MOVEFILE_WRITE_THROUGH`); elsewhere the caller
/// syncs the folder.
fn rename(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        use std::os::windows::ffi::OsStrExt;
        use windows::Win32::Storage::FileSystem::{
            MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH, MoveFileExW,
        };
        use windows::core::PCWSTR;
        let wide = |p: &Path| -> Vec<u16> { p.as_os_str().encode_wide().chain([0]).collect() };
        let (from, to) = (wide(from), wide(to));
        // SAFETY: both names are NUL-terminated and live across the call.
        unsafe {
            MoveFileExW(
                PCWSTR(from.as_ptr()),
                PCWSTR(to.as_ptr()),
                MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
            )
        }
        .map_err(|e| io::Error::from_raw_os_error(e.code().0 & 0xFFFF))
    }
    #[cfg(not(windows))]
    fs::rename(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        write_file(dir.path(), "a.bin", b"one").unwrap();
        write_file(dir.path(), "a.bin", b"two").unwrap();
        assert_eq!(fs::read(dir.path().join("a.bin")).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["a.bin"]);
    }

    #[cfg(unix)]
    #[test]
    fn private_files_and_folders_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        create_private_dir_all(&inner).unwrap();
        assert_eq!((mode(&dir.path().join("a")), mode(&inner)), (0o700, 0o700));
        fs::write(inner.join("f"), b"old").unwrap();
        fs::set_permissions(inner.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
        write_private_file(&inner, "f", b"new").unwrap();
        assert_eq!(mode(&inner.join("f")), 0o600);
        create_private_dir_all(&inner).unwrap();
    }

    #[test]
    fn temp_names_are_recognised() {
        assert!(is_temp_name(".tmp-x.tcseg.123.partial"));
        assert!(!is_temp_name("x.tcseg"));
    }
}
