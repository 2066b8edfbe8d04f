//! The extract side of a staged copy: a sink that writes one shard of a run.
//!
//! Parts are Parquet files of about [`PART_BYTES`] each, uploaded as they
//! fill (multipart, memory flat), optionally encrypted to age recipients on
//! the way (the SHA-256 in the manifest is then of the ciphertext, what the
//! store holds). `commit` writes the shard's manifest, the mark of a complete
//! shard; `abort` deletes the parts this run wrote. Before anything is
//! written, what an earlier attempt of the same shard left (its manifest
//! first, then its parts) is deleted: a shard re-run by a scheduler replaces
//! its own share and nothing else.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::manifest::{self, Encryption, Manifest, Part, LOADED};
use super::RunPlace;
use crate::connect::format::write::{Durable, FormatWriter, Hashing};
use crate::connect::objstore::io::{self, Upload};
use crate::connect::{Output, Prepared, Sink};
use crate::spec::{CsvOptions, Format, ParquetOptions};

/// Stored bytes after which a part is closed and the next begun: small
/// enough that a loader holds one part in memory, large enough that a part's
/// overhead (a footer, a request) does not matter.
pub const PART_BYTES: u64 = 32 << 20;

/// Part size when a load follows the extract in the same process
/// ([`Feed`]): the load starts on the first part, and what is left to load
/// after the last part was written is one small part.
pub const FOLLOWED_PART_BYTES: u64 = 8 << 20;

/// What an extract tells a load that follows it in the same process, in
/// this order: the schema, each part once it is complete on the store, and
/// that the shard's manifest is written. A feed that ends before `Done`
/// means the extract failed.
pub enum Feed {
    Begun(SchemaRef),
    Part(Part),
    Done,
}

pub type FeedSender = tokio::sync::mpsc::UnboundedSender<Feed>;

/// What the shard's manifest says about where the rows came from.
pub struct Origin {
    pub source: String,
    pub source_region: Option<String>,
    /// How the source was cut for the shards (see `Source::share`).
    pub share: Option<serde_json::Value>,
}

/// Counts and hashes what reaches the store (the ciphertext, when parts are
/// encrypted), and reports it when the part is finished.
struct Stored {
    inner: Box<dyn Durable>,
    hasher: Sha256,
    bytes: u64,
    result: Arc<Mutex<Option<(u64, String)>>>,
}

impl Write for Stored {
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

impl Durable for Stored {
    fn sync(&mut self) -> std::io::Result<()> {
        self.inner.sync()?;
        let digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = Some((self.bytes, digest));
        Ok(())
    }
}

/// Encrypts what is written to it; `sync` writes the last chunk.
struct Encrypting {
    writer: Option<age::stream::StreamWriter<Stored>>,
}

impl Write for Encrypting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.writer {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("the part was already finished")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Durable for Encrypting {
    fn sync(&mut self) -> std::io::Result<()> {
        match self.writer.take() {
            Some(w) => w.finish()?.sync(),
            None => Ok(()),
        }
    }
}

/// The part being written.
struct Current {
    writer: FormatWriter,
    upload: Upload,
    name: String,
    rows: u64,
    stored: Arc<Mutex<Option<(u64, String)>>>,
}

pub struct StageSink {
    run: RunPlace,
    shard: u32,
    shards: u32,
    recipients: Option<Vec<age::x25519::Recipient>>,
    origin: Origin,
    schema: Option<SchemaRef>,
    current: Option<Current>,
    parts: Vec<Part>,
    /// Parts this attempt wrote, deleted on abort.
    written: Vec<String>,
    committed: bool,
    /// The run's: a part upload the store stopped taking ends on a signal.
    cancel: CancellationToken,
    /// A load following this extract, told of every finished part.
    feed: Option<FeedSender>,
    part_bytes: u64,
    /// Part uploads being started (see [`io::Starting`]).
    starting: io::Starting,
}

impl StageSink {
    pub fn new(
        run: RunPlace,
        (shard, shards): (u32, u32),
        recipients: Option<Vec<age::x25519::Recipient>>,
        origin: Origin,
        cancel: CancellationToken,
    ) -> StageSink {
        StageSink {
            run,
            shard,
            shards,
            recipients,
            origin,
            schema: None,
            current: None,
            parts: Vec::new(),
            written: Vec::new(),
            committed: false,
            cancel,
            feed: None,
            part_bytes: PART_BYTES,
            starting: io::Starting::default(),
        }
    }

