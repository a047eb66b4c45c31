//! The segment grid (S1): tracked time is cut on multiples of `segment_secs`
//! counted from the Unix epoch, so 10-minute segments start at :00, :10, :20 …
//! UTC. The first and last pieces of a session may be partial.

use chrono::{DateTime, Duration, Utc};

/// The default segment length, in seconds, until the server says otherwise.
pub const DEFAULT_SEGMENT_SECS: i64 = 600;

/// Number of activity sub-slots in one segment (S2).
pub const SUB_SLOTS: usize = 10;

/// The grid for one segment length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentGrid {
    secs: i64,
}

impl Default for SegmentGrid {
    fn default() -> Self {
        SegmentGrid {
            secs: DEFAULT_SEGMENT_SECS,
        }
    }
}

impl SegmentGrid {
    /// A grid of `secs`-second cells. Lengths below 10 s (one second per
    /// sub-slot) are refused.
    pub fn new(secs: i64) -> Option<Self> {
        (secs >= SUB_SLOTS as i64).then_some(SegmentGrid { secs })
    }

    pub fn secs(self) -> i64 {
        self.secs
    }

    /// The start of the cell containing `t`; the first instant a `DateTime`
    /// can hold for a cell that would start before it.
    pub fn cell_start(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let s = t.timestamp();
        let start = s - s.rem_euclid(self.secs);
        DateTime::from_timestamp(start, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The end (exclusive) of the cell containing `t`; the last instant a
    /// `DateTime` can hold for a cell that would end after it.
    pub fn cell_end(self, t: DateTime<Utc>) -> DateTime<Utc> {
        Duration::try_seconds(self.secs)
            .and_then(|len| self.cell_start(t).checked_add_signed(len))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Cuts `[start, end)` into pieces that each lie inside one cell.
    pub fn cut(
        self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut pieces = Vec::new();
        let mut from = start;
        while from < end {
            let to = self.cell_end(from).min(end);
            pieces.push((from, to));
            from = to;
        }
        pieces
    }

    /// The activity sub-slot (0..10) that `t` falls in within its cell.
    pub fn sub_slot(self, t: DateTime<Utc>) -> usize {
        let into = (t - self.cell_start(t)).num_milliseconds();
        let slot_ms = self.secs.saturating_mul(1000) / SUB_SLOTS as i64;
        ((into / slot_ms).max(0) as usize).min(SUB_SLOTS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn ten_minute_cells_start_on_the_tens() {
        let grid = SegmentGrid::default();
        assert_eq!(
            grid.cell_start(at("2026-11-25T09:17:31Z")),
            at("2026-11-25T09:10:00Z")
        );
        assert_eq!(
            grid.cell_end(at("2026-11-25T09:17:31Z")),
            at("2026-11-25T09:20:00Z")
        );
        assert_eq!(
            grid.cell_start(at("2026-11-25T09:20:00Z")),
            at("2026-11-25T09:20:00Z")
        );
    }

    #[test]
    fn session_is_cut_with_partial_ends() {
        let grid = SegmentGrid::default();
        let pieces = grid.cut(at("2026-11-25T09:17:00Z"), at("2026-11-25T09:43:00Z"));
        assert_eq!(
            pieces,
            vec![
                (at("2026-11-25T09:17:00Z"), at("2026-11-25T09:20:00Z")),
                (at("2026-11-25T09:20:00Z"), at("2026-11-25T09:30:00Z")),
                (at("2026-11-25T09:30:00Z"), at("2026-11-25T09:40:00Z")),
                (at("2026-11-25T09:40:00Z"), at("2026-11-25T09:43:00Z")),
            ]
        );
    }

    #[test]
    fn tiny_grids_are_refused() {
        assert!(SegmentGrid::new(9).is_none());
        assert!(SegmentGrid::new(0).is_none());
        assert!(SegmentGrid::new(-600).is_none());
        assert_eq!(SegmentGrid::new(60).unwrap().secs(), 60);
    }

    #[test]
    fn sub_slots_split_the_cell_in_ten() {
        let grid = SegmentGrid::default();
        assert_eq!(grid.sub_slot(at("2026-11-25T09:10:00Z")), 0);
        assert_eq!(grid.sub_slot(at("2026-11-25T09:10:59Z")), 0);
        assert_eq!(grid.sub_slot(at("2026-11-25T09:11:00Z")), 1);
        assert_eq!(grid.sub_slot(at("2026-11-25T09:19:59Z")), 9);
    }

    proptest! {
        // S1: pieces tile the interval exactly, each inside one aligned cell,
        // only the first and last may be partial.
        #[test]
        fn cut_tiles_the_interval(
            start in 0i64..4_000_000_000,
            len in 0i64..200_000,
            secs in prop::sample::select(vec![10i64, 60, 300, 600, 900, 3600]),
        ) {
            let grid = SegmentGrid::new(secs).unwrap();
            let s = DateTime::from_timestamp(start, 0).unwrap();
            let e = s + Duration::seconds(len);
            let pieces = grid.cut(s, e);
            let total: i64 = pieces.iter().map(|(a, b)| (*b - *a).num_seconds()).sum();
            prop_assert_eq!(total, len);
            for (i, (a, b)) in pieces.iter().enumerate() {
                prop_assert!(a < b);
                prop_assert_eq!(grid.cell_start(*a), grid.cell_start(*b - Duration::seconds(1)));
                if i > 0 {
                    prop_assert_eq!(pieces[i - 1].1, *a);
                    prop_assert_eq!(a.timestamp() % secs, 0);
                }
                if i + 1 < pieces.len() {
                    prop_assert_eq!(b.timestamp() % secs, 0);
                }
            }
            if let (Some(first), Some(last)) = (pieces.first(), pieces.last()) {
                prop_assert_eq!(first.0, s);
                prop_assert_eq!(last.1, e);
            }
        }

        // At any instant a `DateTime` can hold and with any grid the server
        // may send, nothing panics and cutting still ends.
        #[test]
        fn the_grid_is_total_over_the_whole_range(
            secs in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            edge in 0i64..5000,
            grid_secs in prop_oneof![10i64..100_000, Just(i64::MAX)],
        ) {
            let grid = SegmentGrid::new(grid_secs).unwrap();
            let near_min = DateTime::<Utc>::MIN_UTC.timestamp() + edge;
            let near_max = DateTime::<Utc>::MAX_UTC.timestamp() - edge;
            for s in [secs, near_min, near_max] {
                let t = DateTime::from_timestamp(s, 0).unwrap();
                prop_assert!(grid.cell_start(t) <= t && t < grid.cell_end(t) || t == DateTime::<Utc>::MAX_UTC);
                prop_assert!(grid.sub_slot(t) < SUB_SLOTS);
                let end = t.checked_add_signed(Duration::seconds(edge)).unwrap_or(DateTime::<Utc>::MAX_UTC);
                let total: i64 = grid.cut(t, end).iter().map(|(a, b)| (*b - *a).num_seconds()).sum();
                prop_assert_eq!(total, (end - t).num_seconds());
            }
        }
    }
}
