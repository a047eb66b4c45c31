//! X4: `timecard-server migrate --from sqlite:PATH --to postgres://… [--blobs …]`:
//! copies everything a SQLite server kept into PostgreSQL (pictures and
//! zips into the blob store when one is given), then checks that every
//! table has as many rows and the same checksum on both sides. Rows the
//! target already has are left as they are, so a migration that stopped
//! half-way is finished by running it again.

use std::collections::HashSet;

use anyhow::{Context, bail};
use postgres::NoTls;
use postgres::types::ToSql;
use rusqlite::types::Value;
use sha2::{Digest, Sha256};
use timecard_core::outln;

use crate::store::blobs::{self, BlobLocation, Blobs};
use crate::store::{Database, PgStore, SqliteStore};

/// Rows copied per transaction.
const CHUNK: usize = 500;

/// A table and the columns copied, in order; `key` identifies a row (what
/// `ON CONFLICT` and the checksum's order use).
struct Table {
    name: &'static str,
    columns: &'static str,
    key: &'static str,
    /// Postgres column types, for the casts of the insert.
    types: &'static [&'static str],
    /// A BIGSERIAL id whose sequence must follow the copied ids.
    serial: bool,
}

const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: "id, login, email, password_hash, disabled_at, role, weekly_summary",
        key: "id",
        types: &["int8", "text", "text", "text", "int8", "text", "bool"],
        serial: true,
    },
    Table {
        name: "tokens",
        columns: "hash, user_id, expires_at, created_at",
        key: "hash",
        types: &["text", "int8", "int8", "int8"],
        serial: false,
    },
    Table {
        name: "api_tokens",
        columns: "id, user_id, name, hash, scope, created_at, expires_at, last_used_at",
        key: "id",
        types: &[
            "int8", "int8", "text", "text", "text", "int8", "int8", "int8",
        ],
        serial: true,
    },
    Table {
        name: "webhooks",
        columns: "id, owner_id, all_contracts, url, secret, events, created_at, disabled_at, disabled_reason, failures_in_row",
        key: "id",
        types: &[
            "int8", "int8", "bool", "text", "text", "text", "int8", "int8", "text", "int8",
        ],
        serial: true,
    },
    Table {
        name: "webhook_deliveries",
        columns: "id, webhook_id, event_id, kind, body, created_at, attempts, next_attempt, delivered_at, last_status, last_response",
        key: "id",
        types: &[
            "int8", "int8", "text", "text", "text", "int8", "int8", "int8", "int8", "int8", "text",
        ],
        serial: true,
    },
    Table {
        name: "identities",
        columns: "issuer, subject, user_id, created_at",
        key: "issuer, subject",
        types: &["text", "text", "int8", "int8"],
        serial: false,
    },
    Table {
        name: "contracts",
        columns: "id, user_id, title, client, kind, status, status_changed_at, start_date, weekly_limit_secs, pending_set, pending_limit_secs, pending_effective_at, client_user_id, rate_cents, currency, manual_time",
        key: "id",
        types: &[
            "text", "int8", "text", "text", "text", "text", "int8", "text", "int8", "bool", "int8",
            "int8", "int8", "int8", "text", "bool",
        ],
        serial: false,
    },
    Table {
        name: "segments",
        columns: "id, user_id, contract_id, device_id, start, \"end\", memo, activity, capture_note, has_screenshot, manual",
        key: "user_id, id",
        types: &[
            "text", "int8", "text", "text", "int8", "int8", "text", "int8", "text", "bool", "bool",
        ],
        serial: false,
    },
    Table {
        name: "reviews",
        columns: "id, contract_id, week_start, segment_id, action, note, by_user_id, at",
        key: "id",
        types: &[
            "int8", "text", "int8", "text", "text", "text", "int8", "int8",
        ],
        serial: true,
    },
    Table {
        name: "mail_outbox",
        columns: "id, dedupe_key, to_addr, subject, body_text, created_at, attempts, next_attempt, sent_at, last_error",
        key: "id",
        types: &[
            "int8", "text", "text", "text", "text", "int8", "int8", "int8", "int8", "text",
        ],
        serial: true,
    },
    Table {
        name: "one_time_links",
        columns: "hash, purpose, user_id, created_at, expires_at, used_at",
        key: "hash",
        types: &["text", "text", "int8", "int8", "int8", "int8"],
        serial: false,
    },
    Table {
        name: "settings",
        columns: "name, value",
        key: "name",
        types: &["text", "text"],
        serial: false,
    },
];

