//! The app's HTTP API (v1): routes, bearer authentication, body caps.
//! Each handler parses its request, calls a use case (`usecases`), a view
//! (`views`) or the store on a blocking thread, and answers JSON.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Extension, Json, Router};
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use super::error::ApiError;
use super::guards::{Guards, heavy_gate, reads_gate};
use super::middleware::ClientAddr;
use super::state::{Shared, blocking};
use crate::store::{Picture, Scope, User};
use crate::usecases::{self, Refusal};
use crate::views;
use timecard_core::domain::segment::{is_plausible_day, plausible_years};
use timecard_core::domain::{LocalDay, SegmentId};
use timecard_core::protocol::{
    self, BatchError, ContractsResponse, DiaryResponse, ErrorBody, Health, ManualTime,
    ManualTimeAdded, Outcome, ProblemReport, ReleaseOffer, ReportReceipt, ServerConfig,
    SessionInfo, SignIn, UploadBatch, UploadResponse,
};

/// Cap on a segment batch: a few dozen segments with screenshots.
pub const SEGMENTS_BODY_LIMIT: usize = timecard_core::protocol::MAX_BATCH_BYTES;
/// Cap on a problem report with its logs.
pub const REPORT_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// Segments in one batch, at most.
pub const MAX_BATCH: usize = protocol::MAX_BATCH_SEGMENTS;

/// The API's routes, under `/api/v1`, with their OpenAPI description
/// (I3): every route is added with its handler's `#[utoipa::path]`, so
/// the document lists exactly what the router serves; it is served at
/// `/api/v1/openapi.json`.
pub fn routes() -> Router<Shared> {
    let (router, document) = described_routes().split_for_parts();
    let json = document.to_pretty_json().expect("the document serialises");
    let _ = DOCUMENT.set(Bytes::from(json));
    router
}

/// The document as served, made once when the routes are.
static DOCUMENT: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "server",
    summary = "This description of the API (OpenAPI 3.1)",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
async fn openapi_json() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        DOCUMENT.get().cloned().unwrap_or_default(),
    )
        .into_response()
}

/// Where the API's description is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The routes and the document they make.
pub fn described_routes() -> OpenApiRouter<Shared> {
    let layered = |(schemas, paths, router): UtoipaMethodRouter<Shared>,
                   f: fn(MethodRouter<Shared>) -> MethodRouter<Shared>| {
        (schemas, paths, f(router))
    };
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(openapi_json))
        .routes(routes!(config))
        .routes(routes!(sign_in, sign_out))
        .routes(routes!(sign_in_with_code))
        .routes(routes!(sign_on_info))
        .routes(routes!(contracts))
        .routes(layered(routes!(upload), |r| {
            r.layer(DefaultBodyLimit::max(SEGMENTS_BODY_LIMIT))
                .layer(middleware::from_fn(heavy_gate))
        }))
        .routes(routes!(delete_segment))
        .routes(routes!(manual))
        .routes(routes!(latest_release))
        .routes(layered(routes!(screenshot), |r| {
            r.layer(middleware::from_fn(reads_gate))
        }))
        .routes(layered(routes!(thumbnail), |r| {
            r.layer(middleware::from_fn(reads_gate))
        }))
        .routes(layered(routes!(diary), |r| {
            r.layer(middleware::from_fn(reads_gate))
        }))
        .routes(layered(routes!(report), |r| {
            r.layer(DefaultBodyLimit::max(REPORT_BODY_LIMIT))
                .layer(middleware::from_fn(heavy_gate))
        }))
}

/// The document's frame: title, version, the bearer scheme, the error body.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Timecard API",
        description = "The sync server's API (v1), for the Timecard app and integrations. \
            JSON everywhere except `POST /api/v1/segments`, whose body is MessagePack. \
            Authenticate with `Authorization: Bearer TOKEN`: a session token from `POST /api/v1/session` \
            or a personal API token made on the server's API tokens page (a `read` token may only GET). \
            Errors are `{\"error\": \"<code>\", \"message\": \"<plain words>\"}`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme),
    tags(
        (name = "server", description = "What the server is and offers"),
        (name = "session", description = "Signing in and out"),
        (name = "time", description = "Contracts, segments, manual time and the Work Diary"),
        (name = "support", description = "Problem reports"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi.info.version = timecard_core::release::version().to_owned();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token or a personal API token (`tcpat_…`)"))
                    .build(),
            ),
        );
    }
}

