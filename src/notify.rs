//! Desktop notifications (D5): tracking stopped (weekly limit, cache full,
//! contract paused or ended), cached time at risk of its week's lock, black
//! screenshots, back from idle, back online after caching.
//!
//! A watcher thread compares each new snapshot with the last one and turns
//! what changed into [`Alert`]s ([`alerts`] is pure and unit-tested). One
//! process-wide thread shows them with notify-rust, whose `show()` can block
//! for ever when the notification server hangs: the queue to it is bounded
//! and full means dropped, so nothing else ever waits on it. No session bus
//! or no notification server is logged once, never shown as an error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::disputes::DisputesTold;
use timecard_client::engine::Engine;
use timecard_client::sync::SyncState;
use timecard_client::worker::{Command, LockRisk, Snapshot, SnapshotCell};
use timecard_core::clock::Clock;

/// One desktop notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub summary: String,
    pub body: String,
    /// Buttons on the notification, where the desktop shows them.
    pub actions: Actions,
}

/// The buttons a notification offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Actions {
    #[default]
    None,
    /// S5: Keep / Discard the idle time the user came back from.
    KeepOrDiscardIdle,
}

impl Alert {
    pub(crate) fn new(summary: &str, body: impl Into<String>) -> Alert {
        Alert {
            summary: summary.to_owned(),
            body: body.into(),
            actions: Actions::None,
        }
    }
}

/// Where a notification's buttons send their answer: the running engine's
/// worker (set by [`attach`]; the engine after a restart replaces it).
static ANSWERS: std::sync::Mutex<Option<std::sync::mpsc::Sender<Command>>> =
    std::sync::Mutex::new(None);

/// What the user should hear about between `prev` and `next` (both seen at
/// `now`). `risk_told` is the highest lock risk already announced.
pub fn alerts(
    prev: &Snapshot,
    next: &Snapshot,
    now: DateTime<Utc>,
    zone: Tz,
    risk_told: &mut Option<LockRisk>,
) -> Vec<Alert> {
    let mut out = Vec::new();
    // Numbered, so that a stop is told even when the next start came
    // before this watcher looked.
    if let Some(stop) = &next.last_auto_stop
        && prev.last_auto_stop.as_ref().map(|s| s.serial) != Some(stop.serial)
    {
        let reason = stop.reason.to_string();
        let mut chars = reason.chars();
        let reason = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default();
        out.push(Alert::new(
            "Tracking stopped",
            format!("{}: {reason}.", stop.contract_title),
        ));
    }
    let risk = next.lock_risk(now);
    if risk > *risk_told
        && let (Some(risk), Some(deadline)) = (risk, next.lock_deadline)
    {
        let when = deadline.with_timezone(&zone).format("%a %d %b %H:%M");
        let body = match risk {
            LockRisk::Locked => format!(
                "The week of your oldest cached time locked at {when}; {} can no longer be uploaded. Open the Cache screen.",
                timecard_core::fmt::count(
                    next.cache.pending_segments as u64,
                    "segment",
                    "segments"
                )
            ),
            _ => format!(
                "{} still cached and must upload before {when}, when their week locks. Check your connection.",
                match next.cache.pending_segments {
                    1 => "1 segment is".to_owned(),
                    n => format!("{n} segments are"),
                }
            ),
        };
        out.push(Alert::new("Cached time at risk", body));
    }
    *risk_told = if next.cache.pending_segments == 0 {
        None
    } else {
        risk.max(*risk_told)
    };
    if next.black_screenshots && !prev.black_screenshots {
        out.push(Alert::new(
            "Screenshots come out black",
            "Screen recording may be blocked, unless the screen really is black. Time is still tracked, without pictures; the segments are marked \"capture unavailable\".",
        ));
    }
    if let Some(idle) = &next.idle
        && let Some(back) = idle.returned
        && prev.idle.as_ref().is_none_or(|p| p.returned.is_none())
    {
        out.push(Alert {
            actions: Actions::KeepOrDiscardIdle,
            ..Alert::new(
                "Welcome back",
                format!(
                    "No input from {} to {}. Keep or discard that time in Timecard.",
                    idle.since.with_timezone(&zone).format("%H:%M"),
                    back.with_timezone(&zone).format("%H:%M")
                ),
            )
        });
    }
    let was_offline = matches!(prev.sync.state, SyncState::Caching { .. });
    let online = matches!(
        next.sync.state,
        SyncState::Online | SyncState::Uploading { .. }
    );
    if was_offline && online {
        let body = match next.cache.pending_segments {
            0 => "Everything cached while offline is uploaded.".to_owned(),
            n => format!(
                "Uploading {} cached while offline.",
                timecard_core::fmt::count(n as u64, "segment", "segments")
            ),
        };
        out.push(Alert::new("Back online", body));
    }
    out
}

