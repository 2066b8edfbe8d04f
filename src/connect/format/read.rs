//! Readers for every file format: each yields batches in the declared schema,
//! from any [`Input`] (a local file, standard input or an object).

use std::io::{BufReader, Cursor, Read};
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{Array, ArrayData, RecordBatch};
use arrow::datatypes::{DataType, FieldRef, Fields, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::ParquetMetaData;

use super::conform::{Conformer, Location};
use super::input::{Chunks, Input, RandomAccess, ReadSeek};
use super::pages;
use crate::connect::Counters;
use crate::spec::CsvOptions;

/// Rows per batch read from files: large enough to amortise per-batch work,
/// small enough that a handful in flight stay within the memory budget.
pub const BATCH_ROWS: usize = 16_384;

/// Bytes read ahead of a CSV file to check its header and infer its schema.
pub const SAMPLE_BYTES: usize = 4 << 20;

/// Counts bytes as they are read, for progress.
pub struct Counting<R> {
    inner: R,
    counters: Arc<Counters>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters.add_bytes(n as u64);
        Ok(n)
    }
}

/// The first bytes of a text input, kept so the whole input can still be
/// read from the start (works for pipes and standard input too).
pub struct Sampled {
    pub sample: Vec<u8>,
    pub complete: bool,
    pub rest: Box<dyn Read + Send>,
}

/// Read the start of an input: until `lines` line ends were seen, `limit`
/// bytes were read, or the input ended. A pipe is never waited on for more
/// than is needed.
pub fn sample(mut input: Box<dyn Read + Send>, limit: usize, lines: usize) -> Result<Sampled> {
    let mut sample = Vec::with_capacity(limit.min(1 << 16));
    let mut seen = 0usize;
    let mut chunk = vec![0u8; 64 << 10];
    let mut complete = false;
    while sample.len() < limit && seen < lines {
        let want = chunk.len().min(limit - sample.len());
        let n = match input.read(&mut chunk[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            complete = true;
            break;
        }
        seen += chunk[..n].iter().filter(|&&b| b == b'\n').count();
        sample.extend_from_slice(&chunk[..n]);
    }
    Ok(Sampled {
        sample,
        complete,
        rest: input,
    })
}

impl Sampled {
    pub fn into_reader(self) -> impl Read + Send {
        Cursor::new(self.sample).chain(self.rest)
    }
}

/// The header (if any) and the first complete records of a CSV sample.
pub fn csv_sample_records(
    file: &str,
    s: &Sampled,
    opts: &CsvOptions,
    max_records: usize,
) -> Result<(Option<Vec<String>>, Vec<csv::StringRecord>)> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(opts.delimiter)
        .quote(opts.quote)
        .escape(opts.escape)
        .double_quote(opts.escape.is_none())
        .flexible(true)
        .from_reader(&s.sample[..]);
    let mut records = Vec::new();
    let mut header = None;
    let mut iter = rdr.records();
    if opts.header {
        match iter.next() {
            Some(Ok(h)) => header = Some(h.iter().map(|f| f.trim().to_string()).collect()),
            Some(Err(e)) => return Err(csv_sample_error(file, e, 0)),
            None => header = Some(Vec::new()),
        }
    }
    for rec in iter {
        match rec {
            Ok(r) => records.push(r),
            // A record cut off by the end of the sample is not an error.
            Err(_) if !s.complete => break,
            Err(e) => return Err(csv_sample_error(file, e, u64::from(opts.header))),
        }
        if records.len() > max_records {
            break;
        }
    }
    if !s.complete {
        // The last record may be cut off by the end of the sample.
        records.pop();
    }
    records.truncate(max_records);
    Ok((header, records))
}

fn csv_sample_error(file: &str, e: csv::Error, header_lines: u64) -> anyhow::Error {
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, err } => {
            let line = pos.as_ref().map_or(0, |p| p.line());
            crate::error::input(
                format!(
                    "{file}: row {} (line {line}), field {}: not valid UTF-8",
                    line.saturating_sub(header_lines),
                    err.field() + 1
                ),
                Some(
                    "convoy reads UTF-8 text; convert the file first, e.g. iconv -f latin1 -t utf-8"
                        .to_string(),
                ),
            )
        }
        _ => crate::error::input(format!("{file}: {e}"), None),
    }
}

