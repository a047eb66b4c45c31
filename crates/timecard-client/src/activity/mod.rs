//! Activity and idle time (P3, S5). The tracker asks an [`ActivitySource`]
//! how long ago the last keyboard or mouse input was; which keys were
//! pressed is never observed. Platform back-ends (X11's MIT-SCREEN-SAVER,
//! Wayland's idle notifications, Windows' `GetLastInputInfo`) implement
//! the trait.

#[cfg(target_os = "linux")]
mod counter;
#[cfg(target_os = "linux")]
pub mod dbus_idle;
#[cfg(target_os = "linux")]
pub mod wayland;
#[cfg(windows)]
pub mod windows;
#[cfg(target_os = "linux")]
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

/// The activity source on Windows: the session's last input.
#[cfg(windows)]
pub fn choose() -> (Box<dyn ActivitySource>, &'static str, String) {
    (
        Box::new(windows::LastInputInfo::new()),
        "GetLastInputInfo",
        "Windows: the session's last keyboard or mouse input".into(),
    )
}

/// The activity source for this system, and why: none yet here.
#[cfg(not(any(target_os = "linux", windows)))]
pub fn choose() -> (Box<dyn ActivitySource>, &'static str, String) {
    (
        Box::new(NoActivity),
        "none",
        "activity is not read on this system yet".into(),
    )
}

/// The activity source for this session, and why: the Wayland
/// compositor's idle notifications in a Wayland session that offers them,
/// else the X11 idle counter.
#[cfg(target_os = "linux")]
pub fn choose() -> (Box<dyn ActivitySource>, &'static str, String) {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    match (var("WAYLAND_DISPLAY"), var("DISPLAY")) {
        (Some(wayland), _) if wayland::WaylandIdle::available() => (
            Box::new(wayland::WaylandIdle::new(None)),
            "Wayland idle notifications",
            format!("the Wayland compositor ({wayland}) sends idle notifications"),
        ),
        (Some(wayland), _) if let Some(service) = dbus_idle::DbusIdle::find() => (
            Box::new(dbus_idle::DbusIdle::new(service)),
            service.name(),
            format!(
                "the Wayland compositor ({wayland}) sends no idle notifications; the session bus has {}",
                service.name()
            ),
        ),
        (Some(wayland), display) => (
            Box::new(x11::X11Activity::new(None)),
            "X11",
            format!(
                "the Wayland compositor ({wayland}) sends no idle notifications{}",
                if display.is_some() {
                    ": the X11 idle counter through XWayland (X11 windows' input only)"
                } else {
                    ", and there is no X11 display: activity is not known"
                }
            ),
        ),
        (None, display) => (
            Box::new(x11::X11Activity::new(None)),
            "X11",
            match display {
                Some(d) => format!("an X11 session ({d})"),
                None => "neither WAYLAND_DISPLAY nor DISPLAY is set: activity is not known".into(),
            },
        ),
    }
}

/// The activity source for this session ([`choose`]).
pub fn default_source() -> Box<dyn ActivitySource> {
    let (source, name, why) = choose();
    log::info!("activity: {name}, because {why}");
    source
}
