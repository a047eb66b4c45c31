//! Server storage behind the [`Store`] trait, with SQLite as the one
//! implementation (PostgreSQL is the scale-out path). The store owns
//! transactions and durability; the rules it applies inside a batch come
//! from [`super::rules`].
//!
//! When is a write done? A method returns `Ok` only after SQLite's COMMIT,
//! with `synchronous=FULL`: the server acknowledges a segment (and the
//! client deletes its copy) only once it is on disk here.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use thiserror::Error;

use super::rules::{self, ContractTerms, Facts, Rate, StoredContract, Verdict};
use timecard_core::domain::{
    Activity, BillingWeek, Contract, ContractKind, ContractStatus, PendingLimit, Segment, SegmentId,
};
use timecard_core::protocol::{
    DiarySegment, Outcome, ProblemReport, RejectReason, SegmentResult, ServerConfig,
};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What an account is for: a freelancer tracks time on their contracts; a
/// client reviews the time of the contracts they pay for; an admin runs the
/// server and sees everything.
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

    /// Adds a contract for the user `login`.
    fn add_contract(&self, login: &str, contract: &Contract, now: DateTime<Utc>) -> Result<()>;
    /// Saves a changed contract (status changes record their moment).
    fn save_contract(&self, stored: &StoredContract) -> Result<()>;
    fn contract(&self, id: &str) -> Result<Option<StoredContract>>;
    /// All contracts, or one user's.
    fn contracts(&self, user_id: Option<i64>) -> Result<Vec<StoredContract>>;
    fn login_of(&self, user_id: i64) -> Result<String>;

    /// Seconds the user logged on a contract within `[from, to)` (clipped).
    fn logged_secs(
        &self,
        user_id: i64,
        contract_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64>;
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
    fn segment(&self, user_id: i64, id: SegmentId) -> Result<Option<DiarySegment>>;
    /// Adds time worked away from the tracker (R8): `segments` (cut on the
    /// grid, device [`rules::MANUAL_DEVICE`]) are judged like tracked ones
    /// and, only if every one is accepted, stored together as manual time;
    /// otherwise nothing is stored and the first refusal is returned.
    fn add_manual(
        &self,
        user_id: i64,
        segments: &[Segment],
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<std::result::Result<(), (RejectReason, String)>>;
    /// Adds a review event of a contract to its log.
    fn add_review(&self, contract_id: &str, event: &rules::ReviewEvent) -> Result<()>;
    /// A contract's review events, oldest first; of one week, or all.
    fn reviews(
        &self,
        contract_id: &str,
        week_start: Option<DateTime<Utc>>,
    ) -> Result<Vec<rules::ReviewEvent>>;
    /// When the user's last segment on a contract ended.
    fn last_activity(&self, user_id: i64, contract_id: &str) -> Result<Option<DateTime<Utc>>>;
    /// Deletes a segment, its time and its screenshot (S4).
    fn delete_segment(&self, user_id: i64, id: SegmentId) -> Result<()>;
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

/// [`Store`] on one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

/// The schema of migration 1 ([`baseline_schema`]); later ones change it.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    email TEXT UNIQUE,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS contracts (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    client TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    status_changed_at INTEGER,
    start_date TEXT NOT NULL,
    weekly_limit_secs INTEGER,
    pending_set INTEGER NOT NULL DEFAULT 0,
    pending_limit_secs INTEGER,
    pending_effective_at INTEGER
);
CREATE TABLE IF NOT EXISTS segments (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    contract_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    memo TEXT NOT NULL,
    activity INTEGER NOT NULL,
    capture_note TEXT,
    has_screenshot INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_by_user_start ON segments(user_id, start);
CREATE TABLE IF NOT EXISTS screenshots (
    segment_id TEXT PRIMARY KEY,
    taken_at INTEGER NOT NULL,
    jpeg BLOB NOT NULL,
    thumbnail BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    logs_zip BLOB
);
";

/// The schema's history, oldest first: migration `n` (1-based) brings a
/// database from `PRAGMA user_version` `n - 1` to `n`, in one transaction
/// with the version bump.
const MIGRATIONS: &[fn(&Connection) -> rusqlite::Result<()>] = &[
    baseline_schema,
    segments_keyed_by_user,
    users_can_be_disabled,
    roles_and_contract_terms,
    reviews,
    manual_time,
];

/// Runs the migrations a database has not had yet.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        step(&tx)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// 1: the schema as it was before versions were numbered. Databases from
/// that time are at version 0 with some or all of it in place, so every
/// statement tolerates what exists; the oldest kept no attachments beside
/// reports.
fn baseline_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let has_logs_zip: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_table_info('reports') WHERE name = 'logs_zip')",
        [],
        |r| r.get(0),
    )?;
    if !has_logs_zip {
        conn.execute_batch("ALTER TABLE reports ADD COLUMN logs_zip BLOB")?;
    }
    Ok(())
}

