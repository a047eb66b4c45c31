//! Screenshots and activity against a private Xvfb (P1–P3): known content
//! captured pixel-true, a black screen flagged, two monitors in one image,
//! no display giving a typed error while tracking goes on, and input
//! injected with xdotool marking exactly its sub-slot active. Without Xvfb
//! and xdotool these skip loudly, unless `TIMECARD_REQUIRE_DISPLAY=1`.

use crate::common;

use std::process::Command;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::xvfb::{Xvfb, tools_present};
use common::*;
use timecard_client::activity::x11::X11Activity;
use timecard_client::cache::Cache;
use timecard_client::capture::x11::X11Screen;
use timecard_client::capture::{CaptureError, ScreenSource};
use timecard_client::worker::{Tracker, TrackerConfig};
use timecard_core::domain::SegmentGrid;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, WindowClass};

/// Puts solid rectangles (as plain X windows) on the screen and keeps the
/// connection open so they stay.
fn paint(
    display: &str,
    rects: &[(i16, i16, u16, u16, u32)],
) -> x11rb::rust_connection::RustConnection {
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let depth = conn.setup().roots[screen].root_depth;
    for &(x, y, w, h, rgb) in rects {
        let id = conn.generate_id().unwrap();
        conn.create_window(
            depth,
            id,
            root,
            x,
            y,
            w,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new()
                .background_pixel(rgb)
                .override_redirect(1),
        )
        .unwrap();
        conn.map_window(id).unwrap();
    }
    // A round trip: everything above has been processed and drawn.
    conn.get_input_focus().unwrap().reply().unwrap();
    conn
}

/// (R, G, B) at (x, y) of a BGRX frame.
fn rgb(frame: &timecard_client::capture::frame::Frame, x: u32, y: u32) -> (u8, u8, u8) {
    let i = ((y * frame.width + x) * 4) as usize;
    (frame.bgrx[i + 2], frame.bgrx[i + 1], frame.bgrx[i])
}

#[test]
fn known_content_is_captured_pixel_true() {
    if !tools_present(&["Xvfb"]) {
        return;
    }
    let x = Xvfb::start("1280x800x24");
    let _painted = paint(
        &x.display,
        &[
            (100, 100, 200, 150, 0xff0000),
            (600, 400, 100, 100, 0x00ff00),
        ],
    );
    let mut screen = X11Screen::new(Some(x.display.clone()), 80, 1920);
    let frame = screen.grab().unwrap();
    assert_eq!((frame.width, frame.height), (1280, 800));
    assert_eq!(rgb(&frame, 150, 150), (255, 0, 0));
    assert_eq!(rgb(&frame, 650, 450), (0, 255, 0));
    assert_eq!(rgb(&frame, 50, 50), (0, 0, 0));
    assert!(!frame.is_black());
    // The stored JPEG still shows the regions (within JPEG error).
    let captured = screen.capture().unwrap().unwrap();
    let decoded = image::load_from_memory(&captured.jpeg).unwrap().to_rgb8();
    let red = decoded.get_pixel(200, 170).0;
    assert!(red[0] > 220 && red[1] < 40 && red[2] < 40, "{red:?}");
    let green = decoded.get_pixel(650, 450).0;
    assert!(green[1] > 220 && green[0] < 40, "{green:?}");
    assert_eq!((captured.width, captured.height), (1280, 800));
    let thumb = image::load_from_memory(&captured.thumbnail).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 200));
}

