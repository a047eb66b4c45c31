//! The tracking state machine: the session, cutting segments on the grid,
//! weekly limits (W2), cache capacity (K2), contract changes while tracking
//! (C5). Synchronous and clock-free: every call takes `now`, so tests drive a
//! whole week through it; the worker thread wraps it with a real clock.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::activity::ActivitySource;
use crate::cache::{Cache, CacheError};
use crate::capture::ScreenSource;
pub use crate::link::ContractList;
use crate::link::{SyncStatus, UploadAction};
use timecard_core::domain::{
    Activity, BillingWeek, Contract, LocalDay, Screenshot, Segment, SegmentGrid, SegmentId,
    Trackability, TrackingPolicy,
};
use timecard_core::protocol::ServerConfig;

use super::snapshot::{
    AutoStop, CacheView, CachedView, ContractView, IdleView, RefusedView, Snapshot, StopReason,
    TrackingView,
};

/// How often input is sampled while tracking, at most (P3).
const ACTIVITY_SAMPLE_SECS: i64 = 15;
/// How soon a segment that could not be written is tried again.
const UNSAVED_RETRY_SECS: i64 = 5;

/// Fixed settings of a tracker.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    pub grid: SegmentGrid,
    /// This device's id, recorded on every segment (K8).
    pub device_id: String,
    pub policy: TrackingPolicy,
    /// The user's zone, for reasons (C4) and "today".
    pub time_zone: Tz,
    /// Seed for the random screenshot moments; tests fix it.
    pub seed: u64,
    /// S5: no input for this long while tracking counts as idle.
    pub idle_threshold_secs: i64,
}

impl TrackerConfig {
    pub fn new(device_id: impl Into<String>) -> Self {
        TrackerConfig {
            grid: SegmentGrid::default(),
            device_id: device_id.into(),
            policy: TrackingPolicy::default(),
            time_zone: chrono_tz::UTC,
            seed: fastrand::u64(..),
            idle_threshold_secs: 600,
        }
    }
}

#[derive(Clone, Debug)]
struct Session {
    contract_id: String,
    started_at: DateTime<Utc>,
    seg_start: DateTime<Utc>,
    activity: Activity,
    shot_at: DateTime<Utc>,
    shot: Option<Screenshot>,
    capture_note: Option<String>,
    /// Seconds of this session in finished segments (discarded idle time
    /// taken out): the timer shows this plus the segment in progress.
    logged_secs: i64,
}

/// See the module documentation.
pub struct Tracker {
    config: TrackerConfig,
    cache: Cache,
    list: ContractList,
    session: Option<Session>,
    memo: String,
    /// Finished segments the cache could not write yet; kept and retried.
    unsaved: Vec<Segment>,
    stopped: Option<(DateTime<Utc>, StopReason)>,
    /// The last running session that stopped by itself, numbered.
    last_auto_stop: Option<AutoStop>,
    last_error: Option<String>,
    quarantined_files: usize,
    screen: Box<dyn ScreenSource>,
    activity: Box<dyn ActivitySource>,
    rng: fastrand::Rng,
    /// W4: the server's lock grace, for lock-deadline warnings (K6).
    lock_grace_secs: i64,
    sync: SyncStatus,
    notice: Option<String>,
    /// Counts notices, so the same text told twice shows twice.
    notice_serial: u64,
    /// S5: an idle period seen while tracking, until the user decides.
    idle: Option<IdleView>,
    /// The latest input seen while tracking, if the activity source knows.
    input_seen: Option<DateTime<Utc>>,
    black_told: bool,
    /// The last screenshot's thumbnail (JPEG) and when it was taken.
    last_shot: Option<(DateTime<Utc>, Arc<Vec<u8>>)>,
}

impl Tracker {
    pub fn new(
        config: TrackerConfig,
        cache: Cache,
        screen: Box<dyn ScreenSource>,
        activity: Box<dyn ActivitySource>,
    ) -> Self {
        let quarantined_files = cache.quarantined().map(|q| q.len()).unwrap_or(0);
        let rng = fastrand::Rng::with_seed(config.seed);
        Tracker {
            config,
            cache,
            list: ContractList::default(),
            session: None,
            memo: String::new(),
            unsaved: Vec::new(),
            stopped: None,
            last_auto_stop: None,
            last_error: None,
            quarantined_files,
            screen,
            activity,
            rng,
            lock_grace_secs: 0,
            sync: SyncStatus::default(),
            notice: None,
            notice_serial: 0,
            idle: None,
            input_seen: None,
            black_told: false,
            last_shot: None,
        }
    }

