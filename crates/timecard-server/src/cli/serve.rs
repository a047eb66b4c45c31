//! `timecard-server serve`: its options, its start-up and its signals. It
//! prints where it listens and the certificate it presents (the names it
//! covers, its SHA-256 fingerprint), stops on SIGINT or SIGTERM, and reads
//! its certificate files again on SIGHUP. The server itself is
//! [`crate::launch::start`].

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::site::Site;
use crate::connection::ConnectionLimits;
use crate::launch::{self, ServerOptions};
use timecard_core::outln;
use timecard_core::protocol::ServerConfig;
use timecard_core::tls::{self, CertificateNames, CertificatePair};

/// `serve`'s options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: String,
    /// Certificate chain (PEM), e.g. from an ACME client; read again on
    /// SIGHUP. Without it a self-signed certificate is made into DATA/tls/.
    #[arg(long, requires = "key", value_name = "PEM")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert; read again on SIGHUP.
    #[arg(long, requires = "cert", value_name = "PEM")]
    pub key: Option<PathBuf>,
    /// A name clients use to reach this server (DNS name or IP address),
    /// which the self-signed certificate must cover besides localhost,
    /// 127.0.0.1, this machine's hostname and addresses. Repeatable; a new
    /// name makes a new certificate (the old one is kept as cert.pem.old).
    #[arg(long = "hostname", value_name = "NAME", value_parser = tls::check_name, conflicts_with = "cert")]
    pub hostnames: Vec<String>,
    /// Length of the segment grid in seconds.
    #[arg(long, default_value_t = 600)]
    pub segment_secs: i64,
    /// How long after a billing week ends its Work Diary locks.
    #[arg(long, default_value_t = 0)]
    pub lock_grace_secs: i64,
    /// Days a contract's client has, after a billing week ends, to approve
    /// it or dispute its time; then it is approved by itself [default: 5;
    /// with --demo 7, so that last week is always in review].
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(i64).range(0..=90))]
    pub review_days: Option<i64>,
    /// How long a client may take to send a request's headers, from its
    /// first byte.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body, from the end
    /// of its headers.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub body_timeout: Duration,
    /// How long a connection may stay open with nothing sent either way.
    #[arg(long, value_name = "DURATION", default_value = "75s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// How many connections one client address may hold open at once;
    /// more are refused.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_connections_per_address: usize,
    /// On a folder with no users: add an admin, a client and a freelancer
    /// (their passwords are printed once) and a contract with last week's
    /// and today's time, screenshots included, to look around the web
    /// dashboard.
    #[arg(long)]
    pub demo: bool,
    /// Send mail (invitations, password resets, notices) through this SMTP
    /// server: smtp://USER@HOST:PORT (STARTTLS; plain only on loopback) or
    /// smtps://USER@HOST:PORT (TLS from the start). The password comes from
    /// --smtp-password-file or TIMECARD_SMTP_PASSWORD.
    #[arg(long, value_name = "URL", value_parser = crate::mail::SmtpAddress::parse, requires = "mail_from")]
    pub smtp: Option<crate::mail::SmtpAddress>,
    /// A file holding the SMTP password (its first line).
    #[arg(long, value_name = "FILE", requires = "smtp")]
    pub smtp_password_file: Option<PathBuf>,
    /// The address mails come from, e.g. "Timecard <timecard@example.com>".
    #[arg(long, value_name = "ADDRESS", requires = "smtp")]
    pub mail_from: Option<String>,
    /// The address people reach the dashboard at, for links in mails
    /// (default: https:// and the listen address).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Sign people in with this OpenID Connect provider (its issuer URL,
    /// e.g. https://accounts.google.com); the redirect URI to register there
    /// is PUBLIC_URL/login/oidc/callback.
    #[arg(long, value_name = "URL", requires_all = ["oidc_client_id", "oidc_client_secret_file"])]
    pub oidc_issuer: Option<String>,
    /// This server's client id at the provider.
    #[arg(long, value_name = "ID", requires = "oidc_issuer")]
    pub oidc_client_id: Option<String>,
    /// A file whose first line is the client secret.
    #[arg(long, value_name = "FILE", requires = "oidc_issuer")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// The provider's name on the button: "Sign in with NAME".
    #[arg(
        long,
        value_name = "NAME",
        default_value = "your organisation",
        requires = "oidc_issuer"
    )]
    pub oidc_name: String,
    /// The role of an account made at its first sign-in, or `none` to
    /// make none (an admin adds users first).
    #[arg(long, value_name = "ROLE|none", default_value = "freelancer", value_parser = parse_new_users, requires = "oidc_issuer")]
    pub oidc_new_users: NewUsers,
    /// A claim of the ID token whose values choose the role, e.g. groups.
    #[arg(long, value_name = "CLAIM", requires = "oidc_issuer")]
    pub oidc_role_claim: Option<String>,
    /// VALUE=ROLE: a value of the role claim and the role it gives
    /// (repeatable; the first that matches wins), e.g. timecard-admins=admin.
    #[arg(long = "oidc-role", value_name = "VALUE=ROLE", value_parser = parse_role_map, requires = "oidc_role_claim")]
    pub oidc_roles: Vec<(String, crate::store::Role)>,
    /// Let a first sign-in whose e-mail the provider verified sign in to
    /// the existing account with that e-mail.
    #[arg(long, requires = "oidc_issuer")]
    pub oidc_link_by_email: bool,
    /// Turn the password form off: everyone signs in with the provider.
    #[arg(long, requires = "oidc_issuer")]
    pub no_password_sign_in: bool,
}

