//! `timecard reset`: *Clear cache and restart* (D4) without the window.
//! Says what would be lost, refuses without `--yes`, can export the
//! un-uploaded time first, then wipes the data folder.

use std::path::PathBuf;
use std::process::ExitCode;
use timecard_core::{errln, outln};

use anyhow::Context;

use timecard_client::cache::Cache;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_core::fmt::{count, hms};

#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// First write the un-uploaded time to this folder; `timecard cache
    /// import DIR` queues it again on a fresh data folder.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Confirm: wipe even though something listed would be lost.
    #[arg(long)]
    yes: bool,
}

pub fn run(data: &DataDir, settings: &Settings, args: ResetArgs) -> anyhow::Result<ExitCode> {
    let (cache, _) = Cache::open(&data.cache_dir(), settings.capacity_secs())
        .context("cannot open the time cache")?;
    let segments = cache.pending_count() + cache.refused().count();
    let secs = cache.pending_secs()
        + cache
            .refused()
            .map(|r| (r.entry.end - r.entry.start).num_seconds())
            .sum::<i64>();
    let builtin = settings.server.is_none();
    outln!("Clearing {} deletes:", data.root().display());
    outln!(
        "  - un-uploaded time: {} in {}",
        hms(secs),
        count(segments as u64, "segment", "segments")
    );
    outln!("  - your settings and saved sign-in, and the logs");
    if builtin {
        outln!("  - the built-in server's Work Diary: all time recorded on this computer");
    }
    if !args.yes && (segments > 0 || builtin) {
        let what = if segments > 0 {
            format!(
                "{} of time that is not on the server yet would be lost",
                hms(secs)
            )
        } else {
            "the built-in server's Work Diary would be lost".to_owned()
        };
        errln!(
            "timecard: not cleared: {what}. Upload first with `timecard sync`, keep a copy with \
             --export DIR, and confirm with --yes."
        );
        return Ok(ExitCode::FAILURE);
    }
    if let Some(dir) = &args.export {
        let written = cache
            .export(dir)
            .with_context(|| format!("cannot export to {}; nothing was deleted", dir.display()))?;
        outln!(
            "{} exported to {}; `timecard cache import {}` queues them again.",
            count(written as u64, "segment", "segments"),
            dir.display(),
            dir.display()
        );
    }
    drop(cache);
    log::info!(
        "reset: wiping the data folder ({} not uploaded)",
        count(segments as u64, "segment", "segments")
    );
    timecard_client::platform::reset::wipe(data, args.export.as_deref())
        .with_context(|| format!("cannot clear {}", data.root().display()))?;
    outln!("Cleared. The next start of Timecard begins afresh.");
    Ok(ExitCode::SUCCESS)
}
