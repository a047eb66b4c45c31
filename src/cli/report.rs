//! `timecard report`: *Report a problem* (D3) from the command line. The
//! report is queued durably first, then sent; offline, it stays queued and
//! the app (or `timecard sync`) sends it later. With no server configured
//! there is no one to send it to: it is saved to a file for the user to send.

use std::process::ExitCode;
use std::sync::Arc;
use timecard_core::{errln, outln};

use anyhow::Context;

use timecard_client::connect;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_client::sync::outbox::{self, Outbox};
use timecard_core::clock::{Clock, SystemClock};
use timecard_core::protocol::{ProblemReport, ReportFormError};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// What happened, in your own words.
    #[arg(long, short)]
    message: String,
    /// The contract it is about.
    #[arg(long, value_name = "ID")]
    contract: Option<String>,
    /// When it happened, "YYYY-MM-DD HH:MM" in your time zone (default: now).
    #[arg(long, value_name = "WHEN")]
    at: Option<String>,
    /// Do not attach the logs.
    #[arg(long)]
    no_logs: bool,
}

pub fn run(data: &DataDir, settings: &Settings, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut report = ProblemReport::compose(
        &args.message,
        args.contract,
        args.at.as_deref(),
        settings.zone(),
        clock.now(),
    )
    .map_err(|e| match e {
        ReportFormError::NoDescription => anyhow::anyhow!("say what happened with --message"),
        ReportFormError::BadTime(why) => anyhow::anyhow!("--at {why}"),
    })?;
    if !args.no_logs {
        let zip = crate::logging::zip_bytes(&data.logs_dir())
            .context("cannot zip the logs (use --no-logs to send without them)")?;
        report.attach_logs(&zip);
    }
    if settings.server.is_none() {
        let path =
            outbox::save_to_file(&data.reports_dir(), &report).context("cannot save the report")?;
        outln!(
            "No server is configured (local only), so problem report {} was not sent: it is \
             saved{} in {}\nSend that file to whoever supports you, or use your organisation's \
             server with `timecard login --server https://…`.",
            report.id,
            if args.no_logs { "" } else { " with the logs" },
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let outbox = Outbox::new(data.reports_dir());
    outbox.put(&report).context("cannot queue the report")?;

    let delivered = connect::connect(data, settings, clock, crate::builtin::local_server())
        .map_err(|e| format!("{e:#}"))
        .and_then(|c| outbox::deliver(c.client.as_ref(), &outbox).map_err(|e| e.to_string()));
    match delivered {
        Ok(done) => {
            for id in &done.sent {
                let which = if *id == report.id {
                    ""
                } else {
                    " (queued earlier)"
                };
                outln!("Problem report {id} sent{which}.");
            }
            for (id, why, kept) in &done.refused {
                errln!(
                    "The server refused problem report {id}: {why}. It is kept in {}.",
                    kept.display()
                );
            }
            if done.refused.iter().any(|(id, ..)| *id == report.id) {
                return Ok(ExitCode::FAILURE);
            }
        }
        Err(why) => outln!(
            "Problem report {} is saved and will be sent when the server can be reached \
             (by the app or `timecard sync`): {why}",
            report.id
        ),
    }
    Ok(ExitCode::SUCCESS)
}
