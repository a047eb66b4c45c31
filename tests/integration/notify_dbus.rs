//! Desktop notifications (D5) on a real D-Bus: a private session bus from
//! `dbus-run-session`, a small fake notification server on it (zbus), and
//! - the `timecard track` binary stopping at a weekly limit: the server
//!   receives "Tracking stopped" with the reason;
//! - a server that takes the call and never answers: the worker goes on
//!   tracking, and waiting for notifications is bounded.
//!
//! Without `dbus-run-session` the test skips loudly, unless
//! `TIMECARD_REQUIRE_DISPLAY=1` (CI), where that is a failure.

use crate::common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use common::cli::{login, run};
use common::dbus::session_bus;
use common::server::TestServer;
use common::xvfb::tools_present;
use common::*;
use timecard::notify::{self, Notifications};
use timecard_client::worker::{Command as WorkerCommand, Snapshot, Worker};
use timecard_core::clock::{Clock, ManualClock};
use timecard_core::domain::{Contract, ContractKind, ContractStatus};
use timecard_server::store::Store;

/// What the fake server was sent: (summary, body).
type Received = (String, String);

struct FakeNotifications {
    received: Sender<Received>,
    /// Take the call and never answer (switched on for the second half:
    /// one server for both, so no call can reach a previous one still
    /// holding the bus name).
    hang: Arc<std::sync::atomic::AtomicBool>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl FakeNotifications {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let _ = self.received.send((summary, body));
        if self.hang.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        1
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "fake".into(),
            "timecard tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

fn fake_server(
    address: &str,
    hang: Arc<std::sync::atomic::AtomicBool>,
) -> (zbus::blocking::Connection, Receiver<Received>) {
    let (tx, rx) = mpsc::channel();
    let connection = zbus::blocking::connection::Builder::address(address)
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at(
            "/org/freedesktop/Notifications",
            FakeNotifications { received: tx, hang },
        )
        .unwrap()
        .build()
        .expect("serve the fake notification server");
    (connection, rx)
}

fn wait_for(worker: &Worker, ready: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let snapshot = worker
        .snapshots()
        .wait_for(StdDuration::from_secs(10), &ready);
    assert!(ready(&snapshot), "timed out: {snapshot:#?}");
    snapshot
}

/// Set (to the bus address) only in the child process that runs
/// `a_hung_notification_server_holds_nothing_up_in_this_process`: notify-rust
/// finds the session bus through the environment, and a test must not change
/// the environment of a process whose other tests run on other threads.
const CHILD_BUS_ENV: &str = "TIMECARD_TEST_NOTIFY_CHILD_BUS";

#[test]
fn weekly_limit_stop_is_notified_and_a_hung_server_holds_nothing_up() {
    if !tools_present(&["dbus-run-session", "dbus-daemon"]) {
        return;
    }
    let (mut bus, address) = session_bus();

    // 1. The real binary against the real server: a contract with a weekly
    //    limit of 3 seconds stops after 3 seconds, and says so on the desktop.
    let hang = Arc::new(AtomicBool::new(false));
    let (_server, received) = fake_server(&address, hang.clone());
    let server = TestServer::start(chrono::Utc::now());
    let store = timecard_server::open_store(server.dir.path()).unwrap();
    store
        .add_contract(
            "ann",
            &Contract {
                id: "ann-tiny".into(),
                title: "Tiny retainer".into(),
                client: "Acme".into(),
                kind: ContractKind::Hourly,
                status: ContractStatus::Active,
                start_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                weekly_limit_secs: Some(3),
                pending_limit: None,
            },
            chrono::Utc::now(),
        )
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    login(data.path(), &server);
    // The session bus address reaches the binary through the environment.
    let track = run(
        Command::new(env!("CARGO_BIN_EXE_timecard"))
            .args(["track", "--contract", "ann-tiny", "--for", "60s"])
            .env("TIMECARD_DATA_DIR", data.path())
            .env("DBUS_SESSION_BUS_ADDRESS", &address),
        None,
    );
    let said = String::from_utf8_lossy(&track.stdout);
    assert!(said.contains("weekly limit"), "{said}");
    let (summary, body) = received
        .recv_timeout(StdDuration::from_secs(10))
        .expect("the notification server got the stop");
    assert_eq!(summary, "Tracking stopped");
    assert!(
        body.starts_with("Tiny retainer: The weekly limit"),
        "{body}"
    );

    // 2. A server that never answers: the worker, in a child process of
    //    this test binary whose environment names the bus, keeps tracking
    //    and answering; waiting for notifications gives up on time.
    hang.store(true, std::sync::atomic::Ordering::SeqCst);
    // Whatever the first half sent after its stop is not this half's call.
    while received.try_recv().is_ok() {}
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "notify_dbus::a_hung_notification_server_holds_nothing_up_in_this_process",
            "--nocapture",
        ])
        .env(CHILD_BUS_ENV, &address)
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the child half");
    // The child ends only when told (its standard input closes), so that
    // its call is seen here before it exits.
    let call = received.recv_timeout(StdDuration::from_secs(20));
    drop(child.stdin.take());
    let child = child.wait_with_output().unwrap();
    assert!(child.status.success(), "{}", common::cli::text(&child));
    assert!(
        String::from_utf8_lossy(&child.stdout).contains("1 passed"),
        "the child ran no test: {}",
        common::cli::text(&child)
    );
    let (summary, _) = call.unwrap_or_else(|e| {
        panic!(
            "the hanging server got no call ({e}); the child said: {}",
            common::cli::text(&child)
        )
    });
    assert_eq!(summary, "Tracking stopped");

