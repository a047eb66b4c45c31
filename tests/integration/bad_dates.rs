//! Segments dated far outside the years anyone tracks (valid RFC 3339,
//! valid MessagePack, years -262143 and +262142) against the real TLS
//! server and the real `timecard` binary: the server refuses them one by
//! one as `invalid` and takes the rest of the batch, the diary answers 400
//! for such a day, and the client sets them aside with the reason instead
//! of panicking with its whole queue stuck.

use crate::common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::cli::{login, text, timecard};
use common::server::TestServer;
use common::*;
use timecard_client::sync::SyncError;
use timecard_core::codec;
use timecard_core::domain::{Activity, Segment, SegmentId};
use timecard_core::protocol::{Outcome, RejectReason, ServerConfig};

fn segment(start: DateTime<Utc>, secs: i64) -> Segment {
    Segment {
        id: SegmentId::random(),
        contract_id: "ann-hourly".into(),
        device_id: "dev".into(),
        start,
        end: start + Duration::seconds(secs),
        memo: "dates".into(),
        activity: Activity(1),
        screenshot: None,
        capture_note: None,
    }
}

/// The first and the last day chrono can hold.
fn extremes() -> [Segment; 2] {
    let first = NaiveDate::MIN.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let last = NaiveDate::MAX.and_hms_opt(0, 0, 0).unwrap().and_utc();
    assert_eq!(first.format("%Y-%m-%d").to_string(), "-262143-01-01");
    assert_eq!(last.format("%Y-%m-%d").to_string(), "+262142-12-31");
    [segment(first, 600), segment(last, 600)]
}

fn body(s: &Segment) -> Vec<u8> {
    codec::encode_body(s).unwrap()
}

// Bad dates are refused per segment as `invalid`; the valid segments of the
// same batch are stored; the diary of such a day is a 400 with a JSON error.
#[test]
fn server_refuses_bad_dates_per_segment_and_keeps_the_batch() {
    let now = at("2026-11-25T12:00:00Z");
    let server = TestServer::start(now);
    let ann = server.client("ann");
    let [first, last] = extremes();
    let good_a = segment(at("2026-11-25T09:00:00Z"), 600);
    let good_b = segment(at("2026-11-25T09:10:00Z"), 600);
    let before_2000 = segment(at("1999-12-31T23:00:00Z"), 600);
    let after_2100 = segment(at("2100-01-01T00:00:00Z"), 600);
    let next_week = segment(now + Duration::days(7), 600);
    let batch = [
        &first,
        &good_a,
        &last,
        &before_2000,
        &good_b,
        &after_2100,
        &next_week,
    ];
    let response = ann
        .upload(batch.iter().map(|s| body(s)).collect())
        .expect("the batch is answered, not a 500");
    assert_eq!(response.results.len(), batch.len());
    for (sent, result) in batch.iter().zip(&response.results) {
        assert_eq!(result.id, sent.id);
        if sent.id == good_a.id || sent.id == good_b.id {
            assert_eq!(result.outcome, Outcome::Accepted, "{result:?}");
        } else {
            assert_eq!(result.outcome, Outcome::Rejected, "{result:?}");
            assert_eq!(result.reason, Some(RejectReason::Invalid), "{result:?}");
            let message = result.message.as_deref().unwrap_or_default();
            assert!(
                !message.is_empty() && !message.contains("panick"),
                "{message}"
            );
        }
    }
    let diary = ann.diary(Some(date("2026-11-25")), "UTC").unwrap();
    assert_eq!(diary.segments.len(), 2);

    // The diary of an impossible day: a clear 400, and the server goes on.
    for (day, tz) in [
        (NaiveDate::MIN, "UTC"),
        (NaiveDate::MAX, "UTC"),
        (NaiveDate::MIN, "Pacific/Kiritimati"),
        (NaiveDate::MAX, "Pacific/Pago_Pago"),
        (date("1999-12-31"), "UTC"),
        (date("2100-01-01"), "Europe/Berlin"),
    ] {
        match ann.diary(Some(day), tz) {
            Err(SyncError::Api {
                status,
                code,
                message,
            }) => {
                assert_eq!((status, code.as_str()), (400, "malformed"), "{message}");
                assert!(message.contains("2000"), "{message}");
                assert!(!message.contains("panick"), "{message}");
            }
            other => panic!("diary of {day} in {tz}: expected a 400, got {other:?}"),
        }
    }
    assert_eq!(server.anonymous_client().health().unwrap().status, "ok");
}

