//! The tray icon (D8): the state at a glance (stopped, tracking, idle
//! question waiting, at the weekly limit, offline), a tooltip with the
//! contract and today's time, and a menu (Start/Stop, the contracts, Show
//! window, Mini view, Quit).
//!
//! [`view`] turns a snapshot into what the tray shows (pure, unit-tested).
//! One thread watches the worker's snapshots — woken by the same waker
//! that repaints the window, and once a minute for today's time — and
//! hands the platform's tray a new [`TrayView`] only when it differs from
//! the last. Start/Stop and a contract chosen in the menu go straight to
//! the worker (the window may be hidden and draw nothing); Show window,
//! Mini view and Quit go to the window through its [`egui::Context`].
//!
//! Linux: a StatusNotifierItem (`linux.rs`, ksni). Windows: the
//! notification area (`windows.rs`). Elsewhere there is no tray and the
//! window behaves as it always did.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use timecard_client::sync::SyncState;
use timecard_client::worker::{Command, Snapshot, SnapshotCell, StopReason};
use timecard_core::clock::Clock;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(windows)]
mod windows;

/// The state the icon shows, most urgent first when several hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrayState {
    #[default]
    Stopped,
    Tracking,
    /// S5: idle, or back from idle with the keep/discard question waiting.
    Idle,
    /// W2: the current contract's weekly limit is reached.
    AtLimit,
    /// K5: the server does not answer (time is cached) or the cache is full.
    Offline,
}

impl TrayState {
    /// The word for the state, first in the tooltip.
    pub fn word(self) -> &'static str {
        match self {
            TrayState::Stopped => "Stopped",
            TrayState::Tracking => "Tracking",
            TrayState::Idle => "Idle",
            TrayState::AtLimit => "Weekly limit reached",
            TrayState::Offline => "Offline",
        }
    }

    /// The badge's colour (RGB) on the app's icon; `None`: the icon greyed.
    pub fn badge(self) -> Option<[u8; 3]> {
        match self {
            TrayState::Stopped => None,
            TrayState::Tracking => Some([0x2e, 0xa0, 0x43]),
            TrayState::Idle => Some([0xd9, 0x8c, 0x1f]),
            TrayState::AtLimit => Some([0xcc, 0x3d, 0x3d]),
            TrayState::Offline => Some([0x3d, 0x7e, 0xcc]),
        }
    }
}

/// A contract in the tray's menu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MenuContract {
    pub id: String,
    pub title: String,
    /// C4/W2: whether it can be started now.
    pub trackable: bool,
}

/// Everything the tray shows; a new one goes to the tray only when it differs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrayView {
    pub state: TrayState,
    /// The tooltip's first line: "Timecard — Tracking".
    pub title: String,
    /// The tooltip's other lines: the contract, today's time, idle, unsent.
    pub lines: Vec<String>,
    /// The contract Start/Stop acts on: the tracked one, else the one last
    /// chosen, else the first that can be tracked.
    pub current: Option<MenuContract>,
    pub tracking: bool,
    pub contracts: Vec<MenuContract>,
}

impl TrayView {
    /// The Start/Stop item's label, and whether it can be clicked.
    pub fn start_stop(&self) -> (String, bool) {
        match (&self.current, self.tracking) {
            (Some(c), true) => (format!("Stop {}", c.title), true),
            (Some(c), false) => (format!("Start {}", c.title), c.trackable),
            (None, _) => ("Start (no contract)".to_owned(), false),
        }
    }