/// `--oidc-new-users`.
#[derive(Clone, Copy, Debug)]
pub struct NewUsers(pub Option<crate::store::Role>);

fn parse_new_users(text: &str) -> Result<NewUsers, String> {
    use clap::ValueEnum as _;
    if text == "none" {
        return Ok(NewUsers(None));
    }
    crate::store::Role::from_str(text, true)
        .map(|r| NewUsers(Some(r)))
        .map_err(|_| "freelancer, client, admin or none".to_owned())
}

fn parse_role_map(text: &str) -> Result<(String, crate::store::Role), String> {
    use clap::ValueEnum as _;
    let (value, role) = text
        .rsplit_once('=')
        .ok_or_else(|| "VALUE=ROLE, e.g. timecard-admins=admin".to_owned())?;
    let role = crate::store::Role::from_str(role, true)
        .map_err(|_| format!("{role:?} is not freelancer, client or admin"))?;
    Ok((value.to_owned(), role))
}

/// I4: what the `--oidc-…` options say.
fn sign_on_options(args: &ServeArgs) -> anyhow::Result<Option<crate::oidc::SignOnOptions>> {
    let Some(issuer) = &args.oidc_issuer else {
        return Ok(None);
    };
    let file = args
        .oidc_client_secret_file
        .as_ref()
        .context("--oidc-client-secret-file is needed")?;
    let secret = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let options = crate::oidc::SignOnOptions {
        issuer: issuer.trim_end_matches('/').to_owned(),
        client_id: args.oidc_client_id.clone().unwrap_or_default(),
        client_secret: secret,
        name: args.oidc_name.clone(),
        new_users: args.oidc_new_users.0,
        role_claim: args.oidc_role_claim.clone(),
        role_map: args.oidc_roles.clone(),
        link_by_email: args.oidc_link_by_email,
        password_sign_in: !args.no_password_sign_in,
    };
    if let Some(problem) = options.problem() {
        bail!("{problem}");
    }
    Ok(Some(options))
}

