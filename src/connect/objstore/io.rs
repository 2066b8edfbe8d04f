//! Bytes in and out of a store, for the blocking format readers and writers.
//!
//! Reading: an object is an [`Input`]: streamed front to back for text
//! formats, read with aligned range requests of [`WINDOW`] bytes for Parquet
//! and Arrow IPC, the last few kept and the next one fetched ahead.
//!
//! Writing: [`UploadWriter`] is the synchronous `Write` a format writer
//! writes into. It cuts the bytes into [`PART_SIZE`] parts and hands them over
//! a bounded channel to an async task that uploads them as one multipart
//! upload, with at most [`PARTS_IN_FLIGHT`] parts in flight. A full channel
//! blocks the writer, so memory stays flat whatever the object's size. The
//! upload is completed (and the object becomes visible) only when the sink
//! says so; otherwise it is aborted.
//!
//! The blocking ends (readers on blocking threads, the writer inside a
//! format writer) wait on the runtime with `Handle::block_on`, out of the
//! runner's reach: each such wait also watches the run's cancellation
//! token, so a signal ends it even when the store has stopped answering.
//! The uploader watches for an abort while it waits for room for a part.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, MultipartUpload, ObjectStore, PutMultipartOptions, PutPayloadMut};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::connect::format::input::{Input, RandomAccess};
use crate::connect::format::write::Durable;

/// Bytes per uploaded part: above S3's 5 MiB minimum, small enough that a few
/// in flight stay well within the memory budget.
pub const PART_SIZE: usize = 8 << 20;
/// Parts uploading at once per object.
pub const PARTS_IN_FLIGHT: usize = 5;
/// Parts waiting between the writer and the uploader.
const PARTS_QUEUED: usize = 2;

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(crate::security::redact::redact(&e.to_string()))
}

/// A failed read of object `name`, as `store_error` words it.
fn read_error(name: &str, e: object_store::Error) -> std::io::Error {
    let e = super::store_error(name, "reading", e);
    std::io::Error::other(crate::error::messages(&e).join(": "))
}

/// The run was cancelled. Not `ErrorKind::Interrupted`: std's `write_all`,
/// `BufWriter` and `read_exact` retry that kind, and would retry for ever.
fn interrupted_io() -> std::io::Error {
    std::io::Error::other("interrupted")
}

/// `fut` on the runtime from a blocking thread, unless the run is
/// cancelled first (then None).
fn block_on_unless<T>(
    handle: &Handle,
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    handle.block_on(async {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            r = fut => Some(r),
        }
    })
}

/// One object of a source.
pub struct ObjectInput {
    pub store: Arc<dyn ObjectStore>,
    pub path: ObjPath,
    pub size: u64,
    /// `s3://lake/raw/a.csv`
    pub name: String,
    pub handle: Handle,
    /// The version listed or HEADed when the source was opened.
    pub e_tag: Option<String>,
    /// The run's: a blocked read ends when it is cancelled.
    pub cancel: CancellationToken,
}

/// GET options pinned to the version seen when the source was opened: an
/// object replaced while convoy reads it is an error, never a mix of two
/// versions (every range request of a Parquet file carries the same pin).
fn pinned(e_tag: &Option<String>, range: Option<std::ops::Range<u64>>) -> GetOptions {
    GetOptions {
        if_match: e_tag.clone(),
        range: range.map(Into::into),
        ..Default::default()
    }
}

/// One range of an object, pinned to its version.
async fn get_range_pinned(
    store: &dyn ObjectStore,
    path: &ObjPath,
    e_tag: &Option<String>,
    range: std::ops::Range<u64>,
) -> object_store::Result<Bytes> {
    store
        .get_opts(path, pinned(e_tag, Some(range)))
        .await?
        .bytes()
        .await
}

