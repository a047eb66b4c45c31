//! `timecard status`: the cache as the tracker sees it.

use std::process::ExitCode;
use timecard_core::outln;

use anyhow::Context;
use serde::Serialize;

use timecard_client::cache::Cache;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_core::fmt::format_hours;
use timecard_core::fmt::{hms, local_time};

#[derive(Serialize)]
struct Status {
    /// K5: online, caching, cache_full or signed_out.
    sync_state: &'static str,
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
}

pub fn print(data: &DataDir, settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let (cache, _) = Cache::open(&data.cache_dir(), settings.capacity_secs())
        .context("cannot open the time cache")?;
    let (sync_state, last_error, server) = super::server_cmds::probe(data, settings);
    let status = Status {
        sync_state: if cache.is_full() {
            "cache_full"
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
    outln!("Data folder:   {}", status.data_dir);
    outln!(
        "Cache:         {} segment(s), {} of {} not uploaded{}",
        status.pending_segments,
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
            "Not uploaded:  {} segment(s) refused by the server — `timecard cache list` shows why",
            status.refused_segments
        );
    }
    if status.quarantined_files > 0 {
        outln!(
            "Quarantine:    {} damaged file(s) in {} — `timecard cache verify` explains",
            status.quarantined_files,
            cache.quarantine_dir().display()
        );
    }
    if status.reports_waiting > 0 {
        outln!(
            "Reports:       {} problem report(s) waiting to be sent",
            status.reports_waiting
        );
    }
    Ok(ExitCode::SUCCESS)
}
