//! The web dashboard over real TLS, as a browser speaks to it (forms,
//! cookies, redirects): who sees which contract, diary and screenshot, and
//! what a missing session or CSRF token gets.

use crate::common;

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::Duration;
use common::server::{PASSWORD, TestServer};
use common::{at, tiny_jpeg};
use timecard_core::domain::{Activity, Screenshot, Segment, SegmentId};
use timecard_server::rules::{ContractTerms, Rate};
use timecard_server::store::Role;

/// A cookie-keeping client that does not follow redirects.
#[derive(Clone)]
pub(crate) struct Browser {
    agent: ureq::Agent,
    base: String,
    cookies: HashMap<String, String>,
}

/// What came back: status, `Location`, the headers, the body.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    headers: HashMap<String, String>,
    set_cookies: Vec<String>,
    pub(crate) body: String,
}

impl Browser {
    pub(crate) fn new(server: &TestServer) -> Browser {
        Browser::at(&server.url(), &server.server.cert_pem)
    }

    /// A browser for the server at `url` whose certificate is `cert_pem`.
    pub(crate) fn at(url: &str, cert_pem: &[u8]) -> Browser {
        let roots = common::pinned_roots(cert_pem);
        Browser {
            agent: ureq::Agent::config_builder()
                .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(StdDuration::from_secs(30)))
                .build()
                .into(),
            base: url.to_owned(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: ureq::http::Response<ureq::Body>) -> Page {
        let mut headers = HashMap::new();
        let mut set_cookies = Vec::new();
        for (name, value) in response.headers() {
            let value = value.to_str().unwrap_or("").to_owned();
            if name == "set-cookie" {
                set_cookies.push(value.clone());
                let pair = value.split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
            headers.insert(name.as_str().to_owned(), value);
        }
        let status = response.status().as_u16();
        let location = headers.get("location").cloned();
        let body = match headers.get("content-type") {
            Some(t) if t.starts_with("image/") => {
                let bytes = response.into_body().read_to_vec().unwrap();
                format!("{} bytes", bytes.len())
            }
            _ => response.into_body().read_to_string().unwrap(),
        };
        Page {
            status,
            location,
            headers,
            set_cookies,
            body,
        }
    }

    pub(crate) fn get(&mut self, path: &str) -> Page {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie_header())
            .call()
            .unwrap();
        self.keep(response)
    }

    pub(crate) fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie_header())
            .send_form(fields.iter().copied())
            .unwrap();
        self.keep(response)
    }

    /// The CSRF token in the page's first form.
    pub(crate) fn csrf(page: &Page) -> String {
        let at = page.body.find("name=\"csrf\" value=\"").expect("a form") + 19;
        page.body[at..at + 32].to_owned()
    }

    pub(crate) fn sign_in(&mut self, login: &str) -> Page {
        self.sign_in_with(login, PASSWORD)
    }

    pub(crate) fn sign_in_with(&mut self, login: &str, password: &str) -> Page {
        let form = self.get("/login");
        let csrf = Browser::csrf(&form);
        self.post(
            "/login",
            &[("login", login), ("password", password), ("csrf", &csrf)],
        )
    }
}

/// ann's contract `ann-hourly` has the client account `carl`, a rate, and
/// one segment with a screenshot and a memo with markup in it. `dora` is
/// another client, `root` an admin; bob is another freelancer.
pub(crate) fn dashboard() -> (TestServer, SegmentId) {
    let now = at("2026-11-25T15:00:00Z");
    let server = TestServer::start(now);
    let store = server.store();
    let hash = timecard_server::auth::hash_password(PASSWORD);
    for (login, role) in [
        ("carl", Role::Client),
        ("dora", Role::Client),
        ("root", Role::Admin),
    ] {
        store.add_user(login, None, &hash).unwrap();
        store.set_role(login, role).unwrap();
    }
    let mut stored = store.contract("ann-hourly").unwrap().unwrap();
    stored.terms = ContractTerms {
        client_user_id: Some(store.find_user("carl").unwrap().unwrap().id),
        rate: Some(Rate {
            cents: 6000,
            currency: "USD".into(),
        }),
        manual_time: true,
    };
    store.save_contract(&stored).unwrap();
    let start = at("2026-11-25T14:00:00Z");
    let segment = Segment {
        id: SegmentId::random(),
        contract_id: "ann-hourly".into(),
        device_id: "laptop".into(),
        start,
        end: start + Duration::minutes(10),
        memo: "<script>alert(1)</script> schema".into(),
        activity: Activity(0b11_1111_1111),
        screenshot: Some(Screenshot {
            taken_at: start + Duration::minutes(3),
            jpeg: tiny_jpeg(),
            thumbnail: tiny_jpeg(),
        }),
        capture_note: None,
    };
    let body = timecard_core::codec::encode_body(&segment).unwrap();
    server.client("ann").upload(vec![body]).unwrap();
    (server, segment.id)
}

