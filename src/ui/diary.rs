//! The Work Diary (T1, S4, B1, B2): one day in a chosen time zone, hours
//! down the side (23 or 25 across a daylight-saving change), cells on the
//! server's grid with every segment of each drawn side by side, the day's
//! total as the server bills it and, on a line of its own, the time not
//! uploaded yet (cached, and the segment being recorded), and deleting a
//! segment with confirmation. The day comes from the sync thread, which
//! answers this screen's request (and sends the day again when it
//! changes); a segment's full screenshot is fetched (and decoded, by the
//! sync thread) when its window opens.

use std::collections::HashMap;
use std::sync::mpsc::Receiver;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use egui::{Color32, RichText, Sense, Stroke};

use super::{Intent, theme};
use timecard_client::sync::{DiaryReply, DiaryUpdate, PictureReply};
use timecard_client::worker::{CellPicture, Command, Snapshot};
use timecard_core::domain::billing::{self, Billable, Totals};
use timecard_core::domain::{Activity, LocalDay, ReviewMark, SegmentId};
use timecard_core::fmt::hms;
use timecard_core::protocol::DiaryResponse;

/// The Work Diary's own state.
pub struct DiaryState {
    pub date: NaiveDate,
    pub zone: Tz,
    /// The zone field as typed.
    pub zone_text: String,
    pub zone_error: Option<String>,
    pub selected: Option<SegmentId>,
    pub confirm_delete: Option<SegmentId>,
    /// The day as the server last sent it (its date and zone, and the day
    /// or why it could not be loaded).
    pub loaded: Option<(NaiveDate, String, Result<DiaryResponse, String>)>,
    /// The loaded day's thumbnails, decoded by the sync thread.
    pub pictures: HashMap<SegmentId, CellPicture>,
    /// How many times a day arrived (a reload of the same day too).
    pub loads: u64,
    /// What the sync thread sends for the day asked for last.
    inbox: Option<Receiver<DiaryUpdate>>,
    /// Thumbnails uploaded as textures, by segment.
    textures: HashMap<SegmentId, egui::TextureHandle>,
    /// The selected segment's full screenshot, as it loads.
    full: Option<(SegmentId, FullPicture)>,
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
            loaded: None,
            pictures: HashMap::new(),
            loads: 0,
            inbox: None,
            textures: HashMap::new(),
            full: None,
            scrolled_for: None,
        }
    }

    /// A fresh inbox for the day now on screen; the sync thread answers
    /// the returned reply, which wakes the window.
    pub fn ask(&mut self, ctx: &egui::Context) -> DiaryReply {
        let (tx, rx) = std::sync::mpsc::channel();
        self.inbox = Some(rx);
        let ctx = ctx.clone();
        DiaryReply::new(move |update| {
            let _ = tx.send(update);
            ctx.request_repaint();
        })
    }

    /// Takes in what the sync thread sent. Pictures stay from one good
    /// load of a day to the next of the same day; otherwise they go.
    pub fn receive(&mut self) {
        let Some(inbox) = &self.inbox else {
            return;
        };
        while let Ok(update) = inbox.try_recv() {
            match update {
                DiaryUpdate::Day { date, tz, result } => {
                    let same_day = matches!(&self.loaded,
                        Some((d, z, Ok(_))) if *d == date && *z == tz);
                    if !(same_day && result.is_ok()) {
                        self.pictures.clear();
                    }
                    self.loaded = Some((date, tz, result));
                    self.loads += 1;
                }
                DiaryUpdate::Pictures(pictures) => self.pictures.extend(pictures),
            }
        }
    }

    /// The loaded day, if it is the one on screen.
    pub fn day(&self) -> Option<&Result<DiaryResponse, String>> {
        match &self.loaded {
            Some((date, tz, result)) if *date == self.date && tz == self.zone.name() => {
                Some(result)
            }
            _ => None,
        }
    }
}

/// A segment's full screenshot: asked for, shown, or why not.
enum FullPicture {
    Loading(Receiver<Result<CellPicture, String>>),
    Ready(egui::TextureHandle),
    Failed(String),
}

