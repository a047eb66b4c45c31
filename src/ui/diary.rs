//! The Work Diary (T1, S4): one day in a chosen time zone, hours down the
//! side (23 or 25 across a daylight-saving change), 10-minute cells with an
//! activity bar, totals per contract, deleting a segment with confirmation.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use egui::{Color32, RichText, Sense, Stroke};

use super::{Intent, theme};
use crate::cli::hms;
use crate::domain::{Activity, LocalDay, SegmentId};
use crate::worker::{Command, Snapshot};

/// The Work Diary's own state.
pub struct DiaryState {
    pub date: NaiveDate,
    pub zone: Tz,
    /// The zone field as typed.
    pub zone_text: String,
    pub zone_error: Option<String>,
    pub selected: Option<SegmentId>,
    pub confirm_delete: Option<SegmentId>,
    /// Thumbnails uploaded as textures, by segment.
    textures: HashMap<SegmentId, egui::TextureHandle>,
    /// The selected segment's larger picture.
    large: Option<(SegmentId, egui::TextureHandle)>,
    /// The day, zone and first segment the grid was last scrolled for.
    scrolled_for: Option<(NaiveDate, Tz, Option<DateTime<Utc>>)>,
}

impl DiaryState {
    pub fn new(zone: Tz, now: DateTime<Utc>) -> Self {
        DiaryState {
            date: LocalDay::containing(now, zone).date,
            zone,
            zone_text: zone.name().to_owned(),
            zone_error: None,
            selected: None,
            confirm_delete: None,
            textures: HashMap::new(),
            large: None,
            scrolled_for: None,
        }
    }
}

/// A 10-minute cell: room for a 96×54 thumbnail and the activity bar.
const CELL_W: f32 = 102.0;
const CELL_H: f32 = 65.0;

/// One segment as the diary draws it, uploaded or still cached.
struct Cell {
    id: SegmentId,
    contract_id: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    activity: Option<Activity>,
    memo: String,
    /// Why there is no screenshot, when capture failed (P2).
    capture_note: Option<String>,
    cached: bool,
}

