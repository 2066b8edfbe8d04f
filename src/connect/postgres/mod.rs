//! PostgreSQL source and sink over binary COPY, always through verified TLS.
//!
//! Connecting: `SslMode::Require` with the rustls configuration from
//! `security::tls` — a server that offers no TLS is refused before the
//! password is sent. The password comes from `password = "${env:NAME}"` in
//! the spec or from `PGPASSWORD`; a literal password in a spec is refused.
//!
//! Reading: `COPY (SELECT …) TO STDOUT (FORMAT binary)` decoded straight into
//! Arrow builders (`copy_binary`). With `partition = { column, count }` each
//! range of the column is read by its own connection, all inside one
//! snapshot exported by a coordinator connection, so the copy is one
//! consistent view of the table.
//!
//! Writing: everything happens in one transaction that `commit` ends, so a
//! failed, interrupted or killed run leaves the table as it was:
//! - append: `COPY … FROM STDIN (FORMAT binary)` into the table;
//! - replace: `TRUNCATE` then `COPY`; grants, indexes, constraints and
//!   dependent views stay; readers wait for the lock until commit and then see
//!   the new contents;
//! - merge: `COPY` into a temporary table, then `INSERT … ON CONFLICT (key) DO
//!   UPDATE`;
//! - incremental: reads the table's `max(cursor)` under a lock, `COPY` into a
//!   temporary table, inserts the rows whose cursor is strictly greater (`>`);
//!   rows with a NULL cursor are never copied.
//!
//! A missing table is created (inside the same transaction) with the types of
//! `types.rs`; an existing table whose columns do not fit is refused.
//!
//! PostgreSQL to PostgreSQL: when every destination column has the source
//! column's built-in type and modifier, the source's COPY rows go to the
//! destination's COPY unchanged (`copy_binary::Framer` takes off header and
//! trailer and counts rows); otherwise they travel through Arrow.

pub mod copy_binary;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use tokio_postgres::{Client, CopyInSink};

use super::{OpenContext, Output, Partition, Prepared, Sink, Source};
use crate::error;
use crate::security::tls::{self, TlsMode, TlsSettings};
use crate::spec::{Endpoint, Mode, PartitionSpec, Spec};
use copy_binary::{Consumer, CopyChunk};
use types::{quote_ident, PgColumn, PgType, Wire};

/// A connection's settings, validated.
#[derive(Clone)]
pub struct PgConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    database: String,
    pub(crate) user: String,
    password: Option<String>,
    pub(crate) tls: TlsSettings,
    application_name: String,
    pub(crate) connect_timeout: Duration,
    allow_insecure: bool,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgConfig({}, password: [redacted])", self.ident())
    }
}

impl PgConfig {
    /// Short identity for messages: `postgres host:port/db`.
    pub fn ident(&self) -> String {
        format!("postgres {}:{}/{}", self.host, self.port, self.database)
    }

    pub fn from_spec(spec: &Spec, name: &str, ctx: &OpenContext) -> Result<PgConfig> {
        let allow_insecure = ctx.allow_insecure;
        let conn = spec
            .connections
            .get(name)
            .ok_or_else(|| error::usage(format!("no connection named \"{name}\""), None))?;
        let s = &conn.settings;
        let path = format!("connections.{name}");
        let text = |key: &str| -> Result<Option<String>> {
            match s.get(key) {
                None => Ok(None),
                Some(toml::Value::String(v)) => Ok(Some(v.clone())),
                Some(_) => Err(error::usage(
                    format!("{path}.{key}: expected a string"),
                    None,
                )),
            }
        };
        let int = |key: &str| -> Result<Option<i64>> {
            match s.get(key) {
                None => Ok(None),
                Some(toml::Value::Integer(v)) => Ok(Some(*v)),
                Some(_) => Err(error::usage(
                    format!("{path}.{key}: expected an integer"),
                    None,
                )),
            }
        };
        let host = text("host")?.unwrap_or_else(|| "localhost".into());
        let port = int("port")?.unwrap_or(5432);
        let port = u16::try_from(port)
            .map_err(|_| error::usage(format!("{path}.port: {port} is not a port"), None))?;
        let user = text("user")?
            .or_else(|| std::env::var("PGUSER").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into());
        let database = text("database")?.unwrap_or_else(|| user.clone());
        let password = match text("password")? {
            Some(p) => Some(
                crate::connect::resolve_secret(
                    &p,
                    &format!("{path}.password"),
                    &spec.base_dir,
                    ctx.vault.clone(),
                )?
                .expose()
                .to_string(),
            ),
            None => std::env::var("PGPASSWORD").ok(),
        };
        let tls = TlsSettings::from_toml(s.get("tls"), &spec.base_dir, &format!("{path}.tls"))?;
        Ok(PgConfig {
            host,
            port,
            database,
            user,
            password,
            tls,
            application_name: text("application_name")?.unwrap_or_else(|| "convoy".into()),
            connect_timeout: Duration::from_secs(
                int("connect_timeout")?.unwrap_or(30).max(1) as u64
            ),
            allow_insecure,
        })
    }

