//! I2: the task that delivers queued events. It claims due deliveries
//! (each held while it is tried), POSTs each signed body with its own
//! timeout, a few at a time, and records the answer: delivered on 2xx,
//! otherwise due again after a wait that doubles up to an hour (as mail's,
//! [`retry_after`]). A webhook
//! whose deliveries failed [`DISABLE_AFTER`] times in a row is turned off
//! and the admins are told by mail; turned on again, it gets what waited.
//! Every [`AUTO_APPROVAL_EVERY`] it also queues the weeks approved
//! automatically, which no request makes.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::events::{Event, queue_quietly};
use super::{EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, WebhookState, signature};
use crate::mail::{MailState, retry_after};
use crate::rules::{self, WeekReview};
use crate::store::{self, Attempt, Delivery, NewMail, Role, Store};
use timecard_core::clock::Clock;
use timecard_core::domain::BillingWeek;

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// How long a claim holds a delivery: longer than an attempt can take.
pub const CLAIM: Duration = Duration::from_secs(60);
/// Deliveries in flight at once (a slow receiver holds one each).
pub const IN_FLIGHT: usize = 4;
/// Failures in a row that turn a webhook off (about two days of trying).
pub const DISABLE_AFTER: u32 = 60;
/// How often the task looks without being woken (a queued event wakes it;
/// a retry may wait this much longer than its backoff).
pub const TICK: Duration = Duration::from_secs(15);
/// How often it looks for weeks approved automatically.
pub const AUTO_APPROVAL_EVERY: Duration = Duration::from_secs(60);
/// Delivered events are kept this long for the delivery log.
pub const KEEP_DELIVERED_DAYS: i64 = 30;
/// The most of a receiver's answer kept for the log.
const RESPONSE_BYTES: usize = 500;

/// What the delivery task needs.
pub struct DeliveryTask {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub state: WebhookState,
    pub mail: MailState,
    pub review_secs: i64,
}

/// Delivers until the server stops.
pub async fn run_deliveries(task: DeliveryTask) {
    let task = Arc::new(task);
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Timecard-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            log::error!("webhooks: no HTTP client, nothing will be delivered: {e}");
            return;
        }
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut last_auto: Option<std::time::Instant> = None;
    loop {
        if last_auto.is_none_or(|t| t.elapsed() >= AUTO_APPROVAL_EVERY) {
            last_auto = Some(std::time::Instant::now());
            let (now, review_secs) = (task.clock.now(), task.review_secs);
            let done = store::blocking(&task.store, move |s| {
                queue_auto_approvals(s, now, review_secs)?;
                s.prune_deliveries(now - chrono::Duration::days(KEEP_DELIVERED_DAYS))
            })
            .await;
            if let Err(e) = done {
                log::warn!("webhooks: automatic approvals not looked at this time: {e}");
            }
        }
        let free = slots.available_permits();
        let claimed = if free == 0 {
            Vec::new()
        } else {
            let now = task.clock.now();
            let until = now + chrono::Duration::from_std(CLAIM).unwrap_or_default();
            match store::blocking(&task.store, move |s| s.claim_deliveries(now, until, free)).await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    log::warn!("webhooks: cannot read the outbox: {e}");
                    Vec::new()
                }
            }
        };
        let any = !claimed.is_empty();
        for delivery in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (task, client) = (task.clone(), client.clone());
            tokio::spawn(async move {
                deliver(&task, &client, delivery).await;
                drop(permit);
            });
        }
        if !any {
            tokio::select! {
                _ = task.state.wake.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        } else {
            // The next claim waits for a free slot rather than spinning.
            let _ = slots.acquire().await;
        }
    }
}

