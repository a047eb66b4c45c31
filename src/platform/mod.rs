//! What differs between operating systems or touches the desktop: the data
//! folder (D7) and this device's identity. Single instance, logging,
//! notifications and restart come here too.

pub mod paths;
pub mod reset;

pub use paths::DataDir;
