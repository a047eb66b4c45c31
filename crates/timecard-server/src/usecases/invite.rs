//! M3: inviting someone by e-mail. An admin (on the users page or with
//! `user invite`) gives an address and a role; the address becomes the
//! account's login and e-mail, with a password nobody knows, and a
//! one-time link (7 days) lets its owner choose theirs. The link goes by
//! mail when the server sends mail, and is handed back to show otherwise.

use chrono::{DateTime, Duration, Utc};

use super::Refusal;
use super::contracts::{self, ContractChange};
use crate::auth;
use crate::mail::{MailState, compose};
use crate::store::{LinkPurpose, NewLink, NewMail, Role, Store, User};

/// How long an invitation's link works.
pub const INVITATION_DAYS: i64 = 7;

/// An invitation made.
#[derive(Clone, Debug)]
pub struct Invitation {
    /// The new account's login (its e-mail address).
    pub login: String,
    /// The one-time link; to hand over when it was not mailed.
    pub link: String,
    /// Whether it was queued to be mailed.
    pub mailed: bool,
}

/// An e-mail address as accounts and mails take it, or why not.
pub fn check_address(text: &str) -> Result<String, Refusal> {
    let text = text.trim();
    let address: lettre::Address = text
        .parse()
        .map_err(|_| Refusal::Invalid(format!("{text:?} is not an e-mail address")))?;
    let address = address.to_string();
    if let Some(problem) = crate::rules::user_problem(&address, Some(&address)) {
        return Err(Refusal::Invalid(format!(
            "{problem} (the address becomes the login)"
        )));
    }
    Ok(address)
}

/// Invites `email` as a `role` account, the client account of
/// `client_of` (contract ids; only for a client), on behalf of `by`.
pub fn invite(
    store: &dyn Store,
    mail: &MailState,
    email: &str,
    role: Role,
    client_of: &[String],
    by: &str,
    now: DateTime<Utc>,
) -> Result<Invitation, Refusal> {
    let login = check_address(email)?;
    if !client_of.is_empty() && role != Role::Client {
        return Err(Refusal::Invalid(
            "only a client account is given contracts to review".into(),
        ));
    }
    for id in client_of {
        if store.contract(id)?.is_none() {
            return Err(Refusal::NotFound(format!("no contract with id {id:?}")));
        }
    }
    if store.find_user(&login)?.is_some() {
        return Err(Refusal::Refused {
            code: "exists",
            message: format!(
                "{login} already has an account; they can choose a new password with “Forgot your password?”"
            ),
        });
    }
    // A password nobody knows until the link is used.
    let unknown = auth::hash_password(&auth::new_link_token());
    let user_id = store.add_user(&login, Some(&login), &unknown)?;
    if role != Role::Freelancer {
        store.set_role(&login, role)?;
    }
    for id in client_of {
        let change = ContractChange {
            client_user: Some(Some(login.clone())),
            ..ContractChange::default()
        };
        contracts::change(store, id, &change, now)?;
    }
    let token = auth::new_link_token();
    let hash = auth::token_hash(&token);
    store.add_link(&NewLink {
        hash: hash.clone(),
        purpose: LinkPurpose::Invitation,
        user_id,
        created_at: now,
        expires_at: now + Duration::days(INVITATION_DAYS),
    })?;
    let link = mail.link(&format!("/invite/{token}"));
    let text = compose::invitation(&login, role.as_str(), by, &link, INVITATION_DAYS);
    let mailed = mail.queue(
        store,
        &NewMail {
            dedupe_key: format!("invitation:{}", &hash[..32]),
            to: login.clone(),
            subject: text.subject,
            body: text.body,
        },
        now,
    )?;
    log::info!(
        "server: {by} invited {login} as a {}{}",
        role.as_str(),
        if mailed { " (mailed)" } else { "" }
    );
    Ok(Invitation {
        login,
        link,
        mailed,
    })
}

/// The account a one-time link of `purpose` is for, if it still works.
pub fn pending(
    store: &dyn Store,
    token: &str,
    purpose: LinkPurpose,
    now: DateTime<Utc>,
) -> Result<Option<User>, Refusal> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(store.link_user(&auth::token_hash(token), purpose, now)?)
}

/// M3, M4: uses a one-time link to set `password`: once, before it
/// expires; every session of the account ends. The account, or why not.
pub fn set_password(
    store: &dyn Store,
    token: &str,
    purpose: LinkPurpose,
    password: &str,
    now: DateTime<Utc>,
) -> Result<User, Refusal> {
    if let Some(problem) = auth::password_problem(password) {
        return Err(Refusal::Invalid(problem));
    }
    let used =
        || Refusal::NotFound("this link has expired or was used already; ask for a new one".into());
    if pending(store, token, purpose, now)?.is_none() {
        return Err(used());
    }
    let hash = auth::hash_password(password);
    let user = store
        .use_link(&auth::token_hash(token), purpose, now, &hash)?
        .ok_or_else(used)?;
    log::info!(
        "server: {} chose a password through a {} link",
        user.login,
        purpose.as_str()
    );
    Ok(user)
}
