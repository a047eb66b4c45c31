//! `/contracts/ID/diary`: one local day of a contract (T1), every segment
//! in the cell where it starts (B2) with its time, activity, memo,
//! screenshot and dispute, the review forms the viewer may use on each,
//! the day's totals (B1), and time added by hand (R8).

use axum::Router;

use crate::http::guards::pages_gate;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{PageError, Place, Typed, layout, not_found, page_zone, urlencode};
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};
use crate::rules::ReviewAction;
use crate::store::Picture;
use crate::usecases;
use crate::views::{DayView, ReviewView};
use timecard_core::domain::billing::{Totals, cell_secs};
use timecard_core::domain::segment::is_plausible_day;
use timecard_core::domain::{LocalDay, ReviewMark, SegmentId};
use timecard_core::fmt::hms;
use timecard_core::protocol::DiarySegment;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/contracts/{id}/diary",
            get(diary_page).layer(axum::middleware::from_fn(pages_gate)),
        )
        .route("/contracts/{id}/manual", post(add_manual))
        .route(
            "/contracts/{id}/segments/{segment}/screenshot",
            get(screenshot).layer(axum::middleware::from_fn(pages_gate)),
        )
        .route(
            "/contracts/{id}/segments/{segment}/thumbnail",
            get(thumbnail).layer(axum::middleware::from_fn(pages_gate)),
        )
}

#[derive(Deserialize)]
struct DiaryQuery {
    date: Option<NaiveDate>,
    tz: Option<String>,
    /// Segments of the day before this page's first (pages of
    /// [`ENTRIES_PER_PAGE`]).
    skip: Option<usize>,
    /// What the last action did (`disputed`, `answered`, `kept`,
    /// `rejected`, `added`), said at the segment it was done to (`at`).
    done: Option<String>,
    at: Option<String>,
}

/// What a review step or manual time did, in the words the page shows
/// beside the segment; only these words can appear, whatever the address
/// says.
fn done_words(done: &str) -> Option<&'static str> {
    Some(match done {
        "disputed" => "Disputed. The freelancer is asked to answer.",
        "answered" => "Answer sent. The client decides whether to keep the time.",
        "kept" => "Kept: the time is billed.",
        "rejected" => "Rejected: the time is not billed.",
        "added" => "Added by hand.",
        _ => return None,
    })
}

/// The most segments one diary page shows; a day with more (thousands of
/// short segments) is shown in pages, each reachable from the others.
pub const ENTRIES_PER_PAGE: usize = 300;

/// Where a review form sends the browser back to: the diary's day and zone.
pub struct Back {
    pub date: NaiveDate,
    pub zone: Tz,
}

impl Back {
    fn fields(&self, csrf: &str) -> Markup {
        html! {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="date" value=(self.date);
            input type="hidden" name="tz" value=(self.zone.name());
        }
    }
}

/// The diary page after `done` on `segment`: back at that segment, which
/// says what happened (R13).
pub fn diary_link_after(
    contract_id: &str,
    date: Option<NaiveDate>,
    zone: Tz,
    done: &str,
    segment: &str,
) -> String {
    format!(
        "{}&done={done}&at={segment}#segment-{segment}",
        diary_link(contract_id, date, zone)
    )
}

/// The diary page of `contract_id` for `date` (none: today) in `zone`.
pub fn diary_link(contract_id: &str, date: Option<NaiveDate>, zone: Tz) -> String {
    format!(
        "/contracts/{}/diary?date={}&tz={}",
        urlencode(contract_id),
        date.map(|d| d.to_string()).unwrap_or_default(),
        urlencode(zone.name())
    )
}

