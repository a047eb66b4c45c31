//! `timecard-server token create|list|revoke`: personal API tokens (I1)
//! from the command line, for an integration set up by whoever runs the
//! server.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use timecard_core::fmt::printable;
use timecard_core::outln;

use super::Site;
use crate::store::Scope;
use crate::usecases::tokens;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for a user; the token is printed once, on the last line.
    Create {
        #[arg(long, value_name = "LOGIN")]
        user: String,
        /// read: the diary, contracts and screenshots; read-write: also
        /// upload, add manual time and delete.
        #[arg(long, value_enum)]
        scope: Scope,
        /// Days until it stops working.
        #[arg(long, value_name = "DAYS", default_value_t = tokens::DEFAULT_DAYS)]
        expires: u32,
        /// What uses it, as the token list shows it.
        #[arg(long, default_value = "made on the command line")]
        name: String,
    },
    /// The tokens (never the tokens themselves), of one user or all.
    List {
        #[arg(long, value_name = "LOGIN")]
        user: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id or the token itself; it stops working at once.
    Revoke {
        #[arg(value_name = "ID|TOKEN")]
        which: String,
    },
}

pub fn token_command(
    site: &Site,
    command: TokenCommand,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let store = site.open()?;
    match command {
        TokenCommand::Create {
            user,
            scope,
            expires,
            name,
        } => {
            let found = store
                .find_user(&user)?
                .ok_or_else(|| anyhow::anyhow!("no user called {user:?}"))?;
            let made = tokens::create(store.as_ref(), &found, &name, scope, expires, now)
                .map_err(|refusal| anyhow::anyhow!("{refusal}"))?;
            outln!(
                "API token {} for {} ({}), valid until {}; it is shown only now:",
                made.id,
                found.login,
                scope.as_str(),
                made.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            outln!("{}", made.token);
        }
        TokenCommand::List { user, json } => {
            let owner = match &user {
                Some(login) => Some(
                    store
                        .find_user(login)?
                        .ok_or_else(|| anyhow::anyhow!("no user called {login:?}"))?
                        .id,
                ),
                None => None,
            };
            let list = store.api_tokens(owner)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                outln!(
                    "no API tokens; make one with `timecard-server token create --user LOGIN --scope read`"
                );
            } else {
                for t in list {
                    let state = if t.expired(now) { "expired" } else { "until" };
                    outln!(
                        "{:>5}  {:<16} {:<10} {} {}  last used {}  {}",
                        t.id,
                        printable(&t.login, false),
                        t.scope.as_str(),
                        state,
                        t.expires_at.format("%Y-%m-%d"),
                        t.last_used_at.map_or("never".to_owned(), |at| at
                            .format("%Y-%m-%d %H:%M UTC")
                            .to_string()),
                        printable(&t.name, false)
                    );
                }
            }
        }
        TokenCommand::Revoke { which } => {
            let gone = tokens::revoke(store.as_ref(), &which, None)
                .map_err(|refusal| anyhow::anyhow!("{refusal}"))?;
            outln!(
                "API token {} of {} ({}) revoked",
                gone.id,
                gone.login,
                printable(&gone.name, false)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
