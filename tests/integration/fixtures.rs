//! The sample cache files in fixtures/: files written by format version 1
//! must keep decoding (K3 format stability), and each broken sample must be
//! caught for the right reason and quarantined, not deleted.

use std::path::{Path, PathBuf};

use timecard_client::cache::{Cache, DEFAULT_CAPACITY_SECS};
use timecard_core::codec::{FormatError, decode_file};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap()
}

#[test]
fn version_1_files_still_decode() {
    let s = decode_file(&read(
        "cache/good/001795425000-7d0c6a8e-6a53-4d47-9d8c-2f1f0f7a1001.tcseg",
    ))
    .unwrap();
    assert_eq!(s.id.to_string(), "7d0c6a8e-6a53-4d47-9d8c-2f1f0f7a1001");
    assert_eq!(s.contract_id, "demo-hourly");
    assert_eq!(s.start.to_rfc3339(), "2026-11-23T09:10:00+00:00");
    assert_eq!(s.duration_secs(), 600);
    assert_eq!(s.activity.level(), 7);
    assert_eq!(s.screenshot.unwrap().jpeg, vec![0xff, 0xd8, 0xff, 0xd9]);

    let partial = decode_file(&read(
        "cache/good/001795425600-7d0c6a8e-6a53-4d47-9d8c-2f1f0f7a1002.tcseg",
    ))
    .unwrap();
    assert_eq!(partial.duration_secs(), 271);
    assert!(partial.screenshot.is_none());
    assert!(
        partial
            .capture_note
            .unwrap()
            .starts_with("capture unavailable")
    );
}

#[test]
fn broken_samples_fail_for_the_right_reason() {
    assert!(matches!(
        decode_file(&read("cache/broken/truncated.tcseg")),
        Err(FormatError::LengthMismatch { .. })
    ));
    assert!(matches!(
        decode_file(&read("cache/broken/bit-flip.tcseg")),
        Err(FormatError::Checksum { .. })
    ));
    assert!(matches!(
        decode_file(&read("cache/broken/future-version.tcseg")),
        Err(FormatError::UnsupportedVersion(2))
    ));
    assert!(matches!(
        decode_file(&read("cache/broken/foreign.tcseg")),
        Err(FormatError::BadMagic)
    ));
}

#[test]
fn a_cache_with_every_sample_keeps_the_good_and_quarantines_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let pending = dir.path().join("pending");
    std::fs::create_dir_all(&pending).unwrap();
    for sub in ["cache/good", "cache/broken"] {
        for entry in std::fs::read_dir(fixture(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), pending.join(entry.file_name())).unwrap();
        }
    }
    let (cache, report) = Cache::open(dir.path(), DEFAULT_CAPACITY_SECS).unwrap();
    assert_eq!(report.verified, 2);
    assert_eq!(cache.pending_secs(), 871);
    let mut found: Vec<_> = report
        .quarantined
        .iter()
        .map(|q| q.found_as.clone())
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "pending/bit-flip.tcseg",
            "pending/foreign.tcseg",
            "pending/future-version.tcseg",
            "pending/truncated.tcseg"
        ]
    );
    assert!(report.quarantined.iter().all(|q| q.path.exists()));
}
