//! R6, R10: `/contracts/ID/timesheet` and `/contracts/ID/statement`: one billing
//! week of a contract (W1) — each UTC day's tracked, manual, rejected and
//! billable time (B1), the amount at the contract's rate, where the review
//! stands (R7) and its log; the statement is the same week for printing.

use axum::Router;

use crate::http::guards::pages_gate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::diary::diary_link;
use super::layout::{LIST_CAP, PageError, Place, Typed, layout, money, more_note, urlencode};
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};
use crate::rules::{ReviewAction, Reviewer, WeekReview};
use crate::views::{self, Names, ReviewView, SpanView};
use chrono_tz::Tz;
use timecard_core::domain::segment::is_plausible_day;
use timecard_core::domain::{BillingWeek, Totals};
use timecard_core::fmt::{format_hours, hms};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/contracts/{id}/timesheet",
            get(timesheet_page).layer(axum::middleware::from_fn(pages_gate)),
        )
        .route(
            "/contracts/{id}/statement",
            get(statement_page).layer(axum::middleware::from_fn(pages_gate)),
        )
}

#[derive(Deserialize)]
pub struct WeekQuery {
    week: Option<NaiveDate>,
    /// The viewer's zone, for the review window's times (the days stay UTC).
    tz: Option<String>,
    /// What the last step did (`approved`).
    done: Option<String>,
}

/// The billing week that holds `day` (none: this week).
pub fn parse_week(day: Option<NaiveDate>, now: DateTime<Utc>) -> Result<BillingWeek, PageError> {
    let Some(day) = day else {
        return Ok(BillingWeek::containing(now));
    };
    if !is_plausible_day(day) {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            format!("{day} is not a week this timesheet can show."),
        ));
    }
    Ok(BillingWeek::containing(
        day.and_time(chrono::NaiveTime::MIN).and_utc(),
    ))
}

/// A week of a contract with its review and the names it mentions.
struct Week {
    review: ReviewView,
    span: SpanView,
    names: Names,
}

async fn load_week(
    state: &Shared,
    viewer: &Viewer,
    id: String,
    week: BillingWeek,
) -> Result<Week, PageError> {
    let stored = viewer.contract(state, id).await?;
    let (now, review_secs, user) = (state.clock.now(), state.review_secs, viewer.user.clone());
    Ok(blocking(state, move |s| {
        let review = ReviewView::load(s, &stored, &user, now, review_secs)?;
        let span = SpanView::load(s, &stored, &review, week.start(), week.end())?;
        let names = views::names(
            s,
            review
                .events
                .iter()
                .map(|e| e.by_user_id)
                .chain([stored.user_id])
                .chain(stored.terms.client_user_id),
        )?;
        Ok(Week {
            review,
            span,
            names,
        })
    })
    .await?)
}