    /// Warn about, and record for the summary, TLS switched off with
    /// `--allow-insecure` (without the flag `connect` refuses it).
    pub fn note_insecure(&self, ctx: &OpenContext) {
        if self.allow_insecure && self.tls.mode == crate::security::tls::TlsMode::Disable {
            ctx.note_insecure(format!(
                "{}: TLS is disabled (--allow-insecure); data and credentials travel in plaintext",
                self.ident()
            ));
        }
    }

    /// Open a connection; its I/O runs on a task of its own.
    pub async fn connect(&self) -> Result<Client> {
        let who = self.ident();
        self.tls.check_allowed(self.allow_insecure, &who)?;
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .user(&self.user)
            .application_name(&self.application_name)
            .connect_timeout(self.connect_timeout);
        if let Some(p) = &self.password {
            c.password(p);
        }
        let result = if self.tls.mode == TlsMode::Disable {
            c.ssl_mode(tokio_postgres::config::SslMode::Disable);
            match c.connect(tokio_postgres::NoTls).await {
                Ok((client, conn)) => {
                    tokio::spawn(conn);
                    Ok(client)
                }
                Err(e) => Err(e),
            }
        } else {
            c.ssl_mode(tokio_postgres::config::SslMode::Require);
            let config = tls::client_config(&self.tls)?;
            let connector = tokio_postgres_rustls::MakeRustlsConnect::new((*config).clone());
            match c.connect(connector).await {
                Ok((client, conn)) => {
                    tokio::spawn(conn);
                    Ok(client)
                }
                Err(e) => Err(e),
            }
        };
        result.map_err(|e| connect_error(e, &who))
    }
}

/// The outbound connection a PostgreSQL connection makes, for `convoy plan`.
pub fn network_endpoint(settings: &toml::Table) -> crate::connect::NetworkEndpoint {
    let tls = settings.get("tls").and_then(|v| v.as_table());
    let tls_key = |k: &str| tls.and_then(|t| t.get(k)).and_then(|v| v.as_str());
    let mode = if tls_key("mode") == Some("disable") {
        "DISABLED (insecure, needs --allow-insecure)"
    } else if tls_key("pin_sha256").is_some() {
        "pinned (server public key sha256)"
    } else if tls_key("ca_file").is_some() {
        "verify-full + ca_file"
    } else {
        "verify-full"
    };
    crate::connect::NetworkEndpoint {
        host: settings
            .get("host")
            .and_then(|v| v.as_str())
            .unwrap_or("localhost")
            .to_string(),
        port: settings
            .get("port")
            .and_then(|v| v.as_integer())
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(5432),
        protocol: "postgresql".into(),
        tls: mode.to_string(),
    }
}

fn connect_error(e: tokio_postgres::Error, who: &str) -> anyhow::Error {
    let text = e.to_string();
    let full = format!("{e:?}");
    if full.contains("server does not support TLS") || text.contains("server does not support TLS")
    {
        return error::policy(
            format!("{who}: TLS refused: the server offers no TLS; convoy does not connect in plaintext (nothing, not even the password, was sent)"),
            Some("enable ssl on the server, or if plaintext is really intended add tls = { mode = \"disable\" } to the connection and --allow-insecure".to_string()),
        );
    }
    if let Some(refusal) = tls::classify(&e, who) {
        return refusal;
    }
    if let Some(db) = e.as_db_error() {
        return error::input(
            format!("{who}: {}", db.message()),
            db.hint().map(str::to_string),
        );
    }
    anyhow::Error::new(e).context(format!("cannot connect to {who}"))
}

