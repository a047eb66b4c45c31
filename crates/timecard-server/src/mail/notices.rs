//! M5: which events make a mail, found by looking at what is stored
//! rather than told by the request that stored it: a dispute opened (to
//! the contract's freelancer), a dispute answered (to its client), a week
//! whose review window opened (to the client, once per contract and week)
//! and last week's summary (to each client who did not turn it off). Each
//! is queued under a key naming its event, so looking again — after a
//! crash, or on another replica — queues nothing twice; an event stored
//! just before a crash still gets its mail.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::MailState;
use super::compose::{self, SummaryLine, Text};
use crate::rules::{self, ReviewAction, ReviewEvent, StoredContract, WeekReview};
use crate::store::{NewMail, Recipient, Result, Role, Store, User};
use crate::views::{ReviewView, SpanView};
use timecard_core::domain::BillingWeek;

/// Disputes and answers older than this make no mail (a server that just
/// got `--smtp` does not mail its whole history).
const EVENT_FRESH_HOURS: i64 = 24;

/// A mail an event calls for, before it is written.
enum Notice<'a> {
    Disputed(&'a StoredContract, &'a ReviewEvent),
    Answered(&'a StoredContract, &'a ReviewEvent),
    WeekReady(&'a StoredContract, i64),
    Summary(i64, Vec<&'a StoredContract>),
}

/// Queues the notices due at `now` that were not queued before; returns
/// how many it queued.
pub fn queue_notices(
    store: &dyn Store,
    mail: &MailState,
    now: DateTime<Utc>,
    review_secs: i64,
) -> Result<usize> {
    let contracts: Vec<StoredContract> = store
        .contracts(None)?
        .into_iter()
        .filter(|c| c.terms.client_user_id.is_some())
        .collect();
    if contracts.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = contracts.iter().map(|c| c.contract.id.clone()).collect();
    let by_id: HashMap<&str, &StoredContract> = contracts
        .iter()
        .map(|c| (c.contract.id.as_str(), c))
        .collect();
    let last_week =
        BillingWeek::containing(BillingWeek::containing(now).start() - Duration::days(1));
    // Every week whose review may still be going on.
    let since = last_week.start() - Duration::seconds(review_secs);
    let events = store.reviews_of(&ids, Some(since))?;
    let logged = store.logged_by_contract(&ids, last_week.start(), last_week.end())?;
    let fresh = now - Duration::hours(EVENT_FRESH_HOURS);

    let mut wanted: Vec<(String, Notice)> = Vec::new();
    for (contract_id, event) in &events {
        let Some(contract) = by_id.get(contract_id.as_str()) else {
            continue;
        };
        let (Some(segment), true) = (event.segment_id, event.at >= fresh) else {
            continue;
        };
        let at = event.at.timestamp();
        match event.action {
            ReviewAction::Dispute => wanted.push((
                format!("dispute:{contract_id}:{segment}:{at}"),
                Notice::Disputed(contract, event),
            )),
            ReviewAction::Answer => wanted.push((
                format!("answer:{contract_id}:{segment}:{at}"),
                Notice::Answered(contract, event),
            )),
            _ => {}
        }
    }
    for contract in &contracts {
        let id = &contract.contract.id;
        let week_events: Vec<ReviewEvent> = events
            .iter()
            .filter(|(c, _)| c == id)
            .map(|(_, e)| e.clone())
            .collect();
        let in_review = matches!(
            rules::week_review(last_week, now, review_secs, &week_events),
            WeekReview::InReview { .. }
        );
        let secs = logged.get(id).copied().unwrap_or(0);
        if in_review && secs > 0 {
            wanted.push((
                format!("week-ready:{id}:{}", last_week.start().date_naive()),
                Notice::WeekReady(contract, secs),
            ));
        }
    }
    let mut by_client: HashMap<i64, Vec<&StoredContract>> = HashMap::new();
    for contract in &contracts {
        if let Some(client) = contract.terms.client_user_id
            && logged.get(&contract.contract.id).copied().unwrap_or(0) > 0
        {
            by_client.entry(client).or_default().push(contract);
        }
    }
    for (client, list) in by_client {
        wanted.push((
            format!("summary:{client}:{}", last_week.start().date_naive()),
            Notice::Summary(client, list),
        ));
    }

    let keys: Vec<String> = wanted.iter().map(|(k, _)| k.clone()).collect();
    let queued: HashSet<String> = store.mails_queued(&keys)?;
    let wanted: Vec<(String, Notice)> = wanted
        .into_iter()
        .filter(|(k, _)| !queued.contains(k))
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let people: HashSet<i64> = contracts
        .iter()
        .flat_map(|c| [Some(c.user_id), c.terms.client_user_id])
        .flatten()
        .collect();
    let people = store.recipients(&people.into_iter().collect::<Vec<_>>())?;
    let mut count = 0;
    for (key, notice) in wanted {
        let Some((to, text)) = write(store, mail, &people, notice, now, review_secs, last_week)?
        else {
            continue;
        };
        let new = NewMail {
            dedupe_key: key,
            to,
            subject: text.subject,
            body: text.body,
        };
        if mail.queue(store, &new, now)? {
            count += 1;
        }
    }
    Ok(count)
}

/// The address of someone who wants mail, if they have one.
fn address(people: &HashMap<i64, Recipient>, id: i64) -> Option<&Recipient> {
    people.get(&id).filter(|p| !p.disabled && p.email.is_some())
}

/// The mail of one notice: its address and text; `None` when its person
/// has no address, is disabled, or turned the summary off.
fn write(
    store: &dyn Store,
    mail: &MailState,
    people: &HashMap<i64, Recipient>,
    notice: Notice,
    now: DateTime<Utc>,
    review_secs: i64,
    last_week: BillingWeek,
) -> Result<Option<(String, Text)>> {
    let segment_start = |contract: &StoredContract, event: &ReviewEvent| -> Result<DateTime<Utc>> {
        let ids: Vec<_> = event.segment_id.into_iter().collect();
        Ok(store
            .segments_by_ids(contract.user_id, &ids)?
            .first()
            .map_or(event.week_start, |s| s.start))
    };
    let to = |id: Option<i64>| id.and_then(|id| address(people, id));
    Ok(match notice {
        Notice::Disputed(contract, event) => {
            let Some(who) = to(Some(contract.user_id)) else {
                return Ok(None);
            };
            let start = segment_start(contract, event)?;
            let link = mail.link(&diary_path(&contract.contract.id, start));
            let text = compose::dispute_opened(&contract.contract.title, start, &event.note, &link);
            who.email.clone().map(|e| (e, text))
        }
        Notice::Answered(contract, event) => {
            let Some(who) = to(contract.terms.client_user_id) else {
                return Ok(None);
            };
            let start = segment_start(contract, event)?;
            let link = mail.link(&diary_path(&contract.contract.id, start));
            let text =
                compose::dispute_answered(&contract.contract.title, start, &event.note, &link);
            who.email.clone().map(|e| (e, text))
        }
        Notice::WeekReady(contract, secs) => {
            let Some(who) = to(contract.terms.client_user_id) else {
                return Ok(None);
            };
            let link = mail.link(&timesheet_path(&contract.contract.id, last_week));
            let until = last_week.end() + Duration::seconds(review_secs);
            let text = compose::week_ready(&contract.contract.title, last_week, secs, until, &link);
            who.email.clone().map(|e| (e, text))
        }
        Notice::Summary(client, list) => {
            let Some(who) = to(Some(client)).filter(|p| p.weekly_summary) else {
                return Ok(None);
            };
            // The client as the views see them: what they are to each contract.
            let viewer = User {
                id: client,
                login: who.login.clone(),
                email: who.email.clone(),
                password_hash: String::new(),
                disabled: false,
                role: Role::Client,
            };
            let mut lines = Vec::new();
            for contract in list {
                let review = ReviewView::load(store, contract, &viewer, now, review_secs)?;
                let span =
                    SpanView::load(store, contract, &review, last_week.start(), last_week.end())?;
                lines.push(SummaryLine {
                    title: contract.contract.title.clone(),
                    billable_secs: span.total.billable_secs,
                    amount: contract
                        .terms
                        .rate
                        .as_ref()
                        .zip(span.amount_cents)
                        .map(|(rate, cents)| money(cents, &rate.currency)),
                    link: mail.link(&timesheet_path(&contract.contract.id, last_week)),
                });
            }
            lines.sort_by(|a, b| a.title.cmp(&b.title));
            let text = compose::weekly_summary(last_week, &lines, &mail.link(super::SETTINGS_PATH));
            who.email.clone().map(|e| (e, text))
        }
    })
}

/// The Work Diary's page of the day of `at` (R3: a link anyone else gets
/// a 404 from).
fn diary_path(contract_id: &str, at: DateTime<Utc>) -> String {
    format!(
        "/contracts/{}/diary?date={}&tz=UTC",
        urlencode(contract_id),
        at.date_naive()
    )
}

/// The timesheet of `week`.
fn timesheet_path(contract_id: &str, week: BillingWeek) -> String {
    format!(
        "/contracts/{}/timesheet?week={}",
        urlencode(contract_id),
        week.start().date_naive()
    )
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An amount in cents as the pages write it, `1234.50 USD`.
fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", cents / 100, cents % 100)
}
