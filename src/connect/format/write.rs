//! Writers for the file formats, each over a hashing, counting writer into a
//! file or an object upload ([`Durable`]).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use anyhow::Result;
use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef, IntervalUnit, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use super::compression::{Compression, Encoder};
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

/// A writer that hashes and counts what passes through it, after an
/// optional compression ([`Hashing::compressed`]): the size and SHA-256 are
/// those of the bytes that reach the file or object.
pub struct Hashing {
    /// `None` once finished.
    out: Option<Encoder<Hashed>>,
}

/// The counting, hashing end of [`Hashing`].
pub struct Hashed {
    inner: BufWriter<Box<dyn Durable>>,
    /// `None` when the writer below hashes what it stores itself.
    hasher: Option<Sha256>,
    bytes: u64,
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn finished() -> std::io::Error {
    std::io::Error::other("internal error: a write after the output was finished")
}

impl Hashing {
    pub fn new(file: File) -> Hashing {
        Hashing::over(Box::new(file))
    }

    pub fn over(out: Box<dyn Durable>) -> Hashing {
        Hashing::with(out, Some(Sha256::new()))
    }

    /// Counts what passes, but leaves hashing to `out`, which hashes what
    /// it stores (the SHA-256 [`Hashing::finish`] returns is then empty).
    pub fn counting(out: Box<dyn Durable>) -> Hashing {
        Hashing::with(out, None)
    }

    fn with(out: Box<dyn Durable>, hasher: Option<Sha256>) -> Hashing {
        Hashing {
            out: Some(Encoder::Plain(Hashed {
                inner: BufWriter::with_capacity(1 << 20, out),
                hasher,
                bytes: 0,
            })),
        }
    }

    /// The same output with what is written compressed first (before
    /// anything is written).
    pub fn compressed(mut self, c: Compression) -> Result<Hashing> {
        match self.out.take() {
            Some(Encoder::Plain(h)) => Ok(Hashing {
                out: Some(Encoder::new(h, c)?),
            }),
            _ => Err(anyhow::anyhow!(
                "internal error: compression set on an output in use"
            )),
        }
    }

    fn encoder(&mut self) -> std::io::Result<&mut Encoder<Hashed>> {
        self.out.as_mut().ok_or_else(finished)
    }

    /// Write a buffer of its own (see [`Durable::write_bytes`]).
    pub fn write_bytes(&mut self, data: bytes::Bytes) -> std::io::Result<()> {
        match self.encoder()? {
            Encoder::Plain(h) => {
                h.inner.flush()?;
                if let Some(hasher) = &mut h.hasher {
                    hasher.update(&data);
                }
                h.bytes += data.len() as u64;
                h.inner.get_mut().write_bytes(data)
            }
            e => e.write_all(&data),
        }
    }

    /// End the compression, flush, make durable, and return (bytes, sha256
    /// hex).
    pub fn finish(&mut self) -> Result<(u64, String)> {
        let mut h = self.out.take().ok_or_else(finished)?.finish()?;
        h.inner.flush()?;
        h.inner.get_mut().sync()?;
        let digest = h
            .hasher
            .map(|s| hex::encode(s.finalize()))
            .unwrap_or_default();
        Ok((h.bytes, digest))
    }
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.encoder()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.encoder()?.flush()
    }
}

type JsonWriter = arrow::json::Writer<Hashing, arrow::json::writer::LineDelimited>;

/// A CSV or JSON Lines writer, how batches become text for it, and the rows
/// written.
pub struct TextWriter<W> {
    w: W,
    plan: TextPlan,
    rows: u64,
}

/// CSV as PostgreSQL, DuckDB and Spark write it, which is how convoy reads
/// it back: NULL is an empty field (or the `null` text), an empty string is
/// a quoted empty field `""`, and a field is quoted when it holds the
/// delimiter, the quote, the escape or a line end. Values are formatted by
/// arrow's display (timestamps in ISO 8601 with their offset).
pub struct CsvWriter {
    out: Hashing,
    delimiter: u8,
    quote: u8,
    escape: Option<u8>,
    null: String,
    header: bool,
    beginning: bool,
    line: Vec<u8>,
    field: String,
}

impl CsvWriter {
    fn new(out: Hashing, csv: &CsvOptions) -> CsvWriter {
        CsvWriter {
            out,
            delimiter: csv.delimiter,
            quote: csv.quote,
            escape: csv.escape,
            null: csv.null.clone(),
            header: csv.header,
            beginning: true,
            line: Vec::with_capacity(1 << 16),
            field: String::with_capacity(256),
        }
    }

