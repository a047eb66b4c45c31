//! Puts the running parts together for the app and `timecard track`: the
//! connection (built-in or configured server), the tracker on its worker
//! thread, and the sync thread feeding it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::activity::ActivitySource;
use crate::cache::Cache;
use crate::capture::ScreenSource;
use crate::connect::{self, Connection, LocalServer};
use crate::platform::DataDir;
use crate::settings::Settings;
use crate::sync::{self, SyncOptions, SyncState, Syncer};
use crate::worker::{Command, Snapshot, Tracker, TrackerConfig, Worker};
use timecard_core::clock::Clock;

/// Everything that runs while Timecard runs.
pub struct Engine {
    pub worker: Worker,
    syncer: Option<Syncer>,
    pub connection: Connection,
    pub clock: Arc<dyn Clock>,
    pub zone: chrono_tz::Tz,
    /// Problems found while opening the cache (quarantined files), in words.
    pub warnings: Vec<String>,
    /// Something the app runs beside the engine (desktop notifications
    /// watching the snapshots), finished at shutdown after the worker and
    /// before the sync thread.
    companion: Option<Box<dyn FnOnce() + Send>>,
}

impl Engine {
    /// Starts the connection (with no server configured, to the built-in
    /// one `local` starts), the worker and the sync thread. Contracts from
    /// the last run are loaded at once, so tracking can start offline (S3).
    pub fn start(
        data: &DataDir,
        settings: &Settings,
        clock: Arc<dyn Clock>,
        screen: Box<dyn ScreenSource>,
        activity: Box<dyn ActivitySource>,
        local: &dyn LocalServer,
    ) -> anyhow::Result<Engine> {
        let connection = connect::connect(data, settings, clock.clone(), local)?;
        let (cache, opened) = Cache::open(&data.cache_dir(), settings.capacity_secs())
            .context("cannot open the time cache")?;
        let warnings = opened
            .quarantined
            .iter()
            .map(|q| {
                format!(
                    "damaged cache file {} moved to quarantine: {}",
                    q.found_as, q.problem
                )
            })
            .collect();
        let zone = settings.zone();
        let mut config =
            TrackerConfig::new(data.device_id().context("cannot read this device's id")?);
        config.policy = settings.policy();
        config.time_zone = zone;
        config.idle_threshold_secs = settings.idle_threshold_secs();
        let mut tracker = Tracker::new(config, cache, screen, activity);
        if !connection.is_builtin() {
            // Until the server answers: what it said last time.
            if let Some(saved) = sync::load_saved(&data.server_config_file()) {
                tracker.set_server_config(saved);
            }
            if let Some(saved) = sync::load_saved(&data.contracts_file()) {
                tracker.set_contracts(sync::contract_list(&saved, zone), clock.now());
            }
        }
        // Both channels are made here: the worker passes work to the sync
        // thread, and the sync thread's events come back as commands.
        let sync_channel = std::sync::mpsc::channel();
        let worker = Worker::spawn_with_sync(tracker, clock.clone(), Some(sync_channel.0.clone()));
        let mut options = SyncOptions::new(data.cache_dir().join("pending"));
        options.time_zone = zone.name().to_owned();
        if !connection.is_builtin() {
            options.contracts_file = Some(data.contracts_file());
            options.config_file = Some(data.server_config_file());
        }
        options.upload_horizon = Some(worker.upload_horizon());
        options.tracking = Some(worker.tracking_flag());
        options.local_only = connection.is_builtin();
        options.outbox = Some(crate::sync::outbox::Outbox::new(data.reports_dir()));
        let to_worker = worker.sender();
        let syncer = Syncer::spawn(
            connection.client.clone(),
            options,
            sync_channel,
            move |event| {
                let _ = to_worker.send(Command::Sync(event));
            },
            clock.clone(),
        );
        Ok(Engine {
            worker,
            syncer: Some(syncer),
            connection,
            clock,
            zone,
            warnings,
            companion: None,
        })
    }

    /// Runs `finish` at shutdown, after the worker stopped and before the
    /// sync thread does; a companion attached earlier is dropped.
    pub fn attach_companion(&mut self, finish: impl FnOnce() + Send + 'static) {
        self.companion = Some(Box::new(finish));
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.worker.snapshot()
    }

    /// Waits until `ready` holds or `timeout` passes; returns the last snapshot.
    pub fn wait_for(&self, timeout: Duration, ready: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
        self.worker.snapshots().wait_for(timeout, ready)
    }

    /// Waits for the first answer from the server (or its failure).
    pub fn wait_connected(&self, timeout: Duration) -> Arc<Snapshot> {
        self.wait_for(timeout, |s| !matches!(s.sync.state, SyncState::Connecting))
    }

    /// Asks for an upload now and waits until the cache is empty, the
    /// server cannot be reached, or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Arc<Snapshot> {
        let before = self.worker.snapshot().sync.uploaded_segments;
        self.worker.send(Command::UploadNow { tell_user: false });
        self.wait_for(timeout, |s| {
            let settled =
                matches!(s.sync.state, SyncState::Online) && s.cache.pending_segments == 0;
            let stuck = matches!(
                s.sync.state,
                SyncState::Caching { .. } | SyncState::SignedOut { .. }
            );
            settled || (stuck && s.sync.uploaded_segments >= before)
        })
    }

    /// Stops tracking (caching the partial segment), then the sync thread,
    /// then the built-in server; hands the tracker back.
    pub fn shutdown(mut self) -> Tracker {
        let tracker = self.worker.shutdown();
        if let Some(finish) = self.companion.take() {
            finish();
        }
        if let Some(syncer) = self.syncer.take() {
            syncer.shutdown();
        }
        tracker
    }

    /// [`Engine::shutdown`], then puts time that was only in memory (a full
    /// disk) somewhere safe: the cache, retried for `wait`, else a folder in
    /// the temporary folder. The outcome is logged and returned.
    pub fn shutdown_keeping_time(self, wait: Duration) -> crate::worker::rescue::Rescue {
        let now = self.clock.now();
        let mut tracker = self.shutdown();
        let places = [crate::worker::rescue::default_rescue_folder(now)];
        let rescue = crate::worker::rescue::rescue_unsaved(&mut tracker, wait, &places, |why| {
            log::warn!(
                "waiting up to {} s for space to save tracked time: {why}",
                wait.as_secs()
            )
        });
        for line in rescue.describe() {
            log::warn!("{line}");
        }
        rescue
    }
}
