//! Reading: a table or query streamed into Arrow batches.
//!
//! The schema comes from `sp_describe_first_result_set` before any row is
//! read, so it is known for plans and dry runs and carries exact precision,
//! scale and fractional-second digits. Rows are decoded as they arrive from
//! the server and cut into batches of [`BATCH_ROWS`]; a result set is never
//! held whole. Each partition runs on its own connection in its own task and
//! hands batches over a one-slot channel, so a slow sink stops the reads.
//!
//! Consistency: when the database allows snapshot isolation
//! (`ALLOW_SNAPSHOT_ISOLATION ON`, the default on Azure SQL), every partition
//! reads inside a SNAPSHOT transaction: each one sees the database as of its
//! first read. SQL Server cannot share one snapshot between sessions, so
//! parallel partitions start at moments a few milliseconds apart. Without
//! snapshot isolation reads are READ COMMITTED (statement-consistent when
//! `READ_COMMITTED_SNAPSHOT` is on; otherwise rows changed during the read may
//! be missed or seen twice). `details()` says which one a run got.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use super::client::{self, describe};
use super::config::MssqlConfig;
use super::sql::{self, TableName};
use super::types::{self, ColumnReader, SqlType};
use crate::connect::{Counters, OpenContext, Partition, Source};
use crate::spec::Endpoint;

/// Rows per Arrow batch.
pub const BATCH_ROWS: usize = 16 * 1024;

/// A SQL Server table or query as a source.
pub struct MssqlSource {
    label: String,
    schema: SchemaRef,
    cfg: Arc<MssqlConfig>,
    ctx: OpenContext,
    /// One query per partition.
    queries: Vec<String>,
    snapshot: bool,
    rcsi: bool,
    counters: Arc<Counters>,
}

impl MssqlSource {
    pub fn open(cfg: Arc<MssqlConfig>, ep: &Endpoint, ctx: &OpenContext) -> Result<MssqlSource> {
        let handle = tokio::runtime::Handle::current();
        let ep = ep.clone();
        let label = cfg.label();
        let (schema, queries, snapshot, rcsi) = handle
            .block_on(async { plan_read(&cfg, &ep, ctx).await })
            .with_context(|| format!("reading from mssql {label}"))?;
        Ok(MssqlSource {
            label: format!("mssql {label} {}", ep.table.as_deref().unwrap_or("(query)")),
            schema,
            cfg,
            ctx: ctx.clone(),
            queries,
            snapshot,
            rcsi,
            counters: ctx.counters.clone(),
        })
    }
}

async fn plan_read(
    cfg: &MssqlConfig,
    ep: &Endpoint,
    ctx: &OpenContext,
) -> Result<(SchemaRef, Vec<String>, bool, bool)> {
    let mut client = client::connect(cfg, ctx).await?;
    let base = match (&ep.table, &ep.query) {
        (Some(t), _) => {
            let table = TableName::parse(t).map_err(|e| crate::error::usage(e, None))?;
            let select = format!("SELECT * FROM {}", table.quoted());
            let cols = client::within(
                cfg,
                "reading the source's columns",
                describe(&mut client, &select),
            )
            .await?;
            let cols: Vec<(String, SqlType)> = cols.into_iter().map(|c| (c.name, c.ty)).collect();
            sql::select_table(&table, &cols)
        }
        (None, Some(q)) => q.trim().trim_end_matches(';').to_string(),
        (None, None) => {
            return Err(crate::error::usage(
                "a database source needs table or query",
                None,
            ))
        }
    };
    let described = client::within(
        cfg,
        "reading the source's columns",
        describe(&mut client, &base),
    )
    .await?;
    let mut fields = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in &described {
        if !seen.insert(c.name.to_lowercase()) {
            return Err(crate::error::input(
                format!("the query returns two columns named {:?}", c.name),
                Some("give one of them another name with AS".to_string()),
            ));
        }
        fields.push(
            types::arrow_field(&c.name, &c.ty, c.nullable)
                .map_err(|e| crate::error::input(e.to_string(), None))?,
        );
    }
    let schema = Arc::new(Schema::new(fields));
    let isolation = client::within(cfg, "reading the isolation settings", async {
        Ok(match client.simple_query(sql::ISOLATION).await {
            Ok(s) => match s.into_row().await {
                Ok(Some(row)) => (
                    row.try_get::<i32, _>(0).ok().flatten() == Some(1),
                    row.try_get::<i32, _>(1).ok().flatten() == Some(1),
                ),
                _ => (false, false),
            },
            Err(_) => (false, false),
        })
    });
    let (snapshot, rcsi) = isolation.await?;
    let queries = match &ep.partition {
        None => vec![base],
        Some(p) => {
            let col = described
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&p.column))
                .ok_or_else(|| {
                    crate::error::usage(
                        format!(
                            "partition column {:?} is not a column of the source",
                            p.column
                        ),
                        None,
                    )
                })?;
            if !matches!(
                col.ty.name.as_str(),
                "tinyint" | "smallint" | "int" | "bigint"
            ) {
                return Err(crate::error::usage(
                    format!(
                        "partition column {:?} is {}; partitioned reads split an integer column",
                        p.column, col.ty
                    ),
                    None,
                ));
            }
            let row = client
                .simple_query(sql::bounds(&base, &col.name))
                .await
                .map_err(|e| client::sql_error(e, &base))?
                .into_row()
                .await
                .map_err(|e| client::sql_error(e, &base))?;
            let (min, max) = match row {
                Some(r) => (
                    r.try_get::<i64, _>(0).ok().flatten(),
                    r.try_get::<i64, _>(1).ok().flatten(),
                ),
                None => (None, None),
            };
            match (min, max) {
                (Some(min), Some(max)) => sql::partition_ranges(min, max, p.count)
                    .into_iter()
                    .map(|(lo, hi)| sql::partition_query(&base, &col.name, lo, hi))
                    .collect(),
                _ => vec![base],
            }
        }
    };
    let _ = client.close().await;
    Ok((schema, queries, snapshot, rcsi))
}

