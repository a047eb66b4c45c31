//! The server on PostgreSQL and with pictures outside the database
//! (issue 14): the server suites run again on PostgreSQL with blobs on an
//! S3-compatible server; `migrate` moves a SQLite database; `--blobs DIR`
//! and `blobs gc`; a database restart while a device uploads.

use std::process::Command;

use chrono::{Duration, DurationRound, Utc};
use timecard_client::sync::SyncState;

use crate::common::cli::{text, timecard_server};
use crate::common::device::Device;
use crate::common::server::TestServer;
use crate::common::{self, at};
use timecard_client::worker::Command as WorkerCommand;

/// The suites that exercise the server, run again in a child process on
/// PostgreSQL with blobs in the S3-compatible store. Left out, each for
/// what it checks of the SQLite file itself: its file modes and online
/// backup, a memo written into the file, and the file's bytes.
const SUITES: &[&str] = &[
    "billing::",
    "sync_e2e::",
    "sync_faults::",
    "sync_live::",
    "security::",
    "hostile::",
    "server_cli::",
    "server_deploy::",
    "web::",
    "bad_dates::",
    "proxy::",
    "reports::",
    "api_tokens::",
    "webhooks::a_week",
    "sign_on::",
];
const SQLITE_FILE_ONLY: &[&str] = &[
    "server_deploy::the_data_folder_is_owner_only",
    "server_deploy::backup_copies_the_database_while_the_server_serves",
    "hostile::huge_batches_and_a_huge_stored_memo_stay_within_memory",
    "security::sessions_expire_and_sign_out",
];

#[test]
fn server_suites_pass_on_postgres_and_s3() {
    if std::env::var_os("TIMECARD_TEST_STORE").is_some() {
        return; // Already the child.
    }
    if common::postgres::shared().is_none() {
        return;
    }
    let blobs = if common::s3::S3Server::start().is_some() {
        "s3"
    } else {
        "dir"
    };
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args(SUITES);
    for skip in SQLITE_FILE_ONLY {
        child.args(["--skip", skip]);
    }
    let out = child
        .env("TIMECARD_TEST_STORE", "postgres")
        .env("TIMECARD_TEST_BLOBS", blobs)
        .output()
        .expect("run the suites again");
    let said = text(&out);
    let summary = said
        .lines()
        .filter(|l| l.starts_with("test result:"))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("on PostgreSQL with blobs in {blobs}: {summary}");
    assert!(out.status.success(), "{said}");
    let passed: usize = summary
        .split_whitespace()
        .skip_while(|w| *w != "ok.")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 40, "only {passed} tests ran: {summary}");
}

// `migrate` moves the 0.1 database (screenshots into a blob folder) to
// PostgreSQL with verified counts and checksums; a second run copies
// nothing and checks again; the server then serves it.
#[test]
fn migrate_moves_the_0_1_database_to_postgres_and_blobs() {
    let Some(cluster) = common::postgres::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let sqlite = data.join("old.sqlite");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/server-0.1/timecard-server.sqlite"
        ),
        &sqlite,
    )
    .unwrap();
    let url = cluster.new_database();
    let blobs = dir.path().join("blobs");
    let from = format!("sqlite:{}", sqlite.display());
    let args = [
        "--blobs",
        blobs.to_str().unwrap(),
        "migrate",
        "--from",
        &from,
        "--to",
        &url,
    ];
    let out = timecard_server(&data, &args, None);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("segments: 8 rows, checksums match"), "{said}");
    assert!(said.contains("screenshots: 6 copied"), "{said}");
    assert!(said.contains("checked byte for byte"), "{said}");
    let objects = walk(&blobs);
    assert_eq!(
        objects,
        6 * 2 + 1,
        "6 screenshots, their thumbnails and one logs zip"
    );
    // Again: nothing new, the same checks pass.
    let again = timecard_server(&data, &args, None);
    let said = text(&again);
    assert!(again.status.success(), "{said}");
    assert!(said.contains("segments: 0 rows copied"), "{said}");
    assert_eq!(walk(&blobs), objects, "no second copy of any picture");
    // The users, their contracts and reports are there for the server.
    let list = timecard_server(
        &data,
        &[
            "--database",
            &url,
            "--blobs",
            blobs.to_str().unwrap(),
            "contract",
            "list",
        ],
        None,
    );
    assert!(list.status.success(), "{}", text(&list));
    let reports = timecard_server(
        &data,
        &[
            "--database",
            &url,
            "--blobs",
            blobs.to_str().unwrap(),
            "report",
            "list",
        ],
        None,
    );
    assert!(reports.status.success(), "{}", text(&reports));
    assert_eq!(
        cluster.psql(&url, "SELECT count(*) FROM users").trim(),
        "2",
        "both users of the 0.1 database"
    );
}

