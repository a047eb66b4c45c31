//! Which server to talk to and as whom: the configured server with the saved
//! session (Y5), or — with nothing configured — the built-in local server,
//! which the app provides through [`LocalServer`]: the server's store and
//! rules in this process, answering the same [`Api`] calls as a server over
//! HTTPS, as a demo account (docs/SPEC.md, *The built-in server*). This
//! crate knows only the seam; the server itself is not a dependency of the
//! client.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::platform::DataDir;
use crate::settings::Settings;
use crate::sync::{Api, ApiClient, Fingerprint, ServerAddress, SyncError, Trust};
use timecard_core::clock::Clock;
use timecard_core::fs::read::read_regular;

/// The login of the built-in server's account.
pub const DEMO_LOGIN: &str = "demo";
/// What the session file says for the built-in server.
pub const BUILTIN: &str = "builtin";

/// The saved session (`session.json`, owner-only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSession {
    pub server: String,
    pub login: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl SavedSession {
    pub fn load(path: &Path) -> Option<SavedSession> {
        serde_json::from_slice(&read_regular(path, 64 * 1024).ok()?).ok()
    }

    /// Writes the session with owner-only permissions, durably.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(self).expect("session serialises");
        write_private(path, &json)
    }
}

/// The ticket a server gave this device at its last sign-in (Y6), for
/// the next one.
#[derive(Serialize, Deserialize)]
struct DeviceTicket {
    server: String,
    ticket: String,
}

impl DeviceTicket {
    fn load(path: &Path) -> Option<DeviceTicket> {
        serde_json::from_slice(&read_regular(path, 4096).ok()?).ok()
    }

    fn save(&self, path: &Path) -> io::Result<()> {
        let json = serde_json::to_vec(self).map_err(io::Error::other)?;
        write_private(path, &json)
    }
}

