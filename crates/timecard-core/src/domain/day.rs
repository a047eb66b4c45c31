//! Local days for the Work Diary (T1): the UTC span of one calendar day in an
//! IANA time zone. A day that crosses a daylight-saving change is 23 or 25
//! hours long and is shown so.
//!
//! Every function here is total: at the ends of what a `DateTime` can hold
//! (years -262143 and +262142) days are clamped to that range instead of
//! overflowing.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// One calendar day in one time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalDay {
    pub date: NaiveDate,
    pub tz: Tz,
}

impl LocalDay {
    pub fn new(date: NaiveDate, tz: Tz) -> Self {
        LocalDay { date, tz }
    }

    /// The local day that contains the instant `t`. Where the local time
    /// would lie beyond the dates a `NaiveDate` can hold, the UTC date is used.
    pub fn containing(t: DateTime<Utc>, tz: Tz) -> Self {
        let offset = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
        let local = t.naive_utc().checked_add_offset(offset);
        LocalDay {
            date: local.map_or(t.date_naive(), |local| local.date()),
            tz,
        }
    }

    /// The first instant of the day. Where midnight itself does not exist (a
    /// zone that springs forward at 00:00), the day starts when the clocks
    /// resume.
    pub fn start(self) -> DateTime<Utc> {
        first_instant_at_or_after(self.tz, self.date.and_time(chrono::NaiveTime::MIN))
    }

