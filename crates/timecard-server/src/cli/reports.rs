//! `report …`: the problem reports users sent from the app (D3).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use timecard_core::fmt::printable;
use timecard_core::outln;

use super::site::Site;
use crate::store;

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

pub fn report_command(site: &Site, command: ReportCommand) -> anyhow::Result<ExitCode> {
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
                // Logs may hold what the user worked on: owner-only, like
                // every other export.
                timecard_core::fs::durable::write_private(&out, &logs)
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
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