async fn diary_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<DiaryQuery>,
) -> Result<Html<String>, PageError> {
    let stored = viewer.contract(&state, id).await?;
    let zone = viewer.zone(query.tz.as_deref())?;
    let now = state.clock.now();
    let date = query
        .date
        .unwrap_or_else(|| LocalDay::containing(now, zone).date);
    if !is_plausible_day(date) {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            format!("{date} is not a day this diary can show."),
        ));
    }
    let day = LocalDay::new(date, zone);
    let (config, review_secs) = (state.config, state.review_secs);
    let (contract, user) = (stored.clone(), viewer.user.clone());
    let (review, view) = blocking(&state, move |s| {
        let review = ReviewView::load(s, &contract, &user, now, review_secs)?;
        let view = DayView::of_contract(s, &contract, &review, day, now, config)?;
        Ok((review, view))
    })
    .await?;
    let c = &stored.contract;
    let base = format!("/contracts/{}", urlencode(&c.id));
    let back = Back { date, zone };
    let csrf = viewer.csrf();
    let cell = cell_secs(view.segment_secs);
    let rows = view.rows();
    let count = view.segments.len();
    let skip = query.skip.unwrap_or(0).min(count.saturating_sub(1));
    let shown = skip..(skip + ENTRIES_PER_PAGE).min(count);
    let page_link = |skip: usize| format!("{}&skip={skip}", diary_link(&c.id, Some(date), zone));
    let pages = html! {
        @if count > ENTRIES_PER_PAGE {
            nav.days.pages aria-label="Pages of this day" {
                span { "Segments " (shown.start + 1) "–" (shown.end) " of " (count) }
                @if shown.start > 0 {
                    " " a href=(page_link(shown.start.saturating_sub(ENTRIES_PER_PAGE))) { "← Earlier segments" }
                }
                @if shown.end < count {
                    " " a href=(page_link(shown.end)) { "Later segments →" }
                }
            }
        }
    };
    let done = query
        .done
        .as_deref()
        .and_then(done_words)
        .zip(query.at.as_deref());
    let first_picture = view
        .segments
        .iter()
        .enumerate()
        .find(|(i, s)| shown.contains(i) && s.has_screenshot && !s.manual)
        .map(|(_, s)| s.id);
    let hours: Vec<_> = rows
        .iter()
        .filter(|r| r.cells.iter().flatten().any(|i| shown.contains(i)))
        .collect();
    let hour_id = |start: DateTime<Utc>| format!("h-{}", start.with_timezone(&zone).format("%H%M"));
    let week = timecard_core::domain::BillingWeek::containing(day.start());
    let entries = Entries {
        base: &base,
        zone,
        review: &review,
        back: &back,
        csrf: &csrf,
        done,
        first_picture,
    };
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/contracts" { "Contracts" } " › "
            (Typed(&c.title)) " › "
            a href={ (base) "/timesheet?week=" (week.start().date_naive()) } {
                "Week of " (week.start().format("%a %-d %b"))
            } " › "
            span aria-current="page" { (date.format("%a %-d %b %Y")) }
        }
        h1 { (Typed(&c.title)) }
        p.muted data-zone=(zone.name()) { "Work Diary · " (date.format("%A %-d %B %Y")) " · " (zone.name()) }
        nav.days aria-label="Days" {
            a href=(diary_link(&c.id, date.pred_opt(), zone)) rel="prev" { "← Previous day" }
            a href=(diary_link(&c.id, date.succ_opt(), zone)) rel="next" { "Next day →" }
            form.inline method="get" action={ (base) "/diary" } {
                input type="hidden" name="date" value=(date);
                label for="tz" { "Time zone" }
                input #tz type="text" name="tz" value=(zone.name()) size="16";
                button.secondary type="submit" { "Show" }
            }
        }
        (totals_line(&view.total, view.segments.len()))
        @if view.segments.is_empty() {
            p { "No time on this day." }
        }
        @if stored.user_id == viewer.user.id && stored.terms.manual_time {
            details.manual {
                summary { "Add time by hand" }
                form.manual method="post" action={ (base) "/manual" } {
                    (back.fields(&csrf))
                    label for="from" { "From (" (zone.name()) ")" }
                    input #from type="time" name="from" required;
                    label for="to" { "To" }
                    input #to type="time" name="to" required;
                    label for="memo" { "What you worked on" }
                    input #memo type="text" name="memo" maxlength="2000";
                    button type="submit" { "Add" }
                }
            }
        }
        @if hours.len() > 1 {
            nav.hours aria-label="Hours of this day" {
                span.muted { "Jump to " }
                @for row in &hours {
                    a href={ "#" (hour_id(row.start)) } { (row.start.with_timezone(&zone).format("%H:%M")) }
                }
            }
        }
        (pages)
        @for row in &hours {
            section.hour aria-labelledby=(hour_id(row.start)) {
                h2 id=(hour_id(row.start)) { (row.start.with_timezone(&zone).format("%H:%M")) }
                div class={ "cells per-" (row.cells.len()) } {
                    @for k in 0..row.cells.len() {
                        div.heading aria-hidden="true" { (row.cell_span(k, cell).0.with_timezone(&zone).format(":%M")) }
                    }
                    @for items in &row.cells {
                        @if !items.iter().any(|i| shown.contains(i)) {
                            div.cell.empty {}
                        } @else {
                            div.cell {
                                @for &i in items.iter().filter(|i| shown.contains(i)) {
                                    (entries.entry(&view.segments[i]))
                                }
                            }
                        }
                    }
                }
            }
        }
        (pages)
    };
    Ok(layout(
        &format!("{} — Work Diary", c.title),
        Some(&viewer.header().at(Place::Contracts)),
        body,
    ))
}

