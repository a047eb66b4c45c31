//! `timecard-server`: serve, and the admin commands that work on the data
//! folder directly (users, contracts, problem reports, maintenance).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use timecard_core::fmt::printable;
use timecard_core::{errln, outln};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use super::store::{self, Store};
use timecard_core::clock::{Clock, SystemClock};
use timecard_core::domain::{Contract, ContractKind, ContractStatus};

/// The Timecard sync server.
#[derive(Debug, Parser)]
#[command(name = "timecard-server", version, about)]
pub struct ServerCli {
    /// The server's data folder (database, certificate).
    #[arg(
        long,
        global = true,
        env = "TIMECARD_SERVER_DATA",
        default_value = "timecard-server-data",
        value_name = "DIR"
    )]
    pub data: PathBuf,
    /// The database: postgres://USER@HOST[:PORT]/DB for several replicas on
    /// one PostgreSQL; by default the SQLite file in the data folder.
    #[arg(long, global = true, env = "TIMECARD_DATABASE_URL", value_name = "URL",
          value_parser = parse_database, hide_env_values = true)]
    pub database: Option<store::Database>,
    /// Where screenshots, thumbnails and report zips go: a folder, or
    /// s3://BUCKET/PREFIX (endpoint, region and keys from the AWS_*
    /// variables); by default inside the database.
    #[arg(long, global = true, env = "TIMECARD_BLOBS", value_name = "DIR|s3://BUCKET/PREFIX",
          value_parser = parse_blobs)]
    pub blobs: Option<store::blobs::BlobLocation>,
    #[command(subcommand)]
    pub command: ServerCommand,
}

fn parse_database(text: &str) -> Result<store::Database, String> {
    store::Database::parse(text)
}

fn parse_blobs(text: &str) -> Result<store::blobs::BlobLocation, String> {
    store::blobs::BlobLocation::parse(text)
}

/// The data folder and where the data lives, as the global options say.
pub struct Site {
    pub data: PathBuf,
    pub storage: super::Storage,
}

