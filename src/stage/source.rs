//! The load side of a staged copy: a complete run as a source.
//!
//! Opening checks the run before anything is read: every shard's manifest
//! is there and they agree on the schema; every part a manifest lists is
//! there with its size, and nothing else is (a part too many, a part missing
//! or of another size is a verification failure, exit 4); a run loaded
//! before is refused unless forced; an encrypted run is refused (exit 3,
//! naming its recipients) on a machine that is not one of them.
//!
//! Reading streams each part once, hashing what the store holds while it
//! arrives, decrypting it when encrypted, and gives no row of a part before
//! the part's size and SHA-256 matched its manifest; the rows of each part
//! and of the whole run are checked against the manifests too. A part is
//! held in memory while it is read (parts are about 32 MiB).

use std::io::Read;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use sha2::{Digest, Sha256};

use super::manifest::{self, Encryption, Manifest, Part, LOADED};
use super::sink::Feed;
use super::RunPlace;
use crate::connect::format::input::Input;
use crate::connect::objstore::io::ObjectInput;
use crate::connect::{Counters, OpenContext, Partition, Source};
use crate::error;
use crate::security::sealed::Identity;

pub struct StageSource {
    run: RunPlace,
    /// The shards' manifests of a complete run; none when following.
    manifests: Vec<Manifest>,
    schema: SchemaRef,
    identity: Option<Identity>,
    counters: Arc<Counters>,
    handle: tokio::runtime::Handle,
    /// The run's: a read the store stopped answering ends on a signal.
    cancel: tokio_util::sync::CancellationToken,
    /// Set when the parts come from an extract running in this process.
    following: Option<Following>,
}

/// An extract in this process that tells of its parts as it finishes them.
struct Following {
    feed: tokio::sync::mpsc::UnboundedReceiver<Feed>,
    encryption: Option<Encryption>,
    /// The name of the manifest the extract writes last.
    manifest: String,
}

/// The identity that decrypts parts encrypted for `recipients`, refused
/// (exit 3) when this machine is not one of them.
fn identity_for(
    run: &RunPlace,
    what: &str,
    recipients: &[String],
    ctx: &OpenContext,
) -> Result<Identity> {
    let id = ctx.secrets.identity()?;
    let me = crate::security::age::recipient_of(&id).to_string();
    if !recipients.contains(&me) {
        return Err(error::policy(
            format!(
                "{}: {what} is encrypted for {}, not for this machine ({me})",
                run.shown,
                recipients.join(", ")
            ),
            Some("load it on a machine whose `convoy secrets identity` is one of those, or extract again with --recipient for this machine".to_string()),
        ));
    }
    Ok(id)
}

