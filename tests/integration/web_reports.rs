//! R12: the reports page and the header's places, over real TLS and in
//! headless Chromium: a report over any days is the sum of the contracts'
//! timesheets over those days, and every page is reached by its links.

use crate::common;
use crate::web::{Browser, dashboard};

use std::collections::BTreeMap;

use chrono::Duration;
use common::at;
use common::server::{PASSWORD, TestServer};

/// Billable minutes by the CSV column `column` (the contract's title or
/// the segment's), summed per `key` column.
fn sum_by(csv: &str, key: &str, value: &str) -> BTreeMap<String, f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let k = header.iter().position(|h| *h == key).unwrap();
    let v = header.iter().position(|h| *h == value).unwrap();
    let mut sums = BTreeMap::new();
    for line in lines {
        let cells = cells(line);
        *sums.entry(cells[k].clone()).or_insert(0.0) += cells[v].parse::<f64>().unwrap();
    }
    sums
}

/// The cells of a CSV line whose text cells are quoted.
fn cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells
}

/// ann's time on two contracts over three days, some of it by hand.
fn busy_week() -> TestServer {
    let (server, _) = dashboard();
    let ann = server.client("ann");
    let mut bodies = Vec::new();
    for (contract, start, hours) in [
        ("ann-hourly", "2026-11-23T08:00:00Z", 3),
        ("ann-hourly", "2026-11-24T08:00:00Z", 2),
        ("ann-open", "2026-11-24T13:00:00Z", 1),
        ("ann-open", "2026-11-25T08:00:00Z", 1),
    ] {
        let start = at(start);
        for n in 0..hours * 6 {
            let segment = common::segment_at(contract, "laptop", start + Duration::minutes(10 * n));
            bodies.push(timecard_core::codec::encode_body(&segment).unwrap());
        }
    }
    ann.upload(bodies).unwrap();
    server
}

#[test]
fn the_report_for_a_range_is_the_sum_of_the_timesheets() {
    let server = busy_week();
    let mut root = Browser::new(&server);
    root.sign_in("root");
    for (from, to) in [("2026-11-23", "2026-11-29"), ("2026-11-24", "2026-11-25")] {
        let report = root.get(&format!("/reports.csv?from={from}&to={to}"));
        assert_eq!(report.status, 200, "{}", report.body);
        let by_contract = sum_by(&report.body, "contract", "billable_minutes");
        let mut sheets = BTreeMap::new();
        for id in ["ann-hourly", "ann-open", "bob-hourly"] {
            let sheet = root.get(&format!(
                "/contracts/{id}/timesheet.csv?from={from}&to={to}"
            ));
            assert_eq!(sheet.status, 200);
            let minutes: f64 = sum_by(&sheet.body, "kind", "billable_minutes")
                .values()
                .sum();
            if minutes > 0.0 {
                sheets.insert(format!("Contract {id}"), minutes);
            }
        }
        assert_eq!(by_contract, sheets, "{from}..{to}");
        // The page says the same total.
        let page = root.get(&format!("/reports?from={from}&to={to}"));
        let total: f64 = sheets.values().sum();
        let hms = {
            let secs = (total * 60.0).round() as i64;
            format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
        };
        assert!(
            page.body
                .contains(&format!("<strong>{hms}</strong> billable")),
            "{from}..{to}: {hms} in {}",
            page.body
        );
    }
    // Over the whole week: ann's 5 h 10 min (the fixture's 10 min) and 2 h.
    let week = root.get("/reports.csv?from=2026-11-23&to=2026-11-29");
    let by_contract = sum_by(&week.body, "contract", "billable_minutes");
    assert_eq!(by_contract["Contract ann-hourly"], 310.0);
    assert_eq!(by_contract["Contract ann-open"], 120.0);

    // A client sees only the contracts they are the client of.
    let mut carl = Browser::new(&server);
    carl.sign_in("carl");
    let theirs = carl.get("/reports.csv?from=2026-11-23&to=2026-11-29");
    let by_contract = sum_by(&theirs.body, "contract", "billable_minutes");
    assert_eq!(
        by_contract.keys().collect::<Vec<_>>(),
        ["Contract ann-hourly"]
    );
    // Words for what cannot be a range.
    for bad in [
        "from=2026-11-29&to=2026-11-23",
        "from=2024-01-01&to=2026-11-23",
        "from=%2B262142-12-31&to=2026-11-23",
        "range=forever",
    ] {
        let page = carl.get(&format!("/reports?{bad}"));
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.body.contains("<p>"), "{bad}: a page in words");
    }
}

