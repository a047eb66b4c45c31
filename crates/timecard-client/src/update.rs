//! Updates from the team's server (U2–U5): ask it for the newest release
//! for this system and the way this copy was installed, trust it only when
//! it is newer and signed by the pinned key, download and check it, install
//! it the way this copy was installed, and start the new version.
//!
//! The key is pinned per server in `update-key.json`: at sign-in when the
//! server has published anything, else at the first offer (shown to the
//! user, like the certificate). A release signed by another key is refused
//! until the user signs in again; a key built in at compile time
//! (`TIMECARD_UPDATE_KEY`) is trusted beside it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use timecard_core::clock::Clock;
use timecard_core::fs::durable;
use timecard_core::fs::read::read_regular;
use timecard_core::release::{self, Kind, PublicKey, Release, ReleaseError};

use crate::platform::DataDir;
use crate::settings::Settings;
use crate::sync::{ApiClient, ServerAddress, SyncError};

/// The largest update accepted (an installer is ~15 MB).
pub const MAX_UPDATE_BYTES: u64 = 256 * 1024 * 1024;
/// How often the window asks for an update.
pub const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Why an update was not offered or not installed, in words.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(
        "updates come from your team's server; with the built-in local server, download new versions yourself"
    )]
    NoServer,
    #[error("{0}")]
    Server(#[from] SyncError),
    #[error(
        "the server's update key changed (pinned {pinned}, offered {offered}); the update is refused. If your admin changed the key on purpose, sign out and sign in again to trust the new one"
    )]
    KeyChanged { pinned: String, offered: String },
    #[error("version {version} is refused: {reason}")]
    Untrusted {
        version: String,
        reason: ReleaseError,
    },
    #[error(
        "this copy of Timecard was installed by the system's package manager; run: sudo apt install {0}"
    )]
    NeedsAdmin(String),
    #[error("the update could not be installed: {0}")]
    Install(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// How this copy of Timecard was installed, and so how it is updated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    pub kind: Kind,
    /// The program file.
    pub exe: PathBuf,
}

impl Installed {
    /// This running program's installation.
    pub fn this() -> io::Result<Installed> {
        let exe = std::env::current_exe()?;
        Ok(Installed {
            kind: kind_of(&exe),
            exe,
        })
    }
}

/// A Debian package puts the program in /usr/bin and says so in
/// `/usr/share/timecard/installed-by`; the Windows installer leaves its
/// uninstaller beside it; anything else is a program someone copied,
/// replaced in place.
fn kind_of(exe: &Path) -> Kind {
    if cfg!(windows) {
        if exe.with_file_name("uninstall.exe").is_file() {
            return Kind::Installer;
        }
    } else if exe == Path::new("/usr/bin/timecard")
        && read_regular(Path::new("/usr/share/timecard/installed-by"), 64)
            .is_ok_and(|by| by.trim_ascii() == b"deb")
    {
        return Kind::Deb;
    }
    Kind::Binary
}

/// The key pinned for a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Pinned {
    server: String,
    key: String,
}

/// What the server offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Nothing newer; `offered` is what the server has, if anything (an
    /// older version is never installed).
    UpToDate {
        offered: Option<String>,
    },
    Available(Box<Offer>),
}

/// A newer, signed release for this copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub release: Release,
    url: String,
    /// The fingerprint of the key that signed it.
    pub key_fingerprint: String,
    /// Whether this check pinned the key (the first the server offered).
    pub pinned_now: bool,
}

/// Talks to the configured server about updates.
pub struct Updater {
    client: ApiClient,
    server: String,
    data: DataDir,
    installed: Installed,
}

impl Updater {
    /// For the configured server; `NoServer` with the built-in one.
    pub fn new(
        data: &DataDir,
        settings: &Settings,
        clock: Arc<dyn Clock>,
        installed: Installed,
    ) -> Result<Updater, UpdateError> {
        let server = settings.server.clone().ok_or(UpdateError::NoServer)?;
        let address = ServerAddress::parse(&server)?;
        // Y7: the same certificate as every other connection to it.
        let trust = crate::connect::trust_for(data, settings, &address)
            .map_err(|e| UpdateError::Io(std::io::Error::other(format!("{e:#}"))))?;
        let client = ApiClient::with_trust(address, &trust, clock)?;
        Ok(Updater {
            client,
            server,
            data: data.clone(),
            installed,
        })
    }

