//! Personal API tokens (I1), made, listed and revoked the same way from
//! the web page and `timecard-server token`.

use chrono::{DateTime, Duration, Utc};

use super::Refusal;
use crate::auth;
use crate::store::{ApiToken, NewApiToken, Scope, Store, User};

/// How long a token lasts unless asked otherwise.
pub const DEFAULT_DAYS: u32 = 90;
/// The longest a token may last: integrations get a new one now and then.
pub const MAX_DAYS: u32 = 366;
/// A token's name, at most.
pub const MAX_NAME_CHARS: usize = 80;
/// Tokens one user may hold at once.
pub const MAX_PER_USER: usize = 50;

/// A token just made: the only time the token itself is known.
pub struct Made {
    pub id: i64,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Makes a token for `user`, lasting `days`.
pub fn create(
    store: &dyn Store,
    user: &User,
    name: &str,
    scope: Scope,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Made, Refusal> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Refusal::Invalid(
            "give the token a name, to tell later what uses it".into(),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Refusal::Invalid(format!(
            "a token's name is one line of at most {MAX_NAME_CHARS} characters"
        )));
    }
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Refusal::Invalid(format!(
            "a token lasts from 1 to {MAX_DAYS} days"
        )));
    }
    if user.disabled {
        return Err(Refusal::Disabled);
    }
    if store.api_tokens(Some(user.id))?.len() >= MAX_PER_USER {
        return Err(Refusal::Refused {
            code: "too_many_tokens",
            message: format!(
                "{} already has {MAX_PER_USER} API tokens; revoke one first",
                user.login
            ),
        });
    }
    let token = auth::new_api_token();
    let expires_at = now + Duration::days(i64::from(days));
    let id = store.add_api_token(&NewApiToken {
        user_id: user.id,
        name: name.to_owned(),
        hash: auth::token_hash(&token),
        scope,
        created_at: now,
        expires_at,
    })?;
    log::info!(
        "server: API token {id} ({}) made for {}",
        scope.as_str(),
        user.login
    );
    Ok(Made {
        id,
        token,
        expires_at,
    })
}

/// Revokes a token given by its id or by the token itself; `owner`: only
/// if it is theirs (the web page), `None` for the admin's command. The
/// token stops working at once.
pub fn revoke(store: &dyn Store, which: &str, owner: Option<i64>) -> Result<ApiToken, Refusal> {
    let which = which.trim();
    let id = match which.parse::<i64>() {
        Ok(id) => Some(id),
        Err(_) => store.api_token_id(&auth::token_hash(which))?,
    };
    let gone = || Refusal::NotFound(format!("no API token {which:?}"));
    let id = id.ok_or_else(gone)?;
    let token = store
        .api_tokens(owner)?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(gone)?;
    if !store.revoke_api_token(id, owner)? {
        return Err(gone());
    }
    log::info!("server: API token {id} of {} revoked", token.login);
    Ok(token)
}
