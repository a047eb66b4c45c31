//! The web dashboard, for the people who pay and the people who run the
//! server: server-rendered pages on the API's TLS listener, outside
//! `/api/v1`. Pages read through the same store and rules as the API; no
//! rule is written again here.
//!
//! Sessions are the API's (a token in the `tokens` table), carried in a
//! `__Host-` cookie that scripts cannot read and other sites do not send.
//! Every form that changes something carries a CSRF token derived from the
//! session (or, on the sign-in form, from a cookie set with the form), and
//! is refused without it. Every page says what the browser may load:
//! nothing from elsewhere and no inline script.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Form, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::api::{ApiError, ClientAddr, Guards, Shared, add_manual_time, blocking, open_session};
use super::auth;
use super::rules::{
    self, Dispute, ReviewAction, ReviewEvent, Reviewer, StoredContract, WeekReview,
};
use super::store::{Picture, Role, User};
use timecard_core::domain::{BillingWeek, LocalDay, SegmentId};
use timecard_core::fmt::hms;
use timecard_core::protocol::DiarySegment;

mod admin;

/// The session cookie: `__Host-` means Secure, Path=/ and no Domain.
const SESSION_COOKIE: &str = "__Host-timecard";
/// The sign-in form's CSRF cookie (there is no session yet to derive from).
const LOGIN_CSRF_COOKIE: &str = "__Host-timecard-login";

/// The dashboard's routes, merged into the API's router.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/contracts") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/contracts", get(contracts_page))
        .route("/contracts/{id}/diary", get(diary_page))
        .route("/contracts/{id}/timesheet", get(timesheet_page))
        .route("/contracts/{id}/timesheet.csv", get(timesheet_csv))
        .route("/contracts/{id}/statement", get(statement_page))
        .route("/contracts/{id}/weeks/{monday}/approve", post(approve_week))
        .route("/contracts/{id}/manual", post(add_manual))
        .route(
            "/contracts/{id}/segments/{segment}/dispute",
            post(dispute_segment),
        )
        .route(
            "/contracts/{id}/segments/{segment}/answer",
            post(answer_dispute),
        )
        .route(
            "/contracts/{id}/segments/{segment}/decide",
            post(decide_dispute),
        )
        .route(
            "/contracts/{id}/segments/{segment}/screenshot",
            get(screenshot),
        )
        .route(
            "/contracts/{id}/segments/{segment}/thumbnail",
            get(thumbnail),
        )
        .route("/static/dashboard.css", get(stylesheet))
        .route("/static/zone.js", get(zone_script))
        .merge(admin::routes())
}

/// Headers on every response: HTTPS only from now on; and on pages,
/// nothing loaded from elsewhere, no inline script, no framing.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; \
                 form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

/// Someone signed in through the web, with their session token (for the
/// CSRF token of their forms).
struct Viewer {
    user: User,
    token: String,
}

impl Viewer {
    fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    fn may_view(&self, contract: &StoredContract) -> bool {
        rules::may_view(self.user.id, self.is_admin(), contract)
    }

    fn csrf(&self) -> String {
        csrf_for(&self.token)
    }
}

/// The CSRF token of a session: derived from the session's secret, so it
/// needs no storage and is worthless without the cookie.
fn csrf_for(secret: &str) -> String {
    auth::token_hash(&format!("csrf:{secret}"))[..32].to_owned()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A page that needs a session sends the browser to the sign-in page.
struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<Shared> for Viewer {
    type Rejection = SignInFirst;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, SignInFirst> {
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .filter(|t| t.len() <= 128)
            .ok_or(SignInFirst)?
            .to_owned();
        let hash = auth::token_hash(&token);
        let now = state.clock.now();
        let user = blocking(state, move |s| s.token_user(&hash, now))
            .await
            .map_err(|_| SignInFirst)?
            .ok_or(SignInFirst)?;
        Ok(Viewer { user, token })
    }
}

/// A page's answer when something is wrong: the status and a page that
/// says what, in words.
struct PageError(StatusCode, String);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e.status, e.message)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.0.canonical_reason().unwrap_or("Error");
        let page = layout(
            title,
            None,
            html! {
                h1 { (title) }
                p { (self.1) }
                p { a href="/contracts" { "Back to the contracts" } }
            },
        );
        (self.0, page).into_response()
    }
}

fn not_found() -> PageError {
    PageError(
        StatusCode::NOT_FOUND,
        "There is no such page, or it is not yours to see.".into(),
    )
}

/// A whole page: the header with who is signed in, and `body`.
fn layout(title: &str, viewer: Option<&Viewer>, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · Timecard" }
                    link rel="stylesheet" href="/static/dashboard.css";
                    script src="/static/zone.js" defer {}
                }
                body {
                    header {
                        a.brand href="/contracts" { "Timecard" }
                        @if let Some(viewer) = viewer {
                            @if viewer.is_admin() { a.admin href="/admin" { "Admin" } }
                            span.who { (viewer.user.login) " · " (viewer.user.role.as_str()) }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(viewer.csrf());
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                    main { (body) }
                }
            }
        }
        .into_string(),
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("web/dashboard.css"),
    )
}

async fn zone_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("web/zone.js"),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
    csrf: String,
}

async fn login_page() -> Response {
    login_form(StatusCode::OK, None)
}

/// The sign-in form with a fresh CSRF cookie, and `error` above it.
fn login_form(status: StatusCode, error: Option<&str>) -> Response {
    let secret = auth::new_token();
    let page = layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.signin method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf_for(&secret));
                label for="login" { "Username or e-mail" }
                input #login type="text" name="login" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    );
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={secret}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600"
    );
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

