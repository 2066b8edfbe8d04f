//! Readers for every file format: each yields batches in the declared schema,
//! from any [`Input`] (a local file, standard input or an object).

use std::io::{BufRead, BufReader, Cursor, Read};
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
use super::records;
use super::scan;
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

/// Lines of a CSV sample read to detect its dialect.
pub const DETECT_LINES: usize = 100;

/// The first complete records of a sample in one dialect (errors end it).
fn sample_records(
    s: &Sampled,
    delimiter: u8,
    quote: u8,
    escape: Option<u8>,
) -> Vec<csv::StringRecord> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .quote(quote)
        .escape(escape)
        .double_quote(true)
        .flexible(true)
        .from_reader(&s.sample[..]);
    let mut records: Vec<csv::StringRecord> = rdr
        .records()
        .map_while(|r| r.ok())
        .take(DETECT_LINES + 1)
        .collect();
    if !s.complete || records.len() > DETECT_LINES {
        records.pop();
    }
    records
}

/// The CSV dialect of a file, from its name and a sample, where the user did
/// not set it ([`CsvOptions::set`]); the same sample gives the same answer.
///
/// - delimiter: tab for `.tsv`; else, among `,` `;` tab `|` (in that order
///   of preference), the one that splits every sampled line into the same
///   number of fields, more than one, and the most fields;
/// - quote: `"`, or `'` when the sample has no `"` and only `'` makes the
///   lines agree;
/// - header: line 1 is data when its fields read as the column types
///   (declared, or inferred from the other lines) and a column is typed.
pub fn detect_csv(
    file: &str,
    s: &Sampled,
    opts: &CsvOptions,
    declared: Option<&Schema>,
) -> CsvOptions {
    let mut o = opts.clone();
    let lower = file.to_ascii_lowercase();
    let stem = [".gz", ".zst", ".bz2", ".xz"]
        .iter()
        .find_map(|c| lower.strip_suffix(c))
        .unwrap_or(&lower);
    let quotes: Vec<u8> = if opts.set.quote || s.sample.contains(&b'"') {
        vec![opts.quote]
    } else {
        vec![opts.quote, b'\'']
    };
    let delimiters: Vec<u8> = if opts.set.delimiter {
        vec![opts.delimiter]
    } else if stem.ends_with(".tsv") {
        vec![b'\t']
    } else {
        vec![b',', b';', b'\t', b'|']
    };
    o.delimiter = delimiters[0];
    if delimiters.len() > 1 || quotes.len() > 1 {
        // (fields per line when every line agrees, delimiter, quote)
        let mut best: Option<(usize, u8, u8)> = None;
        for &q in &quotes {
            for &d in &delimiters {
                let recs = sample_records(s, d, q, opts.escape);
                let Some(n) = recs.first().map(|r| r.len()) else {
                    continue;
                };
                if n > 1 && recs.iter().all(|r| r.len() == n) && best.is_none_or(|b| n > b.0) {
                    best = Some((n, d, q));
                }
            }
        }
        if let Some((_, d, q)) = best {
            o.delimiter = d;
            o.quote = q;
        }
    }
    if !opts.set.header {
        let recs = sample_records(s, o.delimiter, o.quote, o.escape);
        o.header = !super::infer::first_is_data(&recs, declared, &opts.null);
    }
    o
}