impl Input for ObjectInput {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn open(&self) -> Result<Box<dyn Read + Send>> {
        let got = block_on_unless(
            &self.handle,
            &self.cancel,
            self.store.get_opts(&self.path, pinned(&self.e_tag, None)),
        )
        .ok_or_else(crate::error::interrupted)?
        .map_err(|e| super::store_error(&self.name, "reading", e))?;
        Ok(Box::new(StreamRead {
            stream: got.into_stream(),
            current: Bytes::new(),
            handle: self.handle.clone(),
            cancel: self.cancel.clone(),
            name: self.name.clone(),
        }))
    }

    fn stream(&self) -> Option<BoxStream<'static, Result<Bytes>>> {
        let (store, path, name) = (self.store.clone(), self.path.clone(), self.name.clone());
        let options = pinned(&self.e_tag, None);
        let body = futures::stream::once(async move {
            match store.get_opts(&path, options).await {
                Ok(got) => got
                    .into_stream()
                    .map(move |r| r.map_err(|e| super::store_error(&name, "reading", e)))
                    .boxed(),
                Err(e) => {
                    futures::stream::iter([Err(super::store_error(&name, "reading", e))]).boxed()
                }
            }
        })
        .flatten();
        Some(body.boxed())
    }

    fn random(&self) -> Result<Arc<dyn RandomAccess>> {
        Ok(Arc::new(Ranged(Arc::new(Windows {
            store: self.store.clone(),
            path: self.path.clone(),
            size: self.size,
            handle: self.handle.clone(),
            e_tag: self.e_tag.clone(),
            cancel: self.cancel.clone(),
            name: self.name.clone(),
            cache: Mutex::new(Cache::default()),
        }))))
    }
}

/// Bytes fetched per range request when reading at a position.
const WINDOW: u64 = 8 << 20;
/// Windows kept. A Parquet row group's column chunks lie side by side, so
/// the reader's jumps between columns land in a window already fetched.
const WINDOWS_KEPT: usize = 4;

/// Positioned reads of one object through aligned, cached windows: readers
/// ask for a page header, then its data, column after column; one range
/// request per window serves them all, and the next window is fetched while
/// the current one is decoded.
struct Windows {
    store: Arc<dyn ObjectStore>,
    path: ObjPath,
    size: u64,
    handle: Handle,
    e_tag: Option<String>,
    cancel: CancellationToken,
    name: String,
    cache: Mutex<Cache>,
}

/// Reads within this many bytes of the end are served from one block of
/// the object's tail: a Parquet footer or an Arrow IPC footer costs one small
/// range request instead of a whole window.
const TAIL: u64 = 256 << 10;

/// Reads within this many bytes of the start (a format's magic number) are
/// served from one block of the object's head: one small range request,
/// not a window and the read-ahead of the next, which a byte-for-byte copy
/// (it streams the whole object afterwards) would fetch for nothing.
const HEAD: u64 = 64 << 10;

#[derive(Default)]
struct Cache {
    ready: VecDeque<(u64, Bytes)>,
    ahead: Option<(u64, tokio::task::JoinHandle<object_store::Result<Bytes>>)>,
    tail: Option<Bytes>,
    head: Option<Bytes>,
}

impl Windows {
    /// A request's answer, unless the run is cancelled first.
    fn wait<T>(&self, fut: impl std::future::Future<Output = T>) -> std::io::Result<T> {
        block_on_unless(&self.handle, &self.cancel, fut).ok_or_else(interrupted_io)
    }

    fn range(&self, idx: u64) -> std::ops::Range<u64> {
        idx * WINDOW..self.size.min((idx + 1) * WINDOW)
    }

