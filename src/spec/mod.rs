//! The copy spec: what the user asked for, validated, before anything is contacted.
//!
//! Two front doors build the same [`Spec`]: a TOML file (`parse`) and the
//! command line (`convoy copy SRC DST`, in `cli_spec`). Both end in
//! [`validate::check`], so a copy means the same thing whichever way it was
//! written. Parsing collects every problem with its field path before giving
//! up, so a user fixes a spec in one pass.

pub mod cli_spec;
pub mod fields;
pub mod parse;
pub mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow::datatypes::SchemaRef;

/// A validated spec: named connections and the copies between them.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Relative paths in the spec resolve against this directory (the spec
    /// file's own directory, or the working directory on the command line).
    pub base_dir: PathBuf,
    pub connections: BTreeMap<String, Connection>,
    pub copies: Vec<Copy>,
}

/// A named connection as the spec writes it. Its settings stay TOML here:
/// the spec knows no kind; each connector reads its own settings, typed,
/// through [`fields::Fields`] (see `connect::configure`), before anything is
/// contacted.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The name the spec gives it (its key under `[connections]`).
    pub name: String,
    /// `kind = "…"`: the name of a connection kind.
    pub kind: String,
    pub region: Option<String>,
    /// Every other key of the connection's table.
    pub settings: toml::Table,
    /// Made from a command-line URL rather than named in a spec: reports
    /// speak of its host, not of its name.
    pub implied: bool,
}

/// Which side of a copy an endpoint is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Source,
    Sink,
}

/// The name of the implicit connection to the local file system.
pub const LOCAL: &str = "local";

/// One copy: a source, a sink and how to write.
#[derive(Debug, Clone)]
pub struct Copy {
    pub name: String,
    pub from: Endpoint,
    pub to: Endpoint,
    pub mode: Mode,
    pub allow_cross_region: bool,
    /// Copy through a stage instead of directly.
    pub stage: Option<StageSpec>,
}

/// `stage = { connection = "lake", path = "convoy-stage/" }`: where a staged
/// copy keeps its run, and how.
#[derive(Debug, Clone)]
pub struct StageSpec {
    /// A connection that stores files (local, s3, azure, gcs) and the prefix
    /// under it; runs go into `<path>/<run-id>/`.
    pub endpoint: Endpoint,
    /// Keep the run after a successful load (default: remove it).
    pub keep: bool,
    /// Encrypt every part before it leaves this machine (age, X25519).
    pub encrypt: bool,
    /// Who may decrypt: `age1…` recipients; none means this machine.
    pub recipients: Vec<String>,
    /// The run's id (`--run-id`), else one made from the run's.
    pub run_id: Option<String>,
    /// Only one half of the staged copy (`convoy extract`, `convoy load`).
    pub only: Option<StageHalf>,
    /// Load a run that was loaded before.
    pub force: bool,
    /// `--shard I/N`: this process extracts share I (1-based) of N.
    pub shard: Option<(u32, u32)>,
    /// `--coordinate`: cut the source for the shards and wait for them,
    /// instead of extracting.
    pub coordinate: bool,
    /// `--coordinated`: wait for the coordinator's cut before extracting.
    pub wait_for_cut: bool,
    /// `part_mb`: stored MiB after which a part is closed; else 32, or 8
    /// when the load follows the extract in one staged copy.
    pub part_mb: Option<u64>,
}

/// One half of a staged copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageHalf {
    /// Source → stage (`convoy extract`); the copy's `to` is the stage.
    Extract,
    /// Stage → destination (`convoy load`); the copy's `from` is the run.
    Load,
}

/// How a sink is updated. Each mode is atomic: the destination is either
/// fully updated or left exactly as it was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Mode {
    Append,
    Replace,
    Merge { key: Vec<String> },
    Incremental { cursor: String },
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Append => "append",
            Mode::Replace => "replace",
            Mode::Merge { .. } => "merge",
            Mode::Incremental { .. } => "incremental",
        }
    }
}

/// File formats convoy reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
    Json,
    Ipc,
}

impl Format {
    pub const NAMES: &'static [&'static str] = &["csv", "parquet", "json", "ipc"];

    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "csv" | "tsv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "json" | "jsonl" | "ndjson" => Some(Format::Json),
            "ipc" | "arrow" | "arrows" | "feather" => Some(Format::Ipc),
            _ => None,
        }
    }

    /// The format a file name's extension implies, after a compression
    /// extension (`orders.csv.gz` is CSV).
    pub fn from_path(path: &str) -> Option<Format> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let name = crate::connect::format::compression::strip_extension(name);
        let ext = name.rsplit_once('.')?.1;
        Format::from_name(ext)
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Json => "json",
            Format::Ipc => "ipc",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Json => "jsonl",
            Format::Ipc => "arrow",
        }
    }
}

/// CSV dialect, shared by reading and writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    pub header: bool,
    pub delimiter: u8,
    pub quote: u8,
    pub escape: Option<u8>,
    /// The text that stands for NULL; empty by default (an empty field is NULL).
    pub null: String,
    /// Reading with an empty `null`: a quoted empty field (`""`) in a text
    /// column is an empty string, not NULL, as PostgreSQL, DuckDB and Spark
    /// write it (the default; `false` reads it as NULL).
    pub quoted_empty_string: bool,
    /// Which of the above the user set; the others are detected from a
    /// sample when reading.
    pub set: CsvSet,
}

/// The CSV settings given explicitly (flags or a spec file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvSet {
    pub header: bool,
    pub delimiter: bool,
    pub quote: bool,
}

