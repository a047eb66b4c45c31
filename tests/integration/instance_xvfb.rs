//! Single instance (D1) and *Clear cache and restart* (D4) with the real
//! window under a private Xvfb: a second launch brings the first forward
//! and exits; a `kill -9` leaves no lock behind; the reset flow ends in a
//! restarted app on a wiped data folder. Skips loudly without Xvfb,
//! xdotool and ImageMagick, unless `TIMECARD_REQUIRE_DISPLAY=1`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::xvfb::{
    Killed, Xvfb, column, find_run, pixel, screenshot, tools_present, wait_until, xdotool,
};

/// The Start button's centre; teal once the window is drawn.
const START: (u32, u32) = (80, 154);

fn teal(p: Option<(u8, u8, u8)>) -> bool {
    p.is_some_and(|(r, g, b)| g > 100 && b > 90 && r < 60)
}

fn launch(display: &str, data: &Path) -> Killed {
    Killed(
        Command::new(env!("CARGO_BIN_EXE_timecard"))
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .env("TIMECARD_DATA_DIR", data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start timecard"),
    )
}

/// The pid in the lock file, once the window holds it and listens.
fn holder(data: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data.join("instance.lock")).ok()?;
    let lock: serde_json::Value = serde_json::from_str(&text).ok()?;
    lock["socket"].as_str()?;
    lock["pid"].as_u64().map(|p| p as u32)
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// Ends a process that is not our child (the relaunched app).
struct Stranger(u32);

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-smoke");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn timecard(data: &Path, display: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_timecard"))
        .args(args)
        .env("DISPLAY", display)
        .env("TIMECARD_DATA_DIR", data)
        .output()
        .unwrap()
}

#[test]
fn second_launch_brings_the_first_forward_and_a_killed_one_leaves_no_lock() {
    if !tools_present(&["Xvfb", "xdotool", "import"]) {
        return;
    }
    let xvfb = Xvfb::start("1280x900x24");
    let display = xvfb.display.clone();
    let data = tempfile::tempdir().unwrap();
    let data = data.path();

    let mut first = launch(&display, data);
    let first_pid = first.0.id();
    wait_until("the first window", Duration::from_secs(60), || {
        holder(data) == Some(first_pid) && teal(pixel(&display, START.0, START.1))
    });

    let second = timecard(data, &display, &[]);
    let said = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "already running (pid {first_pid}); its window was brought forward"
        )),
        "{said}"
    );
    let log = data.join("logs/timecard.log");
    wait_until(
        "the first to log the request",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&log)
                .is_ok_and(|l| l.contains("show-window request from a second launch"))
        },
    );
    assert!(alive(first_pid), "the first one goes on");

    // Headless tracking on the same data folder is refused, saying why.
    let track = timecard(
        data,
        &display,
        &["track", "--contract", "demo-hourly", "--for", "1s"],
    );
    assert!(!track.status.success());
    let err = String::from_utf8_lossy(&track.stderr);
    assert!(
        err.contains(&format!("already running (window, pid {first_pid})")),
        "{err}"
    );

    // A crash: the lock goes with the process, the next start works.
    Command::new("kill")
        .args(["-9", &first_pid.to_string()])
        .status()
        .unwrap();
    first.0.wait().unwrap();
    let mut again = launch(&display, data);
    let again_pid = again.0.id();
    wait_until("a new start after kill -9", Duration::from_secs(60), || {
        holder(data) == Some(again_pid) && teal(pixel(&display, START.0, START.1))
    });
    Command::new("kill")
        .args(["-TERM", &again_pid.to_string()])
        .status()
        .unwrap();
    assert!(again.0.wait().unwrap().success());
}

