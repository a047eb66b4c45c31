//! What differs between operating systems: the data folder (D7) and this
//! device's identity, single instance (D1), the wipe and restart (D4) and
//! the console Windows gives a program started from Explorer, starting with
//! the session, and Windows' AppUserModelID with the Start-menu shortcut
//! carrying it. Logging (D2) and notifications (D5) belong to the app.

pub mod autostart;
pub mod console;
#[cfg(target_os = "linux")]
pub mod file_chooser;
pub mod instance;
pub mod paths;
pub mod reset;
pub mod shortcut;

pub use paths::DataDir;
