//! M4: "Forgot your password?": whoever asks for an account by login or
//! e-mail gets the same answer whether it exists or not; an account that
//! exists, can sign in and has an e-mail address is mailed a one-time link
//! (an hour) to choose a new password, which ends all its sessions
//! ([`super::invite::set_password`]). Requests are counted per client
//! address and per account with the sign-in limiter's counts (Y6), so
//! nobody floods an inbox or the outbox.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

use super::Refusal;
use crate::auth;
use crate::mail::{MailState, compose};
use crate::store::{LinkPurpose, NewLink, NewMail, Store};

/// How long a reset link works.
pub const RESET_MINUTES: i64 = 60;
/// Requests one client address may make per [`auth::WINDOW`]; more are
/// refused (which says nothing of any account).
pub const PER_ADDRESS: u32 = 5;
/// Reset mails one account gets per [`auth::WINDOW`]; more requests are
/// answered alike and mail nothing.
pub const PER_ACCOUNT: u32 = 3;

/// Asks for a reset link for `login_or_email` from `ip`. `Ok` whether or
/// not an account was found (M4); `TooManyAttempts` for an address that
/// asked too often.
pub fn request(
    store: &dyn Store,
    mail: &MailState,
    ip: IpAddr,
    login_or_email: &str,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let window = Duration::from_std(auth::WINDOW).unwrap_or_default();
    let since = now - window;
    let address_key = format!("reset-address:{}", auth::address_key(ip));
    if let Some(Some(f)) = store.sign_in_failures(&[&address_key], since)?.first()
        && f.count >= PER_ADDRESS
    {
        let wait = (f.last + window - now).to_std().unwrap_or_default();
        return Err(Refusal::TooManyAttempts(auth::Delay {
            wait,
            account: false,
        }));
    }
    store.add_sign_in_failure(&[&address_key], now, since, auth::MAX_TRACKED)?;
    let name: String = login_or_email.trim().chars().take(256).collect();
    let Some(user) = store.find_user(&name)? else {
        log::info!("server: a password reset was asked for {name:?}, which is no account");
        return Ok(());
    };
    let Some(email) = user
        .email
        .clone()
        .filter(|_| !user.disabled && mail.sending)
    else {
        log::info!(
            "server: a password reset was asked for {}, who gets no mail",
            user.login
        );
        return Ok(());
    };
    let account_key = format!("reset-account:{}", user.id);
    let counted = store.add_sign_in_failure(&[&account_key], now, since, auth::MAX_TRACKED)?;
    if counted.first().is_some_and(|f| f.count > PER_ACCOUNT) {
        log::warn!(
            "server: password reset for {} not mailed: {PER_ACCOUNT} were mailed within {} min",
            user.login,
            window.num_minutes()
        );
        return Ok(());
    }
    let token = auth::new_link_token();
    let hash = auth::token_hash(&token);
    store.add_link(&NewLink {
        hash: hash.clone(),
        purpose: LinkPurpose::Reset,
        user_id: user.id,
        created_at: now,
        expires_at: now + Duration::minutes(RESET_MINUTES),
    })?;
    let text = compose::password_reset(
        &user.login,
        &mail.link(&format!("/reset/{token}")),
        RESET_MINUTES,
    );
    mail.queue(
        store,
        &NewMail {
            dedupe_key: format!("reset:{}", &hash[..32]),
            to: email,
            subject: text.subject,
            body: text.body,
        },
        now,
    )?;
    log::info!("server: a password reset link was mailed to {}", user.login);
    Ok(())
}
