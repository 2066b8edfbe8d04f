//! Objects as a sink. Nothing is visible before commit:
//! - one object is written as a multipart upload that is completed at
//!   commit, so readers see the old object or the whole new one, never a
//!   part; abort (an error, Ctrl-C) aborts the upload and nothing is left;
//! - split output (`max_rows_per_file`) writes each part as a multipart
//!   upload that stays open — invisible — until commit (as Hadoop's S3A
//!   "magic" committer does; on Azure, blocks wait uncommitted). Commit
//!   completes them, then writes `_convoy_manifest.json` with a condition:
//!   only if the manifest is still the one this run saw when it began (or
//!   still absent). A copy that overlapped with another and lost that race
//!   deletes its parts and fails; the winner's output is whole. After the
//!   manifest, the previous output's parts and whatever killed runs left
//!   under the prefix (parts named `part-NNNNN-<run id>` that no manifest
//!   lists) are deleted. Abort aborts the open uploads; the previous output
//!   and its manifest are never touched before commit.

use std::sync::Arc;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::builder::Store;
use super::io::{self, Upload};
use super::{object_path, store_error};
use crate::connect::format::compression::Compression;
use crate::connect::format::write::{FormatWriter, Hashing};
use crate::connect::format::MANIFEST;
use crate::connect::{OpenContext, Output, Prepared, Sink};
use crate::spec::{Endpoint, Format};

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
    /// Compression around each text file written.
    compression: Compression,
    ep: Endpoint,
    split: Option<u64>,
    run_id: String,
    ctx: OpenContext,
    schema: Option<SchemaRef>,
    current: Option<Current>,
    /// The single object's upload, uploaded and waiting for commit.
    pending: Option<Upload>,
    /// Split parts uploaded and waiting for commit, invisible until then.
    waiting: Vec<(Upload, ObjPath)>,
    /// Split parts this run completed: deleted again on abort.
    written: Vec<ObjPath>,
    /// Uploads being started (see [`io::Starting`]).
    starting: io::Starting,
    /// Objects of the previous split output, and parts killed runs left,
    /// deleted after commit.
    previous: Vec<ObjPath>,
    /// The manifest this run saw when it began, for the conditional write.
    seen: Option<object_store::UpdateVersion>,
    parts: Vec<Output>,
    rows_total: u64,
    prepared: bool,
    /// Set when the sink takes a source file's bytes unchanged.
    raw: Option<crate::connect::format::RawFile>,
}

