//! The worker thread: it owns the [`Tracker`] (session, cache, capture and
//! activity sampling), takes [`Command`]s and publishes an immutable
//! [`Snapshot`] after every change. The UI thread only draws and sends
//! commands; it never blocks on the worker.
//!
//! The uploader plugs in here: it will run beside the tracker on this
//! thread's schedule and go through [`Tracker::cache_mut`].

pub mod rescue;
pub mod snapshot;
pub mod tracker;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use crate::link::{SyncCommand, SyncEvent};
use timecard_core::clock::Clock;
use timecard_core::domain::TrackingPolicy;

pub use snapshot::{
    AutoStop, CellPicture, ContractView, IdleView, LockRisk, Snapshot, StopReason, TrackingView,
};
pub use tracker::{ContractList, Tracker, TrackerConfig};

/// What the UI or the command line asks the worker to do.
#[derive(Debug)]
pub enum Command {
    /// Start tracking this contract now, or switch to it from another one.
    Start { contract_id: String },
    /// Stop tracking now; the partial segment is cached.
    Stop,
    /// Set "what are you working on" for the current and following segments.
    SetMemo(String),
    /// Replace the contract list (after a refresh from the server).
    SetContracts(ContractList),
    /// Change the tracking policy (Settings > Advanced).
    SetPolicy(TrackingPolicy),
    /// S5: a new idle threshold in seconds, in force at once.
    SetIdleThreshold(i64),
    /// The server's grid and lock grace (`GET /config`).
    SetServerConfig(timecard_core::protocol::ServerConfig),
    /// From the sync thread: what it has to report.
    Sync(SyncEvent),
    /// Refresh the contract list now (the Refresh button).
    Refresh,
    /// Upload now, ignoring the retry backoff (*Upload now*); `tell_user`:
    /// say what is about to happen (the button), or not (a script's flush).
    UploadNow { tell_user: bool },
    /// Load one day of the Work Diary from the server; the sync thread
    /// answers `reply` with the day, its thumbnails, and the day again
    /// when it changes.
    LoadDiary {
        date: chrono::NaiveDate,
        tz: String,
        reply: crate::link::DiaryReply,
    },
    /// Read and decode a segment's full screenshot (passed to the sync
    /// thread, which hands it to `reply`).
    LoadScreenshot {
        id: timecard_core::domain::SegmentId,
        reply: crate::link::PictureReply,
    },
    /// Delete a segment and its time (S4): from the cache if it is still
    /// there, otherwise on the server.
    DeleteSegment(timecard_core::domain::SegmentId),
    /// R8: add time worked away from the tracker (passed to the sync thread).
    AddManual(timecard_core::protocol::ManualTime),
    /// Write every pending or refused segment to a folder (K9).
    ExportCache(std::path::PathBuf),
    /// Send a problem report (D3).
    SendReport(Box<timecard_core::protocol::ProblemReport>),
    /// S5: keep (`true`) or discard the idle time the user came back from.
    ResolveIdle { keep: bool },
    /// A message for the user (from the sync thread or the worker itself).
    Notice(String),
    /// Read the clock again now (after the clock was moved in tests, or
    /// after the system resumed from sleep).
    Tick,
    /// Stop tracking, cache the partial segment and end the thread.
    Shutdown,
}

/// The latest snapshot, shared between the worker and its readers.
pub struct SnapshotCell {
    latest: Mutex<Arc<Snapshot>>,
    changed: Condvar,
    waker: Mutex<Option<Box<dyn Fn() + Send>>>,
}

impl SnapshotCell {
    fn new() -> Self {
        SnapshotCell {
            latest: Mutex::new(Arc::new(Snapshot::default())),
            changed: Condvar::new(),
            waker: Mutex::new(None),
        }
    }

    /// The latest snapshot; never blocks on the worker's work.
    pub fn latest(&self) -> Arc<Snapshot> {
        self.latest.lock().expect("snapshot lock").clone()
    }