async fn timesheet_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<WeekQuery>,
) -> Result<Html<String>, PageError> {
    let week = parse_week(query.week, state.clock.now())?;
    let Week {
        review,
        span,
        names,
    } = load_week(&state, &viewer, id, week).await?;
    let c = &span.contract.contract;
    let base = format!("/contracts/{}", urlencode(&c.id));
    let monday = week.start().date_naive();
    let week_link = |d: NaiveDate| format!("{base}/timesheet?week={d}");
    let days = span.days();
    let total = span.total;
    let open_disputes = review.open_disputes(week);
    let rejected = span
        .segments
        .iter()
        .filter(|s| !s.review.is_billed())
        .count();
    let log = review.log(week);
    let zone = viewer.zone(query.tz.as_deref())?;
    let needing = review.needing_action();
    let needing: Vec<_> = needing
        .iter()
        .filter(|(_, w)| *w == week)
        .filter_map(|(d, _)| {
            span.segments
                .iter()
                .find(|s| s.id == d.segment_id)
                .map(|s| (*d, s))
        })
        .collect();
    let diary_at = |s: &timecard_core::protocol::DiarySegment| {
        format!(
            "{}#segment-{}",
            diary_link(&c.id, Some(s.start.with_timezone(&zone).date_naive()), zone),
            s.id
        )
    };
    let limit = c.limit_at(week.start());
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/contracts" { "Contracts" } " › " (Typed(&c.title)) " › "
            span aria-current="page" { "Week of " (monday.format("%a %-d %b %Y")) }
        }
        h1 { (Typed(&c.title)) }
        p.muted { "Timesheet · week of " (monday.format("%a %-d %b %Y"))
            " (Monday 00:00 UTC to Monday)" }
        @if query.done.as_deref() == Some("approved") {
            p.notice.done role="status" { "Approved. The week is closed: nothing in it changes any more." }
        }
        @if !needing.is_empty() {
            section.attention #disputes aria-labelledby="disputes-title" {
                h2 #disputes-title {
                    (needing.len())
                    @if needing.len() == 1 { " dispute needs your " } @else { " disputes need your " }
                    @if review.who == Reviewer::Freelancer { "answer" } @else { "decision" }
                }
                ul {
                    @for (d, s) in &needing {
                        li {
                            a href=(diary_at(s)) {
                                (s.start.with_timezone(&zone).format("%a %-d %b %H:%M"))
                                "–" (s.end.with_timezone(&zone).format("%H:%M"))
                            }
                            ": " (Typed(&d.reason))
                            @if let Some(answer) = &d.answer { " — answer: " (Typed(answer)) }
                        }
                    }
                }
            }
        }
        section.review #review aria-label="Review" data-zone=(zone.name()) {
            (review_words(review.week(week), week, state.review_secs, review.who, zone, &names))
            @if open_disputes > 0 || rejected > 0 {
                p {
                    @if open_disputes == 1 { "1 disputed segment waits for the client's decision. " }
                    @else if open_disputes > 1 { (open_disputes) " disputed segments wait for the client's decision. " }
                    @if rejected == 1 { "1 rejected segment is not billed." }
                    @else if rejected > 1 { (rejected) " rejected segments are not billed." }
                }
            }
        }
        @if review.may_approve(week) {
            form.inline method="post" action={ (base) "/weeks/" (monday) "/approve" } {
                input type="hidden" name="csrf" value=(viewer.csrf());
                button.danger type="submit" { "Approve this week…" }
            }
        }
        nav.days aria-label="Weeks" {
            a href=(week_link(monday - Duration::days(7))) rel="prev" { "← Previous week" }
            a href=(week_link(monday + Duration::days(7))) rel="next" { "Next week →" }
            a href={ (base) "/timesheet.csv?week=" (monday) } { "Download CSV" }
            a href={ (base) "/statement?week=" (monday) } { "Printable statement" }
        }
        (bar_chart(&days, total.billable_secs, limit))
        table.contracts.days {
            caption.hidden { "Hours per day" }
            thead { tr {
                th scope="col" { "Day" }
                th scope="col" { "Tracked" }
                th scope="col" { "Manual" }
                th scope="col" { "Rejected" }
                th scope="col" { "Billable" }
            } }
            tbody {
                @for (day, t) in &days {
                    tr {
                        th scope="row" data-label="Day" { a href={ (base) "/diary?date=" (day) "&tz=UTC" } { (day.format("%a %-d %b")) } }
                        td data-label="Tracked" { (hms(t.tracked_secs)) }
                        td data-label="Manual" { (hms(t.manual_secs)) }
                        td data-label="Rejected" { (hms(t.rejected_secs)) }
                        td data-label="Billable" { (hms(t.billable_secs)) }
                    }
                }
            }
            tfoot { tr {
                th scope="row" data-label="Total" { "Week" }
                td data-label="Tracked" { (hms(total.tracked_secs)) }
                td data-label="Manual" { (hms(total.manual_secs)) }
                td data-label="Rejected" { (hms(total.rejected_secs)) }
                td data-label="Billable" { strong.billable { (hms(total.billable_secs)) } }
            } }
        }
        @if !log.is_empty() {
            h2 { "Review log" }
            ul.log {
                @for e in log.iter().take(LIST_CAP) {
                    li {
                        (e.at.format("%a %-d %b %H:%M UTC")) " · " (names.of(e.by_user_id)) " · "
                        (match e.action {
                            ReviewAction::Approve => "approved the week",
                            ReviewAction::Dispute => "disputed a segment",
                            ReviewAction::Answer => "answered a dispute",
                            ReviewAction::Keep => "kept disputed time",
                            ReviewAction::Reject => "rejected disputed time",
                        })
                        @if !e.note.is_empty() { ": " (Typed(&e.note)) }
                    }
                }
            }
            (more_note(log.len(), "review events", "the CSV and the diary show each segment"))
        }
        @if let (Some(rate), Some(amount)) = (&span.contract.terms.rate, span.amount_cents) {
            p.total { "Amount: " strong { (money(amount, &rate.currency)) }
                " for " (hms(total.billable_secs)) " at " (money(rate.cents, &rate.currency)) "/h" }
        }
    };
    Ok(layout(
        &format!("{} — Timesheet", c.title),
        Some(&viewer.header().at(Place::Contracts)),
        body,
    ))
}

