//! Talking to the server: the HTTPS client, upload planning, and the sync
//! thread that refreshes contracts and drains the cache (K5–K7, Y2, C5).
//!
//! The sync thread never touches the tracker: it reads cached files (they
//! are immutable once written) and sends what happened to the worker as
//! commands; the worker alone changes the cache.
//!
//! While it runs it checks that the server answers (`GET /health`) every
//! [`CHECK_EVERY`], so an outage shows within seconds even when nothing is
//! being sent, and a server that is back is used at once, whatever the
//! backoff had grown to. Its timers run on the monotonic clock
//! ([`Instant`]); the passed-in [`Clock`] only dates what it reports.

pub mod api;
pub mod client;
pub mod error;
pub mod outbox;
pub mod plan;
pub mod trust;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use crate::link::{
    CLOCK_SKEW_WARN_SECS, DiaryReply, DiaryUpdate, PictureReply, SyncCommand, SyncEvent, SyncState,
    SyncStatus, UploadAction,
};
pub use api::Api;
pub use client::{ApiClient, ServerAddress, presented_certificate};
pub use error::SyncError;
pub use trust::{Fingerprint, Trust};

use crate::link::{CellPicture, ContractList};
use timecard_core::clock::Clock;
use timecard_core::codec;
use timecard_core::domain::{BillingWeek, SegmentId};
use timecard_core::fs::read::read_regular;
use timecard_core::protocol::ContractsResponse;

/// The largest a Work Diary cell's thumbnail is drawn, in pixels.
pub const DIARY_PICTURE_SIZE: (u32, u32) = (96, 54);

/// The longest side a full screenshot is decoded to for the Work Diary's
/// segment window (larger captures are scaled down).
pub const FULL_PICTURE_MAX: u32 = 1920;

/// How often the contract list refreshes by itself (C5): a paused or
/// limit-changed contract shows within a minute.
pub const REFRESH_EVERY: Duration = Duration::from_secs(60);

/// How often the sync thread checks that the server answers, when nothing
/// else has been sent meanwhile, and while offline.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);

/// How the sync thread works.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    pub pending_dir: PathBuf,
    /// IANA zone for "today" totals.
    pub time_zone: String,
    /// Where to keep the last contract list, for starting offline.
    pub contracts_file: Option<PathBuf>,
    /// Where to keep the server's rules (grid, lock grace), for the same.
    pub config_file: Option<PathBuf>,
    pub batch_max_segments: usize,
    pub batch_max_bytes: u64,
    /// Segments ending after this (Unix seconds) wait (S5); see
    /// the worker's `upload_horizon`.
    pub upload_horizon: Option<Arc<std::sync::atomic::AtomicI64>>,
    /// Where problem reports wait until they are sent (D3); in local mode,
    /// where they are saved for the user to send.
    pub outbox: Option<outbox::Outbox>,
    /// Set while the worker tracks; the backoff is shorter then (Y2).
    /// See the worker's `tracking_flag`.
    pub tracking: Option<Arc<AtomicBool>>,
    /// The built-in server, with no server configured: reports are saved to
    /// a file instead of being "sent" to this computer's own database.
    pub local_only: bool,
    /// How often the contract list refreshes by itself.
    pub refresh_every: Duration,
    /// How often the server's reachability is checked.
    pub check_every: Duration,
}

impl SyncOptions {
    pub fn new(pending_dir: PathBuf) -> Self {
        SyncOptions {
            pending_dir,
            time_zone: "UTC".into(),
            contracts_file: None,
            config_file: None,
            batch_max_segments: 16,
            batch_max_bytes: 8 * 1024 * 1024,
            upload_horizon: None,
            outbox: None,
            tracking: None,
            local_only: false,
            refresh_every: REFRESH_EVERY,
            check_every: CHECK_EVERY,
        }
    }
}

