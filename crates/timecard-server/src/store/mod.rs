//! Server storage behind the [`Store`] trait: SQLite ([`SqliteStore`], one
//! file, the zero-setup default) or PostgreSQL ([`PgStore`], for several
//! replicas on one database). Screenshots, thumbnails and report zips live
//! in the database or, with `--blobs`, in a folder or an S3-compatible
//! bucket ([`Blobs`]). The store owns transactions and durability; the
//! rules it applies inside a transaction come from [`super::rules`],
//! through [`batch`] (uploads, manual time) and [`review`] (review steps,
//! deletions), which both stores share. Both answer alike, errors included
//! ([`StoreError`]); `tests/integration/store_contract.rs` runs the same
//! test bodies against each.
//!
//! When is a write done? A method returns `Ok` only after the database's
//! COMMIT (SQLite with `synchronous=FULL`; PostgreSQL's default
//! `synchronous_commit`), and a blob is written before the row that points
//! to it commits: the server acknowledges a segment (and the client
//! deletes its copy) only once it and its picture are durable.

pub mod api_tokens;
mod batch;
pub mod blobs;
pub mod outbox;
mod postgres;
mod review;
mod rows;
mod sqlite;
pub mod webhooks;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::rules::{Closed, ReviewEvent, ReviewRefusal, ReviewRequest, StoredContract};
use timecard_core::domain::{Contract, Segment, SegmentId};
use timecard_core::protocol::{
    DiarySegment, ProblemReport, RejectReason, SegmentResult, ServerConfig,
};

pub use self::api_tokens::{ApiToken, NewApiToken, Scope};
pub use self::blobs::Blobs;
pub use self::outbox::{LinkPurpose, NewLink, NewMail, QueuedMail, Recipient};
pub use self::postgres::PgStore;
pub use self::sqlite::SqliteStore;
pub use self::webhooks::{Attempt, Delivery, NewEvent, NewWebhook, Webhook};

/// Sign-ins under way at once, at most (I4): each is a row until it
/// finishes or its ten minutes pass.
pub const MAX_PENDING_SIGN_INS: i64 = 10_000;

/// What went wrong in the store, the same on every back-end.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum StoreError {
    /// What was asked for is not there: a user, a contract, a segment.
    #[error("{0}")]
    NotFound(String),
    /// It clashes with what is stored: a login or an id already taken.
    #[error("{0}")]
    Conflict(String),
    /// What was given breaks a rule of the data (a reference to nothing, a
    /// value out of range).
    #[error("{0}")]
    Invalid(String),
    /// The disk under the database or the pictures is full: nothing was
    /// changed, and trying again once there is room will work.
    #[error("storage full: {0}")]
    Full(String),
    /// The database or the blob store cannot be reached or is busy:
    /// nothing was changed, and trying again later may work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else the database said: damage or a bug.
    #[error("storage error: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match &e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound("not found".into()),
            rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
                ErrorCode::ConstraintViolation => StoreError::Conflict(e.to_string()),
                ErrorCode::DiskFull => StoreError::Full(e.to_string()),
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::ReadOnly
                | ErrorCode::OutOfMemory => StoreError::Unavailable(e.to_string()),
                _ => StoreError::Internal(e.to_string()),
            },
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            // No answer from the server: the connection or I/O failed.
            return StoreError::Unavailable(e.to_string());
        };
        let text = format!("{} ({})", db.message(), db.code().code());
        if db.code().code() == "53100" {
            return StoreError::Full(text);
        }
        match &db.code().code()[..2] {
            // Integrity: unique (23505) is a clash, the rest bad data.
            "23" if db.code().code() == "23505" => StoreError::Conflict(text),
            "23" | "22" => StoreError::Invalid(text),
            // Connection, resources, shutdown, serialization: try again.
            "08" | "53" | "57" | "40" | "55" => StoreError::Unavailable(text),
            _ => StoreError::Internal(text),
        }
    }
}

