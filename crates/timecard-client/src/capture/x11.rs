//! Screenshots from an X11 server with `x11rb` (pure Rust). The root window
//! spans every RandR monitor, so one image of it is all monitors in one
//! picture.
//!
//! Where the server offers MIT-SHM, the pixels come through shared memory
//! made with `memfd_create` and handed over with `ShmAttachFd`: an anonymous
//! file that only this process and the X server hold, that no other user can
//! open, and that is gone when both let go (unlike a SysV segment). Without
//! MIT-SHM (a remote display), plain `GetImage` over the socket is used.
//!
//! A black frame (P2) is checked against the root window's own pixels, read
//! again with plain `GetImage` in a few rows across the screen: black there
//! too, and outside a Wayland session, the desktop really is black and the
//! picture is stored; otherwise the capture failed and is reported so.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, Window};
use x11rb::rust_connection::RustConnection;

use super::frame::{Frame, FrameRef, MAYBE_BLOCKED};
use super::shm::SharedMemory;
use super::{CaptureError, Captured, ScreenSource};

/// An X11 screen, connected on first use and again after a failure.
pub struct X11Screen {
    display: Option<String>,
    connection: Option<(RustConnection, Window)>,
    /// `None` until tried; `Some(None)` when MIT-SHM is unavailable.
    shm: Option<Option<ShmBuffer>>,
    pub quality: u8,
    pub max_side: u32,
    /// Whether the root window shows the whole screen: not under XWayland,
    /// whose root is black where Wayland windows are (P2).
    root_is_the_screen: bool,
}

impl X11Screen {
    /// `display` as in `DISPLAY` (`None`: the environment's).
    pub fn new(display: Option<String>, quality: u8, max_side: u32) -> Self {
        X11Screen {
            display,
            connection: None,
            shm: None,
            quality,
            max_side,
            root_is_the_screen: std::env::var_os("WAYLAND_DISPLAY").is_none_or(|d| d.is_empty()),
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

    /// The RandR monitors the root window spans, as (x, y, width, height):
    /// all of them, as `xrandr --listmonitors` shows.
    pub fn monitors(&mut self) -> Result<Vec<(i16, i16, u16, u16)>, CaptureError> {
        use x11rb::protocol::randr::ConnectionExt as _;
        let (conn, root) = self.connect()?;
        let failed = |e: &dyn std::fmt::Display| CaptureError::Failed(format!("RandR: {e}"));
        let reply = conn
            .randr_get_monitors(*root, false)
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
            self.shm = None;
        }
        result
    }

    /// The whole screen at full size as a JPEG, with its size and whether it
    /// came out black (`timecard capture`).
    pub fn jpeg_full(&mut self, quality: u8) -> Result<(u32, u32, bool, Vec<u8>), CaptureError> {
        let trust = self.root_is_the_screen;
        let encode = |f: FrameRef<'_>, root: RootCheck<'_>| {
            // P2: black only when the screen is not black itself.
            let black = f.is_black() && !(trust && root.is_black(f.width, f.height)?);
            f.jpeg(quality).map(|jpeg| (f.width, f.height, black, jpeg))
        };
        if let Some(result) = self.with_shm_frame(encode) {
            return result;
        }
        let frame = self.grab()?;
        let (conn, root) = self.connect()?;
        encode(frame.as_ref(), RootCheck { conn, root: *root })
    }

    /// Encodes `frame` as a screenshot of this screen (P2): a black frame
    /// is stored when the root window's own pixels are black too (the
    /// desktop really is black), and refused as a failed capture when they
    /// are not, or when this is XWayland and the root cannot tell.
    pub fn judge(&mut self, frame: &Frame) -> Result<Captured, CaptureError> {
        let (quality, max_side, trust) = (self.quality, self.max_side, self.root_is_the_screen);
        let (conn, root) = self.connect()?;
        judged(
            frame.as_ref(),
            RootCheck { conn, root: *root },
            trust,
            quality,
            max_side,
        )
    }

    /// Whether the last grabs went through shared memory.
    pub fn uses_shared_memory(&self) -> bool {
        matches!(self.shm, Some(Some(_)))
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
        let expected = width as usize * height as usize * 4;
        if let Some(frame) = self.grab_shm(width, height, expected) {
            return Ok(frame);
        }
        let (conn, root) = self.connect()?;
        let image = conn
            .get_image(ImageFormat::Z_PIXMAP, *root, 0, 0, width, height, !0)
            .map_err(|e| failed(&e))?
            .reply()
            .map_err(|e| failed(&e))?;
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
        let (quality, max_side, trust) = (self.quality, self.max_side, self.root_is_the_screen);
        // Through shared memory, the pixels are encoded where the X server
        // wrote them: no copy of the screen is made.
        if let Some(result) =
            self.with_shm_frame(|frame, root| judged(frame, root, trust, quality, max_side))
        {
            return result.map(Some);
        }
        let frame = self.grab()?;
        self.judge(&frame).map(Some)
    }
}

/// The root window, to read its own pixels again (P2).
#[derive(Clone, Copy)]
struct RootCheck<'a> {
    conn: &'a RustConnection,
    root: Window,
}

/// Rows of the root window read to tell a black desktop from a failed
/// capture.
const SAMPLE_ROWS: u16 = 16;

