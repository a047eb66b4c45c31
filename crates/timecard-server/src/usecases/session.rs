//! Signing in (Y5, Y6, R4): the same for the app, the API and the web
//! pages.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::Refusal;
use crate::auth::{self, Hashing, SignInLimiter};
use crate::store::{self, Store, User};

/// How long a session lasts.
pub const SESSION_DAYS: i64 = 30;

/// A session just opened.
pub struct Opened {
    pub user: User,
    /// The token, given to the client once; only its hash is stored.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// A device ticket for this device's next sign-in ([`auth::device_ticket`]).
    pub device_ticket: String,
}

/// Signs `login` in from `ip`: the limits on failed attempts per account
/// and per address, the password check (waiting its turn for the hasher),
/// a disabled account refused. On success, a new session of
/// [`SESSION_DAYS`] from `now`. `ticket`: the device ticket the device
/// brings, if any.
pub async fn sign_in(
    store: &Arc<dyn Store>,
    hashing: &Hashing,
    ip: IpAddr,
    login: &str,
    password: String,
    ticket: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Opened, Refusal> {
    let login = login.trim().to_owned();
    let lookup = login.clone();
    let user = store::blocking(store, move |s| s.find_user(&lookup)).await?;
    // Login and e-mail of one account count together.
    let account = user.as_ref().map_or_else(
        || auth::AccountKey::unknown(&login),
        |u| auth::AccountKey::User(u.id),
    );
    // Checked on the clock that issues it (`now`, as `device_ticket` below).
    let ticket = user
        .as_ref()
        .and_then(|u| auth::valid_ticket(ticket?, u.id, &u.password_hash, now));
    let (key, held_ticket) = (account.clone(), ticket.clone());
    let delay = store::blocking(store, move |s| {
        SignInLimiter(s).delay(&key, ip, held_ticket.as_deref(), chrono::Utc::now())
    })
    .await?;
    if let Some(delay) = delay {
        return Err(Refusal::TooManyAttempts(delay));
    }
    // Verify even for unknown users (`None`: against a hash of nothing), so
    // timing does not reveal which exist; hashing waits its turn.
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let ok = hashing
        .verify(password, phc)
        .await
        .map_err(|b| Refusal::Busy(b.retry_after))?;
    let user = match (user, ok) {
        (Some(user), true) => user,
        _ => {
            // The name as typed, cut short for the log (it can be 60 kB).
            let login: String = login.chars().take(64).collect();
            let started = store::blocking(store, move |s| {
                SignInLimiter(s).failed(&account, ip, ticket.as_deref(), chrono::Utc::now())
            })
            .await?;
            match started {
                Some(delay) => log::warn!(
                    "server: failed sign-in for {login:?} from {ip}; {} held back for {} s",
                    if delay.account {
                        "the account is"
                    } else {
                        "the address is"
                    },
                    delay.wait.as_secs()
                ),
                None => log::warn!("server: failed sign-in for {login:?} from {ip}"),
            }
            return Err(Refusal::WrongPassword);
        }
    };
    // A device that came in on its ticket leaves the account's count as it
    // is: whoever is guessing elsewhere gets no fresh budget from the
    // owner's sign-in.
    if ticket.is_none() {
        store::blocking(store, move |s| SignInLimiter(s).succeeded(&account)).await?;
    }
    if user.disabled {
        log::warn!(
            "server: sign-in refused for {} from {ip}: the account is disabled",
            user.login
        );
        return Err(Refusal::Disabled);
    }
    log::info!("server: {} signed in from {ip}", user.login);
    open(store, user, now).await
}

/// A new session of [`SESSION_DAYS`] for `user`, signed in by a password
/// or an identity provider (I4).
pub async fn open(
    store: &Arc<dyn Store>,
    user: User,
    now: DateTime<Utc>,
) -> Result<Opened, Refusal> {
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let expires_at = now + Duration::days(SESSION_DAYS);
    let user_id = user.id;
    store::blocking(store, move |s| s.add_token(user_id, &hash, expires_at)).await?;
    let device_ticket = auth::device_ticket(user.id, &user.password_hash, now);
    Ok(Opened {
        user,
        token,
        expires_at,
        device_ticket,
    })
}

/// The user of a session token, if it is valid at `now`.
pub async fn user_of(
    store: &Arc<dyn Store>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<User>, Refusal> {
    let hash = auth::token_hash(token);
    Ok(store::blocking(store, move |s| s.token_user(&hash, now)).await?)
}

/// The user and scope of a personal API token, if it is valid at `now`.
pub async fn api_user_of(
    store: &Arc<dyn Store>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<(User, store::Scope)>, Refusal> {
    let hash = auth::token_hash(token);
    Ok(store::blocking(store, move |s| s.api_token_user(&hash, now)).await?)
}

/// Ends the session of `token` (nothing happens for an unknown one).
pub async fn sign_out(store: &Arc<dyn Store>, token: &str) -> Result<(), Refusal> {
    let hash = auth::token_hash(token);
    Ok(store::blocking(store, move |s| s.remove_token(&hash)).await?)
}
