//! The Debian packages (issue 24), made by `ci/package-deb.sh` from this
//! build and installed on this machine with dpkg: an older version first,
//! then this one over it. The server's package makes its user, its 0700
//! folder and its unit, keeps the data through the upgrade and a remove,
//! and takes it away on purge; the app's package holds a desktop entry and
//! metainfo their validators accept, and the entry's `Exec` opens the
//! window with Timecard's icon in a window manager's title bar.
//!
//! It needs root, dpkg and binutils; without them it says so and skips —
//! unless `TIMECARD_REQUIRE_PACKAGES=1` (CI), where that is a failure. It
//! does not touch a Timecard this machine already has installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::cli::{run, text};
use crate::common::releases::{CURRENT, keygen, next_version, previous_version, publish};
use crate::common::xvfb::{Killed, Xvfb, area, screenshot, tools_present, wait_until};

/// dpkg takes one command at a time: the tests take turns.
static DPKG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn required() -> bool {
    std::env::var_os("TIMECARD_REQUIRE_PACKAGES").is_some_and(|v| v == "1")
}

/// Whether this machine can take the test's package `package`; says why
/// not. Asked while holding [`DPKG`]: the other test's package, installed
/// for its turn, is no reason to refuse.
fn usable(package: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let why_not = if !root {
        Some("installing packages needs root".to_owned())
    } else if !tools_present(&["dpkg", "dpkg-deb", "objcopy", "readelf", "objdump"]) {
        Some("dpkg or binutils are missing".to_owned())
    } else {
        installed(package).then(|| format!("{package} is already installed here; it is left alone"))
    };
    match why_not {
        None => true,
        Some(why) if required() => panic!("the package tests must run: {why}"),
        Some(why) => {
            eprintln!("SKIPPED: the package tests: {why}");
            false
        }
    }
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Makes the package of `kind` (app or server) at `version` into `out`.
fn package(kind: &str, program: &Path, version: &str, out: &Path) -> PathBuf {
    let done = run(
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/ci/package-deb.sh"))
            .args([kind, program.to_str().unwrap(), version])
            .arg(out)
            .env("TIMECARD_DEB_COMPRESS", "gzip"),
        None,
    );
    assert!(done.status.success(), "{}", text(&done));
    let name = if kind == "app" {
        "timecard"
    } else {
        "timecard-server"
    };
    let deb = out.join(format!("{name}_{version}_amd64.deb"));
    assert!(deb.is_file(), "{}", text(&done));
    assert!(
        out.join(format!("{name}-dbgsym_{version}_amd64.deb"))
            .is_file(),
        "the debug info is split into its own package"
    );
    deb
}

fn dpkg(args: &[&str]) -> Output {
    let out = run(Command::new("dpkg").args(args), None);
    assert!(out.status.success(), "dpkg {args:?}: {}", text(&out));
    out
}

/// Purges what the test installed, however it ends.
struct Purge(&'static [&'static str]);

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .arg("--purge")
            .args(self.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn mode_and_owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.mode() & 0o7777, meta.uid())
}