/// Reads one CSV input as batches of the conformer's target schema.
pub fn csv_batches(
    file: String,
    input: impl Read + Send + 'static,
    opts: &CsvOptions,
    conformer: Conformer,
    inferred: bool,
    counters: Arc<Counters>,
) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send> {
    let mut builder = arrow::csv::ReaderBuilder::new(conformer.wire())
        .with_header(opts.header)
        .with_delimiter(opts.delimiter)
        .with_quote(opts.quote)
        .with_batch_size(BATCH_ROWS);
    if let Some(e) = opts.escape {
        builder = builder.with_escape(e);
    }
    if !opts.null.is_empty() {
        let re = regex::Regex::new(&format!("^{}$", regex::escape(&opts.null)))
            .expect("an escaped literal is a valid regex");
        builder = builder.with_null_regex(re);
    }
    let reader = builder.build_buffered(BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: input,
            counters,
        },
    ))?;
    let names: Vec<String> = conformer
        .target()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut next_row = 1u64;
    let header_lines = u64::from(opts.header);
    Ok(reader.map(move |batch| {
        let batch = batch.map_err(|e| csv_error(&file, e, &names, header_lines, inferred))?;
        let at = Location {
            file: &file,
            first_row: next_row,
            line_offset: Some(header_lines),
            inferred,
        };
        next_row += batch.num_rows() as u64;
        conformer.apply(batch, &at)
    }))
}

