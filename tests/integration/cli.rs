//! The `timecard` binary as a user runs it, on a fresh data folder with
//! nothing configured: the built-in local server.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

fn timecard(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_timecard"))
        .args(args)
        .env("TIMECARD_DATA_DIR", data)
        .output()
        .expect("run timecard")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", stdout(o), stderr(o)))
}

// The built-in server: a fresh data folder tracks, uploads and shows the
// time in the diary and the contract totals, with nothing configured.
#[test]
fn track_uploads_to_the_builtin_server() {
    let dir = tempfile::tempdir().unwrap();
    let out = timecard(
        dir.path(),
        &[
            "track",
            "--contract",
            "demo-hourly",
            "--for",
            "2s",
            "--memo",
            "tests",
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("Tracking \"Backend development\""));
    assert!(
        stdout(&out).contains("everything is saved on this computer (local only"),
        "{}",
        stdout(&out)
    );

    let status = json(&timecard(dir.path(), &["status", "--json"]));
    assert_eq!(status["sync_state"], "online", "{status}");
    assert_eq!(status["pending_segments"], 0);

    let diary = json(&timecard(dir.path(), &["diary", "--json", "--tz", "UTC"]));
    let total = common::cli::diary_total(&diary);
    assert!(
        (2..=3).contains(&total),
        "diary total {total} s for a 2 s run: {diary}"
    );
    assert_eq!(diary["segments"][0]["memo"], "tests");

    let contracts = json(&timecard(dir.path(), &["contracts", "--json"]));
    let hourly = contracts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "demo-hourly")
        .unwrap();
    assert_eq!(hourly["week_logged_secs"], total);
    assert_eq!(hourly["weekly_limit_hours"], 40.0);
    let paused = contracts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "demo-paused")
        .unwrap();
    assert_eq!(paused["trackable"], false);
    assert_eq!(paused["reason_code"], "paused");

    // People read titles, not ids.
    let text = stdout(&timecard(dir.path(), &["diary", "--tz", "UTC"]));
    assert!(text.contains("Backend development"), "{text}");
    assert!(!text.contains("demo-hourly"), "{text}");

    // Everything is on the server: an export says so and makes no folder.
    let export = dir.path().join("export");
    let out = timecard(dir.path(), &["cache", "export", export.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Nothing to export"),
        "{}",
        stdout(&out)
    );
    assert!(!export.exists(), "no empty folder");
}

#[test]
fn untrackable_contract_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = timecard(
        dir.path(),
        &["track", "--contract", "demo-paused", "--for", "1s"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("paused"), "{}", stderr(&out));
    let out = timecard(
        dir.path(),
        &["track", "--contract", "demo-fixed", "--for", "1s"],
    );
    assert!(
        stderr(&out).contains("fixed-price tracking is off"),
        "{}",
        stderr(&out)
    );
    let out = timecard(dir.path(), &["track", "--contract", "nope", "--for", "1s"]);
    assert!(
        stderr(&out).contains("no contract with id \"nope\""),
        "{}",
        stderr(&out)
    );
}

