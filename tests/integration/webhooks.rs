//! Webhooks (I2) against a receiver on loopback: a week approved on the
//! web reaches it signed; with the receiver down and the server killed
//! (-9) in between, every queued event arrives once both are back (each
//! id at least once, processed once by the receiver's idempotency check);
//! a receiver that takes 30 s to answer does not slow uploads.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::common::cli::{text, timecard_server};
use crate::common::serving::Serving;
use crate::common::{at, segment_at};
use crate::web::Browser;
use timecard_server::webhooks::verify;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

/// An HTTP receiver on loopback: answers every POST 200 after `delay_ms`,
/// and passes what it got on.
struct Receiver {
    port: u16,
    got: mpsc::Receiver<Received>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    fn start_on(listener: TcpListener) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let (tx, got) = mpsc::channel();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let (tx, delay) = (tx.clone(), delay.clone());
                std::thread::spawn(move || answer(stream, &tx, &delay));
            }
        });
        Receiver {
            port,
            got,
            delay_ms,
        }
    }

    fn start() -> Receiver {
        Receiver::start_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// The next request, within `wait`.
    fn next(&self, wait: Duration) -> Option<Received> {
        self.got.recv_timeout(wait).ok()
    }
}

fn answer(stream: TcpStream, tx: &mpsc::Sender<Received>, delay: &AtomicU64) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut headers = HashMap::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(delay.load(Ordering::SeqCst)));
        let _ = tx.send(Received {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";
        if stream.write_all(answer).is_err() {
            return;
        }
    }
}

