//! The file formats convoy reads and writes — CSV, Parquet, JSON Lines and
//! Arrow IPC — over any bytes: local files or objects of a store. Both the
//! local connector and the object stores read and write through here, so a
//! format means the same wherever its bytes are.
//!
//! - `input`: where bytes come from (a file, an object), streamed or at random.
//! - `read`: text samples, CSV and JSON readers, Parquet and IPC openers.
//! - `infer`: exact schema inference from a sample of text.
//! - `conform`: strict conversion of text to the declared or inferred types.
//! - `write`: writers for every format over a hashing, counting output.
//! - `source`: files of one format as one table (a [`source::FileSource`]).

pub mod conform;
pub mod infer;
pub mod input;
pub mod read;
pub mod source;
pub mod write;

use arrow::datatypes::SchemaRef;

use crate::connect::Output;
use crate::spec::Format;

pub use source::FileSource;
pub use write::parquet_compression;

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