impl StageSource {
    /// Check the run and describe it. Called on a blocking thread.
    pub fn open(run: RunPlace, force: bool, ctx: &OpenContext) -> Result<StageSource> {
        let handle = tokio::runtime::Handle::current();
        let objects = handle.block_on(run.list())?;
        if objects.is_empty() {
            return Err(error::input(
                format!("there is no stage run at {}", run.shown),
                Some("`convoy stage list STAGE` shows the runs of a stage".to_string()),
            ));
        }
        let names: Vec<(&str, u64)> = objects
            .iter()
            .filter_map(|m| run.name_of(m).map(|n| (n, m.size)))
            .collect();
        if names.iter().any(|(n, _)| *n == LOADED) && !force {
            return Err(error::input(
                format!(
                    "{} was loaded already; loading it again would add its rows twice",
                    run.shown
                ),
                Some("give --force if the destination really needs them again".to_string()),
            ));
        }
        let mut shards: Vec<(u32, u32, &str)> = names
            .iter()
            .filter_map(|(n, _)| manifest::parse_manifest_name(n).map(|(i, c)| (i, c, *n)))
            .collect();
        shards.sort();
        let Some(&(_, count, _)) = shards.first() else {
            return Err(error::input(
                format!("{} is incomplete: no shard has written its manifest yet; it is never loaded", run.shown),
                Some("an extract into it may still be running, or was interrupted: run the extract again".to_string()),
            ));
        };
        if let Some((_, other, name)) = shards.iter().find(|(_, c, _)| *c != count) {
            return Err(error::input(
                format!("{}: {name} says {other} shards, another manifest {count}; the run mixes two extracts", run.shown),
                None,
            ));
        }
        let missing: Vec<String> = (1..=count)
            .filter(|i| !shards.iter().any(|(s, _, _)| s == i))
            .map(|i| i.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(error::input(
                format!(
                    "{} is incomplete: shard{} {} of {count} {} not written {} manifest; it is never loaded",
                    run.shown,
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", "),
                    if missing.len() == 1 { "has" } else { "have" },
                    if missing.len() == 1 { "its" } else { "their" },
                ),
                Some("run the missing shards' extracts (each with --shard I/N and the same --run-id)".to_string()),
            ));
        }
        let manifests: Vec<Manifest> = shards
            .iter()
            .map(|(_, _, n)| handle.block_on(run.read_manifest(n)))
            .collect::<Result<_>>()?;
        if let Some(m) = manifests
            .iter()
            .find(|m| m.convoy_stage > manifest::STAGE_VERSION)
        {
            return Err(error::input(
                format!(
                    "{}: shard {} was written by convoy {} in a newer stage layout ({})",
                    run.shown, m.shard, m.convoy_version, m.convoy_stage
                ),
                Some("load it with that version of convoy or a newer one".to_string()),
            ));
        }
        let schema = manifest::decode_schema(&manifests[0].arrow_schema)?;
        let differ: Vec<String> = manifests
            .iter()
            .filter(|m| m.arrow_schema != manifests[0].arrow_schema)
            .map(|m| format!("shard {} ({})", m.shard, m.schema))
            .collect();
        if !differ.is_empty() {
            return Err(error::input(
                format!(
                    "{}: the shards do not agree on the schema: shard 1 has {}, {}",
                    run.shown,
                    manifests[0].schema,
                    differ.join(", ")
                ),
                None,
            ));
        }
        // Shards that cut the source differently could overlap or miss rows.
        if count > 1 {
            let cuts: Vec<String> = manifests
                .iter()
                .filter(|m| m.share != manifests[0].share)
                .map(|m| {
                    format!(
                        "shard {} ({})",
                        m.shard,
                        m.share.clone().unwrap_or_default()
                    )
                })
                .collect();
            if !cuts.is_empty() {
                return Err(error::verify(format!(
                    "{}: the shards cut the source differently — shard 1 ({}), {} — so rows could be missing or loaded twice; nothing was loaded",
                    run.shown,
                    manifests[0].share.clone().unwrap_or_default(),
                    cuts.join(", ")
                )));
            }
        }
        // Exactly the parts the manifests list, each of its size.
        let listed: Vec<&Part> = manifests.iter().flat_map(|m| &m.parts).collect();
        let mut problems = Vec::new();
        for p in &listed {
            match names.iter().find(|(n, _)| *n == p.name) {
                None => problems.push(format!("part {} is missing", p.name)),
                Some((_, size)) if *size != p.bytes => problems.push(format!(
                    "part {} is {size} bytes, its manifest says {}",
                    p.name, p.bytes
                )),
                Some(_) => {}
            }
        }
        for (n, _) in &names {
            if n.starts_with("part-") && !listed.iter().any(|p| p.name == *n) {
                problems.push(format!("{n} is not listed by any manifest"));
            }
        }
        if !problems.is_empty() {
            return Err(error::verify(format!(
                "{} was changed after it was written: {}; nothing was loaded",
                run.shown,
                problems.join("; ")
            )));
        }
        let encrypted: Vec<&Manifest> = manifests
            .iter()
            .filter(|m| m.encryption.is_some())
            .collect();
        let mut identity = None;
        for m in &encrypted {
            let recipients = &m.encryption.as_ref().expect("encrypted").recipients;
            identity = Some(identity_for(
                &run,
                &format!("shard {}", m.shard),
                recipients,
                ctx,
            )?);
        }
        ctx.counters.bytes_total.store(
            listed.iter().map(|p| p.bytes).sum(),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(StageSource {
            run,
            manifests,
            schema,
            identity,
            counters: ctx.counters.clone(),
            handle,
            cancel: ctx.cancel.clone(),
            following: None,
        })
    }

    /// The run an extract in this process is writing, read part by part as
    /// the extract finishes them: each part is read back from the store and
    /// checked against the size and SHA-256 the extract computed while
    /// writing it, and at the end the manifest the extract wrote must list
    /// exactly the parts read. Waits (on a blocking thread) until the
    /// extract has begun and so knows its schema.
    pub fn following(
        run: RunPlace,
        mut feed: tokio::sync::mpsc::UnboundedReceiver<Feed>,
        encryption: Option<Encryption>,
        manifest: String,
        ctx: &OpenContext,
    ) -> Result<StageSource> {
        let schema = match feed.blocking_recv() {
            Some(Feed::Begun(schema)) => schema,
            _ => return Err(stopped(&run)),
        };
        let identity = match &encryption {
            Some(e) => Some(identity_for(&run, "the run", &e.recipients, ctx)?),
            None => None,
        };
        Ok(StageSource {
            run,
            manifests: Vec::new(),
            schema,
            identity,
            counters: ctx.counters.clone(),
            handle: tokio::runtime::Handle::current(),
            cancel: ctx.cancel.clone(),
            following: Some(Following {
                feed,
                encryption,
                manifest,
            }),
        })
    }