async fn login(
    State(state): State<Shared>,
    Extension(guards): Extension<Arc<Guards>>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).map(csrf_for);
    if !expected.is_some_and(|e| same(&e, &form.csrf)) {
        return login_form(
            StatusCode::FORBIDDEN,
            Some("The form had expired; sign in again."),
        );
    }
    match web_session(&state, &guards, ip, &form.login, form.password).await {
        Ok((token, expires_at)) => {
            let max_age = (expires_at - state.clock.now()).num_seconds().max(0);
            let session = format!(
                "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
            );
            let used = format!("{LOGIN_CSRF_COOKIE}=; Path=/; Secure; HttpOnly; Max-Age=0");
            let mut response = Redirect::to("/contracts").into_response();
            let headers = response.headers_mut();
            for value in [session, used] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(e) => login_form(e.status, Some(&e.message)),
    }
}

async fn web_session(
    state: &Shared,
    guards: &Guards,
    ip: IpAddr,
    login: &str,
    password: String,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let (_, token, expires_at) = open_session(state, guards, ip, login, password).await?;
    Ok((token, expires_at))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<Shared>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&viewer, &form.csrf)?;
    let hash = auth::token_hash(&viewer.token);
    blocking(&state, move |s| s.remove_token(&hash)).await?;
    let clear = format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}

fn check_csrf(viewer: &Viewer, sent: &str) -> Result<(), PageError> {
    if same(&viewer.csrf(), sent) {
        Ok(())
    } else {
        Err(PageError(
            StatusCode::FORBIDDEN,
            "The form had expired or came from another site; nothing was changed. Go back, \
             reload the page and try again."
                .into(),
        ))
    }
}

/// Compares two tokens in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// One row of the contracts page.
struct ContractLine {
    stored: StoredContract,
    freelancer: String,
    client_user: Option<String>,
    week_secs: i64,
    last_activity: Option<DateTime<Utc>>,
    /// Billing weeks that ended, have time, and wait for the client's review.
    waiting: Vec<BillingWeek>,
}

async fn contracts_page(
    State(state): State<Shared>,
    viewer: Viewer,
) -> Result<Html<String>, PageError> {
    let now = state.clock.now();
    let week = BillingWeek::containing(now);
    let (viewer_id, admin) = (viewer.user.id, viewer.is_admin());
    let review_secs = state.review_secs;
    let lines = blocking(&state, move |s| {
        let mut lines = Vec::new();
        for stored in s.contracts(None)? {
            if !rules::may_view(viewer_id, admin, &stored) {
                continue;
            }
            let id = stored.contract.id.clone();
            lines.push(ContractLine {
                freelancer: s.login_of(stored.user_id)?,
                client_user: match stored.terms.client_user_id {
                    Some(id) => Some(s.login_of(id)?),
                    None => None,
                },
                week_secs: s.logged_secs(stored.user_id, &id, week.start(), week.end())?,
                last_activity: s.last_activity(stored.user_id, &id)?,
                waiting: {
                    let events = s.reviews(&id, None)?;
                    let mut waiting = Vec::new();
                    let mut w = BillingWeek::containing(week.start() - Duration::days(1));
                    while w.end() + Duration::seconds(review_secs) > now {
                        let in_review = matches!(
                            rules::week_review(w, now, review_secs, &events),
                            WeekReview::InReview { .. }
                        );
                        if in_review && s.logged_secs(stored.user_id, &id, w.start(), w.end())? > 0
                        {
                            waiting.push(w);
                        }
                        w = BillingWeek::containing(w.start() - Duration::days(1));
                    }
                    waiting
                },
                stored: StoredContract {
                    contract: rules::as_of(stored.contract, now),
                    ..stored
                },
            });
        }
        Ok(lines)
    })
    .await?;
    let body = html! {
        h1 { "Contracts" }
        p.muted { "This week: " (week.start().format("%a %-d %b")) " – "
            ((week.end() - Duration::days(1)).format("%a %-d %b %Y")) " (UTC)" }
        @if lines.is_empty() {
            p { "No contracts to show." }
        } @else {
            table.contracts {
                thead { tr {
                    th scope="col" { "Contract" }
                    th scope="col" { "Freelancer" }
                    th scope="col" { "Client" }
                    th scope="col" { "This week" }
                    th scope="col" { "Amount" }
                    th scope="col" { "Last activity" }
                } }
                tbody {
                    @for line in &lines {
                        (contract_row(line))
                    }
                }
            }
        }
    };
    Ok(layout("Contracts", Some(&viewer), body))
}

fn contract_row(line: &ContractLine) -> Markup {
    let c = &line.stored.contract;
    let hours = line.week_secs as f64 / 3600.0;
    html! {
        tr {
            td {
                a href={ "/contracts/" (c.id) "/diary" } { (c.title) }
                " · "
                a href={ "/contracts/" (c.id) "/timesheet" } { "timesheet" }
                @if !c.client.is_empty() { br; span.muted { (c.client) } }
                @if c.status != timecard_core::domain::ContractStatus::Active {
                    br; span.badge { (c.status.as_str()) }
                }
            }
            td { (line.freelancer) }
            td { (line.client_user.as_deref().unwrap_or("—")) }
            td {
                (hms(line.week_secs))
                @if let Some(limit) = c.weekly_limit_secs {
                    " of " (timecard_core::fmt::format_hours(limit))
                    br;
                    meter min="0" max=(limit) high=(limit * 9 / 10) value=(line.week_secs.min(limit))
                        aria-label={ "Hours this week against the weekly limit of " (timecard_core::fmt::format_hours(limit)) } {}
                }
            }
            td {
                @match &line.stored.terms.rate {
                    Some(rate) => { (money(hours * rate.cents as f64 / 100.0, &rate.currency)) br;
                        span.muted { "at " (money(rate.cents as f64 / 100.0, &rate.currency)) "/h" } }
                    None => { "—" }
                }
            }
            td {
                @match line.last_activity {
                    Some(at) => { (at.format("%-d %b %H:%M UTC")) }
                    None => { "never" }
                }
                @for w in &line.waiting {
                    br;
                    a.badge href={ "/contracts/" (c.id) "/timesheet?week=" (w.start().date_naive()) } {
                        "week of " (w.start().format("%-d %b")) " waits for review"
                    }
                }
            }
        }
    }
}

