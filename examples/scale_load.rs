//! 200 simulated devices each upload a day of segments through one or
//! more `timecard-server serve` replicas, on loopback only. Run by
//! `ci/scale-load.sh`, which runs it on one SQLite server and on two
//! replicas on PostgreSQL with pictures in an S3-compatible server:
//!
//! ```text
//! cargo run --release --example scale_load -- target/release/timecard-server REPLICAS
//! ```
//!
//! The storage comes from the environment the replicas also read
//! (`TIMECARD_DATABASE_URL`, `TIMECARD_BLOBS`, `AWS_*`); without it, the
//! SQLite file of the first replica's data folder (one replica only).
//! Each device is its own account with its own contract and uploads 144
//! ten-minute segments with a real 7 KB screenshot, in batches of 16 as
//! the app does, through replica `device % REPLICAS`; a busy answer (503,
//! each replica decodes two batches at once) is asked again after the wait
//! it gives, as the app does. It prints segments per second, the p50/p99
//! latency of an answered upload request, each replica's peak resident
//! memory, and exits 1 unless every segment was accepted
//! exactly once. Requests time out; the run stops itself.
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, DurationRound, Utc};
use timecard_client::sync::{ApiClient, ServerAddress, SyncError};
use timecard_core::clock::{Clock, SystemClock};
use timecard_core::codec;
use timecard_core::domain::{
    Activity, Contract, ContractKind, ContractStatus, Screenshot, Segment, SegmentId,
};
use timecard_core::protocol::Outcome;
use timecard_server::store::Database;
use timecard_server::store::blobs::BlobLocation;
use timecard_server::{Storage, auth};

const DEVICES: usize = 200;
const SEGMENTS_PER_DEVICE: i64 = 144;
/// Segments per upload request, as the app batches them.
const BATCH: usize = 16;
const PASSWORD: &str = "scale load password";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(binary), Some(replicas)) = (args.next(), args.next()) else {
        eprintln!("usage: scale_load PATH/TO/timecard-server REPLICAS");
        return ExitCode::from(2);
    };
    let binary = PathBuf::from(binary);
    let replicas: usize = replicas.parse().unwrap_or(0);
    let storage = storage_from_env();
    if replicas == 0 || (replicas > 1 && storage.database.is_none()) {
        eprintln!("REPLICAS is 1, or more on a shared database (TIMECARD_DATABASE_URL)");
        return ExitCode::from(2);
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let folders: Vec<PathBuf> = (0..replicas)
        .map(|i| dir.path().join(format!("replica-{i}")))
        .collect();
    seed(&storage, &folders[0]);
    let servers: Vec<Replica> = folders.iter().map(|f| Replica::start(&binary, f)).collect();

    // Sign-ins first, a few at a time (each costs a password hash, and
    // the server queues them): not part of the upload.
    let mut clients: Vec<ApiClient> = Vec::with_capacity(DEVICES);
    for first in (0..DEVICES).step_by(8) {
        let signed_in: Vec<ApiClient> = std::thread::scope(|s| {
            let jobs: Vec<_> = (first..(first + 8).min(DEVICES))
                .map(|i| {
                    let replica = &servers[i % replicas];
                    s.spawn(move || replica.client(&format!("device-{i}")))
                })
                .collect();
            jobs.into_iter()
                .map(|j| j.join().expect("sign in"))
                .collect()
        });
        clients.extend(signed_in);
    }
    let picture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/screens/desktop-thumbnail.jpg"
    ))
    .expect("the screenshot fixture");
    let day_start = (Utc::now() - Duration::hours(25))
        .duration_trunc(Duration::minutes(10))
        .expect("a time on the grid");
    let batches: Vec<Vec<Vec<Vec<u8>>>> = (0..DEVICES)
        .map(|i| {
            let segments: Vec<Vec<u8>> = (0..SEGMENTS_PER_DEVICE)
                .map(|n| {
                    let start = day_start + Duration::minutes(10 * n);
                    let segment = Segment {
                        id: SegmentId::random(),
                        contract_id: format!("contract-{i}"),
                        device_id: format!("device-{i}"),
                        start,
                        end: start + Duration::minutes(10),
                        memo: "load".into(),
                        activity: Activity(0b1011),
                        screenshot: Some(Screenshot {
                            taken_at: start + Duration::minutes(3),
                            jpeg: picture.clone(),
                            thumbnail: picture.clone(),
                        }),
                        capture_note: None,
                    };
                    codec::encode_body(&segment).expect("encode a segment")
                })
                .collect();
            segments.chunks(BATCH).map(<[_]>::to_vec).collect()
        })
        .collect();

    let go = Barrier::new(DEVICES + 1);
    let (elapsed, results) = std::thread::scope(|s| {
        let jobs: Vec<_> = clients
            .iter()
            .zip(batches)
            .map(|(client, batches)| {
                let go = &go;
                s.spawn(move || {
                    go.wait();
                    let mut latencies = Vec::new();
                    let mut accepted = 0;
                    let mut failed = 0;
                    let mut busy = 0;
                    for bodies in batches {
                        // As the app does: a busy server is asked again
                        // after the wait it gives (a few times).
                        for _ in 0..10 {
                            let sent = Instant::now();
                            match client.upload(bodies.clone()) {
                                Ok(answer) => {
                                    latencies.push(sent.elapsed());
                                    accepted += answer
                                        .results
                                        .iter()
                                        .filter(|r| r.outcome == Outcome::Accepted)
                                        .count();
                                    break;
                                }
                                Err(SyncError::Busy {
                                    retry_after_secs, ..
                                }) => {
                                    busy += 1;
                                    std::thread::sleep(StdDuration::from_secs(retry_after_secs));
                                }
                                Err(e) => {
                                    eprintln!("an upload failed: {e}");
                                    failed += 1;
                                    break;
                                }
                            }
                        }
                    }
                    (latencies, accepted, failed, busy)
                })
            })
            .collect();
        go.wait();
        let started = Instant::now();
        let results: Vec<_> = jobs
            .into_iter()
            .map(|j| j.join().expect("a device"))
            .collect();
        (started.elapsed(), results)
    });
    let mut latencies: Vec<StdDuration> = results.iter().flat_map(|r| r.0.clone()).collect();
    latencies.sort();
    let accepted: usize = results.iter().map(|r| r.1).sum();
    let failed: usize = results.iter().map(|r| r.2).sum();
    let busy: usize = results.iter().map(|r| r.3).sum();
    let total = DEVICES * SEGMENTS_PER_DEVICE as usize;
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{DEVICES} devices x {SEGMENTS_PER_DEVICE} segments through {replicas} replica(s): {:.1} s, {:.0} segments/s, upload p50 {} ms, p99 {} ms",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(0.5).as_millis(),
        percentile(0.99).as_millis()
    );
    for (i, server) in servers.iter().enumerate() {
        println!(
            "replica {i}: peak resident {} MB",
            server.peak_rss_kb().unwrap_or(0) / 1024
        );
    }
    // Stored exactly once: what the store holds equals what was accepted.
    let store = storage.open(&folders[0]).expect("open the store");
    let from = day_start;
    let to = day_start + Duration::days(1);
    let stored: usize = (0..DEVICES)
        .map(|i| {
            let user = store
                .find_user(&format!("device-{i}"))
                .ok()
                .flatten()
                .map_or(0, |u| u.id);
            store
                .segments_between(user, from, to)
                .map_or(0, |s| s.len())
        })
        .sum();
    println!(
        "accepted {accepted} of {total}, stored {stored}; {busy} busy answer(s) asked again, {failed} failed request(s)"
    );
    for server in &servers {
        server.stop();
    }
    if accepted == total && stored == total && failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn storage_from_env() -> Storage {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    Storage {
        database: var("TIMECARD_DATABASE_URL")
            .map(|u| Database::parse(&u).expect("TIMECARD_DATABASE_URL")),
        blobs: var("TIMECARD_BLOBS").map(|b| BlobLocation::parse(&b).expect("TIMECARD_BLOBS")),
    }
}