// R12, B1: the report sums the days from the store and reads only the
// disputed segments; rejected time leaves it as it leaves the timesheets,
// and time still disputed stays billed in both.
#[test]
fn rejected_time_leaves_the_report_as_it_leaves_the_timesheets() {
    use timecard_server::rules::{ReviewAction, ReviewRequest, ReviewTarget};
    let server = busy_week();
    let store = server.store();
    let user = |login: &str| store.find_user(login).unwrap().unwrap().id;
    let (ann, carl) = (user("ann"), user("carl"));
    let segments = store
        .contract_segments(
            "ann-hourly",
            at("2026-11-23T00:00:00Z"),
            at("2026-11-25T00:00:00Z"),
        )
        .unwrap();
    let (rejected, disputed) = (segments[1].id, segments[7].id);
    // The week of 23 Nov is in review from 30 Nov.
    let after = at("2026-11-30T09:00:00Z");
    for (by, segment, action, hours) in [
        (carl, rejected, ReviewAction::Dispute, 0),
        (carl, disputed, ReviewAction::Dispute, 0),
        (ann, rejected, ReviewAction::Answer, 1),
        (carl, rejected, ReviewAction::Reject, 2),
    ] {
        let request = ReviewRequest {
            contract_id: "ann-hourly".into(),
            by_user_id: by,
            by_admin: false,
            target: ReviewTarget::Segment(segment),
            action,
            note: "Which task was this?".into(),
        };
        store
            .review(&request, after + Duration::hours(hours), 5 * 86_400)
            .unwrap()
            .expect("a step the rules allow");
    }
    let mut carl = Browser::new(&server);
    carl.sign_in("carl");
    for (from, to) in [("2026-11-23", "2026-11-29"), ("2026-11-23", "2026-11-23")] {
        let report = carl.get(&format!("/reports.csv?from={from}&to={to}"));
        let sheet = carl.get(&format!(
            "/contracts/ann-hourly/timesheet.csv?from={from}&to={to}"
        ));
        let report_of =
            |column: &str| sum_by(&report.body, "contract", column)["Contract ann-hourly"];
        let billable: f64 = sum_by(&sheet.body, "kind", "billable_minutes")
            .values()
            .sum();
        let rejected = sum_by(&sheet.body, "review", "minutes")
            .get("rejected")
            .copied()
            .unwrap_or(0.0);
        assert_eq!(report_of("billable_minutes"), billable, "{from}..{to}");
        assert_eq!(report_of("rejected_minutes"), rejected, "{from}..{to}");
    }
    let week = carl.get("/reports.csv?from=2026-11-23&to=2026-11-29");
    assert_eq!(
        sum_by(&week.body, "contract", "billable_minutes")["Contract ann-hourly"],
        300.0
    );
    assert_eq!(
        sum_by(&week.body, "contract", "rejected_minutes")["Contract ann-hourly"],
        10.0
    );
}

