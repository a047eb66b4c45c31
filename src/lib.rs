//! Timecard: a lightweight time tracker for freelancers paid by the hour.
//!
//! The library holds everything both binaries share; `timecard` (the app
//! and its command line) and `timecard-server` are thin edges over it.

pub mod activity;
pub mod cache;
pub mod capture;
pub mod cli;
pub mod clock;
pub mod connect;
pub mod domain;
pub mod engine;
pub mod platform;
pub mod protocol;
pub mod server;
pub mod settings;
pub mod sync;
pub mod tls;
pub mod ui;
pub mod worker;