    /// Tell a load that follows this extract of every part as it is
    /// finished (parts are then [`FOLLOWED_PART_BYTES`]).
    pub fn feeding(mut self, feed: FeedSender) -> StageSink {
        self.feed = Some(feed);
        self.part_bytes = FOLLOWED_PART_BYTES;
        self
    }

    /// Close parts at `bytes` stored bytes instead.
    pub fn part_bytes(mut self, bytes: u64) -> StageSink {
        self.part_bytes = bytes;
        self
    }

    /// A load that stopped following is no reason to stop the extract: the
    /// run it completes can be loaded again.
    fn tell(&self, what: Feed) {
        if let Some(feed) = &self.feed {
            let _ = feed.send(what);
        }
    }

    fn part_name(&self) -> String {
        format!(
            "{}{:05}.parquet{}",
            manifest::part_prefix(self.shard),
            self.parts.len() + self.current.iter().count(),
            if self.recipients.is_some() {
                ".age"
            } else {
                ""
            }
        )
    }

    async fn open_part(&mut self) -> Result<()> {
        let schema = self.schema.clone().expect("begun");
        let name = self.part_name();
        let (upload_writer, upload) = io::start(
            self.run.store.clone(),
            self.run.child(&name),
            self.run.shown_child(&name),
            self.cancel.clone(),
            &mut self.starting,
        )
        .await?;
        self.written.push(name.clone());
        let result = Arc::new(Mutex::new(None));
        let stored = Stored {
            inner: Box::new(upload_writer),
            hasher: Sha256::new(),
            bytes: 0,
            result: result.clone(),
        };
        let out: Box<dyn Durable> = match &self.recipients {
            Some(r) => Box::new(Encrypting {
                writer: Some(crate::security::age::encrypt(r, stored)?),
            }),
            None => Box::new(stored),
        };
        let writer = FormatWriter::new(
            Format::Parquet,
            // `Stored` hashes what reaches the store.
            Hashing::counting(out),
            &schema,
            &CsvOptions::default(),
            &ParquetOptions::default(),
        )?;
        self.current = Some(Current {
            writer,
            upload,
            name,
            rows: 0,
            stored: result,
        });
        Ok(())
    }

    async fn close_part(&mut self) -> Result<()> {
        let Some(cur) = self.current.take() else {
            return Ok(());
        };
        let Current {
            writer,
            mut upload,
            name,
            rows,
            stored,
        } = cur;
        let done = match tokio::task::block_in_place(|| writer.finish()) {
            Ok(d) => d,
            Err(e) => {
                let _ = upload.abort().await;
                return Err(e);
            }
        };
        if done.rows != rows {
            let _ = upload.abort().await;
            return Err(crate::error::verify(format!(
                "{}: the writer recorded {} rows, {rows} were given to it",
                self.run.shown_child(&name),
                done.rows
            )));
        }
        upload.complete().await?;
        let (bytes, sha256) = stored
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| anyhow::anyhow!("internal error: the part was not finished"))?;
        let part = Part {
            name,
            rows,
            bytes,
            sha256,
        };
        self.tell(Feed::Part(part.clone()));
        self.parts.push(part);
        Ok(())
    }

    /// Stored bytes of the part being written, so far.
    fn current_bytes(&self) -> u64 {
        self.current
            .as_ref()
            .map_or(0, |c| c.writer.bytes_written())
    }
}

#[async_trait]
impl Sink for StageSink {
    fn describe(&self) -> String {
        format!("stage run {}", self.run.shown)
    }

