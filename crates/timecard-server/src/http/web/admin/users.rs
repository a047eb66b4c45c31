//! `/admin/users`: who may sign in, with which role; maintenance mode.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::{Admin, FieldAttrs, Notice, Problems, confirm_page, nav, text_field};
use crate::auth;
use crate::http::middleware::maintenance_mode;
use crate::http::state::{Shared, blocking};
use crate::http::web::layout::{LIST_CAP, PageError, Place, layout, more_note, urlencode};
use crate::http::web::viewer::Viewer;
use crate::rules;
use crate::store::Role;
use crate::usecases::{self, Refusal};

/// What the page was sent back with after an action (`?done=…&user=…`):
/// only these words can appear, whatever the address says.
#[derive(Deserialize, Default)]
pub(super) struct Done {
    done: Option<String>,
    user: Option<String>,
}

impl Done {
    fn notice(&self) -> Option<Notice> {
        let who = self.user.as_deref().unwrap_or("The user");
        let text = match self.done.as_deref()? {
            "role" => format!("{who}'s role is changed."),
            "disable" => {
                format!("{who} is disabled: signing in is refused and every session has ended.")
            }
            "enable" => format!("{who} can sign in again."),
            "sign-out" => format!("Every session of {who} has ended."),
            "maintenance-on" => "Maintenance mode is on: the app's API answers 503.".into(),
            "maintenance-off" => "Maintenance mode is off: the apps upload again.".into(),
            _ => return None,
        };
        Some(Notice::Done(text))
    }
}

/// The add-a-user form as typed.
#[derive(Deserialize, Default)]
pub(super) struct NewUser {
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub(super) async fn page(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Query(done): Query<Done>,
) -> Result<Html<String>, PageError> {
    render(
        &state,
        &viewer,
        done.notice(),
        &NewUser::default(),
        &Problems::default(),
    )
    .await
}

async fn render(
    state: &Shared,
    viewer: &Viewer,
    notice: Option<Notice>,
    typed: &NewUser,
    problems: &Problems,
) -> Result<Html<String>, PageError> {
    let now = state.clock.now();
    let users = blocking(state, move |s| s.users(now)).await?;
    let maintenance = maintenance_mode(state).await.is_some();
    let csrf = viewer.csrf();
    let typed_role = parse_role(&typed.role).unwrap_or(Role::Freelancer);
    let body = html! {
        h1 { "Users" }
        (nav("/admin/users"))
        @if let Some(notice) = &notice { (notice) }
        form.inline.maintenance method="post" action="/admin/maintenance" {
            input type="hidden" name="csrf" value=(csrf);
            @if maintenance {
                strong { "Maintenance mode is on: the app's API answers 503. " }
                input type="hidden" name="on" value="false";
                button type="submit" { "Turn maintenance off" }
            } @else {
                span.muted { "Maintenance mode is off. " }
                input type="hidden" name="on" value="true";
                button.danger type="submit" { "Turn maintenance on…" }
            }
        }
        table.contracts.users {
            caption.hidden { "Users, their roles and what an admin can do to each" }
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
                    @let me = u.login == viewer.user.login;
                    tr id={ "u-" (urlencode(&u.login)) } {
                        th scope="row" data-label="User" {
                            (u.login) @if me { " (you)" }
                            @if let Some(email) = &u.email { br; span.muted { (email) } }
                        }
                        td data-label="Role" {
                            form.inline method="post" action=(action) {
                                input type="hidden" name="csrf" value=(csrf);
                                label.hidden for={ "role-" (u.login) } { "Role of " (u.login) }
                                select id={ "role-" (u.login) } name="role" { (role_options(u.role)) }
                                button.secondary type="submit" name="do" value="role" { "Set" span.hidden { " the role of " (u.login) } }
                            }
                        }
                        td data-label="State" { @if u.disabled_at.is_some() { "disabled" } @else { "active" } }
                        td data-label="Sessions" { (u.sessions) }
                        td data-label="Contracts" { (u.contracts) }
                        td data-label="Actions" {
                            form.inline.actions method="post" action=(action) {
                                input type="hidden" name="csrf" value=(csrf);
                                @if u.disabled_at.is_some() {
                                    button.secondary type="submit" name="do" value="enable" { "Enable" span.hidden { " " (u.login) } }
                                } @else {
                                    button.danger type="submit" name="do" value="disable" { "Disable…" span.hidden { " " (u.login) } }
                                }
                                button.danger type="submit" name="do" value="sign-out" { "Sign out everywhere…" span.hidden { " " (u.login) } }
                                button.danger type="submit" name="do" value="password" { "New password…" span.hidden { " for " (u.login) } }
                            }
                        }
                    }
                }
            }
        }
        (more_note(users.len(), "users", "the command line lists them all: timecard-server user list"))
        h2 #add { "Add a user" }
        (problems.summary())
        form.signin method="post" action="/admin/users#add" {
            input type="hidden" name="csrf" value=(csrf);
            (text_field(problems, "login", "Login", &typed.login, FieldAttrs { required: true, max: Some(64), hint: Some("One word; they sign in with it."), ..FieldAttrs::default() }))
            (text_field(problems, "email", "E-mail (optional)", &typed.email, FieldAttrs { kind: "email", ..FieldAttrs::default() }))
            div.field {
                label for="f-role" { "Role" }
                select #f-role name="role" { (role_options(typed_role)) }
            }
            button type="submit" { "Add the user" }
        }
        p.muted { "A new user gets a random password, shown once." }
        h2 #invite { "Invite by e-mail" }
        (crate::http::web::invite::invite_form(&csrf))
    };
    Ok(layout(
        "Users",
        Some(&viewer.header().at(Place::Admin)),
        body,
    ))
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

