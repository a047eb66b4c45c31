//! `timecard track`: headless tracking of one contract.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration as StdDuration;
use timecard_core::{errln, outln};

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::Args;

use timecard_client::engine::Engine;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_client::sync::SyncState;
use timecard_client::worker::{Command, Snapshot, rescue};
use timecard_core::clock::{Clock, SystemClock};
use timecard_core::fmt::{count, hms, local_time};

#[derive(Debug, Args)]
pub struct TrackArgs {
    /// The id of the contract to track (`timecard contracts` lists them).
    #[arg(long, value_name = "ID")]
    contract: String,
    /// Stop after this long, e.g. 30s, 10m, 1h30m (default: until Ctrl-C).
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<StdDuration>,
    /// What you are working on.
    #[arg(long, value_name = "TEXT")]
    memo: Option<String>,
    /// What to do with time without keyboard or mouse input (longer than
    /// the idle threshold in Settings): keep it or discard it. `ask` needs
    /// the window.
    #[arg(long, value_enum, default_value_t = OnIdle::Keep, value_name = "WHAT")]
    on_idle: OnIdle,
    /// When the cache's disk is full at the end, how long to wait for space
    /// before saving the unsaved time elsewhere.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    wait_for_space: StdDuration,
    /// Where to save tracked time the cache could not take (a full disk);
    /// default: a new folder in the system's temporary folder.
    #[arg(long, value_name = "DIR")]
    unsaved_to: Option<std::path::PathBuf>,
}

/// S5 on the command line, where nobody can be asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnIdle {
    /// Ask in the window (not possible here: refused with a hint).
    Ask,
    /// Keep idle time as work.
    Keep,
    /// Cut idle time out of the tracked segments.
    Discard,
}

