//! The ground floor every connector stands on: what a connection kind is
//! ([`Kind`], [`Connector`]), the [`Source`] and [`Sink`] traits, what
//! travels between them, and what connectors get from the run
//! ([`OpenContext`]). Nothing here knows any particular connector.
//!
//! Arrow `RecordBatch`es are the one format between sources and sinks. A
//! [`Source`] knows its schema before any data moves and hands out one or
//! more partitions that the runner may read in parallel. A [`Sink`] makes
//! nothing visible before [`Sink::commit`]: `begin` → `write`… → `prepare`
//! (everything durable, still invisible, rows counted) → `commit`, or
//! `abort` at any point, which leaves the destination exactly as it was.
//!
//! A source may also offer its rows in an [`Encoding`] of its own (a
//! PostgreSQL binary COPY stream, a Parquet file's bytes); a sink that
//! accepts that encoding takes them unchanged, through the same pipeline,
//! without a round trip through Arrow.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::security::reference::ResolveContext;
use crate::spec::fields::Fields;
use crate::spec::{Connection, Endpoint, Mode};

// ------------------------------------------------------------ kinds

pub use crate::spec::Role;

/// What a command-line URL says: the connection it implies (a name, and
/// the settings a spec would give it) and the endpoint.
pub struct Located {
    pub name: String,
    pub settings: toml::Table,
    pub endpoint: Endpoint,
}

/// One kind of connection (`kind = "postgres"`) as the registry knows it:
/// its name, its URL forms, and how its settings are read.
pub trait Kind: Sync {
    /// As written in a spec: `kind = "…"`.
    fn name(&self) -> &'static str;
    /// Command-line URL schemes of this kind (`postgres`, `postgresql`).
    fn schemes(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether the path of this kind's URLs names a database (and so holds
    /// no `@`), rather than an object or file.
    fn url_path_is_a_name(&self) -> bool {
        false
    }
    /// A command-line URL with one of [`Kind::schemes`].
    fn locate(&self, _url: &super::url::Url) -> Result<Located> {
        Err(crate::error::usage(
            format!("{} connections have no URL form", self.name()),
            None,
        ))
    }
    /// Read the settings of a connection of this kind. Problems go into
    /// `fields` (and are reported before anything is contacted); the
    /// connector returned is used only when there were none.
    fn configure(&self, conn: &Connection, fields: &mut Fields) -> Arc<dyn Connector>;
}

/// A connection whose settings are typed and validated; nothing has been
/// contacted. Everything `plan`, `check` and `run` need of a kind.
#[async_trait]
pub trait Connector: Send + Sync {
    fn kind(&self) -> &'static str;
    /// Problems with an endpoint of this connection used as `role`: pairs
    /// of the field (`path`, `table`, `mode`) and the message.
    fn check_endpoint(&self, ep: &Endpoint, role: Role, mode: &Mode) -> Vec<(String, String)>;
    /// Short, secret-free identity of an endpoint for plans and reports.
    fn describe(&self, ep: &Endpoint) -> String;
    /// Outbound connections this connection makes.
    fn network(&self) -> Vec<NetworkEndpoint>;
    /// Whether a database server does the work of each session (a server
    /// thread of its own per reading or writing), rather than a store
    /// serving files.
    fn is_server(&self) -> bool {
        false
    }
    /// How a sink of this connection makes its data visible, in one sentence.
    fn publish(&self, ep: &Endpoint, mode: &Mode) -> String;
    /// `convoy check`: reach, TLS, login and rights, writing nothing.
    async fn check(&self, ep: &Endpoint, role: Role, mode: &Mode, ctx: &OpenContext) -> Checked;
    /// Open a source. Called on a blocking thread inside the runtime.
    fn open_source(&self, ep: &Endpoint, ctx: &OpenContext) -> Result<Box<dyn Source>>;
    /// Open a sink; nothing is written before `begin`.
    fn open_sink(&self, ep: &Endpoint, mode: &Mode, ctx: &OpenContext) -> Result<Box<dyn Sink>>;
    /// Cut the source an endpoint names for `count` shards once, for every
    /// shard to use (`convoy extract --coordinate`): a listing frozen, key
    /// ranges fixed, a snapshot held. The plan goes to the shards through
    /// the stage; `Coordination::hold` is kept alive until every shard has
    /// finished.
    async fn coordinate(
        &self,
        _ep: &Endpoint,
        _count: u32,
        _ctx: &OpenContext,
    ) -> Result<Coordination> {
        Err(crate::error::usage(
            format!("a {} source cannot be split into shards", self.kind()),
            Some("shard a spec by its copies (convoy run SPEC --shard I/N) instead".to_string()),
        ))
    }
    /// Whether staged runs can live on this connection (a store of files).
    fn holds_stages(&self) -> bool {
        false
    }
    /// The store that holds staged runs under `path` of this connection
    /// (objects; a directory of files is one too).
    fn stage_store(&self, _path: &str, _ctx: &OpenContext) -> Result<StageStore> {
        Err(crate::error::usage(
            format!("a {} connection cannot hold a stage", self.kind()),
            Some("stage on s3, azure, gcs or a local directory".to_string()),
        ))
    }
}

/// One shard's share of a source: shard `index` (1-based) of `count`, and
/// the coordinator's plan when there is one.
#[derive(Debug, Clone)]
pub struct Share {
    pub index: u32,
    pub count: u32,
    pub plan: Option<serde_json::Value>,
}

impl Share {
    /// Whether item `k` (0-based, in the order every shard sees) is this
    /// shard's: round robin, a pure function of (index, count, k).
    pub fn takes(&self, k: usize) -> bool {
        k % self.count as usize == (self.index - 1) as usize
    }
}

/// What a coordinator hands the shards, and what it keeps alive meanwhile.
pub struct Coordination {
    pub plan: serde_json::Value,
    /// Resources the plan needs held (a transaction whose snapshot the
    /// shards join), dropped when every shard is done.
    pub hold: Box<dyn Any + Send + Sync>,
}

/// Where staged runs are kept: objects of a store under a path.
pub struct StageStore {
    pub store: Arc<dyn object_store::ObjectStore>,
    /// How the store's root is shown: `s3://lake`, `/data/stage`.
    pub root: String,
    /// The stage's path in the store (runs go under it).
    pub path: String,
}

/// One outbound connection a copy makes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NetworkEndpoint {
    pub host: String,
    pub port: u16,
    pub protocol: String,
    pub tls: String,
}

