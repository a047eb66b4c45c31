//! The Windows installer (issue 24) under Wine: `timecard-VERSION-setup.exe`
//! built by `ci/package-windows-installer.sh` from the release
//! `timecard.exe` the Wine tests use, installed silently into the Wine
//! prefix's user, upgraded, and uninstalled with and without the data;
//! and the app's update through it: the installed version N asks a Linux
//! `timecard-server` for N+1, runs its installer and comes back as N+1.
//!
//! The prefix is the one `common::wine` makes for all the Windows tests
//! (making one takes most of a minute); what an earlier run may have left
//! of Timecard in it is removed first. What a real Windows adds (toasts
//! under the shortcut's id, SmartScreen on an unsigned installer) is not
//! seen here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::cli::{run, text};
use crate::common::wine::Wine;
use crate::common::xvfb::{Xvfb, tools_present, wait_until};

const RUN_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";
const UNINSTALL_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Timecard";
const APP_ID: &str = "app.timecard.Timecard";

fn wine() -> Option<&'static Wine> {
    if !tools_present(&["Xvfb"]) {
        return None;
    }
    let wine = Wine::get()?;
    let missing = Command::new("makensis").arg("-VERSION").output().is_err();
    if missing {
        assert!(
            std::env::var_os("TIMECARD_REQUIRE_WINE").is_none(),
            "TIMECARD_REQUIRE_WINE is set but makensis is missing (apt-get install nsis)"
        );
        eprintln!("\n*** SKIPPED: the Windows installer: makensis is missing ***\n");
        return None;
    }
    Some(wine)
}

/// The prefix's Windows user folder (`drive_c/users/<name>`).
fn user_dir(wine: &Wine) -> PathBuf {
    let users = wine.prefix.join("drive_c/users");
    std::fs::read_dir(&users)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().is_some_and(|n| n != "Public") && p.join("AppData").is_dir())
        .unwrap_or_else(|| panic!("no user folder in {}", users.display()))
}

/// Removes what an earlier run left of Timecard in the prefix: the
/// program, its data folder, the shortcut and the registry values.
fn forget_timecard(wine: &Wine) {
    let user = user_dir(wine);
    let local = user.join("AppData/Local");
    let _ = std::fs::remove_dir_all(local.join("Programs/Timecard"));
    let _ = std::fs::remove_dir_all(local.join("Timecard"));
    let _ = std::fs::remove_file(
        user.join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Timecard.lnk"),
    );
    let _ = Command::new("wine")
        .args(["reg", "delete", RUN_KEY, "/v", "Timecard", "/f"])
        .envs(wine.env())
        .output();
    let _ = Command::new("wine")
        .args(["reg", "delete", UNINSTALL_KEY, "/f"])
        .envs(wine.env())
        .output();
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `wine ARGS` in the prefix on `display`; its output if it succeeded.
fn wine_run(wine: &Wine, display: &str, args: &[&str]) -> String {
    let out = run(
        Command::new("wine")
            .args(args)
            .envs(wine.env())
            .env("DISPLAY", display),
        None,
    );
    assert!(out.status.success(), "wine {args:?}: {}", text(&out));
    text(&out)
}

/// `wine reg query KEY [/v VALUE]`: its output, or `None` when not there.
fn reg_query(wine: &Wine, display: &str, key: &str, value: Option<&str>) -> Option<String> {
    let mut command = Command::new("wine");
    command
        .args(["reg", "query", key])
        .envs(wine.env())
        .env("DISPLAY", display);
    if let Some(value) = value {
        command.args(["/v", value]);
    }
    let out = run(&mut command, None);
    out.status.success().then(|| text(&out))
}

/// Runs a Windows program that may start others (the installer relaunching
/// Timecard, the uninstaller copying itself to run from the temporary
/// folder), then waits for every program of the prefix to end: their
/// output goes to files, so no pipe is held open by what they started.
fn run_and_settle(wine: &Wine, display: &str, exe: &Path, args: &[&str], log: &Path) {
    let status = Command::new("wine")
        .arg(exe)
        .args(args)
        .envs(wine.env())
        .env("DISPLAY", display)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "{} {args:?}: {status}", exe.display());
    wineserver(wine, "-w");
}

fn wineserver(wine: &Wine, arg: &str) {
    let out = run(Command::new("wineserver").arg(arg).envs(wine.env()), None);
    assert!(out.status.success(), "wineserver {arg}: {}", text(&out));
}

