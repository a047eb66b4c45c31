//! Changing who may do what (R10): roles and disabling, from the admin
//! commands and the admin pages alike. The one rule here: the server
//! always keeps an admin who can sign in (R11), so the last active admin
//! can be neither disabled nor made something else.

use chrono::{DateTime, Utc};

use super::Refusal;
use crate::store::{Role, Store};

/// Gives `login` the role `role`.
pub fn set_role(store: &dyn Store, login: &str, role: Role) -> Result<(), Refusal> {
    let user = store
        .find_user(login)?
        .ok_or_else(|| Refusal::NotFound(format!("no user called {login:?}")))?;
    if user.role == role {
        return Ok(());
    }
    if user.role.is_admin() && !user.disabled {
        refuse_if_last(store, login, "made a ", role.as_str())?;
    }
    store.set_role(login, role)?;
    // Two admins demoting each other at once both pass the check above;
    // whoever finds no admin left afterwards puts theirs back.
    if user.role.is_admin() && active_admins(store)? == 0 {
        store.set_role(login, user.role)?;
        return Err(last_admin(login, "made a ", role.as_str()));
    }
    Ok(())
}

/// Disables `login` (every session ends) or, with `None`, lets them sign
/// in again.
pub fn set_disabled(
    store: &dyn Store,
    login: &str,
    disabled_at: Option<DateTime<Utc>>,
) -> Result<(), Refusal> {
    let user = store
        .find_user(login)?
        .ok_or_else(|| Refusal::NotFound(format!("no user called {login:?}")))?;
    let disabling = disabled_at.is_some() && !user.disabled;
    if disabling && user.role.is_admin() {
        refuse_if_last(store, login, "disabled", "")?;
    }
    store.set_disabled(login, disabled_at)?;
    if disabling && user.role.is_admin() && active_admins(store)? == 0 {
        store.set_disabled(login, None)?;
        return Err(last_admin(login, "disabled", ""));
    }
    Ok(())
}

/// How many admins can sign in.
pub fn active_admins(store: &dyn Store) -> Result<usize, Refusal> {
    let far_past = DateTime::<Utc>::MIN_UTC;
    Ok(store
        .users(far_past)?
        .iter()
        .filter(|u| u.role.is_admin() && u.disabled_at.is_none())
        .count())
}

fn refuse_if_last(store: &dyn Store, login: &str, what: &str, role: &str) -> Result<(), Refusal> {
    if active_admins(store)? <= 1 {
        return Err(last_admin(login, what, role));
    }
    Ok(())
}

fn last_admin(login: &str, what: &str, role: &str) -> Refusal {
    let article = if what.ends_with("a ") { role } else { "" };
    Refusal::Refused {
        code: "last_admin",
        message: format!(
            "the only active admin ({login}) cannot be {what}{article}: \
             make another user an admin first, or nobody could run this server from the browser"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_name_the_role() {
        let Refusal::Refused { message, .. } = last_admin("root", "made a ", "client") else {
            panic!("not a refusal")
        };
        assert!(message.starts_with("the only active admin (root) cannot be made a client:"));
        let Refusal::Refused { message, .. } = last_admin("root", "disabled", "") else {
            panic!("not a refusal")
        };
        assert!(message.contains("cannot be disabled:"), "{message}");
    }
}
