//! Timecard's bottom layer, shared by the client, the server and the app:
//! the domain (contracts, segments, weeks, days), the wire protocol and the
//! segment codec, the clock, formatting for people, file utilities and TLS
//! helpers. It knows nothing of windows, networks or databases.

pub mod clock;
pub mod codec;
pub mod domain;
pub mod fmt;
pub mod fs;
pub mod output;
pub mod process;
pub mod protocol;
pub mod release;
pub mod tls;
