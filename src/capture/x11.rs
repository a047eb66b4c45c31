//! Screenshots from an X11 server with `x11rb` (pure Rust). The root window
//! spans every RandR monitor, so one `GetImage` of it is all monitors in one
//! picture. Plain `GetImage` over the socket: no shared memory that another
//! user could read or that would outlive the process.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, Window};
use x11rb::rust_connection::RustConnection;

use super::frame::Frame;
use super::{CaptureError, Captured, ScreenSource};

/// An X11 screen, connected on first use and again after a failure.
pub struct X11Screen {
    display: Option<String>,
    connection: Option<(RustConnection, Window)>,
    pub quality: u8,
    pub max_side: u32,
}

impl X11Screen {
    /// `display` as in `DISPLAY` (`None`: the environment's).
    pub fn new(display: Option<String>, quality: u8, max_side: u32) -> Self {
        X11Screen {
            display,
            connection: None,
            quality,
            max_side,
        }
    }

    fn connect(&mut self) -> Result<&(RustConnection, Window), CaptureError> {
        if self.connection.is_none() {
            let name = self
                .display
                .clone()
                .or_else(|| std::env::var("DISPLAY").ok());
            let Some(name) = name.filter(|n| !n.is_empty()) else {
                return Err(CaptureError::NoDisplay(
                    "DISPLAY is not set: no X11 session to capture".into(),
                ));
            };
            let (conn, screen) = x11rb::connect(Some(&name)).map_err(|e| {
                CaptureError::NoDisplay(format!("cannot connect to the X server {name}: {e}"))
            })?;
            let root = conn.setup().roots[screen].root;
            self.connection = Some((conn, root));
        }
        Ok(self.connection.as_ref().expect("connected"))
    }

    /// The RandR monitors the root window spans, as (x, y, width, height).
    pub fn monitors(&mut self) -> Result<Vec<(i16, i16, u16, u16)>, CaptureError> {
        use x11rb::protocol::randr::ConnectionExt as _;
        let (conn, root) = self.connect()?;
        let failed = |e: &dyn std::fmt::Display| CaptureError::Failed(format!("RandR: {e}"));
        let reply = conn
            .randr_get_monitors(*root, true)
            .map_err(|e| failed(&e))?
            .reply()
            .map_err(|e| failed(&e))?;
        Ok(reply
            .monitors
            .iter()
            .map(|m| (m.x, m.y, m.width, m.height))
            .collect())
    }

    /// Grabs the whole root window (all monitors).
    pub fn grab(&mut self) -> Result<Frame, CaptureError> {
        let result = self.grab_once();
        if result.is_err() {
            // Reconnect next time (the X server may have restarted).
            self.connection = None;
        }
        result
    }

    fn grab_once(&mut self) -> Result<Frame, CaptureError> {
        let (conn, root) = self.connect()?;
        let failed = |e: &dyn std::fmt::Display| CaptureError::Failed(format!("X11: {e}"));
        let geometry = conn
            .get_geometry(*root)
            .map_err(|e| failed(&e))?
            .reply()
            .map_err(|e| failed(&e))?;
        let (width, height) = (geometry.width, geometry.height);
        let image = conn
            .get_image(ImageFormat::Z_PIXMAP, *root, 0, 0, width, height, !0)
            .map_err(|e| failed(&e))?
            .reply()
            .map_err(|e| failed(&e))?;
        let expected = width as usize * height as usize * 4;
        if image.data.len() < expected {
            return Err(CaptureError::Failed(format!(
                "the X server sent {} bytes for a {width}×{height} screen at depth {}; only 24/32-bit colour is supported",
                image.data.len(),
                image.depth
            )));
        }
        let mut bgrx = image.data;
        bgrx.truncate(expected);
        Ok(Frame {
            width: width.into(),
            height: height.into(),
            bgrx,
        })
    }
}

impl ScreenSource for X11Screen {
    fn capture(&mut self) -> Result<Option<Captured>, CaptureError> {
        let frame = self.grab()?;
        frame.encode(self.quality, self.max_side).map(Some)
    }
}
