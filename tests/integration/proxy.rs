//! Y3: HTTPS_PROXY is honoured (the client tunnels through CONNECT) and
//! NO_PROXY exempts hosts; driven through the `timecard` binary against a
//! real server.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::server::{PASSWORD, TestServer};

/// A minimal CONNECT proxy that records the targets it was asked for.
pub(crate) fn connect_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                }
                let target = request
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                log.lock().unwrap().push(target.clone());
                let Ok(upstream) = TcpStream::connect(&target) else {
                    return;
                };
                let mut client = client;
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut reader, &mut u2);
                });
                let mut upstream = upstream;
                let _ = std::io::copy(&mut upstream, &mut c2);
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// `timecard login` as ann with no proxy in the environment but `env`.
fn login(
    data: &std::path::Path,
    server: &TestServer,
    ca: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut all: Vec<(&str, Option<&str>)> = [
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ]
    .into_iter()
    .map(|name| (name, None))
    .collect();
    all.extend(env.iter().map(|&(name, value)| (name, Some(value))));
    common::cli::sign_in(data, &server.url(), ca, "ann", PASSWORD, &all)
}

#[test]
fn https_proxy_is_used_and_no_proxy_is_respected() {
    let server = TestServer::start(chrono::Utc::now());
    let ca = server.dir.path().join("tls/cert.pem");
    let (proxy, seen) = connect_proxy();
    let data = tempfile::tempdir().unwrap();

    let out = login(data.path(), &server, &ca, &[("HTTPS_PROXY", &proxy)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signed in to"));
    let target = server.server.addr.to_string();
    assert!(
        seen.lock().unwrap().contains(&target),
        "the proxy saw {:?}",
        seen.lock().unwrap()
    );

    let before = seen.lock().unwrap().len();
    let out = login(
        data.path(),
        &server,
        &ca,
        &[("HTTPS_PROXY", &proxy), ("NO_PROXY", "127.0.0.1")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        before,
        "NO_PROXY must bypass the proxy"
    );

    // The signed-in data folder now talks to that server.
    let status = Command::new(env!("CARGO_BIN_EXE_timecard"))
        .args(["status", "--json"])
        .env("TIMECARD_DATA_DIR", data.path())
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["sync_state"], "online", "{status}");
    assert_eq!(status["server"], server.url());
}
