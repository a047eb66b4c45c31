//! Single sign-on (I4, I5) against a real OpenID provider on loopback
//! (`oidc-provider` from npm, OpenID Certified; `common::oidc`) and the
//! real `timecard-server serve`: in headless Chromium a first sign-in makes
//! the user with the role the `groups` claim maps to and a second finds
//! the same user; a wrong state, a replayed code, another browser, an ID
//! token for another audience and an expired one are each refused in
//! words; and `timecard login --browser` signs the app in with Chromium as
//! its browser.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::cli::{text, timecard, timecard_server};
use crate::common::oidc::{CLIENT_SECRET, PASSWORD, Provider};
use crate::common::serving::Serving;
use crate::common::webdriver::Browser;

/// A server signing in with a provider, both on loopback.
struct Site {
    server: Serving,
    provider: Provider,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

fn site(extra: &[&str]) -> Option<Site> {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let provider = Provider::start(
        &format!("{url}/login/oidc/callback"),
        &format!("{url}/login"),
    )?;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data).unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--listen",
        &listen,
        "--oidc-issuer",
        &provider.issuer,
        "--oidc-client-id",
        crate::common::oidc::CLIENT_ID,
        "--oidc-client-secret-file",
        secret.to_str().unwrap(),
        "--oidc-name",
        "Test ID",
        "--oidc-role-claim",
        "groups",
        "--oidc-role",
        "timecard-admins=admin",
        "--oidc-role",
        "timecard-clients=client",
    ];
    args.extend_from_slice(extra);
    let server = Serving::start(&data, &args);
    Some(Site {
        server,
        provider,
        data,
        _dir: dir,
    })
}

