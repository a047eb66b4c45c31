//! Issue 25: how the dashboard's bytes travel, over the real TLS server —
//! text compressed for a client that asks (pictures never), the static
//! files under versioned URLs that browsers keep for a year, the app's
//! icon at `/favicon.ico`, and a page head that asks search engines to
//! keep out.

use std::collections::HashMap;
use std::time::Duration;

use crate::common;
use crate::web::dashboard;
use common::server::{PASSWORD, TestServer};

/// A signed-in client that sees the bytes as sent, but for gzip, which
/// it decodes.
struct Raw {
    agent: ureq::Agent,
    base: String,
    cookies: String,
}

/// Status, headers (lower-case names) and the body's bytes as sent.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Raw {
    fn sign_in(server: &TestServer, login: &str) -> Raw {
        let mut raw = Raw {
            agent: ureq::Agent::config_builder()
                .tls_config(
                    ureq::tls::TlsConfig::builder()
                        .root_certs(common::pinned_roots(&server.server.cert_pem))
                        .build(),
                )
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into(),
            base: server.url(),
            cookies: String::new(),
        };
        let form = raw.get("/login", "identity");
        let page = String::from_utf8(form.body).unwrap();
        let at = page.find("name=\"csrf\" value=\"").expect("a form") + 19;
        let csrf = page[at..at + 32].to_owned();
        raw.cookies = cookie_of(&form.headers);
        let answer = raw
            .agent
            .post(format!("{}/login", raw.base))
            .header("Cookie", &raw.cookies)
            .send_form([("login", login), ("password", PASSWORD), ("csrf", &csrf)])
            .unwrap();
        assert_eq!(answer.status(), 303);
        raw.cookies = answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next())
            .filter(|pair| pair.starts_with("__Host-timecard="))
            .collect::<Vec<_>>()
            .join("; ");
        assert!(!raw.cookies.is_empty(), "no session cookie");
        raw
    }

    /// `path`, accepting the encodings `accept` (`identity` for none).
    fn get(&self, path: &str, accept: &str) -> Answer {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookies)
            .header("Accept-Encoding", accept)
            .call()
            .unwrap();
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = response
            .into_body()
            .into_with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }
}

fn cookie_of(headers: &HashMap<String, String>) -> String {
    headers
        .get("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap_or("")
        .to_owned()
}

/// The value of `attribute` in the tag of `page` that holds `marker`.
fn attribute_of<'a>(page: &'a str, marker: &str, attribute: &str) -> &'a str {
    let at = page
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {page}"));
    let start = page[..=at].rfind('<').unwrap();
    let tag = &page[start..start + page[start..].find('>').unwrap()];
    let value = tag.find(&format!(" {attribute}=\"")).unwrap() + attribute.len() + 3;
    &tag[value..value + tag[value..].find('"').unwrap()]
}

#[test]
fn text_is_compressed_for_clients_that_ask_and_pictures_are_not() {
    let (server, id) = dashboard();
    let carl = Raw::sign_in(&server, "carl");

    let plain = carl.get("/contracts/ann-hourly/diary?date=2026-11-25", "identity");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.headers.get("content-encoding"), None);
    let packed = carl.get("/contracts/ann-hourly/diary?date=2026-11-25", "br");
    assert_eq!(packed.status, 200);
    assert_eq!(packed.headers["content-encoding"], "br");
    assert!(packed.headers["vary"].contains("accept-encoding"));
    assert!(
        packed.body.len() * 2 < plain.body.len(),
        "{} bytes of {}",
        packed.body.len(),
        plain.body.len()
    );
    // The security headers stay on the compressed page.
    assert!(packed.headers["content-security-policy"].contains("script-src 'self'"));
    // Gzip, which the client decodes as it reads: the same page.
    let gzip = carl.get("/contracts/ann-hourly/diary?date=2026-11-25", "gzip");
    assert_eq!(gzip.status, 200);
    assert_eq!(
        String::from_utf8(gzip.body).unwrap(),
        String::from_utf8(plain.body).unwrap()
    );
    // The CSV is streamed (no length up front), compressed as it goes.
    let csv = carl.get("/contracts/ann-hourly/timesheet.csv?week=2026-11-23", "br");
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-encoding"], "br");
    assert_eq!(csv.headers.get("content-length"), None);
    // Pictures go as stored: JPEG does not shrink.
    for which in ["thumbnail", "screenshot"] {
        let picture = carl.get(
            &format!("/contracts/ann-hourly/segments/{id}/{which}"),
            "gzip, br",
        );
        assert_eq!(picture.status, 200);
        assert_eq!(picture.headers["content-type"], "image/jpeg");
        assert_eq!(picture.headers.get("content-encoding"), None, "{which}");
        assert_eq!(picture.body, common::tiny_jpeg());
    }
}

