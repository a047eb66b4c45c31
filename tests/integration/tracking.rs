//! The tracker driven through simulated weeks with a passed-in clock: grid
//! cutting (S1), weekly limits (W2, W3), cache capacity (K2), contract changes
//! while tracking (C3, C5), and a cache that cannot be written.

use crate::common;

use std::collections::HashMap;

use chrono::Duration;
use common::*;
use timecard_client::activity::ActivitySource;
use timecard_client::capture::{CaptureError, Captured, ScreenSource};
use timecard_client::worker::{ContractList, StopReason, Tracker};
use timecard_core::domain::{BillingWeek, ContractStatus, PendingLimit, SegmentGrid};

fn cached(
    tracker: &Tracker,
) -> Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    tracker
        .cache()
        .pending()
        .map(|e| (e.start, e.end))
        .collect()
}

/// Every cached segment lies in one grid cell and they follow each other.
fn assert_on_grid(tracker: &Tracker) {
    let grid = SegmentGrid::default();
    for (start, end) in cached(tracker) {
        assert!(start < end);
        assert_eq!(
            grid.cell_start(start),
            grid.cell_start(end - Duration::seconds(1)),
            "{start}–{end} crosses a cell"
        );
    }
}

// W2: tracking all week with uneven ticks stops exactly at the limit, not a
// second over, and cannot start again until the next billing week.
#[test]
fn weekly_limit_is_hit_exactly_with_any_tick_pattern() {
    for seed in 0..20u64 {
        let dir = tempfile::tempdir().unwrap();
        // A cache big enough for the week: this test is about the limit.
        let mut t = tracker_in(dir.path(), 7 * 24 * 3600);
        let monday = at("2026-11-23T00:00:00Z");
        t.set_contracts(list(vec![hourly("c1", Some(40))]), monday);
        let mut now = monday + Duration::seconds(8 * 3600 + 17);
        t.start("c1", now).unwrap();
        let mut rng = fastrand::Rng::with_seed(seed);
        while now < monday + Duration::days(7) {
            now += Duration::seconds(rng.i64(1..4 * 3600));
            t.tick(now);
            if !t.is_tracking() {
                break;
            }
        }
        assert!(!t.is_tracking(), "seed {seed}: still tracking after a week");
        let total: i64 = cached(&t)
            .iter()
            .map(|(s, e)| (*e - *s).num_seconds())
            .sum();
        assert_eq!(total, 40 * 3600, "seed {seed}");
        assert_on_grid(&t);
        let snapshot = t.snapshot(now);
        assert!(matches!(
            snapshot.stopped,
            Some((when, StopReason::WeeklyLimit { limit_secs, .. }))
                if limit_secs == 40 * 3600 && when == monday + Duration::seconds(8 * 3600 + 17 + 40 * 3600)
        ));
        assert_eq!(snapshot.contract("c1").unwrap().week_logged_secs, 40 * 3600);
        // No start while at the limit…
        let later = now.min(monday + Duration::days(7) - Duration::seconds(1));
        assert!(matches!(
            t.start("c1", later),
            Err(StopReason::WeeklyLimit { .. })
        ));
        // …but the next billing week starts fresh.
        t.start("c1", monday + Duration::days(7)).unwrap();
    }
}

// W2 with time the server already holds: only the rest may be tracked.
#[test]
fn limit_counts_uploaded_time_of_this_week() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let now = at("2026-11-25T09:00:00Z");
    t.set_contracts(
        ContractList {
            contracts: vec![hourly("c1", Some(10))],
            week: Some(BillingWeek::containing(now)),
            server_week_secs: HashMap::from([("c1".to_owned(), 9 * 3600 + 1800)]),
            ..ContractList::default()
        },
        now,
    );
    t.start("c1", now).unwrap();
    t.tick(now + Duration::hours(5));
    assert!(!t.is_tracking());
    assert_eq!(t.cache().pending_secs(), 1800);
}

