//! Disputes reach the freelancer (R14), with the real TLS server and its
//! web pages, the window through egui_kittest with the real engine, a
//! private D-Bus with a fake notification server, and a `BROWSER` script:
//! - the contract list's `ETag`: unchanged, the server answers 304;
//! - a client disputes a segment on the web while the window runs: within
//!   a minute one notification, a block on the Tracker and Contracts
//!   screens, and its button opens the day's page; the freelancer's answer
//!   is not news, the client's decision is, once; a restart tells nothing
//!   again.
//!
//! Without `dbus-run-session` the window test skips loudly, unless
//! `TIMECARD_REQUIRE_DISPLAY=1` (CI), where that is a failure.

use crate::common;
use crate::web::{Browser, dashboard};

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use common::at;
use common::dbus::session_bus;
use common::server::TestServer;
use common::xvfb::tools_present;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use timecard::ui::TimecardApp;
use timecard_client::activity::NoActivity;
use timecard_client::capture::NoScreenshots;
use timecard_client::engine::Engine;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_core::clock::{Clock, ManualClock};
use timecard_core::domain::{Activity, Segment, SegmentId};

// R14: the list's tag stays while nothing in the answer changes (the
// server's clock moving within the day included), and changes with the
// zone, the week and a dispute.
#[test]
fn an_unchanged_contract_list_is_answered_304() {
    let (server, id) = dashboard();
    let ann = server.client("ann");
    let (_, tag) = ann
        .contracts_if_changed("UTC", None)
        .unwrap()
        .expect("a first list");
    let tag = tag.expect("the list carries an ETag");
    assert!(
        ann.contracts_if_changed("UTC", Some(&tag))
            .unwrap()
            .is_none(),
        "unchanged: 304"
    );
    server.clock.advance(Duration::minutes(20));
    assert!(
        ann.contracts_if_changed("UTC", Some(&tag))
            .unwrap()
            .is_none()
    );
    let (_, kolkata) = ann
        .contracts_if_changed("Asia/Kolkata", Some(&tag))
        .unwrap()
        .expect("another zone's day is another answer");
    assert_ne!(kolkata.as_deref(), Some(tag.as_str()));

    server.clock.set(at("2026-11-30T10:00:00Z"));
    let (_, week) = ann
        .contracts_if_changed("UTC", Some(&tag))
        .unwrap()
        .expect("a new week");
    let week = week.unwrap();
    dispute_on_the_web(&server, id, "Not this project");
    let (list, after) = ann
        .contracts_if_changed("UTC", Some(&week))
        .unwrap()
        .expect("a dispute changes the list");
    assert_ne!(after.as_deref(), Some(week.as_str()));
    let listed = list
        .contracts
        .iter()
        .find(|c| c.contract.id == "ann-hourly")
        .unwrap();
    assert_eq!(listed.disputes.len(), 1);
    assert_eq!(listed.disputes[0].segment_id, id);
}

/// Carl, the client of `ann-hourly`, disputes `id` (on Wed 25 Nov) on its
/// diary page.
fn dispute_on_the_web(server: &TestServer, id: SegmentId, reason: &str) {
    review_on_the_web(server, "carl", id, "dispute", &[("note", reason)]);
}

/// `who` posts the diary's review form `step` for segment `id`.
fn review_on_the_web(
    server: &TestServer,
    who: &str,
    id: SegmentId,
    step: &str,
    extra: &[(&str, &str)],
) {
    let mut browser = Browser::new(server);
    browser.sign_in(who);
    let page = browser.get("/contracts/ann-hourly/diary?date=2026-11-25&tz=UTC");
    let csrf = Browser::csrf(&page);
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("date", "2026-11-25"),
        ("tz", "UTC"),
    ];
    fields.extend_from_slice(extra);
    let got = browser.post(
        &format!("/contracts/ann-hourly/segments/{id}/{step}"),
        &fields,
    );
    assert_eq!(got.status, 303, "{step}: {}", got.body);
}

/// Set (to the bus address) only in the child process that runs
/// [`a_dispute_in_the_running_window_child`]: notify-rust and `BROWSER`
/// come from the environment, which a test must not change in a process
/// whose other tests run on other threads.
const CHILD_BUS_ENV: &str = "TIMECARD_TEST_DISPUTES_CHILD_BUS";
/// Where the child's `BROWSER` script writes the addresses it is given.
const OPENED_ENV: &str = "TIMECARD_TEST_DISPUTES_OPENED";

