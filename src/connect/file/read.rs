//! Readers for local files: each yields batches in the declared schema.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;

use super::conform::{Conformer, Location};
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

/// An opened input: a file or standard input.
pub fn open_input(path: &Path) -> Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin()));
    }
    let f = File::open(path)
        .map_err(|e| crate::error::input(format!("cannot open {}: {e}", path.display()), None))?;
    Ok(Box::new(f))
}

/// The first bytes of a text input, kept so the whole input can still be
/// read from the start (works for pipes and standard input too).
pub struct Sampled {
    pub sample: Vec<u8>,
    pub complete: bool,
    pub rest: Box<dyn Read + Send>,
}

pub fn sample(mut input: Box<dyn Read + Send>, limit: usize) -> Result<Sampled> {
    let mut sample = Vec::with_capacity(limit.min(1 << 16));
    (&mut input).take(limit as u64).read_to_end(&mut sample)?;
    let complete = sample.len() < limit;
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
            Some(Err(e)) => return Err(csv_sample_error(file, e)),
            None => header = Some(Vec::new()),
        }
    }
    for rec in iter {
        match rec {
            Ok(r) => records.push(r),
            // A record cut off by the end of the sample is not an error.
            Err(_) if !s.complete => break,
            Err(e) => return Err(csv_sample_error(file, e)),
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

fn csv_sample_error(file: &str, e: csv::Error) -> anyhow::Error {
    let hint = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => Some(
            "convoy reads UTF-8 text; convert the file first, e.g. iconv -f latin1 -t utf-8"
                .to_string(),
        ),
        _ => None,
    };
    crate::error::input(format!("{file}: {e}"), hint)
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
            inferred,
        };
        next_row += batch.num_rows() as u64;
        conformer.apply(batch, &at)
    }))
}

/// arrow-csv's messages count lines from the first line of the file and
/// columns from 0; say it the way a user reads the file.
fn csv_error(
    file: &str,
    e: ArrowError,
    names: &[String],
    header_lines: u64,
    inferred: bool,
) -> anyhow::Error {
    let text = e.to_string();
    let text = text
        .strip_prefix("Parser error: ")
        .or_else(|| text.strip_prefix("Csv error: "))
        .unwrap_or(&text)
        .to_string();
    let column = text
        .split("for column ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|i| names.get(i));
    let line = text
        .split("line ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u64>().ok());
    let mut msg = format!("{file}: ");
    if let Some(line) = line {
        // arrow counts data rows from 1 after the header; a file line is one more.
        msg.push_str(&format!("row {line} (line {})", line + header_lines));
        if let Some(c) = column {
            msg.push_str(&format!(", column \"{c}\""));
        }
        msg.push_str(": ");
    }
    // Row data can be long; keep the message readable.
    let detail = text.split(". Row data:").next().unwrap_or(&text);
    msg.push_str(detail);
    let hint = if text.contains("invalid UTF-8") {
        "convoy reads UTF-8 text; convert the file first, e.g. iconv -f latin1 -t utf-8".to_string()
    } else if text.contains("number of fields") || text.contains("unequal lengths") {
        format!(
            "every row needs {} fields; check the delimiter (--delimiter) and quoting",
            names.len()
        )
    } else if inferred {
        "the type was inferred from a sample; declare it with --schema or raise --infer-rows"
            .to_string()
    } else {
        "fix the value, or declare the column with a type that holds it".to_string()
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
    path: &Path,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<File>> {
    let f = File::open(path)
        .map_err(|e| crate::error::input(format!("cannot open {}: {e}", path.display()), None))?;
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| {
        crate::error::input(
            format!("{} is not a readable Parquet file: {e}", path.display()),
            Some(
                "check that the file is complete and really Parquet (--source-format)".to_string(),
            ),
        )
    })
}

/// Opens an Arrow IPC file.
pub fn ipc_open(path: &Path) -> Result<arrow::ipc::reader::FileReader<BufReader<File>>> {
    let f = File::open(path)
        .map_err(|e| crate::error::input(format!("cannot open {}: {e}", path.display()), None))?;
    arrow::ipc::reader::FileReader::try_new(BufReader::new(f), None).map_err(|e| {
        crate::error::input(
            format!("{} is not a readable Arrow IPC file: {e}", path.display()),
            Some(
                "check that the file is complete and really Arrow IPC (--source-format)"
                    .to_string(),
            ),
        )
    })
}