    /// Waits until a snapshot newer than `generation` is published, or the
    /// timeout passes; returns the latest either way.
    pub fn wait_newer(&self, generation: u64, timeout: StdDuration) -> Arc<Snapshot> {
        let guard = self.latest.lock().expect("snapshot lock");
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |s| s.generation <= generation)
            .expect("snapshot lock");
        guard.clone()
    }

    /// Waits until the latest snapshot satisfies `ready` or `timeout`
    /// passes; returns the latest either way.
    pub fn wait_for(
        &self,
        timeout: StdDuration,
        ready: impl Fn(&Snapshot) -> bool,
    ) -> Arc<Snapshot> {
        let guard = self.latest.lock().expect("snapshot lock");
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |s| !ready(s))
            .expect("snapshot lock");
        guard.clone()
    }

    /// Registers the function that wakes the UI (egui's `request_repaint`).
    pub fn set_waker(&self, waker: impl Fn() + Send + 'static) {
        *self.waker.lock().expect("waker lock") = Some(Box::new(waker));
    }

    /// Publishes `next` if it differs from the latest; returns whether it did.
    fn publish(&self, mut next: Snapshot) -> bool {
        {
            let mut latest = self.latest.lock().expect("snapshot lock");
            next.generation = latest.generation;
            if **latest == next {
                return false;
            }
            next.generation += 1;
            *latest = Arc::new(next);
        }
        self.changed.notify_all();
        if let Some(wake) = &*self.waker.lock().expect("waker lock") {
            wake();
        }
        true
    }
}

/// A handle to the worker thread. Dropping it shuts the worker down cleanly.
pub struct Worker {
    commands: Sender<Command>,
    cell: Arc<SnapshotCell>,
    /// Unix seconds: segments ending later are held back from upload (S5);
    /// `i64::MAX` holds nothing. Read by the sync thread.
    upload_horizon: Arc<AtomicI64>,
    /// Set while a session is tracked. Read by the sync thread (Y2).
    tracking: Arc<AtomicBool>,
    thread: Option<JoinHandle<Tracker>>,
}

impl Worker {
    /// Starts the worker thread around `tracker`, with no sync thread.
    pub fn spawn(tracker: Tracker, clock: Arc<dyn Clock>) -> Worker {
        Worker::spawn_with_sync(tracker, clock, None)
    }

    /// Starts the worker thread around `tracker`; it passes work to the
    /// sync thread through `sync` and wakes it when segments are cached.
    pub fn spawn_with_sync(
        tracker: Tracker,
        clock: Arc<dyn Clock>,
        sync: Option<Sender<SyncCommand>>,
    ) -> Worker {
        let (commands, inbox) = mpsc::channel();
        let cell = Arc::new(SnapshotCell::new());
        cell.publish(tracker.snapshot(clock.now()));
        let thread_cell = cell.clone();
        let upload_horizon = Arc::new(AtomicI64::new(i64::MAX));
        let horizon = upload_horizon.clone();
        let tracking = Arc::new(AtomicBool::new(false));
        let is_tracking = tracking.clone();
        let thread = std::thread::Builder::new()
            .name("timecard-worker".into())
            .spawn(move || {
                run(
                    tracker,
                    clock,
                    inbox,
                    sync,
                    thread_cell,
                    horizon,
                    is_tracking,
                )
            })
            .expect("spawn the worker thread");
        Worker {
            commands,
            cell,
            upload_horizon,
            tracking,
            thread: Some(thread),
        }
    }

    /// Sends a command; returns at once (S3).
    pub fn send(&self, command: Command) {
        // The thread only ends on Shutdown, after which no one sends.
        let _ = self.commands.send(command);
    }

    /// A sender for other threads (a Ctrl-C handler, the UI).
    pub fn sender(&self) -> Sender<Command> {
        self.commands.clone()
    }

    /// The upload horizon the sync thread must respect (S5).
    pub fn upload_horizon(&self) -> Arc<AtomicI64> {
        self.upload_horizon.clone()
    }

    /// Set while a session is tracked: the sync thread retries sooner then.
    pub fn tracking_flag(&self) -> Arc<AtomicBool> {
        self.tracking.clone()
    }

    pub fn snapshots(&self) -> &Arc<SnapshotCell> {
        &self.cell
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.cell.latest()
    }

    /// Stops tracking (caching the partial segment), ends the thread and
    /// hands the tracker back.
    pub fn shutdown(mut self) -> Tracker {
        self.send(Command::Shutdown);
        self.thread
            .take()
            .expect("thread present")
            .join()
            .expect("the worker thread panicked")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.commands.send(Command::Shutdown);
            let _ = thread.join();
        }
    }
}

