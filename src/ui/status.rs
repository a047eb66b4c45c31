//! The sync status line (K5), always visible, and the banners above every
//! screen: why tracking stopped, cache full (K2), lock deadline (K6), clock
//! skew (Y4) and errors. (Notices are a toast: `notice.rs`.)

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use egui::{Color32, RichText};

use super::{Intent, theme};
use timecard_client::sync::SyncState;
use timecard_client::worker::{LockRisk, Snapshot};

/// The bottom line. The summary wraps rather than run off a narrow window
/// (an error and the next try can be long); the server's address, at the
/// right, is shortened first.
pub fn status_bar_ui(ui: &mut egui::Ui, snapshot: &Snapshot, now: DateTime<Utc>, zone: Tz) {
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
        let server = if snapshot.sync.local_only {
            "this computer".to_owned()
        } else {
            snapshot.sync.server.clone()
        };
        ui.set_max_width(ui.available_width());
        let width = (ui.available_width() * 0.3).max(40.0);
        ui.scope(|ui| {
            ui.set_max_width(width);
            ui.add(egui::Label::new(RichText::new(server).small().color(theme::MUTED)).truncate())
                .on_hover_text(&snapshot.sync.server);
        });
        ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
            let code = snapshot.sync_code();
            theme::dot(ui, theme::sync_colour(code), &format!("Sync state: {code}"));
            if let SyncState::Uploading { left, total } = snapshot.sync.state {
                let done = total.saturating_sub(left);
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .desired_width(120.0)
                        .corner_radius(theme::BAR_RADIUS)
                        .text(format!("{done} of {total}")),
                );
            }
            ui.add(egui::Label::new(snapshot.sync_summary(now, zone)).wrap());
            // Nothing unsent looks sent: what is not on the server yet, and why.
            if let Some(unsent) = snapshot.unsent_line() {
                ui.add(egui::Label::new(RichText::new(unsent).color(theme::NOT_YET)).wrap());
            }
        });
    });
}

/// With no server configured: says the time stays on this computer, and
/// offers the way to a real server.
pub fn local_only_note_ui(ui: &mut egui::Ui, snapshot: &Snapshot, intents: &mut Vec<Intent>) {
    if !snapshot.sync.local_only {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "{}: your time is kept on this computer only.",
                timecard_client::worker::snapshot::LOCAL_ONLY
            ))
            .color(theme::WARN),
        );
        if ui.button("Use my organisation's server…").clicked() {
            intents.push(Intent::OpenSignIn);
        }
    });
}

fn banner(ui: &mut egui::Ui, colour: Color32, text: impl Into<String>) {
    egui::Frame::new()
        .fill(colour.gamma_multiply(0.15))
        .stroke(egui::Stroke::new(1.0, colour))
        .corner_radius(6.0)
        .inner_margin(8.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(text.into());
        });
}

pub fn banners_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    zone: Tz,
    intents: &mut Vec<Intent>,
) {
    if let (None, Some((when, reason))) = (&snapshot.tracking, &snapshot.stopped) {
        banner(
            ui,
            theme::WARN,
            format!(
                "Tracking stopped at {}: {reason}",
                when.with_timezone(&zone).format("%H:%M")
            ),
        );
    }
    if snapshot.cache.full {
        banner(
            ui,
            theme::BAD,
            "The offline cache is full: tracking cannot start until the cached time is uploaded. Check the connection on the Cache screen.",
        );
    }
    if let (Some(risk), Some(deadline)) = (snapshot.lock_risk(now), snapshot.lock_deadline) {
        let when = deadline.with_timezone(&zone).format("%a %-d %b %H:%M");
        let text = match risk {
            LockRisk::Locked => format!(
                "The week locked on {when} with time still cached: it can no longer be uploaded."
            ),
            LockRisk::Hour => format!(
                "Less than an hour left: cached time must be uploaded before the week locks ({when})."
            ),
            LockRisk::Day => {
                format!("Cached time must be uploaded before the week locks on {when}.")
            }
        };
        banner(
            ui,
            if risk == LockRisk::Day {
                theme::WARN
            } else {
                theme::BAD
            },
            text,
        );
    }
    if let Some(warning) = snapshot.clock_warning() {
        banner(ui, theme::WARN, warning);
    }
    if let Some(error) = &snapshot.last_error {
        banner(ui, theme::BAD, error.clone());
    }
    // Y7: the trusted certificate changed; the status line says so, and
    // signing in again is where a replaced one is trusted.
    if let SyncState::Caching { last_error, .. } = &snapshot.sync.state
        && last_error.starts_with(timecard_client::sync::error::CERTIFICATE_CHANGED)
    {
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(format!(
                    "{}: nothing is sent to it, time is cached here.",
                    timecard_client::sync::error::CERTIFICATE_CHANGED
                ))
                .color(theme::BAD),
            );
            if ui.button("Sign in again…").clicked() {
                intents.push(Intent::OpenSignIn);
            }
        });
    }
    if let SyncState::SignedOut { reason } = &snapshot.sync.state {
        ui.horizontal(|ui| {
            banner(ui, theme::WARN, sentence(reason));
        });
        if ui.button("Sign in from Settings").clicked() {
            intents.push(Intent::OpenSignIn);
        }
    }
}

/// `reason` as a sentence of the window: a capital first letter and a
/// full stop ("not signed in: …" → "Not signed in: ….").
fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}
