//! Command-line definitions. Shell completions are generated from these same
//! definitions (`convoy completions SHELL`), so they cannot drift apart.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::report::ProgressMode;
use crate::spec::cli_spec::CopyFlags;

pub const EXIT_CODES: &str = "\
Exit status:
  0    every copy succeeded and was verified
  1    a copy failed; its destination was left as it was before the run
       (also when a bug in convoy ended it: the message says so)
  2    usage or spec error (nothing was contacted)
  3    refused by policy: TLS, plaintext secret, region, insecure option without its flag
  4    verification failed (counts or checksums differ); nothing was published
  130  interrupted; the destination was left as it was";

/// Copy tables and files between data stores: TLS verified on every
/// connection, credentials never on the command line, and a destination that
/// is either fully updated or left exactly as it was.
#[derive(Debug, Parser)]
#[command(name = "convoy", version, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Print one JSON summary document on stdout instead of the table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Progress on stderr: bars on a terminal with `auto`; `always` also
    /// prints plain periodic lines when stderr is not a terminal.
    #[arg(long, global = true, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more about what is being done (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use
    /// is warned about and listed in the summary. Without this flag they are
    /// refused (exit 3).
    #[arg(long, global = true)]
    pub allow_insecure: bool,
    /// Permit copies whose source, staging and sink regions differ.
    #[arg(long, global = true)]
    pub allow_cross_region: bool,
    /// Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault).
    #[arg(long, global = true, env = "CONVOY_VAULT", value_name = "PATH")]
    pub vault: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy one source to one destination.
    ///
    /// Local paths, directories and globs (`data/*.csv`) are read as one
    /// table. The format comes from the file extension, or --source-format
    /// and --format.
    Copy(CopyArgs),
    /// Run the copies of a spec file (all, or those named with --copy).
    Run(RunArgs),
    /// Show what a spec (or SRC DST) would do, without doing it.
    Plan(PlanArgs),
    /// Check every endpoint of a spec (or SRC DST): DNS, TCP, TLS,
    /// login and access rights. Writes nothing. Exit 3 when an endpoint
    /// fails a security check, 1 when one is unreachable or refuses access.
    Check(PlanArgs),
    /// Extract a source into a new run on a stage (the first half of a
    /// staged copy); prints where the run is.
    Extract(ExtractArgs),
    /// Load a complete stage run into a destination (the second half of a
    /// staged copy), verifying every part; the run is marked loaded.
    Load(LoadArgs),
    /// List the runs of a stage, or remove runs.
    #[command(subcommand)]
    Stage(StageCmd),
    /// Manage the encrypted secret vault and sealed values.
    #[command(subcommand)]
    Secrets(crate::commands::secrets::SecretsCmd),
    /// Print shell completions for bash, zsh, fish or powershell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source: a file, directory or glob, or a database URL:
    /// `postgres://user@host:5432/db?table=schema.t` (password from PGPASSWORD),
    /// `mssql://user@host:1433/db?table=dbo.orders` (password from MSSQL_PASSWORD).
    pub source: String,
    /// Destination: a file, a directory ending in `/` for split output, or a
    /// database URL (`postgres://…?table=…`, `mssql://…?table=…`).
    pub destination: String,
    #[command(flatten)]
    pub opts: CopyOpts,
    /// Validate and open the source, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Source, as for `convoy copy`.
    pub source: String,
    /// The stage: s3://bucket/prefix/, az://container/prefix/, gs://bucket/prefix/
    /// or a local directory. The run goes into STAGE/RUN-ID/.
    #[arg(id = "stage_location", value_name = "STAGE")]
    pub stage: String,
    /// The run's id (default: one made from the time and a random part).
    /// Shards of one run share it (e.g. the scheduler's job name).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub shards: ShardOpts,
    /// Be the coordinator of a sharded extract: cut the source once for
    /// every shard (freeze a listing; fix key ranges and hold one snapshot
    /// that every shard joins), write the cut into the run, and wait until
    /// every shard has written its manifest. Needs --shards and --run-id.
    #[arg(long)]
    pub coordinate: bool,
    /// Wait (up to 10 minutes) for the coordinator's cut before extracting
    /// this shard.
    #[arg(long)]
    pub coordinated: bool,
    #[command(flatten)]
    pub opts: CopyOpts,
    /// Validate and open the source, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print what the extract would do and the endpoints it needs; contact
    /// nothing.
    #[arg(long, conflicts_with = "dry_run")]
    pub plan: bool,
}

