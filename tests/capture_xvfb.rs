//! Screenshots and activity against a private Xvfb (P1–P3): known content
//! captured pixel-true, a black screen flagged, two monitors in one image,
//! no display giving a typed error while tracking goes on, and input
//! injected with xdotool marking exactly its sub-slot active. Without Xvfb
//! and xdotool these skip loudly, unless `TIMECARD_REQUIRE_DISPLAY=1`.

mod common;

use std::process::Command;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::xvfb::{Xvfb, tools_present};
use common::*;
use timecard::activity::x11::X11Activity;
use timecard::cache::Cache;
use timecard::capture::x11::X11Screen;
use timecard::capture::{CaptureError, ScreenSource};
use timecard::domain::SegmentGrid;
use timecard::worker::{Tracker, TrackerConfig};
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
fn rgb(frame: &timecard::capture::frame::Frame, x: u32, y: u32) -> (u8, u8, u8) {
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

// P2: a black screen is flagged, not stored as a picture.
#[test]
fn black_screen_is_flagged() {
    if !tools_present(&["Xvfb"]) {
        return;
    }
    let x = Xvfb::start("800x600x24");
    let mut screen = X11Screen::new(Some(x.display.clone()), 80, 1920);
    match screen.capture() {
        Err(e @ CaptureError::Black(_)) => {
            let said = e.to_string();
            assert!(said.contains("came out black"), "{said}");
            assert!(said.contains("screen recording may be blocked"), "{said}");
        }
        other => panic!("expected a black-frame error, got {other:?}"),
    }
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
        Box::new(timecard::activity::NoActivity),
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
        Box::new(timecard::capture::NoScreenshots),
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
