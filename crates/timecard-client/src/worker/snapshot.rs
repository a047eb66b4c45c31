//! The immutable picture of everything the UI and the command line show,
//! published by the worker after each change.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::link::{CLOCK_SKEW_WARN_SECS, CellPicture};
use crate::link::{SyncState, SyncStatus};
use timecard_core::domain::{Contract, Trackability, TrackingPolicy};
use timecard_core::fmt::format_hours;

/// Why tracking stopped by itself (or was refused at start).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum StopReason {
    /// W2: the contract's weekly limit is reached.
    WeeklyLimit {
        contract_id: String,
        limit_secs: i64,
    },
    /// K2: the cache holds its capacity of un-uploaded time.
    CacheFull { capacity_secs: i64 },
    /// C5: the contract was paused or ended, or can no longer be tracked.
    NotTrackable { contract_id: String, reason: String },
    /// No such contract in the list.
    UnknownContract { contract_id: String },
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::WeeklyLimit { limit_secs, .. } => write!(
                f,
                "the weekly limit of {} is reached; tracking can resume on Monday 00:00 UTC or when the client raises the limit",
                format_hours(*limit_secs)
            ),
            StopReason::CacheFull { capacity_secs } => write!(
                f,
                "the offline cache is full ({} of time not yet uploaded); tracking can start again once uploads free space",
                format_hours(*capacity_secs)
            ),
            StopReason::NotTrackable { reason, .. } => {
                write!(f, "the contract cannot be tracked: {reason}")
            }
            StopReason::UnknownContract { contract_id } => {
                write!(
                    f,
                    "there is no contract with id {contract_id:?}; run `timecard contracts` to list them"
                )
            }
        }
    }
}

/// A running session that stopped by itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AutoStop {
    /// Counts such stops from 1, for this run.
    pub serial: u64,
    pub at: DateTime<Utc>,
    pub contract_title: String,
    pub reason: StopReason,
}

/// A contract as shown: the contract plus the rules applied to it now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContractView {
    #[serde(flatten)]
    pub contract: Contract,
    pub trackable: bool,
    /// Machine-readable reason code when not trackable (C4).
    pub reason_code: Option<String>,
    /// The reason in plain words, times in the user's zone (C4).
    pub reason: Option<String>,
    /// Seconds logged this billing week: uploaded + cached, excluding the
    /// segment in progress (add [`Snapshot::running_secs`] for that).
    pub week_logged_secs: i64,
    /// The limit in force this week, in seconds.
    pub limit_secs: Option<i64>,
    /// "limit becomes 20 h on Mon 30 Nov 00:00 UTC" while a decrease waits (W3).
    pub pending_limit_note: Option<String>,
    /// C6: time here is not counted in total hours nor covered by hourly protection.
    pub counts_toward_hours: bool,
    /// Segments the client disputed in the weekly review (R7).
    pub disputes: Vec<timecard_core::protocol::DisputeInfo>,
    /// R8: the contract's terms let the freelancer add time by hand.
    pub manual_time: bool,
}

impl ContractView {
    /// `contract` as every face shows it at `now` (C2, C4, C6, W2, W3),
    /// with `week_logged_secs` logged this billing week (uploaded and
    /// cached) and the client's `disputes`; reasons in `zone`.
    pub fn new(
        contract: &Contract,
        now: DateTime<Utc>,
        policy: TrackingPolicy,
        zone: &chrono_tz::Tz,
        week_logged_secs: i64,
        disputes: Vec<timecard_core::protocol::DisputeInfo>,
    ) -> ContractView {
        let reason = match contract.trackability_this_week(now, policy, week_logged_secs) {
            Trackability::Trackable => None,
            Trackability::NotTrackable(r) => Some(r),
        };
        ContractView {
            contract: contract.clone(),
            trackable: reason.is_none(),
            reason_code: reason.map(|r| r.code().to_owned()),
            reason: reason.map(|r| r.describe(zone)),
            week_logged_secs,
            limit_secs: contract.limit_at(now),
            pending_limit_note: contract.pending_limit_note(now),
            counts_toward_hours: contract.kind.counts_toward_hours(),
            disputes,
            manual_time: false,
        }
    }
}

/// The session in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackingView {
    pub contract_id: String,
    pub contract_title: String,
    pub memo: String,
    pub started_at: DateTime<Utc>,
    /// Start of the segment being recorded; time since then is not cached yet.
    pub segment_start: DateTime<Utc>,
    /// Seconds of this session in finished segments, discarded idle time
    /// taken out (the timer adds [`Snapshot::running_secs`]).
    pub logged_secs: i64,
}

/// A segment refused by the server (K6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusedView {
    pub id: String,
    pub contract_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    pub message: String,
}