fn uid_of(user: &str) -> Option<u32> {
    let out = Command::new("id").args(["-u", user]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .flatten()
}

#[test]
fn the_server_package_installs_upgrades_keeps_data_and_purges() {
    let _turn = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    if !usable("timecard-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = crate::common::server_exe();
    let older = package("server", &server, &previous_version(), dir.path());
    let newer = package("server", &server, CURRENT, dir.path());
    let _purge = Purge(&["timecard-server"]);

    let first = dpkg(&["-i", older.to_str().unwrap()]);
    assert!(
        text(&first).contains("user add admin --role admin --password-stdin"),
        "the postinst says how to make the first admin: {}",
        text(&first)
    );
    let uid = uid_of("timecard-server").expect("the package makes its user");
    assert!(uid < 1000, "a system user: {uid}");
    let data = Path::new("/var/lib/timecard-server");
    assert_eq!(mode_and_owner(data), (0o700, uid));
    let unit = std::fs::read_to_string("/usr/lib/systemd/system/timecard-server.service").unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/timecard-server serve"),
        "{unit}"
    );
    assert!(
        unit.contains("ProtectSystem=strict"),
        "the hardened unit: {unit}"
    );
    let drop_in =
        std::fs::read_to_string("/usr/lib/systemd/system/timecard-server.service.d/package.conf")
            .unwrap();
    assert!(drop_in.contains("User=timecard-server"), "{drop_in}");
    if tools_present(&["systemd-analyze"]) {
        let verify = run(
            Command::new("systemd-analyze")
                .args(["verify", "/usr/lib/systemd/system/timecard-server.service"]),
            None,
        );
        assert!(
            verify.status.success(),
            "systemd-analyze: {}",
            text(&verify)
        );
    }

    // The first admin, as the postinst says, as the server's user.
    let admin = |args: &[&str], stdin: Option<&str>| {
        run(
            Command::new("runuser")
                .args(["-u", "timecard-server", "--", "/usr/bin/timecard-server"])
                .args(["--data", "/var/lib/timecard-server"])
                .args(args),
            stdin,
        )
    };
    let added = admin(
        &[
            "user",
            "add",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a long admin password\n"),
    );
    assert!(added.status.success(), "{}", text(&added));

    // The upgrade keeps the data.
    dpkg(&["-i", newer.to_str().unwrap()]);
    let version = run(
        Command::new("/usr/bin/timecard-server").arg("--version"),
        None,
    );
    assert_eq!(text(&version).trim(), format!("timecard-server {CURRENT}"));
    let users = admin(&["user", "list"], None);
    assert!(
        text(&users).contains("admin"),
        "the upgrade kept the users: {}",
        text(&users)
    );
    assert_eq!(mode_and_owner(data), (0o700, uid));

    // Remove keeps the data; purge takes it and the user away.
    dpkg(&["-r", "timecard-server"]);
    assert!(!Path::new("/usr/bin/timecard-server").exists());
    assert!(
        data.read_dir().unwrap().next().is_some(),
        "remove keeps the data folder's contents"
    );
    dpkg(&["--purge", "timecard-server"]);
    assert!(!data.exists(), "purge removes the data folder");
    assert_eq!(uid_of("timecard-server"), None, "purge removes the user");
}

#[test]
fn the_app_package_opens_the_window_with_its_icon() {
    let _turn = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    if !usable("timecard") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = Path::new(env!("CARGO_BIN_EXE_timecard"));
    let older = package("app", app, &previous_version(), dir.path());
    let newer = package("app", app, CURRENT, dir.path());
    let _purge = Purge(&["timecard"]);
    dpkg(&["-i", older.to_str().unwrap()]);
    dpkg(&["-i", newer.to_str().unwrap()]);
    let version = run(Command::new("/usr/bin/timecard").arg("--version"), None);
    assert_eq!(text(&version).trim(), format!("timecard {CURRENT}"));

    // The installed program knows it is updated through the package manager.
    let data = dir.path().join("data");
    let check = run(
        Command::new("/usr/bin/timecard")
            .args(["update", "--check", "--json"])
            .env("TIMECARD_DATA_DIR", &data),
        None,
    );
    let check: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(check["kind"], "deb", "{check}");
    assert_eq!(check["current"], CURRENT);

    // What the desktop's validators say of the entry and the metainfo.
    let entry = Path::new("/usr/share/applications/timecard.desktop");
    if tools_present(&["desktop-file-validate"]) || required() {
        let out = run(Command::new("desktop-file-validate").arg(entry), None);
        assert!(
            out.status.success() && text(&out).trim().is_empty(),
            "{}",
            text(&out)
        );
    }
    let metainfo = Path::new("/usr/share/metainfo/app.timecard.Timecard.metainfo.xml");
    if tools_present(&["appstreamcli"]) || required() {
        let out = run(
            Command::new("appstreamcli")
                .args(["validate", "--no-net"])
                .arg(metainfo),
            None,
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    for size in ["16x16", "48x48", "256x256", "512x512"] {
        assert!(
            Path::new(&format!(
                "/usr/share/icons/hicolor/{size}/apps/timecard.png"
            ))
            .is_file(),
            "{size} icon"
        );
    }

    // The entry's Exec, under a window manager that draws title bars.
    if !tools_present(&["Xvfb", "xdotool", "import", "openbox", "xprop"]) {
        return;
    }
    let exec = std::fs::read_to_string(entry)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Exec=").map(str::to_owned))
        .expect("an Exec line");
    let xvfb = Xvfb::start("1280x900x24");
    let display = xvfb.display.clone();
    let _wm = Killed(
        Command::new("openbox")
            .env("DISPLAY", &display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("settings.json"), r#"{"notifications": false}"#).unwrap();
    let _window = Killed(
        Command::new("sh")
            .args(["-c", &format!("exec {exec}")])
            .env("PATH", "/usr/bin:/bin")
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env("TIMECARD_DATA_DIR", &data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut id = String::new();
    wait_until("the window under openbox", Duration::from_secs(60), || {
        let out = Command::new("xdotool")
            .args(["search", "--name", "^Timecard$"])
            .env("DISPLAY", &display)
            .output()
            .unwrap();
        id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        !id.is_empty() && frame_extents(&display, &id).is_some_and(|(_, top)| top > 0)
    });
    let icon = Command::new("xprop")
        .args(["-id", &id, "_NET_WM_ICON"])
        .env("DISPLAY", &display)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&icon.stdout).contains("Icon ("),
        "the window carries its icon: {}",
        String::from_utf8_lossy(&icon.stdout)
            .lines()
            .next()
            .unwrap_or_default()
    );
    // The title bar: the band of the frame above the window, where openbox
    // draws the icon at the left. Timecard's icon is the only teal there.
    let (x, y) = window_origin(&display, &id);
    let (_, top) = frame_extents(&display, &id).unwrap();
    let mut teal_pixels = 0;
    wait_until("the icon in the title bar", Duration::from_secs(30), || {
        teal_pixels = area(&display, x, y - top, 64, top)
            .into_iter()
            .filter(|&(r, g, b)| g > 100 && b > 90 && r < 80 && g > r + 40)
            .count();
        teal_pixels > 10
    });
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-smoke");
    std::fs::create_dir_all(&shots).unwrap();
    screenshot(&display, &shots.join("deb-window-openbox.png"));
    drop(_window);

    // An update from the server comes as the next package: as root,
    // `timecard update` installs it with dpkg; a user without root is told
    // the command.
    let srv = dir.path().join("srv");
    let server = crate::common::serving::ann_with_work(&srv);
    let next = next_version();
    let next_deb = package("app", app, &next, dir.path());
    let key = keygen(&srv, &dir.path().join("keys"));
    publish(&srv, &next_deb, &next, &key, &[]);
    let user_data = dir.path().join("user-data");
    let signed_in = run(
        Command::new("/usr/bin/timecard")
            .args(["login", "--server", &server.url, "--ca"])
            .arg(srv.join("tls/cert.pem"))
            .args(["--user", "ann", "--password-stdin"])
            .env("TIMECARD_DATA_DIR", &user_data),
        Some("a long password\n"),
    );
    assert!(signed_in.status.success(), "{}", text(&signed_in));
    let as_user = |program: &str| {
        // The data folder handed to `nobody` for a moment.
        let chown = |owner: &str| {
            let done = Command::new("chown")
                .args(["-R", owner])
                .arg(&user_data)
                .status()
                .unwrap();
            assert!(done.success());
        };
        chown("nobody");
        let _ = Command::new("chmod").arg("755").arg(dir.path()).status();
        let out = run(
            Command::new("runuser")
                .args(["-u", "nobody", "--", "env"])
                .args(["-u", "DISPLAY", "-u", "WAYLAND_DISPLAY"])
                .arg(format!("TIMECARD_DATA_DIR={}", user_data.display()))
                .args([program, "update"]),
            None,
        );
        chown("root");
        out
    };
    let refused = as_user("/usr/bin/timecard");
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("run: sudo apt install"),
        "a user without root is told the command: {}",
        text(&refused)
    );
    let updated = run(
        Command::new("/usr/bin/timecard")
            .arg("update")
            .env("TIMECARD_DATA_DIR", &user_data)
            .env_remove("DISPLAY"),
        None,
    );
    assert!(updated.status.success(), "{}", text(&updated));
    let version = run(Command::new("/usr/bin/timecard").arg("--version"), None);
    assert_eq!(text(&version).trim(), format!("timecard {next}"));
    let status = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "timecard"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        next,
        "dpkg knows the new version"
    );
    drop(server);

    dpkg(&["--purge", "timecard"]);
    assert!(!Path::new("/usr/bin/timecard").exists());
    assert!(!entry.exists());
}

/// `_NET_FRAME_EXTENTS` of a window: (left, top).
fn frame_extents(display: &str, id: &str) -> Option<(u32, u32)> {
    let out = Command::new("xprop")
        .args(["-id", id, "_NET_FRAME_EXTENTS"])
        .env("DISPLAY", display)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let numbers: Vec<u32> = text
        .split('=')
        .nth(1)?
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    (numbers.len() == 4).then(|| (numbers[0], numbers[2]))
}

/// Where the window's inside starts on the screen.
fn window_origin(display: &str, id: &str) -> (u32, u32) {
    let out = Command::new("xdotool")
        .args(["getwindowgeometry", "--shell", id])
        .env("DISPLAY", display)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (value("X="), value("Y="))
}
