//! The file formats convoy reads and writes — CSV, Parquet, JSON Lines and
//! Arrow IPC — over any bytes: local files or objects of a store. Both the
//! local connector and the object stores read and write through here, so a
//! format means the same wherever its bytes are.
//!
//! - `input`: where bytes come from (a file, an object), streamed or at random.
//! - `compression`: gzip, zstd, bzip2 and xz around text files, streamed
//!   both ways.
//! - `read`: text samples, CSV and JSON readers, Parquet and IPC openers
//!   (what a Parquet file promises is checked before a row is read).
//! - `records`: CSV records split and built into columns, for the usual
//!   dialect (arrow-csv reads the rest).
//! - `scan`: a pass over CSV bytes for what the decoders do not tell (quotes
//!   never closed, blank lines, file lines).
//! - `pages`: Parquet page checksums checked from a file's bytes, for the
//!   byte-for-byte copy, which decodes no page.
//! - `infer`: exact schema inference from a sample of text.
//! - `conform`: strict conversion of text to the declared or inferred types.
//! - `write`: writers for every format over a hashing, counting output, and
//!   the check of what each format can hold ([`write::check_schema`]).
//! - `source`: files of one format as one table (a [`source::FileSource`]).

pub mod compression;
pub mod conform;
pub mod infer;
pub mod input;
pub mod pages;
pub mod read;
pub mod records;
pub mod scan;
pub mod source;
pub mod write;

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use crate::connect::{Encoding, Output};
use crate::spec::{Format, ParquetOptions};

pub use source::FileSource;

/// The name of the manifest written last into split output.
pub const MANIFEST: &str = "_convoy_manifest.json";

/// The manifest of a split output: every file or object of the output with
/// its rows, size and SHA-256. Written last; an output without it is not
/// complete.
pub fn manifest_json(
    run_id: &str,
    format: Format,
    schema: &SchemaRef,
    rows: u64,
    parts: &[Output],
) -> serde_json::Value {
    serde_json::json!({
        "convoy_version": env!("CARGO_PKG_VERSION"),
        "run_id": run_id,
        "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "format": format.name(),
        "schema": crate::schema::format_schema(schema),
        "rows": rows,
        "files": parts.iter().map(|p| serde_json::json!({
            "name": p.location.rsplit(['/', '\\']).next(),
            "rows": p.rows,
            "bytes": p.bytes,
            "sha256": p.sha256,
        })).collect::<Vec<_>>(),
    })
}

/// The encoding of a Parquet file's bytes, copied unchanged.
pub const PARQUET_FILE: &str = "parquet file";

/// A source that is exactly one Parquet file offers its bytes in
/// [`PARQUET_FILE`]. A sink that writes one Parquet file and has no writing
/// options to apply takes them unchanged instead of decoding and encoding
/// every row: the copy is then as fast as the stores move bytes, and
/// identical to the source, SHA-256 included. The rows are verified from the
/// footer of the bytes written, and the page checksums the file carries are
/// checked as its bytes pass ([`pages::PageCheck`]); pages are not decoded.
#[derive(Clone)]
pub struct RawFile {
    pub input: Arc<dyn input::Input>,
    /// Rows, from the source's footer.
    pub rows: u64,
    pub size: u64,
    /// Bytes at the end of the file that hold the footer.
    pub footer_len: u64,
    /// Its column chunks, whose pages' checksums are checked in passing.
    pub spans: Vec<pages::ChunkSpan>,
}

impl RawFile {
    pub fn encoding(&self) -> Encoding {
        Encoding::new(
            PARQUET_FILE,
            "byte for byte: parquet to parquet with no writing options; page checksums checked where the file has them, rows verified from the footer of the bytes written".to_string(),
            self.clone(),
        )
    }
}

/// The file an encoding offers, when a file sink writing `format` (split
/// or not, with `parquet` writing options) takes it unchanged.
pub fn takes_raw(
    encoding: &Encoding,
    format: Format,
    split: Option<u64>,
    parquet: &ParquetOptions,
) -> Option<RawFile> {
    let raw = encoding.detail::<RawFile>(PARQUET_FILE)?;
    let takes = format == Format::Parquet && split.is_none() && !parquet.explicit;
    takes.then(|| raw.clone())
}
