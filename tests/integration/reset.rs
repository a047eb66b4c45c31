//! *Clear cache and restart* from the command line (D4): `timecard reset`
//! says how much un-uploaded time would be lost and refuses without
//! `--yes`; with `--export DIR --yes` it wipes the data folder, and the
//! exported segments import and upload on a fresh data folder.

use crate::common;

use common::cli::{login, text, timecard};
use common::server::TestServer;

#[test]
fn reset_refuses_without_yes_and_exported_time_survives_into_a_fresh_folder() {
    let mut server = TestServer::start(chrono::Utc::now());
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    login(&old, &server);
    // The contract list is saved, so tracking can start offline.
    assert!(timecard(&old, &["contracts"], None).status.success());

    server.stop();
    let out = timecard(
        &old,
        &["track", "--contract", "ann-hourly", "--for", "3s"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let status: serde_json::Value =
        serde_json::from_slice(&timecard(&old, &["status", "--json"], None).stdout).unwrap();
    // One segment, or two if the 3 s crossed a 10-minute boundary.
    let segments = status["pending_segments"].as_u64().unwrap();
    assert!((1..=2).contains(&segments), "{status}");
    let cached_secs = status["cached_secs"].as_i64().unwrap();
    assert!(cached_secs >= 3, "{status}");

    // Without --yes: refused, saying how much would be lost; nothing changes.
    let out = timecard(&old, &["reset"], None);
    assert!(!out.status.success(), "{}", text(&out));
    let said = text(&out);
    let amount = format!("0:00:{cached_secs:02}");
    assert!(
        said.contains(&format!(
            "{amount} in {}",
            timecard_core::fmt::count(segments, "segment", "segments")
        )),
        "{said}"
    );
    assert!(said.contains("--yes"), "{said}");
    assert!(old.join("settings.json").exists());
    assert!(old.join("session.json").exists());

    // With --export and --yes: exported, then everything is gone.
    let export = dir.path().join("export");
    let out = timecard(
        &old,
        &["reset", "--export", export.to_str().unwrap(), "--yes"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let left: Vec<_> = std::fs::read_dir(&old)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for gone in [
        "settings.json",
        "session.json",
        "cache",
        "contracts.json",
        "device-id",
    ] {
        assert!(!left.iter().any(|n| n == gone), "{gone} survived: {left:?}");
    }

    // A fresh data folder: import the export, upload, and the server has it.
    server.restart();
    let fresh = dir.path().join("fresh");
    login(&fresh, &server);
    let out = timecard(&fresh, &["cache", "import", export.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = timecard(&fresh, &["sync"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("The cache is empty"), "{}", text(&out));
    let diary: serde_json::Value =
        serde_json::from_slice(&timecard(&fresh, &["diary", "--json", "--tz", "UTC"], None).stdout)
            .unwrap();
    let total: i64 = diary["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["secs"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, cached_secs, "{diary}");
}