/// Database errors with their message, detail and hint, not just "db error".
fn db(e: tokio_postgres::Error, what: &str) -> anyhow::Error {
    if let Some(d) = e.as_db_error() {
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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores >= 4).then(|| (cores / 2).clamp(2, 8))
}

/// A partitioned read for a large table with a one-column integer primary
/// key, all ranges from the same snapshot.
async fn auto_partition(client: &Client, relation: &str) -> Result<Option<PartitionSpec>> {
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
    Ok(row.and_then(|r| {
        let column: String = r.get(0);
        let rows: f64 = r.get(1);
        let count = auto_partition_count()?;
        (rows >= AUTO_PARTITION_MIN_ROWS).then_some(PartitionSpec { column, count })
    }))
}

/// The catalog's description of a relation's columns.
async fn columns_of(client: &Client, relation: &str) -> Result<Vec<PgColumn>> {
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

/// A server session, told apart from any other by its server's start time,
/// its process id and its own start time.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// `pg_postmaster_start_time()`, as seconds since the epoch in text.
    server: String,
    pid: i32,
    /// `backend_start`, likewise.
    started: String,
}

async fn session_of(client: &Client) -> Result<Session> {
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

/// Record a session that reads for this copy, so the sink can tell when it
/// holds a lock its own source waits for.
async fn note_reader(client: &Client, ctx: &OpenContext) -> Result<()> {
    let session = session_of(client).await?;
    if let Ok(mut readers) = ctx.pg_readers.lock() {
        readers.push(session);
    }
    Ok(())
}

// ------------------------------------------------------------------ source

/// Reads a table or query.
pub struct PgSource {
    cfg: PgConfig,
    schema: SchemaRef,
    wires: Vec<Wire>,
    /// The columns' own types.
    own_types: Vec<PgType>,
    /// `SELECT <columns> FROM (<query>) q`, without a WHERE: columns cast
    /// where Arrow needs their text form.
    select: String,
    /// The same without casts, for rows that pass through unchanged.
    plain_select: String,
    client: Option<Client>,
    partition: Option<(PartitionSpec, String)>,
    what: String,
    ctx: OpenContext,
}

impl PgSource {
    /// Connect and describe the source. Called on a blocking thread.
    pub fn open(spec: &Spec, ep: &Endpoint, ctx: &OpenContext) -> Result<PgSource> {
        let cfg = PgConfig::from_spec(spec, &ep.connection, ctx)?;
        cfg.note_insecure(ctx);
        let handle = tokio::runtime::Handle::current();
        handle.block_on(PgSource::open_async(cfg, ep.clone(), ctx.clone()))
    }

    async fn open_async(cfg: PgConfig, ep: Endpoint, ctx: OpenContext) -> Result<PgSource> {
        let client = cfg.connect().await?;
        let (relation, from, what, probe) = match (&ep.table, &ep.query) {
            (Some(t), _) => {
                let (q, _) = canonical_name(&client, t).await?;
                if !table_exists(&client, &q).await? {
                    return Err(error::input(
                        format!("{}: table {t} does not exist", cfg.ident()),
                        None,
                    ));
                }
                (q.clone(), q, t.clone(), false)
            }
            (None, Some(q)) => {
                // A temporary view gives the query's column types with their
                // modifiers (numeric precision and scale).
                let view = format!("convoy_probe_{}", uuid::Uuid::new_v4().simple());
                client
                    .batch_execute(&format!("CREATE TEMPORARY VIEW {view} AS {q}"))
                    .await
                    .map_err(|e| db(e, "preparing the query"))?;
                (
                    format!("pg_temp.{view}"),
                    format!("({q}) AS q"),
                    "(query)".to_string(),
                    true,
                )
            }
            (None, None) => {
                return Err(error::usage("a postgres source needs table or query", None))
            }
        };
        // Sent together: one round trip.
        let (cols, ()) =
            tokio::try_join!(columns_of(&client, &relation), note_reader(&client, &ctx))?;
        if probe {
            let _ = client
                .batch_execute(&format!("DROP VIEW IF EXISTS {relation}"))
                .await;
        }
        let mut fields = Vec::new();
        let mut selects = Vec::new();
        let mut wires = Vec::new();
        for c in &cols {
            let col = types::source_column(c)?;
            fields.push(if probe {
                col.field.with_nullable(true)
            } else {
                col.field
            });
            selects.push(col.select);
            wires.push(col.wire);
        }
        let select = format!("SELECT {} FROM {from}", selects.join(", "));
        let plain: Vec<String> = cols.iter().map(|c| quote_ident(&c.name)).collect();
        let plain_select = format!("SELECT {} FROM {from}", plain.join(", "));
        let own_types = cols.iter().map(PgColumn::pg_type).collect();
        let auto = match (&ep.partition, probe) {
            (None, false) => auto_partition(&client, &relation).await?,
            _ => None,
        };
        let partition = match ep.partition.as_ref().or(auto.as_ref()) {
            Some(p) => {
                let col = cols.iter().find(|c| c.name == p.column).ok_or_else(|| {
                    error::usage(
                        format!(
                            "partition.column: the source has no column \"{}\"",
                            p.column
                        ),
                        None,
                    )
                })?;
                if !matches!(
                    col.oid,
                    types::oid::INT2 | types::oid::INT4 | types::oid::INT8
                ) {
                    return Err(error::usage(
                        format!(
                            "partition.column: \"{}\" is {}; partitioned reads need an integer column",
                            p.column, col.type_name
                        ),
                        None,
                    ));
                }
                Some((p.clone(), quote_ident(&p.column)))
            }
            None => None,
        };
        Ok(PgSource {
            schema: Arc::new(Schema::new(fields)),
            wires,
            own_types,
            select,
            plain_select,
            client: Some(client),
            partition,
            what: format!("{} {what}", cfg.ident()),
            cfg,
            ctx,
        })
    }
}

impl Source for PgSource {
    fn describe(&self) -> String {
        self.what.clone()
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn details(&self) -> Vec<String> {
        match &self.partition {
            Some((p, _)) => vec![format!(
                "{} partitions of {}, one snapshot",
                p.count, p.column
            )],
            None => Vec::new(),
        }
    }

    fn partitions(self: Box<Self>) -> Result<Vec<Partition>> {
        let (schema, wires) = (self.schema.clone(), self.wires.clone());
        let select = self.select.clone();
        let streams = self.copies(select, move || {
            copy_binary::Decoder::new(schema.clone(), wires.clone())
        })?;
        Ok(streams.into_iter().map(Partition::Stream).collect())
    }

    fn copy_types(&self) -> Option<Vec<PgType>> {
        Some(self.own_types.clone())
    }

    fn copy_partitions(self: Box<Self>) -> Result<Vec<Partition<CopyChunk>>> {
        let ncols = self.wires.len();
        let select = self.plain_select.clone();
        let streams = self.copies(select, move || copy_binary::Framer::new(ncols))?;
        Ok(streams.into_iter().map(Partition::Stream).collect())
    }
}

impl PgSource {
    /// One `COPY (select) TO STDOUT (FORMAT binary)` per partition, each
    /// read by a consumer from `make`; all partitions read one snapshot.
    fn copies<C: Consumer>(
        mut self: Box<Self>,
        select: String,
        make: impl Fn() -> C,
    ) -> Result<Vec<BoxStream<'static, Result<C::Item>>>> {
        let client = self.client.take().expect("opened");
        let Some((spec, col)) = self.partition.clone() else {
            let sql = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
            let stream = copy_stream(Arc::new(client), None, sql, make(), self.ctx.clone());
            return Ok(vec![stream]);
        };
        // The coordinator holds the snapshot open until every worker is done.
        let handle = tokio::runtime::Handle::current();
        let (snapshot, bounds) = tokio::task::block_in_place(|| {
            handle.block_on(async {
                client
                    .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
                    .map_err(|e| db(e, "starting the snapshot"))?;
                let snap: String = client
                    .query_one("SELECT pg_export_snapshot()", &[])
                    .await
                    .map_err(|e| db(e, "exporting the snapshot"))?
                    .get(0);
                let row = client
                    .query_one(
                        &format!("SELECT min({col})::int8, max({col})::int8 FROM ({select}) AS s"),
                        &[],
                    )
                    .await
                    .map_err(|e| db(e, "reading the partition column's range"))?;
                let lo: Option<i64> = row.get(0);
                let hi: Option<i64> = row.get(1);
                Ok::<_, anyhow::Error>((snap, lo.zip(hi)))
            })
        })?;
        let coordinator = Arc::new(client);
        let n = spec.count.max(1) as i128;
        let (lo, hi) = bounds.unwrap_or((0, 0));
        let span = hi as i128 - lo as i128 + 1;
        // Boundaries b1 < b2 < … ; NULLs go to the first range.
        let cuts: Vec<i64> = (1..n).map(|i| (lo as i128 + span * i / n) as i64).collect();
        let mut parts = Vec::new();
        for i in 0..n as usize {
            let cond = match (i.checked_sub(1).map(|j| cuts[j]), cuts.get(i)) {
                (None, Some(b)) => format!("{col} < {b} OR {col} IS NULL"),
                (None, None) => "true".to_string(),
                (Some(a), Some(b)) => format!("{col} >= {a} AND {col} < {b}"),
                (Some(a), None) => format!("{col} >= {a}"),
            };
            let sql = format!(
                "COPY (SELECT * FROM ({select}) AS p WHERE {cond}) TO STDOUT (FORMAT binary)"
            );
            let cfg = self.cfg.clone();
            let snap = snapshot.clone();
            let coord = coordinator.clone();
            let consumer = make();
            let ctx = self.ctx.clone();
            let stream = futures::stream::once(async move {
                let worker = cfg.connect().await?;
                let join = async {
                    worker
                        .batch_execute(&format!(
                            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snap}'"
                        ))
                        .await
                        .map_err(|e| db(e, "joining the snapshot"))
                };
                // Sent together: one round trip.
                tokio::try_join!(join, note_reader(&worker, &ctx))?;
                Ok::<_, anyhow::Error>(copy_stream(Arc::new(worker), Some(coord), sql, consumer, ctx))
            })
            .map(|r| match r {
                Ok(s) => s,
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            })
            .flatten()
            .boxed();
            parts.push(stream);
        }
        Ok(parts)
    }
}

