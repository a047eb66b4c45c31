//! R8 in the window: *Add time by hand…* on a contract whose terms allow
//! it. The form takes a day and two times in the user's zone, as the
//! command line's `timecard manual` and the web form do; the server judges
//! the span (limits, locked weeks, overlaps, the future) and the answer
//! comes back as a message.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use egui::RichText;

use super::{Intent, theme};
use timecard_client::worker::Command;
use timecard_core::protocol::ManualTime;

/// The form while it is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualForm {
    pub contract_id: String,
    pub contract_title: String,
    /// `YYYY-MM-DD`, today by default.
    pub date: String,
    /// `HH:MM`.
    pub from: String,
    /// `HH:MM` (earlier than `from`: the next day).
    pub to: String,
    pub memo: String,
    /// What is wrong with the input, said beside the form.
    pub problem: Option<String>,
}

impl ManualForm {
    pub fn new(contract_id: &str, contract_title: &str, now: DateTime<Utc>, zone: Tz) -> Self {
        ManualForm {
            contract_id: contract_id.to_owned(),
            contract_title: contract_title.to_owned(),
            date: now.with_timezone(&zone).format("%Y-%m-%d").to_string(),
            from: String::new(),
            to: String::new(),
            memo: String::new(),
            problem: None,
        }
    }

    /// The request, or what to correct in words.
    pub fn request(&self, zone: Tz) -> Result<ManualTime, String> {
        let day = self.date.trim();
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|_| format!("Day: write it as YYYY-MM-DD, e.g. 2026-11-25 (not {day:?})"))?;
        for (field, time) in [("From", &self.from), ("To", &self.to)] {
            chrono::NaiveTime::parse_from_str(time.trim(), "%H:%M")
                .map_err(|_| format!("{field}: write the time as HH:MM, e.g. 09:30"))?;
        }
        let from = format!("{day} {}", self.from.trim());
        let (start, end) = timecard_core::domain::parse_local_span(&from, &self.to, zone).map_err(
            |(field, problem)| {
                let field = if field == "from" { "From" } else { "To" };
                format!("{field}: {problem}")
            },
        )?;
        Ok(ManualTime {
            contract_id: self.contract_id.clone(),
            start,
            end,
            memo: self.memo.trim().to_owned(),
        })
    }
}

/// Draws the form while one is open; *Add* sends it to the server through
/// the worker (the answer is a message), *Cancel* closes it.
pub fn manual_ui(
    ctx: &egui::Context,
    form: &mut Option<ManualForm>,
    zone: Tz,
    intents: &mut Vec<Intent>,
) {
    let Some(open) = form.as_mut() else { return };
    let mut close = false;
    let modal = egui::Modal::new(egui::Id::unique("manual-time")).show(ctx, |ui| {
        ui.set_max_width(440.0);
        ui.heading("Add time by hand");
        ui.label(format!(
            "{}: time you worked away from the tracker. It is marked as added by hand, \
             without screenshots or activity.",
            open.contract_title
        ));
        egui::Grid::new("manual-fields")
            .num_columns(2)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                for (label, value, hint) in [
                    ("Day", &mut open.date, "YYYY-MM-DD"),
                    ("From", &mut open.from, "HH:MM"),
                    ("To", &mut open.to, "HH:MM"),
                ] {
                    let name = ui.label(label);
                    ui.add(
                        egui::TextEdit::singleline(value)
                            .hint_text(hint)
                            .desired_width(140.0),
                    )
                    .labelled_by(name.id);
                    ui.end_row();
                }
                let name = ui.label("What you worked on");
                ui.add(egui::TextEdit::singleline(&mut open.memo).desired_width(260.0))
                    .labelled_by(name.id);
                ui.end_row();
            });
        ui.label(
            RichText::new(format!(
                "Times in {zone}. A “To” earlier than “From” ends the next day."
            ))
            .small()
            .color(theme::MUTED),
        );
        if let Some(problem) = &open.problem {
            ui.label(RichText::new(problem).color(theme::BAD));
        }
        ui.horizontal(|ui| {
            if ui.button("Add").clicked() {
                match open.request(zone) {
                    Ok(request) => {
                        intents.push(Intent::Worker(Command::AddManual(request)));
                        close = true;
                    }
                    Err(problem) => open.problem = Some(problem),
                }
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
    });
    if close || modal.should_close() {
        *form = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(date: &str, from: &str, to: &str) -> ManualForm {
        ManualForm {
            date: date.into(),
            from: from.into(),
            to: to.into(),
            ..ManualForm::new("c1", "Backend", Utc::now(), Tz::UTC)
        }
    }

    #[test]
    fn a_span_is_read_in_the_users_zone_and_mistakes_name_their_field() {
        let request = form("2026-11-25", "09:00", "10:30")
            .request(chrono_tz::Europe::Berlin)
            .unwrap();
        assert_eq!(request.start.to_rfc3339(), "2026-11-25T08:00:00+00:00");
        assert_eq!(request.end.to_rfc3339(), "2026-11-25T09:30:00+00:00");
        let overnight = form("2026-11-25", "23:00", "01:00")
            .request(Tz::UTC)
            .unwrap();
        assert_eq!((overnight.end - overnight.start).num_hours(), 2);
        let bad = form("25.11.2026", "09:00", "10:00").request(Tz::UTC);
        assert!(bad.unwrap_err().starts_with("Day: "));
        let bad = form("2026-11-25", "9h", "10:00").request(Tz::UTC);
        assert!(bad.unwrap_err().starts_with("From: "));
        let bad = form("2026-11-25", "09:00", "09:00").request(Tz::UTC);
        assert_eq!(bad.unwrap_err(), "To: the end must come after the start");
    }
}
