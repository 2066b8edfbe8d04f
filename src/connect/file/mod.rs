//! Local files: CSV, Parquet, JSON Lines and Arrow IPC, as sources and sinks.
//!
//! A source is a file, a directory (every file of a known format in it) or a
//! glob; all its files form one table, read in sorted name order so that the
//! same input always gives the same output. `-` reads standard input.
//!
//! The sink never writes the destination directly. A single file is written
//! to a hidden temporary file next to it, fsynced and renamed over the
//! destination at commit. Split output (`max_rows_per_file`) is written into
//! a hidden staging directory with `_convoy_manifest.json` written last, and
//! swapped with the destination directory at commit (an atomic exchange on
//! Linux). Abort removes the temporary file or directory; an existing
//! destination is never touched before commit.

pub mod conform;
pub mod infer;
pub mod input;
pub mod read;
pub mod write;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;

use self::conform::Conformer;
use self::input::{Input, LocalInput};
use self::write::{FormatWriter, Hashing};
use super::{Counters, OpenContext, Output, Partition, Prepared, Sink, Source};
use crate::spec::{Endpoint, Format, Spec};

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

/// The directory relative paths of an endpoint resolve against.
fn base_dir(spec: &Spec, ep: &Endpoint) -> PathBuf {
    let root = spec
        .connections
        .get(&ep.connection)
        .and_then(|c| c.settings.get("root"))
        .and_then(|v| v.as_str())
        .map(PathBuf::from);
    match root {
        Some(r) if r.is_absolute() => r,
        Some(r) => spec.base_dir.join(r),
        None => spec.base_dir.clone(),
    }
}