/// What `consumer` makes of one `COPY … TO STDOUT (FORMAT binary)`.
fn copy_stream<C: Consumer>(
    client: Arc<Client>,
    coordinator: Option<Arc<Client>>,
    sql: String,
    consumer: C,
    ctx: OpenContext,
) -> BoxStream<'static, Result<C::Item>> {
    struct State<C> {
        _client: Arc<Client>,
        _coordinator: Option<Arc<Client>>,
        copy: std::pin::Pin<Box<tokio_postgres::CopyOutStream>>,
        consumer: C,
        ctx: OpenContext,
        done: bool,
    }
    let start = async move {
        let copy = client
            .copy_out(sql.as_str())
            .await
            .map_err(|e| db(e, "starting COPY TO"))?;
        Ok::<_, anyhow::Error>(State {
            _client: client,
            _coordinator: coordinator,
            copy: Box::pin(copy),
            consumer,
            ctx,
            done: false,
        })
    };
    futures::stream::once(start)
        .map(|r| {
            futures::stream::unfold(Some(r), |st| async move {
                let mut st = match st? {
                    Ok(s) => s,
                    Err(e) => return Some((Err(e), None)),
                };
                if st.done {
                    return None;
                }
                // Once per batch: the runner also drops the stream on Ctrl-C.
                if st.ctx.cancel.is_cancelled() {
                    return Some((Err(error::interrupted()), None));
                }
                loop {
                    if st.consumer.full() {
                        // Counted once per batch: PostgreSQL sends a message per row.
                        st.ctx.counters.add_bytes(st.consumer.bytes() as u64);
                        let b = st.consumer.take();
                        return Some((b, Some(Ok(st))));
                    }
                    match st.copy.next().await {
                        Some(Ok(chunk)) => {
                            if let Err(e) = st.consumer.feed(&chunk) {
                                return Some((Err(e), None));
                            }
                        }
                        Some(Err(e)) => return Some((Err(db(e, "reading COPY data")), None)),
                        None => {
                            if let Err(e) = st.consumer.end() {
                                return Some((Err(e), None));
                            }
                            st.done = true;
                            st.ctx.counters.add_bytes(st.consumer.bytes() as u64);
                            let b = st.consumer.take();
                            return Some((b, Some(Ok(st))));
                        }
                    }
                }
            })
        })
        .flatten()
        .boxed()
}

