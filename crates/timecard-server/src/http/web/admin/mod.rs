//! R10: `/admin/…`: what the `timecard-server` admin commands do, in the browser,
//! for admins only (anyone else gets the same 404 as for a page that does
//! not exist): users, contracts, maintenance mode, problem reports.

use axum::Router;

use crate::http::guards::pages_gate;
use axum::extract::{Form, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use super::layout::{LIST_CAP, PageError, Typed, layout, more_note, not_found, urlencode};
use super::viewer::Viewer;
use crate::auth;
use crate::http::middleware::maintenance_mode;
use crate::http::state::{Shared, blocking};
use crate::rules;
use crate::store::Role;
use crate::usecases::Refusal;
use crate::usecases::contracts::{self, ContractChange};
use crate::views;
use timecard_core::domain::{Contract, ContractKind, ContractStatus};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/users") }))
        .route(
            "/admin/users",
            get(users_page)
                .layer(axum::middleware::from_fn(pages_gate))
                .post(add_user),
        )
        .route("/admin/users/{login}", post(change_user))
        .route(
            "/admin/contracts",
            get(contracts_page)
                .layer(axum::middleware::from_fn(pages_gate))
                .post(add_contract),
        )
        .route("/admin/contracts/{id}", post(change_contract))
        .route("/admin/maintenance", post(maintenance))
        .route(
            "/admin/reports",
            get(reports_page).layer(axum::middleware::from_fn(pages_gate)),
        )
        .route(
            "/admin/reports/{id}/logs.zip",
            get(report_logs).layer(axum::middleware::from_fn(pages_gate)),
        )
}

/// The viewer, if an admin: checked before anything else of the request
/// is read (a form from anyone else is never parsed), so that everyone
/// else gets the 404 of a page that does not exist.
struct Admin(Viewer);

impl FromRequestParts<Shared> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let viewer = Viewer::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if viewer.is_admin() {
            Ok(Admin(viewer))
        } else {
            Err(not_found().into_response())
        }
    }
}

fn nav() -> maud::Markup {
    html! {
        nav.days {
            a href="/admin/users" { "Users" }
            a href="/admin/contracts" { "Contracts" }
            a href="/admin/reports" { "Problem reports" }
            a href="/contracts" { "Dashboard" }
        }
    }
}

fn role_options(selected: Role) -> maud::Markup {
    html! {
        @for role in [Role::Freelancer, Role::Client, Role::Admin] {
            option value=(role.as_str()) selected[role == selected] { (role.as_str()) }
        }
    }
}

fn parse_role(text: &str) -> Result<Role, PageError> {
    match text {
        "freelancer" => Ok(Role::Freelancer),
        "client" => Ok(Role::Client),
        "admin" => Ok(Role::Admin),
        _ => Err(PageError(StatusCode::BAD_REQUEST, "Unknown role.".into())),
    }
}

