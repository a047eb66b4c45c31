//! The events (I2): their JSON bodies, and queuing one for the webhooks
//! that asked for it and may see its contract.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::EventKind;
use crate::rules::{ReviewAction, ReviewEvent};
use crate::store::{NewEvent, Result, Store, Webhook};
use timecard_core::domain::{BillingWeek, Segment};

/// An event about one contract.
#[derive(Clone, Debug)]
pub struct Event {
    /// The same wherever and however often the event is noticed.
    pub id: String,
    pub kind: EventKind,
    pub contract_id: String,
    pub at: DateTime<Utc>,
    pub data: Value,
}

impl Event {
    /// The body every receiver gets: `{id, type, created_at, contract_id, data}`.
    pub fn body(&self) -> String {
        json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "created_at": self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "contract_id": self.contract_id,
            "data": self.data,
        })
        .to_string()
    }

    /// `segments.accepted`: the segments of one upload on one contract.
    pub fn segments_accepted(
        login: &str,
        contract_id: &str,
        segments: &[&Segment],
        at: DateTime<Utc>,
    ) -> Event {
        let secs: i64 = segments
            .iter()
            .map(|s| (s.end - s.start).num_seconds())
            .sum();
        let ids: Vec<String> = segments.iter().map(|s| s.id.to_string()).collect();
        Event {
            id: event_id(&format!("segments:{contract_id}:{}", ids.join(","))),
            kind: EventKind::SegmentsAccepted,
            contract_id: contract_id.to_owned(),
            at,
            data: json!({
                "freelancer": login,
                "count": segments.len(),
                "secs": secs,
                "segments": segments.iter().map(|s| json!({
                    "id": s.id.to_string(),
                    "device_id": s.device_id,
                    "start": s.start.to_rfc3339(),
                    "end": s.end.to_rfc3339(),
                    "memo": s.memo,
                    "activity_of_ten": s.activity.level(),
                    "has_screenshot": s.screenshot.is_some(),
                })).collect::<Vec<_>>(),
            }),
        }
    }

    /// `manual_time.added`.
    pub fn manual_time_added(
        login: &str,
        contract_id: &str,
        segment_ids: &[String],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        memo: &str,
        at: DateTime<Utc>,
    ) -> Event {
        Event {
            id: event_id(&format!("manual:{contract_id}:{}", segment_ids.join(","))),
            kind: EventKind::ManualTimeAdded,
            contract_id: contract_id.to_owned(),
            at,
            data: json!({
                "freelancer": login,
                "start": start.to_rfc3339(),
                "end": end.to_rfc3339(),
                "secs": (end - start).num_seconds(),
                "memo": memo,
                "segments": segment_ids,
            }),
        }
    }

    /// The event of a review step, if it makes one.
    pub fn of_review(contract_id: &str, by: &str, step: &ReviewEvent) -> Option<Event> {
        let kind = match step.action {
            ReviewAction::Approve => EventKind::WeekApproved,
            ReviewAction::Dispute => EventKind::DisputeOpened,
            ReviewAction::Answer => EventKind::DisputeAnswered,
            ReviewAction::Keep | ReviewAction::Reject => EventKind::DisputeDecided,
        };
        let week = step.week_start.date_naive().to_string();
        let segment = step.segment_id.map(|s| s.to_string());
        let mut data = json!({
            "week_start": week,
            "by": by,
        });
        if let Some(segment) = &segment {
            data["segment_id"] = json!(segment);
        }
        match step.action {
            ReviewAction::Dispute => data["reason"] = json!(step.note),
            ReviewAction::Answer => data["answer"] = json!(step.note),
            ReviewAction::Keep => data["decision"] = json!("kept"),
            ReviewAction::Reject => data["decision"] = json!("rejected"),
            ReviewAction::Approve => {}
        }
        Some(Event {
            id: event_id(&format!(
                "review:{contract_id}:{}:{}:{}:{}",
                step.action.as_str(),
                week,
                segment.unwrap_or_default(),
                step.at.timestamp()
            )),
            kind,
            contract_id: contract_id.to_owned(),
            at: step.at,
            data,
        })
    }

    /// `week.auto_approved`: nobody approved `week` before its review
    /// window closed at `at`.
    pub fn week_auto_approved(contract_id: &str, week: BillingWeek, at: DateTime<Utc>) -> Event {
        let start = week.start().date_naive().to_string();
        Event {
            id: event_id(&format!("auto-approved:{contract_id}:{start}")),
            kind: EventKind::WeekAutoApproved,
            contract_id: contract_id.to_owned(),
            at,
            data: json!({ "week_start": start }),
        }
    }
}