// ------------------------------------------------------------ data

/// A blocking iterator of pieces: readers that parse (CSV, Parquet) run on a
/// blocking thread.
pub type BatchIter<T = RecordBatch> = Box<dyn Iterator<Item = Result<T>> + Send>;

/// One independently readable share of a source: record batches, or
/// [`Encoded`] pieces.
pub enum Partition<T = RecordBatch> {
    Blocking(BatchIter<T>),
    /// An async stream (network sources: database cursors, COPY streams).
    Stream(futures::stream::BoxStream<'static, Result<T>>),
}

/// A form in which a source can hand out its rows unchanged, named and
/// described by the connector that produces it. What must match for a sink
/// to take it (column types, a file's footer) is in `detail`, which only
/// connectors that know the encoding look into.
#[derive(Clone)]
pub struct Encoding {
    /// Who defined it, e.g. `postgres binary COPY`.
    pub name: &'static str,
    /// The line the summary's details show when it is used.
    pub note: String,
    detail: Arc<dyn Any + Send + Sync>,
}

impl Encoding {
    pub fn new(name: &'static str, note: String, detail: impl Any + Send + Sync) -> Encoding {
        Encoding {
            name,
            note,
            detail: Arc::new(detail),
        }
    }

    /// The producer's detail, when this is the encoding `name` with a detail
    /// of type `T`.
    pub fn detail<T: 'static>(&self, name: &str) -> Option<&T> {
        (self.name == name)
            .then(|| self.detail.downcast_ref::<T>())
            .flatten()
    }
}

