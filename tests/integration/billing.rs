//! One truth for billed time (B1–B3), through the real binaries: a day of
//! work tracked with `timecard track` (two sessions inside one ten-minute
//! cell) and added with `timecard manual`, served by `timecard-server
//! serve`; a week later its client disputes a segment on the web, the
//! freelancer answers and the client rejects it. Then every face gives the
//! same billable figure: the API's diary, `timecard diary --json`, the web
//! diary, the timesheet, the CSV, the statement, and the window's Work
//! Diary (with its line of time not uploaded yet). Twenty approvals sent
//! at once store one, and the approved week takes no more time.
//!
//! Both processes run on a faked clock (libfaketime, the same offset for
//! every process of a phase), so that the day is always a Wednesday and
//! "a week later" is a real restart of the server a week on. Run on SQLite
//! here and on PostgreSQL by `stores::server_suites_pass_on_postgres_and_s3`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use egui_kittest::kittest::Queryable;

use crate::common::cli::{run, text, timecard_server};
use crate::common::faketime::{self, clock_at};
use crate::common::serving::Serving;
use crate::common::{self, at};
use crate::web::Browser;
use timecard_client::settings::Settings;
use timecard_client::sync::{ApiClient, ServerAddress};
use timecard_core::clock::SystemClock;
use timecard_core::domain::ReviewMark;

const PASSWORD: &str = "a long password";

/// `timecard ARGS` on `data`, on the faked clock `env`.
fn timecard(data: &Path, env: &[(String, String)], args: &[&str]) -> std::process::Output {
    run(
        Command::new(env!("CARGO_BIN_EXE_timecard"))
            .args(args)
            .env("TIMECARD_DATA_DIR", data)
            .envs(env.iter().cloned()),
        None,
    )
}

/// "0:12:34" as seconds.
fn secs_of(hms: &str) -> i64 {
    let parts: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    parts[0] * 3600 + parts[1] * 60 + parts[2]
}

/// The `H:MM:SS` right after `marker` in `text`.
fn hms_after(text: &str, marker: &str) -> i64 {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {text}"))
        + marker.len();
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap();
    secs_of(&rest[..end])
}

/// A server phase: `timecard-server serve` on `data`, at `listen`, on
/// `clock`.
fn serve(data: &Path, listen: &str, clock: &[(String, String)], extra: &[&str]) -> Serving {
    let mut env = common::store::server_env(data);
    env.extend(clock.iter().cloned());
    let mut args = vec!["--listen", listen];
    args.extend_from_slice(extra);
    Serving::start_with_env(data, &args, env)
}

