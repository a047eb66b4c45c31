//! I4: the account an identity provider's sign-in stands for: the one
//! linked to its (issuer, subject); at the first sign-in, the account
//! with the same e-mail when the provider verified it and linking is
//! allowed, else a new account with the configured role (or the role its
//! claim maps to), or a refusal in words.

use chrono::{DateTime, Utc};

use super::Refusal;
use crate::auth;
use crate::oidc::{Identity, SignOnOptions};
use crate::rules;
use crate::store::{Role, Store, StoreError, User};

/// The account `identity` signs in to.
pub fn account(
    store: &dyn Store,
    options: &SignOnOptions,
    identity: &Identity,
    now: DateTime<Utc>,
) -> Result<User, Refusal> {
    let user = match store.identity_user(&identity.issuer, &identity.subject)? {
        Some(user) => user,
        None => first_sign_in(store, options, identity, now)?,
    };
    if user.disabled {
        log::warn!(
            "server: sign-in of {} through {} refused: the account is disabled",
            user.login,
            options.name
        );
        return Err(Refusal::Disabled);
    }
    Ok(user)
}

fn first_sign_in(
    store: &dyn Store,
    options: &SignOnOptions,
    identity: &Identity,
    now: DateTime<Utc>,
) -> Result<User, Refusal> {
    let verified_email = identity
        .email
        .as_deref()
        .filter(|_| identity.email_verified);
    if let Some(email) = verified_email
        && let Some(existing) = store.find_user(email)?
        && existing
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    {
        if !options.link_by_email {
            return Err(Refusal::Refused {
                code: "sign_on_not_linked",
                message: format!(
                    "an account with the e-mail {email} exists, but signing in to it with {} is not allowed on this server; sign in with its password, or ask an admin",
                    options.name
                ),
            });
        }
        store.link_identity(&identity.issuer, &identity.subject, existing.id, now)?;
        log::info!(
            "server: {} linked to {} by its verified e-mail",
            existing.login,
            options.name
        );
        return Ok(existing);
    }
    let role = mapped_role(options, &identity.roles).or(options.new_users);
    let Some(role) = role else {
        return Err(Refusal::Refused {
            code: "sign_on_no_account",
            message: format!(
                "there is no Timecard account for this {} sign-in; ask an admin to add you",
                options.name
            ),
        });
    };
    let login = free_login(store, identity)?;
    // Nobody knows this password: the account signs in through the provider
    // (an admin can set one with `user set-password`).
    let password = auth::hash_password(&auth::new_token());
    let id = store.add_user(&login, verified_email, &password)?;
    if role != Role::Freelancer {
        store.set_role(&login, role)?;
    }
    store.link_identity(&identity.issuer, &identity.subject, id, now)?;
    log::info!(
        "server: {login} ({}) made at their first sign-in with {}",
        role.as_str(),
        options.name
    );
    store
        .find_user(&login)?
        .ok_or_else(|| Refusal::Store(StoreError::Internal("the new user is gone".into())))
}

/// The role the provider's claim values map to, if any.
pub fn mapped_role(options: &SignOnOptions, values: &[String]) -> Option<Role> {
    options
        .role_map
        .iter()
        .find(|(value, _)| values.iter().any(|v| v == value))
        .map(|(_, role)| *role)
}

/// A login for a new account: the provider's user name, or the e-mail's
/// first part, made unique with a number.
fn free_login(store: &dyn Store, identity: &Identity) -> Result<String, Refusal> {
    let wanted = identity
        .preferred_username
        .as_deref()
        .or_else(|| identity.email.as_deref().and_then(|e| e.split('@').next()))
        .unwrap_or("user");
    let mut base: String = wanted
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        .take(40)
        .collect();
    if base.is_empty() {
        base = "user".into();
    }
    for n in 1..1000 {
        let login = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        if rules::user_problem(&login, None).is_none() && store.find_user(&login)?.is_none() {
            return Ok(login);
        }
    }
    Err(Refusal::Invalid(format!(
        "no free login like {base:?}; ask an admin to add you"
    )))
}
