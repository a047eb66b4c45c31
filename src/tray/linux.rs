//! The tray on Linux (D8): a StatusNotifierItem with a DBusMenu, through
//! ksni on the session bus (one zbus connection, on the async-io executor
//! the window's zbus already runs; no GTK).
//!
//! The host is detected as the specification has it: ksni registers the
//! item with `org.kde.StatusNotifierWatcher` and asks its
//! `IsStatusNotifierHostRegistered`. With no watcher (or no host) the item
//! is started again in the mode where ksni waits for a watcher: it
//! follows the watcher's name on the bus, registers when one appears (a
//! panel started after the app) and says when it goes.

use std::sync::Arc;

use ksni::blocking::TrayMethods;
use ksni::menu::{MenuItem, RadioGroup, RadioItem, StandardItem, SubMenu};

use super::{Backend, Shared, TrayState, TrayView, icon_argb};

/// The pixmap sizes offered; the host picks the nearest.
const SIZES: [u32; 2] = [32, 64];

struct Item {
    shared: Arc<Shared>,
    view: TrayView,
    /// The icons of `icons_for`, drawn once per state change.
    icons: Vec<ksni::Icon>,
    icons_for: Option<TrayState>,
}

impl Item {
    fn new(shared: Arc<Shared>, view: TrayView) -> Item {
        let mut item = Item {
            shared,
            view,
            icons: Vec::new(),
            icons_for: None,
        };
        item.draw_icons();
        item
    }

    fn draw_icons(&mut self) {
        if self.icons_for == Some(self.view.state) {
            return;
        }
        self.icons = SIZES
            .iter()
            .map(|&size| ksni::Icon {
                width: size as i32,
                height: size as i32,
                data: icon_argb(self.view.state, size),
            })
            .collect();
        self.icons_for = Some(self.view.state);
    }
}

impl ksni::Tray for Item {
    fn id(&self) -> String {
        "timecard".into()
    }

    fn title(&self) -> String {
        "Timecard".into()
    }

    fn category(&self) -> ksni::Category {
        ksni::Category::ApplicationStatus
    }

    fn status(&self) -> ksni::Status {
        match self.view.state {
            TrayState::Idle => ksni::Status::NeedsAttention,
            _ => ksni::Status::Active,
        }
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        self.icons.clone()
    }

    fn attention_icon_pixmap(&self) -> Vec<ksni::Icon> {
        self.icons.clone()
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            title: self.view.title.clone(),
            description: self.view.lines.join("\n"),
            icon_name: String::new(),
            icon_pixmap: Vec::new(),
        }
    }

    /// A click on the icon shows the window.
    fn activate(&mut self, _x: i32, _y: i32) {
        self.shared.show_window();
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        let (label, enabled) = self.view.start_stop();
        let selected = self
            .view
            .current
            .as_ref()
            .and_then(|c| self.view.contracts.iter().position(|o| o.id == c.id))
            .unwrap_or(usize::MAX);
        let options = self
            .view
            .contracts
            .iter()
            .map(|c| RadioItem {
                label: if c.trackable {
                    c.title.clone()
                } else {
                    format!("{} (cannot be tracked now)", c.title)
                },
                enabled: c.trackable,
                ..Default::default()
            })
            .collect();
        vec![
            StandardItem {
                label,
                enabled,
                activate: Box::new(|item: &mut Item| item.shared.start_stop(&item.view)),
                ..Default::default()
            }
            .into(),
            SubMenu {
                label: "Contracts".into(),
                enabled: !self.view.contracts.is_empty(),
                submenu: vec![
                    RadioGroup {
                        selected,
                        select: Box::new(|item: &mut Item, chosen: usize| {
                            if let Some(c) = item.view.contracts.get(chosen).cloned() {
                                item.shared.start(&c.id);
                            }
                        }),
                        options,
                    }
                    .into(),
                ],
                ..Default::default()
            }
            .into(),
            MenuItem::Separator,
            StandardItem {
                label: "Show window".into(),
                activate: Box::new(|item: &mut Item| item.shared.show_window()),
                ..Default::default()
            }
            .into(),
            StandardItem {
                label: "Mini view".into(),
                activate: Box::new(|item: &mut Item| item.shared.mini_view()),
                ..Default::default()
            }
            .into(),
            MenuItem::Separator,
            StandardItem {
                label: "Quit".into(),
                activate: Box::new(|item: &mut Item| item.shared.quit()),
                ..Default::default()
            }
            .into(),
        ]
    }

    fn watcher_online(&self) {
        self.shared.set_host(true);
    }

    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        log::info!(
            "tray: no StatusNotifierWatcher ({reason:?}); the icon shows when a panel offers one"
        );
        self.shared.set_host(false);
        // Keep waiting for a watcher.
        true
    }
}

pub struct Linux {
    handle: ksni::blocking::Handle<Item>,
}

impl Backend for Linux {
    fn show(&mut self, view: &TrayView) {
        let view = view.clone();
        self.handle.update(move |item| {
            item.view = view;
            item.draw_icons();
        });
    }

    fn shutdown(&mut self) {
        self.handle.shutdown().wait();
    }
}

/// Puts the item on the session bus; `None` without a session bus.
pub fn start(shared: Arc<Shared>, first: TrayView) -> Option<Linux> {
    match Item::new(shared.clone(), first.clone()).spawn() {
        Ok(handle) => {
            shared.set_host(true);
            return Some(Linux { handle });
        }
        Err(ksni::Error::Dbus(e)) => {
            log::info!("no tray icon: no session bus ({e})");
            return None;
        }
        Err(e) => log::info!("no tray host yet ({e}); waiting for one"),
    }
    // No watcher, or a watcher with no host: wait for one.
    match Item::new(shared, first).assume_sni_available(true).spawn() {
        Ok(handle) => Some(Linux { handle }),
        Err(e) => {
            log::info!("no tray icon: {e}");
            None
        }
    }
}
