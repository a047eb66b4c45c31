//! [`Store`] on PostgreSQL, for any number of server processes on one
//! database: a connection pool, versioned migrations, and batches judged
//! one user at a time across every replica (a transaction-scoped advisory
//! lock on the user's id), so two replicas never both accept overlapping
//! segments or go over a weekly limit.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::NoTls;
use postgres::types::ToSql;
use r2d2_postgres::PostgresConnectionManager;

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
    Failures, LoggedDay, Picture, Result, Role, SessionSummary, Store, StoreError, StoredReport,
    User, UserSummary, batch, review,
};
use crate::rules::{
    self, Closed, Facts, ReviewEvent, ReviewRefusal, ReviewRequest, StoredContract,
};
use timecard_core::domain::{BillingWeek, Contract, ContractStatus, Segment, SegmentId};
use timecard_core::protocol::{
    DiarySegment, ProblemReport, RejectReason, SegmentResult, ServerConfig,
};

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;
type Conn = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// X3: connections one server process holds at most.
const POOL_SIZE: u32 = 16;
/// How long a request waits for a connection (the database may be down).
const CONNECT_WAIT: Duration = Duration::from_secs(5);
/// Batches whose segments span more than this are judged one segment at a
/// time against the database instead of against the user's segments of
/// the span read at once.
const PREFETCH_SPAN_SECS: i64 = 8 * 24 * 3600;
/// Taken (as a session advisory lock) while migrations run, so that
/// replicas starting together migrate once.
const MIGRATION_LOCK: i64 = 0x7469_6d65_6361_7264; // "timecard"

/// The schema's history, oldest first; `timecard_schema.version` says how
/// many have run. The first is the SQLite schema as of its migration 7.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    email TEXT UNIQUE,
    password_hash TEXT NOT NULL,
    disabled_at BIGINT,
    role TEXT NOT NULL DEFAULT 'freelancer'
);
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    expires_at BIGINT NOT NULL,
    created_at BIGINT
);
CREATE TABLE contracts (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    client TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    status_changed_at BIGINT,
    start_date TEXT NOT NULL,
    weekly_limit_secs BIGINT,
    pending_set BOOLEAN NOT NULL DEFAULT FALSE,
    pending_limit_secs BIGINT,
    pending_effective_at BIGINT,
    client_user_id BIGINT REFERENCES users(id),
    rate_cents BIGINT,
    currency TEXT,
    manual_time BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE TABLE segments (
    id TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    contract_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    start BIGINT NOT NULL,
    \"end\" BIGINT NOT NULL,
    memo TEXT NOT NULL,
    activity BIGINT NOT NULL,
    capture_note TEXT,
    has_screenshot BOOLEAN NOT NULL,
    manual BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX segments_by_user_start ON segments(user_id, start);
CREATE TABLE screenshots (
    user_id BIGINT NOT NULL,
    segment_id TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    jpeg BYTEA NOT NULL,
    thumbnail BYTEA NOT NULL,
    blob_key TEXT,
    PRIMARY KEY (user_id, segment_id)
);
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    logs_zip BYTEA,
    logs_blob_key TEXT,
    logs_blob_bytes BIGINT
);
CREATE TABLE reviews (
    id BIGSERIAL PRIMARY KEY,
    contract_id TEXT NOT NULL,
    week_start BIGINT NOT NULL,
    segment_id TEXT,
    action TEXT NOT NULL,
    note TEXT NOT NULL,
    by_user_id BIGINT NOT NULL REFERENCES users(id),
    at BIGINT NOT NULL
);
CREATE INDEX reviews_by_contract ON reviews(contract_id, week_start);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sign_in_failures (
    key TEXT PRIMARY KEY,
    count BIGINT NOT NULL,
    last_ms BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_last ON sign_in_failures(last_ms);
",
    // 2: pages read one contract's segments (B1) and sum them per contract.
    "CREATE INDEX segments_by_contract_start ON segments(contract_id, start);",
    // 3: mail (M2–M5): the outbox, one-time links, the weekly summary's
    // opt-out (SQLite's migration 9).
    "
CREATE TABLE mail_outbox (
    id BIGSERIAL PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL,
    sent_at BIGINT,
    last_error TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt) WHERE sent_at IS NULL;
CREATE TABLE one_time_links (
    hash TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
ALTER TABLE users ADD COLUMN weekly_summary BOOLEAN NOT NULL DEFAULT TRUE;
",
    // Personal API tokens (SQLite's migration 10).
    "
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id);
",
    // Webhooks and their outbox (SQLite's migration 11).
    "
CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    all_contracts BOOLEAN NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    disabled_reason TEXT,
    failures_in_row BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id),
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL,
    delivered_at BIGINT,
    last_status BIGINT,
    last_response TEXT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt) WHERE delivered_at IS NULL;
",
    // Single sign-on (SQLite's migration 12).
    "
CREATE TABLE pending_sign_ins (
    key_hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
",
];

/// Memos and notes read no longer than their caps (as on SQLite).
const DIARY_COLUMNS: &str = "id, contract_id, device_id, start, \"end\", substr(memo, 1, 2000), activity, has_screenshot, substr(capture_note, 1, 500), manual";

/// How far back range queries look for a segment that started before the
/// range: no stored segment is longer.
const MAX_SEGMENT_SECS: i64 = 24 * 3600;

/// [`Store`] on a PostgreSQL database.
pub struct PgStore {
    /// `Some` until dropped.
    pool: Option<Pool>,
    blobs: Option<Blobs>,
    describe: String,
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

impl PgStore {
    /// Connects (`postgres://USER@HOST[:PORT]/DB`) and brings the schema up
    /// to date.
    pub fn open(url: &str, blobs: Option<Blobs>) -> Result<PgStore> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("{}: {e}", super::Database::redacted(url))))?;
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CONNECT_WAIT)
            .build(manager)
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot connect to {}: {e}",
                    super::Database::redacted(url)
                ))
            })?;
        let store = PgStore {
            pool: Some(pool),
            blobs,
            describe: format!("PostgreSQL {}", super::Database::redacted(url)),
        };
        store.migrate()?;
        Ok(store)
    }

    fn conn(&self) -> Result<Conn> {
        let pool = self
            .pool
            .as_ref()
            .expect("the pool lives as long as the store");
        Ok(pool.get()?)
    }

    /// Runs the migrations the database has not had, once across replicas.
    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn()?;
        conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let done = (|| -> Result<()> {
            let fresh: bool = conn
                .query_one("SELECT to_regclass('timecard_schema') IS NULL", &[])?
                .get(0);
            if fresh {
                conn.batch_execute(
                    "CREATE TABLE timecard_schema (version BIGINT NOT NULL);
                     INSERT INTO timecard_schema VALUES (0);",
                )?;
            }
            let version: i64 = conn
                .query_one("SELECT version FROM timecard_schema", &[])?
                .get(0);
            if version as usize > MIGRATIONS.len() {
                return Err(StoreError::Internal(format!(
                    "the database's schema (version {version}) is newer than this server's ({}): upgrade the server",
                    MIGRATIONS.len()
                )));
            }
            for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                let mut tx = conn.transaction()?;
                tx.batch_execute(step)?;
                tx.execute(
                    "UPDATE timecard_schema SET version = $1",
                    &[&((i + 1) as i64)],
                )?;
                tx.commit()?;
            }
            Ok(())
        })();
        conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
        done
    }

    /// X1: runs `f` in a transaction that holds the user's batch lock:
    /// every replica judges one batch (or review step, B3) of a user at a
    /// time.
    fn user_transaction<T>(
        &self,
        user_id: i64,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<(T, bool)>,
    ) -> Result<T> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&user_id])?;
        let (value, commit) = f(&mut tx)?;
        if commit {
            tx.commit()?;
        }
        Ok(value)
    }

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
        let ids: Vec<String> = segments
            .iter()
            .filter(|s| s.screenshot.is_some())
            .map(|s| s.id.to_string())
            .collect();
        let stored: HashSet<String> = self
            .conn()?
            .query(
                "SELECT id FROM segments WHERE user_id = $1 AND id = ANY($2)",
                &[&user_id, &ids],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let fresh = segments
            .iter()
            .filter(|s| s.screenshot.is_some() && !stored.contains(&s.id.to_string()));
        Ok(blobs.put_screenshots(user_id, fresh)?.into_iter().collect())
    }

    fn one_row<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        f: impl FnOnce(&postgres::Row) -> std::result::Result<T, postgres::Error>,
    ) -> Result<Option<T>> {
        match self.conn()?.query_opt(sql, params)? {
            Some(row) => Ok(Some(f(&row)?)),
            None => Ok(None),
        }
    }
}

