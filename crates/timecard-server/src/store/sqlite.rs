//! [`Store`] on one SQLite file: the zero-setup default, for one server
//! process (a per-process mutex serializes its writes).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::api_tokens::{
    self, API_TOKEN_COLUMNS, ApiToken, LAST_USED_STEP_SECS, NewApiToken, Scope,
};
use super::blobs::{self, Blobs, ShotKeys};
use super::outbox::{self, LinkPurpose, NewLink, NewMail, QueuedMail, Recipient};
use super::rows::{self, CONTRACT_COLUMNS, from_ts};
use super::webhooks::{
    self, Attempt, DELIVERY_COLUMNS, Delivery, NewEvent, NewWebhook, WEBHOOK_COLUMNS, Webhook,
};
use super::{
    DaySums, Failures, LoggedDay, Picture, Result, Role, SessionSummary, Store, StoreError,
    StoredReport, User, UserSummary, batch, review,
};
use crate::rules::{
    self, Closed, Facts, ReviewEvent, ReviewRefusal, ReviewRequest, StoredContract,
};
use timecard_core::domain::{BillingWeek, Contract, ContractStatus, Segment, SegmentId};
use timecard_core::protocol::{
    DiarySegment, ProblemReport, RejectReason, SegmentResult, ServerConfig,
};

/// [`Store`] on one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    blobs: Option<Blobs>,
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
    shared_state_and_blobs,
    segments_by_contract,
    mail_and_links,
    api_tokens,
    webhooks,
    single_sign_on,
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

/// 7: what replicas share lives in the database (maintenance mode, failed
/// sign-ins), and pictures and zips may live in a blob store, the row
/// keeping the key.
fn shared_state_and_blobs(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE sign_in_failures (
             key TEXT PRIMARY KEY,
             count INTEGER NOT NULL,
             last_ms INTEGER NOT NULL
         );
         CREATE INDEX sign_in_failures_by_last ON sign_in_failures(last_ms);
         ALTER TABLE screenshots ADD COLUMN blob_key TEXT;
         ALTER TABLE reports ADD COLUMN logs_blob_key TEXT;
         ALTER TABLE reports ADD COLUMN logs_blob_bytes INTEGER;",
    )
}

/// 8: pages read one contract's segments (B1) and sum them per contract:
/// an index on the contract and the start.
fn segments_by_contract(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("CREATE INDEX segments_by_contract_start ON segments(contract_id, start);")
}

/// 9: mail (M2–M5): the outbox, one-time links (invitations, password
/// resets; only their hash), and whether a user gets the weekly summary.
fn mail_and_links(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE mail_outbox (
             id INTEGER PRIMARY KEY,
             dedupe_key TEXT NOT NULL UNIQUE,
             to_addr TEXT NOT NULL,
             subject TEXT NOT NULL,
             body_text TEXT NOT NULL,
             created_at INTEGER NOT NULL,
             attempts INTEGER NOT NULL DEFAULT 0,
             next_attempt INTEGER NOT NULL,
             sent_at INTEGER,
             last_error TEXT
         );
         CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt) WHERE sent_at IS NULL;
         CREATE TABLE one_time_links (
             hash TEXT PRIMARY KEY,
             purpose TEXT NOT NULL,
             user_id INTEGER NOT NULL REFERENCES users(id),
             created_at INTEGER NOT NULL,
             expires_at INTEGER NOT NULL,
             used_at INTEGER
         );
         ALTER TABLE users ADD COLUMN weekly_summary INTEGER NOT NULL DEFAULT 1;",
    )
}

/// 10: personal API tokens (I1): only their hash.
fn api_tokens(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE api_tokens (
             id INTEGER PRIMARY KEY,
             user_id INTEGER NOT NULL REFERENCES users(id),
             name TEXT NOT NULL,
             hash TEXT NOT NULL UNIQUE,
             scope TEXT NOT NULL,
             created_at INTEGER NOT NULL,
             expires_at INTEGER NOT NULL,
             last_used_at INTEGER
         );
         CREATE INDEX api_tokens_by_user ON api_tokens(user_id);",
    )
}

/// 11: webhooks (I2) and their outbox of deliveries.
fn webhooks(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE webhooks (
             id INTEGER PRIMARY KEY,
             owner_id INTEGER NOT NULL REFERENCES users(id),
             all_contracts INTEGER NOT NULL,
             url TEXT NOT NULL,
             secret TEXT NOT NULL,
             events TEXT NOT NULL,
             created_at INTEGER NOT NULL,
             disabled_at INTEGER,
             disabled_reason TEXT,
             failures_in_row INTEGER NOT NULL DEFAULT 0
         );
         CREATE TABLE webhook_deliveries (
             id INTEGER PRIMARY KEY,
             webhook_id INTEGER NOT NULL REFERENCES webhooks(id),
             event_id TEXT NOT NULL,
             kind TEXT NOT NULL,
             body TEXT NOT NULL,
             created_at INTEGER NOT NULL,
             attempts INTEGER NOT NULL DEFAULT 0,
             next_attempt INTEGER NOT NULL,
             delivered_at INTEGER,
             last_status INTEGER,
             last_response TEXT,
             UNIQUE (webhook_id, event_id)
         );
         CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt) WHERE delivered_at IS NULL;",
    )
}

