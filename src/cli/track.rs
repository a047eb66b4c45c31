//! `timecard track`: headless tracking of one contract.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::{Context, bail};
use clap::Args;

use super::{hms, local_time};
use crate::activity::NoActivity;
use crate::cache::Cache;
use crate::capture::NoScreenshots;
use crate::clock::{Clock, SystemClock};
use crate::domain::Contract;
use crate::platform::DataDir;
use crate::settings::Settings;
use crate::worker::{Command, ContractList, Tracker, TrackerConfig, Worker};

/// The demo contracts used until a server is connected.
const DEMO_CONTRACTS: &str = include_str!("../../fixtures/demo-contracts.json");

#[derive(Debug, Args)]
pub struct TrackArgs {
    /// The id of the contract to track.
    #[arg(long, value_name = "ID")]
    contract: String,
    /// Stop after this long, e.g. 30s, 10m, 1h30m (default: until Ctrl-C).
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<StdDuration>,
    /// What you are working on.
    #[arg(long, value_name = "TEXT")]
    memo: Option<String>,
    /// A JSON file with the contract list (default: the built-in demo contracts).
    #[arg(long, value_name = "FILE")]
    contracts: Option<PathBuf>,
}

fn load_contracts(file: Option<&PathBuf>) -> anyhow::Result<Vec<Contract>> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid contract list", path.display()))
        }
        None => Ok(serde_json::from_str(DEMO_CONTRACTS).expect("the demo contracts are valid")),
    }
}

pub fn run(data: &DataDir, settings: &Settings, args: TrackArgs) -> anyhow::Result<ExitCode> {
    let contracts = load_contracts(args.contracts.as_ref())?;
    let (cache, opened) = Cache::open(&data.cache_dir(), settings.capacity_secs())
        .context("cannot open the time cache")?;
    for q in &opened.quarantined {
        eprintln!(
            "warning: quarantined damaged cache file {}: {}",
            q.found_as, q.problem
        );
    }
    let mut config = TrackerConfig::new(data.device_id().context("cannot read this device's id")?);
    config.policy = settings.policy();
    config.time_zone = settings.zone();
    let zone = config.time_zone;
    let tracker = Tracker::new(config, cache, Box::new(NoScreenshots), Box::new(NoActivity));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let started = clock.now();
    let worker = Worker::spawn(tracker, clock.clone());
    worker.send(Command::SetContracts(ContractList {
        contracts,
        ..ContractList::default()
    }));
    if let Some(memo) = args.memo {
        worker.send(Command::SetMemo(memo));
    }
    worker.send(Command::Start {
        contract_id: args.contract.clone(),
    });

    // Ctrl-C stops tracking at that instant; the worker caches the partial
    // segment and the loop below sees tracking end.
    let stopper = worker.sender();
    ctrlc::set_handler(move || {
        let _ = stopper.send(Command::Stop);
    })
    .context("cannot install the Ctrl-C handler")?;

    let mut snapshot = worker.snapshots().wait_newer(0, StdDuration::from_secs(5));
    while snapshot.tracking.is_none() && snapshot.stopped.is_none() {
        snapshot = worker
            .snapshots()
            .wait_newer(snapshot.generation, StdDuration::from_secs(5));
    }
    if let Some((_, reason)) = &snapshot.stopped {
        drop(worker);
        bail!("cannot start tracking {}: {reason}", args.contract);
    }
    let tracking = snapshot.tracking.clone().expect("tracking");
    println!(
        "Tracking \"{}\" ({}) since {} — Ctrl-C to stop{}",
        tracking.contract_title,
        tracking.contract_id,
        local_time(tracking.started_at, zone),
        args.duration
            .map(|d| format!(
                ", stopping by itself after {}",
                humantime::format_duration(d)
            ))
            .unwrap_or_default()
    );
    let deadline = args
        .duration
        .map(|d| started + chrono::Duration::from_std(d).expect("duration in range"));
    let mut cached = snapshot.cache.pending_segments;
    loop {
        let now = clock.now();
        if deadline.is_some_and(|d| now >= d) {
            worker.send(Command::Stop);
        }
        let wait = deadline
            .map(|d| (d - now).to_std().unwrap_or_default())
            .unwrap_or(StdDuration::from_secs(60))
            .clamp(StdDuration::from_millis(10), StdDuration::from_secs(60));
        snapshot = worker.snapshots().wait_newer(snapshot.generation, wait);
        if snapshot.cache.pending_segments > cached {
            cached = snapshot.cache.pending_segments;
            println!(
                "  {}  segment cached — {} today, {} waiting for upload",
                local_time(clock.now(), zone),
                hms(snapshot.today_total_secs(clock.now())),
                hms(snapshot.cache.pending_secs)
            );
        }
        if let Some(error) = &snapshot.last_error {
            eprintln!("warning: {error}");
        }
        if snapshot.tracking.is_none() {
            break;
        }
    }
    let snapshot = worker.snapshot();
    drop(worker);
    let tracked =
        (snapshot.stopped.as_ref().map_or(clock.now(), |(t, _)| *t) - started).num_seconds();
    match &snapshot.stopped {
        Some((when, reason)) => {
            println!(
                "Tracking stopped by itself at {}: {reason}",
                local_time(*when, zone)
            );
            Ok(ExitCode::FAILURE)
        }
        None => {
            println!(
                "Stopped. Tracked {} this session; {} in {} segment(s) waiting in the cache for upload.",
                hms(tracked),
                hms(snapshot.cache.pending_secs),
                snapshot.cache.pending_segments
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