async fn users_page(
    State(state): State<Shared>,
    Admin(viewer): Admin,
) -> Result<Html<String>, PageError> {
    let now = state.clock.now();
    let users = blocking(&state, move |s| s.users(now)).await?;
    let maintenance = maintenance_mode(&state).await.is_some();
    let csrf = viewer.csrf();
    let body = html! {
        h1 { "Users" }
        (nav())
        form.inline method="post" action="/admin/maintenance" {
            input type="hidden" name="csrf" value=(csrf);
            @if maintenance {
                strong { "Maintenance mode is on: the app's API answers 503. " }
                input type="hidden" name="on" value="false";
                button type="submit" { "Turn maintenance off" }
            } @else {
                span.muted { "Maintenance mode is off. " }
                input type="hidden" name="on" value="true";
                button type="submit" { "Turn maintenance on" }
            }
        }
        table.contracts {
            thead { tr {
                th scope="col" { "User" }
                th scope="col" { "Role" }
                th scope="col" { "State" }
                th scope="col" { "Sessions" }
                th scope="col" { "Contracts" }
                th scope="col" { "Actions" }
            } }
            tbody {
                @for u in users.iter().take(LIST_CAP) {
                    @let action = format!("/admin/users/{}", urlencode(&u.login));
                    tr {
                        td { (u.login) @if let Some(email) = &u.email { br; span.muted { (email) } } }
                        td {
                            form.inline method="post" action=(action) {
                                input type="hidden" name="csrf" value=(csrf);
                                label.hidden for={ "role-" (u.login) } { "Role of " (u.login) }
                                select id={ "role-" (u.login) } name="role" { (role_options(u.role)) }
                                button type="submit" name="do" value="role" { "Set" }
                            }
                        }
                        td { @if u.disabled_at.is_some() { "disabled" } @else { "active" } }
                        td { (u.sessions) }
                        td { (u.contracts) }
                        td {
                            form.inline method="post" action=(action) {
                                input type="hidden" name="csrf" value=(csrf);
                                @if u.disabled_at.is_some() {
                                    button type="submit" name="do" value="enable" { "Enable" }
                                } @else {
                                    button type="submit" name="do" value="disable" { "Disable" }
                                }
                                button type="submit" name="do" value="sign-out" { "Sign out everywhere" }
                                button type="submit" name="do" value="password" { "New password" }
                            }
                        }
                    }
                }
            }
        }
        (more_note(users.len(), "users", "the command line lists them all: timecard-server user list"))
        h2 { "Add a user" }
        form.signin method="post" action="/admin/users" {
            input type="hidden" name="csrf" value=(csrf);
            label for="login" { "Login" }
            input #login type="text" name="login" required maxlength="64";
            label for="email" { "E-mail (optional)" }
            input #email type="text" name="email" maxlength="200";
            label for="role" { "Role" }
            select #role name="role" { (role_options(Role::Freelancer)) }
            button type="submit" { "Add the user" }
        }
        p.muted { "A new user gets a random password, shown once." }
    };
    Ok(layout("Users", Some(&viewer.header()), body))
}

#[derive(Deserialize)]
struct NewUser {
    csrf: String,
    login: String,
    #[serde(default)]
    email: String,
    role: String,
}

/// A page that shows a new password once.
fn password_page(viewer: &Viewer, login: &str, password: &str) -> Html<String> {
    layout(
        "New password",
        Some(&viewer.header()),
        html! {
            h1 { "Password of " (login) }
            p { "Give it to " (login) " now: it is not shown again." }
            p { code.password { (password) } }
            p { a href="/admin/users" { "Back to the users" } }
        },
    )
}

async fn add_user(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Form(form): Form<NewUser>,
) -> Result<Html<String>, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let role = parse_role(&form.role)?;
    let login = form.login.trim().to_owned();
    let email = Some(form.email.trim().to_owned()).filter(|e| !e.is_empty());
    if let Some(problem) = rules::user_problem(&login, email.as_deref()) {
        return Err(Refusal::Invalid(problem).into());
    }
    let password = auth::new_token()[..16].to_owned();
    let hash = auth::hash_password(&password);
    let added = login.clone();
    blocking(&state, move |s| {
        s.add_user(&added, email.as_deref(), &hash)?;
        s.set_role(&added, role)
    })
    .await?;
    log::info!(
        "web: {} added the user {login} ({})",
        viewer.user.login,
        role.as_str()
    );
    Ok(password_page(&viewer, &login, &password))
}

#[derive(Deserialize)]
struct UserChange {
    csrf: String,
    #[serde(rename = "do")]
    action: String,
    role: Option<String>,
}

async fn change_user(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Path(login): Path<String>,
    Form(form): Form<UserChange>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let now = state.clock.now();
    let who = login.clone();
    match form.action.as_str() {
        "role" => {
            let role = parse_role(form.role.as_deref().unwrap_or_default())?;
            blocking(&state, move |s| s.set_role(&who, role)).await?;
        }
        "disable" => blocking(&state, move |s| s.set_disabled(&who, Some(now))).await?,
        "enable" => blocking(&state, move |s| s.set_disabled(&who, None)).await?,
        "sign-out" => {
            blocking(&state, move |s| s.revoke_sessions(&who)).await?;
        }
        "password" => {
            let password = auth::new_token()[..16].to_owned();
            let hash = auth::hash_password(&password);
            blocking(&state, move |s| {
                s.set_password(&who, &hash)?;
                s.revoke_sessions(&who).map(|_| ())
            })
            .await?;
            log::info!("web: {} set a new password for {login}", viewer.user.login);
            return Ok(password_page(&viewer, &login, &password).into_response());
        }
        _ => return Err(PageError(StatusCode::BAD_REQUEST, "Unknown action.".into())),
    }
    log::info!(
        "web: {} did {} on the user {login}",
        viewer.user.login,
        form.action
    );
    Ok(Redirect::to("/admin/users").into_response())
}

