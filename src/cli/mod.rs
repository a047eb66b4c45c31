//! The command line: everything the window does, for scripts and support
//! people. This is the binary's edge: errors become `anyhow` here and are
//! printed once, in plain words, by `main`.

mod account;
mod cache_cmd;
mod report;
mod reset;
mod server_cmds;
mod status;
mod track;
mod update;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use timecard_client::platform::DataDir;
use timecard_client::platform::instance::{Holder, InstanceError, InstanceGuard};
use timecard_client::platform::paths::DATA_DIR_ENV;
use timecard_client::settings::Settings;
use timecard_core::{errln, outln};

/// Timecard: a lightweight time tracker for freelancers paid by the hour.
#[derive(Debug, Parser)]
#[command(name = "timecard", version, about, long_about = None)]
pub struct Cli {
    /// The data folder (cache, settings, logs). Default: $XDG_DATA_HOME/timecard
    /// on Linux, ~/Library/Application Support/Timecard on macOS,
    /// %LOCALAPPDATA%\Timecard on Windows.
    #[arg(long, global = true, env = DATA_DIR_ENV, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in to a sync server (or `--server builtin` for the built-in one).
    Login(account::LoginArgs),
    /// Sign out; cached time stays and uploads after the next sign-in.
    Logout,
    /// List your contracts: trackable or why not, this week's time and limit.
    Contracts {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Track one contract without the window, until Ctrl-C or --for.
    ///
    /// Segments are cut on the server's grid (10 minutes by default) and
    /// written durably to the cache as each one ends, then uploaded; Ctrl-C
    /// caches the partial segment in progress. With no server configured,
    /// the built-in local server is used.
    Track(track::TrackArgs),
    /// Upload everything cached; exits non-zero while anything is left.
    Sync,
    /// Add time worked away from the tracker, by hand; it is marked manual
    /// everywhere and counts toward the weekly limit like tracked time.
    Manual(server_cmds::ManualArgs),
    /// Show one day of the Work Diary.
    Diary {
        /// The day, YYYY-MM-DD (default: today in the zone).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// IANA time zone, e.g. Europe/Berlin or UTC (default: the settings' or system's).
        #[arg(long)]
        tz: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Take one screenshot (all monitors) to a JPEG file, for diagnostics.
    Capture {
        /// Where to write the JPEG.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
        /// JPEG quality, 1–100 (default: the setting).
        #[arg(long)]
        quality: Option<u8>,
        /// Where the picture comes from: what the session offers (auto),
        /// the desktop portal (GNOME, KDE), wlr-screencopy (Sway, Hyprland,
        /// river) or X11 on Linux; GDI on Windows.
        #[arg(long, default_value = "auto", value_parser = parse_source)]
        source: timecard_client::capture::SourceChoice,
    },
    /// Where the logs are, or export them as a zip.
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// Send a problem report to the server, with the logs attached unless
    /// --no-logs; offline, it is queued and sent later.
    Report(report::ReportArgs),
    /// Wipe the data folder (cache, settings, sign-in, logs) so the next
    /// start begins afresh; refuses without --yes when time would be lost.
    Reset(reset::ResetArgs),
    /// Show the state of sync and of the offline cache.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Install the newest version from your team's server (signed, never
    /// older); with --check, only say whether there is one.
    Update(update::UpdateArgs),
    /// Inspect, check, export and import the offline time cache.
    Cache {
        #[command(subcommand)]
        command: cache_cmd::CacheCommand,
    },
    /// Write a shortcut to this program carrying Timecard's AppUserModelID
    /// (the Windows installer's Start-menu entry; toasts need it).
    #[command(hide = true)]
    Shortcut {
        /// The `.lnk` file to write.
        out: PathBuf,
        /// The icon file (default: the program's own).
        #[arg(long, value_name = "FILE")]
        icon: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Print the log folder.
    Path,
    /// Write every log file into a zip.
    Export {
        /// The zip file to write.
        file: PathBuf,
    },
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let matches = Cli::command()
        .version(timecard_core::release::version())
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match matches {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && std::env::args_os().any(|a| a == "--json") => {
            // A script asked for JSON: it gets JSON, even for a bad argument.
            let _ = e.print();
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            json_error("usage", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let json = cli.command.as_ref().is_some_and(Command::prints_json);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            errln!("timecard: {e:#}");
            // The library's words fit the window too; here, the command.
            if matches!(error_code(&e), "signed_out" | "session_expired") {
                errln!("Sign in with: timecard login --server URL --user NAME --password-stdin");
            }
            if json {
                json_error(error_code(&e), &format!("{e:#}"));
            }
            ExitCode::FAILURE
        }
    }
}

/// D10: what every `--json` command prints on standard output when it fails:
/// the error body the server's API answers with, `{"error": "<code>",
/// "message": "<plain words>"}`, so a script always reads one JSON
/// document. The message goes to standard error as well, for people.
fn json_error(code: &str, message: &str) {
    let body = timecard_core::protocol::ErrorBody {
        error: code.to_owned(),
        message: message.to_owned(),
    };
    if let Ok(text) = serde_json::to_string_pretty(&body) {
        outln!("{text}");
    }
}

/// A short machine-readable name for `e`: the sync error's own code
/// (`signed_out`, `unreachable`, …), `already_running`, or `error`.
fn error_code(e: &anyhow::Error) -> &'static str {
    for cause in e.chain() {
        if let Some(sync) = cause.downcast_ref::<timecard_client::sync::SyncError>() {
            return sync.code();
        }
        if let Some(InstanceError::Running(_)) = cause.downcast_ref::<InstanceError>() {
            return "already_running";
        }
    }
    "error"
}

impl Command {
    /// Whether the command was asked for JSON (`--json`).
    fn prints_json(&self) -> bool {
        match self {
            Command::Contracts { json }
            | Command::Diary { json, .. }
            | Command::Status { json } => *json,
            Command::Update(args) => args.json,
            Command::Cache {
                command: cache_cmd::CacheCommand::List { json },
            } => *json,
            _ => false,
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // A diagnostic screenshot with its quality given needs nothing else.
    if let Some(Command::Capture {
        out,
        quality: Some(q),
        source,
    }) = &cli.command
    {
        return capture(out, *q, *source);
    }
    // The installer's step needs no data folder either.
    if let Some(Command::Shortcut { out, icon }) = &cli.command {
        let exe = std::env::current_exe().context("cannot find this program's path")?;
        timecard_client::platform::shortcut::write_for(&exe, icon.as_deref(), out)
            .with_context(|| format!("cannot write {}", out.display()))?;
        return Ok(ExitCode::SUCCESS);
    }
    timecard_client::platform::shortcut::declare_for_process();
    timecard_core::tls::install_crypto_provider();
    let data = DataDir::resolve(cli.data_dir.clone()).context("cannot use the data folder")?;
    crate::logging::init(&data.logs_dir());
    log::info!(
        "timecard {} started: {:?}",
        timecard_core::release::version(),
        cli.command.as_ref().map(command_name)
    );
    // D1: one process at a time changes the cache, settings and sign-in.
    let instance = match lock_role(cli.command.as_ref()) {
        None => None,
        Some(role) => match InstanceGuard::acquire(&data, role, cli.command.is_none()) {
            Ok(guard) => Some(guard),
            Err(InstanceError::Running(holder)) if cli.command.is_none() => {
                match already_running(&data, &holder) {
                    Ok(guard) => Some(guard),
                    Err(code) => return Ok(code),
                }
            }
            Err(e) => return Err(e.into()),
        },
    };
    let settings = Settings::load(&data.settings_file())?;
    match cli.command {
        None => {
            timecard_client::platform::console::leave_own_console();
            crate::ui::run_app(data, settings, instance)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Login(args)) => account::login(&data, &settings, args),
        Some(Command::Logout) => account::logout(&data, &settings),
        Some(Command::Contracts { json }) => server_cmds::contracts(&data, &settings, json),
        Some(Command::Manual(args)) => server_cmds::manual(&data, &settings, args),
        Some(Command::Track(args)) => track::run(&data, &settings, args),
        Some(Command::Sync) => server_cmds::sync(&data, &settings),
        Some(Command::Diary { date, tz, json }) => {
            server_cmds::diary(&data, &settings, date, tz, json)
        }
        Some(Command::Capture {
            out,
            quality,
            source,
        }) => capture(&out, quality.unwrap_or(settings.screenshot_quality), source),
        Some(Command::Logs {
            command: LogsCommand::Path,
        }) => {
            outln!("{}", data.logs_dir().display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Logs {
            command: LogsCommand::Export { file },
        }) => {
            let n = crate::logging::export_zip(&data.logs_dir(), &file)
                .with_context(|| format!("cannot write {}", file.display()))?;
            outln!(
                "{} written to {}",
                timecard_core::fmt::count(n as u64, "log file", "log files"),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Report(args)) => report::run(&data, &settings, args),
        Some(Command::Reset(args)) => reset::run(&data, &settings, args),
        Some(Command::Status { json }) => status::print(&data, &settings, json),
        Some(Command::Cache { command }) => cache_cmd::run(&data, &settings, command),
        Some(Command::Update(args)) => update::run(&data, &settings, args),
        Some(Command::Shortcut { .. }) => unreachable!("handled before the data folder"),
    }
}

fn parse_source(text: &str) -> Result<timecard_client::capture::SourceChoice, String> {
    text.parse()
}

/// `timecard capture`: one full-resolution screenshot to a file.
fn capture(
    out: &std::path::Path,
    quality: u8,
    source: timecard_client::capture::SourceChoice,
) -> anyhow::Result<ExitCode> {
    let timecard_client::capture::FullPicture {
        width,
        height,
        black,
        jpeg,
    } = timecard_client::capture::full_picture(source, quality)?;
    if black {
        errln!(
            "warning: the picture came out entirely black: {}",
            timecard_client::capture::frame::MAYBE_BLOCKED
        );
    }
    std::fs::write(out, &jpeg).with_context(|| format!("cannot write {}", out.display()))?;
    outln!(
        "{}×{} screenshot written to {} ({} KB)",
        width,
        height,
        out.display(),
        jpeg.len() / 1024
    );
    Ok(ExitCode::SUCCESS)
}

/// How long a newer launch waits for an older window to quit (it caches
/// its partial segment first).
const HANDOVER_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Which commands must be the only Timecard on the data folder, and as what.
fn lock_role(command: Option<&Command>) -> Option<&'static str> {
    match command {
        None => Some("window"),
        Some(Command::Track(_)) => Some("track"),
        Some(Command::Sync) => Some("sync"),
        Some(Command::Login(_) | Command::Logout) => Some("login"),
        Some(Command::Reset(_)) => Some("reset"),
        Some(Command::Cache {
            command: cache_cmd::CacheCommand::Verify | cache_cmd::CacheCommand::Import { .. },
        }) => Some("cache"),
        Some(_) => None,
    }
}

/// A second launch of the window: ask the running one to come forward —
/// or, when it is an older version, to hand over to this one (U5).
fn already_running(data: &DataDir, holder: &Holder) -> Result<InstanceGuard, ExitCode> {
    let ours = timecard_core::release::version();
    if holder.role != "window" {
        errln!("timecard: {}", InstanceError::Running(holder.clone()));
        return Err(ExitCode::FAILURE);
    }
    match timecard_client::platform::instance::ask_to_show(holder) {
        Ok(answer) if answer.handing_over => {
            outln!(
                "Timecard {} (pid {}) is older: it caches its partial segment and quits; version {ours} takes over.",
                answer.version,
                answer.pid
            );
            log::info!(
                "handover: {} (pid {}) quits for this version",
                answer.version,
                answer.pid
            );
            InstanceGuard::acquire_when_free(data, "window", true, HANDOVER_WAIT).map_err(|e| {
                errln!("timecard: the older version did not quit in time: {e}");
                ExitCode::FAILURE
            })
        }
        Ok(answer) if timecard_core::release::is_newer(&answer.version, ours) => {
            errln!(
                "timecard: a newer Timecard, {}, is already running (pid {}); this older version {ours} exits. Its window was brought forward.",
                answer.version,
                answer.pid
            );
            Err(ExitCode::FAILURE)
        }
        Ok(answer) if answer.version == ours => {
            if std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty()) {
                // Wayland lets the compositor decide whether a window may
                // take the focus (xdg-activation): it may only be marked.
                outln!(
                    "Timecard is already running (pid {}); its window was asked to come forward (your compositor decides whether it does, or marks it as wanting attention).",
                    answer.pid
                );
            } else {
                outln!(
                    "Timecard is already running (pid {}); its window was brought forward.",
                    answer.pid
                );
            }
            log::info!("second launch: asked pid {} to show its window", answer.pid);
            Err(ExitCode::SUCCESS)
        }
        Ok(answer) => {
            errln!(
                "timecard: {}",
                InstanceError::Running(Holder {
                    pid: answer.pid,
                    version: answer.version,
                    ..holder.clone()
                })
            );
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            errln!(
                "timecard: Timecard is already running (pid {}, version {}) but did not answer ({e}); \
                 if it hangs, quit it with `kill {}`",
                holder.pid,
                holder.version,
                holder.pid
            );
            Err(ExitCode::FAILURE)
        }
    }
}

/// The subcommand's name, for the log (never its arguments: they may hold secrets).
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Login(_) => "login",
        Command::Logout => "logout",
        Command::Contracts { .. } => "contracts",
        Command::Manual(_) => "manual",
        Command::Track(_) => "track",
        Command::Sync => "sync",
        Command::Diary { .. } => "diary",
        Command::Capture { .. } => "capture",
        Command::Report(_) => "report",
        Command::Reset(_) => "reset",
        Command::Status { .. } => "status",
        Command::Logs { .. } => "logs",
        Command::Cache { .. } => "cache",
        Command::Update(_) => "update",
        Command::Shortcut { .. } => "shortcut",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    // Every command that takes --json is known to want JSON, so that its
    // errors are printed as JSON too.
    #[test]
    fn every_json_flag_is_known() {
        fn walk(command: &clap::Command, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
            if command.get_arguments().any(|a| a.get_id() == "json") {
                found.push(path.clone());
            }
            for sub in command.get_subcommands() {
                path.push(sub.get_name().to_owned());
                walk(sub, path, found);
                path.pop();
            }
        }
        let mut found = Vec::new();
        walk(&Cli::command(), &mut Vec::new(), &mut found);
        assert!(found.len() >= 5, "{found:?}");
        for path in found {
            let argv = std::iter::once("timecard".to_owned())
                .chain(path.iter().cloned())
                .chain(["--json".to_owned()]);
            let cli = Cli::try_parse_from(argv).unwrap();
            assert!(
                cli.command.as_ref().is_some_and(Command::prints_json),
                "`{} --json` prints its errors as JSON",
                path.join(" ")
            );
        }
    }
}
