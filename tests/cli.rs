//! The `timecard` binary as a user runs it, on a fresh data folder.

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

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn track_for_a_while_then_status_and_list() {
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
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("Tracking \"Backend development\""));

    let status = json(&timecard(dir.path(), &["status", "--json"]));
    assert!(status["pending_segments"].as_u64().unwrap() >= 1);
    let cached = status["cached_secs"].as_i64().unwrap();
    assert!((2..=3).contains(&cached), "cached {cached}s for a 2 s run");
    assert_eq!(status["quarantined_files"], 0);

    let list = json(&timecard(dir.path(), &["cache", "list", "--json"]));
    let rows = list.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r["contract_id"] == "demo-hourly" && r["state"] == "pending")
    );
}

#[test]
fn untrackable_contract_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = timecard(
        dir.path(),
        &["track", "--contract", "demo-paused", "--for", "1s"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("paused"), "{err}");
    let out = timecard(
        dir.path(),
        &["track", "--contract", "demo-fixed", "--for", "1s"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("fixed-price tracking is off"));
}

// K3 through the command line: damaged files are quarantined and reported,
// the good segment stays and still exports and imports (K9).
#[test]
fn verify_quarantines_and_export_import_moves_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = timecard(
        dir.path(),
        &["track", "--contract", "demo-open", "--for", "1s"],
    );
    assert!(out.status.success());
    let pending = dir.path().join("cache/pending");
    std::fs::write(pending.join("0000-junk.tcseg"), vec![0u8; 100]).unwrap();
    std::fs::write(pending.join("notes.txt"), b"hello").unwrap();

    let out = timecard(dir.path(), &["cache", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("1 segment file(s) verified"), "{text}");
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

    let export = dir.path().join("export");
    let out = timecard(dir.path(), &["cache", "export", export.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("1 segment(s) written"),
        "{}",
        stdout(&out)
    );
    let other = tempfile::tempdir().unwrap();
    let out = timecard(other.path(), &["cache", "import", export.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("1 segment(s) imported"),
        "{}",
        stdout(&out)
    );
    let status = json(&timecard(other.path(), &["status", "--json"]));
    assert_eq!(status["pending_segments"], 1);
}

#[test]
fn broken_contract_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("contracts.json");
    std::fs::write(&file, b"[{").unwrap();
    let out = timecard(
        dir.path(),
        &[
            "track",
            "--contract",
            "x",
            "--contracts",
            file.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a valid contract list"));
}
