//! `timecard-server` as a team runs it, through the real binary: a data
//! folder only its owner reads, a certificate that names the machine, a
//! certificate reloaded on SIGHUP, connections that cannot be held open
//! forever or by the hundred from one address, and an online backup.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::cli::{text, timecard_server};
use common::serving::Serving;

const PASSWORD: &str = "long enough password";

fn add_user(data: &Path, login: &str) {
    let out = timecard_server(
        data,
        &["user", "add", login, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", text(&out));
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

// Issue 11, item 6: the data folder holds password and token hashes and
// screenshots; no other local user may read it.
#[test]
fn the_data_folder_is_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    // A new folder, made by an admin command.
    let data = dir.path().join("new");
    add_user(&data, "ann");
    assert_eq!(mode(&data), 0o700, "a new data folder");
    assert_eq!(mode(&data.join("timecard-server.sqlite")), 0o600);

    // While the server runs, SQLite's -wal and -shm files exist; they are
    // owner-only too.
    let serving = Serving::start(&data, &["--listen", "127.0.0.1:0"]);
    for name in [
        "timecard-server.sqlite",
        "timecard-server.sqlite-wal",
        "timecard-server.sqlite-shm",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name} while serving");
    }
    drop(serving);

    // A folder made by an older version: 0755, database 0644.
    let old = dir.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(
        data.join("timecard-server.sqlite"),
        old.join("timecard-server.sqlite"),
    )
    .unwrap();
    std::fs::set_permissions(
        old.join("timecard-server.sqlite"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut serving = Serving::start(&old, &["--listen", "127.0.0.1:0"]);
    assert_eq!(mode(&old), 0o700, "an existing folder is tightened");
    for name in [
        "timecard-server.sqlite",
        "timecard-server.sqlite-wal",
        "timecard-server.sqlite-shm",
    ] {
        assert_eq!(mode(&old.join(name)), 0o600, "{name} of the old folder");
    }
    // It says so in the log.
    serving.wait_log("that it tightened the folder", |l| {
        l.contains("was open to other users (mode 755); it is now owner-only")
    });
}

fn hostname() -> String {
    let out = Command::new("hostname").output().expect("run hostname");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `timecard login` from its own data folder, trusting `ca`.
fn login(client_data: &Path, url: &str, ca: &Path) -> Output {
    common::cli::sign_in(client_data, url, ca, "ann", PASSWORD, &[])
}

// Issue 11, item 1: a server listening on every address is reached by the
// machine's name with the certificate it printed; a name the certificate
// lacks is named in the error with the --hostname that adds it, and adding
// it makes a new certificate, the old one kept.
#[test]
fn the_certificate_names_the_machine_and_any_hostname() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    add_user(&data, "ann");
    let host = hostname();
    let mut serving = Serving::start(&data, &["--listen", "0.0.0.0:0"]);
    let port = serving.port();
    let covers = serving.wait_line("the names the certificate covers", |l| {
        l.starts_with("certificate: ")
    });
    assert!(
        covers.starts_with(&format!(
            "certificate: {} covers localhost, 127.0.0.1, {host}",
            data.join("tls/cert.pem").display()
        )),
        "{covers}"
    );
    let print = serving.wait_line("the fingerprint", |l| {
        l.starts_with("certificate SHA-256 fingerprint: ")
    });
    let print = print.rsplit(' ').next().unwrap();
    // Y7: the format the sign-in dialog shows and `--fingerprint` takes.
    assert!(print.starts_with("SHA256:"), "{print}");
    assert_eq!(print.len(), 102, "{print}");
    let cert = data.join("tls/cert.pem");

    let client = dir.path().join("client");
    let out = login(&client, &format!("https://{host}:{port}"), &cert);
    assert!(out.status.success(), "login by hostname: {}", text(&out));

    // 127.0.0.2 reaches the same server (loopback) but is not a name of
    // the certificate.
    let other = dir.path().join("other-client");
    let out = login(&other, &format!("https://127.0.0.2:{port}"), &cert);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains(&format!("covers localhost, 127.0.0.1, {host}"))
            && said.contains("not 127.0.0.2")
            && said.contains("--hostname 127.0.0.2"),
        "the error names what the certificate covers and the fix: {said}"
    );
    drop(serving);

    // The admin adds the name: a new certificate, the old one kept.
    let old = std::fs::read(&cert).unwrap();
    let mut serving = Serving::start(&data, &["--listen", "0.0.0.0:0", "--hostname", "127.0.0.2"]);
    let made = serving.wait_line("that the certificate was made again", |l| {
        l.starts_with("certificate made again")
    });
    assert!(made.contains("did not cover 127.0.0.2"), "{made}");
    assert_eq!(std::fs::read(data.join("tls/cert.pem.old")).unwrap(), old);
    assert_ne!(std::fs::read(&cert).unwrap(), old);
    let out = login(
        &other,
        &format!("https://127.0.0.2:{}", serving.port()),
        &cert,
    );
    assert!(out.status.success(), "{}", text(&out));

    // The same names again: the certificate stays.
    let now = std::fs::read(&cert).unwrap();
    drop(serving);
    let mut serving = Serving::start(
        &data,
        &["--listen", "127.0.0.1:0", "--hostname", "127.0.0.2"],
    );
    serving.wait_line("the fingerprint", |l| l.starts_with("certificate SHA-256"));
    assert!(
        !serving
            .printed
            .iter()
            .any(|(_, l)| l.starts_with("certificate made")),
        "{:?}",
        serving.printed
    );
    assert_eq!(std::fs::read(&cert).unwrap(), now);
}

/// A TLS connection made by hand, as an attacker (or a slow network) would.
type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A client trusting `certs` (PEM).
fn tls_config(certs: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    timecard_core::tls::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for pem in certs {
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Completes a TLS handshake with 127.0.0.1 over `tcp`.
fn handshake(tcp: TcpStream, config: &Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

fn connect(port: u16, config: &Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    handshake(TcpStream::connect(("127.0.0.1", port))?, config)
}

/// The certificate the server presented on `tls`, DER.
fn presented(tls: &Tls) -> Vec<u8> {
    tls.conn.peer_certificates().unwrap()[0].to_vec()
}

fn der(pem: &[u8]) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem).unwrap().to_vec()
}

/// One HTTP/1.1 request on a kept-alive connection: the status and body.
fn request(tls: &mut Tls, head: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    tls.write_all(head.as_bytes())?;
    tls.write_all(body)?;
    tls.flush()?;
    read_response(tls)
}

fn read_response(tls: &mut Tls) -> std::io::Result<(u16, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tls.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    tls.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

const HEALTH: &str = "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

fn self_signed() -> (Vec<u8>, Vec<u8>) {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let made = rcgen::generate_simple_self_signed(names).unwrap();
    (
        made.cert.pem().into_bytes(),
        made.signing_key.serialize_pem().into_bytes(),
    )
}

/// Replaces a file the way an ACME client does: a new file renamed over it.
fn replace(path: &Path, bytes: &[u8]) {
    let next = path.with_extension("next");
    std::fs::write(&next, bytes).unwrap();
    std::fs::rename(next, path).unwrap();
}

fn hang_up(serving: &Serving) {
    let pid = serving.child.id() as libc::pid_t;
    // SAFETY: a signal to a child process this test started and still holds.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}

// Issue 11, item 2: certificates from an ACME client are renewed in place;
// SIGHUP makes the server present the new one to new connections, while
// connections already open go on being served.
#[test]
fn sighup_reloads_the_certificate_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let (cert_a, key_a) = self_signed();
    let (cert_b, key_b) = self_signed();
    let cert = dir.path().join("fullchain.pem");
    let key = dir.path().join("privkey.pem");
    std::fs::write(&cert, &cert_a).unwrap();
    std::fs::write(&key, &key_a).unwrap();
    let mut serving = Serving::start(
        &data,
        &[
            "--listen",
            "127.0.0.1:0",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    let config = tls_config(&[&cert_a, &cert_b]);
    let mut kept = connect(serving.port(), &config).unwrap();
    assert_eq!(presented(&kept), der(&cert_a));
    assert_eq!(request(&mut kept, HEALTH, b"").unwrap().0, 200);

    replace(&cert, &cert_b);
    replace(&key, &key_b);
    hang_up(&serving);
    serving.wait_line("that the certificate was reloaded", |l| {
        l == "certificate reloaded"
    });
    let mut fresh = connect(serving.port(), &config).unwrap();
    assert_eq!(presented(&fresh), der(&cert_b), "a new connection");
    assert_eq!(request(&mut fresh, HEALTH, b"").unwrap().0, 200);
    assert_eq!(
        request(&mut kept, HEALTH, b"").unwrap().0,
        200,
        "the connection opened before the reload is still served"
    );

    // A pair that does not fit is not used; the server keeps the last one.
    replace(&key, &key_a);
    hang_up(&serving);
    serving.wait_log("that the certificate was not reloaded", |l| {
        l.contains("certificate not reloaded, the old one stays in use")
    });
    let fresh = connect(serving.port(), &config).unwrap();
    assert_eq!(presented(&fresh), der(&cert_b));
}

/// `timecard-server serve` with its own certificate (whose file is
/// returned) and `args`.
fn serve_with(dir: &Path, args: &[&str]) -> (Serving, Vec<u8>) {
    let data = dir.join("server");
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let serving = Serving::start(&data, &all);
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    (serving, cert)
}

/// Sends `bytes` one at a time, one every `every`, until the server closes
/// the connection; the time from the first byte to the close. Whatever the
/// server sent before closing is returned too.
fn trickle(tls: &mut Tls, bytes: &[u8], every: Duration) -> (Duration, String) {
    let start = Instant::now();
    let mut answer = Vec::new();
    tls.sock.set_read_timeout(Some(every)).unwrap();
    let mut next = bytes.iter().cycle();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server kept the connection open for 30 s; it sent {:?}",
            String::from_utf8_lossy(&answer)
        );
        let byte = *next.next().unwrap();
        if tls.write_all(&[byte]).and_then(|()| tls.flush()).is_err() {
            break;
        }
        // Waiting for an answer paces the trickle: one byte per `every`.
        let mut buf = [0u8; 1024];
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    (
        start.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

/// Waits until the server closes `tls`, sending nothing; the time it took.
fn wait_closed(tls: &mut Tls) -> Duration {
    let start = Instant::now();
    tls.sock
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 64];
    match tls.read(&mut buf) {
        Ok(0) => {}
        Err(e)
            if !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!(
            "the connection is still open after {:?}: {other:?}",
            start.elapsed()
        ),
    }
    start.elapsed()
}

// Issue 11, item 5: after the TLS handshake, a connection that sends
// nothing, headers that trickle in a byte at a time, and a body that does
// the same are each closed within their timeout.
#[test]
fn slow_and_idle_connections_are_closed_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let (serving, cert) = serve_with(
        dir.path(),
        &[
            "--header-timeout",
            "2s",
            "--body-timeout",
            "3s",
            "--idle-timeout",
            "4s",
        ],
    );
    let config = tls_config(&[&cert]);
    let port = serving.port();
    let every = Duration::from_millis(400);

    // Idle: nothing sent after the handshake.
    let idle = std::thread::spawn({
        let config = config.clone();
        move || {
            let mut tls = connect(port, &config).unwrap();
            wait_closed(&mut tls)
        }
    });
    // Idle after a request on a kept-alive connection.
    let kept = std::thread::spawn({
        let config = config.clone();
        move || {
            let mut tls = connect(port, &config).unwrap();
            assert_eq!(request(&mut tls, HEALTH, b"").unwrap().0, 200);
            wait_closed(&mut tls)
        }
    });
    // Headers a byte at a time, never finished.
    let headers = std::thread::spawn({
        let config = config.clone();
        move || {
            let mut tls = connect(port, &config).unwrap();
            trickle(&mut tls, b"GET /api/v1/health HTTP/1.1\r\nX-Slow: ", every)
        }
    });
    // A body a byte at a time.
    let body = std::thread::spawn({
        let config = config.clone();
        move || {
            let mut tls = connect(port, &config).unwrap();
            let head = "POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                        Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
            tls.write_all(head.as_bytes()).unwrap();
            tls.flush().unwrap();
            trickle(&mut tls, b"{\"login\": \"ann\", ", every)
        }
    });

    let idle = idle.join().unwrap();
    assert!(
        idle >= Duration::from_secs(3) && idle < Duration::from_secs(8),
        "an idle connection is closed after the idle timeout (4 s), not after {idle:?}"
    );
    let kept = kept.join().unwrap();
    assert!(
        kept >= Duration::from_secs(3) && kept < Duration::from_secs(8),
        "a kept-alive connection is closed after the idle timeout (4 s), not after {kept:?}"
    );
    let (took, answer) = headers.join().unwrap();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "trickled headers are cut after the header timeout (2 s), not after {took:?}; the server said {answer:?}"
    );
    let (took, answer) = body.join().unwrap();
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(6),
        "a trickled body is cut after the body timeout (3 s), not after {took:?}"
    );
    assert!(
        answer.starts_with("HTTP/1.1 408") && answer.contains("request_timeout"),
        "a trickled body is answered 408: {answer:?}"
    );
    // A patient, normal client is still served.
    let mut tls = connect(port, &config).unwrap();
    assert_eq!(request(&mut tls, HEALTH, b"").unwrap().0, 200);
}

// Issue 11, item 5: one address holds at most 64 connections (the
// default); the 65th is refused, while that address's open connections and
// other addresses are served, and a closed connection frees its place.
#[test]
fn one_address_holds_at_most_64_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (serving, cert) = serve_with(dir.path(), &[]);
    let config = tls_config(&[&cert]);
    let port = serving.port();
    let mut open: Vec<Tls> = (0..64)
        .map(|i| connect(port, &config).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    let refused = connect(port, &config).and_then(|mut tls| request(&mut tls, HEALTH, b""));
    assert!(
        refused.is_err(),
        "the 65th connection from one address is refused: {refused:?}"
    );
    assert_eq!(request(&mut open[63], HEALTH, b"").unwrap().0, 200);

    // Another address (127.0.0.2, also this machine) is served.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.2:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let mut other = handshake(socket.into(), &config).unwrap();
    assert_eq!(request(&mut other, HEALTH, b"").unwrap().0, 200);

    // One closed: its place is free again (once the server has seen it go).
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    let (status, _) = loop {
        match connect(port, &config).and_then(|mut tls| request(&mut tls, HEALTH, b"")) {
            Ok(answer) => break answer,
            Err(e) => assert!(
                Instant::now() < deadline,
                "a closed connection's place was not freed: {e}"
            ),
        }
    };
    assert_eq!(status, 200);
}

fn add_contract(data: &Path, title: &str) -> Output {
    timecard_server(
        data,
        &[
            "contract", "add", "--user", "ann", "--title", title, "--kind", "hourly",
        ],
        None,
    )
}

// Issue 11, item 11: `backup FILE` copies the database while the server
// serves and others write to it; the copy is checked, owner-only, one
// self-contained file, and a data folder made from it has everything.
#[test]
fn backup_copies_the_database_while_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    add_user(&data, "ann");
    assert!(add_contract(&data, "Before the backup").status.success());
    let serving = Serving::start(&data, &["--listen", "127.0.0.1:0"]);
    let cert = data.join("tls/cert.pem");
    let out = login(&dir.path().join("client"), &serving.url, &cert);
    assert!(out.status.success(), "{}", text(&out));

    // Another writer goes on adding contracts meanwhile.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (wrote, first_write) = mpsc::channel();
    let writer = std::thread::spawn({
        let data = data.clone();
        let stop = stop.clone();
        move || {
            let mut added = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let out = add_contract(&data, &format!("During {added}"));
                assert!(out.status.success(), "{}", text(&out));
                added += 1;
                let _ = wrote.send(());
            }
            added
        }
    });
    first_write
        .recv_timeout(Duration::from_secs(30))
        .expect("the writer added a contract");
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let copy = backups.join("timecard.sqlite");
    for _ in 0..3 {
        let out = timecard_server(&data, &["backup", copy.to_str().unwrap()], None);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("integrity check: ok"), "{}", text(&out));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    assert_eq!(
        mode(&copy),
        0o600,
        "the copy holds what the data folder holds"
    );
    let left: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["timecard.sqlite"], "one file, nothing beside it");

    // Restored into a data folder of its own, it has the user and the
    // contracts as of the backup.
    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::copy(&copy, restored.join("timecard-server.sqlite")).unwrap();
    let out = timecard_server(&restored, &["contract", "list", "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let titles: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.first(), Some(&"Before the backup"), "{titles:?}");
    assert!(
        titles.len() > 1,
        "what was written before the backup: {titles:?}"
    );

    // No database: said plainly.
    let out = timecard_server(&dir.path().join("none"), &["backup", "x.sqlite"], None);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("there is no database in"),
        "{}",
        text(&out)
    );
}
