//! The server against hostile clients (issue 11, items 3, 4, 8, 12): a
//! table of malformed bodies, each with the status it must get while the
//! server keeps serving; property tests of the body decoder, the cache file
//! reader and the judge; sign-in limits per account and per address (from
//! several loopback addresses); and the memory budgets, measured on the
//! real `timecard-server` process.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::server::{PASSWORD, TestServer};
use common::{at, tiny_jpeg};
use proptest::prelude::*;
use timecard_core::codec;
use timecard_core::domain::segment::caps;
use timecard_core::domain::{Activity, Screenshot, Segment, SegmentId};
use timecard_core::protocol::{self, Outcome, RejectReason, UploadResponse};

const NOW: &str = "2026-11-25T12:00:00Z";

fn segment(contract: &str, start: &str) -> Segment {
    let start = at(start);
    Segment {
        id: SegmentId::random(),
        contract_id: contract.into(),
        device_id: "laptop".into(),
        start,
        end: start + chrono::Duration::minutes(10),
        memo: "work".into(),
        activity: Activity(0b11),
        screenshot: Some(Screenshot {
            taken_at: start,
            jpeg: tiny_jpeg(),
            thumbnail: tiny_jpeg(),
        }),
        capture_note: None,
    }
}

fn body(s: &Segment) -> Vec<u8> {
    codec::encode_body(s).unwrap()
}

fn batch(bodies: Vec<Vec<u8>>) -> Vec<u8> {
    rmp_serde::to_vec_named(&protocol::UploadBatch {
        segments: bodies.into_iter().map(serde_bytes::ByteBuf::from).collect(),
    })
    .unwrap()
}

/// A MessagePack map `{"segments": <array header declaring n>}` followed
/// by `entries`.
fn declared_batch(n: u32, entries: &[u8]) -> Vec<u8> {
    let mut out = vec![0x81, 0xa8];
    out.extend_from_slice(b"segments");
    out.push(0xdd);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(entries);
    out
}

/// HTTP over TLS to a test server, error statuses returned as answers.
struct Http {
    agent: ureq::Agent,
    base: String,
}

