//! `/admin/contracts`: every contract and its terms, one form per contract
//! with every term (C1, R2, W3), and a new contract with all of them at
//! once. A term is changed only when its field was changed (R11): the form
//! carries the weekly limit it showed, so saving the rate never touches a
//! limit that is still pending.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Admin, FieldAttrs, Notice, Problems, nav, text_field};
use crate::http::state::{Shared, blocking};
use crate::http::web::layout::{
    LIST_CAP, PageError, Place, Typed, layout, money, more_note, not_found, urlencode,
};
use crate::http::web::viewer::Viewer;
use crate::rules::{self, StoredContract};
use crate::store::{Role, UserSummary};
use crate::usecases::Refusal;
use crate::usecases::contracts::{self, ContractChange};
use crate::views;
use timecard_core::domain::text::{Lines, text_problem};
use timecard_core::domain::{Contract, ContractKind, ContractStatus};
use timecard_core::fmt::format_hours;

/// Where the list was sent back from (`?saved=ID&changed=a,b` or
/// `?added=ID`); the words are made here from the contract as stored.
#[derive(Deserialize, Default)]
pub(super) struct Saved {
    saved: Option<String>,
    added: Option<String>,
    #[serde(default)]
    changed: String,
}

pub(super) async fn list(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Query(saved): Query<Saved>,
) -> Result<Html<String>, PageError> {
    let now = state.clock.now();
    let (contracts, names) = blocking(&state, move |s| {
        let contracts = s.contracts(None)?;
        let names = views::names(
            s,
            contracts
                .iter()
                .flat_map(|c| [Some(c.user_id), c.terms.client_user_id])
                .flatten(),
        )?;
        Ok((contracts, names))
    })
    .await?;
    let notice = notice(&saved, &contracts, now);
    let acted_on = saved.saved.as_deref().or(saved.added.as_deref());
    let body = html! {
        h1 { "Contracts" }
        (nav("/admin/contracts"))
        @if let Some(notice) = &notice { (notice) }
        p { a.button href="/admin/contracts/new" { "Add a contract" } }
        table.contracts {
            caption.hidden { "Every contract and its terms" }
            thead { tr {
                th scope="col" { "Contract" }
                th scope="col" { "Freelancer" }
                th scope="col" { "Client account" }
                th scope="col" { "Rate" }
                th scope="col" { "Weekly limit" }
                th scope="col" { "Manual time" }
                th scope="col" { span.hidden { "Change" } }
            } }
            tbody {
                @for stored in contracts.iter().take(LIST_CAP) {
                    @let c = &stored.contract;
                    tr id={ "c-" (urlencode(&c.id)) } class=[(acted_on == Some(c.id.as_str())).then_some("acted")] {
                        th scope="row" data-label="Contract" {
                            (Typed(&c.title)) br;
                            span.muted { (Typed(&c.client)) " · " (c.status.as_str()) " · since " (c.start_date.format("%-d %b %Y")) }
                        }
                        td data-label="Freelancer" { (names.of(stored.user_id)) }
                        td data-label="Client account" {
                            @match stored.terms.client_user_id {
                                Some(id) => (names.of(id)),
                                None => span.muted { "none" },
                            }
                        }
                        td data-label="Rate" {
                            @match &stored.terms.rate {
                                Some(rate) => { (money(rate.cents, &rate.currency)) " / h" },
                                None => span.muted { "none" },
                            }
                        }
                        td data-label="Weekly limit" { (limit_words(c, now)) }
                        td data-label="Manual time" { @if stored.terms.manual_time { "allowed" } @else { "not allowed" } }
                        td data-label="Change" {
                            a href={ "/admin/contracts/" (urlencode(&c.id)) } { "Edit" span.hidden { " " (Typed(&c.title)) } }
                        }
                    }
                }
            }
        }
        (more_note(contracts.len(), "contracts", "the command line lists them all: timecard-server contract list"))
    };
    Ok(layout(
        "Contracts · admin",
        Some(&viewer.header().at(Place::Admin)),
        body,
    ))
}