fn run(
    mut tracker: Tracker,
    clock: Arc<dyn Clock>,
    inbox: Receiver<Command>,
    sync: Option<Sender<SyncCommand>>,
    cell: Arc<SnapshotCell>,
    upload_horizon: Arc<AtomicI64>,
    tracking: Arc<AtomicBool>,
) -> Tracker {
    let tell_sync = |sync: &Option<Sender<SyncCommand>>, command: SyncCommand| {
        if let Some(tx) = sync {
            let _ = tx.send(command);
        }
    };
    // Whatever was cached before this run is uploaded when the backoff allows.
    tell_sync(&sync, SyncCommand::Wake);
    // When the tracker next has something to do by itself. Kept across
    // commands: recomputed from "now" after every command, a relative
    // wakeup (the 15-s activity sample) would move away each time another
    // thread sent something (a sync status every few seconds), and idle time
    // and activity went unsampled for minutes.
    let mut due = tracker.next_wakeup(clock.now());
    loop {
        let cached_before = tracker.cache().pending_count();
        let now = clock.now();
        let wait = (due - now)
            .to_std()
            .unwrap_or_default()
            .clamp(StdDuration::from_millis(5), StdDuration::from_secs(60));
        let command = match inbox.recv_timeout(wait) {
            Ok(command) => Some(command),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Command::Shutdown),
        };
        let now = clock.now();
        let ticks = matches!(command, None | Some(Command::Tick));
        if !ticks && now >= due {
            tracker.tick(now);
        }
        match command {
            Some(Command::Start { contract_id }) => {
                // A refusal is recorded in the snapshot's `stopped`.
                let _ = tracker.start(&contract_id, now);
            }
            Some(Command::Stop) => tracker.stop(now),
            Some(Command::SetMemo(memo)) => tracker.set_memo(memo),
            Some(Command::SetContracts(list)) => tracker.set_contracts(list, now),
            Some(Command::SetPolicy(policy)) => tracker.set_policy(policy, now),
            Some(Command::SetIdleThreshold(secs)) => tracker.set_idle_threshold(secs, now),
            Some(Command::SetServerConfig(config)) => tracker.set_server_config(config),
            Some(Command::Sync(event)) => match event {
                SyncEvent::Status(status) => tracker.set_sync_status(status),
                SyncEvent::UploadResults(actions) => {
                    if tracker.apply_uploads(actions) {
                        // C5: learn of the pause now, not at the next refresh.
                        tell_sync(&sync, SyncCommand::Refresh);
                    }
                }
                SyncEvent::Contracts(list) => tracker.set_contracts(list, now),
                SyncEvent::ServerConfig(config) => tracker.set_server_config(config),
                SyncEvent::Notice(text) => tracker.set_notice(text),
            },
            Some(Command::LoadDiary { date, tz, reply }) => {
                tell_sync(&sync, SyncCommand::LoadDiary { date, tz, reply })
            }
            Some(Command::LoadScreenshot { id, reply }) => {
                tell_sync(&sync, SyncCommand::LoadScreenshot { id, reply })
            }
            Some(Command::DeleteSegment(id)) => {
                if !tracker.delete_cached(id) {
                    tell_sync(&sync, SyncCommand::DeleteSegment(id));
                }
            }
            Some(Command::ExportCache(dir)) => tracker.export_cache(&dir),
            Some(Command::SendReport(report)) => tell_sync(&sync, SyncCommand::SendReport(report)),
            Some(Command::AddManual(request)) => tell_sync(&sync, SyncCommand::AddManual(request)),
            Some(Command::Notice(text)) => tracker.set_notice(text),
            Some(Command::ResolveIdle { keep }) => {
                tracker.resolve_idle(keep, now);
            }
            Some(Command::Refresh) => tell_sync(&sync, SyncCommand::Refresh),
            Some(Command::UploadNow { tell_user }) => {
                if tell_user {
                    tracker.upload_now_requested();
                }
                tell_sync(&sync, SyncCommand::UploadNow);
            }
            Some(Command::Tick) | None => tracker.tick(now),
            Some(Command::Shutdown) => {
                tracker.stop(now);
                cell.publish(tracker.snapshot(now));
                return tracker;
            }
        }
        due = if ticks || now >= due {
            tracker.next_wakeup(now)
        } else {
            due.min(tracker.next_wakeup(now))
        };
        let horizon = tracker.upload_horizon().map_or(i64::MAX, |t| t.timestamp());
        let horizon_moved = upload_horizon.swap(horizon, Ordering::SeqCst) != horizon;
        if tracker.cache().pending_count() > cached_before
            || (horizon_moved && tracker.cache().pending_count() > 0)
        {
            tell_sync(&sync, SyncCommand::Wake);
        }
        let snapshot = tracker.snapshot(now);
        tracking.store(snapshot.tracking.is_some(), Ordering::SeqCst);
        cell.publish(snapshot);
    }
}