impl Drop for PgStore {
    /// The connections close on a thread of their own: each blocks on its
    /// own runtime, which is not allowed where a server's last reference
    /// to the store goes away (on one of its async workers).
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let closing = std::thread::Builder::new()
                .name("timecard-pg-close".into())
                .spawn(move || drop(pool));
            if let Ok(thread) = closing {
                let _ = thread.join();
            }
        }
    }
}

/// A segment to insert at the end of the batch (or before a sum needs it).
struct Pending {
    segment: Segment,
    shot: Option<ShotKeys>,
}

/// A batch's transaction: the user's contracts, the ids of the batch
/// already stored, and the user's segments around the batch, read at once;
/// accepted segments are inserted together.
struct PgBatch<'t, 'c> {
    tx: &'t mut postgres::Transaction<'c>,
    user_id: i64,
    contracts: HashMap<String, StoredContract>,
    stored: HashSet<SegmentId>,
    /// `(start, end, device)` of the user's segments that may overlap the
    /// batch's; `None` when the batch spans too long to read them at once.
    nearby: Option<Vec<(i64, i64, String)>>,
    /// When each (contract, week start) of the batch's weeks was approved.
    approvals: HashMap<(String, i64), DateTime<Utc>>,
    pending: Vec<Pending>,
}

impl<'t, 'c> PgBatch<'t, 'c> {
    fn load(
        tx: &'t mut postgres::Transaction<'c>,
        user_id: i64,
        segments: &[Segment],
        lookback: i64,
    ) -> Result<PgBatch<'t, 'c>> {
        let contracts: HashMap<String, StoredContract> = tx
            .query(
                &format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE user_id = $1"),
                &[&user_id],
            )?
            .iter()
            .map(|r| rows::contract(r).map(|c| (c.contract.id.clone(), c)))
            .collect::<std::result::Result<_, _>>()?;
        let ids: Vec<String> = segments.iter().map(|s| s.id.to_string()).collect();
        let stored = tx
            .query(
                "SELECT id FROM segments WHERE user_id = $1 AND id = ANY($2)",
                &[&user_id, &ids],
            )?
            .iter()
            .filter_map(|r| r.get::<_, String>(0).parse().ok())
            .collect();
        let from = segments.iter().map(|s| ts(s.start)).min().unwrap_or(0);
        let to = segments.iter().map(|s| ts(s.end)).max().unwrap_or(0);
        let nearby = if to.saturating_sub(from) <= PREFETCH_SPAN_SECS {
            Some(
                tx.query(
                    "SELECT start, \"end\", device_id FROM segments
                     WHERE user_id = $1 AND start < $3 AND start > $2::int8 - $4::int8 AND \"end\" > $2",
                    &[&user_id, &from, &to, &lookback],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect(),
            )
        } else {
            None
        };
        let contract_ids: Vec<&String> = contracts.keys().collect();
        let first_week = BillingWeek::containing(from_ts(from)).start().timestamp();
        let approvals = tx
            .query(
                "SELECT contract_id, week_start, MIN(at) FROM reviews
                 WHERE contract_id = ANY($1) AND action = 'approve' AND week_start >= $2 AND week_start <= $3
                 GROUP BY contract_id, week_start",
                &[&contract_ids, &first_week, &to],
            )?
            .iter()
            .map(|r| ((r.get(0), r.get(1)), from_ts(r.get(2))))
            .collect();
        Ok(PgBatch {
            tx,
            user_id,
            contracts,
            stored,
            nearby,
            approvals,
            pending: Vec::new(),
        })
    }

    /// Inserts the pending segments (and their screenshots) in two
    /// statements.
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let mut ids = Vec::new();
        let mut contracts = Vec::new();
        let mut devices = Vec::new();
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut memos = Vec::new();
        let mut activities = Vec::new();
        let mut notes: Vec<Option<String>> = Vec::new();
        let mut has_shot = Vec::new();
        let mut manual = Vec::new();
        let mut shot_ids = Vec::new();
        let mut taken = Vec::new();
        let mut jpegs: Vec<Vec<u8>> = Vec::new();
        let mut thumbs: Vec<Vec<u8>> = Vec::new();
        let mut keys: Vec<Option<String>> = Vec::new();
        for Pending { segment: s, shot } in pending {
            ids.push(s.id.to_string());
            contracts.push(s.contract_id);
            manual.push(s.device_id == rules::MANUAL_DEVICE);
            devices.push(s.device_id);
            starts.push(ts(s.start));
            ends.push(ts(s.end));
            memos.push(s.memo);
            activities.push(i64::from(s.activity.0));
            notes.push(s.capture_note);
            has_shot.push(s.screenshot.is_some());
            if let Some(picture) = s.screenshot {
                shot_ids.push(s.id.to_string());
                taken.push(ts(picture.taken_at));
                match shot {
                    Some(k) => {
                        jpegs.push(Vec::new());
                        thumbs.push(Vec::new());
                        keys.push(Some(k.base));
                    }
                    None => {
                        jpegs.push(picture.jpeg);
                        thumbs.push(picture.thumbnail);
                        keys.push(None);
                    }
                }
            }
        }
        self.tx.execute(
            "INSERT INTO segments (id, user_id, contract_id, device_id, start, \"end\", memo, activity, capture_note, has_screenshot, manual)
             SELECT id, $1::int8, contract_id, device_id, start, e, memo, activity, note, has_shot, manual
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::text[], $8::int8[], $9::text[], $10::bool[], $11::bool[])
                 AS t(id, contract_id, device_id, start, e, memo, activity, note, has_shot, manual)",
            &[
                &self.user_id, &ids, &contracts, &devices, &starts, &ends, &memos, &activities,
                &notes, &has_shot, &manual,
            ],
        )?;
        if !shot_ids.is_empty() {
            self.tx.execute(
                "INSERT INTO screenshots (user_id, segment_id, taken_at, jpeg, thumbnail, blob_key)
                 SELECT $1::int8, id, taken, jpeg, thumb, key
                 FROM UNNEST($2::text[], $3::int8[], $4::bytea[], $5::bytea[], $6::text[])
                     AS t(id, taken, jpeg, thumb, key)",
                &[&self.user_id, &shot_ids, &taken, &jpegs, &thumbs, &keys],
            )?;
        }
        Ok(())
    }
}

