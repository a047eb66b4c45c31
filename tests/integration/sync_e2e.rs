//! End to end over real TLS on loopback: the server in-process on port 0
//! with a temp folder, devices with their worker and sync threads.

use crate::common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::device::Device;
use common::server::TestServer;
use common::*;
use timecard_client::sync::SyncState;
use timecard_client::worker::Command;
use timecard_core::domain::{Activity, Segment, SegmentId};
use timecard_core::protocol::Outcome;

fn segment(contract: &str, device: &str, start: &str, secs: i64) -> Segment {
    let start: DateTime<Utc> = start.parse().unwrap();
    Segment {
        id: SegmentId::random(),
        contract_id: contract.into(),
        device_id: device.into(),
        start,
        end: start + Duration::seconds(secs),
        memo: "e2e".into(),
        activity: Activity(0b1111),
        screenshot: None,
        capture_note: None,
    }
}

fn week_logged(server: &TestServer, login: &str, contract: &str) -> i64 {
    let response = server.client(login).contracts("UTC").unwrap();
    response
        .contracts
        .iter()
        .find(|c| c.contract.id == contract)
        .unwrap()
        .week_logged_secs
}

// A tracked session reaches the server's diary; the app's totals follow.
#[test]
fn tracked_time_shows_up_in_the_diary() {
    let now = at("2026-11-25T09:03:00Z");
    let server = TestServer::start(now);
    let laptop = Device::new(&server, "ann", "laptop", &[]);
    laptop.wait_contracts();
    laptop.worker.send(Command::SetMemo("API".into()));
    laptop.start("ann-hourly");
    server.clock.advance(Duration::minutes(25));
    laptop.worker.send(Command::Stop);
    let snapshot = laptop.wait_drained(3);
    assert_eq!(
        snapshot.contract("ann-hourly").unwrap().week_logged_secs,
        25 * 60
    );
    assert_eq!(snapshot.today_secs.get("ann-hourly"), Some(&(25 * 60)));

    let diary = server
        .client("ann")
        .diary(Some(now.date_naive()), "UTC")
        .unwrap();
    let spans: Vec<_> = diary.segments.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(
        spans,
        vec![
            (at("2026-11-25T09:03:00Z"), at("2026-11-25T09:10:00Z")),
            (at("2026-11-25T09:10:00Z"), at("2026-11-25T09:20:00Z")),
            (at("2026-11-25T09:20:00Z"), at("2026-11-25T09:28:00Z")),
        ]
    );
    assert!(
        diary
            .segments
            .iter()
            .all(|s| s.memo == "API" && s.device_id == "laptop")
    );
    assert_eq!(diary.totals[0].secs, 25 * 60);
    assert_eq!(week_logged(&server, "ann", "ann-hourly"), 25 * 60);
}

// K7: re-uploading a segment is `duplicate`, counts as success and adds no time.
#[test]
fn reupload_is_duplicate_and_adds_no_time() {
    let now = at("2026-11-25T12:00:00Z");
    let server = TestServer::start(now);
    let s = segment("ann-open", "laptop", "2026-11-25T09:00:00Z", 600);
    let body = timecard_core::codec::encode_body(&s).unwrap();
    let client = server.client("ann");
    assert_eq!(
        client.upload(vec![body.clone()]).unwrap().results[0].outcome,
        Outcome::Accepted
    );
    assert_eq!(
        client.upload(vec![body]).unwrap().results[0].outcome,
        Outcome::Duplicate
    );
    assert_eq!(week_logged(&server, "ann", "ann-open"), 600);

    // A device whose cache still holds it (say, restored from an export)
    // uploads it again: acknowledged, cache emptied, no time added.
    let restored = Device::new(&server, "ann", "laptop", std::slice::from_ref(&s));
    let snapshot = restored.wait_drained(1);
    assert!(snapshot.cache.refused.is_empty());
    assert_eq!(week_logged(&server, "ann", "ann-open"), 600);
}

// K8: a second device's overlapping segment is refused with `overlap`,
// naming the device that holds the time; the rest of its queue uploads.
#[test]
fn overlap_from_another_device_is_refused() {
    let now = at("2026-11-25T12:00:00Z");
    let server = TestServer::start(now);
    let first = segment("ann-open", "laptop", "2026-11-25T09:10:00Z", 600);
    server
        .client("ann")
        .upload(vec![timecard_core::codec::encode_body(&first).unwrap()])
        .unwrap();

    let overlapping = segment("ann-open", "desktop", "2026-11-25T09:15:00Z", 300);
    let fine = segment("ann-open", "desktop", "2026-11-25T10:00:00Z", 600);
    let desktop = Device::new(&server, "ann", "desktop", &[overlapping.clone(), fine]);
    let snapshot = desktop.wait_drained(2);
    assert_eq!(snapshot.cache.refused.len(), 1);
    let refused = &snapshot.cache.refused[0];
    assert_eq!(refused.id, overlapping.id.to_string());
    assert_eq!(refused.reason, "overlap");
    assert!(refused.message.contains("laptop"), "{}", refused.message);
    assert_eq!(week_logged(&server, "ann", "ann-open"), 1200);
}

