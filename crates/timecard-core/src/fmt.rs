//! How durations, hours and instants read for people, in one place for the
//! window, the command line, the worker's messages and the server's
//! answers. It owns no state and knows nothing of time zones' rules beyond
//! chrono-tz.

use chrono::{DateTime, Utc};

/// Seconds as `H:MM:SS`.
pub fn hms(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A count with its noun in the right form: "1 segment", "7 segments"
/// (D10: never "segment(s)").
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A length of time in rough words, for gaps where `H:MM:SS` would be
/// absurd ("48:00:00"): "2 days", "3 hours", "5 minutes", "40 seconds" (D10).
/// The largest unit that fits at least twice is used, rounded to the
/// nearest; one of a unit reads in the next smaller one ("90 minutes").
pub fn rough_duration(secs: i64) -> String {
    let secs = secs.unsigned_abs();
    let rounded = |unit: u64| (secs + unit / 2) / unit;
    const MINUTE: u64 = 60;
    const HOUR: u64 = 3600;
    const DAY: u64 = 86_400;
    if secs >= 2 * DAY {
        count(rounded(DAY), "day", "days")
    } else if secs >= 2 * HOUR {
        count(rounded(HOUR), "hour", "hours")
    } else if secs >= 2 * MINUTE {
        count(rounded(MINUTE), "minute", "minutes")
    } else {
        count(secs, "second", "seconds")
    }
}

/// A UTC instant in the user's zone, e.g. `2026-11-25 14:10:00 CET`.
pub fn local_time(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    t.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// Seconds as hours for people: "20 h", "7.5 h".
pub fn format_hours(secs: i64) -> String {
    if secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else {
        let hours = secs as f64 / 3600.0;
        format!("{} h", format!("{hours:.2}").trim_end_matches('0'))
    }
}

/// Other people's text made safe for a terminal: control characters
/// (escape sequences that retitle the window, clear the screen, …) are
/// shown as `\u{1b}` instead of acted on; newlines stay where `newlines`.
pub fn printable(text: &str, newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' if newlines => out.push('\n'),
            '\t' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

use crate::domain::text::is_bidi_control;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hms_pads() {
        assert_eq!(hms(3 * 3600 + 7 * 60 + 5), "3:07:05");
        assert_eq!(hms(-5), "0:00:00");
    }

    #[test]
    fn counts_take_the_right_form() {
        assert_eq!(count(0, "segment", "segments"), "0 segments");
        assert_eq!(count(1, "segment", "segments"), "1 segment");
        assert_eq!(count(7, "segment", "segments"), "7 segments");
    }

    #[test]
    fn rough_durations_read_in_words() {
        assert_eq!(rough_duration(48 * 3600), "2 days");
        assert_eq!(rough_duration(-48 * 3600), "2 days");
        assert_eq!(rough_duration(3 * 3600 + 600), "3 hours");
        assert_eq!(rough_duration(36 * 3600), "36 hours");
        assert_eq!(rough_duration(5 * 60 + 10), "5 minutes");
        assert_eq!(rough_duration(90 * 60), "90 minutes");
        assert_eq!(rough_duration(1), "1 second");
        assert_eq!(rough_duration(100), "100 seconds");
    }

    #[test]
    fn hours_read_plainly() {
        assert_eq!(format_hours(20 * 3600), "20 h");
        assert_eq!(format_hours(7 * 3600 + 1800), "7.5 h");
    }
}
