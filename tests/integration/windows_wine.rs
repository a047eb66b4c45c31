//! The Windows build under Wine on a private Xvfb (issue 16): real
//! `timecard.exe` and `timecard-server.exe` binaries, cross-built here,
//! talking to Linux programs. Wine's desktop is the X screen, so GDI reads
//! what Xvfb shows, and `xdotool` input on a Wine window is input to
//! Windows' `GetLastInputInfo`.
//!
//! What only a real Windows shows (DPI scaling, several monitors with
//! negative origins, the secure desktop, Defender, NTFS access lists) is
//! listed in the README's Windows section.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::common::cli::{run, text};
use crate::common::picture::{decode, difference};
use crate::common::serving::{ann_with_work, quiet_app};
use crate::common::wine::Wine;
use crate::common::xvfb::{Killed, Xvfb, tools_present, wait_until, xdotool};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/screens/desktop-1920x1080.jpg"
);

fn wine() -> Option<&'static Wine> {
    if !tools_present(&["Xvfb", "xdotool", "import"]) {
        return None;
    }
    Wine::get()
}

/// Shows the fixture full-screen in an X window of its own (Wine's desktop
/// may paint the root window over), whose background is a pixmap holding
/// the picture, so the server redraws it whatever covers it; and waits
/// until the X server shows it. The window lasts as long as the returned
/// connection.
fn show_fixture(display: &str) -> x11rb::rust_connection::RustConnection {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{
        ConnectionExt as _, CreateGCAux, CreateWindowAux, ImageFormat, WindowClass,
    };
    let fixture = decode(Path::new(FIXTURE));
    let (width, height) = fixture.dimensions();
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let depth = conn.setup().roots[screen].root_depth;
    let pixmap = conn.generate_id().unwrap();
    conn.create_pixmap(depth, pixmap, root, width as u16, height as u16)
        .unwrap();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, pixmap, &CreateGCAux::new()).unwrap();
    // Strips small enough for a request without BIG-REQUESTS.
    let rows = 30;
    for top in (0..height).step_by(rows as usize) {
        let strip = rows.min(height - top);
        let mut bgrx = Vec::with_capacity((width * strip * 4) as usize);
        for y in top..top + strip {
            for x in 0..width {
                let [r, g, b] = fixture.get_pixel(x, y).0;
                bgrx.extend_from_slice(&[b, g, r, 0]);
            }
        }
        conn.put_image(
            ImageFormat::Z_PIXMAP,
            pixmap,
            gc,
            width as u16,
            strip as u16,
            0,
            top as i16,
            0,
            depth,
            &bgrx,
        )
        .unwrap();
    }
    let window = conn.generate_id().unwrap();
    conn.create_window(
        depth,
        window,
        root,
        0,
        0,
        width as u16,
        height as u16,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new()
            .background_pixmap(pixmap)
            .override_redirect(1),
    )
    .unwrap();
    conn.map_window(window).unwrap();
    conn.get_input_focus().unwrap().reply().unwrap();
    let want = fixture.get_pixel(100, 100).0;
    wait_until("the fixture on screen", Duration::from_secs(10), || {
        crate::common::xvfb::pixel(display, 100, 100) == Some((want[0], want[1], want[2]))
    });
    conn
}

// The unit tests of every crate, as Windows programs.
#[test]
fn unit_tests_pass_under_wine() {
    let Some(wine) = wine() else { return };
    let _session = wine.session();
    let x = Xvfb::start("1280x800x24");
    let out = wine.cargo_with(
        &["test", "--release", "--workspace", "--lib", "--bins"],
        &[("DISPLAY", x.display.as_str())],
    );
    let printed = text(&out);
    let passed: usize = printed
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    // Every crate's tests ran (the Windows-only ones among them).
    assert!(passed >= 100, "only {passed} tests ran:\n{printed}");
    for name in [
        "activity::windows::tests::this_session_answers",
        "platform::instance::tests::second_acquire_names_the_holder_and_a_dropped_guard_frees_the_lock",
        "fs::private::tests::a_private_folder_takes_files_and_can_be_restricted_again",
    ] {
        assert!(
            printed.contains(&format!("test {name} ... ok")),
            "{name}:\n{printed}"
        );
    }
}

