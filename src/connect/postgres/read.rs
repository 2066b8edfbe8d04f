//! A PostgreSQL table or query as a source: `COPY (SELECT …) TO STDOUT
//! (FORMAT binary)` decoded straight into Arrow builders (`copy_binary`), or
//! passed on unchanged as binary COPY rows to a sink that accepts them.
//! With `partition = { column, count }` each range of the column is read by
//! its own connection, all inside one snapshot exported by a coordinator
//! connection, so the copy is one consistent view of the table.

use std::sync::Arc;

use anyhow::Result;
use arrow::datatypes::{Schema, SchemaRef};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tokio_postgres::Client;

use super::catalog::{self, db, note_reader, Readers};
use super::config::PgConfig;
use super::copy_binary::{self, Consumer};
use super::types::{self, quote_ident, PgColumn, PgType, Wire};
use super::COPY_BINARY;
use crate::connect::{Coordination, Encoded, Encoding, OpenContext, Partition, Share, Source};
use crate::error;
use crate::spec::{Endpoint, PartitionSpec};

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
    /// `table (columns)` when the source is a plain table (see
    /// [`catalog::plain_table`]), read by `COPY table TO`.
    table_copy: Option<String>,
    client: Option<Client>,
    partition: Option<(PartitionSpec, String)>,
    /// This process's range when it is one shard of several.
    shard: Option<ShardCut>,
    what: String,
    ctx: OpenContext,
}

/// The key range one shard of several reads: range `index` (1-based) of
/// `count` over `[lo, hi]` of `column`, cut as partitions are (NULL keys in
/// the first range, the ends open), in the coordinator's snapshot if there
/// is one.
#[derive(Clone)]
struct ShardCut {
    column: String,
    lo: i64,
    hi: i64,
    index: u32,
    count: u32,
    snapshot: Option<String>,
}

/// The condition that selects range `i` (0-based) of `n` over `[lo, hi]`
/// of the quoted column `col`: NULLs go to the first range, the first and
/// last ranges are open, so the `n` ranges cover every row exactly once.
fn range_condition(col: &str, lo: i64, hi: i64, n: i128, i: usize) -> String {
    let span = hi as i128 - lo as i128 + 1;
    let cuts: Vec<i64> = (1..n).map(|k| (lo as i128 + span * k / n) as i64).collect();
    match (i.checked_sub(1).map(|j| cuts[j]), cuts.get(i)) {
        (None, Some(b)) => format!("{col} < {b} OR {col} IS NULL"),
        (None, None) => "true".to_string(),
        (Some(a), Some(b)) => format!("{col} >= {a} AND {col} < {b}"),
        (Some(a), None) => format!("{col} >= {a}"),
    }
}

impl PgSource {
    /// Connect and describe the source. Called on a blocking thread.
    pub fn open(cfg: PgConfig, ep: &Endpoint, ctx: &OpenContext) -> Result<PgSource> {
        cfg.note_insecure(ctx);
        let handle = tokio::runtime::Handle::current();
        handle.block_on(PgSource::open_async(cfg, ep.clone(), ctx.clone()))
    }

    async fn open_async(cfg: PgConfig, ep: Endpoint, ctx: OpenContext) -> Result<PgSource> {
        let client = cfg.connect(&ctx).await?;
        // A query's temporary view waits for the locks its tables need.
        let asking = PgSource::describe_source(cfg.clone(), client, ep, ctx);
        cfg.within_lock("reading the source's catalogue", asking)
            .await
    }

