//! Object stores: S3 (and S3-compatible endpoints), Azure Blob Storage and
//! ADLS Gen2, Google Cloud Storage as sources and sinks; HTTPS URLs as
//! sources. Every file format of the local connector, read and written by the
//! same code ([`crate::connect::file`]) through [`io`].
//!
//! A source is one object, a prefix (`raw/`: the objects directly under it)
//! or a glob (`raw/orders/*.csv`); all of them, sorted by name, form one table
//! under the same schema rules as local files.
//!
//! Publishing is atomic:
//! - one object is written as a multipart upload that is completed at commit,
//!   so readers see the old object or the whole new one, never a part; abort
//!   (an error, Ctrl-C) aborts the upload and nothing is left;
//! - split output (`max_rows_per_file`) writes its objects under the
//!   destination prefix, each named with the run id, then `_convoy_manifest.json`
//!   last, in one PUT, at commit. The manifest lists the objects that make up
//!   the output. Objects of the previous output that the new manifest no
//!   longer lists are deleted after it is written. Abort deletes every object
//!   this run wrote; the previous output and its manifest are never touched
//!   before commit.

pub mod builder;
pub mod io;

use std::sync::Arc;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};

use self::builder::{Settings, Store};
use self::io::{ObjectInput, Upload};
use super::format::input::Input;
use super::format::write::{FormatWriter, Hashing};
use super::format::{FileSource, MANIFEST};
use super::{OpenContext, Output, Prepared, Sink, Source};
use crate::spec::{Connection, Endpoint, Format, Kind, Spec};

/// An object store error, redacted, with TLS failures refused as policy
/// (exit 3) and a hint on what to do.
pub fn store_error(what: &str, doing: &str, e: object_store::Error) -> anyhow::Error {
    // Causes, outermost first, each once (object_store repeats inner messages).
    let mut text = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !t.is_empty() && !text.contains(&t) {
            text = format!("{text}: {t}");
        }
        src = s.source();
    }
    let text = crate::security::redact::redact(&text);
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") {
        return crate::error::policy(
            format!("{what}: {doing}: the server's TLS certificate is not trusted: {text}"),
            Some(
                "convoy always verifies certificates; give the CA that signed it with tls = { ca_file = \"…\" }"
                    .to_string(),
            ),
        );
    }
    if matches!(e, object_store::Error::Precondition { .. }) {
        return crate::error::verify(format!(
            "{what}: {doing}: the object was replaced while convoy read it; nothing was published"
        ));
    }
    if matches!(e, object_store::Error::NotFound { .. }) {
        return crate::error::input(format!("{what}: {doing}: not found"), None);
    }
    crate::error::input(format!("{what}: {doing}: {text}"), None)
}

/// Whether a kind is served by this module.
pub fn handles(kind: Kind) -> bool {
    matches!(kind, Kind::S3 | Kind::Azure | Kind::Gcs | Kind::Http)
}

fn connection<'a>(spec: &'a Spec, ep: &Endpoint) -> &'a Connection {
    spec.connections
        .get(&ep.connection)
        .expect("validated: the connection exists")
}

pub fn open_store(spec: &Spec, ep: &Endpoint, ctx: &OpenContext) -> Result<Store> {
    let conn = connection(spec, ep);
    let settings = Settings::new(&ep.connection, conn, &spec.base_dir, ctx);
    builder::build(&settings, ctx)
}

/// Short identity of an endpoint without building anything (plans, reports).
pub fn describe(conn: &Connection, path: &str) -> String {
    let get = |k: &str| conn.settings.get(k).and_then(|v| v.as_str());
    let region = conn
        .region
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    match conn.kind {
        Kind::S3 => format!("s3 bucket {}{region} {path}", get("bucket").unwrap_or("?")),
        Kind::Azure => format!(
            "azure container {}{} {path}",
            get("container").unwrap_or("?"),
            get("account")
                .map(|a| format!(" (account {a})"))
                .unwrap_or_default()
        ),
        Kind::Gcs => format!("gcs bucket {}{region} {path}", get("bucket").unwrap_or("?")),
        _ => format!(
            "https {}/{path}",
            crate::security::redact::redact(get("url").unwrap_or("?").trim_end_matches('/'))
        ),
    }
}