impl Source for MssqlSource {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn details(&self) -> Vec<String> {
        let n = self.queries.len();
        let consistency = if self.snapshot {
            if n > 1 {
                "snapshot isolation, one snapshot per partition"
            } else {
                "snapshot isolation"
            }
        } else if self.rcsi {
            "read committed snapshot (each statement consistent)"
        } else {
            "read committed (snapshot isolation is off in this database)"
        };
        vec![format!(
            "{n} partition{}; consistency: {consistency}; encryption: {}",
            if n == 1 { "" } else { "s" },
            self.cfg.encrypt.name()
        )]
    }

    fn partitions(self: Box<Self>) -> Result<Vec<Partition>> {
        let mut out = Vec::new();
        for query in self.queries {
            let (tx, rx) = mpsc::channel::<Result<RecordBatch>>(1);
            let cfg = self.cfg.clone();
            let ctx = self.ctx.clone();
            let schema = self.schema.clone();
            let counters = self.counters.clone();
            let snapshot = self.snapshot;
            let label = self.label.clone();
            tokio::spawn(async move {
                let result =
                    read_partition(&cfg, &ctx, &query, schema, snapshot, &counters, &tx).await;
                if let Err(e) = result {
                    let _ = tx
                        .send(Err(e.context(format!("reading from {label}"))))
                        .await;
                }
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            out.push(Partition::Stream(stream.boxed()));
        }
        Ok(out)
    }
}

async fn read_partition(
    cfg: &MssqlConfig,
    ctx: &OpenContext,
    query: &str,
    schema: SchemaRef,
    snapshot: bool,
    counters: &Counters,
    tx: &mpsc::Sender<Result<RecordBatch>>,
) -> Result<()> {
    let mut client = client::connect(cfg, ctx).await?;
    if snapshot {
        client::batch(&mut client, sql::SNAPSHOT_BEGIN).await?;
    }
    {
        let stream = client::within(cfg, "running the query", async {
            client
                .simple_query(query)
                .await
                .map_err(|e| client::sql_error(e, query))
        })
        .await?;
        let mut rows = stream.into_row_stream();
        let mut readers: Vec<ColumnReader> = schema
            .fields()
            .iter()
            .map(|f| ColumnReader::new(f))
            .collect::<Result<_>>()?;
        let mut n = 0usize;
        let mut total = 0u64;
        loop {
            // The timer is armed only when the next row has not arrived yet.
            let next = match rows.next().now_or_never() {
                Some(next) => next,
                None => {
                    client::within(cfg, "reading rows", async { Ok(rows.next().await) }).await?
                }
            };
            let Some(row) = next else { break };
            let row = row.map_err(|e| client::sql_error(e, query))?;
            for (i, (cell, reader)) in row
                .cells()
                .map(|(_, d)| d)
                .zip(readers.iter_mut())
                .enumerate()
            {
                reader.append(cell).map_err(|e| {
                    crate::error::input(
                        format!(
                            "row {}, column {:?}: {e}",
                            total + n as u64 + 1,
                            schema.field(i).name()
                        ),
                        None,
                    )
                })?;
            }
            n += 1;
            if n == BATCH_ROWS {
                let batch = finish(&schema, &mut readers)?;
                counters.add_bytes(batch.get_array_memory_size() as u64);
                total += n as u64;
                n = 0;
                if tx.send(Ok(batch)).await.is_err() {
                    return Ok(());
                }
            }
        }
        if n > 0 {
            let batch = finish(&schema, &mut readers)?;
            counters.add_bytes(batch.get_array_memory_size() as u64);
            if tx.send(Ok(batch)).await.is_err() {
                return Ok(());
            }
        }
    }
    if snapshot {
        client::batch(&mut client, sql::COMMIT).await?;
    }
    let _ = client.close().await;
    Ok(())
}

fn finish(schema: &SchemaRef, readers: &mut [ColumnReader]) -> Result<RecordBatch> {
    let columns = readers
        .iter_mut()
        .map(|r| r.finish())
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
