//! Who is looking at a page (R4): the session cookie, the CSRF token of
//! their forms, and the contracts they may see (R3).
//!
//! Sessions are the API's (a token in the `tokens` table), carried in a
//! `__Host-` cookie that scripts cannot read and other sites do not send.
//! Every form that changes something carries a CSRF token derived from the
//! session (or, on the sign-in form, from a cookie set with the form).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::layout::{Header, PageError, not_found};
use crate::auth;
use crate::http::state::{Shared, blocking};
use crate::rules::{self, StoredContract};
use crate::store::User;
use crate::usecases;

/// The session cookie: `__Host-` means Secure, Path=/ and no Domain.
pub const SESSION_COOKIE: &str = "__Host-timecard";
/// The sign-in form's CSRF cookie (there is no session yet to derive from).
pub const LOGIN_CSRF_COOKIE: &str = "__Host-timecard-login";
/// This browser's device ticket (Y6): past an account's budget of failed
/// sign-ins, it still lets this browser sign in.
pub const DEVICE_COOKIE: &str = "__Host-timecard-device";

/// Someone signed in through the web, with their session token (for the
/// CSRF token of their forms).
pub struct Viewer {
    pub user: User,
    pub token: String,
    /// The browser's time zone, as the dashboard's script last saw it
    /// ([`ZONE_COOKIE`]); `None` without script or before its first run.
    pub browser_zone: Option<chrono_tz::Tz>,
}

/// The browser's time zone, set by the dashboard's script, so that pages
/// are drawn in it from the first byte (T1).
pub const ZONE_COOKIE: &str = "__Host-timecard-tz";

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.user.role.is_admin()
    }

    pub fn may_view(&self, contract: &StoredContract) -> bool {
        rules::may_view(self.user.id, self.is_admin(), contract)
    }

    /// The zone a page is drawn in: the one its address asks for (`tz`),
    /// else the browser's, else UTC.
    pub fn zone(&self, asked: Option<&str>) -> Result<chrono_tz::Tz, PageError> {
        match asked {
            Some(name) if !name.is_empty() => super::layout::page_zone(Some(name)),
            _ => Ok(self.browser_zone.unwrap_or(chrono_tz::UTC)),
        }
    }

    pub fn csrf(&self) -> String {
        csrf_for(&self.token)
    }

    /// The page header for this viewer.
    pub fn header(&self) -> Header {
        Header {
            login: self.user.login.clone(),
            role: self.user.role,
            csrf: self.csrf(),
            here: Default::default(),
        }
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        if same(&self.csrf(), sent) {
            Ok(())
        } else {
            Err(PageError(
                StatusCode::FORBIDDEN,
                "The form had expired or came from another site; nothing was changed. Go back, \
                 reload the page and try again."
                    .into(),
            ))
        }
    }

    /// The contract `id` if this viewer may see it; otherwise the same "no
    /// such page" as for a contract that does not exist.
    pub async fn contract(&self, state: &Shared, id: String) -> Result<StoredContract, PageError> {
        let stored = blocking(state, move |s| s.contract(&id))
            .await?
            .ok_or_else(not_found)?;
        if self.may_view(&stored) {
            Ok(stored)
        } else {
            Err(not_found())
        }
    }
}

/// The CSRF token of a session: derived from the session's secret, so it
/// needs no storage and is worthless without the cookie.
pub fn csrf_for(secret: &str) -> String {
    auth::token_hash(&format!("csrf:{secret}"))[..32].to_owned()
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A page that needs a session sends the browser to the sign-in page.
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<Shared> for Viewer {
    type Rejection = SignInFirst;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, SignInFirst> {
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .filter(|t| t.len() <= 128)
            .ok_or(SignInFirst)?
            .to_owned();
        let user = usecases::session::user_of(&state.store, &token, state.clock.now())
            .await
            .map_err(|_| SignInFirst)?
            .ok_or(SignInFirst)?;
        let browser_zone = cookie(&parts.headers, ZONE_COOKIE)
            .filter(|name| name.len() <= 64)
            .and_then(|name| name.parse().ok());
        Ok(Viewer {
            user,
            token,
            browser_zone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-timecard-login=x; __Host-timecard=tok"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, LOGIN_CSRF_COOKIE), Some("x"));
        assert_eq!(cookie(&headers, "b"), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_exactly() {
        let (a, b) = (csrf_for("one"), csrf_for("two"));
        assert_ne!(a, b);
        assert!(same(&a, &csrf_for("one")));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..31]));
    }
}
