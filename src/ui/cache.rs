//! The cache screen: cached time against capacity (K2), the lock deadline of
//! the oldest cached week (K6), *Upload now*, the *Not uploaded* list and
//! *Export* (K9).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use egui::RichText;

use super::{Intent, UiState, theme};
use timecard_client::worker::{Command, Snapshot};
use timecard_core::fmt::format_hours;
use timecard_core::fmt::{count, hms};

pub fn cache_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    state: &mut UiState,
    _now: DateTime<Utc>,
    zone: Tz,
    intents: &mut Vec<Intent>,
) {
    let cache = &snapshot.cache;
    ui.heading("Offline cache");
    let fraction = cache.pending_secs as f32 / cache.capacity_secs.max(1) as f32;
    let colour = if cache.full {
        theme::BAD
    } else if fraction > 0.75 {
        theme::WARN
    } else {
        theme::ACCENT
    };
    ui.add(
        egui::ProgressBar::new(fraction.min(1.0))
            .corner_radius(theme::BAR_RADIUS)
            .fill(colour)
            .text(format!(
                "{} of {} cached, not uploaded yet",
                hms(cache.pending_secs),
                format_hours(cache.capacity_secs)
            )),
    );
    ui.label(format!(
        "{} waiting for upload",
        count(cache.pending_segments as u64, "segment", "segments")
    ));
    if let Some(deadline) = snapshot.lock_deadline {
        ui.label(format!(
            "The oldest cached week locks on {}: upload before then.",
            deadline
                .with_timezone(&zone)
                .format("%a %-d %b %Y %H:%M %Z")
        ));
    }
    if ui.button("Upload now").clicked() {
        intents.push(Intent::Worker(Command::UploadNow { tell_user: true }));
    }
    if snapshot.sync.reports_waiting > 0 {
        ui.label(format!(
            "{} waiting to be sent; they go with the next upload.",
            count(
                snapshot.sync.reports_waiting as u64,
                "problem report",
                "problem reports"
            )
        ));
    }
    if cache.quarantined_files > 0 {
        ui.label(
            RichText::new(format!(
                "{} moved to the quarantine folder (never deleted).",
                match cache.quarantined_files {
                    1 => "1 damaged cache file was".to_owned(),
                    n => format!("{n} damaged cache files were"),
                }
            ))
            .color(theme::WARN),
        );
    }

    ui.add_space(12.0);
    ui.heading("Not uploaded");
    if cache.refused.is_empty() {
        ui.label(RichText::new("Nothing was refused by the server.").color(theme::MUTED));
    }
    for r in &cache.refused {
        let title = snapshot
            .contract(&r.contract_id)
            .map_or(r.contract_id.as_str(), |c| c.contract.title.as_str());
        ui.label(format!(
            "{}  {}–{}  {}  {} — {}",
            r.start.with_timezone(&zone).format("%a %-d %b"),
            r.start.with_timezone(&zone).format("%H:%M"),
            r.end.with_timezone(&zone).format("%H:%M"),
            hms((r.end - r.start).num_seconds()),
            title,
            r.message
        ));
        ui.label(
            RichText::new(format!("What you can do: {}", refusal_advice(&r.reason)))
                .small()
                .color(theme::MUTED),
        );
    }
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        ui.label("Export to");
        ui.add(egui::TextEdit::singleline(&mut state.export_dir).desired_width(320.0));
        if ui
            .button("Export")
            .on_hover_text("Write un-uploaded and refused time to this folder")
            .clicked()
        {
            intents.push(Intent::Worker(Command::ExportCache(
                state.export_dir.clone().into(),
            )));
        }
    });
}

/// What the freelancer can do about a refused segment (K6), by reason code.
fn refusal_advice(reason: &str) -> &'static str {
    match reason {
        "contract_not_trackable" => {
            "ask the client to resume the contract; the time stays here and can be exported"
        }
        "week_locked" => {
            "the week is closed for changes; export the time and send it to the client"
        }
        "overlap" => "this time is already logged from another device; keep one of the two",
        "over_limit" => "it is above the weekly limit; ask the client to raise the limit",
        "invalid" => "the segment is damaged or wrongly dated (check this computer's clock)",
        _ => "export it and contact the server's administrator",
    }
}