fn money(amount: f64, currency: &str) -> String {
    format!("{amount:.2} {currency}")
}

#[derive(Deserialize)]
struct DiaryQuery {
    date: Option<NaiveDate>,
    tz: Option<String>,
}

/// The contract `id` if the viewer may see it; otherwise the same "no such
/// page" as for a contract that does not exist.
async fn visible_contract(
    state: &Shared,
    viewer: &Viewer,
    id: String,
) -> Result<StoredContract, PageError> {
    let stored = blocking(state, move |s| s.contract(&id))
        .await?
        .ok_or_else(not_found)?;
    if viewer.may_view(&stored) {
        Ok(stored)
    } else {
        Err(not_found())
    }
}

/// The zone a page was asked for (`?tz=`), UTC when none.
fn page_zone(name: Option<&str>) -> Result<Tz, PageError> {
    match name {
        None | Some("") => Ok(chrono_tz::UTC),
        Some(name) => name.parse().map_err(|_| {
            PageError(
                StatusCode::BAD_REQUEST,
                format!("Unknown time zone {name:?}; use a name such as Europe/Berlin."),
            )
        }),
    }
}

async fn diary_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<DiaryQuery>,
) -> Result<Html<String>, PageError> {
    let stored = visible_contract(&state, &viewer, id).await?;
    let zone = page_zone(query.tz.as_deref())?;
    let now = state.clock.now();
    let date = query
        .date
        .unwrap_or_else(|| LocalDay::containing(now, zone).date);
    if !timecard_core::domain::segment::is_plausible_day(date) {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            format!("{date} is not a day this diary can show."),
        ));
    }
    let day = LocalDay::new(date, zone);
    let (from, to) = (day.start(), day.end());
    let (user_id, contract_id) = (stored.user_id, stored.contract.id.clone());
    let segments: Vec<DiarySegment> = blocking(&state, move |s| {
        Ok(s.segments_between(user_id, from, to)?
            .into_iter()
            .filter(|seg| seg.contract_id == contract_id)
            .collect())
    })
    .await?;
    let review = Review::load(&state, &viewer, &stored).await?;
    let total: i64 = segments
        .iter()
        .filter(|s| review.counts(s.id))
        .map(|s| (s.end.min(to) - s.start.max(from)).num_seconds().max(0))
        .sum();
    let c = &stored.contract;
    let base = format!("/contracts/{}", c.id);
    let back = Back { date, zone };
    let day_link = |d: NaiveDate| format!("{base}/diary?date={d}&tz={}", zone.name());
    let mut hours: Vec<i64> = segments
        .iter()
        .map(|s| local_hour(s.start.max(from), zone))
        .collect();
    hours.dedup();
    let body = html! {
        h1 { (c.title) }
        p.muted { "Work Diary · " (date.format("%A %-d %B %Y")) " · " (zone.name()) }
        nav.days {
            a href=(day_link(date.pred_opt().unwrap_or(date))) { "← Previous day" }
            a href=(day_link(date.succ_opt().unwrap_or(date))) { "Next day →" }
            form.inline method="get" action={ (base) "/diary" } {
                input type="hidden" name="date" value=(date);
                label for="tz" { "Time zone" }
                input #tz type="text" name="tz" value=(zone.name());
                button type="submit" { "Show" }
            }
        }
        p.total { "Day total: " strong { (hms(total)) } }
        @if segments.is_empty() {
            p { "No time on this day." }
        }
        @if stored.user_id == viewer.user.id && stored.terms.manual_time {
            details.manual {
                summary { "Add time by hand" }
                form.manual method="post" action={ (base) "/manual" } {
                    (back.fields(&review.csrf))
                    label for="from" { "From (" (zone.name()) ")" }
                    input #from type="time" name="from" required;
                    label for="to" { "To" }
                    input #to type="time" name="to" required;
                    label for="memo" { "What you worked on" }
                    input #memo type="text" name="memo" maxlength="2000";
                    button type="submit" { "Add" }
                }
            }
        }
        @for hour in &hours {
            section.hour {
                h2 { (format!("{hour:02}:00")) }
                div.cells {
                    @for minute in (0..60).step_by(10) {
                        div.heading { (format!(":{minute:02}")) }
                    }
                    @for slot in 0..6 {
                        @let found = segments.iter().find(|s| {
                            let start = s.start.max(from);
                            local_hour(start, zone) == *hour && local_minute(start, zone) / 10 == slot
                        });
                        (cell(&base, found, zone, &review, &back))
                    }
                }
            }
        }
    };
    Ok(layout(
        &format!("{} — Work Diary", c.title),
        Some(&viewer),
        body,
    ))
}

fn local_hour(t: DateTime<Utc>, zone: Tz) -> i64 {
    use chrono::Timelike;
    i64::from(t.with_timezone(&zone).hour())
}