/// How a dialect is shown in a plan: what was set and what was detected.
pub fn describe_csv(o: &CsvOptions) -> String {
    let ch = |b: u8| match b {
        b'\t' => "tab".to_string(),
        b => format!("'{}'", b as char),
    };
    let how = |set: bool| if set { "given" } else { "detected" };
    format!(
        "csv: delimiter {} ({}), quote {} ({}), header {} ({})",
        ch(o.delimiter),
        how(o.set.delimiter),
        ch(o.quote),
        how(o.set.quote),
        if o.header { "yes" } else { "no" },
        how(o.set.header)
    )
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

/// Reads one CSV input as batches of the conformer's target schema. The
/// input passes through a [`scan::Scanner`] (unclosed quotes, blank lines,
/// file lines); what it found is in the returned [`scan::Scanned`].
pub fn csv_batches(
    file: String,
    input: impl Read + Send + 'static,
    opts: &CsvOptions,
    conformer: Conformer,
    inferred: bool,
    counters: Arc<Counters>,
) -> Result<(
    impl Iterator<Item = Result<RecordBatch>> + Send,
    Arc<scan::Scanned>,
)> {
    let scanner = scan::Scanner::new(
        scan::Dialect {
            delimiter: opts.delimiter,
            quote: opts.quote,
            escape: opts.escape,
            header: opts.header,
        },
        conformer.target().fields().len() == 1,
    );
    // Asked for, where an empty field is NULL: a quoted empty field (`""`)
    // is still an empty string in a text column, as PostgreSQL has it.
    let scanner = if opts.null.is_empty() && opts.quoted_empty_string {
        scanner.keep_empty_strings()
    } else {
        scanner
    };
    let text_columns: Vec<bool> = conformer
        .wire()
        .fields()
        .iter()
        .zip(conformer.target().fields())
        .map(|(w, t)| {
            // Text, and binary written as hex text (an empty value is `""`).
            matches!(w.data_type(), DataType::Utf8 | DataType::LargeUtf8)
                && (w.data_type() == t.data_type()
                    || matches!(
                        t.data_type(),
                        DataType::Binary | DataType::LargeBinary | DataType::FixedSizeBinary(_)
                    ))
        })
        .collect();
    let scanned = scanner.shared.clone();
    let names: Vec<String> = conformer
        .target()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let header_lines = u64::from(opts.header);
    let input = scan::Scan::new(
        Counting {
            inner: input,
            counters,
        },
        scanner,
    );
    let wire = conformer.wire();
    let errors = CsvErrors {
        file: file.clone(),
        names,
        header_lines,
        inferred,
        lines: scanned.clone(),
    };
    let dialect = records::Dialect {
        delimiter: opts.delimiter,
        quote: opts.quote,
        escape: opts.escape,
    };
    let decoded: Box<dyn Iterator<Item = Result<RecordBatch>> + Send> =
        if records::handles(&wire, dialect) {
            let null = (!opts.null.is_empty()).then(|| opts.null.as_bytes().to_vec());
            let records =
                records::Records::new(input, wire, dialect, opts.header, null, BATCH_ROWS);
            Box::new(records.map(move |batch| batch.map_err(|p| errors.records(p))))
        } else {
            let mut builder = arrow::csv::ReaderBuilder::new(wire)
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
            let reader = builder.build_buffered(BufReader::with_capacity(1 << 20, input))?;
            Box::new(reader.map(move |batch| batch.map_err(|e| errors.arrow(e))))
        };
    let mut next_row = 1u64;
    let lines = scanned.clone();
    let batches = decoded.map(move |batch| {
        let batch = batch?;
        // Records of this batch, the header counted.
        let first = next_row - 1 + header_lines;
        let empty = lines.take_empty_strings(first + batch.num_rows() as u64);
        let batch = empty_strings(batch, first, &empty, &text_columns)?;
        let at = Location {
            file: &file,
            first_row: next_row,
            line_offset: Some(header_lines),
            lines: Some((&lines, header_lines)),
            inferred,
        };
        next_row += batch.num_rows() as u64;
        conformer.apply(batch, &at)
    });
    Ok((batches, scanned))
}

/// Mark the quoted empty fields of text columns (`(record, field)`, the
/// batch's first record being `first`) as empty strings rather than NULL.
fn empty_strings(
    batch: RecordBatch,
    first: u64,
    empty: &[(u64, usize)],
    text_columns: &[bool],
) -> Result<RecordBatch> {
    let mut wanted: Vec<(usize, usize)> = empty
        .iter()
        .filter(|(r, f)| *r >= first && text_columns.get(*f) == Some(&true))
        .map(|(r, f)| (*f, (*r - first) as usize))
        .filter(|(_, row)| *row < batch.num_rows())
        .collect();
    if wanted.is_empty() {
        return Ok(batch);
    }
    wanted.sort_unstable();
    let mut columns = batch.columns().to_vec();
    for (col, rows) in wanted.chunk_by(|a, b| a.0 == b.0).map(|g| (g[0].0, g)) {
        let data = columns[col].to_data();
        let Some(nulls) = data.nulls() else {
            continue;
        };
        let mut valid = arrow::array::BooleanBufferBuilder::new(data.len());
        valid.append_buffer(nulls.inner());
        for &(_, row) in rows {
            valid.set_bit(row, true);
        }
        let data = data
            .into_builder()
            .nulls(Some(arrow::buffer::NullBuffer::new(valid.finish())))
            .build()?;
        columns[col] = arrow::array::make_array(data);
    }
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// How CSV errors are worded: the file, its columns, whether line 1 was a
/// header, whether the types were inferred, and what the scanner found
/// (file lines, a refused quote). Data rows count from 1 after the header.
struct CsvErrors {
    file: String,
    names: Vec<String>,
    header_lines: u64,
    inferred: bool,
    lines: Arc<scan::Scanned>,
}

impl CsvErrors {
    /// arrow-csv's messages, rewritten the way a user reads the file.
    fn arrow(&self, e: ArrowError) -> anyhow::Error {
        if let Some(why) = self.lines.error() {
            return quote_error(&self.file, &why, &self.lines);
        }
        let text = e.to_string();
        let number_after = |marker: &str| -> Option<u64> {
            text.split(marker)
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        };
        if text.contains("incorrect number of fields") {
            // arrow counts records from 1, the header included.
            let record = number_after("for line ").unwrap_or(1).saturating_sub(1);
            let detail = text
                .split(", expected ")
                .nth(1)
                .map(|r| format!("expected {}", r.replace(" got ", " fields, found ")))
                .unwrap_or_else(|| text.clone());
            self.fields(record, detail)
        } else if text.contains("invalid UTF-8") {
            self.utf8(number_after("for line ").unwrap_or(1).saturating_sub(1))
        } else if let Some(record) = number_after(" at line ") {
            // arrow numbers a value's row by its record, from 0, the header
            // counted.
            let value = text
                .split("parsing value '")
                .nth(1)
                .and_then(|r| r.split("' as type '").next())
                .unwrap_or("?");
            let ty = text
                .split("' as type '")
                .nth(1)
                .and_then(|r| r.split('\'').next())
                .unwrap_or("?");
            let column = number_after("for column ").map(|i| i as usize);
            self.value(record, column, value, ty)
        } else {
            crate::error::input(
                format!("{}: {text}", self.file),
                Some("check the file's CSV dialect (--delimiter, --quote, --escape)".to_string()),
            )
        }
    }

    /// What [`records::Records`] found, which it says directly.
    fn records(&self, problem: records::Problem) -> anyhow::Error {
        use records::Problem;
        if let Some(why) = self.lines.error() {
            return quote_error(&self.file, &why, &self.lines);
        }
        match problem {
            Problem::Fields {
                record,
                expected,
                found,
            } => self.fields(record, format!("expected {expected} fields, found {found}")),
            Problem::Utf8 { record } => self.utf8(record),
            Problem::Value {
                record,
                column,
                value,
                ty,
            } => self.value(record, Some(column), &value, &ty.to_string()),
            // Worded as arrow-csv's reader words them, for the same outcome.
            Problem::Io(e) => self.arrow(ArrowError::from(e)),
            Problem::Other(text) => crate::error::input(format!("{}: {text}", self.file), None),
        }
    }

    /// "row N (line L)" of a record (from 0, the header counted).
    fn row(&self, record: u64) -> String {
        format!(
            "row {} (line {})",
            (record + 1).saturating_sub(self.header_lines),
            self.lines.line_of(record)
        )
    }

    /// A record with the wrong number of fields.
    fn fields(&self, record: u64, detail: String) -> anyhow::Error {
        crate::error::input(
            format!("{}: {}: {detail}", self.file, self.row(record)),
            Some(format!(
                "every row needs {} fields; check the delimiter (--delimiter) and quoting",
                self.names.len()
            )),
        )
    }

    /// A record that is not UTF-8.
    fn utf8(&self, record: u64) -> anyhow::Error {
        crate::error::input(
            format!("{}: {}: not valid UTF-8", self.file, self.row(record)),
            Some(
                "convoy reads UTF-8 text; convert the file first, e.g. iconv -f latin1 -t utf-8"
                    .to_string(),
            ),
        )
    }

    /// A value that is not of its column's type `ty`; remembered for
    /// reading the file again wider.
    fn value(&self, record: u64, column: Option<usize>, value: &str, ty: &str) -> anyhow::Error {
        if let Some(i) = column {
            self.lines.misfit(i, value);
        }
        let column = column
            .and_then(|i| self.names.get(i))
            .map(|c| format!(", column \"{c}\""))
            .unwrap_or_default();
        crate::error::input(
            format!(
                "{}: {}{column}: {} is not a valid {}",
                self.file,
                self.row(record),
                super::conform::shown(value),
                ty.to_ascii_lowercase()
            ),
            if self.inferred {
                "the type was inferred from a sample; declare it with --schema or raise --infer-rows"
                    .to_string()
            } else {
                "fix the value, or declare the column with a type that holds it".to_string()
            },
        )
    }
}

/// What the scanner refused (a quote never closed, text after one).
pub fn quote_error(file: &str, why: &str, lines: &scan::Scanned) -> anyhow::Error {
    let hint = if lines.backslash_quote() {
        // Not detected: with `\` as the escape, a backslash before any
        // character in quotes is dropped, which changes values in files
        // that do not escape that way.
        "the quote follows a backslash: if the file escapes quotes with \\ (as Spark writes CSV), read it with --escape '\\' (a backslash in a quoted field then always escapes the next character)"
    } else {
        "a quote opens a quoted field only at the start of a field and must close it; check the quote character (--quote) or fix the file"
    };
    crate::error::input(format!("{file}: {why}"), Some(hint.to_string()))
}

/// Reads one JSON Lines input as batches of the conformer's target schema.
///
/// Lines are fed to arrow-json's decoder one by one, so an error names the
/// line it is on: a line that is not JSON at once, a value that does not fit
/// its column by decoding that batch's lines again one at a time. Numbers
/// are decoded strictly ([`StrictNumbers`]).
pub fn json_batches(
    file: String,
    input: impl Read + Send + 'static,
    conformer: Conformer,
    inferred: bool,
    counters: Arc<Counters>,
) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send> {
    let wire = conformer.wire();
    Ok(JsonLines {
        decoder: json_decoder(&wire)?,
        wire,
        reader: BufReader::with_capacity(
            1 << 20,
            Counting {
                inner: input,
                counters,
            },
        ),
        file,
        conformer,
        inferred,
        line: 0,
        text: Vec::new(),
        lines: Vec::new(),
        row_lines: Vec::new(),
        next_row: 1,
        done: false,
    })
}

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Rows the JSON decoder holds at most (see [`JsonLines::read_batch`]).
const JSON_DECODER_ROWS: usize = BATCH_ROWS * 4;

fn json_decoder(wire: &SchemaRef) -> Result<arrow::json::reader::Decoder> {
    Ok(arrow::json::ReaderBuilder::new(wire.clone())
        // Batches are cut by the reader below at BATCH_ROWS rows; the
        // decoder's own limit is only reached by a line of many objects.
        .with_batch_size(JSON_DECODER_ROWS)
        .with_coerce_primitive(true)
        .with_strict_mode(true)
        .with_decoder_factory(Arc::new(StrictNumbers))
        .build_decoder()?)
}

struct JsonLines<R: Read> {
    reader: BufReader<Counting<R>>,
    decoder: arrow::json::reader::Decoder,
    wire: SchemaRef,
    file: String,
    conformer: Conformer,
    inferred: bool,
    /// Lines read so far.
    line: u64,
    /// The text of the batch's lines, to find a failing line again.
    text: Vec<u8>,
    /// (line number, end offset in `text`) of each line of the batch.
    lines: Vec<(u64, usize)>,
    /// The line of each row of the batch, when every row has a line of
    /// its own.
    row_lines: Vec<u64>,
    next_row: u64,
    done: bool,
}

impl<R: Read> JsonLines<R> {
    fn error(&self, line: u64, e: &dyn std::fmt::Display) -> anyhow::Error {
        let text = e.to_string();
        let text = text.strip_prefix("Json error: ").unwrap_or(&text);
        let hint = if self.inferred {
            "the schema was inferred from the first lines (--infer-rows); declare it with --schema, or fix the line"
        } else {
            "each line must be one JSON object whose fields match the schema"
        };
        crate::error::input(
            format!("{}: line {line}: {text}", self.file),
            Some(hint.to_string()),
        )
    }

    /// The first line of the batch that fails on its own.
    fn locate(&self) -> Option<anyhow::Error> {
        let mut decoder = json_decoder(&self.wire).ok()?;
        let mut start = 0;
        for &(line, end) in &self.lines {
            if let Err(e) = decoder.decode(&self.text[start..end]) {
                let msg = format!(
                    "not valid JSON: {}",
                    e.to_string().trim_start_matches("Json error: ")
                );
                return Some(self.error(line, &msg));
            }
            start = end;
            if !decoder.has_partial_record() {
                if let Err(e) = decoder.flush() {
                    return Some(self.error(line, &e));
                }
            }
        }
        None
    }

    /// Feed the decoder the text not fed yet.
    fn feed(&mut self, fed: &mut usize) -> Result<()> {
        while *fed < self.text.len() {
            match self.decoder.decode(&self.text[*fed..]) {
                Ok(0) => {
                    return Err(self.error(
                        self.line,
                        &format!(
                            "the {} lines before it hold more than {JSON_DECODER_ROWS} JSON values; JSON Lines has one object per line",
                            self.lines.len()
                        ),
                    ))
                }
                Ok(n) => *fed += n,
                Err(e) => {
                    return Err(self.locate().unwrap_or_else(|| {
                        let msg = format!(
                            "not valid JSON: {}",
                            e.to_string().trim_start_matches("Json error: ")
                        );
                        self.error(self.line, &msg)
                    }))
                }
            }
        }
        Ok(())
    }

    /// The next batch: [`BATCH_ROWS`] lines (more while an object spanning
    /// lines is open) decoded in one go; each line is decoded on its own
    /// again only to name the line of an error.
    fn read_batch(&mut self) -> Result<Option<RecordBatch>> {
        self.text.clear();
        self.lines.clear();
        self.row_lines.clear();
        let mut fed = 0;
        // Lines are found in the reader's buffer with memchr and copied a
        // buffer at a time; the batch ends after BATCH_ROWS lines, at a line
        // where no object is open.
        let mut line_start = 0;
        let mut in_batch = 0usize;
        loop {
            if self.line == 0 && self.text.is_empty() {
                // A UTF-8 byte order mark is not part of the first object.
                let buf = self.reader.fill_buf()?;
                if buf.starts_with(UTF8_BOM) {
                    self.reader.consume(UTF8_BOM.len());
                }
            }
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                if self.text.len() > line_start {
                    // A last line without a line end.
                    self.line += 1;
                    if !self.text[line_start..].iter().all(u8::is_ascii_whitespace) {
                        self.lines.push((self.line, self.text.len()));
                    }
                }
                break;
            }
            let mut take = buf.len();
            let mut ends = Vec::new();
            for nl in memchr::memchr_iter(b'\n', buf) {
                ends.push(nl + 1);
                if in_batch + ends.len() >= BATCH_ROWS {
                    take = nl + 1;
                    break;
                }
            }
            let base = self.text.len();
            self.text.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            for end in ends {
                let end = base + end;
                self.line += 1;
                in_batch += 1;
                let span = &self.text[line_start..end];
                if !span.iter().all(u8::is_ascii_whitespace) {
                    self.lines.push((self.line, end));
                }
                line_start = end;
            }
            if in_batch >= BATCH_ROWS && line_start == self.text.len() {
                self.feed(&mut fed)?;
                if !self.decoder.has_partial_record() {
                    break;
                }
            }
        }
        self.feed(&mut fed)?;
        if self.decoder.has_partial_record() {
            // The line where the object still open began.
            let mut from = self.line;
            if let Ok(mut d) = json_decoder(&self.wire) {
                let mut start = 0;
                let mut open = false;
                for &(line, end) in &self.lines {
                    let _ = d.decode(&self.text[start..end]);
                    start = end;
                    if d.has_partial_record() && !open {
                        from = line;
                    }
                    open = d.has_partial_record();
                    if !open {
                        let _ = d.flush();
                    }
                }
            }
            return Err(crate::error::input(
                format!(
                    "{}: line {from}: the JSON object that starts here is not complete at the end of the file",
                    self.file
                ),
                Some("the file may be truncated".to_string()),
            ));
        }
        if self.lines.is_empty() {
            return Ok(None);
        }
        let batch = match self.decoder.flush() {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(e) => {
                return Err(self.locate().unwrap_or_else(|| {
                    let first = self.lines.first().map_or(self.line, |l| l.0);
                    self.error(first, &e)
                }))
            }
        };
        // One row per line (the usual case): each row's line is known.
        if batch.num_rows() == self.lines.len() {
            self.row_lines = self.lines.iter().map(|l| l.0).collect();
        }
        Ok(Some(batch))
    }
}

impl<R: Read> Iterator for JsonLines<R> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let batch = match self.read_batch() {
            Ok(Some(b)) => b,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        // Rows and lines match when every row of the batch has its own line
        // and no blank line lies between them.
        let first_line = self.row_lines.first().copied().unwrap_or(0);
        let one_to_one = !self.row_lines.is_empty()
            && self
                .row_lines
                .iter()
                .enumerate()
                .all(|(i, &l)| l == first_line + i as u64);
        let at = Location {
            file: &self.file,
            first_row: self.next_row,
            line_offset: one_to_one.then(|| first_line - self.next_row),
            lines: None,
            inferred: self.inferred,
        };
        self.next_row += batch.num_rows() as u64;
        Some(self.conformer.apply(batch, &at))
    }
}

