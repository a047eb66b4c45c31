//! What differs between operating systems or touches the desktop: the data
//! folder (D7) and this device's identity. Single instance, logging,
//! notifications and restart come here too.

pub mod paths;
pub mod reset;

pub use paths::DataDir;

use std::sync::OnceLock;
use std::time::Instant;

static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Notes when the process started (call first thing in `main`).
pub fn mark_process_start() {
    let _ = PROCESS_START.set(Instant::now());
}

/// Time since [`mark_process_start`].
pub fn since_process_start() -> std::time::Duration {
    PROCESS_START.get_or_init(Instant::now).elapsed()
}