#[test]
fn the_installer_installs_silently_upgrades_and_the_uninstaller_keeps_the_data_unless_asked() {
    let Some(wine) = wine() else { return };
    let _session = wine.session();
    let x = Xvfb::start("1024x768x24");
    let display = x.display.as_str();
    let dir = tempfile::tempdir().unwrap();

    let version = "9.8.7";
    let built = run(
        Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/ci/package-windows-installer.sh"
        ))
        .arg(version)
        .arg(dir.path())
        .arg(wine.exe("timecard.exe")),
        None,
    );
    assert!(built.status.success(), "{}", text(&built));
    let setup = dir.path().join(format!("timecard-{version}-setup.exe"));
    let size = std::fs::metadata(&setup).unwrap().len();
    // Issue 24's budget for the setup .exe.
    assert!(size < 20 << 20, "the installer is {size} bytes");

    let user = user_dir(wine);
    let local = user.join("AppData/Local");
    let program_dir = local.join("Programs/Timecard");
    let data_dir = local.join("Timecard");
    let shortcut = user.join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Timecard.lnk");
    let user_name = user.file_name().unwrap().to_string_lossy().into_owned();
    let windows_exe = format!(r"C:\users\{user_name}\AppData\Local\Programs\Timecard\timecard.exe");
    forget_timecard(wine);
    assert_eq!(reg_query(wine, display, RUN_KEY, Some("Timecard")), None);

    // Silent, starting with Windows, and Timecard started when done: the
    // started app makes its data folder.
    run_and_settle_relaunched(
        wine,
        display,
        &setup,
        &dir.path().join("install.log"),
        &data_dir,
    );
    for file in ["timecard.exe", "uninstall.exe", "timecard.ico"] {
        assert!(program_dir.join(file).is_file(), "{file} not installed");
    }

    // The Start-menu shortcut: a shell link to the installed program,
    // carrying the AppUserModelID in its property store (UTF-16LE).
    let link = std::fs::read(&shortcut).expect("the Start-menu shortcut");
    assert_eq!(&link[..4], &[0x4C, 0, 0, 0]);
    assert!(
        contains(&link, &utf16le(APP_ID)),
        "no AppUserModelID in the shortcut"
    );
    assert!(
        contains(&link, &utf16le(&windows_exe)),
        "the shortcut does not point at {windows_exe}"
    );
    if let Ok(out) = Command::new("lnkinfo").arg(&shortcut).output() {
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "lnkinfo: {printed}");
        assert!(printed.contains(&windows_exe), "{printed}");
    }

    let run_value = reg_query(wine, display, RUN_KEY, Some("Timecard")).expect("the Run value");
    assert!(
        run_value.contains(&format!("\"{windows_exe}\"")),
        "{run_value}"
    );
    let entry =
        reg_query(wine, display, UNINSTALL_KEY, None).expect("the Add/Remove Programs entry");
    assert!(entry.contains(version), "{entry}");
    assert!(entry.contains("uninstall.exe"), "{entry}");

    let printed = wine_run(wine, display, &[&windows_exe, "--version"]);
    assert!(printed.contains(env!("CARGO_PKG_VERSION")), "{printed}");

    // An upgrade over the install: the program is replaced (here a broken
    // one), the sign-in choice kept without /AUTOSTART.
    std::fs::write(program_dir.join("timecard.exe"), b"not a program").unwrap();
    run_and_settle(
        wine,
        display,
        &setup,
        &["/S"],
        &dir.path().join("upgrade.log"),
    );
    let printed = wine_run(wine, display, &[&windows_exe, "--version"]);
    assert!(printed.contains(env!("CARGO_PKG_VERSION")), "{printed}");
    assert!(reg_query(wine, display, RUN_KEY, Some("Timecard")).is_some());

    // A silent uninstall: program, shortcut, Run value and entry gone; the
    // data folder and what is in it stay.
    let kept = data_dir.join("settings.json");
    std::fs::write(&kept, b"{}").unwrap();
    let uninstaller = program_dir.join("uninstall.exe");
    run_and_settle(
        wine,
        display,
        &uninstaller,
        &["/S"],
        &dir.path().join("uninstall.log"),
    );
    assert!(!program_dir.exists(), "the program folder is left");
    assert!(!shortcut.exists(), "the shortcut is left");
    assert_eq!(reg_query(wine, display, RUN_KEY, Some("Timecard")), None);
    assert_eq!(reg_query(wine, display, UNINSTALL_KEY, None), None);
    assert!(kept.is_file(), "the uninstaller took the data folder");

    // Installed again (no start with Windows asked: none), then
    // uninstalled with /REMOVEDATA: the data folder goes too.
    run_and_settle(
        wine,
        display,
        &setup,
        &["/S"],
        &dir.path().join("again.log"),
    );
    assert!(program_dir.join("timecard.exe").is_file());
    assert_eq!(reg_query(wine, display, RUN_KEY, Some("Timecard")), None);
    run_and_settle(
        wine,
        display,
        &uninstaller,
        &["/S", "/REMOVEDATA"],
        &dir.path().join("uninstall-data.log"),
    );
    assert!(!program_dir.exists(), "the program folder is left");
    assert!(!data_dir.exists(), "/REMOVEDATA kept the data folder");
}