// -------------------------------------------------------------------- sink

/// Writes a table in one transaction.
pub struct PgSink {
    cfg: Result<PgConfig, String>,
    table: String,
    mode: Mode,
    client: Option<Client>,
    copy: Option<std::pin::Pin<Box<CopyInSink<Bytes>>>>,
    target: String,
    stage: Option<String>,
    columns: Vec<String>,
    wires: Vec<Wire>,
    types: Vec<DataType>,
    /// The destination columns' own types, in the order of the source's.
    dest: Vec<PgType>,
    /// The sink's session, once it has emptied an existing table (a lock
    /// that makes every reader of the table wait until commit), while a
    /// source waiting on it is looked for; cleared when locks cannot be
    /// looked at.
    watching: Option<Session>,
    /// Sessions reading for this copy (see `note_reader`).
    readers: Arc<std::sync::Mutex<Vec<Session>>>,
    /// A second connection, opened when no rows arrive, to look at locks.
    probe: Option<Client>,
    schema: Option<SchemaRef>,
    bytes: u64,
    written: u64,
    skipped: u64,
}

impl PgSink {
    pub fn new(spec: &Spec, ep: &Endpoint, mode: &Mode, ctx: &OpenContext) -> Result<PgSink> {
        let cfg = PgConfig::from_spec(spec, &ep.connection, ctx)?;
        cfg.note_insecure(ctx);
        let table = ep.table.clone().ok_or_else(|| {
            error::usage("a postgres destination needs table = \"schema.name\"", None)
        })?;
        Ok(PgSink {
            cfg: Ok(cfg),
            table,
            mode: mode.clone(),
            client: None,
            copy: None,
            target: String::new(),
            stage: None,
            columns: Vec::new(),
            wires: Vec::new(),
            types: Vec::new(),
            dest: Vec::new(),
            watching: None,
            readers: ctx.pg_readers.clone(),
            probe: None,
            schema: None,
            bytes: 0,
            written: 0,
            skipped: 0,
        })
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("begun")
    }