/// JSON numbers decoded exactly: an integer column takes only whole numbers
/// in its range (arrow-json falls back to parsing a float and truncating, so
/// `2.5` would become `2`), a float column refuses a number beyond its range
/// (arrow-json makes it infinity) and reads back the strings `"NaN"`,
/// `"Infinity"` and `"-Infinity"` that convoy writes for those values.
#[derive(Debug)]
struct StrictNumbers;

impl arrow::json::reader::DecoderFactory for StrictNumbers {
    fn make_default_decoder(
        &self,
        _ctx: &arrow::json::reader::DecoderContext,
        field: &FieldRef,
        _is_nullable: bool,
    ) -> std::result::Result<Option<Box<dyn arrow::json::reader::ArrayDecoder>>, ArrowError> {
        use arrow::datatypes::*;
        fn int<T: ArrowPrimitiveType>() -> Box<dyn arrow::json::reader::ArrayDecoder>
        where
            T::Native: JsonNumber,
        {
            Box::new(NumberDecoder::<T>(std::marker::PhantomData))
        }
        Ok(Some(match field.data_type() {
            DataType::Int8 => int::<Int8Type>(),
            DataType::Int16 => int::<Int16Type>(),
            DataType::Int32 => int::<Int32Type>(),
            DataType::Int64 => int::<Int64Type>(),
            DataType::UInt8 => int::<UInt8Type>(),
            DataType::UInt16 => int::<UInt16Type>(),
            DataType::UInt32 => int::<UInt32Type>(),
            DataType::UInt64 => int::<UInt64Type>(),
            DataType::Float32 => Box::new(NumberDecoder::<Float32Type>(std::marker::PhantomData)),
            DataType::Float64 => Box::new(NumberDecoder::<Float64Type>(std::marker::PhantomData)),
            _ => return Ok(None),
        }))
    }
}