/// Registers a webhook to `url` for `events` on the page, as `browser`'s
/// user; its secret.
fn register(browser: &mut Browser, url: &str, events: &[&str]) -> String {
    let page = browser.get("/settings/webhooks");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = Browser::csrf(&page);
    let mut fields = vec![("csrf", csrf.as_str()), ("url", url)];
    fields.extend(events.iter().map(|e| ("events", *e)));
    let made = browser.post("/settings/webhooks", &fields);
    assert_eq!(made.status, 200, "{}", made.body);
    let at = made
        .body
        .find("id=\"new-secret\">")
        .unwrap_or_else(|| panic!("no secret shown: {}", made.body))
        + 16;
    let secret = made.body[at..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    secret
}

#[test]
fn a_week_approved_on_the_web_reaches_the_receiver_signed() {
    let (server, _) = crate::web::dashboard();
    let receiver = Receiver::start();
    let mut root = Browser::new(&server);
    root.sign_in("root");
    let secret = register(
        &mut root,
        &receiver.url(),
        &["week.approved", "dispute.opened"],
    );

    // A client may not point a webhook at this machine; a freelancer has none.
    let mut carl = Browser::new(&server);
    carl.sign_in("carl");
    let page = carl.get("/settings/webhooks");
    let refused = carl.post(
        "/settings/webhooks",
        &[
            ("csrf", &Browser::csrf(&page)),
            ("url", &receiver.url()),
            ("events", "week.approved"),
        ],
    );
    assert!(
        refused.body.contains("must start with https://"),
        "{}",
        refused.body
    );
    let mut ann = Browser::new(&server);
    ann.sign_in("ann");
    assert_eq!(ann.get("/settings/webhooks").status, 403);

    // The week ends; the client approves it.
    server.clock.set(at("2026-11-30T10:00:00Z"));
    let sheet = carl.get("/contracts/ann-hourly/timesheet?week=2026-11-25");
    let approved = carl.post(
        "/contracts/ann-hourly/weeks/2026-11-23/approve",
        &[("csrf", &Browser::csrf(&sheet)), ("confirm", "yes")],
    );
    assert_eq!(approved.status, 303, "{}", approved.body);

    let got = receiver
        .next(Duration::from_secs(30))
        .expect("week.approved delivered");
    let signature = &got.headers["timecard-signature"];
    assert!(
        verify(&secret, signature, &got.body, chrono::Utc::now()),
        "{signature} does not sign {}",
        got.body
    );
    assert!(!verify(
        "whsec_other",
        signature,
        &got.body,
        chrono::Utc::now()
    ));
    let event: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(event["type"], "week.approved");
    assert_eq!(event["contract_id"], "ann-hourly");
    assert_eq!(event["data"]["week_start"], "2026-11-23");
    assert_eq!(event["data"]["by"], "carl");
    assert_eq!(got.headers["timecard-event"], "week.approved");
    assert_eq!(
        got.headers["timecard-event-id"],
        event["id"].as_str().unwrap()
    );
    assert_eq!(
        got.headers["idempotency-key"],
        event["id"].as_str().unwrap()
    );

    // The admin page shows the delivery, with the receiver's answer.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = root.get("/settings/webhooks").body;
        if page.contains("delivered") && page.contains("HTTP 200") {
            assert!(page.contains("week.approved"), "{page}");
            break;
        }
        assert!(Instant::now() < deadline, "no delivery shown: {page}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `timecard-server serve` on `data` at `listen`.
fn serve(data: &Path, listen: &str) -> Serving {
    Serving::start(data, &["--listen", listen])
}

fn add_users(data: &Path) {
    for (login, role) in [("ann", "freelancer"), ("root", "admin")] {
        let out = timecard_server(
            data,
            &["user", "add", login, "--role", role, "--password-stdin"],
            Some(&format!("{}\n", crate::common::server::PASSWORD)),
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = timecard_server(
        data,
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
            "2020-01-01",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// A client of the server at `url`, signed in as ann.
fn ann_client(url: &str, data: &Path) -> timecard_client::sync::ApiClient {
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let client = timecard_client::sync::ApiClient::new(
        timecard_client::sync::ServerAddress::parse(url).unwrap(),
        Some(&cert),
        Arc::new(timecard_core::clock::SystemClock),
    )
    .unwrap();
    client
        .sign_in("ann", crate::common::server::PASSWORD)
        .expect("ann signs in");
    client
}

/// One segment of ann's on `site`, `minutes_ago` before now, as a cache
/// body.
fn segment_body(minutes_ago: i64) -> Vec<u8> {
    let then = (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago)).timestamp();
    let start = chrono::DateTime::from_timestamp(then - then % 600, 0).unwrap();
    timecard_core::codec::encode_body(&segment_at("site", "laptop", start)).unwrap()
}

#[test]
fn events_queued_while_the_receiver_is_down_arrive_after_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    add_users(&data);
    let mut server = serve(&data, "127.0.0.1:0");
    let listen = format!("127.0.0.1:{}", server.port());
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();

    // The receiver's port, kept free until it comes up.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut root = Browser::at(&server.url, &cert);
    root.sign_in("root");
    let secret = register(&mut root, &url, &["segments.accepted", "manual_time.added"]);

    // Four events while nobody listens: three uploads and manual time.
    let ann = ann_client(&server.url, &data);
    for minutes in [40, 30, 20] {
        let done = ann.upload(vec![segment_body(minutes)]).unwrap();
        assert_eq!(
            done.results[0].outcome,
            timecard_core::protocol::Outcome::Accepted,
            "{:?}",
            done.results[0]
        );
    }
    let day = (chrono::Utc::now() - chrono::Duration::days(2)).timestamp();
    let start = chrono::DateTime::from_timestamp(day - day % 3600, 0).unwrap();
    ann.add_manual(&timecard_core::protocol::ManualTime {
        contract_id: "site".into(),
        start,
        end: start + chrono::Duration::minutes(30),
        memo: "Call with the client".into(),
    })
    .unwrap();
    // Each was tried and failed before the kill.
    server.wait_log("four failed deliveries", |l| {
        l.contains("webhooks: manual_time.added") && l.contains("failed (attempt 1")
    });
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // Both come back: the receiver, then the server on its address.
    let receiver = Receiver::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let _server = serve(&data, &listen);
    let mut processed: HashSet<String> = HashSet::new();
    let mut kinds = Vec::new();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(90);
    while processed.len() < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        let got = receiver
            .next(left)
            .unwrap_or_else(|| panic!("only {processed:?} arrived"));
        seen += 1;
        assert!(verify(
            &secret,
            &got.headers["timecard-signature"],
            &got.body,
            chrono::Utc::now()
        ));
        let id = got.headers["timecard-event-id"].clone();
        // The receiver's idempotency check: a repeat is acknowledged and
        // not processed again.
        if processed.insert(id) {
            let event: serde_json::Value = serde_json::from_str(&got.body).unwrap();
            kinds.push(event["type"].as_str().unwrap().to_owned());
        }
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "manual_time.added",
            "segments.accepted",
            "segments.accepted",
            "segments.accepted"
        ]
    );
    println!("webhooks: 4 events, {seen} deliveries after kill -9 and restart");
}

#[test]
fn a_slow_receiver_does_not_slow_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    add_users(&data);
    let server = serve(&data, "127.0.0.1:0");
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let ann = ann_client(&server.url, &data);

    // Uploads without a webhook, then with one whose receiver takes 30 s.
    let timed = |from: i64| -> Vec<Duration> {
        (0..12)
            .map(|i| {
                let body = segment_body(from + i * 10);
                let started = Instant::now();
                let done = ann.upload(vec![body]).unwrap();
                assert_eq!(
                    done.results[0].outcome,
                    timecard_core::protocol::Outcome::Accepted
                );
                started.elapsed()
            })
            .collect()
    };
    let before = timed(60 * 24 * 3);
    let receiver = Receiver::start();
    receiver.delay_ms.store(30_000, Ordering::SeqCst);
    let mut root = Browser::at(&server.url, &cert);
    root.sign_in("root");
    register(&mut root, &receiver.url(), &["segments.accepted"]);
    let with_slow = timed(60 * 24 * 5);
    // The receiver really was being held while the uploads ran.
    let held = receiver.next(Duration::from_secs(60));
    assert!(held.is_some(), "the slow receiver got nothing");

    let median = |mut d: Vec<Duration>| {
        d.sort();
        d[d.len() / 2]
    };
    let (worst, a, b) = (
        *with_slow.iter().max().unwrap(),
        median(before),
        median(with_slow),
    );
    println!(
        "webhooks: upload median {} ms without a webhook, {} ms with a 30 s receiver (worst {} ms)",
        a.as_millis(),
        b.as_millis(),
        worst.as_millis()
    );
    assert!(
        worst < Duration::from_secs(5),
        "an upload waited {worst:?} with a slow receiver"
    );
    assert!(
        b < a * 3 + Duration::from_millis(300),
        "uploads slowed from {a:?} to {b:?}"
    );
}
