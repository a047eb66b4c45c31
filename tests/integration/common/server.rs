//! A real server on 127.0.0.1:0 over TLS in a temp folder, with two users,
//! and clients that pin its certificate.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use timecard_client::sync::{ApiClient, ServerAddress};
use timecard_core::clock::{Clock, ManualClock};
use timecard_core::domain::{Contract, ContractKind, ContractStatus};
use timecard_core::protocol::ServerConfig;
use timecard_server::store::Store;
use timecard_server::{self as server, RunningServer, ServerOptions, auth};

pub const PASSWORD: &str = "correct horse battery";

pub struct TestServer {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub config: ServerConfig,
}

pub fn contract(id: &str, kind: ContractKind, limit_hours: Option<i64>) -> Contract {
    Contract {
        id: id.into(),
        title: format!("Contract {id}"),
        client: "Acme".into(),
        kind,
        status: ContractStatus::Active,
        start_date: "2026-01-01".parse().unwrap(),
        weekly_limit_secs: limit_hours.map(|h| h * 3600),
        pending_limit: None,
    }
}

/// Users `ann` (contracts `ann-hourly` 40 h, `ann-open`) and `bob` (`bob-hourly`).
pub fn seed(dir: &Path, now: DateTime<Utc>) {
    let store = super::store::open(dir);
    let hash = auth::hash_password(PASSWORD);
    store
        .add_user("ann", Some("ann@example.com"), &hash)
        .unwrap();
    store.add_user("bob", None, &hash).unwrap();
    store
        .add_contract(
            "ann",
            &contract("ann-hourly", ContractKind::Hourly, Some(40)),
            now,
        )
        .unwrap();
    store
        .add_contract(
            "ann",
            &contract("ann-open", ContractKind::Hourly, None),
            now,
        )
        .unwrap();
    store
        .add_contract(
            "bob",
            &contract("bob-hourly", ContractKind::Hourly, None),
            now,
        )
        .unwrap();
}

impl TestServer {
    pub fn start(now: DateTime<Utc>) -> TestServer {
        Self::start_with(
            now,
            ServerConfig {
                segment_secs: 600,
                lock_grace_secs: 0,
            },
        )
    }

    /// A server on a data folder made by the caller (whose storage the
    /// caller may have chosen with `store::use_storage`).
    pub fn start_in(dir: tempfile::TempDir, now: DateTime<Utc>) -> TestServer {
        Self::start_with_dir(
            dir,
            now,
            ServerConfig {
                segment_secs: 600,
                lock_grace_secs: 0,
            },
        )
    }

    pub fn start_with(now: DateTime<Utc>, config: ServerConfig) -> TestServer {
        Self::start_with_dir(tempfile::tempdir().unwrap(), now, config)
    }

    fn start_with_dir(
        dir: tempfile::TempDir,
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> TestServer {
        seed(dir.path(), now);
        let clock = ManualClock::new(now);
        let server = launch(
            dir.path(),
            &clock,
            config,
            TcpListener::bind("127.0.0.1:0").unwrap(),
        );
        TestServer {
            server,
            dir,
            clock,
            config,
        }
    }

    /// Stops the server; [`TestServer::restart`] brings it back on the same port.
    pub fn stop(&self) {
        self.server.stop();
    }

    pub fn restart(&mut self) {
        let listener = TcpListener::bind(self.server.addr).expect("the port is free again");
        self.server = launch(self.dir.path(), &self.clock, self.config, listener);
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Y7: the server comes back on the same address with a new
    /// self-signed certificate, as after an administrator replaced it.
    pub fn replace_certificate(&mut self) {
        self.stop();
        for file in ["cert.pem", "key.pem"] {
            std::fs::remove_file(self.dir.path().join("tls").join(file)).unwrap();
        }
        self.restart();
    }

    /// A client pinned to this server's certificate, signed in as `login`.
    pub fn client(&self, login: &str) -> ApiClient {
        let client = self.anonymous_client();
        client.sign_in(login, PASSWORD).expect("sign in");
        client
    }

    /// The server's store (SQLite, or PostgreSQL when the tests run on it).
    pub fn store(&self) -> Box<dyn Store> {
        super::store::open(self.dir.path())
    }

    pub fn anonymous_client(&self) -> ApiClient {
        ApiClient::new(
            ServerAddress::parse(&self.url()).unwrap(),
            Some(&self.server.cert_pem),
            Arc::new(self.clock.clone()) as Arc<dyn Clock>,
        )
        .unwrap()
    }
}

fn launch(
    dir: &Path,
    clock: &ManualClock,
    config: ServerConfig,
    listener: TcpListener,
) -> RunningServer {
    let mut options = ServerOptions::new(dir);
    options.storage = super::store::storage_for(dir);
    options.clock = Arc::new(clock.clone());
    options.config = config;
    // The review window is at least the lock's grace (W4, R7).
    options.review_secs = options.review_secs.max(config.lock_grace_secs);
    server::start(options, listener).expect("start the server")
}