    drop(bus.stdin.take());
    let _ = bus.wait();
}

/// The second half of the test above, run by it in a child process whose
/// environment names the private bus; on its own it has nothing to do.
#[test]
fn a_hung_notification_server_holds_nothing_up_in_this_process() {
    if std::env::var_os(CHILD_BUS_ENV).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at("2026-11-23T09:00:00Z"));
    let worker = Worker::spawn(tracker(dir.path()), Arc::new(clock.clone()));
    let notifications = Notifications::start(
        worker.snapshots().clone(),
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        chrono_tz::UTC,
        Arc::new(AtomicBool::new(true)),
    );
    worker.send(WorkerCommand::SetContracts(list(vec![
        hourly("c1", Some(1)),
        hourly("c2", None),
    ])));
    worker.send(WorkerCommand::Start {
        contract_id: "c1".into(),
    });
    wait_for(&worker, |s| s.tracking.is_some());
    clock.advance(Duration::minutes(70));
    worker.send(WorkerCommand::Tick);
    wait_for(&worker, |s| s.stopped.is_some());
    // The show() call is stuck on the hanging server; tracking is not.
    worker.send(WorkerCommand::Start {
        contract_id: "c2".into(),
    });
    wait_for(&worker, |s| {
        s.tracking.as_ref().is_some_and(|t| t.contract_id == "c2")
    });
    clock.advance(Duration::minutes(20));
    worker.send(WorkerCommand::Tick);
    wait_for(&worker, |s| s.cache.pending_segments >= 8);
    let waited = Instant::now();
    notifications.finish(StdDuration::from_millis(500));
    assert!(
        waited.elapsed() < StdDuration::from_secs(5),
        "finishing waited {:?} on a hung notification server",
        waited.elapsed()
    );
    worker.shutdown();
    notify::flush(StdDuration::from_millis(10));
    // Wait for the parent to have seen the call (it closes our input).
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
}

