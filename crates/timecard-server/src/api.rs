//! The HTTP API (v1): routes, authentication, error bodies, body caps and
//! maintenance mode. Storage goes through [`Store`] on blocking threads.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::auth::{self, SignInLimiter};
use super::rules;
use super::store::{Picture, Store, StoreError, User};
use timecard_core::clock::Clock;
use timecard_core::codec;
use timecard_core::domain::Segment;
use timecard_core::domain::segment::caps;
use timecard_core::domain::segment::{is_plausible_day, plausible_years};
use timecard_core::domain::{BillingWeek, LocalDay, SegmentId};
use timecard_core::protocol::{
    self, BatchError, ContractInfo, ContractTotal, ContractsResponse, DiaryResponse, ErrorBody,
    Health, Outcome, ProblemReport, RejectReason, ReportReceipt, SegmentResult, ServerConfig,
    SessionInfo, SignIn, UploadResponse,
};

/// Cap on JSON request bodies.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;
/// Cap on a segment batch: a few dozen segments with screenshots.
pub const SEGMENTS_BODY_LIMIT: usize = timecard_core::protocol::MAX_BATCH_BYTES;
/// Cap on a problem report with its logs.
pub const REPORT_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// Segments in one batch, at most.
pub const MAX_BATCH: usize = protocol::MAX_BATCH_SEGMENTS;
/// How long a session lasts.
pub const SESSION_DAYS: i64 = 30;

/// What every handler shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: ServerConfig,
    pub clock: Arc<dyn Clock>,
    /// How long a client has to review a week after it ends.
    pub review_secs: i64,
}

/// What keeps hostile clients from taking the server's memory or time
/// (issue 11): bounds on the work that costs memory. One per router, given
/// to handlers as an extension.
pub struct Guards {
    /// Password hashing of sign-ins (Argon2id, ~19 MiB each).
    pub hashing: auth::Hashing,
    /// Requests with large bodies (segment batches up to 64 MiB, problem
    /// reports up to 32 MiB) read and decoded at once; the body is read
    /// only once a permit is held.
    pub heavy: Arc<Semaphore>,
    /// Requests that read pictures or a day of segments at once.
    pub reads: Arc<Semaphore>,
    /// How long a request waits for a permit before a 503.
    pub queue_wait: std::time::Duration,
}

/// Heavy requests at once: two 64 MiB batches, read and decoded, stay far
/// below the server's memory budget.
pub const HEAVY_AT_ONCE: usize = 2;
/// Diary and picture reads at once.
pub const READS_AT_ONCE: usize = 8;

impl Default for Guards {
    fn default() -> Self {
        Guards {
            hashing: auth::Hashing::for_this_machine(),
            heavy: Arc::new(Semaphore::new(HEAVY_AT_ONCE)),
            reads: Arc::new(Semaphore::new(READS_AT_ONCE)),
            queue_wait: std::time::Duration::from_secs(10),
        }
    }
}

/// A 503 saying the server is busy, with Retry-After.
fn busy(retry_after: std::time::Duration) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "the server is busy with other requests; try again in a few seconds",
    );
    e.retry_after = Some(retry_after.as_secs().max(1));
    e
}

/// Holds a permit of `permits` for the rest of the request (its body is
/// read after), or answers 503 after the queue's wait.
async fn gated(
    permits: &Arc<Semaphore>,
    wait: std::time::Duration,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(wait, permits.clone().acquire_owned()).await {
        Ok(Ok(_permit)) => next.run(request).await,
        _ => busy(wait).into_response(),
    }
}

async fn heavy_gate(
    Extension(guards): Extension<Arc<Guards>>,
    request: Request,
    next: Next,
) -> Response {
    gated(&guards.heavy, guards.queue_wait, request, next).await
}

async fn reads_gate(
    Extension(guards): Extension<Arc<Guards>>,
    request: Request,
    next: Next,
) -> Response {
    gated(&guards.reads, guards.queue_wait, request, next).await
}

pub(crate) type Shared = Arc<AppState>;

/// An error answer: status plus `{"error", "message"}`.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    code: &'static str,
    pub(crate) message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn malformed(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    /// A 500 that says nothing of the server's insides (never a panic's text).
    fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed on this request; try again later",
        )
    }

    fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::Db(e) | StoreError::Blob(e) => {
                log::error!("storage error: {e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server's database failed; try again later",
                )
            }
        }
    }
}

