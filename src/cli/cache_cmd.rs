//! `timecard cache list|verify|export|import` (K3, K9).

use std::path::PathBuf;
use std::process::ExitCode;
use timecard_core::{errln, outln};

use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;

use timecard_client::cache::Cache;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_core::fmt::{count, hms, local_time};

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List every cached segment: waiting for upload, or refused by the server.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-read and check every cache file; damaged ones are moved to the
    /// quarantine folder (never deleted) and listed. Exits 1 if any were found.
    Verify,
    /// Write every pending or refused segment to DIR, to be imported here or
    /// on another machine later.
    Export {
        /// Folder to write to (created if needed).
        dir: PathBuf,
    },
    /// Add the segment files in DIR to the upload queue; ones already cached
    /// are skipped, invalid files are reported and left alone.
    Import {
        /// Folder to read from (as written by `timecard cache export`).
        dir: PathBuf,
    },
}

#[derive(Serialize)]
struct Row {
    id: String,
    contract_id: String,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    duration_secs: i64,
    screenshot: bool,
    state: &'static str,
    reason: Option<String>,
    message: Option<String>,
}

pub fn run(data: &DataDir, settings: &Settings, command: CacheCommand) -> anyhow::Result<ExitCode> {
    let (mut cache, opened) = Cache::open(&data.cache_dir(), settings.capacity_secs())
        .context("cannot open the time cache")?;
    if !matches!(command, CacheCommand::Verify) {
        // Verify lists these itself.
        for q in &opened.quarantined {
            errln!(
                "warning: {} set aside to {}: {}",
                q.found_as,
                q.path.display(),
                q.problem
            );
        }
    }
    match command {
        CacheCommand::List { json } => {
            let rows: Vec<Row> = cache
                .pending()
                .map(|e| Row {
                    id: e.id.to_string(),
                    contract_id: e.contract_id.clone(),
                    start: e.start,
                    end: e.end,
                    duration_secs: e.duration_secs(),
                    screenshot: e.has_screenshot,
                    state: "pending",
                    reason: None,
                    message: None,
                })
                .chain(cache.refused().map(|r| Row {
                    id: r.entry.id.to_string(),
                    contract_id: r.entry.contract_id.clone(),
                    start: r.entry.start,
                    end: r.entry.end,
                    duration_secs: r.entry.duration_secs(),
                    screenshot: r.entry.has_screenshot,
                    state: "refused",
                    reason: Some(r.refusal.reason.clone()),
                    message: Some(r.refusal.message.clone()),
                }))
                .collect();
            if json {
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                outln!("The cache is empty: everything tracked has been uploaded.");
            } else {
                let zone = settings.zone();
                for r in &rows {
                    outln!(
                        "{}  {}  {:>8}  {:<16} {}{}{}",
                        r.id,
                        local_time(r.start, zone),
                        hms(r.duration_secs),
                        r.contract_id,
                        r.state,
                        if r.screenshot {
                            ""
                        } else {
                            "  (no screenshot)"
                        },
                        r.message
                            .as_ref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CacheCommand::Verify => {
            let mut report = opened;
            let again = cache.verify()?;
            report.quarantined.extend(again.quarantined);
            report.verified = again.verified;
            outln!(
                "{} verified in {}",
                count(report.verified as u64, "segment file", "segment files"),
                cache.root().display()
            );
            if report.incomplete_removed > 0 {
                outln!(
                    "{} from an interrupted run removed (they were never reported as cached)",
                    count(
                        report.incomplete_removed as u64,
                        "unfinished write",
                        "unfinished writes"
                    )
                );
            }
            for q in &report.quarantined {
                outln!(
                    "quarantined {} → {}: {}",
                    q.found_as,
                    q.path.display(),
                    q.problem
                );
            }
            let kept = cache.quarantined()?;
            if !kept.is_empty() {
                outln!(
                    "{} in quarantine ({}): kept, not deleted; send them with a problem report or delete them by hand",
                    count(kept.len() as u64, "file", "files"),
                    cache.quarantine_dir().display()
                );
            }
            // Those set aside earlier (when a command opened the cache), with why.
            for q in kept
                .iter()
                .filter(|q| !report.quarantined.iter().any(|new| new.path == q.path))
            {
                outln!(
                    "  {} (found as {}): {}",
                    q.path.display(),
                    q.found_as,
                    q.problem
                );
            }
            Ok(if report.quarantined.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        CacheCommand::Export { dir } => {
            let n = cache.export(&dir)?;
            if n == 0 {
                outln!(
                    "Nothing to export: no un-uploaded or refused time in the cache (no folder was made)"
                );
            } else {
                outln!(
                    "{} written to {}",
                    count(n as u64, "segment", "segments"),
                    dir.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CacheCommand::Import { dir } => {
            let report = cache.import(&dir)?;
            outln!(
                "{} imported, {} already in the cache",
                count(report.imported as u64, "segment", "segments"),
                report.already_present
            );
            for (path, problem) in &report.invalid {
                outln!("skipped {}: {problem}", path.display());
            }
            Ok(if report.invalid.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
