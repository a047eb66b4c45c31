//! M5: "Your e-mail settings": the signed-in user's address (set by an
//! invitation or an admin) and whether they get the weekly summary.

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::layout::{PageError, layout};
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};
use crate::mail::SETTINGS_PATH;

pub fn routes() -> Router<Shared> {
    Router::new().route(SETTINGS_PATH, get(settings_page).post(save))
}

async fn settings_page(
    State(state): State<Shared>,
    viewer: Viewer,
) -> Result<Html<String>, PageError> {
    let id = viewer.user.id;
    let me = blocking(&state, move |s| s.recipients(&[id])).await?;
    let summary = me.get(&id).is_none_or(|r| r.weekly_summary);
    let body = html! {
        h1 { "Your e-mail settings" }
        p { "Mail goes to "
            @match &viewer.user.email {
                Some(email) => strong #email { (email) },
                None => em { "no address: ask an admin to add one" },
            }
            "." }
        @if !state.mail.sending {
            p.muted { "This server sends no e-mail at the moment." }
        }
        form.signin method="post" action=(SETTINGS_PATH) {
            input type="hidden" name="csrf" value=(viewer.csrf());
            label {
                input #weekly-summary type="checkbox" name="weekly_summary" value="on" checked[summary];
                " A summary of my contracts' hours and amounts every Monday"
            }
            button type="submit" { "Save" }
        }
        p.muted { "Disputes, answers and weeks ready for review are always mailed." }
    };
    Ok(layout("E-mail settings", Some(&viewer.header()), body))
}

#[derive(Deserialize)]
struct SettingsForm {
    csrf: String,
    weekly_summary: Option<String>,
}

async fn save(
    State(state): State<Shared>,
    viewer: Viewer,
    Form(form): Form<SettingsForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let (id, on) = (viewer.user.id, form.weekly_summary.is_some());
    blocking(&state, move |s| s.set_weekly_summary(id, on))
        .await
        .map_err(|e| PageError(StatusCode::INTERNAL_SERVER_ERROR, e.message))?;
    Ok(Redirect::to(SETTINGS_PATH).into_response())
}
