//! R7, R13: the review as a team meets it: `serve --demo` shows a week in
//! review with disputes waiting whatever the weekday, and a client who
//! uses only the keyboard disputes a segment and lands back on it.

use crate::common;
use crate::web::{Browser, dashboard};

use common::at;
use common::faketime::{self, clock_at};
use common::webdriver::keys;

// A first look on any day of the week finds last week in review with a
// dispute for each side: one waiting for the freelancer's answer, one for
// the client's decision. Before: on a weekend last week was already
// "Approved automatically" and no dispute was ever seen.
#[test]
fn serve_demo_shows_a_dispute_waiting_whatever_the_weekday() {
    if !faketime::present() {
        return;
    }
    // Monday morning, Wednesday, Saturday evening and the last minutes of
    // Sunday (days in the past: the server's certificate starts then).
    for day in [
        "2026-11-23T06:00:00Z",
        "2026-11-25T14:00:00Z",
        "2026-11-28T18:00:00Z",
        "2026-11-29T23:50:00Z",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("server");
        let mut env = common::store::server_env(&data);
        env.extend(clock_at(at(day)));
        let mut serving = common::serving::Serving::start_with_env(
            &data,
            &["--listen", "127.0.0.1:0", "--demo"],
            env,
        );
        let mut passwords = std::collections::HashMap::new();
        for login in ["client", "freelancer"] {
            let line = serving.wait_line("a password", |l| {
                l.trim_start().starts_with(&format!("{login} "))
            });
            passwords.insert(login, line.split_whitespace().nth(1).unwrap().to_owned());
        }
        let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
        for (login, words) in [
            ("freelancer", "1 dispute needs your answer"),
            ("client", "1 dispute needs your decision"),
        ] {
            let mut browser = Browser::at(&serving.url, &cert);
            assert_eq!(browser.sign_in_with(login, &passwords[login]).status, 303);
            let page = browser.get("/contracts");
            assert!(page.body.contains(words), "{day} {login}: {}", page.body);
            // The link leads to the timesheet, which lists it with its day.
            let start = page.body.find("#disputes").unwrap();
            let href = &page.body[page.body[..start].rfind("href=\"").unwrap() + 6..start];
            let sheet = browser.get(&href.replace("&amp;", "&"));
            assert!(sheet.body.contains(words), "{day} {login}: {}", sheet.body);
            assert!(
                sheet.body.contains("this week until"),
                "{day} {login}: the window's end in words: {}",
                sheet.body
            );
        }
    }
}

// Keyboard only: the client tabs to a segment's reason, types it, presses
// Enter, and is back at that segment with a status message; the next Tab
// stays in that segment.
#[test]
fn a_dispute_by_keyboard_lands_back_on_its_segment() {
    let (server, id) = dashboard();
    server.clock.set(at("2026-11-30T10:00:00Z"));
    let Some(browser) = common::webdriver::Browser::start() else {
        return;
    };
    let url = server.url();
    browser.sign_in(&url, "carl");
    browser.go(&format!(
        "{url}/contracts/ann-hourly/diary?date=2026-11-25&tz=UTC"
    ));
    let focused = || {
        browser
            .run("const e = document.activeElement; return e ? (e.id || e.tagName) : '';")
            .as_str()
            .unwrap()
            .to_owned()
    };
    let reason = format!("reason-{id}");
    let mut tabs = 0;
    while focused() != reason {
        browser.press(keys::TAB);
        tabs += 1;
        assert!(tabs < 40, "the reason field is never reached by Tab");
    }
    let label = browser.run(&format!(
        "return document.querySelector('label[for=\"{reason}\"]').textContent;"
    ));
    assert_eq!(
        label, "Reason for disputing 14:00–14:10",
        "named for its segment"
    );
    for key in "Looks like a meeting".chars() {
        browser.press(&key.to_string());
    }
    browser.press(keys::ENTER);
    browser.wait_until(
        "back at the segment",
        &format!("return location.hash === '#segment-{id}' && document.readyState === 'complete';"),
    );
    let status = browser.run(&format!(
        "const s = document.querySelector('#segment-{id} [role=status]'); return s && s.textContent;"
    ));
    assert_eq!(status, "Disputed. The freelancer is asked to answer.");
    let seen = browser.run(&format!(
        "const r = document.querySelector('#segment-{id}').getBoundingClientRect(); \
         return r.top >= 0 && r.top < window.innerHeight;"
    ));
    assert_eq!(seen, true, "the segment is on screen");
    browser.press(keys::TAB);
    let inside = browser.run(&format!(
        "return document.querySelector('#segment-{id}').contains(document.activeElement);"
    ));
    assert_eq!(
        inside, true,
        "Tab goes on from the segment, not from the top"
    );
}