#[test]
fn every_face_bills_the_same_day_the_same() {
    if !faketime::present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();

    // The day: Wednesday 25 November 2026, from 14:00 UTC.
    let wednesday = clock_at(at("2026-11-25T14:00:00Z"));
    for (login, role) in [("ann", "freelancer"), ("carl", "client")] {
        let out = timecard_server(
            &data,
            &["user", "add", login, "--role", role, "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = timecard_server(
        &data,
        &[
            "contract",
            "add",
            "--id",
            "site",
            "--user",
            "ann",
            "--title",
            "Site",
            "--kind",
            "hourly",
            "--start",
            "2026-11-01",
            "--client-user",
            "carl",
            "--rate",
            "60",
            "--currency",
            "USD",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let server = serve(&data, "127.0.0.1:0", &wednesday, &[]);
    // The app remembers the address: the server comes back on it.
    let listen = format!("127.0.0.1:{}", server.port());
    let ca = data.join("tls/cert.pem");
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_timecard"))
            .args(["login", "--server", &server.url, "--ca"])
            .arg(&ca)
            .args(["--user", "ann", "--password-stdin"])
            .env("TIMECARD_DATA_DIR", &app)
            .envs(wednesday.iter().cloned()),
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    // Two sessions, a few seconds each, both in the 14:00 cell.
    for _ in 0..2 {
        let out = timecard(
            &app,
            &wednesday,
            &["track", "--contract", "site", "--for", "4s"],
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = timecard(&app, &wednesday, &["sync"]);
    assert!(out.status.success(), "{}", text(&out));
    // An hour on the phone, added by hand.
    let out = timecard(
        &app,
        &wednesday,
        &[
            "manual",
            "--contract",
            "site",
            "--from",
            "2026-11-25 12:00",
            "--to",
            "13:00",
            "--memo",
            "Planning call",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    drop(server);

    // A week later (the week is in review, its lock three days off).
    let next_wednesday = clock_at(at("2026-12-02T10:00:00Z"));
    let server = serve(
        &data,
        &listen,
        &next_wednesday,
        &["--lock-grace-secs", "259200"],
    );
    let cert = std::fs::read(&ca).unwrap();
    let mut carl = Browser::at(&server.url, &cert);
    assert_eq!(carl.sign_in_with("carl", PASSWORD).status, 303);
    let mut ann = Browser::at(&server.url, &cert);
    assert_eq!(ann.sign_in_with("ann", PASSWORD).status, 303);
    let diary_page = "/contracts/site/diary?date=2026-11-25&tz=UTC";
    let page = carl.get(diary_page);
    assert_eq!(page.status, 200, "{}", page.body);

    let api = ApiClient::new(
        ServerAddress::parse(&server.url).unwrap(),
        Some(&cert),
        Arc::new(SystemClock),
    )
    .unwrap();
    api.sign_in("ann", PASSWORD).unwrap();
    let day = api
        .diary(Some(at("2026-11-25T00:00:00Z").date_naive()), "UTC")
        .unwrap();
    let tracked: Vec<_> = day.segments.iter().filter(|s| !s.manual).collect();
    assert_eq!(tracked.len(), 2, "two sessions: {:?}", day.segments);
    assert!(
        tracked
            .iter()
            .all(|s| s.start >= at("2026-11-25T14:00:00Z") && s.end <= at("2026-11-25T14:10:00Z")),
        "both in the 14:00 cell: {tracked:?}"
    );
    assert_eq!(day.total.manual_secs, 3600);
    // Every segment is on the client's page, both sessions in one cell.
    for s in &day.segments {
        assert!(
            page.body.contains(&format!("segment-{}", s.id)),
            "{} missing",
            s.id
        );
    }
    let cell = page
        .body
        .find(&format!("segment-{}", tracked[0].id))
        .unwrap();
    let cell_end = page.body[cell..]
        .find("div class=\"cell")
        .map_or(page.body.len(), |e| cell + e);
    assert!(
        page.body[cell..cell_end].contains(&format!("segment-{}", tracked[1].id)),
        "the two sessions share a cell"
    );

    // The review: a dispute, an answer, a rejection.
    let disputed = tracked[0];
    let steps = [
        ("carl", "dispute", vec![("note", "This was lunch")]),
        ("ann", "answer", vec![("note", "A working lunch")]),
        (
            "carl",
            "decide",
            vec![("decision", "reject"), ("confirm", "yes")],
        ),
    ];
    for (by, step, fields) in steps {
        let who = if by == "carl" { &mut carl } else { &mut ann };
        let page = who.get(diary_page);
        let csrf = Browser::csrf(&page);
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("date", "2026-11-25"),
            ("tz", "UTC"),
        ];
        form.extend(fields);
        let got = who.post(
            &format!("/contracts/site/segments/{}/{step}", disputed.id),
            &form,
        );
        assert_eq!(got.status, 303, "{step}: {}", got.body);
    }

    // B1: every face, the same billable figure.
    let day = api
        .diary(Some(at("2026-11-25T00:00:00Z").date_naive()), "UTC")
        .unwrap();
    let expected: i64 = day
        .segments
        .iter()
        .filter(|s| s.id != disputed.id)
        .map(|s| (s.end - s.start).num_seconds())
        .sum();
    let rejected = day.segments.iter().find(|s| s.id == disputed.id).unwrap();
    assert_eq!(rejected.review, ReviewMark::Rejected);
    assert_eq!(day.total.billable_secs, expected, "the API's diary");
    assert_eq!(day.totals.len(), 1);
    assert_eq!(day.totals[0].totals.billable_secs, expected);
    assert_eq!(day.totals[0].secs, expected, "what older apps read");
    assert_eq!(
        day.total.rejected_secs,
        (rejected.end - rejected.start).num_seconds()
    );

    let out = timecard(
        &app,
        &next_wednesday,
        &["diary", "--date", "2026-11-25", "--tz", "UTC", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["billable_secs"], expected, "timecard diary --json");
    assert_eq!(cli["total"]["billable_secs"], expected);
    assert_eq!(common::cli::diary_total(&cli), expected);

    let page = carl.get(diary_page);
    assert_eq!(
        hms_after(&page.body, "Day total: <strong>"),
        expected,
        "the web diary"
    );
    let sheet = carl.get("/contracts/site/timesheet?week=2026-11-23");
    assert_eq!(
        hms_after(&sheet.body, "<strong class=\"billable\">"),
        expected,
        "the timesheet"
    );
    let csv = carl.get("/contracts/site/timesheet.csv?week=2026-11-23");
    let header: Vec<&str> = csv.body.lines().next().unwrap().split(',').collect();
    let billable = header
        .iter()
        .position(|h| *h == "billable_minutes")
        .unwrap();
    let minutes: f64 = csv
        .body
        .lines()
        .skip(1)
        .map(|row| {
            row.split(',')
                .nth(billable)
                .unwrap()
                .parse::<f64>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        (minutes * 60.0).round() as i64,
        expected,
        "the CSV: {}",
        csv.body
    );
    let statement = carl.get("/contracts/site/statement?week=2026-11-23");
    let in_words = &statement.body[statement.body.find("class=\"billable\"").unwrap()..];
    assert_eq!(hms_after(in_words, " ("), expected, "the statement");

    // In a real browser: both sessions drawn side by side in one cell,
    // the rejected one marked, the same total.
    if let Some(browser) = common::webdriver::Browser::start() {
        browser.go(&format!("{}/login", server.url));
        browser.type_into(&browser.find("#login"), "carl");
        browser.type_into(&browser.find("#password"), PASSWORD);
        browser.click(&browser.find("form.signin button[type=submit]"));
        browser.wait_until("signed in", "return location.pathname === '/contracts';");
        browser.go(&format!("{}{diary_page}", server.url));
        let shown = browser.run(&format!(
            "const a = document.getElementById('segment-{}'), b = document.getElementById('segment-{}');
             const seen = e => e.getBoundingClientRect().height > 0;
             return a.closest('.cell') === b.closest('.cell') && seen(a) && seen(b)
                 && a.classList.contains('rejected');",
            tracked[0].id, tracked[1].id
        ));
        assert_eq!(
            shown,
            serde_json::json!(true),
            "both sessions in one cell, seen"
        );
        assert!(browser.text().contains(&format!(
            "Day total: {} billable",
            timecard_core::fmt::hms(expected)
        )));
        let screens = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-screens");
        browser.screenshot(&screens.join("billing-diary.png"));
    }

    // The window's Work Diary: the same figure, and the time it has not
    // uploaded yet on a line of its own.
    window_diary_agrees(&app, &server.url, &ca, expected);

    // B3: twenty approvals at once store one; then the week takes no more
    // time, though its lock is days away.
    let sheet = carl.get("/contracts/site/timesheet?week=2026-11-23");
    let csrf = Browser::csrf(&sheet);
    let approvals: Vec<_> = (0..20)
        .map(|_| {
            let (mut carl, csrf) = (carl.clone(), csrf.clone());
            std::thread::spawn(move || {
                carl.post(
                    "/contracts/site/weeks/2026-11-23/approve",
                    &[("csrf", &csrf), ("confirm", "yes")],
                )
                .status
            })
        })
        .collect();
    let statuses: Vec<u16> = approvals.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 409),
        "{statuses:?}"
    );
    let sheet = carl.get("/contracts/site/timesheet?week=2026-11-23");
    assert_eq!(sheet.body.matches("approved the week").count(), 1);
    let out = timecard(
        &app,
        &next_wednesday,
        &[
            "manual",
            "--contract",
            "site",
            "--from",
            "2026-11-26 09:00",
            "--to",
            "10:00",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("approved by the client"),
        "{}",
        text(&out)
    );
}

/// The window on a data folder signed in as `app` is (its session and
/// settings), on a clock at 15:00 that day: its diary's total is
/// `expected`, and once it tracks, the time not uploaded yet shows apart.
fn window_diary_agrees(app: &Path, url: &str, ca: &Path, expected: i64) {
    let session: PathBuf = app.join("session.json");
    let settings = Settings {
        time_zone: Some("UTC".into()),
        server: Some(url.to_owned()),
        server_ca: Some(ca.to_owned()),
        ..Settings::default()
    };
    let mut w = crate::ui::open_with(settings, move |data| {
        std::fs::copy(&session, data.session_file()).unwrap();
    });
    w.click("Work Diary");
    w.until("the day", |app| {
        app.state
            .diary
            .day()
            .is_some_and(|d| d.as_ref().is_ok_and(|d| !d.segments.is_empty()))
    });
    let total = timecard_core::fmt::hms(expected);
    w.harness
        .get_by_label_contains(&format!("Day total {total} — Site {total}"));
    w.click("Tracker");
    w.click("Start");
    w.until("tracking", |app| app.latest().tracking.is_some());
    w.clock.advance(chrono::Duration::minutes(3));
    w.click("Work Diary");
    w.harness
        .get_by_label_contains(&format!("Day total {total} — Site {total}"));
    w.harness
        .get_by_label("0:03:00 not uploaded yet — Site 0:03:00");
}