pub(crate) fn resolve(spec: &Spec, ep: &Endpoint, path: &str) -> PathBuf {
    let p = Path::new(path);
    let base = base_dir(spec, ep);
    if p.is_absolute() || path == "-" || base == Path::new(".") {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn is_hidden_or_ours(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// The files a source path names: one file, a directory's files, or a glob.
fn expand(path: &Path, format: Option<Format>) -> Result<Vec<PathBuf>> {
    let text = path.to_string_lossy();
    if text == "-" {
        return Ok(vec![path.to_path_buf()]);
    }
    if text.contains(['*', '?', '[']) {
        let mut files: Vec<PathBuf> = glob::glob(&text)
            .map_err(|e| crate::error::usage(format!("bad glob pattern {text:?}: {e}"), None))?
            .filter_map(|r| r.ok())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(crate::error::input(
                format!("no files match {text}"),
                Some("check the pattern; quote it so the shell does not expand it".to_string()),
            ));
        }
        return Ok(files);
    }
    let meta = fs::metadata(path)
        .map_err(|e| crate::error::input(format!("cannot read {}: {e}", path.display()), None))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if is_hidden_or_ours(&name) || !entry.file_type()?.is_file() {
            continue;
        }
        let matches = match format {
            Some(f) => Format::from_path(&name) == Some(f) || Format::from_path(&name).is_none(),
            None => Format::from_path(&name).is_some(),
        };
        if matches {
            files.push(entry.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(crate::error::input(
            format!("directory {} holds no data files", path.display()),
            Some(
                "files need a .csv, .parquet, .jsonl or .arrow extension, or give --source-format"
                    .to_string(),
            ),
        ));
    }
    Ok(files)
}

/// Read a CSV header and sample of one file; returns the sampled input, the
/// header names (or generated ones) and sample records.
fn csv_probe(
    input: &dyn Input,
    ep: &Endpoint,
    infer: bool,
) -> Result<(read::Sampled, Vec<String>, Vec<csv::StringRecord>)> {
    let file = input.name();
    // A declared schema needs only the header line; inference needs rows.
    let lines = if infer { ep.infer_rows + 2 } else { 2 };
    let sampled = read::sample(input.open()?, read::SAMPLE_BYTES, lines)?;
    let (header, records) = read::csv_sample_records(&file, &sampled, &ep.csv, ep.infer_rows)?;
    let names = match header {
        Some(h) => h,
        None => {
            let n = records.first().map_or(0, |r| r.len());
            (1..=n).map(|i| format!("column_{i}")).collect()
        }
    };
    Ok((sampled, names, records))
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
    /// The one Parquet file of the source, for a byte-for-byte copy.
    raw: Option<super::RawFile>,
}

impl FileSource {
    pub fn open(spec: &Spec, ep: &Endpoint, ctx: &OpenContext) -> Result<FileSource> {
        let raw = ep.path.as_deref().unwrap_or_default();
        let path = resolve(spec, ep, raw);
        let files = expand(&path, ep.format)?;
        let label = if files.len() == 1 {
            format!("local {}", files[0].display())
        } else {
            format!("local {} ({} files)", path.display(), files.len())
        };
        let inputs: Vec<Arc<dyn Input>> = files
            .iter()
            .map(|f| Arc::new(LocalInput::new(f)) as Arc<dyn Input>)
            .collect();
        FileSource::from_inputs(label, inputs, ep, ctx)
    }

    /// A source over any files: all of them, in the order given, form one
    /// table under the same schema rules as local files.
    pub fn from_inputs(
        label: String,
        inputs: Vec<Arc<dyn Input>>,
        ep: &Endpoint,
        ctx: &OpenContext,
    ) -> Result<FileSource> {
        let mut typed: Vec<(Arc<dyn Input>, Format)> = Vec::new();
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
        let mut inferred = false;
        let mut raw = None;
        let schema = match format {
            Format::Csv => {
                let (sampled, names, records) =
                    csv_probe(typed[0].0.as_ref(), ep, ep.schema.is_none())?;
                first = Some(sampled);
                match &ep.schema {
                    Some(s) => {
                        check_names(
                            &typed[0].0.name(),
                            &names,
                            s,
                            "the declared schema",
                            ep.csv.header,
                        )?;
                        s.clone()
                    }
                    None => {
                        inferred = true;
                        infer::infer(&names, &records, &ep.csv.null)
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
                for (f, _) in &typed {
                    let s = if format == Format::Parquet {
                        let random = f.random()?;
                        let builder = read::parquet_open_at(&f.name(), random.clone())?;
                        if typed.len() == 1 {
                            raw = raw_parquet(f, random.as_ref(), &builder)?;
                        }
                        builder.schema().clone()
                    } else {
                        read::ipc_open(f.as_ref())?.schema()
                    };
                    schema = Some(match schema {
                        None => s,
                        Some(prev) => merge_schema(&typed[0].0.name(), &prev, &f.name(), &s)?,
                    });
                }
                schema.expect("at least one file")
            }
        };
        Ok(FileSource {
            label,
            files: typed,
            schema,
            inferred,
            ep: ep.clone(),
            counters: ctx.counters.clone(),
            first,
            raw,
        })
    }
}

/// What a byte-for-byte copy of one Parquet file needs to know of it.
fn raw_parquet(
    input: &Arc<dyn Input>,
    random: &dyn input::RandomAccess,
    builder: &parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<input::Chunks>,
) -> Result<Option<super::RawFile>> {
    let size = random.len();
    let rows = builder.metadata().file_metadata().num_rows();
    if size < 12 || rows < 0 {
        return Ok(None);
    }
    let last = random
        .bytes(size - 8, 8)
        .map_err(|e| crate::error::input(format!("cannot read {}: {e}", input.name()), None))?;
    let meta_len = u32::from_le_bytes([last[0], last[1], last[2], last[3]]) as u64;
    Ok(Some(super::RawFile {
        input: input.clone(),
        format: Format::Parquet,
        rows: rows as u64,
        size,
        footer_len: meta_len + 8,
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
        let mut d = vec![format!(
            "{} file{} ({})",
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" },
            self.files[0].1.name()
        )];
        d.push(format!(
            "schema ({}): {}",
            if self.inferred {
                "inferred"
            } else if matches!(self.files[0].1, Format::Csv | Format::Json) {
                "declared"
            } else {
                "from the file"
            },
            crate::schema::format_schema(&self.schema)
        ));
        d
    }

    fn raw_file(&self) -> Option<super::RawFile> {
        self.raw.clone()
    }

    fn partitions(mut self: Box<Self>) -> Result<Vec<Partition>> {
        // Files are read in order, as one partition: the output is then the
        // same for the same input, whatever the timing.
        let schema = self.schema.clone();
        let files = std::mem::take(&mut self.files);
        let first = self.first.take();
        let this = *self;
        let mut first = first;
        let iter = files.into_iter().flat_map(move |(input, format)| {
            let sampled = first.take();
            match this.file_batches(input.as_ref(), format, sampled) {
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
    ) -> Result<Batches> {
        let name = input.name();
        let counters = self.counters.clone();
        match format {
            Format::Csv => {
                let sampled = match sampled {
                    Some(s) => s,
                    None => {
                        let (s, names, _) = csv_probe(input, &self.ep, false)?;
                        let origin = if self.inferred {
                            self.files_first_name()
                        } else {
                            "the declared schema".to_string()
                        };
                        check_names(&name, &names, &self.schema, &origin, self.ep.csv.header)?;
                        s
                    }
                };
                let conformer = Conformer::new(self.schema.clone());
                Ok(Box::new(read::csv_batches(
                    name,
                    sampled.into_reader(),
                    &self.ep.csv,
                    conformer,
                    self.inferred,
                    counters,
                )?))
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
                let builder = read::parquet_open(input)?;
                let total_rows = builder.metadata().file_metadata().num_rows().max(1) as u64;
                let size = input.size();
                let reader = builder.with_batch_size(read::BATCH_ROWS).build()?;
                let mut rows = 0u64;
                let mut reported = 0u64;
                let file = name.clone();
                Ok(Box::new(reader.map(move |b| {
                    let b = b.map_err(|e| {
                        crate::error::input(
                            format!("{file}: cannot read Parquet data after row {rows}: {e}"),
                            Some("the file may be truncated or corrupt".to_string()),
                        )
                    })?;
                    rows += b.num_rows() as u64;
                    let now = size * rows / total_rows;
                    counters.add_bytes(now.saturating_sub(reported));
                    reported = now;
                    Ok(b)
                })))
            }
            Format::Ipc => {
                let reader = read::ipc_open(input)?;
                let size = input.size();
                let n = reader.num_batches().max(1) as u64;
                let file = name.clone();
                let mut i = 0u64;
                Ok(Box::new(reader.map(move |b| {
                    let b = b.map_err(|e| {
                        crate::error::input(
                            format!("{file}: cannot read Arrow batch {}: {e}", i + 1),
                            Some("the file may be truncated or corrupt".to_string()),
                        )
                    })?;
                    i += 1;
                    counters.add_bytes(size / n);
                    Ok(b)
                })))
            }
        }
    }

    fn files_first_name(&self) -> String {
        self.ep.path.clone().unwrap_or_default()
    }
}

/// Files as a sink.
pub struct FileSink {
    dest: PathBuf,
    format: Format,
    ep: Endpoint,
    split: Option<u64>,
    run_id: String,
    schema: Option<SchemaRef>,
    /// Temporary file (single output) or staging directory (split output).
    temp: Option<PathBuf>,
    /// Directories created for the destination, removed again on abort.
    created_dirs: Vec<PathBuf>,
    current: Option<(FormatWriter, PathBuf, u64)>,
    parts: Vec<Output>,
    rows_total: u64,
    prepared: bool,
    /// Set when the sink takes a source file's bytes unchanged.
    raw: Option<super::RawFile>,
}

impl FileSink {
    pub fn new(spec: &Spec, ep: &Endpoint, ctx: &OpenContext) -> Result<FileSink> {
        let raw = ctx.path_of(ep);
        let dest = resolve(spec, ep, &raw);
        let split = ep.max_rows_per_file;
        let format = ep
            .format
            .or_else(|| Format::from_path(&raw))
            .ok_or_else(|| crate::error::usage(format!("cannot tell the format of {raw}"), None))?;
        if split.is_none() && (raw.ends_with('/') || dest.is_dir()) {
            return Err(crate::error::usage(
                format!("destination {} is a directory", dest.display()),
                Some(
                    "name a file (e.g. out/orders.parquet), or split the output with --max-rows-per-file"
                        .to_string(),
                ),
            ));
        }
        Ok(FileSink {
            dest,
            format,
            ep: ep.clone(),
            split,
            run_id: ctx.run_id.clone(),
            schema: None,
            temp: None,
            created_dirs: Vec::new(),
            current: None,
            parts: Vec::new(),
            rows_total: 0,
            prepared: false,
            raw: None,
        })
    }

    fn hidden_sibling(&self, tag: &str) -> PathBuf {
        let name = self
            .dest
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "output".into());
        let parent = self.dest.parent().unwrap_or(Path::new("."));
        parent.join(format!(".{name}.convoy-{}.{tag}", self.run_id))
    }

    fn create_parents(&mut self) -> Result<()> {
        let parent = match self.dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => return Ok(()),
        };
        let mut missing = Vec::new();
        let mut p = parent.as_path();
        while !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(q) if !q.as_os_str().is_empty() => p = q,
                _ => break,
            }
        }
        for dir in missing.iter().rev() {
            fs::create_dir(dir).with_context(|| format!("creating directory {}", dir.display()))?;
            self.created_dirs.push(dir.clone());
        }
        Ok(())
    }

    fn open_part(&mut self) -> Result<()> {
        let schema = self.schema.clone().expect("begin was called");
        let path = match self.split {
            None => self.temp.clone().expect("temp path"),
            Some(_) => self.temp.clone().expect("staging dir").join(format!(
                "part-{:05}.{}",
                self.parts.len(),
                self.format.extension()
            )),
        };
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let (w, rows) = FormatWriter::open(
            Hashing::new(file),
            self.raw.as_ref(),
            self.format,
            &schema,
            &self.ep.csv,
            &self.ep.parquet,
        )?;
        self.rows_total += rows;
        self.current = Some((w, path, rows));
        Ok(())
    }

    fn close_part(&mut self) -> Result<()> {
        if let Some((w, path, rows)) = self.current.take() {
            let done = w.finish()?;
            if done.rows != rows {
                return Err(crate::error::verify(format!(
                    "{}: the writer recorded {} rows, {} were given to it",
                    path.display(),
                    done.rows,
                    rows
                )));
            }
            let location = match self.split {
                None => self.dest.display().to_string(),
                Some(_) => self
                    .dest
                    .join(path.file_name().expect("part name"))
                    .display()
                    .to_string(),
            };
            self.parts.push(Output {
                location,
                rows: done.rows,
                bytes: done.bytes,
                sha256: done.sha256,
            });
        }
        Ok(())
    }

    fn write_blocking(&mut self, batch: RecordBatch) -> Result<()> {
        let mut batch = batch;
        loop {
            if self.current.is_none() {
                self.open_part()?;
            }
            let room = match self.split {
                Some(max) => max - self.current.as_ref().map_or(0, |c| c.2),
                None => u64::MAX,
            };
            let n = batch.num_rows() as u64;
            let take = n.min(room);
            let (w, _, rows) = self.current.as_mut().expect("open part");
            if take == n {
                w.write(&batch)?;
                *rows += n;
                self.rows_total += n;
                if Some(*rows) == self.split {
                    self.close_part()?;
                }
                return Ok(());
            }
            w.write(&batch.slice(0, take as usize))?;
            *rows += take;
            self.rows_total += take;
            self.close_part()?;
            batch = batch.slice(take as usize, (n - take) as usize);
        }
    }

    fn manifest(&self) -> serde_json::Value {
        let schema = self.schema.as_ref().expect("begin was called");
        manifest_json(
            &self.run_id,
            self.format,
            schema,
            self.rows_total,
            &self.parts,
        )
    }

    fn check_replaceable_dir(&self) -> Result<()> {
        if !self.dest.exists() {
            return Ok(());
        }
        if !self.dest.is_dir() {
            return Err(crate::error::usage(
                format!("{} exists and is not a directory", self.dest.display()),
                Some("split output (--max-rows-per-file) goes into a directory".to_string()),
            ));
        }
        let empty = fs::read_dir(&self.dest)?.next().is_none();
        if !empty && !self.dest.join(MANIFEST).exists() {
            return Err(crate::error::input(
                format!(
                    "{} exists and was not written by convoy (it has no {MANIFEST})",
                    self.dest.display()
                ),
                Some(
                    "convoy replaces a whole output directory; choose a new or empty one"
                        .to_string(),
                ),
            ));
        }
        Ok(())
    }

    fn cleanup(&mut self) {
        self.current = None;
        if let Some(t) = self.temp.take() {
            let _ = if t.is_dir() {
                fs::remove_dir_all(&t)
            } else {
                fs::remove_file(&t)
            };
        }
        for dir in self.created_dirs.drain(..).rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Swap two directory entries atomically (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings for the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

#[async_trait]
impl Sink for FileSink {
    fn describe(&self) -> String {
        format!("local {}", self.dest.display())
    }

    async fn begin(&mut self, schema: SchemaRef) -> Result<()> {
        self.schema = Some(schema);
        if self.split.is_some() {
            self.check_replaceable_dir()?;
        }
        self.create_parents()?;
        match self.split {
            None => {
                let temp = self.hidden_sibling("tmp");
                self.temp = Some(temp);
                self.open_part()?;
            }
            Some(_) => {
                let dir = self.hidden_sibling("staging");
                fs::create_dir(&dir)
                    .with_context(|| format!("creating staging directory {}", dir.display()))?;
                self.temp = Some(dir);
            }
        }
        Ok(())
    }

    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        tokio::task::block_in_place(|| self.write_blocking(batch))
    }

    fn accept_raw(&mut self, raw: &super::RawFile) -> bool {
        self.raw = super::takes_raw(raw, self.format, self.split, &self.ep.parquet);
        self.raw.is_some()
    }

    async fn write_bytes(&mut self, chunk: bytes::Bytes) -> Result<()> {
        let (w, path, _) = self.current.as_mut().expect("begin was called");
        tokio::task::block_in_place(|| w.write_bytes(chunk))
            .with_context(|| format!("writing {}", path.display()))
    }

    async fn prepare(&mut self) -> Result<Prepared> {
        tokio::task::block_in_place(|| -> Result<Prepared> {
            self.close_part()?;
            if let Some(dir) = self.temp.clone().filter(|_| self.split.is_some()) {
                let text = serde_json::to_vec_pretty(&self.manifest())?;
                let path = dir.join(MANIFEST);
                let mut f = fs::File::create(&path)?;
                std::io::Write::write_all(&mut f, &text)?;
                f.sync_all()?;
                sync_dir(&dir);
            }
            self.prepared = true;
            Ok(Prepared {
                rows: self.parts.iter().map(|p| p.rows).sum(),
                outputs: self.parts.clone(),
            })
        })
    }

    async fn commit(&mut self) -> Result<()> {
        assert!(self.prepared, "commit before prepare");
        let temp = self.temp.take().expect("begin was called");
        let parent = self
            .dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let result = if self.split.is_some() && self.dest.exists() {
            // Swap the new directory in; the old one ends up at `temp`.
            match exchange(&temp, &self.dest) {
                Ok(()) => {
                    sync_dir(&parent);
                    let _ = fs::remove_dir_all(&temp);
                    Ok(())
                }
                Err(_) => {
                    let old = self.hidden_sibling("old");
                    fs::rename(&self.dest, &old)
                        .and_then(|_| fs::rename(&temp, &self.dest))
                        .map(|_| {
                            let _ = fs::remove_dir_all(&old);
                        })
                }
            }
        } else {
            fs::rename(&temp, &self.dest)
        };
        if let Err(e) = result {
            self.temp = Some(temp);
            return Err(
                anyhow::Error::new(e).context(format!("publishing {}", self.dest.display()))
            );
        }
        sync_dir(&parent);
        self.created_dirs.clear();
        Ok(())
    }

    async fn abort(&mut self) -> Result<()> {
        self.cleanup();
        Ok(())
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // A sink dropped without commit (a panic, an early return) must not
        // leave its temporary behind.
        self.cleanup();
    }
}
