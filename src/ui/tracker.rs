//! The tracker screen: contract picker, Start/Stop, today's and this week's
//! time, the memo, the last screenshot.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use egui::RichText;

use super::{Intent, UiState, theme};
use timecard_client::worker::{Command, Snapshot};
use timecard_core::fmt::hms;

/// The contract the picker shows: the chosen one, else the tracked one,
/// else the first trackable one.
pub fn chosen_contract(snapshot: &Snapshot, state: &UiState) -> Option<String> {
    state
        .selected
        .clone()
        .filter(|id| snapshot.contract(id).is_some())
        .or_else(|| snapshot.tracking.as_ref().map(|t| t.contract_id.clone()))
        .or_else(|| {
            snapshot
                .contracts
                .iter()
                .find(|c| c.trackable)
                .map(|c| c.contract.id.clone())
        })
}

/// What the big button (or Ctrl+Enter) does now: start or switch to the
/// chosen contract when it can be tracked, else stop; `None` when there is
/// nothing to do (not tracking, and the chosen contract cannot be tracked).
pub fn start_stop_command(snapshot: &Snapshot, state: &UiState) -> Option<Command> {
    let startable = chosen_contract(snapshot, state)
        .filter(|id| snapshot.contract(id).is_some_and(|c| c.trackable));
    match (&snapshot.tracking, startable) {
        (Some(t), Some(id)) if t.contract_id != id => Some(Command::Start { contract_id: id }),
        (Some(_), _) => Some(Command::Stop),
        (None, Some(id)) => Some(Command::Start { contract_id: id }),
        (None, None) => None,
    }
}

/// Why the chosen contract cannot be started (C4, W2), for the button's
/// tooltip and the line under it; `None` when it can, or is tracked.
pub fn blocked_reason(snapshot: &Snapshot, state: &UiState) -> Option<String> {
    let id = chosen_contract(snapshot, state)?;
    if snapshot
        .tracking
        .as_ref()
        .is_some_and(|t| t.contract_id == id)
    {
        return None;
    }
    let c = snapshot.contract(&id)?;
    (!c.trackable).then(|| {
        format!(
            "{} cannot be tracked: {}",
            c.contract.title,
            c.reason.as_deref().unwrap_or("unknown reason")
        )
    })
}