/// The limit in force and the one to come (W3), in words.
fn limit_words(c: &Contract, now: DateTime<Utc>) -> Markup {
    if c.kind != ContractKind::Hourly {
        return html! { span.muted { "fixed price" } };
    }
    let now_words = c.limit_at(now).map_or("none".to_owned(), format_hours);
    html! {
        (now_words)
        @if let Some(p) = c.pending_limit.as_ref().filter(|p| p.effective_at > now) {
            br;
            span.pending {
                @match p.limit_secs {
                    Some(secs) => { (format_hours(secs)) " from " },
                    None => { "none from " },
                }
                (p.effective_at.format("%a %-d %b %Y"))
            }
        }
    }
}

/// "Saved “Web shop”: the rate and the weekly limit." from the address,
/// for a contract that exists.
fn notice(saved: &Saved, contracts: &[StoredContract], now: DateTime<Utc>) -> Option<Notice> {
    let find = |id: &str| contracts.iter().find(|c| c.contract.id == id);
    if let Some(stored) = saved.added.as_deref().and_then(find) {
        return Some(Notice::Done(format!(
            "Added “{}” for {}.",
            stored.contract.title, stored.contract.client
        )));
    }
    let stored = saved.saved.as_deref().and_then(find)?;
    let c = &stored.contract;
    let mut parts = Vec::new();
    for field in saved.changed.split(',') {
        parts.push(match field {
            "title" => format!("the title ({})", c.title),
            "client" => format!("the client's name ({})", c.client),
            "status" => format!("the status ({})", c.status.as_str()),
            "limit" => {
                let words = limit_words(c, now).into_string();
                let plain = words
                    .replace("<br><span class=\"pending\">", ", ")
                    .replace("</span>", "");
                format!("the weekly limit ({plain})")
            }
            "client_user" => "the client account".to_owned(),
            "rate" => match &stored.terms.rate {
                Some(rate) => format!("the rate ({} / h)", money(rate.cents, &rate.currency)),
                None => "the rate (none)".to_owned(),
            },
            "manual_time" => format!(
                "manual time ({})",
                if stored.terms.manual_time {
                    "allowed"
                } else {
                    "not allowed"
                }
            ),
            _ => continue,
        });
    }
    Some(Notice::Done(if parts.is_empty() {
        format!("Nothing changed on “{}”.", c.title)
    } else {
        format!("Saved “{}”: {}.", c.title, parts.join(", "))
    }))
}

/// The contract form as typed; on a new contract every field, on an
/// existing one all but the freelancer, the kind and the start date.
#[derive(Deserialize, Default, Clone)]
pub(super) struct ContractForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    client: String,
    #[serde(default, alias = "user")]
    freelancer: String,
    #[serde(default)]
    client_user: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    weekly_limit: String,
    /// The weekly limit the form showed: the limit changes only when the
    /// field no longer says this.
    #[serde(default)]
    weekly_limit_was: String,
    manual_time: Option<String>,
}

impl ContractForm {
    /// The form filled from a stored contract: the weekly limit is the one
    /// that will be in force (a pending one, if any).
    fn of(stored: &StoredContract, client_login: Option<&str>) -> ContractForm {
        let c = &stored.contract;
        let limit = match &c.pending_limit {
            Some(p) => p.limit_secs,
            None => c.weekly_limit_secs,
        };
        let limit = limit.map(hours_text).unwrap_or_default();
        ContractForm {
            title: c.title.clone(),
            client: c.client.clone(),
            client_user: client_login.unwrap_or_default().to_owned(),
            kind: c.kind.as_str().to_owned(),
            status: c.status.as_str().to_owned(),
            start_date: c.start_date.format("%Y-%m-%d").to_string(),
            rate: stored
                .terms
                .rate
                .as_ref()
                .map(|r| format!("{}.{:02}", r.cents / 100, r.cents % 100))
                .unwrap_or_default(),
            currency: stored
                .terms
                .rate
                .as_ref()
                .map(|r| r.currency.clone())
                .unwrap_or_default(),
            weekly_limit_was: limit.clone(),
            weekly_limit: limit,
            manual_time: stored.terms.manual_time.then(|| "on".into()),
            ..ContractForm::default()
        }
    }
}

