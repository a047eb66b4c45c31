//! Screenshots (P1, P2). The tracker asks a [`ScreenSource`] for one picture
//! per segment; platform back-ends implement it: X11 ([`x11::X11Screen`])
//! now; a Wayland source would ask the desktop portal (`ashpd`'s Screenshot
//! request) and hand back the same [`Captured`], as would macOS and Windows
//! sources. This module owns the trait, the frame processing (black-frame
//! check, downscaling, JPEG, thumbnail) and the null source; it does not
//! decide when to capture — the tracker does.

pub mod frame;
pub mod x11;

use thiserror::Error;

/// One captured screen, already encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    pub jpeg: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Why no screenshot could be taken, in words for the user.
#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("no display to capture ({0})")]
    NoDisplay(String),
    #[error("the screen came out black: {0}")]
    Black(String),
    #[error("screen capture failed: {0}")]
    Failed(String),
}

/// A source of screenshots.
pub trait ScreenSource: Send {
    /// Captures the screen now. `Ok(None)` means screenshots are off by
    /// design (no note is recorded); an error is recorded on the segment as
    /// "capture unavailable" with its reason, and tracking goes on.
    fn capture(&mut self) -> Result<Option<Captured>, CaptureError>;
}

/// Takes no screenshots.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoScreenshots;

impl ScreenSource for NoScreenshots {
    fn capture(&mut self) -> Result<Option<Captured>, CaptureError> {
        Ok(None)
    }
}

/// The screenshot source for this system: X11 (where there is no X11
/// display, each capture says so and tracking goes on without pictures).
pub fn default_source(settings: &crate::settings::Settings) -> Box<dyn ScreenSource> {
    Box::new(x11::X11Screen::new(
        None,
        settings.screenshot_quality,
        settings.screenshot_max_side,
    ))
}
