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
    fn hours_read_plainly() {
        assert_eq!(format_hours(20 * 3600), "20 h");
        assert_eq!(format_hours(7 * 3600 + 1800), "7.5 h");
    }
}