#[test]
fn a_client_sees_their_contracts_diary_and_screenshots() {
    let (server, id) = dashboard();
    let mut carl = Browser::new(&server);
    let signed_in = carl.sign_in("carl");
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.location.as_deref(), Some("/contracts"));
    let session = signed_in
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-timecard="))
        .expect("a session cookie")
        .clone();
    assert!(carl.cookies.contains_key("__Host-timecard"));

    let page = carl.get("/contracts");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Contract ann-hourly"), "{}", page.body);
    assert!(!page.body.contains("bob-hourly") && !page.body.contains("ann-open"));
    assert!(page.body.contains("0:10:00 of 40 h"), "{}", page.body);
    assert!(
        page.body.contains("10.00 USD"),
        "an hour's sixth at 60: {}",
        page.body
    );
    let csp = &page.headers["content-security-policy"];
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
    assert!(page.headers.contains_key("strict-transport-security"));
    assert_eq!(page.headers["referrer-policy"], "same-origin");

    let diary = carl.get("/contracts/ann-hourly/diary?date=2026-11-25&tz=Europe/Berlin");
    assert_eq!(diary.status, 200, "{}", diary.body);
    assert!(
        diary.body.contains(r#"<h2 id="h-1500">15:00</h2>"#),
        "Berlin's hour: {}",
        diary.body
    );
    assert!(diary.body.contains(&format!("/segments/{id}/thumbnail")));
    assert!(
        diary
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; schema")
    );
    assert!(!diary.body.contains("<script>alert(1)"));
    assert!(diary.body.contains("Day total: <strong>0:10:00</strong>"));

    for which in ["thumbnail", "screenshot"] {
        let picture = carl.get(&format!("/contracts/ann-hourly/segments/{id}/{which}"));
        assert_eq!(picture.status, 200);
        assert_eq!(picture.headers["content-type"], "image/jpeg");
        assert_eq!(picture.headers["cache-control"], "private, no-store");
        assert_eq!(picture.body, format!("{} bytes", tiny_jpeg().len()));
    }
    // The week's timesheet, its CSV and the API agree on the time.
    let sheet = carl.get("/contracts/ann-hourly/timesheet?week=2026-11-26");
    assert_eq!(sheet.status, 200, "{}", sheet.body);
    assert!(
        sheet.body.contains("week of Mon 23 Nov 2026"),
        "{}",
        sheet.body
    );
    assert!(
        sheet
            .body
            .contains(r#"<strong class="billable">0:10:00</strong>"#),
        "{}",
        sheet.body
    );
    assert!(sheet.body.contains("<svg"), "the chart");
    assert!(sheet.body.contains("10.00 USD"), "{}", sheet.body);
    let csv = carl.get("/contracts/ann-hourly/timesheet.csv?week=2026-11-23&tz=Asia/Kolkata");
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-disposition"].starts_with("attachment"));
    let rows: Vec<&str> = csv.body.lines().collect();
    assert_eq!(rows.len(), 2, "a heading and one segment: {}", csv.body);
    assert!(
        rows[1].starts_with(&format!(
            "\"{id}\",\"2026-11-25T14:00:00Z\",\"2026-11-25T14:10:00Z\",\"2026-11-25 19:30:00\","
        )),
        "{}",
        rows[1]
    );
    let minutes: f64 = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(6).unwrap().parse::<f64>().unwrap())
        .sum();
    let api = server.client("ann").contracts("UTC").unwrap();
    let week_secs = api
        .contracts
        .iter()
        .find(|c| c.contract.id == "ann-hourly")
        .unwrap()
        .week_logged_secs;
    assert_eq!((minutes * 60.0).round() as i64, week_secs);
    assert!(
        rows[1].contains("<script>alert(1)</script> schema"),
        "the memo as written"
    );

    // The cookie is one scripts cannot read and other sites do not send.
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attribute), "{session}");
    }
}

