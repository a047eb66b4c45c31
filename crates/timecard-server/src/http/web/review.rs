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
use maud::html;
use serde::Deserialize;

use super::diary::{diary_link, diary_link_after};
use super::layout::{PageError, confirm_page, page_zone, urlencode};
use super::timesheet::parse_week;
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};
use crate::rules::{ReviewAction, ReviewRequest, ReviewTarget};
use crate::usecases;
use crate::views::ReviewView;
use timecard_core::domain::{BillingWeek, SegmentId};

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
    /// "yes" once the viewer confirmed a step that cannot be undone
    /// (rejecting time, approving a week).
    confirm: Option<String>,
}

impl ReviewForm {
    fn confirmed(&self) -> bool {
        self.confirm.as_deref() == Some("yes")
    }
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
    state.webhooks.wake.notify_one();
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
    let monday = week.start().date_naive();
    let back = format!(
        "/contracts/{}/timesheet?week={monday}&done=approved#review",
        urlencode(&id),
    );
    if !form.confirmed() && may(&state, &viewer, &id, None, week).await? {
        let title = format!(
            "Approve the week of {}?",
            week.start().format("%a %-d %b %Y")
        );
        return Ok(confirm_page(
            &viewer.header(),
            &title,
            html! {
                p { "Approving says the week's billable time is right. It cannot be undone: \
                     nothing in the week can be disputed, added or deleted afterwards." }
            },
            &format!("/contracts/{}/weeks/{monday}/approve", urlencode(&id)),
            &[],
            "Approve the week",
            &format!("/contracts/{}/timesheet?week={monday}", urlencode(&id)),
        )
        .into_response());
    }
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
    let segment_id: SegmentId = segment.parse().map_err(|_| super::layout::not_found())?;
    let action = action(&form)?;
    let done = match action {
        ReviewAction::Dispute => "disputed",
        ReviewAction::Answer => "answered",
        ReviewAction::Keep => "kept",
        ReviewAction::Reject => "rejected",
        ReviewAction::Approve => "approved",
    };
    let back = diary_link_after(&id, form.date, zone, done, &segment);
    let week = BillingWeek::containing(form.date.map_or(state.clock.now(), |d| {
        d.and_time(chrono::NaiveTime::MIN).and_utc()
    }));
    if action == ReviewAction::Reject
        && !form.confirmed()
        && may(&state, &viewer, &id, Some(segment_id), week).await?
    {
        let date = form.date.map(|d| d.to_string()).unwrap_or_default();
        return Ok(confirm_page(
            &viewer.header(),
            "Reject this time?",
            html! {
                p { "The segment stays in the diary, marked rejected, and is not billed. \
                     A rejection is final for this week's review." }
            },
            &format!("/contracts/{}/segments/{segment}/decide", urlencode(&id)),
            &[("decision", "reject"), ("date", &date), ("tz", zone.name())],
            "Reject the time",
            &format!("{}#segment-{segment}", diary_link(&id, form.date, zone)),
        )
        .into_response());
    }
    let segment = segment_id;
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

/// Whether the viewer may reject `segment` (or, without one, approve
/// `week`) now: the question is asked only of someone who may answer yes;
/// anyone else's step goes on to be refused in words.
async fn may(
    state: &Shared,
    viewer: &Viewer,
    contract_id: &str,
    segment: Option<SegmentId>,
    week: BillingWeek,
) -> Result<bool, PageError> {
    let stored = viewer.contract(state, contract_id.to_owned()).await?;
    let (now, review_secs, user) = (state.clock.now(), state.review_secs, viewer.user.clone());
    Ok(blocking(state, move |s| {
        let review = ReviewView::load(s, &stored, &user, now, review_secs)?;
        Ok(match segment {
            None => review.may_approve(week),
            Some(id) => match s.segment(stored.user_id, id)? {
                Some(found) if found.contract_id == stored.contract.id => {
                    let mut found = [found];
                    review.mark_all(&mut found);
                    review.may(ReviewAction::Reject, &found[0])
                }
                _ => false,
            },
        })
    })
    .await?)
}