/// 12: single sign-on (I4): sign-ins under way, and which provider
/// subject is which user.
fn single_sign_on(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE pending_sign_ins (
             key_hash TEXT PRIMARY KEY,
             data TEXT NOT NULL,
             expires_at INTEGER NOT NULL
         );
         CREATE TABLE identities (
             issuer TEXT NOT NULL,
             subject TEXT NOT NULL,
             user_id INTEGER NOT NULL REFERENCES users(id),
             created_at INTEGER NOT NULL,
             PRIMARY KEY (issuer, subject)
         );",
    )
}

/// A list of ids as the JSON array `json_each` reads: one parameter for
/// any number of ids, in one query.
fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// How far back range queries look for a segment that started before the
/// range: no stored segment is longer (see [`rules::max_segment_secs`]).
const MAX_SEGMENT_SECS: i64 = 24 * 3600;

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema
    /// up to date ([`MIGRATIONS`]).
    pub fn open(path: &Path) -> Result<SqliteStore> {
        SqliteStore::open_with(path, None)
    }

    /// Opens the file, with pictures and zips in `blobs` when given.
    pub fn open_with(path: &Path, blobs: Option<Blobs>) -> Result<SqliteStore> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            blobs,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    rows::user(row)
}

fn contract_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredContract> {
    rows::contract(row)
}

