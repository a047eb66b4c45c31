//! A real SMTP server on loopback for the mail tests: aiosmtpd (Python,
//! `python3-aiosmtpd`) writing what it receives into a Maildir. When it
//! is not installed the tests skip loudly; under `TIMECARD_REQUIRE_SMTP=1`
//! (CI) that is a failure.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// aiosmtpd listening on `127.0.0.1:port`, storing mail in `maildir`.
pub struct Smtpd {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

/// A Python that has aiosmtpd, if any.
fn python() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Whether the SMTP tests can run; `false` (or a panic under
/// `TIMECARD_REQUIRE_SMTP`) when aiosmtpd is missing.
pub fn available() -> bool {
    if python().is_some() {
        return true;
    }
    assert!(
        std::env::var_os("TIMECARD_REQUIRE_SMTP").is_none(),
        "TIMECARD_REQUIRE_SMTP is set but aiosmtpd is not installed (apt-get install python3-aiosmtpd)"
    );
    eprintln!("SKIPPED: aiosmtpd is not installed (apt-get install python3-aiosmtpd)");
    false
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Smtpd {
    /// Starts aiosmtpd on `port` with its Maildir under `dir`, and waits
    /// until it accepts connections.
    pub fn start(dir: &Path, port: u16) -> Smtpd {
        let maildir = dir.join("maildir");
        let child = Command::new(python().expect("aiosmtpd"))
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let smtpd = Smtpd {
            child,
            port,
            maildir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        smtpd
    }

    /// Every mail received so far, as stored (headers and body).
    pub fn mails(&self) -> Vec<Mail> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Ok(raw) = std::fs::read_to_string(entry.path()) {
                    out.push(Mail::parse(&raw));
                }
            }
        }
        out
    }

    /// Waits (up to `secs`) until `wanted` holds of the mails received.
    pub fn wait_for(&self, secs: u64, what: &str, wanted: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let mails = self.mails();
            if wanted(&mails) {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {secs} s; received: {:#?}",
                mails
                    .iter()
                    .map(|m| (&m.to, &m.subject))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received mail: its recipient, subject and body (quoted-printable
/// undone).
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Mail {
    fn parse(raw: &str) -> Mail {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        let quoted = header("Content-Transfer-Encoding").eq_ignore_ascii_case("quoted-printable");
        Mail {
            to: header("To"),
            subject: header("Subject"),
            body: if quoted {
                unquote(body)
            } else {
                body.to_owned()
            },
        }
    }

    /// The first `https://…/{path}/<64 hex>` link in the body, as a path.
    pub fn link_path(&self, path: &str) -> String {
        let at = self
            .body
            .find(&format!("/{path}/"))
            .unwrap_or_else(|| panic!("no /{path}/ link in {}", self.body));
        self.body[at..at + path.len() + 2 + 64].to_owned()
    }
}

/// Quoted-printable decoded (soft line breaks and `=XX`).
fn unquote(text: &str) -> String {
    let text = text.replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
