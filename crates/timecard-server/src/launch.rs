//! Starting a server: where it keeps its data ([`Storage`]), how it runs
//! ([`ServerOptions`]), and [`start`], which serves the HTTP rooms on a
//! listener the caller gives, on a thread with its own runtime, until
//! [`RunningServer::stop`].

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};

use timecard_core::clock::{Clock, SystemClock};
use timecard_core::protocol::ServerConfig;
use timecard_core::tls::{self, CertificatePair};

use crate::connection::{self, ConnectionLimits};
use crate::http::AppState;
use crate::store::blobs::BlobLocation;
use crate::store::{self, Blobs, Database, SqliteStore, Store};

/// File name of the database inside the server's data folder.
pub const DB_FILE: &str = "timecard-server.sqlite";

/// Days a client has to review a billing week (`serve --review-days`).
pub const DEFAULT_REVIEW_DAYS: i64 = 5;

/// How to run a server.
#[derive(Clone)]
pub struct ServerOptions {
    pub data_dir: PathBuf,
    pub config: ServerConfig,
    /// Certificate and key; `None` generates (once) a self-signed pair in
    /// `DATA/tls/`.
    pub certificate: Option<CertificatePair>,
    pub clock: Arc<dyn Clock>,
    /// Timeouts and the per-address cap on connections.
    pub limits: ConnectionLimits,
    /// How long after a billing week ends its client may approve it or
    /// dispute its time; then it is approved by itself.
    pub review_secs: i64,
    /// The database and blob store; by default SQLite in the data folder.
    pub storage: Storage,
    /// SMTP, the sender's address and the public address (M1); by
    /// default no mail.
    pub mail: crate::mail::MailOptions,
    /// Single sign-on with an OpenID Connect provider (I4); by default none.
    pub sign_on: Option<crate::oidc::SignOnOptions>,
}

/// Where a server keeps its data (`--database`, `--blobs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Storage {
    /// `None`: the SQLite file in the data folder.
    pub database: Option<Database>,
    /// `None`: pictures and zips inside the database.
    pub blobs: Option<BlobLocation>,
}

impl Storage {
    /// Opens the store for a server whose data folder is `data_dir`.
    pub fn open(&self, data_dir: &Path) -> io::Result<Box<dyn Store>> {
        let blobs = match &self.blobs {
            Some(location) => Some(Blobs::open(location).map_err(io::Error::other)?),
            None => None,
        };
        let database = match &self.database {
            Some(database) => database.clone(),
            None => {
                make_private(data_dir)?;
                Database::Sqlite(data_dir.join(DB_FILE))
            }
        };
        store::open(&database, blobs).map_err(|e| io::Error::other(e.to_string()))
    }
}

impl ServerOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerOptions {
            data_dir: data_dir.into(),
            config: ServerConfig {
                segment_secs: timecard_core::domain::grid::DEFAULT_SEGMENT_SECS,
                lock_grace_secs: 0,
            },
            certificate: None,
            clock: Arc::new(SystemClock),
            limits: ConnectionLimits::default(),
            review_secs: DEFAULT_REVIEW_DAYS * 24 * 3600,
            storage: Storage::default(),
            mail: crate::mail::MailOptions::default(),
            sign_on: None,
        }
    }
}

/// Opens the database in a server data folder (creating both if needed),
/// owner-only: see [`make_private`].
pub fn open_store(data_dir: &Path) -> io::Result<SqliteStore> {
    make_private(data_dir)?;
    SqliteStore::open(&data_dir.join(DB_FILE)).map_err(|e| io::Error::other(e.to_string()))
}