/// Hours as a field shows them: `40`, `37.5`.
fn hours_text(secs: i64) -> String {
    let hours = secs as f64 / 3600.0;
    let text = format!("{hours:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Who can be chosen: active freelancers and clients, by login.
struct People {
    freelancers: Vec<String>,
    clients: Vec<String>,
}

async fn people(state: &Shared) -> Result<People, PageError> {
    let now = state.clock.now();
    let users = blocking(state, move |s| s.users(now)).await?;
    let of = |role: Role, users: &[UserSummary]| {
        users
            .iter()
            .filter(|u| u.role == role && u.disabled_at.is_none())
            .map(|u| u.login.clone())
            .collect()
    };
    Ok(People {
        freelancers: of(Role::Freelancer, &users),
        clients: of(Role::Client, &users),
    })
}

/// The form, new (`stored` is `None`) or for one contract, with what was
/// typed and its problems.
fn form_page(
    viewer: &Viewer,
    stored: Option<&StoredContract>,
    freelancer: Option<&str>,
    typed: &ContractForm,
    problems: &Problems,
    people: &People,
) -> Html<String> {
    let csrf = viewer.csrf();
    let (title, action) = match stored {
        None => (
            "Add a contract".to_owned(),
            "/admin/contracts/new".to_owned(),
        ),
        Some(s) => (
            format!("Edit “{}”", s.contract.title),
            format!("/admin/contracts/{}", urlencode(&s.contract.id)),
        ),
    };
    let select = |field: &'static str,
                  label: &str,
                  options: &[String],
                  none: Option<&str>,
                  chosen: &str| {
        html! {
            div.field {
                label for={ "f-" (field) } { (label) }
                select id={ "f-" (field) } name=(field)
                    aria-invalid=[problems.of(field).map(|_| "true")]
                    aria-describedby=[problems.described(field)] {
                    @if let Some(none) = none { option value="" selected[chosen.is_empty()] { (none) } }
                    @for login in options { option value=(login) selected[login == chosen] { (login) } }
                    @if !chosen.is_empty() && !options.iter().any(|o| o == chosen) {
                        option value=(chosen) selected { (chosen) }
                    }
                }
                (problems.under(field))
            }
        }
    };
    let body = html! {
        nav.crumbs aria-label="Breadcrumb" {
            a href="/admin/contracts" { "Contracts" } " › " span aria-current="page" { (title) }
        }
        h1 { (title) }
        (problems.summary())
        form.contract method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="weekly_limit_was" value=(typed.weekly_limit_was);
            fieldset {
                legend { "The contract" }
                (text_field(problems, "title", "Title", &typed.title, FieldAttrs { required: true, ..FieldAttrs::default() }))
                (text_field(problems, "client", "Client's name, as the freelancer sees it", &typed.client, FieldAttrs::default()))
                @match (stored, freelancer) {
                    (Some(_), Some(login)) => div.field { span.label { "Freelancer" } span { (login) } },
                    _ => (select("freelancer", "Freelancer", &people.freelancers, None, &typed.freelancer)),
                }
                (select("client_user", "Client account (reviews the time)", &people.clients, Some("none"), &typed.client_user))
                @if stored.is_none() {
                    div.field {
                        label for="f-kind" { "Kind" }
                        select #f-kind name="kind" {
                            option value="hourly" selected[typed.kind != "fixed_price"] { "hourly" }
                            option value="fixed_price" selected[typed.kind == "fixed_price"] { "fixed price" }
                        }
                    }
                    (text_field(problems, "start_date", "Start date", &typed.start_date, FieldAttrs { kind: "date", required: true, max: None, hint: Some("Time can be tracked from 00:00 UTC that day."), ..FieldAttrs::default() }))
                } @else {
                    div.field {
                        label for="f-status" { "Status" }
                        select #f-status name="status" {
                            @for st in [ContractStatus::Active, ContractStatus::Paused, ContractStatus::Ended] {
                                option value=(st.as_str()) selected[st.as_str() == typed.status] { (st.as_str()) }
                            }
                        }
                        span.hint { "Time tracked before a pause or an end still counts." }
                    }
                }
            }
            fieldset {
                legend { "Terms" }
                (text_field(problems, "rate", "Hourly rate", &typed.rate, FieldAttrs { inputmode: Some("decimal"), placeholder: Some("45.50"), max: Some(12), hint: Some("Empty for none; 45.50 or 45,50."), ..FieldAttrs::default() }))
                (text_field(problems, "currency", "Currency", &typed.currency, FieldAttrs { max: Some(3), placeholder: Some("USD"), hint: Some("Three letters: USD, EUR, GBP…"), ..FieldAttrs::default() }))
                (text_field(problems, "weekly_limit", "Weekly limit (hours)", &typed.weekly_limit, FieldAttrs { inputmode: Some("decimal"), max: Some(6), hint: Some("Empty for none. A lower limit starts next Monday; a higher one at once."), ..FieldAttrs::default() }))
                @if let Some(s) = stored
                    && let Some(pending) = s.contract.pending_limit.as_ref()
                {
                    p.hint { "The limit now: "
                        (s.contract.weekly_limit_secs.map_or("none".to_owned(), format_hours))
                        "; the field shows the limit from "
                        (pending.effective_at.format("%a %-d %b %Y")) "." }
                }
                div.field.check {
                    input #f-manual_time type="checkbox" name="manual_time" value="on" checked[typed.manual_time.is_some()];
                    label for="f-manual_time" { "The freelancer may add time by hand" }
                }
            }
            div.buttons {
                button type="submit" { @if stored.is_none() { "Add the contract" } @else { "Save the changes" } }
                a.button.secondary href="/admin/contracts" { "Cancel" }
            }
        }
    };
    layout(&title, Some(&viewer.header().at(Place::Admin)), body)
}

