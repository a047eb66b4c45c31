//! Persisted user settings (`settings.json` in the data folder). Missing
//! fields take their defaults, so older files keep working.

use std::io;
use std::path::Path;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::cache::DEFAULT_CAPACITY_SECS;
use timecard_core::domain::TrackingPolicy;
use timecard_core::fs::durable;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// K2: hours of un-uploaded time the cache may hold.
    pub cache_capacity_hours: f64,
    /// C2: Settings > Advanced → *Track time on fixed-price contracts*.
    pub track_fixed_price: bool,
    /// T1: IANA zone for "today" and the Work Diary; `None` follows the system.
    pub time_zone: Option<String>,
    /// The sync server, `https://…`; `None` runs the built-in local server.
    pub server: Option<String>,
    /// A certificate file to trust for the server (pinning, Y1).
    pub server_ca: Option<std::path::PathBuf>,
    /// P1: JPEG quality of screenshots, 1–100.
    pub screenshot_quality: u8,
    /// P1: longest side of a screenshot in pixels.
    pub screenshot_max_side: u32,
    /// S5: minutes without input after which the app asks about idle time.
    pub idle_threshold_mins: u32,
    /// D5: desktop notifications (tracking stopped, lock deadline, …).
    pub notifications: bool,
    /// D8: closing the window hides it while a tray host shows the icon;
    /// tracking goes on, Quit is in the tray's menu.
    pub close_to_tray: bool,
    /// D8: the one-time notice "Timecard keeps running in the tray" was given.
    pub tray_notice_shown: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cache_capacity_hours: DEFAULT_CAPACITY_SECS as f64 / 3600.0,
            track_fixed_price: false,
            time_zone: None,
            server: None,
            server_ca: None,
            screenshot_quality: 70,
            screenshot_max_side: 1920,
            idle_threshold_mins: 10,
            notifications: true,
            close_to_tray: true,
            tray_notice_shown: false,
        }
    }
}

/// The cause is part of each message (not a separate `source`), so that a
/// chain printer does not say it twice.
#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("could not read {path}: {error}")]
    Read { path: String, error: io::Error },
    #[error("{path} is not valid settings ({error}); fix or delete it — nothing else was changed")]
    Parse {
        path: String,
        error: serde_json::Error,
    },
    #[error("could not save {path}: {error}")]
    Write { path: String, error: io::Error },
}

impl Settings {
    /// S5: the idle threshold in seconds (at least a minute).
    pub fn idle_threshold_secs(&self) -> i64 {
        i64::from(self.idle_threshold_mins.max(1)) * 60
    }

    /// Reads the settings; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let shown = path.display().to_string();
        // Never blocks on a named pipe, never follows a link.
        match timecard_core::fs::read::read_regular(path, 1024 * 1024) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|error| SettingsError::Parse { path: shown, error }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(error) => Err(SettingsError::Read { path: shown, error }),
        }
    }

    /// Saves the settings durably.
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let shown = path.display().to_string();
        let json = serde_json::to_vec_pretty(self).expect("settings serialise");
        let (dir, name) = (
            path.parent().unwrap_or(Path::new(".")),
            path.file_name().unwrap_or_default(),
        );
        durable::write_file(dir, &name.to_string_lossy(), &json)
            .map_err(|error| SettingsError::Write { path: shown, error })
    }

    pub fn capacity_secs(&self) -> i64 {
        (self.cache_capacity_hours * 3600.0).round() as i64
    }

    pub fn policy(&self) -> TrackingPolicy {
        TrackingPolicy {
            track_fixed_price: self.track_fixed_price,
        }
    }

    /// The zone to show times in: the chosen one, else the system's, else UTC.
    pub fn zone(&self) -> Tz {
        self.time_zone
            .as_deref()
            .and_then(|z| z.parse().ok())
            .or_else(system_zone)
            .unwrap_or(chrono_tz::UTC)
    }
}

/// The system's IANA zone, if it can be found.
pub fn system_zone() -> Option<Tz> {
    iana_time_zone::get_timezone().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn missing_file_gives_defaults_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        assert_eq!(Settings::load(&path).unwrap(), Settings::default());
        let s = Settings {
            track_fixed_price: true,
            time_zone: Some("Europe/Berlin".into()),
            ..Settings::default()
        };
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path).unwrap(), s);
        assert_eq!(s.zone(), chrono_tz::Europe::Berlin);
    }

    #[test]
    fn broken_file_is_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        fs::write(&path, b"{ nope").unwrap();
        let err = Settings::load(&path).unwrap_err().to_string();
        assert!(err.contains("settings.json is not valid settings"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"{ nope");
    }

    #[test]
    fn shipped_default_settings_match_the_code() {
        let shipped: Settings =
            serde_json::from_str(include_str!("../../../resources/default-settings.json")).unwrap();
        assert_eq!(shipped, Settings::default());
    }

    #[test]
    fn unknown_and_missing_fields_are_tolerated() {
        let s: Settings =
            serde_json::from_str(r#"{"track_fixed_price": true, "future": 1}"#).unwrap();
        assert!(s.track_fixed_price);
        assert_eq!(s.capacity_secs(), 24 * 3600);
    }
}