/// A value read from SQLite, as PostgreSQL takes it for a column type.
fn pg_value(value: Value, ty: &str) -> Box<dyn ToSql + Sync> {
    match (value, ty) {
        (Value::Null, "bool") => Box::new(None::<bool>),
        (Value::Null, "int8") => Box::new(None::<i64>),
        (Value::Null, _) => Box::new(None::<String>),
        (Value::Integer(n), "bool") => Box::new(n != 0),
        (Value::Integer(n), "int8") => Box::new(n),
        (Value::Integer(n), _) => Box::new(n.to_string()),
        (Value::Real(x), "int8") => Box::new(x as i64),
        (Value::Real(x), _) => Box::new(x.to_string()),
        (Value::Text(t), "int8") => Box::new(t.parse::<i64>().ok()),
        (Value::Text(t), "bool") => Box::new(t != "0"),
        (Value::Text(t), _) => Box::new(t),
        (Value::Blob(b), _) => Box::new(b),
    }
}

pub fn run(from: &Database, to: &Database, blobs: Option<&BlobLocation>) -> anyhow::Result<()> {
    let (Database::Sqlite(source_path), Database::Postgres(url)) = (from, to) else {
        bail!(
            "migrate copies a SQLite database (--from sqlite:PATH) into PostgreSQL (--to postgres://…)"
        );
    };
    if !source_path.exists() {
        bail!("{} does not exist", source_path.display());
    }
    // Both schemas up to date first (the SQLite file as a newer server
    // would leave it).
    drop(SqliteStore::open(source_path).context("cannot open the SQLite database")?);
    let blobs = blobs.map(Blobs::open).transpose()?;
    drop(PgStore::open(url, None).context("cannot open the PostgreSQL database")?);
    let source = rusqlite::Connection::open(source_path)?;
    let mut target = postgres::Client::connect(url, NoTls)
        .with_context(|| format!("cannot connect to {}", Database::redacted(url)))?;

    for table in TABLES {
        let copied = copy_table(&source, &mut target, table)?;
        outln!(
            "{}: {} copied",
            table.name,
            timecard_core::fmt::count(copied as u64, "row", "rows")
        );
    }
    let shots = copy_screenshots(&source, &mut target, blobs.as_ref())?;
    outln!("screenshots: {shots} copied");
    let reports = copy_reports(&source, &mut target, blobs.as_ref())?;
    outln!("reports: {reports} copied");

    // Every row of the source is in the target, unchanged.
    for table in TABLES {
        let (n, sum) = table_checksum_sqlite(&source, table)?;
        let (m, theirs) = table_checksum_pg(&mut target, table)?;
        if n != m || sum != theirs {
            bail!(
                "{}: {} here, {m} there, and the checksums differ: the target holds other data or the copy failed",
                table.name,
                timecard_core::fmt::count(n as u64, "row", "rows")
            );
        }
        outln!(
            "{}: {}, checksums match",
            table.name,
            timecard_core::fmt::count(n as u64, "row", "rows")
        );
    }
    let store = PgStore::open(url, blobs).context("cannot open the PostgreSQL database")?;
    let checked = check_pictures(&source, &store)?;
    outln!("screenshots and report zips: {checked} checked byte for byte");
    outln!(
        "migrated {} to {}",
        source_path.display(),
        Database::redacted(url)
    );
    Ok(())
}

fn select(table: &Table) -> String {
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        table.columns, table.name, table.key
    )
}

