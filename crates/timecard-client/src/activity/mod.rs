//! Activity and idle time (P3, S5). The tracker asks an [`ActivitySource`]
//! how long ago the last keyboard or mouse input was; which keys were
//! pressed is never observed. Platform back-ends (X11's MIT-SCREEN-SAVER
//! first) implement the trait.

pub mod x11;

use chrono::{DateTime, Utc};

/// A source of "when was the last input".
pub trait ActivitySource: Send {
    /// The moment of the last keyboard or mouse input, to the second, or
    /// `None` when unknown. The same instant is returned until a new input
    /// happens: a later instant means input (S5 relies on it). `now` is the
    /// caller's clock, for sources that only know a relative idle time.
    fn last_input(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>>;
}

/// Knows nothing about input: every sub-slot stays inactive.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoActivity;

impl ActivitySource for NoActivity {
    fn last_input(&mut self, _now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        None
    }
}

/// The activity source for this system: the X11 idle counter.
pub fn default_source() -> Box<dyn ActivitySource> {
    Box::new(x11::X11Activity::new(None))
}