#[test]
fn a_dispute_reaches_the_running_window_once_and_opens_its_day() {
    if !tools_present(&["dbus-run-session", "dbus-daemon"]) {
        return;
    }
    let (mut bus, address) = session_bus();
    let dir = tempfile::tempdir().unwrap();
    let opened = dir.path().join("opened");
    let browser = dir.path().join("browser");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            opened.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "disputes::a_dispute_in_the_running_window_child",
            "--nocapture",
        ])
        .env(CHILD_BUS_ENV, &address)
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env("BROWSER", &browser)
        .env(OPENED_ENV, &opened)
        .stdin(Stdio::null())
        .output()
        .expect("run the child half");
    drop(bus.stdin.take());
    let _ = bus.wait();
    assert!(child.status.success(), "{}", common::cli::text(&child));
    assert!(
        String::from_utf8_lossy(&child.stdout).contains("1 passed"),
        "the child ran no test: {}",
        common::cli::text(&child)
    );
}

/// What the fake notification server was sent: (summary, body).
type Received = (String, String);

struct FakeNotifications {
    received: Sender<Received>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl FakeNotifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
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

fn fake_notifications(address: &str) -> (zbus::blocking::Connection, Receiver<Received>) {
    let (tx, rx) = mpsc::channel();
    let connection = zbus::blocking::connection::Builder::address(address)
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at(
            "/org/freedesktop/Notifications",
            FakeNotifications { received: tx },
        )
        .unwrap()
        .build()
        .expect("serve the fake notification server");
    (connection, rx)
}

/// The window on `data`, signed in to the server, notifying.
fn window(data: &DataDir, clock: &ManualClock) -> Harness<'static, TimecardApp> {
    let mut settings = Settings::load(&data.settings_file()).unwrap();
    settings.time_zone = Some("UTC".into());
    let engine = Engine::start(
        data,
        &settings,
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        Box::new(NoScreenshots),
        Box::new(NoActivity),
        timecard::builtin::local_server(),
    )
    .unwrap();
    let data = data.clone();
    Harness::builder()
        .with_size([900.0, 900.0])
        .build_eframe(move |cc| {
            let mut app = TimecardApp::new(engine, data, settings, &cc.egui_ctx);
            app.enable_notifications();
            app
        })
}

/// Runs frames until `ready` holds, waiting on the worker in between.
fn until(
    harness: &mut Harness<'static, TimecardApp>,
    what: &str,
    within: StdDuration,
    ready: impl Fn(&TimecardApp) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        harness.step();
        if ready(harness.state()) {
            harness.step();
            harness.step();
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness
            .state()
            .wait_for_worker(StdDuration::from_millis(100));
    }
}

fn the_dispute(app: &TimecardApp) -> Option<timecard_core::protocol::DisputeInfo> {
    app.latest()
        .contracts
        .iter()
        .find(|c| c.contract.id == "ann-hourly")
        .and_then(|c| c.disputes.first().cloned())
}

fn refresh(harness: &Harness<'static, TimecardApp>) {
    harness
        .state()
        .engine()
        .unwrap()
        .worker
        .send(timecard_client::worker::Command::Refresh);
}

fn click(harness: &mut Harness<'static, TimecardApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.step();
    harness.step();
}

