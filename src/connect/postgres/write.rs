//! A PostgreSQL table as a sink: everything happens in one transaction
//! that `commit` ends, so a failed, interrupted or killed run leaves the
//! table as it was:
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
//! Waits (see `config`): every exchange with the server gets
//! `timeout.idle`, COPY data the server does not take included, except the
//! statements in which the server itself works for as long as the data
//! needs (merge and incremental `INSERT … SELECT`), which only TCP keepalive
//! and a signal end. The session's `lock_timeout` is `timeout.idle`, so a
//! table another session keeps locked fails the copy instead of holding it. An operation cut short (a signal, a timeout) leaves the connection
//! busy: `abort` then asks the server to cancel what it runs and drops the
//! connection, which rolls the transaction back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::SinkExt;
use tokio_postgres::{Client, CopyInSink};

use super::catalog::{self, db, Readers, Session};
use super::config::{PgConfig, LOCK_MARGIN};
use super::copy_binary;
use super::types::{self, quote_ident, PgType, Wire};
use super::COPY_BINARY;
use crate::connect::{Encoded, Encoding, OpenContext, Output, Prepared, Sink};
use crate::error;
use crate::spec::fields::seconds;
use crate::spec::Mode;

/// Marks the sink's connection busy for one exchange; it stays busy when
/// the exchange does not complete (cut short by a signal or a timeout).
struct Busy<'a>(&'a AtomicBool);