// W3: a decrease waits for the next billing week; this week the old limit holds.
#[test]
fn pending_decrease_applies_next_week() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let monday = at("2026-11-23T00:00:00Z");
    let mut c = hourly("c1", Some(10));
    c.pending_limit = Some(PendingLimit {
        limit_secs: Some(2 * 3600),
        effective_at: monday + Duration::days(7),
    });
    t.set_contracts(list(vec![c]), monday);
    let snapshot = t.snapshot(monday);
    assert_eq!(
        snapshot
            .contract("c1")
            .unwrap()
            .pending_limit_note
            .as_deref(),
        Some("limit becomes 2 h on Mon 30 Nov 00:00 UTC")
    );
    t.start("c1", monday).unwrap();
    t.tick(monday + Duration::hours(12));
    assert_eq!(t.cache().pending_secs(), 10 * 3600);
    let next = monday + Duration::days(7);
    // The worker wakes at the moment itself, and says it in the past.
    assert_eq!(t.next_wakeup(next - Duration::minutes(1)), next);
    assert_eq!(
        t.snapshot(next)
            .contract("c1")
            .unwrap()
            .pending_limit_note
            .as_deref(),
        Some("limit 2 h since Mon 30 Nov 00:00 UTC")
    );
    t.start("c1", next).unwrap();
    t.tick(next + Duration::hours(12));
    assert_eq!(t.cache().pending_secs(), 12 * 3600);
}

// K2: a full cache stops tracking exactly at capacity, with the reason in
// the snapshot, and no contract can start until uploads free space.
#[test]
fn full_cache_stops_tracking_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker_in(dir.path(), 2 * 3600);
    let now = at("2026-11-25T09:03:00Z");
    t.set_contracts(list(vec![hourly("c1", None), hourly("c2", None)]), now);
    t.start("c1", now).unwrap();
    let later = now + Duration::hours(5);
    t.tick(later);
    assert!(!t.is_tracking());
    assert_eq!(t.cache().pending_secs(), 2 * 3600);
    let snapshot = t.snapshot(later);
    assert!(snapshot.cache.full);
    let (when, reason) = snapshot.stopped.clone().unwrap();
    assert_eq!(when, now + Duration::hours(2));
    assert_eq!(
        reason,
        StopReason::CacheFull {
            capacity_secs: 2 * 3600
        }
    );
    assert!(reason.to_string().contains("cache is full"), "{reason}");
    assert!(matches!(
        t.start("c2", later),
        Err(StopReason::CacheFull { .. })
    ));

    // An upload frees space: tracking may start again.
    let oldest = t.cache().pending().next().unwrap().id;
    t.cache_mut().remove(oldest).unwrap();
    t.start("c2", later).unwrap();
}

// S1: a session is cut on the 10-minute grid with partial first and last pieces.
#[test]
fn session_is_cut_on_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let start = at("2026-11-25T09:17:00Z");
    t.set_contracts(list(vec![hourly("c1", None)]), start);
    t.start("c1", start).unwrap();
    t.set_memo("API work".into());
    t.stop(at("2026-11-25T09:43:30Z"));
    assert_eq!(
        cached(&t),
        vec![
            (at("2026-11-25T09:17:00Z"), at("2026-11-25T09:20:00Z")),
            (at("2026-11-25T09:20:00Z"), at("2026-11-25T09:30:00Z")),
            (at("2026-11-25T09:30:00Z"), at("2026-11-25T09:40:00Z")),
            (at("2026-11-25T09:40:00Z"), at("2026-11-25T09:43:30Z")),
        ]
    );
    let first = t.cache().pending().next().unwrap().id;
    let segment = t.cache().load(first).unwrap();
    assert_eq!(segment.memo, "API work");
    assert_eq!(segment.device_id, "test-device");
}