    /// Read one part whole: hashed as stored, decrypted when encrypted,
    /// checked against its manifest before any row is given.
    fn read_part(&self, encryption: Option<&Encryption>, p: &Part) -> Result<bytes::Bytes> {
        let shown = self.run.shown_child(&p.name);
        let input = ObjectInput {
            store: self.run.store.clone(),
            path: self.run.child(&p.name),
            size: p.bytes,
            name: shown.clone(),
            handle: self.handle.clone(),
            e_tag: None,
            cancel: self.cancel.clone(),
        };
        let mut hashing = HashingRead {
            inner: input.open()?,
            hasher: Sha256::new(),
            bytes: 0,
            counters: self.counters.clone(),
        };
        let mut plain = Vec::with_capacity(p.bytes as usize);
        let read = match (encryption, &self.identity) {
            (Some(e), Some(id)) => {
                crate::security::age::decrypt(&mut hashing, id, &shown, &e.recipients)
                    .and_then(|mut r| Ok(r.read_to_end(&mut plain)?))
            }
            _ => hashing.read_to_end(&mut plain).map_err(Into::into),
        };
        // Drain what decryption did not need, so the digest covers all of it.
        let drained = std::io::copy(&mut hashing, &mut std::io::sink());
        let digest = hex::encode(hashing.hasher.finalize());
        if hashing.bytes != p.bytes || digest != p.sha256 {
            return Err(error::verify(format!(
                "{shown} was changed after it was written: {} bytes with SHA-256 {digest}, its manifest says {} bytes with {}; nothing was loaded",
                hashing.bytes, p.bytes, p.sha256
            )));
        }
        read.map_err(|e| e.context(format!("reading {shown}")))?;
        drained.map_err(|e| error::input(format!("reading {shown}: {e}"), None))?;
        Ok(bytes::Bytes::from(plain))
    }
}

/// Hashes and counts what passes through.
struct HashingRead {
    inner: Box<dyn Read + Send>,
    hasher: Sha256,
    bytes: u64,
    counters: Arc<Counters>,
}

impl Read for HashingRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.counters.add_bytes(n as u64);
        Ok(n)
    }
}

