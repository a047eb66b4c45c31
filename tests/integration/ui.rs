//! The window through egui_kittest, found by widget label, against the real
//! worker, sync thread and built-in server (over TLS on loopback), with a
//! manual clock.

use crate::common;
#[path = "ui/diary.rs"]
mod diary;
#[path = "ui/help.rs"]
mod help;
#[path = "ui/idle_real.rs"]
mod idle_real;
#[path = "ui/layout.rs"]
mod layout;
#[path = "ui/screens.rs"]
mod screens;
#[path = "ui/trust.rs"]
mod trust;

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use common::at;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable};
use timecard::ui::TimecardApp;
use timecard_client::activity::NoActivity;
use timecard_client::capture::NoScreenshots;
use timecard_client::engine::Engine;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_core::clock::{Clock, ManualClock};

pub(crate) struct Window {
    pub(crate) harness: Harness<'static, TimecardApp>,
    pub(crate) clock: ManualClock,
    _dir: tempfile::TempDir,
}

pub(crate) fn open_with(settings: Settings, seed: impl FnOnce(&DataDir)) -> Window {
    open_with_activity(settings, seed, Box::new(NoActivity))
}

fn open_with_activity(
    settings: Settings,
    seed: impl FnOnce(&DataDir),
    activity: Box<dyn timecard_client::activity::ActivitySource>,
) -> Window {
    open_with_sources(settings, seed, Box::new(NoScreenshots), activity)
}

/// The window on a fresh data folder seeded by `seed`, with these screen
/// and activity sources and a manual clock at Wed 25 Nov 15:00 UTC.
fn open_with_sources(
    settings: Settings,
    seed: impl FnOnce(&DataDir),
    screen: Box<dyn timecard_client::capture::ScreenSource>,
    activity: Box<dyn timecard_client::activity::ActivitySource>,
) -> Window {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::at(dir.path().join("data")).unwrap();
    seed(&data);
    let clock = ManualClock::new(at("2026-11-25T15:00:00Z"));
    let engine = Engine::start(
        &data,
        &settings,
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        screen,
        activity,
        timecard::builtin::local_server(),
    )
    .unwrap();
    let harness = Harness::builder()
        .with_size([900.0, 900.0])
        .build_eframe(move |cc| TimecardApp::new(engine, data, settings, &cc.egui_ctx));
    let mut window = Window {
        harness,
        clock,
        _dir: dir,
    };
    window.until("the contract list", |app| {
        !app.latest().contracts.is_empty()
    });
    window
}

pub(crate) fn open() -> Window {
    let settings = Settings {
        time_zone: Some("UTC".into()),
        ..Settings::default()
    };
    open_with(settings, |_| {})
}

impl Window {
    /// Runs frames until `ready` holds for the app, waiting on the worker
    /// in between (with a deadline).
    pub(crate) fn until(&mut self, what: &str, ready: impl Fn(&TimecardApp) -> bool) {
        let deadline = Instant::now() + StdDuration::from_secs(20);
        loop {
            self.harness.step();
            if ready(self.harness.state()) {
                // One frame draws the new snapshot, one more settles what
                // that frame asked for (a scroll to the day's work).
                self.harness.step();
                self.harness.step();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; notice: {:?}",
                self.harness.state().latest().notice
            );
            self.harness
                .state()
                .wait_for_worker(StdDuration::from_millis(100));
        }
    }

    fn open_contract_picker(&mut self) {
        self.harness
            .get_by_role_and_label(egui::accesskit::Role::ComboBox, "Contract")
            .click();
        self.harness.step();
        self.harness.step();
    }

    /// Uploads a 10-minute segment of `demo-hourly` from another device,
    /// straight to the built-in server.
    fn upload_from_another_device(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        screenshot: Option<timecard_core::domain::Screenshot>,
    ) -> timecard_core::domain::Segment {
        self.upload_segment(start, start + Duration::minutes(10), screenshot, None)
    }

    /// As [`Window::upload_from_another_device`], with a capture note.
    fn upload_segment(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
        screenshot: Option<timecard_core::domain::Screenshot>,
        capture_note: Option<&str>,
    ) -> timecard_core::domain::Segment {
        let segment = timecard_core::domain::Segment {
            id: timecard_core::domain::SegmentId::random(),
            contract_id: "demo-hourly".into(),
            device_id: "other-device".into(),
            start,
            end,
            memo: "from another device".into(),
            activity: timecard_core::domain::Activity(0b1111),
            screenshot,
            capture_note: capture_note.map(str::to_owned),
        };
        let body = timecard_core::codec::encode_body(&segment).unwrap();
        let engine = self.harness.state().engine().unwrap();
        engine.connection.client.upload(vec![body]).unwrap();
        segment
    }

    /// Clicks a Work Diary cell until its segment window is open: the grid
    /// can still move between the frame the cell is found in and the click
    /// (a load scrolls the day to its work), and a click off target does
    /// nothing.
    fn open_segment(&mut self, label: &str) {
        let deadline = Instant::now() + StdDuration::from_secs(20);
        loop {
            self.click(label);
            for _ in 0..5 {
                if self.harness.state().state.diary.selected.is_some() {
                    self.harness.step();
                    return;
                }
                self.harness.step();
            }
            assert!(
                Instant::now() < deadline,
                "the segment window of {label:?} did not open"
            );
        }
    }

    pub(crate) fn click(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        self.harness.step();
        self.harness.step();
    }
}