/// Whether `e` (or what caused it) is a full disk or an exhausted quota.
pub fn is_disk_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && (io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded)
        {
            return true;
        }
        next = e.source();
    }
    false
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Unavailable(format!("no database connection: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Runs a store call on a blocking thread (the async workers never wait on
/// the database).
pub async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> Result<T> + Send + 'static,
) -> Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .unwrap_or_else(|e| {
            log::error!("server: a storage task failed: {e}");
            Err(StoreError::Internal("a storage task failed".into()))
        })
}

/// Which database a server keeps its data in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// One SQLite file (by default `timecard-server.sqlite` in the data
    /// folder).
    Sqlite(PathBuf),
    /// A PostgreSQL database, `postgres://USER@HOST[:PORT]/DB`.
    Postgres(String),
}

impl Database {
    /// Reads `postgres://…` (or `postgresql://…`) or `sqlite:PATH`.
    pub fn parse(text: &str) -> std::result::Result<Database, String> {
        let text = text.trim();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            text.parse::<::postgres::Config>()
                .map_err(|e| format!("{}: {e}", Database::redacted(text)))?;
            Ok(Database::Postgres(text.to_owned()))
        } else if let Some(path) = text.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err("sqlite: needs a file, as in sqlite:/srv/timecard.sqlite".into());
            }
            Ok(Database::Sqlite(PathBuf::from(path)))
        } else {
            Err(format!(
                "{:?} is not a database address: give postgres://USER@HOST[:PORT]/DB or sqlite:PATH",
                Database::redacted(text)
            ))
        }
    }

    /// The address as it may be printed: without a password.
    pub fn redacted(text: &str) -> String {
        match (text.find("://"), text.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let credentials = &text[scheme + 3..at];
                match credentials.split_once(':') {
                    Some((user, _)) => format!("{}{user}:***{}", &text[..scheme + 3], &text[at..]),
                    None => text.to_owned(),
                }
            }
            _ => text.to_owned(),
        }
    }

    /// What to call it in messages.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("SQLite {}", path.display()),
            Database::Postgres(url) => format!("PostgreSQL {}", Database::redacted(url)),
        }
    }
}

/// Opens a store: the database (bringing its schema up to date) and,
/// when given, the blob store for pictures and zips.
pub fn open(database: &Database, blobs: Option<Blobs>) -> Result<Box<dyn Store>> {
    Ok(match database {
        Database::Sqlite(path) => Box::new(SqliteStore::open_with(path, blobs)?),
        Database::Postgres(url) => Box::new(PgStore::open(url, blobs)?),
    })
}

/// A sign-in failure count: how many, and when the last one was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub last: DateTime<Utc>,
}

/// R1: what an account is for: a freelancer tracks time on their
/// contracts; a client reviews the time of the contracts they pay for; an
/// admin runs the server and sees everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Freelancer,
    Client,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Freelancer => "freelancer",
            Role::Client => "client",
            Role::Admin => "admin",
        }
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }

    /// Reads a stored role; anything unknown is the least privileged.
    fn from_stored(text: &str) -> Role {
        match text {
            "admin" => Role::Admin,
            "client" => Role::Client,
            _ => Role::Freelancer,
        }
    }
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub email: Option<String>,
    pub password_hash: String,
    /// Disabled by an admin (`user disable`): cannot sign in.
    pub disabled: bool,
    pub role: Role,
}

/// A user as `user list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UserSummary {
    pub login: String,
    pub email: Option<String>,
    pub role: Role,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Sessions that have not expired.
    pub sessions: usize,
    pub contracts: usize,
}

/// A session as `session list` shows it: never the token, only the start
/// of its hash, enough to tell sessions apart.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SessionSummary {
    pub login: String,
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