/// Which share of the work this process takes.
#[derive(Debug, Args, Clone, Default)]
pub struct ShardOpts {
    /// Take share I of N (1 ≤ I ≤ N), e.g. --shard 2/3.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Take one share of N, the index from the scheduler's environment:
    /// CONVOY_SHARD (1-based), JOB_COMPLETION_INDEX (Kubernetes Indexed
    /// Job), AWS_BATCH_JOB_ARRAY_INDEX, SLURM_ARRAY_TASK_ID. N may also come
    /// from CONVOY_SHARDS.
    #[arg(long, value_name = "N", env = "CONVOY_SHARDS")]
    pub shards: Option<u32>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The run: STAGE/RUN-ID/ as `convoy extract` printed it.
    pub run: String,
    /// Destination, as for `convoy copy`.
    pub destination: String,
    #[command(flatten)]
    pub opts: CopyOpts,
    /// Load a run that was loaded before (its rows are added again).
    #[arg(long)]
    pub force: bool,
    /// Check the run and open the destination, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print what the load would do and the endpoints it needs; contact
    /// nothing.
    #[arg(long, conflicts_with = "dry_run")]
    pub plan: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum StageCmd {
    /// The runs of a stage: state (complete, incomplete, loaded), rows,
    /// bytes, age.
    List {
        /// The stage: s3://bucket/prefix/, az://…, gs://…, or a directory.
        stage: String,
    },
    /// Remove one run (STAGE/RUN-ID/), or with --older-than every run of a
    /// stage older than that.
    Rm {
        /// A run (STAGE/RUN-ID/), or a stage with --older-than.
        target: String,
        /// Remove every run whose newest object is older than this
        /// (e.g. 7d, 12h, 30m).
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Only incomplete runs (abandoned extracts).
        #[arg(long)]
        incomplete: bool,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The spec file (TOML).
    pub spec: PathBuf,
    /// Run only the copies with these names (repeatable).
    #[arg(long = "copy", value_name = "NAME")]
    pub copies: Vec<String>,
    /// Run only this process's share of the copies (copy k of the selected
    /// ones goes to share k mod N + 1).
    #[command(flatten)]
    pub shards: ShardOpts,
    /// Validate and open every source, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A spec file, or SRC DST.
    #[arg(num_args = 1..=2, value_name = "SPEC | SRC DST", required = true)]
    pub args: Vec<String>,
    /// With a spec: only these copies (repeatable).
    #[arg(long = "copy", value_name = "NAME")]
    pub copies: Vec<String>,
    #[command(flatten)]
    pub opts: CopyOpts,
}

/// Settings of a command-line copy; a spec file has the same under
/// `from`/`to`. They reach the spec as plain [`CopyFlags`].
#[derive(Debug, Args, Default, Clone)]
pub struct CopyOpts {
    /// Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Source format, when the extension does not tell it.
    #[arg(long, value_name = "FORMAT")]
    pub source_format: Option<String>,
    /// Column types of a CSV or JSON source, e.g.
    /// `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are
    /// inferred from a sample.
    #[arg(long, value_name = "COLUMNS")]
    pub schema: Option<String>,
    /// Rows sampled to infer a CSV or JSON schema.
    #[arg(long, value_name = "N")]
    pub infer_rows: Option<usize>,
    /// CSV files have no header line (columns are named column_1, column_2, …).
    /// Without --header or --no-header, whether line 1 is a header is
    /// detected from a sample.
    #[arg(long, conflicts_with = "header")]
    pub no_header: bool,
    /// CSV files have a header line, even if its fields look like data.
    #[arg(long)]
    pub header: bool,
    /// CSV field delimiter (one character, or `tab`); detected from a
    /// sample among `,` `;` tab `|` when not given (tab for `.tsv`).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// CSV quote character.
    #[arg(long, value_name = "CHAR")]
    pub quote: Option<String>,
    /// CSV escape character (default: quotes are doubled).
    #[arg(long, value_name = "CHAR")]
    pub escape: Option<String>,
    /// Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted
    /// one. By default a `""` in a text column is an empty string, as
    /// PostgreSQL, DuckDB and Spark write it.
    #[arg(long)]
    pub quoted_empty_is_null: bool,
    /// Text that stands for NULL in CSV (default: empty field).
    #[arg(long, value_name = "TEXT")]
    pub null: Option<String>,
    /// Split the output into files of at most N rows in the destination
    /// directory, with a manifest written last.
    #[arg(long, value_name = "N")]
    pub max_rows_per_file: Option<u64>,
    /// Parquet row-group size in rows.
    #[arg(long, value_name = "ROWS")]
    pub row_group_size: Option<usize>,
    /// Compression. Parquet: the page codec, zstd (default), zstd(LEVEL),
    /// snappy, lz4, gzip, none. CSV and JSON Lines: the file's, gzip,
    /// gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in
    /// .gz, .zst, .bz2 or .xz also selects it).
    #[arg(long, value_name = "CODEC")]
    pub compression: Option<String>,
    /// How the destination is updated: replace (files, default), append,
    /// merge, incremental (databases).
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// Key column of `--mode merge` (repeat for a composite key).
    #[arg(long, value_name = "COLUMN")]
    pub key: Vec<String>,
    /// Cursor column of `--mode incremental`: only rows with a greater value
    /// than the destination's maximum are copied.
    #[arg(long, value_name = "COLUMN")]
    pub cursor: Option<String>,
    /// A query to read instead of a table, for a database source
    /// (`postgres://user@host/db`, `mssql://user@host/db`).
    #[arg(long, value_name = "SQL")]
    pub query: Option<String>,
    /// Name of the copy in reports.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Copy through a stage: extract the source into a run under this
    /// location (s3://, az://, gs://, a local directory), load the
    /// destination from it, then remove the run.
    #[arg(long, value_name = "URL")]
    pub stage: Option<String>,
    /// Keep the staged run after a successful load.
    #[arg(long)]
    pub keep_stage: bool,
    /// Encrypt every staged part on this machine before it leaves (age,
    /// to this machine's identity unless --recipient is given).
    #[arg(long)]
    pub encrypt_stage: bool,
    /// Who may decrypt the staged parts: an `age1…` recipient, as printed by
    /// `convoy secrets identity` on that machine (repeatable; implies
    /// --encrypt-stage).
    #[arg(long = "recipient", value_name = "AGE_RECIPIENT")]
    pub recipients: Vec<String>,
}

impl CopyOpts {
    pub fn flags(&self) -> CopyFlags {
        CopyFlags {
            format: self.format.clone(),
            source_format: self.source_format.clone(),
            schema: self.schema.clone(),
            infer_rows: self.infer_rows,
            no_header: self.no_header,
            header: self.header,
            delimiter: self.delimiter.clone(),
            quote: self.quote.clone(),
            escape: self.escape.clone(),
            quoted_empty_is_null: self.quoted_empty_is_null,
            null: self.null.clone(),
            max_rows_per_file: self.max_rows_per_file,
            row_group_size: self.row_group_size,
            compression: self.compression.clone(),
            mode: self.mode.clone(),
            key: self.key.clone(),
            cursor: self.cursor.clone(),
            query: self.query.clone(),
            name: self.name.clone(),
            keep_stage: self.keep_stage,
            encrypt_stage: self.encrypt_stage,
            recipients: self.recipients.clone(),
        }
    }
}