/// Makes the data folder readable by its owner only: it holds password and
/// token hashes, screenshots and problem reports. Creates it 0700 (on
/// Windows: an access list naming the current user only), tightens
/// an existing one (saying so in the log), and makes the database 0600
/// before SQLite opens it: SQLite gives its `-wal` and `-shm` files the
/// database's mode, so they follow. Files left by an older version are
/// tightened too.
pub fn make_private(data_dir: &Path) -> io::Result<()> {
    use timecard_core::fs::private::{self, Before};

    private::create_dir_all(data_dir)?;
    if let Before::Open(mode) = private::restrict(data_dir)? {
        log::warn!(
            "the data folder {} was open to other users (mode {mode:o}); it is now owner-only (700)",
            data_dir.display()
        );
    }
    let db = data_dir.join(DB_FILE);
    private::create_owner_only(std::fs::OpenOptions::new().append(true).create(true)).open(&db)?;
    for name in [
        DB_FILE.to_owned(),
        format!("{DB_FILE}-wal"),
        format!("{DB_FILE}-shm"),
        format!("{DB_FILE}-journal"),
    ] {
        match private::restrict(&data_dir.join(name)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A server running on its own thread.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The certificate it presented at start, PEM: what a client pins.
    pub cert_pem: Vec<u8>,
    handle: axum_server::Handle<SocketAddr>,
    tls: RustlsConfig,
    thread: Mutex<Option<JoinHandle<io::Result<()>>>>,
}

impl RunningServer {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Presents `pair` from now on: new connections get it, open ones keep
    /// theirs. Nothing changes when the pair is not valid.
    pub fn reload_certificate(&self, pair: &CertificatePair) -> io::Result<()> {
        self.tls.reload_from_config(tls::server_config(pair)?);
        Ok(())
    }

    /// Stops accepting, ends open connections and joins the thread.
    pub fn stop(&self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.lock().expect("server thread lock").take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the server on `listener` in a thread with its own runtime and
/// returns once it accepts connections.
pub fn start(options: ServerOptions, listener: TcpListener) -> io::Result<RunningServer> {
    tls::install_crypto_provider();
    crate::rules::check_windows(options.config.lock_grace_secs, options.review_secs)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let store = options.storage.open(&options.data_dir)?;
    let pair = match options.certificate.clone() {
        Some(pair) => pair,
        None => tls::ensure_self_signed(&options.data_dir)?,
    };
    let rustls = RustlsConfig::from_config(tls::server_config(&pair)?);
    let addr = listener.local_addr()?;
    let sender = crate::mail::Sender::new(&options.mail)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mail = crate::mail::MailState {
        sending: sender.is_some(),
        public_url: options
            .mail
            .public_url
            .clone()
            .unwrap_or_else(|| format!("https://{addr}")),
        wake: Arc::new(tokio::sync::Notify::new()),
    };
    let store: Arc<dyn Store> = Arc::from(store);
    // What the admin commands need to know of mail (`user invite`).
    store
        .set_setting(crate::mail::PUBLIC_URL_SETTING, Some(&mail.public_url))
        .and_then(|()| {
            store.set_setting(crate::mail::SENDING_SETTING, mail.sending.then_some("smtp"))
        })
        .map_err(|e| io::Error::other(e.to_string()))?;
    let sender = sender.map(|sender| crate::mail::SenderTask {
        store: store.clone(),
        sender,
        state: mail.clone(),
        clock: options.clock.clone(),
        review_secs: options.review_secs,
    });
    let sign_on = match options.sign_on.clone() {
        Some(sign_on) => Some(Arc::new(
            crate::oidc::SignOn::new(sign_on, &mail.public_url)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        )),
        None => None,
    };
    let webhooks = crate::webhooks::WebhookState::default();
    let deliveries = crate::webhooks::DeliveryTask {
        store: store.clone(),
        clock: options.clock.clone(),
        state: webhooks.clone(),
        mail: mail.clone(),
        review_secs: options.review_secs,
    };
    let state = Arc::new(AppState {
        store,
        config: options.config,
        clock: options.clock.clone(),
        review_secs: options.review_secs,
        releases: crate::releases::Catalog::new(&options.data_dir),
        mail,
        webhooks,
        sign_on,
    });
    let app = crate::http::router(state).layer(axum::middleware::from_fn_with_state(
        options.limits.body_timeout,
        connection::body_deadline,
    ));
    let acceptor =
        connection::GuardedAcceptor::new(RustlsAcceptor::new(rustls.clone()), options.limits);
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let server_handle = handle.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("timecard-server")
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("timecard-server".into())
        .spawn(move || {
            runtime.block_on(async move {
                // M2: the outbox's sender lives as long as the server.
                if let Some(sender) = sender {
                    tokio::spawn(crate::mail::run_sender(sender));
                }
                // I2: webhook deliveries, likewise.
                tokio::spawn(crate::webhooks::run_deliveries(deliveries));
                // HTTP/1.1 only, as the certificate's ALPN says: the
                // connection timeouts follow one request at a time.
                axum_server::from_tcp(listener)?
                    .acceptor(acceptor)
                    .http1_only()
                    .handle(server_handle)
                    .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                    .await
            })
        })?;
    // Wait until it listens (or failed to start).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listening = runtime.block_on(handle.listening());
    if listening.is_none() {
        return match thread.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(io::Error::other("the server stopped before it listened")),
        };
    }
    Ok(RunningServer {
        addr,
        cert_pem: pair.cert_pem,
        handle,
        tls: rustls,
        thread: Mutex::new(Some(thread)),
    })
}
