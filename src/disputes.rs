//! Disputes reach the freelancer (R14): what to notify about a client's
//! dispute or decision, once ([`DisputesTold`], kept in the data folder so
//! a restart tells nothing again), the day's web page a dispute is answered
//! on ([`day_url`]), and opening it in the system browser
//! ([`open_in_browser`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::notify::Alert;
use timecard_client::worker::{ContractView, Snapshot};
use timecard_core::domain::SegmentId;
use timecard_core::protocol::DisputeInfo;

/// How long a told dispute is remembered after its segment's start: the
/// server lists those of the last eight billing weeks (R9), so one older
/// than this never comes back.
const REMEMBERED_FOR: Duration = Duration::weeks(10);

/// One dispute's stage as last told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Told {
    segment_id: SegmentId,
    state: String,
    start: DateTime<Utc>,
}

/// What the user was already told about disputes, and where that is kept.
#[derive(Debug, Default)]
pub struct DisputesTold {
    told: HashMap<SegmentId, Told>,
    /// Whether `told` holds a list the user saw: without one (a first run,
    /// an unreadable file) the first list from the server is taken as known,
    /// so old disputes are not announced all at once.
    known: bool,
    file: Option<PathBuf>,
}

impl DisputesTold {
    /// Nothing told yet, remembered only while running.
    pub fn in_memory() -> DisputesTold {
        DisputesTold::default()
    }

    /// What `file` says was told (an absent or unreadable file: nothing,
    /// and the first list is taken as known).
    pub fn load(file: PathBuf) -> DisputesTold {
        // The safe reader: a named pipe or a link in its place is refused,
        // never waited on.
        let kept: Option<Vec<Told>> = timecard_core::fs::read::read_regular(&file, 4 << 20)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        DisputesTold {
            known: kept.is_some(),
            told: kept
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.segment_id, t))
                .collect(),
            file: Some(file),
        }
    }

    /// What `next` brings that was not told: a new dispute, or a decision
    /// on one. Only a list from the server counts (not the one kept from
    /// the last session). Returns the alerts and whether what is told
    /// changed (to [`DisputesTold::save`]).
    pub fn alerts(&mut self, next: &Snapshot, now: DateTime<Utc>, zone: Tz) -> (Vec<Alert>, bool) {
        if next.sync.contracts_refreshed_at.is_none() {
            return (Vec::new(), false);
        }
        let mut out = Vec::new();
        let mut changed = false;
        for c in &next.contracts {
            let mut fresh: Vec<&DisputeInfo> = Vec::new();
            for d in &c.disputes {
                let before = self.told.get(&d.segment_id);
                if before.is_some_and(|t| t.state == d.state) {
                    continue;
                }
                if self.known {
                    fresh.push(d);
                }
                self.told.insert(
                    d.segment_id,
                    Told {
                        segment_id: d.segment_id,
                        state: d.state.clone(),
                        start: d.start,
                    },
                );
                changed = true;
            }
            out.extend(alerts_for(c, &fresh, zone));
        }
        if !self.known {
            self.known = true;
            changed = true;
        }
        let oldest = now - REMEMBERED_FOR;
        let before = self.told.len();
        self.told.retain(|_, t| t.start >= oldest);
        changed |= self.told.len() != before;
        (out, changed)
    }

    /// Keeps what was told in the data folder (when there is one).
    pub fn save(&self) {
        let Some(file) = &self.file else { return };
        let mut list: Vec<&Told> = self.told.values().collect();
        list.sort_by_key(|t| (t.start, t.segment_id));
        let saved = serde_json::to_vec_pretty(&list)
            .map_err(std::io::Error::other)
            .and_then(|json| write(file, &json));
        if let Err(e) = saved {
            log::warn!(
                "could not keep which disputes were told ({e}); they may be told again after a restart"
            );
        }
    }
}

fn write(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    timecard_core::fs::durable::write_file(dir, &name, bytes)
}

