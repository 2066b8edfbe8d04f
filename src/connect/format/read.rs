//! Readers for every file format: each yields batches in the declared schema,
//! from any [`Input`] (a local file, standard input or an object).

use std::io::{BufReader, Cursor, Read};
use std::sync::Arc;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;

use super::conform::{Conformer, Location};
use super::input::{Chunks, Input, RandomAccess, ReadSeek};
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

/// Opens a Parquet file; its schema and a reader of its batches.
pub fn parquet_open(
    input: &dyn Input,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<Chunks>> {
    parquet_open_at(&input.name(), input.random()?)
}

/// Opens a Parquet file through positioned reads already set up.
pub fn parquet_open_at(
    name: &str,
    random: Arc<dyn RandomAccess>,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<Chunks>> {
    let chunks = Chunks(random);
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(chunks).map_err(|e| {
        crate::error::input(
            format!("{name} is not a readable Parquet file: {e}"),
            Some(
                "check that the file is complete and really Parquet (--source-format)".to_string(),
            ),
        )
    })
}

/// Opens an Arrow IPC file.
pub fn ipc_open(input: &dyn Input) -> Result<arrow::ipc::reader::FileReader<Box<dyn ReadSeek>>> {
    arrow::ipc::reader::FileReader::try_new(input.seekable()?, None).map_err(|e| {
        crate::error::input(
            format!("{} is not a readable Arrow IPC file: {e}", input.name()),
            Some(
                "check that the file is complete and really Arrow IPC (--source-format)"
                    .to_string(),
            ),
        )
    })
}