/// The half of the test above that runs in a child process whose
/// environment names the private bus and the `BROWSER` script; on its own
/// it has nothing to do.
#[test]
fn a_dispute_in_the_running_window_child() {
    let (Some(address), Some(opened)) = (
        std::env::var_os(CHILD_BUS_ENV),
        std::env::var_os(OPENED_ENV),
    ) else {
        return;
    };
    let (_bus_name, received) = fake_notifications(address.to_str().unwrap());
    // Ann's 14:00 segment on Wed 25 Nov (from `dashboard`), and one at 14:20.
    let (server, first) = dashboard();
    let second = Segment {
        id: SegmentId::random(),
        contract_id: "ann-hourly".into(),
        device_id: "laptop".into(),
        start: at("2026-11-25T14:20:00Z"),
        end: at("2026-11-25T14:30:00Z"),
        memo: "schema".into(),
        activity: Activity(0b1111),
        screenshot: None,
        capture_note: None,
    };
    server
        .client("ann")
        .upload(vec![timecard_core::codec::encode_body(&second).unwrap()])
        .unwrap();
    // The week is over: the client reviews it.
    server.clock.set(at("2026-11-30T10:00:00Z"));
    let home = tempfile::tempdir().unwrap();
    common::cli::login(home.path(), &server);
    let data = DataDir::at(home.path().to_path_buf()).unwrap();
    let clock = ManualClock::new(at("2026-11-30T10:00:00Z"));

    // 1. The window runs, with the server's list and nothing disputed;
    //    that list is what the user knows.
    let mut harness = window(&data, &clock);
    until(
        &mut harness,
        "the server's list",
        StdDuration::from_secs(20),
        |app| {
            app.latest().sync.contracts_refreshed_at.is_some()
                && app
                    .latest()
                    .contracts
                    .iter()
                    .any(|c| c.contract.id == "ann-hourly")
        },
    );
    until(
        &mut harness,
        "what is known kept",
        StdDuration::from_secs(20),
        |_| data.disputes_told_file().exists(),
    );

    // 2. The client disputes on the web; the window learns of it by
    //    itself, within a minute.
    dispute_on_the_web(&server, first, "This was a meeting");
    let disputed = Instant::now();
    until(
        &mut harness,
        "the dispute, by the window's own poll",
        StdDuration::from_secs(90),
        |app| the_dispute(app).is_some(),
    );
    let took = disputed.elapsed();
    assert!(
        took <= StdDuration::from_secs(61),
        "the dispute took {took:?} to reach the window"
    );
    eprintln!("the dispute reached the window in {took:?}");
    let (summary, body) = received
        .recv_timeout(StdDuration::from_secs(10))
        .expect("the notification server got the dispute");
    assert_eq!(summary, "Time disputed on Contract ann-hourly");
    let headline = "Acme disputed 14:00–14:10 on Wed 25 Nov: “This was a meeting”";
    assert_eq!(body, headline);

    // On the Tracker screen, a block with the button to the day's page.
    harness.get_by_label(headline);
    harness.get_by_label("Not answered yet: answer it on the day's web page.");
    click(&mut harness, "Open this day in the browser");
    let day = format!(
        "{}/contracts/ann-hourly/diary?date=2026-11-25&tz=UTC#segment-{first}",
        server.url()
    );
    let deadline = Instant::now() + StdDuration::from_secs(10);
    let urls = loop {
        harness.step();
        if let Ok(text) = std::fs::read_to_string(&opened)
            && text.ends_with('\n')
        {
            break text;
        }
        assert!(Instant::now() < deadline, "the browser was not opened");
        std::thread::yield_now();
    };
    assert_eq!(urls.lines().collect::<Vec<_>>(), [day.as_str()]);
    // And on the Contracts screen.
    click(&mut harness, "Contracts");
    harness.get_by_label(headline);
    harness.get_by_label("Open this day in the browser");

    // 3. The freelancer's answer is not news; the client's decision is.
    review_on_the_web(
        &server,
        "ann",
        first,
        "answer",
        &[("note", "It was pairing")],
    );
    refresh(&harness);
    until(
        &mut harness,
        "the answer",
        StdDuration::from_secs(20),
        |app| the_dispute(app).is_some_and(|d| d.answer.is_some()),
    );
    harness.get_by_label("Your answer: “It was pairing”");
    review_on_the_web(
        &server,
        "carl",
        first,
        "decide",
        &[("decision", "reject"), ("confirm", "yes")],
    );
    refresh(&harness);
    until(
        &mut harness,
        "the decision",
        StdDuration::from_secs(20),
        |app| the_dispute(app).is_some_and(|d| d.state == "rejected"),
    );
    let (summary, body) = received
        .recv_timeout(StdDuration::from_secs(10))
        .expect("the decision is told");
    assert_eq!(
        (summary.as_str(), body.as_str()),
        (
            "Dispute decided on Contract ann-hourly",
            "Acme rejected 14:00–14:10 on Wed 25 Nov after a dispute: this time is not billed"
        ),
        "the answer was not told, the decision was"
    );
    harness.get_by_label("The client's reason: “This was a meeting”");

    // 4. After a restart nothing already told is told again: the next
    //    notification is the next dispute's.
    drop(harness);
    let mut harness = window(&data, &clock);
    until(
        &mut harness,
        "the list again",
        StdDuration::from_secs(20),
        |app| app.latest().sync.contracts_refreshed_at.is_some() && the_dispute(app).is_some(),
    );
    dispute_on_the_web(&server, second.id, "Too long");
    refresh(&harness);
    until(
        &mut harness,
        "the second dispute",
        StdDuration::from_secs(20),
        |app| {
            app.latest()
                .contracts
                .iter()
                .any(|c| c.disputes.iter().any(|d| d.segment_id == second.id))
        },
    );
    let (_, body) = received
        .recv_timeout(StdDuration::from_secs(10))
        .expect("the second dispute is told");
    assert_eq!(
        body, "Acme disputed 14:20–14:30 on Wed 25 Nov: “Too long”",
        "only the new dispute is told after a restart"
    );
    drop(harness);
    timecard::notify::flush(StdDuration::from_secs(5));
    assert!(
        received.try_recv().is_err(),
        "one notification per dispute and decision"
    );
}