    async fn exec(&self, sql: &str, what: &str) -> Result<u64> {
        self.client()
            .execute(sql, &[])
            .await
            .map_err(|e| db(e, what))
    }
}

#[async_trait]
impl Sink for PgSink {
    fn describe(&self) -> String {
        match &self.cfg {
            Ok(c) => format!("{} {}", c.ident(), self.table),
            Err(_) => format!("postgres {}", self.table),
        }
    }

    async fn begin(&mut self, schema: SchemaRef) -> Result<()> {
        let cfg = self.cfg.as_ref().map_err(|e| anyhow!("{e}"))?.clone();
        let client = cfg.connect().await?;
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| db(e, "starting the transaction"))?;
        self.client = Some(client);
        let (target, _) = canonical_name(self.client(), &self.table).await?;
        self.target = target.clone();
        let exists = table_exists(self.client(), &target).await?;
        let key_cols: Vec<String> = match &self.mode {
            Mode::Merge { key } => key.clone(),
            _ => Vec::new(),
        };
        if !exists {
            let mut defs = Vec::new();
            for f in schema.fields() {
                let t = types::create_type(f)?;
                let nn = if f.is_nullable() { "" } else { " NOT NULL" };
                defs.push(format!("{} {t}{nn}", quote_ident(f.name())));
            }
            if !key_cols.is_empty() {
                let k: Vec<String> = key_cols.iter().map(|k| quote_ident(k)).collect();
                defs.push(format!("PRIMARY KEY ({})", k.join(", ")));
            }
            self.exec(
                &format!("CREATE TABLE {target} ({})", defs.join(", ")),
                &format!("creating {target}"),
            )
            .await?;
        }
        let cols = columns_of(self.client(), &target).await?;
        let mut problems = Vec::new();
        let mut wires = Vec::new();
        let mut types_ = Vec::new();
        let mut dest = Vec::new();
        for f in schema.fields() {
            match cols.iter().find(|c| &c.name == f.name()) {
                None => problems.push(format!("column \"{}\": missing in {target}", f.name())),
                Some(c) => match types::sink_wire(f, c) {
                    Ok((dt, w)) => {
                        types_.push(dt);
                        wires.push(w);
                        dest.push(c.pg_type());
                    }
                    Err(e) => problems.push(format!(
                        "column \"{}\": expected a column for {}, found {} ({e})",
                        f.name(),
                        f.data_type(),
                        c.type_name
                    )),
                },
            }
        }
        if !problems.is_empty() {
            return Err(error::input(
                format!(
                    "{}: the existing table {target} does not fit the source:\n    {}",
                    cfg.ident(),
                    problems.join("\n    ")
                ),
                Some("write to a new table, or alter or drop the existing one".to_string()),
            ));
        }
        self.columns = schema
            .fields()
            .iter()
            .map(|f| quote_ident(f.name()))
            .collect();
        self.wires = wires;
        self.types = types_;
        self.dest = dest;
        self.schema = Some(schema.clone());
        let col_list = self.columns.join(", ");
        let into = match &self.mode {
            Mode::Append => target.clone(),
            Mode::Replace => {
                if exists {
                    let (sql, what) =
                        (format!("TRUNCATE {target}"), format!("truncating {target}"));
                    // Sent together: one round trip.
                    let (_, session) =
                        tokio::try_join!(self.exec(&sql, &what), session_of(self.client()))?;
                    self.watching = Some(session);
                }
                target.clone()
            }
            Mode::Merge { .. } | Mode::Incremental { .. } => {
                self.exec(
                    &format!("LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE"),
                    "locking the table",
                )
                .await?;
                let stage = format!("convoy_stage_{}", uuid::Uuid::new_v4().simple());
                self.exec(
                    &format!(
                        "CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {col_list} FROM {target} WITH NO DATA"
                    ),
                    "creating the staging table",
                )
                .await?;
                self.stage = Some(stage.clone());
                stage
            }
        };
        let copy = self
            .client()
            .copy_in(&format!(
                "COPY {into} ({col_list}) FROM STDIN (FORMAT binary)"
            ))
            .await
            .map_err(|e| db(e, &format!("starting COPY into {target}")))?;
        let mut copy = Box::pin(copy);
        let mut head = BytesMut::new();
        copy_binary::header(&mut head);
        copy.send(head.freeze()).await.map_err(|e| db(e, "COPY"))?;
        self.copy = Some(copy);
        Ok(())
    }

    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let schema = self.schema.clone().expect("begun");
        let batch = copy_binary::conform(&batch, &self.types, &schema)?;
        let mut buf = BytesMut::with_capacity(batch.get_array_memory_size() + 64);
        copy_binary::encode_batch(&mut buf, &batch, &self.wires)?;
        self.bytes += buf.len() as u64;
        let copy = self.copy.as_mut().expect("begun");
        copy.send(buf.freeze())
            .await
            .map_err(|e| db(e, &format!("COPY into {}", self.target)))?;
        Ok(())
    }

    async fn stalled(&mut self) -> Result<()> {
        let Some(own) = self.watching.clone() else {
            return Ok(());
        };
        // Readers on this server only.
        let readers: Vec<Session> = self
            .readers
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|s| s.server == own.server)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if readers.is_empty() {
            return Ok(());
        }
        // The look is a courtesy: when it cannot be taken (no connection
        // slot left, say), the copy goes on as it would without it.
        if self.probe.is_none() {
            let Ok(cfg) = self.cfg.as_ref() else {
                return Ok(());
            };
            match cfg.connect().await {
                Ok(c) => self.probe = Some(c),
                Err(_) => {
                    self.watching = None;
                    return Ok(());
                }
            }
        }
        let probe = self.probe.as_ref().expect("just opened");
        let pids: Vec<i32> = readers.iter().map(|r| r.pid).collect();
        let started: Vec<String> = readers.iter().map(|r| r.started.clone()).collect();
        // A session of the same server whose start time this user may not
        // see is matched by its process id alone.
        let waiting: i64 = match probe
            .query_one(
                "SELECT count(*) FROM pg_stat_activity a \
                 JOIN unnest($1::int4[], $2::text[]) AS r(pid, started) ON a.pid = r.pid \
                 WHERE (a.backend_start IS NULL OR extract(epoch FROM a.backend_start)::text = r.started) \
                   AND $3::int4 = ANY(pg_blocking_pids(a.pid))",
                &[&pids, &started, &own.pid],
            )
            .await
        {
            Ok(row) => row.get(0),
            Err(_) => return Ok(()),
        };
        if waiting > 0 {
            return Err(error::usage(
                format!(
                    "the source waits for the lock this copy holds on {t}: replace mode empties {t} before loading it, so a source that reads {t} can never finish; nothing was changed",
                    t = self.target
                ),
                Some(
                    "copy into another table (and rename it), or use --mode merge --key COLUMN"
                        .to_string(),
                ),
            ));
        }
        Ok(())
    }

    fn accept_copy(&mut self, types: &[PgType]) -> bool {
        self.copy.is_some()
            && types.len() == self.dest.len()
            && types
                .iter()
                .zip(&self.dest)
                .all(|(s, d)| s == d && s.passes_through())
    }

    async fn write_copy(&mut self, chunk: CopyChunk) -> Result<()> {
        self.bytes += chunk.data.len() as u64;
        let copy = self.copy.as_mut().expect("begun");
        copy.send(chunk.data)
            .await
            .map_err(|e| db(e, &format!("COPY into {}", self.target)))
    }

    async fn prepare(&mut self) -> Result<Prepared> {
        let mut copy = self.copy.take().expect("begun");
        let mut tail = BytesMut::new();
        copy_binary::trailer(&mut tail);
        copy.send(tail.freeze()).await.map_err(|e| db(e, "COPY"))?;
        let copied = copy
            .as_mut()
            .finish()
            .await
            .map_err(|e| db(e, &format!("COPY into {}", self.target)))?;
        let target = self.target.clone();
        let cols = self.columns.join(", ");
        let written = match (&self.mode, &self.stage) {
            (Mode::Merge { key }, Some(stage)) => {
                let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
                let updates: Vec<String> = self
                    .columns
                    .iter()
                    .filter(|c| !keys.contains(c))
                    .map(|c| format!("{c} = EXCLUDED.{c}"))
                    .collect();
                let action = if updates.is_empty() {
                    "DO NOTHING".to_string()
                } else {
                    format!("DO UPDATE SET {}", updates.join(", "))
                };
                self.exec(
                    &format!(
                        "INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT ({}) {action}",
                        keys.join(", ")
                    ),
                    &format!("merging into {target} on ({})", key.join(", ")),
                )
                .await
                .map_err(|e| {
                    e.context(format!(
                        "merge needs a primary key or unique index on ({}) in {target} and at most one source row per key",
                        key.join(", ")
                    ))
                })?
            }
            (Mode::Incremental { cursor }, Some(stage)) => {
                let c = quote_ident(cursor);
                let n = self
                    .exec(
                        &format!(
                            "INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} \
                             WHERE {c} > (SELECT max({c}) FROM {target}) \
                                OR ({c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {target} WHERE {c} IS NOT NULL))"
                        ),
                        &format!("inserting rows newer than max({cursor}) into {target}"),
                    )
                    .await?;
                self.skipped = copied - n;
                n
            }
            _ => copied,
        };
        self.written = written;
        Ok(Prepared {
            rows: copied,
            outputs: vec![Output {
                location: format!("{} {}", self.describe(), self.mode.name()),
                rows: written,
                bytes: self.bytes,
                sha256: String::new(),
            }],
        })
    }

    async fn commit(&mut self) -> Result<()> {
        self.client()
            .batch_execute("COMMIT")
            .await
            .map_err(|e| db(e, &format!("committing {}", self.target)))?;
        Ok(())
    }

    async fn abort(&mut self) -> Result<()> {
        // Dropping an unfinished COPY makes the server fail it.
        self.copy = None;
        if let Some(c) = &self.client {
            let _ = c.batch_execute("ROLLBACK").await;
        }
        self.client = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn passwords_come_from_references() {
        std::env::set_var("CONVOY_TEST_PG_PW", "s3cret");
        let got = crate::connect::resolve_secret(
            "${env:CONVOY_TEST_PG_PW}",
            "p",
            std::path::Path::new("."),
            None,
        )
        .unwrap();
        assert_eq!(got.expose(), "s3cret");
        let e = crate::connect::resolve_secret(
            "${env:CONVOY_TEST_PG_NOPE}",
            "p",
            std::path::Path::new("."),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("CONVOY_TEST_PG_NOPE"), "{e}");
    }
}