impl<'a> Busy<'a> {
    fn start(flag: &'a AtomicBool) -> Busy<'a> {
        flag.store(true, Ordering::SeqCst);
        Busy(flag)
    }

    fn done(self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Writes a table in one transaction.
pub struct PgSink {
    cfg: PgConfig,
    ctx: OpenContext,
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
    readers: Arc<Readers>,
    /// A second connection, opened when no rows arrive, to look at locks.
    probe: Option<Client>,
    schema: Option<SchemaRef>,
    bytes: u64,
    written: u64,
    skipped: u64,
    /// An exchange with the server did not complete: the connection may be
    /// in the middle of a statement.
    busy: AtomicBool,
}

impl PgSink {
    pub fn new(cfg: PgConfig, table: String, mode: &Mode, ctx: &OpenContext) -> PgSink {
        cfg.note_insecure(ctx);
        PgSink {
            cfg,
            ctx: ctx.clone(),
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
            readers: ctx.shared.get::<Readers>(),
            probe: None,
            schema: None,
            bytes: 0,
            written: 0,
            skipped: 0,
            busy: AtomicBool::new(false),
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("begun")
    }

    /// One exchange with the server, within `bound`.
    async fn wait<T>(
        &self,
        bound: Option<Duration>,
        what: &str,
        fut: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let busy = Busy::start(&self.busy);
        let r = match bound {
            Some(b) => self.cfg.within_for(b, what, fut).await,
            None => fut.await,
        };
        if r.is_ok() {
            busy.done();
        }
        r
    }

    async fn exec(&self, sql: &str, what: &str) -> Result<u64> {
        let idle = self.cfg.timeouts.idle;
        self.wait(Some(idle), what, async {
            self.client()
                .execute(sql, &[])
                .await
                .map_err(|e| db(e, what))
        })
        .await
    }

    /// A statement that may wait for a lock: bounded by the transaction's
    /// `lock_timeout`, with the client's bound a little later.
    async fn exec_locking(&self, sql: &str, what: &str) -> Result<u64> {
        let bound = self.cfg.timeouts.idle + LOCK_MARGIN;
        self.wait(Some(bound), what, async {
            self.client()
                .execute(sql, &[])
                .await
                .map_err(|e| db(e, what))
        })
        .await
    }

    /// A statement in which the server works for as long as the data
    /// needs, sending nothing meanwhile: no idle bound (TCP keepalive
    /// notices a server that vanished; a signal ends it).
    async fn work(&self, sql: &str, what: &str) -> Result<u64> {
        self.wait(None, what, async {
            self.client()
                .execute(sql, &[])
                .await
                .map_err(|e| db(e, what))
        })
        .await
    }

    /// Catalogue questions, within `timeout.idle`.
    async fn ask<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        self.wait(
            Some(self.cfg.timeouts.idle),
            "reading the destination's catalogue",
            fut,
        )
        .await
    }

    /// Send COPY data, within `timeout.idle`.
    async fn send_copy(&mut self, bytes: Bytes) -> Result<()> {
        let what = format!(
            "sending COPY data into {} (the server took none)",
            self.target
        );
        let busy = Busy::start(&self.busy);
        let copy = self.copy.as_mut().expect("begun");
        let r = match tokio::time::timeout(self.cfg.timeouts.idle, copy.send(bytes)).await {
            Ok(r) => r.map_err(|e| db(e, &format!("COPY into {}", self.target))),
            Err(_) => Err(self.cfg.silent(self.cfg.timeouts.idle, &what)),
        };
        if r.is_ok() {
            busy.done();
        }
        r
    }
}

#[async_trait]
impl Sink for PgSink {
    fn describe(&self) -> String {
        format!("{} {}", self.cfg.ident(), self.table)
    }

    async fn begin(&mut self, schema: SchemaRef) -> Result<()> {
        let cfg = self.cfg.clone();
        let client = cfg.connect(&self.ctx).await?;
        self.client = Some(client);
        // A lock another session holds fails the copy after timeout.idle
        // (the session's lock_timeout, set when connecting).
        self.wait(Some(cfg.timeouts.idle), "starting the transaction", async {
            self.client()
                .batch_execute("BEGIN")
                .await
                .map_err(|e| db(e, "starting the transaction"))
        })
        .await?;
        let (target, _) = self
            .ask(catalog::canonical_name(self.client(), &self.table))
            .await?;
        self.target = target.clone();
        let exists = self
            .ask(catalog::table_exists(self.client(), &target))
            .await?;
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
            self.exec_locking(
                &format!("CREATE TABLE {target} ({})", defs.join(", ")),
                &format!("creating {target}"),
            )
            .await?;
        }
        let cols = self
            .ask(catalog::columns_of(self.client(), &target))
            .await?;
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
            // A table created just now (and rolled back with the copy) is
            // not "existing": say what convoy cannot write instead.
            let (what, hint) = if exists {
                (
                    format!("the existing table {target} does not fit the source"),
                    "write to a new table, or alter or drop the existing one",
                )
            } else {
                (
                    format!("convoy cannot write these columns to a new table {target}"),
                    "cast the columns in the source (--query), or create the table yourself",
                )
            };
            return Err(error::input(
                format!("{}: {what}:\n    {}", cfg.ident(), problems.join("\n    ")),
                Some(hint.to_string()),
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
                    // Sent together: one round trip. When the TRUNCATE
                    // fails (a lock it did not get), so does the second
                    // statement, in the aborted transaction: its error is
                    // the one to report.
                    let (truncated, session) = tokio::join!(
                        self.exec_locking(&sql, &what),
                        catalog::session_of(self.client())
                    );
                    truncated?;
                    self.watching = Some(session?);
                }
                target.clone()
            }
            Mode::Merge { .. } | Mode::Incremental { .. } => {
                self.exec_locking(
                    &format!("LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE"),
                    &format!("locking {target}"),
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
        let starting = format!("starting COPY into {target}");
        let copy = self
            .wait(Some(cfg.timeouts.idle + LOCK_MARGIN), &starting, async {
                self.client()
                    .copy_in(&format!(
                        "COPY {into} ({col_list}) FROM STDIN (FORMAT binary)"
                    ))
                    .await
                    .map_err(|e| db(e, &starting))
            })
            .await?;
        self.copy = Some(Box::pin(copy));
        let mut head = BytesMut::new();
        copy_binary::header(&mut head);
        self.send_copy(head.freeze()).await
    }

    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let schema = self.schema.clone().expect("begun");
        let batch = copy_binary::conform(&batch, &self.types, &schema)?;
        let mut buf = BytesMut::with_capacity(batch.get_array_memory_size() + 64);
        copy_binary::encode_batch(&mut buf, &batch, &self.wires)?;
        self.bytes += buf.len() as u64;
        self.send_copy(buf.freeze()).await
    }

    async fn stalled(&mut self) -> Result<()> {
        let Some(own) = self.watching.clone() else {
            return Ok(());
        };
        // Readers on this server only.
        let readers: Vec<Session> = self
            .readers
            .0
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
            match self.cfg.connect(&self.ctx).await {
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
        let asked = tokio::time::timeout(
            self.cfg.timeouts.idle,
            probe.query_one(
                "SELECT count(*) FROM pg_stat_activity a \
                 JOIN unnest($1::int4[], $2::text[]) AS r(pid, started) ON a.pid = r.pid \
                 WHERE (a.backend_start IS NULL OR extract(epoch FROM a.backend_start)::text = r.started) \
                   AND $3::int4 = ANY(pg_blocking_pids(a.pid))",
                &[&pids, &started, &own.pid],
            ),
        )
        .await;
        let waiting: i64 = match asked {
            Ok(Ok(row)) => row.get(0),
            Ok(Err(_)) => return Ok(()),
            Err(_) => {
                // The look took too long: stop looking, go on copying.
                self.probe = None;
                self.watching = None;
                return Ok(());
            }
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

    fn check_schema(&mut self, schema: &SchemaRef) -> Result<()> {
        match schema
            .fields()
            .iter()
            .find_map(|f| types::never_writable(f))
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn accepts(&mut self, encoding: &Encoding) -> bool {
        let Some(types) = encoding.detail::<Vec<PgType>>(COPY_BINARY) else {
            return false;
        };
        self.copy.is_some()
            && types.len() == self.dest.len()
            && types
                .iter()
                .zip(&self.dest)
                .all(|(s, d)| s == d && s.passes_through())
    }

    async fn write_encoded(&mut self, piece: Encoded) -> Result<()> {
        self.bytes += piece.bytes.len() as u64;
        self.send_copy(piece.bytes).await
    }

    async fn prepare(&mut self) -> Result<Prepared> {
        let mut tail = BytesMut::new();
        copy_binary::trailer(&mut tail);
        self.send_copy(tail.freeze()).await?;
        let mut copy = self.copy.take().expect("begun");
        let what = format!("finishing COPY into {}", self.target);
        let copied = self
            .wait(Some(self.cfg.timeouts.idle), &what, async {
                copy.as_mut().finish().await.map_err(|e| db(e, &what))
            })
            .await?;
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
                self.work(
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
                    .work(
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
        let idle = self.cfg.timeouts.idle;
        let busy = Busy::start(&self.busy);
        match tokio::time::timeout(idle, self.client().batch_execute("COMMIT")).await {
            Ok(Ok(())) => {
                busy.done();
                Ok(())
            }
            Ok(Err(e)) => Err(db(e, &format!("committing {}", self.target))),
            Err(_) => Err(error::input(
                format!(
                    "no answer from {} for {} to COMMIT: whether {} now holds the new rows is not known (it holds either the old or the new rows, never a mix)",
                    self.cfg.ident(),
                    seconds(idle),
                    self.target
                ),
                Some("look at the table before running the copy again".to_string()),
            )),
        }
    }

    async fn abort(&mut self) -> Result<()> {
        // Dropping an unfinished COPY makes the server fail it.
        self.copy = None;
        self.probe = None;
        if let Some(c) = self.client.take() {
            if self.busy.load(Ordering::SeqCst) {
                // Cut short mid-exchange: the server may still be working on
                // a statement, or the connection may be stalled. Ask the
                // server to stop; dropping the connection rolls back.
                self.cfg.cancel_running(&c).await;
            } else {
                let _ =
                    tokio::time::timeout(self.cfg.timeouts.idle, c.batch_execute("ROLLBACK")).await;
            }
        }
        Ok(())
    }
}