    pub fn installed(&self) -> &Installed {
        &self.installed
    }

    /// Asks for the newest release and decides whether it may be installed.
    pub fn check(&self) -> Result<Check, UpdateError> {
        let Some(offer) = self.client.latest_release(self.installed.kind)? else {
            return Ok(Check::UpToDate { offered: None });
        };
        let current = release::version();
        if !release::is_newer(&offer.release.version, current) {
            return Ok(Check::UpToDate {
                offered: Some(offer.release.version),
            });
        }
        let untrusted = |reason| UpdateError::Untrusted {
            version: offer.release.version.clone(),
            reason,
        };
        let offered_key = PublicKey::parse(&offer.release.key).map_err(untrusted)?;
        let built_in = release::built_in_key().filter(|k| *k == offered_key);
        let pinned = self.pinned_key();
        let mut pinned_now = false;
        let key = match (built_in, pinned) {
            (Some(key), _) => key,
            (None, Some(pinned)) if pinned == offered_key => pinned,
            (None, Some(pinned)) => {
                return Err(UpdateError::KeyChanged {
                    pinned: pinned.fingerprint(),
                    offered: offered_key.fingerprint(),
                });
            }
            (None, None) => {
                self.pin(&offered_key)?;
                pinned_now = true;
                log::info!(
                    "pinned {}'s update key {}",
                    self.server,
                    offered_key.fingerprint()
                );
                offered_key
            }
        };
        offer.release.verify(&key).map_err(untrusted)?;
        Ok(Check::Available(Box::new(Offer {
            key_fingerprint: key.fingerprint(),
            release: offer.release,
            url: offer.url,
            pinned_now,
        })))
    }

    /// The key pinned for this server, if any.
    fn pinned_key(&self) -> Option<PublicKey> {
        let bytes = read_regular(&self.data.update_key_file(), 4096).ok()?;
        let pinned: Pinned = serde_json::from_slice(&bytes).ok()?;
        (pinned.server == self.server)
            .then(|| PublicKey::parse(&pinned.key).ok())
            .flatten()
    }

    fn pin(&self, key: &PublicKey) -> io::Result<()> {
        let json = serde_json::to_vec(&Pinned {
            server: self.server.clone(),
            key: key.text(),
        })
        .map_err(io::Error::other)?;
        durable::write_private_file(self.data.root(), "update-key.json", &json)
    }

    /// Pins the server's key at sign-in, when it has published anything.
    pub fn pin_at_sign_in(&self) {
        if self.pinned_key().is_some() {
            return;
        }
        if let Ok(Some(offer)) = self.client.latest_release(self.installed.kind)
            && let Ok(key) = PublicKey::parse(&offer.release.key)
        {
            match self.pin(&key) {
                Ok(()) => log::info!(
                    "pinned {}'s update key {} at sign-in",
                    self.server,
                    key.fingerprint()
                ),
                Err(e) => log::warn!("cannot pin the update key: {e}"),
            }
        }
    }

    /// Downloads the offered file into the data folder's `updates/` and
    /// checks it against the signed size and SHA-256.
    pub fn download(&self, offer: &Offer) -> Result<PathBuf, UpdateError> {
        let bytes = self.client.download(&offer.url, MAX_UPDATE_BYTES)?;
        offer
            .release
            .check_file(&bytes)
            .map_err(|reason| UpdateError::Untrusted {
                version: offer.release.version.clone(),
                reason,
            })?;
        let dir = self.data.updates_dir();
        durable::create_private_dir_all(&dir)?;
        // Earlier downloads are of no more use.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let name = Path::new(&offer.release.name)
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.starts_with('.'))
            .ok_or_else(|| UpdateError::Install("the release's file name is not usable".into()))?
            .to_owned();
        durable::write_private_file(&dir, &name, &bytes)?;
        Ok(dir.join(name))
    }
}

/// What happens after `install`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Installing {
    /// The new program is in place: start it (`relaunch`).
    Done,
    /// The installer runs now and starts the new version itself: quit.
    InstallerRunning,
}