/// 2: segment ids are unique per user, not across users (issue 11, item
/// 9): segments and screenshots are keyed by (user, id).
fn segments_keyed_by_user(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE segments_v2 (
            id TEXT NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id),
            contract_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            memo TEXT NOT NULL,
            activity INTEGER NOT NULL,
            capture_note TEXT,
            has_screenshot INTEGER NOT NULL,
            PRIMARY KEY (user_id, id)
        );
        INSERT INTO segments_v2 (id, user_id, contract_id, device_id, start, end, memo, activity, capture_note, has_screenshot)
            SELECT id, user_id, contract_id, device_id, start, end, memo, activity, capture_note, has_screenshot FROM segments;
        CREATE TABLE screenshots_v2 (
            user_id INTEGER NOT NULL,
            segment_id TEXT NOT NULL,
            taken_at INTEGER NOT NULL,
            jpeg BLOB NOT NULL,
            thumbnail BLOB NOT NULL,
            PRIMARY KEY (user_id, segment_id)
        );
        INSERT INTO screenshots_v2 (user_id, segment_id, taken_at, jpeg, thumbnail)
            SELECT g.user_id, s.segment_id, s.taken_at, s.jpeg, s.thumbnail
            FROM screenshots s JOIN segments g ON g.id = s.segment_id;
        DROP TABLE screenshots;
        DROP TABLE segments;
        ALTER TABLE segments_v2 RENAME TO segments;
        ALTER TABLE screenshots_v2 RENAME TO screenshots;
        CREATE INDEX segments_by_user_start ON segments(user_id, start);",
    )
}

/// Migration 3: an admin can disable a user; sessions record when they
/// began (older ones show no date).
fn users_can_be_disabled(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "ALTER TABLE users ADD COLUMN disabled_at INTEGER;
         ALTER TABLE tokens ADD COLUMN created_at INTEGER;",
    )
}

/// 4: accounts have a role (users of an older database are freelancers),
/// and a contract has terms: the client's account, an hourly rate, and
/// whether manual time is allowed (it is, unless an admin says otherwise).
fn roles_and_contract_terms(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'freelancer';
         ALTER TABLE contracts ADD COLUMN client_user_id INTEGER REFERENCES users(id);
         ALTER TABLE contracts ADD COLUMN rate_cents INTEGER;
         ALTER TABLE contracts ADD COLUMN currency TEXT;
         ALTER TABLE contracts ADD COLUMN manual_time INTEGER NOT NULL DEFAULT 1;",
    )
}

/// 5: the client's review of each billing week, as an append-only log of
/// who did what when (approve a week; dispute, answer, keep or reject a
/// segment).
fn reviews(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            contract_id TEXT NOT NULL,
            week_start INTEGER NOT NULL,
            segment_id TEXT,
            action TEXT NOT NULL,
            note TEXT NOT NULL,
            by_user_id INTEGER NOT NULL REFERENCES users(id),
            at INTEGER NOT NULL
        );
        CREATE INDEX reviews_by_contract ON reviews(contract_id, week_start);",
    )
}

/// 6: segments added by hand are marked so (R8).
fn manual_time(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("ALTER TABLE segments ADD COLUMN manual INTEGER NOT NULL DEFAULT 0;")
}

/// How far back range queries look for a segment that started before the
/// range: no stored segment is longer (see [`rules::max_segment_secs`]).
const MAX_SEGMENT_SECS: i64 = 24 * 3600;

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap_or_default()
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema
    /// up to date ([`MIGRATIONS`]).
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        login: row.get(1)?,
        email: row.get(2)?,
        password_hash: row.get(3)?,
        disabled: row.get::<_, Option<i64>>(4)?.is_some(),
        role: Role::from_stored(&row.get::<_, String>(5)?),
    })
}