#[test]
fn static_files_are_versioned_and_kept_for_a_year() {
    let (server, _) = dashboard();
    let carl = Raw::sign_in(&server, "carl");
    let page = carl.get("/contracts", "identity");
    let page = String::from_utf8(page.body).unwrap();
    let head = &page[..page.find("</head>").unwrap()];
    assert!(
        head.contains(r#"<meta name="robots" content="noindex">"#),
        "{head}"
    );
    assert!(
        head.contains(r#"<meta name="description" content=""#),
        "{head}"
    );

    for (link, kind) in [
        (r#"rel="stylesheet""#, "text/css; charset=utf-8"),
        ("<script ", "text/javascript; charset=utf-8"),
        (r#"type="image/svg+xml""#, "image/svg+xml"),
        (r#"sizes="16x16 32x32 48x48""#, "image/x-icon"),
    ] {
        let source = if link == "<script " { "src" } else { "href" };
        let url = attribute_of(head, link, source);
        let (path, version) = url.split_once("?v=").expect("a versioned URL");
        assert_eq!(version.len(), 16, "{url}");
        let kept = carl.get(url, "identity");
        assert_eq!(kept.status, 200, "{url}");
        assert_eq!(kept.headers["content-type"], kind, "{url}");
        assert_eq!(
            kept.headers["cache-control"], "public, max-age=31536000, immutable",
            "{url}"
        );
        // The bare path, or another build's version: the same bytes, kept
        // for an hour only.
        for other in [path.to_owned(), format!("{path}?v=0000000000000000")] {
            let answer = carl.get(&other, "identity");
            assert_eq!(answer.status, 200, "{other}");
            assert_eq!(answer.body, kept.body, "{other}");
            assert_eq!(answer.headers["cache-control"], "public, max-age=3600");
        }
    }
    // A browser that asks for /favicon.ico by name gets the icon.
    let icon = carl.get("/favicon.ico", "identity");
    assert_eq!(icon.headers["content-type"], "image/x-icon");
    assert!(
        icon.body.starts_with(&[0, 0, 1, 0, 3, 0]),
        "an .ico of 3 images"
    );
    // Signed out, too (the sign-in page has the icon).
    let anyone = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(common::pinned_roots(&server.server.cert_pem))
                .build(),
        )
        .build()
        .new_agent();
    let answer = anyone
        .get(format!("{}/favicon.ico", server.url()))
        .call()
        .unwrap();
    assert_eq!(answer.status(), 200);
}

/// The chunks of a chunked body, as sent.
fn chunks(mut body: &[u8]) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    loop {
        let line = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line]).unwrap(), 16).unwrap();
        if size == 0 {
            return chunks;
        }
        chunks.push(&body[line + 2..line + 2 + size]);
        body = &body[line + 2 + size + 2..];
    }
}

// A year's CSV of a busy contract (4,664 segments, 5 MB), Brotli-compressed
// for 20 clients at once, still goes out as it is written: in pieces, a
// few exports at a time, the server's memory small.
#[test]
fn a_compressed_csv_is_still_streamed() {
    let dir = tempfile::tempdir().unwrap();
    common::server::seed(dir.path(), common::at("2026-11-25T15:00:00Z"));
    crate::hardening::a_busy_year(dir.path(), 4_664, 1_000);
    let server = crate::hostile::ServerProcess::start(dir.path());
    let token = server.token();
    let before = server.peak_mib();
    let (answers, _) = server.storm(
        20,
        &format!(
            "GET /contracts/ann-hourly/timesheet.csv?from=2026-01-01&to=2026-12-31 HTTP/1.1\r\nAccept-Encoding: br\r\nCookie: __Host-timecard={token}"
        ),
        std::sync::Arc::new(Vec::new()),
    );
    let peak = server.peak_mib();
    let mut served = 0;
    for answer in &answers {
        match answer.status {
            200 => {
                served += 1;
                let pieces = chunks(&answer.body);
                let bytes: usize = pieces.iter().map(|c| c.len()).sum();
                assert!(bytes < 1_000_000, "{bytes} bytes: not compressed");
                assert!(pieces.len() > 10, "{} pieces: not streamed", pieces.len());
            }
            503 => assert!(answer.retry_after.is_some()),
            other => panic!("{other}: {}", String::from_utf8_lossy(&answer.body)),
        }
    }
    assert!(served > 0, "no export was served");
    assert!(
        peak < before + 200,
        "20 parallel compressed exports took the server from {before} MiB to {peak} MiB"
    );
}