/// A notification server that shows buttons: it records each call's
/// summary and actions, and answers with the id 7.
struct ServerWithButtons {
    received: Sender<(String, Vec<String>)>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl ServerWithButtons {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        _body: String,
        actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let _ = self.received.send((summary, actions));
        7
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "fake".into(),
            "timecard tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

/// Set only in the child process of the test below.
const CHILD_BUTTONS_ENV: &str = "TIMECARD_TEST_NOTIFY_BUTTONS_BUS";

// S5: back from idle, the "Welcome back" notification carries Keep and
// Discard where the notification server shows buttons, and pressing
// Discard there discards the idle time as the window's button does.
#[test]
fn discard_on_the_welcome_back_notification_discards_the_idle_time() {
    if !tools_present(&["dbus-run-session", "dbus-daemon"]) {
        return;
    }
    let (mut bus, address) = session_bus();
    let (tx, received) = mpsc::channel();
    let server = zbus::blocking::connection::Builder::address(address.as_str())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at(
            "/org/freedesktop/Notifications",
            ServerWithButtons { received: tx },
        )
        .unwrap()
        .build()
        .expect("serve the notification server");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "notify_dbus::the_idle_answer_from_a_notification_in_this_process",
            "--nocapture",
        ])
        .env(CHILD_BUTTONS_ENV, &address)
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the child half");
    let (summary, actions) = received
        .recv_timeout(StdDuration::from_secs(20))
        .expect("the notification server got the welcome back");
    assert_eq!(summary, "Welcome back");
    assert_eq!(
        actions,
        ["keep", "Keep idle time", "discard", "Discard idle time"]
    );
    // The user presses Discard. The child listens for the answer only once
    // its call has returned, so the press is repeated until it is heard
    // (the child then ends).
    let emitter =
        zbus::object_server::SignalEmitter::new(server.inner(), "/org/freedesktop/Notifications")
            .unwrap();
    let deadline = Instant::now() + StdDuration::from_secs(20);
    let status = loop {
        zbus::block_on(ServerWithButtons::action_invoked(&emitter, 7, "discard")).unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the child never heard the answer"
        );
        std::thread::sleep(StdDuration::from_millis(200));
    };
    let output = child.wait_with_output().unwrap();
    assert!(status.success(), "{}", common::cli::text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child ran no test: {}",
        common::cli::text(&output)
    );
    drop(server);
    let _ = bus.kill();
    let _ = bus.wait();
}

/// Input at a moment the test sets.
struct Inputs(Arc<std::sync::Mutex<chrono::DateTime<chrono::Utc>>>);

impl timecard_client::activity::ActivitySource for Inputs {
    fn last_input(
        &mut self,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        Some(*self.0.lock().unwrap())
    }
}

/// The child half of the test above: a worker tracking with a 10-minute
/// idle threshold, its notifications, and the answer from the button.
#[test]
fn the_idle_answer_from_a_notification_in_this_process() {
    if std::env::var_os(CHILD_BUTTONS_ENV).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let start = at("2026-11-23T09:00:00Z");
    let clock = ManualClock::new(start);
    let last = Arc::new(std::sync::Mutex::new(start));
    let (cache, _) = timecard_client::cache::Cache::open(dir.path(), 86400).unwrap();
    let mut config = timecard_client::worker::TrackerConfig::new("dev");
    config.idle_threshold_secs = 600;
    let tracker = timecard_client::worker::Tracker::new(
        config,
        cache,
        Box::new(timecard_client::capture::NoScreenshots),
        Box::new(Inputs(last.clone())),
    );
    let worker = Worker::spawn(tracker, Arc::new(clock.clone()));
    notify::answer_to(worker.sender());
    let notifications = Notifications::start(
        worker.snapshots().clone(),
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        chrono_tz::UTC,
        Arc::new(AtomicBool::new(true)),
    );
    worker.send(WorkerCommand::SetContracts(list(vec![hourly("c1", None)])));
    worker.send(WorkerCommand::Start {
        contract_id: "c1".into(),
    });
    wait_for(&worker, |s| s.tracking.is_some());
    // Work until 09:05, nothing until 09:30, then back.
    *last.lock().unwrap() = at("2026-11-23T09:05:00Z");
    clock.set(at("2026-11-23T09:29:00Z"));
    worker.send(WorkerCommand::Tick);
    wait_for(&worker, |s| s.idle.is_some());
    *last.lock().unwrap() = at("2026-11-23T09:30:00Z");
    clock.set(at("2026-11-23T09:30:00Z"));
    worker.send(WorkerCommand::Tick);
    wait_for(&worker, |s| {
        s.idle.as_ref().is_some_and(|i| i.returned.is_some())
    });
    // The answer comes from the notification's button, not from here.
    let snapshot = worker
        .snapshots()
        .wait_for(StdDuration::from_secs(20), |s| s.idle.is_none());
    assert!(snapshot.idle.is_none(), "no answer came: {snapshot:#?}");
    assert_eq!(
        snapshot.session_secs(clock.now()),
        5 * 60,
        "only the five working minutes are left"
    );
    notifications.finish(StdDuration::from_secs(2));
}