// P2: a desktop that really is black (Xvfb's root, nothing on it) is a
// black picture, stored without a warning: the root window's own pixels
// are black too. A black frame of a screen that is not black is a failed
// capture, said so.
#[test]
fn black_desktop_is_stored_and_a_black_capture_of_a_lit_screen_is_flagged() {
    if !tools_present(&["Xvfb", "xsetroot"]) {
        return;
    }
    let x = Xvfb::start("800x600x24");
    let mut screen = X11Screen::new(Some(x.display.clone()), 80, 1920);
    assert!(
        screen.grab().unwrap().is_black(),
        "Xvfb's root starts black"
    );
    let captured = screen
        .capture()
        .expect("a black desktop is no failure")
        .expect("a picture");
    assert_eq!((captured.width, captured.height), (800, 600));
    let black = timecard_client::capture::frame::Frame {
        width: 800,
        height: 600,
        bgrx: vec![0; 800 * 600 * 4],
    };
    screen
        .judge(&black)
        .expect("black frame of a black desktop");

    // The root painted: a black frame now disagrees with the screen.
    let status = Command::new("xsetroot")
        .args(["-display", &x.display, "-solid", "#336699"])
        .status()
        .unwrap();
    assert!(status.success());
    let lit = screen.grab().unwrap();
    assert!(!lit.is_black());
    assert_eq!(rgb(&lit, 400, 300), (0x33, 0x66, 0x99));
    assert!(screen.capture().unwrap().is_some());
    match screen.judge(&black) {
        Err(e @ CaptureError::Black(_)) => {
            let said = e.to_string();
            assert!(said.contains("came out black"), "{said}");
            assert!(said.contains("although the screen is not"), "{said}");
        }
        other => panic!("expected a black-frame error, got {other:?}"),
    }
}

// P2 for the command line: `timecard capture` warns of a black picture
// only when the screen is not black itself.
#[test]
fn capture_command_warns_only_when_the_screen_is_not_black() {
    if !tools_present(&["Xvfb"]) {
        return;
    }
    let x = Xvfb::start("640x480x24");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_timecard"))
        .args(["capture", "--source", "x11", "--quality", "80", "--out"])
        .arg(dir.path().join("shot.jpg"))
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .env("TIMECARD_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        !said.contains("black"),
        "a black desktop is no warning: {said}"
    );
    assert!(dir.path().join("shot.jpg").exists());
}

