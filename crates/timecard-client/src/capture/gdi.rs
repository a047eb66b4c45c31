//! Screenshots on Windows through GDI: the whole virtual screen (every
//! monitor, including those left of or above the primary one) copied with
//! `BitBlt` from the screen's device context into a top-down 32-bit DIB
//! section, whose pixels are B G R X like X11's.

use windows::Win32::Graphics::Gdi::{
    BI_RGB, BITMAPINFO, BITMAPINFOHEADER, BitBlt, CAPTUREBLT, CreateCompatibleDC, CreateDIBSection,
    DIB_RGB_COLORS, DeleteDC, DeleteObject, GdiFlush, GetDC, HBITMAP, HDC, HGDIOBJ, ReleaseDC,
    SRCCOPY, SelectObject,
};
use windows::Win32::UI::HiDpi::{
    DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2, SetProcessDpiAwarenessContext,
};
use windows::Win32::UI::WindowsAndMessaging::{
    GetSystemMetrics, SM_CXVIRTUALSCREEN, SM_CYVIRTUALSCREEN, SM_XVIRTUALSCREEN, SM_YVIRTUALSCREEN,
};

use super::frame::Frame;
use super::{CaptureError, Captured, ScreenSource};

/// The virtual screen, through GDI.
pub struct GdiScreen {
    quality: u8,
    max_side: u32,
}

/// The virtual screen's rectangle, in physical pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtualScreen {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

impl VirtualScreen {
    /// Asks Windows now (monitors come and go).
    pub fn now() -> VirtualScreen {
        // SAFETY: GetSystemMetrics only reads system values.
        unsafe {
            VirtualScreen {
                x: GetSystemMetrics(SM_XVIRTUALSCREEN),
                y: GetSystemMetrics(SM_YVIRTUALSCREEN),
                width: GetSystemMetrics(SM_CXVIRTUALSCREEN),
                height: GetSystemMetrics(SM_CYVIRTUALSCREEN),
            }
        }
    }
}

impl GdiScreen {
    pub fn new(quality: u8, max_side: u32) -> GdiScreen {
        // Physical pixels on scaled monitors: without this, Windows hands a
        // process that did not declare DPI awareness a scaled-down screen.
        // The window's toolkit asks for the same; whichever asks first wins.
        // SAFETY: a process-wide setting with no pointers.
        let _ =
            unsafe { SetProcessDpiAwarenessContext(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2) };
        GdiScreen { quality, max_side }
    }

    /// One full-resolution frame of the virtual screen.
    pub fn grab(&mut self) -> Result<Frame, CaptureError> {
        let screen = VirtualScreen::now();
        if screen.width <= 0 || screen.height <= 0 {
            return Err(CaptureError::NoDisplay(
                "Windows reports no screen (a service session, or no monitor)".into(),
            ));
        }
        let (width, height) = (screen.width as u32, screen.height as u32);
        let dcs = Dcs::new()?;
        let info = BITMAPINFO {
            bmiHeader: BITMAPINFOHEADER {
                biSize: size_of::<BITMAPINFOHEADER>() as u32,
                biWidth: screen.width,
                // Negative: rows top-down, as the frame keeps them.
                biHeight: -screen.height,
                biPlanes: 1,
                biBitCount: 32,
                biCompression: BI_RGB.0,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut bits = std::ptr::null_mut();
        // SAFETY: `info` describes a 32-bit top-down DIB; `bits` receives
        // its pixels, valid until the bitmap is deleted (after the copy).
        let bitmap = unsafe {
            CreateDIBSection(Some(dcs.screen), &info, DIB_RGB_COLORS, &mut bits, None, 0)
        }
        .map_err(|e| failed("cannot make a bitmap of the screen's size", e))?;
        let bitmap = Bitmap(bitmap);
        // SAFETY: both device contexts and the bitmap are alive; the
        // previous object is selected back before they are freed.
        let bgrx = unsafe {
            let previous = SelectObject(dcs.memory, HGDIOBJ(bitmap.0.0));
            let copied = BitBlt(
                dcs.memory,
                0,
                0,
                screen.width,
                screen.height,
                Some(dcs.screen),
                screen.x,
                screen.y,
                SRCCOPY | CAPTUREBLT,
            );
            let _ = GdiFlush();
            SelectObject(dcs.memory, previous);
            copied.map_err(|e| {
                failed(
                    "the copy of the screen was refused (a locked or secure desktop?)",
                    e,
                )
            })?;
            let len = width as usize * height as usize * 4;
            std::slice::from_raw_parts(bits.cast::<u8>(), len).to_vec()
        };
        Ok(Frame {
            width,
            height,
            bgrx,
        })
    }
}

impl ScreenSource for GdiScreen {
    fn capture(&mut self) -> Result<Option<Captured>, CaptureError> {
        let frame = self.grab()?;
        frame.encode(self.quality, self.max_side).map(Some)
    }
}

fn failed(what: &str, e: windows::core::Error) -> CaptureError {
    CaptureError::Failed(format!("GDI: {what}: {}", e.message()))
}

/// The screen's device context and a memory one compatible with it, freed
/// on drop.
struct Dcs {
    screen: HDC,
    memory: HDC,
}

impl Dcs {
    fn new() -> Result<Dcs, CaptureError> {
        // SAFETY: GetDC(None) is the whole screen's DC; it is released on
        // drop, as is the memory DC.
        unsafe {
            let screen = GetDC(None);
            if screen.is_invalid() {
                return Err(CaptureError::NoDisplay(
                    "no screen device context (not an interactive desktop session)".into(),
                ));
            }
            let memory = CreateCompatibleDC(Some(screen));
            if memory.is_invalid() {
                ReleaseDC(None, screen);
                return Err(CaptureError::Failed(
                    "GDI: cannot make a memory device context".into(),
                ));
            }
            Ok(Dcs { screen, memory })
        }
    }
}

impl Drop for Dcs {
    fn drop(&mut self) {
        // SAFETY: both were made in `Dcs::new` and are freed once.
        unsafe {
            let _ = DeleteDC(self.memory);
            ReleaseDC(None, self.screen);
        }
    }
}

struct Bitmap(HBITMAP);

impl Drop for Bitmap {
    fn drop(&mut self) {
        // SAFETY: made by CreateDIBSection and no longer selected.
        unsafe {
            let _ = DeleteObject(HGDIOBJ(self.0.0));
        }
    }
}
