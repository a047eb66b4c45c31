//! An idle counter ("milliseconds since the last input", as X11's
//! MIT-SCREEN-SAVER, Mutter's IdleMonitor and the ScreenSaver service give
//! it) folded into the instant of the last input.
//!
//! Input is a fact of the counter, not of arithmetic: the counter only goes
//! up with the wall clock until an input resets it. So the instant of the
//! last input is computed once, when the counter shows an input (it went
//! down, or it lags the wall clock by more than [`JITTER_MS`]), and then
//! reported unchanged. Recomputing `now - counter` on every sample made the
//! instant jitter by a millisecond, which looked like input and ended every
//! idle period the moment it began.

use chrono::{DateTime, SubsecRound, Utc};

/// How far the counter may lag the wall clock without input: the round
/// trip and the scheduler, never an input.
const JITTER_MS: i64 = 1_000;

/// One reading of the counter and the wall clock it was read at.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    pub at: DateTime<Utc>,
    pub idle_ms: u64,
}

/// The last readings, and the last input they showed.
#[derive(Clone, Debug, Default)]
pub struct IdleCounter {
    /// A counter in whole seconds lags the wall clock by up to a second
    /// more: that much more is allowed before it counts as input.
    extra_jitter_ms: i64,
    last: Option<Reading>,
    /// The last input, to the second, as the counter last showed it.
    input: Option<DateTime<Utc>>,
}

impl IdleCounter {
    /// For a counter that counts whole seconds.
    pub fn in_seconds() -> IdleCounter {
        IdleCounter {
            extra_jitter_ms: 1_000,
            ..IdleCounter::default()
        }
    }

    /// Folds one reading into the last input instant.
    pub fn read(&mut self, reading: Reading) -> DateTime<Utc> {
        let idle = chrono::Duration::milliseconds(reading.idle_ms.min(i64::MAX as u64) as i64);
        let instant = (reading.at - idle).trunc_subsecs(0);
        let input_seen = match (self.last, self.input) {
            (Some(last), Some(_)) => input_between(last, reading, self.extra_jitter_ms),
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
fn input_between(before: Reading, after: Reading, extra_jitter_ms: i64) -> bool {
    if after.idle_ms < before.idle_ms {
        return true;
    }
    let wall_ms = (after.at - before.at).num_milliseconds();
    let counter_ms = (after.idle_ms - before.idle_ms).min(i64::MAX as u64) as i64;
    counter_ms + JITTER_MS + extra_jitter_ms < wall_ms
}