/// Everything the server keeps.
pub trait Store: Send + Sync {
    fn add_user(&self, login: &str, email: Option<&str>, password_hash: &str) -> Result<i64>;
    fn set_password(&self, login: &str, password_hash: &str) -> Result<()>;
    fn set_role(&self, login: &str, role: Role) -> Result<()>;
    /// Finds a user by login or e-mail.
    fn find_user(&self, login_or_email: &str) -> Result<Option<User>>;
    fn add_token(&self, user_id: i64, token_hash: &str, expires_at: DateTime<Utc>) -> Result<()>;
    /// The user of an unexpired token.
    fn token_user(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<User>>;
    fn remove_token(&self, token_hash: &str) -> Result<()>;
    /// Stores a personal API token (I1); its id.
    fn add_api_token(&self, token: &NewApiToken) -> Result<i64>;
    /// The user and scope of an API token valid at `now`, noting the use
    /// (at most once a minute).
    fn api_token_user(&self, token_hash: &str, now: DateTime<Utc>)
    -> Result<Option<(User, Scope)>>;
    /// API tokens, of one user or all, newest first (expired ones too).
    fn api_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>>;
    /// Deletes token `id` (only if it is `user_id`'s, when given); whether
    /// there was one.
    fn revoke_api_token(&self, id: i64, user_id: Option<i64>) -> Result<bool>;
    /// The id of the API token with this hash.
    fn api_token_id(&self, token_hash: &str) -> Result<Option<i64>>;

    /// Registers a webhook (I2); its id.
    fn add_webhook(&self, hook: &NewWebhook) -> Result<i64>;
    /// Webhooks, of one owner or all, oldest first.
    fn webhooks(&self, owner: Option<i64>) -> Result<Vec<Webhook>>;
    /// Turns webhook `id` on (its failures forgotten) or off; only if it is
    /// `owner`'s, when given. Whether there was one.
    fn set_webhook_enabled(
        &self,
        id: i64,
        owner: Option<i64>,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Deletes webhook `id` and its deliveries (only `owner`'s, when given).
    fn delete_webhook(&self, id: i64, owner: Option<i64>) -> Result<bool>;
    /// Queues `event` for each of `webhook_ids` that does not have it yet;
    /// how many deliveries were queued.
    fn queue_event(
        &self,
        event: &NewEvent,
        webhook_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<usize>;
    /// Claims up to `limit` due deliveries of enabled webhooks: each counts
    /// an attempt and is held until `until`.
    fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>>;
    /// Records how an attempt went; whether the webhook was turned off by
    /// it (its failures in a row reached `disable_after`).
    fn record_attempt(&self, attempt: &Attempt) -> Result<bool>;
    /// The newest deliveries of a webhook.
    fn deliveries(&self, webhook_id: i64, limit: usize) -> Result<Vec<Delivery>>;
    /// Forgets deliveries that got through before `before`; how many.
    fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<usize>;

    /// Keeps what a sign-in under way needs (I4) under the hash of its
    /// key until `expires_at`; forgets the expired ones. Refused
    /// (`Unavailable`) when too many are under way.
    fn put_pending_sign_in(
        &self,
        key_hash: &str,
        data: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Takes (once) what [`Store::put_pending_sign_in`] kept, if not expired.
    fn take_pending_sign_in(&self, key_hash: &str, now: DateTime<Utc>) -> Result<Option<String>>;
    /// The user an identity provider's subject is linked to.
    fn identity_user(&self, issuer: &str, subject: &str) -> Result<Option<User>>;
    /// Links a provider's subject to a user (`Conflict` if it is linked).
    fn link_identity(
        &self,
        issuer: &str,
        subject: &str,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The logins of the users among `ids` that exist, in one query.
    fn logins(&self, ids: &[i64]) -> Result<HashMap<i64, String>>;
    /// One user's login; `NotFound` when there is no such user.
    fn login_of(&self, user_id: i64) -> Result<String> {
        self.logins(&[user_id])?
            .remove(&user_id)
            .ok_or_else(|| StoreError::NotFound(format!("no user with id {user_id}")))
    }

    /// Adds a contract for the user `login`.
    fn add_contract(&self, login: &str, contract: &Contract, now: DateTime<Utc>) -> Result<()>;
    /// Saves a changed contract (status changes record their moment).
    /// `Invalid` when its terms break R2 ([`crate::rules::terms_problem`]).
    fn save_contract(&self, stored: &StoredContract) -> Result<()>;
    fn contract(&self, id: &str) -> Result<Option<StoredContract>>;
    /// All contracts, or one user's.
    fn contracts(&self, user_id: Option<i64>) -> Result<Vec<StoredContract>>;

    /// Seconds stored on each of `contract_ids` within `[from, to)`
    /// (clipped), in one query; a contract with none is left out.
    fn logged_by_contract(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, i64>>;
    /// Seconds stored on one contract within `[from, to)` (clipped).
    fn logged_secs(
        &self,
        contract_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64> {
        Ok(self
            .logged_by_contract(&[contract_id.to_owned()], from, to)?
            .remove(contract_id)
            .unwrap_or(0))
    }
    /// Seconds stored on each of `contract_ids` per billing week, for the
    /// segments starting within `[from, to)` (a segment never crosses a
    /// week): `(contract, week start, seconds)`, in one query.
    fn logged_by_week(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>, i64)>>;
    /// When the last segment of each of `contract_ids` ended, in one query.
    fn last_activity(&self, contract_ids: &[String]) -> Result<HashMap<String, DateTime<Utc>>>;
    /// Judges and stores a batch in one transaction; one result per segment.
    fn ingest(
        &self,
        user_id: i64,
        segments: &[Segment],
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<Vec<SegmentResult>>;
    /// The user's segments that overlap `[from, to)`, oldest first.
    fn segments_between(
        &self,
        user_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DiarySegment>>;
    /// One contract's segments that overlap `[from, to)`, oldest first.
    fn contract_segments(
        &self,
        contract_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DiarySegment>>;
    /// The segments of `contract_ids` that overlap `[from, to)`, by
    /// contract then oldest first, in one query (the reports).
    fn contracts_segments(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DiarySegment>>;
    /// Seconds logged on each of `contract_ids` in each day of `[from,
    /// to)` (days of 24 hours from `from`, each segment clipped to its
    /// days), tracked and manual apart, by contract, day and kind, in one
    /// query: the reports' sums, without reading every segment. Days
    /// without time are left out.
    fn logged_by_day(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LoggedDay>>;
    /// The segments among `ids` of `contract_ids`, by contract then oldest
    /// first, in one query (the disputed ones of a report).
    fn contracts_segments_by_ids(
        &self,
        contract_ids: &[String],
        ids: &[SegmentId],
    ) -> Result<Vec<DiarySegment>>;
    fn segment(&self, user_id: i64, id: SegmentId) -> Result<Option<DiarySegment>>;
    /// The user's segments among `ids`, oldest first, in one query.
    fn segments_by_ids(&self, user_id: i64, ids: &[SegmentId]) -> Result<Vec<DiarySegment>>;
    /// Adds time worked away from the tracker (R8): `segments` (cut on the
    /// grid, device [`crate::rules::MANUAL_DEVICE`]) are judged like tracked ones
    /// and, only if every one is accepted, stored together as manual time;
    /// otherwise nothing is stored and the first refusal is returned.
    fn add_manual(
        &self,
        user_id: i64,
        segments: &[Segment],
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<std::result::Result<(), (RejectReason, String)>>;
    /// Takes a review step (R7) if [`crate::rules::review_step`] allows it: the
    /// check and the write happen in one transaction, under the lock the
    /// freelancer's uploads take (B3). `NotFound` when the contract does
    /// not exist.
    fn review(
        &self,
        request: &ReviewRequest,
        now: DateTime<Utc>,
        review_secs: i64,
    ) -> Result<std::result::Result<ReviewEvent, ReviewRefusal>>;
    /// The review events of each of `contract_ids` since `since` (all with
    /// `None`), oldest first, in one query.
    fn reviews_of(
        &self,
        contract_ids: &[String],
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, ReviewEvent)>>;
    /// One contract's review events, oldest first.
    fn reviews(&self, contract_id: &str) -> Result<Vec<ReviewEvent>> {
        Ok(self
            .reviews_of(&[contract_id.to_owned()], None)?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }
    /// Deletes a segment, its time and its screenshot (S4), unless its
    /// week has closed ([`crate::rules::may_delete`]; checked in the deleting
    /// transaction). `NotFound` when the user has no such segment.
    fn delete_segment(
        &self,
        user_id: i64,
        id: SegmentId,
        now: DateTime<Utc>,
        grace_secs: i64,
    ) -> Result<std::result::Result<(), Closed>>;
    /// A segment's screenshot (JPEG), full size or its thumbnail.
    fn screenshot(&self, user_id: i64, id: SegmentId, size: Picture) -> Result<Option<Vec<u8>>>;
    /// Keeps a problem report (D3) and its logs zip. A report whose id is
    /// already stored is not stored again.
    fn add_report(
        &self,
        user_id: i64,
        report: &ProblemReport,
        logs_zip: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Every report, newest first, without attachments.
    fn reports(&self) -> Result<Vec<StoredReport>>;
    /// One report (by id, or a unique prefix of it) with its logs zip.
    fn report(&self, id: &str) -> Result<Option<(StoredReport, Option<Vec<u8>>)>>;

    /// Every user, by login.
    fn users(&self, now: DateTime<Utc>) -> Result<Vec<UserSummary>>;
    /// Disables (`Some(when)`) or enables (`None`) a user; disabling ends
    /// every session of theirs.
    fn set_disabled(&self, login: &str, disabled_at: Option<DateTime<Utc>>) -> Result<()>;
    /// Ends every session of a user; returns how many there were.
    fn revoke_sessions(&self, login: &str) -> Result<usize>;
    /// Sessions that have not expired, of one user or all.
    fn sessions(&self, login: Option<&str>, now: DateTime<Utc>) -> Result<Vec<SessionSummary>>;

    // What every replica shares: no state that matters lives in a process.

    /// Maintenance mode: `Some(retry_after_secs)` while it is on.
    fn maintenance(&self) -> Result<Option<u64>>;
    fn set_maintenance(&self, retry_after_secs: Option<u64>) -> Result<()>;
    /// Failed sign-ins under each key since `since` (older ones are
    /// forgotten), in the order of `keys`.
    fn sign_in_failures(
        &self,
        keys: &[&str],
        since: DateTime<Utc>,
    ) -> Result<Vec<Option<Failures>>>;
    /// Counts a failure at `now` under each key (a count whose last
    /// failure is before `since` starts again); returns the new counts.
    /// At most `keep` keys are kept: the oldest go first.
    fn add_sign_in_failure(
        &self,
        keys: &[&str],
        now: DateTime<Utc>,
        since: DateTime<Utc>,
        keep: i64,
    ) -> Result<Vec<Failures>>;
    fn clear_sign_in_failures(&self, key: &str) -> Result<()>;

    // Mail (M2–M5): the outbox, one-time links, where a user's mail goes.

    /// A shared setting (`mail.public_url` …), `None` when unset.
    fn setting(&self, name: &str) -> Result<Option<String>>;
    /// Sets (`Some`) or removes (`None`) a shared setting.
    fn set_setting(&self, name: &str, value: Option<&str>) -> Result<()>;
    /// Queues `mail` to be sent from `now` on, unless a mail with its
    /// dedupe key was ever queued; returns whether it was queued. Done when
    /// it returns: the row is committed.
    fn queue_mail(&self, mail: &NewMail, now: DateTime<Utc>) -> Result<bool>;
    /// Which of `keys` have a mail queued (sent or not), in one query.
    fn mails_queued(&self, keys: &[String]) -> Result<HashSet<String>>;
    /// Claims up to `limit` mails that are due at `now`, unsent and tried
    /// fewer than `max_attempts` times, oldest first: each counts an
    /// attempt and is not due again before `until`, so that no other
    /// sender (another replica) takes it meanwhile.
    fn claim_mail(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        max_attempts: u32,
        limit: usize,
    ) -> Result<Vec<QueuedMail>>;
    /// The SMTP server took mail `id` at `now`: it is never sent again.
    fn mail_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()>;
    /// Sending mail `id` failed with `error`; it is due again at `retry_at`.
    fn mail_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()>;
    /// The newest `limit` mails of the outbox, newest first.
    fn outbox(&self, limit: usize) -> Result<Vec<QueuedMail>>;
    /// Stores a one-time link (only its hash).
    fn add_link(&self, link: &NewLink) -> Result<()>;
    /// The user a link is for, if the link is unused and unexpired at
    /// `now` and the user not disabled.
    fn link_user(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<User>>;
    /// Uses a link, in one transaction: if it is still good at `now`
    /// ([`Store::link_user`]), marks it used, gives its user
    /// `password_hash` and ends every session of theirs; `None` when the
    /// link is not good (used, expired, unknown), and nothing changes.
    fn use_link(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
        password_hash: &str,
    ) -> Result<Option<User>>;
    /// Sets (or removes) a user's e-mail address; `Conflict` when another
    /// account has it as its login or e-mail.
    fn set_email(&self, login: &str, email: Option<&str>) -> Result<()>;
    /// Whether the user gets the weekly summary (M5).
    fn set_weekly_summary(&self, user_id: i64, on: bool) -> Result<()>;
    /// Where the mail of the users among `ids` goes, in one query.
    fn recipients(&self, ids: &[i64]) -> Result<HashMap<i64, Recipient>>;

    /// The blob store, when pictures and zips are kept outside the database.
    fn blobs(&self) -> Option<&Blobs>;
    /// Every blob key a row points to (for `blobs gc`).
    fn blob_keys(&self) -> Result<HashSet<String>>;
    /// Which database this is, for messages.
    fn describe(&self) -> String;
}

/// Time logged on a contract in one day, tracked or manual
/// ([`Store::logged_by_day`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedDay {
    pub contract_id: String,
    /// The day's first instant.
    pub day: DateTime<Utc>,
    /// Added by hand (R8).
    pub manual: bool,
    pub secs: i64,
}

/// Adds segments up into [`LoggedDay`]s as a store reads them, contract
/// by contract (a store that cannot sum per day fast enough in SQL reads
/// the segments in contract order and sums them here).
struct DaySums {
    from: i64,
    to: i64,
    contract: Option<String>,
    /// The current contract's seconds by (day since `from`, manual).
    sums: std::collections::BTreeMap<(i64, bool), i64>,
    days: Vec<LoggedDay>,
}

impl DaySums {
    const DAY: i64 = 86_400;

    fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> DaySums {
        DaySums {
            from: from.timestamp(),
            to: to.timestamp(),
            contract: None,
            sums: Default::default(),
            days: Vec::new(),
        }
    }

    /// A segment `[start, end)` (seconds since 1970) of `contract`; all of
    /// a contract's segments come one after the other.
    fn add(&mut self, contract: &str, start: i64, end: i64, manual: bool) {
        if self.contract.as_deref() != Some(contract) {
            self.flush();
            self.contract = Some(contract.to_owned());
        }
        let (start, end) = (start.max(self.from), end.min(self.to));
        let mut k = (start - self.from) / Self::DAY;
        loop {
            let day = self.from + k * Self::DAY;
            if day >= end {
                break;
            }
            let secs = end.min(day + Self::DAY) - start.max(day);
            if secs > 0 {
                *self.sums.entry((k, manual)).or_default() += secs;
            }
            k += 1;
        }
    }

    fn flush(&mut self) {
        let Some(contract) = self.contract.take() else {
            return;
        };
        for ((k, manual), secs) in std::mem::take(&mut self.sums) {
            self.days.push(LoggedDay {
                contract_id: contract.clone(),
                day: rows::from_ts(self.from + k * Self::DAY),
                manual,
                secs,
            });
        }
    }

    fn finish(mut self) -> Vec<LoggedDay> {
        self.flush();
        self.days
    }
}

/// Which picture of a screenshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Picture {
    Full,
    /// The small one the app made (320 px wide), for the Work Diary.
    Thumbnail,
}

/// A problem report as the server keeps it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredReport {
    /// The sender's login.
    pub login: String,
    pub received_at: DateTime<Utc>,
    /// Size of the attached logs zip, if any.
    pub logs_zip_bytes: Option<u64>,
    #[serde(flatten)]
    pub report: ProblemReport,
}

/// Seconds clients are asked to wait when maintenance mode gives none.
pub const DEFAULT_RETRY_AFTER: u64 = 120;

/// After a batch: deletes the objects written for segments that were not
/// stored (duplicates, refusals). What fails here is left to `blobs gc`.
fn forget_unused_shots(
    blobs: Option<&Blobs>,
    results: &[SegmentResult],
    mut shots: std::collections::HashMap<SegmentId, blobs::ShotKeys>,
) {
    let (Some(blobs), false) = (blobs, shots.is_empty()) else {
        return;
    };
    for result in results {
        if result.outcome == timecard_core::protocol::Outcome::Accepted {
            shots.remove(&result.id);
        }
    }
    let unused: Vec<String> = shots
        .values()
        .flat_map(|keys| [keys.full(), keys.thumbnail()])
        .collect();
    if let Err(e) = blobs.delete_all(unused) {
        log::warn!("server: objects of refused segments stay until `blobs gc`: {e}");
    }
}

/// After a segment's row is gone: its objects. What fails here is left to
/// `blobs gc`.
fn delete_shot_objects(blobs: Option<&Blobs>, base: Option<String>) {
    if let (Some(blobs), Some(base)) = (blobs, base)
        && let Err(e) = blobs.delete_all(blobs::shot_objects(&base).to_vec())
    {
        log::warn!("server: a deleted segment's pictures stay until `blobs gc`: {e}");
    }
}

fn delete_blob(blobs: Option<&Blobs>, key: Option<String>) {
    if let (Some(blobs), Some(key)) = (blobs, key)
        && let Err(e) = blobs.delete_all(vec![key])
    {
        log::warn!("server: an unused object stays until `blobs gc`: {e}");
    }
}

/// A screenshot from its row: the bytes in the row, or its objects.
fn picture_from_row(
    blobs: Option<&Blobs>,
    row: Option<(Vec<u8>, Option<String>)>,
    size: Picture,
) -> Result<Option<Vec<u8>>> {
    match row {
        None => Ok(None),
        Some((bytes, None)) => Ok(Some(bytes)),
        Some((_, Some(base))) => {
            let blobs = blobs.ok_or_else(no_blob_store)?;
            let keys = blobs::ShotKeys { base };
            let key = match size {
                Picture::Full => keys.full(),
                Picture::Thumbnail => keys.thumbnail(),
            };
            match blobs.get(&key)? {
                Some(bytes) => Ok(Some(bytes)),
                None => Err(StoreError::Internal(format!(
                    "{key} is missing from {}",
                    blobs.location()
                ))),
            }
        }
    }
}

fn no_blob_store() -> StoreError {
    StoreError::Unavailable(
        "this database keeps pictures and zips in a blob store: start the server with --blobs"
            .into(),
    )
}

/// A problem report as its row: the body without the zip, and the zip in
/// the row or (with a blob store, written before the row) its key.
struct ReportRow<'a> {
    id: String,
    body: String,
    zip_in_row: Option<&'a [u8]>,
    blob_key: Option<String>,
    blob_bytes: Option<i64>,
}

fn report_row<'a>(
    blobs: Option<&Blobs>,
    report: &ProblemReport,
    logs_zip: Option<&'a [u8]>,
) -> Result<ReportRow<'a>> {
    let id = report.id.to_string();
    let body = ProblemReport {
        logs_zip_base64: None,
        ..report.clone()
    };
    let body = serde_json::to_string(&body).unwrap_or_default();
    Ok(match (blobs, logs_zip) {
        (Some(blobs), Some(zip)) => {
            let key = blobs::report_key(&id);
            blobs.put_all(vec![(key.clone(), zip.to_vec())])?;
            ReportRow {
                id,
                body,
                zip_in_row: None,
                blob_key: Some(key),
                blob_bytes: Some(zip.len() as i64),
            }
        }
        _ => ReportRow {
            id,
            body,
            zip_in_row: logs_zip,
            blob_key: None,
            blob_bytes: None,
        },
    })
}

/// The one report a lookup found (its zip from the row or the blob store).
fn one_report(
    blobs: Option<&Blobs>,
    id: &str,
    mut found: Vec<(StoredReport, Option<Vec<u8>>, Option<String>)>,
) -> Result<Option<(StoredReport, Option<Vec<u8>>)>> {
    if found.len() > 1 {
        return Err(StoreError::Conflict(format!(
            "more than one report starts with {id:?}; give more of the id"
        )));
    }
    let Some((report, zip, blob_key)) = found.pop() else {
        return Ok(None);
    };
    let zip = match blob_key {
        None => zip,
        Some(key) => blobs.ok_or_else(no_blob_store)?.get(&key)?,
    };
    Ok(Some((report, zip)))
}
