//! Messages for the user (settings saved, export done, report saved, …) as
//! a toast at the bottom right, over the screen: it never pushes the
//! screen's content down (a click aimed at a field lands on the field),
//! closes with ×, and goes by itself after [`NOTICE_SECS`].

use chrono::{DateTime, Utc};
use egui::RichText;

use timecard_client::worker::Snapshot;

/// How long a message stays, in seconds.
pub const NOTICE_SECS: i64 = 8;

/// Which message is on screen since when, and which was closed.
#[derive(Default)]
pub struct NoticeState {
    /// The message shown (its serial and text) and when it first showed.
    shown: Option<(u64, String, DateTime<Utc>)>,
    /// The last message closed or gone by itself (serial and text: a new
    /// engine counts from 1 again).
    done: Option<(u64, String)>,
}

pub fn notice_ui(
    ctx: &egui::Context,
    snapshot: &Snapshot,
    state: &mut NoticeState,
    now: DateTime<Utc>,
) {
    let Some(text) = &snapshot.notice else { return };
    let serial = snapshot.notice_serial;
    if state
        .done
        .as_ref()
        .is_some_and(|(s, t)| *s == serial && t == text)
    {
        return;
    }
    let since = match &state.shown {
        Some((s, t, since)) if *s == serial && t == text => *since,
        _ => {
            state.shown = Some((serial, text.clone(), now));
            now
        }
    };
    let left = NOTICE_SECS - (now - since).num_seconds();
    if left <= 0 {
        state.done = Some((serial, text.clone()));
        return;
    }
    ctx.request_repaint_after(std::time::Duration::from_secs(left.unsigned_abs()));
    let width = (ctx.content_rect().width() - 24.0).clamp(120.0, 440.0);
    let mut close = false;
    egui::Area::new(egui::Id::unique("notice"))
        .order(egui::Order::Foreground)
        .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -44.0])
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_max_width(width);
                ui.horizontal(|ui| {
                    close = ui
                        .add(egui::Button::new("×").frame(false))
                        .on_hover_text("Close this message")
                        .clicked();
                    ui.add(
                        egui::Label::new(RichText::new(text).color(super::theme::ACCENT)).wrap(),
                    );
                });
            });
        });
    if close {
        state.done = Some((serial, text.clone()));
    }
}