// A larger generated database (a week of segments with pictures) moves with verified counts, and a second run is clean.
#[test]
fn migrate_moves_a_larger_database() {
    let Some(cluster) = common::postgres::shared() else {
        return;
    };
    let server = {
        // A SQLite server of its own, whatever the suite runs on.
        let dir = tempfile::tempdir().unwrap();
        common::store::use_storage(dir.path(), timecard_server::Storage::default());
        (dir, ())
    };
    let data = server.0.path();
    let now = at("2026-11-29T23:59:00Z");
    common::server::seed(data, now);
    let store = common::store::open(data);
    let config = timecard_core::protocol::ServerConfig {
        segment_secs: 600,
        lock_grace_secs: 0,
    };
    let start = at("2026-11-23T00:00:00Z");
    for day in 0..7 {
        let batch: Vec<_> = (0..144)
            .map(|i| {
                let at = start + Duration::days(day) + Duration::minutes(10 * i);
                let mut s = common::segment_at("ann-open", "laptop", at);
                s.memo = format!("day {day} slot {i}");
                s
            })
            .collect();
        store.ingest(1, &batch, now, config).unwrap();
    }
    drop(store);
    let url = cluster.new_database();
    let from = format!("sqlite:{}", data.join(timecard_server::DB_FILE).display());
    let out = timecard_server(data, &["migrate", "--from", &from, "--to", &url], None);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("segments: 1008 rows, checksums match"),
        "{said}"
    );
    assert!(said.contains("screenshots: 1008 copied"), "{said}");
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.file_type().unwrap().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

// `--blobs DIR`: pictures go to the folder, not the database; a picture
// whose upload died before its row committed is an orphan that `blobs gc`
// removes, and nothing a row points to is touched.
#[test]
fn blobs_in_a_folder_and_gc_removes_only_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let blobs = dir.path().join("blobs");
    common::store::use_storage(
        &data,
        timecard_server::Storage {
            database: None,
            blobs: Some(timecard_server::store::blobs::BlobLocation::Folder(
                blobs.clone(),
            )),
        },
    );
    let now = Utc::now();
    common::server::seed(&data, now);
    let store = common::store::open(&data);
    let segment = common::segment_at("ann-open", "laptop", now - Duration::hours(2));
    let config = timecard_core::protocol::ServerConfig {
        segment_secs: 600,
        lock_grace_secs: 0,
    };
    store
        .ingest(1, std::slice::from_ref(&segment), now, config)
        .unwrap();
    assert_eq!(walk(&blobs), 2, "the screenshot and its thumbnail");
    let db = std::fs::read(data.join(timecard_server::DB_FILE)).unwrap();
    let jpeg = &segment.screenshot.as_ref().unwrap().jpeg;
    assert!(
        !db.windows(jpeg.len()).any(|w| w == &jpeg[..]),
        "the picture is not in the database"
    );
    // An upload that died between its pictures and its row.
    let orphan = blobs.join("screenshots/1/dead/x.jpg");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"orphan").unwrap();
    drop(store);
    let blobs_arg = blobs.to_str().unwrap();
    let young = timecard_server(&data, &["--blobs", blobs_arg, "blobs", "gc"], None);
    assert!(young.status.success(), "{}", text(&young));
    assert!(
        orphan.exists(),
        "a young orphan may be an upload about to commit"
    );
    let gc = timecard_server(
        &data,
        &["--blobs", blobs_arg, "blobs", "gc", "--older-than", "0s"],
        None,
    );
    let said = text(&gc);
    assert!(gc.status.success(), "{said}");
    assert!(
        said.contains("1 orphan deleted, 2 objects in use"),
        "{said}"
    );
    assert!(!orphan.exists());
    let store = common::store::open(&data);
    assert_eq!(
        store
            .screenshot(1, segment.id, timecard_server::store::Picture::Full)
            .unwrap()
            .as_ref(),
        Some(jpeg)
    );
}

