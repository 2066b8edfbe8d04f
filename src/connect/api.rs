//! The ground floor every connector stands on: the [`Source`] and [`Sink`]
//! traits, what travels between them, and what connectors get from the run.
//!
//! Arrow `RecordBatch`es are the one format between them. A [`Source`] knows
//! its schema before any data moves and hands out one or more partitions that
//! the runner may read in parallel. A [`Sink`] makes nothing visible before
//! [`Sink::commit`]: `begin` → `write`… → `prepare` (everything durable, still
//! invisible, rows counted) → `commit`, or `abort` at any point, which leaves
//! the destination exactly as it was.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::spec::Endpoint;

/// A blocking iterator of batches: readers that parse (CSV, Parquet) run on a
/// blocking thread.
pub type BatchIter<T = RecordBatch> = Box<dyn Iterator<Item = Result<T>> + Send>;

/// One independently readable share of a source: record batches, or rows
/// in PostgreSQL's binary COPY form (see [`Source::copy_types`]).
pub enum Partition<T = RecordBatch> {
    Blocking(BatchIter<T>),
    /// An async stream (network sources: database cursors, COPY streams).
    Stream(futures::stream::BoxStream<'static, Result<T>>),
}

pub use super::postgres::copy_binary::CopyChunk;
pub use super::postgres::types::PgType;

pub trait Source: Send {
    /// Short, secret-free identity for messages (`local orders.csv`).
    fn describe(&self) -> String;
    /// The schema every batch will have.
    fn schema(&self) -> SchemaRef;
    /// What a dry run reports about the source (files found, schema origin).
    fn details(&self) -> Vec<String> {
        Vec::new()
    }
    /// Hand out the partitions; the source is consumed.
    fn partitions(self: Box<Self>) -> Result<Vec<Partition>>;
    /// The one file this source reads, when its bytes can be copied as they
    /// are (see [`RawFile`]).
    fn raw_file(&self) -> Option<RawFile> {
        None
    }
    /// The types of the columns, when this source can hand out its rows in
    /// PostgreSQL's binary COPY form. A sink with exactly these column types
    /// takes them unchanged (see [`Sink::accept_copy`]): no decoding to
    /// Arrow and encoding back.
    fn copy_types(&self) -> Option<Vec<PgType>> {
        None
    }
    /// Hand out the partitions as binary COPY rows; the source is consumed.
    fn copy_partitions(self: Box<Self>) -> Result<Vec<Partition<CopyChunk>>> {
        Err(anyhow::anyhow!(
            "internal error: {} has no binary COPY form",
            self.describe()
        ))
    }
}

/// A source that is exactly one Parquet file. A sink that writes one Parquet
/// file and has no writing options to apply takes its bytes unchanged
/// instead of decoding and encoding every row: the copy is then as fast as
/// the stores move bytes, and identical to the source, SHA-256 included.
/// The rows are verified from the footer of the bytes written.
#[derive(Clone)]
pub struct RawFile {
    pub input: Arc<dyn super::format::input::Input>,
    pub format: crate::spec::Format,
    /// Rows, from the source's footer.
    pub rows: u64,
    pub size: u64,
    /// Bytes at the end of the file that hold the footer.
    pub footer_len: u64,
}

/// One file or object a sink wrote, for the summary and manifests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Output {
    pub location: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// What a sink has durably written but not yet published.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Rows as the sink counted them (for files, read back from the writer's
    /// own metadata where the format has it).
    pub rows: u64,
    pub outputs: Vec<Output>,
}