struct NumberDecoder<T>(std::marker::PhantomData<fn(T) -> T>);

/// How one JSON number (or numeric string) becomes a value, exactly.
trait JsonNumber: Sized {
    fn from_json(text: &str, quoted: bool) -> std::result::Result<Self, String>;
}

macro_rules! json_int {
    ($($t:ty => $name:literal),*) => {$(
        impl JsonNumber for $t {
            fn from_json(text: &str, _quoted: bool) -> std::result::Result<Self, String> {
                lexical_core::parse::<$t>(text.as_bytes()).map_err(|_| {
                    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
                    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                        format!("{text} is out of range for {}", $name)
                    } else if text.parse::<f64>().is_ok() {
                        format!("{text} is not a whole number (the column is {})", $name)
                    } else {
                        format!("{text:?} is not a number (the column is {})", $name)
                    }
                })
            }
        }
    )*};
}
json_int!(i8 => "int8", i16 => "int16", i32 => "int32", i64 => "int64",
    u8 => "uint8", u16 => "uint16", u32 => "uint32", u64 => "uint64");

/// The special values a float column reads from JSON strings.
fn special_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" | "inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// A JSON number as a float, correctly rounded; refused when the text is a
/// finite number the float cannot hold (it would become infinity or 0).
fn json_float<F>(
    text: &str,
    quoted: bool,
    from_f64: fn(f64) -> F,
    range: &str,
) -> std::result::Result<F, String>
where
    F: lexical_core::FromLexical + Copy + PartialEq + Default + Into<f64>,
{
    if quoted {
        if let Some(v) = special_float(text) {
            return Ok(from_f64(v));
        }
    }
    let v: F =
        lexical_core::parse(text.as_bytes()).map_err(|_| format!("{text:?} is not a number"))?;
    let wide: f64 = v.into();
    if wide.is_infinite() {
        return Err(format!("{text} is beyond the range of {range}"));
    }
    if wide.is_nan() && !text.eq_ignore_ascii_case("nan") {
        return Err(format!("{text:?} is not a number"));
    }
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    if v == F::default() && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        return Err(format!(
            "{text} is too small for {range} (it would become 0)"
        ));
    }
    Ok(v)
}

