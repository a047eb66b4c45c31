//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use timecard::cache::{Cache, DEFAULT_CAPACITY_SECS};
use timecard::domain::{Contract, ContractKind, ContractStatus};
use timecard::worker::{ContractList, Tracker, TrackerConfig};

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("a valid RFC 3339 time")
}

pub fn date(s: &str) -> NaiveDate {
    s.parse().expect("a valid date")
}

/// A real, small JPEG (8×8, grey): the server takes only screenshots and
/// thumbnails whose JPEG header decodes.
pub fn tiny_jpeg() -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&[128u8; 8 * 8 * 3], 8, 8, jpeg_encoder::ColorType::Rgb)
        .expect("encode an 8×8 JPEG");
    out
}

pub fn hourly(id: &str, limit_hours: Option<i64>) -> Contract {
    Contract {
        id: id.into(),
        title: format!("Contract {id}"),
        client: "Acme".into(),
        kind: ContractKind::Hourly,
        status: ContractStatus::Active,
        start_date: date("2026-01-01"),
        weekly_limit_secs: limit_hours.map(|h| h * 3600),
        pending_limit: None,
    }
}

pub fn list(contracts: Vec<Contract>) -> ContractList {
    ContractList {
        contracts,
        ..ContractList::default()
    }
}

pub fn tracker_in(dir: &Path, capacity_secs: i64) -> Tracker {
    let (cache, _) = Cache::open(dir, capacity_secs).expect("open cache");
    let mut config = TrackerConfig::new("test-device");
    config.seed = 7;
    Tracker::new(
        config,
        cache,
        Box::new(timecard::capture::NoScreenshots),
        Box::new(timecard::activity::NoActivity),
    )
}

pub fn tracker(dir: &Path) -> Tracker {
    tracker_in(dir, DEFAULT_CAPACITY_SECS)
}

pub mod cli;
pub mod device;
pub mod server;
pub mod small_disk;
pub mod xvfb;
