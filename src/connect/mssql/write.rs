//! Writing: TDS bulk load (`INSERT BULK`, as `bcp` and SqlBulkCopy use),
//! every mode inside one transaction opened at `begin` and committed at
//! `commit`. Nothing is visible to other sessions before the commit; an
//! abort, a failure or a dropped connection (Ctrl-C, a killed process) rolls
//! everything back on the server, including tables created on the way.
//!
//! - append: rows are bulk-loaded into the table (created when missing).
//! - replace: rows are loaded into a new table (`SELECT TOP (0) * INTO` from
//!   the existing one, so column types, nullability and identity stay; or
//!   created from the source schema), counted, and swapped in with
//!   `sp_rename`; the old table is dropped. Indexes, constraints, triggers and
//!   permissions of the old table are not carried over.
//! - merge: rows are loaded into `#convoy_stage`; NULL or duplicate keys are
//!   refused; one `MERGE … WITH (HOLDLOCK)` updates matches and inserts the rest.
//! - incremental: rows are staged the same way; only rows whose cursor is
//!   greater than the table's current maximum are inserted, so a re-run inserts
//!   nothing twice.
//!
//! Each Arrow batch is one `INSERT BULK` with KEEP_NULLS (a NULL stays NULL,
//! not the column default), KEEP_IDENTITY (identity values are copied) and
//! CHECK_CONSTRAINTS (constraints stay trusted).

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use tiberius::{SqlBulkCopyOption, TokenRow};

use super::client::{self, describe, Client};
use super::config::MssqlConfig;
use super::sql::{self, ColumnDef, TableName};
use super::types::{self, SqlType};
use crate::connect::{OpenContext, Output, Prepared, Sink};
use crate::spec::{Endpoint, Mode};

pub struct MssqlSink {
    cfg: Arc<MssqlConfig>,
    ctx: OpenContext,
    label: String,
    table: TableName,
    mode: Mode,
    run_tag: String,
    client: Option<Client>,
    schema: Option<SchemaRef>,
    /// Where the bulk load goes (the table, a new table, or the stage).
    load: String,
    /// The type of each source column in the load table, in source order.
    targets: Vec<SqlType>,
    /// Quoted column list of the load, in source order.
    columns: Vec<String>,
    /// For replace: the new table and the name the old one moves to.
    replace: Option<(TableName, Option<TableName>)>,
    rows: u64,
    /// An exchange with the server did not complete: the session may be
    /// in the middle of a request, so `abort` drops it instead of sending
    /// ROLLBACK into it (a dropped session rolls back on the server).
    busy: bool,
}

impl MssqlSink {
    pub fn new(
        cfg: Arc<MssqlConfig>,
        ep: &Endpoint,
        mode: &Mode,
        ctx: &OpenContext,
    ) -> Result<MssqlSink> {
        let text = ep
            .table
            .as_deref()
            .ok_or_else(|| crate::error::usage("a database destination needs a table", None))?;
        let table = TableName::parse(text).map_err(|e| crate::error::usage(e, None))?;
        let label = format!("mssql {} {}", cfg.label(), table.display());
        let tag: String = ctx
            .run_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        Ok(MssqlSink {
            cfg,
            ctx: ctx.clone(),
            label,
            table,
            mode: mode.clone(),
            run_tag: tag
                .chars()
                .rev()
                .take(12)
                .collect::<String>()
                .chars()
                .rev()
                .collect(),
            client: None,
            schema: None,
            load: String::new(),
            targets: Vec::new(),
            columns: Vec::new(),
            replace: None,
            rows: 0,
            busy: false,
        })
    }