// Switching contract cuts the segment at the switch.
#[test]
fn switching_contract_cuts_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let start = at("2026-11-25T09:00:00Z");
    t.set_contracts(list(vec![hourly("a", None), hourly("b", None)]), start);
    t.start("a", start).unwrap();
    t.start("b", at("2026-11-25T09:04:00Z")).unwrap();
    t.stop(at("2026-11-25T09:06:00Z"));
    let entries: Vec<_> = t
        .cache()
        .pending()
        .map(|e| (e.contract_id.clone(), e.duration_secs()))
        .collect();
    assert_eq!(entries, vec![("a".to_owned(), 240), ("b".to_owned(), 120)]);
}

// C5: the tracked contract is paused on the server: tracking stops at once,
// the time so far is kept, the reason is given.
#[test]
fn paused_contract_stops_tracking_and_keeps_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let start = at("2026-11-25T09:00:00Z");
    t.set_contracts(list(vec![hourly("c1", None)]), start);
    t.start("c1", start).unwrap();
    let mut paused = hourly("c1", None);
    paused.status = ContractStatus::Paused;
    let when = at("2026-11-25T09:25:00Z");
    t.set_contracts(list(vec![paused]), when);
    assert!(!t.is_tracking());
    assert_eq!(t.cache().pending_secs(), 25 * 60);
    let snapshot = t.snapshot(when);
    let (_, reason) = snapshot.stopped.clone().unwrap();
    assert!(reason.to_string().contains("paused"), "{reason}");
    let view = snapshot.contract("c1").unwrap();
    assert!(!view.trackable);
    assert_eq!(view.reason_code.as_deref(), Some("paused"));
}

// C3: a contract starting on 1 Dec becomes trackable at 00:00 UTC without a refresh.
#[test]
fn future_contract_opens_at_utc_midnight() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let mut c = hourly("c1", None);
    c.start_date = date("2026-12-01");
    let before = at("2026-11-30T23:59:59Z");
    t.set_contracts(list(vec![c]), before);
    assert_eq!(t.next_wakeup(before), at("2026-12-01T00:00:00Z"));
    let view = t.snapshot(before).contract("c1").unwrap().clone();
    assert!(!view.trackable);
    assert_eq!(
        view.reason.as_deref(),
        Some("starts 1 Dec 00:00 UTC (1 Dec 00:00 your time)")
    );
    assert!(matches!(
        t.start("c1", before),
        Err(StopReason::NotTrackable { .. })
    ));
    t.start("c1", at("2026-12-01T00:00:00Z")).unwrap();
}

struct FakeScreen(usize);
impl ScreenSource for FakeScreen {
    fn capture(&mut self) -> Result<Option<Captured>, CaptureError> {
        self.0 += 1;
        if self.0.is_multiple_of(2) {
            return Err(CaptureError::NoDisplay("DISPLAY is not set".into()));
        }
        Ok(Some(Captured {
            jpeg: vec![0xff, 0xd8, 0xff],
            thumbnail: vec![1],
            width: 1,
            height: 1,
        }))
    }
}

struct AlwaysBusy;
impl ActivitySource for AlwaysBusy {
    fn last_input(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        Some(now)
    }
}

// S2, P2: one screenshot per segment at a moment inside it; a failed capture
// is recorded as "capture unavailable" and tracking goes on.
#[test]
fn each_full_segment_gets_one_screenshot_or_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, _) = timecard_client::cache::Cache::open(dir.path(), 24 * 3600).unwrap();
    let mut config = timecard_client::worker::TrackerConfig::new("dev");
    config.seed = 3;
    let mut t = Tracker::new(config, cache, Box::new(FakeScreen(0)), Box::new(AlwaysBusy));
    let start = at("2026-11-25T09:00:00Z");
    t.set_contracts(list(vec![hourly("c1", None)]), start);
    t.start("c1", start).unwrap();
    let mut now = start;
    while now < start + Duration::hours(1) {
        now += Duration::seconds(15);
        t.tick(now);
    }
    t.stop(now);
    let ids: Vec<_> = t.cache().pending().map(|e| e.id).collect();
    assert_eq!(ids.len(), 6);
    for id in ids {
        let s = t.cache().load(id).unwrap();
        match (&s.screenshot, &s.capture_note) {
            (Some(shot), None) => assert!(s.start <= shot.taken_at && shot.taken_at < s.end),
            (None, Some(note)) => assert!(note.starts_with("capture unavailable"), "{note}"),
            other => panic!("segment {id} has {other:?}"),
        }
        assert!(
            s.activity.level() > 0,
            "input every 15 s must mark sub-slots"
        );
    }
}