pub fn tracker_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    state: &mut UiState,
    now: DateTime<Utc>,
    zone: Tz,
    intents: &mut Vec<Intent>,
) {
    let chosen = chosen_contract(snapshot, state);
    if state.selected.is_none() && snapshot.tracking.is_none() {
        // The contract on screen stays chosen when it becomes untrackable
        // (a limit reached, a pause): the reason is shown, instead of
        // another contract slipping under the Start button.
        state.selected.clone_from(&chosen);
    }
    ui.add_space(4.0);
    super::status::local_only_note_ui(ui, snapshot, intents);
    ui.horizontal(|ui| {
        let shown = chosen
            .as_deref()
            .and_then(|id| snapshot.contract(id))
            .map(|c| format!("{} — {}", c.contract.title, c.contract.client))
            .unwrap_or_else(|| "No trackable contract".into());
        egui::ComboBox::from_label("Contract")
            .selected_text(shown)
            .width(360.0)
            .show_ui(ui, |ui| {
                for c in snapshot.contracts.iter().filter(|c| c.trackable) {
                    let label = format!("{} — {}", c.contract.title, c.contract.client);
                    if ui
                        .selectable_label(chosen.as_deref() == Some(&c.contract.id), label)
                        .clicked()
                    {
                        state.selected = Some(c.contract.id.clone());
                    }
                }
                let blocked = snapshot.contracts.iter().filter(|c| !c.trackable).count();
                if blocked > 0 {
                    ui.label(
                        RichText::new(format!(
                            "{blocked} more on the Contracts screen cannot be tracked now"
                        ))
                        .small()
                        .color(theme::MUTED),
                    );
                }
            });
    });

    ui.add_space(8.0);
    // One source for the timer, Today and This week: the snapshot's
    // logged time (discarded idle time is gone from all three).
    let elapsed = snapshot.session_secs(now);
    ui.horizontal(|ui| {
        let command = start_stop_command(snapshot, state);
        let (label, fill) = match (&command, &snapshot.tracking) {
            (Some(Command::Start { .. }), Some(_)) => ("Switch contract", theme::ACCENT),
            (Some(Command::Stop), _) => ("Stop", theme::BAD),
            _ => ("Start", theme::ACCENT),
        };
        let button = egui::Button::new(RichText::new(label).size(22.0).color(egui::Color32::WHITE))
            .fill(fill)
            .min_size(egui::vec2(150.0, 52.0));
        let blocked = blocked_reason(snapshot, state);
        let response = ui
            .add_enabled(command.is_some(), button)
            .on_hover_text("Start or stop tracking (Ctrl+Enter)");
        let response = match &blocked {
            Some(why) => response.on_disabled_hover_text(why),
            None => response,
        };
        if response.clicked()
            && let Some(command) = command
        {
            intents.push(Intent::Worker(command));
        }
        ui.add_space(16.0);
        ui.vertical(|ui| {
            ui.label(RichText::new(hms(elapsed)).size(36.0).monospace());
            match &snapshot.tracking {
                Some(t) => ui.label(format!(
                    "Tracking {} since {}",
                    t.contract_title,
                    t.started_at.with_timezone(&zone).format("%H:%M")
                )),
                None => ui.label(RichText::new("Not tracking").color(theme::MUTED)),
            };
        });
    });

    if let Some(why) = blocked_reason(snapshot, state) {
        ui.label(RichText::new(why).color(theme::WARN));
    }
    if let Some(idle) = snapshot.idle_line(zone) {
        ui.label(RichText::new(idle).strong().color(theme::WARN))
            .on_hover_text(
                "No keyboard or mouse input since then. The time goes on being \
                 recorded; when you are back you choose whether to keep it.",
            );
    }
    ui.add_space(8.0);
    let week_secs = chosen
        .as_deref()
        .and_then(|id| snapshot.contract(id))
        .map(|c| {
            let running = match &snapshot.tracking {
                Some(t) if t.contract_id == c.contract.id => snapshot.running_secs(now),
                _ => 0,
            };
            (c, c.week_logged_secs + running)
        });
    egui::Grid::new("totals")
        .num_columns(2)
        .spacing([24.0, 6.0])
        .show(ui, |ui| {
            ui.label("Today, all contracts");
            ui.label(RichText::new(hms(snapshot.today_total_secs(now))).monospace());
            ui.end_row();
            if let Some((c, secs)) = week_secs {
                ui.label(format!("This week, {}", c.contract.title));
                let limit = c
                    .limit_secs
                    .map(|l| format!(" of {}", timecard_core::fmt::format_hours(l)))
                    .unwrap_or_default();
                ui.label(RichText::new(format!("{}{limit}", hms(secs))).monospace());
                ui.end_row();
                if !c.counts_toward_hours {
                    ui.label("");
                    ui.label(
                        RichText::new("Fixed-price: logged, but not counted in your hourly totals")
                            .small()
                            .color(theme::WARN),
                    );
                    ui.end_row();
                }
            }
        });

    ui.add_space(8.0);
    ui.label("What are you working on?");
    let memo = ui.add(
        egui::TextEdit::singleline(&mut state.memo)
            .hint_text("e.g. Invoice export API")
            .desired_width(f32::INFINITY),
    );
    if memo.changed() {
        intents.push(Intent::Worker(Command::SetMemo(state.memo.clone())));
    }
    // R14: what the clients disputed or decided, under the day's work.
    super::disputes::tracker_ui(ui, snapshot, now, zone, intents);

    ui.add_space(8.0);
    ui.label(RichText::new("Last screenshot").strong());
    match &snapshot.last_screenshot {
        Some((taken_at, thumbnail)) => {
            if state.thumbnail.as_ref().is_none_or(|(t, _)| t != taken_at) {
                // A 320-pixel JPEG: decoded once per new screenshot.
                state.thumbnail = image::load_from_memory(thumbnail).ok().map(|picture| {
                    let rgba = picture.to_rgba8();
                    let size = [rgba.width() as usize, rgba.height() as usize];
                    let colour = egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw());
                    (
                        *taken_at,
                        ui.ctx().load_texture(
                            "last-screenshot",
                            colour,
                            egui::TextureOptions::LINEAR,
                        ),
                    )
                });
            }
            if let Some((_, texture)) = &state.thumbnail {
                ui.add(
                    egui::Image::new(texture)
                        .max_width(320.0)
                        .corner_radius(4.0)
                        .alt_text("The last screenshot"),
                );
            }
            ui.label(
                RichText::new(format!(
                    "Taken at {}",
                    taken_at.with_timezone(&zone).format("%H:%M:%S")
                ))
                .small()
                .color(theme::MUTED),
            );
        }
        None => {
            ui.label(RichText::new("No screenshot yet.").color(theme::MUTED));
        }
    }
}
