//! Starting with the session (the Settings switch "Start Timecard when I
//! sign in"). On Linux (and other XDG desktops) it is an autostart entry,
//! `$XDG_CONFIG_HOME/autostart/timecard.desktop`, running this program by
//! its full path; on Windows the value `Timecard` of
//! `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`, the quoted path
//! (the one the installer's "Start with Windows" writes). Turning the
//! switch off removes either. Elsewhere the switch is not offered yet.

use std::io;
use std::path::{Path, PathBuf};

/// Where this session keeps what starts with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Autostart {
    /// An XDG autostart folder, holding [`entry`].
    Folder(PathBuf),
    /// The current user's `Run` key in the Windows registry, value
    /// [`RUN_VALUE`].
    RunKey,
}

/// The current user's key of programs started at sign-in (Windows).
pub const RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
/// Timecard's value in [`RUN_KEY`].
pub const RUN_VALUE: &str = "Timecard";

/// Where this system starts programs with the session, if it is known.
pub fn here() -> Option<Autostart> {
    if cfg!(windows) {
        Some(Autostart::RunKey)
    } else {
        folder().map(Autostart::Folder)
    }
}

impl Autostart {
    /// Whether Timecard starts with the session.
    pub fn is_on(&self) -> bool {
        match self {
            Autostart::Folder(folder) => is_on(folder),
            Autostart::RunKey => run_key::get(RUN_VALUE).is_some(),
        }
    }

    /// Turns starting with the session on (running `exe`) or off.
    pub fn set(&self, on: bool, exe: &Path) -> io::Result<()> {
        match self {
            Autostart::Folder(folder) => set(folder, on, exe),
            Autostart::RunKey if on => run_key::set(RUN_VALUE, &run_command(exe)),
            Autostart::RunKey => run_key::remove(RUN_VALUE),
        }
    }

    /// Where it is kept, for messages.
    pub fn location(&self) -> String {
        match self {
            Autostart::Folder(folder) => entry(folder).display().to_string(),
            Autostart::RunKey => format!("HKEY_CURRENT_USER\\{RUN_KEY}\\{RUN_VALUE}"),
        }
    }
}

/// The `Run` value for `exe`: its path in double quotes (a path with
/// spaces would otherwise be cut at the first one).
pub fn run_command(exe: &Path) -> String {
    format!("\"{}\"", exe.display())
}

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

/// String values of [`RUN_KEY`] under `HKEY_CURRENT_USER`.
#[cfg(windows)]
mod run_key {
    use std::io;

    use windows::Win32::Foundation::{ERROR_FILE_NOT_FOUND, WIN32_ERROR};
    use windows::Win32::System::Registry::{
        HKEY_CURRENT_USER, REG_SZ, RRF_RT_REG_SZ, RegDeleteKeyValueW, RegGetValueW, RegSetKeyValueW,
    };
    use windows::core::HSTRING;

    fn check(code: WIN32_ERROR) -> io::Result<()> {
        if code.is_ok() {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(code.0 as i32))
        }
    }

    /// The value `name`, if it is there.
    pub fn get(name: &str) -> Option<String> {
        let (key, name) = (HSTRING::from(super::RUN_KEY), HSTRING::from(name));
        let mut bytes = 0u32;
        // SAFETY: the strings are NUL-terminated and live across the call;
        // with no buffer, only the size is written, to `bytes`.
        let sized = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                &key,
                &name,
                RRF_RT_REG_SZ,
                None,
                None,
                Some(&mut bytes),
            )
        };
        check(sized).ok()?;
        let mut text = vec![0u16; (bytes as usize).div_ceil(2)];
        // SAFETY: as above; `text` holds `bytes` bytes.
        let read = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                &key,
                &name,
                RRF_RT_REG_SZ,
                None,
                Some(text.as_mut_ptr().cast()),
                Some(&mut bytes),
            )
        };
        check(read).ok()?;
        let len = text.iter().position(|&c| c == 0).unwrap_or(text.len());
        Some(String::from_utf16_lossy(&text[..len]))
    }

    /// Sets the value `name` to `command`, making the key if needed.
    pub fn set(name: &str, command: &str) -> io::Result<()> {
        let (key, name) = (HSTRING::from(super::RUN_KEY), HSTRING::from(name));
        let data: Vec<u16> = command.encode_utf16().chain([0]).collect();
        // SAFETY: the strings are NUL-terminated and `data` holds the
        // number of bytes passed, terminator included.
        check(unsafe {
            RegSetKeyValueW(
                HKEY_CURRENT_USER,
                &key,
                &name,
                REG_SZ.0,
                Some(data.as_ptr().cast()),
                (data.len() * 2) as u32,
            )
        })
    }

    /// Removes the value `name`; not there is fine.
    pub fn remove(name: &str) -> io::Result<()> {
        let (key, name) = (HSTRING::from(super::RUN_KEY), HSTRING::from(name));
        // SAFETY: the strings are NUL-terminated and live across the call.
        let code = unsafe { RegDeleteKeyValueW(HKEY_CURRENT_USER, &key, &name) };
        if code == ERROR_FILE_NOT_FOUND {
            return Ok(());
        }
        check(code)
    }
}

/// No registry outside Windows: [`here`] never offers the `Run` key there.
#[cfg(not(windows))]
mod run_key {
    use std::io;

    pub fn get(_name: &str) -> Option<String> {
        None
    }

    pub fn set(_name: &str, _command: &str) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub fn remove(_name: &str) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
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

    #[test]
    fn the_run_value_quotes_the_path() {
        assert_eq!(
            run_command(Path::new(r"C:\Users\A B\Programs\Timecard\timecard.exe")),
            r#""C:\Users\A B\Programs\Timecard\timecard.exe""#
        );
    }

    // Under its own value name: the user's own `Timecard` value (on a
    // developer's Windows) is left alone.
    #[cfg(windows)]
    #[test]
    fn the_run_value_is_written_read_and_removed() {
        let name = format!("TimecardTest{}", std::process::id());
        assert_eq!(run_key::get(&name), None);
        run_key::set(&name, r#""C:\Program Files\x.exe""#).unwrap();
        assert_eq!(
            run_key::get(&name).as_deref(),
            Some(r#""C:\Program Files\x.exe""#)
        );
        run_key::remove(&name).unwrap();
        assert_eq!(run_key::get(&name), None);
        run_key::remove(&name).unwrap();
    }
}
