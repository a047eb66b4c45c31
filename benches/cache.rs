//! Cache budgets (issue: tracking core):
//! - durable append of one segment with a 300 KB screenshot: ≤ 5 ms median;
//! - opening and verifying a full 24-hour cache (144 segments with 300 KB
//!   screenshots): ≤ 30 ms.
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use chrono::{DateTime, Duration, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use timecard_client::cache::{Cache, DEFAULT_CAPACITY_SECS};
use timecard_core::domain::{Activity, Screenshot, Segment, SegmentId};

const SHOT_BYTES: usize = 300 * 1024;

fn segment(start: DateTime<Utc>, rng: &mut fastrand::Rng) -> Segment {
    let mut jpeg = vec![0u8; SHOT_BYTES];
    rng.fill(&mut jpeg);
    Segment {
        id: SegmentId::random(),
        contract_id: "bench".into(),
        device_id: "bench-device".into(),
        start,
        end: start + Duration::minutes(10),
        memo: "benchmarking the cache".into(),
        activity: Activity(0b1111111111),
        screenshot: Some(Screenshot {
            taken_at: start,
            jpeg,
            thumbnail: vec![0; 8 * 1024],
        }),
        capture_note: None,
    }
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (mut cache, _) = Cache::open(dir.path(), i64::MAX).unwrap();
    let mut rng = fastrand::Rng::with_seed(1);
    let base: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
    let mut n = 0;
    c.bench_function("cache/append_300KB_durable", |b| {
        b.iter_batched(
            || {
                n += 1;
                segment(base + Duration::minutes(10 * n), &mut rng)
            },
            |s| cache.append(&s).unwrap(),
            BatchSize::PerIteration,
        )
    });
}

fn open_full(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (mut cache, _) = Cache::open(dir.path(), DEFAULT_CAPACITY_SECS).unwrap();
    let mut rng = fastrand::Rng::with_seed(2);
    let base: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
    for i in 0..144 {
        cache
            .append(&segment(base + Duration::minutes(10 * i), &mut rng))
            .unwrap();
    }
    assert!(cache.is_full());
    drop(cache);
    c.bench_function("cache/open_verify_24h_144x300KB", |b| {
        b.iter(|| {
            let (cache, report) = Cache::open(dir.path(), DEFAULT_CAPACITY_SECS).unwrap();
            assert_eq!(report.verified, 144);
            cache
        })
    });
}

criterion_group!(benches, append, open_full);
criterion_main!(benches);
