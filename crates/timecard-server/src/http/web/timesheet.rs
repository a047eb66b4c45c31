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

use super::layout::{LIST_CAP, PageError, Place, Typed, layout, money, more_note, urlencode};
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};
use crate::rules::{ReviewAction, WeekReview};
use crate::views::{self, Names, ReviewView, SpanView};
use timecard_core::domain::segment::is_plausible_day;
use timecard_core::domain::{BillingWeek, Totals};
use timecard_core::fmt::hms;

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
    let body = html! {
        h1 { (Typed(&c.title)) }
        p.muted { "Timesheet · week of " (monday.format("%a %-d %b %Y"))
            " (Monday 00:00 UTC to Monday)" }
        p.review {
            @match review.week(week) {
                WeekReview::Open => { "Review: the week is not over yet." }
                WeekReview::InReview { until } => {
                    "Review: waiting for the client's approval until "
                    (until.format("%a %-d %b %H:%M UTC"))
                    "; then the week is approved by itself."
                }
                WeekReview::Approved { by_user_id, at } => {
                    strong { "Approved" } " by " (names.of(by_user_id)) " on " (at.format("%a %-d %b %H:%M UTC")) "."
                }
                WeekReview::ApprovedAutomatically { at } => {
                    strong { "Approved" } " automatically on " (at.format("%a %-d %b %H:%M UTC"))
                    " (the review window closed)."
                }
            }
            @if open_disputes > 0 { " " (open_disputes) " disputed segment(s) await the client's decision." }
            @if rejected > 0 { " " (rejected) " rejected segment(s) are not billed." }
        }
        @if review.may_approve(week) {
            form.inline method="post" action={ (base) "/weeks/" (monday) "/approve" } {
                input type="hidden" name="csrf" value=(viewer.csrf());
                button type="submit" { "Approve this week" }
            }
        }
        nav.days {
            a href=(week_link(monday - Duration::days(7))) { "← Previous week" }
            a href=(week_link(monday + Duration::days(7))) { "Next week →" }
            a href={ (base) "/timesheet.csv?week=" (monday) } { "Download CSV" }
            a href={ (base) "/statement?week=" (monday) } { "Printable statement" }
        }
        (bar_chart(&days))
        table.contracts {
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
                        td { a href={ (base) "/diary?date=" (day) "&tz=UTC" } { (day.format("%a %-d %b")) } }
                        td { (hms(t.tracked_secs)) }
                        td { (hms(t.manual_secs)) }
                        td { (hms(t.rejected_secs)) }
                        td { (hms(t.billable_secs)) }
                    }
                }
            }
            tfoot { tr {
                th scope="row" { "Week" }
                td { (hms(total.tracked_secs)) }
                td { (hms(total.manual_secs)) }
                td { (hms(total.rejected_secs)) }
                td { strong.billable { (hms(total.billable_secs)) } }
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

/// Billable hours per day as bars, drawn on the server (no script).
fn bar_chart(days: &[(NaiveDate, Totals)]) -> Markup {
    const WIDTH: i64 = 560;
    const HEIGHT: i64 = 160;
    let most = days
        .iter()
        .map(|(_, t)| t.billable_secs)
        .max()
        .unwrap_or(0)
        .max(3600);
    let slot = WIDTH / days.len().max(1) as i64;
    html! {
        svg.chart width=(WIDTH) height=(HEIGHT + 24) viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 24) }
            role="img" aria-label="Billable hours per day" {
            @for (i, (day, t)) in days.iter().enumerate() {
                @let h = t.billable_secs * HEIGHT / most;
                @let x = i as i64 * slot;
                rect x=(x + 8) y=(HEIGHT - h) width=(slot - 16) height=(h) fill="#0b6e66" {
                    title { (day.format("%a")) ": " (hms(t.billable_secs)) }
                }
                text x=(x + slot / 2) y=(HEIGHT + 18) text-anchor="middle" font-size="13" fill="#1b1f24" {
                    (day.format("%a"))
                }
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
                            td { (day.format("%a %-d %b")) }
                            td { (hms(t.tracked_secs)) }
                            td { (hms(t.manual_secs)) }
                            td { (hms(t.rejected_secs)) }
                            td { (hours(t.billable_secs)) }
                        }
                    }
                }
                tfoot {
                    tr { th scope="row" { "Total" } td { (hms(total.tracked_secs)) } td { (hms(total.manual_secs)) }
                        td { (hms(total.rejected_secs)) }
                        td { strong.billable { (hours(total.billable_secs)) } " (" (hms(total.billable_secs)) ")" } }
                    @if let (Some(rate), Some(amount)) = (&stored.terms.rate, span.amount_cents) {
                        tr { th scope="row" { "Rate" } td {} td {} td {} td { (money(rate.cents, &rate.currency)) "/h" } }
                        tr { th scope="row" { "Amount" } td {} td {} td {}
                            td { strong { (money(amount, &rate.currency)) } } }
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
