//! Timecard's client layer, shared by the window and the command line: the
//! time cache, settings, sync (client, planner, outbox, thread), the worker
//! and the engine that puts them together, the connection (a configured
//! server, or the built-in one the app provides), the data
//! folder and single instance, and the screenshot and activity sources.
//! It draws nothing and prints nothing, and depends on `timecard-core`
//! only among Timecard's crates: the built-in server is the app's to
//! provide (`connect::LocalServer`).

pub mod activity;
pub mod browser_sign_in;
pub mod cache;
pub mod capture;
pub mod connect;
pub mod engine;
pub mod link;
pub mod platform;
pub mod running;
pub mod settings;
pub mod sync;
pub mod update;
#[cfg(target_os = "linux")]
mod wayland_support;
pub mod worker;