    /// Window `idx`, from the cache, the read-ahead, or the store.
    fn window(&self, cache: &mut Cache, idx: u64) -> std::io::Result<Bytes> {
        if let Some((_, w)) = cache.ready.iter().find(|(i, _)| *i == idx) {
            return Ok(w.clone());
        }
        let w = match cache.ahead.take() {
            Some((i, task)) if i == idx => self
                .wait(task)?
                .map_err(io_error)?
                .map_err(|e| read_error(&self.name, e))?,
            other => {
                cache.ahead = other;
                self.wait(get_range_pinned(
                    self.store.as_ref(),
                    &self.path,
                    &self.e_tag,
                    self.range(idx),
                ))?
                .map_err(|e| read_error(&self.name, e))?
            }
        };
        cache.ready.push_front((idx, w.clone()));
        cache.ready.truncate(WINDOWS_KEPT);
        let next = idx + 1;
        if cache.ahead.is_none()
            && next * WINDOW < self.size
            && !cache.ready.iter().any(|(i, _)| *i == next)
        {
            let (store, path, range) = (self.store.clone(), self.path.clone(), self.range(next));
            let e_tag = self.e_tag.clone();
            let task = self
                .handle
                .spawn(async move { get_range_pinned(store.as_ref(), &path, &e_tag, range).await });
            cache.ahead = Some((next, task));
        }
        Ok(w)
    }

    /// The bytes of `range`, kept in `slot` after the first request.
    fn block(
        &self,
        slot: &mut Option<Bytes>,
        range: std::ops::Range<u64>,
    ) -> std::io::Result<Bytes> {
        if let Some(b) = slot {
            return Ok(b.clone());
        }
        let b = self
            .wait(get_range_pinned(
                self.store.as_ref(),
                &self.path,
                &self.e_tag,
                range,
            ))?
            .map_err(|e| read_error(&self.name, e))?;
        *slot = Some(b.clone());
        Ok(b)
    }

    fn fetch(&self, start: u64, len: usize) -> std::io::Result<Bytes> {
        let end = start + len as u64;
        if end > self.size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("read past the end of the object ({end} > {})", self.size),
            ));
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let tail_start = self.size.saturating_sub(TAIL);
        if start >= tail_start && self.size > WINDOW {
            let tail = self.block(&mut cache.tail, tail_start..self.size)?;
            let off = (start - tail_start) as usize;
            return Ok(tail.slice(off..off + len));
        }
        if end <= HEAD && self.size > WINDOW && !cache.ready.iter().any(|(i, _)| *i == 0) {
            let head = self.block(&mut cache.head, 0..HEAD)?;
            return Ok(head.slice(start as usize..end as usize));
        }
        let (first, last) = (start / WINDOW, (end - 1) / WINDOW);
        if first == last {
            let off = (start - first * WINDOW) as usize;
            return Ok(self.window(&mut cache, first)?.slice(off..off + len));
        }
        let mut out = BytesMut::with_capacity(len);
        for idx in first..=last {
            let w = self.window(&mut cache, idx)?;
            let r = self.range(idx);
            let from = (start.max(r.start) - r.start) as usize;
            let to = (end.min(r.end) - r.start) as usize;
            out.extend_from_slice(&w[from..to]);
        }
        Ok(out.freeze())
    }
}

impl Drop for Windows {
    fn drop(&mut self) {
        if let Some((_, task)) = self.cache.get_mut().ok().and_then(|c| c.ahead.take()) {
            task.abort();
        }
    }
}

struct Ranged(Arc<Windows>);

impl RandomAccess for Ranged {
    fn len(&self) -> u64 {
        self.0.size
    }

    fn read_from(&self, start: u64) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(WindowRead {
            w: self.0.clone(),
            pos: start,
        }))
    }

    fn bytes(&self, start: u64, len: usize) -> std::io::Result<Bytes> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        self.0.fetch(start, len)
    }
}

/// Sequential reads from a position, through the windows.
struct WindowRead {
    w: Arc<Windows>,
    pos: u64,
}

impl Read for WindowRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.w.size.saturating_sub(self.pos)) as usize;
        if n == 0 {
            return Ok(0);
        }
        let b = self.w.fetch(self.pos, n)?;
        buf[..n].copy_from_slice(&b);
        self.pos += n as u64;
        Ok(n)
    }
}

/// A byte stream as a blocking `Read`.
struct StreamRead {
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    current: Bytes,
    handle: Handle,
    cancel: CancellationToken,
    name: String,
}