/// Who the contract's client is, for a sentence's start.
fn client_name(c: &ContractView) -> &str {
    match c.contract.client.trim() {
        "" => "Your client",
        name => name,
    }
}

/// "14:00–14:10 on Tue 1 Dec", in `zone`.
pub fn when(d: &DisputeInfo, zone: Tz) -> String {
    let (start, end) = (d.start.with_timezone(&zone), d.end.with_timezone(&zone));
    format!(
        "{}–{} on {}",
        start.format("%H:%M"),
        end.format("%H:%M"),
        start.format("%a %-d %b")
    )
}

/// What happened to a dispute, as one sentence: "Acme disputed 14:00–14:10
/// on Tue 1 Dec: “reason”", "Acme kept …", "Acme rejected …".
pub fn headline(c: &ContractView, d: &DisputeInfo, zone: Tz) -> String {
    let who = client_name(c);
    match d.state.as_str() {
        "open" => format!("{who} disputed {}: “{}”", when(d, zone), d.reason.trim()),
        "rejected" => format!(
            "{who} rejected {} after a dispute: this time is not billed",
            when(d, zone)
        ),
        _ => format!(
            "{who} kept {} after a dispute: this time is billed",
            when(d, zone)
        ),
    }
}

/// One alert for a contract's new disputes and decisions: each in words
/// when there are one or two, else counted.
fn alerts_for(c: &ContractView, fresh: &[&DisputeInfo], zone: Tz) -> Vec<Alert> {
    let title = &c.contract.title;
    let summary = |one: &DisputeInfo| match one.state.as_str() {
        "open" => format!("Time disputed on {title}"),
        _ => format!("Dispute decided on {title}"),
    };
    match fresh {
        [] => Vec::new(),
        [one] => vec![Alert::new(&summary(one), headline(c, one, zone))],
        [one, two] => vec![Alert::new(
            &summary(one),
            format!("{}\n{}", headline(c, one, zone), headline(c, two, zone)),
        )],
        many => {
            let disputed = many.iter().filter(|d| d.state == "open").count();
            let decided = many.len() - disputed;
            let mut parts = Vec::new();
            if disputed > 0 {
                parts.push(format!("disputed {}", segments(disputed)));
            }
            if decided > 0 {
                parts.push(format!("decided on {}", segments(decided)));
            }
            vec![Alert::new(
                &format!("Disputes on {title}"),
                format!(
                    "{} {}. Open Timecard's Contracts screen to see them.",
                    client_name(c),
                    parts.join(" and ")
                ),
            )]
        }
    }
}

/// "1 segment", "3 segments".
fn segments(n: usize) -> String {
    match n {
        1 => "1 segment".to_owned(),
        n => format!("{n} segments"),
    }
}

/// The web page of the day a dispute is on, at its segment (R13):
/// `SERVER/contracts/ID/diary?date=YYYY-MM-DD&tz=ZONE#segment-SEG`.
pub fn day_url(server: &str, contract_id: &str, d: &DisputeInfo, zone: Tz) -> String {
    format!(
        "{}/contracts/{}/diary?date={}&tz={}#segment-{}",
        server.trim_end_matches('/'),
        urlencode(contract_id),
        d.start.with_timezone(&zone).date_naive(),
        urlencode(zone.name()),
        d.segment_id
    )
}

