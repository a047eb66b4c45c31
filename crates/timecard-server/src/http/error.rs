//! The API's error answers: a status and `{"error", "message"}`, mapped
//! from the store's and the use cases' errors in one place.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;
use crate::usecases::Refusal;
use timecard_core::protocol::ErrorBody;

/// An error answer: status plus `{"error", "message"}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    /// A 500 that says nothing of the server's insides (never a panic's text).
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed on this request; try again later",
        )
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// A 503 saying the server is busy, with Retry-After.
    pub fn busy(retry_after: std::time::Duration) -> Self {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is busy with other requests; try again in a few seconds",
        );
        e.retry_after = Some(retry_after.as_secs().max(1));
        e
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Seconds a client is asked to wait when the database is unavailable.
const UNAVAILABLE_RETRY_SECS: u64 = 5;
/// How long a client waits before trying a server whose disk is full.
const FULL_RETRY_SECS: u64 = 60;

/// Whether a line last written at `last` (Unix seconds) may be written
/// again at `now`; if so, `now` becomes the last time.
fn once_a_minute(last: &AtomicU64, now: u64) -> bool {
    let before = last.load(Ordering::Relaxed);
    (before == 0 || now >= before + 60)
        && last
            .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            StoreError::Unavailable(e) => {
                log::error!("storage unavailable: {e}");
                let mut error = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the server's database cannot be reached just now; try again shortly",
                );
                error.retry_after = Some(UNAVAILABLE_RETRY_SECS);
                error
            }
            StoreError::Full(e) => {
                // Every request fails the same way until there is room:
                // one line a minute says so, not one per request.
                static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
                if once_a_minute(&LAST_LOGGED, unix_secs()) {
                    log::error!("the server's disk is full; nothing more can be stored: {e}");
                }
                let mut error = ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "storage_full",
                    "the server's disk is full, so nothing was stored; your time is kept on your computer and uploaded once the server has room",
                );
                error.retry_after = Some(FULL_RETRY_SECS);
                error
            }
            StoreError::Internal(e) => {
                log::error!("storage error: {e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server's database failed; try again later",
                )
            }
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let retry_after = match &refusal {
            Refusal::TooManyAttempts(delay) => {
                Some((delay.wait.as_secs_f64().ceil() as u64).max(1))
            }
            Refusal::Busy(wait) => Some(wait.as_secs().max(1)),
            _ => None,
        };
        if let Refusal::Store(e) = refusal {
            return ApiError::from(e);
        }
        let (status, code) = refusal.status_and_code();
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: refusal.to_string(),
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 23, item 11: a full disk is logged once a minute, not once per
    // request.
    #[test]
    fn a_full_disk_is_logged_once_a_minute() {
        let last = AtomicU64::new(0);
        assert!(once_a_minute(&last, 1_000));
        assert!(!once_a_minute(&last, 1_001));
        assert!(!once_a_minute(&last, 1_059));
        assert!(once_a_minute(&last, 1_060));
        assert!(!once_a_minute(&last, 1_070));
    }
}