/// Runs a store operation on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| {
            log::error!("server: a storage task failed: {e}");
            ApiError::internal()
        })?
        .map_err(ApiError::from)
}

/// The signed-in user, from `Authorization: Bearer <token>`.
pub struct Authed(pub User);

impl FromRequestParts<Shared> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned)
            .ok_or_else(|| {
                ApiError::new(StatusCode::UNAUTHORIZED, "signed_out", "sign in first")
            })?;
        let hash = auth::token_hash(&token);
        let now = state.clock.now();
        blocking(state, move |s| s.token_user(&hash, now))
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

/// Builds the API router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/config", get(config))
        .route("/api/v1/session", post(sign_in).delete(sign_out))
        .route("/api/v1/contracts", get(contracts))
        .route(
            "/api/v1/segments",
            post(upload)
                .layer(DefaultBodyLimit::max(SEGMENTS_BODY_LIMIT))
                .layer(middleware::from_fn(heavy_gate)),
        )
        .route("/api/v1/segments/{id}", delete(delete_segment))
        .route("/api/v1/manual", post(manual))
        .route(
            "/api/v1/segments/{id}/screenshot",
            get(screenshot).layer(middleware::from_fn(reads_gate)),
        )
        .route(
            "/api/v1/segments/{id}/thumbnail",
            get(thumbnail).layer(middleware::from_fn(reads_gate)),
        )
        .route(
            "/api/v1/diary",
            get(diary).layer(middleware::from_fn(reads_gate)),
        )
        .route(
            "/api/v1/reports",
            post(report)
                .layer(DefaultBodyLimit::max(REPORT_BODY_LIMIT))
                .layer(middleware::from_fn(heavy_gate)),
        )
        .merge(crate::web::routes())
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
        })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(Extension(Arc::new(Guards::default())))
        .layer(middleware::from_fn_with_state(state.clone(), maintenance))
        .layer(middleware::from_fn(crate::web::security_headers))
        .layer(middleware::from_fn(catch_panics))
        .with_state(state)
}

/// Runs the request in a task of its own, so that a handler that panics
/// answers a generic JSON 500 (the panic's text, which may name the
/// server's insides, goes to the log only) instead of dropping the
/// connection. Written here rather than taken from tower-http's
/// `CatchPanicLayer`, which would be one more dependency for six lines.
async fn catch_panics(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => {
            log::error!("server: a request handler failed: {e}");
            ApiError::internal().into_response()
        }
    }
}

/// Whether maintenance mode is on (`Some(retry_after)`), as the store
/// says now (every replica reads the same). A store that cannot be read is
/// not maintenance: the request fails on its own terms.
pub(crate) async fn maintenance_mode(state: &Shared) -> Option<u64> {
    blocking(state, |s| s.maintenance()).await.ok()?
}

/// Answers 503 with Retry-After while maintenance mode is on. It holds
/// the app's API; the web pages stay, so an admin can turn it off there.
async fn maintenance(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    if let Some(retry_after) = maintenance_mode(&state).await {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "maintenance",
            "the server is down for maintenance; time is kept on your computer and uploaded afterwards",
        );
        error.retry_after = Some(retry_after);
        return error.into_response();
    }
    next.run(request).await
}

async fn health(State(state): State<Shared>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        server_time: state.clock.now(),
    })
}

async fn config(State(state): State<Shared>) -> Json<ServerConfig> {
    Json(state.config)
}

/// The client's address, from the connection (`ConnectInfo`); the
/// unspecified address when the router is served without it.
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

fn too_many_attempts(delay: auth::Delay) -> ApiError {
    let secs = delay.wait.as_secs_f64().ceil() as u64;
    let whose = if delay.account {
        "this account"
    } else {
        "this address"
    };
    let when = if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min", secs.div_ceil(60))
    };
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many failed sign-ins for {whose}; try again in {when}"),
    );
    e.retry_after = Some(secs.max(1));
    e
}

