//! `timecard contracts`, `timecard sync` and `timecard diary`: the server's
//! view, with the cache's time added where it belongs.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use timecard_core::fmt::printable;
use timecard_core::{errln, outln};

use anyhow::Context;
use chrono::NaiveDate;
use serde::Serialize;

use timecard_client::activity::NoActivity;
use timecard_client::cache::Cache;
use timecard_client::capture::NoScreenshots;
use timecard_client::connect;
use timecard_client::engine::Engine;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_client::sync::{self, SyncError};
use timecard_client::worker::ContractView;
use timecard_core::clock::{Clock, SystemClock};
use timecard_core::domain::LocalDay;
use timecard_core::domain::ReviewMark;
use timecard_core::domain::billing::{self, Totals};
use timecard_core::fmt::format_hours;
use timecard_core::fmt::{count, hms, local_time};

/// A contract in `timecard contracts --json`: as the window shows it, and
/// its weekly limit in hours.
#[derive(Serialize)]
struct ContractRow {
    #[serde(flatten)]
    view: ContractView,
    weekly_limit_hours: Option<f64>,
}

pub fn contracts(data: &DataDir, settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let connection = connect::connect(
        data,
        settings,
        clock.clone(),
        crate::builtin::local_server(),
    )?;
    let zone = settings.zone();
    let (response, note) = match connection.client.contracts(zone.name()) {
        Ok(r) => {
            if !connection.is_builtin() {
                let _ = sync::save_for_offline(&data.contracts_file(), &r);
            }
            (r, None)
        }
        Err(e @ (SyncError::SignedOut | SyncError::SessionExpired | SyncError::WrongPassword)) => {
            return Err(e.into());
        }
        Err(e) => match sync::load_saved(&data.contracts_file()) {
            Some(saved) => (
                saved,
                Some(format!(
                    "offline ({e}); showing the list from the last refresh"
                )),
            ),
            None => return Err(e).context("cannot get the contract list"),
        },
    };
    let (cache, _) = Cache::open(&data.cache_dir(), settings.capacity_secs())?;
    let now = clock.now();
    let week = timecard_core::domain::BillingWeek::containing(now);
    let rows: Vec<ContractRow> = response
        .contracts
        .iter()
        .map(|info| {
            let c = &info.contract;
            let server_week =
                if timecard_core::domain::BillingWeek::containing(response.week_start) == week {
                    info.week_logged_secs
                } else {
                    0
                };
            let view = ContractView::new(
                c,
                now,
                settings.policy(),
                &zone,
                server_week + cache.pending_secs_in(&c.id, week),
                info.disputes.clone(),
            );
            ContractRow {
                weekly_limit_hours: view.limit_secs.map(|s| s as f64 / 3600.0),
                view,
            }
        })
        .collect();
    if json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(note) = note {
        outln!("({note})");
    }
    for ContractRow { view: r, .. } in rows {
        let c = &r.contract;
        let limit = match r.limit_secs {
            Some(secs) => format!(
                "{} of {} this week",
                hms(r.week_logged_secs),
                format_hours(secs)
            ),
            None => format!("{} this week", hms(r.week_logged_secs)),
        };
        let state = match &r.reason {
            None => "trackable".to_owned(),
            Some(reason) => format!("not trackable: {reason}"),
        };
        outln!(
            "{:<14} {} — {} [{}]",
            printable(&c.id, false),
            printable(&c.title, false),
            printable(&c.client, false),
            c.kind.as_str()
        );
        outln!("               {state}; {limit}");
        if let Some(note) = r.pending_limit_note {
            outln!("               {note}");
        }
        if !r.counts_toward_hours {
            outln!("               fixed-price: logged, but not counted in your hourly totals");
        }
        for d in &r.disputes {
            outln!(
                "               {} {}–{}: {} ({})",
                match d.state.as_str() {
                    "open" => "disputed",
                    "rejected" => "rejected",
                    _ => "kept after a dispute",
                },
                d.start.with_timezone(&zone).format("%a %-d %b %H:%M"),
                d.end.with_timezone(&zone).format("%H:%M"),
                printable(&d.reason, false),
                d.answer.as_deref().map_or_else(
                    || "no answer yet".to_owned(),
                    |a| format!("you answered: {}", printable(a, false))
                )
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ManualArgs {
    /// The contract's id (`timecard contracts` lists them).
    #[arg(long, value_name = "ID")]
    contract: String,
    /// When the work started, "YYYY-MM-DD HH:MM" in your time zone.
    #[arg(long, value_name = "WHEN")]
    from: String,
    /// When it ended: "HH:MM" (the same day, or the next if earlier than
    /// --from) or "YYYY-MM-DD HH:MM".
    #[arg(long, value_name = "WHEN")]
    to: String,
    /// What you worked on.
    #[arg(long, default_value = "")]
    memo: String,
}

pub fn manual(data: &DataDir, settings: &Settings, args: ManualArgs) -> anyhow::Result<ExitCode> {
    let zone = settings.zone();
    let (start, end) = timecard_core::domain::parse_local_span(&args.from, &args.to, zone)
        .map_err(|(field, e)| anyhow::anyhow!("--{field} {e}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let connection = connect::connect(data, settings, clock, crate::builtin::local_server())?;
    let request = timecard_core::protocol::ManualTime {
        contract_id: args.contract.clone(),
        start,
        end,
        memo: args.memo,
    };
    let added = connection
        .client
        .add_manual(&request)
        .with_context(|| format!("the time was not added to {}", args.contract))?;
    outln!(
        "Added {} of manual time to {} ({} – {}).",
        hms(added.secs),
        args.contract,
        start.with_timezone(&zone).format("%a %-d %b %H:%M"),
        end.with_timezone(&zone).format("%H:%M")
    );
    Ok(ExitCode::SUCCESS)
}

pub fn sync(data: &DataDir, settings: &Settings) -> anyhow::Result<ExitCode> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = Engine::start(
        data,
        settings,
        clock.clone(),
        Box::new(NoScreenshots),
        Box::new(NoActivity),
        crate::builtin::local_server(),
    )?;
    for warning in &engine.warnings {
        errln!("warning: {warning}");
    }
    let before = engine.wait_connected(Duration::from_secs(30));
    let pending_before = before.cache.pending_segments;
    let snapshot = engine.flush(Duration::from_secs(600));
    let now = clock.now();
    let zone = engine.zone;
    engine.shutdown();
    let uploaded = snapshot.sync.uploaded_segments;
    if snapshot.sync.reports_waiting > 0 {
        outln!(
            "{} still waiting to be sent.",
            count(
                snapshot.sync.reports_waiting as u64,
                "problem report",
                "problem reports"
            )
        );
    }
    let refused_now = snapshot
        .cache
        .refused
        .len()
        .saturating_sub(before.cache.refused.len());
    outln!(
        "{} sent, {} of them refused; {} waiting.",
        count(uploaded, "segment", "segments"),
        refused_now,
        match pending_before.max(uploaded as usize) {
            1 => "1 was".to_owned(),
            n => format!("{n} were"),
        }
    );
    for refused in &snapshot.cache.refused {
        outln!(
            "not uploaded: {} {} ({}) — {}",
            refused.contract_id,
            local_time(refused.start, zone),
            refused.reason,
            refused.message
        );
    }
    if snapshot.cache.pending_segments == 0 {
        let refused = &snapshot.cache.refused;
        if refused.is_empty() {
            outln!("The cache is empty: everything tracked is on the server.");
        } else {
            let secs: i64 = refused
                .iter()
                .map(|r| (r.end - r.start).num_seconds())
                .sum();
            outln!(
                "Nothing is waiting to upload; {} in {} refused by the server and {} in the cache (timecard cache list; timecard cache export DIR).",
                hms(secs),
                match refused.len() {
                    1 => "1 segment was".to_owned(),
                    n => format!("{n} segments were"),
                },
                if refused.len() == 1 { "stays" } else { "stay" }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} in {} still cached: {}",
        hms(snapshot.cache.pending_secs),
        count(
            snapshot.cache.pending_segments as u64,
            "segment",
            "segments"
        ),
        snapshot.sync_summary(now, zone)
    );
    Ok(ExitCode::FAILURE)
}

pub fn diary(
    data: &DataDir,
    settings: &Settings,
    date: Option<NaiveDate>,
    tz: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let zone: chrono_tz::Tz = match &tz {
        Some(name) => name.parse().map_err(|_| {
            anyhow::anyhow!(
                "unknown time zone {name:?}; use an IANA name such as Europe/Berlin or UTC"
            )
        })?,
        None => settings.zone(),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let connection = connect::connect(
        data,
        settings,
        clock.clone(),
        crate::builtin::local_server(),
    )?;
    let day = LocalDay::new(
        date.unwrap_or_else(|| LocalDay::containing(clock.now(), zone).date),
        zone,
    );
    let diary = connection.client.diary(Some(day.date), zone.name())?;
    let (cache, _) = Cache::open(&data.cache_dir(), settings.capacity_secs())?;
    let cached: Vec<_> = cache
        .pending()
        .filter(|e| e.start < day.end() && e.end > day.start())
        .collect();
    // B1: the server's segments, added up as every face does; the cache's
    // time on a line of its own, never mixed in.
    let (from, to) = (day.start(), day.end());
    let billed = Totals::per_contract(&diary.segments, from, to);
    let total = Totals::of(&diary.segments, from, to);
    let mut unsent: Vec<(String, i64)> = Vec::new();
    for e in &cached {
        let secs = billing::secs_within(e.start, e.end, from, to);
        match unsent.iter_mut().find(|(id, _)| *id == e.contract_id) {
            Some((_, total)) => *total += secs,
            None => unsent.push((e.contract_id.clone(), secs)),
        }
    }
    let unsent_secs: i64 = unsent.iter().map(|(_, secs)| secs).sum();
    if json {
        #[derive(Serialize)]
        struct Cached<'a> {
            id: String,
            contract_id: &'a str,
            start: chrono::DateTime<chrono::Utc>,
            end: chrono::DateTime<chrono::Utc>,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            diary: &'a timecard_core::protocol::DiaryResponse,
            /// B1 as computed here from the server's segments.
            billable_secs: i64,
            cached: Vec<Cached<'a>>,
            /// Seconds of the day in the cache, not on the server yet.
            not_uploaded_secs: i64,
        }
        let out = Out {
            diary: &diary,
            billable_secs: total.billable_secs,
            cached: cached
                .iter()
                .map(|e| Cached {
                    id: e.id.to_string(),
                    contract_id: &e.contract_id,
                    start: e.start,
                    end: e.end,
                })
                .collect(),
            not_uploaded_secs: unsent_secs,
        };
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    // Titles for people; the list from the server, else the saved one.
    let titles: std::collections::HashMap<String, String> = connection
        .client
        .contracts(zone.name())
        .ok()
        .or_else(|| sync::load_saved(&data.contracts_file()))
        .map(|r| {
            r.contracts
                .into_iter()
                .map(|c| (c.contract.id, c.contract.title))
                .collect()
        })
        .unwrap_or_default();
    let title = |id: &str| printable(titles.get(id).map_or(id, String::as_str), false);
    outln!(
        "Work Diary for {} ({}, {} hours){}",
        day.date.format("%A %-d %B %Y"),
        zone.name(),
        diary.hours,
        if diary.locked { " — locked" } else { "" }
    );
    for s in &diary.segments {
        let mark = match s.review {
            ReviewMark::None => String::new(),
            mark => format!(" [{}]", mark.as_str()),
        };
        outln!(
            "  {}–{}  {:<24} {}{}{}{}",
            s.start.with_timezone(&zone).format("%H:%M"),
            s.end.with_timezone(&zone).format("%H:%M"),
            title(&s.contract_id),
            if s.manual {
                "manual        ".to_owned()
            } else {
                format!("activity {:>2}/10 ", s.activity.level())
            },
            if s.has_screenshot { "📷 " } else { "" },
            printable(&s.memo, false),
            mark
        );
    }
    for e in &cached {
        outln!(
            "  {}–{}  {:<24} cached, not uploaded yet",
            e.start.with_timezone(&zone).format("%H:%M"),
            e.end.with_timezone(&zone).format("%H:%M"),
            title(&e.contract_id)
        );
    }
    if diary.segments.is_empty() && cached.is_empty() {
        outln!("  nothing logged");
    }
    for (contract_id, t) in &billed {
        let mut notes = Vec::new();
        if t.manual_secs > 0 {
            notes.push(format!("{} manual", hms(t.manual_secs)));
        }
        if t.disputed_secs > 0 {
            notes.push(format!("{} disputed", hms(t.disputed_secs)));
        }
        if t.rejected_secs > 0 {
            notes.push(format!("{} rejected, not billed", hms(t.rejected_secs)));
        }
        outln!(
            "  total {:<24} {}{}",
            title(contract_id),
            hms(t.billable_secs),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        );
    }
    if billed.len() > 1 {
        outln!(
            "  total {:<24} {}",
            "(all contracts)",
            hms(total.billable_secs)
        );
    }
    for (contract_id, secs) in &unsent {
        outln!(
            "  not uploaded yet {:<13} {}",
            title(contract_id),
            hms(*secs)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `status` says about the connection, without uploading anything.
pub fn probe(data: &DataDir, settings: &Settings) -> (&'static str, Option<String>, String) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let connection = match connect::connect(data, settings, clock, crate::builtin::local_server()) {
        Ok(c) => c,
        Err(e) => {
            return (
                "caching",
                Some(format!("{e:#}")),
                settings.server.clone().unwrap_or_default(),
            );
        }
    };
    let server = connection.client.name().to_owned();
    match connection.client.contracts(settings.zone().name()) {
        Ok(_) => ("online", None, server),
        Err(e @ (SyncError::SignedOut | SyncError::SessionExpired)) => {
            ("signed_out", Some(e.to_string()), server)
        }
        Err(e) => ("caching", Some(e.to_string()), server),
    }
}
