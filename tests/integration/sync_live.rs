//! The sync thread on the wall clock against the real TLS server, stopped
//! and restarted: an outage shows by itself, the upload resumes by itself
//! (item 8), and contract changes arrive without a Refresh (item 14). The
//! sync thread's timers run on `Instant`; the manual clock only dates what
//! is tracked.

use crate::common;

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use common::device::Device;
use common::server::TestServer;
use common::*;
use timecard_client::sync::{CHECK_EVERY, REFRESH_EVERY, SyncOptions, SyncState};
use timecard_client::worker::{Command, Snapshot};
use timecard_core::domain::ContractStatus;

/// Waits on the snapshots (no sleeping) until `ready` holds; returns how
/// long it took, or fails after `limit`.
fn within(
    device: &Device,
    limit: StdDuration,
    what: &str,
    ready: impl Fn(&Snapshot) -> bool,
) -> StdDuration {
    let started = Instant::now();
    let snapshot = device.worker.snapshots().wait_for(limit, &ready);
    assert!(
        ready(&snapshot),
        "{what}: not within {limit:?}; last snapshot: {snapshot:#?}"
    );
    started.elapsed()
}

// Item 8: with the app idle, an outage shows as offline within 30 s without
// anything being sent; once the server is back, cached time is uploaded
// within 30 s without *Upload now*, however long the backoff had grown.
#[test]
fn outage_shows_by_itself_and_the_upload_resumes_by_itself() {
    assert!(CHECK_EVERY <= StdDuration::from_secs(15));
    let now = at("2026-11-25T08:00:00Z");
    let mut server = TestServer::start(now);
    let device = Device::new(&server, "ann", "laptop", &[]);
    device.wait_for("online", |s| {
        !s.contracts.is_empty() && matches!(s.sync.state, SyncState::Online)
    });
    let sent_before = device.worker.snapshot().sync.uploaded_segments;

    server.stop();
    let offline_after = within(&device, StdDuration::from_secs(30), "offline", |s| {
        matches!(s.sync.state, SyncState::Caching { .. })
    });
    let snapshot = device.worker.snapshot();
    assert_eq!(snapshot.sync.uploaded_segments, sent_before);
    assert_eq!(snapshot.sync_code(), "caching");
    let summary = snapshot.sync_summary(server.clock_now(), chrono_tz::UTC);
    assert!(summary.starts_with("Offline since 08:00"), "{summary}");
    println!("offline shown {offline_after:?} after the server stopped");

    // Twenty minutes tracked while the server is down.
    device.start("ann-hourly");
    for _ in 0..2 {
        server.clock.advance(Duration::minutes(10));
        device.worker.send(Command::Tick);
    }
    device.worker.send(Command::Stop);
    device.wait_for("two cached segments", |s| {
        s.cache.pending_segments == 2 && s.tracking.is_none()
    });
    // Many failed tries make the backoff long (minutes); the diary load
    // after them answers once they have all been made.
    for _ in 0..12 {
        device.worker.send(Command::UploadNow { tell_user: false });
    }
    let (tx, diary) = std::sync::mpsc::channel();
    device.worker.send(Command::LoadDiary {
        date: now.date_naive(),
        tz: "UTC".into(),
        reply: timecard_client::sync::DiaryReply::new(move |update| {
            let _ = tx.send(update);
        }),
    });
    match diary.recv_timeout(StdDuration::from_secs(60)) {
        Ok(timecard_client::sync::DiaryUpdate::Day { result: Err(_), .. }) => {}
        other => panic!("the tries to fail: {other:?}"),
    }
    assert_eq!(device.worker.snapshot().cache.pending_segments, 2);

    server.restart();
    let uploaded_after = within(
        &device,
        StdDuration::from_secs(30),
        "upload after the restart",
        |s| s.cache.pending_segments == 0 && matches!(s.sync.state, SyncState::Online),
    );
    assert_eq!(
        device.worker.snapshot().sync.uploaded_segments,
        sent_before + 2
    );
    println!("uploaded {uploaded_after:?} after the server restarted");
}

// Item 14: a contract paused on the server shows as paused in the running
// app within the refresh period, without a Refresh; the period the app
// uses by default is at most a minute.
#[test]
fn a_paused_contract_arrives_without_refresh() {
    assert!(REFRESH_EVERY <= StdDuration::from_secs(60));
    assert_eq!(
        SyncOptions::new("pending".into()).refresh_every,
        REFRESH_EVERY
    );
    let now = at("2026-11-25T08:00:00Z");
    let server = TestServer::start(now);
    let period = StdDuration::from_secs(3);
    let device = Device::with_options(
        &server,
        Arc::new(server.client("ann")),
        "laptop",
        &[],
        |options| options.refresh_every = period,
    );
    device.wait_for("a trackable contract", |s| {
        s.contract("ann-hourly").is_some_and(|c| c.trackable)
    });

    let store = server.store();
    let mut stored = store.contract("ann-hourly").unwrap().unwrap();
    stored.contract.status = ContractStatus::Paused;
    stored.status_changed_at = Some(now);
    store.save_contract(&stored).unwrap();

    let shown_after = within(
        &device,
        period * 3,
        "the pause to show without Refresh",
        |s| {
            s.contract("ann-hourly")
                .is_some_and(|c| c.contract.status == ContractStatus::Paused && !c.trackable)
        },
    );
    println!("pause shown {shown_after:?} after the change (refresh every {period:?})");
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl ClockNow for TestServer {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use timecard_core::clock::Clock;
        self.clock.now()
    }
}
