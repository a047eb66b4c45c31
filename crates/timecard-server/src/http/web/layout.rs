//! What every page shares: the frame with who is signed in, the error page,
//! money and time zones as the pages write them. The files the frame
//! links (stylesheet, script, icons) are served by `assets`.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono_tz::Tz;
use maud::{DOCTYPE, Markup, html};

use super::assets::{FAVICON, ICON, STYLESHEET, ZONE_SCRIPT};
use crate::http::error::ApiError;
use crate::store::{Role, StoreError};
use crate::usecases::Refusal;

/// Who is signed in, as the header shows it.
pub struct Header {
    pub login: String,
    pub role: Role,
    /// The CSRF token of the sign-out form.
    pub csrf: String,
    /// Which of the header's places the page belongs to.
    pub here: Place,
}

impl Header {
    /// The header of a page that belongs to `place`.
    pub fn at(mut self, place: Place) -> Header {
        self.here = place;
        self
    }
}

/// The places every page's header leads to (R12).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Place {
    #[default]
    Elsewhere,
    Contracts,
    ThisWeek,
    Reports,
    Admin,
}

impl Place {
    /// The places `role` has, with their addresses and names.
    fn of(role: Role) -> Vec<(Place, &'static str, &'static str)> {
        let mut places = vec![
            (Place::Contracts, "/contracts", "Contracts"),
            (Place::ThisWeek, "/week", "This week"),
        ];
        if role != Role::Freelancer {
            places.push((Place::Reports, "/reports", "Reports"));
        }
        if role.is_admin() {
            places.push((Place::Admin, "/admin", "Admin"));
        }
        places
    }
}

/// A whole page: the header with who is signed in, and `body`.
pub fn layout(title: &str, header: Option<&Header>, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (Typed(title)) " · Timecard" }
                    // A signed-in tool: search engines list none of it.
                    meta name="robots" content="noindex";
                    meta name="description" content="Timecard: tracked time, work diaries and weekly timesheets for freelancers and their clients.";
                    link rel="icon" href=(FAVICON.url()) sizes="16x16 32x32 48x48";
                    link rel="icon" href=(ICON.url()) type="image/svg+xml";
                    link rel="stylesheet" href=(STYLESHEET.url());
                    script src=(ZONE_SCRIPT.url()) defer {}
                }
                body {
                    a.skip href="#main" { "Skip to the content" }
                    header {
                        a.brand href="/contracts" { "Timecard" }
                        @if let Some(header) = header {
                            nav.places aria-label="Places" {
                                @for (place, href, name) in Place::of(header.role) {
                                    a href=(href) aria-current=[(place == header.here).then_some("page")] { (name) }
                                }
                            }
                            span.who { (header.login) " · " (header.role.as_str()) }
                            a.settings href="/settings/email" { "E-mail settings" }
                            a.settings href="/settings/tokens" { "API tokens" }
                            @if header.role != Role::Freelancer {
                                a.settings href="/settings/webhooks" { "Webhooks" }
                            }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(header.csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                    main #main tabindex="-1" { (body) }
                }
            }
        }
        .into_string(),
    )
}

/// A page that asks before doing what cannot be undone: what will happen,
/// a red button that does it (the same form, confirmed) and a way back.
pub fn confirm_page(
    header: &Header,
    title: &str,
    words: Markup,
    action: &str,
    fields: &[(&str, &str)],
    button: &str,
    back: &str,
) -> Html<String> {
    layout(
        title,
        Some(header),
        html! {
            h1 { (title) }
            div.confirm {
                (words)
                form.inline method="post" action=(action) {
                    input type="hidden" name="csrf" value=(header.csrf);
                    @for (name, value) in fields {
                        input type="hidden" name=(name) value=(value);
                    }
                    input type="hidden" name="confirm" value="yes";
                    button.danger type="submit" { (button) }
                    a.button.secondary href=(back) { "Cancel" }
                }
            }
        },
    )
}

/// A page's answer when something is wrong: the status and a page that
/// says what, in words.
#[derive(Debug)]
pub struct PageError(pub StatusCode, pub String);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e.status, e.message)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<Refusal> for PageError {
    fn from(refusal: Refusal) -> Self {
        let e = ApiError::from(refusal);
        PageError(e.status, sentence(&e.message))
    }
}

/// The rules' words (which start lower-case) as a page says them: a
/// sentence with a capital and a full stop.
pub fn sentence(words: &str) -> String {
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// `response` kept by no cache: it shows a secret once (a token, a
/// webhook's signing secret).
pub fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
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

/// The same answer for a page that does not exist and one that is not the
/// viewer's to see (R3).
pub fn not_found() -> PageError {
    PageError(
        StatusCode::NOT_FOUND,
        "There is no such page, or it is not yours to see.".into(),
    )
}

/// An amount in a currency's cents, as `1234.50 USD`.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", cents / 100, cents % 100)
}

/// The zone a page was asked for (`?tz=`), UTC when none.
pub fn page_zone(name: Option<&str>) -> Result<Tz, PageError> {
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

/// `text` as part of a file's name: lower-case letters and digits joined
/// by `-` ("Web shop: rebuild" → `web-shop-rebuild`), at most 40 of them.
pub fn file_name_part(text: &str) -> String {
    let mut part = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            part.push(c);
        } else if !part.is_empty() && !part.ends_with('-') {
            part.push('-');
        }
        if part.len() >= 40 {
            break;
        }
    }
    let part = part.trim_end_matches('-');
    if part.is_empty() {
        "contract".into()
    } else {
        part.into()
    }
}

/// `text` as one part of a URL path or query.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The most rows a list on one page shows (users, contracts, reports,
/// review events); the rest are counted in a note below it.
pub const LIST_CAP: usize = 500;

/// "1,234 more … not shown" under a list cut at [`LIST_CAP`], or nothing.
pub fn more_note(total: usize, what: &str, where_else: &str) -> maud::Markup {
    maud::html! {
        @if total > LIST_CAP {
            p.muted.more { (total - LIST_CAP) " more " (what) " are not shown here; " (where_else) "." }
        }
    }
}

/// Typed text on a page (a memo, a title, a reason): escaped as all text
/// is, and what the rule for typed text forbids (X5) — which older
/// versions let in — shown as U+FFFD instead of reordering the page.
pub struct Typed<'a>(pub &'a str);

impl maud::Render for Typed<'_> {
    fn render_to(&self, buffer: &mut String) {
        use timecard_core::domain::text::{Lines, shown};
        shown(self.0, Lines::Many).as_ref().render_to(buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_written_from_cents() {
        assert_eq!(money(123450, "USD"), "1234.50 USD");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(-250, "EUR"), "-2.50 EUR");
    }
}
