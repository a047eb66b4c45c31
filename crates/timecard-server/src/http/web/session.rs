//! Signing in and out of the dashboard (R4): the sign-in form with its own
//! CSRF cookie, the session cookie, sign-out.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::html;
use serde::Deserialize;

use super::layout::{PageError, layout};
use super::viewer::{
    DEVICE_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Viewer, cookie, csrf_for, same,
};
use crate::auth;
use crate::http::error::ApiError;
use crate::http::guards::Guards;
use crate::http::middleware::ClientAddr;
use crate::http::state::Shared;
use crate::usecases;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/contracts") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
    csrf: String,
}

#[derive(Deserialize)]
struct LoginQuery {
    signed_out: Option<String>,
}

async fn login_page(
    State(state): State<Shared>,
    axum::extract::Query(query): axum::extract::Query<LoginQuery>,
) -> Response {
    // I4: after signing out, the provider's own sign-out is offered.
    let mut provider_sign_out = None;
    if query.signed_out.is_some()
        && let Some(sign_on) = &state.sign_on
        && let Some(end) = sign_on.end_session().await
    {
        provider_sign_out = Some(format!(
            "{end}{}client_id={}&post_logout_redirect_uri={}",
            if end.contains('?') { '&' } else { '?' },
            super::layout::urlencode(&sign_on.options.client_id),
            super::layout::urlencode(&format!("{}/login", state.mail.public_url))
        ));
    }
    login_form(
        &state,
        StatusCode::OK,
        None,
        "",
        provider_sign_out.as_deref(),
    )
}

/// The sign-in form with a fresh CSRF cookie, and `error` above it; the
/// user name typed stays, and the password field has the focus then. With
/// an identity provider (I4), its button; the form only while passwords
/// sign in.
fn login_form(
    state: &Shared,
    status: StatusCode,
    error: Option<&str>,
    login: &str,
    provider_sign_out: Option<&str>,
) -> Response {
    let secret = auth::new_token();
    let provider = state.sign_on.as_ref().map(|s| s.options.name.clone());
    let passwords = state
        .sign_on
        .as_ref()
        .is_none_or(|s| s.options.password_sign_in);
    let page = layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            @if let Some(end) = provider_sign_out {
                p.notice.done role="status" { "You are signed out of Timecard. "
                    a #provider-sign-out href=(end) { "Also sign out of " (provider.clone().unwrap_or_default()) } }
            }
            @if let Some(name) = &provider {
                p { a.button.sign-on #sign-on href=(crate::oidc::START_PATH) { "Sign in with " (name) } }
                @if passwords { p.muted { "Or with your Timecard password:" } }
            }
            @if passwords {
            form.signin method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf_for(&secret));
                label for="login" { "Username or e-mail" }
                input #login type="text" name="login" value=(login) autocomplete="username" required
                    autofocus[login.is_empty()];
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required
                    autofocus[!login.is_empty()];
                button type="submit" { "Sign in" }
            }
            p { a href="/forgot" { "Forgot your password?" } }
            }
        },
    );
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={secret}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600"
    );
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

async fn login(
    State(state): State<Shared>,
    Extension(guards): Extension<Arc<Guards>>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).map(csrf_for);
    if !expected.is_some_and(|e| same(&e, &form.csrf)) {
        return login_form(
            &state,
            StatusCode::FORBIDDEN,
            Some("The form had expired; sign in again."),
            &form.login,
            None,
        );
    }
    if let Some(sign_on) = state
        .sign_on
        .as_ref()
        .filter(|s| !s.options.password_sign_in)
    {
        let words = format!("This server signs in with {} only.", sign_on.options.name);
        return login_form(&state, StatusCode::FORBIDDEN, Some(&words), "", None);
    }
    let now = state.clock.now();
    let ticket = cookie(&headers, DEVICE_COOKIE).filter(|t| t.len() <= 200);
    match usecases::session::sign_in(
        &state.store,
        &guards.hashing,
        ip,
        &form.login,
        form.password,
        ticket,
        now,
    )
    .await
    {
        Ok(opened) => {
            let max_age = (opened.expires_at - now).num_seconds().max(0);
            let session = format!(
                "{SESSION_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}",
                opened.token
            );
            let used = format!("{LOGIN_CSRF_COOKIE}=; Path=/; Secure; HttpOnly; Max-Age=0");
            // Kept after signing out: this browser's ticket past an
            // account's budget of failed sign-ins (Y6).
            let device = format!(
                "{DEVICE_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
                opened.device_ticket,
                auth::TICKET_DAYS * 86_400
            );
            let mut response = Redirect::to("/contracts").into_response();
            let headers = response.headers_mut();
            for value in [session, used, device] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(refusal) => {
            let e = ApiError::from(refusal);
            let words = super::layout::sentence(&e.message);
            login_form(&state, e.status, Some(&words), &form.login, None)
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<Shared>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    usecases::session::sign_out(&state.store, &viewer.token).await?;
    let clear = format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; Max-Age=0");
    let to = if state.sign_on.is_some() {
        "/login?signed_out=1"
    } else {
        "/login"
    };
    Ok(([(header::SET_COOKIE, clear)], Redirect::to(to)).into_response())
}