// K3 through the command line: damaged files are quarantined and reported,
// the good segment stays and still exports and imports (K9).
#[test]
fn verify_quarantines_and_export_import_moves_time() {
    let dir = tempfile::tempdir().unwrap();
    let pending = dir.path().join("cache/pending");
    std::fs::create_dir_all(&pending).unwrap();
    let good = "001795425000-7d0c6a8e-6a53-4d47-9d8c-2f1f0f7a1001.tcseg";
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/cache/good")
            .join(good),
        pending.join(good),
    )
    .unwrap();
    std::fs::write(pending.join("0000-junk.tcseg"), vec![0u8; 100]).unwrap();
    std::fs::write(pending.join("notes.txt"), b"hello").unwrap();

    let out = timecard(dir.path(), &["cache", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("1 segment file verified"), "{text}");
    assert!(
        text.contains("quarantined pending/0000-junk.tcseg"),
        "{text}"
    );
    assert!(text.contains("quarantined pending/notes.txt"), "{text}");
    assert!(dir.path().join("cache/quarantine/notes.txt").exists());
    let out = timecard(dir.path(), &["cache", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a second verify finds nothing new"
    );

    let list = json(&timecard(dir.path(), &["cache", "list", "--json"]));
    assert_eq!(list[0]["id"], "7d0c6a8e-6a53-4d47-9d8c-2f1f0f7a1001");

    let export = dir.path().join("export");
    let out = timecard(dir.path(), &["cache", "export", export.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("1 segment written"),
        "{}",
        stdout(&out)
    );
    let other = tempfile::tempdir().unwrap();
    let out = timecard(other.path(), &["cache", "import", export.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("1 segment imported"),
        "{}",
        stdout(&out)
    );
    let list = json(&timecard(other.path(), &["cache", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
}

// Y1: an http:// server is refused with the reason, before any connection.
#[test]
fn http_server_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = timecard(
        dir.path(),
        &[
            "login",
            "--server",
            "http://sync.example.com",
            "--user",
            "ann",
            "--password-stdin",
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("only talks to servers over HTTPS"), "{err}");
    assert!(err.contains("https://sync.example.com"), "{err}");
}

// D2: one line per event in the rolling log, no secrets in it, and
// `logs export` gives a zip holding exactly the log files.
#[test]
fn events_are_logged_and_logs_export_as_a_zip() {
    let dir = tempfile::tempdir().unwrap();
    let out = timecard(
        dir.path(),
        &["track", "--contract", "demo-hourly", "--for", "1s"],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let logs = dir.path().join("logs");
    let log = std::fs::read_to_string(logs.join("timecard.log")).unwrap();
    for event in [
        "tracking started: demo-hourly",
        "tracking stopped by the user: demo-hourly",
        "cached: demo-hourly",
        "uploaded 1 segment,",
        "contract list: 5 contracts",
    ] {
        assert!(log.contains(event), "no {event:?} in the log:\n{log}");
    }
    let password = std::fs::read_to_string(dir.path().join("local-server/demo-password")).unwrap();
    assert!(!log.contains(password.trim()), "the password is in the log");

    let zip_path = dir.path().join("logs.zip");
    let out = timecard(dir.path(), &["logs", "export", zip_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut on_disk: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut zipped: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    zipped.sort();
    assert_eq!(zipped, on_disk);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("timecard.log").unwrap(), &mut text)
        .unwrap();
    assert!(text.starts_with(&log), "the zip holds the log as written");
}

// Tracking from the command line with its output closed (piped into a
// program that left): the time is still cached and uploaded, no panic.
#[test]
fn track_with_closed_output_keeps_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_timecard"))
        .args(["track", "--contract", "demo-hourly", "--for", "2s"])
        .env("TIMECARD_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));

    let diary = json(&timecard(dir.path(), &["diary", "--json", "--tz", "UTC"]));
    let total = common::cli::diary_total(&diary);
    assert!((2..=3).contains(&total), "diary total {total} s: {diary}");
}

// Every command of the app prints through a writer that drops what a closed
// pipe refuses: `timecard status | head -1` ends quietly, with no panic.
#[test]
fn no_command_panics_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &["--help"],
        &["--version"],
        &["status"],
        &["status", "--json"],
        &["contracts"],
        &["contracts", "--json"],
        &["diary", "--tz", "UTC"],
        &["diary", "--json"],
        &["logs"],
        &["cache", "list"],
        &["cache", "verify"],
        &["track", "--contract", "demo-hourly", "--for", "1s"],
        &["sync"],
    ];
    for args in commands {
        let out = common::cli::run_with_closed_stdout(
            Command::new(env!("CARGO_BIN_EXE_timecard"))
                .args(*args)
                .env("TIMECARD_DATA_DIR", dir.path()),
        );
        common::cli::assert_ends_quietly_on_closed_stdout(&args.join(" "), &out);
    }
    // The tracked second was kept although nothing could be printed.
    let diary = json(&timecard(dir.path(), &["diary", "--json", "--tz", "UTC"]));
    assert!(common::cli::diary_total(&diary) >= 1, "{diary}");
}

// `--json` always prints JSON: signed out (a server configured, no session),
// every command that takes --json prints the error body on standard output
// and exits non-zero; a bad argument is answered in JSON too.
#[test]
fn json_commands_answer_errors_in_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("settings.json"),
        r#"{"server": "https://127.0.0.1:9"}"#,
    )
    .unwrap();
    for args in [
        &["contracts", "--json"][..],
        &["diary", "--json"],
        &["diary", "--json", "--tz", "UTC", "--date", "2026-12-01"],
    ] {
        let out = timecard(dir.path(), args);
        assert!(!out.status.success(), "{args:?}: {}", stdout(&out));
        let body = json(&out);
        assert_eq!(body["error"], "signed_out", "{args:?}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("not signed in"),
            "{args:?}: {body}"
        );
        assert!(stderr(&out).contains("not signed in"), "{}", stderr(&out));
    }
    let out = timecard(dir.path(), &["diary", "--json", "--date", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    let body = json(&out);
    assert_eq!(body["error"], "usage", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("yesterday"),
        "{body}"
    );
    let out = timecard(dir.path(), &["diary", "--json", "--tz", "Mars/Olympus"]);
    assert!(!out.status.success());
    assert_eq!(json(&out)["error"], "error");
    // Without --json, errors stay text on standard error.
    let out = timecard(dir.path(), &["contracts"]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("not signed in"), "{}", stderr(&out));
}
