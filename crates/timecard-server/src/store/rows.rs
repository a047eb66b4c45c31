//! Rows as the domain's types, the same for every database: a store reads
//! the columns in the order of the `*_COLUMNS` lists.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Role, User};
use crate::rules::{ContractTerms, Rate, ReviewAction, ReviewEvent, StoredContract};
use timecard_core::domain::{
    Activity, Contract, ContractKind, ContractStatus, PendingLimit, SegmentId,
};
use timecard_core::protocol::DiarySegment;

/// A row's columns by position.
pub(super) trait Columns {
    type Error;
    fn int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }
}

impl Columns for postgres::Row {
    type Error = postgres::Error;
    fn int(&self, i: usize) -> Result<Option<i64>, postgres::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<Option<String>, postgres::Error> {
        self.try_get(i)
    }
    fn flag(&self, i: usize) -> Result<bool, postgres::Error> {
        self.try_get(i)
    }
}

pub(super) fn from_ts(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap_or_default()
}

/// `id, login, email, password_hash, disabled_at, role`.
pub(super) fn user<R: Columns>(row: &R) -> Result<User, R::Error> {
    Ok(User {
        id: row.int(0)?.unwrap_or_default(),
        login: row.text(1)?.unwrap_or_default(),
        email: row.text(2)?,
        password_hash: row.text(3)?.unwrap_or_default(),
        disabled: row.int(4)?.is_some(),
        role: Role::from_stored(&row.text(5)?.unwrap_or_default()),
    })
}

pub(super) const CONTRACT_COLUMNS: &str = "id, user_id, title, client, kind, status, status_changed_at, start_date, weekly_limit_secs, pending_set, pending_limit_secs, pending_effective_at, client_user_id, rate_cents, currency, manual_time";

/// [`CONTRACT_COLUMNS`].
pub(super) fn contract<R: Columns>(row: &R) -> Result<StoredContract, R::Error> {
    let kind = row.text(4)?.unwrap_or_default();
    let status = row.text(5)?.unwrap_or_default();
    let start_date = row.text(7)?.unwrap_or_default();
    let pending_set = row.flag(9)?;
    let pending_effective = row.int(11)?;
    Ok(StoredContract {
        contract: Contract {
            id: row.text(0)?.unwrap_or_default(),
            title: row.text(2)?.unwrap_or_default(),
            client: row.text(3)?.unwrap_or_default(),
            kind: if kind == "fixed_price" {
                ContractKind::FixedPrice
            } else {
                ContractKind::Hourly
            },
            status: match status.as_str() {
                "paused" => ContractStatus::Paused,
                "ended" => ContractStatus::Ended,
                _ => ContractStatus::Active,
            },
            start_date: NaiveDate::parse_from_str(&start_date, "%Y-%m-%d").unwrap_or_default(),
            weekly_limit_secs: row.int(8)?,
            pending_limit: match (pending_set, pending_effective) {
                (true, Some(at)) => Some(PendingLimit {
                    limit_secs: row.int(10)?,
                    effective_at: from_ts(at),
                }),
                _ => None,
            },
        },
        user_id: row.int(1)?.unwrap_or_default(),
        status_changed_at: row.int(6)?.map(from_ts),
        terms: ContractTerms {
            client_user_id: row.int(12)?,
            rate: match (row.int(13)?, row.text(14)?) {
                (Some(cents), Some(currency)) => Some(Rate { cents, currency }),
                _ => None,
            },
            manual_time: row.flag(15)?,
        },
    })
}

/// `id, contract_id, device_id, start, end, memo, activity, has_screenshot,
/// capture_note, manual`.
pub(super) fn diary<R: Columns>(row: &R) -> Result<DiarySegment, R::Error> {
    let id = row.text(0)?.unwrap_or_default();
    Ok(DiarySegment {
        id: id.parse().unwrap_or(SegmentId(uuid::Uuid::nil())),
        contract_id: row.text(1)?.unwrap_or_default(),
        device_id: row.text(2)?.unwrap_or_default(),
        start: from_ts(row.int(3)?.unwrap_or_default()),
        end: from_ts(row.int(4)?.unwrap_or_default()),
        memo: row.text(5)?.unwrap_or_default(),
        activity: Activity(row.int(6)?.unwrap_or_default().clamp(0, u16::MAX as i64) as u16),
        has_screenshot: row.flag(7)?,
        capture_note: row.text(8)?,
        manual: row.flag(9)?,
        dispute: None,
        review: Default::default(),
    })
}

/// `week_start, segment_id, action, note, by_user_id, at` from column
/// `at`: a review event, or `None` for an action this server does not know
/// (a newer server's), which is left out.
pub(super) fn review<R: Columns>(row: &R, at: usize) -> Result<Option<ReviewEvent>, R::Error> {
    let Some(action) = ReviewAction::from_stored(&row.text(at + 2)?.unwrap_or_default()) else {
        return Ok(None);
    };
    Ok(Some(ReviewEvent {
        week_start: from_ts(row.int(at)?.unwrap_or_default()),
        segment_id: row.text(at + 1)?.and_then(|s| s.parse().ok()),
        action,
        note: row.text(at + 3)?.unwrap_or_default(),
        by_user_id: row.int(at + 4)?.unwrap_or_default(),
        at: from_ts(row.int(at + 5)?.unwrap_or_default()),
    }))
}
