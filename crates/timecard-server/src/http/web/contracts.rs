//! `/contracts`: the contracts the viewer may see (R3), with this week's
//! time against the limit, the amount so far, the last activity and the
//! weeks that wait for the client's review.

use axum::Router;

use crate::http::guards::pages_gate;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use chrono::Duration;
use maud::{Markup, html};

use super::layout::{LIST_CAP, PageError, Place, Typed, layout, money, urlencode};
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};
use crate::views::{self, ContractLine, Names};
use timecard_core::domain::billing::amount_cents;
use timecard_core::domain::{BillingWeek, ContractStatus};
use timecard_core::fmt::{format_hours, hms};

pub fn routes() -> Router<Shared> {
    Router::new().route(
        "/contracts",
        get(contracts_page).layer(axum::middleware::from_fn(pages_gate)),
    )
}

async fn contracts_page(
    State(state): State<Shared>,
    viewer: Viewer,
) -> Result<Html<String>, PageError> {
    let now = state.clock.now();
    let week = BillingWeek::containing(now);
    let review_secs = state.review_secs;
    let user = viewer.user.clone();
    let (lines, names) = blocking(&state, move |s| {
        views::contract_lines(s, &user, now, review_secs)
    })
    .await?;
    let is_freelancer = |line: &ContractLine| line.stored.user_id == viewer.user.id;
    let body = html! {
        h1 { "Contracts" }
        p.muted { "This week: " (week.start().format("%a %-d %b")) " – "
            ((week.end() - Duration::days(1)).format("%a %-d %b %Y")) " (UTC)" }
        @let waiting: Vec<&ContractLine> = lines.iter().filter(|l| !l.needing.is_empty()).collect();
        @if !waiting.is_empty() {
            section.attention aria-labelledby="attention" {
                h2 #attention { "Waiting for you" }
                ul {
                    @for line in waiting {
                        @let n = line.needing.len();
                        @let week = line.needing[0];
                        li {
                            a href={ "/contracts/" (urlencode(&line.stored.contract.id)) "/timesheet?week=" (week.start().date_naive()) "#disputes" } {
                                (n) @if n == 1 { " dispute needs your " } @else { " disputes need your " }
                                @if is_freelancer(line) { "answer" } @else { "decision" }
                            }
                            " — " (Typed(&line.stored.contract.title)) ", week of " (week.start().format("%a %-d %b"))
                        }
                    }
                }
            }
        }
        @if lines.is_empty() {
            p { "No contracts to show." }
        } @else {
            table.contracts {
                thead { tr {
                    th scope="col" { "Contract" }
                    th scope="col" { "Freelancer" }
                    th scope="col" { "Client" }
                    th scope="col" { "This week" }
                    th scope="col" { "Amount" }
                    th scope="col" { "Last activity" }
                } }
                tbody {
                    @for line in lines.iter().take(LIST_CAP) {
                        (contract_row(line, &names))
                    }
                }
            }
        }
    };
    Ok(layout(
        "Contracts",
        Some(&viewer.header().at(Place::Contracts)),
        body,
    ))
}

fn contract_row(line: &ContractLine, names: &Names) -> Markup {
    let c = &line.stored.contract;
    html! {
        tr {
            th scope="row" data-label="Contract" {
                a href={ "/contracts/" (c.id) "/diary" } { (Typed(&c.title)) }
                " · "
                a href={ "/contracts/" (c.id) "/timesheet" } { "timesheet" }
                @if !c.client.is_empty() { br; span.muted { (Typed(&c.client)) } }
                @if c.status != ContractStatus::Active {
                    br; span.badge { (c.status.as_str()) }
                }
            }
            td data-label="Freelancer" { (names.of(line.stored.user_id)) }
            td data-label="Client" { (line.stored.terms.client_user_id.map_or("—", |id| names.of(id))) }
            td data-label="This week" {
                (hms(line.week_secs))
                @if let Some(limit) = c.weekly_limit_secs {
                    " of " (format_hours(limit))
                    br;
                    meter min="0" max=(limit) high=(limit * 9 / 10) value=(line.week_secs.min(limit))
                        aria-label={ "Hours this week against the weekly limit of " (format_hours(limit)) } {}
                }
            }
            td data-label="Amount" {
                @match &line.stored.terms.rate {
                    Some(rate) => { (money(amount_cents(line.week_secs, rate.cents), &rate.currency)) br;
                        span.muted { "at " (money(rate.cents, &rate.currency)) "/h" } }
                    None => { "—" }
                }
            }
            td data-label="Last activity" {
                @match line.last_activity {
                    Some(at) => { (at.format("%-d %b %H:%M UTC")) }
                    None => { "never" }
                }
                @for w in &line.waiting {
                    br;
                    a.badge href={ "/contracts/" (c.id) "/timesheet?week=" (w.start().date_naive()) } {
                        "week of " (w.start().format("%-d %b")) " waits for review"
                    }
                }
            }
        }
    }
}