const CONTRACT_COLUMNS: &str = "id, user_id, title, client, kind, status, status_changed_at, start_date, weekly_limit_secs, pending_set, pending_limit_secs, pending_effective_at, client_user_id, rate_cents, currency, manual_time";

fn contract_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredContract> {
    let kind: String = row.get(4)?;
    let status: String = row.get(5)?;
    let start_date: String = row.get(7)?;
    let pending_set: bool = row.get(9)?;
    let pending_effective: Option<i64> = row.get(11)?;
    Ok(StoredContract {
        contract: Contract {
            id: row.get(0)?,
            title: row.get(2)?,
            client: row.get(3)?,
            kind: if kind == "fixed_price" {
                ContractKind::FixedPrice
            } else {
                ContractKind::Hourly
            },
            status: match status.as_str() {
                "paused" => ContractStatus::Paused,
                "ended" => ContractStatus::Ended,
                _ => ContractStatus::Active,
            },
            start_date: NaiveDate::parse_from_str(&start_date, "%Y-%m-%d").unwrap_or_default(),
            weekly_limit_secs: row.get(8)?,
            pending_limit: match (pending_set, pending_effective) {
                (true, Some(at)) => Some(PendingLimit {
                    limit_secs: row.get(10)?,
                    effective_at: from_ts(at),
                }),
                _ => None,
            },
        },
        user_id: row.get(1)?,
        status_changed_at: row.get::<_, Option<i64>>(6)?.map(from_ts),
        terms: ContractTerms {
            client_user_id: row.get(12)?,
            rate: match (
                row.get::<_, Option<i64>>(13)?,
                row.get::<_, Option<String>>(14)?,
            ) {
                (Some(cents), Some(currency)) => Some(Rate { cents, currency }),
                _ => None,
            },
            manual_time: row.get(15)?,
        },
    })
}

fn diary_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DiarySegment> {
    let id: String = row.get(0)?;
    Ok(DiarySegment {
        id: id.parse().unwrap_or(SegmentId(uuid::Uuid::nil())),
        contract_id: row.get(1)?,
        device_id: row.get(2)?,
        start: from_ts(row.get(3)?),
        end: from_ts(row.get(4)?),
        memo: row.get(5)?,
        activity: Activity(row.get(6)?),
        has_screenshot: row.get(7)?,
        capture_note: row.get(8)?,
        manual: row.get(9)?,
        dispute: None,
    })
}

/// Memos and notes are read no longer than their caps: a database from
/// before the caps may hold a 10 MB memo, which 200 parallel Work Diary
/// requests would otherwise copy 200 times (issue 11, item 4).
const DIARY_COLUMNS: &str = "id, contract_id, device_id, start, end, substr(memo, 1, 2000), activity, has_screenshot, substr(capture_note, 1, 500), manual";
// The numbers above are these caps.
const _: () = assert!(
    timecard_core::domain::segment::caps::MEMO_CHARS == 2000
        && timecard_core::domain::segment::caps::CAPTURE_NOTE_CHARS == 500
);

