//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use timecard_client::cache::{Cache, DEFAULT_CAPACITY_SECS};
use timecard_client::worker::{ContractList, Tracker, TrackerConfig};
use timecard_core::domain::{Contract, ContractKind, ContractStatus};

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
        Box::new(timecard_client::capture::NoScreenshots),
        Box::new(timecard_client::activity::NoActivity),
    )
}

pub fn tracker(dir: &Path) -> Tracker {
    tracker_in(dir, DEFAULT_CAPACITY_SECS)
}

pub mod cli;
pub mod dbus;
pub mod device;
pub mod faketime;
pub mod oidc;
pub mod picture;
pub mod postgres;
pub mod releases;
pub mod s3;
pub mod server;
pub mod serving;
pub mod small_disk;
pub mod smtp;
pub mod store;
pub mod sway;
pub mod webdriver;
pub mod wine;
pub mod xvfb;

/// The `timecard-server` binary. It belongs to the `timecard-server` crate,
/// so Cargo gives this package no `CARGO_BIN_EXE_` for it; it is built into
/// the same folder as `timecard`. `cargo test` in the root builds it with
/// every crate; when only this package's tests were built, it is built here
/// once.
pub fn server_exe() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let app = Path::new(env!("CARGO_BIN_EXE_timecard"));
            let exe =
                app.with_file_name(format!("timecard-server{}", std::env::consts::EXE_SUFFIX));
            if !exe.exists() {
                let mut build = std::process::Command::new(env!("CARGO"));
                build.args(["build", "-p", "timecard-server", "--bin", "timecard-server"]);
                build
                    .arg("--manifest-path")
                    .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
                if app.parent().and_then(|p| p.file_name()) == Some("release".as_ref()) {
                    build.arg("--release");
                }
                let status = build.status().expect("run cargo to build timecard-server");
                assert!(status.success(), "cargo build -p timecard-server failed");
            }
            assert!(
                exe.exists(),
                "no timecard-server binary at {}",
                exe.display()
            );
            exe
        })
        .clone()
}

/// Root certificates for ureq that trust only `cert_pem` (a test server's
/// self-signed certificate).
pub fn pinned_roots(cert_pem: &[u8]) -> ureq::tls::RootCerts {
    ureq::tls::RootCerts::Specific(std::sync::Arc::new(
        ureq::tls::parse_pem(cert_pem)
            .filter_map(|i| match i {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect(),
    ))
}

/// A 10-minute segment starting at `start`, with a real (tiny) screenshot.
pub fn segment_at(
    contract: &str,
    device: &str,
    start: DateTime<Utc>,
) -> timecard_core::domain::Segment {
    use timecard_core::domain::{Activity, Screenshot, Segment, SegmentId};
    Segment {
        id: SegmentId::random(),
        contract_id: contract.into(),
        device_id: device.into(),
        start,
        end: start + chrono::Duration::minutes(10),
        memo: "work".into(),
        activity: Activity(1),
        screenshot: Some(Screenshot {
            taken_at: start,
            jpeg: tiny_jpeg(),
            thumbnail: tiny_jpeg(),
        }),
        capture_note: None,
    }
}
