//! `timecard status`: the cache as the tracker sees it.

use std::process::ExitCode;
use timecard_core::outln;

use anyhow::Context;
use serde::Serialize;

use timecard_client::cache::Cache;
use timecard_client::platform::DataDir;
use timecard_client::running::RunningTracking;
use timecard_client::settings::Settings;
use timecard_core::fmt::format_hours;
use timecard_core::fmt::{count, hms, local_time};

#[derive(Serialize)]
struct Status {
    /// K5: online, caching, cache_full or signed_out (and, from a running
    /// window, uploading or connecting).
    sync_state: String,
    server: String,
    last_error: Option<String>,
    data_dir: String,
    device_id: String,
    time_zone: String,
    pending_segments: usize,
    cached_secs: i64,
    capacity_secs: i64,
    cache_full: bool,
    oldest_pending: Option<chrono::DateTime<chrono::Utc>>,
    refused_segments: usize,
    quarantined_files: usize,
    /// Problem reports not yet sent (D3).
    reports_waiting: usize,
    /// No server is configured: the built-in server keeps the time on this
    /// computer only.
    local_only: bool,
    /// Another Timecard on this data folder (the window, `timecard track`)
    /// and what it is doing; `null` when none runs.
    running: Option<RunningOut>,
}

/// `running` in `timecard status --json`.
#[derive(Serialize)]
struct RunningOut {
    /// `window`, `track`, …
    role: String,
    pid: u32,
    version: String,
    /// The session it tracks; `null` when it tracks nothing or did not say.
    tracking: Option<TrackingOut>,
    /// Why it could not be asked, in words.
    problem: Option<String>,
    /// The same, as a line for people.
    summary: String,
    /// K5 as the window sees it (`null` from `timecard track`).
    #[serde(skip)]
    sync_state: Option<String>,
    #[serde(skip)]
    sync_summary: Option<String>,
}

#[derive(Serialize)]
struct TrackingOut {
    #[serde(flatten)]
    tracking: RunningTracking,
    /// Seconds of the segment in progress, not in the cache yet.
    not_cached_secs: i64,
}

pub fn print(data: &DataDir, settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let (cache, _) = Cache::open(&data.cache_dir(), settings.capacity_secs())
        .context("cannot open the time cache")?;
    let now = chrono::Utc::now();
    let running = timecard_client::running::ask(data).map(|r| RunningOut {
        role: r.holder.role.clone(),
        pid: r.holder.pid,
        version: r.holder.version.clone(),
        summary: r.describe(now, settings.zone()),
        tracking: r
            .state
            .as_ref()
            .ok()
            .and_then(|s| s.as_ref()?.tracking.clone())
            .map(|t| TrackingOut {
                not_cached_secs: (now - t.segment_start).num_seconds().max(0),
                tracking: t,
            }),
        sync_state: r
            .state
            .as_ref()
            .ok()
            .and_then(|s| s.as_ref()?.sync_state.clone()),
        sync_summary: r
            .state
            .as_ref()
            .ok()
            .and_then(|s| s.as_ref()?.sync_summary.clone()),
        problem: r.state.err(),
    });
    // The window's own view of the connection when it runs: no second
    // connection, and never a second built-in server on the same files.
    let window_sync = running
        .as_ref()
        .and_then(|r| Some((r.sync_state.clone()?, r.sync_summary.clone()?)));
    let (sync_state, last_error, server) = match &window_sync {
        Some((state, summary)) => (
            state.clone(),
            (state != "online").then(|| summary.clone()),
            settings
                .server
                .clone()
                .unwrap_or_else(|| "the built-in local server".into()),
        ),
        // A window still starting (or `timecard track`) on the built-in
        // server: that server's files are its own while it runs.
        None if running.is_some() && settings.server.is_none() => (
            "connecting".to_owned(),
            None,
            "the built-in local server".to_owned(),
        ),
        None => {
            let (state, error, server) = super::server_cmds::probe(data, settings);
            (state.to_owned(), error, server)
        }
    };
    let status = Status {
        sync_state: if cache.is_full() {
            "cache_full".into()
        } else {
            sync_state
        },
        server,
        last_error,
        data_dir: data.root().display().to_string(),
        device_id: data.device_id().context("cannot read this device's id")?,
        time_zone: settings.zone().name().to_owned(),
        pending_segments: cache.pending_count(),
        cached_secs: cache.pending_secs(),
        capacity_secs: cache.capacity_secs(),
        cache_full: cache.is_full(),
        oldest_pending: cache.pending().next().map(|e| e.start),
        refused_segments: cache.refused().count(),
        quarantined_files: cache.quarantined()?.len(),
        reports_waiting: timecard_client::sync::outbox::Outbox::new(data.reports_dir()).len(),
        local_only: settings.server.is_none(),
        running,
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("Server:        {}", status.server);
    outln!(
        "Sync:          {}{}",
        status.sync_state,
        status
            .last_error
            .as_ref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default()
    );
    if status.local_only {
        outln!(
            "Local only:    no server configured; your time is kept on this computer only \
             (`timecard login --server https://…` to use your organisation's server)"
        );
    }
    if let Some(running) = &status.running {
        outln!("Running:       {}", running.summary);
    }
    outln!("Data folder:   {}", status.data_dir);
    outln!(
        "Cache:         {}, {} of {} not uploaded{}",
        count(status.pending_segments as u64, "segment", "segments"),
        hms(status.cached_secs),
        format_hours(status.capacity_secs),
        if status.cache_full {
            " — FULL: tracking cannot start until uploads free space"
        } else {
            ""
        }
    );
    if let Some(oldest) = status.oldest_pending {
        outln!("Oldest cached: {}", local_time(oldest, settings.zone()));
    }
    if status.refused_segments > 0 {
        outln!(
            "Not uploaded:  {} refused by the server — `timecard cache list` shows why",
            count(status.refused_segments as u64, "segment", "segments")
        );
    }
    if status.quarantined_files > 0 {
        outln!(
            "Quarantine:    {} in {} — `timecard cache verify` explains",
            count(
                status.quarantined_files as u64,
                "damaged file",
                "damaged files"
            ),
            cache.quarantine_dir().display()
        );
    }
    if status.reports_waiting > 0 {
        outln!(
            "Reports:       {} waiting to be sent",
            count(
                status.reports_waiting as u64,
                "problem report",
                "problem reports"
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}