    fn client(&mut self) -> Result<&mut Client> {
        self.client
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("internal: the SQL Server sink is not open"))
    }

    /// A name next to the target's, at most 128 characters.
    fn side_name(&self, what: &str) -> TableName {
        let suffix = format!("__convoy_{what}_{}", self.run_tag);
        let keep = 128usize.saturating_sub(suffix.chars().count());
        let base: String = self.table.name.chars().take(keep).collect();
        self.table.sibling(format!("{base}{suffix}"))
    }

    async fn setup(&mut self, schema: SchemaRef) -> Result<()> {
        let mut client = client::connect(&self.cfg, &self.ctx).await?;
        // A lock another session holds fails the copy after timeout.idle.
        let begin = format!(
            "SET LOCK_TIMEOUT {}; {}",
            self.cfg.timeouts.idle.as_millis(),
            sql::BEGIN
        );
        client::batch(&mut client, &begin).await?;
        let cfg = self.cfg.clone();
        let exists = client::within(
            &cfg,
            "looking up the table",
            client::scalar::<i32>(&mut client, &sql::object_id(&self.table)),
        )
        .await?
        .is_some();
        let source_defs: Vec<ColumnDef> = schema
            .fields()
            .iter()
            .map(|f| {
                Ok(ColumnDef {
                    name: f.name().clone(),
                    ty: types::sql_type_for(f)
                        .map_err(|e| crate::error::input(e.to_string(), None))?,
                    nullable: f.is_nullable(),
                })
            })
            .collect::<Result<_>>()?;
        // The target's columns (existing, or as convoy creates them).
        let target_cols: Vec<ColumnDef> = if exists {
            let select = format!("SELECT * FROM {}", self.table.quoted());
            let described = client::within(
                &cfg,
                "reading the table's columns",
                describe(&mut client, &select),
            )
            .await?;
            if let Some(c) = described.iter().find(|c| {
                c.computed
                    && schema
                        .fields()
                        .iter()
                        .any(|f| f.name().eq_ignore_ascii_case(&c.name))
            }) {
                return Err(crate::error::input(
                    format!(
                        "column {:?} of {} is computed and cannot be loaded",
                        c.name,
                        self.table.display()
                    ),
                    Some(
                        "leave it out of the source (select the other columns in a query)"
                            .to_string(),
                    ),
                ));
            }
            described
                .into_iter()
                .map(|d| ColumnDef {
                    name: d.name,
                    ty: d.ty,
                    nullable: d.nullable,
                })
                .collect()
        } else {
            source_defs.clone()
        };
        // Each source column's type in the target, matched by name.
        let mut targets = Vec::new();
        let mut missing = Vec::new();
        for f in schema.fields() {
            match target_cols
                .iter()
                .find(|c| c.name == *f.name())
                .or_else(|| {
                    target_cols
                        .iter()
                        .find(|c| c.name.eq_ignore_ascii_case(f.name()))
                }) {
                Some(c) => targets.push(c.clone()),
                None => missing.push(f.name().clone()),
            }
        }
        if !missing.is_empty() {
            return Err(crate::error::input(
                format!(
                    "{} has no column{} {}",
                    self.table.display(),
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", ")
                ),
                Some(format!(
                    "the source's columns must exist in the table; its columns are: {}",
                    target_cols
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ));
        }
        let names: Vec<String> = targets.iter().map(|c| c.name.clone()).collect();
        match &self.mode {
            Mode::Append => {
                if !exists {
                    client::batch(&mut client, &sql::create_table(&self.table, &source_defs))
                        .await?;
                }
                self.load = self.table.quoted();
            }
            Mode::Replace => {
                let new = self.side_name("new");
                if exists {
                    client::batch(&mut client, &sql::clone_empty(&self.table, &new)).await?;
                    self.replace = Some((new.clone(), Some(self.side_name("old"))));
                } else {
                    client::batch(&mut client, &sql::create_table(&new, &source_defs)).await?;
                    self.replace = Some((new.clone(), None));
                }
                self.load = new.quoted();
            }
            Mode::Merge { key: cols } if cols.is_empty() => {
                return Err(crate::error::usage(
                    "mode \"merge\" needs key = [\"column\", …]",
                    None,
                ));
            }
            Mode::Merge { .. } | Mode::Incremental { .. } => {
                let needed: Vec<String> = match &self.mode {
                    Mode::Merge { key } => key.clone(),
                    Mode::Incremental { cursor } => vec![cursor.clone()],
                    _ => Vec::new(),
                };
                for k in &needed {
                    if !names.iter().any(|n| n.eq_ignore_ascii_case(k)) {
                        return Err(crate::error::usage(
                            format!("{k:?} is not a column of the source"),
                            Some(format!("the source's columns are: {}", names.join(", "))),
                        ));
                    }
                }
                if !exists {
                    client::batch(&mut client, &sql::create_table(&self.table, &source_defs))
                        .await?;
                }
                client::batch(&mut client, &sql::create_stage(&targets)).await?;
                self.load = sql::STAGE.to_string();
            }
        }
        self.targets = targets.iter().map(|c| c.ty.clone()).collect();
        self.columns = targets.iter().map(|c| sql::quote(&c.name)).collect();
        self.client = Some(client);
        self.schema = Some(schema);
        Ok(())
    }
}

