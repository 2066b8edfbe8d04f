//! What convoy asks a PostgreSQL server's catalog: the columns of a
//! relation, a table's name as the server resolves it, whether it exists,
//! a large table's integer primary key, and which session is which.

use anyhow::Result;
use tokio_postgres::Client;

use super::types::{quote_ident, PgColumn};
use crate::error;
use crate::spec::PartitionSpec;

/// Database errors with their message, detail and hint, not just "db error".
pub(crate) fn db(e: tokio_postgres::Error, what: &str) -> anyhow::Error {
    if let Some(d) = e.as_db_error() {
        if d.code() == &tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE {
            return error::input(
                format!(
                    "{what}: another session holds a lock on the table and did not release it within timeout.idle ({}); nothing was changed",
                    d.message()
                ),
                Some(
                    "find the session that holds it (SELECT pid, state, query FROM pg_stat_activity WHERE pid = ANY(pg_blocking_pids(…))): often a transaction left open; raise timeout.idle to wait longer"
                        .to_string(),
                ),
            );
        }
        let mut msg = format!("{what}: {}", d.message());
        if let Some(detail) = d.detail() {
            msg.push_str(&format!(" ({detail})"));
        }
        return error::input(msg, d.hint().map(str::to_string));
    }
    anyhow::Error::new(e).context(what.to_string())
}

/// Tables with at least this many rows (by the planner's estimate) are read
/// in parallel by their integer primary key without being asked to.
pub const AUTO_PARTITION_MIN_ROWS: f64 = 1_000_000.0;

/// How many ranges an unasked-for partitioned read uses on this machine:
/// half the cores (the other half decode and write), at most 8; none below
/// 4 cores, where parallel reads only compete with the pipeline.
pub fn auto_partition_count() -> Option<usize> {
    let cores = crate::cores::usable();
    (cores >= 4).then(|| (cores / 2).clamp(2, 8))
}

/// A partitioned read for a large table with a one-column integer primary
/// key, all ranges from the same snapshot.
pub(crate) async fn auto_partition(
    client: &Client,
    relation: &str,
) -> Result<Option<PartitionSpec>> {
    let key = integer_key(client, relation).await?;
    Ok(key.and_then(|(column, rows)| {
        let count = auto_partition_count()?;
        (rows >= AUTO_PARTITION_MIN_ROWS).then_some(PartitionSpec { column, count })
    }))
}

/// A table's one-column integer primary key, with the planner's row
/// estimate.
pub(crate) async fn integer_key(client: &Client, relation: &str) -> Result<Option<(String, f64)>> {
    let row = client
        .query_opt(
            "SELECT a.attname::text, c.reltuples::float8 \
             FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary AND i.indnatts = 1 \
               AND a.atttypid IN (20, 21, 23)",
            &[&relation],
        )
        .await
        .map_err(|e| db(e, "looking up the primary key"))?;
    Ok(row.map(|r| (r.get::<_, String>(0), r.get::<_, f64>(1))))
}

/// The catalog's description of a relation's columns.
pub(crate) async fn columns_of(client: &Client, relation: &str) -> Result<Vec<PgColumn>> {
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid::int8, a.atttypmod, \
                    format_type(a.atttypid, a.atttypmod), a.attnotnull, t.typtype::text, \
                    coalesce(et.oid, 0)::int8, coalesce(et.typtype::text, ''), \
                    coalesce(format_type(et.oid, a.atttypmod), '') \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' \
             WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&relation],
        )
        .await
        .map_err(|e| db(e, &format!("reading the columns of {relation}")))?;
    Ok(rows
        .iter()
        .map(|r| {
            let typtype: String = r.get(5);
            let et: String = r.get(7);
            PgColumn {
                name: r.get(0),
                oid: r.get::<_, i64>(1) as u32,
                typmod: r.get(2),
                type_name: r.get(3),
                not_null: r.get(4),
                typtype: typtype.chars().next().unwrap_or('b'),
                elem_oid: r.get::<_, i64>(6) as u32,
                elem_typtype: et.chars().next().unwrap_or('b'),
                elem_name: r.get(8),
            }
        })
        .collect())
}

/// A table name as the user wrote it (`schema.t`, `"Mixed".t`) → quoted
/// parts, resolved by the server's own identifier rules.
pub(crate) async fn canonical_name(client: &Client, table: &str) -> Result<(String, String)> {
    let row = client
        .query_one(
            "SELECT p[array_upper(p, 1)], CASE WHEN array_length(p, 1) > 1 THEN p[array_upper(p, 1) - 1] END \
             FROM parse_ident($1) AS p",
            &[&table],
        )
        .await
        .map_err(|e| db(e, &format!("table name {table:?}")))?;
    let name: String = row.get(0);
    let schema: Option<String> = row.get(1);
    let qualified = match &schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&name)),
        None => quote_ident(&name),
    };
    Ok((qualified, name))
}

pub(crate) async fn table_exists(client: &Client, qualified: &str) -> Result<bool> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&qualified])
        .await
        .map_err(|e| db(e, "looking up the table"))?;
    Ok(row.get(0))
}

/// Whether a relation (which exists) is a plain table without inheritance
/// children or generated columns: `COPY table (columns) TO` reads what
/// `SELECT columns FROM table` does only then (it reads no child tables,
/// views or partitioned tables, and refuses generated columns).
pub(crate) async fn plain_table(client: &Client, qualified: &str) -> Result<bool> {
    // `attgenerated` through JSON: servers before 12 do not have it.
    let row = client
        .query_opt(
            "SELECT c.relkind = 'r' AND NOT c.relhassubclass AND NOT EXISTS ( \
                 SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 \
                 AND NOT a.attisdropped AND coalesce(to_jsonb(a) ->> 'attgenerated', '') <> '') \
             FROM pg_class c WHERE c.oid = to_regclass($1)",
            &[&qualified],
        )
        .await
        .map_err(|e| db(e, "looking up the table"))?;
    Ok(row.is_some_and(|r| r.get(0)))
}

/// A server session, told apart from any other by its server's start time,
/// its process id and its own start time.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// `pg_postmaster_start_time()`, as seconds since the epoch in text.
    pub(crate) server: String,
    pub(crate) pid: i32,
    /// `backend_start`, likewise.
    pub(crate) started: String,
}

pub(crate) async fn session_of(client: &Client) -> Result<Session> {
    let row = client
        .query_one(
            "SELECT extract(epoch FROM pg_postmaster_start_time())::text, pid, \
                    extract(epoch FROM backend_start)::text \
             FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| db(e, "reading the session's process id"))?;
    Ok(Session {
        server: row.get(0),
        pid: row.get(1),
        started: row.get(2),
    })
}

/// The sessions that read for a copy, so that its sink can tell when it
/// holds a lock its own source waits for (shared through the copy's
/// `OpenContext::shared`).
#[derive(Default)]
pub struct Readers(pub std::sync::Mutex<Vec<Session>>);

/// Record a session that reads for this copy.
pub(crate) async fn note_reader(client: &Client, readers: &Readers) -> Result<()> {
    let session = session_of(client).await?;
    if let Ok(mut r) = readers.0.lock() {
        r.push(session);
    }
    Ok(())
}