pub(super) async fn new_form(
    State(state): State<Shared>,
    Admin(viewer): Admin,
) -> Result<Html<String>, PageError> {
    let people = people(&state).await?;
    let typed = ContractForm {
        start_date: state.clock.now().format("%Y-%m-%d").to_string(),
        currency: "USD".into(),
        manual_time: Some("on".into()),
        ..ContractForm::default()
    };
    Ok(form_page(
        &viewer,
        None,
        None,
        &typed,
        &Problems::default(),
        &people,
    ))
}

pub(super) async fn edit_form(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let (stored, freelancer, client) = load(&state, id).await?;
    let people = people(&state).await?;
    let typed = ContractForm::of(&stored, client.as_deref());
    Ok(form_page(
        &viewer,
        Some(&stored),
        Some(&freelancer),
        &typed,
        &Problems::default(),
        &people,
    ))
}

/// A contract with its freelancer's and client account's logins.
async fn load(
    state: &Shared,
    id: String,
) -> Result<(StoredContract, String, Option<String>), PageError> {
    blocking(state, move |s| {
        let Some(stored) = s.contract(&id)? else {
            return Ok(None);
        };
        let names = views::names(
            s,
            [Some(stored.user_id), stored.terms.client_user_id]
                .into_iter()
                .flatten(),
        )?;
        let freelancer = names.of(stored.user_id).to_owned();
        let client = stored
            .terms
            .client_user_id
            .map(|id| names.of(id).to_owned());
        Ok(Some((stored, freelancer, client)))
    })
    .await?
    .ok_or_else(not_found)
}

/// The terms as typed, checked field by field: every problem at once.
struct Terms {
    rate: Option<i64>,
    currency: Option<String>,
    /// `Some` only when the field was changed.
    limit: Option<Option<i64>>,
}