// W4/K6: a segment of a locked week is refused with `week_locked` and lands
// in *Not uploaded*; it does not block the segment behind it.
#[test]
fn locked_week_lands_in_not_uploaded() {
    let now = at("2026-11-25T12:00:00Z");
    let server = TestServer::start(now);
    let last_week = segment("ann-open", "laptop", "2026-11-18T09:00:00Z", 600);
    let this_week = segment("ann-open", "laptop", "2026-11-25T09:00:00Z", 600);
    let device = Device::new(&server, "ann", "laptop", &[last_week.clone(), this_week]);
    let snapshot = device.wait_drained(2);
    assert_eq!(snapshot.cache.refused.len(), 1);
    assert_eq!(snapshot.cache.refused[0].reason, "week_locked");
    assert!(
        snapshot.cache.refused[0]
            .message
            .contains("locked on 23 Nov 2026")
    );
    assert_eq!(week_logged(&server, "ann", "ann-open"), 600);
    // The refused segment is kept on disk and can be exported (K9).
    let out = tempfile::tempdir().unwrap();
    let tracker_cache = device.dir.path().join("cache");
    let (cache, _) = timecard_client::cache::Cache::open(&tracker_cache, 86400).unwrap();
    assert_eq!(cache.export(out.path()).unwrap(), 1);
}

