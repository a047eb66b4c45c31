//! Choosing a file through the desktop portal's FileChooser
//! (`org.freedesktop.portal.FileChooser.OpenFile`) on the session bus:
//! the desktop's own dialog, with no GTK in this process, through the
//! zbus the screenshot portal already uses. Where no portal answers, the
//! caller says so and the path can still be typed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

const DESKTOP: &str = "org.freedesktop.portal.Desktop";
const DESKTOP_PATH: &str = "/org/freedesktop/portal/desktop";
/// How long a person may take to choose.
const CHOOSE_WAIT: Duration = Duration::from_secs(15 * 60);

/// Asks the desktop to let the user choose one file, titled `title`,
/// offering `patterns` (e.g. `*.pem`) first under `filter_name`. Blocks
/// until the user chose (`Some`), cancelled (`None`), or it failed.
pub fn open_file(
    title: &str,
    filter_name: &str,
    patterns: &[&str],
) -> Result<Option<PathBuf>, String> {
    let connection = zbus::blocking::Connection::session().map_err(|e| {
        format!("no desktop file dialog here (no session bus: {e}); type the file's path instead")
    })?;
    open_file_on(&connection, title, filter_name, patterns)
}

/// [`open_file`] through the portal on `connection`'s bus.
pub fn open_file_on(
    connection: &zbus::blocking::Connection,
    title: &str,
    filter_name: &str,
    patterns: &[&str],
) -> Result<Option<PathBuf>, String> {
    let failed = |e: &dyn std::fmt::Display| format!("the desktop's file dialog failed: {e}");
    let token = format!("timecard{}", uuid::Uuid::new_v4().simple());
    let sender = connection
        .unique_name()
        .map(|n| n.trim_start_matches(':').replace('.', "_"))
        .ok_or_else(|| failed(&"no name on the session bus"))?;
    let request_path = format!("{DESKTOP_PATH}/request/{sender}/{token}");
    // Listen for the answer before asking, so it cannot be missed.
    let request = zbus::blocking::Proxy::new(
        connection,
        DESKTOP,
        request_path.as_str(),
        "org.freedesktop.portal.Request",
    )
    .map_err(|e| failed(&e))?;
    let responses = request.receive_signal("Response").map_err(|e| failed(&e))?;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("timecard-file-chooser".into())
        .spawn(move || {
            if let Some(message) = responses.into_iter().next() {
                let _ = tx.send(message);
            }
        })
        .map_err(|e| failed(&e))?;
    let chooser = zbus::blocking::Proxy::new(
        connection,
        DESKTOP,
        DESKTOP_PATH,
        "org.freedesktop.portal.FileChooser",
    )
    .map_err(|e| failed(&e))?;
    let filter: (String, Vec<(u32, String)>) = (
        filter_name.to_owned(),
        patterns.iter().map(|p| (0u32, (*p).to_owned())).collect(),
    );
    let mut options: HashMap<&str, Value<'_>> = HashMap::new();
    options.insert("handle_token", Value::from(token.as_str()));
    options.insert("modal", Value::from(true));
    options.insert("filters", Value::from(vec![filter.clone()]));
    options.insert("current_filter", Value::from(filter));
    let _handle: OwnedObjectPath = chooser
        .call("OpenFile", &("", title, options))
        .map_err(|e| match e {
            zbus::Error::MethodError(name, ..)
                if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown"
                    || name.as_str() == "org.freedesktop.DBus.Error.UnknownMethod"
                    || name.as_str() == "org.freedesktop.DBus.Error.UnknownInterface" =>
            {
                "this desktop offers no file dialog to Timecard (no xdg-desktop-portal); type the file's path instead".to_owned()
            }
            other => failed(&other),
        })?;
    let message = rx
        .recv_timeout(CHOOSE_WAIT)
        .map_err(|_| failed(&"no answer"))?;
    let (code, results): (u32, HashMap<String, OwnedValue>) =
        message.body().deserialize().map_err(|e| failed(&e))?;
    if code != 0 {
        return Ok(None);
    }
    let uris: Vec<String> = results
        .get("uris")
        .and_then(|v| Vec::<String>::try_from(v.try_clone().ok()?).ok())
        .unwrap_or_default();
    let Some(uri) = uris.first() else {
        return Ok(None);
    };
    crate::capture::portal::file_path(uri)
        .map(Some)
        .ok_or_else(|| format!("{uri} is not a file on this computer"))
}
