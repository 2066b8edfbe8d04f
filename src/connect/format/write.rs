//! Writers for the file formats, each over a hashing, counting writer into a
//! file or an object upload ([`Durable`]).

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

/// Where a writer's bytes end up: a file, or an upload to an object store.
pub trait Durable: Write + Send {
    /// Make everything written so far durable (fsync a file; hand the last
    /// part to an upload). Nothing is published by this.
    fn sync(&mut self) -> std::io::Result<()>;
    /// Write bytes that are already in a buffer of their own; an upload
    /// takes them without copying.
    fn write_bytes(&mut self, data: bytes::Bytes) -> std::io::Result<()> {
        self.write_all(&data)
    }
}

impl Durable for File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_all()
    }
}

/// A writer that hashes and counts what passes through it.
pub struct Hashing {
    inner: BufWriter<Box<dyn Durable>>,
    hasher: Sha256,
    bytes: u64,
}

impl Hashing {
    pub fn new(file: File) -> Hashing {
        Hashing::over(Box::new(file))
    }

    pub fn over(out: Box<dyn Durable>) -> Hashing {
        Hashing {
            inner: BufWriter::with_capacity(1 << 20, out),
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Write a buffer of its own (see [`Durable::write_bytes`]).
    pub fn write_bytes(&mut self, data: bytes::Bytes) -> std::io::Result<()> {
        self.inner.flush()?;
        self.hasher.update(&data);
        self.bytes += data.len() as u64;
        self.inner.get_mut().write_bytes(data)
    }

    /// Flush, make durable, and return (bytes, sha256 hex).
    pub fn finish(&mut self) -> Result<(u64, String)> {
        self.inner.flush()?;
        self.inner.get_mut().sync()?;
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
    /// Created at the first batch, which decides the dictionary columns.
    ParquetPending(
        Option<(
            Hashing,
            SchemaRef,
            parquet::file::properties::WriterPropertiesBuilder,
        )>,
    ),
    Parquet(Box<ParallelParquet>),
    Json(arrow::json::LineDelimitedWriter<Hashing>, u64),
    Ipc(arrow::ipc::writer::FileWriter<Hashing>, u64),
    /// A Parquet file's bytes, copied unchanged.
    Raw(RawParquet),
}

/// A Parquet file copied byte for byte. Its bytes pass through unchanged;
/// at the end the row count is read back from the footer of the bytes that
/// were written, so what the sink recorded is checked the same way as for
/// a file convoy encoded.
pub struct RawParquet {
    out: Hashing,
    /// The size of the source file: the bytes written must add up to it.
    size: u64,
    /// Bytes of the end of the file kept to read the footer from.
    keep: usize,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl RawParquet {
    /// `footer_len`: the footer's size in the source (metadata and the
    /// final 8 bytes).
    fn new(out: Hashing, size: u64, footer_len: u64) -> RawParquet {
        let keep = footer_len.max(8) as usize;
        RawParquet {
            out,
            size,
            keep,
            head: Vec::with_capacity(4),
            tail: Vec::with_capacity(keep),
        }
    }

    fn write(&mut self, data: bytes::Bytes) -> Result<()> {
        if self.head.len() < 4 {
            let n = (4 - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
        }
        if data.len() >= self.keep {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - self.keep..]);
        } else {
            let excess = (self.tail.len() + data.len()).saturating_sub(self.keep);
            self.tail.drain(..excess);
            self.tail.extend_from_slice(&data);
        }
        self.out.write_bytes(data)?;
        Ok(())
    }

    /// Rows in the footer of what was written.
    fn rows(&self) -> Result<u64> {
        let bad = |why: String| {
            crate::error::verify(format!(
                "the copied bytes are not a complete Parquet file: {why}; nothing was published"
            ))
        };
        if self.head != b"PAR1" {
            return Err(bad("they do not start with PAR1".into()));
        }
        let n = self.tail.len();
        if n < 8 {
            return Err(bad(format!("only {n} bytes")));
        }
        let tail = parquet::file::metadata::FooterTail::try_from(&self.tail[n - 8..])
            .map_err(|e| bad(e.to_string()))?;
        if tail.is_encrypted_footer() {
            return Err(bad("the footer is encrypted".into()));
        }
        let len = tail.metadata_length();
        if len + 8 > n {
            return Err(bad(format!(
                "the footer ({len} bytes) is larger than the source's"
            )));
        }
        let meta = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(
            &self.tail[n - 8 - len..n - 8],
        )
        .map_err(|e| bad(e.to_string()))?;
        u64::try_from(meta.file_metadata().num_rows())
            .map_err(|_| bad("the footer's row count is negative".into()))
    }
}

/// Finished file: rows the writer recorded, bytes and digest.
#[derive(Debug)]
pub struct Finished {
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// A Parquet writer that encodes the columns of each batch on several
/// threads. Encoding (dictionaries, statistics, compression) is the costly
/// part of writing Parquet and columns are independent, so they are split
/// across the machine's cores; the row groups and file layout are the same
/// as the single-threaded writer's.
pub struct ParallelParquet {
    file: parquet::file::writer::SerializedFileWriter<Hashing>,
    factory: parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    columns: Vec<parquet::arrow::arrow_writer::ArrowColumnWriter>,
    group_rows: usize,
    max_group_rows: usize,
    group_index: usize,
    threads: usize,
}

impl ParallelParquet {
    fn new(out: Hashing, schema: SchemaRef, props: WriterProperties) -> Result<ParallelParquet> {
        let max_group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        // The ArrowWriter sets up the file (schema, Arrow metadata); its
        // lower layers are then driven column by column.
        let (file, factory) =
            ArrowWriter::try_new(out, schema.clone(), Some(props))?.into_serialized_writer()?;
        let columns = factory.create_column_writers(0)?;
        Ok(ParallelParquet {
            file,
            factory,
            schema,
            columns,
            group_rows: 0,
            max_group_rows,
            group_index: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (self.max_group_rows - self.group_rows).min(batch.num_rows() - offset);
            self.encode(&batch.slice(offset, take))?;
            offset += take;
            self.group_rows += take;
            if self.group_rows == self.max_group_rows {
                self.close_group()?;
            }
        }
        Ok(())
    }

    fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        // Each leaf with the in-memory size of its column as the measure of
        // the work it takes.
        let mut leaves = Vec::with_capacity(self.columns.len());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            let these = parquet::arrow::arrow_writer::compute_leaves(field, column)?;
            let size = column.get_array_memory_size() / these.len().max(1);
            leaves.extend(these.into_iter().map(|leaf| (leaf, size)));
        }
        let mut jobs: Vec<_> = self
            .columns
            .iter_mut()
            .zip(leaves)
            .map(|(w, (leaf, size))| (w, leaf, size))
            .collect();
        if self.threads < 2 || jobs.len() < 2 {
            for (w, leaf, _) in jobs {
                w.write(&leaf)?;
            }
            return Ok(());
        }
        // Largest columns first, each to the least loaded thread.
        jobs.sort_by_key(|job| std::cmp::Reverse(job.2));
        let n = self.threads.min(jobs.len());
        let mut shares: Vec<(usize, Vec<_>)> = (0..n).map(|_| (0, Vec::new())).collect();
        for (w, leaf, size) in jobs {
            let least = shares
                .iter_mut()
                .min_by_key(|(load, _)| *load)
                .expect("n >= 1");
            least.0 += size;
            least.1.push((w, leaf));
        }
        let mut shares = shares.into_iter().map(|(_, jobs)| jobs);
        let mine = shares.next().expect("n >= 1");
        std::thread::scope(|scope| -> Result<()> {
            let handles: Vec<_> = shares
                .map(|jobs| {
                    scope.spawn(move || -> Result<()> {
                        for (w, leaf) in jobs {
                            w.write(&leaf)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for (w, leaf) in mine {
                w.write(&leaf)?;
            }
            for h in handles {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a Parquet encoding thread panicked"))??;
            }
            Ok(())
        })
    }

    fn close_group(&mut self) -> Result<()> {
        if self.group_rows == 0 {
            return Ok(());
        }
        self.group_index += 1;
        let next = self.factory.create_column_writers(self.group_index)?;
        let done = std::mem::replace(&mut self.columns, next);
        let mut group = self.file.next_row_group()?;
        for w in done {
            w.close()?.append_to_row_group(&mut group)?;
        }
        group.close()?;
        self.group_rows = 0;
        Ok(())
    }

    /// Finish the file; the row count comes from the footer just written.
    fn finish(mut self) -> Result<(u64, (u64, String))> {
        self.close_group()?;
        let meta = self.file.finish()?;
        let rows = meta.file_metadata().num_rows() as u64;
        Ok((rows, self.file.inner_mut().finish()?))
    }
}

/// Whether a flat column's first rows repeat values enough for dictionary
/// encoding to pay: fewer distinct values than half the non-null values.
/// Trying a dictionary on unique values (ids, UUIDs, free text) costs about a
/// third of the write time and gains nothing. `None` for nested columns,
/// where the writer's default stays.
fn repeats_values(column: &ArrayRef) -> Option<bool> {
    if column.data_type().is_nested() {
        return None;
    }
    let sample = column.slice(0, column.len().min(4096));
    let non_null = sample.len() - sample.null_count();
    if non_null == 0 {
        return Some(true);
    }
    let converter =
        arrow::row::RowConverter::new(vec![arrow::row::SortField::new(sample.data_type().clone())])
            .ok()?;
    let rows = converter.convert_columns(&[sample]).ok()?;
    let distinct: std::collections::HashSet<&[u8]> = rows.iter().map(|r| r.data()).collect();
    Some(distinct.len() * 2 < non_null)
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
                    .set_compression(pq.codec().map_err(|e| crate::error::usage(e, None))?)
                    .set_max_row_group_row_count(Some(pq.row_group_size))
                    .set_created_by(format!("convoy {}", env!("CARGO_PKG_VERSION")));
                FormatWriter::ParquetPending(Some((out, schema.clone(), props)))
            }
            Format::Json => FormatWriter::Json(arrow::json::LineDelimitedWriter::new(out), 0),
            Format::Ipc => {
                FormatWriter::Ipc(arrow::ipc::writer::FileWriter::try_new(out, schema)?, 0)
            }
        })
    }

    /// The writer of one output: `raw`'s bytes unchanged
    /// ([`FormatWriter::write_bytes`]) when the sink took a byte-for-byte
    /// copy, else a new encoding in `format`. Returns it with the rows it
    /// holds from the start (all of `raw`'s, checked against its footer when
    /// it finishes).
    pub fn open(
        out: Hashing,
        raw: Option<&super::RawFile>,
        format: Format,
        schema: &SchemaRef,
        csv: &CsvOptions,
        pq: &ParquetOptions,
    ) -> Result<(FormatWriter, u64)> {
        Ok(match raw {
            Some(raw) => (
                FormatWriter::Raw(RawParquet::new(out, raw.size, raw.footer_len)),
                raw.rows,
            ),
            None => (FormatWriter::new(format, out, schema, csv, pq)?, 0),
        })
    }

    /// A writer that takes a Parquet file's bytes unchanged.
    #[cfg(test)]
    fn raw(out: Hashing, size: u64, footer_len: u64) -> FormatWriter {
        FormatWriter::Raw(RawParquet::new(out, size, footer_len))
    }

    /// Bytes handed to the output so far (Parquet: whole row groups).
    pub fn bytes_written(&self) -> u64 {
        match self {
            FormatWriter::Parquet(w) => w.file.bytes_written() as u64,
            _ => 0,
        }
    }

    /// Bytes of a file copied unchanged (a writer made by [`FormatWriter::raw`]).
    pub fn write_bytes(&mut self, data: bytes::Bytes) -> Result<()> {
        match self {
            FormatWriter::Raw(w) => w.write(data),
            _ => Err(anyhow::anyhow!(
                "internal error: raw bytes given to a format writer"
            )),
        }
    }

    /// Turn a pending Parquet writer into a real one, with dictionary
    /// encoding only for the columns whose first rows repeat values.
    fn start_parquet(&mut self, first: Option<&RecordBatch>) -> Result<()> {
        if let FormatWriter::ParquetPending(pending) = self {
            let (out, schema, mut props) = pending.take().expect("pending writer");
            if let Some(batch) = first {
                for (field, column) in schema.fields().iter().zip(batch.columns()) {
                    if let Some(repeats) = repeats_values(column) {
                        props = props.set_column_dictionary_enabled(
                            parquet::schema::types::ColumnPath::from(field.name().as_str()),
                            repeats,
                        );
                    }
                }
            }
            *self =
                FormatWriter::Parquet(Box::new(ParallelParquet::new(out, schema, props.build())?));
        }
        Ok(())
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.start_parquet(Some(batch))?;
        match self {
            FormatWriter::ParquetPending(_) => unreachable!("started above"),
            FormatWriter::Raw(_) => {
                return Err(anyhow::anyhow!(
                    "internal error: a batch given to a byte-for-byte copy"
                ))
            }
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

    pub fn finish(mut self) -> Result<Finished> {
        self.start_parquet(None)?;
        let (rows, (bytes, sha256)) = match self {
            FormatWriter::ParquetPending(_) => unreachable!("started above"),
            FormatWriter::Csv(w, rows) => (rows, w.into_inner().finish()?),
            FormatWriter::Parquet(w) => w.finish()?,
            FormatWriter::Raw(mut w) => {
                let rows = w.rows()?;
                let (bytes, sha256) = w.out.finish()?;
                if bytes != w.size {
                    return Err(crate::error::verify(format!(
                        "the source file is {} bytes but {bytes} bytes were written; nothing was published",
                        w.size
                    )));
                }
                (rows, (bytes, sha256))
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    fn parquet_bytes(rows: i64) -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(0..rows))],
        )
        .unwrap();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out
    }

    fn footer_len(file: &[u8]) -> u64 {
        let n = file.len();
        u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as u64 + 8
    }

    fn copy_raw(data: &[u8], footer_len: u64, chunk: usize) -> Result<Finished> {
        let out = Hashing::new(tempfile::tempfile().unwrap());
        let mut w = FormatWriter::raw(out, data.len() as u64, footer_len);
        for c in data.chunks(chunk) {
            w.write_bytes(bytes::Bytes::copy_from_slice(c))?;
        }
        w.finish()
    }

    #[test]
    fn a_raw_copy_reads_its_rows_from_the_footer_of_what_it_wrote() {
        let file = parquet_bytes(1000);
        for chunk in [1, 7, 4096, file.len()] {
            let done = copy_raw(&file, footer_len(&file), chunk).unwrap();
            assert_eq!(done.rows, 1000, "chunks of {chunk}");
            assert_eq!(done.bytes, file.len() as u64);
            assert_eq!(done.sha256, hex::encode(Sha256::digest(&file)));
        }
    }

    #[test]
    fn a_raw_copy_of_bytes_that_are_not_a_whole_parquet_file_fails_verification() {
        let file = parquet_bytes(10);
        let len = footer_len(&file);
        let cut = &file[..file.len() - 1];
        let mut shifted = b"XXXX".to_vec();
        shifted.extend_from_slice(&file[4..]);
        for (what, data) in [("truncated", cut), ("no PAR1 at the start", &shifted)] {
            let err = copy_raw(data, len, 4096).unwrap_err();
            assert_eq!(
                crate::error::exit_kind(&err),
                crate::error::ExitKind::Verify,
                "{what}: {err}"
            );
            assert!(
                err.to_string().contains("not a complete Parquet file"),
                "{err}"
            );
        }
        // The source's footer was smaller than the one that arrived.
        let err = copy_raw(&file, 8, 4096).unwrap_err();
        assert!(
            err.to_string().contains("larger than the source's"),
            "{err}"
        );
    }
}
