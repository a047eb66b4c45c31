//! The sync server: the HTTP API and web dashboard over TLS (`http`),
//! what they show (`views`) and do (`usecases`), the pure rules (`rules`),
//! storage (`store`), sign-in protection (`auth`), connection limits
//! (`connection`), e-mail and its outbox (`mail`) and the admin commands
//! (`cli`). It takes its listener and
//! a shutdown signal from the caller, so tests and the app's built-in
//! server run it in-process on `127.0.0.1:0`.

pub mod auth;
pub mod backup;
pub mod cli;
pub mod connection;
pub mod demo;
pub mod http;
pub mod launch;
pub mod logging;
pub mod mail;
pub mod migrate;
pub mod oidc;
pub mod releases;
pub mod rules;
pub mod store;
pub mod usecases;
pub mod views;
pub mod webhooks;

pub use self::connection::ConnectionLimits;
pub use self::launch::{
    DB_FILE, DEFAULT_REVIEW_DAYS, RunningServer, ServerOptions, Storage, make_private, open_store,
    start,
};