// `timecard.exe capture` reads the X screen through GDI, pixel-true.
#[test]
fn capture_under_wine_is_pixel_true() {
    let Some(wine) = wine() else { return };
    let _session = wine.session();
    let x = Xvfb::start("1920x1080x24");
    // Wine's desktop first, then the picture on it.
    let started = run(
        wine.command("timecard.exe", &x.display).arg("--version"),
        None,
    );
    assert!(started.status.success(), "{}", text(&started));
    let _fixture = show_fixture(&x.display);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("screen.jpg");
    let taken = run(
        wine.command("timecard.exe", &x.display)
            .args(["capture", "--quality", "100", "--out"])
            .arg(&out),
        None,
    );
    assert!(taken.status.success(), "{}", text(&taken));
    assert!(text(&taken).contains("1920×1080"), "{}", text(&taken));
    let picture = decode(&out);
    assert_eq!(picture.dimensions(), (1920, 1080));
    let error = difference(&picture, (0, 0), &decode(Path::new(FIXTURE)), (1900, 1060));
    assert!(error < 8.0, "mean difference {error}");
    // The Linux source names are refused with the reason.
    let refused = run(
        wine.command("timecard.exe", &x.display)
            .args(["capture", "--source", "x11", "--out"])
            .arg(&out),
        None,
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("Windows uses GDI"),
        "{}",
        text(&refused)
    );
}

// `timecard.exe login` and `track --for 30s` against a Linux server over
// TLS: the segments land with their screenshots, and input typed into a
// Windows program marks exactly its sub-slot active.
#[test]
fn tracking_under_wine_uploads_segments_with_screenshots_and_activity() {
    let Some(wine) = wine() else { return };
    let _session = wine.session();
    let x = Xvfb::start("1920x1080x24");
    let dir = tempfile::tempdir().unwrap();
    let serving = ann_with_work(&dir.path().join("server"));
    let app = quiet_app(dir.path());
    let timecard = |args: &[&str], stdin: Option<&str>| {
        run(
            wine.command("timecard.exe", &x.display)
                .args(args)
                .env("TIMECARD_DATA_DIR", &app),
            stdin,
        )
    };
    let ca = dir.path().join("server/tls/cert.pem");
    let signed = timecard(
        &[
            "login",
            "--server",
            &serving.url,
            "--ca",
            ca.to_str().unwrap(),
            "--user",
            "ann",
            "--password-stdin",
        ],
        Some("a long password"),
    );
    assert!(signed.status.success(), "{}", text(&signed));

    // A Windows program to type into: Wine's Notepad.
    let _notepad = Killed(
        Command::new("wine")
            .arg("notepad")
            .envs(wine.env())
            .env("DISPLAY", &x.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let notepad = wait_for_window(&x.display, "Notepad");

    let mut track = wine.command("timecard.exe", &x.display);
    track
        .args(["track", "--contract", "work", "--for", "30s"])
        .env("TIMECARD_DATA_DIR", &app)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let tracking = track.spawn().unwrap();
    // Input well inside the run, on the wall clock.
    while started.elapsed() < Duration::from_secs(14) {
        std::thread::sleep(Duration::from_millis(100));
    }
    xdotool(&x.display, &["mousemove", "--window", &notepad, "40", "60"]);
    xdotool(&x.display, &["mousemove", "--window", &notepad, "90", "80"]);
    let typed = Utc::now();
    let tracked = tracking.wait_with_output().unwrap();
    assert!(tracked.status.success(), "{}", text(&tracked));
    assert!(
        text(&tracked).contains("everything is uploaded"),
        "{}",
        text(&tracked)
    );

    // What the Linux server has.
    let listed = timecard(&["diary", "--json"], None);
    assert!(listed.status.success(), "{}", text(&listed));
    let diary: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let segments = diary["segments"].as_array().expect("segments");
    let with_pictures = segments
        .iter()
        .filter(|s| s["has_screenshot"] == serde_json::Value::Bool(true))
        .count();
    assert!(with_pictures >= 2, "{diary:#}");
    assert!(
        segments.iter().all(|s| s["capture_note"].is_null()),
        "{diary:#}"
    );
    // The input's sub-slot (one second on a 10-s grid) is active, within
    // a second either way; nothing before it is.
    let mut active: Vec<DateTime<Utc>> = Vec::new();
    for s in segments {
        let start: DateTime<Utc> = s["start"].as_str().unwrap().parse().unwrap();
        let mask = s["activity"].as_u64().unwrap();
        active.extend(
            (0..10)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| start + chrono::Duration::seconds(i)),
        );
    }
    let second = chrono::Duration::seconds(1);
    assert!(
        active.iter().all(|t| *t >= typed - second * 2),
        "activity before any input (input at {typed}): {active:?}\n{diary:#}"
    );
    assert!(
        active.iter().any(|t| *t <= typed + second),
        "the input at {typed} is not in the activity: {active:?}\n{diary:#}"
    );
}

/// Waits for a window whose name contains `name`; its X id.
fn wait_for_window(display: &str, name: &str) -> String {
    let mut id = String::new();
    wait_until(name, Duration::from_secs(60), || {
        let out = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", name])
            .env("DISPLAY", display)
            .output()
            .unwrap();
        id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        !id.is_empty()
    });
    id
}

// The window opens (WGL through Mesa under Wine), with the built-in local
// server; a second launch brings it forward through the named pipe. The
// picture is kept in target/tmp/wine-screens/ to be looked at.
#[test]
fn the_window_opens_under_wine_and_a_second_launch_asks_it_forward() {
    let Some(wine) = wine() else { return };
    let _session = wine.session();
    let x = Xvfb::start("1280x800x24");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _window = Killed(
        wine.command("timecard.exe", &x.display)
            .env("TIMECARD_DATA_DIR", &data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let window = wait_for_window(&x.display, "Timecard");
    // Drawn: the status line names the built-in server.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wine-screens");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("window.png");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        crate::common::xvfb::screenshot(&x.display, &shot);
        let picture = image::open(&shot).unwrap().to_rgb8();
        // The window's light background fills most of its area.
        let light = picture
            .pixels()
            .filter(|p| p.0.iter().all(|c| *c > 230))
            .count();
        if light > 100_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the window never drew ({light} light pixels)"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // D8: the notification-area icon is made (Wine's explorer is the
    // taskbar), or its failure is logged and the window runs on.
    let log = data.join("logs").join("timecard.log");
    let mut tray_line = String::new();
    wait_until("the tray icon's log line", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        tray_line = text
            .lines()
            .find(|l| {
                l.contains("tray icon created in the notification area")
                    || l.contains("no tray icon")
                    || l.contains("no notification area yet")
            })
            .unwrap_or("")
            .to_owned();
        !tray_line.is_empty()
    });
    assert!(
        tray_line.contains("tray icon created in the notification area"),
        "the tray icon was not made under Wine: {tray_line}"
    );
    let second = run(
        wine.command("timecard.exe", &x.display)
            .env("TIMECARD_DATA_DIR", &data),
        None,
    );
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("its window was brought forward"),
        "{}",
        text(&second)
    );
    // The data folder the Windows program made lets nobody else in: Wine
    // keeps its access list (the current user only) as permission bits.
    let others = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o007
    };
    assert_eq!(others, 0, "the data folder is open to other users");
    let _ = window;
}

