//! Every way talking to the server can fail, in words that say what to do
//! (Y5). One function maps HTTP statuses, one maps transport failures.

use std::time::Duration;

use thiserror::Error;

use timecard_core::protocol::ErrorBody;

/// How [`SyncError::CertificateChanged`] begins, for a front end that
/// offers to sign in again next to it (Y7).
pub const CERTIFICATE_CHANGED: &str = "The server's certificate changed since you trusted it";

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SyncError {
    #[error(
        "{address} is refused: Timecard only talks to servers over HTTPS, so that your time and screenshots are encrypted on the way; use {suggestion}"
    )]
    Insecure { address: String, suggestion: String },
    #[error("{0:?} is not a server address; use https://host or https://host:port")]
    BadAddress(String),
    #[error(
        "can't reach {host} ({detail}) — time is being cached and uploaded when the connection is back"
    )]
    Unreachable { host: String, detail: String },
    #[error("{host} did not answer in time ({detail}) — time is being cached")]
    Timeout { host: String, detail: String },
    #[error(
        "the certificate of {host} is not trusted ({detail}); if this is your organisation's own server, sign in again to compare and trust its fingerprint"
    )]
    Certificate { host: String, detail: String },
    /// Y7: a server trusted on first use presented another certificate.
    #[error(
        "{CERTIFICATE_CHANGED} (was {pinned}, now {presented}). If your administrator replaced it, sign in again to trust the new one."
    )]
    CertificateChanged {
        host: String,
        pinned: timecard_core::tls::Fingerprint,
        presented: timecard_core::tls::Fingerprint,
    },
    #[error(
        "the certificate of {host} covers {}, not {name}; use one of those names, or have the server's admin add `--hostname {name}` to `timecard-server serve` (it then makes a new certificate: trust the new DATA/tls/cert.pem here with --ca FILE)",
        covers.join(", ")
    )]
    CertificateName {
        host: String,
        /// The name the address uses.
        name: String,
        /// The names the certificate covers.
        covers: Vec<String>,
    },
    #[error(
        "this computer's clock looks wrong ({detail}); set the correct date and time, then try again"
    )]
    ClockWrong { detail: String },
    #[error("wrong username or password")]
    WrongPassword,
    #[error("{message}")]
    TooManyAttempts {
        message: String,
        retry_after_secs: u64,
    },
    #[error("not signed in: time you track stays on this computer until you sign in again")]
    SignedOut,
    #[error("the session has expired; sign in again — nothing in the cache is lost")]
    SessionExpired,
    #[error(
        "{host} is down for maintenance — time is being cached; retrying in {retry_after_secs} s"
    )]
    Maintenance { host: String, retry_after_secs: u64 },
    #[error("{host} is busy — time is being cached; retrying in {retry_after_secs} s")]
    Busy { host: String, retry_after_secs: u64 },
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected answer from {host}: {detail}")]
    Protocol { host: String, detail: String },
}

impl SyncError {
    /// The error as an answer to a sign-in: what to fix in the form, without
    /// the note about cached time that fits the sync status.
    pub fn sign_in_message(&self) -> String {
        match self {
            SyncError::Unreachable { host, detail } => {
                format!("can't reach {host} ({detail}); check the address and your connection")
            }
            SyncError::Timeout { host, detail } => {
                format!("{host} did not answer in time ({detail}); try again")
            }
            SyncError::Certificate { host, detail } => format!(
                "the certificate of {host} is not trusted ({detail}); if this is your organisation's own server, compare its fingerprint with what its administrator gave you, or choose the certificate file they gave you"
            ),
            SyncError::Maintenance {
                host,
                retry_after_secs,
            } => format!("{host} is down for maintenance; try again in {retry_after_secs} s"),
            SyncError::Busy {
                host,
                retry_after_secs,
            } => format!("{host} is busy; try again in {retry_after_secs} s"),
            other => other.to_string(),
        }
    }

