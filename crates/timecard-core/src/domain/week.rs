//! Billing weeks (W1), the Work Diary lock (W4) and what a weekly limit still
//! allows (W2).
//!
//! Every function here is total: at the ends of what a `DateTime` can hold
//! (years -262143 and +262142, which a damaged file or a hostile upload can
//! carry) weeks are clamped to that range instead of overflowing.

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

const WEEK_SECS: i64 = 7 * 24 * 3600;

/// One billing week: Monday 00:00 UTC up to the next Monday 00:00 UTC (W1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BillingWeek {
    start: DateTime<Utc>,
}

impl BillingWeek {
    /// The billing week that contains `t`. The first week a `DateTime` can
    /// hold starts on its first day, whatever weekday that is.
    pub fn containing(t: DateTime<Utc>) -> Self {
        let date = t.date_naive();
        let back = Days::new(u64::from(date.weekday().num_days_from_monday()));
        let monday = date.checked_sub_days(back).unwrap_or(NaiveDate::MIN);
        BillingWeek {
            start: monday.and_time(NaiveTime::MIN).and_utc(),
        }
    }

    /// Monday 00:00 UTC.
    pub fn start(self) -> DateTime<Utc> {
        self.start
    }

    /// The next Monday 00:00 UTC (exclusive end); the last instant a
    /// `DateTime` can hold for the last week.
    pub fn end(self) -> DateTime<Utc> {
        self.start
            .checked_add_signed(Duration::seconds(WEEK_SECS))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    pub fn next(self) -> Self {
        BillingWeek { start: self.end() }
    }

    pub fn contains(self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end()
    }

    /// W4: the week's Work Diary locks at its end plus the server's grace period.
    /// Saturates at the ends of the `DateTime` range.
    pub fn locks_at(self, grace_secs: i64) -> DateTime<Utc> {
        Duration::try_seconds(grace_secs)
            .and_then(|grace| self.end().checked_add_signed(grace))
            .unwrap_or(if grace_secs < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            })
    }

    /// W4: after the lock, segments of this week can neither be uploaded nor deleted.
    pub fn is_locked(self, now: DateTime<Utc>, grace_secs: i64) -> bool {
        now >= self.locks_at(grace_secs)
    }
}

/// W2: how many more seconds may be logged this week under `limit_secs`,
/// given what is already logged. `None` means no limit.
pub fn remaining_under_limit(limit_secs: Option<i64>, logged_secs: i64) -> Option<i64> {
    limit_secs.map(|limit| limit.saturating_sub(logged_secs).max(0))
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

        // Any instant a `DateTime` can hold, any grace: nothing panics, the
        // week still contains the instant and never runs backwards.
        #[test]
        fn weeks_are_total_over_the_whole_range(
            secs in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            grace in any::<i64>(),
        ) {
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            let week = BillingWeek::containing(t);
            prop_assert!(week.contains(t) || t == DateTime::<Utc>::MAX_UTC);
            prop_assert!(week.start() <= week.end());
            prop_assert!(week.next() >= week);
            let _ = week.is_locked(t, grace);
            prop_assert!(remaining_under_limit(Some(grace), secs).is_some());
        }
    }

    #[test]
    fn weeks_at_the_ends_of_time_are_clamped() {
        for t in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let week = BillingWeek::containing(t);
            assert!(week.start() <= t && t <= week.end());
            assert!(!week.is_locked(t, i64::MAX) || t == DateTime::<Utc>::MAX_UTC);
            assert!(week.is_locked(t, i64::MIN));
        }
        let last = BillingWeek::containing(DateTime::<Utc>::MAX_UTC);
        assert_eq!(last.end(), DateTime::<Utc>::MAX_UTC);
        assert_eq!(last.next().next(), last.next());
        assert_eq!(
            BillingWeek::containing(DateTime::<Utc>::MIN_UTC).start(),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
