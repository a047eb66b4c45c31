//! M3, M4: the pages of one-time links. An admin invites someone by
//! e-mail (`/admin/invite`, also a small form on the users page); the
//! invitee follows `/invite/{token}` and chooses a password. "Forgot your
//! password?" (`/forgot`) mails a link to `/reset/{token}`, which sets a
//! new one and ends every session. Forms before sign-in carry the sign-in
//! form's CSRF cookie (R4); the token in the address is the rest of the
//! proof.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{PageError, layout};
use super::viewer::{LOGIN_CSRF_COOKIE, Viewer, cookie, csrf_for, same};
use crate::auth;
use crate::http::middleware::ClientAddr;
use crate::http::state::Shared;
use crate::store::{LinkPurpose, Role};
use crate::usecases::{self, Refusal, invite, password_reset};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/invite", get(invite_page).post(invite_someone))
        .route("/admin/email", axum::routing::post(set_email))
        .route(
            "/invite/{token}",
            get(invited_page).post(invited_sets_password),
        )
        .route("/forgot", get(forgot_page).post(forgot))
        .route("/reset/{token}", get(reset_page).post(reset_sets_password))
}

/// A page before sign-in with a fresh CSRF cookie (as the sign-in form's).
fn public_page(status: StatusCode, title: &str, body: impl FnOnce(&str) -> Markup) -> Response {
    let secret = auth::new_token();
    let page = layout(title, None, body(&csrf_for(&secret)));
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={secret}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600"
    );
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

fn public_csrf_ok(headers: &HeaderMap, sent: &str) -> bool {
    cookie(headers, LOGIN_CSRF_COOKIE)
        .map(csrf_for)
        .is_some_and(|e| same(&e, sent))
}

/// Runs a use case on a blocking thread (hashing, the store).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, PageError> {
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

fn role_options() -> Markup {
    html! {
        @for role in [Role::Freelancer, Role::Client, Role::Admin] {
            option value=(role.as_str()) { (role.as_str()) }
        }
    }
}

/// The invitation form, as the users page shows it too.
pub fn invite_form(csrf: &str) -> Markup {
    html! {
        form.signin method="post" action="/admin/invite" {
            input type="hidden" name="csrf" value=(csrf);
            label for="invite-email" { "E-mail address (becomes the login)" }
            input #invite-email type="email" name="email" required maxlength="64";
            label for="invite-role" { "Role" }
            select #invite-role name="role" { (role_options()) }
            label for="invite-contracts" { "Contracts to review (ids, for a client; optional)" }
            input #invite-contracts type="text" name="contracts" maxlength="1000";
            button type="submit" { "Invite" }
        }
    }
}

async fn invite_page(viewer: Viewer) -> Result<Html<String>, PageError> {
    if !viewer.is_admin() {
        return Err(super::layout::not_found());
    }
    Ok(layout(
        "Invite",
        Some(&viewer.header()),
        html! {
            h1 { "Invite someone" }
            (invite_form(&viewer.csrf()))
            h2 #email { "Change someone's e-mail address" }
            form.signin method="post" action="/admin/email" {
                input type="hidden" name="csrf" value=(viewer.csrf());
                label for="email-login" { "Login" }
                input #email-login type="text" name="login" required maxlength="64";
                label for="email-address" { "E-mail address (empty: none)" }
                input #email-address type="email" name="email" maxlength="64";
                button type="submit" { "Set the address" }
            }
            p { a href="/admin/users" { "Back to the users" } }
        },
    ))
}

#[derive(Deserialize)]
struct EmailForm {
    csrf: String,
    login: String,
    #[serde(default)]
    email: String,
}

