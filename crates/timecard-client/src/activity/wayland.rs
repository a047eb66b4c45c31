//! Activity on Wayland through the compositor's idle notifications:
//! `ext_idle_notifier_v1` (Sway 1.8+, Hyprland, river, KDE) or, where only
//! that exists, KDE's `org_kde_kwin_idle` (Sway 1.7, older wlroots). A
//! notification with a one-second timeout says when input stops (`idled`)
//! and when it starts again (`resumed`). No input is ever seen, only that
//! there was some.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use wayland_client::protocol::{wl_registry, wl_seat};
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::ext::idle_notify::v1::client::{
    ext_idle_notification_v1, ext_idle_notifier_v1,
};
use wayland_protocols_plasma::idle::client::{org_kde_kwin_idle, org_kde_kwin_idle_timeout};

use super::ActivitySource;

/// Input stopped this long before the compositor says `idled`.
const TIMEOUT_MS: u32 = 1000;

/// The last input, as the compositor's idle notifications tell it.
pub struct WaylandIdle {
    socket: Option<PathBuf>,
    session: Option<Session>,
}

/// A thread of its own waits for the compositor's events, so that each is
/// timed when it comes, not when the tracker next asks.
struct Session {
    state: Arc<Mutex<State>>,
}

/// The notification object, of whichever protocol the compositor has.
#[allow(dead_code)]
enum Notification {
    Ext(ext_idle_notification_v1::ExtIdleNotificationV1),
    Kde(org_kde_kwin_idle_timeout::OrgKdeKwinIdleTimeout),
}

struct Listener {
    state: Arc<Mutex<State>>,
}

struct State {
    /// The connection ended: connect again.
    gone: bool,
    /// When the notification was asked for.
    created: DateTime<Utc>,
    /// Input is going on (resumed, not idled since).
    active: bool,
    /// The last input known: when input last resumed, or when it stopped.
    last_input: Option<DateTime<Utc>>,
}

impl WaylandIdle {
    /// On the session's display (`WAYLAND_DISPLAY`), or on the socket at
    /// `socket`.
    pub fn new(socket: Option<PathBuf>) -> WaylandIdle {
        WaylandIdle {
            socket,
            session: None,
        }
    }

    /// Whether the session's compositor offers idle notifications (a look
    /// at its globals; nothing is kept).
    pub fn available() -> bool {
        let Ok(conn) = Connection::connect_to_env() else {
            return false;
        };
        let Ok((globals, _queue)) = wayland_client::globals::registry_queue_init::<Listener>(&conn)
        else {
            return false;
        };
        globals.contents().with_list(|list| {
            list.iter().any(|g| {
                g.interface == "ext_idle_notifier_v1" || g.interface == "org_kde_kwin_idle"
            })
        })
    }
}

impl ActivitySource for WaylandIdle {
    fn last_input(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.session.as_ref().is_none_or(|s| lock(&s.state).gone) {
            self.session = Session::connect(self.socket.clone()).ok();
        }
        let state = lock(&self.session.as_ref()?.state);
        if state.active {
            // Input within the last second (else `idled` would have come).
            Some(now.max(state.last_input.unwrap_or(now)))
        } else {
            state.last_input
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    fn connect(socket: Option<PathBuf>) -> Result<Session, String> {
        let conn = crate::wayland_support::connect(socket)?;
        let (globals, mut queue) = wayland_client::globals::registry_queue_init::<Listener>(&conn)
            .map_err(|e| e.to_string())?;
        let qh = queue.handle();
        let seat = globals
            .bind::<wl_seat::WlSeat, _, _>(&qh, 1..=1, ())
            .map_err(|_| "the compositor has no seat".to_owned())?;
        let notification =
            match globals.bind::<ext_idle_notifier_v1::ExtIdleNotifierV1, _, _>(&qh, 1..=1, ()) {
                Ok(notifier) => {
                    Notification::Ext(notifier.get_idle_notification(TIMEOUT_MS, &seat, &qh, ()))
                }
                Err(_) => {
                    let kde = globals
                        .bind::<org_kde_kwin_idle::OrgKdeKwinIdle, _, _>(&qh, 1..=1, ())
                        .map_err(|_| {
                            "the compositor has neither ext-idle-notify nor org_kde_kwin_idle"
                                .to_owned()
                        })?;
                    Notification::Kde(kde.get_idle_timeout(&seat, TIMEOUT_MS, &qh, ()))
                }
            };
        let state = Arc::new(Mutex::new(State {
            gone: false,
            created: Utc::now(),
            active: false,
            last_input: None,
        }));
        let mut listener = Listener {
            state: state.clone(),
        };
        queue.roundtrip(&mut listener).map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("timecard-idle".into())
            .spawn(move || {
                let _notification = notification;
                while queue.blocking_dispatch(&mut listener).is_ok() {}
                lock(&listener.state).gone = true;
            })
            .map_err(|e| e.to_string())?;
        Ok(Session { state })
    }
}

impl Dispatch<ext_idle_notification_v1::ExtIdleNotificationV1, ()> for Listener {
    fn event(
        state: &mut Self,
        _: &ext_idle_notification_v1::ExtIdleNotificationV1,
        event: ext_idle_notification_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            ext_idle_notification_v1::Event::Resumed => lock(&state.state).resumed(),
            ext_idle_notification_v1::Event::Idled => lock(&state.state).idled(),
            _ => {}
        }
    }
}

impl Dispatch<org_kde_kwin_idle_timeout::OrgKdeKwinIdleTimeout, ()> for Listener {
    fn event(
        state: &mut Self,
        _: &org_kde_kwin_idle_timeout::OrgKdeKwinIdleTimeout,
        event: org_kde_kwin_idle_timeout::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            org_kde_kwin_idle_timeout::Event::Resumed => lock(&state.state).resumed(),
            org_kde_kwin_idle_timeout::Event::Idle => lock(&state.state).idled(),
            _ => {}
        }
    }
}

impl State {
    fn resumed(&mut self) {
        self.active = true;
        self.last_input = Some(Utc::now());
    }

    fn idled(&mut self) {
        // Input stopped a timeout ago. The first `idled` comes a timeout
        // after the notification was made when there was no input at all
        // since: then the last input was before that (its moment unknown),
        // which is said as a moment safely before the notification, so that
        // idle time counts from the start of tracking and no sub-slot after
        // it is marked active.
        let stopped = Utc::now() - Duration::milliseconds(i64::from(TIMEOUT_MS));
        if self.active || stopped - self.created > Duration::milliseconds(100) {
            self.last_input = Some(stopped);
        } else if self.last_input.is_none() {
            self.last_input =
                Some(self.created - Duration::milliseconds(2 * i64::from(TIMEOUT_MS)));
        }
        self.active = false;
    }
}

crate::wayland_support::ignore_events!(Listener:
    wl_registry::WlRegistry => wayland_client::globals::GlobalListContents,
    org_kde_kwin_idle::OrgKdeKwinIdle => (),
    ext_idle_notifier_v1::ExtIdleNotifierV1 => (),
    wl_seat::WlSeat => (),
);