impl JsonNumber for f64 {
    fn from_json(text: &str, quoted: bool) -> std::result::Result<Self, String> {
        json_float(text, quoted, |v| v, "float64")
    }
}

impl JsonNumber for f32 {
    fn from_json(text: &str, quoted: bool) -> std::result::Result<Self, String> {
        json_float(text, quoted, |v| v as f32, "float32")
    }
}

impl<T> arrow::json::reader::ArrayDecoder for NumberDecoder<T>
where
    T: arrow::datatypes::ArrowPrimitiveType,
    T::Native: JsonNumber,
{
    fn decode(
        &mut self,
        tape: &arrow::json::reader::Tape<'_>,
        pos: &[u32],
    ) -> std::result::Result<arrow::array::ArrayRef, ArrowError> {
        use arrow::json::reader::TapeElement;
        let mut b = arrow::array::PrimitiveBuilder::<T>::with_capacity(pos.len());
        for &p in pos {
            let (text, quoted) = match tape.get(p) {
                TapeElement::Null => {
                    b.append_null();
                    continue;
                }
                TapeElement::Number(i) => (tape.get_string(i), false),
                TapeElement::String(i) => (tape.get_string(i), true),
                TapeElement::True | TapeElement::False => {
                    return Err(ArrowError::JsonError(format!(
                        "expected a number, found a boolean (the column is {})",
                        crate::schema::type_name_of(&T::DATA_TYPE)
                    )))
                }
                _ => {
                    return Err(ArrowError::JsonError(format!(
                        "expected a number, found an object or a list (the column is {})",
                        crate::schema::type_name_of(&T::DATA_TYPE)
                    )))
                }
            };
            let v = T::Native::from_json(text, quoted).map_err(ArrowError::JsonError)?;
            b.append_value(v);
        }
        Ok(Arc::new(b.finish()))
    }
}

/// Infer a JSON Lines schema from a sample: arrow-json's rules, with the
/// columns in the order the file first names them (arrow-json goes through
/// `serde_json::Value`, whose objects sort their keys), and integers beyond
/// int64 as `decimal(38,0)` (or wider) instead of a float that rounds them.
/// A line that is not JSON is named by its number.
pub fn json_infer(file: &str, s: &Sampled, max_records: usize) -> Result<SchemaRef> {
    let mut cut = &s.sample[..];
    if !s.complete {
        // Only whole lines.
        if let Some(end) = cut.iter().rposition(|&b| b == b'\n') {
            cut = &cut[..end + 1];
        }
    }
    // A UTF-8 byte order mark is not part of the first object.
    let cut = cut.strip_prefix(UTF8_BOM).unwrap_or(cut);
    let not_json = |line: usize, column: usize, what: String| {
        crate::error::input(
            format!("{file}: line {line}, column {column}: not valid JSON: {what}"),
            Some("each line must be one JSON object; or give --schema".to_string()),
        )
    };
    let mut values = Vec::new();
    let mut shape = Shape::default();
    let (mut counted, mut newlines) = (0usize, 0usize);
    let mut stream =
        serde_json::Deserializer::from_slice(cut).into_iter::<Box<serde_json::value::RawValue>>();
    while values.len() < max_records {
        let raw = match stream.next() {
            None => break,
            Some(Ok(raw)) => raw,
            Some(Err(e)) => {
                let text = e.to_string();
                let what = text
                    .rsplit_once(" at line ")
                    .map_or(text.as_str(), |(w, _)| w)
                    .to_string();
                return Err(not_json(e.line(), e.column(), what));
            }
        };
        // Lines counted incrementally: the sample can hold many records.
        let end = stream.byte_offset();
        newlines += cut[counted..end].iter().filter(|&&b| b == b'\n').count();
        counted = end;
        let line = 1 + newlines - raw.get().bytes().filter(|&b| b == b'\n').count();
        let value: serde_json::Value = serde_json::from_str(raw.get())?;
        if !value.is_object() {
            return Err(crate::error::input(
                format!(
                    "{file}: line {line}: expected a JSON object, found {}",
                    raw.get().chars().take(40).collect::<String>()
                ),
                Some("each line must be one JSON object".to_string()),
            ));
        }
        shape.observe(&raw);
        values.push(value);
    }
    if values.is_empty() {
        return Err(crate::error::input(
            if cut.iter().all(u8::is_ascii_whitespace) {
                format!("{file} is empty: it has no JSON objects to read")
            } else {
                format!("{file} has no complete JSON object in its first lines")
            },
            Some("an empty file is not copied (it would replace the destination with a table without columns); give --schema to copy it as 0 rows".to_string()),
        ));
    }
    let schema = arrow::json::reader::infer_json_schema_from_iterator(values.iter().map(Ok))
        .map_err(|e| {
            crate::error::input(
                format!(
                    "{file}: cannot infer a schema from its first {} lines: {e}",
                    values.len()
                ),
                Some("declare the columns with --schema".to_string()),
            )
        })?;
    Ok(Arc::new(Schema::new(shape.arrange(schema.fields()))))
}