/// Sends desktop notifications (D5) for `engine`'s changes while
/// `enabled` is set, until the engine shuts down.
/// Disputes told are kept in `disputes_told` (R14; the data folder's file).
pub fn attach(
    engine: &mut Engine,
    enabled: Arc<AtomicBool>,
    disputes_told: Option<std::path::PathBuf>,
) {
    answer_to(engine.worker.sender());
    let notifications = Notifications::start_remembering(
        engine.worker.snapshots().clone(),
        engine.clock.clone(),
        engine.zone,
        enabled,
        disputes_told.map_or_else(DisputesTold::in_memory, DisputesTold::load),
    );
    engine.attach_companion(move || notifications.finish(Duration::from_secs(2)));
}

/// Watches one worker's snapshots while it lives; notifications go out only
/// while `enabled` is set (the setting, live).
pub struct Notifications {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Notifications {
    pub fn start(
        snapshots: Arc<SnapshotCell>,
        clock: Arc<dyn Clock>,
        zone: Tz,
        enabled: Arc<AtomicBool>,
    ) -> Notifications {
        Self::start_remembering(snapshots, clock, zone, enabled, DisputesTold::in_memory())
    }

    /// As [`Notifications::start`], telling each dispute and decision once
    /// (R14) beyond what `disputes` says was told.
    pub fn start_remembering(
        snapshots: Arc<SnapshotCell>,
        clock: Arc<dyn Clock>,
        zone: Tz,
        enabled: Arc<AtomicBool>,
        mut disputes: DisputesTold,
    ) -> Notifications {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        // Taken here, not on the thread: every change after `start`
        // returns is compared with it, however late the thread runs (a
        // stop right after start was missed on a busy machine).
        let mut prev = snapshots.latest();
        let spawned = std::thread::Builder::new()
            .name("timecard-notify-watch".into())
            .spawn(move || {
                let mut risk_told = prev.lock_risk(clock.now());
                let mut disputes_checked = None;
                loop {
                    // Once asked to stop, the last snapshot is still looked at.
                    let last = stopping.load(Ordering::Relaxed);
                    let next = if last {
                        snapshots.latest()
                    } else {
                        // Wakes on every change, and each second for the lock deadline.
                        snapshots.wait_newer(prev.generation, Duration::from_secs(1))
                    };
                    for alert in alerts(&prev, &next, clock.now(), zone, &mut risk_told) {
                        if enabled.load(Ordering::Relaxed) {
                            send(alert);
                        }
                    }
                    if disputes_checked != Some(next.generation) {
                        disputes_checked = Some(next.generation);
                        let (told, changed) = disputes.alerts(&next, clock.now(), zone);
                        for alert in told {
                            if enabled.load(Ordering::Relaxed) {
                                send(alert);
                            }
                        }
                        if changed {
                            disputes.save();
                        }
                    }
                    prev = next;
                    if last {
                        break;
                    }
                }
            });
        let thread = spawned
            .map_err(|e| log::warn!("notifications are off: cannot start their thread: {e}"))
            .ok();
        Notifications { stop, thread }
    }