impl Http {
    fn new(url: &str, cert_pem: &[u8]) -> Http {
        let roots = common::pinned_roots(cert_pem);
        Http {
            agent: ureq::Agent::config_builder()
                .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(120)))
                .build()
                .into(),
            base: format!("{url}/api/v1"),
        }
    }

    fn post(&self, path: &str, token: &str, content_type: &str, bytes: &[u8]) -> (u16, String) {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .content_type(content_type)
            .send(bytes)
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    fn get(&self, path: &str, token: &str) -> (u16, String) {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    /// `/health` answers `ok`; returns how long it took.
    fn health(&self) -> Duration {
        let t0 = Instant::now();
        let (status, text) = self.get("/health", "");
        assert_eq!(status, 200, "{text}");
        assert!(text.contains(r#""status":"ok""#), "{text}");
        t0.elapsed()
    }
}

fn results(text: &str) -> UploadResponse {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// What a case must get: a status, and for a 200 the outcome of each
/// segment with a word its message must hold.
#[derive(Debug)]
enum Expect {
    Status(u16, &'static str),
    Segments(Vec<(Outcome, Option<&'static str>)>),
}

// Issue 11, item 12: malformed and oversized MessagePack batches. Each
// gets its status (a cap broken by one segment refuses that segment, not
// the batch) and the server goes on answering /health.
#[test]
fn malformed_batches_get_their_status_and_the_server_keeps_serving() {
    let server = TestServer::start(at(NOW));
    let token = server.client("ann").token().unwrap();
    let http = Http::new(&server.url(), &server.server.cert_pem);
    let good = || segment("ann-open", "2026-11-25T08:00:00Z");
    let at_hour = |h: u32| format!("2026-11-24T{h:02}:00:00Z");
    let with = |h: u32, change: &dyn Fn(&mut Segment)| {
        let mut s = segment("ann-open", &at_hour(h));
        change(&mut s);
        body(&s)
    };
    let valid = batch(vec![body(&good())]);
    let nested = |depth: usize| {
        let mut v = vec![0x91; depth];
        v.push(0x01);
        v
    };
    let mut memo_bad_utf8 = body(&segment("ann-open", "2026-11-24T01:00:00Z"));
    let work = memo_bad_utf8.windows(4).position(|w| w == b"work").unwrap();
    memo_bad_utf8[work..work + 2].copy_from_slice(&[0xff, 0xfe]);
    let huge_string = {
        // A segment map whose first key declares a 4 GiB string.
        let mut v = vec![0x81, 0xdb];
        v.extend_from_slice(&u32::MAX.to_be_bytes());
        v.extend_from_slice(b"id");
        v
    };
    let far_future = body(&Segment {
        start: DateTime::<Utc>::MAX_UTC - chrono::Duration::minutes(10),
        end: DateTime::<Utc>::MAX_UTC,
        ..good()
    });
    let far_past = body(&Segment {
        start: DateTime::<Utc>::MIN_UTC,
        end: DateTime::<Utc>::MIN_UTC + chrono::Duration::minutes(10),
        ..good()
    });
    let not_a_date = {
        let mut b = body(&good());
        let pos = b
            .windows(6)
            .position(|w| w == b"-25T08")
            .expect("a date in the body");
        // "2026-11-25T08:00:00Z" becomes "2026-11-25Q08:00:00Z".
        b[pos + 3] = b'Q';
        b
    };
    let big_jpeg = {
        let mut jpeg = tiny_jpeg();
        jpeg.resize(caps::SCREENSHOT_BYTES + 1, 0);
        jpeg
    };
    use Expect::*;
    use Outcome::*;
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("empty body", vec![], Status(400, "malformed")),
        (
            "not MessagePack",
            b"\xc1junk".to_vec(),
            Status(400, "malformed"),
        ),
        (
            "truncated batch",
            valid[..valid.len() / 2].to_vec(),
            Status(400, "malformed"),
        ),
        ("batch is a number", vec![0x2a], Status(400, "malformed")),
        (
            "segments is a string",
            rmp_serde::to_vec_named(&serde_json::json!({"segments": "x"})).unwrap(),
            Status(400, "malformed"),
        ),
        (
            "entries are numbers",
            rmp_serde::to_vec_named(&serde_json::json!({"segments": [1, 2]})).unwrap(),
            Status(400, "malformed"),
        ),
        (
            "4 billion entries declared",
            declared_batch(u32::MAX, &[]),
            Status(413, "too_large"),
        ),
        (
            "1,001 empty entries",
            declared_batch(1001, &[0xa0; 1001]),
            Status(413, "too_large"),
        ),
        (
            "deeply nested batch",
            nested(100_000),
            Status(400, "malformed"),
        ),
        (
            "segment nested deeply",
            batch(vec![nested(100_000)]),
            Status(400, "malformed"),
        ),
        (
            "segment declares a 4 GiB string",
            batch(vec![huge_string]),
            Status(400, "malformed"),
        ),
        (
            "segment is not a segment",
            batch(vec![b"not a segment".to_vec()]),
            Status(400, "malformed"),
        ),
        (
            "invalid UTF-8 in the memo",
            batch(vec![memo_bad_utf8]),
            Status(400, "malformed"),
        ),
        (
            "a date that does not parse",
            batch(vec![not_a_date]),
            Status(400, "malformed"),
        ),
        (
            "the last moment a date can hold",
            batch(vec![far_future]),
            Segments(vec![(Rejected, Some("1 Jan 2000 to 1 Jan 2100"))]),
        ),
        (
            "the first moment a date can hold",
            batch(vec![far_past]),
            Segments(vec![(Rejected, Some("1 Jan 2000 to 1 Jan 2100"))]),
        ),
        (
            "each cap refuses its segment, not the batch",
            batch(vec![
                with(0, &|s| s.memo = "m".repeat(caps::MEMO_CHARS + 1)),
                with(1, &|s| s.memo = "é".repeat(caps::MEMO_CHARS)),
                with(2, &|s| s.device_id = "d".repeat(caps::DEVICE_ID_CHARS + 1)),
                with(3, &|s| {
                    s.capture_note = Some("n".repeat(caps::CAPTURE_NOTE_CHARS + 1))
                }),
                with(4, &|s| {
                    s.contract_id = "c".repeat(caps::CONTRACT_ID_CHARS + 1)
                }),
                with(5, &|s| s.activity = Activity(1 << 10)),
                with(6, &|s| {
                    s.screenshot.as_mut().unwrap().jpeg = big_jpeg.clone()
                }),
                with(7, &|s| {
                    s.screenshot.as_mut().unwrap().jpeg = vec![0xff, 0xd8, 0xff, 0xd9]
                }),
                with(8, &|s| {
                    s.screenshot.as_mut().unwrap().jpeg = b"GIF89a".to_vec()
                }),
                with(9, &|s| {
                    s.screenshot.as_mut().unwrap().thumbnail = vec![1; 500]
                }),
                with(10, &|s| s.memo = "x".repeat(caps::BODY_BYTES)),
                with(11, &|_| {}),
            ]),
            Segments(vec![
                (Rejected, Some("memo")),
                (Accepted, None),
                (Rejected, Some("device id")),
                (Rejected, Some("capture note")),
                (Rejected, Some("contract id")),
                (Rejected, Some("activity")),
                (Rejected, Some("screenshot")),
                (Rejected, Some("not a readable JPEG")),
                (Rejected, Some("not a JPEG")),
                (Rejected, Some("thumbnail")),
                (Rejected, Some("bytes")),
                (Accepted, None),
            ]),
        ),
        (
            "control characters: refused, but for a memo's newlines and tabs",
            batch(vec![
                with(12, &|s| s.device_id = "dev\u{1b}[2J".into()),
                with(13, &|s| s.contract_id = "ann-open\u{7}".into()),
                with(14, &|s| s.memo = "title\u{1b}]0;owned\u{7}".into()),
                with(15, &|s| s.capture_note = Some("\u{0}".into())),
                with(16, &|s| s.memo = "line\n\tnext".into()),
            ]),
            Segments(vec![
                (Rejected, Some("a control character")),
                (Rejected, Some("a control character")),
                (Rejected, Some("a control character")),
                (Rejected, Some("a control character")),
                (Accepted, None),
            ]),
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, expect) in cases {
        let (status, text) = http.post("/segments", &token, protocol::MSGPACK, &bytes);
        let ok = match &expect {
            Status(want, code) => status == *want && text.contains(&format!(r#""error":"{code}""#)),
            Segments(want) => {
                status == 200 && {
                    let got = results(&text).results;
                    got.len() == want.len()
                        && got.iter().zip(want).all(|(r, (outcome, word))| {
                            r.outcome == *outcome
                                && (r.outcome != Rejected
                                    || r.reason == Some(RejectReason::Invalid))
                                && word.is_none_or(|w| {
                                    r.message.as_deref().is_some_and(|m| m.contains(w))
                                })
                        })
                }
            }
        };
        if !ok {
            failures.push(format!("{name}: expected {expect:?}, got {status} {text}"));
        }
        http.health();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Still serving the real thing.
    let (status, text) = http.post("/segments", &token, protocol::MSGPACK, &valid);
    assert_eq!((status, results(&text).results[0].outcome), (200, Accepted));
}

// Issue 11, item 12: malformed JSON bodies and queries.
#[test]
fn malformed_json_gets_its_status_and_the_server_keeps_serving() {
    let server = TestServer::start(at(NOW));
    let token = server.client("ann").token().unwrap();
    let http = Http::new(&server.url(), &server.server.cert_pem);
    let sign_in = |login: &str| {
        serde_json::to_vec(&serde_json::json!({"login": login, "password": "guess"})).unwrap()
    };
    let report = |created_at: &str| {
        format!(
            r#"{{"id":"{}","description":"d","incident_at":null,"created_at":"{created_at}","app_version":"1","os":"linux"}}"#,
            uuid::Uuid::new_v4()
        )
        .into_bytes()
    };
    let json = "application/json";
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "/session",
            "truncated",
            br#"{"login": "ann", "passw"#.to_vec(),
            400,
        ),
        (
            "/session",
            "wrong types",
            br#"{"login": 3, "password": []}"#.to_vec(),
            400,
        ),
        ("/session", "an array", b"[]".to_vec(), 400),
        (
            "/session",
            "deep nesting",
            "[".repeat(50_000).into_bytes(),
            400,
        ),
        (
            "/session",
            "invalid UTF-8",
            b"{\"login\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(),
            400,
        ),
        (
            "/session",
            "control characters in the login",
            sign_in("ann\u{1b}[2J\u{0}"),
            401,
        ),
        (
            "/session",
            "a 60 kB login",
            sign_in(&"a".repeat(60_000)),
            401,
        ),
        ("/session", "over 64 KiB", vec![b' '; 64 * 1024 + 1], 413),
        (
            "/reports",
            "a year out of range",
            report("+999999-01-01T00:00:00Z"),
            400,
        ),
        (
            "/reports",
            "a date that is not one",
            report("2026-02-30T00:00:00Z"),
            400,
        ),
        (
            "/reports",
            "logs that are not base64",
            {
                let mut r: serde_json::Value =
                    serde_json::from_slice(&report("2026-11-25T10:00:00Z")).unwrap();
                r["logs_zip_base64"] = "%%%".into();
                serde_json::to_vec(&r).unwrap()
            },
            400,
        ),
        (
            "/reports",
            "deep nesting",
            format!(r#"{{"id":{}}}"#, "[".repeat(50_000)).into_bytes(),
            400,
        ),
    ];
    let mut failures = Vec::new();
    for (path, name, bytes, want) in cases {
        let (status, text) = http.post(path, &token, json, &bytes);
        if status != want || serde_json::from_str::<protocol::ErrorBody>(&text).is_err() {
            failures.push(format!(
                "{path} {name}: expected {want}, got {status} {text}"
            ));
        }
        http.health();
    }
    for (query, want) in [
        ("/diary?date=99999-01-01", 400),
        ("/diary?date=0000-01-01", 400),
        ("/diary?date=2026-13-01", 400),
        ("/diary?date=2026-11-25&tz=Mars%2FOlympus", 400),
        ("/diary?date=2026-11-25&tz=%00", 400),
        ("/segments/not-an-id/screenshot", 400),
        (
            "/segments/00000000-0000-0000-0000-000000000000/thumbnail",
            404,
        ),
    ] {
        let (status, text) = http.get(query, &token);
        if status != want {
            failures.push(format!("GET {query}: expected {want}, got {status} {text}"));
        }
        http.health();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    server.client("ann").contracts("UTC").unwrap();
}

/// An answer read by [`request_from`].
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<u64>,
    pub(crate) body: Vec<u8>,
}

/// One HTTPS request on a connection of its own from the loopback address
/// `from` (127.0.0.0/8 holds many): clients told apart by address, as the
/// server's per-address limits see them.
pub(crate) fn request_from(
    from: std::net::Ipv4Addr,
    server: SocketAddr,
    cert_pem: &[u8],
    head: &str,
    body: &[u8],
) -> Answer {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let tcp = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((from, 0)))?;
            socket.connect(server).await
        })
        .unwrap()
        .into_std()
        .unwrap();
    tcp.set_nonblocking(false).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(server.ip().into());
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let mut request = format!(
        "{head}\r\nHost: {server}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    tls.write_all(&request).unwrap();
    let mut answer = Vec::new();
    // The server may close without a TLS close_notify: what came is enough.
    let _ = tls.read_to_end(&mut answer);
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    Answer {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}")),
        retry_after: head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after:")
                .and_then(|v| v.trim().parse().ok())
        }),
        body: answer[split + 4..].to_vec(),
    }
}

/// The `n`th of many client addresses: 127.0.1.1, 127.0.1.2 …
pub(crate) fn client_address(n: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(127, 0, 1 + (n / 250) as u8, 1 + (n % 250) as u8)
}

/// Status and `Retry-After` of a sign-in from the loopback address `from`.
pub(crate) fn sign_in_from(
    from: &str,
    server: SocketAddr,
    cert_pem: &[u8],
    login: &str,
    password: &str,
) -> (u16, Option<u64>) {
    let body = serde_json::json!({"login": login, "password": password}).to_string();
    let answer = request_from(
        from.parse().unwrap(),
        server,
        cert_pem,
        "POST /api/v1/session HTTP/1.1\r\nContent-Type: application/json",
        body.as_bytes(),
    );
    (answer.status, answer.retry_after)
}

// Issue 11, item 8: failures count per account, login and e-mail together,
// and per address; the owner, from an address that has not been failing,
// signs in with the right password while the account is under attack; the
// wait is short and grows, not a 15-minute lock.
#[test]
fn sign_in_lockout_holds_back_the_guesser_not_the_owner() {
    let server = TestServer::start(at(NOW));
    let addr = server.server.addr;
    let pem = server.server.cert_pem.clone();
    let attacker =
        |login: &str, password: &str| sign_in_from("127.0.0.3", addr, &pem, login, password);
    for _ in 0..3 {
        assert_eq!(attacker("ann", "guess").0, 401);
    }
    // The fourth guess, by e-mail, counts on the same account: it waits.
    let (status, retry_after) = attacker("ann@example.com", "guess");
    assert_eq!(status, 429);
    let wait = retry_after.expect("Retry-After");
    assert!((1..=2).contains(&wait), "a short first delay, not {wait} s");
    for _ in 0..3 {
        let (status, _) = attacker("ann", "guess");
        assert!(status == 401 || status == 429, "{status}");
    }
    // The attacker's address stays held back, even with the right password.
    assert_eq!(attacker("ann", PASSWORD).0, 429);
    // The owner, from another address, is not locked out, by login or e-mail.
    assert_eq!(
        sign_in_from("127.0.0.2", addr, &pem, "ann", PASSWORD).0,
        200
    );
    assert_eq!(
        sign_in_from("127.0.0.4", addr, &pem, "ann@example.com", PASSWORD).0,
        200
    );
    // Random logins from one address are limited too.
    let statuses: Vec<u16> = (0..5)
        .map(|i| sign_in_from("127.0.0.5", addr, &pem, &format!("nobody-{i}"), "x").0)
        .collect();
    assert_eq!(&statuses[..3], &[401, 401, 401]);
    assert_eq!(statuses[3], 429, "{statuses:?}");
}

/// `timecard-server serve` on 127.0.0.1:0 in `dir`, as its own process, so
/// that its memory can be measured.
pub(crate) struct ServerProcess {
    child: Child,
    http: Http,
    addr: SocketAddr,
    cert_pem: Vec<u8>,
}

impl ServerProcess {
    pub(crate) fn start(dir: &Path) -> ServerProcess {
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut child = Command::new(common::server_exe())
            .arg("--data")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(common::store::server_env(dir))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("https://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        let cert_pem = std::fs::read(dir.join("tls/cert.pem")).unwrap();
        ServerProcess {
            child,
            http: Http::new(&url, &cert_pem),
            addr: url.trim_start_matches("https://").parse().unwrap(),
            cert_pem,
        }
    }

    /// The process's peak resident memory so far, in MiB.
    pub(crate) fn peak_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb / 1024
    }

    pub(crate) fn token(&self) -> String {
        let (status, text) = self.http.post(
            "/session",
            "",
            "application/json",
            serde_json::json!({"login": "ann", "password": PASSWORD})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<protocol::SessionInfo>(&text)
            .unwrap()
            .token
    }

    /// Sends `clients` requests at once, each from an address of its own
    /// ([`client_address`]), asking /health every 20 ms meanwhile; returns
    /// the answers and the slowest /health.
    pub(crate) fn storm(
        &self,
        clients: usize,
        head: &str,
        body: Arc<Vec<u8>>,
    ) -> (Vec<Answer>, Duration) {
        let (tx, rx) = std::sync::mpsc::channel();
        let threads: Vec<_> = (0..clients)
            .map(|n| {
                let (tx, head, body) = (tx.clone(), head.to_owned(), body.clone());
                let (addr, pem) = (self.addr, self.cert_pem.clone());
                std::thread::spawn(move || {
                    let _ = tx.send(request_from(client_address(n), addr, &pem, &head, &body));
                })
            })
            .collect();
        drop(tx);
        let mut slowest = Duration::ZERO;
        let mut answers = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        while answers.len() < clients {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(answer) => answers.push(answer),
                Err(_) => slowest = slowest.max(self.http.health()),
            }
            assert!(Instant::now() < deadline, "the storm did not end");
        }
        for t in threads {
            t.join().unwrap();
        }
        (answers, slowest)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Issue 11, item 3: sign-ins with random logins from many parallel clients
// hash at most a few passwords at once (each Argon2 takes ~19 MiB), so the
// server stays small and answers /health meanwhile; the old server took
// ~19 MiB per parallel sign-in.
#[test]
fn a_storm_of_random_sign_ins_stays_within_memory() {
    let dir = tempfile::tempdir().unwrap();
    common::server::seed(dir.path(), at(NOW));
    let server = ServerProcess::start(dir.path());
    let before = server.peak_mib();
    // Each client tries a random login of its own.
    let (answers, slowest) = server.storm(
        80,
        "POST /api/v1/session HTTP/1.1\r\nContent-Type: application/json",
        Arc::new(
            serde_json::json!({"login": uuid::Uuid::new_v4().to_string(), "password": "x"})
                .to_string()
                .into_bytes(),
        ),
    );
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    let peak = server.peak_mib();
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        peak < before + 150,
        "80 parallel sign-ins took the server from {before} MiB to {peak} MiB"
    );
    assert!(slowest < Duration::from_secs(2), "/health took {slowest:?}");
}

// Issue 11, item 4: a signed-in user's 64 MiB batch of 1-byte entries is
// refused from its declared count, without decoding (the old server built
// 67 million buffers, ~1.6 GB, per request); a day holding a 10 MB memo
// (stored before the caps) is served with the memo cut to its cap, so
// parallel Work Diary requests do not copy it.
#[test]
fn huge_batches_and_a_huge_stored_memo_stay_within_memory() {
    let dir = tempfile::tempdir().unwrap();
    common::server::seed(dir.path(), at(NOW));
    {
        let db = rusqlite::Connection::open(dir.path().join(timecard_server::DB_FILE)).unwrap();
        db.execute(
            "INSERT INTO segments (id, user_id, contract_id, device_id, start, end, memo, activity, capture_note, has_screenshot)
             VALUES (?1, (SELECT id FROM users WHERE login = 'ann'), 'ann-open', 'd', ?2, ?3, ?4, 1, NULL, 0)",
            rusqlite::params![
                uuid::Uuid::new_v4().to_string(),
                at("2026-11-24T09:00:00Z").timestamp(),
                at("2026-11-24T09:10:00Z").timestamp(),
                "m".repeat(10 * 1024 * 1024)
            ],
        )
        .unwrap();
    }
    let server = ServerProcess::start(dir.path());
    let token = server.token();
    let before = server.peak_mib();
    let n = protocol::MAX_BATCH_BYTES - 20;
    let huge = Arc::new(declared_batch(n as u32, &vec![0xa0; n]));
    let (answers, slowest) = server.storm(
        2,
        &format!(
            "POST /api/v1/segments HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Type: {}",
            protocol::MSGPACK
        ),
        huge,
    );
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [413, 413]);
    assert!(slowest < Duration::from_secs(2), "/health took {slowest:?}");
    let after_uploads = server.peak_mib();
    assert!(
        after_uploads < before + 400,
        "two 64 MiB batches took the server from {before} MiB to {after_uploads} MiB"
    );
    let (answers, slowest) = server.storm(
        40,
        &format!(
            "GET /api/v1/diary?date=2026-11-24&tz=UTC HTTP/1.1\r\nAuthorization: Bearer {token}"
        ),
        Arc::new(Vec::new()),
    );
    for answer in &answers {
        assert_eq!(answer.status, 200);
        let diary: protocol::DiaryResponse = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(diary.segments[0].memo.chars().count(), caps::MEMO_CHARS);
    }
    assert!(slowest < Duration::from_secs(2), "/health took {slowest:?}");
    let peak = server.peak_mib();
    assert!(
        peak < after_uploads.max(before + 100) + 100,
        "40 parallel diaries took the server from {after_uploads} MiB to {peak} MiB"
    );
}

// Property tests (issue 11, item 12).

fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex("[a-z0-9-]{0,12}").unwrap(),
        proptest::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect()),
        (0..max + 40).prop_map(|n| "é".repeat(n)),
    ]
}

fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        // Around now, where most of the rules apply.
        (-30 * 86_400i64..600).prop_map(|s| at(NOW) + chrono::Duration::seconds(s)),
        // Anywhere a date can be.
        (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp())
            .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
    ]
}