/// The demo contracts as a server would have listed them on an earlier run,
/// saved for starting offline.
fn save_demo_contracts(data: &DataDir) {
    let now = at("2026-11-25T08:00:00Z");
    let response = timecard_core::protocol::ContractsResponse {
        server_time: now,
        week_start: at("2026-11-23T00:00:00Z"),
        contracts: timecard_server::demo::local_contracts(now)
            .into_iter()
            .map(|contract| timecard_core::protocol::ContractInfo {
                disputes: Vec::new(),
                manual_time: contract.id == "demo-hourly",
                contract,
                week_logged_secs: 0,
                today_logged_secs: 0,
            })
            .collect(),
    };
    timecard_client::sync::save_for_offline(&data.contracts_file(), &response).unwrap();
}

fn tracking(app: &TimecardApp) -> Option<String> {
    app.latest()
        .tracking
        .as_ref()
        .map(|t| t.contract_id.clone())
}

#[test]
fn start_and_stop() {
    let mut w = open();
    w.click("Start");
    w.until("tracking to start", |app| {
        tracking(app).as_deref() == Some("demo-hourly")
    });
    w.harness
        .get_by_label("Tracking Backend development since 15:00");
    w.clock.advance(Duration::minutes(7));
    w.click("Stop");
    w.until("tracking to stop and upload", |app| {
        let s = app.latest();
        s.tracking.is_none() && s.contract("demo-hourly").unwrap().week_logged_secs == 7 * 60
    });
    w.harness.get_by_label("Start");
    w.harness.get_by_label("Not tracking");
}

#[test]
fn switching_contract() {
    let mut w = open();
    w.click("Start");
    w.until("tracking", |app| tracking(app).is_some());
    w.open_contract_picker();
    w.click("Support rota — Contoso");
    w.harness.get_by_label("Switch contract");
    w.clock.advance(Duration::minutes(3));
    w.click("Switch contract");
    w.until("the switch", |app| {
        tracking(app).as_deref() == Some("demo-open")
    });
    w.harness.get_by_label("Stop");
}

// C4: a paused contract is shown, greyed, with its reason.
#[test]
fn paused_contract_shows_its_reason() {
    let mut w = open();
    w.click("Contracts");
    w.harness.get_by_label("Data migration — Fabrikam");
    w.harness
        .get_by_label("Cannot be tracked: paused by the client");
    w.harness
        .get_by_label("Cannot be tracked: starts 28 Nov 00:00 UTC (28 Nov 00:00 your time)");
}

// W2: a contract at its weekly limit is not trackable, and says why and
// until when: on the Tracker (Start disabled, the reason under it), on the
// Contracts card and in the mini view. It used to look trackable: Start was
// enabled and "stopped" tracking that never began.
#[test]
fn a_contract_at_its_weekly_limit_says_why_and_until_when() {
    let mut w = open();
    // 40 h this week from another device: Monday 00:00 to Tuesday 16:00.
    let monday = at("2026-11-23T00:00:00Z");
    let bodies = (0..240)
        .map(|i| {
            let start = monday + Duration::minutes(10 * i);
            let segment = timecard_core::domain::Segment {
                id: timecard_core::domain::SegmentId::random(),
                contract_id: "demo-hourly".into(),
                device_id: "other-device".into(),
                start,
                end: start + Duration::minutes(10),
                memo: String::new(),
                activity: timecard_core::domain::Activity(1),
                screenshot: None,
                capture_note: None,
            };
            timecard_core::codec::encode_body(&segment).unwrap()
        })
        .collect();
    let engine = w.harness.state().engine().unwrap();
    engine.connection.client.upload(bodies).unwrap();
    engine
        .worker
        .send(timecard_client::worker::Command::Refresh);
    w.until("the limit seen", |app| {
        !app.latest().contract("demo-hourly").unwrap().trackable
    });
    let why = "weekly limit of 40 h reached; tracking resumes Mon 30 Nov 00:00 UTC (your time: Mon 30 Nov 00:00)";
    let snapshot = w.harness.state().latest();
    let c = snapshot.contract("demo-hourly").unwrap();
    assert_eq!(c.reason_code.as_deref(), Some("weekly_limit"));
    assert_eq!(c.reason.as_deref(), Some(why));
    w.harness
        .get_by_label(&format!("Backend development cannot be tracked: {why}"));
    let start = w.harness.get_by_label("Start");
    assert!(
        start.accesskit_node().is_disabled(),
        "Start is disabled at the limit"
    );
    start.click();
    w.harness.step();
    assert!(tracking(w.harness.state()).is_none());
    assert!(
        w.harness.state().latest().stopped.is_none(),
        "no false stop"
    );
    w.click("Contracts");
    w.harness.get_by_label(&format!("Cannot be tracked: {why}"));
}

// C2: the fixed-price setting makes a fixed-price contract trackable.
#[test]
fn fixed_price_setting_makes_the_contract_trackable() {
    let mut w = open();
    w.click("Contracts");
    w.harness
        .get_by_label("Cannot be tracked: fixed-price tracking is off in Settings > Advanced");
    w.click("Settings");
    w.click("Track time on fixed-price contracts");
    w.click("Save settings");
    w.until("the fixed-price contract to become trackable", |app| {
        app.latest()
            .contract("demo-fixed")
            .is_some_and(|c| c.trackable)
    });
    w.click("Contracts");
    assert!(
        w.harness
            .query_by_label("Cannot be tracked: fixed-price tracking is off in Settings > Advanced")
            .is_none()
    );
    w.click("Tracker");
    w.open_contract_picker();
    w.click("Logo redesign — Blue Yonder");
    w.click("Start");
    w.until("tracking the fixed-price contract", |app| {
        tracking(app).as_deref() == Some("demo-fixed")
    });
    w.harness
        .get_by_label("Fixed-price: logged, but not counted in your hourly totals");
}