    /// Whether trying again later may help (the network, the server's
    /// state), as opposed to something the user must fix.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Unreachable { .. }
                | SyncError::Timeout { .. }
                | SyncError::Maintenance { .. }
                | SyncError::Busy { .. }
                | SyncError::Protocol { .. }
        ) || matches!(self, SyncError::Api { status, .. } if *status >= 500)
    }

    /// What the server asked us to wait (503/429 Retry-After).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Maintenance {
                retry_after_secs, ..
            }
            | SyncError::Busy {
                retry_after_secs, ..
            }
            | SyncError::TooManyAttempts {
                retry_after_secs, ..
            } => Some(Duration::from_secs(*retry_after_secs)),
            _ => None,
        }
    }

    /// A short machine-readable name, for `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Insecure { .. } => "insecure_address",
            SyncError::BadAddress(_) => "bad_address",
            SyncError::Unreachable { .. } => "unreachable",
            SyncError::Timeout { .. } => "timeout",
            SyncError::Certificate { .. } => "certificate",
            SyncError::CertificateName { .. } => "certificate_name",
            SyncError::CertificateChanged { .. } => "certificate_changed",
            SyncError::ClockWrong { .. } => "clock_wrong",
            SyncError::WrongPassword => "wrong_password",
            SyncError::TooManyAttempts { .. } => "too_many_attempts",
            SyncError::SignedOut => "signed_out",
            SyncError::SessionExpired => "session_expired",
            SyncError::Maintenance { .. } => "maintenance",
            SyncError::Busy { .. } => "busy",
            SyncError::Api { .. } => "api",
            SyncError::Protocol { .. } => "protocol",
        }
    }
}

/// Maps an HTTP error status and its body to a [`SyncError`].
pub fn from_status(host: &str, status: u16, body: &[u8], retry_after: Option<u64>) -> SyncError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (code, message) = match parsed {
        Some(b) => (b.error, b.message),
        None => (
            String::new(),
            format!(
                "{host} answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        ),
    };
    match (status, code.as_str()) {
        (401, "wrong_password") => SyncError::WrongPassword,
        (401, _) => SyncError::SessionExpired,
        (429, _) => SyncError::TooManyAttempts {
            message,
            retry_after_secs: retry_after.unwrap_or(60),
        },
        // The server sheds load (too many sign-ins or uploads at once).
        (503, "busy") => SyncError::Busy {
            host: host.to_owned(),
            retry_after_secs: retry_after.unwrap_or(5),
        },
        // The server's database cannot be reached: its own words, retried.
        (503, "unavailable") => SyncError::Api {
            status,
            code,
            message: format!("{host}: {message} — time is being cached"),
        },
        // The server's disk is full: its own words, retried.
        (507, _) => SyncError::Api {
            status,
            code,
            message: format!("{host}: {message}"),
        },
        (503, _) => SyncError::Maintenance {
            host: host.to_owned(),
            retry_after_secs: retry_after.unwrap_or(60),
        },
        _ => SyncError::Api {
            status,
            code,
            message,
        },
    }
}

/// Maps a transport failure (no HTTP answer) to a [`SyncError`].
pub fn from_transport(host: &str, err: ureq::Error) -> SyncError {
    let host = host.to_owned();
    if let Some(tls) = rustls_error(&err) {
        return from_rustls(host, tls);
    }
    match err {
        ureq::Error::Timeout(t) => SyncError::Timeout {
            host,
            detail: format!("{t}"),
        },
        ureq::Error::HostNotFound => SyncError::Unreachable {
            host,
            detail: "host not found".into(),
        },
        ureq::Error::ConnectionFailed => SyncError::Unreachable {
            host,
            detail: "connection failed".into(),
        },
        ureq::Error::Io(e) => SyncError::Unreachable {
            host,
            detail: plain_io(&e),
        },
        ureq::Error::Tls(detail) => SyncError::Certificate {
            host,
            detail: detail.to_owned(),
        },
        other => SyncError::Protocol {
            host,
            detail: other.to_string(),
        },
    }
}

fn rustls_error(err: &ureq::Error) -> Option<&rustls::Error> {
    match err {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    }
}

fn from_rustls(host: String, err: &rustls::Error) -> SyncError {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(C::Expired | C::NotValidYet)
        | rustls::Error::InvalidCertificate(
            C::ExpiredContext { .. } | C::NotValidYetContext { .. },
        ) => SyncError::ClockWrong {
            detail: format!("the server's certificate is not valid at this computer's time: {err}"),
        },
        rustls::Error::InvalidCertificate(C::NotValidForNameContext {
            expected,
            presented,
        }) => SyncError::CertificateName {
            host,
            name: expected.to_str().into_owned(),
            covers: presented.iter().map(|name| plain_name(name)).collect(),
        },
        rustls::Error::InvalidCertificate(C::Other(other)) => {
            match other
                .0
                .downcast_ref::<crate::sync::trust::CertificateChanged>()
            {
                Some(changed) => SyncError::CertificateChanged {
                    host,
                    pinned: changed.pinned,
                    presented: changed.presented,
                },
                None => SyncError::Certificate {
                    host,
                    detail: other.to_string(),
                },
            }
        }
        rustls::Error::InvalidCertificate(cert) => SyncError::Certificate {
            host,
            detail: plain_certificate_error(cert),
        },
        rustls::Error::NoCertificatesPresented => SyncError::Certificate {
            host,
            detail: "the server presented no certificate".into(),
        },
        _ => SyncError::Certificate {
            host,
            detail: format!("TLS failed: {err}"),
        },
    }
}

