//! Writers for the file formats, each over a hashing, counting file writer.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{Array, ArrayRef, FixedSizeBinaryArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use super::conform::format_uuid;
use crate::schema::is_uuid;
use crate::spec::{CsvOptions, Format, ParquetOptions};

/// A file writer that hashes and counts what passes through it.
pub struct Hashing {
    inner: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
}

impl Hashing {
    pub fn new(file: File) -> Hashing {
        Hashing {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Flush, fsync, and return (bytes, sha256 hex).
    pub fn finish(&mut self) -> Result<(u64, String)> {
        self.inner.flush()?;
        self.inner.get_ref().sync_all()?;
        Ok((self.bytes, hex::encode(self.hasher.finalize_reset())))
    }
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One output file being written.
pub enum FormatWriter {
    Csv(arrow::csv::Writer<Hashing>, u64),
    Parquet(Box<ArrowWriter<Hashing>>),
    Json(arrow::json::LineDelimitedWriter<Hashing>, u64),
    Ipc(arrow::ipc::writer::FileWriter<Hashing>, u64),
}

/// Finished file: rows the writer recorded, bytes and digest.
pub struct Finished {
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// Parquet compression by name: `zstd`, `zstd(5)`, `snappy`, `lz4`, `gzip`, `none`.
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
        ("zstd", l) => ZstdLevel::try_new(l.unwrap_or(3))
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

/// Text formats have no UUID type: write UUIDs as their usual text form.
fn text_schema(schema: &SchemaRef) -> SchemaRef {
    if !schema.fields().iter().any(|f| is_uuid(f)) {
        return schema.clone();
    }
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                if is_uuid(f) {
                    Field::new(f.name(), DataType::Utf8, f.is_nullable())
                } else {
                    f.as_ref().clone()
                }
            })
            .collect::<Vec<_>>(),
    ))
}

fn text_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if Arc::ptr_eq(schema, &batch.schema()) || !batch.schema().fields().iter().any(|f| is_uuid(f)) {
        return Ok(batch.clone());
    }
    let columns: Vec<ArrayRef> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            if is_uuid(f) {
                let b = c
                    .as_any()
                    .downcast_ref::<FixedSizeBinaryArray>()
                    .expect("uuid columns are FixedSizeBinary(16)");
                Arc::new(
                    (0..b.len())
                        .map(|i| b.is_valid(i).then(|| format_uuid(b.value(i))))
                        .collect::<StringArray>(),
                ) as ArrayRef
            } else {
                c.clone()
            }
        })
        .collect();
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

impl FormatWriter {
    pub fn new(
        format: Format,
        out: Hashing,
        schema: &SchemaRef,
        csv: &CsvOptions,
        pq: &ParquetOptions,
    ) -> Result<FormatWriter> {
        Ok(match format {
            Format::Csv => {
                for f in schema.fields() {
                    if matches!(
                        f.data_type(),
                        DataType::List(_)
                            | DataType::LargeList(_)
                            | DataType::Struct(_)
                            | DataType::Map(_, _)
                    ) {
                        return Err(crate::error::input(
                            format!(
                                "column \"{}\" ({}) cannot be written to CSV",
                                f.name(),
                                f.data_type()
                            ),
                            Some("write Parquet, JSON Lines or Arrow IPC instead".to_string()),
                        ));
                    }
                }
                let mut b = arrow::csv::WriterBuilder::new()
                    .with_header(csv.header)
                    .with_delimiter(csv.delimiter)
                    .with_quote(csv.quote)
                    .with_null(csv.null.clone())
                    .with_timestamp_format("%Y-%m-%dT%H:%M:%S%.f".to_string())
                    .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%S%.f%:z".to_string())
                    .with_date_format("%Y-%m-%d".to_string())
                    .with_time_format("%H:%M:%S%.f".to_string());
                if let Some(e) = csv.escape {
                    b = b.with_escape(e).with_double_quote(false);
                }
                FormatWriter::Csv(b.build(out), 0)
            }
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(
                        parquet_compression(&pq.compression)
                            .map_err(|e| crate::error::usage(e, None))?,
                    )
                    .set_max_row_group_row_count(Some(pq.row_group_size))
                    .set_created_by(format!("convoy {}", env!("CARGO_PKG_VERSION")))
                    .build();
                FormatWriter::Parquet(Box::new(ArrowWriter::try_new(
                    out,
                    schema.clone(),
                    Some(props),
                )?))
            }
            Format::Json => FormatWriter::Json(arrow::json::LineDelimitedWriter::new(out), 0),
            Format::Ipc => {
                FormatWriter::Ipc(arrow::ipc::writer::FileWriter::try_new(out, schema)?, 0)
            }
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            FormatWriter::Csv(w, rows) => {
                let schema = text_schema(&batch.schema());
                w.write(&text_batch(batch, &schema)?)?;
                *rows += batch.num_rows() as u64;
            }
            FormatWriter::Parquet(w) => w.write(batch)?,
            FormatWriter::Json(w, rows) => {
                let schema = text_schema(&batch.schema());
                w.write(&text_batch(batch, &schema)?)?;
                *rows += batch.num_rows() as u64;
            }
            FormatWriter::Ipc(w, rows) => {
                w.write(batch)?;
                *rows += batch.num_rows() as u64;
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Result<Finished> {
        let (rows, (bytes, sha256)) = match self {
            FormatWriter::Csv(w, rows) => (rows, w.into_inner().finish()?),
            FormatWriter::Parquet(mut w) => {
                // The footer's row count is the writer's own record of what it wrote.
                let meta = w.finish()?;
                let rows = meta.file_metadata().num_rows() as u64;
                (rows, w.inner_mut().finish()?)
            }
            FormatWriter::Json(mut w, rows) => {
                w.finish()?;
                (rows, w.into_inner().finish()?)
            }
            FormatWriter::Ipc(mut w, rows) => {
                w.finish()?;
                (rows, w.into_inner()?.finish()?)
            }
        };
        Ok(Finished {
            rows,
            bytes,
            sha256,
        })
    }
}
