//! The HTTPS client (Y1–Y5): rustls with the ring provider, an optional
//! pinned certificate, `http://` refused, HTTPS_PROXY / NO_PROXY honoured,
//! timeouts set, every failure typed. It compares the server's `Date` with
//! the local clock on every answer (Y4).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use ureq::Agent;
use ureq::http::Response;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use super::error::{self, SyncError};
use super::trust::{self, Fingerprint, Trust};
use timecard_core::clock::Clock;
use timecard_core::domain::SegmentId;
use timecard_core::protocol::{
    ContractsResponse, DiaryResponse, Health, MSGPACK, ProblemReport, ReleaseOffer, ReportReceipt,
    ServerConfig, SessionInfo, SignIn, UploadBatch, UploadResponse,
};

/// A checked server address: `https://host[:port]`, no trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddress {
    base: String,
    host: String,
}

impl ServerAddress {
    /// Accepts `https://…` only (Y1); `http://` is refused with the reason.
    pub fn parse(text: &str) -> Result<Self, SyncError> {
        let text = text.trim().trim_end_matches('/');
        let lower = text.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("http://") {
            return Err(SyncError::Insecure {
                address: text.to_owned(),
                suggestion: format!("https://{}", &text[text.len() - rest.len()..]),
            });
        }
        let Some(rest) = lower.strip_prefix("https://") else {
            return Err(SyncError::BadAddress(text.to_owned()));
        };
        let host = text[text.len() - rest.len()..]
            .split('/')
            .next()
            .unwrap_or_default();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(SyncError::BadAddress(text.to_owned()));
        }
        Ok(ServerAddress {
            base: text.to_owned(),
            host: host.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// `host:port` as written, for messages.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// The certificates of a CA file, or why it cannot be used.
fn ca_certificates(
    address: &ServerAddress,
    pem: &[u8],
) -> Result<Vec<Certificate<'static>>, SyncError> {
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()
        .map_err(|e| SyncError::Certificate {
            host: address.host().to_owned(),
            detail: format!("the pinned certificate file is not valid PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(SyncError::Certificate {
            host: address.host().to_owned(),
            detail: "the pinned certificate file holds no certificate".into(),
        });
    }
    Ok(certs)
}

/// The agent's settings: rustls, the timeouts, proxies from the
/// environment (Y3), HTTPS only (Y1).
fn agent_config(roots: RootCerts) -> ureq::config::Config {
    Agent::config_builder()
        .tls_config(
            TlsConfig::builder()
                .provider(TlsProvider::Rustls)
                .root_certs(roots)
                .build(),
        )
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .timeout_send_body(Some(Duration::from_secs(300)))
        .timeout_recv_body(Some(Duration::from_secs(120)))
        .proxy(ureq::Proxy::try_from_env())
        .https_only(true)
        .build()
}

/// The fingerprint of the certificate `address` presents (Y7), looked at
/// without trusting it: the handshake stops after the certificate, before
/// anything is sent. Through the same proxy as every other call (Y3).
pub fn presented_certificate(address: &ServerAddress) -> Result<Fingerprint, SyncError> {
    let (connector, seen) = trust::look_connector();
    let agent = Agent::with_parts(
        agent_config(RootCerts::WebPki),
        connector,
        ureq::unversioned::resolver::DefaultResolver::default(),
    );
    let result = agent
        .get(format!("{}/api/v1/health", address.as_str()))
        .config()
        .timeout_global(Some(HEALTH_TIMEOUT))
        .build()
        .call();
    if let Some(fingerprint) = *seen.lock().expect("seen lock") {
        return Ok(fingerprint);
    }
    Err(match result {
        Err(e) => error::from_transport(address.host(), e),
        Ok(_) => SyncError::Protocol {
            host: address.host().to_owned(),
            detail: "the connection was not encrypted".into(),
        },
    })
}

/// Talks to one server.
pub struct ApiClient {
    address: ServerAddress,
    agent: Agent,
    token: Mutex<Option<String>>,
    clock: Arc<dyn Clock>,
    skew_secs: Mutex<Option<i64>>,
}

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a reachability check (`GET /health`) may take in all.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

impl ApiClient {
    /// A client for `address`, trusting only `pinned_pem` when given
    /// (a self-hosted server's CA or self-signed certificate), otherwise the
    /// usual public roots.
    pub fn new(
        address: ServerAddress,
        pinned_pem: Option<&[u8]>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SyncError> {
        let trust = match pinned_pem {
            Some(pem) => Trust::CaPem(pem.to_vec()),
            None => Trust::Public,
        };
        Self::with_trust(address, &trust, clock)
    }

    /// A client for `address` that trusts what `trust` says (Y1, Y7).
    pub fn with_trust(
        address: ServerAddress,
        trust: &Trust,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SyncError> {
        timecard_core::tls::install_crypto_provider();
        let roots = match trust {
            Trust::CaPem(pem) => RootCerts::Specific(Arc::new(ca_certificates(&address, pem)?)),
            Trust::Public | Trust::Pinned(_) => RootCerts::WebPki,
        };
        let config = agent_config(roots);
        let agent = match trust {
            Trust::Pinned(fingerprint) => Agent::with_parts(
                config,
                trust::pinned_connector(*fingerprint),
                ureq::unversioned::resolver::DefaultResolver::default(),
            ),
            _ => config.into(),
        };
        Ok(ApiClient {
            address,
            agent,
            token: Mutex::new(None),
            clock,
            skew_secs: Mutex::new(None),
        })
    }

    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    pub fn set_token(&self, token: Option<String>) {
        *self.token.lock().expect("token lock") = token;
    }

    pub fn token(&self) -> Option<String> {
        self.token.lock().expect("token lock").clone()
    }

    /// Server time minus local time, in seconds, from the last answer (Y4).
    pub fn clock_skew_secs(&self) -> Option<i64> {
        *self.skew_secs.lock().expect("skew lock")
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.address.as_str())
    }

    fn bearer(&self) -> Result<String, SyncError> {
        self.token()
            .map(|t| format!("Bearer {t}"))
            .ok_or(SyncError::SignedOut)
    }

    /// Notes the clock skew, turns error statuses into errors.
    fn check(
        &self,
        result: Result<Response<ureq::Body>, ureq::Error>,
    ) -> Result<Response<ureq::Body>, SyncError> {
        let mut response = result.map_err(|e| error::from_transport(self.address.host(), e))?;
        if let Some(date) = response
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok())
        {
            let server: DateTime<Utc> = date.into();
            *self.skew_secs.lock().expect("skew lock") =
                Some((server - self.clock.now()).num_seconds());
        }
        let status = response.status().as_u16();
        if status < 400 {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .unwrap_or_default();
        let error = error::from_status(self.address.host(), status, &body, retry_after);
        log::warn!("{} answered HTTP {status}: {error}", self.address.host());
        Err(error)
    }

    fn json<T: DeserializeOwned>(
        &self,
        mut response: Response<ureq::Body>,
    ) -> Result<T, SyncError> {
        response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_json()
            .map_err(|e| SyncError::Protocol {
                host: self.address.host().to_owned(),
                detail: format!(
                    "the answer is not what Timecard expects ({e}); is this a Timecard server?"
                ),
            })
    }

    /// Whether the server answers; cheap, and bounded by
    /// [`HEALTH_TIMEOUT`] so a server that accepts but hangs counts as down.
    pub fn health(&self) -> Result<Health, SyncError> {
        let request = self
            .agent
            .get(self.url("/health"))
            .config()
            .timeout_global(Some(HEALTH_TIMEOUT))
            .build();
        let r = self.check(request.call())?;
        self.json(r)
    }

    pub fn config(&self) -> Result<ServerConfig, SyncError> {
        let r = self.check(self.agent.get(self.url("/config")).call())?;
        self.json(r)
    }

    /// Signs in and keeps the token for later calls.
    pub fn sign_in(&self, login: &str, password: &str) -> Result<SessionInfo, SyncError> {
        self.sign_in_as_device(login, password, None)
    }

    /// Signs in bringing this device's ticket from its last sign-in, if
    /// any: while someone guesses at the account from elsewhere, the
    /// server still lets this device in.
    pub fn sign_in_as_device(
        &self,
        login: &str,
        password: &str,
        device_ticket: Option<String>,
    ) -> Result<SessionInfo, SyncError> {
        let body = SignIn {
            login: login.to_owned(),
            password: password.to_owned(),
            device_ticket,
        };
        let r = self
            .check(self.agent.post(self.url("/session")).send_json(&body))
            .inspect_err(|e| {
                log::warn!("sign-in to {} as {login} failed: {e}", self.address.host())
            })?;
        let session: SessionInfo = self.json(r)?;
        self.set_token(Some(session.token.clone()));
        log::info!("signed in to {} as {login}", self.address.host());
        Ok(session)
    }

    /// I5: exchanges a browser sign-in's one-time code, with the PKCE
    /// verifier it is bound to, for a session.
    pub fn sign_in_with_code(&self, code: &str, verifier: &str) -> Result<SessionInfo, SyncError> {
        let body = serde_json::json!({ "code": code, "verifier": verifier });
        let r = self
            .check(self.agent.post(self.url("/session/code")).send_json(&body))
            .inspect_err(|e| {
                log::warn!("browser sign-in to {} failed: {e}", self.address.host())
            })?;
        let session: SessionInfo = self.json(r)?;
        self.set_token(Some(session.token.clone()));
        log::info!(
            "signed in to {} as {} through the browser",
            self.address.host(),
            session.login
        );
        Ok(session)
    }

    /// I4: the identity provider the server signs people in with, if any:
    /// its name and where a browser sign-in starts.
    pub fn sign_on(&self) -> Result<Option<(String, String)>, SyncError> {
        match self.check(self.agent.get(self.url("/sign-on")).call()) {
            Ok(r) => {
                let info: serde_json::Value = self.json(r)?;
                Ok(Some((
                    info["name"].as_str().unwrap_or_default().to_owned(),
                    info["start"].as_str().unwrap_or("/login/oidc").to_owned(),
                )))
            }
            Err(SyncError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn sign_out(&self) -> Result<(), SyncError> {
        let auth = self.bearer()?;
        self.check(
            self.agent
                .delete(self.url("/session"))
                .header("Authorization", &auth)
                .call(),
        )?;
        self.set_token(None);
        Ok(())
    }

    /// The user's contracts with this week's totals; today's in `tz`.
    pub fn contracts(&self, tz: &str) -> Result<ContractsResponse, SyncError> {
        let auth = self.bearer()?;
        let r = self.check(
            self.agent
                .get(self.url("/contracts"))
                .query("tz", tz)
                .header("Authorization", &auth)
                .call(),
        )?;
        self.json(r)
    }

    /// The contract list unless it is still the one tagged `etag` (R14):
    /// `None` for `304 Not Modified`, whose empty body is not read as JSON;
    /// else the list with its new tag.
    pub fn contracts_if_changed(
        &self,
        tz: &str,
        etag: Option<&str>,
    ) -> Result<Option<(ContractsResponse, Option<String>)>, SyncError> {
        let auth = self.bearer()?;
        let mut request = self
            .agent
            .get(self.url("/contracts"))
            .query("tz", tz)
            .header("Authorization", &auth);
        if let Some(tag) = etag {
            request = request.header("If-None-Match", tag);
        }
        let r = self.check(request.call())?;
        if r.status().as_u16() == 304 {
            return Ok(None);
        }
        let tag = r
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Some((self.json(r)?, tag)))
    }

    /// Uploads cache-file bodies, oldest first; one result per body.
    pub fn upload(&self, bodies: Vec<Vec<u8>>) -> Result<UploadResponse, SyncError> {
        let auth = self.bearer()?;
        let batch = UploadBatch {
            segments: bodies.into_iter().map(serde_bytes::ByteBuf::from).collect(),
        };
        let bytes = rmp_serde::to_vec_named(&batch).expect("a batch serialises");
        let r = self.check(
            self.agent
                .post(self.url("/segments"))
                .header("Authorization", &auth)
                .content_type(MSGPACK)
                .send(&bytes[..]),
        )?;
        self.json(r)
    }

    /// Adds time worked away from the tracker (R8); the server cuts it on
    /// its grid and judges it like tracked time.
    pub fn add_manual(
        &self,
        request: &timecard_core::protocol::ManualTime,
    ) -> Result<timecard_core::protocol::ManualTimeAdded, SyncError> {
        let auth = self.bearer()?;
        let r = self.check(
            self.agent
                .post(self.url("/manual"))
                .header("Authorization", &auth)
                .send_json(request),
        )?;
        self.json(r)
    }

    /// Deletes an uploaded segment and its time (S4).
    pub fn delete_segment(&self, id: SegmentId) -> Result<(), SyncError> {
        let auth = self.bearer()?;
        self.check(
            self.agent
                .delete(self.url(&format!("/segments/{id}")))
                .header("Authorization", &auth)
                .call(),
        )?;
        Ok(())
    }

    /// One local day of the Work Diary (T1).
    pub fn diary(&self, date: Option<NaiveDate>, tz: &str) -> Result<DiaryResponse, SyncError> {
        let auth = self.bearer()?;
        let mut request = self
            .agent
            .get(self.url("/diary"))
            .query("tz", tz)
            .header("Authorization", &auth);
        if let Some(date) = date {
            request = request.query("date", date.format("%Y-%m-%d").to_string());
        }
        let r = self.check(request.call())?;
        self.json(r)
    }

    /// The newest release of the app for this system, processor and kind
    /// (U1); `None` when the server offers none.
    pub fn latest_release(
        &self,
        kind: timecard_core::release::Kind,
    ) -> Result<Option<ReleaseOffer>, SyncError> {
        let result = self.check(
            self.agent
                .get(self.url("/releases/latest"))
                .query("os", timecard_core::release::this_os())
                .query("arch", timecard_core::release::this_arch())
                .query("kind", kind.name())
                .call(),
        );
        match result {
            Ok(r) => self.json(r).map(Some),
            Err(SyncError::Api { code, .. }) if code == "no_release" => Ok(None),
            // A server older than releases answers this route as unknown.
            Err(SyncError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Downloads a release file (`offer.url`), at most `max_bytes`.
    pub fn download(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, SyncError> {
        let mut r = self.check(
            self.agent
                .get(format!("{}{path}", self.address.as_str()))
                .config()
                .timeout_recv_body(Some(Duration::from_secs(600)))
                .build()
                .call(),
        )?;
        r.body_mut()
            .with_config()
            .limit(max_bytes)
            .read_to_vec()
            .map_err(|e| error::from_transport(self.address.host(), e))
    }

    /// A segment's screenshot (JPEG).
    pub fn screenshot(&self, id: SegmentId) -> Result<Vec<u8>, SyncError> {
        self.picture(id, "screenshot")
    }

    /// A segment's thumbnail (JPEG, 320 px wide), for the Work Diary.
    pub fn thumbnail(&self, id: SegmentId) -> Result<Vec<u8>, SyncError> {
        self.picture(id, "thumbnail")
    }

    fn picture(&self, id: SegmentId, which: &str) -> Result<Vec<u8>, SyncError> {
        let auth = self.bearer()?;
        let mut r = self.check(
            self.agent
                .get(self.url(&format!("/segments/{id}/{which}")))
                .header("Authorization", &auth)
                .call(),
        )?;
        r.body_mut()
            .with_config()
            .limit(32 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| error::from_transport(self.address.host(), e))
    }

    pub fn report(&self, report: &ProblemReport) -> Result<ReportReceipt, SyncError> {
        let auth = self.bearer()?;
        let r = self.check(
            self.agent
                .post(self.url("/reports"))
                .header("Authorization", &auth)
                .send_json(report),
        )?;
        self.json(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_addresses_are_taken() {
        let a = ServerAddress::parse("https://sync.example.com:8443/").unwrap();
        assert_eq!(a.as_str(), "https://sync.example.com:8443");
        assert_eq!(a.host(), "sync.example.com:8443");
        match ServerAddress::parse("http://sync.example.com") {
            Err(SyncError::Insecure { suggestion, .. }) => {
                assert_eq!(suggestion, "https://sync.example.com")
            }
            other => panic!("{other:?}"),
        }
        let err = ServerAddress::parse("HTTP://x").unwrap_err().to_string();
        assert!(err.contains("only talks to servers over HTTPS"), "{err}");
        assert!(matches!(
            ServerAddress::parse("sync.example.com"),
            Err(SyncError::BadAddress(_))
        ));
        assert!(matches!(
            ServerAddress::parse("https://"),
            Err(SyncError::BadAddress(_))
        ));
    }
}
