//! `timecard update [--check] [--json]`: the newest version from the
//! team's server, checked and installed the way this copy was installed
//! (U2–U4). With the window running, the window is asked to do it (it
//! stops tracking only once the update is downloaded and checked, and
//! starts again as the new version).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use timecard_client::activity::NoActivity;
use timecard_client::capture::NoScreenshots;
use timecard_client::engine::Engine;
use timecard_client::platform::DataDir;
use timecard_client::platform::instance::{InstanceError, InstanceGuard, ask_to_update};
use timecard_client::settings::Settings;
use timecard_client::update::{Check, Installed, Installing, UpdateError, Updater, install};
use timecard_core::clock::{Clock, SystemClock};
use timecard_core::release::Kind;
use timecard_core::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Only say whether a newer version is offered.
    #[arg(long)]
    pub check: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report {
    current: String,
    /// The newest version the server offers for this copy, if any.
    offered: Option<String>,
    /// Whether the offered version is newer and trusted.
    available: bool,
    /// How this copy is updated: deb, installer or binary.
    kind: String,
    /// The fingerprint of the key that signed the offer.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// Why there is no update, in words (a refusal, no server, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    /// Whether this run installed it.
    installed: bool,
}

pub fn run(data: &DataDir, settings: &Settings, args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let installed = Installed::this()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut report = Report {
        current: timecard_core::release::version().to_owned(),
        offered: None,
        available: false,
        kind: installed.kind.to_string(),
        key: None,
        problem: None,
        installed: false,
    };
    let checked = Updater::new(data, settings, clock, installed.clone())
        .and_then(|updater| updater.check().map(|check| (updater, check)));
    let (updater, offer) = match checked {
        Ok((updater, Check::Available(offer))) => (updater, offer),
        Ok((_, Check::UpToDate { offered })) => {
            report.offered = offered;
            return finish(&report, args.json, ExitCode::SUCCESS);
        }
        Err(e @ UpdateError::NoServer) => {
            report.problem = Some(e.to_string());
            return finish(&report, args.json, ExitCode::SUCCESS);
        }
        Err(e) => {
            report.problem = Some(e.to_string());
            return finish(&report, args.json, ExitCode::FAILURE);
        }
    };
    report.offered = Some(offer.release.version.clone());
    report.available = true;
    report.key = Some(offer.key_fingerprint.clone());
    if args.check {
        return finish(&report, args.json, ExitCode::SUCCESS);
    }
    // One Timecard at a time changes the program and the cache.
    let guard = match InstanceGuard::acquire(data, "update", false) {
        Ok(guard) => guard,
        Err(InstanceError::Running(holder)) if holder.role == "window" => {
            return match ask_to_update(&holder) {
                Ok(answer) => {
                    if !args.json {
                        outln!(
                            "The Timecard window (pid {}) installs version {} and starts again.",
                            answer.pid,
                            offer.release.version
                        );
                    }
                    finish_quietly(&report, args.json, ExitCode::SUCCESS)
                }
                Err(e) => {
                    report.problem = Some(format!(
                        "the Timecard window (pid {}) did not answer ({e}); quit it and run `timecard update` again",
                        holder.pid
                    ));
                    finish(&report, args.json, ExitCode::FAILURE)
                }
            };
        }
        Err(InstanceError::Running(holder)) => {
            report.problem = Some(format!(
                "Timecard is busy ({}, pid {}); stop it first (Ctrl-C keeps the time tracked so far), then run `timecard update` again",
                holder.role, holder.pid
            ));
            return finish(&report, args.json, ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let file = match updater.download(&offer) {
        Ok(file) => file,
        Err(e) => {
            report.problem = Some(e.to_string());
            return finish(&report, args.json, ExitCode::FAILURE);
        }
    };
    upload_first(data, settings);
    // The installer starts the new window itself, which must find the
    // data folder free.
    if installed.kind == Kind::Installer {
        drop(guard);
    }
    match install(&installed, &file) {
        Ok(Installing::Done) => {
            report.installed = true;
            if !args.json {
                outln!(
                    "Timecard {} is installed (was {}).",
                    offer.release.version,
                    report.current
                );
            }
            finish_quietly(&report, args.json, ExitCode::SUCCESS)
        }
        Ok(Installing::InstallerRunning) => {
            report.installed = true;
            if !args.json {
                outln!(
                    "The installer of Timecard {} is running; it starts Timecard when it is done.",
                    offer.release.version
                );
            }
            finish_quietly(&report, args.json, ExitCode::SUCCESS)
        }
        Err(e) => {
            report.problem = Some(e.to_string());
            finish(&report, args.json, ExitCode::FAILURE)
        }
    }
}

/// Uploads what is cached before the program changes, as far as the
/// server can be reached; what is left stays in the cache for the new
/// version.
fn upload_first(data: &DataDir, settings: &Settings) {
    let engine = match Engine::start(
        data,
        settings,
        Arc::new(SystemClock),
        Box::new(NoScreenshots),
        Box::new(NoActivity),
        crate::builtin::local_server(),
    ) {
        Ok(engine) => engine,
        Err(e) => {
            log::warn!("before the update, the cache was not uploaded: {e:#}");
            return;
        }
    };
    let snapshot = engine.flush(Duration::from_secs(60));
    engine.shutdown();
    if snapshot.cache.pending_segments > 0 {
        errln!(
            "note: {} still cached; the new version uploads {}",
            match snapshot.cache.pending_segments {
                1 => "1 segment is".to_owned(),
                n => format!("{n} segments are"),
            },
            if snapshot.cache.pending_segments == 1 {
                "it"
            } else {
                "them"
            }
        );
    }
}

fn finish(report: &Report, json: bool, code: ExitCode) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(report)?);
        return Ok(code);
    }
    match (&report.problem, &report.offered, report.available) {
        (Some(problem), _, _) if code == ExitCode::SUCCESS => outln!("{problem}"),
        (Some(problem), _, _) => errln!("timecard: {problem}"),
        (None, Some(offered), true) => outln!(
            "Timecard {offered} is available (this is {}); `timecard update` installs it.",
            report.current
        ),
        (None, Some(offered), false)
            if timecard_core::release::is_newer(&report.current, offered) =>
        {
            outln!(
                "Timecard {} is up to date; the server offers {offered}, which is older and is never installed.",
                report.current
            )
        }
        (None, Some(offered), false) => outln!(
            "Timecard {} is up to date (the server offers {offered}).",
            report.current
        ),
        (None, None, _) => outln!(
            "Timecard {} is up to date (the server offers no release for this system).",
            report.current
        ),
    }
    Ok(code)
}

/// Like `finish`, for outcomes already said in text.
fn finish_quietly(report: &Report, json: bool, code: ExitCode) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(report)?);
    }
    Ok(code)
}
