//! Uploads (K6–K8): a batch's cache-file bodies decoded and judged, for the
//! API and the app's built-in server alike. A body over the size cap is
//! refused as `invalid` by its id, without decoding the rest of it; the
//! others are judged and stored in one transaction. What was accepted is
//! queued for the webhooks that ask (I2).

use chrono::{DateTime, Utc};

use super::Refusal;
use crate::store::Store;
use timecard_core::codec;
use timecard_core::domain::segment::caps;
use timecard_core::protocol::{Outcome, RejectReason, SegmentResult, ServerConfig};

/// Judges and stores `bodies` for `user_id` at `now`: one result per body,
/// in order. An entry whose id does not decode refuses the whole batch
/// (`Malformed`).
pub fn judge(
    store: &dyn Store,
    user_id: i64,
    bodies: &[&[u8]],
    now: DateTime<Utc>,
    config: ServerConfig,
) -> Result<Vec<SegmentResult>, Refusal> {
    let mut segments = Vec::with_capacity(bodies.len());
    let mut slots = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let undecodable =
            |e| Refusal::Malformed(format!("segment {i} of the batch does not decode: {e}"));
        if body.len() > caps::BODY_BYTES {
            let id = codec::body_id(body).map_err(undecodable)?;
            slots.push(Some(SegmentResult {
                id,
                outcome: Outcome::Rejected,
                reason: Some(RejectReason::Invalid),
                message: Some(format!(
                    "the segment is {} bytes; at most {} are taken (a screenshot of at most {} bytes)",
                    body.len(),
                    caps::BODY_BYTES,
                    caps::SCREENSHOT_BYTES
                )),
                accepted_until: None,
            }));
        } else {
            segments.push(codec::decode_body(body).map_err(undecodable)?);
            slots.push(None);
        }
    }
    let results = store.ingest(user_id, &segments, now, config)?;
    let accepted: Vec<&timecard_core::domain::Segment> = segments
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.outcome == Outcome::Accepted)
        .map(|(s, _)| s)
        .collect();
    if !accepted.is_empty() {
        crate::webhooks::events::queue_uploaded(store, user_id, &accepted, now);
    }
    let mut stored = results.into_iter();
    Ok(slots
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| stored.next().expect("one result per segment")))
        .collect())
}
