//! R6: `/contracts/ID/timesheet.csv`: one row per segment of a billing week
//! (`?week=`) or of up to a year of UTC days (`?from=&to=`), clipped to the
//! span, with its billable minutes (B1): the column sums to the
//! timesheet's billable total.

use axum::Router;
use axum::body::{Body, Bytes};

use crate::http::guards::pages_gate;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;

use super::layout::{PageError, file_name_part, page_zone};
use super::timesheet::parse_week;
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};
use crate::rules::WeekReview;
use crate::views::{ReviewView, SpanView};
use chrono_tz::Tz;
use timecard_core::domain::segment::is_plausible_day;
use timecard_core::domain::text::{Lines, shown};
use timecard_core::domain::{BillingWeek, ReviewMark};
use timecard_core::protocol::DiarySegment;

pub fn routes() -> Router<Shared> {
    Router::new().route(
        "/contracts/{id}/timesheet.csv",
        get(timesheet_csv).layer(axum::middleware::from_fn(pages_gate)),
    )
}

#[derive(Deserialize)]
struct CsvQuery {
    week: Option<NaiveDate>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    tz: Option<String>,
}

const HEADER: &str = "segment,start_utc,end_utc,start_local,end_local,time_zone,minutes,billable_minutes,kind,memo,activity_percent,review\r\n";

async fn timesheet_csv(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<CsvQuery>,
) -> Result<Response, PageError> {
    let stored = viewer.contract(&state, id).await?;
    let zone = page_zone(query.tz.as_deref())?;
    let (from, to) = match (query.from, query.to) {
        (Some(from), Some(to)) => {
            let days = (to - from).num_days();
            if !(0..=366).contains(&days) || !is_plausible_day(from) {
                return Err(PageError(
                    StatusCode::BAD_REQUEST,
                    "Give from and to as YYYY-MM-DD, at most a year apart, from first.".into(),
                ));
            }
            let start = from.and_time(chrono::NaiveTime::MIN).and_utc();
            (start, start + Duration::days(days + 1))
        }
        _ => {
            let week = parse_week(query.week, state.clock.now())?;
            (week.start(), week.end())
        }
    };
    let (now, review_secs, user, contract) = (
        state.clock.now(),
        state.review_secs,
        viewer.user.clone(),
        stored.clone(),
    );
    let (review, span) = blocking(&state, move |s| {
        let review = ReviewView::load(s, &contract, &user, now, review_secs)?;
        let span = SpanView::load(s, &contract, &review, from, to)?;
        Ok((review, span))
    })
    .await?;
    // Written as it is sent, a few hundred rows at a time: a year of a
    // busy contract is tens of megabytes of CSV, never held whole.
    let sheet = Sheet {
        review,
        span,
        zone,
        from,
        to,
    };
    let chunks = (0..sheet.span.segments.len().div_ceil(ROWS_PER_CHUNK)).map(move |n| {
        let mut text = String::new();
        if n == 0 {
            text.push_str(HEADER);
        }
        let rows = n * ROWS_PER_CHUNK..((n + 1) * ROWS_PER_CHUNK).min(sheet.span.segments.len());
        for s in &sheet.span.segments[rows] {
            sheet.write_row(&mut text, s);
        }
        Ok::<_, std::convert::Infallible>(Bytes::from(text))
    });
    let body = if chunks.len() == 0 {
        Body::from(HEADER)
    } else {
        Body::from_stream(futures_util::stream::iter(chunks))
    };
    let name = format!(
        "timesheet-{}-{}.csv",
        file_name_part(&stored.contract.title),
        from.format("%Y-%m-%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// Rows written per piece of the answer.
const ROWS_PER_CHUNK: usize = 256;

/// What the CSV is written from.
struct Sheet {
    review: ReviewView,
    span: SpanView,
    zone: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Sheet {
    /// One segment's row, clipped to the span.
    fn write_row(&self, csv: &mut String, s: &DiarySegment) {
        let review_state = match s.review {
            ReviewMark::None => match self.review.week(BillingWeek::containing(s.start)) {
                WeekReview::Open => "open",
                WeekReview::InReview { .. } => "in review",
                WeekReview::Approved { .. } => "approved",
                WeekReview::ApprovedAutomatically { .. } => "approved automatically",
            },
            mark => mark.as_str(),
        };
        let (start, end) = (s.start.max(self.from), s.end.min(self.to));
        let local = |t: DateTime<Utc>| {
            t.with_timezone(&self.zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        };
        let secs = self.span.secs_of(s);
        let billable = if s.review.is_billed() { secs } else { 0 };
        let text = |t: &str| text_cell(t);
        let cells = [
            text(&s.id.to_string()),
            text(&start.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            text(&end.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            text(&local(start)),
            text(&local(end)),
            text(self.zone.name()),
            minutes(secs),
            minutes(billable),
            text(if s.manual { "manual" } else { "tracked" }),
            text(&shown(&s.memo, Lines::Many)),
            if s.manual {
                String::new()
            } else {
                (s.activity.level() * 10).to_string()
            },
            text(review_state),
        ];
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
}

/// Seconds as minutes with two decimals.
fn minutes(secs: i64) -> String {
    format!("{:.2}", secs as f64 / 60.0)
}

/// A text cell: always quoted (a spreadsheet that splits on `;` — the
/// usual separator where `,` is the decimal mark — keeps it one cell), and
/// never a formula: a `'` goes before any part that would start with `=`,
/// `+`, `-`, `@`, a tab or a carriage return, at the start or after a `,`
/// or a `;` (`a;=cmd|' /C calc'!A0;` stays text in every locale).
pub(super) fn text_cell(text: &str) -> String {
    let mut cell = String::with_capacity(text.len() + 2);
    cell.push('"');
    let mut part_starts = true;
    for c in text.chars() {
        if part_starts && matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r') {
            cell.push('\'');
        }
        part_starts = matches!(c, ',' | ';');
        if c == '"' {
            cell.push('"');
        }
        cell.push(c);
    }
    cell.push('"');
    cell
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_are_quoted_and_never_formulas() {
        assert_eq!(text_cell("plain"), "\"plain\"");
        assert_eq!(text_cell("a,b"), "\"a,b\"");
        assert_eq!(text_cell("say \"hi\"\nthen"), "\"say \"\"hi\"\"\nthen\"");
        assert_eq!(text_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text_cell("-3"), "\"'-3\"");
        assert_eq!(
            text_cell("2026-11-25T14:00:00Z"),
            "\"2026-11-25T14:00:00Z\""
        );
        // Issue 23, item 4: formulas after a separator of either kind.
        assert_eq!(text_cell("x;=2+5;"), "\"x;'=2+5;\"");
        assert_eq!(
            text_cell("a;=cmd|' /C calc'!A0;"),
            "\"a;'=cmd|' /C calc'!A0;\""
        );
        assert_eq!(text_cell("1,+2,@SUM(A1)"), "\"1,'+2,'@SUM(A1)\"");
        assert_eq!(text_cell("well-known"), "\"well-known\"");
    }
}