    /// S5: the user's answer to "keep or discard the idle time?". Discarded
    /// time is cut out of the cached segments (they were held back from
    /// upload while the question was open); tracking goes on. Returns the
    /// idle span `[since, to)` that was kept or discarded.
    pub fn resolve_idle(
        &mut self,
        keep: bool,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.tick(now);
        let idle = self.idle.take()?;
        let to = idle.returned.unwrap_or(now).min(now).max(idle.since);
        // In the user's zone, like every time on screen.
        let zone = self.config.time_zone;
        let span = format!(
            "{} ({}–{})",
            timecard_core::fmt::hms((to - idle.since).num_seconds()),
            idle.since.with_timezone(&zone).format("%H:%M:%S"),
            to.with_timezone(&zone).format("%H:%M:%S %Z")
        );
        if keep {
            log::info!("idle time kept: {span}");
            self.set_notice(format!("Kept {span} of idle time."));
            return Some((idle.since, to));
        }
        log::info!("idle time discarded: {span}");
        if self.session.is_some() {
            // Cut the segment in progress so that all idle time is cached.
            self.finish_segment(now);
        }
        self.discard_between(idle.since, to);
        self.set_notice(format!("Discarded {span} of idle time."));
        Some((idle.since, to))
    }

    /// Removes `[from, to)` from every cached or unsaved segment: segments
    /// inside are deleted, segments across an edge are cut.
    fn discard_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) {
        let hit: Vec<SegmentId> = self
            .cache
            .pending()
            .filter(|e| e.start < to && e.end > from)
            .map(|e| e.id)
            .collect();
        let mut pieces = Vec::new();
        // Whole seconds of the session's segments taken apart.
        let mut removed_secs = 0;
        let in_session = |session: &Option<Session>, segment: &Segment| {
            session.as_ref().is_some_and(|s| {
                segment.contract_id == s.contract_id && segment.start >= s.started_at
            })
        };
        for id in hit {
            match self
                .cache
                .load(id)
                .and_then(|s| self.cache.remove(id).map(|()| s))
            {
                Ok(segment) => {
                    if in_session(&self.session, &segment) {
                        removed_secs += (segment.end - segment.start).num_seconds();
                    }
                    pieces.extend(self.cut_out(&segment, from, to))
                }
                Err(e) => self.last_error = Some(e.to_string()),
            }
        }
        let unsaved = std::mem::take(&mut self.unsaved);
        for segment in unsaved {
            if segment.start < to && segment.end > from {
                if in_session(&self.session, &segment) {
                    removed_secs += (segment.end - segment.start).num_seconds();
                }
                pieces.extend(self.cut_out(&segment, from, to));
            } else {
                self.unsaved.push(segment);
            }
        }
        // The timer loses what this session loses, counted the way Today
        // and This week count it (whole seconds per segment), so the three
        // agree (S5).
        if let Some(session) = self.session.as_mut() {
            let secs = |segments: &mut dyn Iterator<Item = &Segment>| -> i64 {
                segments
                    .filter(|s| {
                        s.contract_id == session.contract_id && s.start >= session.started_at
                    })
                    .map(|s| (s.end - s.start).num_seconds())
                    .sum()
            };
            let after = secs(&mut pieces.iter());
            session.logged_secs = (session.logged_secs - removed_secs + after).max(0);
        }
        for piece in pieces {
            self.store(piece);
        }
    }

    /// What is left of `segment` outside `[from, to)`, as new segments.
    fn cut_out(&self, segment: &Segment, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Segment> {
        let grid = self.config.grid;
        let slot = Duration::milliseconds(
            grid.secs() * 1000 / timecard_core::domain::grid::SUB_SLOTS as i64,
        );
        let cell = grid.cell_start(segment.start);
        let mut out = Vec::new();
        for (start, end) in [
            (segment.start, from.min(segment.end)),
            (to.max(segment.start), segment.end),
        ] {
            if end <= start {
                continue;
            }
            let mut activity = Activity::default();
            for i in 0..timecard_core::domain::grid::SUB_SLOTS {
                let slot_start = cell + slot * i as i32;
                if segment.activity.is_active(i) && slot_start < end && slot_start + slot > start {
                    activity.set(i);
                }
            }
            let shot = segment
                .screenshot
                .clone()
                .filter(|s| s.taken_at >= start && s.taken_at < end);
            out.push(Segment {
                id: SegmentId::random(),
                start,
                end,
                activity,
                capture_note: if shot.is_some() {
                    None
                } else {
                    segment.capture_note.clone()
                },
                screenshot: shot,
                ..segment.clone()
            });
        }
        out
    }

    /// Segments ending after this moment are held back from upload: an
    /// idle period may still be cut out of them (S5). `None`: nothing held.
    pub fn upload_horizon(&self) -> Option<DateTime<Utc>> {
        if let Some(idle) = &self.idle {
            return Some(idle.since);
        }
        self.session.as_ref().and(self.input_seen)
    }

    /// A message for the user, shown until the next one.
    pub fn set_notice(&mut self, text: String) {
        self.notice = Some(text);
        self.notice_serial += 1;
    }

    /// S4 on a cached segment: deletes it and its screenshot from the cache.
    /// Returns false when the segment is not in the cache (it is on the server).
    pub fn delete_cached(&mut self, id: SegmentId) -> bool {
        if !self.cache.contains(id) {
            return false;
        }
        match self.cache.remove(id) {
            Ok(()) => {
                log::info!("cached segment {id} deleted by the user");
                self.set_notice("The segment and its screenshot were deleted.".into())
            }
            Err(e) => {
                log::warn!("cached segment {id} not deleted: {e}");
                self.last_error = Some(e.to_string())
            }
        }
        true
    }

    /// K9: writes pending and refused segments to `dir`.
    pub fn export_cache(&mut self, dir: &std::path::Path) {
        self.set_notice(match self.cache.export(dir) {
            Ok(0) => "Nothing to export: every tracked second is on the server.".to_owned(),
            Ok(n) => {
                let n = timecard_core::fmt::count(n as u64, "segment", "segments");
                log::info!("{n} from the cache exported to {}", dir.display());
                format!("{n} exported to {}", dir.display())
            }
            Err(e) => {
                log::warn!("cache export to {} failed: {e}", dir.display());
                format!("Export failed: {e}")
            }
        });
    }

    /// The server's grid and lock grace (from `GET /config`). A new grid
    /// applies from the next segment on.
    pub fn set_server_config(&mut self, config: ServerConfig) {
        log::info!(
            "server config: {} s segments, lock grace {} s",
            config.segment_secs,
            config.lock_grace_secs
        );
        if let Some(grid) = SegmentGrid::new(config.segment_secs) {
            self.config.grid = grid;
        }
        self.lock_grace_secs = config.lock_grace_secs;
    }

    /// The sync thread's latest status (K5).
    pub fn set_sync_status(&mut self, status: SyncStatus) {
        self.sync = status;
    }

    /// Applies the server's answers (K1, K6): acknowledged segments leave
    /// the cache and count as the server's time from now on; refused ones
    /// move to the *Not uploaded* list. A segment the server kept only up
    /// to its contract's pause (C5) counts up to there, and the user is
    /// told. Returns whether an answer says a contract changed (paused,
    /// ended), so that the list is worth refreshing now.
    pub fn apply_uploads(&mut self, actions: Vec<(SegmentId, UploadAction)>) -> bool {
        let mut contract_changed = false;
        for (id, action) in actions {
            let Some(mut entry) = self.cache.pending().find(|e| e.id == id).cloned() else {
                continue;
            };
            let result = match action {
                UploadAction::Acknowledged => self
                    .cache
                    .remove(id)
                    .map(|()| self.count_as_uploaded(&entry)),
                UploadAction::AcknowledgedUntil { end, message } => {
                    contract_changed = true;
                    let title = self
                        .contract(&entry.contract_id)
                        .map_or(entry.contract_id.clone(), |c| c.title.clone());
                    let lost = (entry.end - end).num_seconds().max(0);
                    log::warn!(
                        "segment {id} ({} {}–{}) kept by the server up to {end}: {message}",
                        entry.contract_id,
                        entry.start,
                        entry.end
                    );
                    self.set_notice(format!(
                        "{title}: {message}. {} of tracked time was not counted; ask the client to resume the contract if that time should be paid.",
                        timecard_core::fmt::hms(lost)
                    ));
                    entry.end = end.clamp(entry.start, entry.end);
                    self.cache
                        .remove(id)
                        .map(|()| self.count_as_uploaded(&entry))
                }
                UploadAction::Refused(refusal) => {
                    contract_changed |= refusal.reason == "contract_not_trackable";
                    log::warn!(
                        "segment {id} ({} {}–{}) refused by the server: {} ({})",
                        entry.contract_id,
                        entry.start,
                        entry.end,
                        refusal.reason,
                        refusal.message
                    );
                    self.cache.refuse(id, refusal)
                }
            };
            if let Err(e) = result {
                // The segment stays pending; a duplicate upload is harmless (K7).
                log::error!("{e}");
                self.last_error = Some(e.to_string());
            }
        }
        contract_changed
    }

    fn count_as_uploaded(&mut self, entry: &crate::cache::Entry) {
        if self.list.week.is_some_and(|w| w.contains(entry.start)) {
            *self
                .list
                .server_week_secs
                .entry(entry.contract_id.clone())
                .or_default() += entry.duration_secs();
        }
        if let Some((from, to)) = self.list.today {
            let overlap = (entry.end.min(to) - entry.start.max(from)).num_seconds();
            if overlap > 0 {
                *self
                    .list
                    .server_today_secs
                    .entry(entry.contract_id.clone())
                    .or_default() += overlap;
            }
        }
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// *Upload now*: says what is about to happen (the sync status then
    /// shows the progress, or why it cannot).
    pub fn upload_now_requested(&mut self) {
        let (n, secs) = (self.cache.pending_count(), self.cache.pending_secs());
        self.set_notice(if n == 0 {
            "Nothing to upload: every tracked second is on the server.".to_owned()
        } else {
            format!(
                "Uploading {} in {} now…",
                timecard_core::fmt::hms(secs),
                timecard_core::fmt::count(n as u64, "segment", "segments")
            )
        });
    }

    /// The seam for the uploader: it removes acknowledged segments and moves
    /// refused ones through this.
    pub fn cache_mut(&mut self) -> &mut Cache {
        &mut self.cache
    }

    pub fn is_tracking(&self) -> bool {
        self.session.is_some()
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    fn contract(&self, id: &str) -> Option<&Contract> {
        self.list.contracts.iter().find(|c| c.id == id)
    }

    /// Seconds logged on a contract in a week, excluding the segment in
    /// progress: what the server has plus what is cached or unsaved here.
    pub fn week_logged_secs(&self, contract_id: &str, week: BillingWeek) -> i64 {
        let server = if self.list.week == Some(week) {
            self.list
                .server_week_secs
                .get(contract_id)
                .copied()
                .unwrap_or(0)
        } else {
            0
        };
        let unsaved: i64 = self
            .unsaved
            .iter()
            .filter(|s| s.contract_id == contract_id && week.contains(s.start))
            .map(Segment::duration_secs)
            .sum();
        server + self.cache.pending_secs_in(contract_id, week) + unsaved
    }

    /// Seconds of finished segments the cache could not write yet (they
    /// are only in memory).
    pub fn unsaved_secs(&self) -> i64 {
        self.unsaved.iter().map(Segment::duration_secs).sum()
    }

    /// Hands over the segments only held in memory, for [`super::rescue`].
    pub fn take_unsaved(&mut self) -> Vec<Segment> {
        std::mem::take(&mut self.unsaved)
    }

    /// The last error in words (a write that failed, a delete that did not).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Seconds that can still be cached (K2), counting unsaved segments.
    fn free_secs(&self) -> i64 {
        (self.cache.free_secs() - self.unsaved_secs()).max(0)
    }

    /// Why tracking could not start or go on with `contract_id` at `at`, if anything.
    fn blocker(&self, contract_id: &str, at: DateTime<Utc>) -> Option<StopReason> {
        let Some(contract) = self.contract(contract_id) else {
            return Some(StopReason::UnknownContract {
                contract_id: contract_id.to_owned(),
            });
        };
        if let Trackability::NotTrackable(reason) = contract.trackability(at, self.config.policy) {
            return Some(StopReason::NotTrackable {
                contract_id: contract_id.to_owned(),
                reason: reason.describe(&self.config.time_zone),
            });
        }
        if let Some(limit) = contract.limit_at(at)
            && self.week_logged_secs(contract_id, BillingWeek::containing(at)) >= limit
        {
            return Some(StopReason::WeeklyLimit {
                contract_id: contract_id.to_owned(),
                limit_secs: limit,
            });
        }
        if self.free_secs() == 0 {
            return Some(StopReason::CacheFull {
                capacity_secs: self.cache.capacity_secs(),
            });
        }
        None
    }

    /// Starts tracking `contract_id` at `now`, or switches to it from
    /// another contract (the current segment is cut at `now`). Never waits
    /// on the network (S3). When tracking cannot start, the reason is also
    /// kept for the snapshot.
    pub fn start(&mut self, contract_id: &str, now: DateTime<Utc>) -> Result<(), StopReason> {
        self.tick(now);
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.contract_id == contract_id)
        {
            return Ok(());
        }
        if let Some(reason) = self.blocker(contract_id, now) {
            log::info!("cannot start tracking {contract_id}: {reason}");
            self.stopped = Some((now, reason.clone()));
            return Err(reason);
        }
        match &self.session {
            Some(old) => log::info!(
                "tracking switched from {} to {contract_id}",
                old.contract_id
            ),
            None => log::info!("tracking started: {contract_id}"),
        }
        if self.session.is_some() {
            self.finish_segment(now);
        }
        let shot_at = self.random_shot_moment(now);
        self.session = Some(Session {
            contract_id: contract_id.to_owned(),
            started_at: now,
            seg_start: now,
            activity: Activity::default(),
            shot_at,
            shot: None,
            capture_note: None,
            logged_secs: 0,
        });
        self.stopped = None;
        Ok(())
    }

    /// Stops tracking at `now`; the partial segment is cached.
    pub fn stop(&mut self, now: DateTime<Utc>) {
        self.tick(now);
        if let Some(session) = &self.session {
            log::info!("tracking stopped by the user: {}", session.contract_id);
            self.finish_segment(now);
            self.session = None;
        }
    }

    /// Sets "what are you working on"; it applies to the segment in progress
    /// and the ones after it.
    /// What the rule for typed text forbids (X5) is left out, and the memo
    /// is cut to its cap, so that no segment is ever refused for its memo.
    pub fn set_memo(&mut self, memo: String) {
        use timecard_core::domain::segment::caps::MEMO_CHARS;
        use timecard_core::domain::text::{Lines, is_forbidden};
        self.memo = memo
            .chars()
            .filter(|&c| !is_forbidden(c, Lines::Many))
            .take(MEMO_CHARS)
            .collect();
    }

    /// Replaces the contract list (C5). If the tracked contract can no
    /// longer be tracked, tracking stops at once; the time so far is kept.
    pub fn set_contracts(&mut self, list: ContractList, now: DateTime<Utc>) {
        self.tick(now);
        // Logged when it changes, not on every refresh.
        let summary = |list: &ContractList| {
            list.contracts
                .iter()
                .map(|c| format!("{} ({}, {})", c.id, c.kind.as_str(), c.status.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (old, new) = (summary(&self.list), summary(&list));
        if old != new {
            log::info!(
                "contract list: {}: {new}",
                timecard_core::fmt::count(list.contracts.len() as u64, "contract", "contracts")
            );
        }
        self.list = list;
        self.recheck_session(now);
    }

    /// Changes the tracking policy (Settings > Advanced).
    /// S5: a new idle threshold, in force from the next look at the input
    /// (an idle period already under way keeps its start).
    pub fn set_idle_threshold(&mut self, secs: i64, now: DateTime<Utc>) {
        self.tick(now);
        log::info!("idle threshold: {secs} s");
        self.config.idle_threshold_secs = secs.max(1);
        self.tick(now);
    }

    pub fn set_policy(&mut self, policy: TrackingPolicy, now: DateTime<Utc>) {
        self.tick(now);
        log::info!("tracking policy: {policy:?}");
        self.config.policy = policy;
        self.recheck_session(now);
    }

    fn recheck_session(&mut self, now: DateTime<Utc>) {
        let Some(id) = self.session.as_ref().map(|s| s.contract_id.clone()) else {
            return;
        };
        if let Some(reason) = self.blocker(&id, now) {
            log::info!("tracking stopped: {id}: {reason}");
            self.finish_segment(now);
            self.session = None;
            self.stopped_by_itself(&id, now, reason);
        }
    }

    /// A running session on `contract_id` stopped by itself at `at`: said
    /// on screen until the next start, and numbered for notifications.
    fn stopped_by_itself(&mut self, contract_id: &str, at: DateTime<Utc>, reason: StopReason) {
        let serial = self.last_auto_stop.as_ref().map_or(1, |s| s.serial + 1);
        self.last_auto_stop = Some(AutoStop {
            serial,
            at,
            contract_title: self
                .contract(contract_id)
                .map_or_else(|| contract_id.to_owned(), |c| c.title.clone()),
            reason: reason.clone(),
        });
        self.stopped = Some((at, reason));
    }

    /// Brings the session up to `now`: cuts finished segments on the grid,
    /// stops exactly at the weekly limit or when the cache fills, samples
    /// activity and takes the screenshot when its moment has come.
    pub fn tick(&mut self, now: DateTime<Utc>) {
        let _ = self.retry_unsaved();
        let last_input = match self.session {
            Some(_) => self.activity.last_input(now),
            None => None,
        };
        self.watch_idle(last_input, now);
        while let Some(session) = &self.session {
            let seg_start = session.seg_start;
            let week = BillingWeek::containing(seg_start);
            let cell_end = self.config.grid.cell_end(seg_start).min(week.end());
            let mut stop: Option<(DateTime<Utc>, StopReason)> = None;
            if let Some(limit) = self
                .contract(&session.contract_id)
                .and_then(|c| c.limit_at(seg_start))
            {
                let left = limit - self.week_logged_secs(&session.contract_id, week);
                let at = seg_start + Duration::seconds(left.max(0));
                if at <= cell_end {
                    stop = Some((
                        at,
                        StopReason::WeeklyLimit {
                            contract_id: session.contract_id.clone(),
                            limit_secs: limit,
                        },
                    ));
                }
            }
            let full_at = seg_start + Duration::seconds(self.free_secs());
            if full_at <= cell_end && stop.as_ref().is_none_or(|(t, _)| full_at < *t) {
                stop = Some((
                    full_at,
                    StopReason::CacheFull {
                        capacity_secs: self.cache.capacity_secs(),
                    },
                ));
            }
            let boundary = stop.as_ref().map_or(cell_end, |(t, _)| *t);
            self.observe(last_input, now, boundary);
            if boundary > now {
                break;
            }
            self.finish_segment(boundary);
            match stop {
                Some((at, reason)) => {
                    log::info!("tracking stopped at {at}: {reason}");
                    let id = self.session.take().map(|s| s.contract_id);
                    self.stopped_by_itself(&id.unwrap_or_default(), at, reason);
                }
                None => {
                    let shot_at = self.random_shot_moment(boundary);
                    let session = self.session.as_mut().expect("session present");
                    session.seg_start = boundary;
                    session.activity = Activity::default();
                    session.shot_at = shot_at;
                    session.shot = None;
                    session.capture_note = None;
                }
            }
        }
    }

    /// S5: notices an idle period while tracking, and the return from it.
    /// An idle period starts at the last input, or at the start of the
    /// session when that input came before it (time before the session was
    /// never tracked); it ends at the first input after it. The activity
    /// source reports the same instant until a new input happens, so any
    /// later instant is a real return.
    fn watch_idle(&mut self, last_input: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let Some(input) = last_input else { return };
        let Some(started) = self.session.as_ref().map(|s| s.started_at) else {
            return;
        };
        self.input_seen = Some(self.input_seen.map_or(input, |seen| seen.max(input)));
        match &mut self.idle {
            None => {
                let since = input.max(started);
                if (now - since).num_seconds() >= self.config.idle_threshold_secs {
                    log::info!(
                        "idle since {since} (no input for {} s)",
                        (now - since).num_seconds()
                    );
                    self.idle = Some(IdleView {
                        since,
                        returned: None,
                    });
                }
            }
            Some(idle) if idle.returned.is_none() && input > idle.since => {
                log::info!(
                    "back from idle at {input}, after {} s",
                    (input - idle.since).num_seconds()
                );
                idle.returned = Some(input);
            }
            Some(_) => {}
        }
    }

    /// Records input and takes the screenshot for the segment in progress,
    /// which ends at `end`, as of `now`.
    fn observe(
        &mut self,
        last_input: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        end: DateTime<Utc>,
    ) {
        let until = now.min(end);
        let grid = self.config.grid;
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if let Some(input) = last_input
            && input >= session.seg_start
            && input <= now
            && input < end
        {
            session.activity.set(grid.sub_slot(input));
        }
        let due = session.shot_at >= session.seg_start && session.shot_at <= until;
        if due && session.shot.is_none() && session.capture_note.is_none() {
            match self.screen.capture() {
                Ok(Some(captured)) => {
                    self.last_shot = Some((session.shot_at, Arc::new(captured.thumbnail.clone())));
                    session.shot = Some(Screenshot {
                        taken_at: session.shot_at,
                        jpeg: captured.jpeg,
                        thumbnail: captured.thumbnail,
                    })
                }
                Ok(None) => session.shot_at = DateTime::<Utc>::MAX_UTC,
                Err(e) => {
                    if let crate::capture::CaptureError::Black(why) = &e
                        && !self.black_told
                    {
                        self.black_told = true;
                        log::warn!("screenshot came out black: {e}");
                        // P2: the source's own words — "may be blocked"
                        // where it cannot tell a black screen from a block.
                        self.notice = Some(format!(
                            "Screenshots come out black: {why}. Segments are kept, marked \"capture unavailable\", without a picture."
                        ));
                        self.notice_serial += 1;
                    }
                    session.capture_note = Some(format!("capture unavailable: {e}"));
                }
            }
        }
    }

    fn random_shot_moment(&mut self, seg_start: DateTime<Utc>) -> DateTime<Utc> {
        let cell_end = self.config.grid.cell_end(seg_start);
        let span = (cell_end - seg_start).num_seconds().max(1);
        seg_start + Duration::seconds(self.rng.i64(0..span))
    }

    /// Ends the segment in progress at `end` and hands it to the cache (K1).
    fn finish_segment(&mut self, end: DateTime<Utc>) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if end <= session.seg_start {
            return;
        }
        let segment = Segment {
            id: SegmentId::random(),
            contract_id: session.contract_id.clone(),
            device_id: self.config.device_id.clone(),
            start: session.seg_start,
            end,
            memo: self.memo.clone(),
            activity: session.activity,
            screenshot: session.shot.take(),
            capture_note: session.capture_note.take(),
        };
        session.seg_start = end;
        session.logged_secs += (end - segment.start).num_seconds();
        self.store(segment);
    }

    fn store(&mut self, segment: Segment) {
        if !self.unsaved.is_empty() {
            // Keep the order: older unsaved segments go first.
            self.unsaved.push(segment);
            let _ = self.retry_unsaved();
            return;
        }
        match self.cache.append(&segment) {
            Ok(()) => log_cached(&segment),
            Err(e) => {
                self.note_write_error(&e);
                self.unsaved.push(segment);
            }
        }
    }

    /// Writes the segments held in memory to the cache, oldest first, until
    /// one fails. Returns whether none is left in memory.
    pub fn retry_unsaved(&mut self) -> bool {
        while let Some(segment) = self.unsaved.first() {
            match self.cache.append(segment) {
                Ok(()) => {
                    log_cached(segment);
                    self.unsaved.remove(0);
                    if self.unsaved.is_empty() {
                        self.last_error = None;
                    }
                }
                Err(e) => {
                    self.note_write_error(&e);
                    return false;
                }
            }
        }
        true
    }

    fn note_write_error(&mut self, e: &CacheError) {
        let message = format!("{e} — the time is kept in memory and saved as soon as possible");
        if self.last_error.as_deref() != Some(&message) {
            log::error!("{message}");
        }
        self.last_error = Some(message);
    }

    /// The next moment something happens by itself: a segment boundary, a
    /// limit or capacity stop, the screenshot, an activity sample, a retry
    /// of an unsaved segment, a contract becoming trackable (C3), or a new
    /// weekly limit taking effect (W3).
    pub fn next_wakeup(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut next = now + Duration::hours(1);
        if let Some(s) = &self.session {
            next = next
                .min(self.config.grid.cell_end(s.seg_start))
                .min(now + Duration::seconds(ACTIVITY_SAMPLE_SECS));
            if s.shot.is_none() && s.capture_note.is_none() && s.shot_at > now {
                next = next.min(s.shot_at);
            }
            if let Some(limit) = self
                .contract(&s.contract_id)
                .and_then(|c| c.limit_at(s.seg_start))
            {
                let left = limit
                    - self.week_logged_secs(&s.contract_id, BillingWeek::containing(s.seg_start));
                next = next.min(s.seg_start + Duration::seconds(left.max(0)));
            }
            next = next.min(s.seg_start + Duration::seconds(self.free_secs()));
        }
        if !self.unsaved.is_empty() {
            next = next.min(now + Duration::seconds(UNSAVED_RETRY_SECS));
        }
        for c in &self.list.contracts {
            if c.starts_at() > now {
                next = next.min(c.starts_at());
            }
            // W3: the new limit, and its note in the past, from the moment on.
            if let Some(p) = &c.pending_limit
                && p.effective_at > now
            {
                next = next.min(p.effective_at);
            }
        }
        next.max(now)
    }

    /// What the UI shows, as of `now`.
    pub fn snapshot(&self, now: DateTime<Utc>) -> Snapshot {
        let week = BillingWeek::containing(now);
        let contracts = self
            .list
            .contracts
            .iter()
            .map(|c| {
                let view = ContractView::new(
                    c,
                    now,
                    self.config.policy,
                    &self.config.time_zone,
                    self.week_logged_secs(&c.id, week),
                    self.list.disputes.get(&c.id).cloned().unwrap_or_default(),
                );
                ContractView {
                    manual_time: self.list.manual_time.contains(&c.id),
                    ..view
                }
            })
            .collect();
        let tracking = self.session.as_ref().map(|s| TrackingView {
            contract_id: s.contract_id.clone(),
            contract_title: self
                .contract(&s.contract_id)
                .map(|c| c.title.clone())
                .unwrap_or_default(),
            memo: self.memo.clone(),
            started_at: s.started_at,
            segment_start: s.seg_start,
            logged_secs: s.logged_secs,
        });
        let day = LocalDay::containing(now, self.config.time_zone);
        let (day_start, day_end) = (day.start(), day.end());
        let mut today_secs: HashMap<String, i64> = HashMap::new();
        if self.list.today == Some((day_start, day_end)) {
            today_secs.clone_from(&self.list.server_today_secs);
            today_secs.retain(|_, secs| *secs > 0);
        }
        let closed = self
            .cache
            .pending()
            .map(|e| (&e.contract_id, e.start, e.end))
            .chain(
                self.unsaved
                    .iter()
                    .map(|s| (&s.contract_id, s.start, s.end)),
            );
        for (contract_id, start, end) in closed {
            let overlap = (end.min(day_end) - start.max(day_start)).num_seconds();
            if overlap > 0 {
                *today_secs.entry(contract_id.clone()).or_default() += overlap;
            }
        }
        let cache = CacheView {
            pending_segments: self.cache.pending_count(),
            pending_secs: self.cache.pending_secs() + self.unsaved_secs(),
            capacity_secs: self.cache.capacity_secs(),
            full: self.free_secs() == 0,
            unsaved_segments: self.unsaved.len(),
            unsaved_secs: self.unsaved_secs(),
            refused: self
                .cache
                .refused()
                .map(|r| RefusedView {
                    id: r.entry.id.to_string(),
                    contract_id: r.entry.contract_id.clone(),
                    start: r.entry.start,
                    end: r.entry.end,
                    reason: r.refusal.reason.clone(),
                    message: r.refusal.message.clone(),
                })
                .collect(),
            held_segments: self.upload_horizon().map_or(0, |horizon| {
                self.cache.pending().filter(|e| e.end > horizon).count()
            }),
            held_for_answer: self.idle.is_some(),
            quarantined_files: self.quarantined_files,
            pending: self
                .cache
                .pending()
                .map(|e| CachedView {
                    id: e.id,
                    contract_id: e.contract_id.clone(),
                    start: e.start,
                    end: e.end,
                    has_screenshot: e.has_screenshot,
                    capture_note: e.capture_note.clone(),
                })
                .collect(),
            oldest_pending: self.cache.pending().next().map(|e| e.start),
        };
        let lock_deadline = self
            .cache
            .pending()
            .next()
            .map(|oldest| BillingWeek::containing(oldest.start).locks_at(self.lock_grace_secs));
        Snapshot {
            generation: 0,
            contracts,
            tracking,
            stopped: self.stopped.clone(),
            last_auto_stop: self.last_auto_stop.clone(),
            cache,
            today_secs,
            last_error: self.last_error.clone(),
            sync: self.sync.clone(),
            notice: self.notice.clone(),
            notice_serial: self.notice_serial,
            idle: self.idle.clone(),
            last_screenshot: self.last_shot.clone(),
            lock_deadline,
            week_start: week.start(),
            black_screenshots: self.black_told,
        }
    }
}

/// One log line per segment written to the cache (never the memo or the
/// screenshot itself).
fn log_cached(segment: &Segment) {
    log::info!(
        "segment {} cached: {} {}–{} ({} s, activity {}/10, {})",
        segment.id,
        segment.contract_id,
        segment.start.format("%H:%M:%S"),
        segment.end.format("%H:%M:%S"),
        (segment.end - segment.start).num_seconds(),
        segment.activity.level(),
        match (&segment.screenshot, &segment.capture_note) {
            (Some(shot), _) => format!("screenshot {} KB", shot.jpeg.len() / 1024),
            (None, Some(note)) => note.clone(),
            (None, None) => "no screenshot".to_owned(),
        }
    );
}