    fn check_schema(&mut self, schema: &SchemaRef) -> Result<()> {
        // Staged parts are Parquet.
        crate::connect::format::write::check_schema(Format::Parquet, schema).map(|_| ())
    }

    async fn begin(&mut self, schema: SchemaRef) -> Result<()> {
        let objects = self.run.list().await?;
        let names: Vec<&str> = objects.iter().filter_map(|m| self.run.name_of(m)).collect();
        if names.contains(&LOADED) {
            return Err(crate::error::input(
                format!(
                    "{} was loaded already; extracting into it again would change what was loaded",
                    self.run.shown
                ),
                Some("extract into a new run (leave out --run-id, or give another)".to_string()),
            ));
        }
        // An earlier attempt of this shard: its manifest goes first, so the
        // run is never complete with a mix of two attempts.
        let own_manifest = self
            .run
            .child(&manifest::manifest_name(self.shard, self.shards));
        self.run.delete(vec![own_manifest]).await?;
        let prefix = manifest::part_prefix(self.shard);
        let stale: Vec<_> = objects
            .iter()
            .filter(|m| self.run.name_of(m).is_some_and(|n| n.starts_with(&prefix)))
            .map(|m| m.location.clone())
            .collect();
        self.run.delete(stale).await?;
        self.tell(Feed::Begun(schema.clone()));
        self.schema = Some(schema);
        Ok(())
    }

    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if self.current.is_none() {
            self.open_part().await?;
        }
        let cur = self.current.as_mut().expect("open part");
        tokio::task::block_in_place(|| cur.writer.write(&batch))?;
        cur.rows += batch.num_rows() as u64;
        if self.current_bytes() >= self.part_bytes {
            self.close_part().await?;
        }
        Ok(())
    }

    async fn prepare(&mut self) -> Result<Prepared> {
        self.close_part().await?;
        Ok(Prepared {
            rows: self.parts.iter().map(|p| p.rows).sum(),
            outputs: self
                .parts
                .iter()
                .map(|p| Output {
                    location: self.run.shown_child(&p.name),
                    rows: p.rows,
                    bytes: p.bytes,
                    sha256: p.sha256.clone(),
                })
                .collect(),
        })
    }

    async fn commit(&mut self) -> Result<()> {
        let schema = self.schema.as_ref().expect("begun");
        let m = Manifest {
            convoy_stage: manifest::STAGE_VERSION,
            convoy_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id: self.run.run_id.clone(),
            shard: self.shard,
            shards: self.shards,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            source: self.origin.source.clone(),
            source_region: self.origin.source_region.clone(),
            schema: crate::schema::format_schema(schema),
            arrow_schema: manifest::encode_schema(schema)?,
            format: "parquet".into(),
            encryption: self.recipients.as_ref().map(|r| Encryption {
                format: "age-encryption.org/v1".into(),
                recipients: r.iter().map(|r| r.to_string()).collect(),
            }),
            rows: self.parts.iter().map(|p| p.rows).sum(),
            bytes: self.parts.iter().map(|p| p.bytes).sum(),
            parts: self.parts.clone(),
            share: self.origin.share.clone(),
        };
        self.run
            .put_json(&manifest::manifest_name(self.shard, self.shards), &m)
            .await?;
        self.committed = true;
        self.tell(Feed::Done);
        Ok(())
    }

    async fn abort(&mut self) -> Result<()> {
        self.starting.settle().await;
        if let Some(cur) = self.current.take() {
            let Current {
                writer, mut upload, ..
            } = cur;
            // Dropping the writer flushes what it buffered into the upload's
            // writer, which may block: not on a runtime thread.
            tokio::task::block_in_place(move || drop(writer));
            let _ = upload.abort().await;
        }
        let written: Vec<_> = std::mem::take(&mut self.written)
            .iter()
            .map(|n| self.run.child(n))
            .collect();
        self.run.delete(written).await
    }
}
