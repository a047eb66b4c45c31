//! *Report a problem* (D3) end to end: the `timecard` binary against the
//! real server over TLS, offline first (queued), then delivered when the
//! server is back, with the logs attached; the operator reads it with
//! `timecard-server report list|show`.

use crate::common;

use common::cli::{login, text, timecard, timecard_server};
use common::server::{PASSWORD, TestServer};

#[test]
fn report_is_queued_offline_and_delivered_with_logs_when_the_server_is_back() {
    let mut server = TestServer::start(chrono::Utc::now());
    let device = tempfile::tempdir().unwrap();
    login(device.path(), &server);

    // Offline: the report is kept on disk and the command says so.
    server.stop();
    let out = timecard(
        device.path(),
        &[
            "report",
            "--message",
            "The timer stopped by itself after lunch",
            "--contract",
            "ann-hourly",
            "--at",
            "2026-11-24 13:05",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("will be sent when the server can be reached"),
        "{}",
        text(&out)
    );
    let queued: Vec<_> = std::fs::read_dir(device.path().join("reports"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(queued.len(), 1);
    let status: serde_json::Value =
        serde_json::from_slice(&timecard(device.path(), &["status", "--json"], None).stdout)
            .unwrap();
    assert_eq!(status["reports_waiting"], 1, "{status}");

    // Back online: the app's sync thread (here `timecard sync`) sends it.
    server.restart();
    let out = timecard(device.path(), &["sync"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_dir(device.path().join("reports"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count(),
        0,
        "the queue is empty once the server has the report"
    );

    // The operator sees it, with the user, the incident time in both zones and the logs.
    let list = timecard_server(server.dir.path(), &["report", "list", "--json"], None);
    assert!(list.status.success(), "{}", text(&list));
    let reports: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 1, "stored exactly once: {reports:?}");
    let report = &reports[0];
    assert_eq!(report["login"], "ann");
    assert_eq!(report["contract_id"], "ann-hourly");
    assert_eq!(
        report["description"],
        "The timer stopped by itself after lunch"
    );
    assert_eq!(report["app_version"], env!("CARGO_PKG_VERSION"));
    assert!(report["logs_zip_bytes"].as_u64().unwrap() > 0, "{report}");
    let id = report["id"].as_str().unwrap();

    let zip_path = device.path().join("attached.zip");
    let show = timecard_server(
        server.dir.path(),
        &[
            "report",
            "show",
            &id[..8],
            "--save-logs",
            zip_path.to_str().unwrap(),
        ],
        None,
    );
    assert!(show.status.success(), "{}", text(&show));
    let shown = text(&show);
    assert!(
        shown.contains("The timer stopped by itself after lunch"),
        "{shown}"
    );
    assert!(shown.contains("timecard.log"), "{shown}");
    // Issue 23, finding 8: the logs hold what the user worked on; the saved
    // copy is the admin's only, like every other export (it was 0644).
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&zip_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("timecard.log").unwrap(), &mut log).unwrap();
    assert!(
        log.contains("timecard"),
        "the attached log has the app's lines: {log}"
    );
    assert!(!log.contains(PASSWORD), "no password in the logs");

    // Online, a report goes at once; without logs when asked.
    let out = timecard(
        device.path(),
        &["report", "--message", "Second one", "--no-logs"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sent."), "{}", text(&out));
    let list = timecard_server(server.dir.path(), &["report", "list"], None);
    let listed = text(&list);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("Second one"), "{listed}");

    // Issue 11, item 7: a report's text cannot drive the admin's terminal
    // (retitle the window, clear the screen); it printed raw before.
    let out = timecard(
        device.path(),
        &[
            "report",
            "--message",
            "x\u{1b}]0;owned\u{7}\u{1b}[2J\nsecond line",
            "--no-logs",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let list = timecard_server(server.dir.path(), &["report", "list"], None);
    assert!(list.status.success(), "{}", text(&list));
    assert!(!list.stdout.contains(&0x1b), "{}", text(&list));
    let hostile = text(&list)
        .lines()
        .find(|l| l.contains("owned"))
        .map(|l| l[..8].to_owned())
        .expect("the hostile report is listed");
    let show = timecard_server(server.dir.path(), &["report", "show", &hostile], None);
    assert!(!show.stdout.contains(&0x1b) && !show.stdout.contains(&0x07));
    let shown = text(&show);
    assert!(shown.contains("x\\u{1b}]0;owned"), "{shown}");
    assert!(shown.contains("\nsecond line"), "newlines stay: {shown}");
}

// Item 9: with no server configured, `timecard report` does not "send" the
// report to this computer's own database: it saves the report and the logs
// to an owner-only file, says where, and `status` says the mode.
#[test]
fn report_in_local_mode_is_saved_to_a_file_the_user_can_send() {
    let device = tempfile::tempdir().unwrap();
    let logs = device.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("timecard.0.log.gz"), b"an older log").unwrap();
    let out = timecard(
        device.path(),
        &["report", "--message", "Nothing is uploaded anywhere"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("was not sent"), "{said}");
    assert!(said.contains("local only"), "{said}");
    let saved: Vec<_> = std::fs::read_dir(device.path().join("reports"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let path = &saved[0];
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("report-") && name.len() == "report-YYYYMMDD-HHMMSS.zip".len(),
        "{name}"
    );
    assert!(said.contains(&path.display().to_string()), "{said}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only");
    }
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut read = |name: &str| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(name).unwrap(), &mut bytes).unwrap();
        bytes
    };
    let report: serde_json::Value = serde_json::from_slice(&read("report.json")).unwrap();
    assert_eq!(report["description"], "Nothing is uploaded anywhere");
    assert!(
        String::from_utf8(read("report.txt"))
            .unwrap()
            .contains("Nothing is uploaded anywhere")
    );
    assert_eq!(read("logs/timecard.0.log.gz"), b"an older log");

    // Nothing was queued, and nothing reached the built-in server.
    let status: serde_json::Value =
        serde_json::from_slice(&timecard(device.path(), &["status", "--json"], None).stdout)
            .unwrap();
    assert_eq!(status["reports_waiting"], 0, "{status}");
    assert_eq!(status["local_only"], true, "{status}");
    assert_eq!(
        status["sync_state"], "online",
        "existing fields stay: {status}"
    );
    let store = timecard_server::open_store(&device.path().join("local-server")).unwrap();
    assert!(
        timecard_server::store::Store::reports(&store)
            .unwrap()
            .is_empty()
    );
    let shown = text(&timecard(device.path(), &["status"], None));
    assert!(shown.contains("Local only"), "{shown}");
}