/// Installs a downloaded, checked file the way this copy was installed.
pub fn install(installed: &Installed, file: &Path) -> Result<Installing, UpdateError> {
    match installed.kind {
        Kind::Binary => {
            replace_program(&installed.exe, file)?;
            Ok(Installing::Done)
        }
        Kind::Deb => install_deb(file).map(|()| Installing::Done),
        Kind::Installer => {
            // The installer outlives this process and starts the new
            // version, which runs for hours: neither may keep the caller's
            // console or pipes (`timecard update | more` would never end).
            std::process::Command::new(file)
                .args(["/S", "/RELAUNCH"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| UpdateError::Install(format!("the installer did not start ({e})")))?;
            Ok(Installing::InstallerRunning)
        }
        Kind::Zip | Kind::Image => Err(UpdateError::Install(format!(
            "a {} cannot update the app",
            installed.kind
        ))),
    }
}

/// Puts `new` in place of `exe` atomically: copied beside it, flushed,
/// then renamed over it (a running program keeps its old file open). On
/// Windows the running program is first moved aside, as it cannot be
/// replaced while it runs.
fn replace_program(exe: &Path, new: &Path) -> Result<(), UpdateError> {
    let dir = exe
        .parent()
        .ok_or_else(|| UpdateError::Install("the program has no folder".into()))?;
    let name = exe
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| UpdateError::Install("the program's name is not usable".into()))?;
    let bytes = std::fs::read(new)?;
    let staged = format!(".{name}.update");
    let failed = |e: io::Error| {
        UpdateError::Install(format!(
            "cannot write to {} ({e}); install the new version by hand or ask whoever installed it",
            dir.display()
        ))
    };
    durable::write_file(dir, &staged, &bytes).map_err(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(&staged), std::fs::Permissions::from_mode(0o755))
            .map_err(failed)?;
    }
    if cfg!(windows) {
        let old = dir.join(format!("{name}.old"));
        let _ = std::fs::remove_file(&old);
        std::fs::rename(exe, &old).map_err(failed)?;
    }
    std::fs::rename(dir.join(&staged), exe).map_err(failed)?;
    durable::sync_dir(dir).map_err(failed)?;
    Ok(())
}

/// `dpkg -i` as root, through `pkexec` on a desktop, or the command to type.
fn install_deb(file: &Path) -> Result<(), UpdateError> {
    let is_root = {
        #[cfg(unix)]
        {
            // SAFETY: geteuid has no preconditions.
            unsafe { libc::geteuid() == 0 }
        }
        #[cfg(not(unix))]
        {
            false
        }
    };
    let mut command = if is_root {
        std::process::Command::new("dpkg")
    } else if which("pkexec")
        && (std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some())
    {
        let mut c = std::process::Command::new("pkexec");
        c.arg("dpkg");
        c
    } else {
        return Err(UpdateError::NeedsAdmin(file.display().to_string()));
    };
    let output = command
        .arg("-i")
        .arg(file)
        .output()
        .map_err(|e| UpdateError::Install(format!("dpkg did not start ({e})")))?;
    if output.status.success() {
        Ok(())
    } else if output.status.code() == Some(126) || output.status.code() == Some(127) {
        // pkexec: the user dismissed the password dialog, or no agent.
        Err(UpdateError::NeedsAdmin(file.display().to_string()))
    } else {
        Err(UpdateError::Install(format!(
            "dpkg said: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
}

/// Starts the installed program again with `args`.
pub fn relaunch(exe: &Path, args: &[std::ffi::OsString]) -> io::Result<()> {
    std::process::Command::new(exe).args(args).spawn().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_replaced_whole_and_stays_executable() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("timecard");
        std::fs::write(&exe, b"old program").unwrap();
        let new = dir.path().join("download");
        std::fs::write(&new, b"new program").unwrap();
        replace_program(&exe, &new).unwrap();
        assert_eq!(std::fs::read(&exe).unwrap(), b"new program");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&exe).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        // Windows keeps the running program aside as `timecard.old`.
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let expected: &[&str] = if cfg!(windows) {
            &["download", "timecard", "timecard.old"]
        } else {
            &["download", "timecard"]
        };
        assert_eq!(left, expected, "no staged file left");
    }

    #[test]
    fn a_copied_program_is_a_binary() {
        assert_eq!(kind_of(Path::new("/tmp/timecard")), Kind::Binary);
    }
}