// T1 on the web: a browser in Berlin sees the diary in Berlin's time
// without typing a zone, and after the first page the server draws every
// diary and timesheet in it from the first byte (the script's cookie).
#[test]
fn pages_are_drawn_in_the_browsers_zone() {
    let (server, _) = dashboard();
    let Some(browser) = common::webdriver::Browser::start_in_zone(Some("Europe/Berlin")) else {
        return;
    };
    let url = server.url();
    browser.sign_in(&url, "carl");
    browser.go(&format!("{url}/contracts/ann-hourly/diary?date=2026-11-25"));
    browser.wait_until(
        "the diary in Berlin's time",
        "return document.querySelector('[data-zone]') !== null \
         && document.querySelector('[data-zone]').dataset.zone === 'Europe/Berlin';",
    );
    assert!(
        browser.text().contains("15:00"),
        "14:00 UTC is 15:00 in Berlin"
    );
    for page in [
        "/contracts/ann-hourly/timesheet?week=2026-11-23",
        "/contracts/ann-hourly/diary?date=2026-11-25",
    ] {
        let html = browser.run(&format!("return fetch('{page}').then(r => r.text());"));
        assert!(
            html.as_str()
                .unwrap()
                .contains(r#"data-zone="Europe/Berlin""#),
            "{page} is drawn in the browser's zone at once"
        );
    }
}

// R13: the viewer by keyboard alone: → the next picture, ← back, Esc to
// the day at that segment.
#[test]
fn the_viewer_follows_the_arrow_keys_and_escape() {
    let (server, _) = dashboard();
    let ann = server.client("ann");
    let start = at("2026-11-24T09:00:00Z");
    let bodies = (0..3)
        .map(|n| {
            let segment = common::segment_at(
                "ann-hourly",
                "laptop",
                start + chrono::Duration::minutes(10 * n),
            );
            timecard_core::codec::encode_body(&segment).unwrap()
        })
        .collect();
    ann.upload(bodies).unwrap();
    let Some(browser) = common::webdriver::Browser::start() else {
        return;
    };
    let url = server.url();
    browser.sign_in(&url, "carl");
    browser.go(&format!(
        "{url}/contracts/ann-hourly/diary?date=2026-11-24&tz=UTC"
    ));
    browser.click(&browser.find("a.shot"));
    let on = |what: &str, time: &str| {
        browser.wait_until(
            what,
            &format!("return document.querySelector('h1').textContent === 'Screenshot {time}';"),
        );
    };
    on("the first picture", "09:00–09:10");
    assert!(browser.text().contains("1 of 3 pictures this day"));
    browser.press(keys::RIGHT);
    on("the next picture", "09:10–09:20");
    browser.press(keys::RIGHT);
    on("the last picture", "09:20–09:30");
    browser.press(keys::RIGHT);
    browser.press(keys::LEFT);
    on("the one before", "09:10–09:20");
    let segment = browser.run("return location.pathname.split('/')[4];");
    browser.press(keys::ESCAPE);
    browser.wait_until(
        "back at that segment of the day",
        &format!(
            "return location.pathname.endsWith('/diary') && location.hash === '#segment-{}';",
            segment.as_str().unwrap()
        ),
    );
}