fn diary_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DiarySegment> {
    rows::diary(row)
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

    fn add_api_token(&self, token: &NewApiToken) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO api_tokens (user_id, name, hash, scope, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                token.user_id,
                token.name,
                token.hash,
                token.scope.as_str(),
                ts(token.created_at),
                ts(token.expires_at)
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn api_token_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(User, Scope)>> {
        let conn = self.conn();
        let found = conn
            .query_row(
                "SELECT u.id, u.login, u.email, u.password_hash, u.disabled_at, u.role, t.scope
                 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.hash = ?1 AND t.expires_at > ?2 AND u.disabled_at IS NULL",
                params![token_hash, ts(now)],
                |r| Ok((rows::user(r)?, Scope::from_stored(&r.get::<_, String>(6)?))),
            )
            .optional()?;
        if found.is_some() {
            conn.execute(
                "UPDATE api_tokens SET last_used_at = ?2
                 WHERE hash = ?1 AND (last_used_at IS NULL OR last_used_at <= ?2 - ?3)",
                params![token_hash, ts(now), LAST_USED_STEP_SECS],
            )?;
        }
        Ok(found)
    }

    fn api_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {API_TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE ?1 IS NULL OR t.user_id = ?1 ORDER BY t.id DESC"
        ))?;
        let rows = stmt.query_map(params![user_id], |r| api_tokens::api_token(r))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn revoke_api_token(&self, id: i64, user_id: Option<i64>) -> Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM api_tokens WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)",
            params![id, user_id],
        )? > 0)
    }

    fn add_webhook(&self, hook: &NewWebhook) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO webhooks (owner_id, all_contracts, url, secret, events, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                hook.owner_id,
                hook.all_contracts,
                hook.url,
                hook.secret,
                hook.events.join(","),
                ts(hook.created_at)
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn webhooks(&self, owner: Option<i64>) -> Result<Vec<Webhook>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks w JOIN users u ON u.id = w.owner_id
             WHERE ?1 IS NULL OR w.owner_id = ?1 ORDER BY w.id"
        ))?;
        let rows = stmt.query_map(params![owner], |r| webhooks::webhook(r))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn set_webhook_enabled(
        &self,
        id: i64,
        owner: Option<i64>,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let changed = if enabled {
            self.conn().execute(
                "UPDATE webhooks SET disabled_at = NULL, disabled_reason = NULL, failures_in_row = 0
                 WHERE id = ?1 AND (?2 IS NULL OR owner_id = ?2)",
                params![id, owner],
            )?
        } else {
            self.conn().execute(
                "UPDATE webhooks SET disabled_at = ?3, disabled_reason = 'turned off'
                 WHERE id = ?1 AND (?2 IS NULL OR owner_id = ?2)",
                params![id, owner, ts(now)],
            )?
        };
        Ok(changed > 0)
    }

    fn delete_webhook(&self, id: i64, owner: Option<i64>) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let owned: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM webhooks WHERE id = ?1 AND (?2 IS NULL OR owner_id = ?2))",
            params![id, owner],
            |r| r.get(0),
        )?;
        if owned {
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE webhook_id = ?1",
                params![id],
            )?;
            tx.execute("DELETE FROM webhooks WHERE id = ?1", params![id])?;
        }
        tx.commit()?;
        Ok(owned)
    }

    fn queue_event(
        &self,
        event: &NewEvent,
        webhook_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut queued = 0;
        for id in webhook_ids {
            queued += tx.execute(
                "INSERT INTO webhook_deliveries (webhook_id, event_id, kind, body, created_at, next_attempt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (webhook_id, event_id) DO NOTHING",
                params![id, event.event_id, event.kind, event.body, ts(now)],
            )?;
        }
        tx.commit()?;
        Ok(queued)
    }

    fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let claimed = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 WHERE d.delivered_at IS NULL AND d.next_attempt <= ?1 AND w.disabled_at IS NULL
                 ORDER BY d.id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![ts(now), limit as i64], |r| webhooks::delivery(r))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for d in &claimed {
            tx.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt = ?2 WHERE id = ?1",
                params![d.id, ts(until)],
            )?;
        }
        tx.commit()?;
        Ok(claimed
            .into_iter()
            .map(|d| Delivery {
                attempts: d.attempts + 1,
                next_attempt: until,
                ..d
            })
            .collect())
    }

    fn record_attempt(&self, attempt: &Attempt) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let response: String = attempt.response.chars().take(500).collect();
        let status = attempt.status.map(i64::from);
        let mut disabled = false;
        if attempt.delivered {
            tx.execute(
                "UPDATE webhook_deliveries SET delivered_at = ?2, last_status = ?3, last_response = ?4 WHERE id = ?1",
                params![attempt.delivery_id, ts(attempt.at), status, response],
            )?;
            tx.execute(
                "UPDATE webhooks SET failures_in_row = 0 WHERE id = ?1",
                params![attempt.webhook_id],
            )?;
        } else {
            tx.execute(
                "UPDATE webhook_deliveries SET next_attempt = ?2, last_status = ?3, last_response = ?4
                 WHERE id = ?1 AND delivered_at IS NULL",
                params![attempt.delivery_id, ts(attempt.retry_at), status, response],
            )?;
            tx.execute(
                "UPDATE webhooks SET failures_in_row = failures_in_row + 1 WHERE id = ?1",
                params![attempt.webhook_id],
            )?;
            disabled = tx.execute(
                "UPDATE webhooks SET disabled_at = ?2, disabled_reason = ?3
                 WHERE id = ?1 AND disabled_at IS NULL AND failures_in_row >= ?4",
                params![
                    attempt.webhook_id,
                    ts(attempt.at),
                    format!(
                        "turned off after {} failed deliveries in a row",
                        attempt.disable_after
                    ),
                    attempt.disable_after
                ],
            )? > 0;
        }
        tx.commit()?;
        Ok(disabled)
    }

    fn deliveries(&self, webhook_id: i64, limit: usize) -> Result<Vec<Delivery>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.webhook_id = ?1 ORDER BY d.id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![webhook_id, limit as i64], |r| webhooks::delivery(r))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<usize> {
        Ok(self.conn().execute(
            "DELETE FROM webhook_deliveries WHERE delivered_at IS NOT NULL AND delivered_at < ?1",
            params![ts(before)],
        )?)
    }

    fn put_pending_sign_in(
        &self,
        key_hash: &str,
        data: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM pending_sign_ins WHERE expires_at <= ?1",
            params![ts(now)],
        )?;
        let under_way: i64 =
            conn.query_row("SELECT COUNT(*) FROM pending_sign_ins", [], |r| r.get(0))?;
        if under_way >= super::MAX_PENDING_SIGN_INS {
            return Err(StoreError::Unavailable(
                "too many sign-ins are under way; try again in a few minutes".into(),
            ));
        }
        conn.execute(
            "INSERT INTO pending_sign_ins (key_hash, data, expires_at) VALUES (?1, ?2, ?3)",
            params![key_hash, data, ts(expires_at)],
        )?;
        Ok(())
    }

    fn take_pending_sign_in(&self, key_hash: &str, now: DateTime<Utc>) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "DELETE FROM pending_sign_ins WHERE key_hash = ?1 RETURNING data, expires_at",
                params![key_hash],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?
            .and_then(|(data, expires)| (expires > ts(now)).then_some(data)))
    }

    fn identity_user(&self, issuer: &str, subject: &str) -> Result<Option<User>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT u.id, u.login, u.email, u.password_hash, u.disabled_at, u.role
                 FROM identities i JOIN users u ON u.id = i.user_id
                 WHERE i.issuer = ?1 AND i.subject = ?2",
                params![issuer, subject],
                |r| rows::user(r),
            )
            .optional()?)
    }

    fn link_identity(
        &self,
        issuer: &str,
        subject: &str,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let added = self.conn().execute(
            "INSERT INTO identities (issuer, subject, user_id, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (issuer, subject) DO NOTHING",
            params![issuer, subject, user_id, ts(now)],
        )?;
        if added == 0 {
            return Err(StoreError::Conflict(
                "this sign-in is linked to another account already".into(),
            ));
        }
        Ok(())
    }

    fn api_token_id(&self, token_hash: &str) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id FROM api_tokens WHERE hash = ?1",
                params![token_hash],
                |r| r.get(0),
            )
            .optional()?)
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
        if let Some(problem) = rules::terms_problem(stored) {
            return Err(StoreError::Invalid(problem));
        }
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

    fn logins(&self, ids: &[i64]) -> Result<HashMap<i64, String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, login FROM users WHERE id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map(params![json_list(ids)], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn logged_by_contract(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, i64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT contract_id, SUM(MIN(end, ?3) - MAX(start, ?2)) FROM segments
             WHERE contract_id IN (SELECT value FROM json_each(?1))
               AND start < ?3 AND start > ?2 - ?4 AND end > ?2
             GROUP BY contract_id",
        )?;
        let rows = stmt.query_map(
            params![json_list(contract_ids), ts(from), ts(to), MAX_SEGMENT_SECS],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn logged_by_week(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>, i64)>> {
        let conn = self.conn();
        // Billing weeks start on Mondays; 1970-01-05 00:00 UTC (345 600 s)
        // was one.
        let mut stmt = conn.prepare_cached(
            "SELECT contract_id, start - ((start - 345600) % 604800) AS week, SUM(end - start)
             FROM segments
             WHERE contract_id IN (SELECT value FROM json_each(?1)) AND start >= ?2 AND start < ?3
             GROUP BY contract_id, week ORDER BY contract_id, week",
        )?;
        let rows = stmt.query_map(params![json_list(contract_ids), ts(from), ts(to)], |r| {
            Ok((r.get(0)?, from_ts(r.get(1)?), r.get(2)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn last_activity(&self, contract_ids: &[String]) -> Result<HashMap<String, DateTime<Utc>>> {
        let conn = self.conn();
        // Two index lookups per contract, not a scan of all its time: the
        // segment that ends last starts at most a segment's length before
        // the one that starts last.
        let mut stmt = conn.prepare_cached(
            "SELECT c.value, (SELECT MAX(s.end) FROM segments s WHERE s.contract_id = c.value
                 AND s.start >= (SELECT MAX(start) FROM segments WHERE contract_id = c.value) - ?2)
             FROM json_each(?1) c",
        )?;
        let rows = stmt.query_map(params![json_list(contract_ids), MAX_SEGMENT_SECS], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
        })?;
        let mut last = HashMap::new();
        for row in rows {
            if let (id, Some(end)) = row? {
                last.insert(id, from_ts(end));
            }
        }
        Ok(last)
    }

    fn ingest(
        &self,
        user_id: i64,
        segments: &[Segment],
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<Vec<SegmentResult>> {
        let shots = self.write_shots(user_id, segments)?;
        let results = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let results = batch::ingest(&mut Batch(&tx), user_id, segments, &shots, now, config)?;
            // Only after this commit are the accepted segments acknowledged.
            tx.commit()?;
            results
        };
        super::forget_unused_shots(self.blobs.as_ref(), &results, shots);
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
        let verdict = batch::add_manual(&mut Batch(&tx), user_id, segments, now, config)?;
        if verdict.is_ok() {
            tx.commit()?;
        }
        Ok(verdict)
    }

    fn contract_segments(
        &self,
        contract_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DiarySegment>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DIARY_COLUMNS} FROM segments
             WHERE contract_id = ?1 AND start < ?3 AND start > ?2 - ?4 AND end > ?2 ORDER BY start"
        ))?;
        let rows = stmt.query_map(
            params![contract_id, ts(from), ts(to), MAX_SEGMENT_SECS],
            diary_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn contracts_segments(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DiarySegment>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DIARY_COLUMNS} FROM segments
             WHERE contract_id IN (SELECT value FROM json_each(?1))
               AND start < ?3 AND start > ?2 - ?4 AND end > ?2
             ORDER BY contract_id, start"
        ))?;
        let rows = stmt.query_map(
            params![json_list(contract_ids), ts(from), ts(to), MAX_SEGMENT_SECS],
            diary_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn logged_by_day(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LoggedDay>> {
        let conn = self.conn();
        // Summed here, not in SQL: the rows come in the index's order, and
        // a GROUP BY on the day would sort every one of them first (in the
        // SQLite shell, three months of 50 contracts: 60 ms with the GROUP
        // BY, 16 ms to read the rows).
        let mut stmt = conn.prepare_cached(
            "SELECT contract_id, start, end, manual FROM segments
             WHERE contract_id IN (SELECT value FROM json_each(?1))
               AND start < ?3 AND start > ?2 - ?4 AND end > ?2
             ORDER BY contract_id, start",
        )?;
        let mut rows = stmt.query(params![
            json_list(contract_ids),
            ts(from),
            ts(to),
            MAX_SEGMENT_SECS
        ])?;
        let mut sums = DaySums::new(from, to);
        while let Some(r) = rows.next()? {
            let contract = r
                .get_ref(0)?
                .as_str()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            sums.add(contract, r.get(1)?, r.get(2)?, r.get(3)?);
        }
        Ok(sums.finish())
    }

    fn contracts_segments_by_ids(
        &self,
        contract_ids: &[String],
        ids: &[SegmentId],
    ) -> Result<Vec<DiarySegment>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DIARY_COLUMNS} FROM segments
             WHERE contract_id IN (SELECT value FROM json_each(?1))
               AND id IN (SELECT value FROM json_each(?2))
             ORDER BY contract_id, start"
        ))?;
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let rows = stmt.query_map(params![json_list(contract_ids), json_list(&ids)], diary_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn segments_by_ids(&self, user_id: i64, ids: &[SegmentId]) -> Result<Vec<DiarySegment>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {DIARY_COLUMNS} FROM segments
             WHERE user_id = ?1 AND id IN (SELECT value FROM json_each(?2)) ORDER BY start"
        ))?;
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let rows = stmt.query_map(params![user_id, json_list(&ids)], diary_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn review(
        &self,
        request: &ReviewRequest,
        now: DateTime<Utc>,
        review_secs: i64,
    ) -> Result<std::result::Result<ReviewEvent, ReviewRefusal>> {
        let mut conn = self.conn();
        // Immediate: the write lock is taken before the check, so another
        // process on the file (an admin command) cannot interleave either.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let taken = review::step(&mut Tx(&tx), request, now, review_secs)?;
        if taken.is_ok() {
            tx.commit()?;
        }
        Ok(taken)
    }

    fn reviews_of(
        &self,
        contract_ids: &[String],
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, ReviewEvent)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT contract_id, week_start, segment_id, action, note, by_user_id, at FROM reviews
             WHERE contract_id IN (SELECT value FROM json_each(?1)) AND (?2 IS NULL OR week_start >= ?2)
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![json_list(contract_ids), since.map(ts)], |r| {
            let contract: String = r.get(0)?;
            Ok(rows::review(r, 1)?.map(|event| (contract, event)))
        })?;
        let mut events = Vec::new();
        for row in rows {
            events.extend(row?);
        }
        Ok(events)
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

    fn delete_segment(
        &self,
        user_id: i64,
        id: SegmentId,
        now: DateTime<Utc>,
        grace_secs: i64,
    ) -> Result<std::result::Result<(), Closed>> {
        let blob_key: Option<String> = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if let Err(closed) = review::may_delete(&mut Tx(&tx), user_id, id, now, grace_secs)? {
                return Ok(Err(closed));
            }
            let blob_key: Option<String> = tx
                .query_row(
                    "SELECT blob_key FROM screenshots WHERE user_id = ?1 AND segment_id = ?2",
                    params![user_id, id.to_string()],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            tx.execute(
                "DELETE FROM segments WHERE id = ?1 AND user_id = ?2",
                params![id.to_string(), user_id],
            )?;
            tx.execute(
                "DELETE FROM screenshots WHERE user_id = ?1 AND segment_id = ?2",
                params![user_id, id.to_string()],
            )?;
            tx.commit()?;
            blob_key
        };
        super::delete_shot_objects(self.blobs.as_ref(), blob_key);
        Ok(Ok(()))
    }

    fn screenshot(&self, user_id: i64, id: SegmentId, size: Picture) -> Result<Option<Vec<u8>>> {
        let column = match size {
            Picture::Full => "jpeg",
            Picture::Thumbnail => "thumbnail",
        };
        let sql = format!(
            "SELECT {column}, blob_key FROM screenshots WHERE segment_id = ?1 AND user_id = ?2"
        );
        let row: Option<(Vec<u8>, Option<String>)> = self
            .conn()
            .query_row(&sql, params![id.to_string(), user_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        super::picture_from_row(self.blobs.as_ref(), row, size)
    }

    fn add_report(
        &self,
        user_id: i64,
        report: &ProblemReport,
        logs_zip: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let row = super::report_row(self.blobs.as_ref(), report, logs_zip)?;
        let stored = self.conn().execute(
            "INSERT OR IGNORE INTO reports (id, user_id, created_at, body, logs_zip, logs_blob_key, logs_blob_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                row.id,
                user_id,
                ts(now),
                row.body,
                row.zip_in_row,
                row.blob_key,
                row.blob_bytes,
            ],
        )?;
        if stored == 0 {
            super::delete_blob(self.blobs.as_ref(), row.blob_key);
        }
        Ok(())
    }

    fn reports(&self) -> Result<Vec<StoredReport>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT u.login, r.created_at, r.body, COALESCE(length(r.logs_zip), r.logs_blob_bytes)
             FROM reports r LEFT JOIN users u ON u.id = r.user_id
             ORDER BY r.created_at DESC, r.id",
        )?;
        let rows = stmt.query_map([], stored_report)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn report(&self, id: &str) -> Result<Option<(StoredReport, Option<Vec<u8>>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT u.login, r.created_at, r.body, COALESCE(length(r.logs_zip), r.logs_blob_bytes), r.logs_zip, r.logs_blob_key
             FROM reports r LEFT JOIN users u ON u.id = r.user_id
             WHERE r.id = ?1 OR (length(?1) >= 4 AND substr(r.id, 1, length(?1)) = ?1)
             LIMIT 2",
        )?;
        let found: Vec<(StoredReport, Option<Vec<u8>>, Option<String>)> = stmt
            .query_map([id], |row| {
                Ok((stored_report(row)?, row.get(4)?, row.get(5)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        drop(stmt);
        drop(conn);
        super::one_report(self.blobs.as_ref(), id, found)
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

    fn maintenance(&self) -> Result<Option<u64>> {
        let value: Option<String> = self
            .conn()
            .query_row(
                "SELECT value FROM settings WHERE name = 'maintenance'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(value.map(|v| v.parse().unwrap_or(super::DEFAULT_RETRY_AFTER)))
    }

    fn set_maintenance(&self, retry_after_secs: Option<u64>) -> Result<()> {
        let conn = self.conn();
        match retry_after_secs {
            Some(secs) => conn.execute(
                "INSERT INTO settings (name, value) VALUES ('maintenance', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![secs.to_string()],
            )?,
            None => conn.execute("DELETE FROM settings WHERE name = 'maintenance'", [])?,
        };
        Ok(())
    }

    fn sign_in_failures(
        &self,
        keys: &[&str],
        since: DateTime<Utc>,
    ) -> Result<Vec<Option<Failures>>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT count, last_ms FROM sign_in_failures WHERE key = ?1 AND last_ms >= ?2",
        )?;
        keys.iter()
            .map(|key| {
                Ok(stmt
                    .query_row(params![key, since.timestamp_millis()], failures_row)
                    .optional()?)
            })
            .collect()
    }

    fn add_sign_in_failure(
        &self,
        keys: &[&str],
        now: DateTime<Utc>,
        since: DateTime<Utc>,
        keep: i64,
    ) -> Result<Vec<Failures>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut counts = Vec::with_capacity(keys.len());
        for key in keys {
            counts.push(tx.query_row(
                "INSERT INTO sign_in_failures (key, count, last_ms) VALUES (?1, 1, ?2)
                 ON CONFLICT (key) DO UPDATE SET
                     count = CASE WHEN last_ms >= ?3 THEN count + 1 ELSE 1 END,
                     last_ms = ?2
                 RETURNING count, last_ms",
                params![key, now.timestamp_millis(), since.timestamp_millis()],
                failures_row,
            )?);
        }
        tx.execute(
            "DELETE FROM sign_in_failures WHERE last_ms < ?1",
            params![since.timestamp_millis()],
        )?;
        tx.execute(
            "DELETE FROM sign_in_failures WHERE key IN (
                 SELECT key FROM sign_in_failures ORDER BY last_ms DESC LIMIT -1 OFFSET ?1)",
            params![keep],
        )?;
        tx.commit()?;
        Ok(counts)
    }

    fn clear_sign_in_failures(&self, key: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM sign_in_failures WHERE key = ?1", params![key])?;
        Ok(())
    }

    fn setting(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT value FROM settings WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_setting(&self, name: &str, value: Option<&str>) -> Result<()> {
        let conn = self.conn();
        match value {
            Some(value) => conn.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )?,
            None => conn.execute("DELETE FROM settings WHERE name = ?1", params![name])?,
        };
        Ok(())
    }

    fn queue_mail(&self, mail: &NewMail, now: DateTime<Utc>) -> Result<bool> {
        let added = self.conn().execute(
            "INSERT INTO mail_outbox (dedupe_key, to_addr, subject, body_text, created_at, next_attempt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (dedupe_key) DO NOTHING",
            params![mail.dedupe_key, mail.to, mail.subject, mail.body, ts(now)],
        )?;
        Ok(added == 1)
    }

    fn mails_queued(&self, keys: &[String]) -> Result<HashSet<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT dedupe_key FROM mail_outbox WHERE dedupe_key IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map(params![json_list(keys)], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn claim_mail(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        max_attempts: u32,
        limit: usize,
    ) -> Result<Vec<QueuedMail>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt = ?2
             WHERE id IN (SELECT id FROM mail_outbox
                          WHERE sent_at IS NULL AND next_attempt <= ?1 AND attempts < ?3
                          ORDER BY id LIMIT ?4)
             RETURNING {}",
            outbox::MAIL_COLUMNS
        ))?;
        let rows = stmt.query_map(
            params![ts(now), ts(until), max_attempts, limit as i64],
            |r| outbox::queued_mail(r),
        )?;
        let mut claimed = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    fn mail_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        self.conn().execute(
            "UPDATE mail_outbox SET sent_at = ?2, last_error = NULL WHERE id = ?1",
            params![id, ts(now)],
        )?;
        Ok(())
    }

    fn mail_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        self.conn().execute(
            "UPDATE mail_outbox SET last_error = ?2, next_attempt = ?3 WHERE id = ?1 AND sent_at IS NULL",
            params![id, error, ts(retry_at)],
        )?;
        Ok(())
    }

    fn outbox(&self, limit: usize) -> Result<Vec<QueuedMail>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM mail_outbox ORDER BY id DESC LIMIT ?1",
            outbox::MAIL_COLUMNS
        ))?;
        let rows = stmt.query_map(params![limit as i64], |r| outbox::queued_mail(r))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn add_link(&self, link: &NewLink) -> Result<()> {
        self.conn().execute(
            "INSERT INTO one_time_links (hash, purpose, user_id, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                link.hash,
                link.purpose.as_str(),
                link.user_id,
                ts(link.created_at),
                ts(link.expires_at)
            ],
        )?;
        Ok(())
    }

    fn link_user(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<User>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT u.id, u.login, u.email, u.password_hash, u.disabled_at, u.role
                 FROM one_time_links l JOIN users u ON u.id = l.user_id
                 WHERE l.hash = ?1 AND l.purpose = ?2 AND l.used_at IS NULL
                   AND l.expires_at > ?3 AND u.disabled_at IS NULL",
                params![hash, purpose.as_str(), ts(now)],
                user_row,
            )
            .optional()?)
    }

    fn use_link(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
        password_hash: &str,
    ) -> Result<Option<User>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let user_id: Option<i64> = tx
            .query_row(
                "UPDATE one_time_links SET used_at = ?3
                 WHERE hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3
                   AND user_id IN (SELECT id FROM users WHERE disabled_at IS NULL)
                 RETURNING user_id",
                params![hash, purpose.as_str(), ts(now)],
                |r| r.get(0),
            )
            .optional()?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![user_id, password_hash],
        )?;
        tx.execute("DELETE FROM tokens WHERE user_id = ?1", params![user_id])?;
        let user = tx.query_row(
            "SELECT id, login, email, password_hash, disabled_at, role FROM users WHERE id = ?1",
            params![user_id],
            user_row,
        )?;
        tx.commit()?;
        Ok(Some(user))
    }

    fn set_email(&self, login: &str, email: Option<&str>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(email) = email {
            let taken: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM users WHERE login <> ?1 AND (login = ?2 OR email = ?2))",
                params![login, email],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StoreError::Conflict(format!(
                    "another account already has {email:?} as its login or e-mail"
                )));
            }
        }
        let changed = tx.execute(
            "UPDATE users SET email = ?2 WHERE login = ?1",
            params![login, email],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("no user called {login:?}")));
        }
        tx.commit()?;
        Ok(())
    }

    fn set_weekly_summary(&self, user_id: i64, on: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE users SET weekly_summary = ?2 WHERE id = ?1",
            params![user_id, on],
        )?;
        Ok(())
    }

    fn recipients(&self, ids: &[i64]) -> Result<HashMap<i64, Recipient>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, login, email, disabled_at, weekly_summary FROM users
             WHERE id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map(params![json_list(ids)], |r| outbox::recipient(r))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn blobs(&self) -> Option<&Blobs> {
        self.blobs.as_ref()
    }

    fn blob_keys(&self) -> Result<HashSet<String>> {
        let conn = self.conn();
        let mut keys = HashSet::new();
        let mut shots =
            conn.prepare("SELECT blob_key FROM screenshots WHERE blob_key IS NOT NULL")?;
        for base in shots.query_map([], |r| r.get::<_, String>(0))? {
            keys.extend(blobs::shot_objects(&base?));
        }
        let mut zips =
            conn.prepare("SELECT logs_blob_key FROM reports WHERE logs_blob_key IS NOT NULL")?;
        for key in zips.query_map([], |r| r.get::<_, String>(0))? {
            keys.insert(key?);
        }
        Ok(keys)
    }

    fn describe(&self) -> String {
        let conn = self.conn();
        format!("SQLite {}", conn.path().unwrap_or("(in memory)"))
    }
}