fn read_terms(form: &ContractForm, problems: &mut Problems) -> Terms {
    if form.title.trim().is_empty() {
        problems.add("title", "give the contract a title");
    }
    for (field, what, text) in [
        ("title", "title", &form.title),
        ("client", "client's name", &form.client),
    ] {
        if let Some(problem) = text_problem(what, text.trim(), rules::MAX_TITLE_CHARS, Lines::One) {
            problems.add(field, problem);
        }
    }
    let rate = match form.rate.trim() {
        "" => None,
        amount => rules::parse_amount(amount)
            .map_err(|e| problems.add("rate", e))
            .ok(),
    };
    let currency = match form.currency.trim() {
        "" if rate.is_some() => {
            problems.add(
                "currency",
                "a rate needs a currency: three letters such as USD or EUR",
            );
            None
        }
        "" => None,
        code => rules::parse_currency(code)
            .map_err(|e| problems.add("currency", e))
            .ok(),
    };
    let limit = if form.weekly_limit.trim() == form.weekly_limit_was.trim() {
        None
    } else {
        rules::parse_weekly_limit(&form.weekly_limit)
            .map_err(|e| problems.add("weekly_limit", e))
            .ok()
    };
    Terms {
        rate,
        currency,
        limit,
    }
}

/// A refusal from the use case, put beside the field it is about.
fn place(refusal: Refusal, problems: &mut Problems) -> Result<(), PageError> {
    let words = refusal.to_string();
    let field = if words.contains("title") {
        "title"
    } else if words.contains("client's name") {
        "client"
    } else if words.contains("client of a contract") || words.contains("account") {
        "client_user"
    } else if words.contains("currency") {
        "currency"
    } else if words.contains("rate") {
        "rate"
    } else if words.contains("limit") {
        "weekly_limit"
    } else if words.contains("no user called") {
        "freelancer"
    } else {
        return Err(refusal.into());
    };
    problems.add(field, words);
    Ok(())
}

