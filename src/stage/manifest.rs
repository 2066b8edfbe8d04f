//! What a stage run holds, written last by each shard of an extract: the
//! commit marker of the run. A run whose shards' manifests are not all there
//! is incomplete and is never loaded.
//!
//! Layout of a run under `<stage>/<run-id>/`:
//! - `part-s0001-00000.parquet` (`.parquet.age` when encrypted): the rows,
//!   as Parquet with the exact types of the source;
//! - `_manifest-s0001-of-0001.json`: this file, one per shard;
//! - `_loaded.json`: written after a successful load.

use std::sync::Arc;

use anyhow::Result;
use arrow::datatypes::{Schema, SchemaRef};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Version of the layout and of this document.
pub const STAGE_VERSION: u32 = 1;

/// The name of shard `shard` of `shards`'s manifest.
pub fn manifest_name(shard: u32, shards: u32) -> String {
    format!("_manifest-s{shard:04}-of-{shards:04}.json")
}

/// `(shard, shards)` of a manifest's name.
pub fn parse_manifest_name(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("_manifest-s")?.strip_suffix(".json")?;
    let (i, n) = rest.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// The prefix of shard `shard`'s parts.
pub fn part_prefix(shard: u32) -> String {
    format!("part-s{shard:04}-")
}

/// Marker written after a successful load.
pub const LOADED: &str = "_loaded.json";

/// How the parts are encrypted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Encryption {
    /// `age-encryption.org/v1`.
    pub format: String,
    /// Who can decrypt (`age1…`): public keys, not secrets.
    pub recipients: Vec<String>,
}

/// One part of a shard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Part {
    /// Object name, relative to the run.
    pub name: String,
    pub rows: u64,
    /// Bytes as stored (ciphertext when encrypted).
    pub bytes: u64,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
}

/// One shard's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub convoy_stage: u32,
    pub convoy_version: String,
    pub run_id: String,
    /// 1-based.
    pub shard: u32,
    pub shards: u32,
    pub created_at: String,
    /// The source, as reports describe it (no secrets).
    pub source: String,
    pub source_region: Option<String>,
    /// The schema in convoy's notation, for people.
    pub schema: String,
    /// The exact Arrow schema: an Arrow IPC stream with no batches, base64.
    pub arrow_schema: String,
    pub format: String,
    pub encryption: Option<Encryption>,
    pub rows: u64,
    pub bytes: u64,
    pub parts: Vec<Part>,
    /// How the source was cut when the run has several shards (a listing's
    /// digest, key bounds): the same in every shard's manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<serde_json::Value>,
}

/// Written into a run by the coordinator of a sharded extract: the cut every
/// shard uses.
pub const SHARDS: &str = "_shards.json";

/// A schema as an Arrow IPC stream without batches, base64.
pub fn encode_schema(schema: &Schema) -> Result<String> {
    let mut buf = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, schema)?;
    w.finish()?;
    drop(w);
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

/// The schema [`encode_schema`] wrote.
pub fn decode_schema(text: &str) -> Result<SchemaRef> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| anyhow::anyhow!("the manifest's schema is not base64: {e}"))?;
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    Ok(Arc::clone(&reader.schema()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, TimeUnit};

    #[test]
    fn names_and_schemas_round_trip() {
        assert_eq!(manifest_name(2, 12), "_manifest-s0002-of-0012.json");
        assert_eq!(parse_manifest_name(&manifest_name(2, 12)), Some((2, 12)));
        assert_eq!(parse_manifest_name("_loaded.json"), None);
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("d", DataType::Decimal128(18, 4), true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into())),
                true,
            ),
        ]);
        let back = decode_schema(&encode_schema(&schema).unwrap()).unwrap();
        assert_eq!(back.as_ref(), &schema);
    }
}