// D4: the confirmation lists the un-uploaded hours; Cancel does nothing.
#[test]
fn reset_confirmation_lists_what_is_lost_and_cancel_does_nothing() {
    // A server that cannot be reached, and 20 minutes of time in the cache.
    let settings = Settings {
        time_zone: Some("UTC".into()),
        server: Some("https://127.0.0.1:9".into()),
        ..Settings::default()
    };
    let mut w = open_with(settings, |data| {
        let (mut cache, _) = timecard_client::cache::Cache::open(&data.cache_dir(), 86400).unwrap();
        for start in ["2026-11-25T09:00:00Z", "2026-11-25T09:10:00Z"] {
            let start = at(start);
            cache
                .append(&timecard_core::domain::Segment {
                    id: timecard_core::domain::SegmentId::random(),
                    contract_id: "demo-hourly".into(),
                    device_id: "dev".into(),
                    start,
                    end: start + Duration::minutes(10),
                    memo: String::new(),
                    activity: Default::default(),
                    screenshot: None,
                    capture_note: None,
                })
                .unwrap();
        }
        // Contracts from an earlier run, so the window has something to show.
        save_demo_contracts(data);
    });
    w.until("the first sync attempt", |app| {
        app.latest().sync_code() != "connecting"
    });
    w.click("Settings");
    w.click("Clear cache and restart…");
    w.harness.get_by_label("Clear cache and restart?");
    w.harness
        .get_by_label("• Un-uploaded time: 0:20:00 in 2 segments");
    w.harness.get_by_label("• Your settings");
    w.harness.get_by_label("• Your saved sign-in");
    w.harness.get_by_label("Export un-uploaded time first");
    w.click("Cancel");
    assert!(
        w.harness
            .query_by_label("Clear cache and restart?")
            .is_none()
    );
    let s = w.harness.state().latest();
    assert_eq!(
        s.cache.pending_segments, 2,
        "Cancel must not touch the cache"
    );
}

// D6: the mini view opens, Start/Stop works in it, and it goes back.
#[test]
fn mini_view_start_stop() {
    let mut w = open();
    w.click("Mini view");
    w.harness.get_by_label("Main window");
    let starts = w.harness.get_all_by_label("Start").count();
    assert_eq!(
        starts, 2,
        "the main window and the mini view each have Start"
    );
    w.harness.get_all_by_label("Start").last().unwrap().click();
    w.harness.step();
    w.until("tracking from the mini view", |app| tracking(app).is_some());
    w.clock.advance(Duration::minutes(2));
    w.harness.get_all_by_label("Stop").last().unwrap().click();
    w.harness.step();
    w.until("stopping from the mini view", |app| tracking(app).is_none());
    w.click("Main window");
    assert!(w.harness.query_by_label("Main window").is_none());
}

// T1: the Work Diary in a non-UTC zone puts a segment in the right local hour.
#[test]
fn diary_in_kolkata_shows_the_local_hour() {
    let mut w = open();
    w.upload_from_another_device(at("2026-11-25T14:30:00Z"), None);

    w.click("Work Diary");
    w.until(
        "the diary in UTC",
        |app| matches!(app.state.diary.day(), Some(Ok(d)) if d.tz == "UTC"),
    );
    w.harness
        .get_by_label("Segment 14:30–14:40, Backend development");
    w.harness.state_mut().state.diary.zone_text = "Asia/Kolkata".into();
    w.click("Show");
    w.until(
        "the diary in Kolkata",
        |app| matches!(app.state.diary.day(), Some(Ok(d)) if d.tz == "Asia/Kolkata"),
    );
    // 14:30 UTC is 20:00 in Kolkata (UTC+5:30).
    w.harness
        .get_by_label("Segment 20:00–20:10, Backend development");
    assert!(
        w.harness
            .query_by_label("Segment 14:30–14:40, Backend development")
            .is_none()
    );
}

// The Work Diary's cells carry the segment's thumbnail; selecting one
// shows the picture larger.
#[test]
fn diary_cells_show_the_screenshot() {
    let mut w = open();
    let jpeg = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/screens/desktop-1920x1080.jpg"
    ))
    .unwrap();
    let segment = w.upload_from_another_device(
        at("2026-11-25T09:00:00Z"),
        Some(timecard_core::domain::Screenshot {
            taken_at: at("2026-11-25T09:04:00Z"),
            jpeg: jpeg.clone(),
            thumbnail: jpeg,
        }),
    );

    w.click("Work Diary");
    w.until("the thumbnail", |app| {
        app.state.diary.pictures.contains_key(&segment.id)
    });
    let picture = w.harness.state().state.diary.pictures[&segment.id].clone();
    assert_eq!(
        (picture.width, picture.height),
        (96, 54),
        "scaled to the cell"
    );
    assert!(
        w.harness
            .query_by_label("The segment's screenshot")
            .is_none()
    );
    w.open_segment("Segment 09:00–09:10, Backend development");
    diary::until_shown(&mut w, "The segment's screenshot");
    w.harness
        .get_by_label("Day total 0:10:00 — Backend development 0:10:00");
}

