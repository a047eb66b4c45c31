//! The server's HTTP rooms: the app's API (`api`) and the web dashboard
//! (`web`), merged into one router here with the plumbing they share —
//! state, errors, guards, middleware — so that neither imports the other.
//! Handlers only parse, call a view or a use case, and render.

pub mod api;
pub mod error;
pub mod guards;
pub mod middleware;
pub mod state;
pub mod web;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode, Version, header};
use axum::{Extension, Router};
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

pub use self::error::ApiError;
pub use self::state::{AppState, Shared};

/// Cap on JSON request bodies (and form posts).
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// The whole server: the API and the pages, each request bounded by the
/// guards, maintenance mode on the API, the security headers on every
/// answer, text answers compressed for clients that ask, and a handler's
/// panic answered as a plain 500.
pub fn router(state: Shared) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(web::routes())
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
        })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(Extension(Arc::new(guards::Guards::default())))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::maintenance,
        ))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(compression())
        .layer(axum::middleware::from_fn(middleware::catch_panics))
        .with_state(state)
}

/// Gzip or Brotli, as the client's `Accept-Encoding` prefers, on text
/// answers: pages, the stylesheet and script, the SVG icon, JSON and CSV.
/// Never on what is compressed already or sent as it is stored —
/// screenshots and thumbnails (JPEG), downloads (packages, zips), report
/// zips — so those keep their length and ranges. A streamed answer (a
/// year's CSV) stays streamed: each piece is compressed as it passes.
///
/// Pages carry CSRF tokens; compressing a secret beside text an attacker
/// chooses can leak it by length (BREACH), but the session cookies are
/// `SameSite=Strict`, so another site's requests get no signed-in page.
///
/// Level 4 (of 9 for gzip, 11 for Brotli) keeps the cost per answer small:
/// Brotli's default, 11, is meant for files compressed once, not for every
/// answer.
fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .no_deflate()
        .no_zstd()
        .quality(CompressionLevel::Precise(4))
        .compress_when(SizeAbove::new(256).and(is_text))
}

/// Whether an answer is text worth compressing, by its `Content-Type`.
fn is_text(_: StatusCode, _: Version, headers: &HeaderMap, _: &axum::http::Extensions) -> bool {
    let Some(kind) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let kind = kind.split(';').next().unwrap_or("").trim();
    // An event stream would wait in the compressor instead of arriving.
    (kind.starts_with("text/") && kind != "text/event-stream")
        || kind == "application/json"
        || kind == "image/svg+xml"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_text_answers_are_compressed() {
        let judge = |kind: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, kind.parse().unwrap());
            is_text(
                StatusCode::OK,
                Version::HTTP_11,
                &headers,
                &axum::http::Extensions::new(),
            )
        };
        for kind in [
            "text/html; charset=utf-8",
            "text/css; charset=utf-8",
            "text/javascript; charset=utf-8",
            "text/csv; charset=utf-8",
            "application/json",
            "image/svg+xml",
        ] {
            assert!(judge(kind), "{kind}");
        }
        for kind in [
            "image/jpeg",
            "image/x-icon",
            "application/octet-stream",
            "application/zip",
            "text/event-stream",
        ] {
            assert!(!judge(kind), "{kind}");
        }
        assert!(!is_text(
            StatusCode::OK,
            Version::HTTP_11,
            &HeaderMap::new(),
            &axum::http::Extensions::new()
        ));
    }
}
