//! `user …` and `session …`: accounts, roles, passwords and sessions,
//! on the data folder directly.

use std::io::Read;
use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;
use timecard_core::fmt::printable;
use timecard_core::outln;

use super::site::Site;
use crate::auth;
use crate::store;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        login: String,
        #[arg(long)]
        email: Option<String>,
        /// What the account is for: tracking time (freelancer), reviewing
        /// the time of the contracts it pays for (client), or running the
        /// server (admin).
        #[arg(long, value_enum, default_value = "freelancer")]
        role: store::Role,
        /// Read the password from standard input (the only way, so it never shows in `ps`).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Every user: e-mail, disabled or not, open sessions, contracts.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Give a user another role.
    SetRole {
        login: String,
        #[arg(value_enum)]
        role: store::Role,
    },
    /// Stop a user from signing in and end their sessions (their time stays).
    Disable { login: String },
    /// Let a disabled user sign in again.
    Enable { login: String },
    /// Set a new password (read from standard input); their sessions end.
    SetPassword {
        login: String,
        /// Read the password from standard input (the only way).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// End every session of a user: each device must sign in again (its
    /// cached time stays and uploads after that).
    SignOut { login: String },
    /// Invite someone by e-mail (the address becomes their login): the
    /// server mails a one-time link to choose a password, or, when it sends
    /// no mail, the link is printed on the last line.
    Invite {
        email: String,
        #[arg(long, value_enum, default_value = "freelancer")]
        role: store::Role,
        /// A contract the new client account reviews (repeatable).
        #[arg(long = "contract", value_name = "ID")]
        contracts: Vec<String>,
        /// Where the link points (default: what `serve` last said).
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Set a user's e-mail address (`none` removes it).
    SetEmail { login: String, email: String },
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Open sessions (never their tokens), of one user or all.
    List {
        #[arg(long, value_name = "LOGIN")]
        user: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Reads a password from standard input (never from the command line).
fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    if password.len() < 8 {
        bail!("the password must have at least 8 characters");
    }
    Ok(password)
}

pub fn user_command(
    site: &Site,
    command: UserCommand,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Add {
            login, email, role, ..
        } => {
            if let Some(problem) = crate::rules::user_problem(&login, email.as_deref()) {
                anyhow::bail!("{problem}");
            }
            let password = read_password()?;
            let store = site.open()?;
            store.add_user(&login, email.as_deref(), &auth::hash_password(&password))?;
            if role != store::Role::Freelancer {
                store.set_role(&login, role)?;
            }
            outln!("user {login} added ({})", role.as_str());
        }
        UserCommand::SetRole { login, role } => {
            let store = site.open()?;
            crate::usecases::users::set_role(store.as_ref(), &login, role)
                .map_err(|refusal| anyhow::anyhow!("{refusal}"))?;
            outln!("{login} is now a {} account", role.as_str());
        }
        UserCommand::List { json } => {
            let users = site.open()?.users(now)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&users)?);
            } else if users.is_empty() {
                outln!("no users; add one with `timecard-server user add LOGIN --password-stdin`");
            } else {
                for u in users {
                    outln!(
                        "{:<16} {:<10} {:<28} {:<9} {}, {}",
                        printable(&u.login, false),
                        u.role.as_str(),
                        printable(u.email.as_deref().unwrap_or("-"), false),
                        if u.disabled_at.is_some() {
                            "disabled"
                        } else {
                            "active"
                        },
                        timecard_core::fmt::count(u.sessions as u64, "session", "sessions"),
                        timecard_core::fmt::count(u.contracts as u64, "contract", "contracts")
                    );
                }
            }
        }
        UserCommand::Disable { login } => {
            let store = site.open()?;
            crate::usecases::users::set_disabled(store.as_ref(), &login, Some(now))
                .map_err(|refusal| anyhow::anyhow!("{refusal}"))?;
            log::info!("user {login} disabled");
            outln!("{login} is disabled: signing in is refused and every session has ended");
        }
        UserCommand::Enable { login } => {
            site.open()?.set_disabled(&login, None)?;
            outln!("{login} can sign in again");
        }
        UserCommand::SetPassword { login, .. } => {
            let password = read_password()?;
            let store = site.open()?;
            store.set_password(&login, &auth::hash_password(&password))?;
            let ended = store.revoke_sessions(&login)?;
            outln!(
                "new password set for {login}; {} ended",
                timecard_core::fmt::count(ended as u64, "session", "sessions")
            );
        }
        UserCommand::Invite {
            email,
            role,
            contracts,
            public_url,
        } => {
            return super::mail::invite_command(
                site,
                &email,
                role,
                &contracts,
                public_url.as_deref(),
                now,
            );
        }
        UserCommand::SetEmail { login, email } => {
            return super::mail::set_email_command(site, &login, &email);
        }
        UserCommand::SignOut { login } => {
            let ended = site.open()?.revoke_sessions(&login)?;
            outln!(
                "{} of {login} ended: each device signs in again, its cached time stays",
                timecard_core::fmt::count(ended as u64, "session", "sessions")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `session list`.
pub fn list_sessions(
    site: &Site,
    user: Option<String>,
    json: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitCode> {
    let store = site.open()?;
    let sessions = store.sessions(user.as_deref(), now)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&sessions)?);
    } else if sessions.is_empty() {
        outln!("no open sessions");
    } else {
        for s in sessions {
            outln!(
                "{:<16} {}  since {}  until {}",
                printable(&s.login, false),
                s.id,
                s.created_at.map_or("(unknown)".to_owned(), |t| t
                    .format("%Y-%m-%d %H:%M UTC")
                    .to_string()),
                s.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
