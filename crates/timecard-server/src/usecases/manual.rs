//! Time added by hand (R8): from the API (`timecard manual`) and the web
//! diary alike.

use chrono::{DateTime, Utc};

use super::Refusal;
use crate::rules;
use crate::store::{Store, User};
use timecard_core::domain::segment::caps;
use timecard_core::domain::text::{Lines, text_problem};
use timecard_core::protocol::{ManualTime, ManualTimeAdded, RejectReason, ServerConfig};

/// Adds `request` for `user` at `now`: cut on the grid and judged like
/// tracked time, stored only if every piece is accepted.
pub fn add(
    store: &dyn Store,
    user: &User,
    request: ManualTime,
    now: DateTime<Utc>,
    config: ServerConfig,
) -> Result<ManualTimeAdded, Refusal> {
    if request.memo.chars().count() > caps::MEMO_CHARS {
        return Err(Refusal::Invalid(format!(
            "the memo is longer than {} characters",
            caps::MEMO_CHARS
        )));
    }
    if let Some(problem) = text_problem("memo", &request.memo, caps::MEMO_CHARS, Lines::Many) {
        return Err(Refusal::Invalid(problem));
    }
    let segments = rules::manual_segments(
        &request.contract_id,
        request.start,
        request.end,
        request.memo.trim(),
        now,
        config,
    )
    .map_err(Refusal::Invalid)?;
    let added = ManualTimeAdded {
        segments: segments.iter().map(|s| s.id).collect(),
        secs: (request.end - request.start).num_seconds(),
    };
    store.add_manual(user.id, &segments, now, config)?.map_err(
        |(reason, message): (RejectReason, String)| Refusal::Refused {
            code: reason.code(),
            message,
        },
    )?;
    let ids: Vec<String> = added.segments.iter().map(ToString::to_string).collect();
    crate::webhooks::events::queue_quietly(
        store,
        &crate::webhooks::Event::manual_time_added(
            &user.login,
            &request.contract_id,
            &ids,
            request.start,
            request.end,
            request.memo.trim(),
            now,
        ),
        now,
    );
    log::info!(
        "server: {} added {} s of manual time on {}",
        user.login,
        added.secs,
        request.contract_id
    );
    Ok(added)
}