/// A cell at its widest: room for a 96×54 thumbnail and the activity bar.
/// Narrower windows get narrower cells, down to `CELL_MIN_W`.
const CELL_W: f32 = 102.0;
const CELL_MIN_W: f32 = 56.0;
const CELL_H: f32 = 65.0;
/// The space between cells and between the hour and the first cell.
const GAP: f32 = 4.0;
/// Segments drawn side by side in one cell; beyond, the last place says
/// how many more there are (and opens the first of them: the segment
/// window steps through the rest).
const SIDE_BY_SIDE: usize = 4;

/// Where a cell's segment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CellKind {
    /// On the server.
    Uploaded,
    /// In the cache, not uploaded yet.
    Cached,
    /// Being recorded now (the tracker's current segment).
    InProgress,
}

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
    has_screenshot: bool,
    kind: CellKind,
    /// Added by hand on the server (R8).
    manual: bool,
    /// The client's dispute, in words (R9).
    dispute: Option<String>,
    review: ReviewMark,
}

impl Billable for Cell {
    fn contract_id(&self) -> &str {
        &self.contract_id
    }
    fn start(&self) -> DateTime<Utc> {
        self.start
    }
    fn end(&self) -> DateTime<Utc> {
        self.end
    }
    fn is_manual(&self) -> bool {
        self.manual
    }
    fn review(&self) -> ReviewMark {
        self.review
    }
}