pub(super) async fn add(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Form(form): Form<ContractForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let now = state.clock.now();
    let mut problems = Problems::default();
    let terms = read_terms(&form, &mut problems);
    if form.freelancer.trim().is_empty() {
        problems.add("freelancer", "choose the freelancer who works on it");
    }
    let start_date = NaiveDate::parse_from_str(form.start_date.trim(), "%Y-%m-%d")
        .map_err(|_| problems.add("start_date", "give a date such as 2026-12-07"))
        .ok();
    let kind = if form.kind == "fixed_price" {
        ContractKind::FixedPrice
    } else {
        ContractKind::Hourly
    };
    let limit = terms.limit.flatten();
    if kind == ContractKind::FixedPrice && limit.is_some() {
        problems.add("weekly_limit", "fixed-price contracts have no weekly limit");
    }
    if problems.is_empty() {
        let contract = Contract {
            id: new_id(&form.title),
            title: form.title.trim().to_owned(),
            client: form.client.trim().to_owned(),
            kind,
            status: ContractStatus::Active,
            start_date: start_date.unwrap_or_else(|| now.date_naive()),
            // A new contract's limit holds from its start (W3 is about changes).
            weekly_limit_secs: limit,
            pending_limit: None,
        };
        let change = ContractChange {
            client_user: Some(Some(form.client_user.trim().to_owned()).filter(|l| !l.is_empty())),
            rate_cents: Some(terms.rate),
            currency: terms.rate.and(terms.currency),
            manual_time: Some(form.manual_time.is_some()),
            ..ContractChange::default()
        };
        let freelancer = form.freelancer.trim().to_owned();
        let store = state.store.clone();
        let added = tokio::task::spawn_blocking(move || {
            contracts::add(store.as_ref(), &freelancer, contract, change, now)
        })
        .await
        .map_err(|_| gone("The contract was not added."))?;
        match added {
            Ok(stored) => {
                log::info!(
                    "web: {} added the contract {}",
                    viewer.user.login,
                    stored.contract.id
                );
                let id = urlencode(&stored.contract.id);
                return Ok(
                    Redirect::to(&format!("/admin/contracts?added={id}#c-{id}")).into_response()
                );
            }
            Err(refusal) => place(refusal, &mut problems)?,
        }
    }
    let people = people(&state).await?;
    let page = form_page(&viewer, None, None, &form, &problems, &people);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

pub(super) async fn change(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Path(id): Path<String>,
    Form(form): Form<ContractForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let now = state.clock.now();
    let (before, freelancer, client_before) = load(&state, id.clone()).await?;
    let mut problems = Problems::default();
    let terms = read_terms(&form, &mut problems);
    let status = match form.status.as_str() {
        "active" => ContractStatus::Active,
        "paused" => ContractStatus::Paused,
        "ended" => ContractStatus::Ended,
        _ => {
            problems.add("status", "choose active, paused or ended");
            before.contract.status
        }
    };
    if problems.is_empty() {
        let client_user = form.client_user.trim().to_owned();
        let change = ContractChange {
            title: Some(form.title.clone()),
            client_name: Some(form.client.clone()),
            status: Some(status),
            weekly_limit_secs: terms.limit,
            client_user: (client_before.as_deref().unwrap_or("") != client_user)
                .then(|| Some(client_user).filter(|l| !l.is_empty())),
            rate_cents: Some(terms.rate),
            currency: terms.rate.and(terms.currency),
            manual_time: Some(form.manual_time.is_some()),
        };
        let store = state.store.clone();
        let lookup = id.clone();
        let changed = tokio::task::spawn_blocking(move || {
            contracts::change(store.as_ref(), &lookup, &change, now)
        })
        .await
        .map_err(|_| gone("Nothing was changed."))?;
        match changed {
            Ok(after) => {
                let what = what_changed(&before, &after);
                log::info!(
                    "web: {} changed the contract {id} ({})",
                    viewer.user.login,
                    what.join(", ")
                );
                let id = urlencode(&id);
                return Ok(Redirect::to(&format!(
                    "/admin/contracts?saved={id}&changed={}#c-{id}",
                    what.join(",")
                ))
                .into_response());
            }
            Err(refusal) => place(refusal, &mut problems)?,
        }
    }
    let people = people(&state).await?;
    let page = form_page(
        &viewer,
        Some(&before),
        Some(&freelancer),
        &form,
        &problems,
        &people,
    );
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// The names of the terms that differ between two versions of a contract.
fn what_changed(before: &StoredContract, after: &StoredContract) -> Vec<&'static str> {
    let (b, a) = (&before.contract, &after.contract);
    [
        ("title", b.title != a.title),
        ("client", b.client != a.client),
        ("status", b.status != a.status),
        (
            "limit",
            b.weekly_limit_secs != a.weekly_limit_secs || b.pending_limit != a.pending_limit,
        ),
        (
            "client_user",
            before.terms.client_user_id != after.terms.client_user_id,
        ),
        ("rate", before.terms.rate != after.terms.rate),
        (
            "manual_time",
            before.terms.manual_time != after.terms.manual_time,
        ),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect()
}

/// A new contract's id: its title in lower-case words and a short random
/// tail, so the addresses and the command line read as the contract.
fn new_id(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 24 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let tail = &uuid::Uuid::new_v4().simple().to_string()[..4];
    if slug.is_empty() {
        format!("c-{tail}")
    } else {
        format!("{slug}-{tail}")
    }
}

fn gone(words: &str) -> PageError {
    PageError(StatusCode::INTERNAL_SERVER_ERROR, words.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_as_the_title() {
        let id = new_id("Web shop: rebuild (2027)");
        assert!(id.starts_with("web-shop-rebuild-2027-"), "{id}");
        assert_eq!(id.len(), "web-shop-rebuild-2027-".len() + 4);
        assert!(new_id("   ").starts_with("c-"));
        assert!(new_id("Ünïcødé").starts_with("n-c-d-"));
    }

    #[test]
    fn hours_are_written_as_typed() {
        assert_eq!(hours_text(40 * 3600), "40");
        assert_eq!(hours_text(37 * 3600 + 1800), "37.5");
    }
}