/// "Day total 1:02:19 billable", then what it is made of.
fn totals_line(total: &Totals, segments: usize) -> Markup {
    let mut parts = Vec::new();
    if total.tracked_secs > 0 {
        parts.push(format!("tracked {}", hms(total.tracked_secs)));
    }
    if total.manual_secs > 0 {
        parts.push(format!("manual {}", hms(total.manual_secs)));
    }
    if total.disputed_secs > 0 {
        parts.push(format!(
            "disputed {} (billed until decided)",
            hms(total.disputed_secs)
        ));
    }
    if total.rejected_secs > 0 {
        parts.push(format!(
            "rejected {} (not billed)",
            hms(total.rejected_secs)
        ));
    }
    html! {
        p.total {
            "Day total: " strong { (hms(total.billable_secs)) } " billable"
            @if !parts.is_empty() { span.muted { " — " (parts.join(" · ")) } }
            span.muted { " · " (segments) (if segments == 1 { " segment" } else { " segments" }) }
        }
    }
}

/// What every segment of a diary page is drawn with.
struct Entries<'a> {
    base: &'a str,
    zone: Tz,
    review: &'a ReviewView,
    back: &'a Back,
    csrf: &'a str,
    /// What the last action did, and to which segment.
    done: Option<(&'static str, &'a str)>,
    /// The page's first picture: loaded at once, not when scrolled to.
    first_picture: Option<SegmentId>,
}