// Two segments in one 10-minute cell (a stop and a start): the cell shows
// both, side by side (B2; only the one with a picture used to show), and
// each opens its own window.
#[test]
fn a_shared_cell_shows_every_segment() {
    let mut w = open();
    let jpeg = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/screens/desktop-1920x1080.jpg"
    ))
    .unwrap();
    w.upload_segment(
        at("2026-11-25T09:00:00Z"),
        at("2026-11-25T09:03:00Z"),
        None,
        None,
    );
    let pictured = w.upload_segment(
        at("2026-11-25T09:05:00Z"),
        at("2026-11-25T09:10:00Z"),
        Some(timecard_core::domain::Screenshot {
            taken_at: at("2026-11-25T09:06:00Z"),
            jpeg: jpeg.clone(),
            thumbnail: jpeg,
        }),
        None,
    );
    w.click("Work Diary");
    w.until("the thumbnail", |app| {
        app.state.diary.pictures.contains_key(&pictured.id)
    });
    let first = w
        .harness
        .get_by_label("Segment 09:00–09:03, Backend development")
        .rect();
    let second = w
        .harness
        .get_by_label("Segment 09:05–09:10, Backend development")
        .rect();
    assert!(
        first.max.x <= second.min.x,
        "side by side: {first:?} {second:?}"
    );
    assert!((first.center().y - second.center().y).abs() < 1.0);
    w.harness
        .get_by_label("Day total 0:08:00 — Backend development 0:08:00");
    w.open_segment("Segment 09:00–09:03, Backend development");
    w.click("Next segment");
    w.harness.get_by_label_contains("09:05:00–09:10:00");
}

// D3 in local mode (item 9): with no server configured the report is not
// "sent" to this computer's own database; the form's description, contract,
// incident time and the logs are saved to a file the user can send, and the
// window says where.
#[test]
fn report_a_problem_in_local_mode_is_saved_to_a_file_with_the_logs() {
    let settings = Settings {
        time_zone: Some("Asia/Kolkata".into()),
        ..Settings::default()
    };
    let mut root = None;
    let mut w = open_with(settings, |data| {
        std::fs::create_dir_all(data.logs_dir()).unwrap();
        std::fs::write(data.logs_dir().join("timecard.log"), "a line of log\n").unwrap();
        root = Some(data.root().to_owned());
    });
    w.click("Help");
    w.click("Report a problem…");
    w.harness
        .get_by_role_and_label(egui::accesskit::Role::MultilineTextInput, "What happened?")
        .focus();
    w.harness.step();
    w.harness
        .get_by_role_and_label(egui::accesskit::Role::MultilineTextInput, "What happened?")
        .type_text("The timer froze at lunch");
    w.harness.step();
    // Pre-filled with now in the user's zone (15:00 UTC = 20:30 in Kolkata).
    w.harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "When (Asia/Kolkata)")
        .value()
        .filter(|v| v == "2026-11-25 20:30")
        .expect("the incident time is now in the user's zone");
    w.click("Send report");
    w.until("the report to be saved", |app| {
        app.latest()
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("was not sent"))
    });
    let notice = w.harness.state().latest().notice.clone().unwrap();
    let root = root.unwrap();
    // 15:00 UTC is 20:30 in Kolkata.
    let path = root.join("reports/report-20261125-203000.zip");
    assert!(
        notice.contains(&path.display().to_string()),
        "the notice names the file: {notice}"
    );
    w.harness
        .get_by_label_contains("report-20261125-203000.zip");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only");
    }
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut read = |name: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut text).unwrap();
        text
    };
    let report: timecard_core::protocol::ProblemReport =
        serde_json::from_str(&read("report.json")).unwrap();
    assert_eq!(report.description, "The timer froze at lunch");
    assert_eq!(report.time_zone.as_deref(), Some("Asia/Kolkata"));
    assert_eq!(report.incident_at, Some(at("2026-11-25T15:00:00Z")));
    assert!(read("report.txt").contains("The timer froze at lunch"));
    assert_eq!(
        read("logs/timecard.log"),
        "a line of log\n",
        "the logs are in it"
    );
    let store = timecard_server::open_store(&root.join("local-server")).unwrap();
    let stored = timecard_server::store::Store::reports(&store).unwrap();
    assert!(stored.is_empty(), "nothing lands in the local database");
}

// Item 9: with no server configured, the status line and the Tracker say the
// time is on this computer only, and the way out opens the sign-in form.
#[test]
fn local_mode_says_so_and_offers_the_organisations_server() {
    let mut w = open();
    w.until("the local status", |app| app.latest().sync.local_only);
    w.harness.get_by_label("Local only (no server configured)");
    assert!(
        w.harness.query_by_label("Online").is_none(),
        "the built-in server is not presented as a server"
    );
    w.harness
        .get_by_label_contains("your time is kept on this computer only");
    w.click("Use my organisation's server…");
    w.until("the sign-in form", |app| app.state.signin.is_some());
    w.harness.get_by_label("Use my organisation's server");
    w.harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Sign in");
}