async fn sign_in(
    State(state): State<Shared>,
    Extension(guards): Extension<Arc<Guards>>,
    ClientAddr(ip): ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SessionInfo>, ApiError> {
    let request: SignIn = parse_json(body)?;
    let (user, token, expires_at) =
        open_session(&state, &guards, ip, &request.login, request.password).await?;
    Ok(Json(SessionInfo {
        token,
        login: user.login,
        expires_at,
    }))
}

/// A sign-in, for the API and the web pages alike: the limits on failed
/// attempts per account and per address, the password check (waiting its
/// turn for the hasher), a disabled account refused. On success, a new
/// session of [`SESSION_DAYS`]: the user, the token and when it expires.
pub(crate) async fn open_session(
    state: &Shared,
    guards: &Guards,
    ip: IpAddr,
    login: &str,
    password: String,
) -> Result<(User, String, DateTime<Utc>), ApiError> {
    let login = login.trim().to_owned();
    let lookup = login.clone();
    let user = blocking(state, move |s| s.find_user(&lookup)).await?;
    // Login and e-mail of one account count together (item 8).
    let account = user.as_ref().map_or_else(
        || auth::AccountKey::unknown(&login),
        |u| auth::AccountKey::User(u.id),
    );
    let key = account.clone();
    let delay = blocking(state, move |s| {
        SignInLimiter(s).delay(&key, ip, chrono::Utc::now())
    })
    .await?;
    if let Some(delay) = delay {
        return Err(too_many_attempts(delay));
    }
    // Verify even for unknown users (`None`: against a hash of nothing), so
    // timing does not reveal which exist; hashing waits its turn (item 3).
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let ok = guards
        .hashing
        .verify(password, phc)
        .await
        .map_err(|b| busy(b.retry_after))?;
    let user = match (user, ok) {
        (Some(user), true) => user,
        _ => {
            // The name as typed, cut short for the log (it can be 60 kB).
            let login: String = login.chars().take(64).collect();
            let started = blocking(state, move |s| {
                SignInLimiter(s).failed(&account, ip, chrono::Utc::now())
            })
            .await?;
            match started {
                Some(delay) => log::warn!(
                    "server: failed sign-in for {login:?} from {ip}; {} held back for {} s",
                    if delay.account {
                        "the account is"
                    } else {
                        "the address is"
                    },
                    delay.wait.as_secs()
                ),
                None => log::warn!("server: failed sign-in for {login:?} from {ip}"),
            }
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong_password",
                "wrong username or password",
            ));
        }
    };
    blocking(state, move |s| SignInLimiter(s).succeeded(&account)).await?;
    if user.disabled {
        log::warn!(
            "server: sign-in refused for {} from {ip}: the account is disabled",
            user.login
        );
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled; ask the server's administrator",
        ));
    }
    log::info!("server: {} signed in from {ip}", user.login);
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let expires_at = state.clock.now() + Duration::days(SESSION_DAYS);
    let user_id = user.id;
    blocking(state, move |s| s.add_token(user_id, &hash, expires_at)).await?;
    Ok((user, token, expires_at))
}

async fn sign_out(
    State(state): State<Shared>,
    parts: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    if let Some(token) = parts
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let hash = auth::token_hash(token);
        blocking(&state, move |s| s.remove_token(&hash)).await?;
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

async fn contracts(
    State(state): State<Shared>,
    Authed(user): Authed,
    query: Result<Query<ZoneQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ContractsResponse>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::malformed(e.to_string()))?;
    let zone = parse_zone(query.tz.as_deref())?;
    let now = state.clock.now();
    let week = BillingWeek::containing(now);
    let day = LocalDay::containing(now, zone);
    let contracts = blocking(&state, move |s| {
        let mut out = Vec::new();
        for stored in s.contracts(Some(user.id))? {
            let id = stored.contract.id.clone();
            out.push(ContractInfo {
                week_logged_secs: s.logged_secs(user.id, &id, week.start(), week.end())?,
                today_logged_secs: s.logged_secs(user.id, &id, day.start(), day.end())?,
                disputes: recent_disputes(s, user.id, &id, week)?,
                contract: rules::as_of(stored.contract, now),
            });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(ContractsResponse {
        server_time: now,
        week_start: week.start(),
        contracts,
    }))
}

/// Time worked away from the tracker, added by hand (R8).
async fn manual(
    State(state): State<Shared>,
    Authed(user): Authed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<protocol::ManualTimeAdded>, ApiError> {
    let request: protocol::ManualTime = parse_json(body)?;
    let added = add_manual_time(&state, &user, request).await?;
    Ok(Json(added))
}

/// Adds manual time for `user`, for the API and the web pages alike.
pub(crate) async fn add_manual_time(
    state: &Shared,
    user: &User,
    request: protocol::ManualTime,
) -> Result<protocol::ManualTimeAdded, ApiError> {
    if request.memo.chars().count() > caps::MEMO_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("the memo is longer than {} characters", caps::MEMO_CHARS),
        ));
    }
    let now = state.clock.now();
    let config = state.config;
    let segments = rules::manual_segments(
        &request.contract_id,
        request.start,
        request.end,
        request.memo.trim(),
        now,
        config,
    )
    .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m))?;
    let added = protocol::ManualTimeAdded {
        segments: segments.iter().map(|s| s.id).collect(),
        secs: (request.end - request.start).num_seconds(),
    };
    let user_id = user.id;
    blocking(state, move |s| {
        s.add_manual(user_id, &segments, now, config)
    })
    .await?
    .map_err(|(reason, message)| ApiError::new(StatusCode::CONFLICT, reason.code(), message))?;
    log::info!(
        "server: {} added {} s of manual time on {}",
        user.login,
        added.secs,
        request.contract_id
    );
    Ok(added)
}