/// The signed-in user, from `Authorization: Bearer <token>`: a session's
/// token or a personal API token (I1). A `read` token may only read: any
/// other method is refused with 403 before the handler runs (I1).
pub struct Authed(pub User);

impl FromRequestParts<Shared> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "signed_out", "sign in first")
        })?;
        let now = state.clock.now();
        if token.starts_with(crate::auth::API_TOKEN_PREFIX) {
            let (user, scope) = usecases::session::api_user_of(&state.store, token, now)
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "token_invalid",
                        "this API token has expired or was revoked; make a new one under API tokens",
                    )
                })?;
            let reads = matches!(
                parts.method,
                axum::http::Method::GET | axum::http::Method::HEAD
            );
            if scope == Scope::Read && !reads {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "read_only_token",
                    "this API token may only read; use a read-write token to upload or change anything",
                ));
            }
            return Ok(Authed(user));
        }
        usecases::session::user_of(&state.store, token, now)
            .await?
            .map(Authed)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "session_expired",
                    "the session has expired or was signed out; sign in again",
                )
            })
    }
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is too large",
        )
    } else {
        ApiError::malformed(format!("could not read the request body: {rejection}"))
    }
}

fn parse_json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(body_error)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::malformed(format!("the request is not valid JSON for this call: {e}"))
    })
}

#[utoipa::path(get, path = "/api/v1/health", tag = "server",
    summary = "Whether the server answers, its version and clock",
    responses((status = 200, description = "The server is up", body = Health)))]
async fn health(State(state): State<Shared>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: timecard_core::release::version().into(),
        server_time: state.clock.now(),
    })
}

#[utoipa::path(get, path = "/api/v1/config", tag = "server",
    summary = "The rules the app must know: the segment grid and the lock grace",
    responses((status = 200, description = "The server's configuration", body = ServerConfig)))]
async fn config(State(state): State<Shared>) -> Json<ServerConfig> {
    Json(state.config)
}

#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    summary = "Sign in with a password: a session token for 30 days",
    request_body = SignIn,
    responses((status = 200, description = "Signed in", body = SessionInfo),
        (status = 400, description = "Not JSON for this call (`malformed`)", body = ErrorBody),
        (status = 401, description = "Wrong username or password (`wrong_password`)", body = ErrorBody),
        (status = 403, description = "The account is disabled (`account_disabled`), or this server signs in with its identity provider only (`password_sign_in_off`)", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins (`too_many_attempts`, `Retry-After`)", body = ErrorBody),
        (status = 503, description = "Busy hashing (`busy`, `Retry-After`)", body = ErrorBody)))]
async fn sign_in(
    State(state): State<Shared>,
    Extension(guards): Extension<Arc<Guards>>,
    ClientAddr(ip): ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionInfo>, ApiError> {
    let request: SignIn = parse_json(body)?;
    if let Some(sign_on) = state
        .sign_on
        .as_ref()
        .filter(|s| !s.options.password_sign_in)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "password_sign_in_off",
            format!(
                "this server signs in with {} only; sign in with the browser",
                sign_on.options.name
            ),
        ));
    }
    let opened = usecases::session::sign_in(
        &state.store,
        &guards.hashing,
        ip,
        &request.login,
        request.password,
        request.device_ticket.as_deref(),
        state.clock.now(),
    )
    .await?;
    Ok(Json(session_info(opened)))
}

/// A session just opened, as the app is told of it.
fn session_info(opened: usecases::session::Opened) -> SessionInfo {
    SessionInfo {
        token: opened.token,
        login: opened.user.login,
        expires_at: opened.expires_at,
        device_ticket: Some(opened.device_ticket),
    }
}

/// I5: the app's one-time code from a browser sign-in, with its PKCE
/// verifier.
#[derive(Deserialize, utoipa::ToSchema)]
struct CodeSignIn {
    /// The code the server handed the app's loopback address.
    code: String,
    /// The PKCE verifier whose S256 challenge the app sent at the start.
    verifier: String,
}

#[utoipa::path(post, path = "/api/v1/session/code", tag = "session",
    summary = "Exchange the one-time code of a browser sign-in (single sign-on) for a session",
    request_body = CodeSignIn,
    responses((status = 200, description = "Signed in", body = SessionInfo),
        (status = 400, description = "Not JSON for this call (`malformed`)", body = ErrorBody),
        (status = 401, description = "The code is unknown, used or expired, or the verifier does not match (`code_invalid`)", body = ErrorBody),
        (status = 403, description = "The account is disabled (`account_disabled`)", body = ErrorBody)))]