/// What this computer remembers of the servers it signed in to
/// (`known-servers.json`, owner-only; kept at sign-out): the last login, to
/// fill the sign-in form, and the certificate trusted on first use (Y7).
#[derive(Default, Serialize, Deserialize)]
struct KnownServers {
    #[serde(default)]
    servers: std::collections::BTreeMap<String, KnownServer>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct KnownServer {
    #[serde(default)]
    login: Option<String>,
    /// `SHA256:…`, when the certificate is trusted by its fingerprint.
    #[serde(default)]
    fingerprint: Option<String>,
}

impl KnownServers {
    fn load(data: &DataDir) -> KnownServers {
        read_regular(&data.known_servers_file(), 256 * 1024)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn save(&self, data: &DataDir) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_private(&data.known_servers_file(), &json)
    }
}

/// The login last used on `server` (`https://host:port`), to fill the
/// sign-in form with.
pub fn last_login(data: &DataDir, server: &str) -> Option<String> {
    let address = ServerAddress::parse(server).ok()?;
    KnownServers::load(data)
        .servers
        .get(address.as_str())?
        .login
        .clone()
}

/// The certificate fingerprint trusted for `address` on first use (Y7).
pub fn pinned_fingerprint(data: &DataDir, address: &ServerAddress) -> Option<Fingerprint> {
    let known = KnownServers::load(data);
    let text = known.servers.get(address.as_str())?.fingerprint.as_ref()?;
    Fingerprint::parse(text).ok()
}

/// What the client trusts for the configured server: the certificate
/// file chosen at sign-in (Y1), else the fingerprint trusted on first use
/// (Y7), else the public roots. Every connection to it (sync, diary,
/// updates, reports, sign-out) is made with this.
pub fn trust_for(
    data: &DataDir,
    settings: &Settings,
    address: &ServerAddress,
) -> anyhow::Result<Trust> {
    if let Some(path) = &settings.server_ca {
        let pem = read_regular(path, 1024 * 1024)
            .with_context(|| format!("cannot read the server certificate {}", path.display()))?;
        return Ok(Trust::CaPem(pem));
    }
    Ok(match pinned_fingerprint(data, address) {
        Some(fingerprint) => Trust::Pinned(fingerprint),
        None => Trust::Public,
    })
}

/// Keeps a successful sign-in to `address`: the pinned certificate (if one
/// was given), the server in the settings and the session. What another
/// server said before (its contract list and rules) is forgotten.
fn keep_sign_in(
    data: &DataDir,
    settings: &mut Settings,
    address: &ServerAddress,
    trust: &Trust,
    session: timecard_core::protocol::SessionInfo,
) -> anyhow::Result<()> {
    // The update key is pinned again after this sign-in (U2).
    match fs::remove_file(data.update_key_file()) {
        Ok(()) => log::info!("forgot the update key pinned before this sign-in"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => log::warn!("cannot remove {}: {e}", data.update_key_file().display()),
    }
    if settings.server.as_deref() != Some(address.as_str()) {
        for stale in [data.contracts_file(), data.server_config_file()] {
            match fs::remove_file(&stale) {
                Ok(()) => log::info!("forgot {} of the previous server", stale.display()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => log::warn!("cannot remove {}: {e}", stale.display()),
            }
        }
    }
    settings.server_ca = match trust {
        Trust::CaPem(pem) => {
            write_private(&data.server_ca_file(), pem)
                .context("cannot save the server's certificate")?;
            Some(data.server_ca_file())
        }
        Trust::Public | Trust::Pinned(_) => None,
    };
    // Y7: the fingerprint is pinned for this server (or forgotten when it
    // is trusted otherwise), and the login remembered for the next form.
    let mut known = KnownServers::load(data);
    known.servers.insert(
        address.as_str().to_owned(),
        KnownServer {
            login: Some(session.login.clone()),
            fingerprint: match trust {
                Trust::Pinned(fingerprint) => Some(fingerprint.to_string()),
                Trust::Public | Trust::CaPem(_) => None,
            },
        },
    );
    known
        .save(data)
        .context("cannot save the trusted certificate")?;
    settings.server = Some(address.as_str().to_owned());
    settings.save(&data.settings_file())?;
    SavedSession {
        server: address.as_str().to_owned(),
        login: session.login,
        token: session.token,
        expires_at: session.expires_at,
    }
    .save(&data.session_file())
    .context("cannot save the session")
}

/// Where to sign in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInTo {
    /// The built-in local server, as [`DEMO_LOGIN`]; nothing to type.
    Builtin,
    /// A sync server, `https://host[:port]`, as `login` with `password`.
    Server {
        address: String,
        /// A certificate file (PEM) to trust for it: its own CA or its
        /// self-signed certificate.
        certificate: Option<PathBuf>,
        /// The fingerprint of the one certificate to trust for it (Y7):
        /// what the user compared and accepted, or gave to
        /// `timecard login --fingerprint`.
        fingerprint: Option<Fingerprint>,
        login: String,
        password: String,
        /// I5: instead of the password, the one-time code of a browser
        /// sign-in (single sign-on) and the PKCE verifier it is bound to.
        browser_code: Option<BrowserCode>,
    },
}

/// Where a browser sign-in starts on a server (its `/login/oidc`).
pub const SIGN_ON_START: &str = "/login/oidc";

/// What a browser sign-in handed the app's loopback address (I5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserCode {
    pub code: String,
    pub verifier: String,
}

/// A sign-in that worked, for the front end to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    /// `https://host:port`, or `None` for the built-in server.
    pub server: Option<String>,
    pub login: String,
    /// How far this computer's clock is from the server's, when that is
    /// enough to get times wrong.
    pub clock_skew_secs: Option<i64>,
}

/// Why a sign-in did not happen; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("{0}")]
    Address(String),
    #[error("cannot read the certificate file {path}: {error}")]
    Certificate { path: String, error: io::Error },
    #[error("{0}")]
    Refused(String),
    /// Y7: the server's certificate is not trusted here; the front end
    /// shows `presented` and asks whether to trust it.
    #[error(
        "the certificate of {host} is not trusted by this computer{}. Its fingerprint is {presented}; if that is the fingerprint your server's administrator gave you (what `timecard-server serve` prints), trust it with --fingerprint {presented}",
        previous.map(|p| format!(" (it changed since you trusted {p})")).unwrap_or_default()
    )]
    Untrusted {
        host: String,
        presented: Fingerprint,
        /// The fingerprint trusted before, when the certificate changed.
        previous: Option<Fingerprint>,
    },
    /// Y7: the certificate is not the one whose fingerprint was given.
    #[error(
        "the certificate of {host} has the fingerprint {presented}, not {given}; nothing was sent to it. Compare again with what your server's administrator gave you"
    )]
    WrongFingerprint {
        host: String,
        given: Fingerprint,
        presented: Fingerprint,
    },
    #[error("signed in, but {0:#}")]
    Keep(anyhow::Error),
}

