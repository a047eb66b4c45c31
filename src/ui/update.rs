//! Updates in the window (U2–U5): asked for at start and daily, offered in
//! a banner — "Version V is available — Install and restart" —, downloaded
//! and checked while tracking goes on; only then is tracking stopped (the
//! partial segment cached), the cache flushed, the update installed and the
//! new version started. A refused or failed update says why and changes
//! nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use timecard_client::update::{Installed, Offer};

use super::{Intent, theme};

/// What the window knows about updates.
#[derive(Default)]
pub struct UpdateState {
    /// How this copy was installed, read at start (the program file may
    /// be replaced later).
    pub installed: Option<Installed>,
    /// A newer, signed release, offered in the banner.
    pub offer: Option<Offer>,
    /// When the server was last asked.
    pub checked_at: Option<Instant>,
    /// A check, download or install is under way.
    pub busy: bool,
    /// Install as soon as an offer is known (`timecard update` asked).
    pub install_when_offered: bool,
    /// Set from the single-instance thread when `timecard update` asks.
    pub asked: Arc<AtomicBool>,
    /// Why the last check or install did not give an update.
    pub problem: Option<String>,
    /// The contract to track again once the engine is back after a failed
    /// install.
    pub resume: Option<String>,
}

impl UpdateState {
    pub fn new() -> UpdateState {
        UpdateState {
            installed: Installed::this()
                .inspect_err(|e| log::warn!("updates off: this program's path is unknown ({e})"))
                .ok(),
            ..Default::default()
        }
    }

    /// Whether it is time to ask the server again.
    pub fn check_due(&mut self) -> bool {
        if self.asked.swap(false, Ordering::Relaxed) {
            self.install_when_offered = true;
            return !self.busy;
        }
        !self.busy
            && self.installed.is_some()
            && self
                .checked_at
                .is_none_or(|at| at.elapsed() >= timecard_client::update::CHECK_EVERY)
    }
}

/// The banner offering the update, above the screen's content.
pub fn banner_ui(ui: &mut egui::Ui, state: &UpdateState, intents: &mut Vec<Intent>) {
    let Some(offer) = &state.offer else { return };
    egui::Frame::new()
        .fill(theme::ACCENT.gamma_multiply(0.25))
        .inner_margin(egui::Margin::symmetric(8, 4))
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "Version {} is available (you have {}).",
                    offer.release.version,
                    timecard_core::release::version()
                ));
                let button = ui.add_enabled(
                    !state.busy,
                    egui::Button::new(if state.busy {
                        "Installing…"
                    } else {
                        "Install and restart"
                    }),
                );
                if button
                    .on_hover_text(
                        "Tracking stops for a moment (the time so far is kept and uploaded), \
                         the new version is installed and Timecard starts again.",
                    )
                    .clicked()
                {
                    intents.push(Intent::InstallUpdate);
                }
            });
        });
    ui.add_space(4.0);
}
