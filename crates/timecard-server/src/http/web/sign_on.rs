//! I4: "Sign in with NAME": the browser goes to the identity provider and
//! comes back to `/login/oidc/callback`, which opens a Timecard session as
//! the password form does. The state is also in a cookie of this browser
//! (`SameSite=Lax`, so the provider's redirect brings it). The session
//! cookie is `SameSite=Strict`, which a browser withholds on the redirect
//! chain that began at the provider: the callback answers a page that
//! moves on to the contracts by itself (a same-site navigation).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::layout::layout;
use super::viewer::{SESSION_COOKIE, cookie};
use crate::http::state::Shared;
use crate::oidc::{CALLBACK_PATH, START_PATH, SignOnError};
use crate::usecases;

/// The cookie that holds a web sign-in's state until the provider answers.
pub const STATE_COOKIE: &str = "__Host-timecard-oidc";

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(START_PATH, get(start))
        .route(CALLBACK_PATH, get(callback))
}

/// A page that says why a sign-in did not work, with a way to try again.
fn refused(status: StatusCode, name: &str, words: &str) -> Response {
    let text = super::layout::sentence(words);
    let page = layout(
        "Sign-in refused",
        None,
        html! {
            h1 { "Not signed in" }
            p.error role="alert" #sign-on-error { (text) }
            p { a href=(START_PATH) { "Sign in with " (name) " again" } " · " a href="/login" { "Back to the sign-in page" } }
        },
    );
    (status, page).into_response()
}

/// What the app adds to the start (I5).
#[derive(Deserialize)]
struct Start {
    app_redirect: Option<String>,
    app_challenge: Option<String>,
    app_state: Option<String>,
}

async fn start(State(state): State<Shared>, Query(query): Query<Start>) -> Response {
    let Some(sign_on) = state.sign_on.clone() else {
        return Redirect::to("/login").into_response();
    };
    let app = match (query.app_redirect, query.app_challenge) {
        (Some(redirect), Some(challenge)) => {
            let app = crate::oidc::AppRequest {
                redirect,
                challenge,
                state: query.app_state.unwrap_or_default(),
            };
            if let Some(problem) = super::sign_on_app::app_request_problem(&app) {
                return refused(StatusCode::BAD_REQUEST, &sign_on.options.name, problem);
            }
            Some(app)
        }
        (None, None) => None,
        _ => {
            return refused(
                StatusCode::BAD_REQUEST,
                &sign_on.options.name,
                "the app's sign-in needs both its address and its challenge",
            );
        }
    };
    match sign_on.begin(&state.store, app, state.clock.now()).await {
        Ok((url, key)) => {
            let cookie = format!(
                "{STATE_COOKIE}={key}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
                crate::oidc::PENDING_MINUTES * 60
            );
            let mut response = Redirect::to(&url).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => {
            log::warn!(
                "server: sign-in with {} not started: {e}",
                sign_on.options.name
            );
            refused(
                StatusCode::BAD_GATEWAY,
                &sign_on.options.name,
                &e.to_string(),
            )
        }
    }
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Response {
    let Some(sign_on) = state.sign_on.clone() else {
        return Redirect::to("/login").into_response();
    };
    let name = sign_on.options.name.clone();
    if let Some(error) = &query.error {
        let why = query.error_description.as_deref().unwrap_or(error);
        let why: String = why.chars().take(200).collect();
        return refused(
            StatusCode::UNAUTHORIZED,
            &name,
            &format!("{name} did not sign you in: {why}"),
        );
    }
    let (Some(code), Some(key)) = (query.code.as_deref(), query.state.as_deref()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            &name,
            "the provider's answer has no code or state; start again",
        );
    };
    let now = state.clock.now();
    let finished = sign_on
        .finish(&state.store, code, key, cookie(&headers, STATE_COOKIE), now)
        .await;
    let (identity, pending) = match finished {
        Ok(done) => done,
        Err(e) => {
            log::warn!("server: sign-in with {name} refused: {e}");
            let status = match e {
                SignOnError::Provider(_) => StatusCode::BAD_GATEWAY,
                SignOnError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            return refused(status, &name, &e.to_string());
        }
    };
    let (options, store) = (sign_on.options.clone(), state.store.clone());
    let found = tokio::task::spawn_blocking(move || {
        usecases::sign_on::account(store.as_ref(), &options, &identity, now)
    })
    .await;
    let user = match found {
        Ok(Ok(user)) => user,
        Ok(Err(refusal)) => {
            return refused(StatusCode::FORBIDDEN, &name, &refusal.to_string());
        }
        Err(_) => {
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                &name,
                "something went wrong; start again",
            );
        }
    };
    if let Some(app) = pending.app {
        return super::sign_on_app::hand_to_app(&state, user, app, now).await;
    }
    let opened = match usecases::session::open(&state.store, user, now).await {
        Ok(opened) => opened,
        Err(e) => return refused(StatusCode::SERVICE_UNAVAILABLE, &name, &e.to_string()),
    };
    log::info!("server: {} signed in with {name}", opened.user.login);
    let max_age = (opened.expires_at - now).num_seconds().max(0);
    let session = format!(
        "{SESSION_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        opened.token
    );
    let used = format!("{STATE_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
    let page = layout(
        "Signed in",
        None,
        html! {
            meta http-equiv="refresh" content="0; url=/contracts";
            h1 { "Signed in" }
            p { "Signed in as " strong #signed-in-as { (opened.user.login) } " with " (name) ". "
                a href="/contracts" { "Go to your contracts" } }
        },
    );
    let mut response = (
        StatusCode::OK,
        [(
            header::REFRESH,
            HeaderValue::from_static("0; url=/contracts"),
        )],
        page,
    )
        .into_response();
    for value in [session, used] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}