/// M5: an admin sets where a user's mail goes.
async fn set_email(
    State(state): State<Shared>,
    viewer: Viewer,
    Form(form): Form<EmailForm>,
) -> Result<Response, PageError> {
    if !viewer.is_admin() {
        return Err(super::layout::not_found());
    }
    viewer.check_csrf(&form.csrf)?;
    let store = state.store.clone();
    let login = form.login.trim().to_owned();
    blocking(move || {
        let email = match form.email.trim() {
            "" => None,
            text => Some(invite::check_address(text)?),
        };
        Ok(store.set_email(&login, email.as_deref())?)
    })
    .await?;
    log::info!(
        "web: {} changed the e-mail address of {}",
        viewer.user.login,
        form.login.trim()
    );
    Ok(axum::response::Redirect::to("/admin/users").into_response())
}

#[derive(Deserialize)]
struct InviteForm {
    csrf: String,
    email: String,
    role: String,
    #[serde(default)]
    contracts: String,
}

async fn invite_someone(
    State(state): State<Shared>,
    viewer: Viewer,
    Form(form): Form<InviteForm>,
) -> Result<Html<String>, PageError> {
    if !viewer.is_admin() {
        return Err(super::layout::not_found());
    }
    viewer.check_csrf(&form.csrf)?;
    let role = match form.role.as_str() {
        "freelancer" => Role::Freelancer,
        "client" => Role::Client,
        "admin" => Role::Admin,
        _ => return Err(PageError(StatusCode::BAD_REQUEST, "Unknown role.".into())),
    };
    let contracts: Vec<String> = form
        .contracts
        .split([',', ' '])
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let (store, mail, now, by) = (
        state.store.clone(),
        state.mail.clone(),
        state.clock.now(),
        viewer.user.login.clone(),
    );
    let made = blocking(move || {
        invite::invite(
            store.as_ref(),
            &mail,
            &form.email,
            role,
            &contracts,
            &by,
            now,
        )
    })
    .await?;
    Ok(layout(
        "Invited",
        Some(&viewer.header()),
        html! {
            h1 { "Invited " (made.login) }
            @if made.mailed {
                p { "The invitation is on its way to " (made.login) ": a link to choose a password, good for "
                    (invite::INVITATION_DAYS) " days." }
            } @else {
                p { "This server sends no mail. Give " (made.login) " this link (it works once, for "
                    (invite::INVITATION_DAYS) " days):" }
                p { code.password #invitation-link { (made.link) } }
            }
            p { a href="/admin/users" { "Back to the users" } }
        },
    ))
}

/// The form that chooses a password through a link.
fn password_form(title: &str, intro: Markup, action: &str, error: Option<&str>) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    public_page(status, title, |csrf| {
        html! {
            h1 { (title) }
            (intro)
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.signin method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                label for="password" { "New password (at least " (auth::MIN_PASSWORD_CHARS) " characters)" }
                input #password type="password" name="password" autocomplete="new-password" required
                    minlength=(auth::MIN_PASSWORD_CHARS) maxlength=(auth::MAX_PASSWORD_CHARS);
                label for="again" { "The same again" }
                input #again type="password" name="again" autocomplete="new-password" required;
                button type="submit" { "Set the password" }
            }
        }
    })
}

fn link_gone() -> Response {
    public_page(StatusCode::NOT_FOUND, "Link expired", |_| {
        html! {
            h1 { "This link no longer works" }
            p { "It has expired or was used already. Ask for a new one: "
                a href="/forgot" { "Forgot your password?" } }
        }
    })
}

async fn link_page(
    state: Shared,
    token: String,
    purpose: LinkPurpose,
) -> Result<Response, PageError> {
    let (store, now) = (state.store.clone(), state.clock.now());
    let lookup = token.clone();
    let user = blocking(move || invite::pending(store.as_ref(), &lookup, purpose, now)).await?;
    let Some(user) = user else {
        return Ok(link_gone());
    };
    let (title, path) = match purpose {
        LinkPurpose::Invitation => ("Welcome to Timecard", "invite"),
        LinkPurpose::Reset => ("Choose a new password", "reset"),
    };
    let intro = html! { p { "For the account " strong { (user.login) } "." } };
    Ok(password_form(
        title,
        intro,
        &format!("/{path}/{token}"),
        None,
    ))
}

async fn invited_page(
    State(state): State<Shared>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    link_page(state, token, LinkPurpose::Invitation).await
}