/// How many billing weeks back the app is told about disputes.
const DISPUTE_WEEKS: i64 = 8;

/// The disputes of a contract's segments in the last [`DISPUTE_WEEKS`].
fn recent_disputes(
    s: &dyn Store,
    user_id: i64,
    contract_id: &str,
    week: BillingWeek,
) -> Result<Vec<protocol::DisputeInfo>, StoreError> {
    let since = week.start() - Duration::weeks(DISPUTE_WEEKS);
    let events: Vec<_> = s
        .reviews(contract_id, None)?
        .into_iter()
        .filter(|e| e.week_start >= since)
        .collect();
    let mut out = Vec::new();
    for d in rules::disputes(&events) {
        let Some(segment) = s.segment(user_id, d.segment_id)? else {
            continue;
        };
        out.push(protocol::DisputeInfo {
            segment_id: d.segment_id,
            start: segment.start,
            end: segment.end,
            reason: d.reason,
            answer: d.answer,
            state: match d.decision {
                None => "open",
                Some(rules::ReviewAction::Reject) => "rejected",
                Some(_) => "kept",
            }
            .to_owned(),
        });
    }
    Ok(out)
}

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
    // /health (issue 11, item 4).
    let results = tokio::task::spawn_blocking(move || {
        let (segments, slots) = decode_upload(&bytes)?;
        drop(bytes);
        let mut stored = store
            .ingest(user.id, &segments, now, config)
            .map_err(ApiError::from)?
            .into_iter();
        Ok::<_, ApiError>(
            slots
                .into_iter()
                .map(|slot| slot.unwrap_or_else(|| stored.next().expect("one result per segment")))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .map_err(|e| {
        log::error!("server: an upload task failed: {e}");
        ApiError::internal()
    })??;
    let count = |o| results.iter().filter(|r| r.outcome == o).count();
    log::info!(
        "server: {login} uploaded {} segment(s): {} accepted, {} duplicate, {} rejected",
        results.len(),
        count(Outcome::Accepted),
        count(Outcome::Duplicate),
        count(Outcome::Rejected)
    );
    Ok(Json(UploadResponse { results }))
}

/// Decodes a batch: the segments to judge, and per entry in batch order
/// either `None` (its result comes from judging) or the refusal of a body
/// too large to decode (`invalid`, by its id). A batch over the count cap
/// is a 413, one whose structure or an entry's id does not decode a 400.
fn decode_upload(bytes: &[u8]) -> Result<(Vec<Segment>, Vec<Option<SegmentResult>>), ApiError> {
    let bodies = protocol::decode_batch(bytes).map_err(|e| match e {
        BatchError::TooMany(_) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
        BatchError::Malformed(_) => ApiError::malformed(e.to_string()),
    })?;
    let mut segments = Vec::with_capacity(bodies.len());
    let mut slots = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.into_iter().enumerate() {
        let undecodable =
            |e| ApiError::malformed(format!("segment {i} of the batch does not decode: {e}"));
        if body.len() > caps::BODY_BYTES {
            let id = codec::body_id(body).map_err(undecodable)?;
            slots.push(Some(SegmentResult {
                id,
                outcome: Outcome::Rejected,
                reason: Some(RejectReason::Invalid),
                message: Some(format!(
                    "the segment is {} bytes; at most {} are taken (a screenshot of at most {} bytes)",
                    body.len(),
                    caps::BODY_BYTES,
                    caps::SCREENSHOT_BYTES
                )),
                accepted_until: None,
            }));
        } else {
            segments.push(codec::decode_body(body).map_err(undecodable)?);
            slots.push(None);
        }
    }
    Ok((segments, slots))
}

fn parse_id(id: &str) -> Result<SegmentId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::malformed(format!("{id:?} is not a segment id")))
}