/// One account and one contract per device (one password hash for all).
fn seed(storage: &Storage, folder: &Path) {
    let store = storage.open(folder).expect("open the store");
    let hash = auth::hash_password(PASSWORD);
    for i in 0..DEVICES {
        let login = format!("device-{i}");
        store.add_user(&login, None, &hash).expect("add a user");
        let contract = Contract {
            id: format!("contract-{i}"),
            title: format!("Load {i}"),
            client: "Load".into(),
            kind: ContractKind::Hourly,
            status: ContractStatus::Active,
            start_date: "2020-01-01".parse().expect("a date"),
            weekly_limit_secs: None,
            pending_limit: None,
        };
        store
            .add_contract(&login, &contract, Utc::now())
            .expect("add a contract");
    }
}

struct Replica {
    child: std::sync::Mutex<Child>,
    pid: u32,
    url: String,
    cert_pem: Vec<u8>,
}

impl Replica {
    fn start(binary: &Path, folder: &Path) -> Replica {
        let mut child = Command::new(binary)
            .arg("--data")
            .arg(folder)
            .args(["serve", "--listen", "127.0.0.1:0"])
            // A day back may be last week: not locked for this run.
            .args(["--lock-grace-secs", "864000"])
            // Every device comes from 127.0.0.1.
            .args(["--max-connections-per-address", "1000"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a replica");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("its output"))
            .read_line(&mut first)
            .expect("the replica's first line");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("https://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no loopback address in {first:?}"))
            .to_owned();
        Replica {
            pid: child.id(),
            child: std::sync::Mutex::new(child),
            url,
            cert_pem: std::fs::read(folder.join("tls/cert.pem")).expect("the certificate"),
        }
    }

    fn client(&self, login: &str) -> ApiClient {
        let client = ApiClient::new(
            ServerAddress::parse(&self.url).expect("an address"),
            Some(&self.cert_pem),
            Arc::new(SystemClock) as Arc<dyn Clock>,
        )
        .expect("a client");
        client.sign_in(login, PASSWORD).expect("sign in");
        client
    }

    /// VmHWM: the most it was resident at once.
    fn peak_rss_kb(&self) -> Option<u64> {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    fn stop(&self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