pub fn diary_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    state: &mut DiaryState,
    now: DateTime<Utc>,
    intents: &mut Vec<Intent>,
) {
    ui.heading("Work Diary");
    ui.horizontal_wrapped(|ui| {
        if ui.button("Previous day").clicked() {
            state.date -= Duration::days(1);
            intents.push(Intent::LoadDiary);
        }
        // The date in a fixed width: the buttons around it stay put from
        // one day to the next ("Friday 1 May" / "Wednesday 30 September").
        let date = RichText::new(state.date.format("%A %-d %B %Y").to_string()).strong();
        let widest = RichText::new("Wednesday 30 September 2026").strong();
        let width = egui::WidgetText::from(widest)
            .into_galley(
                ui,
                Some(egui::TextWrapMode::Extend),
                f32::INFINITY,
                egui::TextStyle::Body,
            )
            .size()
            .x;
        ui.add_sized(
            [width + 8.0, ui.spacing().interact_size.y],
            egui::Label::new(date),
        );
        if ui.button("Next day").clicked() {
            state.date += Duration::days(1);
            intents.push(Intent::LoadDiary);
        }
        if ui.button("Today").clicked() {
            state.date = LocalDay::containing(now, state.zone).date;
            intents.push(Intent::LoadDiary);
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("Time zone");
        let field = ui.add(egui::TextEdit::singleline(&mut state.zone_text).desired_width(160.0));
        let mut apply = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Show").clicked() {
            apply = true;
        }
        if ui.button("UTC").clicked() {
            state.zone_text = "UTC".into();
            apply = true;
        }
        if ui.button("System zone").clicked() {
            state.zone_text = timecard_client::settings::system_zone()
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

    state.receive();
    let day = LocalDay::new(state.date, state.zone);
    let hours = day.len_secs() / 3600;
    // Held here while the frame draws (the state is borrowed mutably),
    // and put back at the end.
    let held = state.loaded.take();
    let this_day = held
        .as_ref()
        .filter(|(date, tz, _)| *date == state.date && tz == state.zone.name())
        .map(|(_, _, result)| result);
    let diary = match this_day {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            ui.add(
                egui::Label::new(
                    RichText::new(format!("The diary could not be loaded: {e}")).color(theme::BAD),
                )
                .wrap(),
            );
            None
        }
        None => {
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

    let cells = day_cells(snapshot, diary, day, now);
    // Thumbnails become textures once; those of another day are dropped.
    state
        .textures
        .retain(|id, _| state.pictures.contains_key(id));
    for (id, picture) in &state.pictures {
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
    let failed = matches!(this_day, Some(Err(_)));
    totals_ui(ui, snapshot, &cells, day, failed);

    // Scroll to the first logged hour (today with nothing logged: the
    // current hour) rather than midnight: once per day shown, and again if a
    // load brings an earlier first segment.
    let loaded = diary.is_some() || failed;
    let first = cells
        .iter()
        .filter(|c| c.kind != CellKind::InProgress)
        .map(|c| c.start.max(day.start()))
        .min();
    let key = Some((state.date, state.zone, first));
    let scroll_to = if loaded && state.scrolled_for != key {
        state.scrolled_for = key;
        first.or_else(|| day.contains(now).then_some(now))
    } else {
        None
    };

    // B2: cells on the server's grid (ten minutes unless it says
    // otherwise), every segment in the cell where it starts.
    let grid = diary.map_or(timecard_core::domain::grid::DEFAULT_SEGMENT_SECS, |d| {
        d.segment_secs
    });
    let cell_secs = billing::cell_secs(grid);
    let rows = billing::lay_out_day(day, &cells, cell_secs);
    let per_row = (3600 / cell_secs) as usize;

    // The hour labels' column fits the widest of them; the cells share
    // what is left, up to their full size.
    let labels: Vec<String> = rows
        .iter()
        .map(|row| {
            let local = row.start.with_timezone(&state.zone);
            if hours == 24 {
                local.format("%H:%M").to_string()
            } else {
                local.format("%H:%M %Z").to_string()
            }
        })
        .collect();
    let hour_w = labels
        .iter()
        .map(|label| {
            egui::WidgetText::from(RichText::new(label).monospace())
                .into_galley(
                    ui,
                    Some(egui::TextWrapMode::Extend),
                    f32::INFINITY,
                    egui::TextStyle::Monospace,
                )
                .size()
                .x
        })
        .fold(0.0, f32::max);
    let columns = per_row as f32;
    let cell_w = ((ui.available_width() - hour_w - (columns + 1.0) * GAP) / columns)
        .clamp(CELL_MIN_W, CELL_W * 6.0 / columns);
    let cell_size = egui::vec2(cell_w, CELL_H * cell_w.min(CELL_W) / CELL_W);

    // The minutes above the columns stay in view, like the controls.
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = GAP;
        ui.add_space(hour_w);
        for k in 0..per_row {
            ui.add_sized(
                [cell_size.x, ui.spacing().interact_size.y],
                egui::Label::new(
                    RichText::new(format!(":{:02}", k as i64 * cell_secs / 60))
                        .monospace()
                        .color(theme::MUTED),
                ),
            );
        }
    });

    // The day scrolls under them.
    egui::ScrollArea::vertical()
        .id_salt("diary-day")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.spacing_mut().item_spacing = egui::vec2(GAP, GAP);
            for (row, label) in rows.iter().zip(&labels) {
                ui.horizontal(|ui| {
                    let hour = ui.add_sized(
                        [hour_w, cell_size.y],
                        egui::Label::new(RichText::new(label).monospace()),
                    );
                    if scroll_to
                        .is_some_and(|t| t >= row.start && t < row.start + Duration::hours(1))
                    {
                        // At once, not animated: the day opens there.
                        ui.scroll_to_rect_animation(
                            hour.rect,
                            Some(egui::Align::Center),
                            egui::style::ScrollAnimation::none(),
                        );
                    }
                    for (k, items) in row.cells.iter().enumerate() {
                        let here: Vec<&Cell> = items.iter().map(|&i| &cells[i]).collect();
                        let from = row.cell_span(k, cell_secs).0;
                        if let Some(id) = cell_ui(ui, snapshot, &here, from, cell_size, state) {
                            select(ui.ctx(), &cells, id, state, intents);
                        }
                    }
                });
            }
        });

    if let Some(cell) = state
        .selected
        .and_then(|id| cells.iter().find(|c| c.id == id))
    {
        let locked = diary.is_some_and(|d| d.locked) && cell.kind == CellKind::Uploaded;
        // Every segment of the day is one step away from the next.
        let mut order: Vec<&Cell> = cells
            .iter()
            .filter(|c| c.kind != CellKind::InProgress)
            .collect();
        order.sort_by_key(|c| (c.start, c.id.0));
        let at = order.iter().position(|c| c.id == cell.id);
        let neighbours = (
            at.and_then(|i| i.checked_sub(1)).map(|i| order[i].id),
            at.and_then(|i| order.get(i + 1)).map(|c| c.id),
        );
        if let Some(id) = segment_window_ui(ui.ctx(), snapshot, cell, locked, neighbours, state) {
            select(ui.ctx(), &cells, id, state, intents);
        }
    }
    if let Some(id) = state.confirm_delete {
        let secs = cells
            .iter()
            .find(|c| c.id == id)
            .map_or(0, |c| (c.end - c.start).num_seconds());
        confirm_delete_ui(ui.ctx(), id, secs, state, intents);
    }
    state.loaded = held;
}

/// The day's segments: those on the server, those still cached (once each:
/// a segment just uploaded can be in both for a moment), and the one being
/// recorded.
fn day_cells(
    snapshot: &Snapshot,
    diary: Option<&DiaryResponse>,
    day: LocalDay,
    now: DateTime<Utc>,
) -> Vec<Cell> {
    let mut cells: Vec<Cell> = diary
        .map(|d| {
            d.segments
                .iter()
                .map(|s| Cell {
                    id: s.id,
                    contract_id: s.contract_id.clone(),
                    start: s.start,
                    end: s.end,
                    activity: (!s.manual).then_some(s.activity),
                    memo: s.memo.clone(),
                    capture_note: s.capture_note.clone(),
                    has_screenshot: s.has_screenshot,
                    kind: CellKind::Uploaded,
                    manual: s.manual,
                    dispute: s.dispute.clone(),
                    review: s.review,
                })
                .collect()
        })
        .unwrap_or_default();
    let uploaded: std::collections::HashSet<SegmentId> = cells.iter().map(|c| c.id).collect();
    cells.extend(
        snapshot
            .cache
            .pending
            .iter()
            .filter(|e| e.start < day.end() && e.end > day.start() && !uploaded.contains(&e.id))
            .map(|e| Cell {
                id: e.id,
                contract_id: e.contract_id.clone(),
                start: e.start,
                end: e.end,
                activity: None,
                memo: String::new(),
                capture_note: e.capture_note.clone(),
                has_screenshot: e.has_screenshot,
                kind: CellKind::Cached,
                manual: false,
                dispute: None,
                review: ReviewMark::None,
            }),
    );
    if let Some(t) = &snapshot.tracking {
        let (start, end) = (t.segment_start, now.max(t.segment_start));
        if start < day.end() && end > day.start() {
            cells.push(Cell {
                id: SegmentId(uuid::Uuid::nil()),
                contract_id: t.contract_id.clone(),
                start,
                end,
                activity: None,
                memo: t.memo.clone(),
                capture_note: None,
                has_screenshot: false,
                kind: CellKind::InProgress,
                manual: false,
                dispute: None,
                review: ReviewMark::None,
            });
        }
    }
    cells
}

/// Selects a segment and asks for its full screenshot (once).
fn select(
    ctx: &egui::Context,
    cells: &[Cell],
    id: SegmentId,
    state: &mut DiaryState,
    intents: &mut Vec<Intent>,
) {
    state.selected = Some(id);
    let Some(cell) = cells.iter().find(|c| c.id == id) else {
        return;
    };
    if !cell.has_screenshot || state.full.as_ref().is_some_and(|(f, _)| *f == id) {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let waker = ctx.clone();
    let reply = PictureReply::new(move |picture| {
        let _ = tx.send(picture);
        waker.request_repaint();
    });
    state.full = Some((id, FullPicture::Loading(rx)));
    intents.push(Intent::Worker(Command::LoadScreenshot { id, reply }));
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

/// B1: the day's billable time as the server counts it, each contract's,
/// and what of it was rejected or is disputed; then, on a line of its own,
/// the time not uploaded yet (cached, and the segment being recorded).
fn totals_ui(ui: &mut egui::Ui, snapshot: &Snapshot, cells: &[Cell], day: LocalDay, failed: bool) {
    let (from, to) = (day.start(), day.end());
    let uploaded: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.kind == CellKind::Uploaded)
        .collect();
    let unsent: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.kind != CellKind::Uploaded)
        .collect();
    if uploaded.is_empty() && unsent.is_empty() {
        if !failed {
            ui.label(RichText::new("Nothing logged on this day.").color(theme::MUTED));
        }
        return;
    }
    let each = |totals: &[(String, Totals)], secs: fn(&Totals) -> i64| -> String {
        totals
            .iter()
            .map(|(id, t)| format!("{} {}", contract_title(snapshot, id), hms(secs(t))))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    if !failed {
        let per_contract = Totals::per_contract(uploaded.iter().copied(), from, to);
        let total = Totals::of(uploaded.iter().copied(), from, to);
        let mut line = format!("Day total {}", hms(total.billable_secs));
        if !per_contract.is_empty() {
            line.push_str(&format!(" — {}", each(&per_contract, |t| t.billable_secs)));
        }
        let mut notes = Vec::new();
        if total.rejected_secs > 0 {
            notes.push(format!("{} rejected, not billed", hms(total.rejected_secs)));
        }
        if total.disputed_secs > 0 {
            notes.push(format!("{} disputed", hms(total.disputed_secs)));
        }
        if !notes.is_empty() {
            line.push_str(&format!(" ({})", notes.join("; ")));
        }
        ui.label(line);
    }
    if !unsent.is_empty() {
        let per_contract = Totals::per_contract(unsent.iter().copied(), from, to);
        let total = Totals::of(unsent.iter().copied(), from, to);
        ui.label(
            RichText::new(format!(
                "{} not uploaded yet — {}",
                hms(total.worked_secs()),
                each(&per_contract, Totals::worked_secs)
            ))
            .color(theme::WARN),
        );
    }
}

/// One cell of the grid: empty, or its segments side by side, each in its
/// contract's colour with its thumbnail (or "no screenshot", or "in
/// progress") above the activity bar; a cell with more segments than fit
/// says how many more. Returns the segment clicked, if any.
fn cell_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    items: &[&Cell],
    cell_start: DateTime<Utc>,
    size: egui::Vec2,
    state: &DiaryState,
) -> Option<SegmentId> {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    if items.is_empty() {
        ui.painter_at(rect).rect_stroke(
            rect,
            4.0,
            Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color),
            egui::StrokeKind::Inside,
        );
        return None;
    }
    let more = items.len() > SIDE_BY_SIDE;
    let shown = if more { SIDE_BY_SIDE - 1 } else { items.len() };
    let places = shown + usize::from(more);
    let width = (rect.width() - (places - 1) as f32) / places as f32;
    let place = |k: usize| {
        egui::Rect::from_min_size(
            rect.min + egui::vec2(k as f32 * (width + 1.0), 0.0),
            egui::vec2(width, rect.height()),
        )
    };
    let mut clicked = None;
    for (k, cell) in items.iter().take(shown).enumerate() {
        if let Some(id) = segment_ui(ui, snapshot, cell, cell_start, place(k), state) {
            clicked = Some(id);
        }
    }
    if more {
        let rest = &items[shown..];
        let rect = place(shown);
        let id = egui::Id::unique(("diary-more", cell_start.timestamp()));
        let response = ui.interact(rect, id, Sense::click());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, ui.visuals().widgets.inactive.bg_fill);
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            format!("+{}", rest.len()),
            egui::FontId::proportional(13.0),
            ui.visuals().text_color(),
        );
        let text = format!(
            "{} more segments from {}",
            rest.len(),
            rest[0].start.with_timezone(&state.zone).format("%H:%M")
        );
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &text));
        if response.on_hover_text(&text).clicked() {
            clicked = Some(rest[0].id);
        }
    }
    clicked
}