#[async_trait]
pub trait Sink: Send {
    fn describe(&self) -> String;
    async fn begin(&mut self, schema: SchemaRef) -> Result<()>;
    async fn write(&mut self, batch: RecordBatch) -> Result<()>;
    /// Flush and make durable without publishing; returns what was written.
    async fn prepare(&mut self) -> Result<Prepared>;
    /// The single point where data becomes visible.
    async fn commit(&mut self) -> Result<()>;
    /// Remove everything this run wrote; the destination is as before.
    async fn abort(&mut self) -> Result<()>;
    /// Called before `begin`: whether this sink takes `raw`'s bytes
    /// unchanged. When it says yes, the runner calls [`Sink::write_bytes`]
    /// instead of [`Sink::write`].
    fn accept_raw(&mut self, _raw: &RawFile) -> bool {
        false
    }
    /// The next bytes of an accepted [`RawFile`], in order.
    async fn write_bytes(&mut self, _chunk: bytes::Bytes) -> Result<()> {
        Err(anyhow::anyhow!(
            "internal error: {} does not take raw bytes",
            self.describe()
        ))
    }
    /// Called after `begin`: whether this sink takes rows in binary COPY
    /// form whose columns have `types`, unchanged. When it says yes, the
    /// runner calls [`Sink::write_copy`] instead of [`Sink::write`].
    fn accept_copy(&mut self, _types: &[PgType]) -> bool {
        false
    }
    /// Called when no data has come for a while: a sink that holds a lock
    /// its own source waits for says so with an error instead of waiting
    /// forever.
    async fn stalled(&mut self) -> Result<()> {
        Ok(())
    }
    /// The next rows, in binary COPY form.
    async fn write_copy(&mut self, _chunk: CopyChunk) -> Result<()> {
        Err(anyhow::anyhow!(
            "internal error: {} does not take binary COPY rows",
            self.describe()
        ))
    }
}

/// `raw`, when a file sink writing `format` (split or not, with `parquet`
/// writing options) copies it unchanged.
pub fn takes_raw(
    raw: &RawFile,
    format: crate::spec::Format,
    split: Option<u64>,
    parquet: &crate::spec::ParquetOptions,
) -> Option<RawFile> {
    let takes = raw.format == crate::spec::Format::Parquet
        && format == raw.format
        && split.is_none()
        && !parquet.explicit;
    takes.then(|| raw.clone())
}

/// Counters shared between the runner, the connectors and the progress display.
#[derive(Debug, Default)]
pub struct Counters {
    pub rows: AtomicU64,
    pub bytes_read: AtomicU64,
    /// Bytes the source will read in all, when known (file sizes).
    pub bytes_total: AtomicU64,
}

impl Counters {
    pub fn add_bytes(&self, n: u64) {
        self.bytes_read.fetch_add(n, Ordering::Relaxed);
    }
}

/// What connectors need from the run.
#[derive(Clone)]
pub struct OpenContext {
    pub counters: Arc<Counters>,
    /// Cancelled on Ctrl-C/SIGTERM; connectors with their own network loops watch it.
    #[allow(dead_code)]
    pub cancel: CancellationToken,
    /// Unique per run; names temporary files and staging prefixes.
    pub run_id: String,
    /// `YYYY-MM-DD` (UTC) for `{run_date}` in destination paths.
    pub run_date: String,
    /// `--allow-insecure`: settings such as `trust_server_certificate = true`
    /// are honoured (with a warning) instead of refused.
    pub allow_insecure: bool,
    /// `--vault`: where `${secret:…}` references are looked up.
    pub vault: Option<std::path::PathBuf>,
    /// Insecure settings in use, for the warning and the summary.
    pub insecure: Arc<std::sync::Mutex<Vec<String>>>,
    /// PostgreSQL sessions the source reads through.
    pub pg_readers: Arc<std::sync::Mutex<Vec<super::postgres::Session>>>,
}

impl OpenContext {
    /// An endpoint's path with `{run_date}` and `{run_id}` filled in.
    pub fn path_of(&self, ep: &Endpoint) -> String {
        ep.path
            .as_deref()
            .unwrap_or_default()
            .replace("{run_date}", &self.run_date)
            .replace("{run_id}", &self.run_id)
    }

    /// Warn about an insecure setting the user allowed, and record it for the summary.
    pub fn note_insecure(&self, what: String) {
        eprintln!("warning: {}", crate::security::redact::redact(&what));
        if let Ok(mut v) = self.insecure.lock() {
            if !v.contains(&what) {
                v.push(what);
            }
        }
    }
}

/// One outbound connection a copy makes.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct NetworkEndpoint {
    pub host: String,
    pub port: u16,
    pub protocol: String,
    pub tls: String,
}