    /// The tooltip as one text (Windows shows one line per line).
    pub fn tooltip(&self) -> String {
        std::iter::once(self.title.as_str())
            .chain(self.lines.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Hours and minutes, "2:05": the tray changes once a minute, not each second.
fn hours_minutes(secs: i64) -> String {
    let mins = secs.max(0) / 60;
    format!("{}:{:02}", mins / 60, mins % 60)
}

/// What the tray shows for `snapshot` at `now`; `chosen` is the contract
/// last chosen in the window or the tray.
pub fn view(snapshot: &Snapshot, now: DateTime<Utc>, zone: Tz, chosen: Option<&str>) -> TrayView {
    let contracts: Vec<MenuContract> = snapshot
        .contracts
        .iter()
        .map(|c| MenuContract {
            id: c.contract.id.clone(),
            title: c.contract.title.clone(),
            trackable: c.trackable,
        })
        .collect();
    let find = |id: &str| contracts.iter().find(|c| c.id == id).cloned();
    let current = snapshot
        .tracking
        .as_ref()
        .and_then(|t| find(&t.contract_id))
        .or_else(|| chosen.and_then(find))
        .or_else(|| contracts.iter().find(|c| c.trackable).cloned());
    let at_limit = matches!(snapshot.stopped, Some((_, StopReason::WeeklyLimit { .. })))
        && snapshot.tracking.is_none()
        || current
            .as_ref()
            .and_then(|c| snapshot.contract(&c.id))
            .is_some_and(|c| {
                let running = match &snapshot.tracking {
                    Some(t) if t.contract_id == c.contract.id => snapshot.running_secs(now),
                    _ => 0,
                };
                c.limit_secs
                    .is_some_and(|limit| c.week_logged_secs + running >= limit)
            });
    let offline = snapshot.cache.full || matches!(snapshot.sync.state, SyncState::Caching { .. });
    let tracking = snapshot.tracking.is_some();
    let state = if snapshot.idle.is_some() {
        TrayState::Idle
    } else if at_limit {
        TrayState::AtLimit
    } else if offline {
        TrayState::Offline
    } else if tracking {
        TrayState::Tracking
    } else {
        TrayState::Stopped
    };
    let mut lines = Vec::new();
    match (&snapshot.tracking, &current) {
        (Some(t), _) => lines.push(format!("Tracking {}", t.contract_title)),
        (None, Some(c)) => lines.push(format!("Stopped — {}", c.title)),
        (None, None) => lines.push("No contract to track".to_owned()),
    }
    lines.push(format!(
        "Today {}",
        hours_minutes(snapshot.today_total_secs(now))
    ));
    if let Some(idle) = snapshot.idle_line(zone) {
        lines.push(idle);
    }
    if state == TrayState::AtLimit {
        lines.push("The weekly limit is reached".to_owned());
    }
    if offline {
        lines.push(snapshot.sync_summary(now, zone));
    }
    if let Some(unsent) = snapshot.unsent_line() {
        lines.push(unsent);
    }
    TrayView {
        title: format!("Timecard — {}", state.word()),
        state,
        lines,
        current,
        tracking,
        contracts,
    }
}

/// `view` without what changes every second: the offline line's countdown
/// to the next try would otherwise push a new tooltip each second.
fn settled(mut view: TrayView) -> TrayView {
    for line in &mut view.lines {
        if let Some(cut) = line.find(" — next try in ") {
            line.truncate(cut);
        }
    }
    view
}

/// The app's icon, `size` px square, as ARGB32 (network byte order, as
/// StatusNotifierItem wants it), with the state's badge in the lower right
/// corner, or greyed when stopped.
pub fn icon_argb(state: TrayState, size: u32) -> Vec<u8> {
    let rgba = icon_rgba(state, size);
    let mut argb = rgba;
    for px in argb.chunks_exact_mut(4) {
        px.rotate_right(1);
    }
    argb
}

/// As [`icon_argb`], in RGBA order.
pub fn icon_rgba(state: TrayState, size: u32) -> Vec<u8> {
    let mut rgba = base_icon(size);
    let (w, h) = (size as f32, size as f32);
    match state.badge() {
        None => {
            // Stopped: grey, a little faded.
            for px in rgba.chunks_exact_mut(4) {
                let grey = (u32::from(px[0]) * 3 + u32::from(px[1]) * 6 + u32::from(px[2])) / 10;
                let grey = grey as u8;
                px[0] = grey;
                px[1] = grey;
                px[2] = grey;
                px[3] = (u32::from(px[3]) * 3 / 4) as u8;
            }
        }
        Some(colour) => {
            // A dot with a white ring, covering the lower right corner.
            let r = w * 0.26;
            let (cx, cy) = (w - r - 0.5, h - r - 0.5);
            for y in 0..size {
                for x in 0..size {
                    let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                    let d = (dx * dx + dy * dy).sqrt();
                    let px = ((y * size + x) * 4) as usize;
                    let fill = if d <= r * 0.72 {
                        Some(colour)
                    } else if d <= r {
                        Some([0xff, 0xff, 0xff])
                    } else {
                        None
                    };
                    if let Some([cr, cg, cb]) = fill {
                        rgba[px..px + 4].copy_from_slice(&[cr, cg, cb, 0xff]);
                    }
                }
            }
        }
    }
    rgba
}

/// The app's icon scaled to `size` px, RGBA (transparent should the PNG
/// not decode).
fn base_icon(size: u32) -> Vec<u8> {
    const PNG: &[u8] = include_bytes!("../../resources/icons/hicolor/64x64/apps/timecard.png");
    match image::load_from_memory_with_format(PNG, image::ImageFormat::Png) {
        Ok(icon) => icon
            .resize_exact(size, size, image::imageops::FilterType::Triangle)
            .to_rgba8()
            .into_raw(),
        Err(e) => {
            log::warn!("the tray icon does not decode: {e}");
            vec![0; (size * size * 4) as usize]
        }
    }
}

/// What the tray asks of the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrayAction {
    /// A contract was started from the menu: the window's picker follows.
    Chose(String),
    /// Open the mini view.
    MiniView,
}

/// What the tray's thread and the platform's tray share with the window.
pub struct Shared {
    /// The running engine's snapshots (replaced when the engine restarts).
    cell: Mutex<Arc<SnapshotCell>>,
    /// The running engine's commands.
    commands: Mutex<Sender<Command>>,
    /// The contract last chosen in the window or the tray, and the zone.
    chosen: Mutex<(Option<String>, Tz)>,
    /// Bumped to wake the tray's thread (a new snapshot, a new choice).
    poke: (Mutex<u64>, Condvar),
    /// Whether a tray host shows the icon now (D8's detection).
    host: AtomicBool,
    stop: AtomicBool,
    /// The window: shown, raised, closed from the menu.
    ctx: egui::Context,
    actions: Mutex<Sender<TrayAction>>,
}

impl Shared {
    fn poke(&self) {
        let (count, changed) = &self.poke;
        *count.lock().expect("tray poke") += 1;
        changed.notify_all();
    }

    fn send(&self, command: Command) {
        let _ = self.commands.lock().expect("tray commands").send(command);
    }

    fn tell(&self, action: TrayAction) {
        let _ = self.actions.lock().expect("tray actions").send(action);
        self.ctx.request_repaint();
    }

    /// Start/Stop from the menu: stops the tracked contract, else starts
    /// the current one.
    pub fn start_stop(&self, view: &TrayView) {
        match (&view.current, view.tracking) {
            (_, true) => self.send(Command::Stop),
            (Some(c), false) if c.trackable => self.start(&c.id),
            _ => {}
        }
    }

    /// A contract chosen in the menu: it starts (or tracking switches to it).
    pub fn start(&self, id: &str) {
        self.chosen.lock().expect("tray choice").0 = Some(id.to_owned());
        self.send(Command::Start {
            contract_id: id.to_owned(),
        });
        self.tell(TrayAction::Chose(id.to_owned()));
    }

    pub fn show_window(&self) {
        crate::ui::HIDDEN_TO_TRAY.store(false, Ordering::Relaxed);
        crate::ui::bring_forward(&self.ctx);
    }

    pub fn mini_view(&self) {
        self.show_window();
        self.tell(TrayAction::MiniView);
    }

    pub fn quit(&self) {
        crate::ui::quit(&self.ctx);
    }

    /// The host came or went (D8): a window hidden to the tray comes back
    /// when it goes.
    pub fn set_host(&self, present: bool) {
        let was = self.host.swap(present, Ordering::Relaxed);
        if was != present {
            log::info!(
                "tray host {}",
                if present {
                    "present: the icon shows"
                } else {
                    "gone"
                }
            );
        }
        if !present && crate::ui::HIDDEN_TO_TRAY.swap(false, Ordering::Relaxed) {
            log::info!("the tray host went away: showing the window again");
            crate::ui::bring_forward(&self.ctx);
        }
    }
}

/// The window's tray (one a process), for [`poke`].
static CURRENT: Mutex<std::sync::Weak<Shared>> = Mutex::new(std::sync::Weak::new());

/// Wakes the tray's thread to look at the latest snapshot: the worker
/// published a change (called by the snapshot cell's waker).
pub fn poke() {
    let current = CURRENT.lock().expect("tray").upgrade();
    if let Some(shared) = current {
        shared.poke();
    }
}

/// The platform's tray: takes each new view.
trait Backend: Send {
    fn show(&mut self, view: &TrayView);
    fn shutdown(&mut self);
}

/// The tray icon while the window lives.
pub struct Tray {
    shared: Arc<Shared>,
    actions: Receiver<TrayAction>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Tray {
    /// Puts the icon up and starts following `cell`; `None` where this
    /// platform has no tray or the tray cannot start (logged: the window
    /// goes on without it).
    pub fn start(
        ctx: &egui::Context,
        cell: Arc<SnapshotCell>,
        commands: Sender<Command>,
        clock: Arc<dyn Clock>,
        zone: Tz,
    ) -> Option<Tray> {
        let (tx, actions) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared {
            cell: Mutex::new(cell),
            commands: Mutex::new(commands),
            chosen: Mutex::new((None, zone)),
            poke: (Mutex::new(0), Condvar::new()),
            host: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            ctx: ctx.clone(),
            actions: Mutex::new(tx),
        });
        let first = settled(view(
            &shared.cell.lock().expect("tray cell").latest(),
            clock.now(),
            zone,
            None,
        ));
        let backend = start_backend(shared.clone(), first.clone())?;
        *CURRENT.lock().expect("tray") = Arc::downgrade(&shared);
        let watching = shared.clone();
        let thread = std::thread::Builder::new()
            .name("timecard-tray".into())
            .spawn(move || watch(watching, backend, first, clock))
            .map_err(|e| log::warn!("no tray icon: cannot start its thread: {e}"))
            .ok()?;
        Some(Tray {
            shared,
            actions,
            thread: Some(thread),
        })
    }

    /// Follows a new engine's snapshots and commands (after a restart).
    pub fn follow(&self, cell: Arc<SnapshotCell>, commands: Sender<Command>) {
        *self.shared.cell.lock().expect("tray cell") = cell;
        *self.shared.commands.lock().expect("tray commands") = commands;
        self.shared.poke();
    }

    /// The window's choice of contract and zone, for Start/Stop and times.
    pub fn choose(&self, selected: Option<&str>, zone: Tz) {
        let mut chosen = self.shared.chosen.lock().expect("tray choice");
        if chosen.0.as_deref() != selected || chosen.1 != zone {
            *chosen = (selected.map(str::to_owned), zone);
            drop(chosen);
            self.shared.poke();
        }
    }

    /// Whether a tray host shows the icon now.
    pub fn host_present(&self) -> bool {
        self.shared.host.load(Ordering::Relaxed)
    }

    /// What the menu asked of the window since the last frame.
    pub fn actions(&self) -> Vec<TrayAction> {
        self.actions.try_iter().collect()
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.poke();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The tray's thread: a new view to the backend when it changed; removes
/// the icon when the window goes.
fn watch(
    shared: Arc<Shared>,
    mut backend: Box<dyn Backend>,
    mut last: TrayView,
    clock: Arc<dyn Clock>,
) {
    let mut seen = 0;
    loop {
        {
            let (count, changed) = &shared.poke;
            let count = count.lock().expect("tray poke");
            // Today's time is shown to the minute: one look a minute at most
            // when nothing else happens.
            let (count, _) = changed
                .wait_timeout_while(count, Duration::from_secs(60), |n| {
                    *n == seen && !shared.stop.load(Ordering::Relaxed)
                })
                .expect("tray poke");
            seen = *count;
        }
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let snapshot = shared.cell.lock().expect("tray cell").latest();
        let (chosen, zone) = shared.chosen.lock().expect("tray choice").clone();
        let next = settled(view(&snapshot, clock.now(), zone, chosen.as_deref()));
        if next != last {
            log::debug!("tray: {}", next.title);
            backend.show(&next);
            last = next;
        }
    }
    backend.shutdown();
}

#[cfg(target_os = "linux")]
fn start_backend(shared: Arc<Shared>, first: TrayView) -> Option<Box<dyn Backend>> {
    linux::start(shared, first).map(|b| Box::new(b) as Box<dyn Backend>)
}

#[cfg(windows)]
fn start_backend(shared: Arc<Shared>, first: TrayView) -> Option<Box<dyn Backend>> {
    windows::start(shared, first).map(|b| Box::new(b) as Box<dyn Backend>)
}

#[cfg(not(any(target_os = "linux", windows)))]
fn start_backend(_shared: Arc<Shared>, _first: TrayView) -> Option<Box<dyn Backend>> {
    log::info!("no tray icon on this platform");
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use timecard_client::worker::{ContractView, IdleView, TrackingView};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn contract(id: &str, title: &str, limit: Option<i64>, logged: i64) -> ContractView {
        let c: timecard_core::domain::Contract = serde_json::from_value(serde_json::json!({
            "id": id, "title": title, "kind": "hourly", "status": "active",
            "start_date": "2026-01-01"
        }))
        .unwrap_or_else(|e| panic!("contract fixture: {e}"));
        let mut view = ContractView::new(
            &c,
            at("2026-11-25T00:00:00Z"),
            Default::default(),
            &Tz::UTC,
            logged,
            Vec::new(),
        );
        view.trackable = true;
        view.limit_secs = limit;
        view
    }

    fn two_contracts() -> Snapshot {
        Snapshot {
            contracts: vec![
                contract("c1", "Backend", None, 0),
                contract("c2", "Design", Some(3600), 1800),
            ],
            today_secs: [("c1".to_owned(), 3 * 3600 + 5 * 60)].into(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn stopped_then_tracking_with_todays_time_to_the_minute() {
        let now = at("2026-11-25T10:00:00Z");
        let stopped = view(&two_contracts(), now, Tz::UTC, None);
        assert_eq!(stopped.state, TrayState::Stopped);
        assert_eq!(stopped.title, "Timecard — Stopped");
        assert_eq!(stopped.lines[..2], ["Stopped — Backend", "Today 3:05"]);
        assert_eq!(stopped.start_stop(), ("Start Backend".to_owned(), true));
        // The window's choice is the current contract.
        let design = view(&two_contracts(), now, Tz::UTC, Some("c2"));
        assert_eq!(design.start_stop().0, "Start Design");
        let tracking = Snapshot {
            tracking: Some(TrackingView {
                contract_id: "c1".into(),
                contract_title: "Backend".into(),
                memo: String::new(),
                started_at: at("2026-11-25T09:58:00Z"),
                segment_start: at("2026-11-25T09:58:00Z"),
                ..tracking_defaults()
            }),
            ..two_contracts()
        };
        let t = view(&tracking, now, Tz::UTC, Some("c2"));
        assert_eq!(t.state, TrayState::Tracking);
        assert_eq!(t.lines[..2], ["Tracking Backend", "Today 3:07"]);
        assert_eq!(t.start_stop(), ("Stop Backend".to_owned(), true));
        // Seconds later the view is the same: nothing is pushed.
        assert_eq!(
            view(&tracking, at("2026-11-25T10:00:30Z"), Tz::UTC, None),
            t
        );
    }

    fn tracking_defaults() -> TrackingView {
        TrackingView {
            contract_id: String::new(),
            contract_title: String::new(),
            memo: String::new(),
            started_at: at("2026-11-25T00:00:00Z"),
            segment_start: at("2026-11-25T00:00:00Z"),
            logged_secs: 0,
        }
    }

    #[test]
    fn idle_limit_and_offline_show_in_that_order() {
        let now = at("2026-11-25T15:40:00Z");
        let mut s = Snapshot {
            tracking: Some(TrackingView {
                contract_id: "c2".into(),
                contract_title: "Design".into(),
                segment_start: at("2026-11-25T15:00:00Z"),
                ..tracking_defaults()
            }),
            sync: timecard_client::sync::SyncStatus {
                state: SyncState::Caching {
                    since: at("2026-11-25T15:00:00Z"),
                    last_error: "no answer".into(),
                    next_retry: at("2026-11-25T15:40:07Z"),
                },
                ..Default::default()
            },
            ..two_contracts()
        };
        // 1800 s logged + 2400 s running is past Design's hour.
        assert_eq!(view(&s, now, Tz::UTC, None).state, TrayState::AtLimit);
        s.idle = Some(IdleView {
            since: at("2026-11-25T15:31:00Z"),
            returned: None,
        });
        let idle = view(&s, now, Tz::UTC, None);
        assert_eq!(idle.state, TrayState::Idle);
        assert!(
            idle.lines.contains(&"Idle since 15:31".to_owned()),
            "{idle:?}"
        );
        s.idle = None;
        s.contracts[1].limit_secs = None;
        let offline = settled(view(&s, now, Tz::UTC, None));
        assert_eq!(offline.state, TrayState::Offline);
        assert!(
            offline
                .lines
                .iter()
                .any(|l| l == "Offline since 15:00 — no answer"),
            "{offline:?}"
        );
        // The countdown does not make a new view each second.
        assert_eq!(
            settled(view(&s, at("2026-11-25T15:40:01Z"), Tz::UTC, None)),
            offline
        );
    }

    #[test]
    fn each_state_has_its_own_icon() {
        let states = [
            TrayState::Stopped,
            TrayState::Tracking,
            TrayState::Idle,
            TrayState::AtLimit,
            TrayState::Offline,
        ];
        let icons: Vec<Vec<u8>> = states.iter().map(|s| icon_argb(*s, 32)).collect();
        for (i, a) in icons.iter().enumerate() {
            assert_eq!(a.len(), 32 * 32 * 4);
            for b in &icons[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // ARGB: the tracking badge's middle is opaque green.
        let px = ((32 - 9) * 32 + (32 - 9)) * 4;
        assert_eq!(icons[1][px..px + 4], [0xff, 0x2e, 0xa0, 0x43]);
    }
}