    /// One field, quoted when it must be (`force`: an empty string).
    fn push(&mut self, field: &[u8], force: bool) {
        let (d, q) = (self.delimiter, self.quote);
        let special =
            |b: &u8| *b == d || *b == q || *b == b'\n' || *b == b'\r' || Some(*b) == self.escape;
        if !force && !field.iter().any(special) {
            self.line.extend_from_slice(field);
            return;
        }
        self.line.push(q);
        for &b in field {
            if b == q {
                self.line.push(self.escape.unwrap_or(q));
            } else if Some(b) == self.escape {
                self.line.push(b);
            }
            self.line.push(b);
        }
        self.line.push(q);
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        use std::fmt::Write as _;
        use std::io::Write as _;
        if self.beginning {
            self.beginning = false;
            if self.header {
                let schema = batch.schema();
                for (i, f) in schema.fields().iter().enumerate() {
                    if i > 0 {
                        self.line.push(self.delimiter);
                    }
                    self.push(f.name().as_bytes(), f.name().is_empty());
                }
                self.line.push(b'\n');
            }
        }
        let null = self.null.clone();
        let options = arrow::util::display::FormatOptions::default()
            .with_null(&null)
            .with_timestamp_format(Some("%Y-%m-%dT%H:%M:%S%.f"))
            .with_timestamp_tz_format(Some("%Y-%m-%dT%H:%M:%S%.f%:z"))
            .with_date_format(Some("%Y-%m-%d"))
            .with_time_format(Some("%H:%M:%S%.f"));
        let columns = batch.columns();
        let formatters = columns
            .iter()
            .map(|c| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        let text: Vec<bool> = columns
            .iter()
            .map(|c| {
                matches!(
                    c.data_type(),
                    DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Binary
                        | DataType::LargeBinary
                        | DataType::BinaryView
                        | DataType::FixedSizeBinary(_)
                )
            })
            .collect();
        let mut field = std::mem::take(&mut self.field);
        for row in 0..batch.num_rows() {
            for (i, f) in formatters.iter().enumerate() {
                if i > 0 {
                    self.line.push(self.delimiter);
                }
                if columns[i].is_null(row) {
                    // The NULL text as given, never quoted (a quoted `\N`
                    // is the text \N to PostgreSQL).
                    self.line.extend_from_slice(null.as_bytes());
                    continue;
                }
                field.clear();
                write!(field, "{}", f.value(row)).map_err(|_| {
                    anyhow::anyhow!(
                        "column {} row {}: value cannot be written as text",
                        i + 1,
                        row + 1
                    )
                })?;
                // With NULL as an empty field, an empty string is `""`.
                let empty_string = text[i] && field.is_empty() && null.is_empty();
                self.push(field.as_bytes(), empty_string);
            }
            self.line.push(b'\n');
            if self.line.len() >= 1 << 16 {
                self.out.write_all(&self.line)?;
                self.line.clear();
            }
        }
        self.field = field;
        self.out.write_all(&self.line)?;
        self.line.clear();
        Ok(())
    }

    fn into_inner(self) -> Hashing {
        self.out
    }
}

/// One output file being written.
pub enum FormatWriter {
    Csv(Box<TextWriter<CsvWriter>>),
    /// Created at the first batch, which decides the dictionary columns.
    ParquetPending(
        Option<(
            Hashing,
            SchemaRef,
            parquet::file::properties::WriterPropertiesBuilder,
        )>,
    ),
    Parquet(Box<ParallelParquet>),
    Json(Box<TextWriter<JsonWriter>>),
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
        let footer = meta.file_metadata().num_rows();
        let groups: i64 = meta.row_groups().iter().map(|g| g.num_rows()).sum();
        if footer != groups {
            return Err(bad(format!(
                "the footer says {footer} rows, its row groups hold {groups}"
            )));
        }
        u64::try_from(footer).map_err(|_| bad("the footer's row count is negative".into()))
    }
}

/// Finished file: rows the writer recorded, bytes and digest.
#[derive(Debug)]
pub struct Finished {
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// A row group also ends once its columns hold this many bytes in memory
/// (as Spark's 128 MB blocks), so that wide rows keep memory flat: the
/// encoded pages of a group are held until the group is written.
const GROUP_BYTES: usize = 128 << 20;

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
    /// See [`GROUP_BYTES`].
    max_group_bytes: usize,
    group_index: usize,
    threads: usize,
    /// Types written otherwise than they are read (see [`ParquetCoerce`]).
    coerce: ParquetCoerce,
}

