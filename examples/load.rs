//! Memory and latency budgets of `timecard-server` under the attacks of
//! issue 11 (items 3 and 4), on loopback only. Run by `ci/load.sh`:
//!
//! ```text
//! cargo run --release --example load -- target/release/timecard-server
//! ```
//!
//! It seeds a data folder, starts the given server binary on
//! `127.0.0.1:0`, and runs three bounded phases while it samples the
//! server's resident memory every 10 ms and asks `/health` every 50 ms:
//!
//! - `sign-in`: 1,000 sign-ins with random logins from 200 parallel clients
//!   (budget: under 300 MB resident, `/health` under 200 ms);
//! - `upload`: three parallel 64 MiB batches of empty entries
//!   (`{segments: array32 of 0xa0}`) from a signed-in user;
//! - `diary`: 200 parallel `/diary` requests on a day holding a 10 MB memo
//!   (both: under 500 MB, `/health` under 200 ms);
//! - `csv`: 300 year-long CSV exports, 150 at a time, of a contract with
//!   4,664 segments whose memos are 2,000 characters (a 37 MB file each);
//! - `pages`: 300 web diary and timesheet pages, 150 at a time, of that
//!   contract's busiest day and week (both: under 300 MB, `/health` under
//!   200 ms).
//!
//! It prints one line per phase and exits 1 when a budget is missed. Every
//! request has a timeout and every phase a deadline; the server is killed
//! at the end.
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use chrono::Utc;
use timecard_core::domain::{Contract, ContractKind, ContractStatus};
use timecard_server::store::Store;
use timecard_server::{self as server, auth};

const LOGIN: &str = "load";
const PASSWORD: &str = "load test password";
const SIGN_INS: usize = 1000;
const SIGN_IN_CLIENTS: usize = 200;
const UPLOADS: usize = 3;
const DIARY_CLIENTS: usize = 200;
const MEMO_BYTES: usize = 10 * 1024 * 1024;
/// The day that holds the big memo.
const DIARY_DAY: &str = "2026-01-05";
/// The busy contract's year: segments, their memos, the web floods.
const YEAR_SEGMENTS: usize = 4_664;
const YEAR_MEMO_CHARS: usize = 2_000;
const WEB_REQUESTS: usize = 300;
const WEB_CLIENTS: usize = 150;
/// No phase runs longer than this; requests give up after `REQUEST_TIMEOUT`.
const PHASE_DEADLINE: Duration = Duration::from_secs(180);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

struct Budget {
    rss_mb: u64,
    health_ms: u64,
}

fn main() -> ExitCode {
    let Some(binary) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: load PATH/TO/timecard-server");
        return ExitCode::from(2);
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    seed(dir.path());
    let server = Arc::new(Server::start(&binary, dir.path()));
    println!(
        "server {} (pid {}), resident at start: {} MB",
        server.url,
        server.pid,
        rss_kb(server.pid).unwrap_or(0) / 1024
    );
    let token = server
        .agent()
        .post(format!("{}/api/v1/session", server.url))
        .send_json(serde_json::json!({"login": LOGIN, "password": PASSWORD}))
        .ok()
        .and_then(|mut r| r.body_mut().read_json::<serde_json::Value>().ok())
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .unwrap_or_default();
    if token.is_empty() {
        eprintln!("could not sign in as {LOGIN}; the upload and diary phases will be refused");
    }

    let mut ok = true;
    ok &= phase(
        &server,
        "sign-in",
        Budget {
            rss_mb: 300,
            health_ms: 200,
        },
        || sign_in_storm(&server),
    );
    ok &= phase(
        &server,
        "upload",
        Budget {
            rss_mb: 500,
            health_ms: 200,
        },
        || upload_storm(&server, &token),
    );
    ok &= phase(
        &server,
        "csv",
        Budget {
            rss_mb: 300,
            health_ms: 200,
        },
        || {
            web_storm(
                &server,
                &token,
                &["/contracts/load-hourly/timesheet.csv?from=2026-01-01&to=2026-12-31"],
            )
        },
    );
    ok &= phase(
        &server,
        "pages",
        Budget {
            rss_mb: 300,
            health_ms: 200,
        },
        || {
            web_storm(
                &server,
                &token,
                &[
                    "/contracts/load-hourly/diary?date=2026-01-06&tz=UTC",
                    "/contracts/load-hourly/timesheet?week=2026-01-05",
                ],
            )
        },
    );
    ok &= phase(
        &server,
        "diary",
        Budget {
            rss_mb: 500,
            health_ms: 200,
        },
        || diary_storm(&server, &token),
    );
    println!(
        "server's peak resident memory over the whole run (VmHWM): {} MB",
        hwm_kb(server.pid).unwrap_or(0) / 1024
    );
    server.stop();
    let mut log = String::new();
    let _ = std::fs::File::open(dir.path().join("server.log"))
        .and_then(|mut f| f.read_to_string(&mut log));
    println!(
        "server log: {} lines, {} warnings",
        log.lines().count(),
        log.lines().filter(|l| l.contains("WARN")).count()
    );
    if ok {
        println!("all budgets met");
        ExitCode::SUCCESS
    } else {
        println!("a budget was missed");
        ExitCode::FAILURE
    }
}

