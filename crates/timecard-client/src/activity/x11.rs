//! Activity from the X server's idle counter (MIT-SCREEN-SAVER
//! `ms_since_user_input`): how long since the last key or mouse input,
//! never which key. One cheap round trip per sample.
//!
//! Input is a fact of the counter, not of arithmetic: the counter only goes
//! up with the wall clock until an input resets it. So the instant of the
//! last input is computed once, when the counter shows an input (it went
//! down, or it lags the wall clock by more than [`JITTER_MS`]), and then
//! reported unchanged. Recomputing `now - counter` on every sample made the
//! instant jitter by a millisecond, which looked like input and ended every
//! idle period the moment it began.

use chrono::{DateTime, SubsecRound, Utc};
use x11rb::connection::Connection;
use x11rb::protocol::screensaver::ConnectionExt as _;
use x11rb::protocol::xproto::Window;
use x11rb::rust_connection::RustConnection;

use super::ActivitySource;

/// How far the counter may lag the wall clock without input: the round
/// trip and the scheduler, never an input.
const JITTER_MS: i64 = 1_000;

/// One reading of the counter and the wall clock it was read at.
#[derive(Clone, Copy, Debug)]
struct Reading {
    at: DateTime<Utc>,
    idle_ms: u32,
}

/// Seconds since the last input on an X11 display, connecting on first use.
pub struct X11Activity {
    display: Option<String>,
    connection: Option<(RustConnection, Window)>,
    last: Option<Reading>,
    /// The last input, to the second, as the counter last showed it.
    input: Option<DateTime<Utc>>,
}

impl X11Activity {
    pub fn new(display: Option<String>) -> Self {
        X11Activity {
            display,
            connection: None,
            last: None,
            input: None,
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

    /// Folds one reading into the last input instant; see the module
    /// documentation.
    fn read(&mut self, reading: Reading) -> DateTime<Utc> {
        let instant =
            (reading.at - chrono::Duration::milliseconds(reading.idle_ms.into())).trunc_subsecs(0);
        let input_seen = match (self.last, self.input) {
            (Some(last), Some(_)) => input_between(last, reading),
            _ => true,
        };
        self.last = Some(reading);
        if input_seen {
            self.input = Some(instant);
        }
        self.input.unwrap_or(instant)
    }
}

/// Whether the counter shows an input between two readings: it went down,
/// or it grew by less than the wall clock did.
fn input_between(before: Reading, after: Reading) -> bool {
    if after.idle_ms < before.idle_ms {
        return true;
    }
    let wall_ms = (after.at - before.at).num_milliseconds();
    let counter_ms = i64::from(after.idle_ms - before.idle_ms);
    counter_ms + JITTER_MS < wall_ms
}

impl ActivitySource for X11Activity {
    /// The X server's counter runs in real time, whatever clock the caller
    /// runs on, so the wall clock places it.
    fn last_input(&mut self, _now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let idle_ms = self.idle_ms()?;
        Some(self.read(Reading {
            at: Utc::now(),
            idle_ms,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