/// What the sample showed of one JSON value position: keys in the order
/// first seen (objects), items (lists), and whether numbers were integers
/// beyond int64 or had a fraction or exponent.
#[derive(Default)]
struct Shape {
    keys: Vec<String>,
    fields: std::collections::HashMap<String, Shape>,
    items: Option<Box<Shape>>,
    big_int_digits: usize,
    fraction: bool,
}

/// A JSON object's entries in order, values unparsed.
struct Entries(Vec<(String, Box<serde_json::value::RawValue>)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(e) = map.next_entry()? {
                    out.push(e);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Shape {
    fn observe(&mut self, raw: &serde_json::value::RawValue) {
        let text = raw.get().trim();
        match text.as_bytes().first() {
            Some(b'{') => {
                if let Ok(Entries(entries)) = serde_json::from_str::<Entries>(text) {
                    for (k, v) in entries {
                        if !self.fields.contains_key(&k) {
                            self.keys.push(k.clone());
                        }
                        self.fields.entry(k).or_default().observe(&v);
                    }
                }
            }
            Some(b'[') => {
                if let Ok(items) =
                    serde_json::from_str::<Vec<Box<serde_json::value::RawValue>>>(text)
                {
                    let shape = self.items.get_or_insert_with(Box::default);
                    for item in items {
                        shape.observe(&item);
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                if text.contains(['.', 'e', 'E']) {
                    self.fraction = true;
                } else if text.parse::<i64>().is_err() {
                    let digits = text.trim_start_matches('-').len();
                    self.big_int_digits = self.big_int_digits.max(digits);
                }
            }
            _ => {}
        }
    }

    /// Fields in the order the sample named them, with exact types for big
    /// integers.
    fn arrange(&self, fields: &Fields) -> Vec<FieldRef> {
        let mut ordered: Vec<FieldRef> = fields.iter().cloned().collect();
        ordered.sort_by_key(|f| {
            self.keys
                .iter()
                .position(|k| k == f.name())
                .unwrap_or(usize::MAX)
        });
        ordered
            .into_iter()
            .map(|f| match self.fields.get(f.name()) {
                Some(shape) => Arc::new(
                    f.as_ref()
                        .clone()
                        .with_data_type(shape.exact(f.data_type())),
                ),
                None => f,
            })
            .collect()
    }

    fn exact(&self, dt: &DataType) -> DataType {
        match dt {
            DataType::Struct(fs) => DataType::Struct(self.arrange(fs).into()),
            DataType::List(item) => match &self.items {
                Some(shape) => DataType::List(Arc::new(
                    item.as_ref()
                        .clone()
                        .with_data_type(shape.exact(item.data_type())),
                )),
                None => dt.clone(),
            },
            DataType::Int64 | DataType::Float64 if self.big_int_digits > 0 => {
                if self.fraction {
                    // Neither a float nor a decimal of one scale holds both
                    // exactly: keep the numbers' text.
                    DataType::Utf8
                } else if self.big_int_digits <= 38 {
                    DataType::Decimal128(38, 0)
                } else if self.big_int_digits <= 76 {
                    DataType::Decimal256(76, 0)
                } else {
                    DataType::Utf8
                }
            }
            other => other.clone(),
        }
    }
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
        if size == 0 {
            return Err(crate::error::input(
                format!("{name} is empty: it is not a Parquet file"),
                Some(
                    "the file that was meant to be here was not written; get it again".to_string(),
                ),
            ));
        }
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
        let unsupported = [
            "NYI",
            "not yet implemented",
            "not supported",
            "Disabled feature",
        ];
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
    Stream(
        arrow::ipc::reader::StreamReader<BufReader<Tail>>,
        Arc<std::sync::atomic::AtomicU64>,
    ),
}

/// A reader that remembers the last 8 bytes it passed on. arrow's stream
/// reader takes the end of its input for the end of the stream, so a stream
/// cut between two batches would look complete; what was read last tells
/// whether the stream's end-of-stream marker was there.
pub struct Tail {
    inner: Box<dyn Read + Send>,
    last: Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Tail {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            use std::sync::atomic::Ordering;
            let mut last = self.last.load(Ordering::Relaxed).to_be_bytes().to_vec();
            last.extend_from_slice(&buf[n.saturating_sub(8)..n]);
            let tail: [u8; 8] = last[last.len() - 8..].try_into().expect("8 bytes");
            self.last.store(u64::from_be_bytes(tail), Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// The end-of-stream marker: a continuation token and a zero length.
const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// The first bytes of an Arrow IPC file (the stream format has none).
const ARROW_MAGIC: &[u8] = b"ARROW1";

impl IpcReader {
    pub fn schema(&self) -> SchemaRef {
        match self {
            IpcReader::File(r) => r.schema(),
            IpcReader::Stream(r, _) => r.schema(),
        }
    }

    /// Batches in the file, when it says (the stream format does not).
    pub fn num_batches(&self) -> Option<usize> {
        match self {
            IpcReader::File(r) => Some(r.num_batches()),
            IpcReader::Stream(..) => None,
        }
    }
}

impl Iterator for IpcReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            IpcReader::File(r) => r.next(),
            IpcReader::Stream(r, last) => match r.next() {
                None if last.swap(u64::from_be_bytes(END_OF_STREAM), std::sync::atomic::Ordering::Relaxed)
                    != u64::from_be_bytes(END_OF_STREAM) =>
                {
                    Some(Err(ArrowError::IpcError(
                        "the stream ends without its end-of-stream marker: it was cut short (or written by Arrow before 0.15)"
                            .to_string(),
                    )))
                }
                other => other,
            },
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
        let last = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let tail = Tail {
            inner: input.open()?,
            last: last.clone(),
        };
        arrow::ipc::reader::StreamReader::try_new_buffered(tail, None)
            .map(|r| IpcReader::Stream(r, last))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sampled(text: &str) -> Sampled {
        Sampled {
            sample: text.as_bytes().to_vec(),
            complete: true,
            rest: Box::new(std::io::empty()),
        }
    }

    #[test]
    fn json_inference_keeps_the_files_order_and_exact_integers() {
        let s = sampled(
            "{\"z\":1,\"a\":{\"y\":1,\"b\":2},\"big\":1,\"mixed\":1}\n\
             \n\
             {\"m\":[{\"q\":1,\"c\":2}],\"big\":18446744073709551616,\"mixed\":1.5}\n\
             {\"mixed\":-99999999999999999999}\n",
        );
        let schema = json_infer("f.jsonl", &s, 100).unwrap();
        assert_eq!(
            crate::schema::format_schema(&schema),
            "z:int64,a:struct<y:int64,b:int64>,big:decimal(38,0),mixed:string,m:list<struct<q:int64,c:int64>>"
        );
        let err = json_infer("f.jsonl", &sampled("{\"a\":1}\n\n\n\n{\"a\":}\n"), 100)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("f.jsonl: line 5, column 6: not valid JSON"),
            "{err}"
        );
        let err = json_infer("f.jsonl", &sampled("{\"a\":1}\n[1]\n"), 100)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2: expected a JSON object"), "{err}");
        let err = json_infer("e.jsonl", &sampled("\n\n"), 100)
            .unwrap_err()
            .to_string();
        assert!(err.contains("e.jsonl is empty"), "{err}");
    }

    fn read_json(text: &'static str, schema: &str) -> Result<Vec<RecordBatch>> {
        let schema = crate::schema::parse_schema(schema).unwrap();
        json_batches(
            "f.jsonl".into(),
            text.as_bytes(),
            Conformer::new(schema),
            false,
            Arc::default(),
        )?
        .collect()
    }

    fn read_csv(text: &'static [u8], schema: &str, opts: &CsvOptions) -> Result<Vec<RecordBatch>> {
        let schema = crate::schema::parse_schema(schema).unwrap();
        let (batches, _) = csv_batches(
            "f.csv".into(),
            text,
            opts,
            Conformer::csv(schema),
            false,
            Arc::default(),
        )?;
        batches.collect()
    }

    /// The same errors, rows and lines from both CSV decoders: convoy's
    /// ([`records`]; quotes doubled or escaped with a backslash) and
    /// arrow-csv's (here an escape character that is the quote, which reads
    /// as doubled quotes).
    #[test]
    fn csv_errors_name_row_and_line_whichever_decoder_reads() {
        let escape = |e: u8| CsvOptions {
            escape: Some(e),
            ..CsvOptions::default()
        };
        let no_header = |o: &CsvOptions| CsvOptions {
            header: false,
            ..o.clone()
        };
        for opts in [CsvOptions::default(), escape(b'\\'), escape(b'"')] {
            let dialect = records::Dialect {
                delimiter: opts.delimiter,
                quote: opts.quote,
                escape: opts.escape,
            };
            assert_eq!(
                records::handles(
                    &Conformer::csv(crate::schema::parse_schema("a:int64").unwrap()).wire(),
                    dialect
                ),
                opts.escape != Some(b'"')
            );
            let cases: [(&'static [u8], &CsvOptions, &str); 4] = [
                // A value that does not fit, after a line break in quotes.
                (
                    b"a,b\n1,\"x\ny\"\n2,z\nnope,w\n",
                    &opts,
                    "f.csv: row 3 (line 5), column \"a\": \"nope\" is not a valid int64",
                ),
                (
                    b"1,x\nnope,y\n",
                    &no_header(&opts),
                    "f.csv: row 2 (line 2), column \"a\": \"nope\" is not a valid int64",
                ),
                (
                    b"a,b\n1,x\n\n2,y,z\n",
                    &opts,
                    "f.csv: row 2 (line 4): expected 2 fields, found 3",
                ),
                (
                    b"a,b\n1,x\n2,\"\xff\"\n",
                    &opts,
                    "f.csv: row 2 (line 3): not valid UTF-8",
                ),
            ];
            for (text, o, want) in cases {
                let err = read_csv(text, "a:int64,b:string", o).unwrap_err();
                assert_eq!(err.to_string(), want, "escape {:?}", o.escape);
            }
            // A quote escaped with a backslash: refused, the hint naming
            // --escape; read as a value with it.
            let read = read_csv(b"a,b\n1,\"x \\\"y\\\"\"\n", "a:int64,b:string", &opts);
            match opts.escape {
                None => {
                    let hint = crate::error::hint(&read.unwrap_err()).unwrap();
                    assert!(hint.contains("--escape '\\'"), "{hint}");
                }
                Some(b'\\') => assert_eq!(read.unwrap()[0].num_rows(), 1),
                Some(_) => assert!(read.is_err()),
            }
            let rows: usize = read_csv(b"a,b\n1,\"x\"\"y\"\n\n,\n", "a:int64,b:string", &opts)
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum();
            assert_eq!(rows, 2);
        }
    }

    #[test]
    fn json_errors_name_their_line() {
        // A value that does not fit, after a blank line and an object that
        // spans two lines.
        let err = read_json("{\"a\":1}\n\n{\"a\":\n2}\n{\"a\":\"x\"}\n", "a:int64")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f.jsonl: line 5: "), "{err}");
        assert!(
            err.contains("\"x\" is not a number (the column is int64)"),
            "{err}"
        );
        let err = read_json("{\"a\":1}\n{\"a\" 1}\n", "a:int64")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f.jsonl: line 2: not valid JSON"), "{err}");
        let err = read_json("{\"a\":1}\n{\"a\":\n", "a:int64")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: the JSON object that starts here is not complete"),
            "{err}"
        );
        // Conversions name row and line while they correspond.
        let err = read_json("{\"d\":\"2024-01-01\"}\n{\"d\":\"2024-02-30\"}\n", "d:date")
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2 (line 2), column \"d\""), "{err}");
    }

    #[test]
    fn json_lines_across_batches_keep_their_line_numbers() {
        // An object spanning lines where a batch would end, blank lines, and
        // no line end after the last line.
        let mut text = String::new();
        for i in 0..BATCH_ROWS - 1 {
            text.push_str(&format!("{{\"a\":{i}}}\n"));
        }
        text.push_str("{\"a\":\n\n 7\n}\n\n");
        for i in 0..10 {
            text.push_str(&format!("{{\"a\":{i}}}\n"));
        }
        let good = text.clone() + "{\"a\":11}";
        let rows: usize = read_json(Box::leak(good.into_boxed_str()), "a:int64")
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(rows, BATCH_ROWS + 11);
        // Lines: BATCH_ROWS - 1 objects, 4 lines of one object, a blank
        // line, 10 objects: the bad value is on the line after those.
        let bad_line = BATCH_ROWS - 1 + 4 + 1 + 10 + 1;
        let bad = text + "{\"a\":\"x\"}\n";
        let err = read_json(Box::leak(bad.into_boxed_str()), "a:int64")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("f.jsonl: line {bad_line}: ")),
            "{err}"
        );
    }

    #[test]
    fn json_numbers_are_exact_or_refused() {
        let b = read_json(
            "{\"i\":-9223372036854775808,\"u\":18446744073709551615,\"f\":\"NaN\",\"g\":5e-324}\n",
            "i:int64,u:uint64,f:float64,g:float64",
        )
        .unwrap();
        let b = &b[0];
        assert_eq!(
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap()
                .value(0),
            i64::MIN
        );
        assert_eq!(
            b.column(1)
                .as_any()
                .downcast_ref::<arrow::array::UInt64Array>()
                .unwrap()
                .value(0),
            u64::MAX
        );
        let f = b
            .column(2)
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .unwrap();
        assert!(f.value(0).is_nan());
        for (text, schema, why) in [
            ("{\"i\":1.0}\n", "i:int64", "not a whole number"),
            ("{\"i\":1e2}\n", "i:int64", "not a whole number"),
            ("{\"i\":128}\n", "i:int8", "out of range"),
            ("{\"f\":1e-400}\n", "f:float64", "too small for float64"),
            ("{\"f\":1e39}\n", "f:float32", "beyond the range of float32"),
            ("{\"f\":true}\n", "f:float64", "found a boolean"),
        ] {
            let err = read_json(text, schema).unwrap_err().to_string();
            assert!(err.contains("line 1") && err.contains(why), "{text}: {err}");
        }
    }

    /// A Parquet file with one INT96 column holding (julian day, nanoseconds
    /// of the day) values, as Spark writes timestamps.
    fn int96_file(values: &[(u32, u64)]) -> std::fs::File {
        use parquet::data_type::Int96;
        use parquet::file::writer::SerializedFileWriter;
        let schema = Arc::new(
            parquet::schema::parser::parse_message_type("message m { required int96 ts; }")
                .unwrap(),
        );
        let mut file = tempfile::tempfile().unwrap();
        let mut w = SerializedFileWriter::new(&mut file, schema, Default::default()).unwrap();
        let mut rg = w.next_row_group().unwrap();
        let mut col = rg.next_column().unwrap().unwrap();
        let data: Vec<Int96> = values
            .iter()
            .map(|&(day, nanos)| {
                let mut v = Int96::new();
                v.set_data(nanos as u32, (nanos >> 32) as u32, day);
                v
            })
            .collect();
        col.typed::<parquet::data_type::Int96Type>()
            .write_batch(&data, None, None)
            .unwrap();
        col.close().unwrap();
        rg.close().unwrap();
        w.close().unwrap();
        file
    }

    #[test]
    fn int96_is_read_at_microseconds_and_nanoseconds_are_not_dropped() {
        const EPOCH_DAY: u32 = 2_440_588;
        let end = (EPOCH_DAY + 2_932_896, 86_399_999_999_000);
        let file = int96_file(&[end, (EPOCH_DAY, 0)]);
        let pf = ParquetFile::open_at("spark.parquet", Arc::new(file)).unwrap();
        assert_eq!(
            crate::schema::format_schema(&pf.schema()),
            "ts:timestamp(us)"
        );
        let batches: Vec<RecordBatch> = pf
            .batches(Arc::default(), 0)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        let ts = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
            .unwrap();
        // 9999-12-31T23:59:59.999999
        assert_eq!(ts.value(0), 253_402_300_799_999_999);
        assert_eq!(ts.value(1), 0);
        // One nanosecond more: refused, not truncated.
        let file = int96_file(&[(EPOCH_DAY, 1)]);
        let pf = ParquetFile::open_at("ns.parquet", Arc::new(file)).unwrap();
        let err = pf
            .batches(Arc::default(), 0)
            .unwrap()
            .collect::<Result<Vec<_>>>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ns.parquet: column \"ts\" holds an INT96 timestamp with nanoseconds"),
            "{err}"
        );
    }
}