/// A page that shows a new password once.
fn password_page(viewer: &Viewer, login: &str, password: &str) -> Html<String> {
    layout(
        "New password",
        Some(&viewer.header().at(Place::Admin)),
        html! {
            h1 { "Password of " (login) }
            p role="status" { "Give it to " (login) " now: it is not shown again." }
            p { code.password { (password) } }
            p { a href="/admin/users" { "Back to the users" } }
        },
    )
}

pub(super) async fn add(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Form(form): Form<NewUser>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let mut problems = Problems::default();
    let role = parse_role(&form.role).unwrap_or_else(|_| {
        problems.add("role", "choose a role");
        Role::Freelancer
    });
    let login = form.login.trim().to_owned();
    let email = Some(form.email.trim().to_owned()).filter(|e| !e.is_empty());
    if let Some(problem) = rules::user_problem(&login, None) {
        problems.add("login", problem);
    }
    if let Some(email) = &email
        && let Some(problem) = rules::user_problem("x", Some(email))
    {
        problems.add("email", problem);
    }
    if problems.is_empty() {
        let password = auth::new_token()[..16].to_owned();
        let hash = auth::hash_password(&password);
        let added = login.clone();
        let stored = blocking(&state, move |s| {
            s.add_user(&added, email.as_deref(), &hash)?;
            s.set_role(&added, role)
        })
        .await;
        match stored {
            Ok(()) => {
                log::info!(
                    "web: {} added the user {login} ({})",
                    viewer.user.login,
                    role.as_str()
                );
                return Ok(password_page(&viewer, &login, &password).into_response());
            }
            Err(e) if e.status == StatusCode::CONFLICT => {
                problems.add("login", format!("there is already a user called {login}"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let page = render(&state, &viewer, None, &form, &problems).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Deserialize)]
pub(super) struct UserChange {
    csrf: String,
    #[serde(rename = "do")]
    action: String,
    role: Option<String>,
    confirm: Option<String>,
}

pub(super) async fn change(
    State(state): State<Shared>,
    Admin(viewer): Admin,
    Path(login): Path<String>,
    Form(form): Form<UserChange>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let now = state.clock.now();
    let confirmed = form.confirm.as_deref() == Some("yes");
    let action = format!("/admin/users/{}", urlencode(&login));
    let ask = |title: String, words: String, button: String| {
        Ok(confirm_page(
            &viewer.header(),
            &title,
            html! { p { (words) } },
            &action,
            &[("do", form.action.as_str())],
            &button,
            "/admin/users",
        )
        .into_response())
    };
    let yourself = login == viewer.user.login;
    let who = login.clone();
    let store = state.store.clone();
    let done = match form.action.as_str() {
        "role" => {
            let role = parse_role(form.role.as_deref().unwrap_or_default())?;
            spawn(move || usecases::users::set_role(store.as_ref(), &who, role)).await
        }
        "disable" if !confirmed => {
            return ask(
                format!("Disable {login}?"),
                if yourself {
                    "You will be signed out at once and cannot sign in again until another admin enables you.".into()
                } else {
                    format!(
                        "{login} will be signed out everywhere and cannot sign in until an admin enables them again. Their time and contracts are kept."
                    )
                },
                format!("Disable {login}"),
            );
        }
        "disable" => {
            spawn(move || usecases::users::set_disabled(store.as_ref(), &who, Some(now))).await
        }
        "enable" => spawn(move || usecases::users::set_disabled(store.as_ref(), &who, None)).await,
        "sign-out" if !confirmed => {
            return ask(
                format!("Sign {login} out everywhere?"),
                format!(
                    "Every session of {login} ends: the app and every browser must sign in again. Time the app has cached is kept and uploaded after signing in."
                ),
                "Sign out everywhere".into(),
            );
        }
        "sign-out" => blocking(&state, move |s| s.revoke_sessions(&who))
            .await
            .map(|_| ())
            .map_err(PageError::from),
        "password" if !confirmed => {
            return ask(
                format!("A new password for {login}?"),
                format!(
                    "{login}'s password is replaced by a random one, shown once, and every session of theirs ends."
                ),
                "Make a new password".into(),
            );
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
    };
    match done {
        Ok(()) => {
            log::info!(
                "web: {} did {} on the user {login}",
                viewer.user.login,
                form.action
            );
            Ok(Redirect::to(&format!(
                "/admin/users?done={}&user={}#u-{}",
                form.action,
                urlencode(&login),
                urlencode(&login)
            ))
            .into_response())
        }
        Err(PageError(status, words)) => {
            let page = render(
                &state,
                &viewer,
                Some(Notice::Problem(words)),
                &NewUser::default(),
                &Problems::default(),
            )
            .await?;
            Ok((status, page).into_response())
        }
    }
}

/// A use case on the blocking pool, its refusal as a page's words.
async fn spawn(f: impl FnOnce() -> Result<(), Refusal> + Send + 'static) -> Result<(), PageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            PageError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Nothing was changed.".into(),
            )
        })?
        .map_err(PageError::from)
}
