//! What was worked, and what of it is billed (B1), and where each piece of
//! it is drawn on a day (B2): one definition that every face renders — the
//! API's diary, the web diary, the timesheet, the CSV, the statement, the
//! window and `timecard diary`. A face never adds segments up itself.
//!
//! Pure: every function takes the time it is about as an argument.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::day::LocalDay;

/// Where a piece of time stands in the client's weekly review (R7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReviewMark {
    /// Not disputed.
    #[default]
    None,
    /// Disputed and not decided yet: still billed (B1).
    Disputed,
    /// Disputed, then kept by the client: billed.
    Kept,
    /// Disputed, then rejected by the client: not billed.
    Rejected,
}

impl ReviewMark {
    pub fn is_none(&self) -> bool {
        *self == ReviewMark::None
    }

    /// B1: whether the time is billed (all but rejected time).
    pub fn is_billed(self) -> bool {
        self != ReviewMark::Rejected
    }

    /// In words, as pages and the CSV say it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewMark::None => "",
            ReviewMark::Disputed => "disputed",
            ReviewMark::Kept => "kept after dispute",
            ReviewMark::Rejected => "rejected",
        }
    }
}

/// A stretch of logged time as the read model sees it: a stored segment,
/// tracked or added by hand, with its review mark.
pub trait Billable {
    fn contract_id(&self) -> &str;
    fn start(&self) -> DateTime<Utc>;
    fn end(&self) -> DateTime<Utc>;
    /// Added by hand (R8), not tracked.
    fn is_manual(&self) -> bool;
    fn review(&self) -> ReviewMark;
}

/// B1: the time of a span, in the five figures every face shows.
///
/// `billable = tracked + manual − rejected`; disputed time is still
/// billable until the client decides (it is also counted in `disputed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    /// Time the tracker recorded.
    pub tracked_secs: i64,
    /// Time added by hand.
    pub manual_secs: i64,
    /// Time under a dispute the client has not decided (still billable).
    pub disputed_secs: i64,
    /// Time the client rejected (not billable).
    pub rejected_secs: i64,
    /// What is billed: tracked + manual − rejected.
    pub billable_secs: i64,
}

impl Totals {
    /// Adds `secs` of time that is `manual` or tracked, marked `review`.
    pub fn add(&mut self, secs: i64, manual: bool, review: ReviewMark) {
        if manual {
            self.manual_secs += secs;
        } else {
            self.tracked_secs += secs;
        }
        match review {
            ReviewMark::Disputed => self.disputed_secs += secs,
            ReviewMark::Rejected => self.rejected_secs += secs,
            ReviewMark::None | ReviewMark::Kept => {}
        }
        if review.is_billed() {
            self.billable_secs += secs;
        }
    }

    /// Adds another span's totals.
    pub fn merge(&mut self, other: &Totals) {
        self.tracked_secs += other.tracked_secs;
        self.manual_secs += other.manual_secs;
        self.disputed_secs += other.disputed_secs;
        self.rejected_secs += other.rejected_secs;
        self.billable_secs += other.billable_secs;
    }

    /// Tracked plus manual: all the time logged, billed or not.
    pub fn worked_secs(&self) -> i64 {
        self.tracked_secs + self.manual_secs
    }

    /// The totals of `items` within `[from, to)`, each clipped to it.
    pub fn of<'a, T: Billable + 'a>(
        items: impl IntoIterator<Item = &'a T>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Totals {
        let mut totals = Totals::default();
        for item in items {
            let secs = secs_within(item.start(), item.end(), from, to);
            if secs > 0 {
                totals.add(secs, item.is_manual(), item.review());
            }
        }
        totals
    }

    /// B1 from sums a database made: `tracked_secs` and `manual_secs`
    /// logged within `[from, to)`, and `marked`, the items among them with
    /// a review mark (the rest count as unmarked). The same as
    /// [`Totals::of`] over every item, without reading every item (the
    /// reports over months).
    pub fn of_sums<'a, T: Billable + 'a>(
        tracked_secs: i64,
        manual_secs: i64,
        marked: impl IntoIterator<Item = &'a T>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Totals {
        let mut totals = Totals {
            tracked_secs,
            manual_secs,
            billable_secs: tracked_secs + manual_secs,
            ..Totals::default()
        };
        for item in marked {
            let secs = secs_within(item.start(), item.end(), from, to);
            if secs <= 0 {
                continue;
            }
            // Its time is already in the sums, as unmarked time.
            let mut unmarked = Totals::default();
            unmarked.add(secs, item.is_manual(), ReviewMark::None);
            let mut as_marked = Totals::default();
            as_marked.add(secs, item.is_manual(), item.review());
            totals.disputed_secs += as_marked.disputed_secs;
            totals.rejected_secs += as_marked.rejected_secs;
            totals.billable_secs += as_marked.billable_secs - unmarked.billable_secs;
        }
        totals
    }