fn copy_table(
    source: &rusqlite::Connection,
    target: &mut postgres::Client,
    table: &Table,
) -> anyhow::Result<usize> {
    let mut stmt = source.prepare(&select(table))?;
    let width = table.types.len();
    let placeholders: Vec<String> = table
        .types
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}", i + 1))
        .collect();
    let insert = format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING",
        table.name,
        table.columns,
        placeholders.join(", "),
        table.key
    );
    let mut rows = stmt.query([])?;
    let mut copied = 0;
    let mut seen = 0;
    let mut tx = target.transaction()?;
    let insert = tx.prepare(&insert)?;
    while let Some(row) = rows.next()? {
        seen += 1;
        let values: Vec<Box<dyn ToSql + Sync>> = (0..width)
            .map(|i| Ok(pg_value(row.get::<_, Value>(i)?, table.types[i])))
            .collect::<rusqlite::Result<_>>()?;
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        copied += tx.execute(&insert, &params)? as usize;
        if seen % CHUNK == 0 {
            tx.commit()?;
            tx = target.transaction()?;
        }
    }
    if table.serial {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), GREATEST((SELECT MAX(id) FROM {0}), 1))",
                table.name
            ),
            &[],
        )?;
    }
    tx.commit()?;
    Ok(copied)
}