pub fn diary_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    state: &mut DiaryState,
    now: DateTime<Utc>,
    intents: &mut Vec<Intent>,
) {
    ui.heading("Work Diary");
    ui.horizontal(|ui| {
        if ui.button("Previous day").clicked() {
            state.date -= Duration::days(1);
            intents.push(Intent::LoadDiary);
        }
        ui.label(RichText::new(state.date.format("%A %-d %B %Y").to_string()).strong());
        if ui.button("Next day").clicked() {
            state.date += Duration::days(1);
            intents.push(Intent::LoadDiary);
        }
        if ui.button("Today").clicked() {
            state.date = LocalDay::containing(now, state.zone).date;
            intents.push(Intent::LoadDiary);
        }
    });
    ui.horizontal(|ui| {
        ui.label("Time zone");
        let field = ui.add(egui::TextEdit::singleline(&mut state.zone_text).desired_width(200.0));
        let mut apply = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Show").clicked() {
            apply = true;
        }
        if ui.button("UTC").clicked() {
            state.zone_text = "UTC".into();
            apply = true;
        }
        if ui.button("System zone").clicked() {
            state.zone_text = crate::settings::system_zone()
                .unwrap_or(chrono_tz::UTC)
                .name()
                .to_owned();
            apply = true;
        }
        if apply {
            match state.zone_text.trim().parse::<Tz>() {
                Ok(zone) => {
                    state.zone = zone;
                    state.zone_error = None;
                    intents.push(Intent::LoadDiary);
                }
                Err(_) => {
                    state.zone_error = Some(format!(
                        "{:?} is not a time zone; use an IANA name such as Europe/Berlin",
                        state.zone_text
                    ))
                }
            }
        }
    });
    if let Some(error) = &state.zone_error {
        ui.label(RichText::new(error).color(theme::BAD));
    }

    let day = LocalDay::new(state.date, state.zone);
    let hours = day.len_secs() / 3600;
    let diary = match &snapshot.diary {
        Some(Ok(d)) if d.date == state.date && d.tz == state.zone.name() => Some(d),
        Some(Err(e)) => {
            ui.label(
                RichText::new(format!("The diary could not be loaded: {e}")).color(theme::BAD),
            );
            None
        }
        _ => {
            ui.label(RichText::new("Loading…").color(theme::MUTED));
            None
        }
    };
    if hours != 24 {
        ui.label(
            RichText::new(format!(
                "This day has {hours} hours (a daylight-saving change in {}).",
                state.zone.name()
            ))
            .color(theme::WARN),
        );
    }

    let mut cells: Vec<Cell> = diary
        .map(|d| {
            d.segments
                .iter()
                .map(|s| Cell {
                    id: s.id,
                    contract_id: s.contract_id.clone(),
                    start: s.start,
                    end: s.end,
                    activity: Some(s.activity),
                    memo: s.memo.clone(),
                    capture_note: s.capture_note.clone(),
                    cached: false,
                })
                .collect()
        })
        .unwrap_or_default();
    cells.extend(
        snapshot
            .cache
            .pending
            .iter()
            .filter(|e| day.contains(e.start))
            .map(|e| Cell {
                id: e.id,
                contract_id: e.contract_id.clone(),
                start: e.start,
                end: e.end,
                activity: None,
                memo: String::new(),
                capture_note: e.capture_note.clone(),
                cached: true,
            }),
    );
    // Thumbnails become textures once; those of another day are dropped.
    let pictures = &snapshot.diary_pictures;
    state.textures.retain(|id, _| pictures.contains_key(id));
    for (id, picture) in pictures.iter() {
        if !state.textures.contains_key(id) {
            let image = egui::ColorImage::from_rgba_unmultiplied(
                [picture.width as usize, picture.height as usize],
                &picture.rgba,
            );
            let texture =
                ui.ctx()
                    .load_texture(format!("diary-{id}"), image, egui::TextureOptions::LINEAR);
            state.textures.insert(*id, texture);
        }
    }

    // A failed load already says so: "nothing logged" would be a guess.
    let failed = matches!(&snapshot.diary, Some(Err(_)));
    totals_ui(ui, snapshot, &cells, day, failed);

    // Scroll to the first logged hour (today with nothing logged: the
    // current hour) rather than midnight: once per day shown, and again if a
    // load brings an earlier first segment.
    let loaded = diary.is_some() || matches!(&snapshot.diary, Some(Err(_)));
    let first = cells.iter().map(|c| c.start.max(day.start())).min();
    let key = Some((state.date, state.zone, first));
    let scroll_to = if loaded && state.scrolled_for != key {
        state.scrolled_for = key;
        first.or_else(|| day.contains(now).then_some(now))
    } else {
        None
    };

    // The controls above stay in view; the day scrolls under them.
    egui::ScrollArea::vertical()
        .id_salt("diary-day")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.add_space(6.0);
            egui::Grid::new("diary-grid")
                .spacing([4.0, 4.0])
                .show(ui, |ui| {
                    for row in day.hour_starts() {
                        let local = row.with_timezone(&state.zone);
                        let label = if hours == 24 {
                            local.format("%H:%M").to_string()
                        } else {
                            local.format("%H:%M %Z").to_string()
                        };
                        let hour = ui.label(RichText::new(label).monospace());
                        if scroll_to.is_some_and(|t| t >= row && t < row + Duration::hours(1)) {
                            // At once, not animated: the day opens there.
                            ui.scroll_to_rect_animation(
                                hour.rect,
                                Some(egui::Align::Center),
                                egui::style::ScrollAnimation::none(),
                            );
                        }
                        for k in 0..6 {
                            let from = row + Duration::minutes(10 * k);
                            let to = from + Duration::minutes(10);
                            // Several segments can share a cell (a stop and a
                            // start, a shorter grid): the one with a picture shows.
                            let mut here = cells.iter().filter(|c| c.start < to && c.end > from);
                            let found = here
                                .clone()
                                .find(|c| state.textures.contains_key(&c.id))
                                .or_else(|| here.next());
                            cell_ui(ui, snapshot, found, state);
                        }
                        ui.end_row();
                    }
                });
        });

    if let Some(cell) = state
        .selected
        .and_then(|id| cells.iter().find(|c| c.id == id))
    {
        let locked = diary.is_some_and(|d| d.locked) && !cell.cached;
        segment_window_ui(ui.ctx(), snapshot, cell, locked, state);
    }
    if let Some(id) = state.confirm_delete {
        let minutes = cells
            .iter()
            .find(|c| c.id == id)
            .map_or(0, |c| (c.end - c.start).num_minutes());
        confirm_delete_ui(ui.ctx(), id, minutes, state, intents);
    }
}