async fn contracts_page(
    State(state): State<Shared>,
    Admin(viewer): Admin,
) -> Result<Html<String>, PageError> {
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
    let rows: Vec<_> = contracts
        .into_iter()
        .map(|stored| {
            let freelancer = names.of(stored.user_id).to_owned();
            let client = stored
                .terms
                .client_user_id
                .map(|id| names.of(id).to_owned());
            (stored, freelancer, client)
        })
        .collect();
    let csrf = viewer.csrf();
    let body = html! {
        h1 { "Contracts" }
        (nav())
        table.contracts {
            thead { tr {
                th scope="col" { "Contract" }
                th scope="col" { "Freelancer" }
                th scope="col" { "Terms" }
            } }
            tbody {
                @for (stored, freelancer, client) in rows.iter().take(LIST_CAP) {
                    @let c = &stored.contract;
                    @let action = format!("/admin/contracts/{}", urlencode(&c.id));
                    tr {
                        td { (Typed(&c.title)) br; span.muted { (Typed(&c.id)) " · " (Typed(&c.client)) " · " (c.status.as_str()) } }
                        td { (freelancer) }
                        td {
                            form.terms method="post" action=(action) {
                                input type="hidden" name="csrf" value=(csrf);
                                label { "Status "
                                    select name="status" {
                                        @for st in [ContractStatus::Active, ContractStatus::Paused, ContractStatus::Ended] {
                                            option value=(st.as_str()) selected[st == c.status] { (st.as_str()) }
                                        }
                                    }
                                }
                                label { "Weekly limit (h) "
                                    input type="text" name="weekly_limit" size="5"
                                        value=(c.weekly_limit_secs.map(|s| format!("{}", s as f64 / 3600.0)).unwrap_or_default());
                                }
                                label { "Client account "
                                    input type="text" name="client_user" size="10" value=(client.as_deref().unwrap_or(""));
                                }
                                label { "Rate "
                                    input type="text" name="rate" size="7"
                                        value=(stored.terms.rate.as_ref().map(|r| format!("{}.{:02}", r.cents / 100, r.cents % 100)).unwrap_or_default());
                                }
                                label { "Currency "
                                    input type="text" name="currency" size="4"
                                        value=(stored.terms.rate.as_ref().map(|r| r.currency.as_str()).unwrap_or(""));
                                }
                                label { input type="checkbox" name="manual_time" value="on" checked[stored.terms.manual_time]; " manual time" }
                                button type="submit" { "Save" }
                            }
                        }
                    }
                }
            }
        }
        (more_note(rows.len(), "contracts", "the command line lists them all: timecard-server contract list"))
        h2 { "Add a contract" }
        form.signin method="post" action="/admin/contracts" {
            input type="hidden" name="csrf" value=(csrf);
            label for="c-user" { "Freelancer (login)" }
            input #c-user type="text" name="user" required;
            label for="c-title" { "Title" }
            input #c-title type="text" name="title" required maxlength="200";
            label for="c-client" { "Client's name" }
            input #c-client type="text" name="client" maxlength="200";
            label for="c-kind" { "Kind" }
            select #c-kind name="kind" {
                option value="hourly" { "hourly" }
                option value="fixed_price" { "fixed price" }
            }
            button type="submit" { "Add the contract" }
        }
    };
    Ok(layout("Contracts · admin", Some(&viewer.header()), body))
}

#[derive(Deserialize)]
struct NewContract {
    csrf: String,
    user: String,
    title: String,
    #[serde(default)]
    client: String,
    kind: String,
}

async fn add_contract(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Form(form): Form<NewContract>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let now = state.clock.now();
    let contract = Contract {
        id: format!("c-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        title: form.title.trim().to_owned(),
        client: form.client.trim().to_owned(),
        kind: if form.kind == "fixed_price" {
            ContractKind::FixedPrice
        } else {
            ContractKind::Hourly
        },
        status: ContractStatus::Active,
        start_date: now.date_naive(),
        weekly_limit_secs: None,
        pending_limit: None,
    };
    let user = form.user.trim().to_owned();
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        contracts::add(
            store.as_ref(),
            &user,
            contract,
            ContractChange::default(),
            now,
        )
    })
    .await
    .map_err(|_| {
        PageError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The contract was not added.".into(),
        )
    })??;
    Ok(Redirect::to("/admin/contracts").into_response())
}

