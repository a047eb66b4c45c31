//! Contracts (C1) and the trackability rule with its reasons (C2–C4, C6).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::fmt::format_hours;

/// How a contract is paid (C1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ContractKind {
    Hourly,
    FixedPrice,
}

impl ContractKind {
    /// C6: only hourly time counts towards the freelancer's hourly totals
    /// (fixed-price time is logged but paid by milestone).
    pub fn counts_toward_hours(self) -> bool {
        matches!(self, ContractKind::Hourly)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContractKind::Hourly => "hourly",
            ContractKind::FixedPrice => "fixed_price",
        }
    }
}

/// Where a contract is in its life (C1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ContractStatus {
    Active,
    Paused,
    Ended,
}

impl ContractStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractStatus::Active => "active",
            ContractStatus::Paused => "paused",
            ContractStatus::Ended => "ended",
        }
    }
}

/// A weekly limit that will replace the current one at a later moment (W3:
/// decreases wait for the next billing week).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingLimit {
    /// The new limit in seconds; `None` removes the limit.
    pub limit_secs: Option<i64>,
    /// The moment it takes effect, always a billing-week start (Monday 00:00 UTC).
    pub effective_at: DateTime<Utc>,
}

/// A contract as the freelancer sees it (C1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contract {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub client: String,
    pub kind: ContractKind,
    pub status: ContractStatus,
    /// A UTC calendar date: the contract becomes trackable at 00:00 UTC on it (C3).
    pub start_date: NaiveDate,
    /// Hourly contracts only: the weekly limit in seconds, if any.
    #[serde(default)]
    pub weekly_limit_secs: Option<i64>,
    /// A decrease announced but not yet in force (W3).
    #[serde(default)]
    pub pending_limit: Option<PendingLimit>,
}

/// Settings that change which contracts can be tracked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingPolicy {
    /// Settings > Advanced → *Track time on fixed-price contracts* (off by default).
    pub track_fixed_price: bool,
}

/// Why a contract cannot be tracked right now (C4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotTrackable {
    Paused,
    Ended,
    /// The start date is in the future; trackable from this UTC instant.
    NotStarted {
        starts_at: DateTime<Utc>,
    },
    /// A fixed-price contract while the setting is off.
    FixedPriceOff,
    /// W2: this billing week's time reached the weekly limit; tracking can
    /// start again when the next week begins (if its limit is not zero).
    WeeklyLimit {
        limit_secs: i64,
        resumes_at: Option<DateTime<Utc>>,
    },
}

impl NotTrackable {
    /// A short machine-readable code, used in `--json` output.
    pub fn code(self) -> &'static str {
        match self {
            NotTrackable::Paused => "paused",
            NotTrackable::Ended => "ended",
            NotTrackable::NotStarted { .. } => "not_started",
            NotTrackable::FixedPriceOff => "fixed_price_off",
            NotTrackable::WeeklyLimit { .. } => "weekly_limit",
        }
    }

    /// The reason in plain words, with start times shown in UTC and in the
    /// user's zone: "starts 1 Dec 00:00 UTC (30 Nov 19:00 your time)".
    pub fn describe<Tz: TimeZone>(self, local: &Tz) -> String
    where
        Tz::Offset: std::fmt::Display,
    {
        match self {
            NotTrackable::Paused => "paused by the client".to_owned(),
            NotTrackable::Ended => "ended".to_owned(),
            NotTrackable::NotStarted { starts_at } => {
                let here = starts_at.with_timezone(local);
                format!(
                    "starts {} UTC ({} your time)",
                    starts_at.format("%-d %b %H:%M"),
                    here.format("%-d %b %H:%M")
                )
            }
            NotTrackable::FixedPriceOff => {
                "fixed-price tracking is off in Settings > Advanced".to_owned()
            }
            NotTrackable::WeeklyLimit {
                limit_secs,
                resumes_at,
            } => {
                let reached = format!("weekly limit of {} reached", format_hours(limit_secs));
                match resumes_at {
                    Some(at) => format!(
                        "{reached}; tracking resumes {} UTC (your time: {})",
                        at.format("%a %-d %b %H:%M"),
                        at.with_timezone(local).format("%a %-d %b %H:%M")
                    ),
                    None => format!("{reached}; next week's limit is 0 h"),
                }
            }
        }
    }
}

/// The answer of [`Contract::trackability`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trackability {
    Trackable,
    NotTrackable(NotTrackable),
}

impl Trackability {
    pub fn is_trackable(self) -> bool {
        matches!(self, Trackability::Trackable)
    }
}