fn local_minute(t: DateTime<Utc>, zone: Tz) -> i64 {
    use chrono::Timelike;
    i64::from(t.with_timezone(&zone).minute())
}

/// One ten-minute cell: its thumbnail (loaded when scrolled into view),
/// activity and memo, any dispute of it, and the review forms the viewer
/// may use on it; or an empty cell.
fn cell(
    base: &str,
    segment: Option<&DiarySegment>,
    zone: Tz,
    review: &Review,
    back: &Back,
) -> Markup {
    let Some(s) = segment else {
        return html! { div.cell.empty {} };
    };
    let active = (s.activity.0.count_ones() * 10).min(100);
    let when = format!(
        "{}–{}",
        s.start.with_timezone(&zone).format("%H:%M"),
        s.end.with_timezone(&zone).format("%H:%M")
    );
    let dispute = review.dispute(s.id);
    let week = review.week_of(s.start);
    let action = |what: &str| format!("{base}/segments/{}/{what}", s.id);
    let may = |action: ReviewAction| rules::may_review(review.who, action, week, dispute).is_ok();
    html! {
        div.cell.disputed[dispute.is_some_and(|d| d.decision.is_none())]
            .rejected[dispute.is_some_and(|d| !d.counts())] {
            @if s.manual {
                div.noshot { span.badge { "manual" } " added by hand" }
            } @else if s.has_screenshot {
                a href=(action("screenshot")) {
                    img src=(action("thumbnail")) loading="lazy"
                        width="160" height="90" alt={ "Screenshot " (when) };
                }
            } @else {
                div.noshot { (s.capture_note.as_deref().unwrap_or("no screenshot")) }
            }
            meter min="0" max="100" value=(active) aria-label={ "Activity " (active) " %" } {}
            div.time { (when) }
            @if !s.memo.is_empty() { div.memo { (s.memo) } }
            @if let Some(d) = dispute {
                div.dispute {
                    strong { @match d.decision {
                        None => "Disputed",
                        Some(ReviewAction::Reject) => "Rejected",
                        Some(_) => "Kept after a dispute",
                    } }
                    ": " (d.reason)
                    @if let Some(answer) = &d.answer { br; em { "Answer: " } (answer) }
                }
            }
            @if may(ReviewAction::Dispute) {
                form.review method="post" action=(action("dispute")) {
                    (back.fields(&review.csrf))
                    label for={ "reason-" (s.id) } { "Reason" }
                    input id={ "reason-" (s.id) } type="text" name="note" required maxlength="500";
                    button type="submit" { "Dispute" }
                }
            }
            @if may(ReviewAction::Answer) {
                form.review method="post" action=(action("answer")) {
                    (back.fields(&review.csrf))
                    label for={ "answer-" (s.id) } { "Your answer" }
                    input id={ "answer-" (s.id) } type="text" name="note" required maxlength="500";
                    button type="submit" { "Answer" }
                }
            }
            @if may(ReviewAction::Reject) {
                form.review method="post" action=(action("decide")) {
                    (back.fields(&review.csrf))
                    button type="submit" name="decision" value="keep" { "Keep the time" }
                    button.bad type="submit" name="decision" value="reject" { "Reject the time" }
                }
            }
        }
    }
}

/// A contract's review as one viewer sees it: every event, the disputes,
/// and what the viewer is to the contract.
struct Review {
    events: Vec<ReviewEvent>,
    disputes: Vec<Dispute>,
    who: Reviewer,
    now: DateTime<Utc>,
    review_secs: i64,
    csrf: String,
}

impl Review {
    async fn load(
        state: &Shared,
        viewer: &Viewer,
        stored: &StoredContract,
    ) -> Result<Review, PageError> {
        let id = stored.contract.id.clone();
        let events = blocking(state, move |s| s.reviews(&id, None)).await?;
        Ok(Review {
            disputes: rules::disputes(&events),
            events,
            who: rules::reviewer(viewer.user.id, viewer.is_admin(), stored),
            now: state.clock.now(),
            review_secs: state.review_secs,
            csrf: viewer.csrf(),
        })
    }

    fn dispute(&self, id: SegmentId) -> Option<&Dispute> {
        self.disputes.iter().find(|d| d.segment_id == id)
    }

    /// Whether a segment's time counts (it does until the client rejects it).
    fn counts(&self, id: SegmentId) -> bool {
        self.dispute(id).is_none_or(Dispute::counts)
    }

    fn week(&self, week: BillingWeek) -> WeekReview {
        rules::week_review(week, self.now, self.review_secs, &self.events)
    }

    fn week_of(&self, t: DateTime<Utc>) -> WeekReview {
        self.week(BillingWeek::containing(t))
    }
}

/// Where a review form sends the browser back to: the diary's day and zone.
struct Back {
    date: NaiveDate,
    zone: Tz,
}

impl Back {
    fn fields(&self, csrf: &str) -> Markup {
        html! {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="date" value=(self.date);
            input type="hidden" name="tz" value=(self.zone.name());
        }
    }
}

#[derive(Deserialize)]
struct ReviewForm {
    csrf: String,
    #[serde(default)]
    note: String,
    date: Option<NaiveDate>,
    tz: Option<String>,
    decision: Option<String>,
}

