//! R13: `/contracts/ID/segments/SEG`: the screenshot viewer. One segment's
//! full picture fitted to the screen, with its time, activity and memo,
//! and links to the day's previous and next pictures and back to the day
//! (at that segment). Plain links and a plain image: nothing needs script;
//! the dashboard's script only adds the keys ← → and Esc to follow them.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::diary::diary_link;
use super::layout::{PageError, Place, Typed, layout, not_found, urlencode};
use super::viewer::Viewer;
use crate::http::guards::pages_gate;
use crate::http::state::{Shared, blocking};
use crate::views::{DayView, ReviewView};
use timecard_core::domain::{LocalDay, SegmentId};
use timecard_core::fmt::hms;

pub fn routes() -> Router<Shared> {
    Router::new().route(
        "/contracts/{id}/segments/{segment}",
        get(viewer_page).layer(axum::middleware::from_fn(pages_gate)),
    )
}

#[derive(Deserialize)]
struct ZoneQuery {
    tz: Option<String>,
}

async fn viewer_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, segment)): Path<(String, String)>,
    Query(query): Query<ZoneQuery>,
) -> Result<Html<String>, PageError> {
    let segment: SegmentId = segment.parse().map_err(|_| not_found())?;
    let stored = viewer.contract(&state, id).await?;
    let zone = viewer.zone(query.tz.as_deref())?;
    let (now, config, review_secs) = (state.clock.now(), state.config, state.review_secs);
    let (contract, user) = (stored.clone(), viewer.user.clone());
    let view = blocking(&state, move |s| {
        let Some(found) = s.segment(contract.user_id, segment)? else {
            return Ok(None);
        };
        if found.contract_id != contract.contract.id {
            return Ok(None);
        }
        let day = LocalDay::containing(found.start, zone);
        let review = ReviewView::load(s, &contract, &user, now, review_secs)?;
        Ok(Some(DayView::of_contract(
            s, &contract, &review, day, now, config,
        )?))
    })
    .await?
    .ok_or_else(not_found)?;
    let pictures: Vec<_> = view
        .segments
        .iter()
        .filter(|s| s.has_screenshot && !s.manual)
        .collect();
    let at = pictures
        .iter()
        .position(|s| s.id == segment)
        .ok_or_else(not_found)?;
    let s = pictures[at];
    let c = &stored.contract;
    let base = format!("/contracts/{}", urlencode(&c.id));
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&zone);
    let short = |s: &timecard_core::protocol::DiarySegment| {
        format!(
            "{}–{}",
            local(s.start).format("%H:%M"),
            local(s.end).format("%H:%M")
        )
    };
    let link = |s: &timecard_core::protocol::DiarySegment| {
        format!("{base}/segments/{}?tz={}", s.id, urlencode(zone.name()))
    };
    let date = view.day.date;
    let day_link = format!("{}#segment-{}", diary_link(&c.id, Some(date), zone), s.id);
    let prev = at.checked_sub(1).map(|i| pictures[i]);
    let next = pictures.get(at + 1).copied();
    let percent = s.activity.level() * 10;
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/contracts" { "Contracts" } " › "
            (Typed(&c.title)) " › "
            a href=(diary_link(&c.id, Some(date), zone)) { (date.format("%a %-d %b %Y")) } " › "
            span aria-current="page" { (short(s)) }
        }
        h1 { "Screenshot " (short(s)) }
        figure.viewer {
            div.picture {
                img src={ (base) "/segments/" (s.id) "/screenshot" } fetchpriority="high"
                    width="1920" height="1080"
                    alt={ "Screenshot of " (short(s)) " on " (date.format("%a %-d %b")) };
            }
            figcaption {
                strong { (local(s.start).format("%H:%M:%S")) "–" (local(s.end).format("%H:%M:%S")) }
                " · " (hms((s.end - s.start).num_seconds()))
                " · activity " (percent) " %"
                " · " (at + 1) " of " (pictures.len()) " pictures this day"
                @if !s.memo.is_empty() { br; (Typed(&s.memo)) }
            }
        }
        nav.pager aria-label="Pictures of this day" {
            @match prev {
                Some(p) => a href=(link(p)) rel="prev" { "← " (short(p)) },
                None => span.muted { "First picture of the day" },
            }
            a href=(day_link) rel="up" { "Back to the day" }
            @match next {
                Some(n) => a href=(link(n)) rel="next" { (short(n)) " →" },
                None => span.muted { "Last picture of the day" },
            }
        }
        p.hint { "Keys: ← previous, → next, Esc back to the day." }
    };
    Ok(layout(
        &format!("{} — Screenshot {}", c.title, short(s)),
        Some(&viewer.header().at(Place::Contracts)),
        body,
    ))
}