/// The colour the diary gives a contract: its place in the contract list.
fn contract_colour(snapshot: &Snapshot, contract_id: &str) -> Color32 {
    let index = snapshot
        .contracts
        .iter()
        .position(|c| c.contract.id == contract_id)
        .unwrap_or(0);
    theme::CONTRACT_COLOURS[index % theme::CONTRACT_COLOURS.len()]
}

/// A contract's title, or its id when it is no longer listed.
fn contract_title(snapshot: &Snapshot, contract_id: &str) -> String {
    snapshot
        .contract(contract_id)
        .map(|c| c.contract.title.clone())
        .unwrap_or_else(|| contract_id.to_owned())
}

/// The day's total and each contract's, in one line.
fn totals_ui(ui: &mut egui::Ui, snapshot: &Snapshot, cells: &[Cell], day: LocalDay, failed: bool) {
    let mut totals: Vec<(&str, i64)> = Vec::new();
    for c in cells {
        let secs = (c.end.min(day.end()) - c.start.max(day.start())).num_seconds();
        match totals.iter_mut().find(|(id, _)| *id == c.contract_id) {
            Some((_, total)) => *total += secs,
            None => totals.push((&c.contract_id, secs)),
        }
    }
    if totals.is_empty() {
        if !failed {
            ui.label(RichText::new("Nothing logged on this day.").color(theme::MUTED));
        }
        return;
    }
    let all: i64 = totals.iter().map(|(_, secs)| secs).sum();
    let each: Vec<String> = totals
        .iter()
        .map(|(contract_id, secs)| {
            format!("{} {}", contract_title(snapshot, contract_id), hms(*secs))
        })
        .collect();
    ui.label(format!("Day total {} — {}", hms(all), each.join(" · ")));
}

/// One 10-minute cell: empty, or a segment in its contract's colour with its
/// thumbnail (or "no screenshot") above the activity bar. Clicking selects it.
fn cell_ui(ui: &mut egui::Ui, snapshot: &Snapshot, cell: Option<&Cell>, state: &mut DiaryState) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(CELL_W, CELL_H), Sense::click());
    let painter = ui.painter_at(rect);
    let Some(cell) = cell else {
        painter.rect_stroke(
            rect,
            4.0,
            Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color),
            egui::StrokeKind::Inside,
        );
        return;
    };
    let colour = contract_colour(snapshot, &cell.contract_id);
    let fill = if cell.cached {
        colour.gamma_multiply(0.45)
    } else {
        colour.gamma_multiply(0.8)
    };
    painter.rect_filled(rect, 4.0, fill);
    if let Some(texture) = state.textures.get(&cell.id) {
        // The picture above the activity bar, framed by the contract's colour.
        let area = egui::Rect::from_min_max(
            rect.min + egui::vec2(3.0, 3.0),
            rect.max - egui::vec2(3.0, 8.0),
        );
        let size = texture.size_vec2();
        let scale = (area.width() / size.x).min(area.height() / size.y);
        let shown = egui::Rect::from_center_size(area.center(), size * scale);
        let whole = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        painter.image(texture.id(), shown, whole, Color32::WHITE);
    } else if cell.capture_note.is_some() {
        painter.text(
            rect.center() - egui::vec2(0.0, 3.0),
            egui::Align2::CENTER_CENTER,
            "no screenshot",
            egui::FontId::proportional(11.0),
            ui.visuals().text_color(),
        );
    }
    if let Some(activity) = cell.activity {
        let width = rect.width() * activity.level() as f32 / 10.0;
        let bar = egui::Rect::from_min_size(
            egui::pos2(rect.left(), rect.bottom() - 5.0),
            egui::vec2(width, 5.0),
        );
        painter.rect_filled(bar, 2.0, Color32::WHITE.gamma_multiply(0.8));
    }
    if state.selected == Some(cell.id) {
        painter.rect_stroke(
            rect,
            4.0,
            Stroke::new(2.0, ui.visuals().strong_text_color()),
            egui::StrokeKind::Inside,
        );
    }
    let text = format!(
        "Segment {}–{}, {}{}{}",
        cell.start.with_timezone(&state.zone).format("%H:%M"),
        cell.end.with_timezone(&state.zone).format("%H:%M"),
        contract_title(snapshot, &cell.contract_id),
        if cell.capture_note.is_some() {
            ", no screenshot"
        } else {
            ""
        },
        if cell.cached { ", cached" } else { "" }
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &text));
    if response.on_hover_text(&text).clicked() {
        state.selected = Some(cell.id);
    }
}