/// An event's id from what names it: `evt_` and 24 hex digits of its
/// SHA-256, the same on every replica and after a restart.
fn event_id(name: &str) -> String {
    format!(
        "evt_{}",
        &hex::encode(Sha256::digest(name.as_bytes()))[..24]
    )
}

/// Queues `event` for every enabled webhook that asked for its kind and
/// sees its contract (an admin's every contract, a client's those they
/// review); how many deliveries were queued.
pub fn queue(store: &dyn Store, event: &Event, now: DateTime<Utc>) -> Result<usize> {
    queue_to(store, &store.webhooks(None)?, event, now)
}

/// As [`queue`], among `hooks` (every webhook, read once by the caller).
fn queue_to(
    store: &dyn Store,
    hooks: &[Webhook],
    event: &Event,
    now: DateTime<Utc>,
) -> Result<usize> {
    let kind = event.kind.as_str();
    let wanted: Vec<&Webhook> = hooks.iter().filter(|w| w.wants(kind)).collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let client = store
        .contract(&event.contract_id)?
        .and_then(|c| c.terms.client_user_id);
    let ids: Vec<i64> = wanted
        .iter()
        .filter(|w| w.all_contracts || Some(w.owner_id) == client)
        .map(|w| w.id)
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    store.queue_event(
        &NewEvent {
            event_id: event.id.clone(),
            kind: kind.to_owned(),
            body: event.body(),
        },
        &ids,
        now,
    )
}

/// Queues `segments.accepted` for what `user_id` just uploaded: one event
/// per contract. Looks at nothing more when no webhook asks for it.
pub fn queue_uploaded(store: &dyn Store, user_id: i64, accepted: &[&Segment], now: DateTime<Utc>) {
    let queued = (|| -> Result<()> {
        let hooks = store.webhooks(None)?;
        if !hooks
            .iter()
            .any(|w| w.wants(EventKind::SegmentsAccepted.as_str()))
        {
            return Ok(());
        }
        let login = store.login_of(user_id)?;
        let mut contracts: Vec<&str> = accepted.iter().map(|s| s.contract_id.as_str()).collect();
        contracts.sort_unstable();
        contracts.dedup();
        for contract in contracts {
            let of: Vec<&Segment> = accepted
                .iter()
                .copied()
                .filter(|s| s.contract_id == contract)
                .collect();
            let event = Event::segments_accepted(&login, contract, &of, now);
            if let Err(e) = queue_to(store, &hooks, &event, now) {
                log::error!(
                    "webhooks: {} {} not queued: {e}",
                    event.kind.as_str(),
                    event.id
                );
            }
        }
        Ok(())
    })();
    if let Err(e) = queued {
        log::error!("webhooks: uploads not queued: {e}");
    }
}

/// Queues `event`, logging (not failing) when it cannot: the step it tells
/// of has happened whatever becomes of its webhooks.
pub fn queue_quietly(store: &dyn Store, event: &Event, now: DateTime<Utc>) {
    if let Err(e) = queue(store, event, now) {
        log::error!(
            "webhooks: {} {} not queued: {e}",
            event.kind.as_str(),
            event.id
        );
    }
}