/// The state of the cache (K2, K3, K6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheView {
    pub pending_segments: usize,
    pub pending_secs: i64,
    pub capacity_secs: i64,
    pub full: bool,
    /// Finished segments that could not be written yet (disk full, …); they
    /// are kept in memory and retried.
    pub unsaved_segments: usize,
    /// Their seconds (also counted in `pending_secs`).
    pub unsaved_secs: i64,
    pub refused: Vec<RefusedView>,
    /// S5: cached segments held back from upload because an idle period
    /// may still be cut out of them (also counted in `pending_segments`).
    pub held_segments: usize,
    /// Whether they wait for the user's answer to the idle question (or
    /// only for the next input, which tells whether the user is away).
    pub held_for_answer: bool,
    pub quarantined_files: usize,
    pub oldest_pending: Option<DateTime<Utc>>,
    /// The pending segments, oldest first (for the Work Diary).
    pub pending: Vec<CachedView>,
}

/// A segment still in the cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CachedView {
    pub id: timecard_core::domain::SegmentId,
    pub contract_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub has_screenshot: bool,
    /// Why there is no screenshot, when capture failed (P2).
    pub capture_note: Option<String>,
}

/// Everything the UI shows. Cheap to clone behind an `Arc`; never mutated.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// Increases by one with every published change.
    pub generation: u64,
    pub contracts: Vec<ContractView>,
    pub tracking: Option<TrackingView>,
    /// The last time tracking stopped by itself or was refused, and why;
    /// cleared by the next start.
    pub stopped: Option<(DateTime<Utc>, StopReason)>,
    /// The last running session that stopped by itself (D5), kept after
    /// the next start and numbered, so that a watcher that missed the
    /// moment (a busy machine, a restart right after) still tells it.
    pub last_auto_stop: Option<AutoStop>,
    pub cache: CacheView,
    /// Seconds logged today (in the user's zone) on each contract, excluding
    /// the segment in progress.
    pub today_secs: HashMap<String, i64>,
    /// The last error worth showing, in plain words.
    pub last_error: Option<String>,
    /// What the sync thread last reported (K5).
    pub sync: SyncStatus,
    /// The last message for the user (export done, report sent, …).
    pub notice: Option<String>,
    /// Goes up by one each time a notice is told, the same text again too.
    #[serde(skip)]
    pub notice_serial: u64,
    /// S5: an idle period; once `returned` is set the UI asks keep or discard.
    pub idle: Option<IdleView>,
    /// When the last screenshot was taken, and its thumbnail (JPEG).
    #[serde(skip)]
    pub last_screenshot: Option<(DateTime<Utc>, std::sync::Arc<Vec<u8>>)>,
    /// K6: when the week of the oldest cached segment locks; segments still
    /// cached then can no longer be uploaded.
    pub lock_deadline: Option<DateTime<Utc>>,
    /// Monday 00:00 UTC of the current billing week (W1).
    pub week_start: DateTime<Utc>,
    /// P2: screenshots have come out black (the user was told once).
    pub black_screenshots: bool,
}

/// An idle period while tracking (S5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdleView {
    /// The last input before the idle period.
    pub since: DateTime<Utc>,
    /// The first input after it, once the user is back.
    pub returned: Option<DateTime<Utc>>,
}

/// How close the lock deadline is (K6), in rising order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockRisk {
    /// Less than 24 hours left.
    Day,
    /// Less than an hour left.
    Hour,
    /// The week has locked with segments still cached.
    Locked,
}

/// The status with no server configured: the built-in server keeps the
/// time on this computer only.
pub const LOCAL_ONLY: &str = "Local only (no server configured)";

impl Snapshot {
    /// Seconds recorded in the segment in progress at `now`.
    pub fn running_secs(&self, now: DateTime<Utc>) -> i64 {
        self.tracking
            .as_ref()
            .map_or(0, |t| (now - t.segment_start).num_seconds().max(0))
    }

    pub fn contract(&self, id: &str) -> Option<&ContractView> {
        self.contracts.iter().find(|c| c.contract.id == id)
    }

    /// K6: whether cached time is at risk of missing its week's lock.
    pub fn lock_risk(&self, now: DateTime<Utc>) -> Option<LockRisk> {
        let left = self.lock_deadline? - now;
        if left <= chrono::Duration::zero() {
            Some(LockRisk::Locked)
        } else if left <= chrono::Duration::hours(1) {
            Some(LockRisk::Hour)
        } else if left <= chrono::Duration::hours(24) {
            Some(LockRisk::Day)
        } else {
            None
        }
    }

    /// Y4: the warning to show when this computer's clock is off.
    pub fn clock_warning(&self) -> Option<String> {
        let skew = self.sync.clock_skew_secs?;
        (skew.abs() > CLOCK_SKEW_WARN_SECS).then(|| {
            format!(
                "this computer's clock is {} {} the server's; set the correct time, or TLS and time records may fail",
                timecard_core::fmt::rough_duration(skew),
                if skew > 0 { "behind" } else { "ahead of" }
            )
        })
    }