fn any_picture() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(tiny_jpeg()),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|tail| {
            let mut v = vec![0xff, 0xd8, 0xff];
            v.extend(tail);
            v
        }),
        Just({
            let mut v = tiny_jpeg();
            v.resize(caps::SCREENSHOT_BYTES + 1, 0);
            v
        }),
    ]
}

prop_compose! {
    fn any_segment()(
        contract_id in prop_oneof![Just("c1".to_owned()), any_text(caps::CONTRACT_ID_CHARS)],
        device_id in any_text(caps::DEVICE_ID_CHARS),
        start in any_time(),
        secs in prop_oneof![Just(600i64), -10i64..4000, any::<i64>()],
        memo in any_text(caps::MEMO_CHARS),
        activity in any::<u16>(),
        shot in proptest::option::of((any_picture(), any_picture())),
        capture_note in proptest::option::of(any_text(caps::CAPTURE_NOTE_CHARS)),
    ) -> Segment {
        let end = start
            .checked_add_signed(chrono::Duration::seconds(secs.clamp(-1 << 40, 1 << 40)))
            .unwrap_or(start);
        Segment {
            id: SegmentId::random(),
            contract_id,
            device_id,
            start,
            end,
            memo,
            activity: Activity(activity),
            screenshot: shot.map(|(jpeg, thumbnail)| Screenshot { taken_at: start, jpeg, thumbnail }),
            capture_note,
        }
    }
}

