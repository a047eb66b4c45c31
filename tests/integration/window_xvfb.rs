//! The real window under a private Xvfb: launch `timecard` on a fresh data
//! folder (built-in server), check the window is drawn, press Start with
//! xdotool, check that tracking shows, keep screenshots in
//! `target/ui-smoke/`. Without Xvfb, xdotool and ImageMagick's `import` the
//! test says so loudly and skips — unless `TIMECARD_REQUIRE_DISPLAY=1`
//! (CI), where that is a failure. `TIMECARD_BIN` picks the binary (the
//! release build in `ci/ui-smoke.sh`).

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::xvfb::{Killed, Xvfb, pixel, screenshot, tools_present, wait_until, xdotool};

#[test]
fn window_draws_and_tracks_under_xvfb() {
    if !tools_present(&["Xvfb", "xdotool", "import"]) {
        return;
    }
    let bin = std::env::var_os("TIMECARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_timecard")));
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-smoke");
    std::fs::create_dir_all(&shots).unwrap();
    let data = tempfile::tempdir().unwrap();
    let xvfb = Xvfb::start("1280x900x24");
    let display = xvfb.display.clone();
    let app = Command::new(&bin)
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env("TIMECARD_DATA_DIR", data.path())
        .env("TIMECARD_REPORT_STARTUP", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start timecard");
    let mut app = Killed(app);
    let stderr = app.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    // The Start button (accent teal) appears at the top left once drawn.
    let start_button = (80, 154);
    wait_until("the window to be drawn", Duration::from_secs(60), || {
        pixel(&display, start_button.0, start_button.1)
            .is_some_and(|(r, g, b)| g > 100 && b > 90 && r < 60)
    });
    screenshot(&display, &shots.join("main.png"));
    let log: Vec<String> = rx.try_iter().collect();
    if let Some(line) = log.iter().find(|l| l.contains("first frame")) {
        println!("{line}");
    }

    xdotool(&display, &["mousemove", "80", "154", "click", "1"]);
    // Tracking shows: the button turns red (Stop).
    wait_until("tracking to show", Duration::from_secs(30), || {
        pixel(&display, start_button.0, start_button.1).is_some_and(|(r, g, _)| r > 150 && g < 110)
    });
    screenshot(&display, &shots.join("tracking.png"));
    for (name, x) in [
        ("contracts", 133),
        ("diary", 234),
        ("cache", 323),
        ("settings", 403),
    ] {
        xdotool(&display, &["mousemove", &x.to_string(), "16", "click", "1"]);
        // The tab turns teal when selected.
        wait_until(name, Duration::from_secs(20), || {
            pixel(&display, x - 30, 8).is_some_and(|(r, g, b)| g > 100 && b > 90 && r < 60)
        });
        screenshot(&display, &shots.join(format!("{name}.png")));
    }
    // Stop with the keyboard shortcut, then close the window cleanly.
    xdotool(&display, &["mousemove", "20", "16", "click", "1"]);
    xdotool(
        &display,
        &["search", "--name", "^Timecard$", "windowfocus", "--sync"],
    );
    xdotool(&display, &["key", "ctrl+Return"]);
    wait_until("tracking to stop", Duration::from_secs(20), || {
        pixel(&display, start_button.0, start_button.1)
            .is_some_and(|(r, g, b)| g > 100 && b > 90 && r < 60)
    });
    // SIGTERM, as a session logout sends: the app closes its window cleanly.
    Command::new("kill")
        .args(["-TERM", &app.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = app.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the app did not exit after its window closed"
        );
        std::thread::yield_now();
    };
    let log: Vec<String> = rx.try_iter().collect();
    assert!(
        status.success(),
        "timecard exited with {status}: {}",
        log.join("\n")
    );
    // The session's time was cached and uploaded to the built-in server.
    let out = Command::new(&bin)
        .args(["diary", "--json", "--tz", "UTC"])
        .env("TIMECARD_DATA_DIR", data.path())
        .output()
        .unwrap();
    let diary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let logged = diary["segments"].as_array().map_or(0, Vec::len)
        + diary["cached"].as_array().map_or(0, Vec::len);
    assert!(logged >= 1, "no time was logged: {diary}");
}
