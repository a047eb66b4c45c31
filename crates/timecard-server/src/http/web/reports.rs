//! R12: `/reports`: hours and amounts by freelancer, contract and day over
//! any range of UTC days (this week, last week, this month, last month or
//! chosen), for every contract the viewer may see (R3), with a CSV; and who
//! is working now. `/week` is the header's "This week": the one contract's
//! timesheet, or this week's report when there are several.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::csv::text_cell;
use super::layout::{PageError, Place, Typed, layout, money, urlencode};
use super::viewer::Viewer;
use crate::http::guards::pages_gate;
use crate::http::state::{Shared, blocking};
use crate::views::{Report, SpanTotals};
use timecard_core::domain::segment::is_plausible_day;
use timecard_core::domain::{BillingWeek, Totals};
use timecard_core::fmt::hms;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/reports",
            get(report_page).layer(axum::middleware::from_fn(pages_gate)),
        )
        .route(
            "/reports.csv",
            get(report_csv).layer(axum::middleware::from_fn(pages_gate)),
        )
        .route("/week", get(this_week))
}

/// The most days one report covers.
const MAX_DAYS: i64 = 366;

#[derive(Deserialize, Default)]
pub struct RangeQuery {
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// A report's days, `from` to `to` included, and what to call them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    from: NaiveDate,
    to: NaiveDate,
}

impl Range {
    fn start(self) -> DateTime<Utc> {
        self.from.and_time(NaiveTime::MIN).and_utc()
    }

    fn end(self) -> DateTime<Utc> {
        self.to.and_time(NaiveTime::MIN).and_utc() + Duration::days(1)
    }

