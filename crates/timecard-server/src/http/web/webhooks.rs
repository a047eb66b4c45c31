//! I2: "Webhooks": an admin registers addresses for every contract's
//! events, a client for the contracts they review; the secret is shown
//! once; each webhook shows its state and its last deliveries.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::layout::{PageError, Typed, layout};
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};
use crate::store::{Delivery, NewWebhook, Role, Webhook};
use crate::webhooks::{self, EventKind, WEBHOOKS_PATH};

/// Deliveries shown per webhook.
const LOG_ROWS: usize = 10;
/// Webhooks one user may register.
const MAX_PER_USER: usize = 20;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            WEBHOOKS_PATH,
            axum::routing::get(webhooks_page).post(create),
        )
        .route("/settings/webhooks/{id}/{action}", post(act))
}

fn allowed(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.user.role == Role::Freelancer {
        Err(PageError(
            StatusCode::FORBIDDEN,
            "Webhooks are for admins and clients.".into(),
        ))
    } else {
        Ok(())
    }
}

/// Whose webhooks `viewer` sees: an admin every one.
fn owner_filter(viewer: &Viewer) -> Option<i64> {
    (!viewer.user.role.is_admin()).then_some(viewer.user.id)
}

async fn webhooks_page(
    State(state): State<Shared>,
    viewer: Viewer,
) -> Result<Html<String>, PageError> {
    allowed(&viewer)?;
    page(&state, &viewer, None, "").await
}

enum Outcome {
    Made { secret: String },
    Problem(String),
}