/// `setup.exe /S /AUTOSTART /RELAUNCH`: waits for the relaunched Timecard
/// to make its data folder (its first act), then ends it.
fn run_and_settle_relaunched(
    wine: &Wine,
    display: &str,
    setup: &Path,
    log: &Path,
    data_dir: &Path,
) {
    let status = Command::new("wine")
        .arg(setup)
        .args(["/S", "/AUTOSTART", "/RELAUNCH"])
        .envs(wine.env())
        .env("DISPLAY", display)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "setup.exe: {status}");
    wait_until(
        "the relaunched Timecard's data folder",
        Duration::from_secs(60),
        || data_dir.join("logs").is_dir(),
    );
    // The window itself is the other Wine tests' business. (Ending the
    // session fails only when nothing is left to end.)
    let _ = Command::new("wineserver")
        .arg("-k")
        .envs(wine.env())
        .output();
    wineserver(wine, "-w");
}

/// `ci/package-windows-installer.sh VERSION OUT EXE`, started: the setup
/// file it makes, once [`built`] has waited for it.
fn build_installer(version: &str, exe: &Path, out: &Path) -> (std::process::Child, PathBuf) {
    let child = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ci/package-windows-installer.sh"
    ))
    .arg(version)
    .arg(out)
    .arg(exe)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    (child, out.join(format!("timecard-{version}-setup.exe")))
}

fn built((child, setup): (std::process::Child, PathBuf)) -> PathBuf {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(setup.is_file(), "{} was not made", setup.display());
    setup
}

