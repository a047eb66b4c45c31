//! A database written by release 0.1 (`fixtures/server-0.1`, made by its
//! `make.sh` with the 0.1 binaries) opens with today's server and keeps
//! every user, contract, segment, screenshot and report, byte for byte; the
//! real binaries then serve it: its users sign in with their 0.1 passwords
//! and see their 0.1 time.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use common::cli::{run, text};
use common::serving::Serving;
use rusqlite::{Connection, OpenFlags};
use timecard_server::store::{Picture, Store};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/server-0.1/timecard-server.sqlite"
);

/// One 0.1 segment row with its pictures, as the 0.1 schema held it.
#[derive(Debug, PartialEq)]
struct Row {
    login: String,
    contract_id: String,
    start: i64,
    end: i64,
    memo: String,
    activity: i64,
    capture_note: Option<String>,
    jpeg: Option<Vec<u8>>,
    thumbnail: Option<Vec<u8>>,
}

/// What release 0.1 stored, read straight from its file with SQL, not
/// through the server's code.
struct Stored01 {
    logins: Vec<String>,
    /// id → (login, title, client, kind, status, limit, pending set, pending limit, pending at)
    #[allow(clippy::type_complexity)]
    contracts: BTreeMap<
        String,
        (
            String,
            String,
            String,
            String,
            String,
            Option<i64>,
            bool,
            Option<i64>,
            Option<i64>,
        ),
    >,
    segments: BTreeMap<String, Row>,
    /// id → (login, body JSON, logs zip)
    reports: BTreeMap<String, (String, String, Option<Vec<u8>>)>,
}