async fn sign_in_with_code(
    State(state): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionInfo>, ApiError> {
    use super::web::sign_on_app::{AppCode, code_key, s256};
    let request: CodeSignIn = parse_json(body)?;
    let now = state.clock.now();
    let key = code_key(&request.code);
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "code_invalid",
            "this sign-in code is unknown, was used already or has expired; sign in with the browser again",
        )
    };
    let kept = blocking(&state, move |s| s.take_pending_sign_in(&key, now))
        .await?
        .ok_or_else(invalid)?;
    let code: AppCode = serde_json::from_str(&kept).map_err(|_| invalid())?;
    if s256(&request.verifier) != code.challenge {
        log::warn!("server: a browser sign-in code came with the wrong verifier");
        return Err(invalid());
    }
    let user_id = code.user_id;
    let user = blocking(&state, move |s| {
        let login = s.login_of(user_id)?;
        s.find_user(&login)
    })
    .await?
    .ok_or_else(invalid)?;
    if user.disabled {
        return Err(Refusal::Disabled.into());
    }
    let opened = usecases::session::open(&state.store, user, now).await?;
    Ok(Json(session_info(opened)))
}

/// Whether this server signs people in with an identity provider (I4).
#[derive(serde::Serialize, utoipa::ToSchema)]
struct SignOnInfo {
    /// The provider's name, as "Sign in with NAME" says it.
    name: String,
    /// Where the browser starts; the app adds `app_redirect`,
    /// `app_challenge` (PKCE S256) and `app_state`.
    start: String,
    /// Whether passwords still sign in.
    password_sign_in: bool,
}

#[utoipa::path(get, path = "/api/v1/sign-on", tag = "session",
    summary = "The identity provider this server signs people in with, if any",
    responses((status = 200, description = "Single sign-on is on", body = SignOnInfo),
        (status = 404, description = "Passwords only (`not_found`)", body = ErrorBody)))]
async fn sign_on_info(State(state): State<Shared>) -> Result<Json<SignOnInfo>, ApiError> {
    let sign_on = state
        .sign_on
        .as_ref()
        .ok_or_else(|| ApiError::not_found("single sign-on"))?;
    Ok(Json(SignOnInfo {
        name: sign_on.options.name.clone(),
        start: crate::oidc::START_PATH.to_owned(),
        password_sign_in: sign_on.options.password_sign_in,
    }))
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    summary = "Sign out: the session's token stops working",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out (also when the token was unknown)"),
        (status = 403, description = "A `read` API token (`read_only_token`)", body = ErrorBody)))]