#[test]
fn every_page_refuses_who_may_not_see_it() {
    let (server, id) = dashboard();
    let pages = [
        "/contracts/ann-hourly/diary".to_owned(),
        "/contracts/ann-hourly/timesheet".to_owned(),
        "/contracts/ann-hourly/timesheet.csv".to_owned(),
        "/contracts/ann-hourly/statement".to_owned(),
        format!("/contracts/ann-hourly/segments/{id}/thumbnail"),
        format!("/contracts/ann-hourly/segments/{id}/screenshot"),
    ];
    // No session: to the sign-in page.
    let mut nobody = Browser::new(&server);
    for page in pages.iter().chain([&"/contracts".to_owned()]) {
        let got = nobody.get(page);
        assert_eq!(got.status, 303, "{page}");
        assert_eq!(got.location.as_deref(), Some("/login"), "{page}");
    }
    // Another client, another freelancer: as if it did not exist.
    for login in ["dora", "bob"] {
        let mut other = Browser::new(&server);
        assert_eq!(other.sign_in(login).status, 303);
        for page in &pages {
            let got = other.get(page);
            assert_eq!(got.status, 404, "{login} {page}");
            assert!(!got.body.contains("schema"), "{login} {page}");
        }
        assert!(!other.get("/contracts").body.contains("ann-hourly"));
    }
    // The freelancer and an admin may.
    for login in ["ann", "root"] {
        let mut allowed = Browser::new(&server);
        allowed.sign_in(login);
        for page in &pages {
            assert_eq!(allowed.get(page).status, 200, "{login} {page}");
        }
    }
    // A wrong password says so and opens no session.
    let mut guess = Browser::new(&server);
    let form = guess.get("/login");
    let csrf = Browser::csrf(&form);
    let wrong = guess.post(
        "/login",
        &[("login", "carl"), ("password", "nope"), ("csrf", &csrf)],
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong username or password."));
    assert!(
        wrong.body.contains(r#"name="login" value="carl""#),
        "the user name stays: {}",
        wrong.body
    );
    assert!(!guess.cookies.contains_key("__Host-timecard"));
    // A sign-in without the form's token opens no session.
    let mut forged = Browser::new(&server);
    let got = forged.post(
        "/login",
        &[
            ("login", "carl"),
            ("password", PASSWORD),
            ("csrf", "0".repeat(32).as_str()),
        ],
    );
    assert_eq!(got.status, 403);
    assert!(!forged.cookies.contains_key("__Host-timecard"));
    // Signing out without the session's token changes nothing.
    let mut carl = Browser::new(&server);
    carl.sign_in("carl");
    let got = carl.post("/logout", &[("csrf", "0".repeat(32).as_str())]);
    assert_eq!(got.status, 403);
    assert_eq!(carl.get("/contracts").status, 200, "still signed in");
    let page = carl.get("/contracts");
    let got = carl.post("/logout", &[("csrf", &Browser::csrf(&page))]);
    assert_eq!(got.location.as_deref(), Some("/login"));
    assert_eq!(carl.get("/contracts").status, 303, "signed out");
    // An expired session is no session.
    let mut later = Browser::new(&server);
    later.sign_in("carl");
    server.clock.advance(Duration::days(31));
    assert_eq!(later.get(&pages[0]).status, 303);
}

/// Where the browser tests save what they saw, for people to look at.
fn web_screens() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-screens")
}

// The dashboard in headless Chromium over real TLS: the client signs in,
// sees the week's hours, the diary's screenshots (every image loaded), a
// full screenshot, the timesheet; a memo with markup is text.
#[test]
fn the_dashboard_in_a_real_browser() {
    let (server, id) = dashboard();
    let Some(browser) = common::webdriver::Browser::start() else {
        return;
    };
    let url = server.url();
    browser.go(&format!("{url}/contracts"));
    assert!(browser.url().ends_with("/login"), "{}", browser.url());
    browser.type_into(&browser.find("#login"), "carl");
    browser.type_into(&browser.find("#password"), PASSWORD);
    browser.click(&browser.find("form.signin button[type=submit]"));
    browser.wait_until(
        "the contracts page",
        "return location.pathname === '/contracts';",
    );
    let text = browser.text();
    assert!(text.contains("Contract ann-hourly"), "{text}");
    assert!(text.contains("0:10:00 of 40 h"), "{text}");
    assert!(!text.contains("bob-hourly"), "{text}");
    browser.screenshot(&web_screens().join("contracts.png"));

    // Without a zone in the address, the diary takes the browser's.
    browser.go(&format!("{url}/contracts/ann-hourly/diary?date=2026-11-25"));
    browser.wait_until(
        "the diary in the browser's zone",
        "const drawn = document.querySelector('[data-zone]'); \
         return drawn !== null && drawn.dataset.zone === \
         Intl.DateTimeFormat().resolvedOptions().timeZone;",
    );
    browser.go(&format!(
        "{url}/contracts/ann-hourly/diary?date=2026-11-25&tz=Europe/Berlin"
    ));
    browser.wait_until(
        "every screenshot in the diary",
        "const images = Array.from(document.images); \
         return images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0);",
    );
    let text = browser.text();
    assert!(
        text.contains("<script>alert(1)</script> schema"),
        "the memo as text: {text}"
    );
    assert_eq!(
        browser.run(
            "return document.querySelectorAll('script:not([src^=\"/static/zone.js?\"])').length;"
        ),
        serde_json::json!(0),
        "no script made it into the page"
    );
    browser.screenshot(&web_screens().join("diary.png"));

    // The picture opens in the viewer, in the page; Esc goes back to it.
    browser.click(&browser.find(&format!("a.shot[href*='/segments/{id}?']")));
    browser.wait_until(
        "the full screenshot",
        "const img = document.querySelector('figure.viewer img'); \
         return img !== null && img.complete && img.naturalWidth > 0;",
    );
    assert!(
        browser.text().contains("1 of 1 pictures this day"),
        "{}",
        browser.text()
    );
    browser.screenshot(&web_screens().join("viewer.png"));
    browser.press(common::webdriver::keys::ESCAPE);
    browser.wait_until(
        "back at the segment",
        &format!(
            "return location.pathname.endsWith('/diary') && location.hash === '#segment-{id}';"
        ),
    );

    browser.go(&format!(
        "{url}/contracts/ann-hourly/timesheet?week=2026-11-25"
    ));
    let text = browser.text();
    assert!(text.contains("Week\t0:10:00"), "{text}");
    browser.screenshot(&web_screens().join("timesheet.png"));
    // The week ends: the client disputes the segment in the diary.
    server.clock.set(at("2026-11-30T10:00:00Z"));
    let diary = format!("{url}/contracts/ann-hourly/diary?date=2026-11-25&tz=UTC");
    browser.go(&diary);
    browser.type_into(
        &browser.find("form[action$='/dispute'] input[name=note]"),
        "Looks like a meeting",
    );
    browser.click(&browser.find("form[action$='/dispute'] button"));
    browser.wait_until(
        "the dispute",
        "return document.body.innerText.includes('Disputed: Looks like a meeting');",
    );
    browser.screenshot(&web_screens().join("dispute.png"));
    browser.click(&browser.find("header form button"));
    browser.wait_until("signed out", "return location.pathname === '/login';");

    // The freelancer answers it on the web and sees it in the app.
    let sign_in = |login: &str| {
        browser.type_into(&browser.find("#login"), login);
        browser.type_into(&browser.find("#password"), PASSWORD);
        browser.click(&browser.find("form.signin button[type=submit]"));
        browser.wait_until("signed in", "return location.pathname === '/contracts';");
    };
    sign_in("ann");
    browser.go(&diary);
    browser.type_into(
        &browser.find("form[action$='/answer'] input[name=note]"),
        "It was pair programming",
    );
    browser.click(&browser.find("form[action$='/answer'] button"));
    browser.wait_until(
        "the answer",
        "return document.body.innerText.includes('Answer: It was pair programming');",
    );
    let app = tempfile::tempdir().unwrap();
    common::cli::login(app.path(), &server);
    let out = common::cli::timecard(app.path(), &["contracts", "--json"], None);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let disputes = &listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "ann-hourly")
        .unwrap()["disputes"];
    assert_eq!(disputes[0]["reason"], "Looks like a meeting");
    assert_eq!(disputes[0]["answer"], "It was pair programming");
    browser.click(&browser.find("header form button"));
    browser.wait_until("signed out", "return location.pathname === '/login';");

    // The client keeps the time and approves the week.
    sign_in("carl");
    browser.go(&diary);
    browser.click(&browser.find("form[action$='/decide'] button[value=keep]"));
    browser.wait_until(
        "the decision",
        "return document.body.innerText.includes('Kept after a dispute');",
    );
    browser.go(&format!(
        "{url}/contracts/ann-hourly/timesheet?week=2026-11-25"
    ));
    browser.click(&browser.find("form[action$='/approve'] button"));
    browser.wait_until(
        "asked",
        "return document.querySelector('.confirm') !== null;",
    );
    browser.click(&browser.find(".confirm button.danger"));
    browser.wait_until(
        "the approval",
        "return document.body.innerText.includes('Approved by carl');",
    );
    browser.screenshot(&web_screens().join("approved.png"));

    // The CSV (fetched by the page) and the timesheet agree; the week's
    // time is the ten minutes the API took.
    let csv = browser.run(
        "return fetch('/contracts/ann-hourly/timesheet.csv?week=2026-11-25').then(r => r.text());",
    );
    let minutes: f64 = csv
        .as_str()
        .unwrap()
        .lines()
        .skip(1)
        .map(|row| row.split(',').nth(6).unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!((minutes * 60.0).round() as i64, 600, "{csv}");
    assert!(
        browser
            .text()
            .contains("Week\t0:10:00\t0:00:00\t0:00:00\t0:10:00"),
        "{}",
        browser.text()
    );

    browser.go(&format!(
        "{url}/contracts/ann-hourly/statement?week=2026-11-25"
    ));
    let text = browser.text();
    assert!(
        text.contains("Weekly statement") && text.contains("10.00 USD"),
        "{text}"
    );
    browser.screenshot(&web_screens().join("statement.png"));
}

// The weekly review: after the week ends the client disputes a segment,
// the freelancer answers, the client rejects the time (it leaves the
// totals and the CSV) and approves the week; every step is in the log, and
// nobody else can take one. A week nobody approves is approved by itself.
#[test]
fn a_week_is_reviewed_disputed_answered_and_approved() {
    let (server, id) = dashboard();
    let mut carl = Browser::new(&server);
    carl.sign_in("carl");
    let mut ann = Browser::new(&server);
    ann.sign_in("ann");
    let diary = "/contracts/ann-hourly/diary?date=2026-11-25&tz=UTC";
    let dispute = format!("/contracts/ann-hourly/segments/{id}/dispute");
    let form = |browser: &mut Browser, extra: &[(&str, &str)]| {
        let page = browser.get(diary);
        let mut fields = vec![
            ("csrf".to_owned(), Browser::csrf(&page)),
            ("date".to_owned(), "2026-11-25".to_owned()),
            ("tz".to_owned(), "UTC".to_owned()),
        ];
        fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        fields
    };
    let post = |browser: &mut Browser, path: &str, fields: Vec<(String, String)>| {
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        browser.post(path, &fields)
    };

    // During the week there is nothing to review yet.
    assert!(!carl.get(diary).body.contains("Dispute</button>"));
    let f = form(&mut carl, &[("note", "too early")]);
    let got = post(&mut carl, &dispute, f);
    assert_eq!(got.status, 409, "{}", got.body);
    assert!(got.body.contains("the week has not ended yet"));

    server.clock.set(at("2026-11-30T10:00:00Z"));
    assert!(
        carl.get("/contracts")
            .body
            .contains("week of 23 Nov waits for review"),
        "the contracts page says a week waits"
    );
    let sheet = carl.get("/contracts/ann-hourly/timesheet?week=2026-11-25");
    assert!(
        sheet
            .body
            .contains("You can review this week until Fri 4 Dec 23:59 (UTC)"),
        "{}",
        sheet.body
    );
    assert!(sheet.body.contains("Approve this week"));
    assert!(
        !ann.get("/contracts/ann-hourly/timesheet?week=2026-11-25")
            .body
            .contains("Approve this week")
    );

    // The client disputes; without the form's token nothing happens.
    let got = carl.post(
        &dispute,
        &[("csrf", "0".repeat(32).as_str()), ("note", "x")],
    );
    assert_eq!(got.status, 403);
    let f = form(
        &mut carl,
        &[("note", "This was a <b>meeting</b>, not work")],
    );
    let got = post(&mut carl, &dispute, f);
    assert_eq!(got.status, 303, "{}", got.body);
    assert_eq!(
        got.location,
        Some(format!("{diary}&done=disputed&at={id}#segment-{id}")),
        "back at the segment, which says what happened"
    );
    let page = carl.get(diary);
    assert!(
        page.body
            .contains("This was a &lt;b&gt;meeting&lt;/b&gt;, not work"),
        "{}",
        page.body
    );
    // Another client cannot act on it; the freelancer cannot approve.
    let mut dora = Browser::new(&server);
    dora.sign_in("dora");
    let page = dora.get("/contracts");
    let got = dora.post(
        &format!("/contracts/ann-hourly/segments/{id}/decide"),
        &[
            ("csrf", &Browser::csrf(&page)),
            ("decision", "reject"),
            ("date", "2026-11-25"),
            ("tz", "UTC"),
        ],
    );
    assert_eq!(got.status, 404);
    let page = ann.get("/contracts/ann-hourly/timesheet?week=2026-11-25");
    let got = ann.post(
        "/contracts/ann-hourly/weeks/2026-11-23/approve",
        &[("csrf", &Browser::csrf(&page))],
    );
    assert_eq!(got.status, 409);

    // The freelancer answers; the client cannot approve before deciding.
    let f = form(&mut ann, &[("note", "It was pairing on the schema")]);
    assert_eq!(
        post(
            &mut ann,
            &format!("/contracts/ann-hourly/segments/{id}/answer"),
            f
        )
        .status,
        303
    );
    // The freelancer sees the dispute in the app too.
    let app = tempfile::tempdir().unwrap();
    common::cli::login(app.path(), &server);
    let out = common::cli::timecard(app.path(), &["contracts", "--json"], None);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::cli::text(&out)));
    let contract = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "ann-hourly")
        .unwrap();
    let seen = &contract["disputes"][0];
    assert_eq!(seen["segment_id"], id.to_string());
    assert_eq!(seen["reason"], "This was a <b>meeting</b>, not work");
    assert_eq!(seen["answer"], "It was pairing on the schema");
    assert_eq!(seen["state"], "open");
    let out = common::cli::timecard(app.path(), &["contracts"], None);
    assert!(
        common::cli::text(&out).contains("disputed Wed 25 Nov"),
        "{}",
        common::cli::text(&out)
    );
    let page = carl.get("/contracts/ann-hourly/timesheet?week=2026-11-25");
    assert!(!page.body.contains("Approve this week"), "{}", page.body);
    let got = carl.post(
        "/contracts/ann-hourly/weeks/2026-11-23/approve",
        &[("csrf", &Browser::csrf(&page))],
    );
    assert_eq!(got.status, 409);
    assert!(got.body.contains("decide the disputed segments first"));

    // The client rejects the time, once asked: it leaves the totals and the CSV.
    let f = form(&mut carl, &[("decision", "reject")]);
    let asked = post(
        &mut carl,
        &format!("/contracts/ann-hourly/segments/{id}/decide"),
        f,
    );
    assert_eq!(asked.status, 200);
    assert!(asked.body.contains("Reject this time?"), "{}", asked.body);
    let f = form(&mut carl, &[("decision", "reject"), ("confirm", "yes")]);
    assert_eq!(
        post(
            &mut carl,
            &format!("/contracts/ann-hourly/segments/{id}/decide"),
            f
        )
        .status,
        303
    );
    let sheet = carl.get("/contracts/ann-hourly/timesheet?week=2026-11-25");
    assert!(
        sheet
            .body
            .contains(r#"<strong class="billable">0:00:00</strong>"#),
        "{}",
        sheet.body
    );
    assert!(sheet.body.contains("1 rejected segment is not billed."));
    // The CSV still lists the rejected segment, with no billable minutes.
    let csv = carl.get("/contracts/ann-hourly/timesheet.csv?week=2026-11-25");
    let rows: Vec<&str> = csv.body.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{}", csv.body);
    assert!(rows[0].contains(",10.00,0.00,\"tracked\","), "{}", csv.body);
    assert!(rows[0].ends_with(",\"rejected\""), "{}", csv.body);

    // Then approves the week, once asked; nothing more can be disputed.
    let asked = carl.post(
        "/contracts/ann-hourly/weeks/2026-11-23/approve",
        &[("csrf", &Browser::csrf(&sheet))],
    );
    assert!(asked.body.contains("Approve the week of Mon 23 Nov 2026?"));
    let got = carl.post(
        "/contracts/ann-hourly/weeks/2026-11-23/approve",
        &[("csrf", &Browser::csrf(&sheet)), ("confirm", "yes")],
    );
    assert_eq!(got.status, 303, "{}", got.body);
    let sheet = carl.get("/contracts/ann-hourly/timesheet?week=2026-11-25");
    assert!(
        sheet
            .body
            .contains("<strong>Approved</strong> by carl on Mon 30 Nov 10:00 UTC"),
        "{}",
        sheet.body
    );
    for step in [
        "disputed a segment",
        "answered a dispute",
        "rejected disputed time",
        "approved the week",
    ] {
        assert!(
            sheet.body.contains(step),
            "the log shows {step:?}: {}",
            sheet.body
        );
    }
    assert!(!carl.get("/contracts").body.contains("waits for review"));
    assert!(
        sheet
            .body
            .contains("ann · answered a dispute: It was pairing on the schema")
    );

    // Another week nobody approves is approved when the window closes.
    server.clock.set(at("2026-12-12T00:00:00Z"));
    let sheet = carl.get("/contracts/ann-hourly/timesheet?week=2026-12-01");
    assert!(
        sheet
            .body
            .contains("<strong>Approved</strong> automatically on Sat 12 Dec 00:00 UTC"),
        "{}",
        sheet.body
    );
}

