//! Mail through a real SMTP server on loopback (aiosmtpd, M1–M5): an
//! invitation followed from the delivered mail to a password and a
//! sign-in with the e-mail address; a password reset end to end; and
//! notices that survive `kill -9` between being queued and being sent,
//! delivered exactly once.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::cli::{text, timecard_server};
use crate::common::serving::Serving;
use crate::common::smtp::{self, Mail, Smtpd};
use crate::web::Browser;

const FROM: &str = "Timecard <timecard@example.com>";
/// The reason of the dispute the test opens.
const REASON: &str = "Was this the client call?";

/// `serve` on `data` with mail through 127.0.0.1:`port` and `extra` args.
fn serve(data: &Path, port: u16, extra: &[&str]) -> Serving {
    let smtp = format!("smtp://127.0.0.1:{port}");
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--smtp",
        &smtp,
        "--mail-from",
        FROM,
    ];
    args.extend_from_slice(extra);
    Serving::start(data, &args)
}

fn browser(serving: &Serving, data: &Path) -> Browser {
    Browser::at(
        &serving.url,
        &std::fs::read(data.join("tls/cert.pem")).unwrap(),
    )
}

fn cli(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = timecard_server(data, args, stdin);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    text(&out)
}

/// The outbox as `mail list --json` shows it.
fn outbox(data: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&cli(data, &["mail", "list", "--json"], None)).unwrap()
}

fn count(mails: &[Mail], to: &str, subject: &str) -> usize {
    mails
        .iter()
        .filter(|m| m.to.contains(to) && m.subject.contains(subject))
        .count()
}

/// Sets a password through the one-time link at `path`.
fn choose_password(b: &mut Browser, path: &str, password: &str) -> crate::web::Page {
    let form = b.get(path);
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = Browser::csrf(&form);
    b.post(
        path,
        &[("csrf", &csrf), ("password", password), ("again", password)],
    )
}

// M3, M4: an invitation and a password reset, each from the mail that
// arrived.
#[test]
fn an_invitation_and_a_password_reset_arrive_by_mail_and_work() {
    if !smtp::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let smtpd = Smtpd::start(dir.path(), smtp::free_port());
    cli(
        &data,
        &["user", "add", "root", "--role", "admin", "--password-stdin"],
        Some("root password\n"),
    );
    let serving = serve(&data, smtpd.port, &[]);

    let mut root = browser(&serving, &data);
    assert_eq!(root.sign_in_with("root", "root password").status, 303);
    // The users page has the form too.
    let users = root.get("/admin/users");
    assert!(
        users.body.contains("action=\"/admin/invite\""),
        "{}",
        users.body
    );
    let form = root.get("/admin/invite");
    let csrf = Browser::csrf(&form);
    let done = root.post(
        "/admin/invite",
        &[
            ("csrf", &csrf),
            ("email", "ivy@example.com"),
            ("role", "client"),
            ("contracts", ""),
        ],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("on its way"), "{}", done.body);
    assert!(
        !done.body.contains("/invite/"),
        "a mailed link is not shown"
    );

    let mails = smtpd.wait_for(60, "invitation", |m| {
        count(m, "ivy@example.com", "invited") == 1
    });
    let invitation = mails
        .iter()
        .find(|m| m.subject.contains("invited"))
        .unwrap();
    let link = invitation.link_path("invite");
    let mut ivy = browser(&serving, &data);
    let set = choose_password(&mut ivy, &link, "ivy's first password");
    assert!(set.body.contains("Your password is set"), "{}", set.body);
    // The link works once.
    assert_eq!(ivy.get(&link).status, 404);
    // The address is the login.
    assert_eq!(
        ivy.sign_in_with("ivy@example.com", "ivy's first password")
            .status,
        303
    );
    assert_eq!(ivy.get("/settings/email").status, 200);

    // M4: the same words for an account and for nobody.
    let mut anyone = browser(&serving, &data);
    let ask = |b: &mut Browser, who: &str| {
        let form = b.get("/forgot");
        let csrf = Browser::csrf(&form);
        b.post("/forgot", &[("csrf", &csrf), ("login", who)])
    };
    let known = ask(&mut anyone, "ivy@example.com");
    let unknown = ask(&mut anyone, "nobody@example.com");
    assert_eq!((known.status, unknown.status), (200, 200));
    let words = timecard_server::http::web::invite::FORGOT_ANSWER;
    assert!(known.body.contains(words) && unknown.body.contains(words));

    let mails = smtpd.wait_for(60, "reset mail", |m| {
        count(m, "ivy@example.com", "new Timecard password") == 1
    });
    let reset = mails
        .iter()
        .find(|m| m.subject.contains("new Timecard password"))
        .unwrap();
    let link = reset.link_path("reset");
    let set = choose_password(&mut anyone, &link, "ivy's second password");
    assert!(set.body.contains("Your password is set"), "{}", set.body);
    // Every session ended; the old password no longer works, the new one does.
    assert_eq!(ivy.get("/contracts").status, 303);
    assert_eq!(
        ivy.sign_in_with("ivy@example.com", "ivy's first password")
            .status,
        401
    );
    assert_eq!(
        ivy.sign_in_with("ivy@example.com", "ivy's second password")
            .status,
        303
    );
    assert_eq!(anyone.get(&link).status, 404, "used once");
    // Nobody's address got mail.
    assert_eq!(count(&smtpd.mails(), "nobody@example.com", ""), 0);
}