fn read_01(path: &Path) -> Stored01 {
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let version: i64 = db
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 0, "the fixture is a 0.1 database, never migrated");
    let logins = db
        .prepare("SELECT login FROM users ORDER BY login")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let contracts = db
        .prepare(
            "SELECT c.id, u.login, title, client, kind, status, weekly_limit_secs,
                    pending_set, pending_limit_secs, pending_effective_at
             FROM contracts c JOIN users u ON u.id = c.user_id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                (
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ),
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let segments = db
        .prepare(
            "SELECT s.id, u.login, contract_id, start, end, memo, activity, capture_note,
                    p.jpeg, p.thumbnail
             FROM segments s JOIN users u ON u.id = s.user_id
             LEFT JOIN screenshots p ON p.segment_id = s.id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                Row {
                    login: r.get(1)?,
                    contract_id: r.get(2)?,
                    start: r.get(3)?,
                    end: r.get(4)?,
                    memo: r.get(5)?,
                    activity: r.get(6)?,
                    capture_note: r.get(7)?,
                    jpeg: r.get(8)?,
                    thumbnail: r.get(9)?,
                },
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let reports = db
        .prepare(
            "SELECT r.id, u.login, body, logs_zip FROM reports r JOIN users u ON u.id = r.user_id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    Stored01 {
        logins,
        contracts,
        segments,
        reports,
    }
}

#[test]
fn a_release_0_1_database_migrates_intact() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(FIXTURE, data.join("timecard-server.sqlite")).unwrap();
    let old = read_01(Path::new(FIXTURE));
    // The fixture holds every kind of record, or this test proves little.
    assert_eq!(old.logins, ["ann", "bob"]);
    assert_eq!(old.contracts.len(), 5);
    assert!(old.contracts.values().any(|c| c.6), "a pending limit");
    assert!(old.segments.len() >= 6, "{}", old.segments.len());
    assert!(old.segments.values().any(|s| s.jpeg.is_some()));
    assert!(old.segments.values().any(|s| s.jpeg.is_none()));
    assert!(
        old.reports.values().any(|r| r.2.is_some()),
        "a report with logs"
    );
    assert!(old.reports.values().any(|r| r.2.is_none()), "one without");

    let store = timecard_server::open_store(&data).expect("the 0.1 database opens");
    let now = Utc::now();

    let users = store.users(now).unwrap();
    let logins: Vec<_> = users.iter().map(|u| u.login.clone()).collect();
    assert_eq!(logins, old.logins);
    assert!(users.iter().all(|u| u.disabled_at.is_none()));
    assert!(
        users
            .iter()
            .all(|u| u.role == timecard_server::store::Role::Freelancer),
        "0.1 had no roles: its users track time"
    );

    let mut ids = BTreeMap::new();
    for login in &old.logins {
        let user = store.find_user(login).unwrap().unwrap();
        ids.insert(login.clone(), user.id);
    }
    let contracts = store.contracts(None).unwrap();
    assert_eq!(contracts.len(), old.contracts.len());
    for stored in &contracts {
        assert_eq!(stored.terms, Default::default(), "0.1 had no terms");
        let c = &stored.contract;
        let was = &old.contracts[&c.id];
        assert_eq!(store.login_of(stored.user_id).unwrap(), was.0, "{}", c.id);
        assert_eq!((&c.title, &c.client), (&was.1, &was.2), "{}", c.id);
        let kind = serde_json::to_value(c.kind).unwrap();
        assert_eq!(kind.as_str().unwrap().replace('-', "_"), was.3, "{}", c.id);
        let status = serde_json::to_value(c.status).unwrap();
        assert_eq!(status.as_str().unwrap(), was.4, "{}", c.id);
        assert_eq!(c.weekly_limit_secs, was.5, "{}", c.id);
        match &c.pending_limit {
            Some(p) => {
                assert!(was.6, "{}: a pending limit appeared", c.id);
                assert_eq!(p.limit_secs, was.7);
                assert_eq!(Some(p.effective_at.timestamp()), was.8);
            }
            None => assert!(!was.6, "{}: the pending limit was lost", c.id),
        }
    }

    let mut seen = 0;
    for (login, user_id) in &ids {
        let all = store
            .segments_between(*user_id, DateTime::UNIX_EPOCH, now)
            .unwrap();
        for s in all {
            let was = &old.segments[&s.id.to_string()];
            assert_eq!(&was.login, login);
            assert_eq!(s.contract_id, was.contract_id);
            assert_eq!(
                (s.start.timestamp(), s.end.timestamp()),
                (was.start, was.end)
            );
            assert_eq!(s.memo, was.memo);
            assert_eq!(i64::from(s.activity.0), was.activity, "{}", s.id);
            assert_eq!(s.capture_note, was.capture_note);
            assert_eq!(s.has_screenshot, was.jpeg.is_some());
            let jpeg = store.screenshot(*user_id, s.id, Picture::Full).unwrap();
            let thumbnail = store
                .screenshot(*user_id, s.id, Picture::Thumbnail)
                .unwrap();
            assert_eq!(jpeg, was.jpeg, "{}: screenshot", s.id);
            assert_eq!(thumbnail, was.thumbnail, "{}: thumbnail", s.id);
            seen += 1;
        }
    }
    assert_eq!(seen, old.segments.len(), "every segment, once");

    assert_eq!(store.reports().unwrap().len(), old.reports.len());
    for (id, (login, body, logs)) in &old.reports {
        let (report, zip) = store.report(id).unwrap().expect("the report");
        assert_eq!(&report.login, login);
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            body["description"].as_str(),
            Some(report.report.description.as_str())
        );
        assert_eq!(&zip, logs, "{id}: logs");
    }
    drop(store);

    // The real binaries on the migrated folder: ann signs in with her 0.1
    // password and sees her 0.1 time, contracts and pending limit.
    let serving = Serving::start(&data, &["--listen", "127.0.0.1:0"]);
    let app = dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    let timecard = |args: &[&str], stdin: Option<&str>| {
        run(
            Command::new(env!("CARGO_BIN_EXE_timecard"))
                .args(args)
                .env("TIMECARD_DATA_DIR", &app),
            stdin,
        )
    };
    let ca = data.join("tls/cert.pem");
    let out = common::cli::sign_in(&app, &serving.url, &ca, "ann", "ann-password-1\n", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = timecard(&["contracts", "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed_ids: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let anns: Vec<_> = old
        .contracts
        .iter()
        .filter(|(_, c)| c.0 == "ann")
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(listed_ids.len(), anns.len(), "{listed}");
    assert!(anns.iter().all(|id| listed_ids.contains(id)), "{listed}");

    let day = DateTime::from_timestamp(old.segments.values().next().unwrap().start, 0)
        .unwrap()
        .date_naive()
        .to_string();
    let out = timecard(&["diary", "--json", "--tz", "UTC", "--date", &day], None);
    assert!(out.status.success(), "{}", text(&out));
    let diary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let anns_secs: i64 = old
        .segments
        .values()
        .filter(|s| s.login == "ann")
        .map(|s| s.end - s.start)
        .sum();
    assert_eq!(common::cli::diary_total(&diary), anns_secs, "{diary}");
}