/// Rows in a source's own [`Encoding`]: `rows` complete rows in `bytes`
/// (possibly none, for a piece of a file's bytes).
pub struct Encoded {
    pub rows: u64,
    pub bytes: bytes::Bytes,
}

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
    /// The encoding in which this source can hand out its rows unchanged.
    fn encoding(&self) -> Option<Encoding> {
        None
    }
    /// How this source cut its share when it is one shard of several: the
    /// same for every shard of a run (a listing, key bounds), so a load can
    /// tell shards that cut differently.
    fn share(&self) -> Option<serde_json::Value> {
        None
    }
    /// Hand out the partitions in [`Source::encoding`]; the source is consumed.
    fn encoded_partitions(self: Box<Self>) -> Result<Vec<Partition<Encoded>>> {
        Err(anyhow::anyhow!(
            "internal error: {} has no encoding of its own",
            self.describe()
        ))
    }
}

/// One file or object a sink wrote, for the summary and manifests.
#[derive(Debug, Clone, Serialize)]
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
    /// Whether the destination can hold every column of `schema`, asked
    /// before `begin` and in a dry run, so a type it has no room for is
    /// refused naming the column before anything is written. Called after
    /// [`Sink::accepts`]: a sink that takes the source's own encoding may
    /// not need to check.
    fn check_schema(&mut self, _schema: &SchemaRef) -> Result<()> {
        Ok(())
    }
    async fn begin(&mut self, schema: SchemaRef) -> Result<()>;
    async fn write(&mut self, batch: RecordBatch) -> Result<()>;
    /// Flush and make durable without publishing; returns what was written.
    async fn prepare(&mut self) -> Result<Prepared>;
    /// The single point where data becomes visible.
    async fn commit(&mut self) -> Result<()>;
    /// Remove everything this run wrote; the destination is as before.
    async fn abort(&mut self) -> Result<()>;
    /// Whether this sink takes rows in `encoding` unchanged. Asked before
    /// `begin` (a sink that can tell without its destination says so then,
    /// and a dry run reports it) and again after `begin`: the answer after
    /// `begin` decides whether the runner calls [`Sink::write_encoded`]
    /// instead of [`Sink::write`].
    fn accepts(&mut self, _encoding: &Encoding) -> bool {
        false
    }
    /// The next piece in the accepted encoding, in order.
    async fn write_encoded(&mut self, _piece: Encoded) -> Result<()> {
        Err(anyhow::anyhow!(
            "internal error: {} takes no encoded rows",
            self.describe()
        ))
    }
    /// Called when no data has come for a while: a sink that holds a lock
    /// its own source waits for says so with an error instead of waiting
    /// forever.
    async fn stalled(&mut self) -> Result<()> {
        Ok(())
    }
}

// ------------------------------------------------------------ the run

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

/// Values connectors share for one copy, one per type (a source records
/// what its sink needs to know, without the runner knowing either).
#[derive(Default, Clone)]
pub struct Extensions(Arc<Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>);

impl Extensions {
    /// The copy's value of type `T`, created on first use.
    pub fn get<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let any = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        any.downcast::<T>()
            .unwrap_or_else(|_| unreachable!("keyed by its own type"))
    }
}

/// Set by a source that failed on something it can fix by being read again
/// from the start (a column whose type was inferred from a sample met a
/// value the type does not hold; the source keeps the wider type in
/// [`OpenContext::shared`]). The runner then aborts the sink and opens both
/// again, a few times at most; the reason becomes a warning.
#[derive(Default)]
pub struct ReadAgain(Mutex<Option<String>>);

impl ReadAgain {
    pub fn ask(&self, why: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }

    /// The reason, once.
    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What connectors need from the run.
#[derive(Clone)]
pub struct OpenContext {
    pub counters: Arc<Counters>,
    /// Cancelled on Ctrl-C/SIGTERM; connectors with their own network loops watch it.
    pub cancel: CancellationToken,
    /// Unique per run; names temporary files and staging prefixes.
    pub run_id: String,
    /// `YYYY-MM-DD` (UTC) for `{run_date}` in destination paths.
    pub run_date: String,
    /// `--allow-insecure`: insecure settings are honoured (with a warning)
    /// instead of refused.
    pub allow_insecure: bool,
    /// Where `${secret:…}` and the other references are resolved; the vault
    /// is opened once, when a reference first needs it.
    pub secrets: Arc<ResolveContext>,
    /// Values connectors share for this copy.
    pub shared: Extensions,
    /// The share of the source this process reads, when it is one shard of
    /// several.
    pub share: Option<Share>,
    warnings: Arc<Mutex<Warnings>>,
}

#[derive(Default)]
struct Warnings {
    all: Vec<String>,
    insecure: Vec<String>,
}

impl OpenContext {
    pub fn new(
        run_id: String,
        run_date: String,
        allow_insecure: bool,
        secrets: Arc<ResolveContext>,
        cancel: CancellationToken,
    ) -> OpenContext {
        OpenContext {
            counters: Arc::default(),
            cancel,
            run_id,
            run_date,
            allow_insecure,
            secrets,
            shared: Extensions::default(),
            share: None,
            warnings: Arc::default(),
        }
    }

    /// A context for one copy: its own counters, shared values and warnings.
    pub fn for_copy(&self) -> OpenContext {
        OpenContext {
            counters: Arc::default(),
            shared: Extensions::default(),
            warnings: Arc::default(),
            ..self.clone()
        }
    }

    /// An endpoint's path with `{run_date}` and `{run_id}` filled in.
    pub fn path_of(&self, ep: &Endpoint) -> String {
        ep.path
            .as_deref()
            .unwrap_or_default()
            .replace("{run_date}", &self.run_date)
            .replace("{run_id}", &self.run_id)
    }

    /// A warning for the report.
    pub fn warn(&self, what: String) {
        let mut w = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        if !w.all.contains(&what) {
            w.all.push(what);
        }
    }

    /// An insecure setting the user allowed: warned about, and listed in the
    /// summary.
    pub fn note_insecure(&self, what: String) {
        self.warn(what.clone());
        let mut w = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        if !w.insecure.contains(&what) {
            w.insecure.push(what);
        }
    }

    /// The warnings so far, and the insecure settings among them.
    pub fn warnings(&self) -> (Vec<String>, Vec<String>) {
        let w = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        (w.all.clone(), w.insecure.clone())
    }
}

// ------------------------------------------------------------ check

/// How one check step went, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skipped,
    Warn,
    Fail,
    Refused,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skipped => "skipped",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Refused => "REFUSED",
        }
    }
}

/// One step of `convoy check` (`dns`, `tcp`, `tls`, `auth`, `access`, …).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What a TLS handshake showed.
#[derive(Debug, Clone, Serialize)]
pub struct TlsInfo {
    pub version: String,
    pub cipher_suite: String,
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
    pub days_to_expiry: i64,
}

/// What checking one endpoint found.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<TlsInfo>,
    pub steps: Vec<Step>,
}

impl Checked {
    pub fn push(&mut self, step: &'static str, status: Status, detail: impl Into<String>) {
        self.steps.push(Step {
            step,
            status,
            detail: crate::security::redact::redact(&detail.into()),
            hint: None,
        });
    }

    pub fn push_hint(
        &mut self,
        step: &'static str,
        status: Status,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.steps.push(Step {
            step,
            status,
            detail: crate::security::redact::redact(&detail.into()),
            hint: Some(crate::security::redact::redact(&hint.into())),
        });
    }

    /// Record an error as the result of `step`: refusals by policy are
    /// security failures, anything else plain failures.
    pub fn push_error(&mut self, step: &'static str, e: &anyhow::Error) {
        let status = match crate::error::exit_kind(e) {
            crate::error::ExitKind::Policy => Status::Refused,
            _ => Status::Fail,
        };
        self.steps.push(Step {
            step,
            status,
            detail: crate::error::messages(e).join(": "),
            hint: crate::error::hint(e).map(|h| crate::security::redact::redact(&h)),
        });
    }
}
