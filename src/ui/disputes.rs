//! A client's dispute or decision as a block of its own (R14), on the
//! Tracker and Contracts screens: what happened in a sentence, the reason,
//! the answer, and a button to the day's web page where it is answered.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use egui::RichText;

use super::{Intent, theme};
use crate::disputes::{day_url, headline};
use timecard_client::worker::{ContractView, Snapshot};
use timecard_core::protocol::DisputeInfo;

/// What the Tracker screen shows, at most.
const ON_TRACKER: usize = 3;

/// How long a decided dispute stays on the Tracker screen after its
/// segment (the Contracts screen keeps every one the server lists).
const DECIDED_ON_TRACKER: Duration = Duration::days(14);

/// The disputes the Tracker screen shows: those waiting (open), and
/// decisions on the last two weeks' time, newest first.
pub fn for_tracker(snapshot: &Snapshot, now: DateTime<Utc>) -> Vec<(&ContractView, &DisputeInfo)> {
    let mut out: Vec<_> = snapshot
        .contracts
        .iter()
        .flat_map(|c| c.disputes.iter().map(move |d| (c, d)))
        .filter(|(_, d)| d.state == "open" || d.start >= now - DECIDED_ON_TRACKER)
        .collect();
    out.sort_by_key(|(_, d)| (d.state != "open", std::cmp::Reverse(d.start)));
    out
}

/// The Tracker screen's part: a block per dispute to see, then how many
/// more the Contracts screen has.
pub fn tracker_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    zone: Tz,
    intents: &mut Vec<Intent>,
) {
    let shown = for_tracker(snapshot, now);
    if shown.is_empty() {
        return;
    }
    ui.add_space(8.0);
    for (c, d) in shown.iter().take(ON_TRACKER) {
        block_ui(ui, snapshot, c, d, zone, true, intents);
    }
    let more = shown.len().saturating_sub(ON_TRACKER);
    if more > 0 {
        ui.label(format!(
            "{} on the Contracts screen.",
            match more {
                1 => "1 more dispute".to_owned(),
                n => format!("{n} more disputes"),
            }
        ));
    }
}

/// One dispute: a framed block in the colour of where it stands; with the
/// contract's title where it is not shown around it (`name_contract`).
pub fn block_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    c: &ContractView,
    d: &DisputeInfo,
    zone: Tz,
    name_contract: bool,
    intents: &mut Vec<Intent>,
) {
    let colour = match d.state.as_str() {
        "open" => theme::WARN,
        "rejected" => theme::BAD,
        _ => theme::OK,
    };
    egui::Frame::new()
        .fill(colour.gamma_multiply(0.12))
        .stroke(egui::Stroke::new(1.5, colour))
        .corner_radius(6.0)
        .inner_margin(10.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.add(
                egui::Label::new(RichText::new(headline(c, d, zone)).strong().size(15.0)).wrap(),
            );
            if d.state != "open" {
                ui.add(
                    egui::Label::new(format!("The client's reason: “{}”", d.reason.trim())).wrap(),
                );
            }
            match (&d.answer, d.state.as_str()) {
                (Some(answer), _) => {
                    ui.add(egui::Label::new(format!("Your answer: “{}”", answer.trim())).wrap());
                }
                (None, "open") => {
                    ui.label("Not answered yet: answer it on the day's web page.");
                }
                (None, _) => {}
            }
            let contract = name_contract.then(|| {
                RichText::new(format!("Contract: {}", c.contract.title)).color(theme::MUTED)
            });
            if snapshot.sync.local_only {
                if let Some(contract) = contract {
                    ui.label(contract);
                }
                ui.label(
                    RichText::new(
                        "Disputes are answered on your organisation's web dashboard; \
                         the built-in local server has none.",
                    )
                    .color(theme::MUTED),
                );
            } else {
                let url = day_url(&snapshot.sync.server, &c.contract.id, d, zone);
                ui.horizontal_wrapped(|ui| {
                    if ui
                        .button(RichText::new("Open this day in the browser").strong())
                        .on_hover_text(&url)
                        .clicked()
                    {
                        intents.push(Intent::OpenInBrowser(url));
                    }
                    if let Some(contract) = contract {
                        ui.label(contract);
                    }
                });
            }
        });
    ui.add_space(6.0);
}