impl Store for SqliteStore {
    fn add_user(&self, login: &str, email: Option<&str>, password_hash: &str) -> Result<i64> {
        let conn = self.conn();
        let exists: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM users WHERE login = ?1 OR email = ?1 OR (?2 IS NOT NULL AND (login = ?2 OR email = ?2)))",
            params![login, email],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::Conflict(format!(
                "a user called {login:?} (or with that e-mail) already exists"
            )));
        }
        conn.execute(
            "INSERT INTO users (login, email, password_hash) VALUES (?1, ?2, ?3)",
            params![login, email, password_hash],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn set_role(&self, login: &str, role: Role) -> Result<()> {
        let changed = self.conn().execute(
            "UPDATE users SET role = ?1 WHERE login = ?2",
            params![role.as_str(), login],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("no user called {login:?}")));
        }
        Ok(())
    }

    fn set_password(&self, login: &str, password_hash: &str) -> Result<()> {
        let changed = self.conn().execute(
            "UPDATE users SET password_hash = ?1 WHERE login = ?2",
            params![password_hash, login],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("no user called {login:?}")));
        }
        Ok(())
    }

    fn find_user(&self, login_or_email: &str) -> Result<Option<User>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, login, email, password_hash, disabled_at, role FROM users WHERE login = ?1 OR email = ?1",
                params![login_or_email],
                user_row,
            )
            .optional()?)
    }

    fn add_token(&self, user_id: i64, token_hash: &str, expires_at: DateTime<Utc>) -> Result<()> {
        self.conn().execute(
            "INSERT INTO tokens (hash, user_id, expires_at, created_at)
             VALUES (?1, ?2, ?3, CAST(strftime('%s', 'now') AS INTEGER))",
            params![token_hash, user_id, ts(expires_at)],
        )?;
        Ok(())
    }

    fn token_user(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<User>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT u.id, u.login, u.email, u.password_hash, u.disabled_at, u.role FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.hash = ?1 AND t.expires_at > ?2 AND u.disabled_at IS NULL",
                params![token_hash, ts(now)],
                user_row,
            )
            .optional()?)
    }

    fn remove_token(&self, token_hash: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM tokens WHERE hash = ?1", params![token_hash])?;
        Ok(())
    }

    fn add_contract(&self, login: &str, contract: &Contract, now: DateTime<Utc>) -> Result<()> {
        let user = self.find_user(login)?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "no user called {login:?}; add one with `timecard-server user add`"
            ))
        })?;
        if self.contract(&contract.id)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "a contract with id {:?} already exists",
                contract.id
            )));
        }
        self.conn().execute(
            &format!("INSERT INTO contracts ({CONTRACT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, NULL, NULL, NULL, NULL, NULL, 1)"),
            params![
                contract.id,
                user.id,
                contract.title,
                contract.client,
                contract.kind.as_str(),
                contract.status.as_str(),
                (contract.status != ContractStatus::Active).then_some(ts(now)),
                contract.start_date.format("%Y-%m-%d").to_string(),
                contract.weekly_limit_secs,
            ],
        )?;
        Ok(())
    }

    fn save_contract(&self, stored: &StoredContract) -> Result<()> {
        let c = &stored.contract;
        let changed = self.conn().execute(
            "UPDATE contracts SET title = ?2, client = ?3, kind = ?4, status = ?5, status_changed_at = ?6,
                 start_date = ?7, weekly_limit_secs = ?8, pending_set = ?9, pending_limit_secs = ?10,
                 pending_effective_at = ?11, client_user_id = ?12, rate_cents = ?13, currency = ?14,
                 manual_time = ?15
             WHERE id = ?1",
            params![
                c.id,
                c.title,
                c.client,
                c.kind.as_str(),
                c.status.as_str(),
                stored.status_changed_at.map(ts),
                c.start_date.format("%Y-%m-%d").to_string(),
                c.weekly_limit_secs,
                c.pending_limit.is_some(),
                c.pending_limit.as_ref().and_then(|p| p.limit_secs),
                c.pending_limit.as_ref().map(|p| ts(p.effective_at)),
                stored.terms.client_user_id,
                stored.terms.rate.as_ref().map(|r| r.cents),
                stored.terms.rate.as_ref().map(|r| r.currency.as_str()),
                stored.terms.manual_time,
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "no contract with id {:?}",
                c.id
            )));
        }
        Ok(())
    }

    fn contract(&self, id: &str) -> Result<Option<StoredContract>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = ?1"),
                params![id],
                contract_row,
            )
            .optional()?)
    }

    fn contracts(&self, user_id: Option<i64>) -> Result<Vec<StoredContract>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE ?1 IS NULL OR user_id = ?1 ORDER BY user_id, title, id"
        ))?;
        let rows = stmt.query_map(params![user_id], contract_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn login_of(&self, user_id: i64) -> Result<String> {
        Ok(self.conn().query_row(
            "SELECT login FROM users WHERE id = ?1",
            params![user_id],
            |r| r.get(0),
        )?)
    }

    fn logged_secs(
        &self,
        user_id: i64,
        contract_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64> {
        let conn = self.conn();
        logged_secs_in(&conn, user_id, contract_id, ts(from), ts(to))
    }

    fn ingest(
        &self,
        user_id: i64,
        segments: &[Segment],
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<Vec<SegmentResult>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut results = Vec::with_capacity(segments.len());
        // Week totals per (contract, week start), read once per batch and
        // kept up to date as segments are accepted.
        let mut week_totals: HashMap<(String, i64), i64> = HashMap::new();
        let lookback = rules::max_segment_secs(config);
        for segment in segments {
            let week_key = (
                segment.contract_id.clone(),
                ts(BillingWeek::containing(segment.start).start()),
            );
            let week_logged = match week_totals.get(&week_key) {
                Some(secs) => *secs,
                None => {
                    let week = BillingWeek::containing(segment.start);
                    let secs = logged_secs_in(
                        &tx,
                        user_id,
                        &segment.contract_id,
                        ts(week.start()),
                        ts(week.end()),
                    )?;
                    week_totals.insert(week_key.clone(), secs);
                    secs
                }
            };
            let facts = facts_for(&tx, user_id, segment, week_logged, lookback)?;
            let verdict = rules::judge(segment, &facts, now, config);
            let mut accepted_until = None;
            let (outcome, reason, message) = match verdict {
                Verdict::Accept => {
                    insert_segment(&tx, user_id, segment)?;
                    *week_totals.entry(week_key).or_default() += segment.duration_secs();
                    (Outcome::Accepted, None, None)
                }
                Verdict::AcceptUntil(end, message) => {
                    let grid = timecard_core::domain::SegmentGrid::new(config.segment_secs)
                        .unwrap_or_default();
                    let part = segment.cut_at(end, grid);
                    insert_segment(&tx, user_id, &part)?;
                    *week_totals.entry(week_key).or_default() += part.duration_secs();
                    accepted_until = Some(end);
                    (Outcome::Accepted, None, Some(message))
                }
                Verdict::Duplicate => (Outcome::Duplicate, None, None),
                Verdict::Reject(reason, message) => {
                    (Outcome::Rejected, Some(reason), Some(message))
                }
            };
            results.push(SegmentResult {
                id: segment.id,
                outcome,
                reason,
                message,
                accepted_until,
            });
        }
        // Only after this commit are the accepted segments acknowledged.
        tx.commit()?;
        Ok(results)
    }

    fn segments_between(
        &self,
        user_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DiarySegment>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DIARY_COLUMNS} FROM segments
             WHERE user_id = ?1 AND start < ?3 AND start > ?2 - ?4 AND end > ?2 ORDER BY start"
        ))?;
        let rows = stmt.query_map(
            params![user_id, ts(from), ts(to), MAX_SEGMENT_SECS],
            diary_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn add_manual(
        &self,
        user_id: i64,
        segments: &[Segment],
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<std::result::Result<(), (RejectReason, String)>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let lookback = rules::max_segment_secs(config);
        for segment in segments {
            let week = BillingWeek::containing(segment.start);
            let week_logged = logged_secs_in(
                &tx,
                user_id,
                &segment.contract_id,
                ts(week.start()),
                ts(week.end()),
            )?;
            let facts = facts_for(&tx, user_id, segment, week_logged, lookback)?;
            match rules::judge_manual(segment, &facts, now, config) {
                Verdict::Accept => insert_segment(&tx, user_id, segment)?,
                Verdict::Reject(reason, message) => return Ok(Err((reason, message))),
                Verdict::Duplicate | Verdict::AcceptUntil(..) => {
                    return Ok(Err((
                        RejectReason::ContractNotTrackable,
                        "the contract was paused or ended within this time".into(),
                    )));
                }
            }
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    fn add_review(&self, contract_id: &str, e: &rules::ReviewEvent) -> Result<()> {
        self.conn().execute(
            "INSERT INTO reviews (contract_id, week_start, segment_id, action, note, by_user_id, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                contract_id,
                ts(e.week_start),
                e.segment_id.map(|id| id.to_string()),
                e.action.as_str(),
                e.note,
                e.by_user_id,
                ts(e.at),
            ],
        )?;
        Ok(())
    }

    fn reviews(
        &self,
        contract_id: &str,
        week_start: Option<DateTime<Utc>>,
    ) -> Result<Vec<rules::ReviewEvent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT week_start, segment_id, action, note, by_user_id, at FROM reviews
             WHERE contract_id = ?1 AND (?2 IS NULL OR week_start = ?2) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![contract_id, week_start.map(ts)], |r| {
            let segment: Option<String> = r.get(1)?;
            let action: String = r.get(2)?;
            Ok((
                rules::ReviewEvent {
                    week_start: from_ts(r.get(0)?),
                    segment_id: segment.and_then(|s| s.parse().ok()),
                    action: rules::ReviewAction::from_stored(&action)
                        .unwrap_or(rules::ReviewAction::Answer),
                    note: r.get(3)?,
                    by_user_id: r.get(4)?,
                    at: from_ts(r.get(5)?),
                },
                rules::ReviewAction::from_stored(&action).is_some(),
            ))
        })?;
        let mut events = Vec::new();
        for row in rows {
            let (event, known) = row?;
            if known {
                events.push(event);
            }
        }
        Ok(events)
    }

    fn last_activity(&self, user_id: i64, contract_id: &str) -> Result<Option<DateTime<Utc>>> {
        let end: Option<i64> = self.conn().query_row(
            "SELECT MAX(end) FROM segments WHERE user_id = ?1 AND contract_id = ?2",
            params![user_id, contract_id],
            |r| r.get(0),
        )?;
        Ok(end.map(from_ts))
    }

    fn segment(&self, user_id: i64, id: SegmentId) -> Result<Option<DiarySegment>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {DIARY_COLUMNS} FROM segments WHERE id = ?1 AND user_id = ?2"),
                params![id.to_string(), user_id],
                diary_row,
            )
            .optional()?)
    }

    fn delete_segment(&self, user_id: i64, id: SegmentId) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let gone = tx.execute(
            "DELETE FROM segments WHERE id = ?1 AND user_id = ?2",
            params![id.to_string(), user_id],
        )?;
        if gone == 0 {
            return Err(StoreError::NotFound(format!("no segment {id}")));
        }
        tx.execute(
            "DELETE FROM screenshots WHERE user_id = ?1 AND segment_id = ?2",
            params![user_id, id.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn screenshot(&self, user_id: i64, id: SegmentId, size: Picture) -> Result<Option<Vec<u8>>> {
        let column = match size {
            Picture::Full => "jpeg",
            Picture::Thumbnail => "thumbnail",
        };
        let sql =
            format!("SELECT {column} FROM screenshots WHERE segment_id = ?1 AND user_id = ?2");
        Ok(self
            .conn()
            .query_row(&sql, params![id.to_string(), user_id], |r| r.get(0))
            .optional()?)
    }

    fn add_report(
        &self,
        user_id: i64,
        report: &ProblemReport,
        logs_zip: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let body = ProblemReport {
            logs_zip_base64: None,
            ..report.clone()
        };
        self.conn().execute(
            "INSERT OR IGNORE INTO reports (id, user_id, created_at, body, logs_zip)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                report.id.to_string(),
                user_id,
                ts(now),
                serde_json::to_string(&body).unwrap_or_default(),
                logs_zip
            ],
        )?;
        Ok(())
    }

    fn reports(&self) -> Result<Vec<StoredReport>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT u.login, r.created_at, r.body, length(r.logs_zip)
             FROM reports r LEFT JOIN users u ON u.id = r.user_id
             ORDER BY r.created_at DESC, r.id",
        )?;
        let rows = stmt.query_map([], stored_report)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn report(&self, id: &str) -> Result<Option<(StoredReport, Option<Vec<u8>>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT u.login, r.created_at, r.body, length(r.logs_zip), r.logs_zip
             FROM reports r LEFT JOIN users u ON u.id = r.user_id
             WHERE r.id = ?1 OR (length(?1) >= 4 AND substr(r.id, 1, length(?1)) = ?1)
             LIMIT 2",
        )?;
        let mut found: Vec<(StoredReport, Option<Vec<u8>>)> = stmt
            .query_map([id], |row| Ok((stored_report(row)?, row.get(4)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if found.len() > 1 {
            return Err(StoreError::Conflict(format!(
                "more than one report starts with {id:?}; give more of the id"
            )));
        }
        Ok(found.pop())
    }

    fn users(&self, now: DateTime<Utc>) -> Result<Vec<UserSummary>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT u.login, u.email, u.disabled_at,
                    (SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id AND t.expires_at > ?1),
                    (SELECT COUNT(*) FROM contracts c WHERE c.user_id = u.id OR c.client_user_id = u.id),
                    u.role
             FROM users u ORDER BY u.login",
        )?;
        let rows = stmt.query_map(params![ts(now)], |r| {
            Ok(UserSummary {
                login: r.get(0)?,
                email: r.get(1)?,
                disabled_at: r.get::<_, Option<i64>>(2)?.map(from_ts),
                sessions: r.get::<_, i64>(3)? as usize,
                contracts: r.get::<_, i64>(4)? as usize,
                role: Role::from_stored(&r.get::<_, String>(5)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn set_disabled(&self, login: &str, disabled_at: Option<DateTime<Utc>>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE users SET disabled_at = ?1 WHERE login = ?2",
            params![disabled_at.map(ts), login],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("no user called {login:?}")));
        }
        if disabled_at.is_some() {
            tx.execute(
                "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE login = ?1)",
                params![login],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn revoke_sessions(&self, login: &str) -> Result<usize> {
        let conn = self.conn();
        let user_id: Option<i64> = conn
            .query_row(
                "SELECT id FROM users WHERE login = ?1",
                params![login],
                |r| r.get(0),
            )
            .optional()?;
        let user_id =
            user_id.ok_or_else(|| StoreError::NotFound(format!("no user called {login:?}")))?;
        Ok(conn.execute("DELETE FROM tokens WHERE user_id = ?1", params![user_id])?)
    }

    fn sessions(&self, login: Option<&str>, now: DateTime<Utc>) -> Result<Vec<SessionSummary>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT u.login, t.hash, t.created_at, t.expires_at
             FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.expires_at > ?1 AND (?2 IS NULL OR u.login = ?2)
             ORDER BY u.login, t.created_at",
        )?;
        let rows = stmt.query_map(params![ts(now), login], |r| {
            let hash: String = r.get(1)?;
            Ok(SessionSummary {
                login: r.get(0)?,
                id: hash.chars().take(12).collect(),
                created_at: r.get::<_, Option<i64>>(2)?.map(from_ts),
                expires_at: from_ts(r.get(3)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// A row of `login, created_at, body, length(logs_zip)` as a report.
fn stored_report(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredReport> {
    let body: String = row.get(2)?;
    let report = serde_json::from_str(&body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(StoredReport {
        login: row
            .get::<_, Option<String>>(0)?
            .unwrap_or_else(|| "(deleted user)".into()),
        received_at: from_ts(row.get(1)?),
        logs_zip_bytes: row.get::<_, Option<i64>>(3)?.map(|n| n as u64),
        report,
    })
}

fn logged_secs_in(
    conn: &Connection,
    user_id: i64,
    contract_id: &str,
    from: i64,
    to: i64,
) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(SUM(MIN(end, ?4) - MAX(start, ?3)), 0) FROM segments
         WHERE user_id = ?1 AND contract_id = ?2 AND start < ?4 AND start > ?3 - ?5 AND end > ?3",
    )?;
    Ok(stmt.query_row(
        params![user_id, contract_id, from, to, MAX_SEGMENT_SECS],
        |r| r.get(0),
    )?)
}

fn facts_for(
    conn: &Connection,
    user_id: i64,
    segment: &Segment,
    week_logged_secs: i64,
    lookback: i64,
) -> Result<Facts> {
    // K7: ids are unique per user; another user's segment with the same
    // id is none of this one's business (issue 11, item 9).
    let already_stored: bool = conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM segments WHERE user_id = ?1 AND id = ?2)")?
        .query_row(params![user_id, segment.id.to_string()], |r| r.get(0))?;
    if already_stored {
        return Ok(Facts {
            already_stored,
            ..Facts::default()
        });
    }
    let contract = conn
        .prepare_cached(&format!(
            "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = ?1 AND user_id = ?2"
        ))?
        .query_row(params![segment.contract_id, user_id], contract_row)
        .optional()?;
    let (start, end) = (ts(segment.start), ts(segment.end));
    let overlap_device: Option<String> = conn
        .prepare_cached(
            "SELECT device_id FROM segments WHERE user_id = ?1 AND start < ?3 AND start > ?2 - ?4 AND end > ?2 LIMIT 1",
        )?
        .query_row(params![user_id, start, end, lookback], |r| r.get(0))
        .optional()?;
    Ok(Facts {
        contract,
        already_stored,
        overlap_device,
        week_logged_secs,
    })
}

fn insert_segment(conn: &Connection, user_id: i64, s: &Segment) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO segments (id, user_id, contract_id, device_id, start, end, memo, activity, capture_note, has_screenshot, manual)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?4 = 'manual')",
    )?
    .execute(params![
        s.id.to_string(),
        user_id,
        s.contract_id,
        s.device_id,
        ts(s.start),
        ts(s.end),
        s.memo,
        s.activity.0,
        s.capture_note,
        s.screenshot.is_some(),
    ])?;
    if let Some(shot) = &s.screenshot {
        conn.prepare_cached("INSERT INTO screenshots (user_id, segment_id, taken_at, jpeg, thumbnail) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![user_id, s.id.to_string(), ts(shot.taken_at), shot.jpeg, shot.thumbnail])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    // Issue 11, item 9: a database from before numbered migrations keeps
    // its segments and screenshots, and then takes the same segment id
    // from another user as a new segment (it used to say "this segment id
    // is already used").
    #[test]
    fn migration_2_keys_segments_by_user() {
        use timecard_core::domain::{Screenshot, Segment, SegmentId};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let id = SegmentId::random();
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(SCHEMA).unwrap();
            old.execute_batch(
                "INSERT INTO users (id, login, password_hash) VALUES (1, 'ann', 'h'), (2, 'bob', 'h');
                 INSERT INTO contracts (id, user_id, title, client, kind, status, start_date)
                     VALUES ('ann-c', 1, 't', 'c', 'hourly', 'active', '2026-01-01'),
                            ('bob-c', 2, 't', 'c', 'hourly', 'active', '2026-01-01');",
            )
            .unwrap();
            old.execute(
                "INSERT INTO segments (id, user_id, contract_id, device_id, start, end, memo, activity, capture_note, has_screenshot)
                 VALUES (?1, 1, 'ann-c', 'd', ?2, ?3, 'ann''s', 1, NULL, 1)",
                params![id.to_string(), ts(at("2026-11-25T09:00:00Z")), ts(at("2026-11-25T09:10:00Z"))],
            )
            .unwrap();
            old.execute(
                "INSERT INTO screenshots (segment_id, taken_at, jpeg, thumbnail) VALUES (?1, 0, x'01', x'02')",
                params![id.to_string()],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert_eq!(
            store.screenshot(1, id, Picture::Full).unwrap(),
            Some(vec![1])
        );
        assert_eq!(store.segment(1, id).unwrap().unwrap().memo, "ann's");

        let start = at("2026-11-25T09:00:00Z");
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 80)
            .encode(&[0; 8 * 8 * 3], 8, 8, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let bobs = Segment {
            id,
            contract_id: "bob-c".into(),
            device_id: "d".into(),
            start,
            end: start + Duration::minutes(10),
            memo: "bob's".into(),
            activity: Activity(1),
            screenshot: Some(Screenshot {
                taken_at: start,
                jpeg: jpeg.clone(),
                thumbnail: jpeg.clone(),
            }),
            capture_note: None,
        };
        let config = ServerConfig {
            segment_secs: 600,
            lock_grace_secs: 0,
        };
        let now = at("2026-11-25T12:00:00Z");
        let result = store
            .ingest(2, std::slice::from_ref(&bobs), now, config)
            .unwrap();
        assert_eq!(result[0].outcome, Outcome::Accepted, "{result:?}");
        let again = store.ingest(2, &[bobs], now, config).unwrap();
        assert_eq!(again[0].outcome, Outcome::Duplicate);
        assert_eq!(store.screenshot(2, id, Picture::Full).unwrap(), Some(jpeg));
        store.delete_segment(2, id).unwrap();
        assert_eq!(store.segment(1, id).unwrap().unwrap().memo, "ann's");
        assert_eq!(
            store.screenshot(1, id, Picture::Thumbnail).unwrap(),
            Some(vec![2])
        );
        // Opening again runs nothing twice.
        drop(store);
        SqliteStore::open(&path).unwrap();
    }

    #[test]
    fn users_tokens_and_ownership() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let a = store
            .add_user("ann", Some("ann@example.com"), "hash")
            .unwrap();
        assert!(matches!(
            store.add_user("ann", None, "h"),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.find_user("ann@example.com").unwrap().unwrap().id, a);
        let now = at("2026-11-25T10:00:00Z");
        store.add_token(a, "tok", now + Duration::days(1)).unwrap();
        assert_eq!(store.token_user("tok", now).unwrap().unwrap().login, "ann");
        assert!(
            store
                .token_user("tok", now + Duration::days(2))
                .unwrap()
                .is_none()
        );
        store.remove_token("tok").unwrap();
        assert!(store.token_user("tok", now).unwrap().is_none());
    }
}