// Every page is reached from the header and the pages' own links, without
// typing an address: contracts → diary → timesheet → statement → reports
// → admin, and back.
#[test]
fn every_page_is_reached_by_its_links_in_a_real_browser() {
    let server = busy_week();
    let Some(browser) = common::webdriver::Browser::start() else {
        return;
    };
    let url = server.url();
    browser.sign_in(&url, "root");
    // Clicks `css` and waits for the new page (a page left behind keeps
    // the mark), under `path`; the header's current place.
    let follow = |css: &str, path: &str| {
        browser.run("window.leaving = true;");
        browser.click(&browser.find(css));
        browser.wait_until(
            path,
            &format!(
                "return window.leaving === undefined && document.readyState === 'complete' \
                 && location.pathname.startsWith('{path}');"
            ),
        );
        browser.run(
            "const a = document.querySelector('header [aria-current=page]'); return a && a.innerText;",
        )
    };
    assert_eq!(follow("header a[href='/reports']", "/reports"), "Reports");
    assert!(browser.text().contains("By contract"));
    assert_eq!(
        follow(
            "a[href^='/contracts/ann-hourly/timesheet']",
            "/contracts/ann-hourly/timesheet"
        ),
        "Contracts"
    );
    follow("header a[href='/admin']", "/admin/users");
    follow("nav.sub a[href='/admin/contracts']", "/admin/contracts");
    assert_eq!(
        follow("header a[href='/contracts']", "/contracts"),
        "Contracts"
    );
    follow("header a[href='/week']", "/reports");
    assert_eq!(
        browser.run("return document.querySelector('nav.sub [aria-current=page]').innerText;"),
        "This week"
    );
    // Down a contract and back up: diary, viewer, day, week, statement.
    follow("header a[href='/contracts']", "/contracts");
    follow(
        "a[href='/contracts/ann-hourly/diary']",
        "/contracts/ann-hourly/diary",
    );
    follow("nav.days a[rel=prev]", "/contracts/ann-hourly/diary");
    follow("a.shot", "/contracts/ann-hourly/segments/");
    follow("nav.pager a[rel=next]", "/contracts/ann-hourly/segments/");
    follow("nav.pager a[rel=up]", "/contracts/ann-hourly/diary");
    follow(
        "nav.crumbs a[href*='/timesheet']",
        "/contracts/ann-hourly/timesheet",
    );
    follow("nav.days a[rel=prev]", "/contracts/ann-hourly/timesheet");
    follow("nav.days a[rel=next]", "/contracts/ann-hourly/timesheet");
    follow("a[href*='/statement']", "/contracts/ann-hourly/statement");
    follow("header a[href='/reports']", "/reports");
    follow("nav.pager a[rel=prev]", "/reports");
    assert!(browser.text().contains("No time in these days."));
    follow("nav.pager a[rel=next]", "/reports");
    follow(
        "a[href^='/contracts/ann-open/timesheet']",
        "/contracts/ann-open/timesheet",
    );
    follow("nav.crumbs a[href='/contracts']", "/contracts");
}

// At 390 px (a phone) no page scrolls sideways, and every value of every
// table is shown with its column's name: the rendered text of each row
// reads "Tracked: 0:10:00", not a bare "0:10:00".
#[test]
fn on_a_phone_no_page_scrolls_sideways_and_every_value_keeps_its_label() {
    let server = busy_week();
    let Some(browser) = common::webdriver::Browser::start() else {
        return;
    };
    browser.resize(390, 844);
    let url = server.url();
    browser.go(&format!("{url}/login"));
    let width = || browser.run("return [document.documentElement.scrollWidth, window.innerWidth];");
    let check = |page: &str| {
        let [scroll, inner] = [0, 1].map(|i| width()[i].as_i64().unwrap());
        assert!(
            scroll <= inner,
            "{page} scrolls sideways: {scroll} > {inner}"
        );
        // Each value cell, as drawn: its label comes first.
        let bare = browser.run(
            "const bare = []; \
             for (const cell of document.querySelectorAll('table tbody td, table tfoot td, table tbody th, table tfoot th')) { \
               if (cell.offsetParent === null || cell.innerText.trim() === '') continue; \
               const before = getComputedStyle(cell, '::before').content; \
               const label = cell.getAttribute('data-label'); \
               if (!label || !before.includes(label)) bare.push(cell.innerText.trim()); \
             } \
             return bare;",
        );
        assert_eq!(bare, serde_json::json!([]), "{page}: values without labels");
    };
    check("/login");
    browser.type_into(&browser.find("#login"), "root");
    browser.type_into(&browser.find("#password"), PASSWORD);
    browser.click(&browser.find("form.signin button[type=submit]"));
    browser.wait_until("signed in", "return location.pathname === '/contracts';");
    for page in [
        "/contracts",
        "/contracts/ann-hourly/diary?date=2026-11-24&tz=UTC",
        "/contracts/ann-hourly/timesheet?week=2026-11-23",
        "/contracts/ann-hourly/statement?week=2026-11-23",
        "/reports?from=2026-11-23&to=2026-11-29",
        "/admin/users",
        "/admin/contracts",
        "/admin/contracts/new",
        "/admin/contracts/ann-open",
        "/admin/reports",
    ] {
        browser.go(&format!("{url}{page}"));
        browser.wait_until(page, "return document.readyState === 'complete';");
        check(page);
        let name = page
            .trim_start_matches('/')
            .replace(['/', '?', '&', '='], "-");
        browser.screenshot(&screens().join(format!("phone-{name}.png")));
    }
    // The viewer too, from the diary's first picture.
    browser.go(&format!(
        "{url}/contracts/ann-hourly/diary?date=2026-11-24&tz=UTC"
    ));
    browser.click(&browser.find("a.shot"));
    browser.wait_until(
        "the viewer",
        "return document.querySelector('figure.viewer') !== null;",
    );
    check("the viewer");
}

fn screens() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-screens")
}
