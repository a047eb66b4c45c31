//! Time the cache could not take (a full disk, a read-only folder) lives
//! only in the tracker's memory. Before the process ends it must land
//! somewhere that outlives it: the cache after all, once there is space, or
//! another folder in the cache's own file format, from which `timecard
//! cache import` takes it back. What lands nowhere is counted and said,
//! never dropped in silence.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cache;
use timecard_core::codec;
use timecard_core::domain::Segment;
use timecard_core::fs::durable;

use super::Tracker;

/// What became of the time that was only in memory.
#[derive(Debug, Default)]
pub struct Rescue {
    /// Seconds written to the cache on a later try.
    pub cached_secs: i64,
    /// A folder the rest was written to, with the segments and seconds.
    pub elsewhere: Option<(PathBuf, usize, i64)>,
    /// Segments and seconds written nowhere, and the last error.
    pub lost: Option<(usize, i64, String)>,
}

impl Rescue {
    /// Whether every second ended up in the cache.
    pub fn all_cached(&self) -> bool {
        self.elsewhere.is_none() && self.lost.is_none()
    }

    /// The outcome in plain words, one sentence per place; empty when
    /// there was nothing to rescue.
    pub fn describe(&self) -> Vec<String> {
        let hms = timecard_core::fmt::hms;
        let mut lines = Vec::new();
        if self.cached_secs > 0 {
            lines.push(format!(
                "{} of tracked time that could not be written at first is now in the cache.",
                hms(self.cached_secs)
            ));
        }
        if let Some((dir, n, secs)) = &self.elsewhere {
            lines.push(format!(
                "{} of tracked time ({}) could not be written to the cache and was saved to {} instead: once there is space, run `timecard cache import {}` to upload it.",
                hms(*secs),
                timecard_core::fmt::count(*n as u64, "segment", "segments"),
                dir.display(),
                dir.display()
            ));
        }
        if let Some((n, secs, why)) = &self.lost {
            lines.push(format!(
                "{} of tracked time ({}) could not be saved anywhere ({why}): it is lost.",
                hms(*secs),
                timecard_core::fmt::count(*n as u64, "segment", "segments")
            ));
        }
        lines
    }
}

/// Puts the tracker's unsaved segments somewhere safe: the cache, retried
/// until `wait` has passed (`waiting` is told once, with the reason, when
/// there is something to wait for), then the first of `places` that takes
/// them all (a folder is made there, owner-only).
pub fn rescue_unsaved(
    tracker: &mut Tracker,
    wait: Duration,
    places: &[PathBuf],
    mut waiting: impl FnMut(&str),
) -> Rescue {
    let before = tracker.unsaved_secs();
    if before == 0 {
        return Rescue::default();
    }
    let deadline = Instant::now() + wait;
    let mut told = false;
    while !tracker.retry_unsaved() && Instant::now() < deadline {
        if !told {
            told = true;
            waiting(
                tracker
                    .last_error()
                    .unwrap_or("the cache cannot be written"),
            );
        }
        std::thread::sleep(Duration::from_millis(500).min(wait));
    }
    let mut rescue = Rescue {
        cached_secs: before - tracker.unsaved_secs(),
        ..Rescue::default()
    };
    let segments = tracker.take_unsaved();
    if segments.is_empty() {
        return rescue;
    }
    let secs: i64 = segments.iter().map(Segment::duration_secs).sum();
    let mut why = tracker
        .last_error()
        .unwrap_or("the cache cannot be written")
        .to_owned();
    for place in places {
        match write_all(place, &segments) {
            Ok(()) => {
                log::warn!(
                    "{} s in {} could not be cached; written to {}",
                    secs,
                    timecard_core::fmt::count(segments.len() as u64, "segment", "segments"),
                    place.display()
                );
                rescue.elsewhere = Some((place.clone(), segments.len(), secs));
                return rescue;
            }
            Err(e) => {
                log::error!(
                    "unsaved segments could not be written to {}: {e}",
                    place.display()
                );
                why = format!("{}: {e}", place.display());
            }
        }
    }
    log::error!(
        "{secs} s in {} of tracked time lost: {why}",
        timecard_core::fmt::count(segments.len() as u64, "segment", "segments")
    );
    rescue.lost = Some((segments.len(), secs, why));
    rescue
}

/// Writes `segments` into `dir` as cache files (what `cache import` reads).
fn write_all(dir: &Path, segments: &[Segment]) -> std::io::Result<()> {
    durable::create_private_dir_all(dir)?;
    for segment in segments {
        let bytes = codec::encode_file(segment).map_err(std::io::Error::other)?;
        durable::write_private_file(dir, &cache::file_name(segment), &bytes)?;
    }
    Ok(())
}

/// The folder to use when the cache's disk is full and the user named none:
/// a new folder in the system's temporary folder, usually another disk.
pub fn default_rescue_folder(now: chrono::DateTime<chrono::Utc>) -> PathBuf {
    std::env::temp_dir().join(format!(
        "timecard-unsaved-{}-{}",
        now.format("%Y%m%d-%H%M%S"),
        std::process::id()
    ))
}