/// M1: what `--smtp`, `--mail-from`, `--public-url` and the password say.
fn mail_options(args: &ServeArgs) -> anyhow::Result<crate::mail::MailOptions> {
    let public_url = match &args.public_url {
        None => None,
        Some(url) if url.starts_with("https://") => Some(url.trim_end_matches('/').to_owned()),
        Some(url) => bail!("--public-url {url:?} must start with https://"),
    };
    let from = match &args.mail_from {
        None => None,
        Some(text) => Some(text.parse().map_err(|e| {
            anyhow::anyhow!("--mail-from {text:?} is not an address (as in \"Timecard <timecard@example.com>\"): {e}")
        })?),
    };
    let password = match &args.smtp_password_file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
        None => std::env::var("TIMECARD_SMTP_PASSWORD").ok(),
    };
    if args.smtp.as_ref().is_some_and(|s| s.user.is_some()) && password.is_none() {
        bail!(
            "--smtp names a user: give the password with --smtp-password-file FILE or TIMECARD_SMTP_PASSWORD"
        );
    }
    Ok(crate::mail::MailOptions {
        smtp: args.smtp.clone(),
        password,
        from,
        public_url,
    })
}

/// Serves until SIGINT or SIGTERM.
pub fn run(site: &Site, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let data = site.data.as_path();
    if args.segment_secs < 10 {
        bail!("--segment-secs must be at least 10");
    }
    if args.max_connections_per_address == 0 {
        bail!("--max-connections-per-address must be at least 1");
    }
    crate::rules::check_windows(args.lock_grace_secs, review_days(&args) * 24 * 3600)
        .map_err(anyhow::Error::msg)?;
    crate::logging::init_stderr();
    let listener = TcpListener::bind(&args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    launch::make_private(data).with_context(|| format!("cannot use {}", data.display()))?;
    let _serving = ServingLock::take(data)?;

    let mut options = ServerOptions::new(data);
    options.storage = site.storage.clone();
    options.config = ServerConfig {
        segment_secs: args.segment_secs,
        lock_grace_secs: args.lock_grace_secs,
    };
    options.review_secs = review_days(&args) * 24 * 3600;
    options.mail = mail_options(&args)?;
    options.sign_on = sign_on_options(&args)?;
    options.limits = ConnectionLimits {
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        idle_timeout: args.idle_timeout,
        per_address: args.max_connections_per_address,
    };
    let mut notes = Vec::new();
    if args.demo {
        let store = site.open()?;
        notes.extend(crate::demo::seed(
            store.as_ref(),
            options.config,
            options.review_secs,
            chrono::Utc::now(),
        )?);
    }
    let files = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => {
            let mut extra = args.hostnames.clone();
            if let Some(ip) = listen_name(local) {
                extra.push(ip.to_string());
            }
            let names = CertificateNames::this_machine(&extra);
            let made = tls::ensure_self_signed_for(data, &names)
                .context("cannot make the self-signed certificate")?;
            let (cert, key) = tls::self_signed_paths(data);
            match made.made.as_deref() {
                Some([]) => notes.push(format!("certificate made: {}", cert.display())),
                Some(missing) => notes.push(format!(
                    "certificate made again: the old one did not cover {} (it is kept as {}); clients that trust the old file need the new one",
                    missing.join(", "),
                    cert.with_extension("pem.old").display()
                )),
                None => {}
            }
            (cert, key)
        }
    };
    let pair = read_pair(&files.0, &files.1)?;
    options.certificate = Some(pair.clone());
    let server = launch::start(options, listener).context("cannot start the server")?;

    // Where it listens and what it presents, for whoever started it; a
    // closed standard output (a supervisor that read the first line and
    // left) must not stop the server.
    outln!("timecard-server listening on {}", server.url());
    outln!("data folder: {}", data.display());
    if let Some(database) = &site.storage.database {
        outln!("database: {}", database.describe());
    }
    if let Some(blobs) = &site.storage.blobs {
        outln!("blobs: {blobs}");
    }
    match &args.smtp {
        Some(smtp) => outln!(
            "mail: through {smtp}, links to {}",
            args.public_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| server.url())
        ),
        None => outln!("mail: off (no --smtp); invitation links are shown to the admin instead"),
    }
    if let Some(issuer) = &args.oidc_issuer {
        outln!(
            "single sign-on: {} ({issuer}); redirect URI {}{}",
            args.oidc_name,
            args.public_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| server.url()),
            crate::oidc::CALLBACK_PATH
        );
    }
    for note in &notes {
        outln!("{note}");
    }
    for line in describe(&files.0, &pair) {
        outln!("{line}");
    }

    wait_for_signals(&files.0, || {
        match read_pair(&files.0, &files.1)
            .and_then(|pair| Ok((server.reload_certificate(&pair)?, pair)))
        {
            Ok(((), pair)) => {
                outln!("certificate reloaded");
                for line in describe(&files.0, &pair) {
                    outln!("{line}");
                }
                log::info!("certificate reloaded from {}", files.0.display());
            }
            Err(e) => log::error!("certificate not reloaded, the old one stays in use: {e:#}"),
        }
    })?;
    log::info!("shutting down");
    server.stop();
    Ok(ExitCode::SUCCESS)
}

