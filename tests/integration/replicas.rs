//! Several `timecard-server serve` processes on one PostgreSQL database
//! (issue 14): batches of one user are judged one at a time across
//! replicas, a replica killed mid-batch loses and doubles nothing, and a
//! database restart only makes the client cache and drain afterwards.

use std::path::Path;
use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, DurationRound, Utc};
use timecard_client::sync::{ApiClient, ServerAddress};
use timecard_core::clock::{Clock, SystemClock};
use timecard_core::codec;
use timecard_core::domain::{Activity, Screenshot, Segment, SegmentId};
use timecard_core::protocol::Outcome;
use timecard_server::Storage;
use timecard_server::store::blobs::BlobLocation;
use timecard_server::store::{Database, Picture};

use crate::common::postgres::PgCluster;
use crate::common::server::{PASSWORD, seed};
use crate::common::serving::Serving;
use crate::common::{self, tiny_jpeg};

/// The shared cluster, or `None` (said on stderr) where PostgreSQL is not
/// installed and not required.
fn cluster() -> Option<&'static PgCluster> {
    common::postgres::shared()
}

/// Two data folders (each replica has its own certificate) on one new
/// database, seeded with `ann` and `bob` and their contracts.
fn two_replicas_on(url: &str, args: &[&str]) -> (tempfile::TempDir, Serving, Serving) {
    two_replicas_with(url, None, args)
}

/// As [`two_replicas_on`], with pictures in `blobs`.
fn two_replicas_with(
    url: &str,
    blobs: Option<BlobLocation>,
    args: &[&str],
) -> (tempfile::TempDir, Serving, Serving) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let storage = Storage {
        database: Some(Database::Postgres(url.to_owned())),
        blobs,
    };
    common::store::use_storage(&a, storage.clone());
    common::store::use_storage(&b, storage);
    seed(&a, Utc::now());
    let args: Vec<&str> = ["--listen", "127.0.0.1:0"]
        .iter()
        .chain(args)
        .copied()
        .collect();
    let first = Serving::start(&a, &args);
    let second = Serving::start(&b, &args);
    (dir, first, second)
}

/// A client of the replica serving `data`, signed in as `login`.
fn client(serving: &Serving, data: &Path, login: &str) -> ApiClient {
    let pem = std::fs::read(data.join("tls/cert.pem")).expect("the replica's certificate");
    let client = ApiClient::new(
        ServerAddress::parse(&serving.url).unwrap(),
        Some(&pem),
        Arc::new(SystemClock) as Arc<dyn Clock>,
    )
    .unwrap();
    client.sign_in(login, PASSWORD).expect("sign in");
    client
}

fn segment(contract: &str, device: &str, start: DateTime<Utc>, secs: i64) -> Segment {
    Segment {
        id: SegmentId::random(),
        contract_id: contract.into(),
        device_id: device.into(),
        start,
        end: start + Duration::seconds(secs),
        memo: format!("from {device}"),
        activity: Activity(1),
        screenshot: Some(Screenshot {
            taken_at: start,
            jpeg: tiny_jpeg(),
            thumbnail: tiny_jpeg(),
        }),
        capture_note: None,
    }
}

fn bodies(segments: &[Segment]) -> Vec<Vec<u8>> {
    segments
        .iter()
        .map(|s| codec::encode_body(s).unwrap())
        .collect()
}

// Two devices of one user upload overlapping segments at the same moment
// through two replicas, 200 times: each time exactly one is accepted.
#[test]
fn two_replicas_accept_exactly_one_of_two_overlapping_segments() {
    let Some(cluster) = cluster() else { return };
    let url = cluster.new_database();
    let (dir, first, second) = two_replicas_on(&url, &["--segment-secs", "10"]);
    let laptop = client(&first, &dir.path().join("a"), "ann");
    let desktop = client(&second, &dir.path().join("b"), "ann");
    let rounds = 200;
    let base = Utc::now().duration_trunc(Duration::seconds(10)).unwrap()
        - Duration::seconds(10 * (rounds + 2));
    let go = Arc::new(Barrier::new(2));
    for round in 0..rounds {
        let start = base + Duration::seconds(10 * round);
        let mine = segment("ann-open", "laptop", start, 10);
        let theirs = segment("ann-open", "desktop", start, 10);
        let outcomes = std::thread::scope(|s| {
            let jobs = [(&laptop, &mine), (&desktop, &theirs)].map(|(client, segment)| {
                let go = go.clone();
                let body = bodies(std::slice::from_ref(segment));
                s.spawn(move || {
                    go.wait();
                    client.upload(body).expect("upload").results[0].outcome
                })
            });
            jobs.map(|job| job.join().unwrap())
        });
        let accepted = outcomes.iter().filter(|o| **o == Outcome::Accepted).count();
        assert_eq!(accepted, 1, "round {round}: {outcomes:?}");
    }
    let store = common::store::open(&dir.path().join("a"));
    let stored = store
        .segments_between(1, base, base + Duration::seconds(10 * rounds))
        .unwrap();
    assert_eq!(
        stored.len(),
        rounds as usize,
        "one segment per round, no more"
    );
}