fn put_in_cache(data: &std::path::Path, segment: &Segment) {
    let pending = data.join("cache/pending");
    std::fs::create_dir_all(&pending).unwrap();
    std::fs::write(
        pending.join(timecard_client::cache::file_name(segment)),
        codec::encode_file(segment).unwrap(),
    )
    .unwrap();
}

// The real `timecard sync` with both extremes among valid segments: no
// panic (exit 101), the valid ones reach the server, the bad ones are set
// aside with the reason and `cache verify` lists them.
#[test]
fn sync_sets_bad_dates_aside_and_uploads_the_rest() {
    let now = Utc::now();
    // A week of grace: valid segments of the last hour are never in a locked week.
    let server = TestServer::start_with(
        now,
        ServerConfig {
            segment_secs: 600,
            lock_grace_secs: 7 * 86_400,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    login(data, &server);

    let [first, last] = extremes();
    let good: Vec<Segment> = (0..3)
        .map(|i| segment(now - Duration::minutes(50 - 10 * i), 300))
        .collect();
    // Inside the years the client accepts, but a week ahead of the server's clock.
    let ahead = segment(now + Duration::days(7), 300);
    for s in good.iter().chain([&first, &last, &ahead]) {
        put_in_cache(data, s);
    }

    let out = timecard(data, &["sync"], None);
    let said = text(&out);
    assert_ne!(out.status.code(), Some(101), "sync panicked: {said}");
    assert!(!said.contains("panicked"), "{said}");
    assert!(out.status.success(), "{said}");
    for s in [&first, &last] {
        assert!(
            said.contains(&timecard_client::cache::file_name(s)) && said.contains("2000"),
            "{said}"
        );
    }
    assert!(
        said.contains("(invalid)") && said.contains("future"),
        "{said}"
    );
    // Honest summary: the refused one is not "on the server".
    assert!(said.contains("1 of them refused"), "{said}");
    assert!(
        !said.contains("everything tracked is on the server"),
        "{said}"
    );
    assert!(
        said.contains("in 1 segment was refused by the server and stays in the cache"),
        "{said}"
    );

    let diary = server
        .client("ann")
        .diary(None, "UTC")
        .into_iter()
        .chain(
            server
                .client("ann")
                .diary(Some((now - Duration::hours(1)).date_naive()), "UTC"),
        )
        .flat_map(|d| d.segments)
        .map(|s| s.id)
        .collect::<std::collections::HashSet<_>>();
    for s in &good {
        assert!(diary.contains(&s.id), "{} not on the server", s.id);
    }

    // The refused one is listed with its reason; the quarantined ones are
    // out of the queue, kept, and named by `cache verify`.
    let list: serde_json::Value =
        serde_json::from_slice(&timecard(data, &["cache", "list", "--json"], None).stdout).unwrap();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0]["id"], ahead.id.to_string());
    assert_eq!(rows[0]["reason"], "invalid");
    let out = timecard(data, &["cache", "verify"], None);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("2 files in quarantine"), "{said}");
    for s in [&first, &last] {
        let line = said
            .lines()
            .find(|l| l.contains(&timecard_client::cache::file_name(s)))
            .unwrap_or_else(|| panic!("{} not reported: {said}", s.id));
        assert!(line.contains("1 Jan 2000 to 1 Jan 2100"), "{line}");
    }
    let quarantine = data.join("cache/quarantine");
    for s in [&first, &last] {
        let why = std::fs::read_to_string(
            quarantine.join(format!("{}.why.txt", timecard_client::cache::file_name(s))),
        )
        .unwrap();
        assert!(why.contains("2000"), "{why}");
    }
    let status: serde_json::Value =
        serde_json::from_slice(&timecard(data, &["status", "--json"], None).stdout).unwrap();
    assert_eq!(status["pending_segments"], 0, "{status}");
    assert_eq!(status["quarantined_files"], 2, "{status}");

    // `timecard track` starts and stops on the same data folder (it panicked).
    let out = timecard(
        data,
        &["track", "--contract", "ann-open", "--for", "1s"],
        None,
    );
    assert_ne!(
        out.status.code(),
        Some(101),
        "track panicked: {}",
        text(&out)
    );
}