#[derive(Deserialize)]
struct ContractChangeForm {
    csrf: String,
    status: String,
    #[serde(default)]
    weekly_limit: String,
    #[serde(default)]
    client_user: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    currency: String,
    manual_time: Option<String>,
}

async fn change_contract(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Path(id): Path<String>,
    Form(form): Form<ContractChangeForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let now = state.clock.now();
    let bad = |why: String| PageError(StatusCode::BAD_REQUEST, why);
    let status = match form.status.as_str() {
        "active" => ContractStatus::Active,
        "paused" => ContractStatus::Paused,
        "ended" => ContractStatus::Ended,
        _ => return Err(bad("Unknown status.".into())),
    };
    let limit = rules::parse_weekly_limit(&form.weekly_limit).map_err(bad)?;
    let rate = match form.rate.trim() {
        "" => None,
        amount => Some(rules::parse_amount(amount).map_err(bad)?),
    };
    let client_login = form.client_user.trim().to_owned();
    let manual_time = form.manual_time.is_some();
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let current = store.contract(&id)?.map(|c| c.contract.limit_at(now));
        let change = ContractChange {
            status: Some(status),
            // W3 applies only to a limit that changes.
            weekly_limit_secs: (current != Some(limit)).then_some(limit),
            client_user: Some((!client_login.is_empty()).then_some(client_login)),
            rate_cents: Some(rate),
            currency: rate.map(|_| form.currency.clone()),
            manual_time: Some(manual_time),
        };
        contracts::change(store.as_ref(), &id, &change, now)
    })
    .await
    .map_err(|_| {
        PageError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Nothing was changed.".into(),
        )
    })??;
    Ok(Redirect::to("/admin/contracts").into_response())
}

#[derive(Deserialize)]
struct MaintenanceForm {
    csrf: String,
    on: bool,
}

async fn maintenance(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Form(form): Form<MaintenanceForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let on = form.on;
    blocking(&state, move |s| {
        s.set_maintenance(on.then_some(crate::store::DEFAULT_RETRY_AFTER))
    })
    .await
    .map_err(|e| {
        PageError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Maintenance mode was not changed: {}", e.message),
        )
    })?;
    log::info!(
        "web: {} turned maintenance {}",
        viewer.user.login,
        if form.on { "on" } else { "off" }
    );
    Ok(Redirect::to("/admin/users").into_response())
}

async fn reports_page(
    State(state): State<Shared>,
    Admin(viewer): Admin,
) -> Result<Html<String>, PageError> {
    let reports = blocking(&state, |s| s.reports()).await?;
    let body = html! {
        h1 { "Problem reports" }
        (nav())
        @if reports.is_empty() { p { "No reports." } }
        table.contracts {
            tbody {
                @for r in reports.iter().take(LIST_CAP) {
                    tr {
                        td { (r.received_at.format("%-d %b %Y %H:%M UTC")) br; span.muted { (r.login) } }
                        td {
                            (r.report.description)
                            @if let Some(c) = &r.report.contract_id { br; span.muted { "contract " (c) } }
                        }
                        td {
                            @if r.logs_zip_bytes.is_some() {
                                a href={ "/admin/reports/" (r.report.id) "/logs.zip" } { "logs (zip)" }
                            } @else { "no logs" }
                        }
                    }
                }
            }
        }
        (more_note(reports.len(), "reports (the oldest)", "the command line lists them all: timecard-server report list"))
    };
    Ok(layout("Problem reports", Some(&viewer.header()), body))
}

async fn report_logs(
    State(state): State<Shared>,
    Admin(_): Admin,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lookup = id.clone();
    let (_, zip) = blocking(&state, move |s| s.report(&lookup))
        .await?
        .ok_or_else(not_found)?;
    let zip = zip.ok_or_else(not_found)?;
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"report-{name}-logs.zip\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        zip,
    )
        .into_response())
}