// PostgreSQL stops while an upload is inside it (waiting on the user's
// batch lock, so the moment is certain) and starts again: the client
// caches meanwhile and drains afterwards; the server's total is exactly
// what was tracked.
#[test]
fn a_database_restart_mid_upload_only_delays_the_upload() {
    let Some(cluster) = common::postgres::PgCluster::start() else {
        return;
    };
    let now = at("2026-11-25T09:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.new_database();
    common::store::use_storage(
        dir.path(),
        timecard_server::Storage {
            database: Some(timecard_server::store::Database::Postgres(url.clone())),
            blobs: None,
        },
    );
    let server = TestServer::start_in(dir, now);
    let device = Device::new(&server, "ann", "laptop", &[]);
    device.wait_contracts();
    device.start("ann-open");
    server.clock.advance(Duration::minutes(10));
    device.worker.send(WorkerCommand::Tick);
    device.wait_drained(1);
    // The next upload reaches the database and waits there.
    let mut holder = cluster.hold_user_lock(&url, 1);
    server.clock.advance(Duration::minutes(10));
    device.worker.send(WorkerCommand::Tick);
    cluster.wait_for_advisory_locks(&url, "NOT granted", 1);
    cluster.stop();
    // The stop ended the session holding the lock.
    holder.wait().unwrap();
    let snapshot = device.wait_for("caching", |s| {
        matches!(s.sync.state, SyncState::Caching { .. }) && s.cache.pending_segments >= 1
    });
    match &snapshot.sync.state {
        SyncState::Caching { last_error, .. } => {
            assert!(last_error.contains("database"), "{last_error}")
        }
        other => panic!("{other:?}"),
    }
    // Tracking goes on while the database is down.
    for _ in 0..2 {
        server.clock.advance(Duration::minutes(10));
        device.worker.send(WorkerCommand::Tick);
    }
    cluster.start_again();
    device
        .worker
        .send(WorkerCommand::UploadNow { tell_user: false });
    device.wait_drained(4);
    let week = timecard_core::domain::BillingWeek::containing(now);
    let logged = server
        .store()
        .logged_secs("ann-open", week.start(), week.end())
        .unwrap();
    assert_eq!(logged, 4 * 600, "every tracked segment, once");
}

// The S3-compatible store goes down (SIGKILL) between two uploads: the
// upload it would have held is refused as a whole (the app keeps it and
// retries), nothing of it is stored without its pictures, and once the
// store is back the same batch is stored with them.
#[test]
fn blobs_down_refuses_the_batch_and_keeps_nothing_half_stored() {
    let Some(cluster) = common::postgres::shared() else {
        return;
    };
    let Some(mut s3) = common::s3::S3Server::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = cluster.new_database();
    // Seeded here (no pictures yet); served with the S3 store.
    common::store::use_storage(
        &data,
        timecard_server::Storage {
            database: Some(timecard_server::store::Database::Postgres(url.clone())),
            blobs: None,
        },
    );
    common::server::seed(&data, Utc::now());
    let mut env = s3.env();
    env.push(("TIMECARD_DATABASE_URL".into(), url));
    env.push(("TIMECARD_BLOBS".into(), s3.url("down")));
    let serving =
        crate::common::serving::Serving::start_with_env(&data, &["--listen", "127.0.0.1:0"], env);
    let pem = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let client = timecard_client::sync::ApiClient::new(
        timecard_client::sync::ServerAddress::parse(&serving.url).unwrap(),
        Some(&pem),
        std::sync::Arc::new(timecard_core::clock::SystemClock),
    )
    .unwrap();
    client.sign_in("ann", common::server::PASSWORD).unwrap();
    let start = (Utc::now() - Duration::hours(3))
        .duration_trunc(Duration::minutes(10))
        .unwrap();
    let batch = |from: i64| -> Vec<timecard_core::domain::Segment> {
        (from..from + 3)
            .map(|i| common::segment_at("ann-open", "laptop", start + Duration::minutes(10 * i)))
            .collect()
    };
    let bodies = |segments: &[timecard_core::domain::Segment]| -> Vec<Vec<u8>> {
        segments
            .iter()
            .map(|s| timecard_core::codec::encode_body(s).unwrap())
            .collect()
    };
    let first = batch(0);
    let answer = client.upload(bodies(&first)).unwrap();
    assert!(
        answer
            .results
            .iter()
            .all(|r| r.outcome == timecard_core::protocol::Outcome::Accepted)
    );
    s3.kill();
    let second = batch(3);
    let refused = client.upload(bodies(&second));
    assert!(
        refused.is_err(),
        "the batch is refused while the store is down: {refused:?}"
    );
    let store = common::store::open(&data);
    let stored = store
        .segments_between(1, start, start + Duration::hours(1))
        .unwrap();
    assert_eq!(stored.len(), 3, "only the first batch: {stored:?}");
    s3.start_again();
    let answer = client.upload(bodies(&second)).unwrap();
    assert!(
        answer
            .results
            .iter()
            .all(|r| r.outcome == timecard_core::protocol::Outcome::Accepted),
        "{answer:?}"
    );
    // Read through the server, from the bucket.
    for s in first.iter().chain(&second) {
        let picture = client.screenshot(s.id).unwrap();
        assert_eq!(picture, s.screenshot.as_ref().unwrap().jpeg);
    }
    drop(serving);
}
