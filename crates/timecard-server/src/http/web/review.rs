//! The review forms (R7): approve a week (from the timesheet), dispute,
//! answer, keep or reject a segment (from the diary). Each form is checked
//! for its CSRF token, then the step is taken by the use case in one
//! transaction (B3) and the browser goes back where it came from.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use chrono::NaiveDate;
use serde::Deserialize;

use super::diary::diary_link;
use super::layout::{PageError, page_zone, urlencode};
use super::timesheet::parse_week;
use super::viewer::Viewer;
use crate::http::state::Shared;
use crate::rules::{ReviewAction, ReviewRequest, ReviewTarget};
use crate::usecases;
use timecard_core::domain::SegmentId;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/contracts/{id}/weeks/{monday}/approve", post(approve_week))
        .route(
            "/contracts/{id}/segments/{segment}/dispute",
            post(dispute_segment),
        )
        .route(
            "/contracts/{id}/segments/{segment}/answer",
            post(answer_dispute),
        )
        .route(
            "/contracts/{id}/segments/{segment}/decide",
            post(decide_dispute),
        )
}

#[derive(Deserialize)]
struct ReviewForm {
    csrf: String,
    #[serde(default)]
    note: String,
    date: Option<NaiveDate>,
    tz: Option<String>,
    decision: Option<String>,
}

/// Takes `action` on the contract's `target` for the viewer and sends the
/// browser back to `back`.
async fn take(
    state: &Shared,
    viewer: &Viewer,
    contract_id: String,
    target: ReviewTarget,
    action: ReviewAction,
    note: String,
    back: String,
) -> Result<Response, PageError> {
    // The same answer for a contract the viewer may not see as for none.
    let stored = viewer.contract(state, contract_id).await?;
    let request = ReviewRequest {
        contract_id: stored.contract.id,
        by_user_id: viewer.user.id,
        by_admin: viewer.is_admin(),
        target,
        action,
        note,
    };
    let (now, review_secs) = (state.clock.now(), state.review_secs);
    let (store, login) = (state.store.clone(), viewer.user.login.clone());
    tokio::task::spawn_blocking(move || {
        usecases::review::step(store.as_ref(), &request, &login, now, review_secs)
    })
    .await
    .map_err(|_| {
        PageError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Nothing was changed; try again.".into(),
        )
    })?
    .map_err(|refusal| match refusal {
        usecases::Refusal::Refused { message, .. } => {
            PageError(StatusCode::CONFLICT, format!("Not done: {message}."))
        }
        other => other.into(),
    })?;
    Ok(Redirect::to(&back).into_response())
}

async fn approve_week(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, monday)): Path<(String, NaiveDate)>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let week = parse_week(Some(monday), state.clock.now())?;
    let back = format!(
        "/contracts/{}/timesheet?week={}",
        urlencode(&id),
        week.start().date_naive()
    );
    take(
        &state,
        &viewer,
        id,
        ReviewTarget::Week(week),
        ReviewAction::Approve,
        String::new(),
        back,
    )
    .await
}

async fn dispute_segment(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
    form: Form<ReviewForm>,
) -> Result<Response, PageError> {
    segment_step(state, viewer, path, form, |_| Ok(ReviewAction::Dispute)).await
}

async fn answer_dispute(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
    form: Form<ReviewForm>,
) -> Result<Response, PageError> {
    segment_step(state, viewer, path, form, |_| Ok(ReviewAction::Answer)).await
}

async fn decide_dispute(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
    form: Form<ReviewForm>,
) -> Result<Response, PageError> {
    segment_step(state, viewer, path, form, |form| {
        match form.decision.as_deref() {
            Some("keep") => Ok(ReviewAction::Keep),
            Some("reject") => Ok(ReviewAction::Reject),
            _ => Err(PageError(
                StatusCode::BAD_REQUEST,
                "Choose to keep or to reject the time.".into(),
            )),
        }
    })
    .await
}

/// A review step on one segment, from a diary form: back to the day.
async fn segment_step(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, segment)): Path<(String, String)>,
    Form(form): Form<ReviewForm>,
    action: impl FnOnce(&ReviewForm) -> Result<ReviewAction, PageError>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let zone = page_zone(form.tz.as_deref())?;
    let back = diary_link(&id, form.date, zone);
    let segment: SegmentId = segment.parse().map_err(|_| super::layout::not_found())?;
    let action = action(&form)?;
    take(
        &state,
        &viewer,
        id,
        ReviewTarget::Segment(segment),
        action,
        form.note,
        back,
    )
    .await
}
