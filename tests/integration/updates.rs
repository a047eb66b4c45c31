//! Signed updates end to end (U1–U5), with the real binaries: a server that
//! publishes releases, a copy of `timecard` installed as a plain program in
//! a folder of its own, and the next version made from it by restamping
//! its version tag (a real program that says it is N+1). The command line
//! refuses what it cannot trust, in words, and installs what it can; the
//! window, asked by `timecard update`, stops tracking, uploads, installs and
//! starts again as the new version; a newer launch takes over from an
//! older window.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::cli::{Tracking, run, text, timecard_server};
use crate::common::releases::{self, CURRENT, keygen, next_version, restamped};
use crate::common::serving::{Serving, ann_with_work, quiet_app};
use crate::common::xvfb::{
    Killed, Xvfb, column, find_run, pixel, screenshot, tools_present, wait_until, xdotool,
};

/// A copy of this build's `timecard` at `dir/NAME/timecard`, stamped `version`.
fn program(dir: &Path, name: &str, version: &str) -> PathBuf {
    restamped(
        Path::new(env!("CARGO_BIN_EXE_timecard")),
        version,
        &dir.join(name).join("timecard"),
    )
}

/// `PROGRAM ARGS` on the app data folder `app`.
fn app_run(program: &Path, app: &Path, args: &[&str]) -> Output {
    run(
        Command::new(program)
            .args(args)
            .env("TIMECARD_DATA_DIR", app)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY"),
        None,
    )
}

fn version_of(program: &Path) -> String {
    let out = run(Command::new(program).arg("--version"), None);
    assert!(out.status.success(), "{}", text(&out));
    text(&out).trim().trim_start_matches("timecard ").to_owned()
}

fn publish(srv: &Path, file: &Path, version: &str, key: &Path) {
    releases::publish(srv, file, version, key, &[]);
}

