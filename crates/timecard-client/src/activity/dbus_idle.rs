//! Activity from the desktop's idle counter on the session bus, where the
//! compositor has no Wayland idle protocol: GNOME's
//! `org.gnome.Mutter.IdleMonitor.GetIdletime` (milliseconds) or the
//! `org.freedesktop.ScreenSaver.GetSessionIdleTime` service (seconds; KDE
//! and others). Only "how long since the last input" is asked, never what
//! the input was.

use chrono::{DateTime, Utc};

use super::ActivitySource;
use super::counter::{IdleCounter, Reading};

/// Which service answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleService {
    Mutter,
    ScreenSaver,
}

impl IdleService {
    pub fn name(self) -> &'static str {
        match self {
            IdleService::Mutter => "GNOME's idle monitor",
            IdleService::ScreenSaver => "the ScreenSaver service",
        }
    }

    fn counter(self) -> IdleCounter {
        match self {
            IdleService::Mutter => IdleCounter::default(),
            IdleService::ScreenSaver => IdleCounter::in_seconds(),
        }
    }

    /// Milliseconds since the last input, as the service says.
    fn idle_ms(self, connection: &zbus::blocking::Connection) -> Option<u64> {
        match self {
            IdleService::Mutter => connection
                .call_method(
                    Some("org.gnome.Mutter.IdleMonitor"),
                    "/org/gnome/Mutter/IdleMonitor/Core",
                    Some("org.gnome.Mutter.IdleMonitor"),
                    "GetIdletime",
                    &(),
                )
                .ok()?
                .body()
                .deserialize::<u64>()
                .ok(),
            IdleService::ScreenSaver => connection
                .call_method(
                    Some("org.freedesktop.ScreenSaver"),
                    "/org/freedesktop/ScreenSaver",
                    Some("org.freedesktop.ScreenSaver"),
                    "GetSessionIdleTime",
                    &(),
                )
                .ok()?
                .body()
                .deserialize::<u32>()
                .ok()
                .map(|secs| u64::from(secs) * 1000),
        }
    }
}

/// The last input, from the session bus's idle counter.
pub struct DbusIdle {
    service: IdleService,
    connection: Option<zbus::blocking::Connection>,
    counter: IdleCounter,
}

impl DbusIdle {
    pub fn new(service: IdleService) -> DbusIdle {
        DbusIdle {
            service,
            connection: None,
            counter: service.counter(),
        }
    }

    /// On a connection of the caller's (a test's private bus).
    pub fn with_connection(
        service: IdleService,
        connection: zbus::blocking::Connection,
    ) -> DbusIdle {
        DbusIdle {
            service,
            connection: Some(connection),
            counter: service.counter(),
        }
    }

    /// The first service on the session bus that answers, if any.
    pub fn find() -> Option<IdleService> {
        let connection = zbus::blocking::Connection::session().ok()?;
        [IdleService::Mutter, IdleService::ScreenSaver]
            .into_iter()
            .find(|s| s.idle_ms(&connection).is_some())
    }
}

impl ActivitySource for DbusIdle {
    fn last_input(&mut self, _now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.connection.is_none() {
            self.connection = zbus::blocking::Connection::session().ok();
        }
        let Some(idle_ms) = self.service.idle_ms(self.connection.as_ref()?) else {
            self.connection = None;
            return None;
        };
        Some(self.counter.read(Reading {
            at: Utc::now(),
            idle_ms,
        }))
    }
}
