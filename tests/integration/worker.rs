//! The worker thread with a manual clock: commands in, snapshots out, the
//! UI's waker called on change, and a week of tracking in milliseconds.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use chrono::Duration;
use common::*;
use timecard_client::worker::{Command, Snapshot, StopReason, Worker};
use timecard_core::clock::ManualClock;

const WAIT: StdDuration = StdDuration::from_secs(10);

/// Waits (with a deadline) for a snapshot that satisfies `ready`.
fn wait_for(worker: &Worker, ready: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let snapshot = worker.snapshots().wait_for(WAIT, &ready);
    assert!(ready(&snapshot), "timed out; last snapshot: {snapshot:#?}");
    snapshot
}

// W2 through the real worker thread: a whole billing week of simulated time,
// stopping exactly at the limit, with the UI woken on every change.
#[test]
fn worker_tracks_a_week_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_in(dir.path(), 7 * 24 * 3600);
    let monday = at("2026-11-23T00:00:00Z");
    let clock = ManualClock::new(monday);
    let worker = Worker::spawn(tracker, Arc::new(clock.clone()));
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = wakes.clone();
    worker.snapshots().set_waker(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });

    worker.send(Command::SetContracts(list(vec![hourly("c1", Some(30))])));
    worker.send(Command::Start {
        contract_id: "c1".into(),
    });
    let snapshot = wait_for(&worker, |s| s.tracking.is_some());
    assert_eq!(
        snapshot.tracking.as_ref().unwrap().contract_title,
        "Contract c1"
    );

    for _ in 0..(7 * 24) {
        clock.advance(Duration::hours(1));
        worker.send(Command::Tick);
        let before = worker.snapshot().generation;
        let s = worker
            .snapshots()
            .wait_newer(before, StdDuration::from_millis(100));
        if s.tracking.is_none() && s.stopped.is_some() {
            break;
        }
    }
    let snapshot = wait_for(&worker, |s| s.stopped.is_some());
    let (when, reason) = snapshot.stopped.clone().unwrap();
    assert_eq!(when, monday + Duration::hours(30));
    assert!(
        matches!(reason, StopReason::WeeklyLimit { limit_secs, .. } if limit_secs == 30 * 3600)
    );
    assert_eq!(snapshot.contract("c1").unwrap().week_logged_secs, 30 * 3600);
    assert!(
        wakes.load(Ordering::SeqCst) >= 2,
        "the UI must be woken on changes"
    );

    let tracker = worker.shutdown();
    assert_eq!(tracker.cache().pending_secs(), 30 * 3600);
}

// Shutdown (Ctrl-C in `timecard track`) caches the partial segment.
#[test]
fn shutdown_caches_the_partial_segment() {
    let dir = tempfile::tempdir().unwrap();
    let start = at("2026-11-25T09:03:00Z");
    let clock = ManualClock::new(start);
    let worker = Worker::spawn(tracker(dir.path()), Arc::new(clock.clone()));
    worker.send(Command::SetContracts(list(vec![hourly("c1", None)])));
    worker.send(Command::Start {
        contract_id: "c1".into(),
    });
    worker.send(Command::SetMemo("invoices".into()));
    wait_for(&worker, |s| {
        s.tracking.as_ref().is_some_and(|t| t.memo == "invoices")
    });
    clock.advance(Duration::seconds(200));
    let tracker = worker.shutdown();
    assert_eq!(tracker.cache().pending_secs(), 200);
    assert!(!tracker.is_tracking());
}

// A refused start leaves its reason in the snapshot, in plain words.
#[test]
fn refused_start_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at("2026-11-25T09:00:00Z"));
    let worker = Worker::spawn(tracker(dir.path()), Arc::new(clock));
    worker.send(Command::SetContracts(list(vec![hourly("c1", None)])));
    worker.send(Command::Start {
        contract_id: "nope".into(),
    });
    let snapshot = wait_for(&worker, |s| s.stopped.is_some());
    let (_, reason) = snapshot.stopped.clone().unwrap();
    assert!(
        reason.to_string().contains("no contract with id \"nope\""),
        "{reason}"
    );
}

/// Counts how often the tracker samples input.
struct CountingInput(Arc<AtomicUsize>);

impl timecard_client::activity::ActivitySource for CountingInput {
    fn last_input(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Some(now)
    }
}

// P3/S5: input is sampled every 15 s while tracking even when other threads
// send the worker something more often than that (a sync status every few
// seconds). Each command used to push the next sample 15 s further away, so
// idle time was noticed a minute late and activity went unsampled.
#[test]
fn input_is_sampled_on_time_while_commands_keep_arriving() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, _) = timecard_client::cache::Cache::open(dir.path(), 86400).unwrap();
    let samples = Arc::new(AtomicUsize::new(0));
    let tracker = timecard_client::worker::Tracker::new(
        timecard_client::worker::TrackerConfig::new("dev"),
        cache,
        Box::new(timecard_client::capture::NoScreenshots),
        Box::new(CountingInput(samples.clone())),
    );
    let clock = ManualClock::new(at("2026-11-25T09:00:01Z"));
    let worker = Worker::spawn(tracker, Arc::new(clock.clone()));
    worker.send(Command::SetContracts(list(vec![hourly("c1", None)])));
    worker.send(Command::Start {
        contract_id: "c1".into(),
    });
    wait_for(&worker, |s| s.tracking.is_some());
    let before = samples.load(Ordering::SeqCst);
    // Two minutes in steps of 5 s, each with a message that is not a tick.
    for i in 0..24 {
        clock.advance(Duration::seconds(5));
        let generation = worker.snapshot().generation;
        worker.send(Command::Notice(format!("status {i}")));
        worker.snapshots().wait_newer(generation, WAIT);
    }
    let sampled = samples.load(Ordering::SeqCst) - before;
    assert!(
        sampled >= 7,
        "two minutes of tracking sampled input {sampled} time(s); every 15 s is 8"
    );
}