/// `timecard login` with `program` as ann on `server`.
fn sign_in(program: &Path, app: &Path, srv: &Path, server: &Serving) {
    let out = run(
        Command::new(program)
            .args(["login", "--server", &server.url, "--ca"])
            .arg(srv.join("tls/cert.pem"))
            .args(["--user", "ann", "--password-stdin"])
            .env("TIMECARD_DATA_DIR", app),
        Some("a long password\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// Seconds of work the server holds for ann today, through `program`.
fn server_secs(program: &Path, app: &Path) -> i64 {
    let out = app_run(program, app, &["diary", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let diary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::common::cli::diary_total(&diary)
}

#[test]
fn update_refuses_what_it_cannot_trust_and_installs_what_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    let server = ann_with_work(&srv);
    let app = quiet_app(dir.path());
    let installed = program(dir.path(), "installed", CURRENT);
    let next = next_version();
    let key = keygen(&srv, &dir.path().join("keys"));
    let other_key = keygen(&srv, &dir.path().join("other-keys"));

    // The server offers this version: the sign-in pins its key.
    publish(&srv, &program(dir.path(), "same", CURRENT), CURRENT, &key);
    sign_in(&installed, &app, &srv, &server);
    assert!(
        app.join("update-key.json").is_file(),
        "the key is pinned at sign-in"
    );
    let out = app_run(&installed, &app, &["update", "--check", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check["current"], CURRENT);
    assert_eq!(check["offered"], CURRENT);
    assert_eq!(check["available"], false);
    assert_eq!(check["kind"], "binary");

    let refused = |what: &str, words: &str| {
        let out = app_run(&installed, &app, &["update"]);
        assert!(
            !out.status.success(),
            "{what} was installed: {}",
            text(&out)
        );
        assert!(
            text(&out).contains(words),
            "{what}: expected {words:?} in {}",
            text(&out)
        );
        assert_eq!(
            version_of(&installed),
            CURRENT,
            "{what} changed the program"
        );
    };

    // A new key on the server: refused until the user signs in again.
    let newer = program(dir.path(), "newer", &next);
    publish(&srv, &newer, &next, &other_key);
    refused("a release under a changed key", "update key changed");

    // A description that names the pinned key over another key's signature.
    let description = srv.join(format!("releases/{next}/timecard.json"));
    let pinned: serde_json::Value =
        serde_json::from_slice(&std::fs::read(app.join("update-key.json")).unwrap()).unwrap();
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&description).unwrap()).unwrap();
    forged["key"] = pinned["key"].clone();
    std::fs::write(&description, serde_json::to_vec(&forged).unwrap()).unwrap();
    refused(
        "a signature by the wrong key",
        "signature does not match the update key",
    );

    // Signed by the right key, then the file changed on the server.
    publish(&srv, &newer, &next, &key);
    let file = srv.join(format!("releases/{next}/timecard"));
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    refused("an altered file", "not the one that was signed");

    // Only an older version on offer: never installed.
    std::fs::remove_dir_all(srv.join("releases")).unwrap();
    publish(&srv, &program(dir.path(), "older", "0.0.1"), "0.0.1", &key);
    let out = app_run(&installed, &app, &["update"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("older and is never installed"),
        "{}",
        text(&out)
    );
    assert_eq!(version_of(&installed), CURRENT);

    // Time tracked while the server is away is in the cache at update time.
    let maintenance = |state: &str| {
        let out = timecard_server(&srv, &["maintenance", state, "--retry-after", "1"], None);
        assert!(out.status.success(), "{}", text(&out));
    };
    let out = app_run(&installed, &app, &["contracts"]);
    assert!(out.status.success(), "{}", text(&out));
    maintenance("on");
    let tracking = Tracking::start(&app, &["--contract", "work", "--for", "12s"], None);
    let (status, said) = tracking.finish();
    assert!(status.success(), "{said}");
    maintenance("off");
    let status = app_run(&installed, &app, &["status", "--json"]);
    let cached: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let pending = cached["pending_segments"].as_u64().unwrap_or(0);
    assert!(pending > 0, "time is cached before the update: {cached}");

    // The real next version: installed, uploaded, and the program says so.
    publish(&srv, &newer, &next, &key);
    let out = app_run(&installed, &app, &["update", "--check", "--json"]);
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check["offered"], next.as_str(), "{}", text(&out));
    assert_eq!(check["available"], true);
    let out = app_run(&installed, &app, &["update"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("Timecard {next} is installed")),
        "{}",
        text(&out)
    );
    assert_eq!(version_of(&installed), next);
    let status = app_run(&installed, &app, &["status", "--json"]);
    let after: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(after["pending_segments"], 0, "{after}");
    assert!(
        server_secs(&installed, &app) >= 10,
        "the tracked time is on the server"
    );
    drop(server);
}

/// The window's lock: who holds it, at which version, once it listens.
fn holder(app: &Path) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(app.join("instance.lock")).ok()?;
    let lock: serde_json::Value = serde_json::from_str(&text).ok()?;
    lock["socket"].as_str()?;
    Some((
        lock["pid"].as_u64()? as u32,
        lock["version"].as_str()?.to_owned(),
    ))
}

fn launch(program: &Path, app: &Path, display: &str) -> Killed {
    Killed(
        Command::new(program)
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .env("TIMECARD_DATA_DIR", app)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start timecard"),
    )
}

/// Ends a process that is not our child (a relaunched window).
struct Stranger(u32);

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

/// The centre of the Start button: a teal block at least 30 px high in
/// the window's left column, below the menu.
fn start_button(display: &str) -> Option<(u32, u32)> {
    let teal = |(r, g, b): (u8, u8, u8)| g > 100 && b > 90 && r < 60;
    find_run(&column(display, 20, 40, 300), 30, teal)
        .map(|(top, bottom)| (80, 40 + (top + bottom) / 2))
}

#[test]
fn the_window_updates_while_tracking_and_starts_again_as_the_new_version() {
    if !tools_present(&["Xvfb", "xdotool", "import"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    let server = ann_with_work(&srv);
    let app = quiet_app(dir.path());
    let installed = program(dir.path(), "installed", CURRENT);
    let next = next_version();
    let key = keygen(&srv, &dir.path().join("keys"));
    publish(&srv, &program(dir.path(), "same", CURRENT), CURRENT, &key);
    sign_in(&installed, &app, &srv, &server);

    let xvfb = Xvfb::start("1280x900x24");
    let display = xvfb.display.clone();
    let mut window = launch(&installed, &app, &display);
    let pid = window.0.id();
    // Start tracking: the Start button, the teal block at the left.
    let mut start = None;
    wait_until("the window", Duration::from_secs(60), || {
        start = start_button(&display);
        holder(&app).is_some_and(|(p, _)| p == pid) && start.is_some()
    });
    let start = start.unwrap();
    xdotool(
        &display,
        &[
            "mousemove",
            &start.0.to_string(),
            &start.1.to_string(),
            "click",
            "1",
        ],
    );
    wait_until("tracking", Duration::from_secs(30), || {
        // The button turns red (Stop) while tracking.
        pixel(&display, start.0, start.1).is_some_and(|(r, g, _)| r > 150 && g < 110)
    });
    let tracked_from = std::time::Instant::now();

    // The server offers the next version; `timecard update` asks the window.
    publish(&srv, &program(dir.path(), "newer", &next), &next, &key);
    // Past one whole segment of the 10-second grid, so there is time to keep.
    wait_until("a whole segment", Duration::from_secs(30), || {
        tracked_from.elapsed() >= Duration::from_secs(12)
    });
    let out = app_run(&installed, &app, &["update"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("installs version"),
        "the window was asked: {}",
        text(&out)
    );
    assert!(
        window.0.wait().unwrap().success(),
        "the old window quits cleanly"
    );
    wait_until("the new version's window", Duration::from_secs(90), || {
        holder(&app).is_some_and(|(p, v)| p != pid && v == next)
    });
    let (new_pid, _) = holder(&app).unwrap();
    let _relaunched = Stranger(new_pid);
    wait_until("the new window drawn", Duration::from_secs(60), || {
        start_button(&display).is_some()
    });
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-smoke");
    std::fs::create_dir_all(&shots).unwrap();
    screenshot(&display, &shots.join("after-update.png"));
    assert_eq!(version_of(&installed), next);
    // What was tracked before the update is on the server, nothing cached.
    assert!(
        server_secs(&installed, &app) >= 10,
        "the time tracked before the update was uploaded"
    );
    drop(server);
}

#[test]
fn a_newer_launch_takes_over_from_an_older_window() {
    if !tools_present(&["Xvfb", "xdotool", "import"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = quiet_app(dir.path());
    let older = program(dir.path(), "older", "0.0.1");
    let newer = program(dir.path(), "newer", CURRENT);
    let xvfb = Xvfb::start("1280x900x24");
    let display = xvfb.display.clone();

    let mut old_window = launch(&older, &app, &display);
    let old_pid = old_window.0.id();
    wait_until("the older window", Duration::from_secs(60), || {
        holder(&app).is_some_and(|(p, _)| p == old_pid)
    });
    // An even older launch is told a newer one runs, and leaves it be.
    let oldest = program(dir.path(), "oldest", "0.0.0");
    let out = app_run_on(&oldest, &app, &display);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("a newer Timecard, 0.0.1, is already running"),
        "{}",
        text(&out)
    );
    assert_eq!(holder(&app).map(|(p, _)| p), Some(old_pid));

    // The newer launch: the older window quits, the newer takes the lock.
    let mut new_window = launch(&newer, &app, &display);
    let new_pid = new_window.0.id();
    assert!(
        old_window.0.wait().unwrap().success(),
        "the older window quits"
    );
    wait_until("the newer window", Duration::from_secs(60), || {
        holder(&app).is_some_and(|(p, v)| p == new_pid && v == CURRENT)
    });
    let _ = new_window.0.kill();
    let _ = new_window.0.wait();
}

/// A window launch that is expected to end (a second launch).
fn app_run_on(program: &Path, app: &Path, display: &str) -> Output {
    run(
        Command::new(program)
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .env("TIMECARD_DATA_DIR", app),
        None,
    )
}

/// `GET path` on `server`, trusting its certificate: status, headers, body.
fn fetch(server: &Serving, srv: &Path, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let cert = std::fs::read(srv.join("tls/cert.pem")).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(crate::common::pinned_roots(&cert))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(format!("{}{path}", server.url)).call().unwrap();
    let disposition = response
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .unwrap();
    (response.status().as_u16(), disposition, body)
}

#[test]
fn the_download_page_lists_what_the_server_offers_and_serves_only_that() {
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    let server = ann_with_work(&srv);
    let (status, _, body) = fetch(&server, &srv, "/download");
    assert_eq!(status, 200);
    assert!(
        String::from_utf8_lossy(&body).contains("offers no downloads yet"),
        "an empty page says so"
    );

    let key = keygen(&srv, &dir.path().join("keys"));
    let deb_bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let deb = dir.path().join("timecard_0.2.0_amd64.deb");
    std::fs::write(&deb, &deb_bytes).unwrap();
    publish(&srv, &deb, "0.2.0", &key);
    let setup = dir.path().join("timecard-0.2.0-setup.exe");
    std::fs::write(&setup, b"MZ not really an installer").unwrap();
    releases::publish(
        &srv,
        &setup,
        "0.2.0",
        &key,
        &["--os", "windows", "--arch", "x86_64"],
    );
    let sha = timecard_core::release::sha256_hex(&deb_bytes);

    // The page, in a real browser.
    if let Some(browser) = crate::common::webdriver::Browser::start() {
        browser.go(&format!("{}/download", server.url));
        let page = browser.text();
        assert!(page.contains("Download Timecard"), "{page}");
        assert!(
            page.contains("Linux Debian or Ubuntu package (x86_64)"),
            "{page}"
        );
        assert!(page.contains("Windows installer (x86_64)"), "{page}");
        assert!(page.contains("300 KB"), "{page}");
        assert!(page.contains(&sha), "{page}");
        assert!(
            page.contains("sudo apt install ./timecard_0.2.0_amd64.deb"),
            "{page}"
        );
        assert!(page.contains("Signing key fingerprint"), "{page}");
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-screens");
        std::fs::create_dir_all(&shots).unwrap();
        browser.screenshot(&shots.join("download.png"));
    }

    // The file itself, as published, as an attachment.
    let (status, disposition, body) =
        fetch(&server, &srv, "/download/0.2.0/timecard_0.2.0_amd64.deb");
    assert_eq!(status, 200);
    assert_eq!(
        disposition.as_deref(),
        Some("attachment; filename=\"timecard_0.2.0_amd64.deb\"")
    );
    assert_eq!(timecard_core::release::sha256_hex(&body), sha);

    // Nothing else of the data folder.
    for path in [
        "/download/0.2.0/timecard_0.2.0_amd64.deb.json",
        "/download/0.2.0/..%2F..%2Ftimecard-server.sqlite",
        "/download/..%2F..%2Ftls/cert.pem",
        "/download/0.2.0/.hidden",
        "/download/0.3.0/timecard_0.2.0_amd64.deb",
    ] {
        let (status, _, _) = fetch(&server, &srv, path);
        assert_eq!(status, 404, "{path}");
    }
    let (status, _, body) = fetch(
        &server,
        &srv,
        "/api/v1/releases/latest?os=linux&arch=x86_64&kind=exe",
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = fetch(
        &server,
        &srv,
        "/api/v1/releases/latest?os=windows&arch=x86_64&kind=installer",
    );
    assert_eq!(status, 200);
    let offer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(offer["url"], "/download/0.2.0/timecard-0.2.0-setup.exe");
    drop(server);
}