impl ParallelParquet {
    fn new(out: Hashing, schema: SchemaRef, props: WriterProperties) -> Result<ParallelParquet> {
        let max_group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        let coerce = ParquetCoerce::new(&schema);
        let schema = coerce.schema.clone();
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
            max_group_bytes: GROUP_BYTES,
            group_index: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            coerce,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let coerced = self.coerce.apply(batch)?;
        let batch = &coerced;
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (self.max_group_rows - self.group_rows).min(batch.num_rows() - offset);
            self.encode(&batch.slice(offset, take))?;
            offset += take;
            self.group_rows += take;
            let held: usize = self.columns.iter().map(|c| c.memory_size()).sum();
            if self.group_rows == self.max_group_rows || held >= self.max_group_bytes {
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
                    .map_err(|_| crate::error::bug("a Parquet encoding thread"))??;
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

// ------------------------------------------------------------ what a format holds

/// Where a column cannot go, and why: the message names the column (and
/// the field inside it) and the format.
fn cannot_write(format: Format, column: &str, dt: &DataType, why: &str) -> anyhow::Error {
    let format_name = match format {
        Format::Csv => "CSV",
        Format::Parquet => "Parquet",
        Format::Json => "JSON Lines",
        Format::Ipc => "Arrow IPC",
    };
    let hint = match format {
        Format::Parquet => "write Arrow IPC (.arrow) instead, which holds every Arrow type",
        Format::Csv => "write Parquet, JSON Lines or Arrow IPC instead",
        _ => "write Parquet or Arrow IPC instead",
    };
    crate::error::input(
        format!(
            "column \"{column}\" ({}) cannot be written to {format_name}: {why}",
            crate::schema::type_name_of(dt)
        ),
        Some(hint.to_string()),
    )
}

/// Check that every column of `schema` can be written in `format`, before
/// anything is written (and in a dry run): a type the format has no room for
/// is refused naming the column, instead of failing (or panicking, as the
/// parquet crate does on unions) at the first batch. Returns warnings.
pub fn check_schema(format: Format, schema: &Schema) -> Result<Vec<String>> {
    for f in schema.fields() {
        check_type(format, f.name(), f.data_type())?;
    }
    let mut warnings = Vec::new();
    match format {
        Format::Parquet => {
            let coerced = ParquetCoerce::new(schema);
            for f in coerced.schema.fields() {
                // The converter the writer uses, one column at a time so a
                // refusal names the column.
                parquet::arrow::ArrowSchemaConverter::new()
                    .convert(&Schema::new(vec![f.clone()]))
                    .map_err(|e| cannot_write(format, f.name(), f.data_type(), &e.to_string()))?;
            }
        }
        Format::Json => {
            for (i, (from, to)) in json_names(schema).into_iter().enumerate() {
                if from != to {
                    warnings.push(format!(
                        "column {} \"{from}\" is written as \"{to}\": a JSON object cannot hold two keys with one name",
                        i + 1
                    ));
                }
            }
        }
        Format::Csv | Format::Ipc => {}
    }
    Ok(warnings)
}

fn check_type(format: Format, column: &str, dt: &DataType) -> Result<()> {
    let refuse = |why: &str| Err(cannot_write(format, column, dt, why));
    let nested =
        |f: &FieldRef| check_type(format, &format!("{column}.{}", f.name()), f.data_type());
    if format == Format::Ipc {
        return Ok(());
    }
    match dt {
        DataType::Union(_, _) => refuse("it has no union type"),
        DataType::Interval(IntervalUnit::MonthDayNano) if format == Format::Parquet => {
            refuse("Parquet intervals hold milliseconds, not nanoseconds")
        }
        DataType::Interval(_) if format != Format::Parquet => {
            refuse("it has no interval type convoy can read back")
        }
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(_, _)
        | DataType::ListView(_)
        | DataType::LargeListView(_)
        | DataType::Struct(_)
        | DataType::Map(_, _)
            if format == Format::Csv =>
        {
            refuse("CSV holds only flat columns")
        }
        DataType::Map(entries, _) => {
            if let DataType::Struct(kv) = entries.data_type() {
                let key = kv.first().map(|k| k.data_type());
                let text_key = matches!(
                    key.map(undictionary),
                    Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
                );
                if format == Format::Json && !text_key {
                    return refuse(&format!(
                        "JSON object keys are text, and this map's keys are {}",
                        key.map(crate::schema::type_name_of).unwrap_or_default()
                    ));
                }
                for f in kv {
                    nested(f)?;
                }
            }
            Ok(())
        }
        DataType::Struct(fs) => fs.iter().try_for_each(nested),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => nested(f),
        DataType::RunEndEncoded(_, values) => nested(values),
        DataType::Dictionary(_, values) => {
            check_type(format, column, values)?;
            let plain = undictionary(dt);
            if format != Format::Parquet && !arrow::compute::can_cast_types(dt, &plain) {
                return refuse("its dictionary cannot be decoded to plain values");
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A type with every dictionary replaced by its value type.
fn undictionary(dt: &DataType) -> DataType {
    rewrite_type(dt, &|dt| match dt {
        DataType::Dictionary(_, v) => Some(undictionary(v)),
        _ => None,
    })
}

/// `dt` with `leaf` applied at every level: where `leaf` gives a type it
/// replaces that one, elsewhere lists, structs and maps are rebuilt from
/// their rewritten children.
fn rewrite_type(dt: &DataType, leaf: &dyn Fn(&DataType) -> Option<DataType>) -> DataType {
    if let Some(t) = leaf(dt) {
        return t;
    }
    let field = |f: &FieldRef| -> FieldRef {
        Arc::new(
            f.as_ref()
                .clone()
                .with_data_type(rewrite_type(f.data_type(), leaf)),
        )
    };
    match dt {
        DataType::List(f) => DataType::List(field(f)),
        DataType::LargeList(f) => DataType::LargeList(field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field(f), *n),
        DataType::Struct(fs) => DataType::Struct(fs.iter().map(field).collect()),
        DataType::Map(f, sorted) => DataType::Map(field(f), *sorted),
        other => other.clone(),
    }
}

/// Column names for JSON objects, which cannot hold a key twice: a repeated
/// name gets the first free suffix `_1`, `_2`, … (as DuckDB names repeated
/// CSV headers). Pairs of (name, name written).
fn json_names(schema: &Schema) -> Vec<(String, String)> {
    let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    let mut taken: std::collections::HashSet<String> =
        names.iter().map(|n| n.to_string()).collect();
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .map(|&n| {
            if seen.insert(n.clone()) {
                return (n.clone(), n.clone());
            }
            let mut k = 1;
            while taken.contains(&format!("{n}_{k}")) {
                k += 1;
            }
            let to = format!("{n}_{k}");
            taken.insert(to.clone());
            (n.clone(), to)
        })
        .collect()
}

// ------------------------------------------------------------ Parquet types

/// Arrow types the parquet crate writes without a logical type, so other
/// readers see plain integers: seconds timestamps, `date64` and `time32(s)`.
/// They are written as milliseconds and `date32`, exactly: a `date64` that
/// is not a whole day is refused, and so is a value the conversion would
/// overflow.
struct ParquetCoerce {
    schema: SchemaRef,
    /// Columns written as another type.
    changed: Vec<bool>,
}

impl ParquetCoerce {
    fn new(schema: &Schema) -> ParquetCoerce {
        let mut changed = Vec::new();
        let fields: Vec<FieldRef> = schema
            .fields()
            .iter()
            .map(|f| {
                let dt = parquet_type(f.data_type());
                changed.push(&dt != f.data_type());
                Arc::new(f.as_ref().clone().with_data_type(dt))
            })
            .collect();
        ParquetCoerce {
            schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            changed,
        }
    }

    fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if !self.changed.iter().any(|&c| c) {
            return Ok(batch.clone());
        }
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (i, col) in batch.columns().iter().enumerate() {
            if !self.changed[i] {
                columns.push(col.clone());
                continue;
            }
            let field = self.schema.field(i);
            let strict = arrow::compute::CastOptions {
                safe: false,
                ..Default::default()
            };
            let out = arrow::compute::cast_with_options(col, field.data_type(), &strict);
            // Exact: converting back gives the same values.
            let exact = out.as_ref().ok().and_then(|o| {
                arrow::compute::cast(o, col.data_type())
                    .ok()
                    .filter(|back| back.to_data() == col.to_data())
            });
            match (out, exact) {
                (Ok(out), Some(_)) => columns.push(out),
                _ => {
                    return Err(crate::error::input(
                        format!(
                            "column \"{}\" ({}) holds a value that Parquet's {} cannot hold exactly",
                            field.name(),
                            crate::schema::type_name_of(col.data_type()),
                            crate::schema::type_name_of(field.data_type())
                        ),
                        Some(
                            "date64 values must be whole days to be written as Parquet dates; write Arrow IPC to keep them as they are"
                                .to_string(),
                        ),
                    ))
                }
            }
        }
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

fn parquet_type(dt: &DataType) -> DataType {
    rewrite_type(dt, &|dt| match dt {
        DataType::Timestamp(TimeUnit::Second, tz) => {
            Some(DataType::Timestamp(TimeUnit::Millisecond, tz.clone()))
        }
        DataType::Time32(TimeUnit::Second) => Some(DataType::Time32(TimeUnit::Millisecond)),
        DataType::Date64 => Some(DataType::Date32),
        _ => None,
    })
}

// ------------------------------------------------------------ text

/// How one column becomes text.
#[derive(Clone)]
enum Text {
    Keep,
    /// UUIDs as their usual hyphenated form.
    Uuid,
    /// Timestamps with a zone as RFC 3339 with the exact offset of the zone
    /// at that instant (`+00:09:21` in Paris in 1800).
    Zoned(TimeUnit, Tz),
    /// Durations as ISO 8601 seconds (`PT90.5S`), exact for every value.
    Iso8601(TimeUnit),
    /// `date64` as a date, with the time of day only when it has one.
    Date64,
}

/// How the columns of every batch become text for CSV or JSON Lines:
/// dictionaries decoded (a NULL among the dictionary's values stays NULL),
/// UUIDs as text; for CSV also zoned timestamps and durations (JSON writes
/// those through its encoder, [`ExactJson`], at any depth).
struct TextPlan {
    schema: SchemaRef,
    columns: Vec<(Option<DataType>, Text)>,
}

impl TextPlan {
    fn new(schema: &Schema, format: Format) -> TextPlan {
        let names = json_names(schema);
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            let plain = undictionary(f.data_type());
            let undict = (&plain != f.data_type()).then(|| plain.clone());
            let text = if is_uuid(f) {
                Text::Uuid
            } else if format == Format::Csv {
                match &plain {
                    DataType::Timestamp(unit, Some(tz)) => match tz.parse::<Tz>() {
                        Ok(tz) => Text::Zoned(*unit, tz),
                        Err(_) => Text::Keep,
                    },
                    DataType::Duration(unit) => Text::Iso8601(*unit),
                    DataType::Date64 => Text::Date64,
                    _ => Text::Keep,
                }
            } else {
                Text::Keep
            };
            let name = match format {
                Format::Json => names[i].1.clone(),
                _ => f.name().clone(),
            };
            let field = match text {
                Text::Keep => f.as_ref().clone().with_name(name).with_data_type(plain),
                Text::Uuid | Text::Zoned(..) | Text::Iso8601(_) | Text::Date64 => {
                    Field::new(name, DataType::Utf8, f.is_nullable())
                }
            };
            fields.push(field);
            columns.push((undict, text));
        }
        TextPlan {
            schema: Arc::new(Schema::new(fields)),
            columns,
        }
    }

    fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mut out: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (col, (undict, text)) in batch.columns().iter().zip(&self.columns) {
            let col = match undict {
                Some(dt) => arrow::compute::cast(col, dt)?,
                None => col.clone(),
            };
            out.push(match text {
                Text::Keep => col,
                Text::Uuid => {
                    let b = col.as_fixed_size_binary();
                    Arc::new(
                        (0..b.len())
                            .map(|i| b.is_valid(i).then(|| format_uuid(b.value(i))))
                            .collect::<StringArray>(),
                    )
                }
                Text::Zoned(unit, tz) => {
                    let data = col.to_data();
                    let values = &data.buffers()[0].typed_data::<i64>()
                        [data.offset()..data.offset() + data.len()];
                    let mut b =
                        arrow::array::StringBuilder::with_capacity(col.len(), col.len() * 32);
                    for (i, &v) in values.iter().enumerate() {
                        if col.is_null(i) {
                            b.append_null();
                        } else {
                            b.append_value(zoned_text(v, *unit, tz)?);
                        }
                    }
                    Arc::new(b.finish())
                }
                Text::Date64 => {
                    let data = col.to_data();
                    let values = &data.buffers()[0].typed_data::<i64>()
                        [data.offset()..data.offset() + data.len()];
                    Arc::new(
                        values
                            .iter()
                            .enumerate()
                            .map(|(i, &v)| col.is_valid(i).then(|| date64_text(v)))
                            .collect::<StringArray>(),
                    )
                }
                Text::Iso8601(unit) => {
                    let data = col.to_data();
                    let values = &data.buffers()[0].typed_data::<i64>()
                        [data.offset()..data.offset() + data.len()];
                    Arc::new(
                        values
                            .iter()
                            .enumerate()
                            .map(|(i, &v)| col.is_valid(i).then(|| duration_text(v, *unit)))
                            .collect::<StringArray>(),
                    )
                }
            });
        }
        Ok(RecordBatch::try_new(self.schema.clone(), out)?)
    }
}

/// A `date64` (milliseconds since 1970) as `YYYY-MM-DD`, with
/// `THH:MM:SS.fff` only when it is not a whole day (Arrow allows it).
fn date64_text(v: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(v) {
        Some(t) if v % 86_400_000 == 0 => t.format("%Y-%m-%d").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        None => v.to_string(),
    }
}

/// A duration as ISO 8601 seconds with the digits of its unit: `PT90S`,
/// `-PT0.001S`, `PT10000000000000000S`. PostgreSQL and DuckDB read this form;
/// arrow's own text is `<invalid>` beyond ±2^63 milliseconds.
pub fn duration_text(v: i64, unit: TimeUnit) -> String {
    let (per, width) = match unit {
        TimeUnit::Second => (1u128, 0),
        TimeUnit::Millisecond => (1_000, 3),
        TimeUnit::Microsecond => (1_000_000, 6),
        TimeUnit::Nanosecond => (1_000_000_000, 9),
    };
    let abs = v.unsigned_abs() as u128;
    let sign = if v < 0 { "-" } else { "" };
    let (secs, frac) = (abs / per, abs % per);
    if frac == 0 {
        return format!("{sign}PT{secs}S");
    }
    let digits = format!("{frac:0width$}");
    format!("{sign}PT{secs}.{}S", digits.trim_end_matches('0'))
}

/// A timestamp in a zone as RFC 3339: the wall clock in that zone and the
/// zone's offset at that instant, with seconds when the offset has them
/// (historical local mean time: Paris was +00:09:21 until 1911).
fn zoned_text(value: i64, unit: TimeUnit, tz: &Tz) -> Result<String> {
    use chrono::{Offset, TimeZone};
    let (secs, nanos) = match unit {
        TimeUnit::Second => (value, 0),
        TimeUnit::Millisecond => (value.div_euclid(1_000), value.rem_euclid(1_000) * 1_000_000),
        TimeUnit::Microsecond => (
            value.div_euclid(1_000_000),
            value.rem_euclid(1_000_000) * 1_000,
        ),
        TimeUnit::Nanosecond => (
            value.div_euclid(1_000_000_000),
            value.rem_euclid(1_000_000_000),
        ),
    };
    let utc = chrono::DateTime::from_timestamp(secs, nanos as u32)
        .ok_or_else(|| anyhow::anyhow!("timestamp {value} is outside the years chrono can write"))?
        .naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
    let local = utc + chrono::Duration::seconds(offset as i64);
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let mut text = local.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
    text.push_str(&format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60));
    if a % 60 != 0 {
        text.push_str(&format!(":{:02}", a % 60));
    }
    Ok(text)
}

/// JSON encoders for what arrow-json would write inexactly: NaN and
/// infinities as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`
/// (arrow-json writes `null`, which reads back as NULL), durations as
/// integers of their unit (arrow-json writes ISO 8601 text, or `<invalid>`
/// beyond ±2^63 milliseconds), zoned timestamps with their exact offset, and
/// `date64` as a date.
#[derive(Debug)]
struct ExactJson;

impl arrow::json::writer::EncoderFactory for ExactJson {
    fn make_default_encoder<'a>(
        &self,
        _field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a arrow::json::writer::EncoderOptions,
    ) -> std::result::Result<Option<arrow::json::writer::NullableEncoder<'a>>, ArrowError> {
        use arrow::datatypes::{Float16Type, Float32Type, Float64Type};
        let encoder: Box<dyn arrow::json::writer::Encoder + 'a> = match array.data_type() {
            DataType::Float16 => Box::new(FloatJson(array.as_primitive::<Float16Type>())),
            DataType::Float32 => Box::new(FloatJson(array.as_primitive::<Float32Type>())),
            DataType::Float64 => Box::new(FloatJson(array.as_primitive::<Float64Type>())),
            DataType::Duration(_) => Box::new(IntJson(
                array.to_data().buffers()[0].clone(),
                array.offset(),
            )),
            DataType::Date64 => Box::new(Date64Json(
                array.to_data().buffers()[0].clone(),
                array.offset(),
            )),
            DataType::Timestamp(unit, Some(tz)) => match tz.parse::<Tz>() {
                Ok(tz) => Box::new(ZonedJson {
                    values: array.to_data().buffers()[0].clone(),
                    offset: array.offset(),
                    unit: *unit,
                    tz,
                }),
                Err(_) => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(Some(arrow::json::writer::NullableEncoder::new(
            encoder,
            array.logical_nulls(),
        )))
    }
}

struct FloatJson<'a, T: arrow::datatypes::ArrowPrimitiveType>(&'a arrow::array::PrimitiveArray<T>);

impl<T> arrow::json::writer::Encoder for FloatJson<'_, T>
where
    T: arrow::datatypes::ArrowPrimitiveType,
    T::Native: Into<FloatText>,
{
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let v: FloatText = self.0.value(idx).into();
        match v {
            FloatText::Finite(text) => out.extend_from_slice(text.as_bytes()),
            FloatText::Special(s) => {
                out.push(b'"');
                out.extend_from_slice(s.as_bytes());
                out.push(b'"');
            }
        }
    }
}

/// A float as JSON: the shortest text that reads back as the same value,
/// or the name of a value JSON numbers cannot spell.
enum FloatText {
    Finite(String),
    Special(&'static str),
}

fn float_text(v: f64, finite: impl FnOnce() -> String) -> FloatText {
    if v.is_nan() {
        FloatText::Special("NaN")
    } else if v == f64::INFINITY {
        FloatText::Special("Infinity")
    } else if v == f64::NEG_INFINITY {
        FloatText::Special("-Infinity")
    } else {
        FloatText::Finite(finite())
    }
}

impl From<f64> for FloatText {
    fn from(v: f64) -> FloatText {
        float_text(v, || format!("{v:?}"))
    }
}

impl From<f32> for FloatText {
    fn from(v: f32) -> FloatText {
        float_text(v as f64, || format!("{v:?}"))
    }
}

impl From<half::f16> for FloatText {
    fn from(v: half::f16) -> FloatText {
        // Every f16 is an f32; the f32's shortest text reads back as it.
        let f = v.to_f32();
        float_text(f as f64, || format!("{f:?}"))
    }
}

/// 64-bit integers of a column's buffer (durations).
struct IntJson(arrow::buffer::Buffer, usize);

impl arrow::json::writer::Encoder for IntJson {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let v = self.0.typed_data::<i64>()[self.1 + idx];
        out.extend_from_slice(v.to_string().as_bytes());
    }
}

struct Date64Json(arrow::buffer::Buffer, usize);

impl arrow::json::writer::Encoder for Date64Json {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let v = self.0.typed_data::<i64>()[self.1 + idx];
        out.push(b'"');
        out.extend_from_slice(date64_text(v).as_bytes());
        out.push(b'"');
    }
}

struct ZonedJson {
    values: arrow::buffer::Buffer,
    offset: usize,
    unit: TimeUnit,
    tz: Tz,
}

impl arrow::json::writer::Encoder for ZonedJson {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let v = self.values.typed_data::<i64>()[self.offset + idx];
        match zoned_text(v, self.unit, &self.tz) {
            Ok(t) => {
                out.push(b'"');
                out.extend_from_slice(t.as_bytes());
                out.push(b'"');
            }
            // Outside chrono's years (±262,143): the instant as a number of
            // the column's unit, still exact.
            Err(_) => out.extend_from_slice(v.to_string().as_bytes()),
        }
    }
}