/// The host and port a connection talks to (for `convoy plan`), from the
/// spec and, where the spec is silent, the environment or the cloud's default.
pub fn network_endpoint(conn: &Connection) -> Option<(String, u16, bool)> {
    let get = |k: &str| {
        conn.settings
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let env = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok());
    let url = match conn.kind {
        Kind::S3 => get("endpoint")
            .or_else(|| env(&["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]))
            .unwrap_or_else(|| match &conn.region {
                Some(r) => format!("https://s3.{r}.amazonaws.com"),
                None => "https://s3.amazonaws.com".into(),
            }),
        Kind::Azure => get("endpoint")
            .or_else(|| env(&["AZURE_STORAGE_ENDPOINT"]))
            .unwrap_or_else(|| {
                let account = get("account")
                    .or_else(|| env(&["AZURE_STORAGE_ACCOUNT_NAME"]))
                    .unwrap_or_else(|| "ACCOUNT".into());
                format!("https://{account}.blob.core.windows.net")
            }),
        Kind::Gcs => "https://storage.googleapis.com".into(),
        Kind::Http => get("url")?,
        _ => return None,
    };
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let https = scheme.eq_ignore_ascii_case("https");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => {
            (h.to_string(), p.parse().ok()?)
        }
        _ => (authority.to_string(), if https { 443 } else { 80 }),
    };
    Some((host, port, https))
}

fn object_path(key: &str) -> Result<ObjPath> {
    ObjPath::parse(key)
        .map_err(|e| crate::error::usage(format!("{key:?} is not a valid object name: {e}"), None))
}

fn is_hidden_or_ours(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

fn wanted(name: &str, format: Option<Format>) -> bool {
    match format {
        Some(f) => Format::from_path(name) == Some(f) || Format::from_path(name).is_none(),
        None => Format::from_path(name).is_some(),
    }
}

/// The objects a source path names: one object, a prefix's objects, or a glob's.
async fn expand(st: &Store, key: &str, format: Option<Format>) -> Result<Vec<ObjectMeta>> {
    let shown = format!("{}/{key}", st.root);
    let mut found: Vec<ObjectMeta>;
    if key.contains(['*', '?', '[']) {
        if st.kind == Kind::Http {
            return Err(crate::error::usage(
                format!("{shown}: HTTPS sources cannot be listed; name one file"),
                None,
            ));
        }
        let pattern = glob::Pattern::new(key)
            .map_err(|e| crate::error::usage(format!("bad glob pattern {key:?}: {e}"), None))?;
        let wild = key.find(['*', '?', '[']).unwrap_or(key.len());
        let prefix = key[..wild].rfind('/').map_or("", |i| &key[..i]);
        let prefix = (!prefix.is_empty())
            .then(|| object_path(prefix))
            .transpose()?;
        let opts = glob::MatchOptions {
            require_literal_separator: true,
            ..glob::MatchOptions::new()
        };
        found = st
            .store
            .list(prefix.as_ref())
            .try_filter(|m| {
                // As for local globs: whatever matches, hidden names too.
                futures::future::ready(pattern.matches_with(m.location.as_ref(), opts))
            })
            .try_collect()
            .await
            .map_err(|e| store_error(&st.identity, &format!("listing {shown}"), e))?;
        if found.is_empty() {
            return Err(crate::error::input(
                format!("no objects match {shown}"),
                Some("check the pattern; quote it so the shell does not expand it".to_string()),
            ));
        }
    } else if key.is_empty() || key.ends_with('/') {
        if st.kind == Kind::Http {
            return Err(crate::error::usage(
                format!("{shown}: HTTPS sources cannot be listed; name one file"),
                None,
            ));
        }
        let prefix = (!key.is_empty()).then(|| object_path(key)).transpose()?;
        let listed = st
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(|e| store_error(&st.identity, &format!("listing {shown}"), e))?;
        found = listed
            .objects
            .into_iter()
            .filter(|m| {
                m.location
                    .filename()
                    .is_some_and(|n| !is_hidden_or_ours(n) && wanted(n, format))
            })
            .collect();
        if found.is_empty() {
            return Err(crate::error::input(
                format!("{shown} holds no data objects"),
                Some(
                    "objects need a .csv, .parquet, .jsonl or .arrow extension, or give --source-format"
                        .to_string(),
                ),
            ));
        }
    } else {
        let path = object_path(key)?;
        let meta = st
            .store
            .head(&path)
            .await
            .map_err(|e| store_error(&st.identity, &format!("reading {shown}"), e))?;
        found = vec![meta];
    }
    found.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(found)
}

/// Open an object store source: list, then read like local files.
pub fn open_source(spec: &Spec, ep: &Endpoint, ctx: &OpenContext) -> Result<Box<dyn Source>> {
    let handle = tokio::runtime::Handle::current();
    let st = open_store(spec, ep, ctx)?;
    let key = ep
        .path
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/');
    let metas = handle.block_on(expand(&st, key, ep.format))?;
    let label = if metas.len() == 1 {
        format!("{} {}", st.identity, metas[0].location)
    } else {
        format!("{} {key} ({} objects)", st.identity, metas.len())
    };
    let inputs: Vec<Arc<dyn Input>> = metas
        .into_iter()
        .map(|m| {
            Arc::new(ObjectInput {
                store: st.store.clone(),
                name: format!("{}/{}", st.root, m.location),
                path: m.location,
                size: m.size,
                handle: handle.clone(),
                e_tag: m.e_tag,
            }) as Arc<dyn Input>
        })
        .collect();
    Ok(Box::new(FileSource::from_inputs(label, inputs, ep, ctx)?))
}

/// Open an object store sink. Nothing is contacted before `begin`.
pub fn open_sink(spec: &Spec, ep: &Endpoint, ctx: &OpenContext) -> Result<Box<dyn Sink>> {
    let st = open_store(spec, ep, ctx)?;
    if !st.writable {
        return Err(crate::error::usage(
            format!("{} is read-only: HTTPS URLs are sources", st.identity),
            None,
        ));
    }
    Ok(Box::new(ObjSink::new(st, ep, ctx)?))
}

/// A part or object being written.
struct Current {
    writer: FormatWriter,
    upload: Upload,
    path: ObjPath,
    rows: u64,
}

/// Objects as a sink.
pub struct ObjSink {
    st: Store,
    /// The object (single output) or the prefix (split output).
    dest: String,
    format: Format,
    ep: Endpoint,
    split: Option<u64>,
    run_id: String,
    schema: Option<SchemaRef>,
    current: Option<Current>,
    /// The single object's upload, uploaded and waiting for commit.
    pending: Option<Upload>,
    /// Split parts this run completed: deleted again on abort.
    written: Vec<ObjPath>,
    /// Objects of the previous split output, deleted after commit.
    previous: Vec<ObjPath>,
    parts: Vec<Output>,
    rows_total: u64,
    prepared: bool,
    /// Set when the sink takes a source file's bytes unchanged.
    raw: Option<super::RawFile>,
}

impl ObjSink {
    fn new(st: Store, ep: &Endpoint, ctx: &OpenContext) -> Result<ObjSink> {
        let raw = ctx.path_of(ep);
        let dest = raw.trim_start_matches('/').to_string();
        let split = ep.max_rows_per_file;
        let format = ep
            .format
            .or_else(|| Format::from_path(&dest))
            .ok_or_else(|| crate::error::usage(format!("cannot tell the format of {raw}"), None))?;
        if split.is_none() && (dest.is_empty() || dest.ends_with('/')) {
            return Err(crate::error::usage(
                format!("destination {}/{dest} is a prefix", st.root),
                Some(
                    "name an object (e.g. raw/orders.parquet), or split the output with --max-rows-per-file"
                        .to_string(),
                ),
            ));
        }
        if split.is_none() {
            object_path(&dest)?;
        }
        Ok(ObjSink {
            st,
            dest,
            format,
            ep: ep.clone(),
            split,
            run_id: ctx.run_id.clone(),
            schema: None,
            current: None,
            pending: None,
            written: Vec::new(),
            previous: Vec::new(),
            parts: Vec::new(),
            rows_total: 0,
            prepared: false,
            raw: None,
        })
    }

    fn shown(&self, path: &ObjPath) -> String {
        format!("{}/{path}", self.st.root)
    }

    fn prefix(&self) -> String {
        self.dest.trim_end_matches('/').to_string()
    }

    fn part_path(&self) -> Result<ObjPath> {
        let name = format!(
            "part-{:05}-{}.{}",
            self.parts.len(),
            self.run_id,
            self.format.extension()
        );
        let prefix = self.prefix();
        object_path(&if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        })
    }

    fn manifest_path(&self) -> Result<ObjPath> {
        let prefix = self.prefix();
        object_path(&if prefix.is_empty() {
            MANIFEST.to_string()
        } else {
            format!("{prefix}/{MANIFEST}")
        })
    }

    async fn open_part(&mut self) -> Result<()> {
        let schema = self.schema.clone().expect("begin was called");
        let path = match self.split {
            None => object_path(&self.dest)?,
            Some(_) => self.part_path()?,
        };
        let (w, upload) = io::start(self.st.store.clone(), path.clone(), self.shown(&path)).await?;
        let (writer, rows) = FormatWriter::open(
            Hashing::over(Box::new(w)),
            self.raw.as_ref(),
            self.format,
            &schema,
            &self.ep.csv,
            &self.ep.parquet,
        )?;
        self.rows_total += rows;
        self.current = Some(Current {
            writer,
            upload,
            path,
            rows,
        });
        Ok(())
    }

    /// Finish the current writer; split parts are completed (visible under
    /// the prefix, not yet listed by a manifest), a single object waits for
    /// commit.
    async fn close_part(&mut self) -> Result<()> {
        let Some(cur) = self.current.take() else {
            return Ok(());
        };
        let Current {
            writer,
            mut upload,
            path,
            rows,
        } = cur;
        let done = match tokio::task::block_in_place(|| writer.finish()) {
            Ok(d) => d,
            Err(e) => {
                // The upload task's own error explains a failed write better.
                let _ = upload.abort().await;
                return Err(e);
            }
        };
        if let Err(e) = upload.uploaded().await {
            let _ = upload.abort().await;
            return Err(e);
        }
        if done.rows != rows {
            let _ = upload.abort().await;
            return Err(crate::error::verify(format!(
                "{}: the writer recorded {} rows, {} were given to it",
                self.shown(&path),
                done.rows,
                rows
            )));
        }
        if self.split.is_some() {
            upload.complete().await?;
            self.written.push(path.clone());
        } else {
            self.pending = Some(upload);
        }
        self.parts.push(Output {
            location: self.shown(&path),
            rows: done.rows,
            bytes: done.bytes,
            sha256: done.sha256,
        });
        Ok(())
    }

    /// Split output replaces a prefix that is empty or holds a convoy output
    /// (with its manifest); remember that output's objects.
    async fn check_replaceable_prefix(&mut self) -> Result<()> {
        let prefix = self.prefix();
        let p = (!prefix.is_empty())
            .then(|| object_path(&prefix))
            .transpose()?;
        let shown = format!("{}/{prefix}", self.st.root);
        let listed = self
            .st
            .store
            .list_with_delimiter(p.as_ref())
            .await
            .map_err(|e| store_error(&self.st.identity, &format!("listing {shown}"), e))?;
        if listed.objects.is_empty() {
            return Ok(());
        }
        let manifest = self.manifest_path()?;
        if !listed.objects.iter().any(|m| m.location == manifest) {
            return Err(crate::error::input(
                format!(
                    "{shown}/ holds objects that were not written by convoy (it has no {MANIFEST})"
                ),
                Some(
                    "convoy replaces a whole output prefix; choose a new or empty one".to_string(),
                ),
            ));
        }
        let text = self
            .st
            .store
            .get(&manifest)
            .await
            .map_err(|e| store_error(&self.st.identity, "reading the previous manifest", e))?
            .bytes()
            .await
            .map_err(|e| store_error(&self.st.identity, "reading the previous manifest", e))?;
        let old: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
            crate::error::input(
                format!("{shown}/{MANIFEST} is not a convoy manifest: {e}"),
                None,
            )
        })?;
        for f in old["files"].as_array().into_iter().flatten() {
            if let Some(name) = f["name"].as_str() {
                let key = if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{prefix}/{name}")
                };
                self.previous.push(object_path(&key)?);
            }
        }
        Ok(())
    }

    async fn write_batch(&mut self, batch: RecordBatch) -> Result<()> {
        let mut batch = batch;
        loop {
            if self.current.is_none() {
                self.open_part().await?;
            }
            let cur = self.current.as_mut().expect("open part");
            let room = match self.split {
                Some(max) => max - cur.rows,
                None => u64::MAX,
            };
            let n = batch.num_rows() as u64;
            let take = n.min(room);
            let slice = if take == n {
                batch.clone()
            } else {
                batch.slice(0, take as usize)
            };
            tokio::task::block_in_place(|| cur.writer.write(&slice))?;
            cur.rows += take;
            self.rows_total += take;
            let full = Some(cur.rows) == self.split;
            if full {
                self.close_part().await?;
            }
            if take == n {
                return Ok(());
            }
            batch = batch.slice(take as usize, (n - take) as usize);
        }
    }

    async fn cleanup(&mut self) -> Result<()> {
        let mut first_err = None;
        if let Some(mut cur) = self.current.take() {
            drop(cur.writer);
            if let Err(e) = cur.upload.abort().await {
                first_err.get_or_insert(e);
            }
        }
        if let Some(mut up) = self.pending.take() {
            if let Err(e) = up.abort().await {
                first_err.get_or_insert(e);
            }
        }
        for path in std::mem::take(&mut self.written) {
            if let Err(e) = self.st.store.delete(&path).await {
                first_err.get_or_insert(store_error(
                    &self.st.identity,
                    &format!("deleting {}", self.shown(&path)),
                    e,
                ));
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Sink for ObjSink {
    fn describe(&self) -> String {
        format!("{} {}", self.st.identity, self.dest)
    }

    async fn begin(&mut self, schema: SchemaRef) -> Result<()> {
        self.schema = Some(schema);
        match self.split {
            None => self.open_part().await,
            Some(_) => self.check_replaceable_prefix().await,
        }
    }

    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.write_batch(batch).await
    }

    fn accept_raw(&mut self, raw: &super::RawFile) -> bool {
        self.raw = super::takes_raw(raw, self.format, self.split, &self.ep.parquet);
        self.raw.is_some()
    }

    async fn write_bytes(&mut self, chunk: bytes::Bytes) -> Result<()> {
        let cur = self.current.as_mut().expect("begin was called");
        tokio::task::block_in_place(|| cur.writer.write_bytes(chunk))
    }

    async fn prepare(&mut self) -> Result<Prepared> {
        self.close_part().await?;
        self.prepared = true;
        Ok(Prepared {
            rows: self.parts.iter().map(|p| p.rows).sum(),
            outputs: self.parts.clone(),
        })
    }

    async fn commit(&mut self) -> Result<()> {
        assert!(self.prepared, "commit before prepare");
        if let Some(mut up) = self.pending.take() {
            return up.complete().await;
        }
        let schema = self.schema.as_ref().expect("begin was called");
        let manifest = crate::connect::format::manifest_json(
            &self.run_id,
            self.format,
            schema,
            self.rows_total,
            &self.parts,
        );
        let path = self.manifest_path()?;
        let body = serde_json::to_vec_pretty(&manifest)?;
        self.st
            .store
            .put(&path, PutPayload::from(body))
            .await
            .map_err(|e| store_error(&self.st.identity, "writing the manifest", e))?;
        // Published: the objects are the new output's now.
        self.written.clear();
        let keep: Vec<String> = self.parts.iter().map(|p| p.location.clone()).collect();
        for old in std::mem::take(&mut self.previous) {
            if keep.contains(&self.shown(&old)) {
                continue;
            }
            if let Err(e) = self.st.store.delete(&old).await {
                if !matches!(e, object_store::Error::NotFound { .. }) {
                    eprintln!(
                        "warning: {}",
                        crate::security::redact::redact(
                            &store_error(
                                &self.st.identity,
                                &format!("deleting the previous output's {}", self.shown(&old)),
                                e
                            )
                            .to_string()
                        )
                    );
                }
            }
        }
        Ok(())
    }

    async fn abort(&mut self) -> Result<()> {
        self.cleanup().await
    }
}

impl Drop for ObjSink {
    fn drop(&mut self) {
        // Dropped without commit or abort (a panic): uploads abort themselves
        // when their handles drop; completed split parts are deleted here.
        if self.written.is_empty() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let store: Arc<dyn ObjectStore> = self.st.store.clone();
            let paths = std::mem::take(&mut self.written);
            handle.spawn(async move {
                for p in paths {
                    let _ = store.delete(&p).await;
                }
            });
        }
    }
}
