//! Starting with the session (the Settings switch "Start Timecard when I
//! sign in"). On Linux (and other XDG desktops) it is an autostart entry,
//! `$XDG_CONFIG_HOME/autostart/timecard.desktop`, running this program by
//! its full path; turning the switch off removes it. Elsewhere the switch
//! is not offered yet.

use std::io;
use std::path::{Path, PathBuf};

/// The autostart folder of this user's session, where the desktop has one.
pub fn folder() -> Option<PathBuf> {
    if cfg!(all(unix, not(target_os = "macos"))) {
        directories::BaseDirs::new().map(|dirs| dirs.config_dir().join("autostart"))
    } else {
        None
    }
}

/// The entry's path in `folder`.
pub fn entry(folder: &Path) -> PathBuf {
    folder.join("timecard.desktop")
}

/// Whether Timecard starts with the session (its entry is in `folder`).
pub fn is_on(folder: &Path) -> bool {
    entry(folder).is_file()
}

/// Turns starting with the session on (an entry running `exe`) or off.
pub fn set(folder: &Path, on: bool, exe: &Path) -> io::Result<()> {
    if on {
        timecard_core::fs::durable::create_private_dir_all(folder)?;
        timecard_core::fs::durable::write_file(
            folder,
            "timecard.desktop",
            desktop_entry(exe).as_bytes(),
        )
    } else {
        match std::fs::remove_file(entry(folder)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The autostart entry for `exe` (the Desktop Entry spec's quoting: the
/// path in double quotes, `"`, `` ` ``, `$` and `\` escaped).
fn desktop_entry(exe: &Path) -> String {
    let mut quoted = String::from("\"");
    for c in exe.to_string_lossy().chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    // The spec reads a backslash in a string value as an escape: doubled.
    let exec = quoted.replace('\\', "\\\\");
    format!(
        "[Desktop Entry]\nType=Application\nName=Timecard\nComment=Start Timecard when you sign in\n\
         Exec={exec}\nIcon=timecard\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_writes_and_removes_a_valid_entry() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("autostart");
        assert!(!is_on(&folder));
        let exe = Path::new("/opt/My Apps/time$card/timecard");
        set(&folder, true, exe).unwrap();
        assert!(is_on(&folder));
        let text = std::fs::read_to_string(entry(&folder)).unwrap();
        assert!(
            text.contains(r#"Exec="/opt/My Apps/time\\$card/timecard""#),
            "{text}"
        );
        // Where the validator is installed, it has the last word.
        if let Ok(out) = std::process::Command::new("desktop-file-validate")
            .arg(entry(&folder))
            .output()
        {
            assert!(
                out.status.success(),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        set(&folder, false, exe).unwrap();
        assert!(!is_on(&folder));
        set(&folder, false, exe).unwrap();
    }
}