/// Why rustls refused a certificate, in words instead of its names
/// (`UnknownIssuer` …).
fn plain_certificate_error(err: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match err {
        C::UnknownIssuer => "it is not signed by an authority this computer knows: \
                             a self-signed or private certificate"
            .into(),
        C::BadSignature => "its signature does not check out".into(),
        C::Revoked => "it was revoked".into(),
        C::BadEncoding => "it cannot be read".into(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "it is not meant for a server".into()
        }
        other => format!("{other:?}"),
    }
}

/// A name as rustls reports it (`DnsName("vm")`, `IpAddress(10.0.0.5)`),
/// as the user writes it.
fn plain_name(presented: &str) -> String {
    if let Some(name) = presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
    {
        return name.to_owned();
    }
    let ip = presented
        .strip_prefix("IpAddress(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(presented);
    // rustls writes ::1 as 0::1.
    ip.parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| ip.to_owned())
}

fn plain_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset".into(),
        ConnectionAborted => "connection aborted".into(),
        UnexpectedEof => "the connection closed early".into(),
        TimedOut => "timed out".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_the_user_must_do() {
        let body = br#"{"error":"wrong_password","message":"wrong username or password"}"#;
        assert_eq!(from_status("h", 401, body, None), SyncError::WrongPassword);
        let body = br#"{"error":"session_expired","message":"x"}"#;
        assert_eq!(from_status("h", 401, body, None), SyncError::SessionExpired);
        let busy = from_status(
            "h",
            503,
            br#"{"error":"busy","message":"the server is busy"}"#,
            Some(3),
        );
        assert_eq!(busy.code(), "busy", "a busy server is not in maintenance");
        assert_eq!(busy.retry_after(), Some(Duration::from_secs(3)));
        assert!(busy.is_transient());
        let down = from_status(
            "h",
            503,
            br#"{"error":"unavailable","message":"the server's database cannot be reached just now"}"#,
            Some(5),
        );
        assert!(down.is_transient());
        assert!(down.to_string().contains("database"), "{down}");
        assert_ne!(
            down.code(),
            "maintenance",
            "a database outage is not maintenance"
        );
        let m = from_status("h", 503, b"{}", Some(30));
        assert_eq!(m.retry_after(), Some(Duration::from_secs(30)));
        assert!(m.is_transient());
        let locked = from_status(
            "h",
            423,
            br#"{"error":"week_locked","message":"locked"}"#,
            None,
        );
        assert!(
            matches!(&locked, SyncError::Api { status: 423, code, .. } if code == "week_locked")
        );
        assert!(!locked.is_transient());
        let junk = from_status("h", 500, b"<html>", None);
        assert!(junk.is_transient());
    }

    // Y7: rustls' names become words; a pinned certificate that changed
    // names both fingerprints and what to do.
    #[test]
    fn certificate_failures_are_said_in_words() {
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let said = from_rustls("h:1".into(), &unknown).to_string();
        assert!(said.contains("not signed by an authority"), "{said}");
        assert!(!said.contains("UnknownIssuer"), "{said}");
        let (pinned, presented) = (
            timecard_core::tls::Fingerprint([1; 32]),
            timecard_core::tls::Fingerprint([2; 32]),
        );
        let changed =
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                std::sync::Arc::new(crate::sync::trust::CertificateChanged { pinned, presented }),
            )));
        let mapped = from_rustls("h:1".into(), &changed);
        assert_eq!(mapped.code(), "certificate_changed");
        assert!(!mapped.is_transient());
        assert_eq!(
            mapped.to_string(),
            format!(
                "The server's certificate changed since you trusted it (was {pinned}, now {presented}). If your administrator replaced it, sign in again to trust the new one."
            )
        );
    }

    #[test]
    fn a_name_the_certificate_lacks_is_named_with_the_fix() {
        let err =
            rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
                expected: rustls::pki_types::ServerName::try_from("vm").unwrap(),
                presented: vec![
                    "DnsName(\"localhost\")".to_owned(),
                    "IpAddress(127.0.0.1)".to_owned(),
                    "IpAddress(0::1)".to_owned(),
                ],
            });
        let mapped = from_rustls("vm:8443".to_owned(), &err);
        assert_eq!(
            mapped,
            SyncError::CertificateName {
                host: "vm:8443".into(),
                name: "vm".into(),
                covers: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            }
        );
        let text = mapped.to_string();
        assert!(
            text.contains("covers localhost, 127.0.0.1, ::1, not vm"),
            "{text}"
        );
        assert!(text.contains("--hostname vm"), "{text}");
        assert!(!mapped.is_transient());
    }
}
