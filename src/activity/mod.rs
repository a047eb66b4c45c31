//! Activity and idle time (P3, S5). The tracker asks an [`ActivitySource`]
//! how long ago the last keyboard or mouse input was; which keys were
//! pressed is never observed. Platform back-ends (X11's MIT-SCREEN-SAVER
//! first) implement the trait.

pub mod x11;

/// A source of "seconds since the last input".
pub trait ActivitySource: Send {
    /// Seconds since the last keyboard or mouse input, or `None` when unknown.
    fn idle_secs(&mut self) -> Option<u64>;
}

/// Knows nothing about input: every sub-slot stays inactive.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoActivity;

impl ActivitySource for NoActivity {
    fn idle_secs(&mut self) -> Option<u64> {
        None
    }
}

/// The activity source for this system: the X11 idle counter.
pub fn default_source() -> Box<dyn ActivitySource> {
    Box::new(x11::X11Activity::new(None))
}