// Item 8: at the window's default width the status line keeps an outage's
// long text inside the window (it wraps), and says since when it is offline.
#[test]
fn an_outage_in_the_status_line_wraps_inside_a_760_px_window() {
    let mut w = open();
    w.harness.set_size(egui::vec2(760.0, 620.0));
    w.harness
        .state()
        .engine()
        .unwrap()
        .connection
        .builtin
        .as_ref()
        .unwrap()
        .stop();
    // The sync thread checks every 10 s on the wall clock.
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while !matches!(
        w.harness.state().latest().sync.state,
        timecard_client::sync::SyncState::Caching { .. }
    ) {
        assert!(Instant::now() < deadline, "offline not shown within 30 s");
        w.harness
            .state()
            .wait_for_worker(StdDuration::from_millis(500));
    }
    w.harness.step();
    w.harness.step();
    let line = w.harness.get_by_label_contains("Offline since 15:00");
    let rect = line.rect();
    let summary = w
        .harness
        .state()
        .snapshot()
        .sync_summary(w.clock.now(), chrono_tz::UTC);
    assert!(summary.len() > 100, "a long text: {summary}");
    assert!(
        rect.left() >= 0.0 && rect.right() <= 760.0,
        "the status text stays inside the window: {rect:?}"
    );
    assert!(rect.height() > 20.0, "it wraps: {rect:?}");
}

/// Input at a moment the test sets, as a fake activity source.
struct Inputs(Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>);

impl timecard_client::activity::ActivitySource for Inputs {
    fn last_input(
        &mut self,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        *self.0.lock().unwrap()
    }
}

// S5: back from a long idle period, the window asks keep or discard;
// discarding takes the idle time out of what is logged.
#[test]
fn idle_prompt_discard_removes_the_idle_time() {
    let last = Arc::new(std::sync::Mutex::new(Some(at("2026-11-25T15:00:00Z"))));
    let settings = Settings {
        time_zone: Some("UTC".into()),
        ..Settings::default()
    };
    let mut w = open_with_activity(settings, |_| {}, Box::new(Inputs(last.clone())));
    let tick = |w: &mut Window, minutes: i64| {
        w.clock.advance(Duration::minutes(minutes));
        let engine = w.harness.state().engine().unwrap();
        engine.worker.send(timecard_client::worker::Command::Tick);
    };
    w.click("Start");
    w.until("tracking", |app| tracking(app).is_some());
    // Input until 15:05, then none until 15:31.
    *last.lock().unwrap() = Some(at("2026-11-25T15:05:00Z"));
    tick(&mut w, 30);
    w.until("idle noticed", |app| app.latest().idle.is_some());
    *last.lock().unwrap() = Some(at("2026-11-25T15:31:00Z"));
    tick(&mut w, 1);
    w.until("the idle prompt", |app| {
        app.latest()
            .idle
            .as_ref()
            .is_some_and(|i| i.returned.is_some())
    });
    // A modal is laid out over a couple of frames.
    w.harness.step();
    w.harness.step();
    w.harness.get_by_label("You were idle");
    w.harness.get_by_label(
        "No keyboard or mouse input from 15:05:00 to 15:31:00 (0:26:00). Keep this time as work, or discard it?",
    );
    w.click("Discard idle time");
    w.until("the answer", |app| app.latest().idle.is_none());
    assert!(w.harness.query_by_label("You were idle").is_none());
    // One source: the big timer, Today and This week say the same after
    // the discard (the timer said 0:26:00 more before).
    let snapshot = w.harness.state().latest();
    let now = w.clock.now();
    let today = snapshot.today_total_secs(now);
    let week =
        snapshot.contract("demo-hourly").unwrap().week_logged_secs + snapshot.running_secs(now);
    assert_eq!(snapshot.session_secs(now), 5 * 60, "{snapshot:#?}");
    assert_eq!(today, 5 * 60);
    assert_eq!(week, 5 * 60);
    w.harness.step();
    assert_eq!(
        w.harness.get_all_by_label_contains("0:05:00").count(),
        3,
        "timer, Today and This week on screen"
    );
    w.click("Stop");
    w.until("only the 5 working minutes logged", |app| {
        let s = app.latest();
        s.tracking.is_none() && s.contract("demo-hourly").unwrap().week_logged_secs == 5 * 60
    });
}

// S5, second pass: a new idle threshold applies without a restart; while
// idle, the Tracker screen and the mini view say since when, and the status
// line counts the segments held back for the answer instead of a bare
// "Online".
#[test]
fn idle_threshold_applies_at_once_and_idle_shows_everywhere() {
    let last = Arc::new(std::sync::Mutex::new(Some(at("2026-11-25T15:00:00Z"))));
    let settings = Settings {
        time_zone: Some("UTC".into()),
        idle_threshold_mins: 30,
        ..Settings::default()
    };
    let mut w = open_with_activity(settings, |_| {}, Box::new(Inputs(last.clone())));
    let tick = |w: &mut Window, minutes: i64| {
        w.clock.advance(Duration::minutes(minutes));
        let engine = w.harness.state().engine().unwrap();
        engine.worker.send(timecard_client::worker::Command::Tick);
    };
    w.click("Start");
    w.until("tracking", |app| tracking(app).is_some());
    *last.lock().unwrap() = Some(at("2026-11-25T15:01:00Z"));
    // Seven minutes without input: under the 30-minute threshold.
    tick(&mut w, 8);
    assert!(w.harness.state().latest().idle.is_none());
    // Settings: 5 minutes, saved — no restart.
    w.click("Settings");
    w.harness.state_mut().state.edited.idle_threshold_mins = 5;
    w.click("Save settings");
    w.until("idle noticed under the new threshold", |app| {
        app.latest()
            .idle
            .as_ref()
            .is_some_and(|i| i.since == at("2026-11-25T15:01:00Z"))
    });
    w.click("Tracker");
    w.harness.get_by_label("Idle since 15:01");
    // Past the ten-minute mark: the first segment is cached and held.
    tick(&mut w, 4);
    w.until("a held segment", |app| {
        app.latest().cache.held_segments >= 1
    });
    w.harness.step();
    w.harness
        .get_by_label_contains("Not on the server yet: 1 segment waiting for your idle answer");
    w.harness.state_mut().state.mini = true;
    w.harness.step();
    w.harness.step();
    assert!(
        w.harness.query_all_by_label("Idle since 15:01").count() >= 2,
        "the mini view says it too"
    );
}

