//! The mini view (D6): a small always-on-top window with the status dot,
//! the contract, today's time and Start/Stop; one click back to the main window.

use chrono::{DateTime, Utc};
use egui::RichText;

use super::{Intent, UiState, theme, tracker};
use timecard_client::worker::Snapshot;
use timecard_core::fmt::hms;

/// The mini view's size: room for the longest day's total, Stop and
/// *Main window* on one line.
pub const MINI_SIZE: [f32; 2] = [360.0, 110.0];

pub fn mini_view(
    ctx: &egui::Context,
    snapshot: &Snapshot,
    state: &mut UiState,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
    intents: &mut Vec<Intent>,
) {
    let mut builder = egui::ViewportBuilder::default()
        .with_title("Timecard mini")
        .with_inner_size(MINI_SIZE)
        .with_resizable(false)
        .with_always_on_top();
    if let Some(icon) = super::theme::window_icon() {
        builder = builder.with_icon(icon);
    }
    ctx.show_viewport_immediate(
        egui::ViewportId::from_hash_of("mini"),
        builder,
        |ui, _class| {
            egui::CentralPanel::default_margins().show(ui, |ui| {
                mini_ui(ui, snapshot, state, now, zone, intents);
            });
            if ui.ctx().input(|i| i.viewport().close_requested()) {
                state.mini = false;
            }
        },
    );
}

pub fn mini_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    state: &mut UiState,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
    intents: &mut Vec<Intent>,
) {
    ui.horizontal(|ui| {
        let code = snapshot.sync_code();
        theme::dot(ui, theme::sync_colour(code), &format!("Sync state: {code}"));
        let title = match &snapshot.tracking {
            Some(t) => t.contract_title.clone(),
            None => tracker::chosen_contract(snapshot, state)
                .and_then(|id| snapshot.contract(&id).map(|c| c.contract.title.clone()))
                .unwrap_or_else(|| "No contract".into()),
        };
        ui.label(RichText::new(title).strong());
    });
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!("Today {}", hms(snapshot.today_total_secs(now)))).monospace(),
        );
        let label = if snapshot.tracking.is_some() {
            "Stop"
        } else {
            "Start"
        };
        let command = tracker::start_stop_command(snapshot, state);
        let mut response = ui.add_enabled(command.is_some(), egui::Button::new(label));
        if let Some(why) = tracker::blocked_reason(snapshot, state) {
            response = response.on_disabled_hover_text(why);
        }
        if response.clicked()
            && let Some(command) = command
        {
            intents.push(Intent::Worker(command));
        }
        if ui.button("Main window").clicked() {
            state.mini = false;
        }
    });
    let note = snapshot
        .idle_line(zone)
        .or_else(|| tracker::blocked_reason(snapshot, state));
    if let Some(note) = note {
        ui.add(egui::Label::new(RichText::new(&note).small().color(theme::WARN)).truncate())
            .on_hover_text(note);
    }
}