// A cache that cannot be written (here: its folder replaced by a file, as a
// full disk would fail the write) keeps the time in memory, says so, and
// saves it when writing works again. Nothing is lost.
#[test]
fn unwritable_cache_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let start = at("2026-11-25T09:00:00Z");
    t.set_contracts(list(vec![hourly("c1", None)]), start);
    t.start("c1", start).unwrap();
    let pending = dir.path().join("pending");
    std::fs::remove_dir(&pending).unwrap();
    std::fs::write(&pending, b"in the way").unwrap();
    t.tick(at("2026-11-25T09:35:00Z"));
    let snapshot = t.snapshot(at("2026-11-25T09:35:00Z"));
    assert_eq!(snapshot.cache.unsaved_segments, 3);
    assert!(
        snapshot
            .last_error
            .as_deref()
            .unwrap()
            .contains("kept in memory")
    );
    std::fs::remove_file(&pending).unwrap();
    std::fs::create_dir(&pending).unwrap();
    t.stop(at("2026-11-25T09:36:00Z"));
    let snapshot = t.snapshot(at("2026-11-25T09:36:00Z"));
    assert_eq!(snapshot.cache.unsaved_segments, 0);
    assert_eq!(snapshot.last_error, None);
    assert_eq!(t.cache().pending_secs(), 36 * 60);
}

// K6: cached time of a week about to lock is flagged 24 h and 1 h before.
#[test]
fn lock_deadline_of_cached_time_is_reported() {
    use timecard_client::worker::LockRisk;
    let dir = tempfile::tempdir().unwrap();
    let mut t = tracker(dir.path());
    let start = at("2026-11-29T10:00:00Z"); // Sunday
    t.set_contracts(list(vec![hourly("c1", None)]), start);
    t.start("c1", start).unwrap();
    t.stop(start + Duration::minutes(10));
    let snapshot = t.snapshot(start);
    assert_eq!(snapshot.lock_deadline, Some(at("2026-11-30T00:00:00Z")));
    assert_eq!(snapshot.lock_risk(at("2026-11-28T23:00:00Z")), None);
    assert_eq!(
        snapshot.lock_risk(at("2026-11-29T10:30:00Z")),
        Some(LockRisk::Day)
    );
    assert_eq!(
        snapshot.lock_risk(at("2026-11-29T23:30:00Z")),
        Some(LockRisk::Hour)
    );
    assert_eq!(
        snapshot.lock_risk(at("2026-11-30T00:00:00Z")),
        Some(LockRisk::Locked)
    );
}

/// Input at the given instants, as a fake activity source.
struct Inputs(std::sync::Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>);
impl ActivitySource for Inputs {
    fn last_input(
        &mut self,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        *self.0.lock().unwrap()
    }
}

fn idle_tracker(
    dir: &std::path::Path,
) -> (
    Tracker,
    std::sync::Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>,
) {
    let last = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (cache, _) = timecard_client::cache::Cache::open(dir, 24 * 3600).unwrap();
    let mut config = timecard_client::worker::TrackerConfig::new("dev");
    config.seed = 5;
    let t = Tracker::new(
        config,
        cache,
        Box::new(timecard_client::capture::NoScreenshots),
        Box::new(Inputs(last.clone())),
    );
    (t, last)
}

/// Ticks every 30 s from `from` to `to`, with input at each tick when `busy`.
fn run(
    t: &mut Tracker,
    last: &std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    from: &str,
    to: &str,
    busy: bool,
) {
    let (mut now, end) = (at(from), at(to));
    while now < end {
        now += Duration::seconds(30);
        if busy {
            *last.lock().unwrap() = Some(now);
        }
        t.tick(now);
    }
}

