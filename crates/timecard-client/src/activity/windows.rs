//! Activity on Windows: `GetLastInputInfo`, the tick count (milliseconds
//! since boot) of the session's last keyboard or mouse input.
//!
//! Input is the tick count *changing*, never arithmetic on it: the instant
//! of the last input is computed once, when a new tick count appears, and
//! then reported unchanged (the exactness rule of the X11 source; a
//! recomputed `now - idle` jitters by a millisecond and would look like
//! input).

use chrono::{DateTime, SubsecRound, Utc};
use windows::Win32::System::SystemInformation::GetTickCount;
use windows::Win32::UI::Input::KeyboardAndMouse::{GetLastInputInfo, LASTINPUTINFO};

use super::ActivitySource;

/// The session's last input, as `GetLastInputInfo` gives it.
#[derive(Debug, Default)]
pub struct LastInputInfo {
    /// The last tick count seen, and the instant it was folded into.
    seen: Option<(u32, DateTime<Utc>)>,
}

impl LastInputInfo {
    pub fn new() -> LastInputInfo {
        LastInputInfo::default()
    }

    /// The last input's tick count, and the tick count now.
    fn ticks() -> Option<(u32, u32)> {
        let mut info = LASTINPUTINFO {
            cbSize: size_of::<LASTINPUTINFO>() as u32,
            dwTime: 0,
        };
        // SAFETY: `info` is a LASTINPUTINFO with its size set.
        let ok = unsafe { GetLastInputInfo(&mut info) }.as_bool();
        // SAFETY: no arguments.
        let now = unsafe { GetTickCount() };
        ok.then_some((info.dwTime, now))
    }
}

impl ActivitySource for LastInputInfo {
    fn last_input(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (input_tick, now_tick) = LastInputInfo::ticks()?;
        Some(fold(&mut self.seen, input_tick, now_tick, now))
    }
}

/// Folds one reading: a tick count not seen before is an input, placed
/// `now_tick - input_tick` milliseconds before `now` (the tick count wraps
/// after 49.7 days: the difference is taken modulo 2³²).
fn fold(
    seen: &mut Option<(u32, DateTime<Utc>)>,
    input_tick: u32,
    now_tick: u32,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match *seen {
        Some((tick, instant)) if tick == input_tick => instant,
        _ => {
            let idle = chrono::Duration::milliseconds(now_tick.wrapping_sub(input_tick).into());
            let instant = (now - idle).trunc_subsecs(0);
            *seen = Some((input_tick, instant));
            instant
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instant_moves_only_when_the_tick_count_changes() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-26T10:00:00.400Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut seen = None;
        let first = fold(&mut seen, 1_000, 3_500, t0);
        assert_eq!(first.to_rfc3339(), "2026-11-26T09:59:57+00:00");
        // The same input read later, with a millisecond of drift: unchanged.
        let later = t0 + chrono::Duration::milliseconds(10_001);
        assert_eq!(fold(&mut seen, 1_000, 13_500, later), first);
        // A new input.
        let input = fold(&mut seen, 13_000, 13_500, later);
        assert_eq!(input.to_rfc3339(), "2026-11-26T10:00:09+00:00");
    }

    #[test]
    fn a_wrapped_tick_count_still_gives_a_recent_input() {
        let now = Utc::now();
        let mut seen = None;
        let instant = fold(&mut seen, u32::MAX - 499, 500, now);
        assert!(now - instant <= chrono::Duration::seconds(2), "{instant}");
    }

    #[test]
    fn this_session_answers() {
        let mut source = LastInputInfo::new();
        let now = Utc::now();
        let input = source.last_input(now).expect("GetLastInputInfo answers");
        assert!(input <= now);
        assert_eq!(source.last_input(now), Some(input));
    }
}