impl Read for StreamRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            let next = block_on_unless(&self.handle, &self.cancel, self.stream.next())
                .ok_or_else(interrupted_io)?;
            match next {
                None => return Ok(0),
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(read_error(&self.name, e)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The async side of one object upload, kept by the sink.
pub struct Upload {
    /// Told `true` to complete the upload (publish), `false` to abort it.
    control: Option<oneshot::Sender<bool>>,
    /// Answers once every part is uploaded (or the upload failed).
    ready: Option<oneshot::Receiver<()>>,
    task: Option<tokio::task::JoinHandle<Result<()>>>,
}

/// Multipart uploads being started. Starting one is a request whose answer
/// (the upload's id) is the only way to abort it later: a caller that stops
/// waiting (a signal) must not lose it. Each start runs as a task of its
/// own that aborts the upload itself when nobody takes it; a sink's abort
/// [`Starting::settle`]s them before it returns.
#[derive(Default)]
pub struct Starting(Vec<tokio::task::JoinHandle<()>>);

/// How long an abort waits for uploads still being started: well inside
/// the runner's bound on an abort (`run::ABORT_WITHIN`), leaving time to
/// delete what was written. A start that takes longer is a stalled store.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

impl Starting {
    /// Wait (bounded) until every start has ended: taken by its caller, or
    /// aborted because its caller was gone.
    pub async fn settle(&mut self) {
        for h in self.0.drain(..) {
            let _ = tokio::time::timeout(SETTLE, h).await;
        }
    }
}

/// Start a multipart upload to `path`; returns the writer for the format
/// writer and the handle that publishes or aborts it.
pub async fn start(
    store: Arc<dyn ObjectStore>,
    path: ObjPath,
    name: String,
    cancel: CancellationToken,
    starting: &mut Starting,
) -> Result<(UploadWriter, Upload)> {
    let (created_tx, created_rx) = oneshot::channel();
    starting.0.retain(|h| !h.is_finished());
    starting.0.push(tokio::spawn(async move {
        let created = store
            .put_multipart_opts(&path, PutMultipartOptions::default())
            .await;
        if let Err(Ok(mut orphan)) = created_tx.send(created) {
            let _ = orphan.abort().await;
        }
    }));
    let upload = created_rx
        .await
        .map_err(|_| anyhow::anyhow!("internal error: starting an upload ended without an answer"))?
        .map_err(|e| super::store_error(&name, "starting the upload", e))?;
    let (tx, rx) = mpsc::channel::<Bytes>(PARTS_QUEUED);
    let (control_tx, control_rx) = oneshot::channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    let failed = Arc::new(Mutex::new(None));
    let parts = Parts {
        upload,
        in_flight: tokio::task::JoinSet::new(),
        next: PutPayloadMut::new(),
    };
    let task = tokio::spawn(run_upload(
        parts,
        rx,
        control_rx,
        ready_tx,
        failed.clone(),
        name,
    ));
    Ok((
        UploadWriter {
            tx: Some(tx),
            buf: BytesMut::with_capacity(PART_SIZE),
            failed,
            handle: Handle::current(),
            cancel,
        },
        Upload {
            control: Some(control_tx),
            ready: Some(ready_rx),
            task: Some(task),
        },
    ))
}

/// Parts of one multipart upload, at most [`PARTS_IN_FLIGHT`] uploading at
/// once. object_store's `WriteMultipart` starts its last, short part only in
/// `finish`, which also completes (publishes) the upload; here the last part
/// starts as soon as the data ends, and completing waits for the commit.
struct Parts {
    upload: Box<dyn MultipartUpload>,
    in_flight: tokio::task::JoinSet<object_store::Result<()>>,
    /// Bytes gathered for the next part.
    next: PutPayloadMut,
}

impl Parts {
    /// Take bytes; every full part starts uploading, after waiting for room.
    async fn push(&mut self, mut bytes: Bytes) -> object_store::Result<()> {
        while !bytes.is_empty() {
            let room = PART_SIZE - self.next.content_length();
            if bytes.len() < room {
                self.next.push(bytes);
                return Ok(());
            }
            self.next.push(bytes.split_to(room));
            self.start_part().await?;
        }
        Ok(())
    }

    async fn start_part(&mut self) -> object_store::Result<()> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.join_one().await?;
        }
        let part = std::mem::take(&mut self.next).freeze();
        self.in_flight.spawn(self.upload.put_part(part));
        Ok(())
    }

    async fn join_one(&mut self) -> object_store::Result<()> {
        match self.in_flight.join_next().await {
            Some(Ok(r)) => r,
            Some(Err(e)) => Err(object_store::Error::JoinError { source: e }),
            None => Ok(()),
        }
    }

    /// Start the last, short part alongside the others and wait for all.
    async fn flush(&mut self) -> object_store::Result<()> {
        if self.next.content_length() > 0 {
            self.start_part().await?;
        }
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        Ok(())
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.in_flight.shutdown().await;
        self.upload.abort().await
    }
}

