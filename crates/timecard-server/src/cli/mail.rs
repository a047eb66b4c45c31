//! `user invite`, `user set-email` and `mail list`: invitations (M3) and
//! the outbox (M2) from the command line, on the data folder directly. A
//! running `serve --smtp` on the same database sends what is queued here.

use std::process::ExitCode;

use timecard_core::fmt::printable;
use timecard_core::outln;

use super::site::Site;
use crate::mail::{MailState, PUBLIC_URL_SETTING, SENDING_SETTING};
use crate::store::Role;
use crate::usecases::invite;

/// `user invite EMAIL --role ROLE [--contract ID]… [--public-url URL]`:
/// the link is mailed when the server sends mail; otherwise it is printed
/// on the last line, to hand over.
pub fn invite_command(
    site: &Site,
    email: &str,
    role: Role,
    contracts: &[String],
    public_url: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitCode> {
    let store = site.open()?;
    let public_url = match public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => store
            .setting(PUBLIC_URL_SETTING)?
            .unwrap_or_else(|| "https://127.0.0.1:8443".into()),
    };
    let mail = MailState {
        sending: store.setting(SENDING_SETTING)?.is_some(),
        public_url,
        wake: Default::default(),
    };
    let by = "the server's administrator";
    let made = invite::invite(store.as_ref(), &mail, email, role, contracts, by, now)?;
    if made.mailed {
        outln!(
            "{} invited as a {}; the invitation is queued and the server mails it (`timecard-server mail list` shows when)",
            made.login,
            role.as_str()
        );
    } else {
        outln!(
            "{} invited as a {}; the server sends no mail, so give them this link (it works once, for {} days):",
            made.login,
            role.as_str(),
            invite::INVITATION_DAYS
        );
        outln!("{}", made.link);
    }
    Ok(ExitCode::SUCCESS)
}

/// `user set-email LOGIN ADDRESS|none`.
pub fn set_email_command(site: &Site, login: &str, email: &str) -> anyhow::Result<ExitCode> {
    let email = match email {
        "none" | "" => None,
        text => Some(invite::check_address(text)?),
    };
    site.open()?.set_email(login, email.as_deref())?;
    match email {
        Some(email) => outln!("{login}'s e-mail is now {email}"),
        None => outln!("{login} has no e-mail address now"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `mail list [--json]`: the newest mails of the outbox.
pub fn list_command(site: &Site, json: bool) -> anyhow::Result<ExitCode> {
    let mails = site.open()?.outbox(500)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&mails)?);
    } else if mails.is_empty() {
        outln!("the outbox is empty");
    } else {
        for m in mails {
            let state = match (m.sent_at, &m.last_error) {
                (Some(at), _) => format!("sent {}", at.format("%Y-%m-%d %H:%M UTC")),
                (None, Some(e)) => format!(
                    "waiting after {}: {e}",
                    timecard_core::fmt::count(u64::from(m.attempts), "attempt", "attempts")
                ),
                (None, None) => "waiting".into(),
            };
            outln!(
                "{:<6} {:<28} {:<40} {}",
                m.id,
                printable(&m.to, false),
                printable(&m.subject, false),
                printable(&state, false)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