async fn reset_page(
    State(state): State<Shared>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    link_page(state, token, LinkPurpose::Reset).await
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    password: String,
    again: String,
}

async fn set_through_link(
    state: Shared,
    token: String,
    purpose: LinkPurpose,
    headers: HeaderMap,
    form: PasswordForm,
) -> Result<Response, PageError> {
    let path = match purpose {
        LinkPurpose::Invitation => "invite",
        LinkPurpose::Reset => "reset",
    };
    let action = format!("/{path}/{token}");
    let again = |why: &str| password_form("Choose a password", html! {}, &action, Some(why));
    if !public_csrf_ok(&headers, &form.csrf) {
        return Ok(again("The form had expired; try again."));
    }
    if form.password != form.again {
        return Ok(again("The two passwords differ."));
    }
    let (store, now) = (state.store.clone(), state.clock.now());
    let done = tokio::task::spawn_blocking(move || {
        invite::set_password(store.as_ref(), &token, purpose, &form.password, now)
    })
    .await
    .map_err(|_| {
        PageError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Nothing was changed.".into(),
        )
    })?;
    match done {
        Ok(user) => Ok(public_page(StatusCode::OK, "Password set", |_| {
            html! {
                h1 { "Your password is set" }
                p { "Sign in with " strong #signin-login { (user.login) } " and your new password." }
                p { a href="/login" { "Sign in" } }
            }
        })),
        Err(Refusal::NotFound(_)) => Ok(link_gone()),
        Err(Refusal::Invalid(why)) => Ok(again(&PageError::from(Refusal::Invalid(why)).1)),
        Err(other) => Err(other.into()),
    }
}

async fn invited_sets_password(
    State(state): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    set_through_link(state, token, LinkPurpose::Invitation, headers, form).await
}

async fn reset_sets_password(
    State(state): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    set_through_link(state, token, LinkPurpose::Reset, headers, form).await
}

/// The words `/forgot` answers every request with (M4).
pub const FORGOT_ANSWER: &str = "If that is an account with an e-mail address, a link to choose a new password is on its way there. It works once, for an hour.";

fn forgot_form(state: &Shared, status: StatusCode, note: Option<&str>) -> Response {
    let sending = state.mail.sending;
    public_page(status, "Forgot your password?", |csrf| {
        html! {
            h1 { "Forgot your password?" }
            @if let Some(note) = note {
                p.notice role="status" { (note) }
            }
            @if sending {
                form.signin method="post" action="/forgot" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="login" { "Username or e-mail" }
                    input #login type="text" name="login" autocomplete="username" required maxlength="256";
                    button type="submit" { "Mail me a link" }
                }
            } @else {
                p { "This server sends no e-mail: ask its administrator for a new password." }
            }
            p { a href="/login" { "Back to sign-in" } }
        }
    })
}

async fn forgot_page(State(state): State<Shared>) -> Response {
    forgot_form(&state, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct ForgotForm {
    csrf: String,
    login: String,
}

async fn forgot(
    State(state): State<Shared>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PageError> {
    if !public_csrf_ok(&headers, &form.csrf) {
        return Ok(forgot_form(
            &state,
            StatusCode::FORBIDDEN,
            Some("The form had expired; try again."),
        ));
    }
    let (store, mail, now) = (state.store.clone(), state.mail.clone(), state.clock.now());
    let asked = tokio::task::spawn_blocking(move || {
        password_reset::request(store.as_ref(), &mail, ip, &form.login, now)
    })
    .await
    .map_err(|_| {
        PageError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Nothing was sent.".into(),
        )
    })?;
    match asked {
        Ok(()) => Ok(forgot_form(&state, StatusCode::OK, Some(FORGOT_ANSWER))),
        Err(refusal @ usecases::Refusal::TooManyAttempts(_)) => {
            let e = crate::http::error::ApiError::from(refusal);
            Ok(forgot_form(&state, e.status, Some(&e.message)))
        }
        Err(other) => Err(other.into()),
    }
}
