//! File utilities below every layer: durable and owner-only writes, and
//! careful reads from folders other hands can reach.

pub mod durable;
pub mod private;
pub mod read;