impl batch::BatchTx for PgBatch<'_, '_> {
    fn logged_secs(
        &mut self,
        user_id: i64,
        contract_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64> {
        // The sum must see what this batch accepted so far.
        self.flush()?;
        logged_secs_in(&mut *self.tx, user_id, contract_id, ts(from), ts(to))
    }

    fn facts(
        &mut self,
        user_id: i64,
        segment: &Segment,
        week_logged_secs: i64,
        lookback: i64,
    ) -> Result<Facts> {
        // K7: ids are unique per user.
        if self.stored.contains(&segment.id) {
            return Ok(Facts {
                already_stored: true,
                ..Facts::default()
            });
        }
        let (start, end) = (ts(segment.start), ts(segment.end));
        let overlap_device = match &self.nearby {
            Some(nearby) => nearby
                .iter()
                .find(|(s, e, _)| *s < end && *s > start - lookback && *e > start)
                .map(|(_, _, device)| device.clone()),
            None => self
                .tx
                .query_opt(
                    "SELECT device_id FROM segments
                     WHERE user_id = $1 AND start < $3 AND start > $2::int8 - $4::int8 AND \"end\" > $2 LIMIT 1",
                    &[&user_id, &start, &end, &lookback],
                )?
                .map(|r| r.get(0)),
        };
        // Pending inserts overlap too (the prefetched list has them).
        let overlap_device = overlap_device.or_else(|| {
            self.pending
                .iter()
                .map(|p| &p.segment)
                .find(|s| ts(s.start) < end && ts(s.end) > start)
                .map(|s| s.device_id.clone())
        });
        let week = BillingWeek::containing(segment.start).start().timestamp();
        Ok(Facts {
            contract: self.contracts.get(&segment.contract_id).cloned(),
            already_stored: false,
            overlap_device,
            week_logged_secs,
            week_approved_at: self
                .approvals
                .get(&(segment.contract_id.clone(), week))
                .copied(),
        })
    }

    fn insert(&mut self, _user_id: i64, segment: &Segment, shot: Option<&ShotKeys>) -> Result<()> {
        self.stored.insert(segment.id);
        if let Some(nearby) = &mut self.nearby {
            nearby.push((
                ts(segment.start),
                ts(segment.end),
                segment.device_id.clone(),
            ));
        }
        self.pending.push(Pending {
            segment: segment.clone(),
            shot: shot.cloned(),
        });
        Ok(())
    }
}

fn logged_secs_in(
    client: &mut impl postgres::GenericClient,
    user_id: i64,
    contract_id: &str,
    from: i64,
    to: i64,
) -> Result<i64> {
    Ok(client
        .query_one(
            "SELECT COALESCE(SUM(LEAST(\"end\", $4) - GREATEST(start, $3)), 0)::BIGINT FROM segments
             WHERE user_id = $1 AND contract_id = $2 AND start < $4 AND start > $3::int8 - $5::int8 AND \"end\" > $3",
            &[&user_id, &contract_id, &from, &to, &MAX_SEGMENT_SECS],
        )?
        .get(0))
}

/// A review step's or a deletion's transaction (holding the user's lock).
struct PgTx<'t, 'c>(&'t mut postgres::Transaction<'c>);

impl review::ReviewTx for PgTx<'_, '_> {
    fn contract(&mut self, id: &str) -> Result<Option<StoredContract>> {
        match self.0.query_opt(
            &format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = $1"),
            &[&id],
        )? {
            Some(row) => Ok(Some(rows::contract(&row)?)),
            None => Ok(None),
        }
    }

    fn reviews(&mut self, contract_id: &str) -> Result<Vec<ReviewEvent>> {
        let found = self.0.query(
            "SELECT week_start, segment_id, action, note, by_user_id, at FROM reviews
             WHERE contract_id = $1 ORDER BY id",
            &[&contract_id],
        )?;
        let mut events = Vec::new();
        for r in &found {
            events.extend(rows::review(r, 0)?);
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
            .query_opt(
                "SELECT start, contract_id FROM segments WHERE user_id = $1 AND id = $2",
                &[&user_id, &id.to_string()],
            )?
            .map(|r| (from_ts(r.get(0)), r.get(1))))
    }

    fn approved_at(
        &mut self,
        contract_id: &str,
        week_start: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let at: Option<i64> = self
            .0
            .query_one(
                "SELECT MIN(at) FROM reviews WHERE contract_id = $1 AND week_start = $2 AND action = 'approve'",
                &[&contract_id, &ts(week_start)],
            )?
            .get(0);
        Ok(at.map(from_ts))
    }

    fn insert_review(&mut self, contract_id: &str, e: &ReviewEvent) -> Result<()> {
        self.0.execute(
            "INSERT INTO reviews (contract_id, week_start, segment_id, action, note, by_user_id, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &contract_id,
                &ts(e.week_start),
                &e.segment_id.map(|id| id.to_string()),
                &e.action.as_str(),
                &e.note,
                &e.by_user_id,
                &ts(e.at),
            ],
        )?;
        Ok(())
    }
}

/// `count, last_ms` at columns `at` and `at + 1`.
fn failures_row(row: &postgres::Row, at: usize) -> Failures {
    Failures {
        count: row.get::<_, i64>(at).clamp(0, u32::MAX as i64) as u32,
        last: DateTime::from_timestamp_millis(row.get(at + 1)).unwrap_or_default(),
    }
}

/// `login, created_at, body, zip bytes` as a report.
fn stored_report(row: &postgres::Row) -> Result<StoredReport> {
    let body: String = row.get(2);
    let report = serde_json::from_str(&body)
        .map_err(|e| StoreError::Internal(format!("a stored report does not read: {e}")))?;
    Ok(StoredReport {
        login: row
            .get::<_, Option<String>>(0)
            .unwrap_or_else(|| "(deleted user)".into()),
        received_at: from_ts(row.get(1)),
        logs_zip_bytes: row.get::<_, Option<i64>>(3).map(|n| n as u64),
        report,
    })
}

fn not_found_user(login: &str) -> StoreError {
    StoreError::NotFound(format!("no user called {login:?}"))
}

impl Store for PgStore {
    fn add_user(&self, login: &str, email: Option<&str>, password_hash: &str) -> Result<i64> {
        let mut conn = self.conn()?;
        let exists: bool = conn
            .query_one(
                "SELECT EXISTS(SELECT 1 FROM users WHERE login = $1 OR email = $1 OR ($2::text IS NOT NULL AND (login = $2 OR email = $2)))",
                &[&login, &email],
            )?
            .get(0);
        if exists {
            return Err(StoreError::Conflict(format!(
                "a user called {login:?} (or with that e-mail) already exists"
            )));
        }
        Ok(conn
            .query_one(
                "INSERT INTO users (login, email, password_hash) VALUES ($1, $2, $3) RETURNING id",
                &[&login, &email, &password_hash],
            )?
            .get(0))
    }

    fn set_password(&self, login: &str, password_hash: &str) -> Result<()> {
        let changed = self.conn()?.execute(
            "UPDATE users SET password_hash = $1 WHERE login = $2",
            &[&password_hash, &login],
        )?;
        if changed == 0 {
            return Err(not_found_user(login));
        }
        Ok(())
    }

    fn set_role(&self, login: &str, role: Role) -> Result<()> {
        let changed = self.conn()?.execute(
            "UPDATE users SET role = $1 WHERE login = $2",
            &[&role.as_str(), &login],
        )?;
        if changed == 0 {
            return Err(not_found_user(login));
        }
        Ok(())
    }