impl Source for StageSource {
    fn describe(&self) -> String {
        format!("stage run {}", self.run.shown)
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn details(&self) -> Vec<String> {
        if self.following.is_some() {
            let mut d = vec![format!(
                "stage run {}: each part loaded once the extract has written it",
                self.run.run_id
            )];
            if self.identity.is_some() {
                d.push("parts encrypted (age), decrypted on this machine".to_string());
            }
            return d;
        }
        let parts: usize = self.manifests.iter().map(|m| m.parts.len()).sum();
        let rows: u64 = self.manifests.iter().map(|m| m.rows).sum();
        let mut d = vec![format!(
            "stage run {}: {} shard{}, {parts} part{}, {rows} rows, extracted from {}",
            self.run.run_id,
            self.manifests.len(),
            if self.manifests.len() == 1 { "" } else { "s" },
            if parts == 1 { "" } else { "s" },
            self.manifests[0].source
        )];
        if self.identity.is_some() {
            d.push("parts encrypted (age), decrypted on this machine".to_string());
        }
        d
    }

    fn partitions(self: Box<Self>) -> Result<Vec<Partition>> {
        let schema = self.schema.clone();
        let mut this = *self;
        let mut work = match this.following.take() {
            Some(f) => Work::Following {
                feed: f.feed,
                encryption: f.encryption,
                manifest: f.manifest,
                read: Vec::new(),
            },
            None => Work::Listed {
                parts: this
                    .manifests
                    .iter()
                    .flat_map(|m| m.parts.iter().map(|p| (m.encryption.clone(), p.clone())))
                    .collect::<Vec<_>>()
                    .into_iter(),
                expected: this.manifests.iter().map(|m| m.rows).sum(),
            },
        };
        let this = Arc::new(this);
        let mut total = 0u64;
        let mut done = false;
        let mut current: Option<(
            String,
            u64,
            u64,
            parquet::arrow::arrow_reader::ParquetRecordBatchReader,
        )> = None;
        let iter = std::iter::from_fn(move || loop {
            if done {
                return None;
            }
            if let Some((name, want, got, reader)) = &mut current {
                match reader.next() {
                    Some(Ok(b)) => {
                        *got += b.num_rows() as u64;
                        total += b.num_rows() as u64;
                        return Some(Ok(b));
                    }
                    Some(Err(e)) => {
                        done = true;
                        return Some(Err(error::verify(format!(
                            "{}: cannot read its Parquet data: {e}",
                            this.run.shown_child(name)
                        ))));
                    }
                    None => {
                        if got != want {
                            done = true;
                            return Some(Err(error::verify(format!(
                                "{} holds {got} rows, its manifest says {want}; nothing was loaded",
                                this.run.shown_child(name)
                            ))));
                        }
                        current = None;
                    }
                }
            }
            let (encryption, p) = match work.next(&this, total) {
                Ok(Some(next)) => next,
                Ok(None) => {
                    done = true;
                    return None;
                }
                Err(e) => {
                    done = true;
                    return Some(Err(e));
                }
            };
            let opened = this.read_part(encryption.as_ref(), &p).and_then(|bytes| {
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
                    .and_then(|b| {
                        b.with_batch_size(crate::connect::format::read::BATCH_ROWS)
                            .build()
                    })
                    .map_err(|e| {
                        error::verify(format!(
                            "{}: not a readable Parquet file: {e}",
                            this.run.shown_child(&p.name)
                        ))
                    })
            });
            match opened {
                Ok(reader) => current = Some((p.name.clone(), p.rows, 0, reader)),
                Err(e) => {
                    done = true;
                    return Some(Err(e));
                }
            }
        });
        let iter = iter.map(move |b: Result<RecordBatch>| {
            let b = b?;
            // Parts are Parquet: a type Parquet stores otherwise (seconds
            // as milliseconds, date64 as dates) is cast back, exactly.
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| {
                    if c.data_type() == f.data_type() {
                        Ok(c.clone())
                    } else {
                        arrow::compute::cast(c, f.data_type())
                    }
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(schema.clone(), columns)?)
        });
        Ok(vec![Partition::Blocking(Box::new(iter))])
    }
}

/// The parts a load reads, in order.
enum Work {
    /// A complete run, as its manifests list it.
    Listed {
        parts: std::vec::IntoIter<(Option<Encryption>, Part)>,
        expected: u64,
    },
    /// An extract in this process, part by part.
    Following {
        feed: tokio::sync::mpsc::UnboundedReceiver<Feed>,
        encryption: Option<Encryption>,
        manifest: String,
        read: Vec<Part>,
    },
}

impl Work {
    /// The next part to read, or `None` after the last one once the rows
    /// read (`total`) and the parts agree with the manifests.
    fn next(
        &mut self,
        source: &StageSource,
        total: u64,
    ) -> Result<Option<(Option<Encryption>, Part)>> {
        let run = &source.run;
        match self {
            Work::Listed { parts, expected } => match parts.next() {
                Some(next) => Ok(Some(next)),
                None if total != *expected => Err(error::verify(format!(
                    "{} holds {total} rows, its manifests say {expected}; nothing was loaded",
                    run.shown
                ))),
                None => Ok(None),
            },
            Work::Following {
                feed,
                encryption,
                manifest,
                read,
            } => loop {
                // Waits for the extract; ends when it stops (its sender is
                // dropped), on a signal too.
                match feed.blocking_recv() {
                    Some(Feed::Part(p)) => {
                        read.push(p.clone());
                        return Ok(Some((encryption.clone(), p)));
                    }
                    Some(Feed::Begun(_)) => {}
                    Some(Feed::Done) => {
                        let m = source.handle.block_on(run.read_manifest(manifest))?;
                        if m.parts != *read || m.rows != total {
                            return Err(error::verify(format!(
                                "{}: its manifest lists {} parts with {} rows, the extract wrote {} parts with {total} rows; nothing was loaded",
                                run.shown_child(manifest),
                                m.parts.len(),
                                m.rows,
                                read.len()
                            )));
                        }
                        return Ok(None);
                    }
                    None => return Err(stopped(run)),
                }
            },
        }
    }
}

/// A followed extract that ended without completing its run.
fn stopped(run: &RunPlace) -> anyhow::Error {
    error::input(
        format!(
            "the extract into {} stopped before the run was complete; nothing was loaded",
            run.shown
        ),
        None,
    )
}