    /// The totals of `items` within `[from, to)` per contract, in the order
    /// the contracts first appear.
    pub fn per_contract<'a, T: Billable + 'a>(
        items: impl IntoIterator<Item = &'a T>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<(String, Totals)> {
        let mut out: Vec<(String, Totals)> = Vec::new();
        for item in items {
            let secs = secs_within(item.start(), item.end(), from, to);
            if secs <= 0 {
                continue;
            }
            let at = match out.iter().position(|(id, _)| id == item.contract_id()) {
                Some(at) => at,
                None => {
                    out.push((item.contract_id().to_owned(), Totals::default()));
                    out.len() - 1
                }
            };
            out[at].1.add(secs, item.is_manual(), item.review());
        }
        out
    }
}

/// Seconds of `[start, end)` inside `[from, to)`.
pub fn secs_within(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> i64 {
    (end.min(to) - start.max(from)).num_seconds().max(0)
}

/// What `billable_secs` of time comes to at `cents_per_hour`, in cents,
/// rounded half up (integers only: no float ever touches money).
pub fn amount_cents(billable_secs: i64, cents_per_hour: i64) -> i64 {
    let product = i128::from(billable_secs) * i128::from(cents_per_hour);
    let rounded = (product + 1800).div_euclid(3600);
    rounded.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// B2: the width of a drawn cell for a server grid of `grid_secs`: the
/// grid when it is at least ten minutes and divides an hour, else ten
/// minutes (a finer grid draws several segments in one cell).
pub fn cell_secs(grid_secs: i64) -> i64 {
    if (600..=3600).contains(&grid_secs) && 3600 % grid_secs == 0 {
        grid_secs
    } else {
        600
    }
}

/// One hour row of a day as drawn: its first instant and its cells, each
/// listing the items (by index) that start in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourRow {
    pub start: DateTime<Utc>,
    pub cells: Vec<Vec<usize>>,
}

impl HourRow {
    /// The span of cell `k` of this row, `cell_secs` wide.
    pub fn cell_span(&self, k: usize, cell_secs: i64) -> (DateTime<Utc>, DateTime<Utc>) {
        let from = self.start + Duration::seconds(k as i64 * cell_secs);
        (from, from + Duration::seconds(cell_secs))
    }
}

/// B2: the day's hour rows (23, 24 or 25 of them) with `cell_secs`-wide
/// cells, and each of `items` placed in the cell where it starts on this
/// day (an item that began the day before is placed at the day's first
/// cell). Every item that overlaps the day is in exactly one cell, so none
/// is hidden behind another; items that do not overlap the day are left
/// out.
pub fn lay_out_day<T: Billable>(day: LocalDay, items: &[T], cell_secs: i64) -> Vec<HourRow> {
    let cell_secs = cell_secs.clamp(1, 3600);
    let per_row = (3600 / cell_secs).max(1) as usize;
    let mut rows: Vec<HourRow> = day
        .hour_starts()
        .into_iter()
        .map(|start| HourRow {
            start,
            cells: vec![Vec::new(); per_row],
        })
        .collect();
    if rows.is_empty() {
        return rows;
    }
    let (day_start, day_end) = (day.start(), day.end());
    for (i, item) in items.iter().enumerate() {
        if item.start() >= day_end || item.end() <= day_start {
            continue;
        }
        let offset = (item.start().max(day_start) - day_start)
            .num_seconds()
            .max(0);
        let row = ((offset / 3600) as usize).min(rows.len() - 1);
        let into_row = (item.start().max(day_start) - rows[row].start)
            .num_seconds()
            .max(0);
        let cell = ((into_row / cell_secs) as usize).min(per_row - 1);
        rows[row].cells[cell].push(i);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    struct Piece {
        contract: &'static str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        manual: bool,
        review: ReviewMark,
    }

    impl Billable for Piece {
        fn contract_id(&self) -> &str {
            self.contract
        }
        fn start(&self) -> DateTime<Utc> {
            self.start
        }
        fn end(&self) -> DateTime<Utc> {
            self.end
        }
        fn is_manual(&self) -> bool {
            self.manual
        }
        fn review(&self) -> ReviewMark {
            self.review
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn piece(
        contract: &'static str,
        start: &str,
        secs: i64,
        manual: bool,
        review: ReviewMark,
    ) -> Piece {
        let start = at(start);
        Piece {
            contract,
            start,
            end: start + Duration::seconds(secs),
            manual,
            review,
        }
    }

    // B1: billable = tracked + manual − rejected; disputed time is billed
    // until decided; kept time is billed and not disputed.
    #[test]
    fn billable_is_tracked_plus_manual_minus_rejected() {
        let items = [
            piece("c", "2026-11-25T09:00:00Z", 600, false, ReviewMark::None),
            piece(
                "c",
                "2026-11-25T09:10:00Z",
                300,
                false,
                ReviewMark::Disputed,
            ),
            piece(
                "c",
                "2026-11-25T09:20:00Z",
                200,
                false,
                ReviewMark::Rejected,
            ),
            piece("c", "2026-11-25T09:30:00Z", 100, false, ReviewMark::Kept),
            piece("c", "2026-11-25T10:00:00Z", 3600, true, ReviewMark::None),
            piece("c", "2026-11-25T11:00:00Z", 60, true, ReviewMark::Rejected),
        ];
        let t = Totals::of(
            &items,
            at("2026-11-25T00:00:00Z"),
            at("2026-11-26T00:00:00Z"),
        );
        assert_eq!(
            t,
            Totals {
                tracked_secs: 1200,
                manual_secs: 3660,
                disputed_secs: 300,
                rejected_secs: 260,
                billable_secs: 1200 + 3660 - 260,
            }
        );
        assert_eq!(t.worked_secs(), 4860);
    }

    #[test]
    fn totals_are_clipped_to_the_span_and_kept_per_contract() {
        let items = [
            piece("b", "2026-11-24T23:55:00Z", 600, false, ReviewMark::None),
            piece("a", "2026-11-25T09:00:00Z", 600, false, ReviewMark::None),
            piece("b", "2026-11-25T23:58:00Z", 600, true, ReviewMark::None),
        ];
        let (from, to) = (at("2026-11-25T00:00:00Z"), at("2026-11-26T00:00:00Z"));
        let each = Totals::per_contract(&items, from, to);
        assert_eq!(each.len(), 2);
        assert_eq!(each[0].0, "b");
        assert_eq!((each[0].1.tracked_secs, each[0].1.manual_secs), (300, 120));
        assert_eq!((each[1].0.as_str(), each[1].1.billable_secs), ("a", 600));
        assert_eq!(Totals::of(&items, from, to).billable_secs, 1020);
    }

    #[test]
    fn amounts_are_exact_cents() {
        assert_eq!(amount_cents(3600, 5000), 5000);
        assert_eq!(amount_cents(5400, 4550), 6825);
        // 1 s at 50.00/h is 1.39 cents: rounds to 1.
        assert_eq!(amount_cents(1, 5000), 1);
        assert_eq!(amount_cents(0, 5000), 0);
        assert_eq!(amount_cents(i64::MAX, i64::MAX), i64::MAX);
    }

    #[test]
    fn cells_follow_the_grid_where_it_divides_an_hour() {
        assert_eq!(cell_secs(600), 600);
        assert_eq!(cell_secs(900), 900);
        assert_eq!(cell_secs(3600), 3600);
        assert_eq!(cell_secs(10), 600);
        assert_eq!(cell_secs(700), 600);
        assert_eq!(cell_secs(7200), 600);
    }

    // B2: four segments in one ten-minute cell are all in that cell; a stop
    // and restart within ten minutes too; the day before's tail opens the
    // day.
    #[test]
    fn every_segment_of_the_day_is_in_one_cell() {
        let day = LocalDay::new("2026-11-25".parse().unwrap(), chrono_tz::Europe::Berlin);
        let items = [
            piece("c", "2026-11-25T08:00:00Z", 30, false, ReviewMark::None),
            piece("c", "2026-11-25T08:00:40Z", 30, false, ReviewMark::None),
            piece("c", "2026-11-25T08:01:20Z", 30, false, ReviewMark::None),
            piece("c", "2026-11-25T08:09:59Z", 1, false, ReviewMark::None),
            piece("c", "2026-11-24T22:55:00Z", 600, false, ReviewMark::None),
            piece("c", "2026-11-26T09:00:00Z", 600, false, ReviewMark::None),
        ];
        let rows = lay_out_day(day, &items, 600);
        assert_eq!(rows.len(), 24);
        // 08:00 UTC is 09:00 in Berlin: row 9, first cell.
        assert_eq!(rows[9].cells[0], vec![0, 1, 2, 3]);
        assert_eq!(rows[0].cells[0], vec![4]);
        let placed: usize = rows.iter().flat_map(|r| &r.cells).map(Vec::len).sum();
        assert_eq!(placed, 5, "the next day's segment is not on this day");
    }

    proptest! {
        // B1: totals from a database's sums and the marked items are the
        // totals of every item, clipped to any span.
        #[test]
        fn totals_from_sums_are_the_totals_of_the_items(
            pieces in prop::collection::vec((0i64..(3 * 86_400), 1i64..7200, any::<bool>(), 0usize..4), 0..40),
            from in 0i64..86_400,
            len in 0i64..(2 * 86_400),
        ) {
            let base = at("2026-11-23T00:00:00Z");
            let marks = [ReviewMark::None, ReviewMark::Disputed, ReviewMark::Kept, ReviewMark::Rejected];
            let items: Vec<Piece> = pieces
                .iter()
                .map(|&(start, secs, manual, mark)| {
                    let start = base + Duration::seconds(start);
                    Piece { contract: "c", start, end: start + Duration::seconds(secs), manual, review: marks[mark] }
                })
                .collect();
            let (from, to) = (base + Duration::seconds(from), base + Duration::seconds(from + len));
            let sum = |manual: bool| -> i64 {
                items.iter().filter(|i| i.manual == manual).map(|i| secs_within(i.start, i.end, from, to)).sum()
            };
            let marked = items.iter().filter(|i| !i.review.is_none());
            prop_assert_eq!(
                Totals::of_sums(sum(false), sum(true), marked, from, to),
                Totals::of(&items, from, to)
            );
        }

        // B2 for any items on any day in zones with odd offsets and DST:
        // each item overlapping the day is placed exactly once, in a cell
        // whose span holds its (clipped) start.
        #[test]
        fn each_item_of_the_day_is_placed_once_where_it_starts(
            starts in prop::collection::vec(0i64..(3 * 86_400), 0..40),
            zone in prop::sample::select(vec![
                chrono_tz::UTC,
                chrono_tz::Europe::Berlin,
                chrono_tz::Asia::Kathmandu,
                chrono_tz::Australia::Lord_Howe,
                chrono_tz::America::New_York,
            ]),
            cell in prop::sample::select(vec![600i64, 900, 3600, 10]),
            date_offset in 0i64..400,
        ) {
            let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(date_offset);
            let day = LocalDay::new(date, zone);
            let base = day.start() - Duration::days(1);
            let items: Vec<Piece> = starts
                .iter()
                .map(|s| {
                    let start = base + Duration::seconds(*s);
                    Piece { contract: "c", start, end: start + Duration::seconds(300), manual: false, review: ReviewMark::None }
                })
                .collect();
            let cell_secs = cell_secs(cell);
            let rows = lay_out_day(day, &items, cell_secs);
            let mut seen = vec![0usize; items.len()];
            for row in &rows {
                for (k, cell) in row.cells.iter().enumerate() {
                    for &i in cell {
                        seen[i] += 1;
                        let (from, to) = row.cell_span(k, cell_secs);
                        let t = items[i].start.max(day.start());
                        prop_assert!(from <= t && t < to, "{t} outside {from}–{to}");
                    }
                }
            }
            for (i, item) in items.iter().enumerate() {
                let on_day = item.start < day.end() && item.end > day.start();
                prop_assert_eq!(seen[i], usize::from(on_day));
            }
        }
    }
}