    /// The first instant of the next day (exclusive end). The last date a
    /// `NaiveDate` can hold has no next day: it ends 24 hours after its
    /// start, or at the last instant a `DateTime` can hold.
    pub fn end(self) -> DateTime<Utc> {
        match self.date.succ_opt() {
            Some(next) => LocalDay::new(next, self.tz).start(),
            None => self
                .start()
                .checked_add_signed(Duration::days(1))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// Length of the day in seconds: 86 400, or 82 800 / 90 000 across a DST change.
    pub fn len_secs(self) -> i64 {
        (self.end() - self.start()).num_seconds()
    }

    /// The UTC instants at which each hour row of the diary begins: 24 rows
    /// on an ordinary day, 23 or 25 across a DST change.
    pub fn hour_starts(self) -> Vec<DateTime<Utc>> {
        let (start, end) = (self.start(), self.end());
        let mut rows = Vec::with_capacity(25);
        let mut t = start;
        while t < end {
            rows.push(t);
            match t.checked_add_signed(Duration::hours(1)) {
                Some(next) => t = next,
                None => break,
            }
        }
        rows
    }

    pub fn contains(self, t: DateTime<Utc>) -> bool {
        self.start() <= t && t < self.end()
    }
}

/// A wall-clock minute typed as `YYYY-MM-DD HH:MM` in `tz`, as an instant
/// (the earlier one when the clock went back); an error in plain words for
/// a malformed text or a time a daylight-saving gap skipped.
pub fn parse_local_minute(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .map_err(|_| format!("{text:?}: write the date and time as YYYY-MM-DD HH:MM"))?;
    if !super::segment::is_plausible_day(local.date()) {
        return Err(format!(
            "{text}: time can only be given from {}",
            super::segment::plausible_years()
        ));
    }
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{text} does not exist in {tz} (a daylight-saving gap)"))
}

/// What [`parse_local_span`] gives: the span, or the field at fault
/// (`from` or `to`) and what is wrong with it.
pub type LocalSpan = Result<(DateTime<Utc>, DateTime<Utc>), (&'static str, String)>;

/// A span of work typed by hand (R8): `from` as `YYYY-MM-DD HH:MM`, `to`
/// as `HH:MM` (that day, or the next when earlier than `from`) or as
/// `YYYY-MM-DD HH:MM`, both in `tz`. Errors name the field (`from`, `to`)
/// in plain words; the server judges the rest (limits, locks, overlaps).
pub fn parse_local_span(from: &str, to: &str, tz: Tz) -> LocalSpan {
    let start = parse_local_minute(from, tz).map_err(|e| ("from", e))?;
    let to = to.trim();
    let end = if to.len() <= 5 {
        let day = start.with_timezone(&tz).date_naive();
        let end = parse_local_minute(&format!("{day} {to}"), tz).map_err(|e| ("to", e))?;
        if end < start {
            end.checked_add_signed(Duration::days(1))
                .ok_or_else(|| ("to", format!("{to}: there is no next day")))?
        } else {
            end
        }
    } else {
        parse_local_minute(to, tz).map_err(|e| ("to", e))?
    };
    if end <= start {
        return Err(("to", "the end must come after the start".to_owned()));
    }
    Ok((start, end))
}

/// The earliest instant whose local time is `local` or, inside a gap, the
/// moment the gap ends.
fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    // Gaps are at most a few hours; a minute step finds their end exactly for
    // every transition in the IANA database (they fall on whole minutes).
    for _ in 0..(26 * 60) {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
            // A gap, or a local time whose instant a `DateTime` cannot hold.
            LocalResult::None => match probe.checked_add_signed(Duration::minutes(1)) {
                Some(next) => probe = next,
                None => break,
            },
        }
    }
    // Only at the ends of the `DateTime` range: read the time as UTC.
    local.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typed_minutes_read_in_the_zone() {
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            parse_local_minute(" 2026-11-25 14:00 ", berlin).unwrap(),
            "2026-11-25T13:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let gap = parse_local_minute("2026-03-29 02:30", berlin).unwrap_err();
        assert!(gap.contains("daylight-saving gap"), "{gap}");
        let bad = parse_local_minute("25.11.2026 14:00", berlin).unwrap_err();
        assert!(bad.contains("YYYY-MM-DD HH:MM"), "{bad}");
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn ordinary_day_is_24_hours() {
        let day = LocalDay::new(date("2026-11-25"), chrono_tz::Europe::Berlin);
        assert_eq!(
            day.start(),
            "2026-11-24T23:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(day.len_secs(), 24 * 3600);
        assert_eq!(day.hour_starts().len(), 24);
    }

    #[test]
    fn spring_forward_day_has_23_hours() {
        let day = LocalDay::new(date("2026-03-29"), chrono_tz::Europe::Berlin);
        assert_eq!(day.len_secs(), 23 * 3600);
        assert_eq!(day.hour_starts().len(), 23);
        let ny = LocalDay::new(date("2026-03-08"), chrono_tz::America::New_York);
        assert_eq!(ny.len_secs(), 23 * 3600);
    }

    #[test]
    fn fall_back_day_has_25_hours() {
        let day = LocalDay::new(date("2026-10-25"), chrono_tz::Europe::Berlin);
        assert_eq!(day.len_secs(), 25 * 3600);
        assert_eq!(day.hour_starts().len(), 25);
        let ny = LocalDay::new(date("2026-11-01"), chrono_tz::America::New_York);
        assert_eq!(ny.len_secs(), 25 * 3600);
    }

    #[test]
    fn day_starting_inside_a_gap_starts_when_clocks_resume() {
        // Chile springs forward at 00:00 local on the first Sunday of September.
        let day = LocalDay::new(date("2026-09-06"), chrono_tz::America::Santiago);
        let start = day.start().with_timezone(&chrono_tz::America::Santiago);
        assert_eq!(start.format("%H:%M").to_string(), "01:00");
        assert_eq!(day.len_secs(), 23 * 3600);
    }

    #[test]
    fn an_instant_lands_in_the_right_local_day() {
        let t: DateTime<Utc> = "2026-11-25T02:30:00Z".parse().unwrap();
        // 21:30 the day before in New York.
        let day = LocalDay::containing(t, chrono_tz::America::New_York);
        assert_eq!(day.date, date("2026-11-24"));
        assert!(day.contains(t));
        assert_eq!(
            LocalDay::containing(t, chrono_tz::UTC).date,
            date("2026-11-25")
        );
    }

    proptest! {
        // T1: in zones with hour-sized DST changes every day is 23, 24 or 25
        // hours, days tile time without gaps or overlap, and each day contains
        // exactly the instants whose local date is that day.
        #[test]
        fn days_tile_and_have_23_24_or_25_hours(
            days in 0i64..(365 * 60),
            zone in prop::sample::select(vec![
                chrono_tz::UTC,
                chrono_tz::Europe::Berlin,
                chrono_tz::Europe::London,
                chrono_tz::America::New_York,
                chrono_tz::America::Santiago,
                chrono_tz::America::Sao_Paulo,
                chrono_tz::Australia::Sydney,
                chrono_tz::Asia::Kolkata,
                chrono_tz::Pacific::Auckland,
            ]),
            offset_into_day in 0i64..86_400,
        ) {
            let d = date("1990-01-01") + Duration::days(days);
            let day = LocalDay::new(d, zone);
            let len = day.len_secs();
            prop_assert!(len == 23 * 3600 || len == 24 * 3600 || len == 25 * 3600, "len {len}");
            prop_assert_eq!(day.end(), LocalDay::new(d.succ_opt().unwrap(), zone).start());
            prop_assert_eq!(day.hour_starts().len() as i64, len / 3600);
            let t = day.start() + Duration::seconds(offset_into_day.min(len - 1));
            prop_assert_eq!(LocalDay::containing(t, zone), day);
        }

        // Any instant or date a `DateTime` can hold, in zones far east and
        // far west of UTC: nothing panics and days never run backwards.
        #[test]
        fn days_are_total_over_the_whole_range(
            secs in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            edge in prop::sample::select(vec![0i64, 1, 3600, 86_400, 3 * 86_400]),
            zone in prop::sample::select(vec![
                chrono_tz::UTC,
                chrono_tz::Pacific::Kiritimati,
                chrono_tz::Pacific::Pago_Pago,
                chrono_tz::America::Santiago,
                chrono_tz::Europe::Berlin,
            ]),
        ) {
            let near_min = DateTime::<Utc>::MIN_UTC.timestamp() + edge;
            let near_max = DateTime::<Utc>::MAX_UTC.timestamp() - edge;
            for s in [secs, near_min, near_max] {
                let t = DateTime::from_timestamp(s, 0).unwrap();
                let day = LocalDay::containing(t, zone);
                prop_assert!(day.start() <= day.end());
                prop_assert!(day.hour_starts().len() <= 25);
                let _ = day.contains(t);
                let _ = day.len_secs();
                let _ = LocalDay::new(t.date_naive(), zone).end();
            }
        }
    }

    #[test]
    fn the_first_and_last_days_are_clamped() {
        for zone in [
            chrono_tz::UTC,
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::Pacific::Pago_Pago,
        ] {
            for date in [NaiveDate::MIN, NaiveDate::MAX] {
                let day = LocalDay::new(date, zone);
                assert!(day.start() <= day.end(), "{date} in {zone}");
                assert!(day.hour_starts().len() <= 25);
            }
            for t in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
                let _ = LocalDay::containing(t, zone).len_secs();
            }
        }
        let last = LocalDay::new(NaiveDate::MAX, chrono_tz::UTC);
        assert_eq!(
            last.end() - last.start(),
            Duration::days(1) - Duration::nanoseconds(1)
        );
    }
}