// P1: two monitors side by side give one image of the combined size (the
// root window spans them), with what is on each half.
#[test]
fn two_monitors_make_one_image() {
    if !tools_present(&["Xvfb", "xrandr"]) {
        return;
    }
    let x = Xvfb::start("3840x1080x24");
    for (name, geometry) in [
        ("left", "1920/508x1080/286+0+0"),
        ("right", "1920/508x1080/286+1920+0"),
    ] {
        let status = Command::new("xrandr")
            .args([
                "--display",
                &x.display,
                "--setmonitor",
                name,
                geometry,
                "none",
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let _painted = paint(
        &x.display,
        &[(100, 100, 50, 50, 0x0000ff), (2000, 500, 50, 50, 0xffff00)],
    );
    let mut screen = X11Screen::new(Some(x.display.clone()), 80, 4000);
    // RandR reports both monitors (beside the output's own, whole-screen one).
    let monitors = screen.monitors().unwrap();
    assert!(
        monitors.contains(&(0, 0, 1920, 1080)) && monitors.contains(&(1920, 0, 1920, 1080)),
        "{monitors:?}"
    );
    let frame = screen.grab().unwrap();
    assert_eq!((frame.width, frame.height), (3840, 1080));
    assert_eq!(rgb(&frame, 120, 120), (0, 0, 255));
    assert_eq!(rgb(&frame, 2020, 520), (255, 255, 0));
}

// No display: a typed error in plain words, and tracking goes on without
// screenshots (the segment says why).
#[test]
fn no_display_is_a_typed_error_and_tracking_continues() {
    let mut screen = X11Screen::new(Some(":9999".into()), 80, 1920);
    let err = screen.capture().unwrap_err();
    assert!(matches!(err, CaptureError::NoDisplay(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("cannot connect to the X server :9999"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (cache, _) = Cache::open(dir.path(), 86400).unwrap();
    let mut config = TrackerConfig::new("dev");
    config.seed = 1;
    let mut t = Tracker::new(
        config,
        cache,
        Box::new(X11Screen::new(Some(":9999".into()), 80, 1920)),
        Box::new(timecard_client::activity::NoActivity),
    );
    let start = at("2026-11-25T09:00:00Z");
    t.set_contracts(list(vec![hourly("c1", None)]), start);
    t.start("c1", start).unwrap();
    t.tick(start + Duration::minutes(10));
    t.stop(start + Duration::minutes(10));
    let id = t.cache().pending().next().unwrap().id;
    let segment = t.cache().load(id).unwrap();
    assert_eq!(segment.duration_secs(), 600);
    assert!(segment.screenshot.is_none());
    assert!(
        segment
            .capture_note
            .unwrap()
            .starts_with("capture unavailable: no display")
    );
}

// P3: input injected with xdotool during one sub-slot marks exactly that
// sub-slot active; the others stay inactive.
#[test]
fn injected_input_marks_its_sub_slot() {
    if !tools_present(&["Xvfb", "xdotool"]) {
        return;
    }
    let x = Xvfb::start("800x600x24");
    let mut probe = X11Activity::new(Some(x.display.clone()));
    assert!(probe.idle_ms().is_some(), "MIT-SCREEN-SAVER must answer");

    // A 10-second grid: one-second sub-slots, so the test takes seconds.
    let grid = SegmentGrid::new(10).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cache, _) = Cache::open(dir.path(), 86400).unwrap();
    let mut config = TrackerConfig::new("dev");
    config.grid = grid;
    let mut t = Tracker::new(
        config,
        cache,
        Box::new(timecard_client::capture::NoScreenshots),
        Box::new(X11Activity::new(Some(x.display.clone()))),
    );
    let now = || Utc::now().trunc_subsecs(0);
    t.set_contracts(list(vec![hourly("c1", None)]), now());
    // The cell we look at starts after the server's own start-up "input".
    let cell = grid.cell_end(now() + Duration::seconds(2));
    let deadline = Instant::now() + StdDuration::from_secs(40);
    let wait_until = |t_: DateTime<Utc>| {
        while Utc::now() < t_ {
            assert!(Instant::now() < deadline);
            std::thread::sleep(StdDuration::from_millis(20));
        }
    };
    t.start("c1", now()).unwrap();
    let mut injected = false;
    while Utc::now() < cell + Duration::seconds(11) {
        assert!(Instant::now() < deadline, "the test ran too long");
        let n = Utc::now();
        if !injected && n >= cell + Duration::milliseconds(3300) {
            for pos in ["10 10", "20 20", "30 30"] {
                let mut args = vec!["mousemove"];
                args.extend(pos.split(' '));
                Command::new("xdotool")
                    .args(&args)
                    .env("DISPLAY", &x.display)
                    .status()
                    .unwrap();
            }
            injected = true;
        }
        t.tick(now());
        wait_until(n + Duration::milliseconds(200));
    }
    t.stop(now());
    let entry = t
        .cache()
        .pending()
        .find(|e| e.start == cell)
        .cloned()
        .expect("the observed cell was cached");
    let segment = t.cache().load(entry.id).unwrap();
    let active: Vec<usize> = (0..10).filter(|&i| segment.activity.is_active(i)).collect();
    assert_eq!(active, vec![3], "only the sub-slot with input is active");
}

/// Moves the pointer on `display`: one real input event for the X server.
fn nudge(display: &str) {
    common::xvfb::xdotool(display, &["mousemove", "40", "40"]);
    common::xvfb::xdotool(display, &["mousemove", "60", "60"]);
}

// S5 on the real X server and the real clock: with no input the idle period
// stays open (the counter's instant must not jitter into a false "back"),
// the return is the second of the first input, and discarding cuts exactly
// that span out of the cached time.
#[test]
fn idle_is_seen_and_discarded_exactly_on_the_real_clock() {
    if !tools_present(&["Xvfb", "xdotool"]) {
        return;
    }
    let x = Xvfb::start("800x600x24");
    let dir = tempfile::tempdir().unwrap();
    let (cache, _) = Cache::open(dir.path(), 86400).unwrap();
    let mut config = TrackerConfig::new("dev");
    config.idle_threshold_secs = 3;
    let mut t = Tracker::new(
        config,
        cache,
        Box::new(timecard_client::capture::NoScreenshots),
        Box::new(X11Activity::new(Some(x.display.clone()))),
    );
    let now = || Utc::now().trunc_subsecs(0);
    let deadline = Instant::now() + StdDuration::from_secs(60);
    let tick_until = |t: &mut Tracker, until: DateTime<Utc>| {
        while Utc::now() < until {
            assert!(Instant::now() < deadline, "the test ran too long");
            t.tick(now());
            std::thread::sleep(StdDuration::from_millis(50));
        }
    };
    t.set_contracts(list(vec![hourly("c1", None)]), now());
    nudge(&x.display);
    let started = now();
    t.start("c1", started).unwrap();
    // Three seconds without input, then three more sampled every 50 ms.
    tick_until(&mut t, started + Duration::seconds(6));
    let idle = t
        .snapshot(now())
        .idle
        .expect("idle after 3 s without input");
    assert_eq!(idle.since, started, "idle from the start of the session");
    assert_eq!(idle.returned, None, "no input yet: not back from idle");
    let back = Utc::now();
    nudge(&x.display);
    tick_until(&mut t, back + Duration::seconds(2));
    let idle = t.snapshot(now()).idle.expect("still asking");
    let returned = idle.returned.expect("the input ended the idle period");
    assert!(
        (returned - back.trunc_subsecs(0)).num_seconds().abs() <= 1,
        "back at {returned}, input at {back}"
    );
    tick_until(&mut t, returned + Duration::seconds(4));
    let end = now();
    let span = t.resolve_idle(false, end).expect("an idle period");
    assert_eq!(span, (started, returned));
    t.stop(end);
    let cached: i64 = t.cache().pending().map(|e| e.duration_secs()).sum();
    assert_eq!(
        cached,
        (end - returned).num_seconds(),
        "only the time after the return is kept"
    );
    assert!(
        t.cache()
            .pending()
            .all(|e| e.start >= returned && e.end <= end)
    );
}

// S5 through the command line, as a user runs it headless: with a
// one-minute threshold, `track --for 150s --on-idle discard` with the first
// input at 100 s bills the last 50 s and names the discarded span.
#[test]
fn track_on_idle_discard_bills_only_time_after_the_return() {
    if !tools_present(&["Xvfb", "xdotool"]) {
        return;
    }
    let x = Xvfb::start("800x600x24");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("settings.json"),
        r#"{"idle_threshold_mins": 1, "notifications": false}"#,
    )
    .unwrap();
    let track = common::cli::Tracking::start(
        dir.path(),
        &[
            "--contract",
            "demo-hourly",
            "--for",
            "150s",
            "--on-idle",
            "discard",
        ],
        Some(&x.display),
    );
    // Nothing for 100 s (the idle threshold is 60 s), then one input.
    let started = Instant::now();
    while started.elapsed() < StdDuration::from_secs(100) {
        std::thread::sleep(StdDuration::from_millis(200));
    }
    nudge(&x.display);
    let (status, text) = track.finish();
    assert!(status.success(), "{text}");
    assert!(
        text.contains("no keyboard or mouse input since"),
        "the idle period is announced:\n{text}"
    );
    let discarded = text
        .lines()
        .find(|l| l.contains("idle from") && l.contains("discarded"))
        .unwrap_or_else(|| panic!("the discarded span is named:\n{text}"));
    let tracked = text
        .lines()
        .find_map(|l| l.strip_prefix("Stopped. Tracked "))
        .unwrap_or_else(|| panic!("a summary line:\n{text}"));
    let secs = |hms: &str| -> i64 {
        let parts: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
        parts[0] * 3600 + parts[1] * 60 + parts[2]
    };
    let billed = secs(tracked.split_whitespace().next().unwrap());
    assert!(
        (45..=55).contains(&billed),
        "billed {billed} s, expected about 50 ({discarded})\n{text}"
    );
    // What the server holds agrees with the summary.
    assert_eq!(common::cli::diary_total_secs(dir.path()), billed, "{text}");
}
