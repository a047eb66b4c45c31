//! *Report a problem* (D3) end to end: the `timecard` binary against the
//! real server over TLS, offline first (queued), then delivered when the
//! server is back, with the logs attached; the operator reads it with
//! `timecard-server report list|show`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::server::{PASSWORD, TestServer};

fn timecard(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_timecard"))
        .args(args)
        .env("TIMECARD_DATA_DIR", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run timecard");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn server_admin(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_timecard-server"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run timecard-server")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn report_is_queued_offline_and_delivered_with_logs_when_the_server_is_back() {
    let mut server = TestServer::start(chrono::Utc::now());
    let device = tempfile::tempdir().unwrap();
    let ca = device.path().join("server.pem");
    std::fs::write(&ca, &server.server.cert_pem).unwrap();
    let url = server.url();
    let out = timecard(
        device.path(),
        &[
            "login",
            "--server",
            &url,
            "--ca",
            ca.to_str().unwrap(),
            "--user",
            "ann",
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));

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
    let list = server_admin(server.dir.path(), &["report", "list", "--json"]);
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
    let show = server_admin(
        server.dir.path(),
        &[
            "report",
            "show",
            &id[..8],
            "--save-logs",
            zip_path.to_str().unwrap(),
        ],
    );
    assert!(show.status.success(), "{}", text(&show));
    let shown = text(&show);
    assert!(
        shown.contains("The timer stopped by itself after lunch"),
        "{shown}"
    );
    assert!(shown.contains("timecard.log"), "{shown}");
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
    let list = server_admin(server.dir.path(), &["report", "list"]);
    let listed = text(&list);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("Second one"), "{listed}");
}
