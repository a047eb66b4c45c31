//! The web dashboard's budgets, against a release server on loopback TLS
//! (`ci/web-bench.sh`):
//! - a Work Diary page of a day with 144 segments with screenshots renders
//!   in ≤ 30 ms (median of 50) and sends ≤ 1.5 MB before any thumbnail is
//!   scrolled into view (the page and its stylesheet; thumbnails load lazily);
//! - a client with 50 contracts (50 freelancers, each eight hours a weekday
//!   for a month): the contracts page and a month's CSV of a contract, each
//!   ≤ 100 ms (median of 20).
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveTime, Utc};
use timecard_core::domain::{
    Activity, Contract, ContractKind, ContractStatus, Screenshot, Segment, SegmentId,
};
use timecard_core::protocol::ServerConfig;
use timecard_server::rules::{ContractTerms, Rate};
use timecard_server::store::{Role, Store};

const PASSWORD: &str = "long enough password";
const SCREEN: &[u8] = include_bytes!("../fixtures/screens/desktop-1920x1080.jpg");
const THUMBNAIL: &[u8] = include_bytes!("../fixtures/screens/desktop-thumbnail.jpg");

fn segment(contract: &str, start: DateTime<Utc>, picture: bool, n: u32) -> Segment {
    Segment {
        id: SegmentId::random(),
        contract_id: contract.into(),
        device_id: "bench".into(),
        start,
        end: start + chrono::Duration::minutes(10),
        memo: format!("Work item {n}: invoice export and its tests"),
        activity: Activity(0b1111_0111),
        screenshot: picture.then(|| Screenshot {
            taken_at: start + chrono::Duration::minutes(4),
            jpeg: SCREEN.to_vec(),
            thumbnail: THUMBNAIL.to_vec(),
        }),
        capture_note: None,
    }
}

/// A cookie-keeping HTTPS client signed in through the sign-in form.
struct Web {
    agent: ureq::Agent,
    base: String,
    cookie: String,
}

