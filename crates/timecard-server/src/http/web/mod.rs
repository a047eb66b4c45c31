//! The web dashboard, for the people who pay and the people who run the
//! server: server-rendered pages on the API's TLS listener, outside
//! `/api/v1`, one file per room. Pages read through the views (`views`)
//! and act through the use cases (`usecases`): no rule is written again
//! here. Every page says what the browser may load: nothing from elsewhere
//! and no inline script (R5).

pub mod admin;
pub mod assets;
pub mod contracts;
pub mod csv;
pub mod diary;
pub mod download;
pub mod invite;
pub mod layout;
pub mod mail_settings;
pub mod reports;
pub mod review;
pub mod session;
pub mod shots;
pub mod sign_on;
pub mod sign_on_app;
pub mod timesheet;
pub mod tokens;
pub mod viewer;
pub mod webhooks;

use axum::Router;

use crate::http::state::Shared;

/// The dashboard's routes, merged into the server's router.
pub fn routes() -> Router<Shared> {
    Router::new()
        .merge(session::routes())
        .merge(sign_on::routes())
        .merge(contracts::routes())
        .merge(diary::routes())
        .merge(shots::routes())
        .merge(download::routes())
        .merge(review::routes())
        .merge(timesheet::routes())
        .merge(csv::routes())
        .merge(reports::routes())
        .merge(admin::routes())
        .merge(invite::routes())
        .merge(mail_settings::routes())
        .merge(tokens::routes())
        .merge(webhooks::routes())
        .merge(assets::routes())
}