/// Records `action` on a contract's week (or on one of its segments) if the
/// review rules allow it now, and sends the browser back to `back`.
async fn review(
    state: &Shared,
    viewer: &Viewer,
    contract_id: String,
    target: Result<BillingWeek, SegmentId>,
    action: ReviewAction,
    note: String,
    back: String,
) -> Result<Response, PageError> {
    let stored = visible_contract(state, viewer, contract_id).await?;
    let review = Review::load(state, viewer, &stored).await?;
    let (week, segment) = match target {
        Ok(week) => (week, None),
        Err(id) => {
            let (user_id, contract_id) = (stored.user_id, stored.contract.id.clone());
            let segment = blocking(state, move |s| s.segment(user_id, id))
                .await?
                .filter(|seg| seg.contract_id == contract_id)
                .ok_or_else(not_found)?;
            (BillingWeek::containing(segment.start), Some(id))
        }
    };
    let dispute = match segment {
        Some(id) => review.dispute(id),
        // A week is approved only once its disputes are decided.
        None => review.disputes.iter().find(|d| {
            d.decision.is_none()
                && review
                    .events
                    .iter()
                    .any(|e| e.segment_id == Some(d.segment_id) && e.week_start == week.start())
        }),
    };
    rules::may_review(review.who, action, review.week(week), dispute)
        .map_err(|why| PageError(StatusCode::CONFLICT, format!("Not done: {why}.")))?;
    let note = note.trim().to_owned();
    if matches!(action, ReviewAction::Dispute | ReviewAction::Answer)
        && (note.is_empty() || note.chars().count() > 500)
    {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            "Say why, in at most 500 characters.".into(),
        ));
    }
    let event = ReviewEvent {
        week_start: week.start(),
        segment_id: segment,
        action,
        note,
        by_user_id: viewer.user.id,
        at: state.clock.now(),
    };
    let id = stored.contract.id.clone();
    log::info!(
        "web: {} did {} on {id} ({})",
        viewer.user.login,
        action.as_str(),
        segment.map_or_else(|| week.start().date_naive().to_string(), |s| s.to_string())
    );
    blocking(state, move |s| s.add_review(&id, &event)).await?;
    Ok(Redirect::to(&back).into_response())
}

/// The diary page a segment form came from (its own contract only).
fn diary_back(contract_id: &str, form: &ReviewForm) -> Result<String, PageError> {
    let zone = page_zone(form.tz.as_deref())?;
    let date = form.date.map(|d| d.to_string()).unwrap_or_default();
    Ok(format!(
        "/contracts/{}/diary?date={date}&tz={}",
        urlencode(contract_id),
        zone.name()
    ))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
struct ManualForm {
    csrf: String,
    date: NaiveDate,
    tz: Option<String>,
    from: String,
    to: String,
    #[serde(default)]
    memo: String,
}

/// Time added by hand from the diary page, in the page's zone (R8).
async fn add_manual(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ManualForm>,
) -> Result<Response, PageError> {
    check_csrf(&viewer, &form.csrf)?;
    let stored = visible_contract(&state, &viewer, id).await?;
    if stored.user_id != viewer.user.id {
        return Err(PageError(
            StatusCode::FORBIDDEN,
            "Only the contract's freelancer adds time to it.".into(),
        ));
    }
    let zone = page_zone(form.tz.as_deref())?;
    let at = |time: &str| {
        timecard_core::domain::parse_local_minute(&format!("{} {}", form.date, time.trim()), zone)
            .map_err(|why| PageError(StatusCode::UNPROCESSABLE_ENTITY, why))
    };
    let (start, mut end) = (at(&form.from)?, at(&form.to)?);
    if end == start {
        return Err(PageError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The start and the end are the same time.".into(),
        ));
    }
    if end < start {
        // "22:00 to 01:00": the end is on the next day.
        end += Duration::days(1);
    }
    let request = timecard_core::protocol::ManualTime {
        contract_id: stored.contract.id.clone(),
        start,
        end,
        memo: form.memo,
    };
    add_manual_time(&state, &viewer.user, request).await?;
    Ok(Redirect::to(&format!(
        "/contracts/{}/diary?date={}&tz={}",
        urlencode(&stored.contract.id),
        form.date,
        zone.name()
    ))
    .into_response())
}

fn segment_id(text: &str) -> Result<SegmentId, PageError> {
    text.parse().map_err(|_| not_found())
}

async fn approve_week(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, monday)): Path<(String, NaiveDate)>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, PageError> {
    check_csrf(&viewer, &form.csrf)?;
    let week = parse_week(Some(monday), state.clock.now())?;
    let back = format!(
        "/contracts/{}/timesheet?week={}",
        urlencode(&id),
        week.start().date_naive()
    );
    review(
        &state,
        &viewer,
        id,
        Ok(week),
        ReviewAction::Approve,
        String::new(),
        back,
    )
    .await
}

async fn dispute_segment(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
    form: Form<ReviewForm>,
) -> Result<Response, PageError> {
    segment_step(state, viewer, path, form, |_| Ok(ReviewAction::Dispute)).await
}

async fn answer_dispute(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
    form: Form<ReviewForm>,
) -> Result<Response, PageError> {
    segment_step(state, viewer, path, form, |_| Ok(ReviewAction::Answer)).await
}

async fn decide_dispute(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
    form: Form<ReviewForm>,
) -> Result<Response, PageError> {
    segment_step(state, viewer, path, form, |form| {
        match form.decision.as_deref() {
            Some("keep") => Ok(ReviewAction::Keep),
            Some("reject") => Ok(ReviewAction::Reject),
            _ => Err(PageError(
                StatusCode::BAD_REQUEST,
                "Choose to keep or to reject the time.".into(),
            )),
        }
    })
    .await
}