// R8 in the window: a contract whose terms allow it (the server's list
// says so) offers *Add time by hand*; the server judges the span like the command line's and the web's
// (the future is refused in its words), and the week's total takes it in.
#[test]
fn manual_time_is_added_from_the_window_where_the_contract_allows_it() {
    let mut w = open();
    w.click("Contracts");
    w.until("the terms", |app| {
        app.latest()
            .contract("demo-hourly")
            .is_some_and(|c| c.manual_time)
    });
    w.click("Add time by hand to Backend development…");
    let field = |w: &mut Window, label: &str, text: &str| {
        let node = w
            .harness
            .get_by_role_and_label(egui::accesskit::Role::TextInput, label);
        node.click();
        node.type_text(text);
        w.harness.step();
    };
    // The clock says 15:00 UTC: 16:00–17:00 is in the future.
    field(&mut w, "From", "16:00");
    field(&mut w, "To", "17:00");
    w.click("Add");
    w.until("the server's refusal", |app| {
        app.latest()
            .notice
            .as_deref()
            .is_some_and(|n| n.starts_with("The time was not added") && n.contains("future"))
    });
    w.click("Add time by hand to Backend development…");
    field(&mut w, "From", "9h30");
    field(&mut w, "To", "10:30");
    w.click("Add");
    w.harness
        .get_by_label("From: write the time as HH:MM, e.g. 09:30");
    // The form stays open with what was typed: correct the one field.
    w.harness.state_mut().state.manual.as_mut().unwrap().from = "09:00".into();
    w.harness.step();
    field(&mut w, "What you worked on", "client call");
    w.click("Add");
    w.until("added and counted", |app| {
        let s = app.latest();
        s.notice
            .as_deref()
            .is_some_and(|n| n.starts_with("Added 1:30:00 of manual time"))
            && s.contract("demo-hourly").unwrap().week_logged_secs == 90 * 60
    });
}

// Offline, the Work Diary's cached cells show the thumbnail from the cache
// file, and keep it across a failed reload.
#[test]
fn diary_shows_cached_thumbnails_offline() {
    let jpeg = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/screens/desktop-1920x1080.jpg"
    ))
    .unwrap();
    let segment = timecard_core::domain::Segment {
        id: timecard_core::domain::SegmentId::random(),
        contract_id: "demo-hourly".into(),
        device_id: "this-device".into(),
        start: at("2026-11-25T09:00:00Z"),
        end: at("2026-11-25T09:10:00Z"),
        memo: String::new(),
        activity: timecard_core::domain::Activity(0b11),
        screenshot: Some(timecard_core::domain::Screenshot {
            taken_at: at("2026-11-25T09:04:00Z"),
            jpeg: jpeg.clone(),
            thumbnail: jpeg,
        }),
        capture_note: None,
    };
    // Nothing listens on port 9 of loopback: the server is unreachable.
    let settings = Settings {
        time_zone: Some("UTC".into()),
        server: Some("https://127.0.0.1:9".into()),
        ..Settings::default()
    };
    let seeded = segment.clone();
    let mut w = open_with(settings, move |data| {
        save_demo_contracts(data);
        let (mut cache, _) =
            timecard_client::cache::Cache::open(&data.cache_dir(), 24 * 3600).unwrap();
        cache.append(&seeded).unwrap();
    });

    w.click("Contracts");
    w.harness
        .get_by_label("the list from your last session, not updated yet");
    w.click("Work Diary");
    w.until("the cached thumbnail", |app| {
        app.state.diary.pictures.contains_key(&segment.id)
    });
    w.harness
        .get_by_label("Segment 09:00–09:10, Backend development, cached");
    // Another day and back, then a reload of the same day: each load fails
    // (still offline), and the picture comes back every time.
    w.click("Next day");
    w.until("the next day, without it", |app| {
        !app.state.diary.pictures.contains_key(&segment.id)
    });
    w.click("Previous day");
    w.until("the cached thumbnail after another day", |app| {
        app.state.diary.pictures.contains_key(&segment.id)
    });
    let before = w.harness.state().state.diary.loads;
    w.click("Today");
    w.until("the same day reloaded, with the picture", |app| {
        app.state.diary.loads > before && app.state.diary.pictures.contains_key(&segment.id)
    });
}