async fn run_upload(
    mut parts: Parts,
    mut rx: mpsc::Receiver<Bytes>,
    mut control: oneshot::Receiver<bool>,
    ready: oneshot::Sender<()>,
    failed: Arc<Mutex<Option<String>>>,
    name: String,
) -> Result<()> {
    let fail = |e: anyhow::Error| {
        let text = crate::error::messages(&e).join(": ");
        *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
        e
    };
    // Aborted (or the sink dropped) before all data was uploaded: also
    // while parts are uploading, which may be for as long as the store
    // keeps them waiting.
    loop {
        let piece = tokio::select! {
            biased;
            _ = &mut control => {
                let _ = parts.abort().await;
                return Err(crate::error::interrupted());
            }
            piece = rx.recv() => piece,
        };
        let Some(bytes) = piece else { break };
        let pushed = tokio::select! {
            biased;
            _ = &mut control => {
                let _ = parts.abort().await;
                return Err(crate::error::interrupted());
            }
            r = parts.push(bytes) => r,
        };
        if let Err(e) = pushed {
            let _ = parts.abort().await;
            return Err(fail(super::store_error(&name, "uploading a part", e)));
        }
    }
    let flushed = tokio::select! {
        biased;
        _ = &mut control => {
            let _ = parts.abort().await;
            return Err(crate::error::interrupted());
        }
        r = parts.flush() => r,
    };
    if let Err(e) = flushed {
        let _ = parts.abort().await;
        return Err(fail(super::store_error(&name, "uploading a part", e)));
    }
    let _ = ready.send(());
    match control.await {
        Ok(true) => parts
            .upload
            .complete()
            .await
            .map(|_| ())
            .map_err(|e| fail(super::store_error(&name, "completing the upload", e))),
        _ => {
            parts
                .upload
                .abort()
                .await
                .map_err(|e| super::store_error(&name, "aborting the upload", e))?;
            Err(crate::error::interrupted())
        }
    }
}

impl Upload {
    /// Wait until every part is uploaded; the object is still invisible.
    pub async fn uploaded(&mut self) -> Result<()> {
        if let Some(ready) = self.ready.take() {
            if ready.await.is_err() {
                // The task ended early: its error says why.
                return Err(self.join().await.err().unwrap_or_else(|| {
                    anyhow::anyhow!("the upload ended before its data was complete")
                }));
            }
        }
        Ok(())
    }

    /// Complete the upload: the object becomes visible, whole.
    pub async fn complete(&mut self) -> Result<()> {
        self.uploaded().await?;
        if let Some(c) = self.control.take() {
            let _ = c.send(true);
        }
        self.join().await
    }

