//! Files of one format as one table: local files or objects, read in the
//! order given, under one schema (declared, inferred from the first text
//! file, or carried by Parquet and Arrow files and merged).

use std::sync::Arc;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema, SchemaRef};

use super::conform::Conformer;
use super::input::{self, Input};
use super::{compression, infer, read, scan, RawFile};
use crate::connect::{Counters, Encoded, Encoding, OpenContext, Partition, Source};
use crate::spec::{CsvOptions, Endpoint, Format};

/// Columns of an inferred CSV schema read again with a wider type, because
/// a value past the sample did not fit (kept for the copy in
/// [`OpenContext::shared`], so the next opening infers the same and applies
/// these).
#[derive(Default)]
struct Widened(std::sync::Mutex<Vec<(String, DataType)>>);

impl Widened {
    fn set(&self, name: &str, t: DataType) {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        w.retain(|(n, _)| n != name);
        w.push((name.to_string(), t));
    }

    fn apply(&self, schema: SchemaRef) -> SchemaRef {
        let w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if w.is_empty() {
            return schema;
        }
        let fields: Vec<arrow::datatypes::Field> = schema
            .fields()
            .iter()
            .map(|f| match w.iter().find(|(n, _)| n == f.name()) {
                Some((_, t)) => f.as_ref().clone().with_data_type(t.clone()),
                None => f.as_ref().clone(),
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

/// The start of one CSV file, read before its rows.
struct Probe {
    sampled: read::Sampled,
    /// Header names made fit for a table (or generated ones).
    names: Vec<String>,
    records: Vec<csv::StringRecord>,
    /// The dialect: as set, the rest detected (the first file's holds for
    /// every file of a source).
    csv: CsvOptions,
    /// Header names changed, for warnings.
    renamed: Vec<String>,
}

/// Read a CSV header and sample of one file. `dialect`: the dialect found
/// in the first file, for the others.
fn csv_probe(
    input: &dyn Input,
    ep: &Endpoint,
    infer: bool,
    dialect: Option<&CsvOptions>,
) -> Result<Probe> {
    let file = input.name();
    // A declared schema needs only the header line; inference needs rows;
    // detecting the dialect a few lines.
    let mut lines = if infer { ep.infer_rows + 2 } else { 2 };
    if dialect.is_none() {
        lines = lines.max(read::DETECT_LINES + 2);
    }
    let sampled = read::sample(input.open()?, read::SAMPLE_BYTES, lines)?;
    if sampled.complete && sampled.sample.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(crate::error::input(
            format!(
                "{file} is empty: it has no header and no columns{}",
                if sampled.sample.is_empty() { "" } else { ", only blank lines" }
            ),
            Some(
                "an export that failed often leaves an empty file; nothing was copied, and no destination is replaced by a table without columns".to_string(),
            ),
        ));
    }
    let csv = match dialect {
        Some(d) => d.clone(),
        None => read::detect_csv(&file, &sampled, &ep.csv, ep.schema.as_deref()),
    };
    // An unclosed quote in the sample is refused before anything is inferred
    // from lines it merged.
    let mut scanner = scan::Scanner::new(
        scan::Dialect {
            delimiter: csv.delimiter,
            quote: csv.quote,
            escape: csv.escape,
            header: csv.header,
        },
        false,
    );
    let scanned = scanner.feed(&sampled.sample, None).and_then(|()| {
        if sampled.complete {
            scanner.finish()
        } else {
            Ok(())
        }
    });
    if let Err(why) = scanned {
        return Err(read::quote_error(&file, &why, &scanner.shared));
    }
    let (header, records) = read::csv_sample_records(&file, &sampled, &csv, ep.infer_rows)?;
    let (names, renamed) = match header {
        Some(h) => infer::dedupe_names(&h),
        None => {
            let n = records.first().map_or(0, |r| r.len());
            ((1..=n).map(|i| format!("column_{i}")).collect(), Vec::new())
        }
    };
    if names.is_empty() {
        return Err(crate::error::input(
            format!("{file} has no columns"),
            Some("check the file; a CSV file starts with a header line".to_string()),
        ));
    }
    Ok(Probe {
        sampled,
        names,
        records,
        csv,
        renamed,
    })
}

fn check_names(
    file: &str,
    found: &[String],
    schema: &Schema,
    origin: &str,
    header: bool,
) -> Result<()> {
    let expected: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    if found.len() != expected.len() {
        return Err(crate::error::input(
            format!(
                "{}: has {} columns, {origin} has {}",
                file,
                found.len(),
                expected.len()
            ),
            Some(format!("the file's header is: {}", found.join(", "))),
        ));
    }
    if !header {
        // Without a header, columns are named by the schema.
        return Ok(());
    }
    for (i, (f, e)) in found.iter().zip(&expected).enumerate() {
        if f != *e {
            return Err(crate::error::input(
                format!(
                    "{}: column {} is named \"{f}\", {origin} names it \"{e}\"",
                    file,
                    i + 1
                ),
                Some(
                    "every file of a source must have the same columns in the same order"
                        .to_string(),
                ),
            ));
        }
    }
    Ok(())
}

/// Files as a source: local files, or objects of a store (see
/// [`FileSource::from_inputs`]).
pub struct FileSource {
    label: String,
    files: Vec<(Arc<dyn Input>, Format)>,
    schema: SchemaRef,
    inferred: bool,
    ep: Endpoint,
    counters: Arc<Counters>,
    /// The first text file's sampled input, so pipes are read only once.
    first: Option<read::Sampled>,
    /// The first Arrow IPC input, opened (a stream from a pipe is read once).
    first_ipc: Option<read::IpcReader>,
    /// The one Parquet file of the source, for a byte-for-byte copy.
    raw: Option<RawFile>,
    format: Format,
    /// The compressions of the files that are compressed.
    codecs: Vec<compression::Codec>,
    /// How the files were shared out, when this is one shard of several.
    share: Option<serde_json::Value>,
    /// For warnings found while reading (blank lines skipped).
    ctx: OpenContext,
}

impl FileSource {
    /// A source over any files: all of them, in the order given, form one
    /// table under the same schema rules as local files.
    pub fn from_inputs(
        label: String,
        inputs: Vec<Arc<dyn Input>>,
        ep: &Endpoint,
        ctx: &OpenContext,
    ) -> Result<FileSource> {
        let mut ep = ep.clone();
        let mut typed: Vec<(Arc<dyn Input>, Format)> = Vec::new();
        let mut detected = Vec::new();
        for f in inputs {
            let format = ep
                .format
                .or_else(|| Format::from_path(&f.name()))
                .ok_or_else(|| {
                    crate::error::usage(
                        format!("cannot tell the format of {}", f.name()),
                        Some("give --source-format (csv, parquet, json, ipc)".to_string()),
                    )
                })?;
            // A text file is read through its decompressor when it is
            // compressed (told as it opens).
            let (f, found) = compression::decompressing(f, format, &ctx.counters)?;
            detected.push(found);
            typed.push((f, format));
        }
        if let Some((f, fmt)) = typed.iter().find(|(_, fmt)| *fmt != typed[0].1) {
            return Err(crate::error::input(
                format!(
                    "{} is {}, but {} is {}; one source reads one format",
                    f.name(),
                    fmt.name(),
                    typed[0].0.name(),
                    typed[0].1.name()
                ),
                None,
            ));
        }
        let total: u64 = typed.iter().map(|(f, _)| f.size()).sum();
        ctx.counters
            .bytes_total
            .store(total, std::sync::atomic::Ordering::Relaxed);
        let format = typed[0].1;
        let mut first = None;
        let mut first_ipc = None;
        let mut inferred = false;
        let mut raw = None;
        let schema = match format {
            Format::Csv => {
                let probe = csv_probe(typed[0].0.as_ref(), &ep, ep.schema.is_none(), None)?;
                for r in &probe.renamed {
                    ctx.warn(format!("{}: {r}", typed[0].0.name()));
                }
                ep.csv = probe.csv.clone();
                first = Some(probe.sampled);
                match &ep.schema {
                    Some(s) => {
                        check_names(
                            &typed[0].0.name(),
                            &probe.names,
                            s,
                            "the declared schema",
                            ep.csv.header,
                        )?;
                        s.clone()
                    }
                    None => {
                        inferred = true;
                        ctx.shared.get::<Widened>().apply(infer::infer(
                            &probe.names,
                            &probe.records,
                            &ep.csv.null,
                        ))
                    }
                }
            }
            Format::Json => {
                let lines = if ep.schema.is_none() {
                    ep.infer_rows + 1
                } else {
                    0
                };
                let sampled = read::sample(typed[0].0.open()?, read::SAMPLE_BYTES, lines)?;
                let schema = match &ep.schema {
                    Some(s) => s.clone(),
                    None => {
                        inferred = true;
                        read::json_infer(&typed[0].0.name(), &sampled, ep.infer_rows)?
                    }
                };
                first = Some(sampled);
                schema
            }
            Format::Parquet | Format::Ipc => {
                let mut schema: Option<SchemaRef> = None;
                for (i, (f, _)) in typed.iter().enumerate() {
                    let s = if format == Format::Parquet {
                        let random = f.random()?;
                        let file = read::ParquetFile::open_at(&f.name(), random.clone())?;
                        if typed.len() == 1 {
                            raw = raw_parquet(f, random.as_ref(), &file)?;
                        }
                        file.schema()
                    } else {
                        let reader = read::ipc_open(f.as_ref())?;
                        let s = reader.schema();
                        if i == 0 {
                            first_ipc = Some(reader);
                        }
                        s
                    };
                    schema = Some(match schema {
                        None => s,
                        Some(prev) => merge_schema(&typed[0].0.name(), &prev, &f.name(), &s)?,
                    });
                }
                schema.expect("at least one file")
            }
        };
        // The compressions seen so far (the first text file was opened to
        // sample it; files named compressed are compressed).
        let mut codecs = Vec::new();
        for (d, (f, _)) in detected.iter().zip(&typed) {
            let c = d
                .get()
                .copied()
                .flatten()
                .or_else(|| compression::Codec::from_path(&f.name()));
            if let Some(c) = c.filter(|c| !codecs.contains(c)) {
                codecs.push(c);
            }
        }
        // One shard of several reads its share of the files (round robin in
        // the order given); every shard takes the schema from the whole.
        let mut files = typed;
        let mut share = None;
        if let Some(s) = &ctx.share {
            let names: Vec<String> = files.iter().map(|(f, _)| f.name()).collect();
            share = Some(serde_json::json!({
                "files": names.len(),
                "listing_sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(names.join("\n"))),
            }));
            if !s.takes(0) {
                first = None;
                first_ipc = None;
            }
            raw = None;
            files = files
                .into_iter()
                .enumerate()
                .filter(|(k, _)| s.takes(*k))
                .map(|(_, f)| f)
                .collect();
            let mine: u64 = files.iter().map(|(f, _)| f.size()).sum();
            ctx.counters
                .bytes_total
                .store(mine, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(FileSource {
            label,
            files,
            format,
            codecs,
            schema,
            inferred,
            ep,
            counters: ctx.counters.clone(),
            ctx: ctx.clone(),
            first,
            first_ipc,
            raw,
            share,
        })
    }
}

/// What a byte-for-byte copy of one Parquet file needs to know of it.
fn raw_parquet(
    input: &Arc<dyn Input>,
    random: &dyn input::RandomAccess,
    file: &read::ParquetFile,
) -> Result<Option<RawFile>> {
    let size = random.len();
    if size < 12 {
        return Ok(None);
    }
    let last = random
        .bytes(size - 8, 8)
        .map_err(|e| crate::error::input(format!("cannot read {}: {e}", input.name()), None))?;
    let meta_len = u32::from_le_bytes([last[0], last[1], last[2], last[3]]) as u64;
    Ok(Some(RawFile {
        input: input.clone(),
        rows: file.rows(),
        size,
        footer_len: meta_len + 8,
        spans: file.spans(),
    }))
}

/// Files of one source must agree on column names and types; the result is
/// nullable where any file is.
fn merge_schema(first: &str, a: &SchemaRef, other: &str, b: &SchemaRef) -> Result<SchemaRef> {
    let same = a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type());
    if !same {
        return Err(crate::error::input(
            format!(
                "{} and {} have different schemas:\n    {}\n    {}",
                first,
                other,
                crate::schema::format_schema(a),
                crate::schema::format_schema(b)
            ),
            Some("one source reads files with the same columns and types".to_string()),
        ));
    }
    Ok(Arc::new(Schema::new(
        a.fields()
            .iter()
            .zip(b.fields())
            .map(|(x, y)| {
                x.as_ref()
                    .clone()
                    .with_nullable(x.is_nullable() || y.is_nullable())
            })
            .collect::<Vec<_>>(),
    )))
}

impl Source for FileSource {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn details(&self) -> Vec<String> {
        let compressed: String = self
            .codecs
            .iter()
            .map(|c| format!(", {}-compressed", c.name()))
            .collect();
        let mut d = vec![format!(
            "{} file{} ({}{compressed})",
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" },
            self.format.name()
        )];
        if self.format == Format::Csv {
            d.push(read::describe_csv(&self.ep.csv));
        }
        d.push(format!(
            "schema ({}): {}",
            if self.inferred {
                "inferred"
            } else if matches!(self.format, Format::Csv | Format::Json) {
                "declared"
            } else {
                "from the file"
            },
            crate::schema::format_schema(&self.schema)
        ));
        d
    }

    fn share(&self) -> Option<serde_json::Value> {
        self.share.clone()
    }

    fn encoding(&self) -> Option<Encoding> {
        self.raw.as_ref().map(RawFile::encoding)
    }

    fn encoded_partitions(self: Box<Self>) -> Result<Vec<Partition<Encoded>>> {
        let raw = self
            .raw
            .clone()
            .ok_or_else(|| anyhow::anyhow!("internal error: not one Parquet file"))?;
        Ok(vec![raw_chunks(raw, self.counters.clone())])
    }

    fn partitions(mut self: Box<Self>) -> Result<Vec<Partition>> {
        // Files are read in order, as one partition: the output is then the
        // same for the same input, whatever the timing.
        let schema = self.schema.clone();
        let files = std::mem::take(&mut self.files);
        let mut first = self.first.take();
        let mut first_ipc = self.first_ipc.take();
        let this = *self;
        let iter = files.into_iter().flat_map(move |(input, format)| {
            let sampled = first.take();
            let ipc = first_ipc.take();
            match this.file_batches(input.as_ref(), format, sampled, ipc) {
                Ok(it) => it,
                Err(e) => Box::new(std::iter::once(Err(e))),
            }
        });
        let iter = iter.map(move |b| {
            let b = b?;
            // Every batch carries the source's declared schema.
            Ok(RecordBatch::try_new(schema.clone(), b.columns().to_vec())?)
        });
        Ok(vec![Partition::Blocking(Box::new(iter))])
    }
}

type Batches = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

impl FileSource {
    fn file_batches(
        &self,
        input: &dyn Input,
        format: Format,
        sampled: Option<read::Sampled>,
        ipc: Option<read::IpcReader>,
    ) -> Result<Batches> {
        let name = input.name();
        let counters = if input.counts_bytes() {
            Arc::new(Counters::default())
        } else {
            self.counters.clone()
        };
        match format {
            Format::Csv => {
                let sampled = match sampled {
                    Some(s) => s,
                    None => {
                        let probe = csv_probe(input, &self.ep, false, Some(&self.ep.csv))?;
                        let origin = if self.inferred {
                            self.files_first_name()
                        } else {
                            "the declared schema".to_string()
                        };
                        check_names(
                            &name,
                            &probe.names,
                            &self.schema,
                            &origin,
                            self.ep.csv.header,
                        )?;
                        probe.sampled
                    }
                };
                let conformer = Conformer::csv(self.schema.clone());
                let (batches, scanned) = read::csv_batches(
                    name.clone(),
                    sampled.into_reader(),
                    &self.ep.csv,
                    conformer,
                    self.inferred,
                    counters,
                )?;
                let ctx = self.ctx.clone();
                let mut batches = batches;
                let mut ended = false;
                // A value past the sample that does not fit its inferred
                // type: the file is read again with a wider one, where it
                // can be read again (a file or an object; not standard input
                // or a pipe, which the first read drained).
                let widen = (self.inferred && input.reads_again()).then(|| self.schema.clone());
                let infer_rows = self.ep.infer_rows;
                Ok(Box::new(std::iter::from_fn(move || {
                    if ended {
                        return None;
                    }
                    let next = batches.next();
                    if let (Some(Err(_)), Some(schema)) = (&next, &widen) {
                        ended = true;
                        if let Some((col, value)) = scanned.misfit_found() {
                            let field = schema.field(col);
                            let wider = infer::widen(field.data_type(), &value);
                            ctx.shared.get::<Widened>().set(field.name(), wider.clone());
                            let shown: String = value.chars().take(40).collect();
                            ctx.shared.get::<crate::connect::ReadAgain>().ask(format!(
                                "{name}: column \"{}\" holds {shown:?} past the first {infer_rows} rows, which {} does not hold; the file was read again with the column as {}",
                                field.name(),
                                crate::schema::type_name(field),
                                crate::schema::type_name_of(&wider),
                            ));
                        }
                        return next;
                    }
                    if next.is_none() {
                        ended = true;
                        let n = scanned.blank_lines();
                        if n > 0 {
                            ctx.warn(format!(
                                "{name}: {n} blank line{} skipped (a blank line is a row only in a file of one column)",
                                if n == 1 { "" } else { "s" }
                            ));
                        }
                    }
                    next
                })))
            }
            Format::Json => {
                let input: Box<dyn std::io::Read + Send> = match sampled {
                    Some(s) => Box::new(s.into_reader()),
                    None => input.open()?,
                };
                let conformer = Conformer::new(self.schema.clone());
                Ok(Box::new(read::json_batches(
                    name,
                    input,
                    conformer,
                    self.inferred,
                    counters,
                )?))
            }
            Format::Parquet => {
                let file = read::ParquetFile::open(input)?;
                Ok(Box::new(file.batches(counters, input.size())?))
            }
            Format::Ipc => {
                let reader = match ipc {
                    Some(r) => r,
                    None => read::ipc_open(input)?,
                };
                let size = input.size();
                let per_batch = reader.num_batches().map(|n| size / n.max(1) as u64);
                let file = name.clone();
                let mut i = 0u64;
                let mut failed = false;
                Ok(Box::new(reader.map_while(move |b| {
                    if failed {
                        return None;
                    }
                    let b = b.map_err(|e| {
                        failed = true;
                        let (_, hint) = read::ipc_problem(&e);
                        crate::error::input(
                            format!("{file}: cannot read Arrow batch {}: {e}", i + 1),
                            Some(if hint.contains("complete") {
                                "the file may be truncated or corrupt".to_string()
                            } else {
                                hint
                            }),
                        )
                    });
                    i += 1;
                    if let Some(n) = per_batch {
                        counters.add_bytes(n);
                    }
                    Some(b)
                })))
            }
        }
    }

    fn files_first_name(&self) -> String {
        self.ep.path.clone().unwrap_or_default()
    }
}

/// Bytes per piece of a byte-for-byte copy. Writes of 1 MiB are several
/// times faster into the Linux page cache than writes of 4 MiB.
const RAW_CHUNK: usize = 1 << 20;

/// A Parquet file's bytes in pieces of [`RAW_CHUNK`], each with its share of
/// the rows (so progress moves; the shares add up to the footer's rows
/// exactly). A file whose size changed since it was opened is a
/// verification failure: it was replaced during the copy.
fn raw_chunks(raw: RawFile, counters: Arc<Counters>) -> Partition<Encoded> {
    let mut moved = 0u64;
    let mut rows_given = 0u64;
    let (total_rows, total_size) = (raw.rows, raw.size);
    let mut share = move |n: usize| -> u64 {
        moved += n as u64;
        // Rows as a share of the bytes moved.
        let rows = (total_rows as u128 * moved as u128 / total_size.max(1) as u128)
            .min(total_rows as u128) as u64;
        let piece = rows - rows_given;
        rows_given = rows;
        piece
    };
    let name = raw.input.name();
    let size = raw.size;
    let mut check = super::pages::PageCheck::new(name.clone(), raw.spans.clone());
    // Every piece passes the page check; the last one ends it.
    let mut checked = move |bytes: &[u8], last: bool| -> Result<()> {
        check.feed(bytes)?;
        if last {
            check.finish()?;
        }
        Ok(())
    };
    let changed = move |read: u64| {
        crate::error::verify(format!(
            "{name} was {size} bytes when the copy started and {read} bytes were read; it changed during the copy; nothing was published"
        ))
    };
    match raw.input.stream() {
        Some(stream) => {
            use futures::StreamExt;
            // Gather an object's body (pieces of a few KiB) into chunks.
            let chunks = futures::stream::unfold(
                (
                    stream,
                    bytes::BytesMut::with_capacity(RAW_CHUNK),
                    0u64,
                    false,
                ),
                |(mut stream, mut buf, mut total, done)| async move {
                    if done {
                        return None;
                    }
                    loop {
                        match stream.next().await {
                            Some(Ok(piece)) => {
                                total += piece.len() as u64;
                                buf.extend_from_slice(&piece);
                                if buf.len() >= RAW_CHUNK {
                                    let chunk = buf.split().freeze();
                                    buf.reserve(RAW_CHUNK);
                                    return Some((
                                        Ok((chunk, total, false)),
                                        (stream, buf, total, false),
                                    ));
                                }
                            }
                            Some(Err(e)) => return Some((Err(e), (stream, buf, total, true))),
                            None => {
                                let chunk = buf.split().freeze();
                                return Some((
                                    Ok((chunk, total, true)),
                                    (stream, buf, total, true),
                                ));
                            }
                        }
                    }
                },
            );
            Partition::Stream(
                chunks
                    .map(move |r| {
                        let (bytes, total, last) = r?;
                        if last && total != size {
                            return Err(changed(total));
                        }
                        checked(&bytes, last)?;
                        counters.add_bytes(bytes.len() as u64);
                        Ok(Encoded {
                            rows: share(bytes.len()),
                            bytes,
                        })
                    })
                    .boxed(),
            )
        }
        None => {
            use std::io::Read;
            let input = raw.input.clone();
            let mut from: Option<Box<dyn Read + Send>> = None;
            let mut total = 0u64;
            let mut done = false;
            Partition::Blocking(Box::new(std::iter::from_fn(move || {
                if done {
                    return None;
                }
                let reader = match &mut from {
                    Some(r) => r,
                    None => match input.open() {
                        Ok(r) => from.insert(r),
                        Err(e) => {
                            done = true;
                            return Some(Err(e));
                        }
                    },
                };
                // `read_to_end` fills the spare capacity without zeroing it
                // first where the reader allows (files).
                let mut buf = Vec::with_capacity(RAW_CHUNK);
                if let Err(e) = reader.take(RAW_CHUNK as u64).read_to_end(&mut buf) {
                    done = true;
                    return Some(Err(crate::error::input(
                        format!(
                            "cannot read {}: {}",
                            input.name(),
                            crate::security::redact::redact(&e.to_string())
                        ),
                        None,
                    )));
                }
                total += buf.len() as u64;
                let last = buf.len() < RAW_CHUNK;
                if last {
                    done = true;
                    if total != size {
                        return Some(Err(changed(total)));
                    }
                }
                if let Err(e) = checked(&buf, last) {
                    done = true;
                    return Some(Err(e));
                }
                if buf.is_empty() {
                    return None;
                }
                counters.add_bytes(buf.len() as u64);
                let rows = share(buf.len());
                Some(Ok(Encoded {
                    rows,
                    bytes: bytes::Bytes::from(buf),
                }))
            })))
        }
    }
}