async fn page(
    state: &Shared,
    viewer: &Viewer,
    outcome: Option<Outcome>,
    url: &str,
) -> Result<Html<String>, PageError> {
    let owner = owner_filter(viewer);
    let listed = blocking(state, move |s| {
        let hooks = s.webhooks(owner)?;
        let mut with_log = Vec::with_capacity(hooks.len());
        for hook in hooks {
            let log = s.deliveries(hook.id, LOG_ROWS)?;
            with_log.push((hook, log));
        }
        Ok(with_log)
    })
    .await?;
    let scope = if viewer.user.role.is_admin() {
        "every contract"
    } else {
        "the contracts you review"
    };
    let body = html! {
        h1 { "Webhooks" }
        p { "Timecard sends an HTTPS POST to your address when something happens on " (scope) ". "
            "The JSON body carries the event's " code { "id" } ", " code { "type" } ", " code { "created_at" } ", "
            code { "contract_id" } " and " code { "data" } ". "
            "The " code { (webhooks::SIGNATURE_HEADER) } " header is " code { "t=SECONDS,v1=HEX" } ": "
            "HMAC-SHA256 with the webhook's secret over " code { "SECONDS.BODY" } "; refuse one older than "
            (webhooks::REPLAY_WINDOW_SECS / 60) " minutes. An event may come more than once: "
            code { (webhooks::EVENT_ID_HEADER) } " (also " code { "Idempotency-Key" } ") tells repeats apart. "
            "Any answer but 2xx is tried again later, for days; after "
            (webhooks::deliver::DISABLE_AFTER) " failures in a row the webhook is turned off and the admins are told." }
        @match &outcome {
            Some(Outcome::Made { secret }) => div.notice.done role="status" {
                p { "Webhook added. Its signing secret — copy it now, it is not shown again:" }
                p { code.secret #new-secret { (secret) } }
            },
            Some(Outcome::Problem(text)) => div.notice.problem role="alert" { p { (text) } },
            None => {},
        }
        h2 { "Add a webhook" }
        form.signin.wide method="post" action=(WEBHOOKS_PATH) {
            input type="hidden" name="csrf" value=(viewer.csrf());
            label for="hook-url" { "Address (https://…)" }
            input #hook-url type="url" name="url" required maxlength=(webhooks::MAX_URL_CHARS)
                value=(url) placeholder="https://example.com/timecard-hook";
            fieldset {
                legend { "Events" }
                @for kind in EventKind::ALL {
                    label {
                        input type="checkbox" name="events" value=(kind.as_str()) checked;
                        " " code { (kind.as_str()) } " — " (kind.words())
                    }
                }
            }
            button type="submit" { "Add the webhook" }
        }
        h2 { "Your webhooks" }
        @if listed.is_empty() {
            p.muted #no-webhooks { "No webhooks yet." }
        }
        @for (hook, log) in &listed { (hook_section(hook, log, viewer)) }
    };
    Ok(layout("Webhooks", Some(&viewer.header()), body))
}

fn hook_section(hook: &Webhook, log: &[Delivery], viewer: &Viewer) -> Markup {
    let action = |what: &str| format!("/settings/webhooks/{}/{what}", hook.id);
    html! {
        section.webhook id={ "webhook-" (hook.id) } aria-labelledby={ "webhook-" (hook.id) "-url" } {
            h3 id={ "webhook-" (hook.id) "-url" } { code { (Typed(&hook.url)) } }
            p {
                @match (&hook.disabled_at, &hook.disabled_reason) {
                    (Some(at), reason) => {
                        strong.state { "Off" } " since " (when(*at))
                        @if let Some(reason) = reason { " (" (reason) ")" }
                    },
                    (None, _) => { strong.state { "On" } },
                }
                " · " (hook.events.join(", "))
                @if viewer.user.role.is_admin() && hook.owner_id != viewer.user.id {
                    " · registered by " (hook.owner)
                }
                @if hook.failures_in_row > 0 {
                    " · " (timecard_core::fmt::count(u64::from(hook.failures_in_row), "failed attempt", "failed attempts")) " in a row"
                }
            }
            form.inline.actions method="post" action=(action(if hook.disabled_at.is_some() { "on" } else { "off" })) {
                input type="hidden" name="csrf" value=(viewer.csrf());
                button type="submit" {
                    @if hook.disabled_at.is_some() { "Turn on" } @else { "Turn off" }
                }
            }
            form.inline.actions method="post" action=(action("delete")) {
                input type="hidden" name="csrf" value=(viewer.csrf());
                button.danger type="submit" { "Delete" }
            }
            @if log.is_empty() {
                p.muted { "Nothing sent yet." }
            } @else {
                table.contracts {
                    caption { "Last deliveries" }
                    thead { tr {
                        th scope="col" { "Event" }
                        th scope="col" { "Queued" }
                        th scope="col" { "Attempts" }
                        th scope="col" { "State" }
                        th scope="col" { "Last answer" }
                    } }
                    tbody {
                        @for d in log {
                            tr {
                                th scope="row" data-label="Event" { code { (d.kind) } br; span.muted { (d.event_id) } }
                                td data-label="Queued" { (when(d.created_at)) }
                                td data-label="Attempts" { (d.attempts) }
                                td data-label="State" {
                                    @match d.delivered_at {
                                        Some(at) => { "delivered " (when(at)) },
                                        None => { "next try " (when(d.next_attempt)) },
                                    }
                                }
                                td data-label="Last answer" {
                                    @if let Some(status) = d.last_status { "HTTP " (status) " " }
                                    @if let Some(text) = &d.last_response {
                                        span.muted { (Typed(&text.chars().take(160).collect::<String>())) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn when(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%-d %b %H:%M:%S UTC")) } }
}

/// The add form; `events` repeats, one field per ticked box.
#[derive(Default)]
struct NewForm {
    csrf: String,
    url: String,
    events: Vec<String>,
}

impl NewForm {
    fn read(body: &[u8]) -> NewForm {
        let mut form = NewForm::default();
        for (name, value) in form_urlencoded::parse(body) {
            match name.as_ref() {
                "csrf" => form.csrf = value.into_owned(),
                "url" => form.url = value.into_owned(),
                "events" if form.events.len() < EventKind::ALL.len() * 2 => {
                    form.events.push(value.into_owned())
                }
                _ => {}
            }
        }
        form
    }
}

async fn create(
    State(state): State<Shared>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = NewForm::read(&body);
    allowed(&viewer)?;
    viewer.check_csrf(&form.csrf)?;
    let url = form.url.trim().to_owned();
    let mut events: Vec<String> = form
        .events
        .iter()
        .filter_map(|e| EventKind::parse(e))
        .map(|k| k.as_str().to_owned())
        .collect();
    events.dedup();
    let problem = webhooks::url_problem(&url, &viewer.user).or_else(|| {
        events
            .is_empty()
            .then(|| "choose at least one event".to_owned())
    });
    let outcome = match problem {
        Some(problem) => Outcome::Problem(super::layout::sentence(&problem)),
        None => {
            let (user, now, secret) = (
                viewer.user.clone(),
                state.clock.now(),
                webhooks::new_secret(),
            );
            let hook = NewWebhook {
                owner_id: user.id,
                all_contracts: user.role.is_admin(),
                url: url.clone(),
                secret: secret.clone(),
                events,
                created_at: now,
            };
            let added = blocking(&state, move |s| {
                if s.webhooks(Some(user.id))?.len() >= MAX_PER_USER {
                    return Ok(None);
                }
                s.add_webhook(&hook).map(Some)
            })
            .await?;
            match added {
                Some(id) => {
                    log::info!("server: {} added webhook {id} to {url}", viewer.user.login);
                    Outcome::Made { secret }
                }
                None => Outcome::Problem(format!(
                    "You have {MAX_PER_USER} webhooks already; delete one first."
                )),
            }
        }
    };
    let kept = match &outcome {
        Outcome::Problem(_) => form.url.clone(),
        Outcome::Made { .. } => String::new(),
    };
    let page = page(&state, &viewer, Some(outcome), &kept).await?;
    Ok(super::layout::no_store(page.into_response()))
}

#[derive(serde::Deserialize)]
struct ActForm {
    csrf: String,
}

async fn act(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, action)): Path<(i64, String)>,
    axum::extract::Form(form): axum::extract::Form<ActForm>,
) -> Result<Response, PageError> {
    allowed(&viewer)?;
    viewer.check_csrf(&form.csrf)?;
    let (owner, now) = (owner_filter(&viewer), state.clock.now());
    let done = match action.as_str() {
        "on" => blocking(&state, move |s| s.set_webhook_enabled(id, owner, true, now)).await?,
        "off" => {
            blocking(&state, move |s| {
                s.set_webhook_enabled(id, owner, false, now)
            })
            .await?
        }
        "delete" => blocking(&state, move |s| s.delete_webhook(id, owner)).await?,
        _ => false,
    };
    if !done {
        return Err(super::layout::not_found());
    }
    log::info!("server: {} did {action} on webhook {id}", viewer.user.login);
    state.webhooks.wake.notify_one();
    Ok(Redirect::to(WEBHOOKS_PATH).into_response())
}