    /// Tells what the last changes call for, then waits (up to `timeout`)
    /// for the notifications to be shown, so a command that exits right
    /// after a stop still notifies.
    pub fn finish(mut self, timeout: Duration) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        flush(timeout);
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Alerts handed to the shower thread and not yet shown (or failed).
static IN_FLIGHT: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

fn in_flight(change: isize) {
    let (count, changed) = &IN_FLIGHT;
    let mut count = count.lock().expect("in-flight count");
    *count = count.saturating_add_signed(change);
    changed.notify_all();
}

/// Waits until every alert handed over has been shown, at most `timeout`
/// (a notification server that never answers only costs that long).
pub fn flush(timeout: Duration) {
    let (count, changed) = &IN_FLIGHT;
    let count = count.lock().expect("in-flight count");
    let _ = changed.wait_timeout_while(count, timeout, |n| *n > 0);
}

/// Alerts waiting for the shower thread; beyond this they are dropped.
const QUEUE: usize = 16;

/// Hands `alert` to the thread that shows notifications; never blocks.
pub fn send(alert: Alert) {
    static SHOWER: OnceLock<Option<SyncSender<Alert>>> = OnceLock::new();
    let sender = SHOWER.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("timecard-notify".into())
            .spawn(move || show_all(rx))
            .map_err(|e| log::warn!("notifications are off: cannot start their thread: {e}"))
            .ok()
            .map(|_| tx)
    });
    let Some(sender) = sender else { return };
    log::info!("notification: {}: {}", alert.summary, alert.body);
    in_flight(1);
    match sender.try_send(alert) {
        Ok(()) => {}
        Err(TrySendError::Full(alert)) => {
            in_flight(-1);
            log::warn!(
                "notification not shown (the notification server is not answering): {}",
                alert.summary
            )
        }
        Err(TrySendError::Disconnected(_)) => in_flight(-1),
    }
}

fn show_all(alerts: Receiver<Alert>) {
    let mut failing = false;
    for alert in alerts {
        let mut notification = notify_rust::Notification::new();
        notification
            .appname("Timecard")
            .summary(&alert.summary)
            .body(&alert.body)
            .icon("timecard");
        // Windows names a toast's sender by the AppUserModelID of a
        // Start-menu shortcut (the installer's), else PowerShell.
        #[cfg(windows)]
        notification.app_id(timecard_client::platform::shortcut::APP_USER_MODEL_ID);
        let asks = alert.actions == Actions::KeepOrDiscardIdle && offers_actions();
        if asks {
            notification
                .action("keep", "Keep idle time")
                .action("discard", "Discard idle time");
        }
        let shown = notification.show();
        match shown {
            Ok(handle) => {
                failing = false;
                if asks {
                    wait_for_answer(handle);
                }
            }
            Err(e) if !failing => {
                failing = true;
                log::warn!(
                    "desktop notifications are unavailable ({e}); the window still shows everything"
                );
            }
            Err(_) => {}
        }
        in_flight(-1);
    }
}

/// Where the buttons of notifications send their answer from now on (the
/// running worker).
pub fn answer_to(worker: std::sync::mpsc::Sender<Command>) {
    *ANSWERS.lock().expect("answers lock") = Some(worker);
}

/// Whether the desktop's notification server shows buttons (the
/// `actions` capability); Windows toasts get none from here.
fn offers_actions() -> bool {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        notify_rust::get_capabilities().is_ok_and(|c| c.iter().any(|c| c == "actions"))
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        false
    }
}