impl Entries<'_> {
    /// One segment in its cell: its picture (opening the viewer) or why
    /// there is none, its time, activity and memo, any dispute of it, and
    /// the review forms the viewer may use on it, each named for its time.
    fn entry(&self, s: &DiarySegment) -> Markup {
        let (base, zone, review, back, csrf) =
            (self.base, self.zone, self.review, self.back, self.csrf);
        let percent = s.activity.level() * 10;
        let local = |t: DateTime<Utc>| t.with_timezone(&zone);
        let when = format!(
            "{}–{}",
            local(s.start).format("%H:%M:%S"),
            local(s.end).format("%H:%M:%S")
        );
        let short = format!(
            "{}–{}",
            local(s.start).format("%H:%M"),
            local(s.end).format("%H:%M")
        );
        let dispute = review.dispute(s.id);
        let action = |what: &str| format!("{base}/segments/{}/{what}", s.id);
        let id = s.id.to_string();
        let done = self
            .done
            .filter(|(_, at)| *at == id)
            .map(|(words, _)| words);
        let first = self.first_picture == Some(s.id);
        html! {
            article.entry id={ "segment-" (s.id) } aria-label={ "Segment " (short) }
                .disputed[s.review == ReviewMark::Disputed]
                .rejected[s.review == ReviewMark::Rejected]
                .acted[done.is_some()] {
                @if let Some(words) = done {
                    p.notice.done role="status" { (words) }
                }
                @if s.manual {
                    div.noshot { span.badge { "manual" } " added by hand" }
                } @else if s.has_screenshot {
                    a.shot href={ (base) "/segments/" (s.id) "?tz=" (urlencode(zone.name())) } {
                        img src=(action("thumbnail")) loading=(if first { "eager" } else { "lazy" })
                            fetchpriority=[first.then_some("high")]
                            width="160" height="90" alt={ "Screenshot " (short) ", open the viewer" };
                    }
                } @else {
                    div.noshot { (s.capture_note.as_deref().unwrap_or("no screenshot")) }
                }
                div.time { (when) " · " (hms((s.end - s.start).num_seconds())) }
                @if !s.manual {
                    div.activity {
                        meter min="0" max="100" value=(percent) aria-hidden="true" {}
                        " " span { "Activity " (percent) " %" }
                    }
                }
                @if !s.memo.is_empty() { div.memo { (Typed(&s.memo)) } }
                @if let Some(d) = dispute {
                    div.dispute {
                        strong { @match s.review {
                            ReviewMark::Rejected => "Rejected",
                            ReviewMark::Kept => "Kept after a dispute",
                            _ => "Disputed",
                        } }
                        ": " (Typed(&d.reason))
                        @if let Some(answer) = &d.answer { br; em { "Answer: " } (Typed(answer)) }
                    }
                }
                @if review.may(ReviewAction::Dispute, s) {
                    form.review method="post" action=(action("dispute")) {
                        (back.fields(csrf))
                        label for={ "reason-" (s.id) } { "Reason" span.hidden { " for disputing " (short) } }
                        input id={ "reason-" (s.id) } type="text" name="note" required maxlength="500";
                        button.secondary type="submit" { "Dispute" span.hidden { " " (short) } }
                    }
                }
                @if review.may(ReviewAction::Answer, s) {
                    form.review method="post" action=(action("answer")) {
                        (back.fields(csrf))
                        label for={ "answer-" (s.id) } { "Your answer" span.hidden { " about " (short) } }
                        input id={ "answer-" (s.id) } type="text" name="note" required maxlength="500";
                        button type="submit" { "Answer" span.hidden { " about " (short) } }
                    }
                }
                @if review.may(ReviewAction::Reject, s) {
                    form.review.decide method="post" action=(action("decide")) {
                        (back.fields(csrf))
                        button.secondary type="submit" name="decision" value="keep" { "Keep the time" span.hidden { " " (short) } }
                        button.danger type="submit" name="decision" value="reject" { "Reject the time…" span.hidden { " " (short) } }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct ManualForm {
    csrf: String,
    date: NaiveDate,
    tz: Option<String>,
    from: String,
    to: String,
    #[serde(default)]
    memo: String,
}

/// Time added by hand from the diary page, in the page's zone (R8).
async fn add_manual(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ManualForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let stored = viewer.contract(&state, id).await?;
    if stored.user_id != viewer.user.id {
        return Err(PageError(
            StatusCode::FORBIDDEN,
            "Only the contract's freelancer adds time to it.".into(),
        ));
    }
    let zone = page_zone(form.tz.as_deref())?;
    let (start, end) = typed_span(form.date, &form.from, &form.to, zone)?;
    let request = timecard_core::protocol::ManualTime {
        contract_id: stored.contract.id.clone(),
        start,
        end,
        memo: form.memo,
    };
    let (now, config, user) = (state.clock.now(), state.config, viewer.user.clone());
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        usecases::manual::add(store.as_ref(), &user, request, now, config)
    })
    .await
    .map_err(|_| {
        PageError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The time was not added.".into(),
        )
    })??;
    state.webhooks.wake.notify_one();
    Ok(Redirect::to(&diary_link(&stored.contract.id, Some(form.date), zone)).into_response())
}

/// `from`–`to` (HH:MM) on `date` in `zone`; an end before the start is on
/// the next day ("22:00 to 01:00").
fn typed_span(
    date: NaiveDate,
    from: &str,
    to: &str,
    zone: Tz,
) -> Result<(DateTime<Utc>, DateTime<Utc>), PageError> {
    let at = |time: &str| {
        timecard_core::domain::parse_local_minute(&format!("{date} {}", time.trim()), zone)
            .map_err(|why| PageError(StatusCode::UNPROCESSABLE_ENTITY, why))
    };
    let (start, mut end) = (at(from)?, at(to)?);
    if end == start {
        return Err(PageError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The start and the end are the same time.".into(),
        ));
    }
    if end < start {
        end = end
            .checked_add_signed(Duration::days(1))
            .ok_or_else(|| PageError(StatusCode::UNPROCESSABLE_ENTITY, "No such day.".into()))?;
    }
    Ok((start, end))
}

async fn screenshot(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
) -> Result<Response, PageError> {
    picture(state, viewer, path, Picture::Full).await
}

async fn thumbnail(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
) -> Result<Response, PageError> {
    picture(state, viewer, path, Picture::Thumbnail).await
}

/// A segment's picture, to those who may see the contract it belongs to.
async fn picture(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, segment)): Path<(String, String)>,
    size: Picture,
) -> Result<Response, PageError> {
    let segment: SegmentId = segment.parse().map_err(|_| not_found())?;
    let stored = viewer.contract(&state, id).await?;
    let (user_id, contract_id) = (stored.user_id, stored.contract.id);
    let jpeg = blocking(&state, move |s| {
        Ok(match s.segment(user_id, segment)? {
            Some(seg) if seg.contract_id == contract_id => s.screenshot(user_id, segment, size)?,
            _ => None,
        })
    })
    .await?
    .ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        jpeg,
    )
        .into_response())
}