// S5: a long idle period asks keep or discard; discard cuts exactly the idle
// time out of the segments, and those segments were held back from upload.
#[test]
fn idle_time_discarded_is_cut_out_of_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut t, last) = idle_tracker(dir.path());
    t.set_contracts(list(vec![hourly("c1", None)]), at("2026-11-25T09:00:00Z"));
    *last.lock().unwrap() = Some(at("2026-11-25T09:00:00Z"));
    t.start("c1", at("2026-11-25T09:00:00Z")).unwrap();
    run(
        &mut t,
        &last,
        "2026-11-25T09:00:00Z",
        "2026-11-25T09:15:00Z",
        true,
    );
    // Away from 09:15 to 09:47.
    run(
        &mut t,
        &last,
        "2026-11-25T09:15:00Z",
        "2026-11-25T09:47:00Z",
        false,
    );
    let idle = t.snapshot(at("2026-11-25T09:47:00Z")).idle.unwrap();
    assert_eq!(idle.since, at("2026-11-25T09:15:00Z"));
    assert_eq!(idle.returned, None);
    assert_eq!(
        t.upload_horizon(),
        Some(at("2026-11-25T09:15:00Z")),
        "idle segments are held back"
    );
    run(
        &mut t,
        &last,
        "2026-11-25T09:47:00Z",
        "2026-11-25T09:50:00Z",
        true,
    );
    let idle = t.snapshot(at("2026-11-25T09:50:00Z")).idle.unwrap();
    assert_eq!(idle.returned, Some(at("2026-11-25T09:47:30Z")));

    t.resolve_idle(false, at("2026-11-25T09:50:00Z"));
    assert!(t.is_tracking(), "tracking goes on after the answer");
    run(
        &mut t,
        &last,
        "2026-11-25T09:50:00Z",
        "2026-11-25T10:00:00Z",
        true,
    );
    t.stop(at("2026-11-25T10:00:00Z"));
    let spans: Vec<_> = t.cache().pending().map(|e| (e.start, e.end)).collect();
    assert_eq!(
        spans,
        vec![
            (at("2026-11-25T09:00:00Z"), at("2026-11-25T09:10:00Z")),
            (at("2026-11-25T09:10:00Z"), at("2026-11-25T09:15:00Z")),
            (at("2026-11-25T09:47:30Z"), at("2026-11-25T09:50:00Z")),
            (at("2026-11-25T09:50:00Z"), at("2026-11-25T10:00:00Z")),
        ]
    );
    assert_eq!(t.cache().pending_secs(), 60 * 60 - (32 * 60 + 30));
    assert!(t.snapshot(at("2026-11-25T10:00:00Z")).idle.is_none());
}

// S5: keeping the idle time leaves every second in place.
#[test]
fn idle_time_kept_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (mut t, last) = idle_tracker(dir.path());
    t.set_contracts(list(vec![hourly("c1", None)]), at("2026-11-25T09:00:00Z"));
    *last.lock().unwrap() = Some(at("2026-11-25T09:00:00Z"));
    t.start("c1", at("2026-11-25T09:00:00Z")).unwrap();
    run(
        &mut t,
        &last,
        "2026-11-25T09:00:00Z",
        "2026-11-25T09:40:00Z",
        false,
    );
    run(
        &mut t,
        &last,
        "2026-11-25T09:40:00Z",
        "2026-11-25T09:41:00Z",
        true,
    );
    assert!(
        t.snapshot(at("2026-11-25T09:41:00Z"))
            .idle
            .unwrap()
            .returned
            .is_some()
    );
    t.resolve_idle(true, at("2026-11-25T09:41:00Z"));
    t.stop(at("2026-11-25T09:45:00Z"));
    assert_eq!(t.cache().pending_secs(), 45 * 60);
    assert_eq!(
        t.upload_horizon(),
        None,
        "nothing is held once stopped and answered"
    );
}