/// Waits (on its own thread: the user may never answer) for the button
/// pressed on the idle notification and tells the worker (S5). An answer
/// given in the window first leaves nothing to resolve: the worker ignores
/// the late one.
fn wait_for_answer(handle: notify_rust::NotificationHandle) {
    let spawned = std::thread::Builder::new()
        .name("timecard-notify-answer".into())
        .spawn(move || {
            handle.wait_for_action(|action| {
                let keep = match action {
                    "keep" => true,
                    "discard" => false,
                    _ => return,
                };
                log::info!("idle question answered from the notification: {action}");
                if let Some(answers) = &*ANSWERS.lock().expect("answers lock") {
                    let _ = answers.send(Command::ResolveIdle { keep });
                }
            })
        });
    if let Err(e) = spawned {
        log::warn!("the notification's buttons are not listened to: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use timecard_client::sync::SyncStatus;
    use timecard_client::worker::{IdleView, StopReason, TrackingView};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn tracking() -> Snapshot {
        Snapshot {
            tracking: Some(TrackingView {
                contract_id: "c1".into(),
                contract_title: "Backend".into(),
                memo: String::new(),
                started_at: at("2026-11-25T09:00:00Z"),
                segment_start: at("2026-11-25T09:00:00Z"),
                logged_secs: 0,
            }),
            ..Snapshot::default()
        }
    }

    fn limit_stop(serial: u64) -> Option<timecard_client::worker::AutoStop> {
        Some(timecard_client::worker::AutoStop {
            serial,
            at: at("2026-11-25T10:00:00Z"),
            contract_title: "Backend".into(),
            reason: StopReason::WeeklyLimit {
                contract_id: "c1".into(),
                limit_secs: 10 * 3600,
            },
        })
    }

    #[test]
    fn a_limit_stop_is_told_with_its_reason() {
        let prev = tracking();
        let next = Snapshot {
            last_auto_stop: limit_stop(1),
            ..Snapshot::default()
        };
        let got = alerts(&prev, &next, at("2026-11-25T10:00:00Z"), Tz::UTC, &mut None);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].summary, "Tracking stopped");
        assert!(
            got[0].body.starts_with("Backend: The weekly limit of 10 h"),
            "{}",
            got[0].body
        );
        // A plain Stop by the user is not news.
        let quiet = alerts(
            &prev,
            &Snapshot::default(),
            at("2026-11-25T10:00:00Z"),
            Tz::UTC,
            &mut None,
        );
        assert!(quiet.is_empty());
        // A stop the watcher only sees after the next start (a busy
        // machine) is still told, once.
        let restarted = Snapshot {
            last_auto_stop: limit_stop(1),
            ..tracking()
        };
        assert_eq!(
            alerts(
                &prev,
                &restarted,
                at("2026-11-25T10:00:01Z"),
                Tz::UTC,
                &mut None
            )
            .len(),
            1
        );
        assert!(
            alerts(
                &restarted,
                &restarted,
                at("2026-11-25T10:00:02Z"),
                Tz::UTC,
                &mut None
            )
            .is_empty()
        );
        let again = Snapshot {
            last_auto_stop: limit_stop(2),
            ..Snapshot::default()
        };
        assert_eq!(
            alerts(
                &restarted,
                &again,
                at("2026-11-25T11:00:00Z"),
                Tz::UTC,
                &mut None
            )
            .len(),
            1
        );
    }

    #[test]
    fn lock_risk_is_told_once_per_level() {
        let mut next = Snapshot {
            lock_deadline: Some(at("2026-11-30T00:00:00Z")),
            ..Snapshot::default()
        };
        next.cache.pending_segments = 3;
        let mut told = None;
        let prev = Snapshot::default();
        let day_before = at("2026-11-29T06:00:00Z");
        assert_eq!(
            alerts(&prev, &next, day_before, Tz::UTC, &mut told).len(),
            1
        );
        assert!(alerts(&prev, &next, day_before, Tz::UTC, &mut told).is_empty());
        let hour_before = at("2026-11-29T23:30:00Z");
        let got = alerts(&prev, &next, hour_before, Tz::UTC, &mut told);
        assert_eq!(got.len(), 1);
        assert!(got[0].body.contains("Mon 30 Nov 00:00"), "{}", got[0].body);
    }

    #[test]
    fn idle_return_black_screens_and_back_online_are_told_on_the_change() {
        let prev = Snapshot {
            idle: Some(IdleView {
                since: at("2026-11-25T09:00:00Z"),
                returned: None,
            }),
            sync: SyncStatus {
                state: SyncState::Caching {
                    since: at("2026-11-25T08:00:00Z"),
                    last_error: "offline".into(),
                    next_retry: at("2026-11-25T09:31:00Z"),
                },
                ..SyncStatus::default()
            },
            ..Snapshot::default()
        };
        let mut next = Snapshot {
            idle: Some(IdleView {
                since: at("2026-11-25T09:00:00Z"),
                returned: Some(at("2026-11-25T09:30:00Z")),
            }),
            black_screenshots: true,
            sync: SyncStatus {
                state: SyncState::Uploading { left: 4, total: 4 },
                ..SyncStatus::default()
            },
            ..Snapshot::default()
        };
        next.cache.pending_segments = 4;
        let got = alerts(&prev, &next, at("2026-11-25T09:30:00Z"), Tz::UTC, &mut None);
        let summaries: Vec<_> = got.iter().map(|a| a.summary.as_str()).collect();
        assert_eq!(
            summaries,
            ["Screenshots come out black", "Welcome back", "Back online"]
        );
        assert!(got[1].body.contains("09:00 to 09:30"));
        assert!(
            got[2].body.contains("Uploading 4 segments cached"),
            "{}",
            got[2].body
        );
        assert!(alerts(&next, &next, at("2026-11-25T09:31:00Z"), Tz::UTC, &mut None).is_empty());
    }
}