async fn delete_segment(
    State(state): State<Shared>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let now = state.clock.now();
    let grace = state.config.lock_grace_secs;
    blocking(&state, move |s| {
        let segment = s
            .segment(user.id, id)?
            .ok_or_else(|| StoreError::NotFound(format!("segment {id} not found")))?;
        if let Err(locked_at) = rules::may_delete(segment.start, now, grace) {
            return Ok(Err(locked_at));
        }
        s.delete_segment(user.id, id)?;
        log::info!("server: {} deleted segment {id}", user.login);
        Ok(Ok(()))
    })
    .await?
    .map_err(|locked_at: DateTime<Utc>| {
        ApiError::new(
            StatusCode::LOCKED,
            "week_locked",
            format!(
                "the week's Work Diary locked on {}; its segments can no longer be deleted",
                locked_at.format("%-d %b %Y %H:%M UTC")
            ),
        )
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn screenshot(
    state: State<Shared>,
    user: Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    picture(state, user, &id, Picture::Full).await
}

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

async fn diary(
    State(state): State<Shared>,
    Authed(user): Authed,
    query: Result<Query<DiaryQuery>, axum::extract::rejection::QueryRejection>,
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
    let (from, to) = (day.start(), day.end());
    let segments = blocking(&state, move |s| {
        let mut segments = s.segments_between(user.id, from, to)?;
        // The client's disputes of these segments (R9), in words.
        let mut contracts: Vec<String> = segments.iter().map(|s| s.contract_id.clone()).collect();
        contracts.sort();
        contracts.dedup();
        for contract_id in contracts {
            let disputes = rules::disputes(&s.reviews(&contract_id, None)?);
            for segment in segments.iter_mut().filter(|g| g.contract_id == contract_id) {
                segment.dispute = disputes
                    .iter()
                    .find(|d| d.segment_id == segment.id)
                    .map(rules::Dispute::in_words);
            }
        }
        Ok(segments)
    })
    .await?;
    let mut totals: Vec<ContractTotal> = Vec::new();
    for s in &segments {
        let secs = (s.end.min(to) - s.start.max(from)).num_seconds();
        match totals.iter_mut().find(|t| t.contract_id == s.contract_id) {
            Some(t) => t.secs += secs,
            None => totals.push(ContractTotal {
                contract_id: s.contract_id.clone(),
                secs,
            }),
        }
    }
    Ok(Json(DiaryResponse {
        date,
        tz: zone.name().to_owned(),
        day_start: from,
        day_end: to,
        hours: day.len_secs() / 3600,
        segments,
        totals,
        locked: BillingWeek::containing(from).is_locked(now, state.config.lock_grace_secs),
    }))
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    // No panic text ever reaches an HTTP body: a handler that panics
    // answers a generic JSON 500 instead of dropping the connection.
    #[test]
    fn a_panicking_handler_answers_a_plain_500() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            async fn boom() -> StatusCode {
                panic!("secret detail of the server")
            }
            let app = Router::new()
                .route("/boom", get(boom))
                .layer(middleware::from_fn(catch_panics));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });
            let response = tokio::task::spawn_blocking(move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream
                    .write_all(b"GET /boom HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut text = String::new();
                let _ = stream.read_to_string(&mut text);
                text
            })
            .await
            .unwrap();
            assert!(response.starts_with("HTTP/1.1 500"), "{response:?}");
            assert!(response.contains(r#""error":"internal""#), "{response}");
            assert!(!response.contains("secret"), "{response}");
        });
    }
}
