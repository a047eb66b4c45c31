//! Reading files from folders that other hands can reach (the cache, an
//! import folder, the data folder): only regular files, never through a
//! symbolic link, never blocking on a FIFO, never more than a cap. Anything
//! else is an error saying what was found, so the caller can set the entry
//! aside and go on with the rest.

use std::fs::{self, File, FileType, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Reads the regular file at `path`, at most `max_bytes` of it. A symbolic
/// link, a folder, a FIFO, a socket or a device is an
/// [`io::ErrorKind::InvalidInput`] error naming what it is; so is a file
/// larger than `max_bytes`.
pub fn read_regular(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > max_bytes {
        return Err(too_large(len, max_bytes));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The file may grow after the check: never read past the cap.
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(bytes.len() as u64, max_bytes));
    }
    Ok(bytes)
}

/// Opens `path` for reading if it is a regular file. `O_NOFOLLOW` refuses a
/// link, `O_NONBLOCK` keeps a FIFO from blocking the open, and the type is
/// checked on the opened file (fstat), so nothing swapped in between counts.
fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    // Elsewhere (Windows) a folder cannot even be opened as a file: the
    // entry's own type is checked first, then the opened file's.
    #[cfg(not(unix))]
    {
        let kind = fs::symlink_metadata(path)?.file_type();
        if !kind.is_file() {
            return Err(not_regular(describe(kind)));
        }
    }
    #[cfg(unix)]
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP)
            && fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        {
            return not_regular("a symbolic link");
        }
        e
    })?;
    #[cfg(not(unix))]
    let file = options.open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(not_regular(describe(kind)));
    }
    Ok(file)
}

/// What a folder entry is, in words: "a folder", "a named pipe (FIFO)" …
pub fn describe(kind: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

fn not_regular(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{what}, not a regular file (only regular files are read here; links are not followed)"
        ),
    )
}

fn too_large(len: u64, max_bytes: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{len} bytes, larger than the {max_bytes} bytes such a file can have"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular(&file, 5).unwrap(), b"12345");
        let err = read_regular(&file, 4).unwrap_err();
        assert!(err.to_string().contains("larger than the 4 bytes"), "{err}");
        let err = read_regular(dir.path(), 100).unwrap_err();
        assert!(err.to_string().starts_with("a folder"), "{err}");
        #[cfg(unix)]
        {
            let link = dir.path().join("zero");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            let err = read_regular(&link, 100).unwrap_err();
            assert!(err.to_string().starts_with("a symbolic link"), "{err}");
            let err = read_regular(Path::new("/dev/zero"), 100).unwrap_err();
            assert!(err.to_string().starts_with("a device"), "{err}");
            // A FIFO with no writer: opening must not block.
            let fifo = dir.path().join("fifo");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let err = read_regular(&fifo, 100).unwrap_err();
            assert!(err.to_string().starts_with("a named pipe"), "{err}");
        }
        assert_eq!(
            read_regular(&dir.path().join("missing"), 1)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
    }
}
