//! A TCP proxy between client and server cuts connections at random points
//! of uploads, many times; in the end every segment is on the server exactly
//! once (K7, Y2).

use crate::common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use common::device::Device;
use common::server::TestServer;
use common::*;
use timecard_client::sync::{ApiClient, ServerAddress, SyncState};
use timecard_client::worker::Command;
use timecard_core::clock::Clock;
use timecard_core::domain::{Activity, Screenshot, Segment, SegmentId};

/// Forwards TCP to `upstream`, cutting every connection after a random
/// number of bytes (counted in both directions).
struct CuttingProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl CuttingProxy {
    fn start(upstream: SocketAddr, seed: u64) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (stop2, cuts2, conns2) = (stop.clone(), cuts.clone(), connections.clone());
        std::thread::spawn(move || {
            let mut rng = fastrand::Rng::with_seed(seed);
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                conns2.fetch_add(1, Ordering::SeqCst);
                // Every connection is cut somewhere in its first 300 KB: a
                // batch is about 170 KB, so some get through, most are cut.
                let budget = rng.u64(0..300_000);
                let moved = Arc::new(AtomicU64::new(0));
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ] {
                    let (moved, cuts) = (moved.clone(), cuts2.clone());
                    std::thread::spawn(move || pump(from, to, &moved, budget, &cuts));
                }
            }
        });
        CuttingProxy {
            addr,
            stop,
            cuts,
            connections,
        }
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    moved: &AtomicU64,
    budget: u64,
    cuts: &AtomicUsize,
) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let before = moved.fetch_add(n as u64, Ordering::SeqCst);
        if before + n as u64 > budget {
            let keep = budget.saturating_sub(before) as usize;
            let _ = to.write_all(&buf[..keep.min(n)]);
            cuts.fetch_add(1, Ordering::SeqCst);
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// A full day: 144 ten-minute segments.
const N: i64 = 144;

#[test]
fn cut_connections_never_lose_or_duplicate_a_segment() {
    let now = at("2026-11-25T12:00:00Z");
    let server = TestServer::start(now);
    let segments: Vec<Segment> = (0..N)
        .map(|i| {
            let start = at("2026-11-24T00:00:00Z") + Duration::minutes(10 * i);
            Segment {
                id: SegmentId::random(),
                contract_id: "ann-open".into(),
                device_id: "laptop".into(),
                start,
                end: start + Duration::minutes(10),
                memo: format!("segment {i}"),
                activity: Activity(0b1010101010),
                screenshot: Some(Screenshot {
                    taken_at: start,
                    // A real JPEG header (the server checks it), padded.
                    jpeg: {
                        let mut jpeg = common::tiny_jpeg();
                        jpeg.resize(10_000, i as u8);
                        jpeg
                    },
                    thumbnail: common::tiny_jpeg(),
                }),
                capture_note: None,
            }
        })
        .collect();

    let proxy = CuttingProxy::start(server.server.addr, 42);
    // Sign in directly, then talk only through the proxy.
    let token = server.client("ann").token();
    let client = ApiClient::new(
        ServerAddress::parse(&format!("https://{}", proxy.addr)).unwrap(),
        Some(&server.server.cert_pem),
        Arc::new(server.clock.clone()) as Arc<dyn Clock>,
    )
    .unwrap();
    client.set_token(token);
    let device = Device::with_client(&server, Arc::new(client), "laptop", &segments);

    let deadline = Instant::now() + StdDuration::from_secs(120);
    let mut retries = 0;
    loop {
        let snapshot = device.worker.snapshot();
        if snapshot.cache.pending_segments == 0 && matches!(snapshot.sync.state, SyncState::Online)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not drained after {retries} retries: {snapshot:#?}"
        );
        if matches!(snapshot.sync.state, SyncState::Caching { .. }) {
            // Skip the backoff: the cut is the test's doing.
            device.worker.send(Command::UploadNow { tell_user: false });
            retries += 1;
        }
        device
            .worker
            .snapshots()
            .wait_newer(snapshot.generation, StdDuration::from_millis(100));
    }
    let snapshot = device.worker.snapshot();
    assert!(
        snapshot.cache.refused.is_empty(),
        "{:?}",
        snapshot.cache.refused
    );
    let cuts = proxy.cuts.load(Ordering::SeqCst);
    assert!(
        cuts >= 5,
        "only {cuts} cuts happened; the test did not test much"
    );
    println!(
        "{cuts} cuts over {} connections, {retries} retries",
        proxy.connections.load(Ordering::SeqCst)
    );

    // Exactly once: every id present, no extra, the time exact.
    let client = server.client("ann");
    let diary = client
        .diary(Some(at("2026-11-24T00:00:00Z").date_naive()), "UTC")
        .unwrap();
    let on_server: Vec<SegmentId> = diary.segments.iter().map(|s| s.id).collect();
    let unique: HashSet<_> = on_server.iter().collect();
    assert_eq!(on_server.len(), N as usize, "segments on the server");
    assert_eq!(unique.len(), N as usize);
    assert!(segments.iter().all(|s| unique.contains(&s.id)));
    assert_eq!(diary.totals[0].secs, N * 600);
    let week = client.contracts("UTC").unwrap();
    let logged = week
        .contracts
        .iter()
        .find(|c| c.contract.id == "ann-open")
        .unwrap()
        .week_logged_secs;
    assert_eq!(logged, N * 600);
}
