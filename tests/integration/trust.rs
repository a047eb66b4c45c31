//! Y7 from the command line: `timecard login --fingerprint` against a real
//! self-signed TLS server, right and wrong, and a certificate that changes
//! afterwards refused in words.

use crate::common::at;
use crate::common::cli::{text, timecard};
use crate::common::server::{PASSWORD, TestServer};

fn login(data: &std::path::Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "login",
        "--server",
        url,
        "--user",
        "ann",
        "--password-stdin",
    ];
    args.extend_from_slice(extra);
    timecard(data, &args, Some(PASSWORD))
}

fn printed(server: &TestServer) -> String {
    timecard_core::tls::fingerprint(&server.server.cert_pem).unwrap()
}

// Y7: without trust the login names the fingerprint to compare and the
// flag; a wrong or malformed one is refused in words; the right one signs
// in, and later commands use the pin until the certificate changes.
#[test]
fn login_by_fingerprint_trusts_exactly_that_certificate() {
    let mut server = TestServer::start(at("2026-11-25T15:00:00Z"));
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("client");
    let print = printed(&server);

    let out = login(&data, &url, &[]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains(&format!("Its fingerprint is {print}"))
            && said.contains(&format!("--fingerprint {print}")),
        "{said}"
    );
    assert!(!said.contains("UnknownIssuer"), "{said}");
    assert!(!data.join("session.json").exists());

    let wrong = format!("SHA256:{}", vec!["00"; 32].join(":"));
    let out = login(&data, &url, &["--fingerprint", &wrong]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains(&format!("has the fingerprint {print}, not {wrong}"))
            && said.contains("nothing was sent"),
        "{said}"
    );
    assert!(!data.join("session.json").exists());

    let out = login(&data, &url, &["--fingerprint", "SHA256:AB:CD"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not a SHA-256 fingerprint"),
        "{}",
        text(&out)
    );

    // As people copy it: lower case, no colons.
    let typed = print["SHA256:".len()..].replace(':', "").to_lowercase();
    let out = login(&data, &url, &["--fingerprint", &typed]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("Signed in to {url} as ann.")));
    let out = timecard(&data, &["contracts", "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ann-hourly"), "{}", text(&out));

    // A new certificate on the same address: refused, with both prints.
    server.replace_certificate();
    let now_print = printed(&server);
    let out = timecard(&data, &["diary", "--json"], None);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "The server's certificate changed since you trusted it (was {print}, now {now_print})"
        )),
        "{said}"
    );
    // Signing in again names the new print and that it changed.
    let out = login(&data, &url, &[]);
    let said = text(&out);
    assert!(!out.status.success());
    assert!(
        said.contains(&format!("it changed since you trusted {print}"))
            && said.contains(&format!("--fingerprint {now_print}")),
        "{said}"
    );
}