    /// Abort the upload; nothing becomes visible and uploaded parts are freed.
    pub async fn abort(&mut self) -> Result<()> {
        if let Some(c) = self.control.take() {
            let _ = c.send(false);
        }
        match self.join().await {
            Err(e) if crate::error::exit_kind(&e) == crate::error::ExitKind::Interrupted => Ok(()),
            other => other,
        }
    }

    async fn join(&mut self) -> Result<()> {
        match self.task.take() {
            Some(t) => t
                .await
                .map_err(|e| anyhow::anyhow!("internal error in an upload: {e}"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Dropping the control sender makes the task abort the upload.
        self.control.take();
    }
}

/// The synchronous end of an upload (see the module documentation).
pub struct UploadWriter {
    tx: Option<mpsc::Sender<Bytes>>,
    buf: BytesMut,
    failed: Arc<Mutex<Option<String>>>,
    handle: Handle,
    cancel: CancellationToken,
}

impl UploadWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let part = self.buf.split().freeze();
        self.buf.reserve(PART_SIZE);
        self.deliver(part)
    }

    fn deliver(&mut self, part: Bytes) -> std::io::Result<()> {
        // After a signal nothing more is sent; this also keeps a writer
        // dropped by an abort from blocking on the runtime's own threads.
        if self.cancel.is_cancelled() {
            return Err(interrupted_io());
        }
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| io_error("the upload was already finished"))?;
        let sent = block_on_unless(&self.handle, &self.cancel, tx.send(part))
            .ok_or_else(interrupted_io)?;
        if sent.is_err() {
            let why = self
                .failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_else(|| "the upload was stopped".into());
            return Err(io_error(why));
        }
        Ok(())
    }
}

impl std::io::Write for UploadWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = PART_SIZE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == PART_SIZE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Parts go out when full; the last one at `sync`.
        Ok(())
    }
}