impl Contract {
    /// The instant the contract becomes trackable: 00:00 UTC on its start
    /// date, never local midnight (C3).
    pub fn starts_at(&self) -> DateTime<Utc> {
        self.start_date.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// C2/C3: active, start date reached, and hourly — or fixed-price when the
    /// policy allows it. The first failing condition is the reason given, in
    /// the order a freelancer would want to hear it.
    pub fn trackability(&self, now: DateTime<Utc>, policy: TrackingPolicy) -> Trackability {
        let reason = match self.status {
            ContractStatus::Ended => Some(NotTrackable::Ended),
            ContractStatus::Paused => Some(NotTrackable::Paused),
            ContractStatus::Active if now < self.starts_at() => Some(NotTrackable::NotStarted {
                starts_at: self.starts_at(),
            }),
            ContractStatus::Active
                if self.kind == ContractKind::FixedPrice && !policy.track_fixed_price =>
            {
                Some(NotTrackable::FixedPriceOff)
            }
            ContractStatus::Active => None,
        };
        reason.map_or(Trackability::Trackable, Trackability::NotTrackable)
    }

    /// W2 on top of C2: a contract whose time this billing week
    /// (`week_logged_secs`: uploaded + cached, without a segment in
    /// progress) reached its weekly limit cannot be tracked until the next
    /// week begins.
    pub fn trackability_this_week(
        &self,
        now: DateTime<Utc>,
        policy: TrackingPolicy,
        week_logged_secs: i64,
    ) -> Trackability {
        let trackability = self.trackability(now, policy);
        if !trackability.is_trackable() {
            return trackability;
        }
        match self.limit_at(now) {
            Some(limit_secs) if week_logged_secs >= limit_secs => {
                let next_week = super::BillingWeek::containing(now).end();
                let resumes_at = (self.limit_at(next_week) != Some(0)).then_some(next_week);
                Trackability::NotTrackable(NotTrackable::WeeklyLimit {
                    limit_secs,
                    resumes_at,
                })
            }
            _ => trackability,
        }
    }

    /// The weekly limit in force at `at` (W3): a pending change applies from
    /// its effective moment on. Fixed-price contracts have no limit.
    pub fn limit_at(&self, at: DateTime<Utc>) -> Option<i64> {
        if self.kind != ContractKind::Hourly {
            return None;
        }
        match &self.pending_limit {
            Some(pending) if at >= pending.effective_at => pending.limit_secs,
            _ => self.weekly_limit_secs,
        }
    }

    /// The note to show next to the limit meter while a decrease is pending:
    /// "limit becomes 20 h on Mon 30 Nov 00:00 UTC"; once that moment has
    /// passed, in the past for the week that follows it ("limit 20 h since
    /// Mon 30 Nov 00:00 UTC"), then nothing (W3).
    pub fn pending_limit_note(&self, now: DateTime<Utc>) -> Option<String> {
        let pending = self.pending_limit.as_ref()?;
        if self.kind != ContractKind::Hourly
            || now >= pending.effective_at + chrono::Duration::days(7)
        {
            return None;
        }
        let when = pending.effective_at.format("%a %-d %b %H:%M UTC");
        let passed = now >= pending.effective_at;
        Some(match (pending.limit_secs, passed) {
            (Some(secs), false) => format!("limit becomes {} on {when}", format_hours(secs)),
            (Some(secs), true) => format!("limit {} since {when}", format_hours(secs)),
            (None, false) => format!("limit is lifted on {when}"),
            (None, true) => format!("no limit since {when}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, FixedOffset};

    fn hourly(status: ContractStatus, start: &str) -> Contract {
        Contract {
            id: "c1".into(),
            title: "Backend work".into(),
            client: "Acme".into(),
            kind: ContractKind::Hourly,
            status,
            start_date: start.parse().unwrap(),
            weekly_limit_secs: Some(40 * 3600),
            pending_limit: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    // W2: at its limit a contract is not trackable, and says until when.
    #[test]
    fn a_contract_at_its_weekly_limit_is_not_trackable_until_monday() {
        let c = hourly(ContractStatus::Active, "2026-01-01");
        let now = at("2026-11-26T15:00:00Z");
        let policy = TrackingPolicy::default();
        assert!(
            c.trackability_this_week(now, policy, 40 * 3600 - 1)
                .is_trackable()
        );
        let Trackability::NotTrackable(reason) = c.trackability_this_week(now, policy, 40 * 3600)
        else {
            panic!("trackable at the limit");
        };
        assert_eq!(reason.code(), "weekly_limit");
        let cet = chrono_tz::Europe::Paris;
        assert_eq!(
            reason.describe(&cet),
            "weekly limit of 40 h reached; tracking resumes Mon 30 Nov 00:00 UTC (your time: Mon 30 Nov 01:00)"
        );
        // Paused wins: the first reason a freelancer would want to hear.
        let paused = hourly(ContractStatus::Paused, "2026-01-01");
        assert_eq!(
            paused.trackability_this_week(now, policy, 40 * 3600),
            Trackability::NotTrackable(NotTrackable::Paused)
        );
    }

    #[test]
    fn active_hourly_contract_is_trackable() {
        let c = hourly(ContractStatus::Active, "2026-01-01");
        assert_eq!(
            c.trackability(at("2026-11-25T12:00:00Z"), TrackingPolicy::default()),
            Trackability::Trackable
        );
    }

    #[test]
    fn paused_and_ended_give_their_reason() {
        let now = at("2026-11-25T12:00:00Z");
        let policy = TrackingPolicy::default();
        assert_eq!(
            hourly(ContractStatus::Paused, "2026-01-01").trackability(now, policy),
            Trackability::NotTrackable(NotTrackable::Paused)
        );
        assert_eq!(
            hourly(ContractStatus::Ended, "2026-01-01").trackability(now, policy),
            Trackability::NotTrackable(NotTrackable::Ended)
        );
    }

    // C3: the contract opens at 00:00 UTC, not local midnight.
    #[test]
    fn future_contract_opens_at_utc_midnight() {
        let c = hourly(ContractStatus::Active, "2026-12-01");
        let policy = TrackingPolicy::default();
        let opens = at("2026-12-01T00:00:00Z");
        assert!(
            !c.trackability(opens - Duration::seconds(1), policy)
                .is_trackable()
        );
        assert!(c.trackability(opens, policy).is_trackable());
    }

    // C4: the example from the brief, seen from New York (UTC-5 in winter).
    #[test]
    fn not_started_reason_shows_utc_and_local_time() {
        let c = hourly(ContractStatus::Active, "2026-12-01");
        let reason = match c.trackability(at("2026-11-25T12:00:00Z"), TrackingPolicy::default()) {
            Trackability::NotTrackable(r) => r,
            Trackability::Trackable => panic!("should not be trackable yet"),
        };
        let new_york = FixedOffset::west_opt(5 * 3600).unwrap();
        assert_eq!(
            reason.describe(&new_york),
            "starts 1 Dec 00:00 UTC (30 Nov 19:00 your time)"
        );
    }

    // C2: fixed-price needs the setting.
    #[test]
    fn fixed_price_follows_the_setting() {
        let mut c = hourly(ContractStatus::Active, "2026-01-01");
        c.kind = ContractKind::FixedPrice;
        let now = at("2026-11-25T12:00:00Z");
        assert_eq!(
            c.trackability(now, TrackingPolicy::default()),
            Trackability::NotTrackable(NotTrackable::FixedPriceOff)
        );
        let on = TrackingPolicy {
            track_fixed_price: true,
        };
        assert!(c.trackability(now, on).is_trackable());
        assert!(!c.kind.counts_toward_hours());
        assert_eq!(c.limit_at(now), None);
    }

    // W3: a decrease shows a note until its effective Monday, then applies.
    #[test]
    fn pending_decrease_applies_from_its_monday() {
        let mut c = hourly(ContractStatus::Active, "2026-01-01");
        let monday = at("2026-11-30T00:00:00Z");
        c.pending_limit = Some(PendingLimit {
            limit_secs: Some(20 * 3600),
            effective_at: monday,
        });
        let before = monday - Duration::seconds(1);
        assert_eq!(c.limit_at(before), Some(40 * 3600));
        assert_eq!(c.limit_at(monday), Some(20 * 3600));
        assert_eq!(
            c.pending_limit_note(before).unwrap(),
            "limit becomes 20 h on Mon 30 Nov 00:00 UTC"
        );
        // Once passed, said in the past — never "becomes" after the moment.
        assert_eq!(
            c.pending_limit_note(monday).unwrap(),
            "limit 20 h since Mon 30 Nov 00:00 UTC"
        );
        assert_eq!(
            c.pending_limit_note(monday + Duration::days(6)).unwrap(),
            "limit 20 h since Mon 30 Nov 00:00 UTC"
        );
        assert_eq!(c.pending_limit_note(monday + Duration::days(7)), None);
        c.pending_limit.as_mut().unwrap().limit_secs = None;
        assert_eq!(
            c.pending_limit_note(before).unwrap(),
            "limit is lifted on Mon 30 Nov 00:00 UTC"
        );
        assert_eq!(
            c.pending_limit_note(monday).unwrap(),
            "no limit since Mon 30 Nov 00:00 UTC"
        );
    }
}