fn failures_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Failures> {
    Ok(Failures {
        count: row.get::<_, i64>(0)?.clamp(0, u32::MAX as i64) as u32,
        last: DateTime::from_timestamp_millis(row.get(1)?).unwrap_or_default(),
    })
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
    let week_approved_at = match &contract {
        Some(c) => approved_at(
            conn,
            &c.contract.id,
            BillingWeek::containing(segment.start).start(),
        )?,
        None => None,
    };
    Ok(Facts {
        contract,
        already_stored,
        overlap_device,
        week_logged_secs,
        week_approved_at,
    })
}

/// R7: when the contract's week starting at `week_start` was approved.
fn approved_at(
    conn: &Connection,
    contract_id: &str,
    week_start: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let at: Option<i64> = conn
        .prepare_cached(
            "SELECT MIN(at) FROM reviews WHERE contract_id = ?1 AND week_start = ?2 AND action = 'approve'",
        )?
        .query_row(params![contract_id, ts(week_start)], |r| r.get(0))?;
    Ok(at.map(from_ts))
}

/// A review step's or a deletion's transaction.
struct Tx<'a>(&'a rusqlite::Transaction<'a>);

impl review::ReviewTx for Tx<'_> {
    fn contract(&mut self, id: &str) -> Result<Option<StoredContract>> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = ?1"
            ))?
            .query_row(params![id], contract_row)
            .optional()?)
    }

    fn reviews(&mut self, contract_id: &str) -> Result<Vec<ReviewEvent>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT week_start, segment_id, action, note, by_user_id, at FROM reviews
             WHERE contract_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![contract_id], |r| rows::review(r, 0))?;
        let mut events = Vec::new();
        for row in rows {
            events.extend(row?);
        }
        Ok(events)
    }

    fn segment_start(
        &mut self,
        user_id: i64,
        id: SegmentId,
    ) -> Result<Option<(DateTime<Utc>, String)>> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT start, contract_id FROM segments WHERE user_id = ?1 AND id = ?2",
            )?
            .query_row(params![user_id, id.to_string()], |r| {
                Ok((from_ts(r.get(0)?), r.get(1)?))
            })
            .optional()?)
    }

    fn approved_at(
        &mut self,
        contract_id: &str,
        week_start: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        approved_at(self.0, contract_id, week_start)
    }

    fn insert_review(&mut self, contract_id: &str, e: &ReviewEvent) -> Result<()> {
        self.0.execute(
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
}

fn insert_segment(
    conn: &Connection,
    user_id: i64,
    s: &Segment,
    shot: Option<&ShotKeys>,
) -> Result<()> {
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
    if let Some(picture) = &s.screenshot {
        let (jpeg, thumbnail, blob_key) = match shot {
            Some(keys) => (&[][..], &[][..], Some(keys.base.as_str())),
            None => (&picture.jpeg[..], &picture.thumbnail[..], None),
        };
        conn.prepare_cached(
            "INSERT INTO screenshots (user_id, segment_id, taken_at, jpeg, thumbnail, blob_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            user_id,
            s.id.to_string(),
            ts(picture.taken_at),
            jpeg,
            thumbnail,
            blob_key
        ])?;
    }
    Ok(())
}