// Concurrent uploads through two replicas near a weekly limit: the week
// ends exactly at the limit, never over it.
#[test]
fn concurrent_uploads_near_a_weekly_limit_never_exceed_it() {
    let Some(cluster) = cluster() else { return };
    let url = cluster.new_database();
    let (dir, first, second) = two_replicas_on(&url, &["--segment-secs", "60"]);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let store = common::store::open(&a);
    // A 1-hour limit, on a contract of its own.
    let mut contract = common::server::contract(
        "ann-tight",
        timecard_core::domain::ContractKind::Hourly,
        Some(1),
    );
    contract.start_date = "2026-01-01".parse().unwrap();
    store.add_contract("ann", &contract, Utc::now()).unwrap();
    let week = timecard_core::domain::BillingWeek::containing(Utc::now());
    // 40 one-minute segments per device, all in this week, not
    // overlapping each other: 80 minutes offered for a 60-minute limit.
    let minute = Duration::minutes(1);
    let first_start = week.start().max(Utc::now() - Duration::hours(3));
    let first_start = first_start.duration_trunc(minute).unwrap();
    let mut laptop_segments = Vec::new();
    let mut desktop_segments = Vec::new();
    for i in 0..80 {
        let start = first_start + minute * i;
        if i % 2 == 0 {
            laptop_segments.push(segment("ann-tight", "laptop", start, 60));
        } else {
            desktop_segments.push(segment("ann-tight", "desktop", start, 60));
        }
    }
    assert!(first_start + minute * 80 < Utc::now(), "all in the past");
    let laptop = client(&first, &a, "ann");
    let desktop = client(&second, &b, "ann");
    let go = Arc::new(Barrier::new(2));
    std::thread::scope(|s| {
        for (client, segments) in [(&laptop, &laptop_segments), (&desktop, &desktop_segments)] {
            let go = go.clone();
            s.spawn(move || {
                go.wait();
                // One segment per request: the two replicas interleave.
                for segment in segments {
                    client
                        .upload(bodies(std::slice::from_ref(segment)))
                        .expect("upload");
                }
            });
        }
    });
    let logged = store
        .logged_secs("ann-tight", week.start(), week.end())
        .unwrap();
    assert_eq!(logged, 3600, "exactly the limit, not more");
}

// One replica is killed (SIGKILL) in the middle of a batch; the client
// retries the batch through the other: every segment is stored exactly
// once, each with its screenshot (in the S3-compatible store).
#[test]
fn a_replica_killed_mid_batch_loses_and_doubles_nothing() {
    let Some(cluster) = cluster() else { return };
    let url = cluster.new_database();
    let blobs = common::s3::S3Server::start().map(|_| {
        let prefix = uuid::Uuid::new_v4().simple().to_string();
        BlobLocation::parse(&common::store::shared_s3().url(&prefix)).unwrap()
    });
    let (dir, mut first, second) = two_replicas_with(&url, blobs, &[]);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let start = Utc::now().duration_trunc(Duration::minutes(10)).unwrap() - Duration::hours(20);
    // A day's worth of segments with real screenshots, in one batch.
    let picture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/screens/desktop-thumbnail.jpg"
    ))
    .unwrap();
    let segments: Vec<Segment> = (0..100)
        .map(|i| {
            let mut s = segment("ann-open", "laptop", start + Duration::minutes(10 * i), 600);
            if let Some(shot) = &mut s.screenshot {
                shot.jpeg = picture.clone();
            }
            s
        })
        .collect();
    // The batch reaches the first replica while the user's batch lock is
    // held elsewhere: the replica is then, for sure, in the middle of the
    // batch (its screenshots decoded, its transaction open) when it is
    // killed.
    let mut holder = cluster.hold_user_lock(&url, 1);
    let to_first = client(&first, &a, "ann");
    let uploading = {
        let body = bodies(&segments);
        std::thread::spawn(move || to_first.upload(body))
    };
    cluster.wait_for_advisory_locks(&url, "NOT granted", 1);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let died = uploading.join().unwrap();
    assert!(died.is_err(), "the killed replica answered: {died:?}");
    drop(holder.stdin.take());
    holder.wait().unwrap();
    // The client does not know what the first replica stored: it sends
    // the whole batch again, to the other one.
    let to_second = client(&second, &b, "ann");
    let answer = to_second
        .upload(bodies(&segments))
        .expect("upload to the other replica");
    for result in &answer.results {
        assert!(
            matches!(result.outcome, Outcome::Accepted | Outcome::Duplicate),
            "{result:?} (first replica said {died:?})"
        );
    }
    let store = common::store::open(&a);
    let stored = store
        .segments_between(1, start, start + Duration::hours(24))
        .unwrap();
    assert_eq!(stored.len(), segments.len(), "each segment exactly once");
    for s in &segments {
        assert_eq!(
            store.screenshot(1, s.id, Picture::Full).unwrap().as_deref(),
            Some(&picture[..]),
            "segment {} has its screenshot",
            s.id
        );
    }
}
