//! Screenshots on Wayland through wlr-screencopy, against a real headless
//! Sway (issue 15): the picture is the fixture on screen, pixel for pixel
//! within JPEG error; two outputs compose into one picture in the layout.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::cli::{run, text};
use crate::common::picture::{decode, difference};
use crate::common::sway::Sway;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/screens/desktop-1920x1080.jpg"
);

/// `timecard capture` as a client of `sway` only (no X11).
fn capture(sway: &Sway, out: &Path, source: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
    command
        .args(["capture", "--quality", "100", "--out"])
        .arg(out)
        .args(source)
        .env_remove("DISPLAY")
        .envs(sway.env());
    run(&mut command, None)
}

#[test]
fn screencopy_is_pixel_true_and_composes_two_outputs() {
    let Some(sway) = Sway::start(
        "output HEADLESS-1 mode 1920x1080 position 0 0 bg $DIR/screen.jpg center\n",
        &[("screen.jpg", Path::new(FIXTURE))],
    ) else {
        return;
    };
    sway.msg(&["create_output"]);
    sway.msg(&[
        "output",
        "HEADLESS-2",
        "mode",
        "640x480",
        "position",
        "1920",
        "0",
        "bg",
        "#00ff00",
        "solid_color",
    ]);
    let fixture = decode(Path::new(FIXTURE));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("screen.jpg");
    // The backgrounds are drawn by swaybg after the outputs appear: wait
    // until both are on screen.
    let deadline = Instant::now() + Duration::from_secs(30);
    let picture = loop {
        let done = capture(&sway, &out, &["--source", "screencopy"]);
        assert!(done.status.success(), "{}", text(&done));
        let picture = decode(&out);
        let ready = picture.dimensions() == (2560, 1080)
            && picture.get_pixel(1920 + 320, 240).0[1] > 200
            && difference(&picture, (0, 0), &fixture, (1900, 1060)) < 8.0;
        if ready {
            break picture;
        }
        assert!(
            Instant::now() < deadline,
            "the outputs never showed their pictures: {:?}, {}",
            picture.dimensions(),
            sway.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // The first output is the fixture, within JPEG error.
    let error = difference(&picture, (0, 0), &fixture, (1900, 1060));
    assert!(error < 8.0, "mean difference {error}");
    // The second is green, right of it; below it, outside every output, black.
    let green = picture.get_pixel(1920 + 100, 100).0;
    assert!(
        green[1] > 230 && green[0] < 30 && green[2] < 30,
        "{green:?}"
    );
    let outside = picture.get_pixel(1920 + 100, 900).0;
    assert!(outside.iter().all(|c| *c < 20), "{outside:?}");
}

// With no choice given, a session with a wlroots compositor and no X11 is
// captured through screencopy.
#[test]
fn auto_chooses_screencopy_on_sway_without_x11() {
    let Some(sway) = Sway::start(
        "output HEADLESS-1 mode 800x600 bg #ff0000 solid_color\n",
        &[],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("auto.jpg");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = capture(&sway, &out, &[]);
        assert!(done.status.success(), "{}", text(&done));
        assert!(text(&done).contains("800×600"), "{}", text(&done));
        let red = decode(&out).get_pixel(400, 300).0;
        if red[0] > 230 && red[1] < 30 {
            break;
        }
        assert!(Instant::now() < deadline, "never red: {red:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// Neither Wayland nor X11: a clear error, not a panic.
#[test]
fn no_session_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none.jpg");
    let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
    command
        .args(["capture", "--quality", "80", "--out"])
        .arg(&out)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    let done = run(&mut command, None);
    assert!(!done.status.success());
    assert!(text(&done).contains("no X11 session"), "{}", text(&done));
    let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
    command
        .args([
            "capture",
            "--quality",
            "80",
            "--source",
            "screencopy",
            "--out",
        ])
        .arg(&out)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", dir.path());
    let done = run(&mut command, None);
    assert!(!done.status.success());
    assert!(
        text(&done).contains("no Wayland display"),
        "{}",
        text(&done)
    );
    assert!(!text(&done).contains("panicked"), "{}", text(&done));
}

// The window runs as a native Wayland client (xdg-shell, not XWayland)
// with no X11 display; a picture of it is taken with grim and kept in
// target/wayland-screens/ to be looked at.
#[test]
fn the_window_runs_natively_on_sway() {
    let Some(sway) = Sway::start(
        "output HEADLESS-1 mode 1280x800 bg #336699 solid_color\n",
        &[],
    ) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut window = Command::new(env!("CARGO_BIN_EXE_timecard"))
        .env_remove("DISPLAY")
        .envs(sway.env())
        .env("TIMECARD_DATA_DIR", data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the window");
    let deadline = Instant::now() + Duration::from_secs(60);
    let tree = loop {
        let tree = sway.msg(&["-t", "get_tree"]);
        if tree.contains("\"name\": \"Timecard\"") {
            break tree;
        }
        if let Ok(Some(status)) = window.try_wait() {
            panic!("the window exited ({status})");
        }
        assert!(Instant::now() < deadline, "no Timecard window in {tree}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        tree.contains("\"shell\": \"xdg_shell\""),
        "not native: {tree}"
    );
    assert!(!tree.contains("\"shell\": \"xwayland\""), "{tree}");
    // The first frames take a moment under software rendering: wait until
    // the window's dark background covers the middle of the screen.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wayland-screens");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("window.png");
    loop {
        let grim = Command::new("grim")
            .arg(&shot)
            .envs(sway.env())
            .output()
            .expect("run grim");
        assert!(
            grim.status.success(),
            "{}",
            String::from_utf8_lossy(&grim.stderr)
        );
        let picture = image::open(&shot).unwrap().to_rgb8();
        let middle = picture.get_pixel(640, 600).0;
        // Not the #336699 background: the window's own dark grey.
        if middle.iter().all(|c| *c < 60) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the window never drew: {middle:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A second launch asks this one to come forward (xdg-activation: the
    // compositor decides), says so, and leaves it running.
    let mut second = Command::new(env!("CARGO_BIN_EXE_timecard"));
    second
        .env_remove("DISPLAY")
        .envs(sway.env())
        .env("TIMECARD_DATA_DIR", data.path());
    let second = run(&mut second, None);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("asked to come forward"),
        "{}",
        text(&second)
    );
    assert!(
        window.try_wait().unwrap().is_none(),
        "the first window is still there"
    );
    let _ = window.kill();
    let _ = window.wait();
}

// Activity from the compositor's idle notifications: nothing is known
// before any input; a key typed into the seat (wtype, a virtual keyboard)
// is the last input, to the second; with no more input it stays so.
#[test]
fn idle_notifications_give_the_last_input_to_the_second() {
    use timecard_client::activity::ActivitySource;
    use timecard_client::activity::wayland::WaylandIdle;
    if !crate::common::xvfb::tools_present(&["wtype"]) {
        return;
    }
    let Some(sway) = Sway::start("output HEADLESS-1 mode 800x600\n", &[]) else {
        return;
    };
    let asked = chrono::Utc::now();
    let mut idle = WaylandIdle::new(Some(sway.runtime.path().join(&sway.display)));
    assert_eq!(
        idle.last_input(chrono::Utc::now()),
        None,
        "nothing known yet"
    );
    // Real time passes with no input: the compositor says the seat is
    // idle, so the last input was before the source was asked.
    std::thread::sleep(Duration::from_millis(1500));
    let none_since = idle.last_input(chrono::Utc::now()).expect("idle is known");
    assert!(none_since < asked, "{none_since} is not before {asked}");
    let before = chrono::Utc::now();
    let typed = Command::new("wtype")
        .arg("x")
        .envs(sway.env())
        .output()
        .expect("run wtype");
    assert!(
        typed.status.success(),
        "{}",
        String::from_utf8_lossy(&typed.stderr)
    );
    let after = chrono::Utc::now();
    let second = chrono::Duration::seconds(1);
    // Seen at once, and then, once the compositor says input stopped, the
    // moment of the key, to the second.
    let deadline = Instant::now() + Duration::from_secs(10);
    let settled = loop {
        let a = idle.last_input(chrono::Utc::now());
        std::thread::sleep(Duration::from_millis(300));
        let b = idle.last_input(chrono::Utc::now());
        if a.is_some() && a == b && a != Some(none_since) {
            break b.unwrap();
        }
        assert!(Instant::now() < deadline, "never settled: {a:?} {b:?}");
    };
    assert!(
        settled >= before - second && settled <= after + second,
        "last input {settled}, the key between {before} and {after}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        idle.last_input(chrono::Utc::now()),
        Some(settled),
        "no input since"
    );
}

// In process: the same capture as `timecard capture`, pixel for pixel.
#[test]
fn screencopy_in_process_matches_the_screen() {
    use timecard_client::capture::ScreenSource;
    use timecard_client::capture::screencopy::WlrScreencopy;
    let Some(sway) = Sway::start(
        "output HEADLESS-1 mode 640x480 bg #ff8000 solid_color\n",
        &[],
    ) else {
        return;
    };
    let mut source =
        WlrScreencopy::on_socket(Some(sway.runtime.path().join(&sway.display)), 80, 1920);
    let deadline = Instant::now() + Duration::from_secs(30);
    let frame = loop {
        let frame = source.grab().expect("a frame");
        let at = (240 * 640 + 320) * 4;
        // #ff8000 as B G R X.
        if frame.bgrx[at..at + 3] == [0x00, 0x80, 0xff] {
            break frame;
        }
        assert!(Instant::now() < deadline, "never orange");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((frame.width, frame.height), (640, 480));
    assert!(!frame.is_black());
    let captured = source.capture().unwrap().unwrap();
    assert_eq!((captured.width, captured.height), (640, 480));
    let thumb = image::load_from_memory(&captured.thumbnail).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240));
}

// Tracking in a Wayland session with no X11: `timecard track` against a
// real server takes real screenshots through screencopy, and the Work
// Diary lists them.
#[test]
fn tracking_on_sway_uploads_real_screenshots() {
    let Some(sway) = Sway::start(
        "output HEADLESS-1 mode 1920x1080 bg $DIR/screen.jpg center\n",
        &[("screen.jpg", Path::new(FIXTURE))],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_serving, app) = signed_in_app(dir.path());
    let wayland: Vec<(String, String)> = sway.env();
    let mut track = Command::new(env!("CARGO_BIN_EXE_timecard"));
    track
        .args(["track", "--contract", "work", "--for", "25s"])
        .env("TIMECARD_DATA_DIR", &app)
        .env_remove("DISPLAY")
        .envs(wayland);
    let tracked = run(&mut track, None);
    assert!(tracked.status.success(), "{}", text(&tracked));
    assert!(
        text(&tracked).contains("everything is uploaded"),
        "{}",
        text(&tracked)
    );
    let mut diary = Command::new(env!("CARGO_BIN_EXE_timecard"));
    diary
        .args(["diary", "--json"])
        .env("TIMECARD_DATA_DIR", &app)
        .env_remove("DISPLAY");
    let listed = run(&mut diary, None);
    assert!(listed.status.success(), "{}", text(&listed));
    let diary: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let segments = diary["segments"].as_array().expect("segments");
    let with_pictures = segments
        .iter()
        .filter(|s| s["has_screenshot"] == serde_json::Value::Bool(true))
        .count();
    // 25 s on a 10-second grid: at least two full segments, each with its
    // picture (no "capture unavailable").
    assert!(with_pictures >= 2, "{diary:#}");
    assert!(
        segments.iter().all(|s| s["capture_note"].is_null()),
        "{diary:#}"
    );
}

/// Programs of the desktop portal stack, started on a private session bus
/// for a compositor, stopped on drop.
struct PortalStack {
    children: Vec<std::process::Child>,
    bus: std::process::Child,
    address: String,
}

impl Drop for PortalStack {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        drop(self.bus.stdin.take());
        let _ = self.bus.wait();
    }
}

impl PortalStack {
    /// A bus whose services (xdg-desktop-portal, which starts its wlroots
    /// back-end and its GTK back-end, for the Access permission the
    /// Screenshot portal asks for) are started on demand in the
    /// compositor's session, and PipeWire, without which the wlroots
    /// back-end does not start.
    fn start(sway: &Sway) -> PortalStack {
        let mut session = sway.env();
        session.push(("XDG_CURRENT_DESKTOP".into(), "sway".into()));
        session.push(("GDK_BACKEND".into(), "wayland".into()));
        let (bus, address) = crate::common::dbus::session_bus_with(&session);
        let pipewire = Command::new("pipewire")
            .envs(session.iter().cloned())
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env_remove("DISPLAY")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start pipewire");
        // PipeWire is there once its socket is.
        let socket = sway.runtime.path().join("pipewire-0");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "pipewire made no socket");
            std::thread::sleep(Duration::from_millis(50));
        }
        PortalStack {
            children: vec![pipewire],
            bus,
            address,
        }
    }
}

// The real desktop portal (xdg-desktop-portal with its wlroots back-end)
// on the headless Sway: `timecard capture --source portal` gets the
// fixture on screen, within JPEG error.
#[test]
fn the_real_portal_captures_the_screen() {
    if !crate::common::xvfb::tools_present(&[
        "pipewire",
        "dbus-run-session",
        "/usr/libexec/xdg-desktop-portal",
        "/usr/libexec/xdg-desktop-portal-wlr",
        "/usr/libexec/xdg-desktop-portal-gtk",
    ]) {
        return;
    }
    let Some(sway) = Sway::start(
        "output HEADLESS-1 mode 1920x1080 bg $DIR/screen.jpg center\n",
        &[("screen.jpg", Path::new(FIXTURE))],
    ) else {
        return;
    };
    let stack = PortalStack::start(&sway);
    let fixture = decode(Path::new(FIXTURE));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("portal.jpg");
    // The portal starts its back-ends on first use and swaybg draws the
    // background after the output appears: ask until the picture is there.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
        command
            .args(["capture", "--source", "portal", "--quality", "100", "--out"])
            .arg(&out)
            .env("DBUS_SESSION_BUS_ADDRESS", &stack.address)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        let done = run(&mut command, None);
        if done.status.success() {
            let picture = decode(&out);
            if picture.dimensions() == (1920, 1080)
                && difference(&picture, (0, 0), &fixture, (1900, 1060)) < 8.0
            {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the portal never gave the screen: {}",
            text(&done)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

// The idle prompt with the compositor's notifications and the wall clock:
// with no input it starts at the start of tracking after the threshold,
// and a key typed into the seat ends it at that second.
#[test]
fn the_idle_prompt_on_sway_starts_and_ends_to_the_second() {
    use timecard_client::activity::wayland::WaylandIdle;
    use timecard_client::worker::{Tracker, TrackerConfig};
    if !crate::common::xvfb::tools_present(&["wtype"]) {
        return;
    }
    let Some(sway) = Sway::start("output HEADLESS-1 mode 800x600\n", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cache, _) = timecard_client::cache::Cache::open(dir.path(), 24 * 3600).unwrap();
    let mut config = TrackerConfig::new("dev");
    config.idle_threshold_secs = 3;
    let mut tracker = Tracker::new(
        config,
        cache,
        Box::new(timecard_client::capture::NoScreenshots),
        Box::new(WaylandIdle::new(Some(
            sway.runtime.path().join(&sway.display),
        ))),
    );
    let started = chrono::Utc::now();
    tracker.set_contracts(
        crate::common::list(vec![crate::common::hourly("c1", None)]),
        started,
    );
    tracker.start("c1", started).unwrap();
    let second = chrono::Duration::seconds(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let idle = loop {
        let now = chrono::Utc::now();
        tracker.tick(now);
        if let Some(idle) = tracker.snapshot(now).idle {
            assert!(
                now - started >= chrono::Duration::seconds(3),
                "idle after {} s",
                (now - started).num_seconds()
            );
            break idle;
        }
        assert!(Instant::now() < deadline, "never idle");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        (idle.since - started).abs() <= second,
        "idle since {}, tracking started {started}",
        idle.since
    );
    let typed = chrono::Utc::now();
    let wtype = Command::new("wtype")
        .arg("x")
        .envs(sway.env())
        .output()
        .expect("run wtype");
    assert!(wtype.status.success());
    let returned = loop {
        let now = chrono::Utc::now();
        tracker.tick(now);
        if let Some(returned) = tracker.snapshot(now).idle.and_then(|i| i.returned) {
            break returned;
        }
        assert!(Instant::now() < deadline, "the return was not seen");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        (returned - typed).abs() <= second,
        "back at {returned}, the key at {typed}"
    );
}

/// A server on a 10-second grid with `ann` and her contract `work`, and an
/// app data folder signed in to it.
fn signed_in_app(dir: &Path) -> (crate::common::serving::Serving, std::path::PathBuf) {
    use crate::common::serving::{ann_with_work, quiet_app};
    let server_data = dir.join("server");
    let serving = ann_with_work(&server_data);
    let app = quiet_app(dir);
    let signed = crate::common::cli::sign_in(
        &app,
        &serving.url,
        &server_data.join("tls/cert.pem"),
        "ann",
        "a long password",
        &[],
    );
    assert!(signed.status.success(), "{}", text(&signed));
    (serving, app)
}

// Neither Wayland nor X11: tracking goes on, every segment is kept and
// uploaded with the reason it has no picture.
#[test]
fn tracking_with_no_session_keeps_the_time_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (_serving, app) = signed_in_app(dir.path());
    let mut track = Command::new(env!("CARGO_BIN_EXE_timecard"));
    track
        .args(["track", "--contract", "work", "--for", "25s"])
        .env("TIMECARD_DATA_DIR", &app)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    let tracked = run(&mut track, None);
    assert!(tracked.status.success(), "{}", text(&tracked));
    assert!(
        text(&tracked).contains("everything is uploaded"),
        "{}",
        text(&tracked)
    );
    let mut diary = Command::new(env!("CARGO_BIN_EXE_timecard"));
    diary
        .args(["diary", "--json"])
        .env("TIMECARD_DATA_DIR", &app)
        .env_remove("DISPLAY");
    let listed = run(&mut diary, None);
    let diary: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let segments = diary["segments"].as_array().expect("segments");
    let total: i64 = crate::common::cli::diary_total(&diary);
    assert!(total >= 24, "the time is kept: {diary:#}");
    let noted = segments
        .iter()
        .filter(|s| {
            s["capture_note"]
                .as_str()
                .is_some_and(|n| n.contains("neither WAYLAND_DISPLAY nor DISPLAY"))
        })
        .count();
    assert!(noted >= 2, "{diary:#}");
}