/// One segment in its place within a cell. Returns it when it was clicked.
fn segment_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    cell: &Cell,
    cell_start: DateTime<Utc>,
    rect: egui::Rect,
    state: &DiaryState,
) -> Option<SegmentId> {
    // Keyed by the grid cell and its segment, not by its place among the
    // widgets drawn before it: a line that appears above the grid (a load,
    // a picture) must not give the cell another identity between a press
    // and its release, nor to assistive technology. (A segment can span
    // two cells.)
    let id = egui::Id::unique(("diary-cell", cell_start.timestamp(), cell.id));
    let response = ui.interact(rect, id, Sense::click());
    let painter = ui.painter_at(rect);
    let colour = contract_colour(snapshot, &cell.contract_id);
    let fill = match cell.kind {
        CellKind::Uploaded => colour.gamma_multiply(0.8),
        CellKind::Cached => colour.gamma_multiply(0.45),
        CellKind::InProgress => colour.gamma_multiply(0.2),
    };
    painter.rect_filled(rect, 4.0, fill);
    let note = |text: &str| {
        // Centred, and wrapped in a narrow cell.
        let mut job = egui::text::LayoutJob::simple(
            text.to_owned(),
            egui::FontId::proportional(11.0),
            ui.visuals().text_color(),
            rect.width() - 6.0,
        );
        job.halign = egui::Align::Center;
        let galley = painter.layout_job(job);
        let at = rect.center() - egui::vec2(0.0, 3.0 + galley.size().y / 2.0);
        painter.galley(at, galley, ui.visuals().text_color());
    };
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
    } else if cell.kind == CellKind::InProgress {
        painter.rect_stroke(
            rect,
            4.0,
            Stroke::new(1.5, colour),
            egui::StrokeKind::Inside,
        );
        note("in progress");
    } else if cell.manual {
        note("manual");
    } else if !cell.has_screenshot {
        note("no screenshot");
    }
    if cell.dispute.is_some() {
        painter.rect_stroke(
            rect,
            4.0,
            Stroke::new(2.5, theme::WARN),
            egui::StrokeKind::Inside,
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
        "Segment {}–{}, {}{}{}{}",
        cell.start.with_timezone(&state.zone).format("%H:%M"),
        cell.end.with_timezone(&state.zone).format("%H:%M"),
        contract_title(snapshot, &cell.contract_id),
        if cell.manual {
            ", added by hand"
        } else if cell.capture_note.is_some() {
            ", no screenshot"
        } else {
            ""
        },
        match &cell.dispute {
            Some(d) => format!(", {}", d.to_lowercase()),
            None => String::new(),
        },
        match cell.kind {
            CellKind::Uploaded => "",
            CellKind::Cached => ", cached",
            CellKind::InProgress => ", in progress",
        }
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &text));
    let clicked = response.on_hover_text(&text).clicked();
    (clicked && cell.kind != CellKind::InProgress).then_some(cell.id)
}