impl ObjSink {
    pub fn new(st: Store, ep: &Endpoint, ctx: &OpenContext) -> Result<ObjSink> {
        let raw = ctx.path_of(ep);
        let dest = raw.trim_start_matches('/').to_string();
        let split = ep.max_rows_per_file;
        let format = ep
            .format
            .or_else(|| Format::from_path(&dest))
            .ok_or_else(|| crate::error::usage(format!("cannot tell the format of {raw}"), None))?;
        let compression = crate::connect::format::compression::output(
            &dest,
            format,
            ep.compression,
            split.is_some(),
        )?;
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
            compression,
            ep: ep.clone(),
            split,
            run_id: ctx.run_id.clone(),
            ctx: ctx.clone(),
            schema: None,
            current: None,
            pending: None,
            waiting: Vec::new(),
            written: Vec::new(),
            starting: io::Starting::default(),
            previous: Vec::new(),
            seen: None,
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
            self.compression.part_extension(self.format)
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
        let (w, upload) = io::start(
            self.st.store.clone(),
            path.clone(),
            self.shown(&path),
            self.ctx.cancel.clone(),
            &mut self.starting,
        )
        .await?;
        let (writer, rows) = FormatWriter::open(
            Hashing::over(Box::new(w)).compressed(self.compression)?,
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
            self.waiting.push((upload, path.clone()));
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

    /// Split output replaces a prefix that is empty or holds convoy's own
    /// objects: an output with its manifest, and parts that killed runs left
    /// (named `part-NNNNN-<run id>`). Remember the manifest's version (for
    /// the conditional write at commit) and every part it does not keep.
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
        let manifest = self.manifest_path()?;
        let foreign: Vec<String> = listed
            .objects
            .iter()
            .filter(|m| m.location != manifest)
            .filter_map(|m| m.location.filename().map(str::to_string))
            .filter(|n| !is_convoy_part(n))
            .collect();
        if !foreign.is_empty() {
            return Err(crate::error::input(
                format!(
                    "{shown}/ holds objects that were not written by convoy ({}{})",
                    foreign[..foreign.len().min(3)].join(", "),
                    if foreign.len() > 3 { ", …" } else { "" }
                ),
                Some(
                    "convoy replaces a whole output prefix; choose a new or empty one".to_string(),
                ),
            ));
        }
        // Every part of ours goes after the commit, unless the new manifest
        // lists it: the previous output's, and what killed runs left.
        self.previous = listed
            .objects
            .iter()
            .filter(|m| m.location != manifest)
            .map(|m| m.location.clone())
            .collect();
        let Some(meta) = listed.objects.iter().find(|m| m.location == manifest) else {
            return Ok(());
        };
        self.seen = Some(object_store::UpdateVersion {
            e_tag: meta.e_tag.clone(),
            version: meta.version.clone(),
        });
        let text = self
            .st
            .store
            .get(&manifest)
            .await
            .map_err(|e| store_error(&self.st.identity, "reading the previous manifest", e))?
            .bytes()
            .await
            .map_err(|e| store_error(&self.st.identity, "reading the previous manifest", e))?;
        serde_json::from_slice::<serde_json::Value>(&text).map_err(|e| {
            crate::error::input(
                format!("{shown}/{MANIFEST} is not a convoy manifest: {e}"),
                None,
            )
        })?;
        Ok(())
    }

    /// Publish the manifest only if it is still the one this run saw when
    /// it began (or still absent): of two overlapping copies, one wins.
    async fn put_manifest(&mut self, path: &ObjPath, body: Vec<u8>) -> Result<()> {
        let mode = match &self.seen {
            Some(v) => object_store::PutMode::Update(v.clone()),
            None => object_store::PutMode::Create,
        };
        let put = self
            .st
            .store
            .put_opts(
                path,
                PutPayload::from(body.clone()),
                object_store::PutOptions {
                    mode,
                    ..Default::default()
                },
            )
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }) => {
                Err(crate::error::input(
                    format!(
                        "{}/{}: another copy published a new output there while this one ran; this run's output was not published",
                        self.st.root,
                        self.prefix()
                    ),
                    Some("run the copy again, or make sure two copies do not write one destination at once".to_string()),
                ))
            }
            // A store that cannot write conditionally: publish anyway, and say so.
            Err(object_store::Error::NotImplemented { .. }) => {
                self.ctx.warn(format!(
                    "{}: the store cannot write the manifest conditionally; two copies running at once to this prefix would not be told apart",
                    self.st.identity
                ));
                self.st
                    .store
                    .put(path, PutPayload::from(body))
                    .await
                    .map(|_| ())
                    .map_err(|e| store_error(&self.st.identity, "writing the manifest", e))
            }
            Err(e) => Err(store_error(&self.st.identity, "writing the manifest", e)),
        }
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
        self.starting.settle().await;
        let mut first_err = None;
        if let Some(cur) = self.current.take() {
            let Current {
                writer, mut upload, ..
            } = cur;
            // Dropping a text writer flushes what it buffered into the
            // upload's writer, which may block: not on a runtime thread.
            tokio::task::block_in_place(move || drop(writer));
            if let Err(e) = upload.abort().await {
                first_err.get_or_insert(e);
            }
        }
        if let Some(mut up) = self.pending.take() {
            if let Err(e) = up.abort().await {
                first_err.get_or_insert(e);
            }
        }
        for (mut up, _) in std::mem::take(&mut self.waiting) {
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
        format!(
            "{} {}{}",
            self.st.identity,
            self.dest,
            self.compression.suffix()
        )
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

    fn accepts(&mut self, encoding: &crate::connect::Encoding) -> bool {
        self.raw =
            crate::connect::format::takes_raw(encoding, self.format, self.split, &self.ep.parquet);
        self.raw.is_some()
    }

    fn check_schema(&mut self, schema: &SchemaRef) -> Result<()> {
        if self.raw.is_none() {
            for w in crate::connect::format::write::check_schema(self.format, schema)? {
                self.ctx.warn(w);
            }
        }
        Ok(())
    }

    async fn write_encoded(&mut self, piece: crate::connect::Encoded) -> Result<()> {
        let cur = self.current.as_mut().expect("begin was called");
        tokio::task::block_in_place(|| cur.writer.write_bytes(piece.bytes))
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
        // The parts become visible, not yet listed by any manifest.
        for (mut upload, path) in std::mem::take(&mut self.waiting) {
            upload.complete().await?;
            self.written.push(path);
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
        self.put_manifest(&path, body).await?;
        // Published: the objects are the new output's now.
        let written = std::mem::take(&mut self.written);
        for old in std::mem::take(&mut self.previous) {
            if written.contains(&old) {
                continue;
            }
            if let Err(e) = self.st.store.delete(&old).await {
                if !matches!(e, object_store::Error::NotFound { .. }) {
                    self.ctx.warn(
                        store_error(
                            &self.st.identity,
                            &format!("deleting the previous output's {}", self.shown(&old)),
                            e,
                        )
                        .to_string(),
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

/// A part convoy writes into a split output: `part-NNNNN-<run id>.<ext>`,
/// the run id being `YYYYMMDDTHHMMSSZ-xxxxxxxx`.
fn is_convoy_part(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("part-") else {
        return false;
    };
    let b = rest.as_bytes();
    // NNNNN-YYYYMMDDTHHMMSSZ-xxxxxxxx.
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    digits(0..5)
        && b.get(5) == Some(&b'-')
        && digits(6..14)
        && b.get(14) == Some(&b'T')
        && digits(15..21)
        && b.get(21..23) == Some(&b"Z-"[..])
        && b.get(23..31)
            .is_some_and(|s| s.iter().all(|c| c.is_ascii_hexdigit()))
        && b.get(31) == Some(&b'.')
}

#[cfg(test)]
mod tests {
    #[test]
    fn convoy_parts_are_told_from_other_objects() {
        assert!(super::is_convoy_part(
            "part-00003-20261129T224334Z-37ce0fa1.parquet"
        ));
        for other in [
            "part-3-20261129T224334Z-37ce0fa1.parquet",
            "part-00003-20261129T224334Z.parquet",
            "data.parquet",
            "part-00003-20261129T224334Z-37ce0fa1",
        ] {
            assert!(!super::is_convoy_part(other), "{other}");
        }
    }
}
