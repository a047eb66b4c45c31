//! What differs between operating systems: the data folder (D7) and this
//! device's identity, single instance (D1) and the wipe and restart (D4).
//! Logging (D2) and notifications (D5) belong to the app.

pub mod instance;
pub mod paths;
pub mod reset;

pub use paths::DataDir;
