//! Problem reports waiting to be sent (D3). A report is written here,
//! durably, before the first try; it leaves only when the server has stored
//! it (or refused it for good, when it moves to `refused/`). Reports carry
//! their own id, so one sent twice after a cut connection is stored once.

use std::io;
use std::path::{Path, PathBuf};

use super::{ApiClient, SyncError};
use crate::cache::durable;
use crate::protocol::ProblemReport;

/// The folder of reports not yet on the server.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: PathBuf,
}

/// A queued report that cannot be read back.
#[derive(Debug)]
pub struct Unreadable {
    pub path: PathBuf,
    pub problem: String,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> Outbox {
        Outbox { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues `report` (owner-only file, fsynced).
    pub fn put(&self, report: &ProblemReport) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let json = serde_json::to_vec(report).map_err(io::Error::other)?;
        durable::write_private_file(&self.dir, &format!("{}.json", report.id), &json)
    }

    /// The queued reports, oldest first, and files that could not be read
    /// (those are moved to `refused/` so they stop coming back).
    pub fn pending(&self) -> (Vec<ProblemReport>, Vec<Unreadable>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return (Vec::new(), Vec::new());
        };
        let mut reports = Vec::new();
        let mut unreadable = Vec::new();
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()));
            match parsed {
                Ok(report) => reports.push(report),
                Err(problem) => {
                    let _ = self.move_to_refused(&path);
                    unreadable.push(Unreadable { path, problem });
                }
            }
        }
        reports.sort_by_key(|r: &ProblemReport| r.created_at);
        (reports, unreadable)
    }

    /// How many reports wait.
    pub fn len(&self) -> usize {
        std::fs::read_dir(&self.dir).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|ext| ext == "json"))
                .count()
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The server has it: forget it.
    pub fn sent(&self, report: &ProblemReport) -> io::Result<()> {
        std::fs::remove_file(self.file(report))
    }

    /// The server refused it for good (too large, malformed): keep it aside
    /// for the user, out of the queue.
    pub fn refused(&self, report: &ProblemReport) -> io::Result<PathBuf> {
        self.move_to_refused(&self.file(report))
    }

    fn move_to_refused(&self, path: &Path) -> io::Result<PathBuf> {
        let dir = self.dir.join("refused");
        std::fs::create_dir_all(&dir)?;
        let to = dir.join(path.file_name().unwrap_or_default());
        std::fs::rename(path, &to)?;
        Ok(to)
    }

    fn file(&self, report: &ProblemReport) -> PathBuf {
        self.dir.join(format!("{}.json", report.id))
    }
}

/// What one delivery round did.
#[derive(Debug, Default)]
pub struct Delivered {
    pub sent: Vec<uuid::Uuid>,
    /// Refused for good: the id, the server's words, where the report is kept.
    pub refused: Vec<(uuid::Uuid, String, PathBuf)>,
}

/// Sends every queued report, oldest first. Stops at the first failure
/// that may pass (offline, signed out, maintenance) and returns it; the
/// reports not sent stay queued.
pub fn deliver(client: &ApiClient, outbox: &Outbox) -> Result<Delivered, SyncError> {
    let mut done = Delivered::default();
    let (pending, unreadable) = outbox.pending();
    for bad in unreadable {
        log::warn!(
            "queued report {} is unreadable ({}); moved to refused/",
            bad.path.display(),
            bad.problem
        );
    }
    for report in pending {
        match client.report(&report) {
            Ok(receipt) => {
                log::info!("report {} delivered", receipt.id);
                if let Err(e) = outbox.sent(&report) {
                    log::warn!("report {} sent but still queued: {e}", report.id);
                }
                done.sent.push(report.id);
            }
            Err(e)
                if e.is_transient()
                    || matches!(e, SyncError::SignedOut | SyncError::SessionExpired) =>
            {
                log::info!("report {} stays queued: {e}", report.id);
                return Err(e);
            }
            Err(e) => {
                log::warn!("report {} refused by the server: {e}", report.id);
                let kept = outbox
                    .refused(&report)
                    .unwrap_or_else(|_| outbox.file(&report));
                done.refused.push((report.id, e.to_string(), kept));
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn reports_wait_until_sent_and_unreadable_ones_step_aside() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("reports"));
        assert!(outbox.is_empty());
        let later =
            ProblemReport::new("second", Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
        let mut first =
            ProblemReport::new("first", Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap());
        first.attach_logs(b"PK zip bytes");
        outbox.put(&later).unwrap();
        outbox.put(&first).unwrap();
        std::fs::write(outbox.dir().join("torn.json"), b"{\"id\": \"12").unwrap();

        let (pending, unreadable) = outbox.pending();
        assert_eq!(pending, vec![first.clone(), later.clone()]);
        assert_eq!(unreadable.len(), 1);
        assert!(outbox.dir().join("refused/torn.json").exists());
        assert_eq!(outbox.len(), 2);

        outbox.sent(&first).unwrap();
        let kept = outbox.refused(&later).unwrap();
        assert!(kept.exists());
        assert!(outbox.is_empty());
        assert_eq!(
            first.logs_zip().unwrap().as_deref(),
            Some(&b"PK zip bytes"[..])
        );
    }
}