/// Rewrite arrow-csv's messages the way a user reads the file: data rows
/// counted from 1 after the header, file lines, column names.
fn csv_error(
    file: &str,
    e: ArrowError,
    names: &[String],
    header_lines: u64,
    inferred: bool,
) -> anyhow::Error {
    let text = e.to_string();
    let number_after = |marker: &str| -> Option<u64> {
        text.split(marker)
            .nth(1)?
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let (msg, hint) = if text.contains("incorrect number of fields") {
        // arrow counts these lines from the first line of the file.
        let line = number_after("for line ").unwrap_or(0);
        let detail = text
            .split(", expected ")
            .nth(1)
            .map(|r| format!("expected {}", r.replace(" got ", " fields, found ")))
            .unwrap_or_else(|| text.clone());
        (
            format!(
                "{file}: row {} (line {line}): {detail}",
                line.saturating_sub(header_lines)
            ),
            format!(
                "every row needs {} fields; check the delimiter (--delimiter) and quoting",
                names.len()
            ),
        )
    } else if text.contains("invalid UTF-8") {
        let line = number_after("for line ").unwrap_or(0);
        (
            format!(
                "{file}: row {} (line {line}): not valid UTF-8",
                line.saturating_sub(header_lines)
            ),
            "convoy reads UTF-8 text; convert the file first, e.g. iconv -f latin1 -t utf-8"
                .to_string(),
        )
    } else if let Some(row) = number_after(" at line ") {
        // Value errors count data rows from 1.
        let column = number_after("for column ")
            .and_then(|i| names.get(i as usize))
            .map(|c| format!(", column \"{c}\""))
            .unwrap_or_default();
        let value = text
            .split("parsing value '")
            .nth(1)
            .and_then(|r| r.split("' as type '").next())
            .unwrap_or("?");
        let ty = text
            .split("' as type '")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap_or("?")
            .to_ascii_lowercase();
        (
            format!(
                "{file}: row {row} (line {}){column}: {value:?} is not a valid {ty}",
                row + header_lines
            ),
            if inferred {
                "the type was inferred from a sample; declare it with --schema or raise --infer-rows"
                    .to_string()
            } else {
                "fix the value, or declare the column with a type that holds it".to_string()
            },
        )
    } else {
        (
            format!("{file}: {text}"),
            "check the file's CSV dialect (--delimiter, --quote, --escape)".to_string(),
        )
    };
    crate::error::input(msg, Some(hint))
}

/// Reads one JSON Lines input as batches of the conformer's target schema.
pub fn json_batches(
    file: String,
    input: impl Read + Send + 'static,
    conformer: Conformer,
    inferred: bool,
    counters: Arc<Counters>,
) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send> {
    let reader = arrow::json::ReaderBuilder::new(conformer.wire())
        .with_batch_size(BATCH_ROWS)
        .with_coerce_primitive(true)
        .with_strict_mode(true)
        .build(BufReader::with_capacity(
            1 << 20,
            Counting {
                inner: input,
                counters,
            },
        ))?;
    let mut next_row = 1u64;
    Ok(reader.map(move |batch| {
        let batch = batch.map_err(|e| {
            crate::error::input(
                format!("{file}: after row {}: {e}", next_row - 1),
                Some("each line must be one JSON object whose fields match the schema".to_string()),
            )
        })?;
        let at = Location {
            file: &file,
            first_row: next_row,
            line_offset: Some(0),
            inferred,
        };
        next_row += batch.num_rows() as u64;
        conformer.apply(batch, &at)
    }))
}

/// Infer a JSON Lines schema from a sample.
pub fn json_infer(file: &str, s: &Sampled, max_records: usize) -> Result<SchemaRef> {
    let mut cut = &s.sample[..];
    if !s.complete {
        // Only whole lines.
        if let Some(end) = cut.iter().rposition(|&b| b == b'\n') {
            cut = &cut[..end + 1];
        }
    }
    let (schema, _) =
        arrow::json::reader::infer_json_schema(BufReader::new(cut), Some(max_records)).map_err(
            |e| {
                crate::error::input(
                    format!("{file}: cannot infer a schema: {e}"),
                    Some("each line must be one JSON object; or give --schema".to_string()),
                )
            },
        )?;
    Ok(Arc::new(schema))
}

/// The first bytes of every Parquet file (and its last four).
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// A Parquet file opened for reading, with what the footer promises checked
/// before any row is read:
/// - the file starts and ends with `PAR1` (a damaged start is refused: the
///   parquet crate looks only at the end);
/// - the footer's row count equals the sum of its row groups' (the reader
///   trusts the footer's count and would otherwise read 0 rows of 6);
/// - every column chunk's codec can be decompressed here;
/// - INT96 timestamps (Spark, Impala, Hive) are read at microseconds, as
///   Spark reads them, so years 0001 to 9999 stay exact; the parquet
///   crate's default (nanoseconds) wraps 9999-12-31 to 1816. A value with
///   nanoseconds is refused while reading (see [`ParquetFile::batches`]).
pub struct ParquetFile {
    name: String,
    random: Arc<dyn RandomAccess>,
    meta: ArrowReaderMetadata,
    /// Leaf columns stored as INT96.
    int96: Vec<usize>,
}

impl ParquetFile {
    pub fn open(input: &dyn Input) -> Result<ParquetFile> {
        ParquetFile::open_at(&input.name(), input.random()?)
    }

    /// Opens a Parquet file through positioned reads already set up.
    pub fn open_at(name: &str, random: Arc<dyn RandomAccess>) -> Result<ParquetFile> {
        let size = random.len();
        let head = random
            .bytes(0, 4.min(size) as usize)
            .map_err(|e| crate::error::input(format!("cannot read {name}: {e}"), None))?;
        if size >= 12 && &head[..] != PARQUET_MAGIC {
            return Err(crate::error::input(
                format!(
                    "{name} is not a readable Parquet file: it does not start with PAR1 (its first 4 bytes are {})",
                    shown_bytes(&head)
                ),
                Some(
                    "the start of the file is damaged, or it is not Parquet (--source-format); get the file again from where it came from"
                        .to_string(),
                ),
            ));
        }
        let chunks = Chunks(random.clone());
        let plain = ArrowReaderMetadata::load(&chunks, ArrowReaderOptions::new()).map_err(|e| {
            crate::error::input(
                format!("{name} is not a readable Parquet file: {e}"),
                Some(
                    "check that the file is complete and really Parquet (--source-format)"
                        .to_string(),
                ),
            )
        })?;
        let metadata = plain.metadata().clone();
        let footer = metadata.file_metadata().num_rows();
        let groups: i64 = metadata.row_groups().iter().map(|g| g.num_rows()).sum();
        if footer != groups {
            return Err(crate::error::input(
                format!(
                    "{name}: the footer says the file holds {footer} rows, but its {} row groups hold {groups}; the file is damaged",
                    metadata.num_row_groups()
                ),
                Some(
                    "write the file again with the tool that made it; convoy does not guess which count is right"
                        .to_string(),
                ),
            ));
        }
        for (g, rg) in metadata.row_groups().iter().enumerate() {
            for c in rg.columns() {
                if let Err(why) = codec_built_in(c.compression()) {
                    return Err(crate::error::input(
                        format!(
                            "{name}: column \"{}\" (row group {g}) is compressed with {why}",
                            c.column_path().string()
                        ),
                        Some(
                            "convoy reads Parquet compressed with snappy, gzip, brotli, lz4, lz4_raw and zstd; rewrite the file with one of those"
                                .to_string(),
                        ),
                    ));
                }
            }
        }
        let int96: Vec<usize> = plain
            .parquet_schema()
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.physical_type() == parquet::basic::Type::INT96)
            .map(|(i, _)| i)
            .collect();
        let meta = if int96.is_empty() {
            plain
        } else {
            let mut leaf = 0;
            let fields = int96_at_micros(plain.schema().fields(), &int96, &mut leaf);
            let schema = Arc::new(Schema::new_with_metadata(
                fields,
                plain.schema().metadata().clone(),
            ));
            ArrowReaderMetadata::try_new(
                metadata.clone(),
                ArrowReaderOptions::new().with_schema(schema),
            )
            .map_err(|e| {
                crate::error::input(
                    format!("{name}: cannot read its INT96 timestamps at microseconds: {e}"),
                    None,
                )
            })?
        };
        Ok(ParquetFile {
            name: name.to_string(),
            random,
            meta,
            int96,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.meta.schema().clone()
    }

    pub fn metadata(&self) -> &Arc<ParquetMetaData> {
        self.meta.metadata()
    }

    /// Rows the file holds (its footer and its row groups agree).
    pub fn rows(&self) -> u64 {
        self.metadata().file_metadata().num_rows().max(0) as u64
    }

    /// Where its column chunks lie, to check page checksums.
    pub fn spans(&self) -> Vec<pages::ChunkSpan> {
        pages::ChunkSpan::of(self.metadata())
    }

    /// The file's rows as batches. Rows are counted as they are decoded and
    /// must add up to the row groups' count. A page whose checksum does not
    /// match is an error naming its column.
    pub fn batches(
        self,
        counters: Arc<Counters>,
        size: u64,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send> {
        let chunks = Chunks(self.random.clone());
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(chunks.clone(), self.meta.clone())
                .with_batch_size(BATCH_ROWS)
                .build()?;
        // INT96 columns again at nanoseconds, only to see the digits the
        // microsecond values leave out.
        let nanos = if self.int96.is_empty() {
            None
        } else {
            let plain = ArrowReaderMetadata::try_new(
                self.metadata().clone(),
                ArrowReaderOptions::new().with_skip_arrow_metadata(true),
            )?;
            let mask = ProjectionMask::leaves(plain.parquet_schema(), self.int96.iter().copied());
            Some(
                ParquetRecordBatchReaderBuilder::new_with_metadata(chunks, plain)
                    .with_projection(mask)
                    .with_batch_size(BATCH_ROWS)
                    .build()?,
            )
        };
        let expected = self.rows();
        Ok(ParquetBatches {
            file: self,
            reader,
            nanos,
            rows: 0,
            expected,
            reported: 0,
            size,
            counters,
            done: false,
        })
    }

    /// The error of a failed read, said the way a user can act on it.
    fn read_error(&self, rows: u64, e: &dyn std::fmt::Display) -> anyhow::Error {
        let text = e.to_string();
        if text.contains("CRC checksum mismatch") {
            // Find the column: check the pages of the file front to back.
            if let Err(named) = self.check_pages() {
                return named;
            }
            return crate::error::input(
                format!("{}: a page checksum does not match its data", self.name),
                Some("the file is corrupt; copy it again from where it came from".to_string()),
            );
        }
        let unsupported = ["NYI", "not yet implemented", "not supported", "Disabled feature"];
        let hint = if unsupported.iter().any(|u| text.contains(u)) {
            "the file uses a Parquet feature that convoy's reader (the parquet crate) does not support; rewrite it with other options"
        } else {
            "the file may be truncated or corrupt"
        };
        crate::error::input(
            format!(
                "{}: cannot read Parquet data after row {rows}: {text}",
                self.name
            ),
            Some(hint.to_string()),
        )
    }

    /// Check every page checksum of the whole file.
    fn check_pages(&self) -> Result<()> {
        let mut check = pages::PageCheck::new(self.name.clone(), self.spans());
        let mut r = self.random.read_from(0)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            check.feed(&buf[..n])?;
        }
        check.finish()
    }
}

/// Whether the parquet crate here decompresses a codec; why not if not.
fn codec_built_in(c: parquet::basic::Compression) -> std::result::Result<(), String> {
    use parquet::basic::Compression as C;
    match c {
        C::UNCOMPRESSED
        | C::SNAPPY
        | C::GZIP(_)
        | C::BROTLI(_)
        | C::LZ4
        | C::LZ4_RAW
        | C::ZSTD(_) => Ok(()),
        C::LZO => Err("LZO, which convoy cannot decompress".to_string()),
    }
}

/// The first bytes of a file, for a message.
fn shown_bytes(b: &[u8]) -> String {
    if !b.is_empty() && b.iter().all(|c| c.is_ascii_graphic()) {
        format!("{:?}", String::from_utf8_lossy(b))
    } else {
        format!("0x{}", hex::encode(b))
    }
}

/// The Arrow fields of a Parquet schema with the timestamps of the INT96
/// leaves (by leaf index, in schema order) at microseconds.
fn int96_at_micros(fields: &Fields, int96: &[usize], leaf: &mut usize) -> Fields {
    fields
        .iter()
        .map(|f| {
            let dt = retype_int96(f.data_type(), int96, leaf);
            Arc::new(f.as_ref().clone().with_data_type(dt))
        })
        .collect()
}

fn retype_int96(dt: &DataType, int96: &[usize], leaf: &mut usize) -> DataType {
    let child = |f: &FieldRef, leaf: &mut usize| -> FieldRef {
        Arc::new(
            f.as_ref()
                .clone()
                .with_data_type(retype_int96(f.data_type(), int96, leaf)),
        )
    };
    match dt {
        DataType::Struct(fs) => DataType::Struct(int96_at_micros(fs, int96, leaf)),
        DataType::List(f) => DataType::List(child(f, leaf)),
        DataType::LargeList(f) => DataType::LargeList(child(f, leaf)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(child(f, leaf), *n),
        DataType::Map(f, sorted) => DataType::Map(child(f, leaf), *sorted),
        other => {
            let this = *leaf;
            *leaf += 1;
            match other {
                DataType::Timestamp(_, tz) if int96.contains(&this) => {
                    DataType::Timestamp(TimeUnit::Microsecond, tz.clone())
                }
                _ => other.clone(),
            }
        }
    }
}

/// The leaf arrays of a column, in schema order.
fn leaf_data(data: &ArrayData, out: &mut Vec<ArrayData>) {
    match data.data_type() {
        DataType::Struct(_) => data.child_data().iter().for_each(|c| leaf_data(c, out)),
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(_, _)
        | DataType::Map(_, _) => leaf_data(&data.child_data()[0], out),
        _ => out.push(data.clone()),
    }
}

/// Batches of a [`ParquetFile`].
struct ParquetBatches {
    file: ParquetFile,
    reader: ParquetRecordBatchReader,
    nanos: Option<ParquetRecordBatchReader>,
    rows: u64,
    expected: u64,
    reported: u64,
    size: u64,
    counters: Arc<Counters>,
    done: bool,
}

impl ParquetBatches {
    /// INT96 values read at microseconds must not have lost nanoseconds.
    fn check_int96(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some(nanos) = self.nanos.as_mut() else {
            return Ok(());
        };
        let ns = match nanos.next() {
            Some(b) => b.map_err(|e| self.file.read_error(self.rows, &e))?,
            None => return Err(anyhow::anyhow!("internal error: INT96 rows ran out")),
        };
        let mut all = Vec::new();
        batch
            .columns()
            .iter()
            .for_each(|c| leaf_data(&c.to_data(), &mut all));
        let mut at_ns = Vec::new();
        ns.columns()
            .iter()
            .for_each(|c| leaf_data(&c.to_data(), &mut at_ns));
        for (&leaf, ns) in self.file.int96.iter().zip(&at_ns) {
            let Some(us) = all.get(leaf) else { continue };
            let n = us.len().min(ns.len());
            let us_v = &us.buffers()[0].typed_data::<i64>()[us.offset()..us.offset() + n];
            let ns_v = &ns.buffers()[0].typed_data::<i64>()[ns.offset()..ns.offset() + n];
            for i in 0..n {
                if us.is_null(i) {
                    continue;
                }
                // Both conversions wrap the same way, so the difference is
                // the nanoseconds of the value, whatever its year.
                if ns_v[i].wrapping_sub(us_v[i].wrapping_mul(1000)) != 0 {
                    let column = self.file.meta.parquet_schema().column(leaf).path().string();
                    return Err(crate::error::input(
                        format!(
                            "{}: column \"{column}\" holds an INT96 timestamp with nanoseconds (after row {}); convoy reads INT96 at microseconds, as Spark does, and would lose them",
                            self.file.name, self.rows
                        ),
                        Some(
                            "rewrite the file with INT64 timestamps (TIMESTAMP(NANOS)), e.g. pyarrow without use_deprecated_int96_timestamps".to_string(),
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let batch = match self.reader.next() {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                self.done = true;
                return Some(Err(self.file.read_error(self.rows, &e)));
            }
            None => {
                self.done = true;
                if self.rows != self.expected {
                    return Some(Err(crate::error::input(
                        format!(
                            "{}: {} rows were read, but its row groups say they hold {}; the file is damaged",
                            self.file.name, self.rows, self.expected
                        ),
                        Some("get the file again from where it came from".to_string()),
                    )));
                }
                return None;
            }
        };
        if let Err(e) = self.check_int96(&batch) {
            self.done = true;
            return Some(Err(e));
        }
        self.rows += batch.num_rows() as u64;
        let now = (self.size as u128 * self.rows as u128 / self.expected.max(1) as u128)
            .min(self.size as u128) as u64;
        self.counters.add_bytes(now.saturating_sub(self.reported));
        self.reported = now;
        Some(Ok(batch))
    }
}

/// An Arrow IPC input: the file format (`ARROW1` … footer, read with random
/// access) or the stream format (`.arrows`: messages front to back, also
/// from a pipe). Which one is told by the first bytes, not the name.
pub enum IpcReader {
    File(arrow::ipc::reader::FileReader<Box<dyn ReadSeek>>),
    Stream(arrow::ipc::reader::StreamReader<BufReader<Box<dyn Read + Send>>>),
}

/// The first bytes of an Arrow IPC file (the stream format has none).
const ARROW_MAGIC: &[u8] = b"ARROW1";

impl IpcReader {
    pub fn schema(&self) -> SchemaRef {
        match self {
            IpcReader::File(r) => r.schema(),
            IpcReader::Stream(r) => r.schema(),
        }
    }

    /// Batches in the file, when it says (the stream format does not).
    pub fn num_batches(&self) -> Option<usize> {
        match self {
            IpcReader::File(r) => Some(r.num_batches()),
            IpcReader::Stream(_) => None,
        }
    }
}

impl Iterator for IpcReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            IpcReader::File(r) => r.next(),
            IpcReader::Stream(r) => r.next(),
        }
    }
}

/// Opens an Arrow IPC file or stream.
pub fn ipc_open(input: &dyn Input) -> Result<IpcReader> {
    let name = input.name();
    let head = input.head(8)?;
    if head.is_empty() {
        return Err(crate::error::input(
            format!("{name} is empty: it is not an Arrow IPC file or stream"),
            None,
        ));
    }
    let opened = if head.starts_with(ARROW_MAGIC) {
        arrow::ipc::reader::FileReader::try_new(input.seekable()?, None).map(IpcReader::File)
    } else {
        arrow::ipc::reader::StreamReader::try_new_buffered(input.open()?, None)
            .map(IpcReader::Stream)
    };
    opened.map_err(|e| {
        let (what, hint) = ipc_problem(&e);
        crate::error::input(
            format!("{name} is not a readable Arrow IPC {what}: {e}"),
            Some(hint),
        )
    })
}

/// What an IPC reading error means: which form, and a true hint.
pub fn ipc_problem(e: &ArrowError) -> (&'static str, String) {
    let text = e.to_string();
    if text.contains("feature") || text.contains("not supported") || text.contains("NYI") {
        (
            "file",
            "the file uses an Arrow IPC feature or codec that convoy's reader does not support; rewrite it uncompressed or with lz4/zstd".to_string(),
        )
    } else {
        (
            "file or stream",
            "check that the file is complete and really Arrow IPC (--source-format)".to_string(),
        )
    }
}
