//! Problem reports waiting to be sent (D3). A report is written here,
//! durably, before the first try; it leaves only when the server has stored
//! it (or refused it for good, when it moves to `refused/`). Reports carry
//! their own id, so one sent twice after a cut connection is stored once.

use std::io;
use std::path::{Path, PathBuf};

use super::{Api, SyncError};
use timecard_core::fs::durable;
use timecard_core::protocol::ProblemReport;

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
            let parsed = timecard_core::fs::read::read_regular(&path, 64 * 1024 * 1024)
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
pub fn deliver(client: &dyn Api, outbox: &Outbox) -> Result<Delivered, SyncError> {
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

/// With no server configured there is no one to send a report to (the
/// built-in server is this computer's own database): the report and its
/// logs are saved as one zip in `dir` for the user to send, owner-only.
/// Inside: `report.txt` to read, `report.json` (the report as it would be
/// sent, without the logs) and the log files under `logs/`. Returns the
/// file's path; the report counts as saved once this returns.
pub fn save_to_file(dir: &Path, report: &ProblemReport) -> io::Result<PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let zone: Option<chrono_tz::Tz> = report.time_zone.as_deref().and_then(|z| z.parse().ok());
    let local = |t: chrono::DateTime<chrono::Utc>| match zone {
        Some(zone) => t
            .with_timezone(&zone)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string(),
        None => t.format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    let stamp = match zone {
        Some(zone) => report
            .created_at
            .with_timezone(&zone)
            .format("%Y%m%d-%H%M%S"),
        None => report.created_at.format("%Y%m%d-%H%M%S"),
    }
    .to_string();
    let name = (0..)
        .map(|n| match n {
            0 => format!("report-{stamp}.zip"),
            n => format!("report-{stamp}-{n}.zip"),
        })
        .find(|name| !dir.join(name).exists())
        .expect("a free name");

    let logs = report.logs_zip().map_err(io::Error::other)?;
    let mut text = format!(
        "Timecard problem report {}\n\nWhat happened:\n{}\n\n",
        report.id, report.description
    );
    if let Some(at) = report.incident_at {
        text.push_str(&format!("When: {}\n", local(at)));
    }
    if let Some(contract) = &report.contract_id {
        text.push_str(&format!("Contract: {contract}\n"));
    }
    text.push_str(&format!(
        "Written: {}\nTimecard {} on {}\nLogs: {}\n",
        local(report.created_at),
        report.app_version,
        report.os,
        if logs.is_some() {
            "attached, in logs/"
        } else {
            "not attached"
        }
    ));
    let mut bare = report.clone();
    bare.logs_zip_base64 = None;
    let json = serde_json::to_vec_pretty(&bare).map_err(io::Error::other)?;

    let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("report.txt", options)
        .map_err(io::Error::other)?;
    zip.write_all(text.as_bytes())?;
    zip.start_file("report.json", options)
        .map_err(io::Error::other)?;
    zip.write_all(&json)?;
    if let Some(logs) = logs {
        let mut archive = zip::ZipArchive::new(io::Cursor::new(logs)).map_err(io::Error::other)?;
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).map_err(io::Error::other)?;
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut file, &mut bytes)?;
            let inner = file.name().map_err(io::Error::other)?.into_owned();
            let name = format!("logs/{}", inner.rsplit('/').next().unwrap_or_default());
            zip.start_file(name, options).map_err(io::Error::other)?;
            zip.write_all(&bytes)?;
        }
    }
    let bytes = zip.finish().map_err(io::Error::other)?.into_inner();
    durable::write_private_file(dir, &name, &bytes)?;
    Ok(dir.join(name))
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