/// The address the server listens on, when it is one clients can use by
/// number (not 0.0.0.0, not loopback).
fn listen_name(addr: SocketAddr) -> Option<IpAddr> {
    let ip = addr.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

fn read_pair(cert: &Path, key: &Path) -> anyhow::Result<CertificatePair> {
    let pair = CertificatePair {
        cert_pem: std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?,
        key_pem: std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?,
    };
    // Both must parse and fit before anything is replaced.
    tls::server_config(&pair)?;
    Ok(pair)
}

/// What the certificate covers and its fingerprint, as printed.
fn describe(path: &Path, pair: &CertificatePair) -> Vec<String> {
    let names = tls::certificate_names(&pair.cert_pem)
        .map(|names| names.join(", "))
        .unwrap_or_else(|e| format!("(unknown: {e})"));
    let print = tls::fingerprint(&pair.cert_pem).unwrap_or_else(|e| format!("(unknown: {e})"));
    vec![
        format!("certificate: {} covers {names}", path.display()),
        format!("certificate SHA-256 fingerprint: {print}"),
    ]
}

/// Runs `reload` on every SIGHUP until SIGINT or SIGTERM arrives.
#[cfg(unix)]
fn wait_for_signals(_certificate: &Path, mut reload: impl FnMut()) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut hangup = signal(SignalKind::hangup())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        loop {
            tokio::select! {
                _ = hangup.recv() => reload(),
                _ = terminate.recv() => return Ok(()),
                _ = interrupt.recv() => return Ok(()),
            }
        }
    })
}

/// Windows has no SIGHUP: `reload` runs when the certificate file's
/// modification time changes (looked at every 10 s), until Ctrl+C, the
/// console closing or the system shutting down.
#[cfg(windows)]
fn wait_for_signals(certificate: &Path, mut reload: impl FnMut()) -> anyhow::Result<()> {
    use tokio::signal::windows::{ctrl_c, ctrl_close, ctrl_shutdown};
    let modified = || {
        std::fs::metadata(certificate)
            .and_then(|m| m.modified())
            .ok()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut interrupt = ctrl_c()?;
        let mut close = ctrl_close()?;
        let mut shutdown = ctrl_shutdown()?;
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        let mut seen = modified();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = modified();
                    if now != seen {
                        seen = now;
                        reload();
                    }
                }
                _ = interrupt.recv() => return Ok(()),
                _ = close.recv() => return Ok(()),
                _ = shutdown.recv() => return Ok(()),
            }
        }
    })
}

/// Held while `serve` runs on a data folder, so that admin commands can
/// tell whether a server is there (`maintenance on` warns when none is)
/// and a second `serve` on the same folder is refused.
struct ServingLock(#[allow(dead_code)] std::fs::File);

const SERVING_LOCK: &str = "serving.lock";

impl ServingLock {
    fn take(data: &Path) -> anyhow::Result<ServingLock> {
        let path = data.join(SERVING_LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(ServingLock(file)),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another timecard-server is already serving {}; stop it first",
                data.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}

/// Whether a `serve` is running on this data folder now.
pub fn is_serving(data: &Path) -> bool {
    let Ok(file) = std::fs::File::open(data.join(SERVING_LOCK)) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// The review window asked for; a demo's is a week unless asked, so that
/// last week is in review whatever the day (R7).
fn review_days(args: &ServeArgs) -> i64 {
    args.review_days.unwrap_or(if args.demo {
        7
    } else {
        crate::launch::DEFAULT_REVIEW_DAYS
    })
}