impl CsvOptions {
    /// A dialect byte the user gave (`delimiter`, `quote` or `escape`):
    /// set, and no longer detected.
    pub fn give(&mut self, key: &str, b: u8) {
        match key {
            "delimiter" => {
                self.delimiter = b;
                self.set.delimiter = true;
            }
            "quote" => {
                self.quote = b;
                self.set.quote = true;
            }
            _ => self.escape = Some(b),
        }
    }
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: true,
            delimiter: b',',
            quote: b'"',
            escape: None,
            null: String::new(),
            quoted_empty_string: true,
            set: CsvSet::default(),
        }
    }
}

/// Parquet writer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetOptions {
    /// `zstd` (default, level 1), `zstd(N)`, `snappy`, `lz4`, `gzip` or `none`.
    pub compression: String,
    pub row_group_size: usize,
    /// The spec or the command line set one of these. Without that, a
    /// Parquet file copied to a Parquet destination keeps its bytes (see
    /// a byte-for-byte copy); with it, the data is written anew.
    pub explicit: bool,
}

impl ParquetOptions {
    /// The codec `compression` names, or what is wrong with it.
    pub fn codec(&self) -> Result<parquet::basic::Compression, String> {
        parquet_compression(&self.compression)
    }
}

/// zstd level when `compression = "zstd"` names none: level 1 compresses
/// about twice as fast as level 3 for files about 5% larger, and compression
/// is most of the cost of writing Parquet. `zstd(3)` or higher when size
/// matters more.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// `zstd`, `zstd(LEVEL)`, `snappy`, `lz4`, `gzip`, `gzip(LEVEL)`, `none`.
pub fn parquet_compression(name: &str) -> Result<parquet::basic::Compression, String> {
    use parquet::basic::{Compression, GzipLevel, ZstdLevel};
    let lower = name.trim().to_ascii_lowercase();
    let (codec, level) = match lower.split_once('(') {
        Some((c, rest)) => match rest.strip_suffix(')').map(str::trim).map(str::parse::<i32>) {
            Some(Ok(l)) => (c.trim().to_string(), Some(l)),
            _ => return Err(format!("compression level in {name:?} is not a number")),
        },
        None => (lower.clone(), None),
    };
    match (codec.as_str(), level) {
        ("zstd", l) => ZstdLevel::try_new(l.unwrap_or(DEFAULT_ZSTD_LEVEL))
            .map(Compression::ZSTD)
            .map_err(|e| format!("zstd level: {e}")),
        ("gzip", l) => GzipLevel::try_new(l.unwrap_or(6) as u32)
            .map(Compression::GZIP)
            .map_err(|e| format!("gzip level: {e}")),
        ("snappy", None) => Ok(Compression::SNAPPY),
        ("lz4", None) => Ok(Compression::LZ4_RAW),
        ("none" | "uncompressed", None) => Ok(Compression::UNCOMPRESSED),
        _ => Err(format!(
            "unknown compression {name:?} (zstd, zstd(LEVEL), snappy, lz4, gzip, none)"
        )),
    }
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: "zstd".into(),
            row_group_size: DEFAULT_ROW_GROUP_SIZE,
            explicit: false,
        }
    }
}

/// Rows per Parquet row group unless the spec says otherwise: large enough for
/// good compression and fast scans, small enough that the writer's buffer
/// stays well under the memory budget.
pub const DEFAULT_ROW_GROUP_SIZE: usize = 131_072;

/// Rows sampled to infer a text file's schema unless the spec says otherwise.
pub const DEFAULT_INFER_ROWS: usize = 10_000;

/// Where data comes from or goes to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The connection's name; [`LOCAL`] for the local file system.
    pub connection: String,
    /// A file, directory or glob for file stores.
    pub path: Option<String>,
    /// A table for databases.
    pub table: Option<String>,
    /// A query for database sources.
    pub query: Option<String>,
    /// Format, when the path's extension does not say it.
    pub format: Option<Format>,
    /// Declared schema for text sources.
    pub schema: Option<SchemaRef>,
    pub csv: CsvOptions,
    pub parquet: ParquetOptions,
    /// Compression around a text output (`--compression gzip` for CSV or
    /// JSON, `compression = "zstd"`); its name's extension also sets it.
    pub compression: Option<crate::connect::format::compression::Compression>,
    pub max_rows_per_file: Option<u64>,
    pub infer_rows: usize,
    /// Parallel partitioned read of a database source.
    pub partition: Option<PartitionSpec>,
}

/// `partition = { column = "id", count = N }`: read a database source in
/// `count` ranges of an integer `column`, read in parallel: from one
/// exported snapshot on PostgreSQL, each on its own connection on SQL Server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSpec {
    pub column: String,
    pub count: usize,
}

impl Endpoint {
    pub fn new(connection: &str) -> Endpoint {
        Endpoint {
            connection: connection.to_string(),
            path: None,
            table: None,
            query: None,
            format: None,
            schema: None,
            csv: CsvOptions::default(),
            parquet: ParquetOptions::default(),
            compression: None,
            max_rows_per_file: None,
            infer_rows: DEFAULT_INFER_ROWS,
            partition: None,
        }
    }
}

/// One problem found in a spec, with the path of the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a spec, reported together.
#[derive(Debug)]
pub struct SpecErrors {
    pub source: String,
    pub errors: Vec<SpecError>,
}

impl std::fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{} has {n} error{}:",
            self.source,
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

impl SpecErrors {
    /// As an error that exits with status 2, problems in file order
    /// (`copy[2]` before `copy[10]`).
    pub fn into_error(mut self) -> anyhow::Error {
        self.errors
            .sort_by_cached_key(|e| parse::natural_key(&e.path));
        self.errors.dedup();
        let text = self.to_string();
        crate::error::usage(text, None)
    }
}

/// "did you mean" for a misspelt name among the known ones.
pub fn suggest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let given_l = given.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (strsim::levenshtein(&given_l, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_string())
}