impl RootCheck<'_> {
    /// Whether the root window of `width`×`height` is black in
    /// [`SAMPLE_ROWS`] rows spread over it, read with plain `GetImage`.
    fn is_black(&self, width: u32, height: u32) -> Result<bool, CaptureError> {
        let failed = |e: &dyn std::fmt::Display| CaptureError::Failed(format!("X11: {e}"));
        let (width, height) = (width as u16, height as u16);
        let rows = SAMPLE_ROWS.min(height);
        let mut bgrx = Vec::with_capacity(usize::from(width) * usize::from(rows) * 4);
        for i in 0..rows {
            let y = (u32::from(height) * (2 * u32::from(i) + 1) / (2 * u32::from(rows))) as i16;
            let image = self
                .conn
                .get_image(ImageFormat::Z_PIXMAP, self.root, 0, y, width, 1, !0)
                .map_err(|e| failed(&e))?
                .reply()
                .map_err(|e| failed(&e))?;
            let row = usize::from(width) * 4;
            if image.data.len() < row {
                return Ok(false);
            }
            bgrx.extend_from_slice(&image.data[..row]);
        }
        Ok(FrameRef {
            width: width.into(),
            height: rows.into(),
            bgrx: &bgrx,
        }
        .is_black())
    }
}

/// P2 on X11: `frame` encoded, unless it is black while the screen is not.
fn judged(
    frame: FrameRef<'_>,
    root: RootCheck<'_>,
    root_is_the_screen: bool,
    quality: u8,
    max_side: u32,
) -> Result<Captured, CaptureError> {
    if !frame.is_black() {
        return frame.encode_as_is(quality, max_side);
    }
    if !root_is_the_screen {
        return Err(CaptureError::Black(MAYBE_BLOCKED.into()));
    }
    if root.is_black(frame.width, frame.height)? {
        // The desktop itself is black: that is the picture.
        return frame.encode_as_is(quality, max_side);
    }
    Err(CaptureError::Black(
        "the picture is black although the screen is not: the capture failed (a compositor or a security tool may block it)".into(),
    ))
}

impl X11Screen {
    /// Grabs through shared memory and hands the pixels to `f` in place
    /// (with the root window, to read it again); `None` when shared memory
    /// cannot be used.
    fn with_shm_frame<R>(&mut self, f: impl FnOnce(FrameRef<'_>, RootCheck<'_>) -> R) -> Option<R> {
        let (conn, root) = self.connect().ok()?;
        let geometry = conn.get_geometry(*root).ok()?.reply().ok()?;
        let (width, height) = (geometry.width, geometry.height);
        let len = width as usize * height as usize * 4;
        self.shm_get(width, height, len)?;
        let Some(Some(buffer)) = &self.shm else {
            return None;
        };
        let (conn, root) = self.connection.as_ref()?;
        let result = f(
            FrameRef {
                width: width.into(),
                height: height.into(),
                bgrx: buffer.bytes(),
            },
            RootCheck { conn, root: *root },
        );
        buffer.memory.release();
        Some(result)
    }

    /// Grabs through shared memory into a new frame; `None` means "use
    /// GetImage" (never an error of its own).
    fn grab_shm(&mut self, width: u16, height: u16, len: usize) -> Option<Frame> {
        self.shm_get(width, height, len)?;
        let Some(Some(buffer)) = &self.shm else {
            return None;
        };
        let frame = Frame {
            width: width.into(),
            height: height.into(),
            bgrx: buffer.bytes().to_vec(),
        };
        buffer.memory.release();
        Some(frame)
    }

    /// Has the X server write the root window into the shared buffer.
    fn shm_get(&mut self, width: u16, height: u16, len: usize) -> Option<()> {
        use x11rb::protocol::shm::ConnectionExt as _;
        let (conn, root) = self.connection.as_ref()?;
        let root = *root;
        if self.shm.is_none() {
            let supported = conn
                .shm_query_version()
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some();
            self.shm = Some(None);
            if !supported {
                return None;
            }
        }
        let needs_new = !matches!(&self.shm, Some(Some(b)) if b.memory.len() == len);
        if needs_new {
            if let Some(Some(old)) = &self.shm {
                let _ = conn.shm_detach(old.seg);
            }
            self.shm = Some(ShmBuffer::new(conn, len));
        }
        let Some(Some(buffer)) = &self.shm else {
            return None;
        };
        let reply = conn
            .shm_get_image(
                root,
                0,
                0,
                width,
                height,
                !0,
                ImageFormat::Z_PIXMAP.into(),
                buffer.seg,
                0,
            )
            .ok()?
            .reply()
            .ok()?;
        if reply.size as usize != len {
            self.shm = Some(None);
            return None;
        }
        Some(())
    }
}

/// Shared memory attached to the X server as an MIT-SHM segment.
struct ShmBuffer {
    seg: u32,
    memory: SharedMemory,
}

impl ShmBuffer {
    fn new(conn: &RustConnection, len: usize) -> Option<ShmBuffer> {
        use x11rb::protocol::shm::ConnectionExt as _;
        let memory = SharedMemory::new(len).ok()?;
        // The X server keeps its own reference to the memfd (a duplicate of
        // ours); the mapping keeps the memory for us.
        let fd = memory.fd().try_clone_to_owned().ok()?;
        let seg = conn.generate_id().ok()?;
        conn.shm_attach_fd(seg, fd, false).ok()?.check().ok()?;
        Some(ShmBuffer { seg, memory })
    }

    fn bytes(&self) -> &[u8] {
        self.memory.bytes()
    }
}
