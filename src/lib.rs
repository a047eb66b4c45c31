//! Timecard, the app: the window (`ui`), the command line (`cli`), desktop
//! notifications and log set-up, on top of `timecard-client` (cache, sync,
//! worker, engine) and `timecard-core` (domain, protocol, formatting).
//! The sync server is the `timecard-server` crate; with the
//! `builtin-server` feature (on by default) the app runs it in-process when
//! no server is configured (`builtin`).

pub mod builtin;
pub mod cli;
pub mod disputes;
pub mod logging;
pub mod notify;
pub mod tray;
pub mod ui;