    fn days(self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The range's length for the pager, in the right form (D10): "The
    /// day", "The 7 days".
    fn span_words(self) -> String {
        match self.days() {
            1 => "The day".to_owned(),
            n => format!("The {n} days"),
        }
    }

    fn query(self) -> String {
        format!("from={}&to={}", self.from, self.to)
    }

    /// The same number of days just before and just after.
    fn before(self) -> Range {
        Range {
            from: self.from - Duration::days(self.days()),
            to: self.from - Duration::days(1),
        }
    }

    fn after(self) -> Range {
        Range {
            from: self.to + Duration::days(1),
            to: self.to + Duration::days(self.days()),
        }
    }

    fn words(self) -> String {
        if self.from == self.to {
            self.from.format("%a %-d %b %Y").to_string()
        } else {
            format!(
                "{} – {}",
                self.from.format("%a %-d %b %Y"),
                self.to.format("%a %-d %b %Y")
            )
        }
    }
}

/// The named ranges the page offers, as of `today`.
fn named(today: NaiveDate) -> [(&'static str, &'static str, Range); 4] {
    let week = BillingWeek::containing(today.and_time(NaiveTime::MIN).and_utc());
    let monday = week.start().date_naive();
    let month = today.with_day(1).unwrap_or(today);
    let last_month = (month - Duration::days(1)).with_day(1).unwrap_or(month);
    [
        (
            "this-week",
            "This week",
            Range {
                from: monday,
                to: monday + Duration::days(6),
            },
        ),
        (
            "last-week",
            "Last week",
            Range {
                from: monday - Duration::days(7),
                to: monday - Duration::days(1),
            },
        ),
        (
            "this-month",
            "This month",
            Range {
                from: month,
                to: next_month(month) - Duration::days(1),
            },
        ),
        (
            "last-month",
            "Last month",
            Range {
                from: last_month,
                to: month - Duration::days(1),
            },
        ),
    ]
}

fn next_month(first: NaiveDate) -> NaiveDate {
    let (y, m) = if first.month() == 12 {
        (first.year() + 1, 1)
    } else {
        (first.year(), first.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(first)
}

/// The range asked for: a named one, or `from` and `to`; this week when
/// nothing is asked.
fn parse_range(query: &RangeQuery, today: NaiveDate) -> Result<Range, PageError> {
    let bad = |words: String| PageError(StatusCode::BAD_REQUEST, words);
    if let (Some(from), Some(to)) = (query.from.as_deref(), query.to.as_deref())
        && !(from.is_empty() && to.is_empty())
    {
        let day = |text: &str| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .ok()
                .filter(|d| is_plausible_day(*d))
                .ok_or_else(|| bad(format!("{text:?} is not a day; write it like 2026-12-07.")))
        };
        let range = Range {
            from: day(from)?,
            to: day(to)?,
        };
        if range.to < range.from {
            return Err(bad(
                "The range ends before it starts; give the earlier day first.".into(),
            ));
        }
        if range.days() > MAX_DAYS {
            return Err(bad(format!(
                "A report covers at most {MAX_DAYS} days; choose a shorter range."
            )));
        }
        return Ok(range);
    }
    let name = query.range.as_deref().unwrap_or("this-week");
    named(today)
        .into_iter()
        .find(|(key, _, _)| *key == name)
        .map(|(_, _, range)| range)
        .ok_or_else(|| {
            bad(format!(
                "{name:?} is not a range; choose this-week, last-week, this-month or last-month."
            ))
        })
}

async fn load(state: &Shared, viewer: &Viewer, range: Range) -> Result<Report, PageError> {
    let (now, review_secs, segment_secs) = (
        state.clock.now(),
        state.review_secs,
        state.config.segment_secs,
    );
    let user = viewer.user.clone();
    Ok(blocking(state, move |s| {
        Report::load(
            s,
            &user,
            range.start(),
            range.end(),
            now,
            review_secs,
            segment_secs,
        )
    })
    .await?)
}

/// Amounts in several currencies, as one line.
fn amounts(by_currency: &BTreeMap<String, i64>) -> String {
    if by_currency.is_empty() {
        return "—".into();
    }
    by_currency
        .iter()
        .map(|(currency, cents)| money(*cents, currency))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Totals and amounts added up over spans.
#[derive(Default)]
struct Sum {
    total: Totals,
    amounts: BTreeMap<String, i64>,
    contracts: usize,
}

impl Sum {
    fn add_totals(&mut self, t: &Totals) {
        self.total.tracked_secs += t.tracked_secs;
        self.total.manual_secs += t.manual_secs;
        self.total.disputed_secs += t.disputed_secs;
        self.total.rejected_secs += t.rejected_secs;
        self.total.billable_secs += t.billable_secs;
    }

    fn add(&mut self, span: &SpanTotals) {
        self.add_totals(&span.total);
        self.contracts += 1;
        if let (Some(cents), Some(rate)) = (span.amount_cents, &span.contract.terms.rate) {
            *self.amounts.entry(rate.currency.clone()).or_default() += cents;
        }
    }
}

/// The columns every table of times has, labelled for phones.
fn time_cells(t: &Totals) -> Markup {
    html! {
        td.num data-label="Tracked" { (hms(t.tracked_secs)) }
        td.num data-label="Manual" { (hms(t.manual_secs)) }
        td.num data-label="Rejected" { (hms(t.rejected_secs)) }
        td.num data-label="Billable" { strong { (hms(t.billable_secs)) } }
    }
}

fn time_heads() -> Markup {
    html! {
        th.num scope="col" { "Tracked" }
        th.num scope="col" { "Manual" }
        th.num scope="col" { "Rejected" }
        th.num scope="col" { "Billable" }
    }
}

async fn report_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(query): Query<RangeQuery>,
) -> Result<Html<String>, PageError> {
    let now = state.clock.now();
    let today = now.date_naive();
    let range = parse_range(&query, today)?;
    let report = load(&state, &viewer, range).await?;
    let names = &report.names;

    let mut all = Sum::default();
    let mut by_freelancer: BTreeMap<&str, Sum> = BTreeMap::new();
    let mut by_day: BTreeMap<NaiveDate, Totals> = BTreeMap::new();
    for span in &report.spans {
        all.add(span);
        by_freelancer
            .entry(names.of(span.contract.user_id))
            .or_default()
            .add(span);
        for (day, totals) in span.days() {
            let d = by_day.entry(day).or_default();
            d.tracked_secs += totals.tracked_secs;
            d.manual_secs += totals.manual_secs;
            d.disputed_secs += totals.disputed_secs;
            d.rejected_secs += totals.rejected_secs;
            d.billable_secs += totals.billable_secs;
        }
    }
    let with_time: Vec<&SpanTotals> = report
        .spans
        .iter()
        .filter(|s| s.total.tracked_secs + s.total.manual_secs > 0)
        .collect();
    let week_of_from = BillingWeek::containing(range.start()).start().date_naive();
    let choices = named(today);
    let chosen = choices
        .iter()
        .find(|(_, _, r)| *r == range)
        .map(|(key, _, _)| *key);
    let body = html! {
        h1 { "Reports" }
        p.lead { (range.words()) " · UTC days" }
        nav.sub aria-label="Ranges" {
            @for (key, name, _) in &choices {
                a href={ "/reports?range=" (key) } aria-current=[(chosen == Some(*key)).then_some("page")] { (name) }
            }
        }
        form.range method="get" action="/reports" {
            div.field { label for="r-from" { "From" } input #r-from type="date" name="from" value=(range.from) required; }
            div.field { label for="r-to" { "To" } input #r-to type="date" name="to" value=(range.to) required; }
            button type="submit" { "Show" }
        }
        nav.pager aria-label="Other ranges" {
            a href={ "/reports?" (range.before().query()) } rel="prev" { "← " (range.span_words()) " before" }
            a href={ "/reports.csv?" (range.query()) } download { "Download CSV" }
            a href={ "/reports?" (range.after().query()) } rel="next" { (range.span_words()) " after →" }
        }
        section aria-labelledby="now" {
            h2 #now { "Working now" }
            @if report.working.is_empty() {
                p.muted { "Nobody has uploaded time in the last few minutes." }
            } @else {
                ul.working {
                    @for w in &report.working {
                        li {
                            strong { (names.of(w.contract.user_id)) }
                            " on "
                            a href={ "/contracts/" (urlencode(&w.contract.contract.id)) "/diary?date=" (w.last.date_naive()) } {
                                (Typed(&w.contract.contract.title))
                            }
                            " since " time datetime=(w.since.to_rfc3339()) { (w.since.format("%H:%M UTC")) }
                            span.muted { " (last upload " (w.last.format("%H:%M")) ")" }
                        }
                    }
                }
            }
        }
        section aria-labelledby="total" {
            h2 #total { "In total" }
            p.total {
                strong { (hms(all.total.billable_secs)) } " billable"
                @if all.total.rejected_secs > 0 { ", " (hms(all.total.rejected_secs)) " rejected" }
                " · " (amounts(&all.amounts))
                " · " (with_time.len()) " of "
                (timecard_core::fmt::count(report.spans.len() as u64, "contract", "contracts"))
                " with time"
            }
        }
        section aria-labelledby="by-freelancer" {
            h2 #by-freelancer { "By freelancer" }
            table.report {
                thead { tr { th scope="col" { "Freelancer" } th.num scope="col" { "Contracts" } (time_heads()) th.num scope="col" { "Amount" } } }
                tbody {
                    @for (who, sum) in &by_freelancer {
                        tr {
                            th scope="row" data-label="Freelancer" { (who) }
                            td.num data-label="Contracts" { (sum.contracts) }
                            (time_cells(&sum.total))
                            td.num data-label="Amount" { (amounts(&sum.amounts)) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="by-contract" {
            h2 #by-contract { "By contract" }
            @if with_time.is_empty() { p.muted { "No time in these days." } }
            @else {
                table.report {
                    thead { tr { th scope="col" { "Contract" } th scope="col" { "Freelancer" } (time_heads()) th.num scope="col" { "Amount" } } }
                    tbody {
                        @for span in &with_time {
                            @let c = &span.contract.contract;
                            tr {
                                th scope="row" data-label="Contract" {
                                    a href={ "/contracts/" (urlencode(&c.id)) "/timesheet?week=" (week_of_from) } { (Typed(&c.title)) }
                                    br; span.muted { (Typed(&c.client)) }
                                }
                                td data-label="Freelancer" { (names.of(span.contract.user_id)) }
                                (time_cells(&span.total))
                                td.num data-label="Amount" {
                                    @match (span.amount_cents, &span.contract.terms.rate) {
                                        (Some(cents), Some(rate)) => (money(cents, &rate.currency)),
                                        _ => span.muted { "no rate" },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="by-day" {
            h2 #by-day { "By day" }
            table.report {
                thead { tr { th scope="col" { "Day" } (time_heads()) } }
                tbody {
                    @for (day, totals) in &by_day {
                        tr {
                            th scope="row" data-label="Day" { (day.format("%a %-d %b")) }
                            (time_cells(totals))
                        }
                    }
                }
            }
        }
    };
    Ok(layout(
        &format!("Reports · {}", range.words()),
        Some(&viewer.header().at(Place::Reports)),
        body,
    ))
}

/// One row per contract and day with time, the same numbers as the page.
async fn report_csv(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(query): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let range = parse_range(&query, state.clock.now().date_naive())?;
    let report = load(&state, &viewer, range).await?;
    let mut text = String::from(
        "day,contract,client,freelancer,tracked_minutes,manual_minutes,rejected_minutes,billable_minutes,amount,currency\r\n",
    );
    for span in &report.spans {
        let c = &span.contract.contract;
        for (day, t) in span.days() {
            if t.tracked_secs + t.manual_secs == 0 {
                continue;
            }
            let (amount, currency) = match &span.contract.terms.rate {
                Some(rate) => {
                    let cents =
                        timecard_core::domain::billing::amount_cents(t.billable_secs, rate.cents);
                    (
                        format!("{}.{:02}", cents / 100, cents % 100),
                        rate.currency.as_str(),
                    )
                }
                None => (String::new(), ""),
            };
            let minutes = |secs: i64| format!("{:.2}", secs as f64 / 60.0);
            text.push_str(&format!(
                "{day},{},{},{},{},{},{},{},{amount},{currency}\r\n",
                text_cell(&c.title),
                text_cell(&c.client),
                text_cell(report.names.of(span.contract.user_id)),
                minutes(t.tracked_secs),
                minutes(t.manual_secs),
                minutes(t.rejected_secs),
                minutes(t.billable_secs),
            ));
        }
    }
    let name = format!("report-{}-to-{}.csv", range.from, range.to);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        text,
    )
        .into_response())
}

/// The header's "This week": the timesheet when there is one contract to
/// see, else this week's report.
async fn this_week(State(state): State<Shared>, viewer: Viewer) -> Result<Response, PageError> {
    let user = viewer.user.clone();
    let ids = blocking(&state, move |s| {
        Ok(s.contracts(None)?
            .into_iter()
            .filter(|c| crate::rules::may_view(user.id, user.role.is_admin(), c))
            .map(|c| c.contract.id)
            .take(2)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(match ids.as_slice() {
        [only] => Redirect::to(&format!("/contracts/{}/timesheet", urlencode(only))),
        _ => Redirect::to("/reports?range=this-week"),
    }
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    // D10: the pager says "The day before" for a one-day range.
    #[test]
    fn the_pager_counts_days_in_words() {
        let one = Range {
            from: day("2026-12-06"),
            to: day("2026-12-06"),
        };
        assert_eq!(one.span_words(), "The day");
        let week = Range {
            from: day("2026-11-30"),
            to: day("2026-12-06"),
        };
        assert_eq!(week.span_words(), "The 7 days");
    }

    #[test]
    fn named_ranges_are_whole_weeks_and_months() {
        let [this_week, last_week, this_month, last_month] = named(day("2026-12-06"));
        assert_eq!(
            this_week.2,
            Range {
                from: day("2026-11-30"),
                to: day("2026-12-06")
            }
        );
        assert_eq!(
            last_week.2,
            Range {
                from: day("2026-11-23"),
                to: day("2026-11-29")
            }
        );
        assert_eq!(
            this_month.2,
            Range {
                from: day("2026-12-01"),
                to: day("2026-12-31")
            }
        );
        assert_eq!(
            last_month.2,
            Range {
                from: day("2026-11-01"),
                to: day("2026-11-30")
            }
        );
        let jan = named(day("2027-01-15"));
        assert_eq!(
            jan[3].2,
            Range {
                from: day("2026-12-01"),
                to: day("2026-12-31")
            }
        );
    }

    #[test]
    fn ranges_are_checked_in_words() {
        let ask = |from: &str, to: &str| {
            parse_range(
                &RangeQuery {
                    range: None,
                    from: Some(from.into()),
                    to: Some(to.into()),
                },
                day("2026-12-06"),
            )
        };
        assert_eq!(ask("2026-12-01", "2026-12-03").unwrap().days(), 3);
        assert!(
            ask("2026-12-03", "2026-12-01")
                .unwrap_err()
                .1
                .contains("ends before")
        );
        assert!(
            ask("2025-01-01", "2026-12-01")
                .unwrap_err()
                .1
                .contains("at most 366")
        );
        assert!(
            ask("+262142-12-31", "2026-12-01")
                .unwrap_err()
                .1
                .contains("not a day")
        );
    }
}