/// A user with a contract, and one segment on [`DIARY_DAY`] whose memo is
/// 10 MB (written straight into the database: no API would take it).
fn seed(dir: &Path) {
    let store = server::open_store(dir).expect("open the store");
    store
        .add_user(LOGIN, None, &auth::hash_password(PASSWORD))
        .expect("add the user");
    let contract = Contract {
        id: "load-hourly".into(),
        title: "Load".into(),
        client: "Load".into(),
        kind: ContractKind::Hourly,
        status: ContractStatus::Active,
        start_date: "2026-01-01".parse().unwrap(),
        weekly_limit_secs: None,
        pending_limit: None,
    };
    store
        .add_contract(LOGIN, &contract, Utc::now())
        .expect("add the contract");
    // A year of a busy contract, each week's time uploaded in that week.
    let first = format!("{DIARY_DAY}T08:00:00Z")
        .parse::<chrono::DateTime<Utc>>()
        .unwrap();
    let segments: Vec<timecard_core::domain::Segment> = (0..YEAR_SEGMENTS)
        .map(|k| {
            let start = first + chrono::Duration::minutes(100 * k as i64);
            timecard_core::domain::Segment {
                id: timecard_core::domain::SegmentId::random(),
                contract_id: "load-hourly".into(),
                device_id: "load-device".into(),
                start,
                end: start + chrono::Duration::minutes(10),
                memo: "m".repeat(YEAR_MEMO_CHARS),
                activity: timecard_core::domain::Activity(0b1111),
                screenshot: None,
                capture_note: None,
            }
        })
        .collect();
    let user = store.find_user(LOGIN).expect("the user").expect("the user");
    let config = timecard_core::protocol::ServerConfig {
        segment_secs: 600,
        lock_grace_secs: 0,
    };
    for week in segments.chunk_by(|a, b| {
        timecard_core::domain::BillingWeek::containing(a.start)
            == timecard_core::domain::BillingWeek::containing(b.start)
    }) {
        let now = week.last().expect("a segment").end + chrono::Duration::minutes(1);
        store
            .ingest(user.id, week, now, config)
            .expect("store a week of segments");
    }
    drop(store);
    let db = rusqlite::Connection::open(dir.join(server::DB_FILE)).expect("open the database");
    let start = format!("{DIARY_DAY}T09:00:00Z")
        .parse::<chrono::DateTime<Utc>>()
        .unwrap()
        .timestamp();
    db.execute(
        "INSERT INTO segments (id, user_id, contract_id, device_id, start, end, memo, activity, capture_note, has_screenshot)
         VALUES (?1, (SELECT id FROM users WHERE login = ?2), 'load-hourly', 'load-device', ?3, ?4, ?5, 1, NULL, 0)",
        rusqlite::params![
            uuid::Uuid::new_v4().to_string(),
            LOGIN,
            start,
            start + 600,
            "m".repeat(MEMO_BYTES)
        ],
    )
    .expect("insert the segment with the big memo");
}

struct Server {
    child: Mutex<Child>,
    pid: u32,
    url: String,
    addr: SocketAddr,
    cert_pem: Vec<u8>,
    /// A TLS client configuration trusting the server's certificate.
    tls: Arc<rustls::ClientConfig>,
}

impl Server {
    fn start(binary: &Path, dir: &Path) -> Server {
        let log = std::fs::File::create(dir.join("server.log")).expect("a log file");
        let mut child = Command::new(binary)
            .arg("--data")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start the server");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("its output"))
            .read_line(&mut first)
            .expect("the server's first line");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        assert!(
            url.starts_with("https://127.0.0.1:"),
            "loopback only, not {url}"
        );
        let cert_pem = std::fs::read(dir.join("tls/cert.pem")).expect("the certificate");
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&cert_pem) {
            roots.add(cert.expect("a PEM certificate")).expect("a root");
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        Server {
            pid: child.id(),
            child: Mutex::new(child),
            addr: url
                .trim_start_matches("https://")
                .parse()
                .expect("an address"),
            url,
            cert_pem,
            tls: Arc::new(tls),
        }
    }

