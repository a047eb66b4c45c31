//! Screenshots (P1, P2). The tracker asks a [`ScreenSource`] for one picture
//! per segment; platform back-ends implement it: wlr-screencopy on wlroots
//! Wayland compositors ([`screencopy::WlrScreencopy`]) and X11
//! ([`x11::X11Screen`]) on Linux, GDI on Windows (`gdi::GdiScreen`),
//! chosen at run time by [`choose`]. This module owns the trait, the frame processing (black-frame
//! check, downscaling, JPEG, thumbnail) and the null source; it does not
//! decide when to capture — the tracker does.

pub mod frame;
#[cfg(windows)]
pub mod gdi;
#[cfg(target_os = "linux")]
pub mod portal;
#[cfg(target_os = "linux")]
pub mod screencopy;
#[cfg(target_os = "linux")]
mod shm;
#[cfg(target_os = "linux")]
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

/// Which screenshot source to use (`timecard capture --source`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SourceChoice {
    /// What the session offers: wlr-screencopy in a Wayland session whose
    /// compositor has it, else X11.
    #[default]
    Auto,
    Portal,
    Screencopy,
    X11,
    /// Windows: the virtual screen through GDI.
    Gdi,
}

impl std::str::FromStr for SourceChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(SourceChoice::Auto),
            "portal" => Ok(SourceChoice::Portal),
            "screencopy" => Ok(SourceChoice::Screencopy),
            "x11" => Ok(SourceChoice::X11),
            "gdi" => Ok(SourceChoice::Gdi),
            other => Err(format!(
                "{other:?}: give auto, or portal, screencopy or x11 (Linux), or gdi (Windows)"
            )),
        }
    }
}

/// The source chosen, and why, in words for Settings and the log.
pub struct Chosen {
    /// Which it is; `None` when there is none.
    pub kind: Option<SourceChoice>,
    pub source: Box<dyn ScreenSource>,
    pub name: &'static str,
    pub why: String,
}

impl Chosen {
    /// No source: every capture fails with `why` (recorded on the segment
    /// as "capture unavailable").
    fn none(why: String) -> Chosen {
        Chosen {
            source: Box::new(Unavailable(why.clone())),
            kind: None,
            name: "none",
            why,
        }
    }
}

/// Takes no screenshots, saying why on each try (recorded on the segment
/// as "capture unavailable").
struct Unavailable(String);

impl ScreenSource for Unavailable {
    fn capture(&mut self) -> Result<Option<Captured>, CaptureError> {
        Err(CaptureError::NoDisplay(self.0.clone()))
    }
}

#[cfg(target_os = "linux")]
fn session_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A full-resolution picture of the screen (`timecard capture`).
pub struct FullPicture {
    pub width: u32,
    pub height: u32,
    /// P2: the picture came out black (recording blocked?).
    pub black: bool,
    pub jpeg: Vec<u8>,
}

impl FullPicture {
    /// `frame` at full size, encoded at `quality`.
    #[cfg(any(target_os = "linux", windows))]
    fn of(frame: &frame::Frame, quality: u8) -> Result<FullPicture, CaptureError> {
        Ok(FullPicture {
            width: frame.width,
            height: frame.height,
            black: frame.is_black(),
            jpeg: frame.jpeg(quality)?,
        })
    }
}

/// One full-resolution picture from the source `choice` names (or the
/// one [`choose`] picks), encoded at `quality`.
#[cfg(target_os = "linux")]
pub fn full_picture(choice: SourceChoice, quality: u8) -> Result<FullPicture, CaptureError> {
    let choice = match choice {
        SourceChoice::Auto => choose(SourceChoice::Auto, quality, u32::MAX)
            .kind
            .unwrap_or(SourceChoice::X11),
        chosen => chosen,
    };
    let frame = match choice {
        SourceChoice::Screencopy => screencopy::WlrScreencopy::new(quality, u32::MAX).grab()?,
        SourceChoice::Portal => portal::Portal::new(quality, u32::MAX).grab()?,
        SourceChoice::Gdi => {
            return Err(CaptureError::NoDisplay(GDI_ELSEWHERE.into()));
        }
        SourceChoice::X11 | SourceChoice::Auto => {
            // Encoded where the X server put the pixels: no copy of the screen.
            let (width, height, black, jpeg) =
                x11::X11Screen::new(None, quality, u32::MAX).jpeg_full(quality)?;
            return Ok(FullPicture {
                width,
                height,
                black,
                jpeg,
            });
        }
    };
    FullPicture::of(&frame, quality)
}