/// Whether `s` breaks a cap, judged here without the code under test.
fn breaks_a_cap(s: &Segment) -> bool {
    let chars = |t: &str| t.chars().count();
    // X5: no control characters (lines of text may break: \n, \t, \r)
    // and none that reorder text on screen.
    let reorders = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
    let control = |t: &str| t.chars().any(|c| c.is_control() || reorders(c));
    let control_in_text = |t: &str| {
        t.chars()
            .any(|c| (c.is_control() && !matches!(c, '\n' | '\t' | '\r')) || reorders(c))
    };
    let not_a_jpeg = |b: &[u8], max: usize| {
        b.len() > max
            || !b.starts_with(&[0xff, 0xd8, 0xff])
            || image::load_from_memory_with_format(b, image::ImageFormat::Jpeg).is_err()
    };
    s.contract_id.is_empty()
        || chars(&s.contract_id) > caps::CONTRACT_ID_CHARS
        || control(&s.contract_id)
        || chars(&s.device_id) > caps::DEVICE_ID_CHARS
        || control(&s.device_id)
        || chars(&s.memo) > caps::MEMO_CHARS
        || control_in_text(&s.memo)
        || s.capture_note.as_deref().is_some_and(control_in_text)
        || s.capture_note
            .as_deref()
            .is_some_and(|n| chars(n) > caps::CAPTURE_NOTE_CHARS)
        || s.activity.0 >= 1 << 10
        || s.screenshot.as_ref().is_some_and(|p| {
            not_a_jpeg(&p.jpeg, caps::SCREENSHOT_BYTES)
                || not_a_jpeg(&p.thumbnail, caps::THUMBNAIL_BYTES)
        })
}