    /// A client of its own (its own connection), trusting the server's
    /// certificate, that returns error statuses as answers.
    fn agent(&self) -> ureq::Agent {
        let roots = ureq::tls::RootCerts::Specific(Arc::new(
            ureq::tls::parse_pem(&self.cert_pem)
                .filter_map(|i| match i {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect(),
        ));
        ureq::Agent::config_builder()
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into()
    }

    fn stop(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a phase's clients saw: how many answers of each status (0: no
/// answer).
#[derive(Default)]
struct Tally(Mutex<std::collections::BTreeMap<u16, usize>>);

impl Tally {
    fn add(&self, status: u16) {
        *self.0.lock().unwrap().entry(status).or_default() += 1;
    }

    fn text(&self) -> String {
        let map = self.0.lock().unwrap();
        map.iter()
            .map(|(status, n)| format!("{n}×{status}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs `attack` while sampling the server's memory and `/health`, prints
/// the figures and returns whether they are within `budget`.
fn phase(server: &Arc<Server>, name: &str, budget: Budget, attack: impl FnOnce() -> Tally) -> bool {
    let pid = server.pid;
    let done = Arc::new(AtomicBool::new(false));
    let peak_kb = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak_kb) = (done.clone(), peak_kb.clone());
        thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if let Some(kb) = rss_kb(pid) {
                    peak_kb.fetch_max(kb, Ordering::SeqCst);
                }
                thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let worst_health_ms = Arc::new(AtomicU64::new(0));
    let health_failures = Arc::new(AtomicU64::new(0));
    let prober = {
        let (done, worst, failures) = (
            done.clone(),
            worst_health_ms.clone(),
            health_failures.clone(),
        );
        let agent = server.agent();
        let url = format!("{}/api/v1/health", server.url);
        thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let t0 = Instant::now();
                let ok = agent
                    .get(&url)
                    .call()
                    .is_ok_and(|r| r.status().is_success());
                worst.fetch_max(t0.elapsed().as_millis() as u64, Ordering::SeqCst);
                if !ok {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let t0 = Instant::now();
    let tally = attack();
    let took = t0.elapsed();
    done.store(true, Ordering::SeqCst);
    let _ = sampler.join();
    let _ = prober.join();
    // Memory should come back after the storm.
    thread::sleep(Duration::from_secs(2));
    let after_mb = rss_kb(pid).unwrap_or(0) / 1024;
    let peak_mb = peak_kb.load(Ordering::SeqCst) / 1024;
    let worst_ms = worst_health_ms.load(Ordering::SeqCst);
    let failures = health_failures.load(Ordering::SeqCst);
    let ok = peak_mb < budget.rss_mb && worst_ms < budget.health_ms && failures == 0;
    println!(
        "{name}: answers {} in {:.1} s; peak RSS {peak_mb} MB (budget < {} MB), {after_mb} MB 2 s after; \
         worst /health {worst_ms} ms (budget < {} ms), {failures} /health failures: {}",
        tally.text(),
        took.as_secs_f64(),
        budget.rss_mb,
        budget.health_ms,
        if ok { "ok" } else { "OVER BUDGET" }
    );
    ok
}

/// Runs `clients` threads of `job(index)` and waits for them, at most
/// until the phase deadline (late threads are left to their request
/// timeouts; the server is killed at the end either way).
fn in_parallel(clients: usize, job: impl Fn(usize, &Tally) + Send + Sync + 'static) -> Tally {
    let tally = Arc::new(Tally::default());
    let job = Arc::new(job);
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..clients {
        let (job, tally, tx) = (job.clone(), tally.clone(), tx.clone());
        thread::spawn(move || {
            job(i, &tally);
            let _ = tx.send(());
        });
    }
    drop(tx);
    let deadline = Instant::now() + PHASE_DEADLINE;
    for _ in 0..clients {
        if rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_err()
        {
            eprintln!("phase deadline reached; not waiting for the rest");
            break;
        }
    }
    let tally = std::mem::take(&mut *tally.0.lock().unwrap());
    Tally(Mutex::new(tally))
}

/// The address client `n` connects from: 127.0.1.1, 127.0.1.2 … (all
/// loopback). An attacker has many addresses; from one, the server's
/// per-address limits would refuse most of the storm before it costs
/// anything.
fn client_address(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1 + (n / 250) as u8, 1 + (n % 250) as u8)
}

/// One HTTPS request on a connection of its own from `from`; the answer's
/// status (0: none).
fn request_from(from: Ipv4Addr, server: &Server, head: &str, body: &[u8]) -> u16 {
    let attempt = || -> std::io::Result<u16> {
        let socket = connect_from(from, server.addr)?;
        socket.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        socket.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        let name = rustls::pki_types::ServerName::IpAddress(server.addr.ip().into());
        let connection = rustls::ClientConnection::new(server.tls.clone(), name)
            .map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(connection, socket);
        let mut request = format!(
            "{head}\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            server.addr,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        tls.write_all(&request)?;
        // Only the status line is kept; the rest (a 37 MB CSV) is read and
        // dropped. The server may close without a TLS close_notify: what
        // came is enough.
        let mut first = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = tls.read(&mut buffer) {
            if n == 0 {
                break;
            }
            if first.len() < 64 {
                first.extend_from_slice(&buffer[..n.min(64 - first.len())]);
            }
        }
        let head = String::from_utf8_lossy(&first).into_owned();
        Ok(head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    };
    attempt().unwrap_or(0)
}

/// A TCP connection to `to` from the address `from` (bound first, which
/// the standard library cannot do on its own).
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((from, 0)))?;
        tokio::time::timeout(REQUEST_TIMEOUT, socket.connect(to))
            .await
            .map_err(|_| std::io::Error::other("connect timed out"))?
    })?;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

fn sign_in_storm(server: &Arc<Server>) -> Tally {
    let server = server.clone();
    in_parallel(SIGN_IN_CLIENTS, move |n, tally| {
        for _ in 0..SIGN_INS / SIGN_IN_CLIENTS {
            let login = uuid::Uuid::new_v4().simple().to_string();
            let body =
                serde_json::json!({"login": login, "password": "not the password"}).to_string();
            tally.add(request_from(
                client_address(n),
                &server,
                "POST /api/v1/session HTTP/1.1\r\nContent-Type: application/json",
                body.as_bytes(),
            ));
        }
    })
}

/// `{segments: array32 of 0xa0}` filling the server's batch cap.
fn empty_entries_batch() -> Arc<Vec<u8>> {
    let mut body = vec![0x81, 0xa8];
    body.extend_from_slice(b"segments");
    let n = timecard_core::protocol::MAX_BATCH_BYTES - body.len() - 5;
    body.push(0xdd);
    body.extend_from_slice(&(n as u32).to_be_bytes());
    body.resize(body.len() + n, 0xa0);
    Arc::new(body)
}

fn upload_storm(server: &Arc<Server>, token: &str) -> Tally {
    let server = server.clone();
    let head = format!(
        "POST /api/v1/segments HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Type: {}",
        timecard_core::protocol::MSGPACK
    );
    let body = empty_entries_batch();
    in_parallel(UPLOADS, move |n, tally| {
        tally.add(request_from(client_address(n), &server, &head, &body));
    })
}

fn diary_storm(server: &Arc<Server>, token: &str) -> Tally {
    let server = server.clone();
    let head = format!(
        "GET /api/v1/diary?date={DIARY_DAY}&tz=UTC HTTP/1.1\r\nAuthorization: Bearer {token}"
    );
    in_parallel(DIARY_CLIENTS, move |n, tally| {
        tally.add(request_from(client_address(n), &server, &head, &[]));
    })
}

/// `WEB_REQUESTS` signed-in page requests, `WEB_CLIENTS` at a time, each
/// client from an address of its own, going round `paths`.
fn web_storm(server: &Arc<Server>, token: &str, paths: &[&str]) -> Tally {
    let server = server.clone();
    let heads: Vec<String> = paths
        .iter()
        .map(|p| format!("GET {p} HTTP/1.1\r\nCookie: __Host-timecard={token}"))
        .collect();
    in_parallel(WEB_CLIENTS, move |n, tally| {
        for k in 0..WEB_REQUESTS / WEB_CLIENTS {
            let head = &heads[(n + k) % heads.len()];
            tally.add(request_from(client_address(n), &server, head, &[]));
        }
    })
}

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Resident memory of `pid`, in KiB.
fn rss_kb(pid: u32) -> Option<u64> {
    proc_status_kb(pid, "VmRSS:")
}

/// Peak resident memory of `pid` since it started, in KiB.
fn hwm_kb(pid: u32) -> Option<u64> {
    proc_status_kb(pid, "VmHWM:")
}
