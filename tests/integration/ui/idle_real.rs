//! S5 in the window with a real session's input and the wall clock (the
//! X server's idle counter under Xvfb, the compositor's idle notifications
//! under headless Sway): the idle threshold changed in Settings applies
//! without a restart, the idle period shows on the Tracker screen and in
//! the mini view, the return brings the question, and after *Discard* the
//! timer, Today and This week agree.

use super::*;
use crate::common::xvfb::{Xvfb, tools_present, xdotool};
use timecard_client::activity::ActivitySource;
use timecard_client::activity::wayland::WaylandIdle;
use timecard_client::activity::x11::X11Activity;

#[test]
fn a_new_idle_threshold_applies_at_once_on_the_real_x_server() {
    if !tools_present(&["Xvfb", "xdotool"]) {
        return;
    }
    let x = Xvfb::start("800x600x24");
    let display = x.display.clone();
    threshold_applies_at_once(Box::new(X11Activity::new(Some(x.display.clone()))), &|| {
        xdotool(&display, &["mousemove", "40", "40"]);
        xdotool(&display, &["mousemove", "60", "60"]);
    });
}

#[test]
fn a_new_idle_threshold_applies_at_once_on_sway() {
    if !tools_present(&["wtype"]) {
        return;
    }
    let Some(sway) = crate::common::sway::Sway::start("output HEADLESS-1 mode 800x600\n", &[])
    else {
        return;
    };
    let source = WaylandIdle::new(Some(sway.runtime.path().join(&sway.display)));
    threshold_applies_at_once(Box::new(source), &|| {
        let typed = std::process::Command::new("wtype")
            .arg("x")
            .envs(sway.env())
            .output()
            .expect("run wtype");
        assert!(
            typed.status.success(),
            "{}",
            crate::common::cli::text(&typed)
        );
    });
}

/// The scenario with `activity` as the window's input source and `nudge`
/// making one real input event in its session.
fn threshold_applies_at_once(activity: Box<dyn ActivitySource>, nudge: &dyn Fn()) {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::at(dir.path().join("data")).unwrap();
    let settings = Settings {
        time_zone: Some("UTC".into()),
        idle_threshold_mins: 30,
        ..Settings::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(timecard_core::clock::SystemClock);
    let engine = Engine::start(
        &data,
        &settings,
        clock.clone(),
        Box::new(NoScreenshots),
        activity,
        timecard::builtin::local_server(),
    )
    .unwrap();
    let harness = Harness::builder()
        .with_size([900.0, 900.0])
        .build_eframe(move |cc| TimecardApp::new(engine, data, settings, &cc.egui_ctx));
    let mut w = Window {
        harness,
        clock: ManualClock::new(chrono::Utc::now()),
        _dir: dir,
    };
    w.until("the contract list", |app| {
        !app.latest().contracts.is_empty()
    });
    // The worker looks at the input every second while tracking; the
    // window repaints once a second while a timer shows.
    let wait = |w: &mut Window, what: &str, secs: u64, ready: &dyn Fn(&TimecardApp) -> bool| {
        let deadline = Instant::now() + StdDuration::from_secs(secs);
        while !ready(w.harness.state()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:#?}",
                w.harness.state().latest()
            );
            w.harness
                .state()
                .wait_for_worker(StdDuration::from_millis(500));
            w.harness.step();
        }
        w.harness.step();
        w.harness.step();
    };
    nudge();
    w.click("Start");
    w.until("tracking", |app| tracking(app).is_some());
    // A few seconds of work, then no input: the last input is the idle start.
    std::thread::sleep(StdDuration::from_secs(3));
    nudge();
    let last_input = chrono::Utc::now();
    // One minute instead of thirty, saved while tracking — no restart.
    w.click("Settings");
    w.harness.state_mut().state.edited.idle_threshold_mins = 1;
    w.click("Save settings");
    w.click("Tracker");
    wait(&mut w, "idle under the new threshold", 90, &|app| {
        app.latest().idle.is_some()
    });
    let idle = w.harness.state().latest().idle.clone().unwrap();
    assert!(
        (idle.since - last_input).num_seconds().abs() <= 1,
        "idle since {}, the last input at {last_input}",
        idle.since
    );
    let line = format!("Idle since {}", idle.since.format("%H:%M"));
    w.harness.get_by_label(&line);
    w.harness.state_mut().state.mini = true;
    w.harness.step();
    w.harness.step();
    assert_eq!(
        w.harness.query_all_by_label(&line).count(),
        2,
        "the window and the mini view say it"
    );
    w.harness.state_mut().state.mini = false;
    nudge();
    wait(&mut w, "the return", 20, &|app| {
        app.latest()
            .idle
            .as_ref()
            .is_some_and(|i| i.returned.is_some())
    });
    w.harness.get_by_label("You were idle");
    w.click("Discard idle time");
    wait(&mut w, "the answer", 20, &|app| app.latest().idle.is_none());
    let snapshot = w.harness.state().latest();
    let now = chrono::Utc::now();
    let timer = snapshot.session_secs(now);
    let today = snapshot.today_total_secs(now);
    let week =
        snapshot.contract("demo-hourly").unwrap().week_logged_secs + snapshot.running_secs(now);
    assert_eq!(timer, today, "{snapshot:#?}");
    assert_eq!(timer, week, "{snapshot:#?}");
    assert!(
        timer < 30,
        "the idle minute is gone: {timer} s remain of {} s",
        (now - idle.since).num_seconds()
    );
}