fn copy_screenshots(
    source: &rusqlite::Connection,
    target: &mut postgres::Client,
    blobs: Option<&Blobs>,
) -> anyhow::Result<usize> {
    let there: HashSet<(i64, String)> = target
        .query("SELECT user_id, segment_id FROM screenshots", &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut stmt = source.prepare(
        "SELECT user_id, segment_id, taken_at, jpeg, thumbnail, blob_key FROM screenshots ORDER BY user_id, segment_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut copied = 0;
    let mut chunk = Vec::new();
    loop {
        let row = rows.next()?;
        if let Some(row) = row {
            let key: (i64, String) = (row.get(0)?, row.get(1)?);
            if !there.contains(&key) {
                chunk.push((
                    key,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Vec<u8>>(3)?,
                    row.get::<_, Vec<u8>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                ));
            }
        }
        if chunk.len() >= 50 || (row.is_none() && !chunk.is_empty()) {
            let mut objects = Vec::new();
            let mut tx = target.transaction()?;
            let insert = tx.prepare(
                "INSERT INTO screenshots (user_id, segment_id, taken_at, jpeg, thumbnail, blob_key)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, segment_id) DO NOTHING",
            )?;
            let empty: Vec<u8> = Vec::new();
            let mut placed = Vec::new();
            for ((user_id, segment_id), _, jpeg, thumbnail, key) in &chunk {
                let key = match (blobs, key) {
                    (Some(_), None) => {
                        let keys = blobs::ShotKeys {
                            base: format!(
                                "screenshots/{user_id}/{segment_id}/{}",
                                uuid::Uuid::new_v4().simple()
                            ),
                        };
                        objects.push((keys.full(), jpeg.clone()));
                        objects.push((keys.thumbnail(), thumbnail.clone()));
                        Some(keys.base)
                    }
                    (_, key) => key.clone(),
                };
                placed.push(key);
            }
            // The pictures first, then the rows that point to them.
            if let Some(blobs) = blobs {
                blobs.put_all(objects)?;
            }
            for (((user_id, segment_id), taken, jpeg, thumbnail, _), key) in
                chunk.iter().zip(&placed)
            {
                let (jpeg, thumbnail) = if key.is_some() && blobs.is_some() {
                    (&empty, &empty)
                } else {
                    (jpeg, thumbnail)
                };
                copied += tx
                    .execute(&insert, &[user_id, segment_id, taken, jpeg, thumbnail, key])?
                    as usize;
            }
            tx.commit()?;
            chunk.clear();
        }
        if row.is_none() {
            break;
        }
    }
    Ok(copied)
}

fn copy_reports(
    source: &rusqlite::Connection,
    target: &mut postgres::Client,
    blobs: Option<&Blobs>,
) -> anyhow::Result<usize> {
    let mut stmt = source.prepare(
        "SELECT id, user_id, created_at, body, logs_zip, logs_blob_key, logs_blob_bytes FROM reports ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut copied = 0;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let exists = target
            .query_opt("SELECT 1 FROM reports WHERE id = $1", &[&id])?
            .is_some();
        if exists {
            continue;
        }
        let zip: Option<Vec<u8>> = row.get(4)?;
        let (zip, key, bytes) = match (blobs, zip, row.get::<_, Option<String>>(5)?) {
            (Some(blobs), Some(zip), None) => {
                let key = blobs::report_key(&id);
                blobs.put_all(vec![(key.clone(), zip.clone())])?;
                (None, Some(key), Some(zip.len() as i64))
            }
            (_, zip, key) => (zip, key, row.get::<_, Option<i64>>(6)?),
        };
        copied += target.execute(
            "INSERT INTO reports (id, user_id, created_at, body, logs_zip, logs_blob_key, logs_blob_bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            &[
                &id,
                &row.get::<_, i64>(1)?,
                &row.get::<_, i64>(2)?,
                &row.get::<_, String>(3)?,
                &zip,
                &key,
                &bytes,
            ],
        )? as usize;
    }
    Ok(copied)
}

/// Rows and a checksum of a table's rows in key order, each value written
/// the same way whatever the database.
fn table_checksum_sqlite(
    source: &rusqlite::Connection,
    table: &Table,
) -> anyhow::Result<(usize, String)> {
    let mut stmt = source.prepare(&select(table))?;
    let mut rows = stmt.query([])?;
    let mut hash = Sha256::new();
    let mut n = 0;
    while let Some(row) = rows.next()? {
        for (i, ty) in table.types.iter().enumerate() {
            let text = match (row.get::<_, Value>(i)?, *ty) {
                (Value::Null, _) => "∅".to_owned(),
                (Value::Integer(v), "bool") => (v != 0).to_string(),
                (Value::Integer(v), _) => v.to_string(),
                (Value::Real(v), _) => v.to_string(),
                (Value::Text(t), _) => t,
                (Value::Blob(b), _) => hex::encode(b),
            };
            hash.update(text.as_bytes());
            hash.update([0]);
        }
        n += 1;
    }
    Ok((n, hex::encode(hash.finalize())))
}

fn table_checksum_pg(
    target: &mut postgres::Client,
    table: &Table,
) -> anyhow::Result<(usize, String)> {
    let mut hash = Sha256::new();
    let rows = target.query(&select(table), &[])?;
    for row in &rows {
        for (i, ty) in table.types.iter().enumerate() {
            let text = match *ty {
                "int8" => row.get::<_, Option<i64>>(i).map(|v| v.to_string()),
                "bool" => row.get::<_, Option<bool>>(i).map(|v| v.to_string()),
                _ => row.get::<_, Option<String>>(i),
            };
            hash.update(text.as_deref().unwrap_or("∅").as_bytes());
            hash.update([0]);
        }
    }
    Ok((rows.len(), hex::encode(hash.finalize())))
}

/// Every screenshot (both sizes) and report zip of the source, read back
/// through the new store and compared by SHA-256.
fn check_pictures(source: &rusqlite::Connection, store: &PgStore) -> anyhow::Result<usize> {
    use crate::store::{Picture, Store};
    let mut checked = 0;
    let mut stmt = source.prepare(
        "SELECT user_id, segment_id, jpeg, thumbnail, blob_key FROM screenshots WHERE blob_key IS NULL",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let user_id: i64 = row.get(0)?;
        let id_text: String = row.get(1)?;
        let Ok(id) = id_text.parse() else {
            bail!("screenshot of segment {id_text:?}: not a segment id");
        };
        for (size, column) in [(Picture::Full, 2), (Picture::Thumbnail, 3)] {
            let want: Vec<u8> = row.get(column)?;
            let got = store.screenshot(user_id, id, size)?;
            if got.as_deref().map(Sha256::digest) != Some(Sha256::digest(&want)) {
                bail!("the screenshot of segment {id} ({size:?}) differs after the copy");
            }
            checked += 1;
        }
    }
    let mut stmt = source.prepare("SELECT id, logs_zip FROM reports WHERE logs_zip IS NOT NULL")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let want: Vec<u8> = row.get(1)?;
        let got = store.report(&id)?.and_then(|(_, zip)| zip);
        if got.as_deref().map(Sha256::digest) != Some(Sha256::digest(&want)) {
            bail!("the logs zip of report {id} differs after the copy");
        }
        checked += 1;
    }
    Ok(checked)
}