// M2, M5: a dispute and a week ready for review are queued while the SMTP
// server is down; the server is killed (-9) before it could send them; the
// SMTP server comes up and the server starts again: each arrives once, and
// a second kill and start sends neither again.
#[test]
fn notices_queued_before_a_kill_arrive_exactly_once() {
    if !smtp::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let port = smtp::free_port();
    let args = ["--demo", "--review-days", "10"];
    let mut serving = serve(&data, port, &args);
    let line = serving.wait_line("the client's password", |l| {
        l.trim_start().starts_with("client ")
    });
    let password = line.split_whitespace().nth(1).unwrap().to_owned();
    cli(
        &data,
        &["user", "set-email", "client", "carla@example.com"],
        None,
    );
    // The other by an admin's page.
    let admin_password = serving
        .wait_line("the admin's password", |l| {
            l.trim_start().starts_with("admin ")
        })
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    let mut admin = browser(&serving, &data);
    assert_eq!(admin.sign_in_with("admin", &admin_password).status, 303);
    let page = admin.get("/admin/invite");
    let csrf = Browser::csrf(&page);
    let set = admin.post(
        "/admin/email",
        &[
            ("csrf", &csrf),
            ("login", "freelancer"),
            ("email", "fred@example.com"),
        ],
    );
    assert_eq!(set.status, 303, "{}", set.body);

    // The client disputes a segment of last week.
    let mut carla = browser(&serving, &data);
    assert_eq!(carla.sign_in_with("client", &password).status, 303);
    let monday = (chrono::Utc::now() - chrono::Duration::days(7))
        .date_naive()
        .week(chrono::Weekday::Mon)
        .first_day();
    let diary_path = format!("/contracts/demo-web/diary?date={monday}&tz=UTC");
    let diary = carla.get(&diary_path);
    let at = diary.body.find("/dispute\"").expect("a dispute form");
    let start = diary.body[..at].rfind("action=\"").unwrap() + 8;
    let action = diary.body[start..at + 8].to_owned();
    let csrf = Browser::csrf(&diary);
    let date = monday.to_string();
    let disputed = carla.post(
        &action,
        &[
            ("csrf", &csrf),
            ("note", REASON),
            ("date", &date),
            ("tz", "UTC"),
        ],
    );
    assert_eq!(disputed.status, 303, "{}", disputed.body);

    // Both are queued, and tried against a port where nothing listens.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mails = outbox(&data);
        let tried = |prefix: &str, says: &str| {
            mails.iter().any(|m| {
                m["dedupe_key"].as_str().unwrap().starts_with(prefix)
                    && m["body"].as_str().unwrap().contains(says)
                    && m["sent_at"].is_null()
                    && m["attempts"].as_u64().unwrap() >= 1
            })
        };
        if tried("dispute:", REASON) && tried("week-ready:", "") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not queued and tried: {mails:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    serving.child.kill().unwrap(); // SIGKILL
    serving.child.wait().unwrap();
    drop(serving);

    let smtpd = Smtpd::start(dir.path(), port);
    let serving = serve(&data, port, &args);
    let mails = smtpd.wait_for(90, "the dispute, the week's mail and the summary", |m| {
        m.iter().any(|m| m.body.contains(REASON))
            && count(m, "carla@example.com", "ready for review") >= 1
            && count(m, "carla@example.com", "Timecard: the week of") >= 1
    });
    let dispute = mails.iter().find(|m| m.body.contains(REASON)).unwrap();
    assert!(
        dispute.to.contains("fred@example.com") && dispute.subject.contains("Time disputed"),
        "{dispute:?}"
    );
    // The link of the server that queued it (each start here takes a new
    // port; a real server keeps its --listen or --public-url).
    assert!(
        dispute.body.contains("https://127.0.0.1:")
            && dispute.body.contains("/contracts/demo-web/diary?date="),
        "{}",
        dispute.body
    );

    // Killed and started again: a mail queued afterwards (by the command
    // line) goes out, and nothing of before goes again.
    drop(serving);
    let serving = serve(&data, port, &args);
    cli(
        &data,
        &["user", "invite", "sentinel@example.com", "--role", "client"],
        None,
    );
    let mails = smtpd.wait_for(60, "the later mail", |m| {
        count(m, "sentinel@example.com", "invited") == 1
    });
    // Every mail once (the demo's own disputes included).
    let mut seen = std::collections::HashSet::new();
    for m in &mails {
        assert!(
            seen.insert((&m.to, &m.subject, &m.body)),
            "delivered twice: {m:?}"
        );
    }
    assert_eq!(mails.iter().filter(|m| m.body.contains(REASON)).count(), 1);
    assert_eq!(count(&mails, "carla@example.com", "ready for review"), 1);
    // M5: last week's summary, once, with the week's billable hours and
    // amount at the demo's rate.
    assert_eq!(
        count(&mails, "carla@example.com", "Timecard: the week of"),
        1
    );
    let summary = mails
        .iter()
        .find(|m| m.subject.contains("Timecard: the week of"))
        .unwrap();
    assert!(
        summary.body.contains("Web shop rebuild: 25 h, 1250.00 USD"),
        "{}",
        summary.body
    );
    drop(serving);
}

// M3: without --smtp the link is handed over: on its last line by the
// command line.
#[test]
fn without_smtp_an_invitation_link_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let out = cli(
        &data,
        &[
            "user",
            "invite",
            "nia@example.com",
            "--role",
            "freelancer",
            "--public-url",
            "https://timecard.example.com/",
        ],
        None,
    );
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("https://timecard.example.com/invite/") && last.len() == 36 + 64,
        "{out}"
    );
    assert!(outbox(&data).is_empty(), "nothing queued without mail");
}
