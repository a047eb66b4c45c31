//! The tray on Windows (D7): the notification area.

use std::sync::Arc;

use super::{Backend, Shared, TrayView};

pub struct Windows;

impl Backend for Windows {
    fn show(&mut self, _view: &TrayView) {}
    fn shutdown(&mut self) {}
}

pub fn start(_shared: Arc<Shared>, _first: TrayView) -> Option<Windows> {
    log::info!("no tray icon on Windows yet");
    None
}
