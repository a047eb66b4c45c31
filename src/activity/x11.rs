//! Activity from the X server's idle counter (MIT-SCREEN-SAVER
//! `ms_since_user_input`): how long since the last key or mouse input,
//! never which key. One cheap round trip per sample.

use chrono::{DateTime, Utc};
use x11rb::connection::Connection;
use x11rb::protocol::screensaver::ConnectionExt as _;
use x11rb::protocol::xproto::Window;
use x11rb::rust_connection::RustConnection;

use super::ActivitySource;

/// Seconds since the last input on an X11 display, connecting on first use.
pub struct X11Activity {
    display: Option<String>,
    connection: Option<(RustConnection, Window)>,
}

impl X11Activity {
    pub fn new(display: Option<String>) -> Self {
        X11Activity {
            display,
            connection: None,
        }
    }

    /// Milliseconds since the last input, or `None` without a display or
    /// the MIT-SCREEN-SAVER extension.
    pub fn idle_ms(&mut self) -> Option<u32> {
        if self.connection.is_none() {
            let name = self
                .display
                .clone()
                .or_else(|| std::env::var("DISPLAY").ok())?;
            let (conn, screen) = x11rb::connect(Some(&name)).ok()?;
            let root = conn.setup().roots[screen].root;
            self.connection = Some((conn, root));
        }
        let (conn, root) = self.connection.as_ref()?;
        match conn
            .screensaver_query_info(*root)
            .ok()
            .and_then(|c| c.reply().ok())
        {
            Some(info) => Some(info.ms_since_user_input),
            None => {
                self.connection = None;
                None
            }
        }
    }
}

impl ActivitySource for X11Activity {
    /// Measured against the wall clock to the millisecond: the X server's
    /// counter is real time whatever clock the caller runs on.
    fn last_input(&mut self, _now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let ms = self.idle_ms()?;
        Some(Utc::now() - chrono::Duration::milliseconds(ms.into()))
    }
}