/// The mode's key or cursor columns, spelled as the target spells them.
fn resolve_names(wanted: &[String], columns: &[String]) -> Vec<String> {
    wanted
        .iter()
        .map(|w| {
            columns
                .iter()
                .find(|c| c.eq_ignore_ascii_case(w))
                .cloned()
                .unwrap_or_else(|| w.clone())
        })
        .collect()
}

#[async_trait]
impl Sink for MssqlSink {
    fn describe(&self) -> String {
        self.label.clone()
    }

    async fn begin(&mut self, schema: SchemaRef) -> Result<()> {
        let label = self.label.clone();
        self.setup(schema)
            .await
            .with_context(|| format!("preparing {label}"))
    }

    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let schema = self.schema.clone().expect("begin was called");
        let targets = self.targets.clone();
        let load = self.load.clone();
        let columns = self.columns.clone();
        let base = self.rows;
        let cfg = self.cfg.clone();
        self.busy = true;
        let client = self.client()?;
        let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
        let options = SqlBulkCopyOption::KeepNulls
            | SqlBulkCopyOption::KeepIdentity
            | SqlBulkCopyOption::CheckConstraints;
        let mut req = client::within(&cfg, "starting the bulk load", async {
            client
                .bulk_insert_with_options(&load, &cols, options, &[])
                .await
                .map_err(|e| client::sql_error(e, &format!("INSERT BULK {load}")))
        })
        .await?;
        for row in 0..batch.num_rows() {
            let mut token = TokenRow::with_capacity(targets.len());
            for (i, target) in targets.iter().enumerate() {
                let field = schema.field(i);
                let value = types::to_column_data(field, batch.column(i).as_ref(), row, target)
                    .map_err(|e| {
                        crate::error::input(
                            format!(
                                "row {}, column {:?}: {e}",
                                base + row as u64 + 1,
                                field.name()
                            ),
                            None,
                        )
                    })?;
                token.push(value);
            }
            client::within(&cfg, "sending rows (the server took none)", async {
                req.send(token).await.map_err(|e| {
                    crate::error::input(
                        format!(
                            "row {}: SQL Server refused the value: {e}",
                            base + row as u64 + 1
                        ),
                        None,
                    )
                })
            })
            .await?;
        }
        let result = client::within(&cfg, "finishing the bulk load", async {
            req.finalize()
                .await
                .map_err(|e| client::sql_error(e, &format!("INSERT BULK {load}")))
        })
        .await?;
        self.rows += result.total();
        self.busy = false;
        Ok(())
    }

    async fn prepare(&mut self) -> Result<Prepared> {
        let mode = self.mode.clone();
        let table = self.table.clone();
        let replace = self.replace.clone();
        let names: Vec<String> = self
            .columns
            .iter()
            .map(|q| q[1..q.len() - 1].replace("]]", "]"))
            .collect();
        let loaded = self.rows;
        let client = self.client()?;
        let (rows, location) = match &mode {
            Mode::Append => (loaded, table.display()),
            Mode::Replace => {
                let (new, old) = replace.expect("replace has a new table");
                let n = client::scalar::<i64>(client, &sql::count(&new.quoted()))
                    .await?
                    .unwrap_or(0) as u64;
                client::batch(client, &sql::swap(&table, &new, old.as_ref())).await?;
                (n, table.display())
            }
            Mode::Merge { key } => {
                let n = client::scalar::<i64>(client, &sql::count(sql::STAGE))
                    .await?
                    .unwrap_or(0) as u64;
                let key = resolve_names(key, &names);
                let row = client
                    .simple_query(sql::bad_keys(&key))
                    .await
                    .map_err(|e| client::sql_error(e, "merge key check"))?
                    .into_row()
                    .await
                    .map_err(|e| client::sql_error(e, "merge key check"))?;
                let (nulls, dups) = row
                    .map(|r| {
                        (
                            r.try_get::<i64, _>(0).ok().flatten().unwrap_or(0),
                            r.try_get::<i64, _>(1).ok().flatten().unwrap_or(0),
                        )
                    })
                    .unwrap_or((0, 0));
                if nulls > 0 || dups > 0 {
                    return Err(crate::error::input(
                        format!(
                            "the source has {nulls} row(s) with a NULL key and {dups} key value(s) that appear more than once; merge needs a unique, non-NULL key ({})",
                            key.join(", ")
                        ),
                        None,
                    ));
                }
                client::batch(client, &sql::merge(&table, &names, &key)).await?;
                (
                    n,
                    format!("{} (merged on {})", table.display(), key.join(", ")),
                )
            }
            Mode::Incremental { cursor } => {
                let n = client::scalar::<i64>(client, &sql::count(sql::STAGE))
                    .await?
                    .unwrap_or(0) as u64;
                let cursor = resolve_names(std::slice::from_ref(cursor), &names).remove(0);
                let skipped =
                    client::scalar::<i64>(client, &sql::incremental_skipped(&table, &cursor))
                        .await?
                        .unwrap_or(0);
                client::batch(client, &sql::incremental(&table, &names, &cursor)).await?;
                (
                    n,
                    format!(
                        "{} ({} new past the {cursor} maximum, {skipped} already there)",
                        table.display(),
                        n as i64 - skipped
                    ),
                )
            }
        };
        if rows != loaded {
            return Err(crate::error::verify(format!(
                "{} rows were bulk-loaded into {} but it holds {rows}; nothing was published",
                loaded, self.label
            )));
        }
        Ok(Prepared {
            rows,
            outputs: vec![Output {
                location: format!("mssql {} {location}", self.cfg.label()),
                rows,
                bytes: 0,
                sha256: String::new(),
            }],
        })
    }

    async fn commit(&mut self) -> Result<()> {
        let cfg = self.cfg.clone();
        let label = self.label.clone();
        self.busy = true;
        let client = self.client()?;
        match tokio::time::timeout(cfg.timeouts.idle, client::batch(client, sql::COMMIT)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(crate::error::input(
                    format!(
                        "no answer from SQL Server {} for {} to COMMIT: whether {label} was published is not known (it holds either the old or the new rows, never a mix)",
                        cfg.label(),
                        crate::spec::fields::seconds(cfg.timeouts.idle)
                    ),
                    Some("look at the table before running the copy again".to_string()),
                ))
            }
        }
        self.busy = false;
        if let Some(c) = self.client.take() {
            let _ = tokio::time::timeout(cfg.timeouts.idle, c.close()).await;
        }
        Ok(())
    }

    async fn abort(&mut self) -> Result<()> {
        // Rolling back is polite; a closed connection rolls back on the
        // server too, and is all a session cut short mid-request gets.
        if let Some(mut c) = self.client.take() {
            if !self.busy {
                let idle = self.cfg.timeouts.idle;
                let _ = tokio::time::timeout(idle, client::batch(&mut c, sql::ROLLBACK)).await;
                let _ = tokio::time::timeout(idle, c.close()).await;
            }
        }
        Ok(())
    }
}