// The sign-in form: a wrong password keeps the running engine and says why;
// the right one switches to the server, its contracts and its settings.
#[test]
fn sign_in_form_switches_to_the_server_or_says_why_not() {
    let server = common::server::TestServer::start(at("2026-11-25T15:00:00Z"));
    let mut w = open();
    let ca = w._dir.path().join("server.pem");
    std::fs::write(&ca, &server.server.cert_pem).unwrap();
    let form = |password: &str| timecard::ui::SignInForm {
        server: server.url(),
        login: "ann".into(),
        password: password.into(),
        certificate: ca.display().to_string(),
        ..Default::default()
    };
    let sign_in_button = |w: &mut Window| {
        // A modal is laid out over a few frames (it sizes itself to the form).
        for _ in 0..4 {
            w.harness.step();
        }
        w.harness
            .get_by_role_and_label(egui::accesskit::Role::Button, "Sign in")
            .click();
        w.harness.step();
    };

    w.click("Settings");
    w.click("Use my organisation's server…");
    // Item 10: a server that cannot be reached says so without the sync
    // status's note about cached time.
    w.harness.state_mut().state.signin = Some(timecard::ui::SignInForm {
        server: "https://127.0.0.1:9".into(),
        ..form("whatever")
    });
    // A modal is laid out over a couple of frames.
    w.harness.step();
    w.harness.step();
    sign_in_button(&mut w);
    w.until("the unreachable server", |app| {
        !app.state.signin_busy && app.state.signin_error.is_some()
    });
    let error = w.harness.state().state.signin_error.clone().unwrap();
    assert!(error.contains("can't reach 127.0.0.1"), "{error}");
    assert!(!error.contains("cached"), "{error}");

    w.harness.state_mut().state.signin = Some(form("not the password"));
    w.harness.step();
    sign_in_button(&mut w);
    w.until("the refusal", |app| {
        !app.state.signin_busy && app.state.signin_error.is_some()
    });
    let error = w.harness.state().state.signin_error.clone().unwrap();
    assert!(error.contains("password"), "{error}");
    assert!(
        w.harness.state().engine().unwrap().connection.is_builtin(),
        "the built-in server goes on"
    );

    w.harness.state_mut().state.signin = Some(form(common::server::PASSWORD));
    w.harness.step();
    sign_in_button(&mut w);
    w.until("the server's contracts", |app| {
        app.latest()
            .contracts
            .iter()
            .any(|c| c.contract.id == "ann-hourly")
    });
    let app = w.harness.state();
    assert!(!app.engine().unwrap().connection.is_builtin());
    assert!(app.state.signin.is_none(), "the form closes");
    let data = DataDir::at(w._dir.path().join("data")).unwrap();
    let saved = Settings::load(&data.settings_file()).unwrap();
    assert_eq!(saved.server.as_deref(), Some(server.url().as_str()));

    // Item 10: a sign-in is not silent, Settings says who is signed in
    // where, and Sign out is there.
    let signed_in = format!("Signed in to {} as ann.", server.url());
    w.until("the sign-in said", |app| {
        app.latest().notice.as_deref() == Some(signed_in.as_str())
    });
    w.harness.get_by_label("Signed in as ann on");
    // Issue 26: sign-out asks first; Cancel changes nothing.
    w.click("Sign out…");
    let question = format!("Sign out of {}?", server.url());
    w.harness.get_by_label(&question);
    w.harness.get_by_label_contains(
        "Cached time stays on this computer and uploads after you sign in again.",
    );
    w.click("Cancel");
    assert!(w.harness.query_by_label(&question).is_none(), "closed");
    assert!(data.session_file().exists(), "Cancel keeps the session");
    assert!(w.harness.state().state.account.is_some());
    w.click("Sign out…");
    w.harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Sign out")
        .click();
    w.harness.step();
    w.until("signed out", |app| {
        matches!(
            app.latest().sync.state,
            timecard_client::sync::SyncState::SignedOut { .. }
        ) && app
            .latest()
            .notice
            .as_deref()
            .is_some_and(|n| n.starts_with("Signed out of"))
    });
    assert!(!data.session_file().exists(), "the session is forgotten");
    w.harness.step();
    w.harness.get_by_label("Not signed in to");
    // The window says what to do in its own words, never a command line.
    w.click("Tracker");
    w.harness.get_by_label("Sign in from Settings");
    w.harness.get_by_label_contains(
        "Not signed in: time you track stays on this computer until you sign in again.",
    );
    assert!(
        w.harness
            .query_by_label_contains("timecard login")
            .is_none(),
        "no command line in the window"
    );
    w.click("Work Diary");
    w.until("the diary says why it is empty", |app| {
        matches!(&app.state.diary.loaded, Some((_, _, Err(_))))
    });
    let Some((_, _, Err(why))) = &w.harness.state().state.diary.loaded else {
        unreachable!()
    };
    assert!(why.contains("not signed in"), "{why}");
    assert!(
        w.harness
            .query_by_label_contains("timecard login")
            .is_none(),
        "no command line on the Work Diary either"
    );
    w.click("Tracker");
    // Issue 26: the form remembers who signed in last on this server.
    w.click("Sign in from Settings");
    let form = w
        .harness
        .state()
        .state
        .signin
        .clone()
        .expect("the form opens");
    assert_eq!(form.server, server.url());
    assert_eq!(form.login, "ann");
}

// P2: a segment whose screenshot came out black says so in the diary: the
// cell reads "no screenshot" and its window gives the reason.
#[test]
fn diary_marks_segments_without_a_screenshot() {
    let mut w = open();
    w.upload_segment(
        at("2026-11-25T09:00:00Z"),
        at("2026-11-25T09:10:00Z"),
        None,
        Some("capture unavailable: the screenshot is black"),
    );
    w.click("Work Diary");
    let cell = "Segment 09:00–09:10, Backend development, no screenshot";
    w.until("the segment", |app| {
        app.state
            .diary
            .day()
            .is_some_and(|d| d.as_ref().is_ok_and(|d| !d.segments.is_empty()))
    });
    w.open_segment(cell);
    w.harness
        .get_by_label("No screenshot: capture unavailable: the screenshot is black");
}

