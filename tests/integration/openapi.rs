//! I3: the API's OpenAPI document against the router that serves the API:
//! every route it lists answers on the real server over TLS (not the
//! router's "no such API route", not 405), every route the server's code
//! adds under `/api/v1` is listed, and the upload's body is described as
//! MessagePack. (`ci/openapi-check.sh` has an independent validator judge
//! the same document.)

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use crate::common::server::TestServer;
use crate::common::{self, at};

#[test]
fn the_document_lists_exactly_the_routes_the_server_answers() {
    let server = TestServer::start(at("2026-11-25T15:00:00Z"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(common::pinned_roots(&server.server.cert_pem))
                .build(),
        )
        .http_status_as_error(false)
        .timeout_global(Some(StdDuration::from_secs(30)))
        .build()
        .into();
    let base = server.url();
    let got = agent
        .get(format!("{base}/api/v1/openapi.json"))
        .call()
        .unwrap();
    assert_eq!(got.status(), 200);
    let document: serde_json::Value = got.into_body().read_json().unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let token = server.client("ann").token().expect("a session token");

    let mut listed = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.insert(format!("{} {path}", method.to_uppercase()));
            let url = format!(
                "{base}{}",
                path.replace("{id}", "00000000-0000-4000-8000-000000000000")
            );
            let auth = format!("Bearer {token}");
            let answer = match method.as_str() {
                "get" => agent.get(&url).header("Authorization", &auth).call(),
                "delete" => agent.delete(&url).header("Authorization", &auth).call(),
                "post" => agent
                    .post(&url)
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send("{}"),
                other => panic!("{other} {path}: a method the test does not know"),
            }
            .unwrap();
            let status = answer.status().as_u16();
            let body = answer.into_body().read_to_string().unwrap_or_default();
            assert_ne!(status, 405, "{method} {path}: {body}");
            assert!(
                !body.contains("no such API route"),
                "{method} {path} is listed but not routed: {body}"
            );
        }
    }

    // Every `.route("/api/v1…")` the server's code has is one the document
    // lists: routes are added with their description or not at all.
    let http =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/timecard-server/src/http");
    let mut in_code = 0;
    for entry in walk(&http) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for (at, _) in text.match_indices(".route(\"/api/v1") {
            in_code += 1;
            let path = text[at + 8..].split('"').next().unwrap();
            assert!(
                listed.iter().any(|l| l.ends_with(&format!(" {path}"))),
                "{}: {path} is routed by hand, not listed in the document",
                entry.display()
            );
        }
    }
    assert_eq!(
        in_code, 0,
        "API routes are added through `described_routes`"
    );
    let described = std::fs::read_to_string(http.join("api.rs")).unwrap();
    let handlers = described.matches(".routes(").count();
    let operations = listed.len();
    assert!(
        operations >= handlers,
        "{operations} operations for {handlers} route groups"
    );
    for wanted in [
        "GET /api/v1/health",
        "GET /api/v1/openapi.json",
        "POST /api/v1/session",
        "DELETE /api/v1/session",
        "GET /api/v1/contracts",
        "POST /api/v1/segments",
        "DELETE /api/v1/segments/{id}",
        "GET /api/v1/segments/{id}/screenshot",
        "GET /api/v1/segments/{id}/thumbnail",
        "POST /api/v1/manual",
        "GET /api/v1/diary",
        "POST /api/v1/reports",
        "GET /api/v1/releases/latest",
        "GET /api/v1/config",
        "POST /api/v1/session/code",
        "GET /api/v1/sign-on",
    ] {
        assert!(listed.contains(wanted), "{wanted} missing from {listed:?}");
    }
    assert_eq!(listed.len(), 16, "{listed:?}");

    // The upload is MessagePack, described as such; the bearer scheme is there.
    let upload = &document["paths"]["/api/v1/segments"]["post"]["requestBody"]["content"];
    assert!(upload.get("application/msgpack").is_some(), "{upload}");
    assert!(upload.get("application/json").is_none(), "{upload}");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}
