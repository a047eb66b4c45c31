//! Screenshots through the desktop portal (`org.freedesktop.portal.Screenshot`
//! on the session bus): GNOME, KDE, and wlroots compositors with
//! `xdg-desktop-portal-wlr`. The request is not interactive; the desktop
//! may ask the user once whether Timecard may take screenshots, and a
//! refusal is said in words. The portal writes the picture to a file and
//! answers with its URI; the file is read, then deleted (it is Timecard's
//! screenshot, not the user's).

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use super::frame::Frame;
use super::{CaptureError, Captured, ScreenSource};

const DESKTOP: &str = "org.freedesktop.portal.Desktop";
const DESKTOP_PATH: &str = "/org/freedesktop/portal/desktop";

/// How long to wait for the portal's answer (the first one may wait for
/// the user to answer the desktop's question).
const ANSWER_WAIT: Duration = Duration::from_secs(60);

pub struct Portal {
    connection: Option<zbus::blocking::Connection>,
    pub quality: u8,
    pub max_side: u32,
}

impl Portal {
    pub fn new(quality: u8, max_side: u32) -> Portal {
        Portal {
            connection: None,
            quality,
            max_side,
        }
    }

    /// Whether the session bus has a portal with the Screenshot interface.
    pub fn available() -> bool {
        let Ok(connection) = zbus::blocking::Connection::session() else {
            return false;
        };
        zbus::blocking::Proxy::new(
            &connection,
            DESKTOP,
            DESKTOP_PATH,
            "org.freedesktop.portal.Screenshot",
        )
        .and_then(|p| p.get_property::<u32>("version"))
        .is_ok()
    }

    fn connection(&mut self) -> Result<&zbus::blocking::Connection, CaptureError> {
        if self.connection.is_none() {
            let connection = zbus::blocking::Connection::session().map_err(|e| {
                CaptureError::NoDisplay(format!("no session bus for the desktop portal ({e})"))
            })?;
            self.connection = Some(connection);
        }
        Ok(self.connection.as_ref().expect("connected"))
    }

    /// One screenshot of the whole desktop, as the portal gives it.
    pub fn grab(&mut self) -> Result<Frame, CaptureError> {
        let result = self.ask();
        if matches!(result, Err(CaptureError::NoDisplay(_))) {
            self.connection = None;
        }
        result
    }

    fn ask(&mut self) -> Result<Frame, CaptureError> {
        let connection = self.connection()?.clone();
        let failed = |e: &dyn std::fmt::Display| {
            CaptureError::Failed(format!("desktop portal screenshot: {e}"))
        };
        let token = format!("timecard{}", uuid::Uuid::new_v4().simple());
        let sender = connection
            .unique_name()
            .map(|n| n.trim_start_matches(':').replace('.', "_"))
            .ok_or_else(|| failed(&"no name on the session bus"))?;
        let request_path = format!("{DESKTOP_PATH}/request/{sender}/{token}");
        // Listen for the answer before asking, so it cannot be missed.
        let request = zbus::blocking::Proxy::new(
            &connection,
            DESKTOP,
            request_path.as_str(),
            "org.freedesktop.portal.Request",
        )
        .map_err(|e| failed(&e))?;
        let responses = request.receive_signal("Response").map_err(|e| failed(&e))?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("timecard-portal".into())
            .spawn(move || {
                if let Some(message) = responses.into_iter().next() {
                    let _ = tx.send(message);
                }
            })
            .map_err(|e| failed(&e))?;
        let screenshot = zbus::blocking::Proxy::new(
            &connection,
            DESKTOP,
            DESKTOP_PATH,
            "org.freedesktop.portal.Screenshot",
        )
        .map_err(|e| failed(&e))?;
        let mut options: HashMap<&str, Value<'_>> = HashMap::new();
        options.insert("handle_token", Value::from(token.as_str()));
        options.insert("interactive", Value::from(false));
        let _handle: OwnedObjectPath =
            screenshot
                .call("Screenshot", &("", options))
                .map_err(|e| {
                    match e {
                zbus::Error::MethodError(name, ..)
                    if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown" =>
                {
                    CaptureError::NoDisplay(
                        "no desktop portal on the session bus (xdg-desktop-portal is not running)"
                            .into(),
                    )
                }
                other => failed(&other),
            }
                })?;
        let message = rx.recv_timeout(ANSWER_WAIT).map_err(|_| {
            failed(&format!(
                "the desktop did not answer within {} s",
                ANSWER_WAIT.as_secs()
            ))
        })?;
        let (code, results): (u32, HashMap<String, OwnedValue>) =
            message.body().deserialize().map_err(|e| failed(&e))?;
        match code {
            0 => {}
            1 => {
                return Err(CaptureError::Failed(
                    "the desktop portal's screenshot was cancelled".into(),
                ));
            }
            _ => {
                return Err(CaptureError::Failed(
                    "the desktop refused the screenshot: allow Timecard to take screenshots in \
                     your desktop's privacy settings (Screenshots / Screen capture), then start \
                     tracking again"
                        .into(),
                ));
            }
        }
        let uri: String = results
            .get("uri")
            .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
            .ok_or_else(|| failed(&"the answer has no picture"))?;
        let path = file_path(&uri).ok_or_else(|| failed(&format!("not a local file: {uri}")))?;
        let bytes =
            std::fs::read(&path).map_err(|e| failed(&format!("{}: {e}", path.display())))?;
        let _ = std::fs::remove_file(&path);
        let picture = image::load_from_memory(&bytes)
            .map_err(|e| failed(&format!("{}: {e}", path.display())))?
            .to_rgb8();
        let (width, height) = picture.dimensions();
        let mut bgrx = Vec::with_capacity(width as usize * height as usize * 4);
        for pixel in picture.pixels() {
            let [r, g, b] = pixel.0;
            bgrx.extend_from_slice(&[b, g, r, 0]);
        }
        Ok(Frame {
            width,
            height,
            bgrx,
        })
    }
}

impl ScreenSource for Portal {
    fn capture(&mut self) -> Result<Option<Captured>, CaptureError> {
        let frame = self.grab()?;
        frame.encode(self.quality, self.max_side).map(Some)
    }
}

/// The path of a `file://` URI (percent-escapes decoded).
pub(crate) fn file_path(uri: &str) -> Option<std::path::PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let mut bytes = Vec::with_capacity(rest.len());
    let mut it = rest.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    use std::os::unix::ffi::OsStringExt;
    Some(std::ffi::OsString::from_vec(bytes).into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_uris_become_paths() {
        assert_eq!(
            super::file_path("file:///tmp/Screenshot%20from%20today.png"),
            Some("/tmp/Screenshot from today.png".into())
        );
        assert_eq!(super::file_path("https://example.com/x.png"), None);
        assert_eq!(super::file_path("file:///bad%2"), None);
    }
}
