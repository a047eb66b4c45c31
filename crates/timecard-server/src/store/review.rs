//! Review steps and deletions inside one transaction, the same for every
//! database (B3): each store gives the facts the rules need ([`ReviewTx`])
//! while it holds the lock the freelancer's uploads take, and writes what
//! they allow; the rules are [`rules::review_step`] and
//! [`rules::may_delete`].

use chrono::{DateTime, Utc};

use super::{Result, StoreError};
use crate::rules::{
    self, Closed, ReviewEvent, ReviewRefusal, ReviewRequest, ReviewTarget, StoredContract,
};
use timecard_core::domain::{BillingWeek, SegmentId};

/// What a store does inside a review step's or a deletion's transaction.
pub(super) trait ReviewTx {
    fn contract(&mut self, id: &str) -> Result<Option<StoredContract>>;
    /// Every review event of the contract, oldest first.
    fn reviews(&mut self, contract_id: &str) -> Result<Vec<ReviewEvent>>;
    /// Where one of the user's segments starts and which contract it is on.
    fn segment_start(
        &mut self,
        user_id: i64,
        id: SegmentId,
    ) -> Result<Option<(DateTime<Utc>, String)>>;
    /// When the contract's week starting at `week_start` was approved.
    fn approved_at(
        &mut self,
        contract_id: &str,
        week_start: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>>;
    fn insert_review(&mut self, contract_id: &str, event: &ReviewEvent) -> Result<()>;
}

/// Takes the step if the rules allow it; the caller commits on `Ok(Ok)`.
pub(super) fn step(
    tx: &mut impl ReviewTx,
    request: &ReviewRequest,
    now: DateTime<Utc>,
    review_secs: i64,
) -> Result<std::result::Result<ReviewEvent, ReviewRefusal>> {
    let contract = tx.contract(&request.contract_id)?.ok_or_else(|| {
        StoreError::NotFound(format!("no contract with id {:?}", request.contract_id))
    })?;
    let segment_start = match request.target {
        ReviewTarget::Week(_) => None,
        ReviewTarget::Segment(id) => tx
            .segment_start(contract.user_id, id)?
            .filter(|(_, on)| *on == contract.contract.id)
            .map(|(start, _)| start),
    };
    let events = tx.reviews(&contract.contract.id)?;
    match rules::review_step(&contract, request, segment_start, &events, now, review_secs) {
        Ok(event) => {
            tx.insert_review(&contract.contract.id, &event)?;
            Ok(Ok(event))
        }
        Err(refusal) => Ok(Err(refusal)),
    }
}

/// Whether the user's segment `id` may be deleted now (S4): `NotFound`
/// when there is none, `Ok(Err)` when its week has closed. The caller
/// deletes and commits on `Ok(Ok)`.
pub(super) fn may_delete(
    tx: &mut impl ReviewTx,
    user_id: i64,
    id: SegmentId,
    now: DateTime<Utc>,
    grace_secs: i64,
) -> Result<std::result::Result<(), Closed>> {
    let (start, contract_id) = tx
        .segment_start(user_id, id)?
        .ok_or_else(|| StoreError::NotFound(format!("segment {id} not found")))?;
    let approved = tx.approved_at(&contract_id, BillingWeek::containing(start).start())?;
    Ok(rules::may_delete(start, now, grace_secs, approved))
}
