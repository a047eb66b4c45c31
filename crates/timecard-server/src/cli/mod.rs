//! `timecard-server`'s command line: `serve`, and the admin commands that
//! work on the data folder directly, one file per group (users and
//! sessions, contracts, problem reports); backups, migration, blobs and
//! maintenance mode are small enough to live here.

pub mod contracts;
pub mod mail;
pub mod release;
pub mod reports;
pub mod serve;
pub mod site;
pub mod tokens;
pub mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use timecard_core::{errln, outln};

pub use self::site::Site;
use crate::store;
use timecard_core::clock::{Clock, SystemClock};

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

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Serve the API over HTTPS until SIGINT or SIGTERM; SIGHUP reads the
    /// certificate files again.
    Serve(Box<serve::ServeArgs>),
    /// Copy the database to FILE while the server runs, and check the copy.
    Backup {
        /// Where to write the copy (replaced if it exists).
        file: PathBuf,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// List the open sessions.
    Session {
        #[command(subcommand)]
        command: users::SessionCommand,
    },
    /// Personal API tokens for integrations.
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
    /// Manage contracts.
    Contract {
        #[command(subcommand)]
        command: contracts::ContractCommand,
    },
    /// Read the problem reports users sent from the app.
    Report {
        #[command(subcommand)]
        command: reports::ReportCommand,
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
    /// Installers and packages for download and the apps' updates.
    Release {
        #[command(subcommand)]
        command: release::ReleaseCommand,
    },
    /// The mail the server sends (M2).
    Mail {
        #[command(subcommand)]
        command: MailCommand,
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
pub enum MailCommand {
    /// The newest mails of the outbox: to whom, what, sent or why not yet.
    List {
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

/// Runs the server's command line.
pub fn main() -> ExitCode {
    // Every `--json` here is a listing's: asked for, a failure is JSON too.
    let json = std::env::args_os()
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    let matches = ServerCli::command()
        .version(timecard_core::release::version())
        .try_get_matches()
        .and_then(|m| ServerCli::from_arg_matches(&m));
    let cli = match matches {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && json => {
            let _ = e.print();
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            json_error("usage", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            errln!("timecard-server: {e:#}");
            if json {
                json_error("error", &format!("{e:#}"));
            }
            ExitCode::FAILURE
        }
    }
}

/// D10: a `--json` listing that fails prints the API's error body,
/// `{"error": "<code>", "message": "<plain words>"}`, on standard output.
fn json_error(code: &str, message: &str) {
    let body = timecard_core::protocol::ErrorBody {
        error: code.to_owned(),
        message: message.to_owned(),
    };
    if let Ok(text) = serde_json::to_string_pretty(&body) {
        outln!("{text}");
    }
}

fn run(cli: ServerCli) -> anyhow::Result<ExitCode> {
    let clock = SystemClock;
    let site = Site {
        data: cli.data.clone(),
        storage: crate::launch::Storage {
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
                "{}: {} deleted, {} in use, {} younger than {} kept",
                blobs.location(),
                timecard_core::fmt::count(done.deleted as u64, "orphan", "orphans"),
                timecard_core::fmt::count(done.kept as u64, "object", "objects"),
                timecard_core::fmt::count(done.young as u64, "orphan", "orphans"),
                humantime::format_duration(older_than)
            );
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::Migrate { from, to } => {
            crate::migrate::run(&from, &to, cli.blobs.as_ref())?;
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::Serve(args) => serve::run(&site, *args),
        ServerCommand::Backup { file } => {
            if let Some(store::Database::Postgres(_)) = &site.storage.database {
                bail!(
                    "`backup` copies the SQLite file; back PostgreSQL up with pg_dump (and the blob store with its own tools)"
                );
            }
            let done = crate::backup::backup(&cli.data, &file)?;
            outln!(
                "{} copied to {} ({} KB); integrity check: ok",
                done.source.display(),
                file.display(),
                done.bytes.div_ceil(1024)
            );
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::User { command } => users::user_command(&site, command, clock.now()),
        ServerCommand::Session {
            command: users::SessionCommand::List { user, json },
        } => users::list_sessions(&site, user, json, clock.now()),
        ServerCommand::Token { command } => tokens::token_command(&site, command, clock.now()),
        ServerCommand::Contract { command } => {
            contracts::contract_command(&site, command, clock.now())
        }
        ServerCommand::Mail {
            command: MailCommand::List { json },
        } => mail::list_command(&site, json),
        ServerCommand::Report { command } => reports::report_command(&site, command),
        ServerCommand::Release { command } => {
            release::release_command(&cli.data, command, clock.now())
        }
        ServerCommand::Maintenance { state, retry_after } => {
            site.open()?
                .set_maintenance(matches!(state, OnOff::On).then_some(retry_after))?;
            if site.storage.database.is_none() && !serve::is_serving(&cli.data) {
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