// `timecard-server.exe` under Wine serves the Linux app over TLS: a user
// and a contract made with its admin commands, its key owner-only, and
// time tracked by the Linux `timecard` stored once.
#[test]
fn the_windows_server_serves_the_linux_app() {
    use std::io::{BufRead, BufReader};
    let Some(wine) = wine() else { return };
    let _session = wine.session();
    let x = Xvfb::start("1280x800x24");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let admin = |args: &[&str], stdin: Option<&str>| {
        let out = run(
            wine.command("timecard-server.exe", &x.display)
                .arg("--data")
                .arg(&data)
                .args(args),
            stdin,
        );
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    };
    admin(
        &["user", "add", "ann", "--password-stdin"],
        Some("a long password\n"),
    );
    admin(
        &[
            "contract", "add", "--id", "work", "--user", "ann", "--title", "Work", "--kind",
            "hourly",
        ],
        None,
    );
    let mut serving = Killed(
        wine.command("timecard-server.exe", &x.display)
            .arg("--data")
            .arg(&data)
            .args(["serve", "--listen", "127.0.0.1:0", "--segment-secs", "10"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(serving.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("timecard-server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let others = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o007
    };
    assert_eq!(others(&data), 0, "the data folder is open to other users");
    assert_eq!(
        others(&data.join("tls/key.pem")),
        0,
        "the key is open to other users"
    );

    let app = quiet_app(dir.path());
    let signed = crate::common::cli::sign_in(
        &app,
        &url,
        &data.join("tls/cert.pem"),
        "ann",
        "a long password",
        &[],
    );
    assert!(signed.status.success(), "{}", text(&signed));
    let tracked =
        crate::common::cli::timecard(&app, &["track", "--contract", "work", "--for", "12s"], None);
    assert!(
        text(&tracked).contains("everything is uploaded"),
        "{}",
        text(&tracked)
    );
    let listed = crate::common::cli::timecard(&app, &["diary", "--json"], None);
    assert!(listed.status.success(), "{}", text(&listed));
    let diary: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let stored: i64 = diary["totals"]
        .as_array()
        .expect("totals")
        .iter()
        .map(|t| t["secs"].as_i64().unwrap())
        .sum();
    assert_eq!(stored, 12, "{diary:#}");
}
