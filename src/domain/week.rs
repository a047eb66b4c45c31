//! Billing weeks (W1), the Work Diary lock (W4) and what a weekly limit still
//! allows (W2).

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

const WEEK_SECS: i64 = 7 * 24 * 3600;

/// One billing week: Monday 00:00 UTC up to the next Monday 00:00 UTC (W1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BillingWeek {
    start: DateTime<Utc>,
}

impl BillingWeek {
    /// The billing week that contains `t`.
    pub fn containing(t: DateTime<Utc>) -> Self {
        let date = t.date_naive();
        let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
        BillingWeek {
            start: monday.and_time(NaiveTime::MIN).and_utc(),
        }
    }

    /// Monday 00:00 UTC.
    pub fn start(self) -> DateTime<Utc> {
        self.start
    }

    /// The next Monday 00:00 UTC (exclusive end).
    pub fn end(self) -> DateTime<Utc> {
        self.start + Duration::seconds(WEEK_SECS)
    }

    pub fn next(self) -> Self {
        BillingWeek { start: self.end() }
    }

    pub fn contains(self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end()
    }

    /// W4: the week's Work Diary locks at its end plus the server's grace period.
    pub fn locks_at(self, grace_secs: i64) -> DateTime<Utc> {
        self.end() + Duration::seconds(grace_secs)
    }

    /// W4: after the lock, segments of this week can neither be uploaded nor deleted.
    pub fn is_locked(self, now: DateTime<Utc>, grace_secs: i64) -> bool {
        now >= self.locks_at(grace_secs)
    }
}

/// W2: how many more seconds may be logged this week under `limit_secs`,
/// given what is already logged. `None` means no limit.
pub fn remaining_under_limit(limit_secs: Option<i64>, logged_secs: i64) -> Option<i64> {
    limit_secs.map(|limit| (limit - logged_secs).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn week_runs_monday_to_monday_utc() {
        // 2026-11-25 is a Wednesday.
        let week = BillingWeek::containing(at("2026-11-25T23:59:59Z"));
        assert_eq!(week.start(), at("2026-11-23T00:00:00Z"));
        assert_eq!(week.end(), at("2026-11-30T00:00:00Z"));
        // Sunday 23:59:59 UTC still belongs to it; Monday 00:00 does not.
        assert!(week.contains(at("2026-11-29T23:59:59Z")));
        assert!(!week.contains(at("2026-11-30T00:00:00Z")));
        assert_eq!(
            BillingWeek::containing(at("2026-11-30T00:00:00Z")),
            week.next()
        );
    }

    #[test]
    fn lock_is_end_plus_grace() {
        let week = BillingWeek::containing(at("2026-11-25T10:00:00Z"));
        assert!(!week.is_locked(at("2026-11-29T23:59:59Z"), 0));
        assert!(week.is_locked(at("2026-11-30T00:00:00Z"), 0));
        assert!(!week.is_locked(at("2026-11-30T00:00:00Z"), 3600));
        assert!(week.is_locked(at("2026-11-30T01:00:00Z"), 3600));
    }

    #[test]
    fn remaining_never_negative() {
        assert_eq!(remaining_under_limit(Some(3600), 1000), Some(2600));
        assert_eq!(remaining_under_limit(Some(3600), 5000), Some(0));
        assert_eq!(remaining_under_limit(None, 5000), None);
    }

    proptest! {
        // W1 for any instant: the week contains it, starts on a Monday at
        // 00:00 UTC, lasts exactly 7 × 24 h, and the next week starts at its end.
        #[test]
        fn every_instant_has_one_week(secs in -2_000_000_000i64..4_000_000_000i64) {
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            let week = BillingWeek::containing(t);
            prop_assert!(week.contains(t));
            prop_assert_eq!(week.start().weekday(), chrono::Weekday::Mon);
            prop_assert_eq!(week.start().time(), NaiveTime::MIN);
            prop_assert_eq!((week.end() - week.start()).num_seconds(), WEEK_SECS);
            prop_assert_eq!(BillingWeek::containing(week.end()), week.next());
            prop_assert_eq!(BillingWeek::containing(week.start()), week);
        }
    }
}
