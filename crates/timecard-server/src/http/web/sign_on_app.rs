//! I5: the app signs in through the system browser (RFC 8252). The app
//! opens `/login/oidc?app_redirect=http://127.0.0.1:PORT/…&app_challenge=…
//! &app_state=…`; after the provider, the server hands the app's loopback
//! listener a one-time code (two minutes, once, bound to the app's PKCE
//! challenge), which the app exchanges at `POST /api/v1/session/code` for
//! its session.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::http::state::Shared;
use crate::oidc::AppRequest;
use crate::store::User;

/// How long the app has to exchange its code.
pub const CODE_MINUTES: i64 = 2;

/// What is stored for an app's code (its SHA-256 is the key).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct AppCode {
    pub user_id: i64,
    pub challenge: String,
}

pub fn code_key(code: &str) -> String {
    format!("app:{}", hex::encode(Sha256::digest(code.as_bytes())))
}

/// Why an app's request cannot start a sign-in, in words: its redirect
/// must be plain http to this machine's loopback with a port (RFC 8252
/// 7.3), its challenge an S256 one.
pub fn app_request_problem(app: &AppRequest) -> Option<&'static str> {
    let rest = app.redirect.strip_prefix("http://")?;
    let host_port = rest.split('/').next().unwrap_or_default();
    let loopback = ["127.0.0.1:", "[::1]:", "localhost:"].iter().any(|h| {
        host_port
            .strip_prefix(h)
            .is_some_and(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
    });
    if !loopback || app.redirect.len() > 200 {
        return Some("the app's address must be http://127.0.0.1:PORT/…");
    }
    let challenge_ok = app.challenge.len() == 43
        && app
            .challenge
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !challenge_ok {
        return Some("the app's challenge must be a PKCE S256 challenge");
    }
    if app.state.len() > 128 || app.state.chars().any(|c| !c.is_ascii_graphic()) {
        return Some("the app's state is too long");
    }
    None
}

/// After the provider signed `user` in for the app: a one-time code to
/// the app's loopback address.
pub async fn hand_to_app(
    state: &Shared,
    user: User,
    app: AppRequest,
    now: DateTime<Utc>,
) -> Response {
    let code = crate::auth::new_link_token();
    let data = serde_json::to_string(&AppCode {
        user_id: user.id,
        challenge: app.challenge.clone(),
    })
    .expect("codes serialise");
    let key = code_key(&code);
    let expires = now + chrono::Duration::minutes(CODE_MINUTES);
    let kept = crate::http::state::blocking(state, move |s| {
        s.put_pending_sign_in(&key, &data, expires, now)
    })
    .await;
    if let Err(e) = kept {
        return (StatusCode::SERVICE_UNAVAILABLE, e.message).into_response();
    }
    log::info!(
        "server: {} signed in with the browser for the app",
        user.login
    );
    let back = format!(
        "{}?code={code}&state={}",
        app.redirect,
        super::layout::urlencode(&app.state)
    );
    Redirect::to(&back).into_response()
}

/// `S256(verifier)` as PKCE writes it: base64url without padding.
pub fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}
