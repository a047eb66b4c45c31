//! The weekly review (R7): a client approves a week or disputes, keeps or
//! rejects a segment; the freelancer answers. Each step is checked and
//! stored in one transaction (B3), whoever asks and however many at once.

use chrono::{DateTime, Utc};

use super::Refusal;
use crate::rules::{ReviewEvent, ReviewRefusal, ReviewRequest, ReviewTarget};
use crate::store::{Store, StoreError};

/// Takes the step `request` asks for at `now`, or says why not.
pub fn step(
    store: &dyn Store,
    request: &ReviewRequest,
    login: &str,
    now: DateTime<Utc>,
    review_secs: i64,
) -> Result<ReviewEvent, Refusal> {
    let event = store
        .review(request, now, review_secs)
        .map_err(|e| match e {
            StoreError::NotFound(_) => Refusal::NotFound("no such contract".into()),
            other => Refusal::Store(other),
        })?
        .map_err(|refusal| match refusal {
            ReviewRefusal::NoSuchSegment => {
                Refusal::NotFound("no such segment on this contract".into())
            }
            ReviewRefusal::Invalid(why) => Refusal::Invalid(why),
            ReviewRefusal::NotAllowed(why) => Refusal::Refused {
                code: "review_refused",
                message: why.to_owned(),
            },
        })?;
    if let Some(told) = crate::webhooks::Event::of_review(&request.contract_id, login, &event) {
        crate::webhooks::events::queue_quietly(store, &told, now);
    }
    log::info!(
        "server: {login} did {} on {} ({})",
        request.action.as_str(),
        request.contract_id,
        match request.target {
            ReviewTarget::Week(week) => week.start().date_naive().to_string(),
            ReviewTarget::Segment(id) => id.to_string(),
        }
    );
    Ok(event)
}