/// The one sign-in of both front ends (the window's form and `timecard
/// login`). Talks to the server (never call it on the UI thread); on
/// success the settings, the pinned certificate and the session are saved
/// in `data`, and `settings` holds what was saved.
pub fn sign_in(
    data: &DataDir,
    settings: &mut Settings,
    to: SignInTo,
    clock: Arc<dyn Clock>,
) -> Result<SignedIn, SignInError> {
    let SignInTo::Server {
        address,
        certificate,
        fingerprint,
        login,
        password,
        browser_code,
    } = to
    else {
        settings.server = None;
        settings.server_ca = None;
        settings
            .save(&data.settings_file())
            .map_err(|e| SignInError::Keep(e.into()))?;
        let _ = fs::remove_file(data.session_file());
        log::info!("using the built-in server");
        return Ok(SignedIn {
            server: None,
            login: DEMO_LOGIN.to_owned(),
            clock_skew_secs: None,
        });
    };
    let address =
        ServerAddress::parse(&address).map_err(|e| SignInError::Address(e.to_string()))?;
    let trust = match (certificate, fingerprint) {
        (Some(path), _) => Trust::CaPem(read_regular(&path, 1024 * 1024).map_err(|error| {
            SignInError::Certificate {
                path: path.display().to_string(),
                error,
            }
        })?),
        (None, Some(fingerprint)) => Trust::Pinned(fingerprint),
        (None, None) => Trust::Public,
    };
    let ticket = DeviceTicket::load(&data.device_ticket_file())
        .filter(|t| t.server == address.as_str())
        .map(|t| t.ticket);
    let attempt = |trust: &Trust| {
        let client = ApiClient::with_trust(address.clone(), trust, clock.clone())?;
        let session = match &browser_code {
            Some(code) => client.sign_in_with_code(&code.code, &code.verifier)?,
            None => client.sign_in_as_device(login.trim(), &password, ticket.clone())?,
        };
        Ok::<_, SyncError>((client, session))
    };
    let (trust, client, session) = match attempt(&trust) {
        Ok((client, session)) => (trust, client, session),
        // Y7: not trusted by the public roots: the certificate this
        // computer trusted before, if it is the one presented, or the
        // question.
        Err(SyncError::Certificate { host, .. }) if trust == Trust::Public => {
            let presented = crate::sync::presented_certificate(&address)
                .map_err(|e| SignInError::Refused(e.sign_in_message()))?;
            let previous = pinned_fingerprint(data, &address);
            if previous != Some(presented) {
                return Err(SignInError::Untrusted {
                    host,
                    presented,
                    previous,
                });
            }
            let trust = Trust::Pinned(presented);
            let (client, session) =
                attempt(&trust).map_err(|e| SignInError::Refused(e.sign_in_message()))?;
            (trust, client, session)
        }
        Err(SyncError::CertificateChanged {
            host,
            pinned,
            presented,
        }) => {
            return Err(SignInError::WrongFingerprint {
                host,
                given: pinned,
                presented,
            });
        }
        Err(e) => return Err(SignInError::Refused(e.sign_in_message())),
    };
    if let Some(ticket) = &session.device_ticket {
        let kept = DeviceTicket {
            server: address.as_str().to_owned(),
            ticket: ticket.clone(),
        };
        if let Err(e) = kept.save(&data.device_ticket_file()) {
            log::warn!("cannot keep this device's sign-in ticket: {e}");
        }
    }
    let login = session.login.clone();
    keep_sign_in(data, settings, &address, &trust, session).map_err(SignInError::Keep)?;
    log::info!("signed in to {} as {login}", address.as_str());
    // U2: a sign-in trusts the server's update key afresh.
    match crate::update::Installed::this()
        .map_err(crate::update::UpdateError::from)
        .and_then(|installed| crate::update::Updater::new(data, settings, clock, installed))
    {
        Ok(updater) => updater.pin_at_sign_in(),
        Err(e) => log::warn!("the update key was not pinned: {e}"),
    }
    Ok(SignedIn {
        server: Some(address.as_str().to_owned()),
        login,
        clock_skew_secs: client
            .clock_skew_secs()
            .filter(|skew| skew.abs() > crate::worker::snapshot::CLOCK_SKEW_WARN_SECS),
    })
}

