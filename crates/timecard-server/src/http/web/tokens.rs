//! I1: "API tokens": the signed-in user's personal tokens for integrations
//! (invoicing, project tools, scripts): make one (shown once), see when
//! each was last used, revoke it.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{PageError, Typed, layout};
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};
use crate::store::{ApiToken, Scope};
use crate::usecases::tokens;

/// The page's address.
pub const TOKENS_PATH: &str = "/settings/tokens";

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(TOKENS_PATH, get(tokens_page).post(create))
        .route("/settings/tokens/{id}/revoke", post(revoke))
}

/// What the page says above the list after an action.
enum Outcome {
    Made { token: String, scope: Scope },
    Problem(String),
}

async fn tokens_page(
    State(state): State<Shared>,
    viewer: Viewer,
) -> Result<Html<String>, PageError> {
    page(&state, &viewer, None, &NewForm::default()).await
}

async fn page(
    state: &Shared,
    viewer: &Viewer,
    outcome: Option<Outcome>,
    form: &NewForm,
) -> Result<Html<String>, PageError> {
    let id = viewer.user.id;
    let list = blocking(state, move |s| s.api_tokens(Some(id))).await?;
    let now = state.clock.now();
    let days = form.expires.unwrap_or(tokens::DEFAULT_DAYS);
    let body = html! {
        h1 { "API tokens" }
        p { "A token lets a program — an invoicing tool, a script — use Timecard's API as you, "
            "with " code { "Authorization: Bearer TOKEN" } ". "
            "A " strong { "read" } " token reads your diary, contracts and screenshots and can change nothing; "
            "a " strong { "read-write" } " token can also upload and add or delete time. "
            "The API is described at " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } "." }
        @match &outcome {
            Some(Outcome::Made { token, scope }) => div.notice.done role="status" {
                p { "Your new " (scope.as_str()) " token. Copy it now: it is not shown again." }
                p { code.secret #new-token { (token) } }
            },
            Some(Outcome::Problem(text)) => div.notice.problem role="alert" { p { (text) } },
            None => {},
        }
        h2 { "Make a token" }
        form.signin method="post" action=(TOKENS_PATH) {
            input type="hidden" name="csrf" value=(viewer.csrf());
            label for="token-name" { "What will use it" }
            input #token-name type="text" name="name" required maxlength=(tokens::MAX_NAME_CHARS)
                value=(form.name) placeholder="Invoicing export";
            fieldset {
                legend { "What it may do" }
                label { input type="radio" name="scope" value="read" checked[form.scope != Some(Scope::ReadWrite)]; " Read only" }
                label { input type="radio" name="scope" value="read-write" checked[form.scope == Some(Scope::ReadWrite)]; " Read and write" }
            }
            label for="token-days" { "Valid for" }
            select #token-days name="expires" {
                @for d in [7, 30, 90, 180, tokens::MAX_DAYS] {
                    option value=(d) selected[d == days] { (d) " days" }
                }
            }
            button type="submit" { "Make the token" }
        }
        h2 { "Your tokens" }
        @if list.is_empty() {
            p.muted #no-tokens { "You have no API tokens." }
        } @else {
            table.contracts #tokens {
                caption.hidden { "Your API tokens" }
                thead { tr {
                    th scope="col" { "Name" }
                    th scope="col" { "May" }
                    th scope="col" { "Made" }
                    th scope="col" { "Expires" }
                    th scope="col" { "Last used" }
                    th scope="col" { span.hidden { "Revoke" } }
                } }
                tbody {
                    @for t in &list { (row(t, viewer, now)) }
                }
            }
        }
    };
    Ok(layout("API tokens", Some(&viewer.header()), body))
}

fn row(t: &ApiToken, viewer: &Viewer, now: DateTime<Utc>) -> Markup {
    html! {
        tr id={ "token-" (t.id) } {
            th scope="row" data-label="Name" { (Typed(&t.name)) }
            td data-label="May" { (t.scope.as_str()) }
            td data-label="Made" { (when(t.created_at)) }
            td data-label="Expires" {
                @if t.expired(now) { strong { "expired " } }
                (when(t.expires_at))
            }
            td data-label="Last used" {
                @match t.last_used_at {
                    Some(at) => (when(at)),
                    None => span.muted { "never" },
                }
            }
            td data-label="Revoke" {
                form.inline method="post" action={ "/settings/tokens/" (t.id) "/revoke" } {
                    input type="hidden" name="csrf" value=(viewer.csrf());
                    button.danger type="submit" { "Revoke" span.hidden { " " (Typed(&t.name)) } }
                }
            }
        }
    }
}

fn when(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%-d %b %Y %H:%M UTC")) } }
}

#[derive(Default, Deserialize)]
struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    scope: Option<Scope>,
    expires: Option<u32>,
}

async fn create(
    State(state): State<Shared>,
    viewer: Viewer,
    Form(form): Form<NewForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let scope = form.scope.unwrap_or(Scope::Read);
    let days = form.expires.unwrap_or(tokens::DEFAULT_DAYS);
    let (user, name, now) = (viewer.user.clone(), form.name.clone(), state.clock.now());
    let made = blocking(&state, move |s| {
        Ok(tokens::create(s, &user, &name, scope, days, now))
    })
    .await?;
    let outcome = match made {
        Ok(made) => Outcome::Made {
            token: made.token,
            scope,
        },
        Err(refusal) => Outcome::Problem(PageError::from(refusal).1),
    };
    let form = match outcome {
        Outcome::Made { .. } => NewForm::default(),
        Outcome::Problem(_) => form,
    };
    let page = page(&state, &viewer, Some(outcome), &form).await?;
    Ok(super::layout::no_store(page.into_response()))
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: String,
}

async fn revoke(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let owner = viewer.user.id;
    blocking(&state, move |s| {
        Ok(tokens::revoke(s, &id.to_string(), Some(owner)))
    })
    .await??;
    Ok(Redirect::to(TOKENS_PATH).into_response())
}
