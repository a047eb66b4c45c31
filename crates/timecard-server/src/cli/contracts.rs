//! `contract …`: adding, changing and listing contracts, through the same
//! use case as the admin pages (`usecases::contracts`).

use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use timecard_core::fmt::printable;
use timecard_core::outln;

use super::site::Site;
use crate::rules;
use crate::usecases::contracts::{self, ContractChange};
use crate::views;
use timecard_core::domain::{BillingWeek, Contract, ContractKind, ContractStatus};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Hourly,
    FixedPrice,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Active,
    Paused,
    Ended,
}

impl From<StatusArg> for ContractStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Active => ContractStatus::Active,
            StatusArg::Paused => ContractStatus::Paused,
            StatusArg::Ended => ContractStatus::Ended,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Add a contract; prints its id.
    Add {
        #[arg(long)]
        user: String,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        client: String,
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Weekly limit in hours (hourly contracts).
        #[arg(long, value_name = "HOURS")]
        weekly_limit: Option<f64>,
        /// First day it can be tracked (UTC date); default today.
        #[arg(long, value_name = "YYYY-MM-DD")]
        start: Option<NaiveDate>,
        #[arg(long, value_enum, default_value = "active")]
        status: StatusArg,
        /// A fixed id instead of a generated one.
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        terms: TermsArgs,
    },
    /// Change a contract's status or weekly limit: a higher limit applies
    /// at once, a lower one from the next billing week (Monday 00:00 UTC).
    Set {
        /// The contract's id (`contract list` shows them).
        id: String,
        /// Pause or end it (time before the change still counts), or make
        /// it active again.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// New weekly limit in hours; 0 or "none" removes it.
        #[arg(long, value_name = "HOURS")]
        weekly_limit: Option<String>,
        #[command(flatten)]
        terms: TermsArgs,
    },
    /// List contracts with this week's hours and any announced limit change.
    List {
        /// Only this user's contracts.
        #[arg(long, value_name = "LOGIN")]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// A contract's terms, on `contract add` and `contract set`.
#[derive(Debug, clap::Args)]
pub struct TermsArgs {
    /// The client's account (a user with the client role), who reviews the
    /// time; "none" removes it. `--client` stays the name shown.
    #[arg(long, value_name = "LOGIN")]
    client_user: Option<String>,
    /// Hourly rate, e.g. 45 or 45.50; "none" removes it.
    #[arg(long, value_name = "AMOUNT")]
    rate: Option<String>,
    /// The rate's currency, an ISO 4217 code such as USD or EUR.
    #[arg(long, value_name = "CODE")]
    currency: Option<String>,
    /// Whether the freelancer may add time by hand.
    #[arg(long, value_enum)]
    manual_time: Option<ManualTimeArg>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ManualTimeArg {
    Allowed,
    NotAllowed,
}

impl TermsArgs {
    /// The change these options ask for; what they do not mention stays.
    fn change(self) -> anyhow::Result<ContractChange> {
        Ok(ContractChange {
            client_user: self.client_user.map(|login| match login.trim() {
                "none" | "" => None,
                login => Some(login.to_owned()),
            }),
            rate_cents: match self.rate.as_deref().map(str::trim) {
                None => None,
                Some("none") => Some(None),
                Some(amount) => Some(Some(
                    rules::parse_amount(amount).map_err(anyhow::Error::msg)?,
                )),
            },
            currency: self.currency,
            manual_time: self
                .manual_time
                .map(|m| matches!(m, ManualTimeArg::Allowed)),
            ..ContractChange::default()
        })
    }
}

#[derive(Serialize)]
struct ContractRow {
    #[serde(flatten)]
    contract: Contract,
    user: String,
    /// Seconds stored on it this billing week (Monday 00:00 UTC on).
    week_logged_secs: i64,
    /// A lower limit announced for next week, in words (W3).
    pending_limit_note: Option<String>,
    /// The client's account, if the contract has one.
    client_user: Option<String>,
    rate: Option<RateRow>,
    manual_time: bool,
}

#[derive(Serialize)]
struct RateRow {
    cents: i64,
    currency: String,
}

pub fn contract_command(
    site: &Site,
    command: ContractCommand,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitCode> {
    let store = site.open()?;
    match command {
        ContractCommand::Add {
            user,
            title,
            client,
            kind,
            weekly_limit,
            start,
            status,
            id,
            terms,
        } => {
            if terms.rate.as_deref().is_some_and(|r| r.trim() != "none") && terms.currency.is_none()
            {
                bail!("give the rate's currency with --currency, e.g. --currency USD");
            }
            let contract = Contract {
                id: id.unwrap_or_else(|| {
                    format!("c-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
                }),
                title,
                client,
                kind: match kind {
                    KindArg::Hourly => ContractKind::Hourly,
                    KindArg::FixedPrice => ContractKind::FixedPrice,
                },
                status: status.into(),
                start_date: start.unwrap_or(now.date_naive()),
                weekly_limit_secs: weekly_limit
                    .map(rules::hours_to_secs)
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                pending_limit: None,
            };
            let stored = contracts::add(store.as_ref(), &user, contract, terms.change()?, now)?;
            outln!("{}", stored.contract.id);
        }
        ContractCommand::Set {
            id,
            status,
            weekly_limit,
            terms,
        } => {
            let mut change = terms.change()?;
            change.status = status.map(Into::into);
            change.weekly_limit_secs = weekly_limit
                .as_deref()
                .map(rules::parse_weekly_limit)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let stored = contracts::change(store.as_ref(), &id, &change, now)?;
            match stored.contract.pending_limit_note(now) {
                Some(note) => outln!("{id} updated; {note}"),
                None => outln!("{id} updated"),
            }
        }
        ContractCommand::List { user, json } => {
            let user_id = match &user {
                Some(login) => Some(
                    store
                        .find_user(login)?
                        .with_context(|| format!("no user called {login:?}"))?
                        .id,
                ),
                None => None,
            };
            let week = BillingWeek::containing(now);
            let stored = store.contracts(user_id)?;
            let ids: Vec<String> = stored.iter().map(|c| c.contract.id.clone()).collect();
            let week_secs = store.logged_by_contract(&ids, week.start(), week.end())?;
            let names = views::names(
                store.as_ref(),
                stored
                    .iter()
                    .flat_map(|c| [Some(c.user_id), c.terms.client_user_id])
                    .flatten(),
            )?;
            let rows: Vec<ContractRow> = stored
                .into_iter()
                .map(|stored| ContractRow {
                    user: names.of(stored.user_id).to_owned(),
                    week_logged_secs: week_secs.get(&stored.contract.id).copied().unwrap_or(0),
                    pending_limit_note: stored.contract.pending_limit_note(now),
                    client_user: stored
                        .terms
                        .client_user_id
                        .map(|id| names.of(id).to_owned()),
                    rate: stored.terms.rate.as_ref().map(|r| RateRow {
                        cents: r.cents,
                        currency: r.currency.clone(),
                    }),
                    manual_time: stored.terms.manual_time,
                    contract: rules::as_of(stored.contract, now),
                })
                .collect();
            if json {
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in rows {
                    let c = &r.contract;
                    let hours = timecard_core::fmt::format_hours;
                    let week = match c.limit_at(now) {
                        Some(limit) => format!(
                            "{} of {} this week",
                            timecard_core::fmt::hms(r.week_logged_secs),
                            hours(limit)
                        ),
                        None => {
                            format!("{} this week", timecard_core::fmt::hms(r.week_logged_secs))
                        }
                    };
                    outln!(
                        "{:<16} {:<10} {:<11} {:<7} {}  {} ({}); {week}{}",
                        printable(&c.id, false),
                        printable(&r.user, false),
                        c.kind.as_str(),
                        c.status.as_str(),
                        c.start_date,
                        printable(&c.title, false),
                        printable(&c.client, false),
                        r.pending_limit_note
                            .as_ref()
                            .map(|n| format!("; {n}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