/// A review step on one segment, from a diary form: checks the form's
/// token, records the step if the rules allow it, and goes back to the day.
async fn segment_step(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, segment)): Path<(String, String)>,
    Form(form): Form<ReviewForm>,
    action: impl FnOnce(&ReviewForm) -> Result<ReviewAction, PageError>,
) -> Result<Response, PageError> {
    check_csrf(&viewer, &form.csrf)?;
    let back = diary_back(&id, &form)?;
    let segment = segment_id(&segment)?;
    let action = action(&form)?;
    review(&state, &viewer, id, Err(segment), action, form.note, back).await
}

#[derive(Deserialize)]
struct WeekQuery {
    week: Option<NaiveDate>,
}

/// The contract's segments that overlap `[from, to)`, oldest first.
async fn contract_segments(
    state: &Shared,
    stored: &StoredContract,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DiarySegment>, PageError> {
    let (user_id, contract_id) = (stored.user_id, stored.contract.id.clone());
    Ok(blocking(state, move |s| {
        Ok(s.segments_between(user_id, from, to)?
            .into_iter()
            .filter(|seg| seg.contract_id == contract_id)
            .collect())
    })
    .await?)
}

/// Each UTC day of `week`: its date, tracked and manual seconds.
fn days_of(week: BillingWeek, segments: &[DiarySegment]) -> Vec<(NaiveDate, i64, i64)> {
    (0..7)
        .map(|i| {
            let from = week.start() + Duration::days(i);
            let to = from + Duration::days(1);
            let of = |manual: bool| {
                segments
                    .iter()
                    .filter(|s| s.manual == manual)
                    .map(|s| secs_within(s, from, to))
                    .sum::<i64>()
            };
            (from.date_naive(), of(false), of(true))
        })
        .collect()
}

/// Seconds of `segment` inside `[from, to)`.
fn secs_within(segment: &DiarySegment, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (segment.end.min(to) - segment.start.max(from))
        .num_seconds()
        .max(0)
}

fn parse_week(week: Option<NaiveDate>, now: DateTime<Utc>) -> Result<BillingWeek, PageError> {
    let Some(day) = week else {
        return Ok(BillingWeek::containing(now));
    };
    if !timecard_core::domain::segment::is_plausible_day(day) {
        return Err(PageError(
            StatusCode::BAD_REQUEST,
            format!("{day} is not a week this timesheet can show."),
        ));
    }
    Ok(BillingWeek::containing(
        day.and_time(chrono::NaiveTime::MIN).and_utc(),
    ))
}

async fn timesheet_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<WeekQuery>,
) -> Result<Html<String>, PageError> {
    let stored = visible_contract(&state, &viewer, id).await?;
    let week = parse_week(query.week, state.clock.now())?;
    let review = Review::load(&state, &viewer, &stored).await?;
    let mut segments = contract_segments(&state, &stored, week.start(), week.end()).await?;
    let rejected = segments.iter().filter(|s| !review.counts(s.id)).count();
    segments.retain(|s| review.counts(s.id));
    let split = days_of(week, &segments);
    let days: Vec<(NaiveDate, i64)> = split.iter().map(|(d, t, m)| (*d, t + m)).collect();
    let total: i64 = days.iter().map(|(_, secs)| secs).sum();
    let tracked_total: i64 = split.iter().map(|(_, t, _)| t).sum();
    let manual_total: i64 = split.iter().map(|(_, _, m)| m).sum();
    let c = &stored.contract;
    let base = format!("/contracts/{}", c.id);
    let monday = week.start().date_naive();
    let week_link = |d: NaiveDate| format!("{base}/timesheet?week={d}");
    let state_now = review.week(week);
    let names = blocking(&state, {
        let ids: Vec<i64> = review.events.iter().map(|e| e.by_user_id).collect();
        move |s| {
            let mut names = std::collections::HashMap::new();
            for id in ids {
                if let std::collections::hash_map::Entry::Vacant(e) = names.entry(id) {
                    e.insert(s.login_of(id)?);
                }
            }
            Ok(names)
        }
    })
    .await?;
    let name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| "?".into());
    let log: Vec<&ReviewEvent> = review
        .events
        .iter()
        .filter(|e| e.week_start == week.start())
        .collect();
    let open_disputes = review
        .disputes
        .iter()
        .filter(|d| d.decision.is_none() && log.iter().any(|e| e.segment_id == Some(d.segment_id)))
        .count();
    let body = html! {
        h1 { (c.title) }
        p.muted { "Timesheet · week of " (monday.format("%a %-d %b %Y"))
            " (Monday 00:00 UTC to Monday)" }
        p.review {
            @match state_now {
                WeekReview::Open => { "Review: the week is not over yet." }
                WeekReview::InReview { until } => {
                    "Review: waiting for the client's approval until "
                    (until.format("%a %-d %b %H:%M UTC"))
                    "; then the week is approved by itself."
                }
                WeekReview::Approved { by_user_id, at } => {
                    strong { "Approved" } " by " (name(by_user_id)) " on " (at.format("%a %-d %b %H:%M UTC")) "."
                }
                WeekReview::ApprovedAutomatically { at } => {
                    strong { "Approved" } " automatically on " (at.format("%a %-d %b %H:%M UTC"))
                    " (the review window closed)."
                }
            }
            @if open_disputes > 0 { " " (open_disputes) " disputed segment(s) await the client's decision." }
            @if rejected > 0 { " " (rejected) " rejected segment(s) are left out." }
        }
        @if rules::may_review(review.who, ReviewAction::Approve, state_now, None).is_ok() && open_disputes == 0 {
            form.inline method="post" action={ (base) "/weeks/" (monday) "/approve" } {
                input type="hidden" name="csrf" value=(review.csrf);
                button type="submit" { "Approve this week" }
            }
        }
        nav.days {
            a href=(week_link(monday - Duration::days(7))) { "← Previous week" }
            a href=(week_link(monday + Duration::days(7))) { "Next week →" }
            a href={ (base) "/timesheet.csv?week=" (monday) } { "Download CSV" }
            a href={ (base) "/statement?week=" (monday) } { "Printable statement" }
        }
        (bar_chart(&days))
        table.contracts {
            thead { tr {
                th scope="col" { "Day" }
                th scope="col" { "Tracked" }
                th scope="col" { "Manual" }
                th scope="col" { "Total" }
            } }
            tbody {
                @for (day, tracked, manual) in &split {
                    tr {
                        td { a href={ (base) "/diary?date=" (day) "&tz=UTC" } { (day.format("%a %-d %b")) } }
                        td { (hms(*tracked)) }
                        td { (hms(*manual)) }
                        td { (hms(tracked + manual)) }
                    }
                }
            }
            tfoot { tr {
                th scope="row" { "Week" }
                td { (hms(tracked_total)) }
                td { (hms(manual_total)) }
                td { strong { (hms(total)) } }
            } }
        }
        @if !log.is_empty() {
            h2 { "Review log" }
            ul.log {
                @for e in &log {
                    li {
                        (e.at.format("%a %-d %b %H:%M UTC")) " · " (name(e.by_user_id)) " · "
                        (match e.action {
                            ReviewAction::Approve => "approved the week",
                            ReviewAction::Dispute => "disputed a segment",
                            ReviewAction::Answer => "answered a dispute",
                            ReviewAction::Keep => "kept disputed time",
                            ReviewAction::Reject => "rejected disputed time",
                        })
                        @if !e.note.is_empty() { ": " (e.note) }
                    }
                }
            }
        }
        @if let Some(rate) = &stored.terms.rate {
            p.total { "Amount: " strong { (money(total as f64 / 3600.0 * rate.cents as f64 / 100.0, &rate.currency)) }
                " at " (money(rate.cents as f64 / 100.0, &rate.currency)) "/h" }
        }
    };
    Ok(layout(
        &format!("{} — Timesheet", c.title),
        Some(&viewer),
        body,
    ))
}