async fn sign_out(
    State(state): State<Shared>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    if let Some(token) = bearer(&headers) {
        usecases::session::sign_out(&state.store, token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ZoneQuery {
    tz: Option<String>,
}

fn parse_zone(tz: Option<&str>) -> Result<Tz, ApiError> {
    match tz {
        None => Ok(chrono_tz::UTC),
        Some(name) => name.parse().map_err(|_| {
            ApiError::malformed(format!(
                "unknown time zone {name:?}; use an IANA name such as Europe/Berlin"
            ))
        }),
    }
}

/// The user's contracts, with an `ETag` (R14): an app that sends it back in
/// `If-None-Match` gets `304 Not Modified`, no body, while nothing in the
/// answer changed.
#[utoipa::path(get, path = "/api/v1/contracts", tag = "time",
    summary = "The user's contracts with this week's and today's time and open disputes",
    security(("bearer" = [])),
    params(("tz" = Option<String>, Query, description = "IANA zone for `today_logged_secs` (default UTC)"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` of an earlier answer")),
    responses((status = 200, description = "The contracts, with an `ETag`", body = ContractsResponse),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        (status = 400, description = "An unknown zone (`malformed`)", body = ErrorBody),
        (status = 401, description = "No token, or an expired, revoked or signed-out one (`signed_out`, `session_expired`, `token_invalid`)", body = ErrorBody),
        (status = 503, description = "Maintenance, busy, or the storage unreachable (`Retry-After`)", body = ErrorBody)))]
async fn contracts(
    State(state): State<Shared>,
    Authed(user): Authed,
    headers: axum::http::HeaderMap,
    query: Result<Query<ZoneQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::malformed(e.to_string()))?;
    let zone = parse_zone(query.tz.as_deref())?;
    let now = state.clock.now();
    let today = LocalDay::containing(now, zone);
    let answer = blocking(&state, move |s| {
        views::app_contracts(s, user.id, now, today)
    })
    .await?;
    let tag = views::contracts_etag(&answer, today, zone);
    let cache = [
        (header::ETAG, tag.clone()),
        (header::CACHE_CONTROL, "private, no-cache".to_owned()),
    ];
    if if_none_match(&headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, Json(answer)).into_response())
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn if_none_match(headers: &axum::http::HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*")
}

/// Time worked away from the tracker, added by hand (R8).
#[utoipa::path(post, path = "/api/v1/manual", tag = "time",
    summary = "Add time worked away from the tracker (R8), cut on the grid and judged like tracked time",
    security(("bearer" = [])),
    request_body = ManualTime,
    responses((status = 200, description = "Added", body = ManualTimeAdded),
        (status = 400, description = "Not JSON for this call (`malformed`)", body = ErrorBody),
        (status = 403, description = "A `read` API token (`read_only_token`)", body = ErrorBody),
        (status = 409, description = "Refused by a rule: `manual_time_not_allowed`, `overlap`, `over_limit`, `week_locked`, …", body = ErrorBody),
        (status = 422, description = "A bad range or memo (`invalid`)", body = ErrorBody),
        (status = 401, description = "No token, or an expired, revoked or signed-out one (`signed_out`, `session_expired`, `token_invalid`)", body = ErrorBody),
        (status = 503, description = "Maintenance, busy, or the storage unreachable (`Retry-After`)", body = ErrorBody)))]
async fn manual(
    State(state): State<Shared>,
    Authed(user): Authed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<protocol::ManualTimeAdded>, ApiError> {
    let request: protocol::ManualTime = parse_json(body)?;
    let (now, config) = (state.clock.now(), state.config);
    let added = tokio::task::spawn_blocking({
        let store = state.store.clone();
        move || usecases::manual::add(store.as_ref(), &user, request, now, config)
    })
    .await
    .map_err(|_| ApiError::internal())??;
    state.webhooks.wake.notify_one();
    Ok(Json(added))
}

#[utoipa::path(post, path = "/api/v1/segments", tag = "time",
    summary = "Upload a batch of tracked segments; each is judged on its own (K6-K8)",
    security(("bearer" = [])),
    request_body(content = UploadBatch, content_type = "application/msgpack",
        description = "MessagePack, not JSON: `{segments: [bin, …]}`, each entry a cache-file body; at most 1,000 entries and 64 MiB"),
    responses((status = 200, description = "One result per segment, in batch order", body = UploadResponse),
        (status = 400, description = "The batch does not decode (`malformed`)", body = ErrorBody),
        (status = 403, description = "A `read` API token (`read_only_token`)", body = ErrorBody),
        (status = 413, description = "Over 64 MiB or 1,000 segments (`too_large`)", body = ErrorBody),
        (status = 507, description = "The server's disk is full (`storage_full`)", body = ErrorBody),
        (status = 401, description = "No token, or an expired, revoked or signed-out one (`signed_out`, `session_expired`, `token_invalid`)", body = ErrorBody),
        (status = 503, description = "Maintenance, busy, or the storage unreachable (`Retry-After`)", body = ErrorBody)))]
async fn upload(
    State(state): State<Shared>,
    Authed(user): Authed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UploadResponse>, ApiError> {
    let bytes = body.map_err(body_error)?;
    let now = state.clock.now();
    let config = state.config;
    let store = state.store.clone();
    let login = user.login.clone();
    // Decoding a batch takes time and memory in proportion to its 64 MiB:
    // it runs on a blocking thread, never on the async workers that answer
    // /health.
    let results = tokio::task::spawn_blocking(move || {
        let bodies = protocol::decode_batch(&bytes).map_err(|e| match e {
            BatchError::TooMany(_) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            BatchError::Malformed(_) => ApiError::malformed(e.to_string()),
        })?;
        Ok::<_, ApiError>(usecases::upload::judge(
            store.as_ref(),
            user.id,
            &bodies,
            now,
            config,
        )?)
    })
    .await
    .map_err(|e| {
        log::error!("server: an upload task failed: {e}");
        ApiError::internal()
    })??;
    let count = |o| results.iter().filter(|r| r.outcome == o).count();
    if count(Outcome::Accepted) > 0 {
        state.webhooks.wake.notify_one();
    }
    log::info!(
        "server: {login} uploaded {}: {} accepted, {} duplicate, {} rejected",
        timecard_core::fmt::count(results.len() as u64, "segment", "segments"),
        count(Outcome::Accepted),
        count(Outcome::Duplicate),
        count(Outcome::Rejected)
    );
    Ok(Json(UploadResponse { results }))
}

fn parse_id(id: &str) -> Result<SegmentId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::malformed(format!("{id:?} is not a segment id")))
}

/// S4: deletes one of the user's segments unless its week has closed.
#[utoipa::path(delete, path = "/api/v1/segments/{id}", tag = "time",
    summary = "Delete one of the user's segments unless its week has closed (S4)",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The segment's id (UUID)")),
    responses((status = 204, description = "Deleted"),
        (status = 400, description = "Not a segment id (`malformed`)", body = ErrorBody),
        (status = 403, description = "A `read` API token (`read_only_token`)", body = ErrorBody),
        (status = 404, description = "No such segment of the user's (`not_found`)", body = ErrorBody),
        (status = 423, description = "The week is locked (`week_locked`)", body = ErrorBody),
        (status = 401, description = "No token, or an expired, revoked or signed-out one (`signed_out`, `session_expired`, `token_invalid`)", body = ErrorBody),
        (status = 503, description = "Maintenance, busy, or the storage unreachable (`Retry-After`)", body = ErrorBody)))]
async fn delete_segment(
    State(state): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let now = state.clock.now();
    let grace = state.config.lock_grace_secs;
    let user_id = user.id;
    let deleted = blocking(&state, move |s| s.delete_segment(user_id, id, now, grace)).await?;
    if let Err(closed) = deleted {
        return Err(Refusal::Locked(format!(
            "{}: its segments can no longer be deleted",
            closed.message()
        ))
        .into());
    }
    log::info!("server: {} deleted segment {id}", user.login);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/segments/{id}/screenshot", tag = "time",
    summary = "A segment's screenshot",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The segment's id (UUID)")),
    responses((status = 200, description = "The JPEG", content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, description = "No such segment, or no screenshot (`not_found`)", body = ErrorBody),
        (status = 401, description = "No token, or an expired, revoked or signed-out one (`signed_out`, `session_expired`, `token_invalid`)", body = ErrorBody),
        (status = 503, description = "Maintenance, busy, or the storage unreachable (`Retry-After`)", body = ErrorBody)))]
async fn screenshot(
    state: State<Shared>,
    user: Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    picture(state, user, &id, Picture::Full).await
}

#[utoipa::path(get, path = "/api/v1/segments/{id}/thumbnail", tag = "time",
    summary = "A segment's thumbnail",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The segment's id (UUID)")),
    responses((status = 200, description = "The JPEG", content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, description = "No such segment, or no screenshot (`not_found`)", body = ErrorBody),
        (status = 401, description = "No token, or an expired, revoked or signed-out one (`signed_out`, `session_expired`, `token_invalid`)", body = ErrorBody),
        (status = 503, description = "Maintenance, busy, or the storage unreachable (`Retry-After`)", body = ErrorBody)))]
async fn thumbnail(
    state: State<Shared>,
    user: Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    picture(state, user, &id, Picture::Thumbnail).await
}

async fn picture(
    State(state): State<Shared>,
    Authed(user): Authed,
    id: &str,
    size: Picture,
) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let jpeg = blocking(&state, move |s| s.screenshot(user.id, id, size))
        .await?
        .ok_or_else(|| ApiError::not_found("screenshot"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        jpeg,
    )
        .into_response())
}

#[derive(Deserialize)]
struct DiaryQuery {
    date: Option<String>,
    tz: Option<String>,
}

/// One local day of the user's time over all contracts (T1, B1).
#[utoipa::path(get, path = "/api/v1/diary", tag = "time",
    summary = "One local day of the user's time over all contracts, with billable totals (B1)",
    security(("bearer" = [])),
    params(("date" = Option<String>, Query, description = "YYYY-MM-DD; today in the zone by default"),
        ("tz" = Option<String>, Query, description = "IANA zone (default UTC)")),
    responses((status = 200, description = "The day", body = DiaryResponse),
        (status = 400, description = "A bad date or zone (`malformed`)", body = ErrorBody),
        (status = 401, description = "No token, or an expired, revoked or signed-out one (`signed_out`, `session_expired`, `token_invalid`)", body = ErrorBody),
        (status = 503, description = "Maintenance, busy, or the storage unreachable (`Retry-After`)", body = ErrorBody)))]
async fn diary(
    State(state): State<Shared>,
    Authed(user): Authed,
    query: Result<Query<DiaryQuery>, QueryRejection>,
) -> Result<Json<DiaryResponse>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::malformed(e.to_string()))?;
    let zone = parse_zone(query.tz.as_deref())?;
    let now = state.clock.now();
    let date = match query.date.as_deref() {
        None => LocalDay::containing(now, zone).date,
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::malformed(format!("{d:?} is not a date; use YYYY-MM-DD")))?,
    };
    if !is_plausible_day(date) {
        return Err(ApiError::malformed(format!(
            "{date} is outside the days the Work Diary can show ({}); ask for a day in that range",
            plausible_years()
        )));
    }
    let day = LocalDay::new(date, zone);
    let config = state.config;
    let view = blocking(&state, move |s| {
        views::DayView::of_user(s, user.id, day, now, config)
    })
    .await?;
    Ok(Json(view.into_response()))
}

#[utoipa::path(post, path = "/api/v1/reports", tag = "support",
    summary = "Send a problem report, with the app's logs",
    security(("bearer" = [])),
    request_body = ProblemReport,
    responses((status = 200, description = "Received", body = ReportReceipt),
        (status = 400, description = "Not a report (`malformed`)", body = ErrorBody),
        (status = 403, description = "A `read` API token (`read_only_token`)", body = ErrorBody),
        (status = 413, description = "Over 32 MiB (`too_large`)", body = ErrorBody),
        (status = 401, description = "No token, or an expired, revoked or signed-out one (`signed_out`, `session_expired`, `token_invalid`)", body = ErrorBody),
        (status = 503, description = "Maintenance, busy, or the storage unreachable (`Retry-After`)", body = ErrorBody)))]
async fn report(
    State(state): State<Shared>,
    Authed(user): Authed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ReportReceipt>, ApiError> {
    // A report with its logs is up to 32 MiB of JSON and base64: read on a
    // blocking thread, not on the async workers.
    let (report, logs) = tokio::task::spawn_blocking(move || {
        let report: ProblemReport = parse_json(body)?;
        if report.description.trim().is_empty() {
            return Err(ApiError::malformed("the report needs a description"));
        }
        if report.id.is_nil() {
            return Err(ApiError::malformed("the report needs an id"));
        }
        let logs = report.logs_zip().map_err(ApiError::malformed)?;
        Ok((report, logs))
    })
    .await
    .map_err(|_| ApiError::internal())??;
    let now = state.clock.now();
    let id = report.id.to_string();
    log::info!(
        "report {id} from {}: {} bytes of logs",
        user.login,
        logs.as_ref().map_or(0, Vec::len)
    );
    blocking(&state, move |s| {
        s.add_report(user.id, &report, logs.as_deref(), now)
    })
    .await?;
    Ok(Json(ReportReceipt { id }))
}

#[derive(Deserialize)]
struct LatestQuery {
    os: String,
    arch: String,
    kind: String,
    program: Option<String>,
}

/// The newest release for the asking app's system (U1). Public: what a
/// server offers is on its `/download` page too.
#[utoipa::path(get, path = "/api/v1/releases/latest", tag = "server",
    summary = "The newest signed release for a system (U1)",
    params(("os" = String, Query, description = "linux, windows, …"),
        ("arch" = String, Query, description = "x86_64, aarch64, …"),
        ("kind" = String, Query, description = "deb, installer, binary, zip or image"),
        ("program" = Option<String>, Query, description = "timecard (default) or timecard-server")),
    responses((status = 200, description = "The release", body = ReleaseOffer),
        (status = 400, description = "A missing or unknown parameter (`malformed`)", body = ErrorBody),
        (status = 404, description = "Nothing published for it (`no_release`)", body = ErrorBody)))]
async fn latest_release(
    State(state): State<Shared>,
    query: Result<Query<LatestQuery>, QueryRejection>,
) -> Result<Json<ReleaseOffer>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let kind = timecard_core::release::Kind::parse(&query.kind)
        .ok_or_else(|| ApiError::malformed("kind is one of deb, installer, binary, zip, image"))?;
    let program = query.program.unwrap_or_else(|| "timecard".to_owned());
    let catalog = state.releases.clone();
    let found =
        tokio::task::spawn_blocking(move || catalog.latest(&program, &query.os, &query.arch, kind))
            .await
            .map_err(|_| ApiError::internal())?
            .map_err(|e| {
                log::error!("cannot read the releases: {e}");
                ApiError::internal()
            })?;
    let published = found.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_release",
            "this server offers no release for this system",
        )
    })?;
    let url = format!(
        "/download/{}/{}",
        published.release.version, published.release.name
    );
    Ok(Json(ReleaseOffer {
        release: published.release,
        url,
    }))
}
