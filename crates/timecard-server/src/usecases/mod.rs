//! What the server does on someone's behalf, written once for every room
//! that asks: the API, the web pages and the admin commands. Each use case
//! checks what it is given, applies the rules (`rules`) through the store
//! (`store`) and says why when it does not happen ([`Refusal`]); the rooms
//! only parse, call and render.

pub mod contracts;
pub mod invite;
pub mod manual;
pub mod password_reset;
pub mod review;
pub mod session;
pub mod sign_on;
pub mod tokens;
pub mod upload;
pub mod users;

use std::time::Duration;

use crate::auth;
use crate::store::StoreError;

/// Why a use case did not happen, in words; each room turns it into its
/// own answer (an HTTP status, a page, a command's error).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// What it is about does not exist, or is not the asker's to see.
    #[error("{0}")]
    NotFound(String),
    /// The rules do not allow it now; `code` names the rule for programs.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// What was given does not read (bad JSON, an undecodable entry).
    #[error("{0}")]
    Malformed(String),
    /// What was given reads, but a rule refuses it (out of range, too
    /// long).
    #[error("{0}")]
    Invalid(String),
    /// The week it would change has closed (W4, R7).
    #[error("{0}")]
    Locked(String),
    #[error("wrong username or password")]
    WrongPassword,
    #[error("this account is disabled; ask the server's administrator")]
    Disabled,
    /// Too many failed sign-ins (Y6).
    #[error("{}", too_many_words(.0))]
    TooManyAttempts(auth::Delay),
    /// The server is busy with other work of this kind; try again then.
    #[error("the server is busy with other requests; try again in a few seconds")]
    Busy(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Refusal {
    /// The HTTP status and error code of this refusal, as the API answers
    /// it (docs/SPEC.md, *HTTP API v1*); the store's errors by their kind.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            Refusal::NotFound(_) => (404, "not_found"),
            Refusal::Refused { code, .. } => (409, code),
            Refusal::Malformed(_) => (400, "malformed"),
            Refusal::Invalid(_) => (422, "invalid"),
            Refusal::Locked(_) => (423, "week_locked"),
            Refusal::WrongPassword => (401, "wrong_password"),
            Refusal::Disabled => (403, "account_disabled"),
            Refusal::TooManyAttempts(_) => (429, "too_many_attempts"),
            Refusal::Busy(_) => (503, "busy"),
            Refusal::Store(StoreError::NotFound(_)) => (404, "not_found"),
            Refusal::Store(StoreError::Conflict(_)) => (409, "conflict"),
            Refusal::Store(StoreError::Invalid(_)) => (422, "invalid"),
            Refusal::Store(StoreError::Unavailable(_)) => (503, "unavailable"),
            Refusal::Store(StoreError::Full(_)) => (507, "storage_full"),
            Refusal::Store(StoreError::Internal(_)) => (500, "internal"),
        }
    }
}

fn too_many_words(delay: &auth::Delay) -> String {
    let secs = delay.wait.as_secs_f64().ceil() as u64;
    let whose = if delay.account {
        "this account"
    } else {
        "this address"
    };
    let when = if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min", secs.div_ceil(60))
    };
    format!("too many failed sign-ins for {whose}; try again in {when}")
}
