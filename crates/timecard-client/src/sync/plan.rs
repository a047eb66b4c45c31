//! Planning uploads, separate from doing them: which files go in which
//! batch (oldest first), what each server answer means for the cache, and
//! how long to wait after a failure (Y2). No network, no clock reads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cache::{Refusal, SEGMENT_EXT};
pub use crate::link::UploadAction;
use timecard_core::domain::SegmentId;
use timecard_core::protocol::{Outcome, UploadResponse};

/// A cached segment file waiting for upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingFile {
    pub id: SegmentId,
    pub path: PathBuf,
    pub bytes: u64,
}

/// Reads the pending folder, oldest first (file names start with the
/// segment's start time). Temporary and foreign files are skipped.
pub fn list_pending(pending_dir: &Path) -> std::io::Result<Vec<PendingFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(pending_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(&format!(".{SEGMENT_EXT}")) else {
            continue;
        };
        let Some(id) = stem.split_once('-').and_then(|(_, id)| id.parse().ok()) else {
            continue;
        };
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        files.push((
            name,
            PendingFile {
                id,
                path: entry.path(),
                bytes,
            },
        ));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files.into_iter().map(|(_, f)| f).collect())
}

/// Cuts the queue into batches of at most `max_count` segments and about
/// `max_bytes` (a single larger segment still gets a batch of its own).
pub fn plan_batches(
    pending: &[PendingFile],
    max_count: usize,
    max_bytes: u64,
) -> Vec<Vec<PendingFile>> {
    let mut batches: Vec<Vec<PendingFile>> = Vec::new();
    let mut current: Vec<PendingFile> = Vec::new();
    let mut size = 0;
    for file in pending {
        if !current.is_empty() && (current.len() >= max_count || size + file.bytes > max_bytes) {
            batches.push(std::mem::take(&mut current));
            size = 0;
        }
        size += file.bytes;
        current.push(file.clone());
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Turns the server's answer for a batch into cache actions. Segments the
/// answer does not mention stay queued.
pub fn classify(
    sent: &[SegmentId],
    response: &UploadResponse,
    now: DateTime<Utc>,
) -> Vec<(SegmentId, UploadAction)> {
    response
        .results
        .iter()
        .filter(|r| sent.contains(&r.id))
        .map(|r| {
            let action = match (r.outcome, r.accepted_until) {
                (Outcome::Accepted, Some(end)) => UploadAction::AcknowledgedUntil {
                    end,
                    message: r.message.clone().unwrap_or_default(),
                },
                (Outcome::Accepted | Outcome::Duplicate, _) => UploadAction::Acknowledged,
                (Outcome::Rejected, _) => UploadAction::Refused(Refusal {
                    reason: r
                        .reason
                        .map_or("rejected", |reason| reason.code())
                        .to_owned(),
                    message: r
                        .message
                        .clone()
                        .unwrap_or_else(|| "refused by the server".into()),
                    refused_at: now,
                }),
            };
            (r.id, action)
        })
        .collect()
}

/// Exponential backoff with jitter, capped at 5 minutes (Y2), or at one
/// minute while tracking.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    failures: u32,
}

/// First retry after about this long.
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// Never wait longer than this between tries.
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// While tracking, never wait longer than this: new time is being cached.
pub const BACKOFF_CAP_TRACKING: Duration = Duration::from_secs(60);

impl Backoff {
    /// The wait before the next try; `unit` in `[0, 1)` supplies the jitter
    /// (the delay is drawn from the upper half of the exponential step),
    /// never more than `cap` ([`BACKOFF_CAP`], or [`BACKOFF_CAP_TRACKING`]).
    pub fn next_delay(&mut self, unit: f64, cap: Duration) -> Duration {
        let step = BACKOFF_BASE
            .saturating_mul(1 << self.failures.min(16))
            .min(cap);
        self.failures = self.failures.saturating_add(1);
        step.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0)).min(cap)
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use timecard_core::protocol::{RejectReason, SegmentResult};

    fn file(n: u8, bytes: u64) -> PendingFile {
        PendingFile {
            id: SegmentId(uuid::Uuid::from_bytes([n; 16])),
            path: PathBuf::from(format!("{n}")),
            bytes,
        }
    }

    #[test]
    fn batches_keep_order_and_respect_limits() {
        let files: Vec<_> = (0..7).map(|n| file(n, 100)).collect();
        let batches = plan_batches(&files, 3, 10_000);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 3, 1]
        );
        assert_eq!(batches.concat(), files);
        let batches = plan_batches(&files, 100, 250);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 2, 2, 1]
        );
        let huge = vec![file(1, 1000), file(2, 1000)];
        assert_eq!(plan_batches(&huge, 10, 10).len(), 2);
        assert!(plan_batches(&[], 10, 10).is_empty());
    }

    #[test]
    fn answers_become_cache_actions() {
        let (a, b, c, stray) = (file(1, 1).id, file(2, 1).id, file(3, 1).id, file(9, 1).id);
        let now: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        let response = UploadResponse {
            results: vec![
                SegmentResult {
                    id: a,
                    outcome: Outcome::Accepted,
                    reason: None,
                    message: None,
                    accepted_until: None,
                },
                SegmentResult {
                    id: b,
                    outcome: Outcome::Duplicate,
                    reason: None,
                    message: None,
                    accepted_until: None,
                },
                SegmentResult {
                    id: c,
                    outcome: Outcome::Rejected,
                    reason: Some(RejectReason::WeekLocked),
                    message: Some("locked".into()),
                    accepted_until: None,
                },
                SegmentResult {
                    id: stray,
                    outcome: Outcome::Accepted,
                    reason: None,
                    message: None,
                    accepted_until: None,
                },
            ],
        };
        let actions = classify(&[a, b, c], &response, now);
        assert_eq!(actions.len(), 3, "an id that was not sent is ignored");
        assert_eq!(actions[0], (a, UploadAction::Acknowledged));
        assert_eq!(actions[1], (b, UploadAction::Acknowledged));
        match &actions[2].1 {
            UploadAction::Refused(r) => assert_eq!(
                (r.reason.as_str(), r.message.as_str()),
                ("week_locked", "locked")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps_at_five_minutes() {
        let mut b = Backoff::default();
        let first = b.next_delay(0.0, BACKOFF_CAP);
        assert_eq!(first, Duration::from_secs(1));
        let second = b.next_delay(1.0, BACKOFF_CAP);
        assert_eq!(second, Duration::from_secs(4));
        for _ in 0..30 {
            assert!(b.next_delay(1.0, BACKOFF_CAP) <= BACKOFF_CAP);
        }
        assert_eq!(b.next_delay(1.0, BACKOFF_CAP), BACKOFF_CAP);
        b.reset();
        assert_eq!(b.failures(), 0);
    }

    // Item 8: while tracking, a long outage never makes the wait exceed a minute.
    #[test]
    fn backoff_while_tracking_caps_at_one_minute() {
        let mut b = Backoff::default();
        for _ in 0..30 {
            assert!(b.next_delay(1.0, BACKOFF_CAP_TRACKING) <= BACKOFF_CAP_TRACKING);
        }
        assert_eq!(
            b.next_delay(1.0, BACKOFF_CAP_TRACKING),
            BACKOFF_CAP_TRACKING
        );
        assert!(BACKOFF_CAP_TRACKING <= Duration::from_secs(60));
        // Tracking stops: the general cap applies again.
        assert_eq!(b.next_delay(1.0, BACKOFF_CAP), BACKOFF_CAP);
    }
}