    fn find_user(&self, login_or_email: &str) -> Result<Option<User>> {
        if login_or_email.contains('\0') {
            // PostgreSQL text cannot hold NUL, so no login has one.
            return Ok(None);
        }
        self.one_row(
            "SELECT id, login, email, password_hash, disabled_at, role FROM users WHERE login = $1 OR email = $1 LIMIT 1",
            &[&login_or_email],
            rows::user,
        )
    }

    fn add_token(&self, user_id: i64, token_hash: &str, expires_at: DateTime<Utc>) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO tokens (hash, user_id, expires_at, created_at)
             VALUES ($1, $2, $3, EXTRACT(EPOCH FROM now())::BIGINT)",
            &[&token_hash, &user_id, &ts(expires_at)],
        )?;
        Ok(())
    }

    fn token_user(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<User>> {
        self.one_row(
            "SELECT u.id, u.login, u.email, u.password_hash, u.disabled_at, u.role FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.hash = $1 AND t.expires_at > $2 AND u.disabled_at IS NULL",
            &[&token_hash, &ts(now)],
            rows::user,
        )
    }

    fn remove_token(&self, token_hash: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM tokens WHERE hash = $1", &[&token_hash])?;
        Ok(())
    }

    fn add_api_token(&self, token: &NewApiToken) -> Result<i64> {
        let row = self.conn()?.query_one(
            "INSERT INTO api_tokens (user_id, name, hash, scope, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &token.user_id,
                &token.name,
                &token.hash,
                &token.scope.as_str(),
                &ts(token.created_at),
                &ts(token.expires_at),
            ],
        )?;
        Ok(row.try_get(0)?)
    }

    fn api_token_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(User, Scope)>> {
        let found = self.one_row(
            "SELECT u.id, u.login, u.email, u.password_hash, u.disabled_at, u.role, t.scope
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.hash = $1 AND t.expires_at > $2 AND u.disabled_at IS NULL",
            &[&token_hash, &ts(now)],
            |r| {
                Ok((
                    rows::user(r)?,
                    Scope::from_stored(&r.try_get::<_, String>(6)?),
                ))
            },
        )?;
        if found.is_some() {
            self.conn()?.execute(
                "UPDATE api_tokens SET last_used_at = $2
                 WHERE hash = $1 AND (last_used_at IS NULL OR last_used_at <= $2::BIGINT - $3::BIGINT)",
                &[&token_hash, &ts(now), &LAST_USED_STEP_SECS],
            )?;
        }
        Ok(found)
    }

    fn api_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>> {
        Ok(self
            .conn()?
            .query(
                &format!(
                    "SELECT {API_TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
                     WHERE $1::BIGINT IS NULL OR t.user_id = $1 ORDER BY t.id DESC"
                ),
                &[&user_id],
            )?
            .iter()
            .map(api_tokens::api_token)
            .collect::<std::result::Result<Vec<_>, _>>()?)
    }

    fn revoke_api_token(&self, id: i64, user_id: Option<i64>) -> Result<bool> {
        Ok(self.conn()?.execute(
            "DELETE FROM api_tokens WHERE id = $1 AND ($2::BIGINT IS NULL OR user_id = $2)",
            &[&id, &user_id],
        )? > 0)
    }

    fn add_webhook(&self, hook: &NewWebhook) -> Result<i64> {
        let row = self.conn()?.query_one(
            "INSERT INTO webhooks (owner_id, all_contracts, url, secret, events, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &hook.owner_id,
                &hook.all_contracts,
                &hook.url,
                &hook.secret,
                &hook.events.join(","),
                &ts(hook.created_at),
            ],
        )?;
        Ok(row.try_get(0)?)
    }

    fn webhooks(&self, owner: Option<i64>) -> Result<Vec<Webhook>> {
        Ok(self
            .conn()?
            .query(
                &format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks w JOIN users u ON u.id = w.owner_id
                     WHERE $1::BIGINT IS NULL OR w.owner_id = $1 ORDER BY w.id"
                ),
                &[&owner],
            )?
            .iter()
            .map(webhooks::webhook)
            .collect::<std::result::Result<Vec<_>, _>>()?)
    }

    fn set_webhook_enabled(
        &self,
        id: i64,
        owner: Option<i64>,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let changed = if enabled {
            self.conn()?.execute(
                "UPDATE webhooks SET disabled_at = NULL, disabled_reason = NULL, failures_in_row = 0
                 WHERE id = $1 AND ($2::BIGINT IS NULL OR owner_id = $2)",
                &[&id, &owner],
            )?
        } else {
            self.conn()?.execute(
                "UPDATE webhooks SET disabled_at = $3, disabled_reason = 'turned off'
                 WHERE id = $1 AND ($2::BIGINT IS NULL OR owner_id = $2)",
                &[&id, &owner, &ts(now)],
            )?
        };
        Ok(changed > 0)
    }

    fn delete_webhook(&self, id: i64, owner: Option<i64>) -> Result<bool> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let owned = tx
            .query_opt(
                "SELECT 1 FROM webhooks WHERE id = $1 AND ($2::BIGINT IS NULL OR owner_id = $2) FOR UPDATE",
                &[&id, &owner],
            )?
            .is_some();
        if owned {
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
                &[&id],
            )?;
            tx.execute("DELETE FROM webhooks WHERE id = $1", &[&id])?;
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
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let mut queued = 0;
        for id in webhook_ids {
            queued += tx.execute(
                "INSERT INTO webhook_deliveries (webhook_id, event_id, kind, body, created_at, next_attempt)
                 VALUES ($1, $2, $3, $4, $5, $5)
                 ON CONFLICT (webhook_id, event_id) DO NOTHING",
                &[id, &event.event_id, &event.kind, &event.body, &ts(now)],
            )? as usize;
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
        // SKIP LOCKED: replicas claiming at once take different deliveries.
        let mut claimed = self
            .conn()?
            .query(
                &format!(
                    "WITH claimed AS (
                         UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt = $2
                         WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                                      WHERE d.delivered_at IS NULL AND d.next_attempt <= $1 AND w.disabled_at IS NULL
                                      ORDER BY d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED)
                         RETURNING *)
                     SELECT {DELIVERY_COLUMNS} FROM claimed d JOIN webhooks w ON w.id = d.webhook_id"
                ),
                &[&ts(now), &ts(until), &(limit as i64)],
            )?
            .iter()
            .map(webhooks::delivery)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    fn record_attempt(&self, attempt: &Attempt) -> Result<bool> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let response: String = attempt.response.chars().take(500).collect();
        let status = attempt.status.map(i64::from);
        let mut disabled = false;
        if attempt.delivered {
            tx.execute(
                "UPDATE webhook_deliveries SET delivered_at = $2, last_status = $3, last_response = $4 WHERE id = $1",
                &[&attempt.delivery_id, &ts(attempt.at), &status, &response],
            )?;
            tx.execute(
                "UPDATE webhooks SET failures_in_row = 0 WHERE id = $1",
                &[&attempt.webhook_id],
            )?;
        } else {
            tx.execute(
                "UPDATE webhook_deliveries SET next_attempt = $2, last_status = $3, last_response = $4
                 WHERE id = $1 AND delivered_at IS NULL",
                &[&attempt.delivery_id, &ts(attempt.retry_at), &status, &response],
            )?;
            tx.execute(
                "UPDATE webhooks SET failures_in_row = failures_in_row + 1 WHERE id = $1",
                &[&attempt.webhook_id],
            )?;
            disabled = tx.execute(
                "UPDATE webhooks SET disabled_at = $2, disabled_reason = $3
                 WHERE id = $1 AND disabled_at IS NULL AND failures_in_row >= $4",
                &[
                    &attempt.webhook_id,
                    &ts(attempt.at),
                    &format!(
                        "turned off after {} failed deliveries in a row",
                        attempt.disable_after
                    ),
                    &i64::from(attempt.disable_after),
                ],
            )? > 0;
        }
        tx.commit()?;
        Ok(disabled)
    }

    fn deliveries(&self, webhook_id: i64, limit: usize) -> Result<Vec<Delivery>> {
        Ok(self
            .conn()?
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                     WHERE d.webhook_id = $1 ORDER BY d.id DESC LIMIT $2"
                ),
                &[&webhook_id, &(limit as i64)],
            )?
            .iter()
            .map(webhooks::delivery)
            .collect::<std::result::Result<Vec<_>, _>>()?)
    }

    fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<usize> {
        Ok(self.conn()?.execute(
            "DELETE FROM webhook_deliveries WHERE delivered_at IS NOT NULL AND delivered_at < $1",
            &[&ts(before)],
        )? as usize)
    }

    fn put_pending_sign_in(
        &self,
        key_hash: &str,
        data: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        conn.execute(
            "DELETE FROM pending_sign_ins WHERE expires_at <= $1",
            &[&ts(now)],
        )?;
        let under_way: i64 = conn
            .query_one("SELECT COUNT(*) FROM pending_sign_ins", &[])?
            .try_get(0)?;
        if under_way >= super::MAX_PENDING_SIGN_INS {
            return Err(StoreError::Unavailable(
                "too many sign-ins are under way; try again in a few minutes".into(),
            ));
        }
        conn.execute(
            "INSERT INTO pending_sign_ins (key_hash, data, expires_at) VALUES ($1, $2, $3)",
            &[&key_hash, &data, &ts(expires_at)],
        )?;
        Ok(())
    }

    fn take_pending_sign_in(&self, key_hash: &str, now: DateTime<Utc>) -> Result<Option<String>> {
        Ok(self
            .one_row(
                "DELETE FROM pending_sign_ins WHERE key_hash = $1 RETURNING data, expires_at",
                &[&key_hash],
                |r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, i64>(1)?)),
            )?
            .and_then(|(data, expires)| (expires > ts(now)).then_some(data)))
    }

    fn identity_user(&self, issuer: &str, subject: &str) -> Result<Option<User>> {
        self.one_row(
            "SELECT u.id, u.login, u.email, u.password_hash, u.disabled_at, u.role
             FROM identities i JOIN users u ON u.id = i.user_id
             WHERE i.issuer = $1 AND i.subject = $2",
            &[&issuer, &subject],
            rows::user,
        )
    }

    fn link_identity(
        &self,
        issuer: &str,
        subject: &str,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let added = self.conn()?.execute(
            "INSERT INTO identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (issuer, subject) DO NOTHING",
            &[&issuer, &subject, &user_id, &ts(now)],
        )?;
        if added == 0 {
            return Err(StoreError::Conflict(
                "this sign-in is linked to another account already".into(),
            ));
        }
        Ok(())
    }

    fn api_token_id(&self, token_hash: &str) -> Result<Option<i64>> {
        self.one_row(
            "SELECT id FROM api_tokens WHERE hash = $1",
            &[&token_hash],
            |r| r.try_get(0),
        )
    }

    fn add_contract(&self, login: &str, contract: &Contract, now: DateTime<Utc>) -> Result<()> {
        let user = self.find_user(login)?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "no user called {login:?}; add one with `timecard-server user add`"
            ))
        })?;
        let added = self.conn()?.execute(
            &format!("INSERT INTO contracts ({CONTRACT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, NULL, NULL, NULL, NULL, NULL, TRUE) ON CONFLICT (id) DO NOTHING"),
            &[
                &contract.id,
                &user.id,
                &contract.title,
                &contract.client,
                &contract.kind.as_str(),
                &contract.status.as_str(),
                &(contract.status != ContractStatus::Active).then_some(ts(now)),
                &contract.start_date.format("%Y-%m-%d").to_string(),
                &contract.weekly_limit_secs,
            ],
        )?;
        if added == 0 {
            return Err(StoreError::Conflict(format!(
                "a contract with id {:?} already exists",
                contract.id
            )));
        }
        Ok(())
    }

    fn save_contract(&self, stored: &StoredContract) -> Result<()> {
        if let Some(problem) = rules::terms_problem(stored) {
            return Err(StoreError::Invalid(problem));
        }
        let c = &stored.contract;
        let changed = self.conn()?.execute(
            "UPDATE contracts SET title = $2, client = $3, kind = $4, status = $5, status_changed_at = $6,
                 start_date = $7, weekly_limit_secs = $8, pending_set = $9, pending_limit_secs = $10,
                 pending_effective_at = $11, client_user_id = $12, rate_cents = $13, currency = $14,
                 manual_time = $15
             WHERE id = $1",
            &[
                &c.id,
                &c.title,
                &c.client,
                &c.kind.as_str(),
                &c.status.as_str(),
                &stored.status_changed_at.map(ts),
                &c.start_date.format("%Y-%m-%d").to_string(),
                &c.weekly_limit_secs,
                &c.pending_limit.is_some(),
                &c.pending_limit.as_ref().and_then(|p| p.limit_secs),
                &c.pending_limit.as_ref().map(|p| ts(p.effective_at)),
                &stored.terms.client_user_id,
                &stored.terms.rate.as_ref().map(|r| r.cents),
                &stored.terms.rate.as_ref().map(|r| r.currency.as_str()),
                &stored.terms.manual_time,
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
        self.one_row(
            &format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE id = $1"),
            &[&id],
            rows::contract,
        )
    }

    fn contracts(&self, user_id: Option<i64>) -> Result<Vec<StoredContract>> {
        self.conn()?
            .query(
                &format!("SELECT {CONTRACT_COLUMNS} FROM contracts WHERE $1::BIGINT IS NULL OR user_id = $1 ORDER BY user_id, title, id"),
                &[&user_id],
            )?
            .iter()
            .map(|r| Ok(rows::contract(r)?))
            .collect()
    }

    fn logins(&self, ids: &[i64]) -> Result<HashMap<i64, String>> {
        Ok(self
            .conn()?
            .query("SELECT id, login FROM users WHERE id = ANY($1)", &[&ids])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn logged_by_contract(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, i64>> {
        Ok(self
            .conn()?
            .query(
                "SELECT contract_id, SUM(LEAST(\"end\", $3) - GREATEST(start, $2))::BIGINT FROM segments
                 WHERE contract_id = ANY($1) AND start < $3 AND start > $2::int8 - $4::int8 AND \"end\" > $2
                 GROUP BY contract_id",
                &[&contract_ids, &ts(from), &ts(to), &MAX_SEGMENT_SECS],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn logged_by_week(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>, i64)>> {
        // Billing weeks start on Mondays; 1970-01-05 00:00 UTC (345 600 s)
        // was one.
        Ok(self
            .conn()?
            .query(
                "SELECT contract_id, start - ((start - 345600) % 604800) AS week, SUM(\"end\" - start)::BIGINT
                 FROM segments
                 WHERE contract_id = ANY($1) AND start >= $2 AND start < $3
                 GROUP BY contract_id, week ORDER BY contract_id, week",
                &[&contract_ids, &ts(from), &ts(to)],
            )?
            .iter()
            .map(|r| (r.get(0), from_ts(r.get(1)), r.get(2)))
            .collect())
    }

    fn last_activity(&self, contract_ids: &[String]) -> Result<HashMap<String, DateTime<Utc>>> {
        Ok(self
            .conn()?
            // Two index lookups per contract, not a scan of all its time:
            // the segment that ends last starts at most a segment's length
            // before the one that starts last.
            .query(
                "SELECT c, (SELECT MAX(s.\"end\") FROM segments s WHERE s.contract_id = c
                     AND s.start >= (SELECT MAX(start) FROM segments WHERE contract_id = c) - $2::int8)
                 FROM unnest($1::text[]) AS c",
                &[&contract_ids, &MAX_SEGMENT_SECS],
            )?
            .iter()
            .filter_map(|r| Some((r.get(0), from_ts(r.get::<_, Option<i64>>(1)?))))
            .collect())
    }

    fn ingest(
        &self,
        user_id: i64,
        segments: &[Segment],
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<Vec<SegmentResult>> {
        let shots = self.write_shots(user_id, segments)?;
        let lookback = rules::max_segment_secs(config);
        let results = self.user_transaction(user_id, |tx| {
            let mut batch = PgBatch::load(tx, user_id, segments, lookback)?;
            let results = batch::ingest(&mut batch, user_id, segments, &shots, now, config)?;
            batch.flush()?;
            // Only after the commit are the accepted segments acknowledged.
            Ok((results, true))
        })?;
        super::forget_unused_shots(self.blobs.as_ref(), &results, shots);
        Ok(results)
    }

    fn segments_between(
        &self,
        user_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DiarySegment>> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {DIARY_COLUMNS} FROM segments
                     WHERE user_id = $1 AND start < $3 AND start > $2::int8 - $4::int8 AND \"end\" > $2 ORDER BY start"
                ),
                &[&user_id, &ts(from), &ts(to), &MAX_SEGMENT_SECS],
            )?
            .iter()
            .map(|r| Ok(rows::diary(r)?))
            .collect()
    }

    fn contract_segments(
        &self,
        contract_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DiarySegment>> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {DIARY_COLUMNS} FROM segments
                     WHERE contract_id = $1 AND start < $3 AND start > $2::int8 - $4::int8 AND \"end\" > $2 ORDER BY start"
                ),
                &[&contract_id, &ts(from), &ts(to), &MAX_SEGMENT_SECS],
            )?
            .iter()
            .map(|r| Ok(rows::diary(r)?))
            .collect()
    }

    fn contracts_segments(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DiarySegment>> {
        self.conn()?
            .query(
                &format!(
                    "SELECT {DIARY_COLUMNS} FROM segments
                     WHERE contract_id = ANY($1) AND start < $3 AND start > $2::int8 - $4::int8
                       AND \"end\" > $2
                     ORDER BY contract_id, start"
                ),
                &[&contract_ids, &ts(from), &ts(to), &MAX_SEGMENT_SECS],
            )?
            .iter()
            .map(|r| Ok(rows::diary(r)?))
            .collect()
    }

    fn segment(&self, user_id: i64, id: SegmentId) -> Result<Option<DiarySegment>> {
        self.one_row(
            &format!("SELECT {DIARY_COLUMNS} FROM segments WHERE id = $1 AND user_id = $2"),
            &[&id.to_string(), &user_id],
            rows::diary,
        )
    }

    fn logged_by_day(
        &self,
        contract_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LoggedDay>> {
        // A segment lasts at most a day: its time is in the day it starts
        // in and, past that day's end, the next (the second branch).
        Ok(self
            .conn()?
            .query(
                "WITH s AS (
                     SELECT contract_id, manual, start, \"end\", $2::int8 + ((start - $2::int8) / 86400) * 86400 AS day
                     FROM segments
                     WHERE contract_id = ANY($1) AND start < $3 AND start > $2::int8 - $4::int8 AND \"end\" > $2
                 )
                 SELECT contract_id, day, manual, SUM(secs)::BIGINT FROM (
                     SELECT contract_id, manual, day, LEAST(\"end\", day + 86400, $3) - GREATEST(start, $2) AS secs FROM s
                     UNION ALL
                     SELECT contract_id, manual, day + 86400, LEAST(\"end\", $3) - (day + 86400) FROM s
                     WHERE \"end\" > day + 86400 AND day + 86400 < $3
                 ) AS parts
                 GROUP BY contract_id, day, manual ORDER BY contract_id, day, manual",
                &[&contract_ids, &ts(from), &ts(to), &MAX_SEGMENT_SECS],
            )?
            .iter()
            .map(|r| LoggedDay {
                contract_id: r.get(0),
                day: from_ts(r.get(1)),
                manual: r.get(2),
                secs: r.get(3),
            })
            .collect())
    }

    fn contracts_segments_by_ids(
        &self,
        contract_ids: &[String],
        ids: &[SegmentId],
    ) -> Result<Vec<DiarySegment>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.conn()?
            .query(
                &format!(
                    "SELECT {DIARY_COLUMNS} FROM segments
                     WHERE contract_id = ANY($1) AND id = ANY($2)
                     ORDER BY contract_id, start"
                ),
                &[&contract_ids, &ids],
            )?
            .iter()
            .map(|r| Ok(rows::diary(r)?))
            .collect()
    }

    fn segments_by_ids(&self, user_id: i64, ids: &[SegmentId]) -> Result<Vec<DiarySegment>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.conn()?
            .query(
                &format!(
                    "SELECT {DIARY_COLUMNS} FROM segments WHERE user_id = $1 AND id = ANY($2) ORDER BY start"
                ),
                &[&user_id, &ids],
            )?
            .iter()
            .map(|r| Ok(rows::diary(r)?))
            .collect()
    }

    fn add_manual(
        &self,
        user_id: i64,
        segments: &[Segment],
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<std::result::Result<(), (RejectReason, String)>> {
        let lookback = rules::max_segment_secs(config);
        self.user_transaction(user_id, |tx| {
            let mut batch = PgBatch::load(tx, user_id, segments, lookback)?;
            let verdict = batch::add_manual(&mut batch, user_id, segments, now, config)?;
            if verdict.is_ok() {
                batch.flush()?;
            }
            let commit = verdict.is_ok();
            Ok((verdict, commit))
        })
    }

    fn review(
        &self,
        request: &ReviewRequest,
        now: DateTime<Utc>,
        review_secs: i64,
    ) -> Result<std::result::Result<ReviewEvent, ReviewRefusal>> {
        // The freelancer's lock, which their uploads take too: a step and
        // an upload into the same week never interleave, on any replica.
        let freelancer = self
            .contract(&request.contract_id)?
            .ok_or_else(|| {
                StoreError::NotFound(format!("no contract with id {:?}", request.contract_id))
            })?
            .user_id;
        self.user_transaction(freelancer, |tx| {
            let taken = review::step(&mut PgTx(tx), request, now, review_secs)?;
            let commit = taken.is_ok();
            Ok((taken, commit))
        })
    }

    fn reviews_of(
        &self,
        contract_ids: &[String],
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<(String, ReviewEvent)>> {
        let found = self.conn()?.query(
            "SELECT contract_id, week_start, segment_id, action, note, by_user_id, at FROM reviews
             WHERE contract_id = ANY($1) AND ($2::BIGINT IS NULL OR week_start >= $2) ORDER BY id",
            &[&contract_ids, &since.map(ts)],
        )?;
        let mut events = Vec::new();
        for r in &found {
            if let Some(event) = rows::review(r, 1)? {
                events.push((r.get(0), event));
            }
        }
        Ok(events)
    }

    fn delete_segment(
        &self,
        user_id: i64,
        id: SegmentId,
        now: DateTime<Utc>,
        grace_secs: i64,
    ) -> Result<std::result::Result<(), Closed>> {
        let id_text = id.to_string();
        let deleted = self.user_transaction(user_id, |tx| {
            if let Err(closed) = review::may_delete(&mut PgTx(tx), user_id, id, now, grace_secs)? {
                return Ok((Err(closed), false));
            }
            tx.execute(
                "DELETE FROM segments WHERE id = $1 AND user_id = $2",
                &[&id_text, &user_id],
            )?;
            let key: Option<String> = tx
                .query_opt(
                    "DELETE FROM screenshots WHERE user_id = $1 AND segment_id = $2 RETURNING blob_key",
                    &[&user_id, &id_text],
                )?
                .and_then(|r| r.get(0));
            Ok((Ok(key), true))
        })?;
        Ok(deleted.map(|blob_key| super::delete_shot_objects(self.blobs.as_ref(), blob_key)))
    }

    fn screenshot(&self, user_id: i64, id: SegmentId, size: Picture) -> Result<Option<Vec<u8>>> {
        let column = match size {
            Picture::Full => "jpeg",
            Picture::Thumbnail => "thumbnail",
        };
        let row = self.one_row(
            &format!(
                "SELECT {column}, blob_key FROM screenshots WHERE segment_id = $1 AND user_id = $2"
            ),
            &[&id.to_string(), &user_id],
            |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        )?;
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
        let stored = self.conn()?.execute(
            "INSERT INTO reports (id, user_id, created_at, body, logs_zip, logs_blob_key, logs_blob_bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            &[
                &row.id,
                &user_id,
                &ts(now),
                &row.body,
                &row.zip_in_row,
                &row.blob_key,
                &row.blob_bytes,
            ],
        )?;
        if stored == 0 {
            super::delete_blob(self.blobs.as_ref(), row.blob_key);
        }
        Ok(())
    }

    fn reports(&self) -> Result<Vec<StoredReport>> {
        self.conn()?
            .query(
                "SELECT u.login, r.created_at, r.body, COALESCE(length(r.logs_zip)::BIGINT, r.logs_blob_bytes)
                 FROM reports r LEFT JOIN users u ON u.id = r.user_id
                 ORDER BY r.created_at DESC, r.id",
                &[],
            )?
            .iter()
            .map(stored_report)
            .collect()
    }

    fn report(&self, id: &str) -> Result<Option<(StoredReport, Option<Vec<u8>>)>> {
        let found = self
            .conn()?
            .query(
                "SELECT u.login, r.created_at, r.body, COALESCE(length(r.logs_zip)::BIGINT, r.logs_blob_bytes), r.logs_zip, r.logs_blob_key
                 FROM reports r LEFT JOIN users u ON u.id = r.user_id
                 WHERE r.id = $1 OR (length($1) >= 4 AND substr(r.id, 1, length($1)) = $1)
                 LIMIT 2",
                &[&id],
            )?
            .iter()
            .map(|r| Ok((stored_report(r)?, r.get(4), r.get(5))))
            .collect::<Result<Vec<_>>>()?;
        super::one_report(self.blobs.as_ref(), id, found)
    }

    fn users(&self, now: DateTime<Utc>) -> Result<Vec<UserSummary>> {
        Ok(self
            .conn()?
            .query(
                "SELECT u.login, u.email, u.disabled_at,
                        (SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id AND t.expires_at > $1),
                        (SELECT COUNT(*) FROM contracts c WHERE c.user_id = u.id OR c.client_user_id = u.id),
                        u.role
                 FROM users u ORDER BY u.login",
                &[&ts(now)],
            )?
            .iter()
            .map(|r| UserSummary {
                login: r.get(0),
                email: r.get(1),
                disabled_at: r.get::<_, Option<i64>>(2).map(from_ts),
                sessions: r.get::<_, i64>(3) as usize,
                contracts: r.get::<_, i64>(4) as usize,
                role: Role::from_stored(r.get(5)),
            })
            .collect())
    }

    fn set_disabled(&self, login: &str, disabled_at: Option<DateTime<Utc>>) -> Result<()> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE users SET disabled_at = $1 WHERE login = $2",
            &[&disabled_at.map(ts), &login],
        )?;
        if changed == 0 {
            return Err(not_found_user(login));
        }
        if disabled_at.is_some() {
            tx.execute(
                "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE login = $1)",
                &[&login],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn revoke_sessions(&self, login: &str) -> Result<usize> {
        let mut conn = self.conn()?;
        let user_id: i64 = conn
            .query_opt("SELECT id FROM users WHERE login = $1", &[&login])?
            .ok_or_else(|| not_found_user(login))?
            .get(0);
        Ok(conn.execute("DELETE FROM tokens WHERE user_id = $1", &[&user_id])? as usize)
    }

    fn sessions(&self, login: Option<&str>, now: DateTime<Utc>) -> Result<Vec<SessionSummary>> {
        Ok(self
            .conn()?
            .query(
                "SELECT u.login, t.hash, t.created_at, t.expires_at
                 FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.expires_at > $1 AND ($2::text IS NULL OR u.login = $2)
                 ORDER BY u.login, t.created_at",
                &[&ts(now), &login],
            )?
            .iter()
            .map(|r| SessionSummary {
                login: r.get(0),
                id: r.get::<_, String>(1).chars().take(12).collect(),
                created_at: r.get::<_, Option<i64>>(2).map(from_ts),
                expires_at: from_ts(r.get(3)),
            })
            .collect())
    }

    fn maintenance(&self) -> Result<Option<u64>> {
        Ok(self
            .one_row(
                "SELECT value FROM settings WHERE name = 'maintenance'",
                &[],
                |r| r.try_get::<_, String>(0),
            )?
            .map(|v| v.parse().unwrap_or(super::DEFAULT_RETRY_AFTER)))
    }

    fn set_maintenance(&self, retry_after_secs: Option<u64>) -> Result<()> {
        let mut conn = self.conn()?;
        match retry_after_secs {
            Some(secs) => conn.execute(
                "INSERT INTO settings (name, value) VALUES ('maintenance', $1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&secs.to_string()],
            )?,
            None => conn.execute("DELETE FROM settings WHERE name = 'maintenance'", &[])?,
        };
        Ok(())
    }

    fn sign_in_failures(
        &self,
        keys: &[&str],
        since: DateTime<Utc>,
    ) -> Result<Vec<Option<Failures>>> {
        let found: HashMap<String, Failures> = self
            .conn()?
            .query(
                "SELECT key, count, last_ms FROM sign_in_failures WHERE key = ANY($1) AND last_ms >= $2",
                &[&keys, &since.timestamp_millis()],
            )?
            .iter()
            .map(|r| (r.get(0), failures_row(r, 1)))
            .collect();
        Ok(keys.iter().map(|k| found.get(*k).copied()).collect())
    }

    fn add_sign_in_failure(
        &self,
        keys: &[&str],
        now: DateTime<Utc>,
        since: DateTime<Utc>,
        keep: i64,
    ) -> Result<Vec<Failures>> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let mut counts = Vec::with_capacity(keys.len());
        for key in keys {
            let row = tx.query_one(
                "INSERT INTO sign_in_failures (key, count, last_ms) VALUES ($1, 1, $2)
                 ON CONFLICT (key) DO UPDATE SET
                     count = CASE WHEN sign_in_failures.last_ms >= $3 THEN sign_in_failures.count + 1 ELSE 1 END,
                     last_ms = $2
                 RETURNING count, last_ms",
                &[key, &now.timestamp_millis(), &since.timestamp_millis()],
            )?;
            counts.push(failures_row(&row, 0));
        }
        tx.execute(
            "DELETE FROM sign_in_failures WHERE last_ms < $1",
            &[&since.timestamp_millis()],
        )?;
        tx.execute(
            "DELETE FROM sign_in_failures WHERE key IN (
                 SELECT key FROM sign_in_failures ORDER BY last_ms DESC OFFSET $1)",
            &[&keep],
        )?;
        tx.commit()?;
        Ok(counts)
    }

    fn clear_sign_in_failures(&self, key: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM sign_in_failures WHERE key = $1", &[&key])?;
        Ok(())
    }

    fn setting(&self, name: &str) -> Result<Option<String>> {
        self.one_row(
            "SELECT value FROM settings WHERE name = $1",
            &[&name],
            |r| r.try_get::<_, String>(0),
        )
    }

    fn set_setting(&self, name: &str, value: Option<&str>) -> Result<()> {
        let mut conn = self.conn()?;
        match value {
            Some(value) => conn.execute(
                "INSERT INTO settings (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&name, &value],
            )?,
            None => conn.execute("DELETE FROM settings WHERE name = $1", &[&name])?,
        };
        Ok(())
    }

    fn queue_mail(&self, mail: &NewMail, now: DateTime<Utc>) -> Result<bool> {
        let added = self.conn()?.execute(
            "INSERT INTO mail_outbox (dedupe_key, to_addr, subject, body_text, created_at, next_attempt)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (dedupe_key) DO NOTHING",
            &[&mail.dedupe_key, &mail.to, &mail.subject, &mail.body, &ts(now)],
        )?;
        Ok(added == 1)
    }

    fn mails_queued(&self, keys: &[String]) -> Result<HashSet<String>> {
        Ok(self
            .conn()?
            .query(
                "SELECT dedupe_key FROM mail_outbox WHERE dedupe_key = ANY($1)",
                &[&keys],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn claim_mail(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        max_attempts: u32,
        limit: usize,
    ) -> Result<Vec<QueuedMail>> {
        // SKIP LOCKED: replicas claiming at once take different mails.
        let mut claimed = self
            .conn()?
            .query(
                &format!(
                    "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt = $2
                     WHERE id IN (SELECT id FROM mail_outbox
                                  WHERE sent_at IS NULL AND next_attempt <= $1 AND attempts < $3
                                  ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
                     RETURNING {}",
                    outbox::MAIL_COLUMNS
                ),
                &[
                    &ts(now),
                    &ts(until),
                    &(max_attempts as i64),
                    &(limit as i64),
                ],
            )?
            .iter()
            .map(outbox::queued_mail)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    fn mail_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        self.conn()?.execute(
            "UPDATE mail_outbox SET sent_at = $2, last_error = NULL WHERE id = $1",
            &[&id, &ts(now)],
        )?;
        Ok(())
    }

    fn mail_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        self.conn()?.execute(
            "UPDATE mail_outbox SET last_error = $2, next_attempt = $3 WHERE id = $1 AND sent_at IS NULL",
            &[&id, &error, &ts(retry_at)],
        )?;
        Ok(())
    }

    fn outbox(&self, limit: usize) -> Result<Vec<QueuedMail>> {
        Ok(self
            .conn()?
            .query(
                &format!(
                    "SELECT {} FROM mail_outbox ORDER BY id DESC LIMIT $1",
                    outbox::MAIL_COLUMNS
                ),
                &[&(limit as i64)],
            )?
            .iter()
            .map(outbox::queued_mail)
            .collect::<std::result::Result<Vec<_>, _>>()?)
    }

    fn add_link(&self, link: &NewLink) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO one_time_links (hash, purpose, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &link.hash,
                &link.purpose.as_str(),
                &link.user_id,
                &ts(link.created_at),
                &ts(link.expires_at),
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
        self.one_row(
            "SELECT u.id, u.login, u.email, u.password_hash, u.disabled_at, u.role
             FROM one_time_links l JOIN users u ON u.id = l.user_id
             WHERE l.hash = $1 AND l.purpose = $2 AND l.used_at IS NULL
               AND l.expires_at > $3 AND u.disabled_at IS NULL",
            &[&hash, &purpose.as_str(), &ts(now)],
            rows::user,
        )
    }

    fn use_link(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
        password_hash: &str,
    ) -> Result<Option<User>> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let Some(row) = tx.query_opt(
            "UPDATE one_time_links SET used_at = $3
             WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
               AND user_id IN (SELECT id FROM users WHERE disabled_at IS NULL)
             RETURNING user_id",
            &[&hash, &purpose.as_str(), &ts(now)],
        )?
        else {
            return Ok(None);
        };
        let user_id: i64 = row.get(0);
        tx.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            &[&user_id, &password_hash],
        )?;
        tx.execute("DELETE FROM tokens WHERE user_id = $1", &[&user_id])?;
        let user = rows::user(&tx.query_one(
            "SELECT id, login, email, password_hash, disabled_at, role FROM users WHERE id = $1",
            &[&user_id],
        )?)?;
        tx.commit()?;
        Ok(Some(user))
    }

    fn set_email(&self, login: &str, email: Option<&str>) -> Result<()> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        if let Some(email) = email {
            let taken: bool = tx
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM users WHERE login <> $1 AND (login = $2 OR email = $2))",
                    &[&login, &email],
                )?
                .get(0);
            if taken {
                return Err(StoreError::Conflict(format!(
                    "another account already has {email:?} as its login or e-mail"
                )));
            }
        }
        let changed = tx.execute(
            "UPDATE users SET email = $2 WHERE login = $1",
            &[&login, &email],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("no user called {login:?}")));
        }
        tx.commit()?;
        Ok(())
    }

    fn set_weekly_summary(&self, user_id: i64, on: bool) -> Result<()> {
        self.conn()?.execute(
            "UPDATE users SET weekly_summary = $2 WHERE id = $1",
            &[&user_id, &on],
        )?;
        Ok(())
    }

    fn recipients(&self, ids: &[i64]) -> Result<HashMap<i64, Recipient>> {
        Ok(self
            .conn()?
            .query(
                "SELECT id, login, email, disabled_at, weekly_summary FROM users WHERE id = ANY($1)",
                &[&ids],
            )?
            .iter()
            .map(outbox::recipient)
            .collect::<std::result::Result<_, _>>()?)
    }

    fn blobs(&self) -> Option<&Blobs> {
        self.blobs.as_ref()
    }

    fn blob_keys(&self) -> Result<HashSet<String>> {
        let mut conn = self.conn()?;
        let mut keys = HashSet::new();
        for row in conn.query(
            "SELECT blob_key FROM screenshots WHERE blob_key IS NOT NULL",
            &[],
        )? {
            keys.extend(blobs::shot_objects(row.get(0)));
        }
        for row in conn.query(
            "SELECT logs_blob_key FROM reports WHERE logs_blob_key IS NOT NULL",
            &[],
        )? {
            keys.insert(row.get(0));
        }
        Ok(keys)
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