// Y2: maintenance (503 + Retry-After) puts the client in caching mode with
// the server's wait; afterwards it uploads.
#[test]
fn maintenance_caches_then_uploads() {
    let now = at("2026-11-25T09:00:00Z");
    let server = TestServer::start(now);
    let device = Device::new(&server, "ann", "laptop", &[]);
    device.wait_contracts();
    server.store().set_maintenance(Some(1)).unwrap();
    device.start("ann-open");
    server.clock.advance(Duration::minutes(10));
    device.worker.send(Command::Tick);
    let snapshot = device.wait_for("caching", |s| {
        matches!(s.sync.state, SyncState::Caching { .. })
    });
    match &snapshot.sync.state {
        SyncState::Caching {
            last_error,
            next_retry,
            ..
        } => {
            assert!(last_error.contains("maintenance"), "{last_error}");
            assert_eq!(
                *next_retry,
                server.clock_now() + Duration::seconds(1),
                "Retry-After is honoured"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot.cache.pending_segments, 1);
    server.store().set_maintenance(None).unwrap();
    device.wait_drained(1);
    assert_eq!(week_logged(&server, "ann", "ann-open"), 600);
}

// K4/K5/Y2: the server goes down for two hours of tracking; the cache grows,
// then drains to zero when it is back, and the server's total is exactly
// what was tracked.
#[test]
fn server_down_then_up_drains_the_cache_exactly() {
    let now = at("2026-11-25T08:00:00Z");
    let mut server = TestServer::start(now);
    let client = Arc::new(server.client("ann"));
    let device = Device::with_client(&server, client, "laptop", &[]);
    device.wait_contracts();
    server.stop();
    device.start("ann-hourly");
    for _ in 0..12 {
        server.clock.advance(Duration::minutes(10));
        device.worker.send(Command::Tick);
    }
    device.worker.send(Command::Stop);
    let snapshot = device.wait_for("twelve cached segments while offline", |s| {
        s.cache.pending_segments == 12 && matches!(s.sync.state, SyncState::Caching { .. })
    });
    assert_eq!(snapshot.cache.pending_secs, 2 * 3600);
    assert_eq!(snapshot.sync_code(), "caching");

    server.restart();
    device.worker.send(Command::UploadNow { tell_user: false });
    let snapshot = device.wait_drained(12);
    assert_eq!(snapshot.cache.pending_secs, 0);
    assert_eq!(week_logged(&server, "ann", "ann-hourly"), 2 * 3600);
    assert_eq!(
        snapshot.contract("ann-hourly").unwrap().week_logged_secs,
        2 * 3600
    );
}

trait ClockNow {
    fn clock_now(&self) -> DateTime<Utc>;
}

impl ClockNow for TestServer {
    fn clock_now(&self) -> DateTime<Utc> {
        use timecard_core::clock::Clock;
        self.clock.now()
    }
}

// The app keeps the server's rules with its contract list: started while the
// server is down, it cuts segments on the server's grid, not the default.
#[test]
fn started_offline_it_cuts_on_the_servers_last_grid() {
    use timecard_client::capture::NoScreenshots;
    use timecard_client::connect::SavedSession;
    use timecard_client::engine::Engine;
    use timecard_client::platform::DataDir;
    use timecard_client::settings::Settings;
    use timecard_core::clock::Clock;
    use timecard_core::protocol::ServerConfig;

    let now = at("2026-11-25T10:00:00Z");
    let grid = ServerConfig {
        segment_secs: 120,
        lock_grace_secs: 0,
    };
    let server = TestServer::start_with(now, grid);
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::at(dir.path().join("data")).unwrap();
    let ca = dir.path().join("server.pem");
    std::fs::write(&ca, &server.server.cert_pem).unwrap();
    let client = server.client("ann");
    SavedSession {
        server: client.address().as_str().to_owned(),
        login: "ann".into(),
        token: client.token().unwrap(),
        expires_at: now + Duration::days(30),
    }
    .save(&data.session_file())
    .unwrap();
    let settings = Settings {
        server: Some(server.url()),
        server_ca: Some(ca),
        time_zone: Some("UTC".into()),
        ..Settings::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(server.clock.clone());
    let start = || {
        Engine::start(
            &data,
            &settings,
            clock.clone(),
            Box::new(NoScreenshots),
            Box::new(timecard_client::activity::NoActivity),
            timecard::builtin::local_server(),
        )
        .unwrap()
    };

    // Online once: the contract list (and the rules) arrive.
    let engine = start();
    let online = engine.wait_for(common::device::WAIT, |s| !s.contracts.is_empty());
    assert!(
        !online.contracts.is_empty(),
        "no contract list from the server"
    );
    engine.shutdown();

    server.stop();
    let engine = start();
    let offline = engine.wait_for(common::device::WAIT, |s| {
        matches!(s.sync.state, SyncState::Caching { .. })
    });
    assert!(
        !offline.contracts.is_empty(),
        "the saved contract list is there offline"
    );
    engine.worker.send(Command::Start {
        contract_id: "ann-hourly".into(),
    });
    engine.wait_for(common::device::WAIT, |s| s.tracking.is_some());
    server.clock.advance(Duration::seconds(130));
    engine.worker.send(Command::Tick);
    let cached = engine.wait_for(common::device::WAIT, |s| s.cache.pending_segments > 0);
    let first = cached.cache.pending.first().expect("a cached segment");
    assert_eq!(
        (first.end - first.start).num_seconds(),
        120,
        "cut on the server's 120 s grid"
    );
    engine.shutdown();
}

// Signing in to another server forgets what the previous one said (its
// contract list and rules); signing in again to the same one keeps it.
#[test]
fn signing_in_elsewhere_forgets_the_previous_servers_contracts() {
    use common::cli::{login, text, timecard};

    let now = chrono::Utc::now();
    let first = TestServer::start(now);
    let second = TestServer::start(now);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let saved = data.join("contracts.json");
    let rules = data.join("server-config.json");

    login(&data, &first);
    let out = timecard(&data, &["contracts"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        saved.exists(),
        "the contract list is kept for offline starts"
    );
    std::fs::write(&rules, r#"{"segment_secs":600,"lock_grace_secs":0}"#).unwrap();

    login(&data, &first);
    assert!(saved.exists(), "the same server again: kept");

    login(&data, &second);
    assert!(!saved.exists(), "another server: the old list is gone");
    assert!(!rules.exists(), "another server: the old rules are gone");
}

// C5 with the real binaries and the real clock: the client pauses the
// contract (`timecard-server contract set --status paused`) while
// `timecard track` runs. The time before the pause is kept on the server
// (the segment across it is cut there, same id), tracking stops with the
// reason (the contract list is refreshed every minute), and the freelancer
// is told what was not counted. It used to refuse the whole segment: the
// minutes before the pause were lost.
#[test]
fn a_pause_keeps_the_time_before_it() {
    use common::cli::{login, text};
    use std::process::Command as Process;

    let server = TestServer::start(Utc::now());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    login(&data, &server);
    let track =
        common::cli::Tracking::start(&data, &["--contract", "ann-open", "--for", "120s"], None);
    let started = Utc::now();
    // Ten seconds of work, then the client pauses the contract.
    while Utc::now() < started + Duration::seconds(10) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server.clock.set(Utc::now());
    let paused_at = Utc::now();
    let set = common::cli::run(
        Process::new(common::server_exe())
            .arg("--data")
            .arg(server.dir.path())
            .args(["contract", "set", "ann-open", "--status", "paused"])
            .envs(common::store::server_env(server.dir.path())),
        None,
    );
    assert!(set.status.success(), "{}", text(&set));
    let (status, all) = track.finish();
    assert!(
        all.contains("paused by the client"),
        "tracking stops with the reason:\n{all}"
    );
    assert!(!status.success(), "stopped by itself, not by --for:\n{all}");

    server.clock.set(Utc::now());
    let on_server = common::cli::diary_total_secs(&data);
    let before_pause = (paused_at - started).num_seconds();
    assert!(
        (before_pause - 2..=before_pause + 2).contains(&on_server),
        "the {before_pause} s before the pause are on the server, not {on_server}:\n{all}"
    );
}