/// Turns the server's contract answer into the tracker's list.
pub fn contract_list(response: &ContractsResponse, zone: chrono_tz::Tz) -> ContractList {
    let day = timecard_core::domain::LocalDay::containing(response.server_time, zone);
    ContractList {
        contracts: response
            .contracts
            .iter()
            .map(|c| c.contract.clone())
            .collect(),
        week: Some(BillingWeek::containing(response.week_start)),
        server_week_secs: response
            .contracts
            .iter()
            .map(|c| (c.contract.id.clone(), c.week_logged_secs))
            .collect(),
        today: Some((day.start(), day.end())),
        server_today_secs: response
            .contracts
            .iter()
            .map(|c| (c.contract.id.clone(), c.today_logged_secs))
            .collect(),
        disputes: response
            .contracts
            .iter()
            .filter(|c| !c.disputes.is_empty())
            .map(|c| (c.contract.id.clone(), c.disputes.clone()))
            .collect(),
        manual_time: response
            .contracts
            .iter()
            .filter(|c| c.manual_time)
            .map(|c| c.contract.id.clone())
            .collect(),
    }
}

/// A handle to the sync thread.
pub struct Syncer {
    commands: Sender<SyncCommand>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the sync thread on the channel `commands`/`inbox` (made by
    /// the caller, who hands `commands` to the worker too); it reports
    /// through `events`.
    pub fn spawn(
        client: Arc<dyn Api>,
        options: SyncOptions,
        (commands, inbox): (Sender<SyncCommand>, Receiver<SyncCommand>),
        events: impl Fn(SyncEvent) + Send + 'static,
        clock: Arc<dyn Clock>,
    ) -> Syncer {
        let events: EventSink = Box::new(events);
        let thread = std::thread::Builder::new()
            .name("timecard-sync".into())
            .spawn(move || SyncLoop::new(client, options, events, clock).run(inbox))
            .expect("spawn the sync thread");
        Syncer {
            commands,
            thread: Some(thread),
        }
    }

    pub fn sender(&self) -> Sender<SyncCommand> {
        self.commands.clone()
    }

    pub fn send(&self, command: SyncCommand) {
        let _ = self.commands.send(command);
    }

    /// Ends the thread after the call in progress (bounded by the timeouts).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.commands.send(SyncCommand::Shutdown);
            let _ = thread.join();
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where the sync thread's events go.
type EventSink = Box<dyn Fn(SyncEvent) + Send>;

struct SyncLoop {
    client: Arc<dyn Api>,
    options: SyncOptions,
    events: EventSink,
    clock: Arc<dyn Clock>,
    status: SyncStatus,
    backoff: plan::Backoff,
    refresh_due: Instant,
    /// When to check the server answers, if nothing else was sent by then.
    check_due: Instant,
    config_known: bool,
    /// The tag of the last contract list received (R14), sent back so an
    /// unchanged list costs a `304`.
    contracts_etag: Option<String>,
    /// Ids the worker was told about; skipped until their files are gone.
    acknowledged: HashSet<SegmentId>,
    rng: fastrand::Rng,
    /// The diary day on screen and where its updates go: reloaded after
    /// an upload or a deletion of its segments.
    last_diary: Option<(chrono::NaiveDate, String, DiaryReply)>,
    /// The day whose thumbnails were fetched, and which ones.
    pictures_day: Option<(chrono::NaiveDate, String)>,
    pictures_fetched: HashSet<SegmentId>,
}

enum Wait {
    /// Until this instant, but new segments may cut it short.
    Until(Instant),
    /// Backing off: only an explicit command cuts it short, or — when
    /// `probe` is set (the server could not be reached) — the server
    /// answering a reachability check.
    Backoff { until: Instant, probe: bool },
    /// Until a command arrives.
    Forever,
}

impl SyncLoop {
    fn emit(&self, event: SyncEvent) {
        (self.events)(event)
    }

    /// R8 from the window: asks the server to add `request`, and says what
    /// came of it (the server's refusal in its words). The week's totals
    /// come with the refresh that follows.
    fn add_manual(&mut self, request: &timecard_core::protocol::ManualTime) -> String {
        let zone = self
            .options
            .time_zone
            .parse::<chrono_tz::Tz>()
            .unwrap_or(chrono_tz::UTC);
        match self.client.add_manual(request) {
            Ok(added) => {
                self.refresh_due = Instant::now();
                self.load_diary();
                format!(
                    "Added {} of manual time ({} – {}).",
                    timecard_core::fmt::hms(added.secs),
                    request.start.with_timezone(&zone).format("%a %-d %b %H:%M"),
                    request.end.with_timezone(&zone).format("%H:%M")
                )
            }
            Err(e) => format!("The time was not added: {e}"),
        }
    }

    fn new(
        client: Arc<dyn Api>,
        options: SyncOptions,
        events: EventSink,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let status = SyncStatus {
            server: client.name().to_owned(),
            reports_waiting: options.outbox.as_ref().map_or(0, |o| o.len()),
            local_only: options.local_only,
            ..SyncStatus::default()
        };
        SyncLoop {
            client,
            options,
            events,
            clock,
            status,
            backoff: plan::Backoff::default(),
            refresh_due: Instant::now(),
            check_due: Instant::now(),
            config_known: false,
            contracts_etag: None,
            acknowledged: HashSet::new(),
            rng: fastrand::Rng::new(),
            last_diary: None,
            pictures_day: None,
            pictures_fetched: HashSet::new(),
        }
    }

    fn load_diary(&mut self) {
        let Some((date, tz, reply)) = self.last_diary.clone() else {
            return;
        };
        let result = self
            .client
            .diary(Some(date), &tz)
            .map_err(|e| e.to_string());
        let wanted: Vec<SegmentId> = match &result {
            Ok(diary) => diary
                .segments
                .iter()
                .filter(|s| s.has_screenshot)
                .map(|s| s.id)
                .collect(),
            Err(_) => Vec::new(),
        };
        // The window keeps the pictures it holds only from one good load of
        // a day to the next of the same day; otherwise it drops them, and
        // they are sent again (after an offline load too).
        if result.is_err() || self.pictures_day.as_ref() != Some(&(date, tz.clone())) {
            self.pictures_fetched.clear();
        }
        self.pictures_day = result.is_ok().then(|| (date, tz.clone()));
        reply.send(DiaryUpdate::Day {
            date,
            tz: tz.clone(),
            result,
        });
        self.load_cached_pictures(date, &tz, &reply);
        self.load_pictures(wanted, &reply);
    }

    /// Thumbnails of the day's segments still in the cache, read from their
    /// files: offline, the diary still shows what was captured.
    fn load_cached_pictures(&mut self, date: chrono::NaiveDate, tz: &str, reply: &DiaryReply) {
        let Ok(zone) = tz.parse::<chrono_tz::Tz>() else {
            return;
        };
        let day = timecard_core::domain::LocalDay::new(date, zone);
        let Ok(files) = plan::list_pending(&self.options.pending_dir) else {
            return;
        };
        let mut pictures = Vec::new();
        for file in files {
            if self.pictures_fetched.contains(&file.id) {
                continue;
            }
            let Ok(bytes) = read_regular(&file.path, codec::MAX_FILE_BYTES) else {
                continue;
            };
            if !codec::segment_span(&bytes).is_ok_and(|(start, _)| day.contains(start)) {
                continue;
            }
            let Ok(segment) = codec::decode_file(&bytes) else {
                continue;
            };
            self.pictures_fetched.insert(file.id);
            let Some(shot) = segment.screenshot else {
                continue;
            };
            let (width, height) = DIARY_PICTURE_SIZE;
            match CellPicture::from_jpeg(shot.thumbnail, width, height) {
                Some(picture) => pictures.push((file.id, picture)),
                None => log::warn!(
                    "the cached thumbnail of segment {} does not decode",
                    file.id
                ),
            }
        }
        if !pictures.is_empty() {
            reply.send(DiaryUpdate::Pictures(pictures));
        }
    }

    /// A segment's full screenshot, decoded: from its cache file while it is
    /// there, else from the server.
    fn full_screenshot(&self, id: SegmentId) -> Result<CellPicture, String> {
        let cached = plan::list_pending(&self.options.pending_dir)
            .ok()
            .and_then(|files| files.into_iter().find(|f| f.id == id))
            .and_then(|file| read_regular(&file.path, codec::MAX_FILE_BYTES).ok())
            .and_then(|bytes| codec::decode_file(&bytes).ok());
        let jpeg = match cached {
            Some(segment) => segment
                .screenshot
                .map(|shot| shot.jpeg)
                .ok_or("this segment has no screenshot")?,
            None => self.client.screenshot(id).map_err(|e| e.to_string())?,
        };
        let image = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
            .map_err(|e| format!("the screenshot does not decode: {e}"))?;
        let image = if image.width().max(image.height()) > FULL_PICTURE_MAX {
            image.thumbnail(FULL_PICTURE_MAX, FULL_PICTURE_MAX)
        } else {
            image
        };
        let rgba = image.to_rgba8();
        Ok(CellPicture {
            width: rgba.width(),
            height: rgba.height(),
            rgba: rgba.into_raw(),
            jpeg: Arc::new(jpeg),
        })
    }

    /// Fetches the diary's thumbnails, an hour's worth at a time, decoded
    /// here so the UI only uploads them.
    fn load_pictures(&mut self, wanted: Vec<SegmentId>, reply: &DiaryReply) {
        let missing: Vec<SegmentId> = wanted
            .into_iter()
            .filter(|id| !self.pictures_fetched.contains(id))
            .collect();
        for chunk in missing.chunks(6) {
            let mut pictures = Vec::with_capacity(chunk.len());
            for &id in chunk {
                match self.client.thumbnail(id) {
                    Ok(jpeg) => {
                        self.pictures_fetched.insert(id);
                        match CellPicture::from_jpeg(
                            jpeg,
                            DIARY_PICTURE_SIZE.0,
                            DIARY_PICTURE_SIZE.1,
                        ) {
                            Some(picture) => pictures.push((id, picture)),
                            None => log::warn!("the thumbnail of segment {id} does not decode"),
                        }
                    }
                    Err(e) => {
                        log::info!("diary thumbnails not loaded: {e}");
                        return;
                    }
                }
            }
            reply.send(DiaryUpdate::Pictures(pictures));
        }
    }

    fn publish(&mut self, state: SyncState) {
        self.status.state = state;
        let skew = self.client.clock_skew_secs();
        let wrong = |s: Option<i64>| s.is_some_and(|s| s.abs() > CLOCK_SKEW_WARN_SECS);
        if wrong(skew) && !wrong(self.status.clock_skew_secs) {
            log::warn!(
                "this computer's clock differs from the server's by {} s",
                skew.unwrap_or_default()
            );
        }
        self.status.clock_skew_secs = skew;
        self.emit(SyncEvent::Status(self.status.clone()));
    }

    fn run(mut self, inbox: Receiver<SyncCommand>) {
        loop {
            let wait = match self.cycle() {
                Ok(()) => {
                    let was_caching = matches!(self.status.state, SyncState::Caching { .. });
                    if was_caching {
                        log::info!("sync: back online");
                    }
                    self.backoff.reset();
                    self.publish(SyncState::Online);
                    self.check_due = Instant::now() + self.options.check_every;
                    if was_caching {
                        // Back online: the contract list may have changed meanwhile (C5).
                        self.refresh_due = Instant::now();
                        Wait::Until(Instant::now())
                    } else {
                        Wait::Until(self.refresh_due.min(self.check_due))
                    }
                }
                Err(e @ (SyncError::SignedOut | SyncError::SessionExpired)) => {
                    log::warn!("sync: stopped until the next sign-in: {e}");
                    self.publish(SyncState::SignedOut {
                        reason: e.to_string(),
                    });
                    Wait::Forever
                }
                Err(e) => {
                    let cap = if self.tracking() {
                        plan::BACKOFF_CAP_TRACKING
                    } else {
                        plan::BACKOFF_CAP
                    };
                    let delay = e
                        .retry_after()
                        .unwrap_or_else(|| self.backoff.next_delay(self.rng.f64(), cap));
                    // Unreachable: a cheap check finds the server back before
                    // the backoff ends. Otherwise the server answered, and
                    // the backoff (or its Retry-After) stands.
                    let probe =
                        matches!(e, SyncError::Unreachable { .. } | SyncError::Timeout { .. });
                    let until = Instant::now() + delay;
                    let next_try = if probe {
                        delay.min(self.options.check_every)
                    } else {
                        delay
                    };
                    let now = self.clock.now();
                    let since = match &self.status.state {
                        SyncState::Caching { since, .. } => *since,
                        _ => now,
                    };
                    match &self.status.state {
                        SyncState::Caching { last_error, .. } if *last_error == e.to_string() => {
                            log::info!("sync: still offline; next try in {delay:?}")
                        }
                        _ => log::warn!("sync: caching: {e}; next try in {delay:?}"),
                    }
                    self.publish(SyncState::Caching {
                        since,
                        last_error: e.to_string(),
                        next_retry: now + chrono::Duration::from_std(next_try).unwrap_or_default(),
                    });
                    Wait::Backoff { until, probe }
                }
            };
            if !self.wait(&inbox, wait) {
                return;
            }
        }
    }

    /// Whether the worker is tracking now.
    fn tracking(&self) -> bool {
        self.options
            .tracking
            .as_ref()
            .is_some_and(|t| t.load(Ordering::SeqCst))
    }

    /// While backing off from an unreachable server (until `until`):
    /// checks whether it answers again. Returns true when it does.
    fn probe(&mut self, until: Instant) -> bool {
        match self.client.health() {
            Ok(_) => {
                log::info!("sync: {} answers again", self.client.name());
                true
            }
            Err(e) => {
                log::debug!("sync: still unreachable: {e}");
                if let SyncState::Caching { since, .. } = self.status.state {
                    let next = until
                        .saturating_duration_since(Instant::now())
                        .min(self.options.check_every);
                    self.publish(SyncState::Caching {
                        since,
                        last_error: e.to_string(),
                        next_retry: self.clock.now()
                            + chrono::Duration::from_std(next).unwrap_or_default(),
                    });
                }
                false
            }
        }
    }

    /// Waits as told; returns false when the thread should end.
    fn wait(&mut self, inbox: &Receiver<SyncCommand>, wait: Wait) -> bool {
        let mut probe_due = Instant::now() + self.options.check_every;
        loop {
            let received = match &wait {
                Wait::Forever => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Wait::Until(t) => inbox.recv_timeout(t.saturating_duration_since(Instant::now())),
                Wait::Backoff { until, probe } => {
                    let t = if *probe {
                        probe_due.min(*until)
                    } else {
                        *until
                    };
                    inbox.recv_timeout(t.saturating_duration_since(Instant::now()))
                }
            };
            match received {
                Ok(SyncCommand::Shutdown) | Err(RecvTimeoutError::Disconnected) => return false,
                Err(RecvTimeoutError::Timeout) => match &wait {
                    Wait::Backoff { until, probe: true } if Instant::now() < *until => {
                        if self.probe(*until) {
                            return true;
                        }
                        probe_due = Instant::now() + self.options.check_every;
                    }
                    _ => return true,
                },
                Ok(SyncCommand::Wake) => {
                    // A segment just cached on the diary's day shows its
                    // thumbnail before it is uploaded.
                    if let Some((date, tz, reply)) = self.last_diary.clone() {
                        self.load_cached_pictures(date, &tz, &reply);
                    }
                    if !matches!(wait, Wait::Backoff { .. }) {
                        return true;
                    }
                }
                Ok(SyncCommand::UploadNow) => return true,
                Ok(SyncCommand::Refresh) => {
                    self.refresh_due = Instant::now();
                    return true;
                }
                Ok(SyncCommand::LoadDiary { date, tz, reply }) => {
                    self.last_diary = Some((date, tz, reply));
                    self.load_diary();
                }
                Ok(SyncCommand::DeleteSegment(id)) => {
                    let notice = match self.client.delete_segment(id) {
                        Ok(()) => {
                            self.refresh_due = Instant::now();
                            self.load_diary();
                            "The segment and its screenshot were deleted.".to_owned()
                        }
                        Err(e) => format!("The segment was not deleted: {e}"),
                    };
                    self.emit(SyncEvent::Notice(notice));
                    if matches!(wait, Wait::Until(_)) {
                        return true;
                    }
                }
                Ok(SyncCommand::AddManual(request)) => {
                    let notice = self.add_manual(&request);
                    self.emit(SyncEvent::Notice(notice));
                    if matches!(wait, Wait::Until(_)) {
                        return true;
                    }
                }
                Ok(SyncCommand::LoadScreenshot { id, reply }) => {
                    reply.send(self.full_screenshot(id));
                }
                Ok(SyncCommand::SendReport(report)) => {
                    self.queue_report(*report);
                    if matches!(wait, Wait::Until(_)) {
                        return true;
                    }
                }
            }
        }
    }

    /// One round: refresh contracts if due (or else check the server
    /// answers, if that is due), upload everything pending, then send
    /// queued problem reports.
    fn cycle(&mut self) -> Result<(), SyncError> {
        if self.client.token().is_none() {
            return Err(SyncError::SignedOut);
        }
        if Instant::now() >= self.refresh_due {
            self.refresh()?;
        } else if Instant::now() >= self.check_due
            || !matches!(self.status.state, SyncState::Online)
        {
            // Nothing may be sent this round: without this, an outage would
            // show only when something is (item 8).
            self.client.health()?;
        }
        self.upload_all()?;
        self.deliver_reports()
    }

    /// Queues a problem report durably, then tries to send it at once.
    /// With no server configured, saves it to a file for the user instead.
    fn queue_report(&mut self, report: timecard_core::protocol::ProblemReport) {
        if self.options.local_only {
            let notice = match &self.options.outbox {
                Some(outbox) => match outbox::save_to_file(outbox.dir(), &report) {
                    Ok(path) => {
                        log::info!("report {} saved to {}", report.id, path.display());
                        format!(
                            "No server is configured, so the report was not sent: it is saved{} \
                             in {} — send that file to whoever supports you, or use your \
                             organisation's server (Settings > Sign in to a server…).",
                            if report.logs_zip_base64.is_some() {
                                " with the logs"
                            } else {
                                ""
                            },
                            path.display()
                        )
                    }
                    Err(e) => {
                        log::error!("cannot save report {}: {e}", report.id);
                        format!("The report could not be saved ({e}).")
                    }
                },
                None => "The report could not be saved: no folder to keep it in.".to_owned(),
            };
            self.emit(SyncEvent::Notice(notice));
            return;
        }
        let saved = match &self.options.outbox {
            Some(outbox) => outbox.put(&report),
            None => Err(std::io::Error::other("no folder to keep reports in")),
        };
        if let Err(e) = saved {
            log::error!("cannot queue report {}: {e}", report.id);
            self.emit(SyncEvent::Notice(format!(
                "The report could not be saved ({e}); it was not sent."
            )));
            return;
        }
        log::info!("report {} queued", report.id);
        if let Err(e) = self.deliver_reports() {
            let when = match e {
                SyncError::SignedOut | SyncError::SessionExpired => "after you sign in again",
                _ => "as soon as the server can be reached",
            };
            self.emit(SyncEvent::Notice(format!(
                "Your problem report is saved and will be sent {when} ({e})."
            )));
            self.publish(self.status.state.clone());
        }
    }

    /// Sends queued reports; tells the user what went and what was refused.
    /// The built-in server is no one to send them to: they wait for a
    /// sign-in to a real server.
    fn deliver_reports(&mut self) -> Result<(), SyncError> {
        let Some(outbox) = &self.options.outbox else {
            return Ok(());
        };
        if self.options.local_only {
            return Ok(());
        }
        let delivered = outbox::deliver(self.client.as_ref(), outbox);
        self.status.reports_waiting = outbox.len();
        let done = delivered?;
        for id in &done.sent {
            self.emit(SyncEvent::Notice(format!(
                "Thank you — problem report {id} was sent."
            )));
        }
        for (id, why, kept) in &done.refused {
            self.emit(SyncEvent::Notice(format!(
                "The server refused problem report {id}: {why}. It is kept in {}.",
                kept.display()
            )));
        }
        Ok(())
    }

    fn refresh(&mut self) -> Result<(), SyncError> {
        if !self.config_known {
            let config = self.client.config()?;
            if let Some(path) = &self.options.config_file
                && let Err(e) = save_for_offline(path, &config)
            {
                log::warn!("could not keep the server's rules for offline starts: {e}");
            }
            self.emit(SyncEvent::ServerConfig(config));
            self.config_known = true;
        }
        let answer = self
            .client
            .contracts_if_changed(&self.options.time_zone, self.contracts_etag.as_deref())?;
        // Unchanged (R14): nothing to parse, keep or tell the worker, so
        // no new snapshot either; `contracts_refreshed_at` stays the time
        // the list last came in full.
        let Some((response, etag)) = answer else {
            self.refresh_due = Instant::now() + self.options.refresh_every;
            return Ok(());
        };
        self.contracts_etag = etag;
        let zone = self.options.time_zone.parse().unwrap_or(chrono_tz::UTC);
        if let Some(path) = &self.options.contracts_file
            && let Err(e) = save_for_offline(path, &response)
        {
            log::warn!("could not keep the contract list for offline starts: {e}");
        }
        self.emit(SyncEvent::Contracts(contract_list(&response, zone)));
        self.status.contracts_refreshed_at = Some(self.clock.now());
        self.refresh_due = Instant::now() + self.options.refresh_every;
        Ok(())
    }

    fn upload_all(&mut self) -> Result<(), SyncError> {
        let mut pending =
            plan::list_pending(&self.options.pending_dir).map_err(|e| SyncError::Protocol {
                host: "this computer".into(),
                detail: format!("cannot list the cache: {e}"),
            })?;
        let present: HashSet<SegmentId> = pending.iter().map(|f| f.id).collect();
        self.acknowledged.retain(|id| present.contains(id));
        pending.retain(|f| !self.acknowledged.contains(&f.id));
        let horizon = self
            .options
            .upload_horizon
            .as_ref()
            .map_or(i64::MAX, |h| h.load(std::sync::atomic::Ordering::SeqCst));
        if horizon != i64::MAX {
            // Hold back what an open idle question may still cut (S5).
            pending.retain(|f| {
                read_regular(&f.path, codec::MAX_FILE_BYTES)
                    .ok()
                    .and_then(|bytes| codec::segment_span(&bytes).ok())
                    .is_none_or(|(_, end)| end.timestamp() <= horizon)
            });
        }
        let total = pending.len();
        let mut done = 0;
        let diary_day = self.last_diary.as_ref().and_then(|(date, tz, _)| {
            Some(timecard_core::domain::LocalDay::new(
                *date,
                tz.parse().ok()?,
            ))
        });
        for batch in plan::plan_batches(
            &pending,
            self.options.batch_max_segments,
            self.options.batch_max_bytes,
        ) {
            self.publish(SyncState::Uploading {
                left: total - done,
                total,
            });
            let mut ids = Vec::with_capacity(batch.len());
            let mut bodies = Vec::with_capacity(batch.len());
            let mut on_diary_day = false;
            for file in &batch {
                // A file may be gone already (deleted by the user, refused).
                let Ok(bytes) = read_regular(&file.path, codec::MAX_FILE_BYTES) else {
                    continue;
                };
                on_diary_day |= diary_day.is_some_and(|day| {
                    codec::segment_span(&bytes).is_ok_and(|(start, _)| day.contains(start))
                });
                match codec::verified_body(&bytes) {
                    Ok(body) => {
                        ids.push(file.id);
                        bodies.push(body.to_vec());
                    }
                    // Left for the worker's next verify to quarantine.
                    Err(e) => log::warn!("not uploading {}: {e}", file.path.display()),
                }
            }
            if ids.is_empty() {
                done += batch.len();
                continue;
            }
            let bytes: usize = bodies.iter().map(Vec::len).sum();
            let sent_at = Instant::now();
            let response = self.client.upload(bodies)?;
            let actions = plan::classify(&ids, &response, self.clock.now());
            let refused = actions
                .iter()
                .filter(|(_, a)| matches!(a, UploadAction::Refused(_)))
                .count();
            log::info!(
                "uploaded {}, {} KB, in {} ms: {} on the server, {refused} refused",
                timecard_core::fmt::count(ids.len() as u64, "segment", "segments"),
                bytes / 1024,
                sent_at.elapsed().as_millis(),
                actions.len() - refused
            );
            if actions
                .iter()
                .any(|(_, a)| matches!(a, UploadAction::Refused(_)))
            {
                self.refresh_due = Instant::now();
            }
            self.status.uploaded_segments += actions.len() as u64;
            self.acknowledged.extend(actions.iter().map(|(id, _)| *id));
            if on_diary_day {
                // The diary on screen lists them as uploaded before the
                // worker takes them out of the cache: the cells, and their
                // pictures, stay.
                self.load_diary();
            }
            self.emit(SyncEvent::UploadResults(actions));
            done += batch.len();
        }
        Ok(())
    }
}

/// Keeps what the server last said (contract list, rules) on disk, as JSON,
/// so tracking can start offline.
pub fn save_for_offline(path: &std::path::Path, value: &impl Serialize) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    timecard_core::fs::durable::write_file(dir, &name, &json)
}

/// Reads what [`save_for_offline`] kept, if it is there and readable.
pub fn load_saved<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Option<T> {
    serde_json::from_slice(&read_regular(path, 64 * 1024 * 1024).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use timecard_core::clock::SystemClock;
    use timecard_core::protocol::{
        DiaryResponse, Health, ManualTime, ManualTimeAdded, ProblemReport, ReportReceipt,
        ServerConfig, UploadResponse,
    };

    /// A server whose contract list carries a tag: it answers "unchanged"
    /// to its own tag, and records the tags it was sent.
    struct Tagged {
        sent: Mutex<Vec<Option<String>>>,
        tag: Mutex<String>,
    }

    fn refused() -> SyncError {
        SyncError::Protocol {
            host: "test".into(),
            detail: "not part of this test".into(),
        }
    }

    impl Api for Tagged {
        fn name(&self) -> &str {
            "https://tagged.test"
        }
        fn token(&self) -> Option<String> {
            Some("token".into())
        }
        fn clock_skew_secs(&self) -> Option<i64> {
            None
        }
        fn health(&self) -> Result<Health, SyncError> {
            Err(refused())
        }
        fn config(&self) -> Result<ServerConfig, SyncError> {
            Ok(ServerConfig {
                segment_secs: 600,
                lock_grace_secs: 0,
            })
        }
        fn sign_out(&self) -> Result<(), SyncError> {
            Ok(())
        }
        fn contracts(&self, _tz: &str) -> Result<ContractsResponse, SyncError> {
            Err(refused())
        }
        fn contracts_if_changed(
            &self,
            _tz: &str,
            etag: Option<&str>,
        ) -> Result<Option<(ContractsResponse, Option<String>)>, SyncError> {
            self.sent.lock().unwrap().push(etag.map(str::to_owned));
            let tag = self.tag.lock().unwrap().clone();
            if etag == Some(tag.as_str()) {
                return Ok(None);
            }
            let now = "2026-11-25T09:00:00Z".parse().unwrap();
            Ok(Some((
                ContractsResponse {
                    server_time: now,
                    week_start: "2026-11-23T00:00:00Z".parse().unwrap(),
                    contracts: Vec::new(),
                },
                Some(tag),
            )))
        }
        fn upload(&self, _bodies: Vec<Vec<u8>>) -> Result<UploadResponse, SyncError> {
            Err(refused())
        }
        fn add_manual(&self, _request: &ManualTime) -> Result<ManualTimeAdded, SyncError> {
            Err(refused())
        }
        fn delete_segment(&self, _id: SegmentId) -> Result<(), SyncError> {
            Err(refused())
        }
        fn diary(
            &self,
            _date: Option<chrono::NaiveDate>,
            _tz: &str,
        ) -> Result<DiaryResponse, SyncError> {
            Err(refused())
        }
        fn screenshot(&self, _id: SegmentId) -> Result<Vec<u8>, SyncError> {
            Err(refused())
        }
        fn thumbnail(&self, _id: SegmentId) -> Result<Vec<u8>, SyncError> {
            Err(refused())
        }
        fn report(&self, _report: &ProblemReport) -> Result<ReportReceipt, SyncError> {
            Err(refused())
        }
    }

    // R14: the tag of the last list goes back to the server; "unchanged"
    // tells the worker nothing and writes nothing, a new tag does both.
    #[test]
    fn an_unchanged_contract_list_costs_no_event_and_no_write() {
        let dir = tempfile::tempdir().unwrap();
        let server = Arc::new(Tagged {
            sent: Mutex::new(Vec::new()),
            tag: Mutex::new("\"one\"".into()),
        });
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let mut options = SyncOptions::new(dir.path().join("pending"));
        let saved = dir.path().join("contracts.json");
        options.contracts_file = Some(saved.clone());
        let mut sync = SyncLoop::new(
            server.clone(),
            options,
            Box::new(move |e| {
                if let SyncEvent::Contracts(_) = e {
                    seen.lock().unwrap().push("contracts");
                }
            }),
            Arc::new(SystemClock),
        );
        sync.refresh().unwrap();
        assert_eq!(*events.lock().unwrap(), ["contracts"]);
        assert!(saved.exists());
        std::fs::remove_file(&saved).unwrap();

        sync.refresh().unwrap();
        assert_eq!(*events.lock().unwrap(), ["contracts"], "304: no new list");
        assert!(!saved.exists(), "304: nothing written");
        assert!(
            sync.refresh_due > Instant::now(),
            "the next poll is a minute away"
        );

        *server.tag.lock().unwrap() = "\"two\"".into();
        sync.refresh().unwrap();
        assert_eq!(*events.lock().unwrap(), ["contracts", "contracts"]);
        assert_eq!(
            *server.sent.lock().unwrap(),
            [None, Some("\"one\"".into()), Some("\"one\"".into())]
        );
        sync.refresh().unwrap();
        assert_eq!(
            server.sent.lock().unwrap().last().unwrap().as_deref(),
            Some("\"two\"")
        );
    }
}