/// Billable hours per day as bars with an hour axis and each day's value,
/// and the week so far against its weekly limit, drawn on the server (no
/// script); it scales down to any width, and the table beside it says the
/// same in numbers.
fn bar_chart(days: &[(NaiveDate, Totals)], week_secs: i64, limit: Option<i64>) -> Markup {
    const WIDTH: i64 = 560;
    const PLOT: i64 = 150;
    const LEFT: i64 = 40;
    const TOP: i64 = 18;
    let most = days.iter().map(|(_, t)| t.billable_secs).max().unwrap_or(0);
    // The axis: whole hours, 2 to 24, with a line every 1, 2 or 4 hours.
    let top_hours = ((most + 3599) / 3600).clamp(2, 24);
    let step = match top_hours {
        0..=6 => 1,
        7..=12 => 2,
        _ => 4,
    };
    let top_hours = (top_hours + step - 1) / step * step;
    let y = |secs: i64| TOP + PLOT - secs * PLOT / (top_hours * 3600);
    let slot = (WIDTH - LEFT) / days.len().max(1) as i64;
    let week_y = TOP + PLOT + 46;
    let week_most = limit.unwrap_or(0).max(week_secs).max(3600);
    let week_x = |secs: i64| LEFT + secs * (WIDTH - LEFT - 10) / week_most;
    let summary = format!(
        "Billable time per day: {}. Week: {}{}.",
        days.iter()
            .map(|(d, t)| format!("{} {}", d.format("%a"), hms(t.billable_secs)))
            .collect::<Vec<_>>()
            .join(", "),
        hms(week_secs),
        limit.map_or(String::new(), |l| format!(
            " of a {} limit",
            format_hours(l)
        ))
    );
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (week_y + 30) } role="img" aria-label=(summary)
                preserveAspectRatio="xMinYMin meet" {
                @for h in (0..=top_hours).step_by(step as usize) {
                    line x1=(LEFT) x2=(WIDTH) y1=(y(h * 3600)) y2=(y(h * 3600)) stroke="#d5dbe1" stroke-width="1" {}
                    text x=(LEFT - 6) y=(y(h * 3600) + 4) text-anchor="end" font-size="11" fill="#555d66" { (h) " h" }
                }
                @for (i, (day, t)) in days.iter().enumerate() {
                    @let x = LEFT + i as i64 * slot;
                    @let top = y(t.billable_secs);
                    rect x=(x + 8) y=(top) width=(slot - 16) height=(TOP + PLOT - top) fill="#0b6e66" {}
                    @if t.billable_secs > 0 {
                        text x=(x + slot / 2) y=(top - 4) text-anchor="middle" font-size="11" fill="#1b1f24" {
                            (hms(t.billable_secs))
                        }
                    }
                    text x=(x + slot / 2) y=(TOP + PLOT + 16) text-anchor="middle" font-size="12" fill="#1b1f24" {
                        (day.format("%a %-d"))
                    }
                }
                text x="0" y=(week_y + 12) font-size="11" fill="#555d66" { "Week" }
                rect x=(LEFT) y=(week_y) width=(WIDTH - LEFT - 10) height="16" fill="#f4f6f8" stroke="#d5dbe1" {}
                rect x=(LEFT) y=(week_y) width=(week_x(week_secs) - LEFT) height="16" fill="#0b6e66" {}
                @if let Some(limit) = limit {
                    line x1=(week_x(limit)) x2=(week_x(limit)) y1=(week_y - 6) y2=(week_y + 22)
                        stroke="#a4161a" stroke-width="2" stroke-dasharray="4 2" {}
                    text x=(week_x(limit) - 4) y=(week_y - 8) text-anchor="end" font-size="11" fill="#a4161a" {
                        "limit " (format_hours(limit))
                    }
                }
                text x=(LEFT + 4) y=(week_y + 28) font-size="11" fill="#1b1f24" { (hms(week_secs)) " billable" }
            }
        }
    }
}

/// Where the week's review stands and what happens next, for the viewer,
/// with the review window's times in their zone (R7).
fn review_words(
    state: WeekReview,
    week: BillingWeek,
    review_secs: i64,
    who: Reviewer,
    zone: Tz,
    names: &Names,
) -> Markup {
    let local = |t: DateTime<Utc>| t.with_timezone(&zone).format("%a %-d %b %H:%M").to_string();
    let opens = week.end();
    let closes = week.end() + Duration::seconds(review_secs);
    // The last minute of the window, as people say it: "until Fri 23:59".
    let last = local(closes - Duration::minutes(1));
    let zone_name = zone.name();
    html! {
        @match state {
            WeekReview::Open => {
                @if who == Reviewer::Client {
                    p { strong { "Review: " } "You can review this week from " (local(opens)) " until " (last) " (" (zone_name) "): "
                        "dispute any segment from the diary, or approve the week. "
                        "If nobody approves it by then, it is approved automatically." }
                } @else {
                    p { strong { "Review: " } "The client can review this week from " (local(opens)) " until " (last) " (" (zone_name) "). "
                        "Until then the week is open; if nobody approves it by the end, it is approved automatically." }
                }
            }
            WeekReview::InReview { until } => {
                @if who == Reviewer::Client {
                    p { strong { "Review: " } "You can review this week until " (last) " (" (zone_name) "): "
                        "dispute any segment from the diary, or approve the week. "
                        "At " (local(until)) " it is approved automatically. "
                        span.muted { "(The window closes " (until.format("%a %-d %b %H:%M UTC")) ".)" } }
                } @else {
                    p { strong { "Review: " } "The client can review this week until " (last) " (" (zone_name) "): "
                        "waiting for the client's approval; at " (local(until)) " the week is approved by itself." }
                }
            }
            WeekReview::Approved { by_user_id, at } => {
                p { strong { "Approved" } " by " (names.of(by_user_id)) " on " (at.format("%a %-d %b %H:%M UTC")) "." }
            }
            WeekReview::ApprovedAutomatically { at } => {
                p { strong { "Approved" } " automatically on " (at.format("%a %-d %b %H:%M UTC"))
                    " (the review window closed)." }
            }
        }
    }
}