// The Work Diary opens on the day's work, not on midnight: an evening
// segment is in view without scrolling.
#[test]
fn diary_scrolls_to_the_days_work() {
    let mut w = open();
    w.upload_from_another_device(at("2026-11-24T20:00:00Z"), None);
    w.click("Work Diary");
    w.click("Previous day");
    let label = "Segment 20:00–20:10, Backend development";
    w.until("the evening segment", |app| {
        app.state
            .diary
            .day()
            .is_some_and(|d| d.as_ref().is_ok_and(|d| !d.segments.is_empty()))
    });
    w.harness.step();
    let rect = w.harness.get_by_label(label).rect();
    assert!(
        rect.min.y >= 0.0 && rect.max.y <= 900.0,
        "the 20:00 cell is in view: {rect:?}"
    );
}

// Clear cache and restart on a data folder that cannot be cleared (a folder
// in it is a mount point: it cannot be moved or removed): the dialog stays,
// says why, nothing is deleted, and the app goes on with a new engine.
#[test]
fn a_data_folder_that_cannot_be_cleared_keeps_everything_and_says_why() {
    let mut mounted = None;
    let mut w = open_with(
        Settings {
            time_zone: Some("Europe/Berlin".into()),
            ..Settings::default()
        },
        |data| {
            let point = data.root().join("attachments");
            std::fs::create_dir_all(&point).unwrap();
            mounted = common::small_disk::SmallDisk::mount_on(&point, 1);
            std::fs::write(point.join("kept.txt"), b"on its own disk").unwrap();
            std::fs::write(data.settings_file(), r#"{"time_zone": "Europe/Berlin"}"#).unwrap();
            save_demo_contracts(data);
        },
    );
    if mounted.is_none() {
        return;
    }
    let data = w.harness.state().data_dir().clone();
    w.until("the first sync attempt", |app| {
        app.latest().sync_code() != "connecting"
    });
    w.click("Settings");
    w.click("Clear cache and restart…");
    w.harness.get_by_label("Clear cache and restart").click();
    w.until("the clear to fail", |app| app.state.reset_error.is_some());
    let said = w.harness.state().state.reset_error.clone().unwrap();
    assert!(
        said.contains("attachments"),
        "names what is in the way: {said}"
    );
    assert!(said.contains("Nothing was deleted"), "{said}");
    // The dialog is still open, with the reason in it.
    w.harness.get_by_label("Clear cache and restart?");
    w.harness.get_by_label(&said);
    // Nothing was lost: settings, contracts, the device id, the mount.
    assert!(data.settings_file().exists());
    assert!(data.contracts_file().exists());
    assert!(data.root().join("device-id").exists());
    assert_eq!(
        std::fs::read(data.root().join("attachments/kept.txt")).unwrap(),
        b"on its own disk"
    );
    // A new engine runs on the same folder: tracking starts.
    w.until("the engine is back", |app| app.engine().is_some());
    w.click("Cancel");
    w.harness
        .state()
        .engine()
        .unwrap()
        .worker
        .send(timecard_client::worker::Command::Start {
            contract_id: "demo-hourly".into(),
        });
    w.until("tracking", |app| app.latest().tracking.is_some());
    drop(w);
    drop(mounted);
}

// A segment the client disputed in the weekly review shows on the
// Contracts screen, with the reason and where the dispute stands.
#[test]
fn a_disputed_segment_shows_on_the_contracts_screen() {
    use timecard_server::rules::{ReviewAction, ReviewRequest, ReviewTarget};
    use timecard_server::store::{Role, Store};
    let mut w = open();
    let segment = w.upload_from_another_device(at("2026-11-24T10:00:00Z"), None);
    let store =
        timecard_server::open_store(&w.harness.state().data_dir().local_server_dir()).unwrap();
    // The contract's client disputes it once the week is over, through the
    // same rules as the web page.
    let client = store.add_user("acme", None, "x").unwrap();
    store.set_role("acme", Role::Client).unwrap();
    let mut contract = store.contract("demo-hourly").unwrap().unwrap();
    contract.terms.client_user_id = Some(client);
    store.save_contract(&contract).unwrap();
    store
        .review(
            &ReviewRequest {
                contract_id: "demo-hourly".into(),
                by_user_id: client,
                by_admin: false,
                target: ReviewTarget::Segment(segment.id),
                action: ReviewAction::Dispute,
                note: "Not this project".into(),
            },
            at("2026-11-30T09:00:00Z"),
            5 * 86_400,
        )
        .unwrap()
        .unwrap();
    w.harness
        .state()
        .engine()
        .unwrap()
        .worker
        .send(timecard_client::worker::Command::Refresh);
    w.until("the dispute", |app| {
        app.latest()
            .contracts
            .iter()
            .any(|c| !c.disputes.is_empty())
    });
    w.click("Contracts");
    w.harness
        .get_by_label("Northwind Traders disputed 10:00–10:10 on Tue 24 Nov: “Not this project”");
    // R14: the built-in server has no web page to answer it on, and says so.
    w.harness.get_by_label(
        "Disputes are answered on your organisation's web dashboard; the built-in local server has none.",
    );
    assert!(
        w.harness
            .query_by_label("Open this day in the browser")
            .is_none()
    );
    // The Work Diary marks the segment, and its window says why.
    w.click("Work Diary");
    w.click("Previous day");
    w.until("the day's diary", |app| {
        app.state
            .diary
            .day()
            .is_some_and(|d| d.as_ref().is_ok_and(|d| !d.segments.is_empty()))
    });
    let label =
        "Segment 10:00–10:10, Backend development, disputed by the client: not this project";
    w.open_segment(label);
    w.harness
        .get_by_label("Disputed by the client: Not this project");
}