impl FormatWriter {
    pub fn new(
        format: Format,
        out: Hashing,
        schema: &SchemaRef,
        csv: &CsvOptions,
        pq: &ParquetOptions,
    ) -> Result<FormatWriter> {
        // Sinks check when they open (and in a dry run); this keeps every
        // writer from starting on a schema its format cannot hold.
        check_schema(format, schema)?;
        Ok(match format {
            Format::Csv => FormatWriter::Csv(Box::new(TextWriter {
                w: CsvWriter::new(out, csv),
                plan: TextPlan::new(schema, format),
                rows: 0,
            })),
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(pq.codec().map_err(|e| crate::error::usage(e, None))?)
                    .set_max_row_group_row_count(Some(pq.row_group_size))
                    .set_created_by(format!("convoy {}", env!("CARGO_PKG_VERSION")));
                FormatWriter::ParquetPending(Some((out, schema.clone(), props)))
            }
            Format::Json => FormatWriter::Json(Box::new(TextWriter {
                w: arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .with_encoder_factory(Arc::new(ExactJson))
                    .build(out),
                plan: TextPlan::new(schema, format),
                rows: 0,
            })),
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
            FormatWriter::Csv(t) => {
                t.w.write(&t.plan.apply(batch)?)?;
                t.rows += batch.num_rows() as u64;
            }
            FormatWriter::Parquet(w) => w.write(batch)?,
            FormatWriter::Json(t) => {
                t.w.write(&t.plan.apply(batch)?)?;
                t.rows += batch.num_rows() as u64;
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
            FormatWriter::Csv(mut t) => {
                if t.rows == 0 {
                    // arrow-csv writes the header with the first batch: a
                    // table without rows still gets its column names.
                    t.w.write(&RecordBatch::new_empty(t.plan.schema.clone()))?;
                }
                (t.rows, t.w.into_inner().finish()?)
            }
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
            FormatWriter::Json(mut t) => {
                t.w.finish()?;
                (t.rows, t.w.into_inner().finish()?)
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

    /// Wide rows end a row group before its row count: the group's pages
    /// are held in memory until it is written.
    #[test]
    fn row_groups_of_wide_rows_end_at_their_bytes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
        let file = tempfile::NamedTempFile::new().unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(1000))
            .build();
        let mut w =
            ParallelParquet::new(Hashing::new(file.reopen().unwrap()), schema.clone(), props)
                .unwrap();
        w.max_group_bytes = 1 << 20;
        let mut want = Vec::new();
        for _ in 0..10 {
            // 10 rows of 50 KB that do not compress.
            let rows: Vec<String> = (0..10)
                .map(|_| (0..50_000).map(|_| rng.random_range('a'..='z')).collect())
                .collect();
            want.extend(rows.clone());
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(arrow::array::StringArray::from(rows))],
            )
            .unwrap();
            w.write(&batch).unwrap();
        }
        let (rows, _) = w.finish().unwrap();
        assert_eq!(rows, 100);
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            file.reopen().unwrap(),
        )
        .unwrap();
        let groups = reader.metadata().num_row_groups();
        assert!((4..=6).contains(&groups), "{groups} row groups");
        let got: Vec<String> = reader
            .build()
            .unwrap()
            .flat_map(|b| {
                let b = b.unwrap();
                let s = b
                    .column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .unwrap();
                s.iter().map(|v| v.unwrap().to_string()).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(got, want);
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

    #[test]
    fn durations_and_zoned_timestamps_as_exact_text() {
        assert_eq!(duration_text(0, TimeUnit::Second), "PT0S");
        assert_eq!(duration_text(-1, TimeUnit::Millisecond), "-PT0.001S");
        assert_eq!(duration_text(1_500, TimeUnit::Millisecond), "PT1.5S");
        assert_eq!(
            duration_text(i64::MIN, TimeUnit::Second),
            "-PT9223372036854775808S"
        );
        assert_eq!(
            duration_text(i64::MAX, TimeUnit::Nanosecond),
            "PT9223372036.854775807S"
        );
        let paris: Tz = "Europe/Paris".parse().unwrap();
        // 1800-06-01T12:00:00Z: Paris local mean time is +00:09:21.
        let t = -5_351_572_800i64;
        assert_eq!(
            zoned_text(t * 1_000_000, TimeUnit::Microsecond, &paris).unwrap(),
            "1800-06-01T12:09:21+00:09:21"
        );
        assert_eq!(
            zoned_text(1_700_000_000_250, TimeUnit::Millisecond, &paris).unwrap(),
            "2023-11-14T23:13:20.250+01:00"
        );
        let fixed: Tz = "-03:30".parse().unwrap();
        assert_eq!(
            zoned_text(0, TimeUnit::Second, &fixed).unwrap(),
            "1969-12-31T20:30:00-03:30"
        );
    }

    #[test]
    fn repeated_names_get_free_suffixes() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("a_1", DataType::Int64, true),
            Field::new("a", DataType::Int64, true),
            Field::new("a", DataType::Int64, true),
        ]);
        let to: Vec<String> = json_names(&schema).into_iter().map(|(_, t)| t).collect();
        assert_eq!(to, ["a", "a_1", "a_2", "a_3"]);
        let warnings = check_schema(Format::Json, &schema).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(check_schema(Format::Parquet, &schema).unwrap().is_empty());
    }

    #[test]
    fn types_a_format_cannot_hold_are_refused_naming_the_column() {
        use arrow::datatypes::{UnionFields, UnionMode};
        let union = DataType::Union(
            UnionFields::try_new(vec![0], vec![Field::new("i", DataType::Int64, true)]).unwrap(),
            UnionMode::Sparse,
        );
        let map_int_keys = DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(
                    vec![
                        Field::new("key", DataType::Int64, false),
                        Field::new("value", DataType::Utf8, true),
                    ]
                    .into(),
                ),
                false,
            )),
            false,
        );
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)));
        let interval = DataType::Interval(IntervalUnit::MonthDayNano);
        let cases = [
            (Format::Parquet, union.clone(), "it has no union type"),
            (Format::Csv, union.clone(), "it has no union type"),
            (Format::Json, union.clone(), "it has no union type"),
            (
                Format::Json,
                map_int_keys.clone(),
                "this map's keys are int64",
            ),
            (Format::Csv, list.clone(), "CSV holds only flat columns"),
            (Format::Parquet, interval.clone(), "not nanoseconds"),
            (Format::Csv, interval.clone(), "no interval type"),
        ];
        for (format, dt, why) in cases {
            let schema = Schema::new(vec![
                Field::new("ok", DataType::Int64, true),
                Field::new("bad", dt.clone(), true),
            ]);
            let err = check_schema(format, &schema).unwrap_err().to_string();
            assert!(
                err.starts_with("column \"bad\" ("),
                "{format:?} {dt}: {err}"
            );
            assert!(err.contains(why), "{format:?} {dt}: {err}");
        }
        // Nested: the path of the field inside the column.
        let nested = Schema::new(vec![Field::new(
            "s",
            DataType::Struct(vec![Field::new("u", union.clone(), true)].into()),
            true,
        )]);
        let err = check_schema(Format::Parquet, &nested)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("column \"s.u\""), "{err}");
        // Arrow IPC holds everything; lists go to JSON and Parquet.
        for dt in [union, map_int_keys, interval] {
            let schema = Schema::new(vec![Field::new("x", dt, true)]);
            assert!(check_schema(Format::Ipc, &schema).is_ok());
        }
        let schema = Schema::new(vec![Field::new("l", list, true)]);
        assert!(check_schema(Format::Json, &schema).is_ok());
        assert!(check_schema(Format::Parquet, &schema).is_ok());
    }

    fn written(format: Format, batch: &RecordBatch) -> Result<String> {
        let file = tempfile::NamedTempFile::new().unwrap();
        let out = Hashing::new(file.reopen().unwrap());
        let mut w = FormatWriter::new(
            format,
            out,
            &batch.schema(),
            &CsvOptions::default(),
            &ParquetOptions::default(),
        )?;
        w.write(batch)?;
        w.finish()?;
        Ok(std::fs::read_to_string(file.path()).unwrap())
    }

    #[test]
    fn json_lines_keep_nulls_non_finite_floats_and_dictionary_nulls() {
        use arrow::array::{DictionaryArray, Float64Array, Int32Array};
        let keys = Int32Array::from(vec![Some(0), Some(1), None]);
        let values = Arc::new(StringArray::from(vec![Some("x"), None]));
        let dict = DictionaryArray::try_new(keys, values).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("f", DataType::Float64, true),
            Field::new("d", dict.data_type().clone(), true),
            Field::new("n", DataType::Int64, true),
            Field::new("dur", DataType::Duration(TimeUnit::Second), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Float64Array::from(vec![f64::NAN, f64::NEG_INFINITY, 0.1])),
                Arc::new(dict),
                Arc::new(arrow::array::Int64Array::from(vec![None, None, None])),
                Arc::new(arrow::array::DurationSecondArray::from(vec![
                    Some(i64::MAX),
                    None,
                    Some(-1),
                ])),
            ],
        )
        .unwrap();
        let text = written(Format::Json, &batch).unwrap();
        assert_eq!(
            text,
            "{\"f\":\"NaN\",\"d\":\"x\",\"n\":null,\"dur\":9223372036854775807}\n\
             {\"f\":\"-Infinity\",\"d\":null,\"n\":null,\"dur\":null}\n\
             {\"f\":0.1,\"d\":null,\"n\":null,\"dur\":-1}\n"
        );
        let csv = written(Format::Csv, &batch).unwrap();
        assert_eq!(
            csv,
            "f,d,n,dur\nNaN,x,,PT9223372036854775807S\n-inf,,,\n0.1,,,-PT1S\n"
        );
        // No rows: the header still names the columns.
        assert_eq!(
            written(Format::Csv, &batch.slice(0, 0)).unwrap(),
            "f,d,n,dur\n"
        );
    }

    #[test]
    fn date64_is_a_date_unless_it_has_a_time_of_day() {
        assert_eq!(date64_text(0), "1970-01-01");
        assert_eq!(date64_text(-86_400_000), "1969-12-31");
        assert_eq!(date64_text(86_400_001), "1970-01-02T00:00:00.001");
        assert_eq!(
            crate::connect::format::conform::parse_date64(&date64_text(86_400_001)),
            Ok(86_400_001)
        );
    }
}
