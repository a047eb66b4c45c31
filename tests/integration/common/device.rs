//! A client device: tracker, worker thread and sync thread against a test
//! server, sharing the server's manual clock.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use timecard_client::cache::{Cache, DEFAULT_CAPACITY_SECS};
use timecard_client::sync::{ApiClient, SyncOptions, SyncState, Syncer};
use timecard_client::worker::{Command, Snapshot, Tracker, TrackerConfig, Worker};
use timecard_core::clock::Clock;
use timecard_core::domain::Segment;

use super::server::TestServer;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Device {
    pub worker: Worker,
    pub syncer: Syncer,
    pub dir: tempfile::TempDir,
}

impl Device {
    /// A device signed in as `login` whose cache already holds `cached`.
    pub fn new(server: &TestServer, login: &str, device_id: &str, cached: &[Segment]) -> Device {
        Self::with_client(server, Arc::new(server.client(login)), device_id, cached)
    }

    pub fn with_client(
        server: &TestServer,
        client: Arc<ApiClient>,
        device_id: &str,
        cached: &[Segment],
    ) -> Device {
        Self::with_options(server, client, device_id, cached, |_| {})
    }

    /// As [`Device::with_client`], with the sync thread's options changed by `adjust`.
    pub fn with_options(
        server: &TestServer,
        client: Arc<ApiClient>,
        device_id: &str,
        cached: &[Segment],
        adjust: impl FnOnce(&mut SyncOptions),
    ) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, _) = Cache::open(&dir.path().join("cache"), DEFAULT_CAPACITY_SECS).unwrap();
        for s in cached {
            cache.append(s).unwrap();
        }
        let mut config = TrackerConfig::new(device_id);
        config.seed = 11;
        let tracker = Tracker::new(
            config,
            cache,
            Box::new(timecard_client::capture::NoScreenshots),
            Box::new(timecard_client::activity::NoActivity),
        );
        let clock: Arc<dyn Clock> = Arc::new(server.clock.clone());
        let sync_channel = std::sync::mpsc::channel();
        let worker = Worker::spawn_with_sync(tracker, clock.clone(), Some(sync_channel.0.clone()));
        let mut options = SyncOptions::new(dir.path().join("cache/pending"));
        options.tracking = Some(worker.tracking_flag());
        adjust(&mut options);
        let to_worker = worker.sender();
        let syncer = Syncer::spawn(
            client,
            options,
            sync_channel,
            move |event| {
                let _ = to_worker.send(Command::Sync(event));
            },
            clock,
        );
        Device {
            worker,
            syncer,
            dir,
        }
    }

    /// Waits (with a deadline) for a snapshot that satisfies `ready`.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
        let snapshot = self.worker.snapshots().wait_for(WAIT, &ready);
        assert!(
            ready(&snapshot),
            "timed out waiting for {what}; last snapshot: {snapshot:#?}"
        );
        snapshot
    }

    /// Waits until the server has answered for at least `sent` segments
    /// and nothing is left in the cache.
    pub fn wait_drained(&self, sent: u64) -> Arc<Snapshot> {
        self.wait_for("the cache to drain", |s| {
            s.sync.uploaded_segments >= sent
                && s.cache.pending_segments == 0
                && matches!(s.sync.state, SyncState::Online)
        })
    }

    /// Starts tracking and waits until the worker has started (so that the
    /// clock is not moved before the session begins).
    pub fn start(&self, contract_id: &str) {
        self.worker.send(Command::Start {
            contract_id: contract_id.into(),
        });
        self.wait_for("tracking to start", |s| s.tracking.is_some());
    }

    pub fn wait_contracts(&self) -> Arc<Snapshot> {
        self.wait_for("the contract list", |s| !s.contracts.is_empty())
    }
}