/// The selected segment: its times, activity, picture, memo, and *Delete*
/// (unless its week is `locked`).
fn segment_window_ui(
    ctx: &egui::Context,
    snapshot: &Snapshot,
    cell: &Cell,
    locked: bool,
    state: &mut DiaryState,
) {
    if state.large.as_ref().is_none_or(|(id, _)| *id != cell.id) {
        state.large = snapshot.diary_pictures.get(&cell.id).and_then(|p| {
            let image = image::load_from_memory(&p.jpeg).ok()?.to_rgba8();
            let size = [image.width() as usize, image.height() as usize];
            let texture = ctx.load_texture(
                format!("diary-large-{}", cell.id),
                egui::ColorImage::from_rgba_unmultiplied(size, image.as_raw()),
                egui::TextureOptions::LINEAR,
            );
            Some((cell.id, texture))
        });
    }
    let large = state.large.as_ref().map(|(_, t)| t.clone());
    let (mut open, mut delete) = (true, false);
    egui::Window::new(contract_title(snapshot, &cell.contract_id))
        .id(egui::Id::unique("diary-segment"))
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::RIGHT_TOP, [-12.0, 48.0])
        .show(ctx, |ui| {
            ui.label(format!(
                "{}–{} ({}){}",
                cell.start.with_timezone(&state.zone).format("%H:%M:%S"),
                cell.end.with_timezone(&state.zone).format("%H:%M:%S"),
                hms((cell.end - cell.start).num_seconds()),
                if cell.cached {
                    " — cached, not uploaded yet"
                } else {
                    ""
                }
            ));
            if let Some(activity) = cell.activity {
                ui.label(format!("Activity {}/10", activity.level()));
            }
            if let Some(note) = &cell.capture_note {
                ui.label(RichText::new(format!("No screenshot: {note}")).color(theme::WARN));
            }
            if let Some(texture) = &large {
                ui.add(
                    egui::Image::new(texture)
                        .max_width(320.0)
                        .alt_text("The segment's screenshot"),
                );
            }
            if !cell.memo.is_empty() {
                ui.label(format!("Memo: {}", cell.memo));
            }
            delete = ui
                .add_enabled(!locked, egui::Button::new("Delete segment…"))
                .on_disabled_hover_text(
                    "This week is locked: its segments can no longer be deleted.",
                )
                .clicked();
        });
    if delete {
        state.confirm_delete = Some(cell.id);
    }
    if !open {
        state.selected = None;
    }
}

/// S4: deleting a segment (and its time) only after saying what goes.
fn confirm_delete_ui(
    ctx: &egui::Context,
    id: SegmentId,
    minutes: i64,
    state: &mut DiaryState,
    intents: &mut Vec<Intent>,
) {
    let modal = egui::Modal::new(egui::Id::unique("confirm-delete")).show(ctx, |ui| {
        ui.heading("Delete this segment?");
        ui.label(format!(
            "Its screenshot and its {minutes} min of time are removed from your Work Diary. This cannot be undone."
        ));
        ui.horizontal(|ui| {
            if ui.button("Delete").clicked() {
                intents.push(Intent::Worker(Command::DeleteSegment(id)));
                state.confirm_delete = None;
                state.selected = None;
            }
            if ui.button("Cancel").clicked() {
                state.confirm_delete = None;
            }
        });
    });
    if modal.should_close() {
        state.confirm_delete = None;
    }
}