#[test]
fn clear_cache_and_restart_ends_in_a_fresh_app() {
    if !tools_present(&["Xvfb", "xdotool", "import"]) {
        return;
    }
    let xvfb = Xvfb::start("1280x900x24");
    let display = xvfb.display.clone();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("settings.json"),
        r#"{"time_zone": "Europe/Berlin"}"#,
    )
    .unwrap();

    let mut app = launch(&display, &data);
    let pid = app.0.id();
    wait_until("the window", Duration::from_secs(60), || {
        holder(&data) == Some(pid) && teal(pixel(&display, START.0, START.1))
    });
    let device = std::fs::read_to_string(data.join("device-id")).unwrap();

    // Settings → danger zone → the confirmation (its red button) → confirm.
    xdotool(&display, &["mousemove", "403", "16", "click", "1"]);
    wait_until("the Settings screen", Duration::from_secs(20), || {
        teal(pixel(&display, 373, 8))
    });
    // The danger zone is one line framed in red at the page's foot; a user
    // scrolls down to it, and its button sits in the frame's middle.
    let red = |(r, g, b): (u8, u8, u8)| r > 150 && g < 100 && b < 100;
    let mut frame = None;
    wait_until("the danger zone", Duration::from_secs(20), || {
        xdotool(&display, &["mousemove", "300", "300", "click", "5"]);
        frame =
            find_run(&column(&display, 8, 200, 392), 24, red).filter(|&(_, bottom)| bottom < 380);
        frame.is_some()
    });
    let (top, bottom) = frame.unwrap();
    let button_y = 200 + (top + bottom) / 2;
    xdotool(
        &display,
        &["mousemove", "200", &button_y.to_string(), "click", "1"],
    );
    // The confirmation's red-filled button.
    let mut confirm = None;
    wait_until("the confirmation", Duration::from_secs(20), || {
        confirm = find_run(&column(&display, 254, 120, 480), 15, red);
        confirm.is_some()
    });
    let (top, bottom) = confirm.unwrap();
    let confirm_y = 120 + (top + bottom) / 2;
    screenshot(&display, &shots().join("reset-confirmation.png"));
    xdotool(
        &display,
        &["mousemove", "300", &confirm_y.to_string(), "click", "1"],
    );
    assert!(
        app.0.wait().unwrap().success(),
        "the old app closes cleanly"
    );

    // A new process holds the lock and draws its window, on a wiped folder.
    wait_until("the restarted app", Duration::from_secs(60), || {
        holder(&data).is_some_and(|p| p != pid) && teal(pixel(&display, START.0, START.1))
    });
    let restarted = Stranger(holder(&data).unwrap());
    screenshot(&display, &shots().join("after-reset.png"));
    assert_ne!(
        std::fs::read_to_string(data.join("device-id")).unwrap(),
        device,
        "a wiped folder gets a new device id"
    );
    assert!(!data.join("settings.json").exists(), "settings are gone");
    let log = std::fs::read_to_string(data.join("logs/timecard.log")).unwrap_or_default();
    assert!(
        !log.contains(&format!("pid {pid})")),
        "the old logs are gone: {log}"
    );
    drop(restarted);
}

// `timecard status` asks the running window what it does: tracking a
// contract since when, and how much of the segment in progress is not in
// the cache yet; JSON carries the same under `running`.
#[test]
fn status_says_the_window_is_tracking() {
    if !tools_present(&["Xvfb", "xdotool"]) {
        return;
    }
    let xvfb = Xvfb::start("1280x900x24");
    let display = xvfb.display.clone();
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let app = launch(&display, data);
    let pid = app.0.id();
    let status = |json: bool| {
        let args: &[&str] = if json {
            &["status", "--json"]
        } else {
            &["status"]
        };
        let out = timecard(data, &display, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let running = |said: &str| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(said)
            .map(|v| v["running"].clone())
            .unwrap_or_default()
    };
    // The window holds the data folder before `status` looks: a status run
    // beside a running window never starts the built-in server itself.
    wait_until("the window's lock", Duration::from_secs(60), || {
        holder(data) == Some(pid)
    });
    let mut said = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while running(&said)["role"] != "window"
        || running(&said)["summary"]
            .as_str()
            .is_none_or(|s| s.contains("starting"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the window did not answer: {said}"
        );
        said = status(true);
    }
    let idle = running(&said);
    assert_eq!(idle["pid"], pid, "{said}");
    let whole: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(whole["server"], "the built-in local server", "{said}");
    assert_eq!(idle["tracking"], serde_json::Value::Null, "{said}");
    assert!(
        idle["summary"].as_str().unwrap().contains("not tracking"),
        "{said}"
    );

    // Ctrl+Enter starts tracking the selected contract; pressed again only
    // when a press went unseen for a while (the list still loading), so a
    // second press never stops what the first one started.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    'started: loop {
        assert!(
            std::time::Instant::now() < deadline,
            "tracking did not start: {said}"
        );
        assert!(alive(pid), "the window quit: {said}");
        // Focus the window (not there yet: try again on the next turn).
        let _ = Command::new("xdotool")
            .args(["search", "--name", "^Timecard$", "windowfocus", "--sync"])
            .env("DISPLAY", &display)
            .status();
        xdotool(&display, &["key", "ctrl+Return"]);
        let pressed = std::time::Instant::now();
        while pressed.elapsed() < Duration::from_secs(10) {
            said = status(true);
            if running(&said)["tracking"].is_object() {
                break 'started;
            }
        }
    }
    let tracking = &running(&said)["tracking"];
    let contract = tracking["contract_id"].as_str().unwrap().to_owned();
    assert!(tracking["not_cached_secs"].as_i64().unwrap() >= 0, "{said}");
    assert!(tracking["started_at"].is_string(), "{said}");
    let text = status(false);
    let line = text
        .lines()
        .find(|l| l.starts_with("Running:"))
        .unwrap_or_else(|| panic!("no Running line: {text}"));
    assert!(
        line.contains(&format!("({contract}) in the window since ")),
        "{line}"
    );
    assert!(line.contains("(this segment not cached yet: "), "{line}");
    assert!(
        line.ends_with("minutes)") || line.ends_with("minute)"),
        "{line}"
    );

    // Once the window is gone, status says nothing of it.
    drop(app);
    wait_until("the lock to be free", Duration::from_secs(30), || {
        running(&status(true)).is_null()
    });
    assert!(!status(false).contains("Running:"));
}