pub fn run(data: &DataDir, settings: &Settings, args: TrackArgs) -> anyhow::Result<ExitCode> {
    if args.on_idle == OnIdle::Ask {
        bail!(
            "--on-idle ask needs the window, which asks when you come back; \
             on the command line choose --on-idle keep or --on-idle discard"
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut engine = Engine::start(
        data,
        settings,
        clock.clone(),
        timecard_client::capture::default_source(settings),
        timecard_client::activity::default_source(),
        crate::builtin::local_server(),
    )?;
    if settings.notifications {
        let told = Some(data.disputes_told_file());
        crate::notify::attach(&mut engine, Arc::new(AtomicBool::new(true)), told);
    }
    for warning in &engine.warnings {
        errln!("warning: {warning}");
    }
    let zone = engine.zone;
    if let Some(memo) = args.memo {
        engine.worker.send(Command::SetMemo(memo));
    }
    // With a contract list from the last run this returns at once (S3);
    // on a first run it waits for the server's list.
    let id = args.contract.clone();
    let known = engine.wait_for(StdDuration::from_secs(30), |s| {
        s.contract(&id).is_some() || !matches!(s.sync.state, SyncState::Connecting)
    });
    if known.contract(&id).is_none() {
        let why = match &known.sync.state {
            SyncState::Caching { last_error, .. } => {
                format!("the contract list is not known yet: {last_error}")
            }
            SyncState::SignedOut { reason } => reason.clone(),
            _ => format!(
                "there is no contract with id {id:?}; run `timecard contracts` to list them"
            ),
        };
        engine.shutdown();
        bail!("cannot start tracking {id}: {why}");
    }
    engine.worker.send(Command::Start {
        contract_id: id.clone(),
    });
    let started = clock.now();
    let mut snapshot = engine.wait_for(StdDuration::from_secs(10), |s| {
        s.tracking.is_some() || s.stopped.as_ref().is_some_and(|(t, _)| *t >= started)
    });
    if let (None, Some((_, reason))) = (&snapshot.tracking, &snapshot.stopped) {
        let reason = reason.to_string();
        engine.shutdown();
        bail!("cannot start tracking {id}: {reason}");
    }
    let Some(tracking) = snapshot.tracking.clone() else {
        engine.shutdown();
        bail!("tracking did not start");
    };

    // Ctrl-C stops tracking at that instant; the worker caches the partial
    // segment and the loop below sees tracking end.
    let stopper = engine.worker.sender();
    ctrlc::set_handler(move || {
        let _ = stopper.send(Command::Stop);
    })?;
    outln!(
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
    let mut sync_line = String::new();
    let mut idle = IdleHandler::new(args.on_idle, settings.idle_threshold_mins);
    let mut notice = snapshot.notice.clone();
    loop {
        let now = clock.now();
        if deadline.is_some_and(|d| now >= d) {
            engine.worker.send(Command::Stop);
        }
        let wait = deadline
            .map(|d| (d - now).to_std().unwrap_or_default())
            .unwrap_or(StdDuration::from_secs(60))
            .clamp(StdDuration::from_millis(10), StdDuration::from_secs(60));
        snapshot = engine
            .worker
            .snapshots()
            .wait_newer(snapshot.generation, wait);
        if snapshot.cache.pending_segments > cached {
            outln!(
                "  {}  segment cached — {} today",
                local_time(clock.now(), zone),
                hms(snapshot.today_total_secs(clock.now()))
            );
        }
        cached = snapshot.cache.pending_segments;
        let line = snapshot.sync_summary(clock.now(), zone);
        if snapshot.sync_code() != "uploading"
            && line != sync_line
            && !line.starts_with("Connecting")
        {
            outln!("  sync: {line}");
            sync_line = line;
        }
        if let Some(error) = &snapshot.last_error {
            errln!("warning: {error}");
        }
        if snapshot.notice != notice {
            notice.clone_from(&snapshot.notice);
            if let Some(text) = &notice {
                outln!("  {text}");
            }
        }
        idle.watch(&engine, &snapshot, false);
        if snapshot.tracking.is_none() {
            break;
        }
    }
    let stopped = engine.snapshot().stopped.clone();
    let end = stopped.as_ref().map_or(clock.now(), |(t, _)| *t);
    // Idle until the end: the span ends where tracking did.
    idle.watch(&engine, &engine.snapshot(), true);
    let discarded = idle.discarded_within(started, end);
    let snapshot = engine.flush(StdDuration::from_secs(20));
    if snapshot.notice != notice
        && let Some(text) = &snapshot.notice
    {
        outln!("  {text}");
    }
    let local_only = engine.connection.is_builtin();
    let mut tracker = engine.shutdown();
    // K1: time the cache could not take is only in memory; it must land
    // somewhere before this process ends.
    let places: Vec<_> = args
        .unsaved_to
        .into_iter()
        .chain([rescue::default_rescue_folder(clock.now())])
        .collect();
    let rescue = rescue::rescue_unsaved(&mut tracker, args.wait_for_space, &places, |why| {
        outln!(
            "  {} of tracked time is only in memory ({why}); waiting up to {} for space…",
            hms(snapshot.cache.unsaved_secs),
            humantime::format_duration(args.wait_for_space)
        )
    });
    let tracked = (end - started).num_seconds() - discarded;
    let cache = tracker.cache();
    let left = if cache.pending_count() == 0 && rescue.all_cached() && local_only {
        "everything is saved on this computer (local only: no server configured)".to_owned()
    } else if cache.pending_count() == 0 && rescue.all_cached() {
        "everything is uploaded".to_owned()
    } else if cache.pending_count() == 0 {
        "nothing is waiting in the cache".to_owned()
    } else {
        format!(
            "{} in {} cached for upload ({})",
            hms(cache.pending_secs()),
            count(cache.pending_count() as u64, "segment", "segments"),
            snapshot.sync_summary(clock.now(), zone)
        )
    };
    if !rescue.all_cached() {
        for line in rescue.describe() {
            errln!("warning: {line}");
        }
        outln!("Tracked {} this session; {left}.", hms(tracked));
        return Ok(ExitCode::from(3));
    }
    match stopped {
        Some((when, reason)) => {
            outln!(
                "Tracking stopped by itself at {}: {reason}",
                local_time(when, zone)
            );
            outln!("Tracked {}; {left}.", hms(tracked));
            Ok(ExitCode::FAILURE)
        }
        None => {
            outln!("Stopped. Tracked {} this session; {left}.", hms(tracked));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Says when an idle period begins and, once it ends (or tracking does),
/// keeps or discards it as `--on-idle` says (S5).
struct IdleHandler {
    policy: OnIdle,
    threshold_mins: u32,
    told_since: Option<DateTime<Utc>>,
    resolved_since: Option<DateTime<Utc>>,
    discarded: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl IdleHandler {
    fn new(policy: OnIdle, threshold_mins: u32) -> Self {
        IdleHandler {
            policy,
            threshold_mins,
            told_since: None,
            resolved_since: None,
            discarded: Vec::new(),
        }
    }

    /// Looks at the snapshot's idle period; `at_end`: tracking is over, so
    /// an idle period without a return ends now.
    fn watch(&mut self, engine: &Engine, snapshot: &Snapshot, at_end: bool) {
        let Some(idle) = &snapshot.idle else { return };
        if self.resolved_since == Some(idle.since) {
            return;
        }
        let zone = engine.zone;
        let keep = self.policy != OnIdle::Discard;
        let what = if keep { "kept" } else { "discarded" };
        if self.told_since != Some(idle.since) {
            self.told_since = Some(idle.since);
            outln!(
                "  {}  no keyboard or mouse input since {} (idle threshold {} min): idle time will be {what}",
                local_time(engine.clock.now(), zone),
                local_time(idle.since, zone),
                self.threshold_mins
            );
        }
        let to = match idle.returned {
            Some(back) => back,
            None if at_end => engine.clock.now(),
            None => return,
        };
        self.resolved_since = Some(idle.since);
        engine.worker.send(Command::ResolveIdle { keep });
        if !keep {
            self.discarded.push((idle.since, to));
        }
        outln!(
            "  idle from {} to {} ({}): {what}{}",
            local_time(idle.since, zone),
            local_time(to, zone),
            hms((to - idle.since).num_seconds()),
            if idle.returned.is_some() {
                ", back to work"
            } else {
                ""
            }
        );
    }

    /// Seconds discarded inside `[from, to)`.
    fn discarded_within(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.discarded
            .iter()
            .map(|(a, b)| ((*b).min(to) - (*a).max(from)).num_seconds().max(0))
            .sum()
    }
}
