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
use axum::http::StatusCode;
use axum::{Extension, Router};

pub use self::error::ApiError;
pub use self::state::{AppState, Shared};

/// Cap on JSON request bodies (and form posts).
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// The whole server: the API and the pages, each request bounded by the
/// guards, maintenance mode on the API, the security headers on every
/// answer, and a handler's panic answered as a plain 500.
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
        .layer(axum::middleware::from_fn(middleware::catch_panics))
        .with_state(state)
}
