//! Activity from the X server's idle counter (MIT-SCREEN-SAVER
//! `ms_since_user_input`): how long since the last key or mouse input,
//! never which key. One cheap round trip per sample; the counter is folded
//! into the last input's instant by [`super::counter::IdleCounter`].

use chrono::{DateTime, Utc};
use x11rb::connection::Connection;
use x11rb::protocol::screensaver::ConnectionExt as _;
use x11rb::protocol::xproto::Window;
use x11rb::rust_connection::RustConnection;

use super::ActivitySource;
use super::counter::{IdleCounter, Reading};

/// Seconds since the last input on an X11 display, connecting on first use.
pub struct X11Activity {
    display: Option<String>,
    connection: Option<(RustConnection, Window)>,
    counter: IdleCounter,
}

impl X11Activity {
    pub fn new(display: Option<String>) -> Self {
        X11Activity {
            display,
            connection: None,
            counter: IdleCounter::default(),
        }
    }

    /// Milliseconds since the last input, or `None` without a display or
    /// the MIT-SCREEN-SAVER extension.
    pub fn idle_ms(&mut self) -> Option<u32> {
        if self.connection.is_none() {
            let name = self
                .display
                .clone()
                .or_else(|| std::env::var("DISPLAY").ok())?;
            let (conn, screen) = x11rb::connect(Some(&name)).ok()?;
            let root = conn.setup().roots[screen].root;
            self.connection = Some((conn, root));
        }
        let (conn, root) = self.connection.as_ref()?;
        match conn
            .screensaver_query_info(*root)
            .ok()
            .and_then(|c| c.reply().ok())
        {
            Some(info) => Some(info.ms_since_user_input),
            None => {
                self.connection = None;
                None
            }
        }
    }

    fn read(&mut self, reading: Reading) -> DateTime<Utc> {
        self.counter.read(reading)
    }
}

impl ActivitySource for X11Activity {
    /// The X server's counter runs in real time, whatever clock the caller
    /// runs on, so the wall clock places it.
    fn last_input(&mut self, _now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let idle_ms = self.idle_ms()?;
        Some(self.read(Reading {
            at: Utc::now(),
            idle_ms: idle_ms.into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SubsecRound;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn source() -> X11Activity {
        X11Activity::new(Some(":none".into()))
    }

    #[test]
    fn a_counter_growing_with_the_clock_keeps_the_same_instant() {
        let mut s = source();
        let first = s.read(Reading {
            at: at(0),
            idle_ms: 5_000,
        });
        // The round trip makes `now - counter` differ by a few ms each time,
        // across a second boundary too: the instant must not move.
        for (wall, counter) in [(15_001, 20_000), (30_000, 35_002), (45_003, 50_000)] {
            let again = s.read(Reading {
                at: at(wall),
                idle_ms: counter,
            });
            assert_eq!(again, first, "no input between readings");
        }
    }

    #[test]
    fn a_counter_that_went_down_is_an_input() {
        let mut s = source();
        let first = s.read(Reading {
            at: at(0),
            idle_ms: 60_000,
        });
        let later = s.read(Reading {
            at: at(15_000),
            idle_ms: 2_000,
        });
        assert_eq!(later, at(13_000).trunc_subsecs(0));
        assert!(later > first);
    }

    #[test]
    fn a_counter_lagging_the_clock_is_an_input() {
        // Input just after one reading, then 13 s without: the counter grew
        // (from 100 ms to 13 s) but by less than the 15 s that passed.
        let mut s = source();
        s.read(Reading {
            at: at(0),
            idle_ms: 100,
        });
        let later = s.read(Reading {
            at: at(15_000),
            idle_ms: 13_000,
        });
        assert_eq!(later, at(2_000));
    }
}
