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

/// A fake `org.freedesktop.portal.FileChooser`: answers OpenFile with
/// `code` and, for 0, the file's URI; notes the title and options.
struct FakeChooser {
    code: u32,
    file: Option<std::path::PathBuf>,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.freedesktop.portal.FileChooser")]
impl FakeChooser {
    async fn open_file(
        &self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        _parent_window: String,
        title: String,
        options: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
    ) -> zbus::fdo::Result<zbus::zvariant::OwnedObjectPath> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("{title} {:?}", options.get("filters")));
        let token = options
            .get("handle_token")
            .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
            .unwrap_or_default();
        let sender = header
            .sender()
            .map(|s| s.trim_start_matches(':').replace('.', "_"))
            .unwrap_or_default();
        let path = format!("/org/freedesktop/portal/desktop/request/{sender}/{token}");
        let mut results: std::collections::HashMap<&str, zbus::zvariant::Value<'_>> =
            std::collections::HashMap::new();
        if let Some(file) = &self.file {
            let uri = format!("file://{}", file.display().to_string().replace(' ', "%20"));
            results.insert("uris", zbus::zvariant::Value::from(vec![uri]));
        }
        connection
            .emit_signal(
                None::<&str>,
                path.as_str(),
                "org.freedesktop.portal.Request",
                "Response",
                &(self.code, results),
            )
            .await
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))?;
        zbus::zvariant::OwnedObjectPath::try_from(path)
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }
}

// Issue 26: the certificate file can be chosen in the desktop's own file
// dialog (the portal's FileChooser on the session bus) instead of typed:
// the chosen file comes back as a path, a cancel as nothing, and a bus
// without the portal is said in words that point to typing the path.
#[test]
fn the_certificate_file_is_chosen_through_the_desktop_portal() {
    use crate::common::dbus::session_bus_without_services;
    use timecard_client::platform::file_chooser::open_file_on;
    if !crate::common::xvfb::tools_present(&["dbus-run-session", "dbus-daemon"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut bus, address) = session_bus_without_services(dir.path());
    let client = || {
        zbus::blocking::connection::Builder::address(address.as_str())
            .unwrap()
            .build()
            .unwrap()
    };
    let patterns = ["*.pem", "*.crt"];
    let none = open_file_on(&client(), "The server's certificate", "PEM", &patterns);
    let said = none.unwrap_err();
    assert!(said.contains("type the file's path instead"), "{said}");

    let chosen = dir.path().join("our server.pem");
    std::fs::write(&chosen, "x").unwrap();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let portal = zbus::blocking::connection::Builder::address(address.as_str())
        .unwrap()
        .name("org.freedesktop.portal.Desktop")
        .unwrap()
        .serve_at(
            "/org/freedesktop/portal/desktop",
            FakeChooser {
                code: 0,
                file: Some(chosen.clone()),
                asked: asked.clone(),
            },
        )
        .unwrap()
        .build()
        .expect("serve the fake portal");
    let got = open_file_on(&client(), "The server's certificate", "PEM", &patterns);
    assert_eq!(got, Ok(Some(chosen)));
    let seen = asked.lock().unwrap()[0].clone();
    assert!(
        seen.starts_with("The server's certificate") && seen.contains("*.pem"),
        "{seen}"
    );

    // The person cancels: nothing chosen, no error.
    portal
        .object_server()
        .remove::<FakeChooser, _>("/org/freedesktop/portal/desktop")
        .unwrap();
    portal
        .object_server()
        .at(
            "/org/freedesktop/portal/desktop",
            FakeChooser {
                code: 1,
                file: None,
                asked,
            },
        )
        .unwrap();
    let cancelled = open_file_on(&client(), "The server's certificate", "PEM", &patterns);
    assert_eq!(cancelled, Ok(None));
    drop(bus.stdin.take());
    let _ = bus.wait();
}

// Y3 with Y7: the look at an untrusted certificate and the connections
// pinned by fingerprint go through HTTPS_PROXY like every other.
#[test]
fn trust_on_first_use_goes_through_the_proxy() {
    let server = TestServer::start(at("2026-11-25T15:00:00Z"));
    let url = server.url();
    let print = printed(&server);
    let (proxy, seen) = crate::proxy::connect_proxy();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("client");
    let through_proxy = |extra: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_timecard"));
        command
            .args([
                "login",
                "--server",
                &url,
                "--user",
                "ann",
                "--password-stdin",
            ])
            .args(extra)
            .env("TIMECARD_DATA_DIR", &data)
            .env("HTTPS_PROXY", &proxy);
        for name in [
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            command.env_remove(name);
        }
        crate::common::cli::run(&mut command, Some(PASSWORD))
    };
    let target = server.server.addr.to_string();

    let out = through_proxy(&[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains(&format!("--fingerprint {print}")),
        "{}",
        text(&out)
    );
    let looked = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|t| **t == target)
        .count();
    assert!(
        looked >= 2,
        "the sign-in and the look went through the proxy: {looked}"
    );

    let out = through_proxy(&["--fingerprint", &print]);
    assert!(out.status.success(), "{}", text(&out));
    let now = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|t| **t == target)
        .count();
    assert!(now > looked, "the pinned sign-in went through the proxy");
}