/// One attempt of `delivery`, and its outcome recorded.
async fn deliver(task: &DeliveryTask, client: &reqwest::Client, delivery: Delivery) {
    let sent_at = Utc::now();
    let answer = client
        .post(&delivery.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            SIGNATURE_HEADER,
            signature(&delivery.secret, sent_at, &delivery.body),
        )
        .header(EVENT_ID_HEADER, &delivery.event_id)
        .header(EVENT_HEADER, &delivery.kind)
        .header("Idempotency-Key", &delivery.event_id)
        .body(delivery.body.clone())
        .send()
        .await;
    let (delivered, status, response) = match answer {
        Ok(response) => {
            let status = response.status();
            let text = read_some(response).await;
            (status.is_success(), Some(status.as_u16()), text)
        }
        Err(e) => (false, None, error_words(&e)),
    };
    let now = task.clock.now();
    let wait = chrono::Duration::from_std(retry_after(delivery.attempts)).unwrap_or_default();
    let attempt = Attempt {
        delivery_id: delivery.id,
        webhook_id: delivery.webhook_id,
        at: now,
        delivered,
        status,
        response,
        retry_at: now + wait,
        disable_after: DISABLE_AFTER,
    };
    if delivered {
        log::info!(
            "webhooks: {} {} delivered to webhook {}",
            delivery.kind,
            delivery.event_id,
            delivery.webhook_id
        );
    } else {
        log::warn!(
            "webhooks: {} {} to webhook {} failed (attempt {}; {}), again in {} s",
            delivery.kind,
            delivery.event_id,
            delivery.webhook_id,
            delivery.attempts,
            status.map_or_else(|| attempt.response.clone(), |s| format!("HTTP {s}")),
            wait.num_seconds()
        );
    }
    let (mail, url) = (task.mail.clone(), delivery.url.clone());
    let recorded = store::blocking(&task.store, move |s| {
        let disabled = s.record_attempt(&attempt)?;
        if disabled {
            tell_admins(s, &mail, attempt.webhook_id, &url, now)?;
        }
        Ok(disabled)
    })
    .await;
    match recorded {
        Ok(true) => log::error!(
            "webhooks: webhook {} ({}) turned off after {DISABLE_AFTER} failed deliveries in a row",
            delivery.webhook_id,
            delivery.url
        ),
        Ok(false) => {}
        Err(e) => log::error!(
            "webhooks: the outcome of delivery {} was not recorded: {e}",
            delivery.id
        ),
    }
}

/// The start of a receiver's answer, for the log.
async fn read_some(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(RESPONSE_BYTES);
    // One line, for the delivery log.
    String::from_utf8_lossy(&bytes)
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn error_words(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            text = format!("{text}: {inner}");
            source = inner.source();
        }
        text
    }
}

/// Mails the admins (who have an address) that a webhook was turned off.
fn tell_admins(
    store: &dyn Store,
    mail: &MailState,
    webhook_id: i64,
    url: &str,
    now: chrono::DateTime<Utc>,
) -> store::Result<()> {
    for admin in store.users(now)?.iter().filter(|u| u.role == Role::Admin) {
        let Some(to) = &admin.email else { continue };
        mail.queue(
            store,
            &NewMail {
                dedupe_key: format!("webhook-off:{webhook_id}:{}:{}", admin.login, now.timestamp()),
                to: to.clone(),
                subject: "Timecard: a webhook was turned off".into(),
                body: format!(
                    "The webhook to {url} failed {DISABLE_AFTER} times in a row, so Timecard turned it off.\n\
                     Its events wait; turn it on again once the receiver works:\n{}\n",
                    mail.link(super::WEBHOOKS_PATH)
                ),
            },
            now,
        )?;
    }
    Ok(())
}

/// Queues `week.auto_approved` for last week of every contract with a
/// client whose review window closed without an approval.
fn queue_auto_approvals(
    store: &dyn Store,
    now: chrono::DateTime<Utc>,
    review_secs: i64,
) -> store::Result<()> {
    if !store
        .webhooks(None)?
        .iter()
        .any(|w| w.wants(super::EventKind::WeekAutoApproved.as_str()))
    {
        return Ok(());
    }
    let contracts: Vec<_> = store
        .contracts(None)?
        .into_iter()
        .filter(|c| c.terms.client_user_id.is_some())
        .collect();
    let ids: Vec<String> = contracts.iter().map(|c| c.contract.id.clone()).collect();
    let last_week =
        BillingWeek::containing(BillingWeek::containing(now).start() - chrono::Duration::days(1));
    let events = store.reviews_of(&ids, Some(last_week.start()))?;
    let logged = store.logged_by_contract(&ids, last_week.start(), last_week.end())?;
    for id in &ids {
        if logged.get(id).copied().unwrap_or(0) == 0 {
            continue;
        }
        let week_events: Vec<_> = events
            .iter()
            .filter(|(c, _)| c == id)
            .map(|(_, e)| e.clone())
            .collect();
        if let WeekReview::ApprovedAutomatically { at } =
            rules::week_review(last_week, now, review_secs, &week_events)
        {
            queue_quietly(store, &Event::week_auto_approved(id, last_week, at), now);
        }
    }
    Ok(())
}