/// Percent-encodes all but the unreserved characters.
fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The commands that open `url` in the system browser, in the order tried:
/// each of `$BROWSER`'s (separated by `:`, `;` on Windows; `%s` stands for
/// the address, else it goes last), then the system's opener.
pub fn browser_commands(url: &str, browser_env: Option<&str>) -> Vec<Vec<String>> {
    let separator = if cfg!(windows) { ';' } else { ':' };
    let mut out: Vec<Vec<String>> = browser_env
        .unwrap_or_default()
        .split(separator)
        .filter_map(|entry| {
            let words: Vec<&str> = entry.split_whitespace().collect();
            if words.is_empty() {
                return None;
            }
            let mut command: Vec<String> = words.iter().map(|w| w.replace("%s", url)).collect();
            if !entry.contains("%s") {
                command.push(url.to_owned());
            }
            Some(command)
        })
        .collect();
    let system: &[&str] = if cfg!(windows) {
        &["rundll32", "url.dll,FileProtocolHandler"]
    } else if cfg!(target_os = "macos") {
        &["open"]
    } else {
        &["xdg-open"]
    };
    let mut opener: Vec<String> = system.iter().map(|s| (*s).to_owned()).collect();
    opener.push(url.to_owned());
    out.push(opener);
    out
}

/// Opens `url` in the system browser: the first command of
/// [`browser_commands`] that starts. Its end is awaited on a thread of its
/// own (a browser may run until closed); an exit with an error is logged.
pub fn open_in_browser(url: &str) -> Result<(), String> {
    let env = std::env::var("BROWSER").ok();
    let mut tried = Vec::new();
    for command in browser_commands(url, env.as_deref()) {
        let started = std::process::Command::new(&command[0])
            .args(&command[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match started {
            Ok(mut child) => {
                log::info!("opening {url} with {}", command[0]);
                let name = command[0].clone();
                let _ = std::thread::Builder::new()
                    .name("timecard-browser".into())
                    .spawn(move || match child.wait() {
                        Ok(status) if !status.success() => {
                            log::warn!("{name} ended with {status} opening the browser")
                        }
                        _ => {}
                    });
                return Ok(());
            }
            Err(e) => tried.push(format!("{} ({e})", command[0])),
        }
    }
    Err(format!(
        "No browser could be opened: tried {}. The page is {url}",
        tried.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use timecard_client::sync::SyncStatus;
    use timecard_core::domain::{Contract, ContractKind, ContractStatus};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn dispute(id: SegmentId, state: &str) -> DisputeInfo {
        DisputeInfo {
            segment_id: id,
            start: at("2026-12-01T14:00:00Z"),
            end: at("2026-12-01T14:10:00Z"),
            reason: "Not this project".into(),
            answer: None,
            state: state.into(),
        }
    }

    fn listed(disputes: Vec<DisputeInfo>) -> Snapshot {
        let contract = Contract {
            id: "c 1".into(),
            title: "Backend".into(),
            client: "Acme".into(),
            kind: ContractKind::Hourly,
            status: ContractStatus::Active,
            start_date: "2026-01-01".parse().unwrap(),
            weekly_limit_secs: None,
            pending_limit: None,
        };
        Snapshot {
            contracts: vec![ContractView::new(
                &contract,
                at(NOW),
                Default::default(),
                &Tz::UTC,
                0,
                disputes,
            )],
            sync: SyncStatus {
                contracts_refreshed_at: Some(at("2026-12-07T09:00:00Z")),
                ..SyncStatus::default()
            },
            ..Snapshot::default()
        }
    }

    const NOW: &str = "2026-12-07T09:00:00Z";

    // R14: a new dispute is told once, a decision once more; a list not
    // from the server this session tells nothing.
    #[test]
    fn a_dispute_and_its_decision_are_each_told_once() {
        let id = SegmentId::random();
        let mut told = DisputesTold::in_memory();
        told.known = true;
        let mut offline = listed(vec![dispute(id, "open")]);
        offline.sync.contracts_refreshed_at = None;
        assert_eq!(told.alerts(&offline, at(NOW), Tz::UTC), (vec![], false));

        let open = listed(vec![dispute(id, "open")]);
        let (got, changed) = told.alerts(&open, at(NOW), Tz::UTC);
        assert!(changed);
        assert_eq!(
            got,
            [Alert::new(
                "Time disputed on Backend",
                "Acme disputed 14:00–14:10 on Tue 1 Dec: “Not this project”"
            )]
        );
        assert_eq!(told.alerts(&open, at(NOW), Tz::UTC), (vec![], false));
        // In Berlin the same dispute reads in Berlin's hours.
        assert!(
            headline(
                &open.contracts[0],
                &open.contracts[0].disputes[0],
                Tz::Europe__Berlin
            )
            .contains("15:00–15:10 on Tue 1 Dec")
        );

        // The freelancer's own answer is not news; the client's decision is.
        let mut answered = dispute(id, "open");
        answered.answer = Some("It was".into());
        assert!(
            told.alerts(&listed(vec![answered]), at(NOW), Tz::UTC)
                .0
                .is_empty()
        );
        let (got, _) = told.alerts(&listed(vec![dispute(id, "rejected")]), at(NOW), Tz::UTC);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].summary, "Dispute decided on Backend");
        assert_eq!(
            got[0].body,
            "Acme rejected 14:00–14:10 on Tue 1 Dec after a dispute: this time is not billed"
        );
    }

    // R14: with nothing kept (a first run), the first list is what the user
    // knows; what was told survives a restart through the file.
    #[test]
    fn told_disputes_are_not_told_again_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("disputes-told.json");
        let (old, new) = (SegmentId::random(), SegmentId::random());
        let mut told = DisputesTold::load(file.clone());
        let first = listed(vec![dispute(old, "open")]);
        let (got, changed) = told.alerts(&first, at(NOW), Tz::UTC);
        assert!(got.is_empty(), "old disputes are not announced: {got:?}");
        assert!(changed);
        told.save();

        let mut told = DisputesTold::load(file.clone());
        let both = listed(vec![dispute(old, "open"), dispute(new, "open")]);
        let (got, _) = told.alerts(&both, at(NOW), Tz::UTC);
        assert_eq!(got.len(), 1);
        told.save();

        let mut told = DisputesTold::load(file.clone());
        assert!(told.alerts(&both, at(NOW), Tz::UTC).0.is_empty());
        // Ten weeks on, the segments are forgotten.
        let (_, changed) = told.alerts(&listed(vec![]), at("2027-02-20T00:00:00Z"), Tz::UTC);
        assert!(changed);
        assert!(told.told.is_empty());
    }

    // A named pipe in place of the file is refused, never waited on: the
    // window would hang at start otherwise.
    #[cfg(unix)]
    #[test]
    fn a_named_pipe_in_place_of_the_file_hangs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("disputes-told.json");
        let c = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let told = DisputesTold::load(file);
        assert!(!told.known && told.told.is_empty());
    }

    #[test]
    fn many_at_once_are_counted_in_one_alert() {
        let mut told = DisputesTold::in_memory();
        told.known = true;
        let list = listed(vec![
            dispute(SegmentId::random(), "open"),
            dispute(SegmentId::random(), "open"),
            dispute(SegmentId::random(), "kept"),
        ]);
        let (got, _) = told.alerts(&list, at(NOW), Tz::UTC);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].body,
            "Acme disputed 2 segments and decided on 1 segment. Open Timecard's Contracts screen to see them."
        );
    }

    #[cfg(not(windows))]
    #[test]
    fn the_day_url_and_the_browser_commands() {
        let id = SegmentId::random();
        let d = dispute(id, "open");
        assert_eq!(
            day_url("https://tc.example:8443/", "c 1", &d, Tz::Asia__Kolkata),
            format!(
                "https://tc.example:8443/contracts/c%201/diary?date=2026-12-01&tz=Asia%2FKolkata#segment-{id}"
            )
        );
        let url = "https://x/contracts/a";
        let commands = browser_commands(url, Some("/opt/rec %s --new:firefox"));
        assert_eq!(commands[0], ["/opt/rec", url, "--new"]);
        assert_eq!(commands[1], ["firefox", url]);
        assert_eq!(commands.len(), 3, "then the system's opener");
        assert_eq!(browser_commands(url, None).len(), 1);
        assert_eq!(browser_commands(url, Some("")).len(), 1);
    }
}