fn facts() -> timecard_server::rules::Facts {
    use timecard_server::rules::{Facts, StoredContract};
    Facts {
        contract: Some(StoredContract {
            contract: common::hourly("c1", None),
            user_id: 1,
            status_changed_at: None,
            terms: Default::default(),
        }),
        ..Facts::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // Random bytes never panic the batch decoder or the segment decoder.
    #[test]
    fn the_body_decoder_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(bodies) = protocol::decode_batch(&bytes) {
            prop_assert!(bodies.len() <= protocol::MAX_BATCH_SEGMENTS);
        }
        let _ = codec::decode_body(&bytes);
        let _ = codec::body_id(&bytes);
    }

    // A batch of random entries, and random mutations of a real batch.
    #[test]
    fn the_body_decoder_takes_mangled_batches(
        entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = batch(entries.clone());
        prop_assert_eq!(protocol::decode_batch(&bytes).unwrap().len(), entries.len());
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        if let Ok(bodies) = protocol::decode_batch(&bytes) {
            for body in bodies {
                let _ = codec::decode_body(body);
            }
        }
    }

    // The cache file reader: random bytes, and a valid header and checksum
    // over a random body (so that the body's decoding is reached).
    #[test]
    fn the_cache_file_reader_takes_any_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = codec::decode_file(&bytes);
        let _ = codec::segment_span(&bytes);
        let mut file = codec::MAGIC.to_vec();
        file.extend_from_slice(&codec::FORMAT_VERSION.to_le_bytes());
        file.extend_from_slice(&0u16.to_le_bytes());
        file.extend_from_slice(&(body.len() as u64).to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&file);
        crc.update(&body);
        file.extend_from_slice(&crc.finalize().to_le_bytes());
        file.extend_from_slice(&body);
        prop_assert!(codec::verified_body(&file).is_ok());
        let _ = codec::decode_file(&file);
        let _ = codec::segment_span(&file);
    }

    // Well-typed random segments survive the round trip through a cache
    // file, and the judge accepts none that breaks a cap, is dated outside
    // 2000–2100, lasts outside 1 s–1 h or ends in the future.
    #[test]
    fn the_judge_accepts_no_invalid_segment(segment in any_segment()) {
        let file = codec::encode_file(&segment).unwrap();
        prop_assert_eq!(&codec::decode_file(&file).unwrap(), &segment);
        let config = timecard_core::protocol::ServerConfig { segment_secs: 600, lock_grace_secs: 0 };
        let now = at(NOW);
        let verdict = timecard_server::rules::judge(&segment, &facts(), now, config);
        use timecard_server::rules::Verdict;
        if matches!(verdict, Verdict::Accept | Verdict::AcceptUntil(..)) {
            let len = (segment.end - segment.start).num_seconds();
            prop_assert!(!breaks_a_cap(&segment), "accepted {segment:?}");
            prop_assert!((1..=3600).contains(&len), "accepted a {len} s segment");
            prop_assert!(segment.start >= at("2000-01-01T00:00:00Z"));
            prop_assert!(segment.end <= now + chrono::Duration::minutes(5));
        }
    }
}
