//! K1/K4: a child process writes segments to a cache and is killed with
//! SIGKILL at random moments, hundreds of times. After each kill, every
//! segment the child had reported as cached decodes and verifies, and no
//! partial file is ever mistaken for a segment.
//!
//! The child is this same test binary, re-run with an environment variable
//! that makes the test body act as the writer.
//!
//! A full disk is the other way to lose time: `timecard track` on a real
//! small filesystem filled while it runs.

use crate::common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, Utc};
use timecard_client::cache::{Cache, DEFAULT_CAPACITY_SECS};
use timecard_core::domain::{Activity, Screenshot, Segment, SegmentId};

const CHILD_ENV: &str = "TIMECARD_CRASH_TEST_CACHE";
const KILLS: usize = 200;

/// The writer: appends segments forever, reporting each one once `append`
/// has returned (the moment the cache says it is durable).
fn run_child(dir: &Path) -> ! {
    let (mut cache, _) = Cache::open(dir, i64::MAX).expect("child opens the cache");
    let mut rng = fastrand::Rng::new();
    let base: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
    let stdout = std::io::stdout();
    loop {
        let start = base + Duration::seconds(rng.i64(0..7 * 24 * 3600));
        let shot = rng.usize(0..300_000);
        let segment = Segment {
            id: SegmentId::random(),
            contract_id: "crash".into(),
            device_id: "child".into(),
            start,
            end: start + Duration::seconds(rng.i64(1..600)),
            memo: "written under fire".into(),
            activity: Activity(rng.u16(0..1024)),
            screenshot: (shot > 0).then(|| Screenshot {
                taken_at: start,
                jpeg: vec![rng.u8(..); shot],
                thumbnail: vec![1; 64],
            }),
            capture_note: None,
        };
        cache.append(&segment).expect("append");
        let mut out = stdout.lock();
        writeln!(out, "CACHED {}", segment.id).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_never_loses_a_cached_segment() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = fastrand::Rng::with_seed(2026);
    let mut expected: HashSet<SegmentId> = HashSet::new();
    let mut total_reported = 0;
    let mut interrupted_writes = 0;
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::sigkill_never_loses_a_cached_segment",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let the child report a random number of segments, then kill it at
        // a random moment (often in the middle of the next write).
        let wait_for = rng.usize(0..4);
        let mut seen = 0;
        while seen < wait_for {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(id) = line.strip_prefix("CACHED ") {
                        expected.insert(id.parse().unwrap());
                        total_reported += 1;
                        seen += 1;
                    }
                }
                _ => panic!("round {round}: the child ended before being killed"),
            }
        }
        std::thread::sleep(std::time::Duration::from_micros(rng.u64(0..3000)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Lines the child printed before it died were reported too.
        for line in lines.map_while(Result::ok) {
            if let Some(id) = line.strip_prefix("CACHED ") {
                expected.insert(id.parse().unwrap());
                total_reported += 1;
            }
        }

        let (mut cache, report) = Cache::open(dir.path(), DEFAULT_CAPACITY_SECS).unwrap();
        interrupted_writes += report.incomplete_removed;
        assert!(
            report.quarantined.is_empty(),
            "round {round}: a file was mistaken for a segment and failed: {:?}",
            report.quarantined
        );
        for id in &expected {
            let segment = cache
                .load(*id)
                .unwrap_or_else(|e| panic!("round {round}: reported segment {id} is lost: {e}"));
            assert_eq!(segment.id, *id);
            assert_eq!(segment.memo, "written under fire");
        }
        // Unreported segments may exist (killed between write and report),
        // but nothing else may be in the folder.
        for entry in std::fs::read_dir(dir.path().join("pending")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(name.ends_with(".tcseg"), "round {round}: stray file {name}");
        }
        // Acknowledge some segments, as uploads would, to keep the cache small.
        let ids: Vec<SegmentId> = cache.pending().map(|e| e.id).collect();
        for id in ids {
            if rng.bool() || cache.pending_count() > 20 {
                cache.remove(id).unwrap();
                expected.remove(&id);
            }
        }
    }
    println!(
        "{KILLS} kills, {total_reported} segments reported, {interrupted_writes} writes interrupted mid-way"
    );
    assert!(
        total_reported >= KILLS,
        "only {total_reported} segments were reported in {KILLS} rounds"
    );
}

fn hms_secs(hms: &str) -> i64 {
    let parts: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    parts[0] * 3600 + parts[1] * 60 + parts[2]
}

// K1 on a real full disk: the data folder is a 3 MB tmpfs, filled while
// `timecard track` runs and kept full. The time the cache cannot take is
// saved to another folder, the command says how much and where, and exits
// non-zero (it used to say "everything is uploaded", exit 0, and lose the
// segment). Imported once there is space, every second reaches the server.
// The server runs elsewhere (its database would free space on the small
// disk as it works, which could let a late retry succeed by chance).
#[test]
fn a_full_disk_loses_no_tracked_time() {
    use common::cli::{text, timecard};
    let Some(disk) = common::small_disk::SmallDisk::mount(3) else {
        return;
    };
    let data = disk.path().join("data");
    let server = common::server::TestServer::start(chrono::Utc::now());
    common::cli::login(&data, &server);
    let elsewhere = tempfile::tempdir().unwrap();
    let rescue = elsewhere.path().join("unsaved");
    let rescue_arg = rescue.to_str().unwrap();
    let track = common::cli::Tracking::start(
        &data,
        &[
            "--contract",
            "ann-open",
            "--for",
            "20s",
            "--wait-for-space",
            "2s",
            "--unsaved-to",
            rescue_arg,
        ],
        None,
    );
    let filler = disk.fill();
    let (status, all) = track.finish();
    assert_eq!(status.code(), Some(3), "unsaved time is a failure:\n{all}");
    assert!(!all.contains("everything is uploaded"), "{all}");
    assert!(
        all.contains(&format!("saved to {}", rescue.display())),
        "says where the time went:\n{all}"
    );
    let tracked = hms_secs(
        all.lines()
            .find_map(|l| l.strip_prefix("Tracked "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("a summary line:\n{all}")),
    );
    assert!((19..=21).contains(&tracked), "{all}");

    // Space again: the saved time goes back in and up.
    drop(filler);
    let import = timecard(&data, &["cache", "import", rescue.to_str().unwrap()], None);
    assert!(import.status.success(), "{}", text(&import));
    server.clock.set(chrono::Utc::now());
    let sync = timecard(&data, &["sync"], None);
    assert!(sync.status.success(), "{}", text(&sync));
    let on_server = common::cli::diary_total_secs(&data);
    assert_eq!(on_server, tracked, "nothing lost:\n{all}");
}
