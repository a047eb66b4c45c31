//! The contracts screen: weekly-limit meters (W2, W3), fixed-price notes
//! (C6), non-trackable contracts greyed with their reason (C4), Refresh (C5),
//! the client's disputes (R14).

use chrono::{DateTime, Utc};
use egui::RichText;

use super::{Intent, theme};
use timecard_client::sync::SyncState;
use timecard_client::worker::{Command, ContractView, Snapshot};
use timecard_core::fmt::format_hours;
use timecard_core::fmt::hms;

pub fn contracts_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    manual: &mut Option<super::manual::ManualForm>,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
    intents: &mut Vec<Intent>,
) {
    ui.horizontal(|ui| {
        ui.heading("Contracts");
        if ui.button("Refresh").clicked() {
            intents.push(Intent::Worker(Command::Refresh));
        }
        // Online, the list is checked every minute; an unchanged list is
        // not sent again (R14), so the time it last came in full says
        // nothing about how current it is.
        let checked = matches!(
            snapshot.sync.state,
            SyncState::Online | SyncState::Uploading { .. }
        );
        let updated = match snapshot.sync.contracts_refreshed_at {
            Some(_) if checked => "up to date, checked every minute".to_owned(),
            Some(t) => match (now - t).num_minutes() {
                0 => "updated just now".to_owned(),
                1 => "updated 1 min ago".to_owned(),
                n => format!("updated {n} min ago"),
            },
            // Offline at start: the list kept from the last session.
            None if !snapshot.contracts.is_empty() => {
                "the list from your last session, not updated yet".to_owned()
            }
            None => "not updated yet".to_owned(),
        };
        ui.label(RichText::new(updated).color(theme::MUTED));
    });
    if snapshot.contracts.is_empty() {
        ui.label("No contracts yet: they appear once the server answers.");
    }
    for c in &snapshot.contracts {
        contract_card_ui(ui, snapshot, c, now, zone, intents);
        if c.manual_time && c.contract.status != timecard_core::domain::ContractStatus::Ended {
            let add = ui
                .button(format!("Add time by hand to {}…", c.contract.title))
                .on_hover_text("Time you worked away from the tracker");
            if add.clicked() {
                *manual = Some(super::manual::ManualForm::new(
                    &c.contract.id,
                    &c.contract.title,
                    now,
                    zone,
                ));
            }
        }
    }
}

fn contract_card_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    c: &ContractView,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
    intents: &mut Vec<Intent>,
) {
    egui::Frame::group(ui.style()).inner_margin(10.0).show(ui, |ui| {
        ui.set_width(ui.available_width());
        let title = RichText::new(format!("{} — {}", c.contract.title, c.contract.client)).strong();
        ui.label(if c.trackable { title } else { title.color(theme::MUTED) });
        let kind = if c.counts_toward_hours { "Hourly" } else { "Fixed-price" };
        let today = snapshot.today_secs.get(&c.contract.id).copied().unwrap_or(0)
            + match &snapshot.tracking {
                Some(t) if t.contract_id == c.contract.id => snapshot.running_secs(now),
                _ => 0,
            };
        ui.label(RichText::new(format!("{kind} · today {}", hms(today))).small());
        if let Some(reason) = &c.reason {
            ui.label(RichText::new(format!("Cannot be tracked: {reason}")).color(theme::MUTED));
        }
        if !c.counts_toward_hours {
            ui.label(
                RichText::new("Fixed-price: the time is logged, but not counted in your hourly totals or weekly limits.")
                    .small()
                    .color(theme::WARN),
            );
        }
        let running = match &snapshot.tracking {
            Some(t) if t.contract_id == c.contract.id => snapshot.running_secs(now),
            _ => 0,
        };
        let logged = c.week_logged_secs + running;
        match c.limit_secs {
            Some(limit) => {
                let fraction = logged as f32 / limit.max(1) as f32;
                let colour = if fraction >= 1.0 {
                    theme::BAD
                } else if fraction >= 0.8 {
                    theme::WARN
                } else {
                    theme::OK
                };
                ui.add(
                    egui::ProgressBar::new(fraction.min(1.0))
            .corner_radius(theme::BAR_RADIUS)
                        .fill(colour)
                        .text(format!("{} of {} this week", hms(logged), format_hours(limit))),
                );
            }
            None if c.counts_toward_hours => {
                ui.label(format!("{} this week, no weekly limit", hms(logged)));
            }
            None => {
                ui.label(format!("{} this week", hms(logged)));
            }
        }
        if let Some(note) = &c.pending_limit_note {
            ui.label(RichText::new(note).small().color(theme::WARN));
        }
        if !c.disputes.is_empty() {
            ui.add_space(6.0);
        }
        // R14: each dispute a block of its own, with the day's web page.
        for d in &c.disputes {
            super::disputes::block_ui(ui, snapshot, c, d, zone, false, intents);
        }
    });
}
