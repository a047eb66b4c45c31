//! Judging a batch inside one transaction, the same for every database:
//! each store gives the facts the rules need ([`BatchTx`]) and writes what
//! they accept; the rules themselves are [`rules::judge`] and
//! [`rules::judge_manual`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Result;
use super::blobs::ShotKeys;
use crate::rules::{self, Facts, Verdict};
use timecard_core::domain::{BillingWeek, Segment, SegmentGrid};
use timecard_core::protocol::{Outcome, RejectReason, SegmentResult, ServerConfig};

/// What a store does inside a batch's transaction.
pub(super) trait BatchTx {
    /// Seconds the user logged on a contract within `[from, to)` (clipped).
    fn logged_secs(
        &mut self,
        user_id: i64,
        contract_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64>;
    /// What the rules need to judge `segment`; `lookback` is how far
    /// before it an overlapping segment may start.
    fn facts(
        &mut self,
        user_id: i64,
        segment: &Segment,
        week_logged_secs: i64,
        lookback: i64,
    ) -> Result<Facts>;
    /// Stores an accepted segment; its screenshot in the row, or (with
    /// `shot`) as blobs already written.
    fn insert(&mut self, user_id: i64, segment: &Segment, shot: Option<&ShotKeys>) -> Result<()>;
}

/// Judges and stores a batch; one result per segment. The caller commits.
pub(super) fn ingest(
    tx: &mut impl BatchTx,
    user_id: i64,
    segments: &[Segment],
    shots: &HashMap<timecard_core::domain::SegmentId, ShotKeys>,
    now: DateTime<Utc>,
    config: ServerConfig,
) -> Result<Vec<SegmentResult>> {
    let mut results = Vec::with_capacity(segments.len());
    // Week totals per (contract, week start), read once per batch and kept
    // up to date as segments are accepted.
    let mut week_totals: HashMap<(String, DateTime<Utc>), i64> = HashMap::new();
    let lookback = rules::max_segment_secs(config);
    for segment in segments {
        let week = BillingWeek::containing(segment.start);
        let week_key = (segment.contract_id.clone(), week.start());
        let week_logged = match week_totals.get(&week_key) {
            Some(secs) => *secs,
            None => {
                let secs =
                    tx.logged_secs(user_id, &segment.contract_id, week.start(), week.end())?;
                week_totals.insert(week_key.clone(), secs);
                secs
            }
        };
        let facts = tx.facts(user_id, segment, week_logged, lookback)?;
        let shot = shots.get(&segment.id);
        let mut accepted_until = None;
        let (outcome, reason, message) = match rules::judge(segment, &facts, now, config) {
            Verdict::Accept => {
                tx.insert(user_id, segment, shot)?;
                *week_totals.entry(week_key).or_default() += segment.duration_secs();
                (Outcome::Accepted, None, None)
            }
            Verdict::AcceptUntil(end, message) => {
                let grid = SegmentGrid::new(config.segment_secs).unwrap_or_default();
                let part = segment.cut_at(end, grid);
                tx.insert(user_id, &part, shot)?;
                *week_totals.entry(week_key).or_default() += part.duration_secs();
                accepted_until = Some(end);
                (Outcome::Accepted, None, Some(message))
            }
            Verdict::Duplicate => (Outcome::Duplicate, None, None),
            Verdict::Reject(reason, message) => (Outcome::Rejected, Some(reason), Some(message)),
        };
        results.push(SegmentResult {
            id: segment.id,
            outcome,
            reason,
            message,
            accepted_until,
        });
    }
    Ok(results)
}

/// Judges time added by hand (R8): every segment accepted, or nothing
/// stored and the first refusal returned. The caller commits on `Ok(Ok)`.
pub(super) fn add_manual(
    tx: &mut impl BatchTx,
    user_id: i64,
    segments: &[Segment],
    now: DateTime<Utc>,
    config: ServerConfig,
) -> Result<std::result::Result<(), (RejectReason, String)>> {
    let lookback = rules::max_segment_secs(config);
    for segment in segments {
        let week = BillingWeek::containing(segment.start);
        let week_logged =
            tx.logged_secs(user_id, &segment.contract_id, week.start(), week.end())?;
        let facts = tx.facts(user_id, segment, week_logged, lookback)?;
        match rules::judge_manual(segment, &facts, now, config) {
            Verdict::Accept => tx.insert(user_id, segment, None)?,
            Verdict::Reject(reason, message) => return Ok(Err((reason, message))),
            Verdict::Duplicate | Verdict::AcceptUntil(..) => {
                return Ok(Err((
                    RejectReason::ContractNotTrackable,
                    "the contract was paused or ended within this time".into(),
                )));
            }
        }
    }
    Ok(Ok(()))
}
