//! What the Wayland screenshot and activity sources share: connecting (to
//! the session's display, or to a given socket) and ignoring the events of
//! objects they only use for requests.

use std::path::PathBuf;

use wayland_client::Connection;

/// A connection to the compositor at `socket`, or to the session's
/// (`WAYLAND_DISPLAY`); the error in words.
pub fn connect(socket: Option<PathBuf>) -> Result<Connection, String> {
    match socket {
        Some(path) => std::os::unix::net::UnixStream::connect(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|s| Connection::from_socket(s).map_err(|e| e.to_string())),
        None => Connection::connect_to_env().map_err(|e| e.to_string()),
    }
}

/// `Dispatch` impls for `$state` that ignore the events of each
/// `$proxy` (user data `$data`).
macro_rules! ignore_events {
    ($state:ty: $($proxy:ty => $data:ty),* $(,)?) => {$(
        impl wayland_client::Dispatch<$proxy, $data> for $state {
            fn event(
                _: &mut Self,
                _: &$proxy,
                _: <$proxy as wayland_client::Proxy>::Event,
                _: &$data,
                _: &wayland_client::Connection,
                _: &wayland_client::QueueHandle<Self>,
            ) {
            }
        }
    )*};
}

pub(crate) use ignore_events;