// Manual time (R8): added from the command line and on the web, cut on the
// grid, marked manual in the diary, the timesheet and the CSV, judged like
// tracked time (overlap, future) and refused where the contract says no.
#[test]
fn manual_time_from_the_command_line_and_the_web() {
    let (server, _) = dashboard();
    let app = tempfile::tempdir().unwrap();
    common::cli::login(app.path(), &server);
    let manual = |args: &[&str]| {
        let mut all = vec!["manual", "--contract", "ann-hourly"];
        all.extend_from_slice(args);
        common::cli::timecard(app.path(), &all, None)
    };
    // The server's clock says 2026-11-25 15:00 UTC; the app's zone is UTC.
    let out = manual(&[
        "--from",
        "2026-11-25 09:05",
        "--to",
        "09:35",
        "--memo",
        "client call",
    ]);
    assert!(out.status.success(), "{}", common::cli::text(&out));
    assert!(common::cli::text(&out).contains("Added 0:30:00 of manual time"));
    let out = manual(&["--from", "2026-11-25 09:20", "--to", "09:40"]);
    assert!(!out.status.success());
    assert!(
        common::cli::text(&out).contains("already logged"),
        "{}",
        common::cli::text(&out)
    );
    let out = manual(&["--from", "2026-11-25 16:00", "--to", "17:00"]);
    assert!(
        common::cli::text(&out).contains("future"),
        "{}",
        common::cli::text(&out)
    );
    let out = common::cli::timecard(
        app.path(),
        &[
            "manual",
            "--contract",
            "ann-open",
            "--from",
            "2026-11-25 08:00",
            "--to",
            "08:30",
        ],
        None,
    );
    assert!(out.status.success(), "{}", common::cli::text(&out));

    let store = server.store();
    let mut open = store.contract("ann-open").unwrap().unwrap();
    open.terms.manual_time = false;
    store.save_contract(&open).unwrap();
    let out = common::cli::timecard(
        app.path(),
        &[
            "manual",
            "--contract",
            "ann-open",
            "--from",
            "2026-11-25 07:00",
            "--to",
            "07:30",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        common::cli::text(&out).contains("does not allow manual time"),
        "{}",
        common::cli::text(&out)
    );

    // On the web: the freelancer adds 10:00–10:20; the client sees it all.
    let mut ann = Browser::new(&server);
    ann.sign_in("ann");
    let diary = ann.get("/contracts/ann-hourly/diary?date=2026-11-25&tz=UTC");
    assert!(diary.body.contains("Add time by hand"));
    let added = ann.post(
        "/contracts/ann-hourly/manual",
        &[
            ("csrf", &Browser::csrf(&diary)),
            ("date", "2026-11-25"),
            ("tz", "UTC"),
            ("from", "10:00"),
            ("to", "10:20"),
            ("memo", "review notes"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.body);
    let mut carl = Browser::new(&server);
    carl.sign_in("carl");
    let diary = carl.get("/contracts/ann-hourly/diary?date=2026-11-25&tz=UTC");
    assert!(
        !diary.body.contains("Add time by hand"),
        "only the freelancer adds time"
    );
    assert_eq!(
        diary.body.matches("added by hand").count(),
        6,
        "{}",
        diary.body
    );
    assert!(
        diary.body.contains("Day total: <strong>1:00:00</strong>"),
        "{}",
        diary.body
    );
    let sheet = carl.get("/contracts/ann-hourly/timesheet?week=2026-11-25");
    assert!(
        sheet.body.contains(
            r#"<td data-label="Tracked">0:10:00</td><td data-label="Manual">0:50:00</td>"#
        ),
        "{}",
        sheet.body
    );
    let csv = carl.get("/contracts/ann-hourly/timesheet.csv?week=2026-11-25");
    assert_eq!(csv.body.matches(",\"manual\",").count(), 6, "{}", csv.body);
    let forged = carl.post(
        "/contracts/ann-hourly/manual",
        &[
            ("csrf", &Browser::csrf(&diary)),
            ("date", "2026-11-25"),
            ("from", "11:00"),
            ("to", "11:10"),
        ],
    );
    assert_eq!(forged.status, 403, "the client adds no time");
}

// The admin pages: only admins reach them; users, contracts, maintenance
// mode and problem reports work as the admin commands do.
#[test]
fn admins_manage_users_contracts_and_maintenance_in_the_browser() {
    let (server, _) = dashboard();
    // Nobody else gets anything, not even the pages' existence.
    for login in ["carl", "ann"] {
        let mut other = Browser::new(&server);
        other.sign_in(login);
        let page = other.get("/contracts");
        for path in ["/admin/users", "/admin/contracts", "/admin/reports"] {
            assert_eq!(other.get(path).status, 404, "{login} {path}");
        }
        let got = other.post(
            "/admin/users",
            &[
                ("csrf", &Browser::csrf(&page)),
                ("login", "mallory"),
                ("role", "admin"),
            ],
        );
        assert_eq!(got.status, 404, "{login} adds no user");
    }
    let store = server.store();
    assert!(store.find_user("mallory").unwrap().is_none());

    let mut root = Browser::new(&server);
    root.sign_in("root");
    let users = root.get("/admin/users");
    assert_eq!(users.status, 200);
    assert!(users.body.contains("carl") && users.body.contains("dora"));
    let csrf = Browser::csrf(&users);

    // A new user with a password shown once, who can then sign in.
    let added = root.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("login", "erin"),
            ("email", ""),
            ("role", "client"),
        ],
    );
    assert_eq!(added.status, 200, "{}", added.body);
    let from = added.body.find("<code class=\"password\">").unwrap() + 23;
    let password = added.body[from..from + 16].to_owned();
    let mut erin = Browser::new(&server);
    assert_eq!(erin.sign_in_with("erin", &password).status, 303);
    assert_eq!(store.find_user("erin").unwrap().unwrap().role, Role::Client);
    // Disabled, once confirmed: her session ends and she cannot sign in.
    let asked = root.post("/admin/users/erin", &[("csrf", &csrf), ("do", "disable")]);
    assert_eq!(asked.status, 200);
    assert!(asked.body.contains("Disable erin?"), "{}", asked.body);
    assert_eq!(
        erin.get("/contracts").status,
        200,
        "nothing happens before the yes"
    );
    let got = root.post(
        "/admin/users/erin",
        &[("csrf", &csrf), ("do", "disable"), ("confirm", "yes")],
    );
    assert_eq!(got.status, 303);
    assert_eq!(erin.get("/contracts").status, 303);
    assert_eq!(
        Browser::new(&server).sign_in_with("erin", &password).status,
        403
    );

    // A contract's terms.
    let got = root.post(
        "/admin/contracts/ann-open",
        &[
            ("csrf", &csrf),
            ("title", "Open work"),
            ("client", "Acme"),
            ("status", "paused"),
            ("weekly_limit", "12"),
            ("client_user", "dora"),
            ("rate", "70.5"),
            ("currency", "eur"),
        ],
    );
    assert_eq!(got.status, 303, "{}", got.body);
    let stored = store.contract("ann-open").unwrap().unwrap();
    assert_eq!(stored.contract.status.as_str(), "paused");
    assert_eq!(
        stored.terms.rate,
        Some(Rate {
            cents: 7050,
            currency: "EUR".into()
        })
    );
    assert!(!stored.terms.manual_time, "the box was not ticked");
    assert_eq!(
        stored.terms.client_user_id,
        Some(store.find_user("dora").unwrap().unwrap().id)
    );
    let got = root.post(
        "/admin/contracts/ann-open",
        &[
            ("csrf", &csrf),
            ("title", "Open work"),
            ("status", "active"),
            ("client_user", "ann"),
        ],
    );
    assert_eq!(got.status, 422, "a freelancer is no client account");
    assert!(got.body.contains("needs a client account"), "{}", got.body);

    // Maintenance holds the app's API, not the pages.
    let asked = root.post("/admin/maintenance", &[("csrf", &csrf), ("on", "true")]);
    assert_eq!(asked.status, 200, "asked first");
    assert_eq!(root.get("/api/v1/health").status, 200);
    let got = root.post(
        "/admin/maintenance",
        &[("csrf", &csrf), ("on", "true"), ("confirm", "yes")],
    );
    assert_eq!(got.status, 303);
    assert_eq!(root.get("/api/v1/health").status, 503);
    assert_eq!(root.get("/admin/users").status, 200);
    root.post("/admin/maintenance", &[("csrf", &csrf), ("on", "false")]);
    assert_eq!(root.get("/api/v1/health").status, 200);

    // Problem reports, with their logs.
    let mut report =
        timecard_core::protocol::ProblemReport::new("It froze", at("2026-11-25T14:00:00Z"));
    report.attach_logs(b"PK fake zip");
    server.client("ann").report(&report).unwrap();
    let reports = root.get("/admin/reports");
    assert!(reports.body.contains("It froze"), "{}", reports.body);
    let logs = root.get(&format!("/admin/reports/{}/logs.zip", report.id));
    assert_eq!(logs.status, 200);
    assert_eq!(logs.headers["content-type"], "application/zip");
}

// `serve --demo` on an empty folder: three accounts with their passwords
// printed once, and a contract with time and screenshots to look at.
#[test]
fn serve_demo_gives_a_full_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let mut serving =
        common::serving::Serving::start(&data, &["--listen", "127.0.0.1:0", "--demo"]);
    let line = serving.wait_line("the client's password", |l| {
        l.trim_start().starts_with("client ")
    });
    let password = line.split_whitespace().nth(1).unwrap().to_owned();
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let mut client = Browser::at(&serving.url, &cert);
    assert_eq!(client.sign_in_with("client", &password).status, 303);
    let page = client.get("/contracts");
    assert!(page.body.contains("Web shop rebuild"), "{}", page.body);
    let last_monday = (chrono::Utc::now() - Duration::days(7))
        .date_naive()
        .week(chrono::Weekday::Mon)
        .first_day();
    let sheet = client.get(&format!("/contracts/demo-web/timesheet?week={last_monday}"));
    assert!(
        sheet
            .body
            .contains(r#"<strong class="billable">25:00:00</strong>"#),
        "five days of five hours: {}",
        sheet.body
    );
    let diary = client.get(&format!(
        "/contracts/demo-web/diary?date={last_monday}&tz=UTC"
    ));
    let thumbnail = diary.body.find("/thumbnail").expect("a screenshot");
    let start = diary.body[..thumbnail].rfind("src=\"").unwrap() + 5;
    let picture = client.get(&diary.body[start..thumbnail + 10]);
    assert_eq!(picture.headers["content-type"], "image/jpeg");
    drop(serving);
    // A second start with --demo adds nothing.
    let mut again = common::serving::Serving::start(&data, &["--listen", "127.0.0.1:0", "--demo"]);
    again.wait_line("that nothing was added", |l| {
        l.contains("already has users")
    });
}

// The rest of the pages in Chromium: the freelancer adds time by hand in
// the diary; the admin adds a user (password shown once), changes a
// contract's terms and reads the problem reports.
#[test]
fn manual_time_and_the_admin_pages_in_a_real_browser() {
    let (server, _) = dashboard();
    let Some(browser) = common::webdriver::Browser::start() else {
        return;
    };
    let url = server.url();
    let sign_in = |login: &str| {
        browser.go(&format!("{url}/login"));
        browser.type_into(&browser.find("#login"), login);
        browser.type_into(&browser.find("#password"), PASSWORD);
        browser.click(&browser.find("form.signin button[type=submit]"));
        browser.wait_until("signed in", "return location.pathname === '/contracts';");
    };
    sign_in("ann");
    browser.go(&format!(
        "{url}/contracts/ann-hourly/diary?date=2026-11-25&tz=UTC"
    ));
    browser.click(&browser.find("details.manual summary"));
    // A time field's keys depend on the browser's locale; its value does not.
    browser.run(
        "document.querySelector('#from').value = '09:00'; \
         document.querySelector('#to').value = '09:20';",
    );
    browser.type_into(&browser.find("#memo"), "Phone call with the client");
    browser.click(&browser.find("form.manual button"));
    browser.wait_until(
        "the manual time",
        "return document.body.innerText.includes('Day total: 0:30:00');",
    );
    assert_eq!(browser.text().matches("added by hand").count(), 2);
    browser.screenshot(&web_screens().join("manual.png"));
    browser.click(&browser.find("header form button"));
    browser.wait_until("signed out", "return location.pathname === '/login';");

    sign_in("root");
    browser.go(&format!("{url}/admin/users"));
    browser.type_into(&browser.find("#f-login"), "gina");
    browser.click(&browser.find("form.signin button"));
    browser.wait_until(
        "the new password",
        "return document.querySelector('code.password') !== null;",
    );
    let store = server.store();
    assert!(store.find_user("gina").unwrap().is_some());
    // A contract's terms, changed on its own page; the list says what.
    browser.go(&format!("{url}/admin/contracts"));
    browser.screenshot(&web_screens().join("admin-contracts.png"));
    browser.click(&browser.find("a[href$='/admin/contracts/ann-open']"));
    browser.wait_until(
        "the contract's form",
        "return location.pathname.endsWith('/ann-open');",
    );
    let rate = browser.find("#f-rate");
    browser.clear(&rate);
    browser.type_into(&rate, "80");
    let currency = browser.find("#f-currency");
    browser.clear(&currency);
    browser.type_into(&currency, "EUR");
    browser.click(&browser.find("form.contract button[type=submit]"));
    browser.wait_until(
        "the saved terms",
        "return (document.querySelector('[role=status]') || {}).innerText === 'Saved “Contract ann-open”: the rate (80.00 EUR / h).';",
    );
    assert_eq!(
        store.contract("ann-open").unwrap().unwrap().terms.rate,
        Some(Rate {
            cents: 8000,
            currency: "EUR".into()
        })
    );
    browser.go(&format!("{url}/admin/reports"));
    assert!(browser.text().contains("Problem reports"));
}

// The admin forms never lose what was typed or a term nobody touched
// (R11), in Chromium: a limit still pending survives saving the rate (the
// weekly limit that was deleted before); a rate in a comma locale is taken;
// a form with a problem comes back with the input and the problem beside
// its field; the only admin cannot disable or demote themselves.
#[test]
fn admin_forms_keep_what_was_typed_and_never_drop_a_term() {
    let (server, _) = dashboard();
    let Some(browser) = common::webdriver::Browser::start() else {
        return;
    };
    let url = server.url();
    let store = server.store();
    browser.sign_in(&url, "root");
    let field = |id: &str, text: &str| {
        let element = browser.find(id);
        browser.clear(&element);
        browser.type_into(&element, text);
    };
    let save = || browser.click(&browser.find("form.contract button[type=submit]"));
    let notice = || {
        browser
            .run("return (document.querySelector('[role=status]') || {}).innerText || '';")
            .as_str()
            .unwrap()
            .to_owned()
    };

    // A limit where there was none waits for next Monday (W3) ...
    browser.go(&format!("{url}/admin/contracts/ann-open"));
    field("#f-weekly_limit", "40");
    save();
    browser.wait_until("saved", "return location.pathname === '/admin/contracts';");
    assert_eq!(
        notice(),
        "Saved “Contract ann-open”: the weekly limit (none, 40 h from Mon 30 Nov 2026)."
    );
    let pending = |s: &timecard_server::rules::StoredContract| {
        s.contract.pending_limit.as_ref().map(|p| p.limit_secs)
    };
    assert_eq!(
        pending(&store.contract("ann-open").unwrap().unwrap()),
        Some(Some(40 * 3600))
    );
    // ... and the form shows it, so saving only the rate keeps it.
    browser.go(&format!("{url}/admin/contracts/ann-open"));
    let shown = browser.run("return document.querySelector('#f-weekly_limit').value;");
    assert_eq!(shown, "40", "the limit to come is in the field");
    field("#f-rate", "45,50");
    field("#f-currency", "eur");
    save();
    browser.wait_until("saved", "return location.pathname === '/admin/contracts';");
    assert_eq!(
        notice(),
        "Saved “Contract ann-open”: the rate (45.50 EUR / h)."
    );
    let stored = store.contract("ann-open").unwrap().unwrap();
    assert_eq!(
        pending(&stored),
        Some(Some(40 * 3600)),
        "the limit survived"
    );
    assert_eq!(stored.terms.rate.as_ref().map(|r| r.cents), Some(4550));

    // A new contract with every term, typed wrong first: nothing is lost.
    browser.go(&format!("{url}/admin/contracts"));
    browser.click(&browser.find("a[href='/admin/contracts/new']"));
    browser.wait_until(
        "the new form",
        "return location.pathname === '/admin/contracts/new';",
    );
    field("#f-title", "Mobile app");
    field("#f-client", "Globex");
    browser.run("document.querySelector('#f-freelancer').value = 'ann';");
    browser.run("document.querySelector('#f-client_user').value = 'dora';");
    field("#f-rate", "45.5x");
    field("#f-weekly_limit", "200");
    save();
    browser.wait_until(
        "the form back with its problems",
        "return document.querySelector('.field-problem') !== null;",
    );
    let value = |id: &str| {
        browser
            .run(&format!("return document.querySelector('{id}').value;"))
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(value("#f-title"), "Mobile app");
    assert_eq!(value("#f-client"), "Globex");
    assert_eq!(value("#f-freelancer"), "ann");
    assert_eq!(value("#f-client_user"), "dora");
    assert_eq!(value("#f-rate"), "45.5x");
    let problem = |field: &str| {
        browser
            .run(&format!(
                "const p = document.querySelector('#f-{field}-problem'); return p && p.innerText;"
            ))
            .as_str()
            .map(str::to_owned)
    };
    assert!(problem("rate").unwrap().contains("is not an amount"));
    assert!(
        problem("weekly_limit")
            .unwrap()
            .contains("at most 168 hours")
    );
    assert_eq!(
        browser.run("return document.querySelector('#f-rate').getAttribute('aria-describedby');"),
        "f-rate-problem"
    );
    assert_eq!(store.contracts(None).unwrap().len(), 3, "nothing was added");
    field("#f-rate", "45,50");
    field("#f-weekly_limit", "20");
    save();
    browser.wait_until("added", "return location.pathname === '/admin/contracts';");
    assert_eq!(notice(), "Added “Mobile app” for Globex.");
    let added = store
        .contracts(None)
        .unwrap()
        .into_iter()
        .find(|c| c.contract.title == "Mobile app")
        .unwrap();
    assert!(
        added.contract.id.starts_with("mobile-app-"),
        "{}",
        added.contract.id
    );
    assert_eq!(
        added.contract.weekly_limit_secs,
        Some(20 * 3600),
        "in force at once"
    );
    assert_eq!(added.terms.rate.map(|r| r.cents), Some(4550));
    browser.screenshot(&web_screens().join("admin-contract-added.png"));

    // The only admin can neither disable nor demote themselves.
    browser.go(&format!("{url}/admin/users"));
    browser.click(&browser.find("tr#u-root button[value=disable]"));
    browser.wait_until(
        "asked",
        "return document.querySelector('.confirm') !== null;",
    );
    browser.click(&browser.find(".confirm button.danger"));
    browser.wait_until(
        "refused",
        "return document.querySelector('[role=alert]') !== null;",
    );
    assert!(
        browser
            .text()
            .contains("The only active admin (root) cannot be disabled"),
        "{}",
        browser.text()
    );
    browser.run("document.querySelector('#role-root').value = 'client';");
    browser.click(&browser.find("tr#u-root button[value=role]"));
    browser.wait_until(
        "refused",
        "return document.querySelector('[role=alert]') !== null;",
    );
    assert!(browser.text().contains("cannot be made a client"));
    let root = store.find_user("root").unwrap().unwrap();
    assert!(!root.disabled && root.role == Role::Admin);
}
