//! The data folder (D7) and what lives in it.
//!
//! `$XDG_DATA_HOME/timecard` on Linux (`~/.local/share/timecard`),
//! `~/Library/Application Support/Timecard` on macOS,
//! `%LOCALAPPDATA%\Timecard` on Windows; `--data-dir` or `TIMECARD_DATA_DIR`
//! override it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use timecard_core::fs::durable;
use timecard_core::fs::private;
use timecard_core::fs::read::read_regular;

/// The id in a `device-id` file: letters, digits, `-`, `_` and `.` only
/// (ids are UUIDs; nothing else is trusted to go on the wire).
fn valid_device_id(bytes: &[u8]) -> Option<String> {
    let id = std::str::from_utf8(bytes).ok()?.trim();
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    (!id.is_empty() && id.len() <= 128 && id.chars().all(fine)).then(|| id.to_owned())
}

/// Environment variable that overrides the data folder.
pub const DATA_DIR_ENV: &str = "TIMECARD_DATA_DIR";

/// The platform's default data folder, if the home folder is known.
pub fn default_data_dir() -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?;
    let name = if cfg!(target_os = "linux") {
        "timecard"
    } else {
        "Timecard"
    };
    Some(base.data_local_dir().join(name))
}

/// The data folder and the files in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Uses `explicit` (from `--data-dir` or the environment) or the
    /// platform default, creating the folder with owner-only permissions.
    pub fn resolve(explicit: Option<PathBuf>) -> io::Result<DataDir> {
        let root = explicit.or_else(default_data_dir).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("cannot find the home folder to put the data folder in; set {DATA_DIR_ENV} or pass --data-dir"),
            )
        })?;
        DataDir::at(root)
    }

    /// Uses `root` as the data folder, creating it if needed, owner-only
    /// (0700 on Unix; on Windows an access list naming the current user,
    /// which what is made inside inherits).
    pub fn at(root: PathBuf) -> io::Result<DataDir> {
        private::create_dir_all(&root)?;
        private::restrict(&root)?;
        Ok(DataDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The time cache's folder.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The single-instance lock (D1).
    pub fn instance_lock_file(&self) -> PathBuf {
        self.root.join("instance.lock")
    }

    pub fn settings_file(&self) -> PathBuf {
        self.root.join("settings.json")
    }

    /// The session token (owner-only permissions, Y5).
    pub fn session_file(&self) -> PathBuf {
        self.root.join("session.json")
    }

    /// This device's ticket from its last sign-in (owner-only), kept after
    /// signing out.
    pub fn device_ticket_file(&self) -> PathBuf {
        self.root.join("device-ticket.json")
    }

    /// Problem reports waiting to be sent (D3).
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }

    /// The last contract list from the server, for starting offline.
    pub fn contracts_file(&self) -> PathBuf {
        self.root.join("contracts.json")
    }

    /// Which clients' disputes and decisions the user was told of (R14).
    pub fn disputes_told_file(&self) -> PathBuf {
        self.root.join("disputes-told.json")
    }

    /// The server's last rules (segment grid, lock grace), for starting
    /// offline.
    pub fn server_config_file(&self) -> PathBuf {
        self.root.join("server-config.json")
    }

    /// The pinned certificate of the configured server, copied at login.
    pub fn server_ca_file(&self) -> PathBuf {
        self.root.join("server-ca.pem")
    }

    /// The servers signed in to: last login, certificate trusted on first
    /// use (Y7).
    pub fn known_servers_file(&self) -> PathBuf {
        self.root.join("known-servers.json")
    }

    /// The built-in local server's data (database, certificate, demo password).
    pub fn local_server_dir(&self) -> PathBuf {
        self.root.join("local-server")
    }

    /// The release key pinned from the configured server (U2).
    pub fn update_key_file(&self) -> PathBuf {
        self.root.join("update-key.json")
    }

    /// Updates being downloaded and checked.
    pub fn updates_dir(&self) -> PathBuf {
        self.root.join("updates")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// This device's id (K8), made on first use and kept in the data folder.
    /// A damaged `device-id` (junk, a folder, a link, a FIFO) is moved aside
    /// to `device-id.corrupt` and a new id is made: Timecard goes on, and
    /// the log says so.
    pub fn device_id(&self) -> io::Result<String> {
        const NAME: &str = "device-id";
        let path = self.root.join(NAME);
        let problem = match read_regular(&path, 1024) {
            Ok(bytes) if bytes.trim_ascii().is_empty() => None,
            Ok(bytes) => match valid_device_id(&bytes) {
                Some(id) => return Ok(id),
                None => Some("it does not hold a device id".to_owned()),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => Some(e.to_string()),
        };
        let id = uuid::Uuid::new_v4().to_string();
        if let Some(problem) = problem {
            let mut kept = format!("{NAME}.corrupt");
            let mut n = 1;
            while fs::symlink_metadata(self.root.join(&kept)).is_ok() {
                kept = format!("{NAME}.corrupt.{n}");
                n += 1;
            }
            durable::move_file(&self.root, NAME, &self.root, &kept)?;
            log::warn!(
                "{} was damaged ({problem}); it is kept as {kept} and this computer now has the new device id {id} \
                 (time tracked here before counts as another device's when overlaps are checked)",
                path.display()
            );
        }
        durable::write_file(&self.root, NAME, id.as_bytes())?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path().join("data")).unwrap();
        let id = data.device_id().unwrap();
        assert_eq!(data.device_id().unwrap(), id);
        assert_eq!(
            DataDir::at(dir.path().join("data"))
                .unwrap()
                .device_id()
                .unwrap(),
            id
        );
    }

    // A damaged device-id never fails a command: it is kept aside and
    // replaced; a good one is kept as it is.
    #[test]
    fn damaged_device_id_is_kept_aside_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path().join("data")).unwrap();
        let root = data.root().to_owned();
        fs::write(root.join("device-id"), b"\xff\x00junk").unwrap();
        let id = data.device_id().unwrap();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert_eq!(
            fs::read(root.join("device-id.corrupt")).unwrap(),
            b"\xff\x00junk"
        );
        assert_eq!(data.device_id().unwrap(), id);

        fs::remove_file(root.join("device-id")).unwrap();
        fs::create_dir(root.join("device-id")).unwrap();
        let second = data.device_id().unwrap();
        assert_ne!(second, id);
        assert!(root.join("device-id.corrupt.1").is_dir());

        fs::write(root.join("device-id"), b"laptop-2\n").unwrap();
        assert_eq!(data.device_id().unwrap(), "laptop-2");
    }

    #[test]
    fn default_folder_is_named_for_the_app() {
        if let Some(dir) = default_data_dir() {
            assert!(dir.ends_with("timecard") || dir.ends_with("Timecard"));
        }
    }
}