    /// What the catalogue says of the table or query, on a connection.
    async fn describe_source(
        cfg: PgConfig,
        client: Client,
        ep: Endpoint,
        ctx: OpenContext,
    ) -> Result<PgSource> {
        let (relation, from, what, probe) = match (&ep.table, &ep.query) {
            (Some(t), _) => {
                let (q, _) = catalog::canonical_name(&client, t).await?;
                if !catalog::table_exists(&client, &q).await? {
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
        let readers = ctx.shared.get::<Readers>();
        let plain_table = async {
            match probe {
                true => Ok(false),
                false => catalog::plain_table(&client, &relation).await,
            }
        };
        let (cols, (), plain_table) = tokio::try_join!(
            catalog::columns_of(&client, &relation),
            note_reader(&client, &readers),
            plain_table
        )?;
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
        // The server reads a table straight (no query executor) for
        // `COPY table (columns) TO`: 4-8% less of its time for the
        // benchmark table.
        let table_copy = plain_table.then(|| format!("{from} ({})", plain.join(", ")));
        let own_types = cols.iter().map(PgColumn::pg_type).collect();
        let sharded = ctx.share.is_some();
        let auto = match (&ep.partition, probe) {
            // Shards cut the table by its integer key, whatever its size.
            (None, false) if sharded => catalog::integer_key(&client, &relation)
                .await?
                .map(|(column, _)| PartitionSpec { column, count: 1 }),
            (None, false) => catalog::auto_partition(&client, &relation).await?,
            _ => None,
        };
        let mut partition = match ep.partition.as_ref().or(auto.as_ref()) {
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
        let shard = match &ctx.share {
            None => None,
            Some(share) => {
                let Some((p, col)) = partition.take() else {
                    return Err(error::usage(
                        format!(
                            "{}: splitting {what} into shards needs an integer key",
                            cfg.ident()
                        ),
                        Some("give partition = { column = \"id\" } (any integer column), or a table with a one-column integer primary key".to_string()),
                    ));
                };
                let plan = share.plan.as_ref();
                let (lo, hi, snapshot) = match plan {
                    Some(p) => (
                        p["lo"].as_i64().unwrap_or(0),
                        p["hi"].as_i64().unwrap_or(0),
                        p["snapshot"].as_str().map(str::to_string),
                    ),
                    None => {
                        let row = client
                            .query_one(
                                &format!("SELECT min({col})::int8, max({col})::int8 FROM ({select}) AS s"),
                                &[],
                            )
                            .await
                            .map_err(|e| db(e, "reading the key's range"))?;
                        let lo: Option<i64> = row.get(0);
                        let hi: Option<i64> = row.get(1);
                        (lo.unwrap_or(0), hi.unwrap_or(0), None)
                    }
                };
                if let Some(c) = plan.and_then(|p| p["column"].as_str()) {
                    if c != p.column {
                        return Err(error::usage(
                            format!(
                                "the coordinator cut the table by {c}, this shard would by {}",
                                p.column
                            ),
                            Some(
                                "give every shard and the coordinator the same partition column"
                                    .to_string(),
                            ),
                        ));
                    }
                }
                Some(ShardCut {
                    column: p.column.clone(),
                    lo,
                    hi,
                    index: share.index,
                    count: share.count,
                    snapshot,
                })
            }
        };
        Ok(PgSource {
            schema: Arc::new(Schema::new(fields)),
            wires,
            own_types,
            select,
            plain_select,
            table_copy,
            client: Some(client),
            partition,
            shard,
            what: format!("{} {what}", cfg.ident()),
            cfg,
            ctx,
        })
    }
}

/// Cut a table for `count` shards once (`convoy extract --coordinate`): the
/// key's range read inside a snapshot that is exported for the shards to
/// join; the connection that holds it is kept alive by the coordinator
/// until every shard has finished, so all of them read one consistent view.
pub(super) async fn coordinate(
    cfg: PgConfig,
    ep: &Endpoint,
    count: u32,
    ctx: &OpenContext,
) -> Result<Coordination> {
    let mut probe = ctx.clone();
    probe.share = Some(Share {
        index: 1,
        count,
        plan: None,
    });
    let src = PgSource::open_async(cfg, ep.clone(), probe).await?;
    let cut = src.shard.clone().expect("a share was asked for");
    let client = src.client.expect("opened");
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(|e| db(e, "starting the snapshot"))?;
    let snapshot: String = client
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(|e| db(e, "exporting the snapshot"))?
        .get(0);
    let col = quote_ident(&cut.column);
    let row = client
        .query_one(
            &format!(
                "SELECT min({col})::int8, max({col})::int8 FROM ({}) AS s",
                src.plain_select
            ),
            &[],
        )
        .await
        .map_err(|e| db(e, "reading the key's range"))?;
    let lo: Option<i64> = row.get(0);
    let hi: Option<i64> = row.get(1);
    Ok(Coordination {
        plan: serde_json::json!({
            "column": cut.column,
            "lo": lo.unwrap_or(0),
            "hi": hi.unwrap_or(0),
            "snapshot": snapshot,
        }),
        hold: Box::new(client),
    })
}

impl Source for PgSource {
    fn describe(&self) -> String {
        self.what.clone()
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn details(&self) -> Vec<String> {
        if let Some(s) = &self.shard {
            return vec![format!(
                "shard {} of {}: range {} of {} over {} from {} to {}{}",
                s.index,
                s.count,
                s.index,
                s.count,
                s.column,
                s.lo,
                s.hi,
                if s.snapshot.is_some() {
                    ", in the coordinator's snapshot"
                } else {
                    ""
                }
            )];
        }
        match &self.partition {
            Some((p, _)) => vec![format!(
                "{} partitions of {}, one snapshot",
                p.count, p.column
            )],
            None => Vec::new(),
        }
    }

    fn share(&self) -> Option<serde_json::Value> {
        self.shard.as_ref().map(|s| {
            serde_json::json!({
                "column": s.column,
                "lo": s.lo,
                "hi": s.hi,
                "shards": s.count,
                "snapshot": s.snapshot.is_some(),
            })
        })
    }

    fn partitions(self: Box<Self>) -> Result<Vec<Partition>> {
        let (schema, wires) = (self.schema.clone(), self.wires.clone());
        let select = self.select.clone();
        let streams = self.copies(select, move || {
            copy_binary::Decoder::new(schema.clone(), wires.clone())
        })?;
        Ok(streams.into_iter().map(Partition::Stream).collect())
    }

    fn encoding(&self) -> Option<Encoding> {
        Some(Encoding::new(
            COPY_BINARY,
            "binary COPY rows passed through unchanged: the destination's column types are the source's".to_string(),
            self.own_types.clone(),
        ))
    }

    fn encoded_partitions(self: Box<Self>) -> Result<Vec<Partition<Encoded>>> {
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
        if let Some(cut) = self.shard.clone() {
            let col = quote_ident(&cut.column);
            let cond = range_condition(
                &col,
                cut.lo,
                cut.hi,
                cut.count as i128,
                (cut.index - 1) as usize,
            );
            let sql = format!(
                "COPY (SELECT * FROM ({select}) AS p WHERE {cond}) TO STDOUT (FORMAT binary)"
            );
            let client = Arc::new(client);
            if let Some(snap) = &cut.snapshot {
                let handle = tokio::runtime::Handle::current();
                let joining = async {
                    client
                        .batch_execute(&format!(
                            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snap}'"
                        ))
                        .await
                        .map_err(|e| {
                            db(e, "joining the coordinator's snapshot").context(
                                "the coordinator (convoy extract --coordinate) must keep running until every shard has finished",
                            )
                        })
                };
                tokio::task::block_in_place(|| {
                    handle.block_on(
                        self.cfg
                            .within("joining the coordinator's snapshot", joining),
                    )
                })?;
            }
            return Ok(vec![copy_stream(
                client,
                None,
                sql,
                make(),
                self.ctx.clone(),
                self.cfg.clone(),
            )]);
        }
        let Some((spec, col)) = self.partition.clone() else {
            let sql = match &self.table_copy {
                // Columns read as they are stored: the table itself.
                Some(table) if select == self.plain_select => {
                    format!("COPY {table} TO STDOUT (FORMAT binary)")
                }
                _ => format!("COPY ({select}) TO STDOUT (FORMAT binary)"),
            };
            let stream = copy_stream(
                Arc::new(client),
                None,
                sql,
                make(),
                self.ctx.clone(),
                self.cfg.clone(),
            );
            return Ok(vec![stream]);
        };
        // The coordinator holds the snapshot open until every worker is done.
        let handle = tokio::runtime::Handle::current();
        let cfg = self.cfg.clone();
        let (snapshot, bounds) = tokio::task::block_in_place(|| {
            handle.block_on(export_snapshot(&cfg, &client, &col, &select))
        })?;
        let coordinator = Arc::new(client);
        let n = spec.count.max(1) as i128;
        let (lo, hi) = bounds.unwrap_or((0, 0));
        let mut parts = Vec::new();
        for i in 0..n as usize {
            let cond = range_condition(&col, lo, hi, n, i);
            let sql = format!(
                "COPY (SELECT * FROM ({select}) AS p WHERE {cond}) TO STDOUT (FORMAT binary)"
            );
            let cfg = self.cfg.clone();
            let snap = snapshot.clone();
            let coord = coordinator.clone();
            let consumer = make();
            let ctx = self.ctx.clone();
            let stream = futures::stream::once(async move {
                let worker = cfg.connect(&ctx).await?;
                let join = async {
                    worker
                        .batch_execute(&format!(
                            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snap}'"
                        ))
                        .await
                        .map_err(|e| db(e, "joining the snapshot"))
                };
                // Sent together: one round trip.
                let readers = ctx.shared.get::<Readers>();
                // A failed join aborts the transaction, and the second
                // statement with it: the join's error is the one to report.
                cfg.within("joining the snapshot", async {
                    let (joined, noted) = tokio::join!(join, note_reader(&worker, &readers));
                    joined.and(noted)
                })
                .await?;
                Ok::<_, anyhow::Error>(copy_stream(
                    Arc::new(worker),
                    Some(coord),
                    sql,
                    consumer,
                    ctx,
                    cfg,
                ))
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

/// Start the snapshot every partition reads, and read the range of the
/// partition column in it. Finding the range may scan the table (a column
/// without an index): that wait has no idle bound.
async fn export_snapshot(
    cfg: &PgConfig,
    client: &Client,
    col: &str,
    select: &str,
) -> Result<(String, Option<(i64, i64)>)> {
    let snap: String = cfg
        .within("exporting the snapshot for the partitions", async {
            client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(|e| db(e, "starting the snapshot"))?;
            client
                .query_one("SELECT pg_export_snapshot()", &[])
                .await
                .map_err(|e| db(e, "exporting the snapshot"))
        })
        .await?
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
    Ok((snap, lo.zip(hi)))
}

/// What `consumer` makes of one `COPY … TO STDOUT (FORMAT binary)`. Each
/// wait for the server's next piece of data gets `timeout.idle`.
fn copy_stream<C: Consumer>(
    client: Arc<Client>,
    coordinator: Option<Arc<Client>>,
    sql: String,
    consumer: C,
    ctx: OpenContext,
    cfg: PgConfig,
) -> BoxStream<'static, Result<C::Item>> {
    struct State<C> {
        _client: Arc<Client>,
        _coordinator: Option<Arc<Client>>,
        copy: std::pin::Pin<Box<tokio_postgres::CopyOutStream>>,
        consumer: C,
        ctx: OpenContext,
        cfg: PgConfig,
        done: bool,
    }
    let start = async move {
        // The COPY takes its table's lock before it answers.
        let copy = cfg
            .within_lock("starting COPY TO", async {
                client
                    .copy_out(sql.as_str())
                    .await
                    .map_err(|e| db(e, "starting COPY TO"))
            })
            .await?;
        Ok::<_, anyhow::Error>(State {
            _client: client,
            _coordinator: coordinator,
            copy: Box::pin(copy),
            consumer,
            ctx,
            cfg,
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
                    // PostgreSQL sends a message per row: the timer is armed
                    // only when the next one has not arrived yet.
                    let next = match st.copy.next().now_or_never() {
                        Some(next) => next,
                        None => {
                            let idle = st.cfg.timeouts.idle;
                            match tokio::time::timeout(idle, st.copy.next()).await {
                                Ok(next) => next,
                                Err(_) => {
                                    let e = st.cfg.silent(idle, "reading COPY data");
                                    return Some((Err(e), None));
                                }
                            }
                        }
                    };
                    match next {
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
