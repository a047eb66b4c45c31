//! The `timecard-server` binary: admin commands on a data folder, `serve`
//! printing its address, maintenance mode seen by a running server.

use crate::common;

use std::io::{BufRead, BufReader};

use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use common::cli::{text, timecard_server};

struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn admin_commands_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let out = timecard_server(
        data,
        &[
            "user",
            "add",
            "ann",
            "--email",
            "ann@example.com",
            "--password-stdin",
        ],
        Some("long enough password\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = timecard_server(
        data,
        &["user", "add", "ann", "--password-stdin"],
        Some("long enough password\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    let out = timecard_server(
        data,
        &["user", "add", "bob", "--password-stdin"],
        Some("short\n"),
    );
    assert!(
        text(&out).contains("at least 8 characters"),
        "{}",
        text(&out)
    );

    let out = timecard_server(
        data,
        &[
            "contract",
            "add",
            "--user",
            "ann",
            "--title",
            "Backend",
            "--client",
            "Acme",
            "--kind",
            "hourly",
            "--weekly-limit",
            "30",
            "--start",
            "2026-01-05",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(id.starts_with("c-"), "{id}");
    let out = timecard_server(
        data,
        &["contract", "set", &id, "--weekly-limit", "20"],
        None,
    );
    assert!(
        text(&out).contains("limit becomes 20 h on Mon"),
        "W3: {}",
        text(&out)
    );
    let out = timecard_server(data, &["contract", "set", &id, "--status", "paused"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = timecard_server(data, &["contract", "list", "--user", "ann", "--json"], None);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "paused");
    assert_eq!(list[0]["weekly_limit_secs"], 30 * 3600);
    assert_eq!(list[0]["pending_limit"]["limit_secs"], 20 * 3600);
    assert_eq!(list[0]["week_logged_secs"], 0);
    let out = timecard_server(data, &["contract", "list"], None);
    assert!(
        text(&out).contains("0:00:00 of 30 h this week; limit becomes 20 h on Mon"),
        "hours this week and the announced limit: {}",
        text(&out)
    );
    // No rule tags in what people read.
    let help = text(&timecard_server(data, &["contract", "set", "--help"], None));
    assert!(!help.contains("W3"), "{help}");
    assert!(
        help.contains("a lower one from the next billing week"),
        "{help}"
    );

    // Serve on a free port; it prints where.
    let mut child = Command::new(common::server_exe())
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs(common::store::server_env(data))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    output.read_line(&mut first).unwrap();
    // The rest of its output is read (and dropped) until it exits.
    std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
    let serving = Serving(child);
    let url = first
        .trim()
        .strip_prefix("timecard-server listening on ")
        .expect(&first)
        .to_owned();
    assert!(data.join("tls/cert.pem").exists() && data.join("tls/key.pem").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the private key must be owner-only");
    }

    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let client = timecard_client::sync::ApiClient::new(
        timecard_client::sync::ServerAddress::parse(&url).unwrap(),
        Some(&cert),
        Arc::new(timecard_core::clock::SystemClock),
    )
    .unwrap();
    client
        .sign_in("ann@example.com", "long enough password")
        .unwrap();
    assert_eq!(client.contracts("UTC").unwrap().contracts.len(), 1);

    let out = timecard_server(data, &["maintenance", "on", "--retry-after", "7"], None);
    assert!(out.status.success());
    assert!(
        !text(&out).contains("no server is running"),
        "a server runs: {}",
        text(&out)
    );
    let err = client.health().unwrap_err();
    assert_eq!(
        err.retry_after(),
        Some(std::time::Duration::from_secs(7)),
        "{err:?}"
    );
    assert!(err.to_string().contains("maintenance"));
    timecard_server(data, &["maintenance", "off"], None);
    assert_eq!(client.health().unwrap().status, "ok");

    // Issue 11, item 10: users and sessions from the command line.
    let users = text(&timecard_server(data, &["user", "list"], None));
    assert!(
        users.contains("ann") && users.contains("1 session, 1 contract"),
        "{users}"
    );
    let sessions = timecard_server(data, &["session", "list", "--user", "ann", "--json"], None);
    let sessions: serde_json::Value = serde_json::from_slice(&sessions.stdout).unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    assert!(sessions[0]["created_at"].is_string(), "{sessions}");
    // A second serve on the same folder is refused.
    let second = timecard_server(data, &["serve", "--listen", "127.0.0.1:0"], None);
    assert!(!second.status.success());
    assert!(
        text(&second).contains("already serving"),
        "{}",
        text(&second)
    );

    // Disabled: the session ends and signing in is refused, with the reason.
    let out = timecard_server(data, &["user", "disable", "ann"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(matches!(
        client.contracts("UTC"),
        Err(timecard_client::sync::SyncError::SessionExpired
            | timecard_client::sync::SyncError::SignedOut)
    ));
    let refused = client
        .sign_in("ann", "long enough password")
        .unwrap_err()
        .to_string();
    assert!(refused.contains("disabled"), "{refused}");
    timecard_server(data, &["user", "enable", "ann"], None);
    client.sign_in("ann", "long enough password").unwrap();

    // A new password ends the sessions; the old one no longer works.
    let out = timecard_server(
        data,
        &["user", "set-password", "ann", "--password-stdin"],
        Some("another long password\n"),
    );
    assert!(text(&out).contains("1 session ended"), "{}", text(&out));
    assert!(client.sign_in("ann", "long enough password").is_err());
    client.sign_in("ann", "another long password").unwrap();
    let out = timecard_server(data, &["user", "sign-out", "ann"], None);
    assert!(
        text(&out).contains("1 session of ann ended"),
        "{}",
        text(&out)
    );
    assert!(client.contracts("UTC").is_err());
    drop(serving);

    // Nothing serves the folder now: maintenance says so (with the
    // SQLite file in the folder; replicas on PostgreSQL serve elsewhere).
    let out = timecard_server(data, &["maintenance", "on"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out).contains("no server is running"),
        common::store::storage_for(data).database.is_none(),
        "{}",
        text(&out)
    );
    // A folder that maintenance makes is owner-only too (the SQLite
    // file's folder).
    let fresh = dir.path().join("fresh");
    if common::store::storage_for(&fresh).database.is_some() {
        return;
    }
    let out = timecard_server(&fresh, &["maintenance", "on"], None);
    assert!(out.status.success(), "{}", text(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    }
}

// The server's admin commands print through the same writer as the app's:
// `timecard-server contract list | head -1` ends quietly, with no panic.
#[test]
fn no_admin_command_panics_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let out = timecard_server(
        data,
        &["user", "add", "ann", "--password-stdin"],
        Some("pw-ann-1234\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = timecard_server(
        data,
        &[
            "contract", "add", "--user", "ann", "--title", "Site", "--kind", "hourly",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let commands: &[&[&str]] = &[
        &["--help"],
        &["contract", "list"],
        &["contract", "list", "--json"],
        &["user", "list"],
        &["session", "list"],
        &["report", "list"],
    ];
    for args in commands {
        let out = common::cli::run_with_closed_stdout(
            Command::new(common::server_exe())
                .arg("--data")
                .arg(data)
                .args(*args)
                .envs(common::store::server_env(data)),
        );
        common::cli::assert_ends_quietly_on_closed_stdout(&args.join(" "), &out);
    }
}

// Accounts have roles and contracts have terms: the client's account, an
// hourly rate, whether manual time is allowed.
#[test]
fn roles_and_contract_terms() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let add = |login: &str, role: Option<&str>| {
        let mut args = vec!["user", "add", login, "--password-stdin"];
        if let Some(role) = role {
            args.extend(["--role", role]);
        }
        timecard_server(data, &args, Some("long enough password\n"))
    };
    assert!(add("fay", None).status.success());
    let out = add("carl", Some("client"));
    assert!(
        text(&out).contains("user carl added (client)"),
        "{}",
        text(&out)
    );
    assert!(add("root", Some("admin")).status.success());
    let out = add("eve", Some("owner"));
    assert!(!out.status.success(), "an unknown role is refused");

    let users: serde_json::Value =
        serde_json::from_slice(&timecard_server(data, &["user", "list", "--json"], None).stdout)
            .unwrap();
    let role = |login: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["login"] == login)
            .map(|u| u["role"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        (role("fay"), role("carl"), role("root")),
        ("freelancer".into(), "client".into(), "admin".into())
    );

    // The client of a contract must be a client account.
    let contract = |extra: &[&str]| {
        let mut args = vec![
            "contract", "add", "--user", "fay", "--title", "Site", "--kind", "hourly",
        ];
        args.extend_from_slice(extra);
        timecard_server(data, &args, None)
    };
    let out = contract(&["--client-user", "root"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("needs a client account"),
        "{}",
        text(&out)
    );
    let out = contract(&["--rate", "45.50"]);
    assert!(text(&out).contains("--currency"), "{}", text(&out));
    let out = contract(&[
        "--id",
        "site",
        "--client-user",
        "carl",
        "--rate",
        "45.50",
        "--currency",
        "eur",
        "--manual-time",
        "not-allowed",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let list = |_: ()| -> serde_json::Value {
        serde_json::from_slice(&timecard_server(data, &["contract", "list", "--json"], None).stdout)
            .unwrap()
    };
    let listed = list(());
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["client_user"], "carl");
    assert_eq!(listed[0]["rate"]["cents"], 4550);
    assert_eq!(listed[0]["rate"]["currency"], "EUR");
    assert_eq!(listed[0]["manual_time"], false);

    // `contract set` changes only what it names.
    let out = timecard_server(
        data,
        &[
            "contract",
            "set",
            "site",
            "--rate",
            "50",
            "--manual-time",
            "allowed",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let listed = list(());
    assert_eq!(listed[0]["rate"]["cents"], 5000);
    assert_eq!(listed[0]["rate"]["currency"], "EUR");
    assert_eq!(listed[0]["manual_time"], true);
    assert_eq!(listed[0]["client_user"], "carl");
    let out = timecard_server(data, &["user", "set-role", "fay", "admin"], None);
    assert!(out.status.success(), "{}", text(&out));
    // R11: the only active admin stays one, and can sign in.
    let out = timecard_server(data, &["user", "set-role", "root", "freelancer"], None);
    assert!(out.status.success(), "fay is an admin too: {}", text(&out));
    for args in [
        &["user", "set-role", "fay", "client"][..],
        &["user", "disable", "fay"][..],
    ] {
        let out = timecard_server(data, args, None);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out).contains("the only active admin (fay) cannot be"),
            "{args:?}: {}",
            text(&out)
        );
    }
    let out = timecard_server(data, &["user", "set-role", "carl", "admin"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = timecard_server(data, &["user", "disable", "fay"], None);
    assert!(out.status.success(), "with another admin: {}", text(&out));
}

// D10: a `--json` listing that fails prints the error body on standard
// output, a bad argument included.
#[test]
fn json_listings_answer_errors_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let out = timecard_server(
        data,
        &["contract", "list", "--user", "nobody", "--json"],
        None,
    );
    assert!(!out.status.success(), "{}", text(&out));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
    assert_eq!(body["error"], "error", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("nobody"),
        "{body}"
    );
    let out = timecard_server(data, &["user", "list", "--json", "--bogus"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error"], "usage", "{body}");
    // Without --json the error stays on standard error.
    let out = timecard_server(data, &["contract", "list", "--user", "nobody"], None);
    assert!(out.stdout.is_empty());
}