/// Signs out of the configured server: tells it (best effort) and forgets
/// the session here. Cached time stays and uploads after the next sign-in.
/// Returns a warning when the server could not be told.
pub fn sign_out(data: &DataDir, settings: &Settings, clock: Arc<dyn Clock>) -> Option<String> {
    let mut warning = None;
    if let Some(url) = &settings.server
        && let Ok(connection) = connect_to(data, settings, url, clock)
        && connection.login.is_some()
        && let Err(e) = connection.client.sign_out()
    {
        warning = Some(format!(
            "the server was not told ({e}); the session is forgotten here anyway"
        ));
    }
    let _ = std::fs::remove_file(data.session_file());
    log::info!("signed out");
    warning
}

pub use timecard_core::fs::durable::write_private;

/// The built-in local server, as the app provides it: started for a
/// folder when no server is configured.
pub trait LocalServer: Send + Sync {
    /// Opens (creating on first use, with its demo account) the server
    /// that keeps its data in `dir`, and answers as that account.
    fn start(&self, dir: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<StartedLocal>;
}

/// A local server that runs until stopped (or dropped).
pub trait RunningLocal: Send + Sync {
    /// Stops answering: from now on every call fails as a server that
    /// cannot be reached would.
    fn stop(&self);
}

/// What a started local server gives the client: the API to call, the
/// account it answers as, and the handle that keeps it running.
pub struct StartedLocal {
    pub api: Arc<dyn Api>,
    pub login: String,
    pub running: Box<dyn RunningLocal>,
}

/// No built-in server: a build of the app without one, or a front end
/// that never starts one.
pub struct NoLocalServer;

impl LocalServer for NoLocalServer {
    fn start(&self, _dir: &Path, _clock: Arc<dyn Clock>) -> anyhow::Result<StartedLocal> {
        anyhow::bail!(
            "this build of Timecard has no built-in server; sign in to your organisation's server"
        )
    }
}

/// A client ready to use, and the built-in server if that is what it talks to.
pub struct Connection {
    pub client: Arc<dyn Api>,
    /// Kept alive as long as the connection: the built-in server.
    pub builtin: Option<Box<dyn RunningLocal>>,
    /// Who is signed in, if anyone.
    pub login: Option<String>,
}

impl Connection {
    pub fn is_builtin(&self) -> bool {
        self.builtin.is_some()
    }
}

/// Connects as the settings say; with no server configured, to the
/// built-in one that `local` starts. Never waits on a remote server: the
/// saved token is used as it is, and the first call tells whether it still
/// works.
pub fn connect(
    data: &DataDir,
    settings: &Settings,
    clock: Arc<dyn Clock>,
    local: &dyn LocalServer,
) -> anyhow::Result<Connection> {
    match &settings.server {
        None => start_builtin(data, clock, local),
        Some(url) => connect_to(data, settings, url, clock),
    }
}

/// The configured server `url` with the saved session.
fn connect_to(
    data: &DataDir,
    settings: &Settings,
    url: &str,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Connection> {
    let address = ServerAddress::parse(url)?;
    let trust = trust_for(data, settings, &address)?;
    let client = ApiClient::with_trust(address.clone(), &trust, clock)?;
    let session = SavedSession::load(&data.session_file()).filter(|s| s.server == address.as_str());
    client.set_token(session.as_ref().map(|s| s.token.clone()));
    Ok(Connection {
        client: Arc::new(client),
        builtin: None,
        login: session.map(|s| s.login),
    })
}

/// Starts the built-in server in the data folder's `local-server/`, as
/// its demo account.
pub fn start_builtin(
    data: &DataDir,
    clock: Arc<dyn Clock>,
    local: &dyn LocalServer,
) -> anyhow::Result<Connection> {
    let started = local
        .start(&data.local_server_dir(), clock)
        .context("cannot start the built-in server")?;
    Ok(Connection {
        client: started.api,
        builtin: Some(started.running),
        login: Some(started.login),
    })
}