/// One full-resolution picture of the virtual screen, encoded at `quality`.
#[cfg(windows)]
pub fn full_picture(choice: SourceChoice, quality: u8) -> Result<FullPicture, CaptureError> {
    if let Some(why) = not_on_windows(choice) {
        return Err(CaptureError::NoDisplay(why));
    }
    let frame = gdi::GdiScreen::new(quality, u32::MAX).grab()?;
    FullPicture::of(&frame, quality)
}

/// Why `choice` cannot be used on Windows, if it cannot.
#[cfg(windows)]
fn not_on_windows(choice: SourceChoice) -> Option<String> {
    match choice {
        SourceChoice::Auto | SourceChoice::Gdi => None,
        SourceChoice::Portal | SourceChoice::Screencopy | SourceChoice::X11 => {
            Some("that screenshot source is for Linux desktops; Windows uses GDI".into())
        }
    }
}

/// Chooses the screenshot source: GDI, the only one on Windows.
#[cfg(windows)]
pub fn choose(choice: SourceChoice, quality: u8, max_side: u32) -> Chosen {
    if let Some(why) = not_on_windows(choice) {
        return Chosen::none(why);
    }
    let screen = gdi::VirtualScreen::now();
    Chosen {
        source: Box::new(gdi::GdiScreen::new(quality, max_side)),
        kind: Some(SourceChoice::Gdi),
        name: "GDI",
        why: format!(
            "Windows: the virtual screen, {}×{} at ({}, {}), all monitors",
            screen.width, screen.height, screen.x, screen.y
        ),
    }
}

/// Where this system has no screenshot source yet.
#[cfg(not(any(target_os = "linux", windows)))]
pub fn full_picture(_choice: SourceChoice, _quality: u8) -> Result<FullPicture, CaptureError> {
    Err(CaptureError::NoDisplay(NOT_HERE.into()))
}

#[cfg(not(any(target_os = "linux", windows)))]
const NOT_HERE: &str = "screenshots are not taken on this system yet";

/// Chooses the screenshot source for this session.
#[cfg(not(any(target_os = "linux", windows)))]
pub fn choose(_choice: SourceChoice, _quality: u8, _max_side: u32) -> Chosen {
    Chosen::none(NOT_HERE.into())
}

#[cfg(target_os = "linux")]
const GDI_ELSEWHERE: &str = "GDI is the Windows screenshot source";

/// Chooses the screenshot source for this session.
#[cfg(target_os = "linux")]
pub fn choose(choice: SourceChoice, quality: u8, max_side: u32) -> Chosen {
    let x11 = |why: String| Chosen {
        source: Box::new(x11::X11Screen::new(None, quality, max_side)),
        kind: Some(SourceChoice::X11),
        name: "X11",
        why,
    };
    let screencopy = |why: String| Chosen {
        source: Box::new(screencopy::WlrScreencopy::new(quality, max_side)),
        kind: Some(SourceChoice::Screencopy),
        name: "wlr-screencopy",
        why,
    };
    let portal = |why: String| Chosen {
        source: Box::new(portal::Portal::new(quality, max_side)),
        kind: Some(SourceChoice::Portal),
        name: "the desktop portal",
        why,
    };
    match choice {
        SourceChoice::Portal => portal("asked for".into()),
        SourceChoice::X11 => x11("asked for".into()),
        SourceChoice::Screencopy => screencopy("asked for".into()),
        SourceChoice::Gdi => Chosen::none(GDI_ELSEWHERE.into()),
        SourceChoice::Auto => match (session_var("WAYLAND_DISPLAY"), session_var("DISPLAY")) {
            (Some(wayland), display) => {
                if screencopy::WlrScreencopy::available() {
                    screencopy(format!(
                        "the Wayland compositor ({wayland}) offers wlr-screencopy"
                    ))
                } else if display.is_some() {
                    x11(format!(
                        "the Wayland compositor ({wayland}) has no wlr-screencopy: X11 through XWayland, which sees only X11 windows"
                    ))
                } else {
                    let why = format!(
                        "the Wayland compositor ({wayland}) has no wlr-screencopy, there is no desktop portal and no X11 display"
                    );
                    Chosen::none(why)
                }
            }
            (None, Some(display)) => x11(format!("an X11 session ({display})")),
            (None, None) => Chosen::none(
                "neither WAYLAND_DISPLAY nor DISPLAY is set: no session to capture".into(),
            ),
        },
    }
}

/// The screenshot source for this session ([`choose`], automatically).
pub fn default_source(settings: &crate::settings::Settings) -> Box<dyn ScreenSource> {
    let chosen = choose(
        SourceChoice::Auto,
        settings.screenshot_quality,
        settings.screenshot_max_side,
    );
    log::info!("screenshots: {}, because {}", chosen.name, chosen.why);
    chosen.source
}