/// The weekly statement, to print or save as PDF from the browser: the
/// contract, its parties, the days, the billable hours, rate and amount,
/// and where the review stands. Rejected time is not billed.
async fn statement_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<WeekQuery>,
) -> Result<Html<String>, PageError> {
    let week = parse_week(query.week, state.clock.now())?;
    let Week {
        review,
        span,
        names,
    } = load_week(&state, &viewer, id, week).await?;
    let stored = &span.contract;
    let c = &stored.contract;
    let days = span.days();
    let total = span.total;
    let hours = |secs: i64| format!("{:.2}", secs as f64 / 3600.0);
    let state_line = match review.week(week) {
        WeekReview::Open => "Not yet reviewed: the week is not over.".to_owned(),
        WeekReview::InReview { until } => {
            format!("In review until {}.", until.format("%-d %b %Y %H:%M UTC"))
        }
        WeekReview::Approved { at, .. } => {
            format!("Approved on {}.", at.format("%-d %b %Y %H:%M UTC"))
        }
        WeekReview::ApprovedAutomatically { at } => format!(
            "Approved automatically on {} (the review window closed).",
            at.format("%-d %b %Y %H:%M UTC")
        ),
    };
    let body = html! {
        article.statement {
            h1 { "Weekly statement" }
            dl {
                dt { "Contract" } dd { (Typed(&c.title)) }
                dt { "Client" } dd { (if c.client.is_empty() { "—" } else { &c.client })
                    @if let Some(account) = stored.terms.client_user_id { " · account " (names.of(account)) } }
                dt { "Freelancer" } dd { (names.of(stored.user_id)) }
                dt { "Week" } dd { (week.start().format("%a %-d %b %Y")) " – "
                    ((week.end() - Duration::days(1)).format("%a %-d %b %Y")) " (UTC)" }
                dt { "Review" } dd { (state_line) }
            }
            table.contracts {
                thead { tr {
                    th scope="col" { "Day" }
                    th scope="col" { "Tracked" }
                    th scope="col" { "Manual" }
                    th scope="col" { "Rejected" }
                    th scope="col" { "Billable hours" }
                } }
                tbody {
                    @for (day, t) in &days {
                        tr {
                            th scope="row" data-label="Day" { (day.format("%a %-d %b")) }
                            td data-label="Tracked" { (hms(t.tracked_secs)) }
                            td data-label="Manual" { (hms(t.manual_secs)) }
                            td data-label="Rejected" { (hms(t.rejected_secs)) }
                            td data-label="Billable hours" { (hours(t.billable_secs)) }
                        }
                    }
                }
                tfoot {
                    tr { th scope="row" data-label="Total" { "Total" }
                        td data-label="Tracked" { (hms(total.tracked_secs)) }
                        td data-label="Manual" { (hms(total.manual_secs)) }
                        td data-label="Rejected" { (hms(total.rejected_secs)) }
                        td data-label="Billable hours" { strong.billable { (hours(total.billable_secs)) } " (" (hms(total.billable_secs)) ")" } }
                    @if let (Some(rate), Some(amount)) = (&stored.terms.rate, span.amount_cents) {
                        tr.money { th scope="row" data-label="Rate" { "Rate" } td.filler {} td.filler {} td.filler {}
                            td data-label="Rate" { (money(rate.cents, &rate.currency)) "/h" } }
                        tr.money { th scope="row" data-label="Amount" { "Amount" } td.filler {} td.filler {} td.filler {}
                            td data-label="Amount" { strong { (money(amount, &rate.currency)) } } }
                    }
                }
            }
            p.muted.noprint { "Print this page, or save it as PDF, from the browser's menu." }
        }
    };
    Ok(layout(
        &format!("{} — Statement", c.title),
        Some(&viewer.header().at(Place::Contracts)),
        body,
    ))
}
