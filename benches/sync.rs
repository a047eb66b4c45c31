//! Sync budgets (issue: sync):
//! - uploading a full 24-hour cache (144 segments with 300 KB screenshots)
//!   over loopback TLS: ≤ 3 s;
//! - server ingest of metadata-only segments in batches: ≥ 5,000 segments/s.
//!
//! On SQLite in a temporary folder by default; `TIMECARD_BENCH_DATABASE`
//! (`postgres://…`) and `TIMECARD_BENCH_BLOBS` (a folder or `s3://…`, with
//! the `AWS_*` variables) run the same on PostgreSQL and a blob store
//! (`ci/scale-bench.sh` sets them up side by side).
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use timecard_client::cache::Cache;
use timecard_client::sync::plan;
use timecard_client::sync::{ApiClient, ServerAddress};
use timecard_core::clock::{Clock, ManualClock};
use timecard_core::codec;
use timecard_core::domain::{
    Activity, Contract, ContractKind, ContractStatus, Screenshot, Segment, SegmentId,
};
use timecard_core::protocol::{Outcome, ServerConfig};
use timecard_server::{self as server, RunningServer, ServerOptions, auth};

const PASSWORD: &str = "benchmark password";

fn now() -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

/// Where the benchmark's server keeps its data.
fn storage() -> server::Storage {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    server::Storage {
        database: var("TIMECARD_BENCH_DATABASE")
            .map(|url| server::store::Database::parse(&url).expect("TIMECARD_BENCH_DATABASE")),
        blobs: var("TIMECARD_BENCH_BLOBS")
            .map(|b| server::store::blobs::BlobLocation::parse(&b).expect("TIMECARD_BENCH_BLOBS")),
    }
}

fn server(dir: &std::path::Path, config: ServerConfig) -> (RunningServer, ApiClient) {
    let storage = storage();
    let store = storage.open(dir).unwrap();
    if store.find_user("bench").unwrap().is_none() {
        store
            .add_user("bench", None, &auth::hash_password(PASSWORD))
            .unwrap();
        let contract = Contract {
            id: "bench".into(),
            title: "Benchmark".into(),
            client: String::new(),
            kind: ContractKind::Hourly,
            status: ContractStatus::Active,
            start_date: "2000-01-01".parse().unwrap(),
            weekly_limit_secs: None,
            pending_limit: None,
        };
        store.add_contract("bench", &contract, now()).unwrap();
    }
    let clock = ManualClock::new(now());
    let mut options = ServerOptions::new(dir);
    options.clock = Arc::new(clock.clone());
    options.config = config;
    options.storage = storage;
    let running = server::start(options, TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let client = ApiClient::new(
        ServerAddress::parse(&running.url()).unwrap(),
        Some(&running.cert_pem),
        Arc::new(clock) as Arc<dyn Clock>,
    )
    .unwrap();
    client.sign_in("bench", PASSWORD).unwrap();
    (running, client)
}

/// A real 8×8 JPEG.
fn small_jpeg() -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&[128u8; 8 * 8 * 3], 8, 8, jpeg_encoder::ColorType::Rgb)
        .expect("encode a JPEG");
    out
}

fn segment(start: DateTime<Utc>, secs: i64, shot_bytes: usize, rng: &mut fastrand::Rng) -> Segment {
    Segment {
        id: SegmentId::random(),
        contract_id: "bench".into(),
        device_id: "bench-device".into(),
        start,
        end: start + Duration::seconds(secs),
        memo: "benchmark".into(),
        activity: Activity(0b1111111111),
        screenshot: (shot_bytes > 0).then(|| {
            // A real JPEG header (the server checks it), then noise.
            let mut jpeg = vec![0u8; shot_bytes];
            rng.fill(&mut jpeg);
            let header = small_jpeg();
            let keep = header.len().min(shot_bytes);
            jpeg[..keep].copy_from_slice(&header[..keep]);
            let mut thumbnail = small_jpeg();
            thumbnail.resize(8 * 1024, 0);
            Screenshot {
                taken_at: start,
                jpeg,
                thumbnail,
            }
        }),
        capture_note: None,
    }
}

/// Uploads everything in a pending folder the way the sync thread does.
fn upload_pending(client: &ApiClient, pending: &std::path::Path) -> usize {
    let files = plan::list_pending(pending).unwrap();
    let mut accepted = 0;
    for batch in plan::plan_batches(&files, 16, 8 * 1024 * 1024) {
        let bodies = batch
            .iter()
            .map(|f| {
                codec::verified_body(&std::fs::read(&f.path).unwrap())
                    .unwrap()
                    .to_vec()
            })
            .collect();
        let response = client.upload(bodies).unwrap();
        accepted += response
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Accepted)
            .count();
    }
    accepted
}

fn upload_full_cache(c: &mut Criterion) {
    timecard_core::tls::install_crypto_provider();
    let cache_dir = tempfile::tempdir().unwrap();
    let (mut cache, _) = Cache::open(cache_dir.path(), 24 * 3600).unwrap();
    let mut rng = fastrand::Rng::with_seed(3);
    let day: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
    for i in 0..144 {
        cache
            .append(&segment(
                day + Duration::minutes(10 * i),
                600,
                300 * 1024,
                &mut rng,
            ))
            .unwrap();
    }
    let pending = cache_dir.path().join("pending");
    let mut group = c.benchmark_group("sync");
    group
        .sample_size(10)
        .measurement_time(StdDuration::from_secs(40));
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = server(
        dir.path(),
        ServerConfig {
            segment_secs: 600,
            lock_grace_secs: 0,
        },
    );
    let store = storage().open(dir.path()).unwrap();
    let user = store.find_user("bench").unwrap().unwrap().id;
    group.bench_function("upload_24h_cache_144x300KB_tls", |b| {
        b.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                assert_eq!(upload_pending(&client, &pending), 144);
                total += start.elapsed();
                // Deleted (untimed), so that every segment is really
                // ingested again.
                for s in store
                    .segments_between(user, day, day + Duration::days(1))
                    .unwrap()
                {
                    store.delete_segment(user, s.id, day, 0).unwrap().unwrap();
                }
            }
            total
        })
    });
    group.finish();
}

fn ingest_metadata(c: &mut Criterion) {
    timecard_core::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    // A long lock grace lets the benchmark fill past weeks with fresh time.
    let config = ServerConfig {
        segment_secs: 600,
        lock_grace_secs: 100 * 365 * 24 * 3600,
    };
    let (_server, client) = server(dir.path(), config);
    const BATCH: usize = 500;
    let mut rng = fastrand::Rng::with_seed(4);
    let mut next = now() - Duration::days(365);
    let mut group = c.benchmark_group("sync");
    group
        .sample_size(20)
        .throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("server_ingest_metadata_batch_500", |b| {
        b.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            for _ in 0..iters {
                let bodies: Vec<Vec<u8>> = (0..BATCH)
                    .map(|_| {
                        let s = segment(next, 60, 0, &mut rng);
                        next += Duration::seconds(60);
                        codec::encode_body(&s).unwrap()
                    })
                    .collect();
                let start = Instant::now();
                let response = client.upload(bodies).unwrap();
                total += start.elapsed();
                assert!(
                    response
                        .results
                        .iter()
                        .all(|r| r.outcome == Outcome::Accepted)
                );
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, upload_full_cache, ingest_metadata);
criterion_main!(benches);