impl Site {
    pub fn open(&self) -> anyhow::Result<Box<dyn Store>> {
        self.storage.open(&self.data).with_context(|| {
            format!(
                "cannot open the database ({})",
                self.storage.database.as_ref().map_or_else(
                    || self.data.join(super::DB_FILE).display().to_string(),
                    |d| d.describe()
                )
            )
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Serve the API over HTTPS until SIGINT or SIGTERM; SIGHUP reads the
    /// certificate files again.
    Serve(super::serve::ServeArgs),
    /// Copy the database to FILE while the server runs, and check the copy.
    Backup {
        /// Where to write the copy (replaced if it exists).
        file: PathBuf,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// List the open sessions.
    Session {
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// Manage contracts.
    Contract {
        #[command(subcommand)]
        command: ContractCommand,
    },
    /// Read the problem reports users sent from the app.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Screenshots and zips kept outside the database (`--blobs`).
    Blobs {
        #[command(subcommand)]
        command: BlobsCommand,
    },
    /// Copy everything from one database to another (and pictures to
    /// --blobs), then check counts and checksums; safe to run again.
    Migrate {
        /// sqlite:PATH or postgres://…
        #[arg(long, value_parser = parse_database)]
        from: store::Database,
        /// postgres://… (or sqlite:PATH)
        #[arg(long, value_parser = parse_database)]
        to: store::Database,
    },
    /// Turn maintenance mode on or off: a running server answers 503 with Retry-After.
    Maintenance {
        state: OnOff,
        /// Seconds clients are asked to wait.
        #[arg(long, default_value_t = 120)]
        retry_after: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlobsCommand {
    /// Delete the objects no row points to (left by uploads that died
    /// between writing a picture and committing its row).
    Gc {
        /// Keep orphans younger than this: they may belong to an upload
        /// about to commit.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        older_than: std::time::Duration,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Every report, newest first.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One report in full; the attached logs can be saved as a zip.
    Show {
        /// The report's id (or its first 8 characters).
        id: String,
        /// Write the attached logs zip to this file.
        #[arg(long, value_name = "FILE")]
        save_logs: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

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
    /// Changes `terms` as the options say; what they do not mention stays.
    fn apply(
        self,
        store: &dyn Store,
        terms: &mut crate::rules::ContractTerms,
    ) -> anyhow::Result<()> {
        if let Some(login) = self.client_user {
            terms.client_user_id = match login.trim() {
                "none" | "" => None,
                login => {
                    let user = store
                        .find_user(login)?
                        .with_context(|| format!("no user called {login:?}"))?;
                    if user.role != store::Role::Client {
                        bail!(
                            "{login} is a {} account; the client of a contract needs a client account \
                             (`user set-role {login} client`)",
                            user.role.as_str()
                        );
                    }
                    Some(user.id)
                }
            };
        }
        let currency = match self.currency {
            Some(code) => {
                let code = code.trim().to_ascii_uppercase();
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                    bail!("{code:?} is not a currency code; use three letters such as USD or EUR");
                }
                Some(code)
            }
            None => None,
        };
        match self.rate.as_deref().map(str::trim) {
            Some("none") => terms.rate = None,
            Some(amount) => {
                let cents = parse_amount(amount)?;
                let currency = currency
                    .or_else(|| terms.rate.as_ref().map(|r| r.currency.clone()))
                    .context("give the rate's currency with --currency, e.g. --currency USD")?;
                terms.rate = Some(crate::rules::Rate { cents, currency });
            }
            None => {
                if let Some(currency) = currency {
                    match &mut terms.rate {
                        Some(rate) => rate.currency = currency,
                        None => bail!("--currency goes with a --rate"),
                    }
                }
            }
        }
        if let Some(manual) = self.manual_time {
            terms.manual_time = matches!(manual, ManualTimeArg::Allowed);
        }
        Ok(())
    }
}

/// An amount of money as typed (`45`, `45.5`, `45.50`), in cents.
pub(crate) fn parse_amount(text: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("{text:?} is not an amount; write it like 45 or 45.50");
    let (whole, fraction) = match text.split_once('.') {
        Some((_, "")) => return Err(bad()),
        Some(parts) => parts,
        None => (text, ""),
    };
    if whole.is_empty()
        || whole.len() > 9
        || fraction.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    Ok(whole * 100 + cents)
}

fn hours_to_secs(h: f64) -> anyhow::Result<i64> {
    if !(h.is_finite() && h > 0.0 && h <= 168.0) {
        bail!("a weekly limit must be between 0 and 168 hours, not {h}");
    }
    Ok((h * 3600.0).round() as i64)
}

/// Runs the server's command line.
pub fn main() -> ExitCode {
    let cli = ServerCli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            errln!("timecard-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: ServerCli) -> anyhow::Result<ExitCode> {
    let clock = SystemClock;
    let site = Site {
        data: cli.data.clone(),
        storage: super::Storage {
            database: cli.database.clone(),
            blobs: cli.blobs.clone(),
        },
    };
    match cli.command {
        ServerCommand::Blobs {
            command: BlobsCommand::Gc { older_than },
        } => {
            let store = site.open()?;
            let Some(blobs) = store.blobs() else {
                bail!("`blobs gc` needs --blobs: where the pictures and zips are");
            };
            let referenced = store.blob_keys()?;
            let done = blobs.collect_garbage(&referenced, chrono::Utc::now(), older_than)?;
            outln!(
                "{}: {} orphan(s) deleted, {} object(s) in use, {} orphan(s) younger than {} kept",
                blobs.location(),
                done.deleted,
                done.kept,
                done.young,
                humantime::format_duration(older_than)
            );
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::Migrate { from, to } => {
            super::migrate::run(&from, &to, cli.blobs.as_ref())?;
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::Serve(args) => super::serve::run(&site, args),
        ServerCommand::Backup { file } => {
            if let Some(store::Database::Postgres(_)) = &site.storage.database {
                bail!(
                    "`backup` copies the SQLite file; back PostgreSQL up with pg_dump (and the blob store with its own tools)"
                );
            }
            let done = super::backup::backup(&cli.data, &file)?;
            outln!(
                "{} copied to {} ({} KB); integrity check: ok",
                done.source.display(),
                file.display(),
                done.bytes.div_ceil(1024)
            );
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::User { command } => user_command(&site, command, clock.now()),
        ServerCommand::Session {
            command: SessionCommand::List { user, json },
        } => {
            let store = site.open()?;
            let sessions = store.sessions(user.as_deref(), clock.now())?;
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
        ServerCommand::Contract { command } => contract_command(&site, command, clock.now()),
        ServerCommand::Report { command } => report_command(&site, command),
        ServerCommand::Maintenance { state, retry_after } => {
            site.open()?
                .set_maintenance(matches!(state, OnOff::On).then_some(retry_after))?;
            if site.storage.database.is_none() && !super::serve::is_serving(&cli.data) {
                errln!(
                    "warning: no server is running on {}: the flag takes effect when one starts there",
                    cli.data.display()
                );
            }
            outln!(
                "maintenance {}",
                if matches!(state, OnOff::On) {
                    "on: the API answers 503"
                } else {
                    "off"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
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

fn user_command(
    site: &Site,
    command: UserCommand,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Add {
            login, email, role, ..
        } => {
            let password = read_password()?;
            let store = site.open()?;
            store.add_user(
                &login,
                email.as_deref(),
                &super::auth::hash_password(&password),
            )?;
            if role != store::Role::Freelancer {
                store.set_role(&login, role)?;
            }
            outln!("user {login} added ({})", role.as_str());
        }
        UserCommand::SetRole { login, role } => {
            site.open()?.set_role(&login, role)?;
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
                        "{:<16} {:<10} {:<28} {:<9} {} session(s), {} contract(s)",
                        printable(&u.login, false),
                        u.role.as_str(),
                        printable(u.email.as_deref().unwrap_or("-"), false),
                        if u.disabled_at.is_some() {
                            "disabled"
                        } else {
                            "active"
                        },
                        u.sessions,
                        u.contracts
                    );
                }
            }
        }
        UserCommand::Disable { login } => {
            site.open()?.set_disabled(&login, Some(now))?;
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
            store.set_password(&login, &super::auth::hash_password(&password))?;
            let ended = store.revoke_sessions(&login)?;
            outln!("new password set for {login}; {ended} session(s) ended");
        }
        UserCommand::SignOut { login } => {
            let ended = site.open()?.revoke_sessions(&login)?;
            outln!(
                "{ended} session(s) of {login} ended: each device signs in again, its cached time stays"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
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

fn contract_command(
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
            let kind = match kind {
                KindArg::Hourly => ContractKind::Hourly,
                KindArg::FixedPrice => ContractKind::FixedPrice,
            };
            if kind == ContractKind::FixedPrice && weekly_limit.is_some() {
                bail!("fixed-price contracts have no weekly limit");
            }
            let contract = Contract {
                id: id.unwrap_or_else(|| {
                    format!("c-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
                }),
                title,
                client,
                kind,
                status: status.into(),
                start_date: start.unwrap_or(now.date_naive()),
                weekly_limit_secs: weekly_limit.map(hours_to_secs).transpose()?,
                pending_limit: None,
            };
            let mut contract_terms = crate::rules::ContractTerms::default();
            terms.apply(store.as_ref(), &mut contract_terms)?;
            store.add_contract(&user, &contract, now)?;
            if contract_terms != crate::rules::ContractTerms::default() {
                let mut stored = store
                    .contract(&contract.id)?
                    .context("the contract just added is gone")?;
                stored.terms = contract_terms;
                store.save_contract(&stored)?;
            }
            outln!("{}", contract.id);
        }
        ContractCommand::Set {
            id,
            status,
            weekly_limit,
            terms,
        } => {
            let mut stored = store
                .contract(&id)?
                .with_context(|| format!("no contract with id {id:?}"))?;
            if let Some(status) = status {
                let status: ContractStatus = status.into();
                if status != stored.contract.status {
                    stored.contract.status = status;
                    stored.status_changed_at = Some(now);
                }
            }
            if let Some(limit) = weekly_limit {
                let secs = match limit.trim() {
                    "none" | "0" => None,
                    h => {
                        Some(hours_to_secs(h.parse().with_context(|| {
                            format!("{h:?} is not a number of hours")
                        })?)?)
                    }
                };
                crate::rules::change_limit(&mut stored.contract, secs, now);
            }
            terms.apply(store.as_ref(), &mut stored.terms)?;
            store.save_contract(&stored)?;
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
            let mut rows = Vec::new();
            let week = timecard_core::domain::BillingWeek::containing(now);
            for stored in store.contracts(user_id)? {
                rows.push(ContractRow {
                    user: store.login_of(stored.user_id)?,
                    week_logged_secs: store.logged_secs(
                        stored.user_id,
                        &stored.contract.id,
                        week.start(),
                        week.end(),
                    )?,
                    pending_limit_note: stored.contract.pending_limit_note(now),
                    client_user: match stored.terms.client_user_id {
                        Some(id) => Some(store.login_of(id)?),
                        None => None,
                    },
                    rate: stored.terms.rate.as_ref().map(|r| RateRow {
                        cents: r.cents,
                        currency: r.currency.clone(),
                    }),
                    manual_time: stored.terms.manual_time,
                    contract: crate::rules::as_of(stored.contract, now),
                });
            }
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
                        c.id,
                        r.user,
                        c.kind.as_str(),
                        c.status.as_str(),
                        c.start_date,
                        c.title,
                        c.client,
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

fn report_command(site: &Site, command: ReportCommand) -> anyhow::Result<ExitCode> {
    let store = site.open()?;
    match command {
        ReportCommand::List { json } => {
            let reports = store.reports()?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&reports)?);
            } else if reports.is_empty() {
                outln!("no problem reports");
            } else {
                for r in reports {
                    let first_line = r.report.description.lines().next().unwrap_or_default();
                    outln!(
                        "{}  {}  {:<10} {:<5} {}",
                        &r.report.id.to_string()[..8],
                        r.received_at.format("%Y-%m-%d %H:%M UTC"),
                        printable(&r.login, false),
                        if r.logs_zip_bytes.is_some() {
                            "logs"
                        } else {
                            "-"
                        },
                        truncate(&printable(first_line, false), 60)
                    );
                }
            }
        }
        ReportCommand::Show {
            id,
            save_logs,
            json,
        } => {
            let (r, logs) = store
                .report(&id)?
                .with_context(|| format!("no report with id {id:?}"))?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_report(&r, logs.as_deref());
            }
            if let Some(out) = save_logs {
                let logs = logs.context("this report has no logs attached")?;
                std::fs::write(&out, &logs)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                outln!("logs written to {}", out.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &store::StoredReport, logs: Option<&[u8]>) {
    let p = &r.report;
    outln!("report    {}", p.id);
    outln!("from      {}", printable(&r.login, false));
    outln!(
        "received  {}",
        r.received_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(at) = p.incident_at {
        let local = p
            .time_zone
            .as_deref()
            .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
            .map(|zone| {
                format!(
                    " ({} in {}, as entered)",
                    at.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z"),
                    zone.name()
                )
            })
            .unwrap_or_default();
        outln!(
            "incident  {}{}",
            at.format("%Y-%m-%d %H:%M UTC"),
            printable(&local, false)
        );
    }
    outln!(
        "contract  {}",
        printable(p.contract_id.as_deref().unwrap_or("(none)"), false)
    );
    outln!(
        "app       timecard {} on {}",
        printable(&p.app_version, false),
        printable(&p.os, false)
    );
    match logs {
        None => outln!("logs      (not attached)"),
        Some(zip) => {
            let names = zip::ZipArchive::new(std::io::Cursor::new(zip))
                .map(|a| {
                    a.file_names()
                        .filter_map(Result::ok)
                        .map(|name| name.into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|e| format!("unreadable zip: {e}"));
            outln!(
                "logs      {} KB zip: {} (save with --save-logs FILE)",
                zip.len().div_ceil(1024),
                printable(&names, false)
            );
        }
    }
    outln!();
    outln!("{}", printable(&p.description, true));
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hostile report text: a window-title escape, a screen clear and a
    // bidi override are shown, not acted on; newlines stay in `show`.
    #[test]
    fn control_characters_are_shown_not_acted_on() {
        let text = "hi\u{1b}]0;owned\u{7}\n\u{1b}[2J\u{202e}x";
        let shown = printable(text, true);
        assert_eq!(shown, "hi\\u{1b}]0;owned\\u{7}\n\\u{1b}[2J\\u{202e}x");
        assert!(!printable(text, false).contains('\n'));
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn amounts_read_to_the_cent() {
        assert_eq!(parse_amount("45").unwrap(), 4500);
        assert_eq!(parse_amount("45.5").unwrap(), 4550);
        assert_eq!(parse_amount("45.05").unwrap(), 4505);
        assert_eq!(parse_amount("0.99").unwrap(), 99);
        for bad in [
            "",
            ".5",
            "45.",
            "4 5",
            "-3",
            "45.123",
            "1e3",
            "1234567890",
            "NaN",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad:?}");
        }
    }
}
