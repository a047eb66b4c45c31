//! What the store keeps for mail (M2–M5): the outbox of mails to send, the
//! one-time links of invitations and password resets (only their SHA-256),
//! and what a user's mail goes to. The types here; each back-end writes
//! them in its own SQL, reading rows through [`super::rows::Columns`].

use chrono::{DateTime, Utc};

use super::rows::{Columns, from_ts};

/// A mail to queue (M2). `dedupe_key` names the event it tells of: a
/// second mail with the same key is not queued, so one event makes one
/// mail however often (and on however many replicas) it is noticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMail {
    pub dedupe_key: String,
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
}

/// A mail in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueuedMail {
    pub id: i64,
    pub dedupe_key: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Sending attempts begun (a claim counts as one).
    pub attempts: u32,
    /// When it may be tried (again); while a sender holds it, the end of
    /// its claim.
    pub next_attempt: DateTime<Utc>,
    /// When the SMTP server took it; `None` while it waits.
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The columns [`queued_mail`] reads, in order.
pub(super) const MAIL_COLUMNS: &str = "id, dedupe_key, to_addr, subject, body_text, created_at, attempts, next_attempt, sent_at, last_error";

pub(super) fn queued_mail<R: Columns>(row: &R) -> Result<QueuedMail, R::Error> {
    Ok(QueuedMail {
        id: row.int(0)?.unwrap_or_default(),
        dedupe_key: row.text(1)?.unwrap_or_default(),
        to: row.text(2)?.unwrap_or_default(),
        subject: row.text(3)?.unwrap_or_default(),
        body: row.text(4)?.unwrap_or_default(),
        created_at: from_ts(row.int(5)?.unwrap_or_default()),
        attempts: row.int(6)?.unwrap_or_default().clamp(0, u32::MAX as i64) as u32,
        next_attempt: from_ts(row.int(7)?.unwrap_or_default()),
        sent_at: row.int(8)?.map(from_ts),
        last_error: row.text(9)?,
    })
}

/// What a one-time link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    /// M3: an invited user sets their first password.
    Invitation,
    /// M4: a user who forgot their password sets a new one.
    Reset,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invitation => "invitation",
            LinkPurpose::Reset => "reset",
        }
    }
}

/// A one-time link to store: only the SHA-256 of its token
/// ([`crate::auth::token_hash`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLink {
    pub hash: String,
    pub purpose: LinkPurpose,
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Whom a user's mail goes to, and what they want of it (M5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub login: String,
    pub email: Option<String>,
    pub disabled: bool,
    /// Whether they get the weekly summary (on unless they turned it off).
    pub weekly_summary: bool,
}

/// `login, email, disabled_at, weekly_summary` (after the id).
pub(super) fn recipient<R: Columns>(row: &R) -> Result<(i64, Recipient), R::Error> {
    Ok((
        row.int(0)?.unwrap_or_default(),
        Recipient {
            login: row.text(1)?.unwrap_or_default(),
            email: row.text(2)?,
            disabled: row.int(3)?.is_some(),
            weekly_summary: row.flag(4)?,
        },
    ))
}
