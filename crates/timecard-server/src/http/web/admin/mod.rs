//! R10, R11: `/admin/…`: what the `timecard-server` admin commands do, in
//! the browser, for admins only (anyone else gets the same 404 as for a
//! page that does not exist): users, contracts, maintenance mode, problem
//! reports. Every form is checked on the server and, when something is
//! wrong, comes back with what was typed and the problem beside its field;
//! a save says what changed; what cannot be undone asks first.

mod contracts;
mod users;

use axum::Router;

use crate::http::guards::pages_gate;
use axum::extract::{Form, FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{LIST_CAP, PageError, Place, confirm_page, layout, more_note, not_found};
use super::viewer::Viewer;
use crate::http::state::{Shared, blocking};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/users") }))
        .route(
            "/admin/users",
            get(users::page)
                .layer(axum::middleware::from_fn(pages_gate))
                .post(users::add),
        )
        .route("/admin/users/{login}", post(users::change))
        .route(
            "/admin/contracts",
            get(contracts::list)
                .layer(axum::middleware::from_fn(pages_gate))
                .post(contracts::add),
        )
        .route(
            "/admin/contracts/new",
            get(contracts::new_form)
                .layer(axum::middleware::from_fn(pages_gate))
                .post(contracts::add),
        )
        .route(
            "/admin/contracts/{id}",
            get(contracts::edit_form)
                .layer(axum::middleware::from_fn(pages_gate))
                .post(contracts::change),
        )
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

/// The admin pages' own places, under the header.
fn nav(here: &str) -> Markup {
    html! {
        nav.sub aria-label="Admin" {
            @for (href, name) in [
                ("/admin/users", "Users"),
                ("/admin/contracts", "Contracts"),
                ("/admin/reports", "Problem reports"),
                ("/admin/invite", "Invite"),
                ("/settings/webhooks", "Webhooks"),
            ] {
                a href=(href) aria-current=[(href == here).then_some("page")] { (name) }
            }
        }
    }
}

/// What the last action did, or why it did not happen, said at the top of
/// the page it returns to.
enum Notice {
    Done(String),
    Problem(String),
}

impl maud::Render for Notice {
    fn render(&self) -> Markup {
        match self {
            Notice::Done(text) => html! { p.notice.done role="status" { (text) } },
            Notice::Problem(text) => html! { p.notice.problem role="alert" { (text) } },
        }
    }
}

/// The problems of a form sent back, by field.
#[derive(Default)]
struct Problems(Vec<(&'static str, String)>);

impl Problems {
    fn add(&mut self, field: &'static str, text: impl Into<String>) {
        let text = text.into();
        // The rules' words start lower-case; beside a field they are a sentence.
        let mut chars = text.chars();
        let text = match chars.next() {
            Some(first) => format!("{}{}", first.to_uppercase(), chars.as_str()),
            None => text,
        };
        self.0.push((field, text));
    }

    fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, text)| text.as_str())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The summary at the top of a form sent back.
    fn summary(&self) -> Markup {
        html! {
            @if !self.is_empty() {
                div.notice.problem role="alert" {
                    p { "Nothing was saved. "
                        @if self.0.len() == 1 { "One field needs a change:" }
                        @else { (self.0.len()) " fields need a change:" } }
                    ul { @for (field, text) in &self.0 {
                        li { a href={ "#f-" (field) } { (text) } }
                    } }
                }
            }
        }
    }

    /// The problem under a field, tied to it for screen readers.
    fn under(&self, field: &str) -> Markup {
        html! {
            @if let Some(text) = self.of(field) {
                span.field-problem id={ "f-" (field) "-problem" } { (text) }
            }
        }
    }

    /// `aria-describedby` of a field with a problem.
    fn described(&self, field: &str) -> Option<String> {
        self.of(field).map(|_| format!("f-{field}-problem"))
    }
}

/// A text field with its label and, sent back, its problem.
fn text_field(
    problems: &Problems,
    field: &'static str,
    label: &str,
    value: &str,
    attrs: FieldAttrs,
) -> Markup {
    html! {
        div.field {
            label for={ "f-" (field) } { (label) }
            input id={ "f-" (field) } type=(attrs.kind) name=(field) value=(value)
                required[attrs.required] maxlength=[attrs.max] inputmode=[attrs.inputmode]
                placeholder=[attrs.placeholder]
                aria-invalid=[problems.of(field).map(|_| "true")]
                aria-describedby=[problems.described(field)];
            @if let Some(hint) = attrs.hint { span.hint { (hint) } }
            (problems.under(field))
        }
    }
}

#[derive(Clone, Copy)]
struct FieldAttrs {
    kind: &'static str,
    required: bool,
    max: Option<u32>,
    inputmode: Option<&'static str>,
    placeholder: Option<&'static str>,
    hint: Option<&'static str>,
}

impl Default for FieldAttrs {
    fn default() -> Self {
        FieldAttrs {
            kind: "text",
            required: false,
            max: Some(200),
            inputmode: None,
            placeholder: None,
            hint: None,
        }
    }
}

#[derive(Deserialize)]
struct MaintenanceForm {
    csrf: String,
    on: bool,
    confirm: Option<String>,
}

async fn maintenance(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Form(form): Form<MaintenanceForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let on = form.on;
    if on && form.confirm.as_deref() != Some("yes") {
        return Ok(confirm_page(
            &viewer.header(),
            "Turn maintenance mode on?",
            html! {
                p { "The app's API will answer 503 to every freelancer until you turn it off: \
                     apps keep tracking and cache their time, but upload nothing and sign nobody in. \
                     These pages stay up." }
            },
            "/admin/maintenance",
            &[("on", "true")],
            "Turn maintenance on",
            "/admin/users",
        )
        .into_response());
    }
    blocking(&state, move |s| {
        s.set_maintenance(on.then_some(crate::store::DEFAULT_RETRY_AFTER))
    })
    .await
    .map_err(|e| {
        PageError(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("Maintenance mode was not changed: {}", e.message),
        )
    })?;
    log::info!(
        "web: {} turned maintenance {}",
        viewer.user.login,
        if form.on { "on" } else { "off" }
    );
    let done = if on {
        "maintenance-on"
    } else {
        "maintenance-off"
    };
    Ok(Redirect::to(&format!("/admin/users?done={done}")).into_response())
}

async fn reports_page(
    State(state): State<Shared>,
    Admin(viewer): Admin,
) -> Result<Html<String>, PageError> {
    let reports = blocking(&state, |s| s.reports()).await?;
    let body = html! {
        h1 { "Problem reports" }
        (nav("/admin/reports"))
        @if reports.is_empty() { p { "No reports." } }
        table.contracts {
            thead { tr {
                th scope="col" { "Received" }
                th scope="col" { "Report" }
                th scope="col" { "Logs" }
            } }
            tbody {
                @for r in reports.iter().take(LIST_CAP) {
                    tr {
                        td data-label="Received" { (r.received_at.format("%-d %b %Y %H:%M UTC")) br; span.muted { (r.login) } }
                        td data-label="Report" {
                            (r.report.description)
                            @if let Some(c) = &r.report.contract_id { br; span.muted { "contract " (c) } }
                        }
                        td data-label="Logs" {
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
    Ok(layout(
        "Problem reports",
        Some(&viewer.header().at(Place::Admin)),
        body,
    ))
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