/// Hours per day as bars, drawn on the server (no script).
fn bar_chart(days: &[(NaiveDate, i64)]) -> Markup {
    const WIDTH: i64 = 560;
    const HEIGHT: i64 = 160;
    let most = days.iter().map(|(_, s)| *s).max().unwrap_or(0).max(3600);
    let slot = WIDTH / days.len().max(1) as i64;
    html! {
        svg.chart width=(WIDTH) height=(HEIGHT + 24) viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 24) }
            role="img" aria-label="Hours per day" {
            @for (i, (day, secs)) in days.iter().enumerate() {
                @let h = secs * HEIGHT / most;
                @let x = i as i64 * slot;
                rect x=(x + 8) y=(HEIGHT - h) width=(slot - 16) height=(h) fill="#0b6e66" {
                    title { (day.format("%a")) ": " (hms(*secs)) }
                }
                text x=(x + slot / 2) y=(HEIGHT + 18) text-anchor="middle" font-size="13" fill="#1b1f24" {
                    (day.format("%a"))
                }
            }
        }
    }
}

/// The weekly statement, to print or save as PDF from the browser: the
/// contract, its parties, the days, hours, rate and amount, and where the
/// review stands. Rejected time is left out.
async fn statement_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<WeekQuery>,
) -> Result<Html<String>, PageError> {
    let stored = visible_contract(&state, &viewer, id).await?;
    let week = parse_week(query.week, state.clock.now())?;
    let review = Review::load(&state, &viewer, &stored).await?;
    let mut segments = contract_segments(&state, &stored, week.start(), week.end()).await?;
    segments.retain(|s| review.counts(s.id));
    let (freelancer_id, client_id) = (stored.user_id, stored.terms.client_user_id);
    let (freelancer, client_account) = blocking(&state, move |s| {
        Ok((
            s.login_of(freelancer_id)?,
            match client_id {
                Some(id) => Some(s.login_of(id)?),
                None => None,
            },
        ))
    })
    .await?;
    let c = &stored.contract;
    let days = days_of(week, &segments);
    let total: i64 = days.iter().map(|(_, t, m)| t + m).sum();
    let hours = total as f64 / 3600.0;
    let state_line = match review.week(week) {
        WeekReview::Open => "Not yet reviewed: the week is not over.".to_owned(),
        WeekReview::InReview { until } => {
            format!("In review until {}.", until.format("%-d %b %Y %H:%M UTC"))
        }
        WeekReview::Approved { at, .. } => {
            format!("Approved on {}.", at.format("%-d %b %Y %H:%M UTC"))
        }
        WeekReview::ApprovedAutomatically { at } => format!(
            "Approved automatically on {} (the review window closed).",
            at.format("%-d %b %Y %H:%M UTC")
        ),
    };
    let body = html! {
        article.statement {
            h1 { "Weekly statement" }
            dl {
                dt { "Contract" } dd { (c.title) " (" (c.id) ")" }
                dt { "Client" } dd { (if c.client.is_empty() { "—" } else { &c.client })
                    @if let Some(account) = &client_account { " · account " (account) } }
                dt { "Freelancer" } dd { (freelancer) }
                dt { "Week" } dd { (week.start().format("%a %-d %b %Y")) " – "
                    ((week.end() - Duration::days(1)).format("%a %-d %b %Y")) " (UTC)" }
                dt { "Review" } dd { (state_line) }
            }
            table.contracts {
                thead { tr {
                    th scope="col" { "Day" }
                    th scope="col" { "Tracked" }
                    th scope="col" { "Manual" }
                    th scope="col" { "Hours" }
                } }
                tbody {
                    @for (day, tracked, manual) in &days {
                        tr {
                            td { (day.format("%a %-d %b")) }
                            td { (hms(*tracked)) }
                            td { (hms(*manual)) }
                            td { (format!("{:.2}", (tracked + manual) as f64 / 3600.0)) }
                        }
                    }
                }
                tfoot {
                    tr { th scope="row" { "Total" } td {} td {} td { strong { (format!("{hours:.2}")) } } }
                    @if let Some(rate) = &stored.terms.rate {
                        tr { th scope="row" { "Rate" } td {} td {} td { (money(rate.cents as f64 / 100.0, &rate.currency)) "/h" } }
                        tr { th scope="row" { "Amount" } td {} td {}
                            td { strong { (money(hours * rate.cents as f64 / 100.0, &rate.currency)) } } }
                    }
                }
            }
            p.muted.noprint { "Print this page, or save it as PDF, from the browser's menu." }
        }
    };
    Ok(layout(
        &format!("{} — Statement", c.title),
        Some(&viewer),
        body,
    ))
}