    /// K5: `online`, `uploading`, `caching`, `cache_full`, `signed_out` or `connecting`.
    pub fn sync_code(&self) -> &'static str {
        if self.cache.full {
            return "cache_full";
        }
        match self.sync.state {
            SyncState::Connecting => "connecting",
            SyncState::Online => "online",
            SyncState::Uploading { .. } => "uploading",
            SyncState::Caching { .. } => "caching",
            SyncState::SignedOut { .. } => "signed_out",
        }
    }

    /// K5 in words, as the status line shows it.
    pub fn sync_summary(&self, now: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
        if self.cache.full {
            return "Cache full — tracking is paused until uploads free space".into();
        }
        match &self.sync.state {
            SyncState::Connecting | SyncState::Online if self.sync.local_only => LOCAL_ONLY.into(),
            SyncState::Uploading { left, .. } if self.sync.local_only => {
                format!("{LOCAL_ONLY} — storing, {left} left")
            }
            SyncState::Connecting => "Connecting…".into(),
            SyncState::Online => "Online".into(),
            SyncState::Uploading { left, .. } => format!("Online and uploading — {left} left"),
            SyncState::Caching {
                since,
                last_error,
                next_retry,
            } => format!(
                "Offline since {} — {last_error} — next try in {} s",
                since.with_timezone(&zone).format("%H:%M"),
                (*next_retry - now).num_seconds().max(0)
            ),
            SyncState::SignedOut { reason } => format!("Signed out — {reason}"),
        }
    }

    /// The big timer: this session's time, the running segment included and
    /// discarded idle time left out (S5: it agrees with Today and This week).
    pub fn session_secs(&self, now: DateTime<Utc>) -> i64 {
        self.tracking
            .as_ref()
            .map_or(0, |t| t.logged_secs + self.running_secs(now))
    }

    /// S5 in words for the window, the mini view and the tray: "Idle since
    /// 15:31", or the question once the user is back.
    pub fn idle_line(&self, zone: chrono_tz::Tz) -> Option<String> {
        let idle = self.idle.as_ref()?;
        let since = idle.since.with_timezone(&zone).format("%H:%M");
        Some(match idle.returned {
            None => format!("Idle since {since}"),
            Some(_) => format!("Idle since {since}: keep or discard that time?"),
        })
    }

    /// K5 for time not on the server yet, and why (`None` when everything
    /// is there): "7 segments waiting for your idle answer", "3 uploading".
    /// The status line and the tray show it in the colour for "not yet".
    pub fn unsent_line(&self) -> Option<String> {
        use timecard_core::fmt::count as plural;
        let cache = &self.cache;
        let mut parts = Vec::new();
        if cache.held_segments > 0 {
            let waiting = if cache.held_for_answer {
                "waiting for your idle answer"
            } else {
                "waiting for your next input"
            };
            parts.push(format!(
                "{} {waiting}",
                plural(cache.held_segments as u64, "segment", "segments")
            ));
        }
        let others = cache.pending_segments.saturating_sub(cache.held_segments);
        if others > 0 {
            let local = self.sync.local_only;
            parts.push(match &self.sync.state {
                SyncState::Uploading { .. } | SyncState::Online | SyncState::Connecting
                    if local =>
                {
                    format!(
                        "{} being stored",
                        plural(others as u64, "segment", "segments")
                    )
                }
                SyncState::Uploading { .. } | SyncState::Online => {
                    format!("{others} uploading")
                }
                SyncState::Caching { .. } | SyncState::Connecting => format!(
                    "{} cached until the server answers",
                    plural(others as u64, "segment", "segments")
                ),
                SyncState::SignedOut { .. } => format!(
                    "{} cached until you sign in",
                    plural(others as u64, "segment", "segments")
                ),
            });
        }
        if cache.unsaved_segments > 0 {
            parts.push(format!(
                "{} not saved to disk yet",
                plural(cache.unsaved_segments as u64, "segment", "segments")
            ));
        }
        (!parts.is_empty()).then(|| format!("Not on the server yet: {}", parts.join(", ")))
    }

    /// Today's seconds over all contracts, the running segment included.
    pub fn today_total_secs(&self, now: DateTime<Utc>) -> i64 {
        self.today_secs.values().sum::<i64>() + self.running_secs(now)
    }
}

#[cfg(test)]
mod words_tests {
    use super::*;

    // Y4: a skew of days reads in days, not as "48:00:00".
    #[test]
    fn clock_warning_reads_the_skew_in_words() {
        let mut snapshot = Snapshot::default();
        snapshot.sync.clock_skew_secs = Some(48 * 3600);
        let warning = snapshot.clock_warning().unwrap();
        assert!(
            warning.contains("is 2 days behind the server's"),
            "{warning}"
        );
        snapshot.sync.clock_skew_secs = Some(-3 * 3600);
        let warning = snapshot.clock_warning().unwrap();
        assert!(
            warning.contains("is 3 hours ahead of the server's"),
            "{warning}"
        );
        snapshot.sync.clock_skew_secs = Some(5);
        assert_eq!(snapshot.clock_warning(), None);
    }
}
