//! Personal API tokens (I1) through the real server over TLS: made on
//! the web page and with `timecard-server token create`, used by a program
//! with `Authorization: Bearer`; a `read` token reads the diary and is
//! refused every change (403), a revoked one is refused at once, and the
//! database keeps no token.

use std::time::Duration as StdDuration;

use crate::common;
use crate::common::cli::{text, timecard_server};
use crate::common::server::TestServer;
use crate::web::Browser;

/// A program's HTTP client, pinned to the server's certificate.
struct Program {
    agent: ureq::Agent,
    base: String,
}

impl Program {
    fn new(server: &TestServer) -> Program {
        let roots = common::pinned_roots(&server.server.cert_pem);
        Program {
            agent: ureq::Agent::config_builder()
                .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
                .http_status_as_error(false)
                .timeout_global(Some(StdDuration::from_secs(30)))
                .build()
                .into(),
            base: server.url(),
        }
    }

    /// Status and body of `METHOD path` with `token`.
    fn call(&self, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let response = match method {
            "GET" => self.agent.get(&url).header("Authorization", &auth).call(),
            "DELETE" => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            _ => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(body),
        }
        .unwrap();
        let status = response.status().as_u16();
        (status, response.into_body().read_to_string().unwrap())
    }
}

/// What a `read` token may not do, each refused with 403 before it
/// happens; and what it may.
fn assert_reads_only(program: &Program, token: &str) {
    let (status, body) = program.call("GET", "/api/v1/diary?date=2026-11-25", token, "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ann-hourly"), "{body}");
    let (status, body) = program.call("GET", "/api/v1/contracts", token, "");
    assert_eq!(status, 200, "{body}");
    for (method, path, body) in [
        ("POST", "/api/v1/segments", "{}"),
        (
            "POST",
            "/api/v1/manual",
            r#"{"contract_id":"ann-hourly","start":"2026-11-25T09:00:00Z","end":"2026-11-25T10:00:00Z","memo":"x"}"#,
        ),
        (
            "DELETE",
            "/api/v1/segments/00000000-0000-4000-8000-000000000000",
            "",
        ),
    ] {
        let (status, answer) = program.call(method, path, token, body);
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert!(answer.contains("read_only_token"), "{answer}");
        assert!(answer.contains("may only read"), "{answer}");
    }
}

#[test]
fn tokens_made_on_the_web_and_the_command_line_read_and_are_revoked() {
    let (server, _) = crate::web::dashboard();
    let program = Program::new(&server);

    // On the web page: ann makes a read token; it is shown once.
    let mut ann = Browser::new(&server);
    assert_eq!(ann.sign_in("ann").status, 303);
    let page = ann.get("/settings/tokens");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("You have no API tokens."),
        "{}",
        page.body
    );
    let csrf = Browser::csrf(&page);
    let made = ann.post(
        "/settings/tokens",
        &[
            ("csrf", &csrf),
            ("name", "Invoicing export"),
            ("scope", "read"),
            ("expires", "30"),
        ],
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let at = made.body.find("id=\"new-token\">").expect("the new token") + 15;
    let token = made.body[at..].split('<').next().unwrap().to_owned();
    assert!(token.starts_with("tcpat_") && token.len() == 70, "{token}");
    assert!(made.body.contains("it is not shown again"));
    assert_eq!(ann.get("/settings/tokens").body.matches(&token).count(), 0);

    assert_reads_only(&program, &token);
    // The use is shown on the list.
    let list = ann.get("/settings/tokens").body;
    assert!(list.contains("Invoicing export"), "{list}");
    assert!(!list.contains("never"), "last used should be shown: {list}");

    // Not readable from the database: only a hash is there.
    let file = server.dir.path().join(timecard_server::launch::DB_FILE);
    let mut db = std::fs::read(&file).unwrap_or_default();
    if !db.is_empty() {
        // What the write-ahead log holds counts too.
        db.extend(std::fs::read(file.with_extension("sqlite-wal")).unwrap_or_default());
        let hex = token.trim_start_matches("tcpat_");
        assert!(!db.windows(hex.len()).any(|w| w == hex.as_bytes()));
        let hash = timecard_server::auth::token_hash(&token);
        assert!(db.windows(hash.len()).any(|w| w == hash.as_bytes()));
    }

    // A bad name is refused in words, and nothing is made.
    let csrf = Browser::csrf(&ann.get("/settings/tokens"));
    let refused = ann.post(
        "/settings/tokens",
        &[("csrf", &csrf), ("name", "  "), ("scope", "read")],
    );
    assert!(
        refused.body.contains("Give the token a name"),
        "{}",
        refused.body
    );

    // Revoked on the page: refused at once.
    let id =
        timecard_server::store::Store::api_tokens(server.store().as_ref(), None).unwrap()[0].id;
    let revoked = ann.post(&format!("/settings/tokens/{id}/revoke"), &[("csrf", &csrf)]);
    assert_eq!(revoked.status, 303);
    let (status, body) = program.call("GET", "/api/v1/contracts", &token, "");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("expired or was revoked"), "{body}");

    // bob cannot revoke ann's token from his page.
    let data = server.dir.path();
    let out = timecard_server(
        data,
        &[
            "token",
            "create",
            "--user",
            "ann",
            "--scope",
            "read-write",
            "--expires",
            "7",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let writer = text(&out).lines().last().unwrap().trim().to_owned();
    assert!(writer.starts_with("tcpat_"), "{}", text(&out));
    let mut bob = Browser::new(&server);
    bob.sign_in("bob");
    let csrf = Browser::csrf(&bob.get("/settings/tokens"));
    let list = timecard_server::store::Store::api_tokens(server.store().as_ref(), None).unwrap();
    let not_bobs = bob.post(
        &format!("/settings/tokens/{}/revoke", list[0].id),
        &[("csrf", &csrf)],
    );
    assert_eq!(not_bobs.status, 404, "{}", not_bobs.body);

    // The read-write token passes the scope check: a change is tried
    // (the segment does not exist: 404, not 403).
    let (status, body) = program.call(
        "DELETE",
        "/api/v1/segments/00000000-0000-4000-8000-000000000000",
        &writer,
        "",
    );
    assert_eq!(status, 404, "{body}");

    // The command line lists and revokes by the token itself.
    let out = timecard_server(data, &["token", "list", "--user", "ann"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("read-write"), "{}", text(&out));
    assert!(!text(&out).contains(&writer));
    let out = timecard_server(data, &["token", "revoke", &writer], None);
    assert!(out.status.success(), "{}", text(&out));
    let (status, _) = program.call("GET", "/api/v1/contracts", &writer, "");
    assert_eq!(status, 401);

    // Hostile arguments get words, not a panic.
    for args in [
        &["token", "create", "--user", "nobody", "--scope", "read"][..],
        &[
            "token",
            "create",
            "--user",
            "ann",
            "--scope",
            "read",
            "--expires",
            "0",
        ],
        &["token", "revoke", "tcpat_not-a-token"],
        &["token", "revoke", "99999"],
    ] {
        let out = timecard_server(data, args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("timecard-server: "), "{}", text(&out));
    }
}