/// A batch's transaction.
struct Batch<'a>(&'a rusqlite::Transaction<'a>);

impl batch::BatchTx for Batch<'_> {
    fn logged_secs(
        &mut self,
        user_id: i64,
        contract_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64> {
        logged_secs_in(self.0, user_id, contract_id, ts(from), ts(to))
    }

    fn facts(
        &mut self,
        user_id: i64,
        segment: &Segment,
        week_logged_secs: i64,
        lookback: i64,
    ) -> Result<Facts> {
        facts_for(self.0, user_id, segment, week_logged_secs, lookback)
    }

    fn insert(&mut self, user_id: i64, segment: &Segment, shot: Option<&ShotKeys>) -> Result<()> {
        insert_segment(self.0, user_id, segment, shot)
    }
}

impl SqliteStore {
    /// With a blob store, the screenshots of the segments not stored yet,
    /// written before the batch's transaction.
    fn write_shots(
        &self,
        user_id: i64,
        segments: &[Segment],
    ) -> Result<HashMap<SegmentId, ShotKeys>> {
        let Some(blobs) = &self.blobs else {
            return Ok(HashMap::new());
        };
        let fresh: Vec<&Segment> = {
            let conn = self.conn();
            let mut stored = conn.prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM segments WHERE user_id = ?1 AND id = ?2)",
            )?;
            let mut fresh = Vec::new();
            for segment in segments.iter().filter(|s| s.screenshot.is_some()) {
                let exists: bool =
                    stored.query_row(params![user_id, segment.id.to_string()], |r| r.get(0))?;
                if !exists {
                    fresh.push(segment);
                }
            }
            fresh
        };
        Ok(blobs.put_screenshots(user_id, fresh)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use timecard_core::domain::Activity;
    use timecard_core::protocol::Outcome;

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
        store.delete_segment(2, id, now, 0).unwrap().unwrap();
        assert_eq!(store.segment(1, id).unwrap().unwrap().memo, "ann's");
        assert_eq!(
            store.screenshot(1, id, Picture::Thumbnail).unwrap(),
            Some(vec![2])
        );
        // Opening again runs nothing twice.
        drop(store);
        SqliteStore::open(&path).unwrap();
    }
}