impl Web {
    fn sign_in(base: &str, cert: &[u8], login: &str) -> Web {
        let roots = ureq::tls::RootCerts::Specific(Arc::new(
            ureq::tls::parse_pem(cert)
                .filter_map(|i| match i {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect(),
        ));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let mut form = agent.get(format!("{base}/login")).call().unwrap();
        let csrf_cookie = form.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let page = form.body_mut().read_to_string().unwrap();
        let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf = page[at..at + 32].to_owned();
        let signed = agent
            .post(format!("{base}/login"))
            .header("Cookie", &csrf_cookie)
            .send_form([("login", login), ("password", PASSWORD), ("csrf", &csrf)])
            .unwrap();
        let cookie = signed
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with("__Host-timecard="))
            .expect("signed in");
        Web {
            agent,
            base: base.to_owned(),
            cookie,
        }
    }

    /// The page and how long it took, from request to last byte.
    fn get(&self, path: &str) -> (Vec<u8>, Duration) {
        let started = Instant::now();
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .call()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap();
        (body, started.elapsed())
    }

    fn median_ms(&self, path: &str, runs: usize) -> (f64, usize) {
        let mut times: Vec<Duration> = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs {
            let (body, took) = self.get(path);
            bytes = body.len();
            times.push(took);
        }
        times.sort();
        (times[runs / 2].as_secs_f64() * 1000.0, bytes)
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = timecard_server::open_store(dir.path()).unwrap();
    let hash = timecard_server::auth::hash_password(PASSWORD);
    for (login, role) in [("fay", Role::Freelancer), ("carl", Role::Client)] {
        store.add_user(login, None, &hash).unwrap();
        store.set_role(login, role).unwrap();
    }
    let carl = store.find_user("carl").unwrap().unwrap().id;
    let fay = store.find_user("fay").unwrap().unwrap().id;
    let config = ServerConfig {
        segment_secs: 600,
        lock_grace_secs: 0,
    };
    let today = Utc::now().date_naive().and_time(NaiveTime::MIN).and_utc();
    let month_start = today - chrono::Duration::days(30);
    for i in 0..50 {
        let freelancer = format!("f{i:02}");
        store.add_user(&freelancer, None, &hash).unwrap();
        let contract = Contract {
            id: format!("c{i:02}"),
            title: format!("Contract {i}"),
            client: "Acme".into(),
            kind: ContractKind::Hourly,
            status: ContractStatus::Active,
            start_date: month_start.date_naive() - chrono::Days::new(10),
            weekly_limit_secs: None,
            pending_limit: None,
        };
        let owner = if i == 0 { "fay" } else { freelancer.as_str() };
        store.add_contract(owner, &contract, Utc::now()).unwrap();
        let mut stored = store.contract(&contract.id).unwrap().unwrap();
        stored.terms = ContractTerms {
            client_user_id: Some(carl),
            rate: Some(Rate {
                cents: 4500,
                currency: "USD".into(),
            }),
            manual_time: true,
        };
        store.save_contract(&stored).unwrap();
    }
    // c00: a full day of 144 segments with screenshots, yesterday.
    let day = today - chrono::Duration::days(1);
    let full: Vec<Segment> = (0..144)
        .map(|n| {
            segment(
                "c00",
                day + chrono::Duration::minutes(10 * n),
                true,
                n as u32,
            )
        })
        .collect();
    store
        .ingest(fay, &full, day + chrono::Duration::days(1), config)
        .unwrap();
    // Every contract: a month of weekdays, 09:00–17:00.
    let mut n = 0;
    for i in 0..50 {
        let owner = if i == 0 {
            "fay".to_owned()
        } else {
            format!("f{i:02}")
        };
        let user = store.find_user(&owner).unwrap().unwrap().id;
        for d in 0..30 {
            let date = month_start + chrono::Duration::days(d);
            if date == day || chrono::Datelike::weekday(&date).number_from_monday() > 5 {
                continue;
            }
            let batch: Vec<Segment> = (0..48)
                .map(|k| {
                    n += 1;
                    segment(
                        &format!("c{i:02}"),
                        date + chrono::Duration::minutes(9 * 60 + 10 * k),
                        false,
                        n,
                    )
                })
                .collect();
            store
                .ingest(user, &batch, date + chrono::Duration::days(1), config)
                .unwrap();
        }
    }
    drop(store);
    eprintln!(
        "seeded: 144 segments with screenshots on {}, {n} more across 50 contracts",
        day.date_naive()
    );

    let mut options = timecard_server::ServerOptions::new(dir.path());
    options.config = config;
    let server =
        timecard_server::start(options, TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let web = Web::sign_in(&server.url(), &server.cert_pem, "carl");

    let diary = format!("/contracts/c00/diary?date={}&tz=UTC", day.date_naive());
    let (diary_ms, diary_bytes) = web.median_ms(&diary, 50);
    let (css, _) = web.get("/static/dashboard.css");
    let (page, _) = web.get(&diary);
    let page = String::from_utf8(page).unwrap();
    let thumbnails = page.matches("loading=\"lazy\"").count();
    // The first two hours of cells are on screen at 1280×900; their
    // thumbnails are what a browser loads before any scrolling.
    let first_screen = 12 * THUMBNAIL.len();
    let before_scroll = diary_bytes + css.len() + first_screen;
    let (contracts_ms, _) = web.median_ms("/contracts", 20);
    let month = format!(
        "/contracts/c07/timesheet.csv?from={}&to={}",
        month_start.date_naive(),
        today.date_naive()
    );
    let (csv_ms, csv_bytes) = web.median_ms(&month, 20);
    let week = format!("/contracts/c07/timesheet?week={}", month_start.date_naive());
    let (sheet_ms, _) = web.median_ms(&week, 20);

    let mut results: HashMap<&str, bool> = HashMap::new();
    println!("diary page, 144 segments   {diary_ms:7.1} ms median  (budget ≤ 30 ms)");
    results.insert("diary", diary_ms <= 30.0);
    println!(
        "  before scrolling         {:7.0} kB  (page {} kB, stylesheet {} kB, 12 of {thumbnails} lazy thumbnails; budget ≤ 1,536 kB)",
        before_scroll as f64 / 1024.0,
        diary_bytes / 1024,
        css.len() / 1024
    );
    results.insert("bytes", before_scroll <= 1536 * 1024);
    println!("contracts page, 50 contracts {contracts_ms:5.1} ms median  (budget ≤ 100 ms)");
    results.insert("contracts", contracts_ms <= 100.0);
    println!(
        "a month's CSV of a contract {csv_ms:6.1} ms median  ({} kB; budget ≤ 100 ms)",
        csv_bytes / 1024
    );
    results.insert("csv", csv_ms <= 100.0);
    println!("a week's timesheet          {sheet_ms:6.1} ms median  (budget ≤ 100 ms)");
    results.insert("sheet", sheet_ms <= 100.0);
    server.stop();
    let over: Vec<_> = results
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(k, _)| *k)
        .collect();
    if !over.is_empty() {
        eprintln!("over budget: {over:?}");
        std::process::exit(1);
    }
}