/// `user list --json` of the server's folder: login → role.
fn users(data: &Path) -> HashMap<String, String> {
    let out = timecard_server(data, &["user", "list", "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["login"].as_str().unwrap().to_owned(),
                u["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Signs in at the provider's form, in Chromium.
fn provider_form(browser: &Browser, login: &str) {
    browser.wait_until(
        "the provider's sign-in form",
        "return document.querySelector('input[name=login]') !== null;",
    );
    browser.type_into(&browser.find("input[name=login]"), login);
    browser.type_into(&browser.find("input[name=password]"), PASSWORD);
    browser.click(&browser.find("button[type=submit]"));
}

#[test]
fn a_web_sign_in_makes_the_user_with_the_mapped_role_and_finds_it_again() {
    let Some(site) = site(&[]) else { return };
    let Some(browser) = Browser::start() else {
        return;
    };
    let url = &site.server.url;
    browser.go(&format!("{url}/login"));
    let button = browser.find("#sign-on");
    assert!(browser.text().contains("Sign in with Test ID"));
    browser.click(&button);
    provider_form(&browser, "admin-ann");
    browser.wait_until("signed in", "return location.pathname === '/contracts';");
    assert!(
        browser.text().contains("admin-ann · admin"),
        "{}",
        browser.text()
    );
    assert_eq!(
        users(&site.data).get("admin-ann").map(String::as_str),
        Some("admin")
    );

    // Signing out offers the provider's sign-out too.
    browser.click(&browser.find("header form button[type=submit]"));
    browser.wait_until("signed out", "return location.pathname === '/login';");
    let link = browser
        .run("return document.querySelector('#provider-sign-out').href;")
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link.starts_with(&site.provider.issuer), "{link}");
    assert!(link.contains("post_logout_redirect_uri="), "{link}");

    // The second sign-in (the provider remembers the browser) finds the
    // same account: no second user.
    browser.click(&browser.find("#sign-on"));
    browser.wait_until(
        "signed in again",
        "return location.pathname === '/contracts';",
    );
    assert!(browser.text().contains("admin-ann · admin"));
    let listed = users(&site.data);
    assert_eq!(listed.len(), 1, "{listed:?}");

    // A client by the claim; a user whose group maps to nothing gets the
    // default role.
    for (login, role) in [("client-carl", "client"), ("dora", "freelancer")] {
        let other = Browser::start().unwrap();
        other.go(&format!("{url}/login/oidc"));
        provider_form(&other, login);
        other.wait_until("signed in", "return location.pathname === '/contracts';");
        assert_eq!(users(&site.data).get(login).map(String::as_str), Some(role));
    }
}

/// A browser without JavaScript for the protocol's refusals: cookies per
/// host, no redirects followed.
struct Http {
    agent: ureq::Agent,
    cookies: HashMap<String, HashMap<String, String>>,
}

/// An answer: status, `Location`, body.
struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Http {
    fn new(cert: &[u8]) -> Http {
        Http {
            agent: ureq::Agent::config_builder()
                .tls_config(
                    ureq::tls::TlsConfig::builder()
                        .root_certs(crate::common::pinned_roots(cert))
                        .build(),
                )
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into(),
            cookies: HashMap::new(),
        }
    }

    fn host(url: &str) -> String {
        url.split('/').take(3).collect::<Vec<_>>().join("/")
    }

    fn cookie_header(&self, url: &str) -> String {
        self.cookies
            .get(&Http::host(url))
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    fn keep(&mut self, url: &str, response: ureq::http::Response<ureq::Body>) -> Answer {
        let jar = self.cookies.entry(Http::host(url)).or_default();
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                jar.insert(k.trim().to_owned(), v.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let location = location.map(|l| {
            if l.starts_with('/') {
                format!("{}{l}", Http::host(url))
            } else {
                l
            }
        });
        let body = response.into_body().read_to_string().unwrap_or_default();
        Answer {
            status,
            location,
            body,
        }
    }

    fn get(&mut self, url: &str) -> Answer {
        let response = self
            .agent
            .get(url)
            .header("Cookie", &self.cookie_header(url))
            .call()
            .unwrap();
        self.keep(url, response)
    }

    fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Answer {
        let response = self
            .agent
            .post(url)
            .header("Cookie", &self.cookie_header(url))
            .send_form(fields.iter().copied())
            .unwrap();
        self.keep(url, response)
    }

    /// From the server's `/login/oidc` through the provider's form as
    /// `login`: the callback address the provider sends back (not yet
    /// visited).
    fn through_provider(&mut self, server: &str, login: &str) -> String {
        let mut next = self
            .get(&format!("{server}/login/oidc"))
            .location
            .expect("the server sends the browser to the provider");
        for _ in 0..10 {
            if next.starts_with(server) {
                return next;
            }
            let answer = self.get(&next);
            if answer.status == 200 && answer.body.contains("name=\"login\"") {
                let action = answer
                    .body
                    .split("action=\"")
                    .nth(1)
                    .and_then(|a| a.split('"').next())
                    .expect("the form's action")
                    .to_owned();
                let action = format!("{}{action}", Http::host(&next));
                next = self
                    .post_form(&action, &[("login", login), ("password", PASSWORD)])
                    .location
                    .expect("the form's answer redirects");
            } else {
                next = answer
                    .location
                    .unwrap_or_else(|| panic!("{}: {}", answer.status, answer.body));
            }
        }
        panic!("the provider never sent the browser back");
    }
}

/// The words of the server's refusal page.
fn refusal(answer: &Answer) -> String {
    let at = answer
        .body
        .find("id=\"sign-on-error\"")
        .unwrap_or_else(|| panic!("{}: {}", answer.status, answer.body));
    let rest = &answer.body[at..];
    rest[rest.find('>').unwrap() + 1..]
        .split('<')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn wrong_states_replayed_codes_and_bad_id_tokens_are_refused_in_words() {
    let Some(site) = site(&[]) else { return };
    let cert = std::fs::read(site.data.join("tls/cert.pem")).unwrap();
    let server = site.server.url.clone();

    // A good round for reference: signed in, with a session cookie.
    let mut http = Http::new(&cert);
    let callback = http.through_provider(&server, "erin");
    let done = http.get(&callback);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Signed in as"), "{}", done.body);

    // The same answer again: its state was used.
    let again = http.get(&callback);
    assert_eq!(again.status, 400);
    assert!(
        refusal(&again).contains("expired or was used already"),
        "{}",
        again.body
    );

    // A made-up state.
    let bogus = http.get(&format!(
        "{server}/login/oidc/callback?code=x&state=made-up"
    ));
    assert!(refusal(&bogus).contains("expired or was used already"));

    // The used code with a fresh state of this browser: the provider
    // refuses the code.
    let code = callback
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_owned();
    let fresh = http.get(&format!("{server}/login/oidc")).location.unwrap();
    let state = fresh
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .unwrap()
        .to_owned();
    let replayed = http.get(&format!(
        "{server}/login/oidc/callback?code={code}&state={state}"
    ));
    assert_eq!(replayed.status, 400);
    let words = refusal(&replayed);
    assert!(words.contains("refused the sign-in code"), "{words}");
    assert!(words.contains("invalid_grant"), "{words}");

    // A callback in a browser that did not start the sign-in.
    let mut mallory = Http::new(&cert);
    let elsewhere = http.through_provider(&server, "erin");
    let taken = mallory.get(&elsewhere);
    assert!(
        refusal(&taken).contains("started in another browser"),
        "{}",
        taken.body
    );

    // ID tokens the provider signs, with a wrong claim.
    for (mode, wanted) in [
        ("wrong-audience", "meant for another application"),
        ("expired", "has expired"),
        ("wrong-nonce", "does not belong to this sign-in"),
    ] {
        site.provider.set_mode(mode);
        let mut fresh = Http::new(&cert);
        let callback = fresh.through_provider(&server, "erin");
        let refused = fresh.get(&callback);
        assert_eq!(refused.status, 400, "{mode}: {}", refused.body);
        let words = refusal(&refused);
        assert!(words.contains(wanted), "{mode}: {words}");
        assert!(!refused.body.contains("Signed in as"));
    }
    site.provider.set_mode("normal");

    // Nobody but erin was made, once.
    let listed = users(&site.data);
    assert_eq!(listed.len(), 1, "{listed:?}");
}

#[test]
fn passwords_can_be_turned_off_and_unknown_people_refused() {
    let Some(site) = site(&["--no-password-sign-in", "--oidc-new-users", "none"]) else {
        return;
    };
    let cert = std::fs::read(site.data.join("tls/cert.pem")).unwrap();
    let server = site.server.url.clone();
    let mut http = Http::new(&cert);
    let page = http.get(&format!("{server}/login"));
    assert!(page.body.contains("Sign in with Test ID"));
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);
    // The API's password sign-in says why not.
    let answer = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(crate::common::pinned_roots(&cert))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(format!("{server}/api/v1/session"))
        .send_json(serde_json::json!({"login": "x", "password": "y"}))
        .unwrap();
    assert_eq!(answer.status().as_u16(), 403);
    let body = answer.into_body().read_to_string().unwrap();
    assert!(body.contains("password_sign_in_off"), "{body}");
    // Nobody is made at a first sign-in.
    let callback = http.through_provider(&server, "frank");
    let refused = http.get(&callback);
    assert_eq!(refused.status, 403);
    assert!(
        refusal(&refused).contains("no Timecard account"),
        "{}",
        refused.body
    );
    assert!(users(&site.data).is_empty());
}

#[test]
fn the_app_signs_in_through_the_browser() {
    let Some(site) = site(&[]) else { return };
    let Some(browser) = Browser::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    // The "browser" the app opens writes the address down; the test's
    // Chromium goes there.
    let opened = dir.path().join("opened");
    let script = dir.path().join("browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > {}\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let ca = site.data.join("tls/cert.pem");
    let login = std::process::Command::new(env!("CARGO_BIN_EXE_timecard"))
        .args(["login", "--server", &site.server.url, "--ca"])
        .arg(&ca)
        .arg("--browser")
        .env("TIMECARD_DATA_DIR", &app)
        .env("BROWSER", format!("{} %s", script.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        if let Ok(url) = std::fs::read_to_string(&opened)
            && !url.is_empty()
        {
            break url;
        }
        assert!(Instant::now() < deadline, "the app opened no browser");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        url.starts_with(&format!("{}/login/oidc?app_redirect=", site.server.url)),
        "{url}"
    );
    browser.go(&url);
    provider_form(&browser, "gina");
    browser.wait_until(
        "the app's page",
        "return document.querySelector('#timecard-signed-in') !== null;",
    );
    assert!(browser.text().contains("Signed in to Timecard"));
    let out = login.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("Signed in to {} as gina.", site.server.url)),
        "{}",
        text(&out)
    );
    // The session works: the app reads its contracts from the server.
    let out = timecard(&app, &["contracts", "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        users(&site.data).get("gina").map(String::as_str),
        Some("freelancer")
    );

    // The same code twice, or with another verifier, is refused.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(crate::common::pinned_roots(&std::fs::read(&ca).unwrap()))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into();
    let answer = agent
        .post(format!("{}/api/v1/session/code", site.server.url))
        .send_json(serde_json::json!({"code": "made-up", "verifier": "x"}))
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    assert!(
        answer
            .into_body()
            .read_to_string()
            .unwrap()
            .contains("code_invalid")
    );
}

// I5 in the window: the sign-in dialog finds the provider's name, its
// "Sign in with NAME" opens the browser (Chromium here) and the window
// switches to the server once the browser is back.
#[test]
fn the_window_signs_in_with_the_provider_through_the_browser() {
    use egui_kittest::kittest::Queryable as _;
    let Some(site) = site(&[]) else { return };
    let Some(browser) = Browser::start() else {
        return;
    };
    let mut w = crate::ui::open();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("server.pem");
    std::fs::copy(site.data.join("tls/cert.pem"), &ca).unwrap();
    w.click("Settings");
    w.click("Use my organisation's server…");
    w.harness.state_mut().state.signin = Some(timecard::ui::SignInForm {
        server: site.server.url.clone(),
        certificate: ca.display().to_string(),
        ..Default::default()
    });
    w.until("the provider's name", |app| {
        app.state
            .signin
            .as_ref()
            .and_then(|f| f.provider.as_ref())
            .is_some_and(|p| p.lock().unwrap().1 == Some(Some("Test ID".to_owned())))
    });
    for _ in 0..4 {
        w.harness.step();
    }
    // The form's browser part opens the system browser; where it went is
    // shown (and read here) for when none opens.
    w.harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Sign in with Test ID")
        .click();
    w.harness.step();
    w.until("the address the browser went to", |app| {
        app.state.signin_browser_url.lock().unwrap().is_some()
    });
    let url = w
        .harness
        .state()
        .state
        .signin_browser_url
        .lock()
        .unwrap()
        .clone()
        .unwrap();
    assert!(url.contains("/login/oidc?app_redirect="), "{url}");
    browser.go(&url);
    provider_form(&browser, "hank");
    browser.wait_until(
        "the app's page",
        "return document.querySelector('#timecard-signed-in') !== null;",
    );
    w.until("signed in to the server", |app| {
        app.engine().is_some_and(|e| !e.connection.is_builtin()) && app.state.signin.is_none()
    });
    assert_eq!(
        users(&site.data).get("hank").map(String::as_str),
        Some("freelancer")
    );
}
