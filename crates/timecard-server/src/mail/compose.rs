//! What each mail says (M3–M5), in plain text: pure functions of what the
//! mail is about, with the links already made. Typed text (titles,
//! reasons, answers) goes in as one line each, so nothing typed can look
//! like a part of the mail.

use chrono::{DateTime, Utc};

use timecard_core::domain::BillingWeek;
use timecard_core::fmt::format_hours;

/// A subject and a plain-text body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub subject: String,
    pub body: String,
}

/// Typed text as one line: control characters and line breaks as spaces,
/// at most `max` characters.
fn line(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %Y %H:%M UTC").to_string()
}

fn week_words(week: BillingWeek) -> String {
    format!("the week of {}", week.start().format("%a %-d %b %Y"))
}

const FOOTER: &str = "\n-- \nTimecard\n";

/// M3: an invitation to set a password.
pub fn invitation(login: &str, role: &str, by: &str, link: &str, days: i64) -> Text {
    Text {
        subject: "You are invited to Timecard".into(),
        body: format!(
            "{} invited you to Timecard as a {role}.\n\n\
             Choose your password here (the link works once, for {days} days):\n\n{link}\n\n\
             Then sign in with {}.\n{FOOTER}",
            line(by, 64),
            line(login, 200),
        ),
    }
}

/// M4: a one-time link to choose a new password.
pub fn password_reset(login: &str, link: &str, minutes: i64) -> Text {
    Text {
        subject: "Choose a new Timecard password".into(),
        body: format!(
            "Someone (we hope you) asked for a new password for the Timecard account {}.\n\n\
             Choose it here (the link works once, for {minutes} minutes):\n\n{link}\n\n\
             Signing in with the new password ends every other session of the account.\n\
             If you did not ask, ignore this mail: your password stays as it is.\n{FOOTER}",
            line(login, 200),
        ),
    }
}

/// M5: the client disputed one of the freelancer's segments.
pub fn dispute_opened(title: &str, start: DateTime<Utc>, reason: &str, link: &str) -> Text {
    Text {
        subject: format!("Time disputed on {}", line(title, 80)),
        body: format!(
            "The client disputed your time of {} on {}:\n\n  {}\n\n\
             Answer the dispute in the Work Diary:\n\n{link}\n{FOOTER}",
            when(start),
            line(title, 200),
            line(reason, 600),
        ),
    }
}

/// M5: the freelancer answered the client's dispute.
pub fn dispute_answered(title: &str, start: DateTime<Utc>, answer: &str, link: &str) -> Text {
    Text {
        subject: format!("Dispute answered on {}", line(title, 80)),
        body: format!(
            "The freelancer answered your dispute of the time of {} on {}:\n\n  {}\n\n\
             Keep or reject the time in the Work Diary:\n\n{link}\n{FOOTER}",
            when(start),
            line(title, 200),
            line(answer, 600),
        ),
    }
}

/// M5: a week's review window opened.
pub fn week_ready(
    title: &str,
    week: BillingWeek,
    logged_secs: i64,
    until: DateTime<Utc>,
    link: &str,
) -> Text {
    Text {
        subject: format!("{} ready for review: {}", week_words(week), line(title, 80)),
        body: format!(
            "{} of {} is ready for your review: {} logged.\n\n\
             Approve it or dispute its time until {}; then it is approved by itself.\n\n{link}\n{FOOTER}",
            week_words(week),
            line(title, 200),
            format_hours(logged_secs),
            when(until),
        ),
    }
}

/// One contract's line in the weekly summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryLine {
    pub title: String,
    pub billable_secs: i64,
    /// The amount, as the pages write it (`1234.50 USD`).
    pub amount: Option<String>,
    pub link: String,
}

/// M5: last week's hours and amounts per contract.
pub fn weekly_summary(week: BillingWeek, lines: &[SummaryLine], settings_link: &str) -> Text {
    let mut body = format!("Your contracts in {}:\n\n", week_words(week));
    for l in lines {
        body.push_str(&format!(
            "  {}: {}{}\n  {}\n\n",
            line(&l.title, 200),
            format_hours(l.billable_secs),
            l.amount
                .as_deref()
                .map(|a| format!(", {a}"))
                .unwrap_or_default(),
            l.link
        ));
    }
    body.push_str(&format!(
        "You get this summary every Monday. Turn it off here: {settings_link}\n{FOOTER}"
    ));
    Text {
        subject: format!("Timecard: {}", week_words(week)),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // M5: typed text stays on its line.
    #[test]
    fn typed_text_cannot_add_lines_to_a_mail() {
        let t = dispute_opened(
            "Shop\r\nBcc: x@example.com",
            "2026-11-25T14:00:00Z".parse().unwrap(),
            "not\nwork",
            "https://t.example/contracts/c/diary?date=2026-11-25",
        );
        assert_eq!(t.subject, "Time disputed on Shop  Bcc: x@example.com");
        assert!(t.body.contains("  not work\n"), "{}", t.body);
        assert!(t.body.contains("Wed 25 Nov 2026 14:00 UTC"));
    }
}