impl Durable for UploadWriter {
    fn write_bytes(&mut self, data: bytes::Bytes) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            // Behind bytes written by copy: keep the order.
            return std::io::Write::write_all(self, &data);
        }
        // Handed over as is; the uploader gathers pieces into parts.
        self.deliver(data)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.send()?;
        // Closing the channel tells the uploader that all data is there.
        self.tx = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::ObjectStoreExt;

    /// An in-memory store that counts range requests (to see which reads
    /// reach the store) and, like S3, holds a multipart upload from the
    /// moment it is created until it is completed or aborted; its answer to
    /// "start an upload" (the upload's id) can be made slow.
    #[derive(Debug, Default)]
    struct Counting {
        inner: InMemory,
        /// Bytes asked for by range requests.
        ranged: std::sync::atomic::AtomicU64,
        /// Uploads created and neither completed nor aborted.
        pending: Arc<std::sync::atomic::AtomicUsize>,
        /// How long the answer to starting an upload takes.
        slow_start: Option<std::time::Duration>,
    }

    impl std::fmt::Display for Counting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("counting")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Counting {
        async fn put_opts(
            &self,
            location: &ObjPath,
            payload: object_store::PutPayload,
            opts: object_store::PutOptions,
        ) -> object_store::Result<object_store::PutResult> {
            self.inner.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &ObjPath,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
            let upload = self.inner.put_multipart_opts(location, opts).await?;
            self.pending
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if let Some(slow) = self.slow_start {
                tokio::time::sleep(slow).await;
            }
            Ok(Box::new(Held {
                upload,
                pending: self.pending.clone(),
            }))
        }
        async fn get_opts(
            &self,
            location: &ObjPath,
            options: object_store::GetOptions,
        ) -> object_store::Result<object_store::GetResult> {
            if let Some(object_store::GetRange::Bounded(r)) = &options.range {
                self.ranged
                    .fetch_add(r.end - r.start, std::sync::atomic::Ordering::Relaxed);
            }
            self.inner.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<ObjPath>>,
        ) -> BoxStream<'static, object_store::Result<ObjPath>> {
            self.inner.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&ObjPath>,
        ) -> BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjPath>,
        ) -> object_store::Result<object_store::ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &ObjPath,
            to: &ObjPath,
            options: object_store::CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    #[derive(Debug)]
    struct Held {
        upload: Box<dyn MultipartUpload>,
        pending: Arc<std::sync::atomic::AtomicUsize>,
    }

    #[async_trait::async_trait]
    impl MultipartUpload for Held {
        fn put_part(&mut self, data: object_store::PutPayload) -> object_store::UploadPart {
            self.upload.put_part(data)
        }
        async fn complete(&mut self) -> object_store::Result<object_store::PutResult> {
            self.pending
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            self.upload.complete().await
        }
        async fn abort(&mut self) -> object_store::Result<()> {
            self.pending
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            self.upload.abort().await
        }
    }

    #[test]
    fn an_upload_whose_caller_stopped_waiting_for_its_start_is_aborted() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let store = Arc::new(Counting {
            slow_start: Some(std::time::Duration::from_millis(300)),
            ..Default::default()
        });
        let pending = || store.pending.load(std::sync::atomic::Ordering::SeqCst);
        let dyn_store: Arc<dyn ObjectStore> = store.clone();
        rt.block_on(async {
            // Started and taken: pending until aborted.
            let mut starting = Starting::default();
            let (_w, mut taken) = start(
                dyn_store.clone(),
                ObjPath::from("taken.csv"),
                "taken.csv".into(),
                CancellationToken::new(),
                &mut starting,
            )
            .await
            .unwrap();
            assert_eq!(pending(), 1);
            taken.abort().await.unwrap();
            assert_eq!(pending(), 0);
            // Abandoned (a signal) after the store created the upload and
            // before its answer came: aborted once the answer is there.
            let abandoned = tokio::time::timeout(
                std::time::Duration::from_millis(100),
                start(
                    dyn_store.clone(),
                    ObjPath::from("abandoned.csv"),
                    "abandoned.csv".into(),
                    CancellationToken::new(),
                    &mut starting,
                ),
            )
            .await;
            assert!(abandoned.is_err(), "the start answered at once");
            assert_eq!(pending(), 1, "the store has the upload");
            starting.settle().await;
        });
        assert_eq!(pending(), 0, "an abandoned upload was left pending");
    }

    #[test]
    fn a_writer_dropped_on_a_runtime_thread_after_a_signal_gives_up_quietly() {
        use std::io::Write;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        rt.block_on(async {
            let cancel = CancellationToken::new();
            let (w, mut upload) = start(
                store,
                ObjPath::from("a.csv"),
                "a.csv".into(),
                cancel.clone(),
                &mut Starting::default(),
            )
            .await
            .unwrap();
            // A whole part buffered above the upload's writer, as a format
            // writer holds it, then an abort drops it on this async task.
            let mut buffered = std::io::BufWriter::with_capacity(2 * PART_SIZE, w);
            buffered.write_all(&vec![b'x'; PART_SIZE]).unwrap();
            cancel.cancel();
            drop(buffered);
            upload.abort().await.unwrap();
        });
    }

    /// An object of `size` patterned bytes in a [`Counting`] store, as an
    /// input: (runtime, store, bytes, input).
    fn counted_object(size: usize) -> (tokio::runtime::Runtime, Arc<Counting>, Bytes, ObjectInput) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let data: Bytes = (0..size)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<_>>()
            .into();
        let store = Arc::new(Counting::default());
        let path = ObjPath::from("t/obj.parquet");
        rt.block_on(store.put(&path, data.clone().into())).unwrap();
        let input = ObjectInput {
            store: store.clone(),
            path,
            size: size as u64,
            name: "mem://t/obj.parquet".into(),
            handle: rt.handle().clone(),
            e_tag: None,
            cancel: CancellationToken::new(),
        };
        (rt, store, data, input)
    }

    #[test]
    fn footer_reads_fetch_only_the_tail_and_every_read_returns_the_right_bytes() {
        let size = 2 * WINDOW as usize + 12345;
        let (rt, store, data, input) = counted_object(size);
        let ra = input.random().unwrap();
        let s = size as u64;
        // A footer: the last 8 bytes, then the metadata before them.
        assert_eq!(ra.bytes(s - 8, 8).unwrap(), data.slice(size - 8..));
        assert_eq!(
            ra.bytes(s - 100_000, 99_992).unwrap(),
            data.slice(size - 100_000..size - 8)
        );
        // One request for the tail, not a whole window.
        assert_eq!(
            store.ranged.load(std::sync::atomic::Ordering::Relaxed),
            TAIL
        );
        // Reads elsewhere, and across the tail's start, are still exact.
        for (start, len) in [
            (0u64, 10usize),
            (WINDOW - 5, 10),
            (s - TAIL - 3, 6),
            (5, size - 5),
        ] {
            assert_eq!(
                ra.bytes(start, len).unwrap(),
                data.slice(start as usize..start as usize + len),
                "{start}+{len}"
            );
        }
        // The whole object as a stream, as a byte-for-byte copy reads it.
        let streamed: Vec<u8> = rt.block_on(async {
            let mut out = Vec::new();
            let mut st = input.stream().unwrap();
            while let Some(piece) = st.next().await {
                out.extend_from_slice(&piece.unwrap());
            }
            out
        });
        assert_eq!(streamed, data);
        drop(ra);
    }

    #[test]
    fn a_read_at_the_start_fetches_only_the_head() {
        let (_rt, store, data, input) = counted_object(3 * WINDOW as usize);
        let ra = input.random().unwrap();
        // A magic number, twice: one small request, and no read-ahead.
        assert_eq!(ra.bytes(0, 4).unwrap(), data.slice(0..4));
        assert_eq!(ra.bytes(1, 100).unwrap(), data.slice(1..101));
        std::thread::sleep(std::time::Duration::from_millis(200));
        let ranged = || store.ranged.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(ranged(), HEAD);
        // Reads past the head go through windows, exact as before.
        assert_eq!(
            ra.bytes(HEAD - 10, 20).unwrap(),
            data.slice(HEAD as usize - 10..HEAD as usize + 10)
        );
        assert!(ranged() >= HEAD + WINDOW, "{}", ranged());
        // With window 0 held, the head is read from it (once the window
        // read ahead has arrived, so that the count stays still).
        std::thread::sleep(std::time::Duration::from_millis(200));
        let before = ranged();
        assert_eq!(ra.bytes(2, 2).unwrap(), data.slice(2..4));
        assert_eq!(ranged(), before);
        drop(ra);
    }

    #[test]
    fn an_object_replaced_after_it_was_opened_is_a_verification_error() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let store = Arc::new(InMemory::new());
        let path = ObjPath::from("t/obj.parquet");
        let size = WINDOW as usize + 1000;
        rt.block_on(store.put(&path, vec![1u8; size].into()))
            .unwrap();
        let meta = rt.block_on(store.head(&path)).unwrap();
        let input = ObjectInput {
            store: store.clone(),
            path: path.clone(),
            size: meta.size,
            name: "mem://t/obj.parquet".into(),
            handle: rt.handle().clone(),
            e_tag: meta.e_tag,
            cancel: CancellationToken::new(),
        };
        // The version it was opened at reads fine.
        assert_eq!(input.random().unwrap().bytes(0, 4).unwrap().len(), 4);
        rt.block_on(store.put(&path, vec![2u8; size].into()))
            .unwrap();
        let err = rt
            .block_on(async { input.stream().unwrap().next().await.unwrap() })
            .unwrap_err();
        assert_eq!(
            crate::error::exit_kind(&err),
            crate::error::ExitKind::Verify,
            "{err}"
        );
        assert!(
            err.to_string().contains("replaced while convoy read it"),
            "{err}"
        );
        assert!(input.open().is_err());
        // Range reads (Parquet, Arrow IPC) carry the same pin.
        assert!(input.random().unwrap().bytes(size as u64 - 8, 8).is_err());
    }
}