/// The selected segment: its times, activity, memo, its full screenshot as
/// large as the window allows (the thumbnail until it has loaded), the
/// day's previous and next segments, and *Delete* (unless its week is
/// `locked`). Returns the segment to show next, when one was asked for.
fn segment_window_ui(
    ctx: &egui::Context,
    snapshot: &Snapshot,
    cell: &Cell,
    locked: bool,
    (previous, next): (Option<SegmentId>, Option<SegmentId>),
    state: &mut DiaryState,
) -> Option<SegmentId> {
    let mut go = None;
    if let Some((id, FullPicture::Loading(rx))) = &state.full
        && let Ok(result) = rx.try_recv()
    {
        let loaded = match result {
            Ok(p) => FullPicture::Ready(ctx.load_texture(
                format!("diary-full-{id}"),
                egui::ColorImage::from_rgba_unmultiplied(
                    [p.width as usize, p.height as usize],
                    &p.rgba,
                ),
                egui::TextureOptions::LINEAR,
            )),
            Err(e) => FullPicture::Failed(e),
        };
        state.full = Some((*id, loaded));
    }
    let full = state.full.as_ref().filter(|(id, _)| *id == cell.id);
    // The room the window has: the picture fits it, below the text.
    let screen = ctx.content_rect();
    let max_picture = egui::vec2(
        (screen.width() - 80.0).max(200.0),
        (screen.height() - 300.0).max(120.0),
    );
    let (mut open, mut delete) = (true, false);
    egui::Window::new(contract_title(snapshot, &cell.contract_id))
        .id(egui::Id::unique("diary-segment"))
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, [0.0, 40.0])
        .show(ctx, |ui| {
            ui.label(format!(
                "{}–{} ({}){}",
                cell.start.with_timezone(&state.zone).format("%H:%M:%S"),
                cell.end.with_timezone(&state.zone).format("%H:%M:%S"),
                hms((cell.end - cell.start).num_seconds()),
                if cell.kind == CellKind::Cached {
                    " — cached, not uploaded yet"
                } else {
                    ""
                }
            ));
            if let Some(activity) = cell.activity {
                ui.label(format!("Activity {}/10", activity.level()));
            }
            if !cell.memo.is_empty() {
                ui.label(format!("Memo: {}", cell.memo));
            }
            if let Some(dispute) = &cell.dispute {
                ui.add(egui::Label::new(RichText::new(dispute).color(theme::WARN)).wrap());
            }
            if cell.manual {
                ui.label(
                    RichText::new("Added by hand: no screenshot, no activity.")
                        .color(theme::MUTED),
                );
            } else if let Some(note) = &cell.capture_note {
                ui.add(
                    egui::Label::new(
                        RichText::new(format!("No screenshot: {note}")).color(theme::WARN),
                    )
                    .wrap(),
                );
            } else if !cell.has_screenshot {
                ui.add(
                    egui::Label::new(
                        RichText::new(
                            "No screenshot: none was due before the segment ended, or screenshots are off.",
                        )
                        .color(theme::MUTED),
                    )
                    .wrap(),
                );
            }
            match full.map(|(_, f)| f) {
                Some(FullPicture::Ready(texture)) => {
                    ui.add(
                        egui::Image::new(texture)
                            .fit_to_exact_size(max_picture)
                            .maintain_aspect_ratio(true)
                            .alt_text("The segment's screenshot"),
                    );
                }
                loading_or_failed => {
                    if let Some(FullPicture::Failed(why)) = loading_or_failed {
                        ui.label(
                            RichText::new(format!("The full screenshot could not be loaded: {why}"))
                                .color(theme::WARN),
                        );
                    } else if loading_or_failed.is_some() {
                        ui.label(RichText::new("Loading the full screenshot…").color(theme::MUTED));
                    }
                    if let Some(texture) = state.textures.get(&cell.id) {
                        ui.add(
                            egui::Image::new(texture)
                                .max_width(320.0)
                                .alt_text("The segment's thumbnail"),
                        );
                    }
                }
            }
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(previous.is_some(), egui::Button::new("Previous segment"))
                    .clicked()
                {
                    go = previous;
                }
                if ui
                    .add_enabled(next.is_some(), egui::Button::new("Next segment"))
                    .clicked()
                {
                    go = next;
                }
                delete = ui
                    .add_enabled(!locked, egui::Button::new("Delete segment…"))
                    .on_disabled_hover_text(
                        "This week is locked: its segments can no longer be deleted.",
                    )
                    .clicked();
            });
        });
    if delete {
        state.confirm_delete = Some(cell.id);
    }
    if !open {
        state.selected = None;
    }
    go
}

/// S4: deleting a segment (and its time) only after saying what goes.
fn confirm_delete_ui(
    ctx: &egui::Context,
    id: SegmentId,
    secs: i64,
    state: &mut DiaryState,
    intents: &mut Vec<Intent>,
) {
    let modal = egui::Modal::new(egui::Id::unique("confirm-delete")).show(ctx, |ui| {
        ui.heading("Delete this segment?");
        ui.label(format!(
            "Its screenshot and its {} of time are removed from your Work Diary. This cannot be undone.",
            hms(secs)
        ));
        ui.horizontal(|ui| {
            let delete = egui::Button::new(RichText::new("Delete").color(egui::Color32::WHITE))
                .fill(theme::BAD);
            if ui.add(delete).clicked() {
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