#[derive(Deserialize)]
struct CsvQuery {
    week: Option<NaiveDate>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    tz: Option<String>,
}

/// One row per segment: start and end in UTC and in the chosen zone,
/// minutes, kind, memo, activity. `?week=` (a billing week) or
/// `?from=&to=` (UTC days, both included).
async fn timesheet_csv(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<CsvQuery>,
) -> Result<Response, PageError> {
    let stored = visible_contract(&state, &viewer, id).await?;
    let zone = page_zone(query.tz.as_deref())?;
    let (from, to) = match (query.from, query.to) {
        (Some(from), Some(to)) => {
            let days = (to - from).num_days();
            if !(0..=366).contains(&days) || !timecard_core::domain::segment::is_plausible_day(from)
            {
                return Err(PageError(
                    StatusCode::BAD_REQUEST,
                    "Give from and to as YYYY-MM-DD, at most a year apart, from first.".into(),
                ));
            }
            let start = from.and_time(chrono::NaiveTime::MIN).and_utc();
            (start, start + Duration::days(days + 1))
        }
        _ => {
            let week = parse_week(query.week, state.clock.now())?;
            (week.start(), week.end())
        }
    };
    let review = Review::load(&state, &viewer, &stored).await?;
    let mut segments = contract_segments(&state, &stored, from, to).await?;
    segments.retain(|s| review.counts(s.id));
    let mut csv = String::from(
        "segment,start_utc,end_utc,start_local,end_local,time_zone,minutes,kind,memo,activity_percent,review\r\n",
    );
    for s in &segments {
        let review_state = match review.dispute(s.id) {
            Some(d) if d.decision.is_none() => "disputed",
            Some(_) => "kept after dispute",
            None => match review.week_of(s.start) {
                WeekReview::Open => "open",
                WeekReview::InReview { .. } => "in review",
                WeekReview::Approved { .. } => "approved",
                WeekReview::ApprovedAutomatically { .. } => "approved automatically",
            },
        };
        let (start, end) = (s.start.max(from), s.end.min(to));
        let local = |t: DateTime<Utc>| {
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        };
        let row = [
            s.id.to_string(),
            start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            local(start),
            local(end),
            zone.name().to_owned(),
            format!("{:.2}", secs_within(s, from, to) as f64 / 60.0),
            if s.manual { "manual" } else { "tracked" }.to_owned(),
            s.memo.clone(),
            (s.activity.0.count_ones() * 10).min(100).to_string(),
            review_state.to_owned(),
        ];
        let cells: Vec<String> = row.iter().map(|cell| csv_cell(cell)).collect();
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    let name = format!(
        "timesheet-{}-{}.csv",
        stored
            .contract
            .id
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        from.format("%Y-%m-%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        csv,
    )
        .into_response())
}

/// A CSV cell: quoted when it must be, and a text that a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@`) kept as text.
fn csv_cell(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

async fn screenshot(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
) -> Result<Response, PageError> {
    picture(state, viewer, path, Picture::Full).await
}

async fn thumbnail(
    state: State<Shared>,
    viewer: Viewer,
    path: Path<(String, String)>,
) -> Result<Response, PageError> {
    picture(state, viewer, path, Picture::Thumbnail).await
}

/// A segment's picture, to those who may see the contract it belongs to.
async fn picture(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((id, segment)): Path<(String, String)>,
    size: Picture,
) -> Result<Response, PageError> {
    let segment: SegmentId = segment.parse().map_err(|_| not_found())?;
    let stored = visible_contract(&state, &viewer, id).await?;
    let (user_id, contract_id) = (stored.user_id, stored.contract.id);
    let jpeg = blocking(&state, move |s| {
        Ok(match s.segment(user_id, segment)? {
            Some(seg) if seg.contract_id == contract_id => s.screenshot(user_id, segment, size)?,
            _ => None,
        })
    })
    .await?
    .ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        jpeg,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-timecard-login=x; __Host-timecard=tok"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, LOGIN_CSRF_COOKIE), Some("x"));
        assert_eq!(cookie(&headers, "b"), None);
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\"\nthen"), "\"say \"\"hi\"\"\nthen\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-3"), "'-3");
        assert_eq!(csv_cell("2026-11-25T14:00:00Z"), "2026-11-25T14:00:00Z");
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_exactly() {
        let (a, b) = (csrf_for("one"), csrf_for("two"));
        assert_ne!(a, b);
        assert!(same(&a, &csrf_for("one")));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..31]));
    }
}