/// Polls `ready` (a file read, say) until it holds, for up to `timeout`,
/// leaving the two processors to Wine in between.
fn poll_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 24's update loop under Wine with the installer: version N
/// installed by its setup.exe and signed in, time cached while the server
/// is away, then the server publishes N+1 (the same build restamped, in an
/// installer of its own). The installed `timecard.exe update` downloads
/// and checks it, uploads the cache, and runs `setup.exe /S /RELAUNCH`,
/// which replaces the program and starts it again as N+1.
#[test]
fn the_installed_app_updates_through_the_installer_and_starts_again_as_the_new_version() {
    use crate::common::cli::{diary_total_secs, sign_in, timecard_server};
    use crate::common::releases;
    use crate::common::serving::{ann_with_work, quiet_app};

    let Some(wine) = wine() else { return };
    if !tools_present(&["xdotool"]) {
        return;
    }
    let _session = wine.session();
    let x = Xvfb::start("1280x800x24");
    let display = x.display.as_str();
    let dir = tempfile::tempdir().unwrap();
    let current = env!("CARGO_PKG_VERSION");
    let next = releases::next_version();

    // Version N's installer, and N+1's from the same program restamped.
    let exe = wine.exe("timecard.exe");
    let restamped = releases::restamped(&exe, &next, &dir.path().join("next/timecard.exe"));
    let building_current = build_installer(current, &exe, &dir.path().join("current"));
    let building_next = build_installer(&next, &restamped, &dir.path().join("next"));
    let setup = built(building_current);
    let next_setup = built(building_next);

    let srv = dir.path().join("srv");
    let server = ann_with_work(&srv);
    let key = releases::keygen(&srv, &dir.path().join("keys"));
    let publish = |file: &Path, version: &str| releases::publish(&srv, file, version, &key, &[]);
    // The server offers N: signing in pins its key.
    let said = publish(&setup, current);
    assert!(said.contains("for windows x86_64 (installer"), "{said}");

    // Version N installed silently, with the default data folder.
    forget_timecard(wine);
    let user = user_dir(wine);
    let program_dir = user.join("AppData/Local/Programs/Timecard");
    let data_dir = user.join("AppData/Local/Timecard");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(
        data_dir.join("settings.json"),
        r#"{"notifications": false}"#,
    )
    .unwrap();
    run_and_settle(
        wine,
        display,
        &setup,
        &["/S"],
        &dir.path().join("install.log"),
    );
    let user_name = user.file_name().unwrap().to_string_lossy().into_owned();
    let installed = format!(r"C:\users\{user_name}\AppData\Local\Programs\Timecard\timecard.exe");
    let timecard = |args: &[&str], stdin: Option<&str>| {
        run(
            Command::new("wine")
                .arg(&installed)
                .args(args)
                .envs(wine.env())
                .env("DISPLAY", display)
                .env_remove("TIMECARD_DATA_DIR"),
            stdin,
        )
    };
    let version = |out: std::process::Output| {
        assert!(out.status.success(), "{}", text(&out));
        text(&out).trim().trim_start_matches("timecard ").to_owned()
    };
    assert_eq!(version(timecard(&["--version"], None)), current);

    let cert = srv.join("tls/cert.pem");
    let signed = timecard(
        &[
            "login",
            "--server",
            &server.url,
            "--ca",
            cert.to_str().unwrap(),
            "--user",
            "ann",
            "--password-stdin",
        ],
        Some("a long password\n"),
    );
    assert!(signed.status.success(), "{}", text(&signed));
    assert!(
        data_dir.join("update-key.json").is_file(),
        "the key is pinned at sign-in"
    );

    // Time tracked while the server is in maintenance stays in the cache.
    let contracts = timecard(&["contracts"], None);
    assert!(contracts.status.success(), "{}", text(&contracts));
    let maintenance = |state: &str| {
        let out = timecard_server(&srv, &["maintenance", state, "--retry-after", "1"], None);
        assert!(out.status.success(), "{}", text(&out));
    };
    maintenance("on");
    let tracked = timecard(&["track", "--contract", "work", "--for", "12s"], None);
    assert!(tracked.status.success(), "{}", text(&tracked));
    maintenance("off");
    let status = |what: &str| {
        let out = timecard(&["status", "--json"], None);
        assert!(out.status.success(), "{what}: {}", text(&out));
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        status
    };
    let cached = status("before the update");
    assert!(
        cached["pending_segments"].as_u64().unwrap_or(0) > 0,
        "time is cached before the update: {cached}"
    );

    // N+1 published; the installed copy sees it as an installer's update.
    publish(&next_setup, &next);
    let out = timecard(&["update", "--check", "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check["current"], current, "{check}");
    assert_eq!(check["offered"], next.as_str(), "{check}");
    assert_eq!(check["available"], true, "{check}");
    assert_eq!(check["kind"], "installer", "{check}");

    // The update: it ends once the installer runs, and neither the
    // installer nor the program it starts keeps its standard output (a
    // caller reading it would wait for as long as Timecard runs). Its
    // standard error goes to a file: Wine gives every process it starts
    // the Unix standard error of its parent, for its own messages.
    let errors = dir.path().join("update.err");
    let mut updating = Command::new("wine")
        .arg(&installed)
        .arg("update")
        .envs(wine.env())
        .env("DISPLAY", display)
        .env_remove("TIMECARD_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&errors).unwrap())
        .spawn()
        .unwrap();
    let updated = updating.wait().unwrap();
    let mut stdout = updating.stdout.take().unwrap();
    let (said_tx, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = said_tx.send(text);
    });
    let said = said
        .recv_timeout(Duration::from_secs(30))
        .expect("`timecard update` ended but what it started holds its standard output");
    let said = format!("{said}{}", std::fs::read_to_string(&errors).unwrap());
    assert!(updated.success(), "{said}");
    assert!(
        said.contains(&format!("The installer of Timecard {next} is running")),
        "{said}"
    );

    // The relaunched app: the window's instance lock, at version N+1.
    let holder = || -> Option<(String, String)> {
        let lock = std::fs::read_to_string(data_dir.join("instance.lock")).ok()?;
        let lock: serde_json::Value = serde_json::from_str(&lock).ok()?;
        Some((
            lock["version"].as_str()?.to_owned(),
            lock["role"].as_str()?.to_owned(),
        ))
    };
    poll_until(
        "the relaunched Timecard's instance lock",
        Duration::from_secs(120),
        || holder().is_some_and(|(v, role)| v == next && role == "window"),
    );
    // Its window is on the screen.
    poll_until("the relaunched window", Duration::from_secs(60), || {
        let found = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "^Timecard"])
            .env("DISPLAY", display)
            .output()
            .unwrap();
        found.status.success() && !found.stdout.is_empty()
    });
    assert_eq!(version(timecard(&["--version"], None)), next);
    let entry =
        reg_query(wine, display, UNINSTALL_KEY, None).expect("the Add/Remove Programs entry");
    assert!(entry.contains(&next), "{entry}");
    assert!(program_dir.join("uninstall.exe").is_file());

    // The time tracked before is on the server, nothing left in the cache.
    let after = status("after the update");
    assert_eq!(after["pending_segments"], 0, "{after}");
    let linux_app = quiet_app(dir.path());
    let signed = sign_in(
        &linux_app,
        &server.url,
        &cert,
        "ann",
        "a long password",
        &[],
    );
    assert!(signed.status.success(), "{}", text(&signed));
    let secs = diary_total_secs(&linux_app);
    assert!(secs >= 10, "the server holds {secs} s of the cached time");
    // The relaunched app and the installer's leftovers end with the
    // session (wineserver -k).
    drop(server);
}
