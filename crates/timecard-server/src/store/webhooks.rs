//! What the store keeps for webhooks (I2): who registered which address
//! for which events, and the outbox of deliveries, one row per webhook and
//! event (unique), so an event noticed twice is delivered once and a crash
//! loses nothing queued.

use chrono::{DateTime, Utc};

use super::rows::{Columns, from_ts};

/// A webhook to store.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub owner_id: i64,
    /// Every contract (an admin's) or only the contracts the owner is the
    /// client of.
    pub all_contracts: bool,
    pub url: String,
    pub secret: String,
    /// Event types, as [`crate::webhooks::EventKind::as_str`] names them.
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A registered webhook.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Webhook {
    pub id: i64,
    pub owner_id: i64,
    pub owner: String,
    pub all_contracts: bool,
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Turned off by its owner, or by the server after a long run of
    /// failures (`disabled_reason` says which).
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Failed attempts since the last delivery that got through.
    pub failures_in_row: u32,
}

impl Webhook {
    /// Whether it is on and asked for events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.disabled_at.is_none() && self.events.iter().any(|e| e == kind)
    }
}

pub(super) const WEBHOOK_COLUMNS: &str = "w.id, w.owner_id, u.login, w.all_contracts, w.url, w.secret, w.events, w.created_at, w.disabled_at, w.disabled_reason, w.failures_in_row";

pub(super) fn webhook<R: Columns>(row: &R) -> Result<Webhook, R::Error> {
    Ok(Webhook {
        id: row.int(0)?.unwrap_or_default(),
        owner_id: row.int(1)?.unwrap_or_default(),
        owner: row.text(2)?.unwrap_or_default(),
        all_contracts: row.flag(3)?,
        url: row.text(4)?.unwrap_or_default(),
        secret: row.text(5)?.unwrap_or_default(),
        events: row
            .text(6)?
            .unwrap_or_default()
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: from_ts(row.int(7)?.unwrap_or_default()),
        disabled_at: row.int(8)?.map(from_ts),
        disabled_reason: row.text(9)?,
        failures_in_row: row.int(10)?.unwrap_or_default().clamp(0, u32::MAX as i64) as u32,
    })
}

/// An event to deliver to some webhooks.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The same for every webhook it goes to; the receiver's idempotency key.
    pub event_id: String,
    pub kind: String,
    /// The JSON body, as signed and sent.
    pub body: String,
}

/// A delivery in the outbox, with where it goes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: String,
    pub kind: String,
    #[serde(skip)]
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Attempts begun (a claim counts as one).
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status of the last attempt, if it answered.
    pub last_status: Option<u16>,
    /// What went wrong last, or the start of the receiver's answer.
    pub last_response: Option<String>,
    /// The webhook's address and secret when claimed (empty in listings).
    #[serde(skip)]
    pub url: String,
    #[serde(skip)]
    pub secret: String,
}

pub(super) const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.event_id, d.kind, d.body, d.created_at, d.attempts, d.next_attempt, d.delivered_at, d.last_status, d.last_response, w.url, w.secret";

pub(super) fn delivery<R: Columns>(row: &R) -> Result<Delivery, R::Error> {
    Ok(Delivery {
        id: row.int(0)?.unwrap_or_default(),
        webhook_id: row.int(1)?.unwrap_or_default(),
        event_id: row.text(2)?.unwrap_or_default(),
        kind: row.text(3)?.unwrap_or_default(),
        body: row.text(4)?.unwrap_or_default(),
        created_at: from_ts(row.int(5)?.unwrap_or_default()),
        attempts: row.int(6)?.unwrap_or_default().clamp(0, u32::MAX as i64) as u32,
        next_attempt: from_ts(row.int(7)?.unwrap_or_default()),
        delivered_at: row.int(8)?.map(from_ts),
        last_status: row.int(9)?.map(|s| s.clamp(0, 999) as u16),
        last_response: row.text(10)?,
        url: row.text(11)?.unwrap_or_default(),
        secret: row.text(12)?.unwrap_or_default(),
    })
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub delivery_id: i64,
    pub webhook_id: i64,
    pub at: DateTime<Utc>,
    pub delivered: bool,
    pub status: Option<u16>,
    pub response: String,
    /// When to try again, if not delivered.
    pub retry_at: DateTime<Utc>,
    /// Failures in a row after which the webhook is turned off.
    pub disable_after: u32,
}
