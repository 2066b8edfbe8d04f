//! The runner: one bounded pipeline per copy, from a source's partitions to
//! a sink, with cancellation and verification before commit.
//!
//! Memory stays flat: batches travel through a channel bounded both by
//! count and by bytes (a semaphore of KiB permits). A producer blocks when
//! the budget is spent and never drops a batch; a single batch larger than
//! the whole budget takes all of it, so it passes alone instead of
//! deadlocking.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use arrow::array::RecordBatch;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::connect::{self, CopyChunk, Counters, OpenContext, Output, Partition, Sink};
use crate::error;
use crate::report::{CopyReport, Progress, Status};
use crate::spec::{Copy, Spec};

/// Bytes of batches in flight between source and sink.
pub const BUDGET_BYTES: usize = 48 << 20;
/// Batches in flight between source and sink.
pub const BUDGET_BATCHES: usize = 8;
/// After this long without data the sink is asked whether it holds up its
/// own source.
const STALL_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// The byte and count budget of one pipeline.
#[derive(Clone)]
pub struct Budget {
    permits: Arc<Semaphore>,
    total_kib: u32,
    batches: usize,
}

impl Budget {
    pub fn new(bytes: usize, batches: usize) -> Budget {
        let total_kib = (bytes / 1024).max(1) as u32;
        Budget {
            permits: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
            batches: batches.max(1),
        }
    }

    /// Permits for a piece: its size in KiB, at most the whole budget.
    fn cost(&self, piece: &impl Piece) -> u32 {
        let kib = piece.size().div_ceil(1024) as u64;
        kib.clamp(1, self.total_kib as u64) as u32
    }

    #[cfg(test)]
    pub fn available_kib(&self) -> usize {
        self.permits.available_permits()
    }
}

/// What travels from a source's partitions to a sink: record batches, or
/// rows in binary COPY form that a PostgreSQL sink takes unchanged.
#[async_trait::async_trait]
trait Piece: Send + Sized + 'static {
    fn rows(&self) -> u64;
    /// Memory it holds, for the budget.
    fn size(&self) -> usize;
    async fn write_to(self, sink: &mut dyn Sink) -> Result<()>;
}

#[async_trait::async_trait]
impl Piece for RecordBatch {
    fn rows(&self) -> u64 {
        self.num_rows() as u64
    }
    fn size(&self) -> usize {
        self.get_array_memory_size()
    }
    async fn write_to(self, sink: &mut dyn Sink) -> Result<()> {
        sink.write(self).await
    }
}

#[async_trait::async_trait]
impl Piece for CopyChunk {
    fn rows(&self) -> u64 {
        self.rows
    }
    fn size(&self) -> usize {
        self.data.len()
    }
    async fn write_to(self, sink: &mut dyn Sink) -> Result<()> {
        sink.write_copy(self).await
    }
}

type Item<T> = (T, OwnedSemaphorePermit);

/// Send a partition's pieces into the channel, blocking on the budget.
fn produce_blocking<T: Piece>(
    iter: connect::BatchIter<T>,
    tx: mpsc::Sender<Item<T>>,
    budget: Budget,
    cancel: CancellationToken,
    handle: tokio::runtime::Handle,
) -> Result<()> {
    for batch in iter {
        if cancel.is_cancelled() {
            return Ok(());
        }
        let batch = batch?;
        if batch.rows() == 0 {
            continue;
        }
        let cost = budget.cost(&batch);
        let permit = match handle.block_on(budget.permits.clone().acquire_many_owned(cost)) {
            Ok(p) => p,
            // The budget was closed: the consumer has stopped.
            Err(_) => return Ok(()),
        };
        if tx.blocking_send((batch, permit)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Send an async partition's pieces into the channel, waiting on the budget.
async fn produce_stream<T: Piece>(
    mut stream: futures::stream::BoxStream<'static, Result<T>>,
    tx: mpsc::Sender<Item<T>>,
    budget: Budget,
    cancel: CancellationToken,
) -> Result<()> {
    use futures::StreamExt;
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            next = stream.next() => next,
        };
        let Some(batch) = next else {
            return Ok(());
        };
        let batch = batch?;
        if batch.rows() == 0 {
            continue;
        }
        let cost = budget.cost(&batch);
        let permit = match budget.permits.clone().acquire_many_owned(cost).await {
            Ok(p) => p,
            Err(_) => return Ok(()),
        };
        if tx.send((batch, permit)).await.is_err() {
            return Ok(());
        }
    }
}

/// Everything a run needs besides the spec.
pub struct RunContext {
    pub cancel: CancellationToken,
    pub dry_run: bool,
    pub run_id: String,
    pub run_date: String,
    pub progress: Progress,
    pub allow_cross_region: bool,
    /// `--allow-insecure` was given.
    pub allow_insecure: bool,
    /// `--vault`, for `${secret:…}` references in connections.
    pub vault: Option<std::path::PathBuf>,
}

/// Run one copy end to end and report how it went. Never panics on bad
/// input; any failure aborts the sink.
pub async fn run_copy(spec: &Spec, copy: &Copy, ctx: &RunContext) -> CopyReport {
    let started = Instant::now();
    let counters = Arc::new(Counters::default());
    let mut report = CopyReport::new(copy, spec);
    let open = OpenContext {
        counters: counters.clone(),
        cancel: ctx.cancel.clone(),
        run_id: ctx.run_id.clone(),
        run_date: ctx.run_date.clone(),
        allow_insecure: ctx.allow_insecure,
        vault: ctx.vault.clone(),
        insecure: Default::default(),
        pg_readers: Default::default(),
    };
    let bar = ctx.progress.start(&copy.name, counters.clone());
    let result = match crate::plan::check_regions(spec, copy, ctx.allow_cross_region) {
        Ok(()) => transfer(spec, copy, &open, ctx, &mut report).await,
        Err(e) => Err(e),
    };
    bar.finish();
    if let Ok(notes) = open.insecure.lock() {
        report.insecure = notes.clone();
        report.warnings.extend(notes.iter().cloned());
    }
    report.duration = started.elapsed();
    report.rows_read = counters.rows.load(Ordering::Relaxed);
    report.bytes_read = counters.bytes_read.load(Ordering::Relaxed);
    match result {
        Ok(outputs) => {
            report.rows_written = outputs.iter().map(|o| o.rows).sum();
            report.bytes_written = outputs.iter().map(|o| o.bytes).sum();
            report.outputs = outputs;
            report.status = if ctx.dry_run {
                Status::DryRun
            } else {
                Status::Succeeded
            };
        }
        Err(e) => report.fail(&e),
    }
    report
}

async fn transfer(
    spec: &Spec,
    copy: &Copy,
    open: &OpenContext,
    ctx: &RunContext,
    report: &mut CopyReport,
) -> Result<Vec<Output>> {
    let source = {
        let spec = spec.clone();
        let ep = copy.from.clone();
        let open2 = open.clone();
        let opening = tokio::task::spawn_blocking(move || connect::open_source(&spec, &ep, &open2));
        // Opening can block (a pipe that has not sent its header yet): stay
        // interruptible.
        tokio::select! {
            opened = opening => opened
                .map_err(|e| anyhow::anyhow!("internal error opening the source: {e}"))??,
            _ = ctx.cancel.cancelled() => return Err(error::interrupted()),
        }
    };
    report.source = source.describe();
    report.details = source.details();
    let schema = source.schema();
    report.schema = Some(crate::schema::format_schema(&schema));
    let mut sink = connect::open_sink(spec, &copy.to, &copy.mode, open)?;
    report.sink = sink.describe();
    let raw = source.raw_file().filter(|r| sink.accept_raw(r));
    if let Some(r) = &raw {
        report.details.push(format!(
            "byte for byte: {f} to {f} with no writing options; rows verified from the footer of the bytes written",
            f = r.format.name()
        ));
    }
    if ctx.dry_run {
        return Ok(Vec::new());
    }
    if ctx.cancel.is_cancelled() {
        return Err(error::interrupted());
    }
    if let Err(e) = sink.begin(schema).await {
        let _ = sink.abort().await;
        return Err(e);
    }
    let moved = match raw {
        Some(raw) => copy_raw(raw, sink.as_mut(), open, &ctx.cancel).await,
        None => {
            // Rows in PostgreSQL's binary COPY form go to a sink with the
            // very same column types unchanged.
            let same_types = source
                .copy_types()
                .is_some_and(|types| sink.accept_copy(&types));
            if same_types {
                report.details.push(
                    "binary COPY rows passed through unchanged: the destination's column types are the source's"
                        .to_string(),
                );
                match tokio::task::block_in_place(|| source.copy_partitions()) {
                    Ok(parts) => pump(parts, sink.as_mut(), open, &ctx.cancel).await,
                    Err(e) => Err(e),
                }
            } else {
                match tokio::task::block_in_place(|| source.partitions()) {
                    Ok(parts) => pump(parts, sink.as_mut(), open, &ctx.cancel).await,
                    Err(e) => Err(e),
                }
            }
        }
    };
    match moved {
        Ok(outputs) => Ok(outputs),
        Err(e) => {
            if let Err(abort_err) = sink.abort().await {
                return Err(e.context(format!(
                    "and aborting {} failed: {abort_err}",
                    sink.describe()
                )));
            }
            Err(e)
        }
    }
}

/// Move every batch from the source to the sink, verify, commit.
async fn pump<T: Piece>(
    partitions: Vec<Partition<T>>,
    sink: &mut dyn Sink,
    open: &OpenContext,
    cancel: &CancellationToken,
) -> Result<Vec<Output>> {
    let budget = Budget::new(BUDGET_BYTES, BUDGET_BATCHES);
    let (tx, mut rx) = mpsc::channel::<Item<T>>(budget.batches);
    let mut producers = Vec::new();
    for p in partitions {
        let tx = tx.clone();
        let budget = budget.clone();
        let cancel = cancel.clone();
        let handle = tokio::runtime::Handle::current();
        producers.push(match p {
            Partition::Blocking(iter) => tokio::task::spawn_blocking(move || {
                produce_blocking(iter, tx, budget, cancel, handle)
            }),
            Partition::Stream(stream) => {
                tokio::spawn(async move { produce_stream(stream, tx, budget, cancel).await })
            }
        });
    }
    drop(tx);

    let mut rows_read = 0u64;
    let mut failure: Option<anyhow::Error> = None;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                failure = Some(error::interrupted());
                break;
            }
            item = tokio::time::timeout(STALL_CHECK, rx.recv()) => match item {
                Err(_) => {
                    if let Err(e) = sink.stalled().await {
                        failure = Some(e);
                        break;
                    }
                }
                Ok(Some((batch, permit))) => {
                    let n = batch.rows();
                    if let Err(e) = batch.write_to(sink).await {
                        failure = Some(e.context(format!("writing to {}", sink.describe())));
                        break;
                    }
                    drop(permit);
                    rows_read += n;
                    open.counters.rows.fetch_add(n, Ordering::Relaxed);
                }
                Ok(None) => break,
            }
        }
    }
    // Stop producers that are still running: close the budget and the channel.
    budget.permits.close();
    drop(rx);
    if let Some(e) = failure {
        // Producers stop at their next batch; one blocked reading a silent
        // pipe is not waited for (the runtime abandons it at exit).
        return Err(e);
    }
    // The channel closed because every producer finished: collect their results.
    for p in producers {
        p.await
            .map_err(|e| anyhow::anyhow!("internal error in a reader: {e}"))??;
    }
    if cancel.is_cancelled() {
        return Err(error::interrupted());
    }
    let prepared = sink.prepare().await?;
    if prepared.rows != rows_read {
        return Err(error::verify(format!(
            "{} rows were read but {} reports {} written; nothing was published",
            rows_read,
            sink.describe(),
            prepared.rows
        )));
    }
    if cancel.is_cancelled() {
        return Err(error::interrupted());
    }
    sink.commit().await?;
    Ok(prepared.outputs)
}

/// Bytes per chunk of a byte-for-byte copy. Writes of 1 MiB are several
/// times faster into the Linux page cache than writes of 4 MiB.
const RAW_CHUNK: usize = 1 << 20;
/// Chunks in flight between the reading thread and the sink.
const RAW_CHUNKS: usize = 8;

/// Copy one file's bytes unchanged, verify, commit. The reader (a blocking
/// thread for files, a task for object streams) runs at most [`RAW_CHUNKS`]
/// chunks ahead of the sink.
async fn copy_raw(
    raw: connect::RawFile,
    sink: &mut dyn Sink,
    open: &OpenContext,
    cancel: &CancellationToken,
) -> Result<Vec<Output>> {
    let (tx, mut rx) = mpsc::channel::<bytes::Bytes>(RAW_CHUNKS);
    let reader = match raw.input.stream() {
        Some(stream) => tokio::spawn(read_raw_stream(stream, tx)),
        None => {
            let input = raw.input.clone();
            tokio::task::spawn_blocking(move || read_raw_blocking(input.as_ref(), tx))
        }
    };
    let mut moved = 0u64;
    let mut shown_rows = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(error::interrupted()),
            chunk = rx.recv() => match chunk {
                Some(chunk) => {
                    let n = chunk.len() as u64;
                    sink.write_bytes(chunk)
                        .await
                        .map_err(|e| e.context(format!("writing to {}", sink.describe())))?;
                    moved += n;
                    open.counters.add_bytes(n);
                    // Rows as a share of the bytes, for the progress display.
                    let rows = (raw.rows as u128 * moved as u128 / raw.size.max(1) as u128)
                        .min(raw.rows as u128) as u64;
                    open.counters.rows.fetch_add(rows - shown_rows, Ordering::Relaxed);
                    shown_rows = rows;
                }
                None => break,
            }
        }
    }
    let read = reader
        .await
        .map_err(|e| anyhow::anyhow!("internal error in a reader: {e}"))??;
    if read != raw.size {
        return Err(error::verify(format!(
            "{} was {} bytes when the copy started and {read} bytes were read; it changed during the copy; nothing was published",
            raw.input.name(),
            raw.size
        )));
    }
    if cancel.is_cancelled() {
        return Err(error::interrupted());
    }
    let prepared = sink.prepare().await?;
    let written: u64 = prepared.outputs.iter().map(|o| o.bytes).sum();
    if prepared.rows != raw.rows || written != raw.size {
        return Err(error::verify(format!(
            "{} holds {} rows in {} bytes, but {} reports {} rows in {written} bytes written; nothing was published",
            raw.input.name(),
            raw.rows,
            raw.size,
            sink.describe(),
            prepared.rows
        )));
    }
    open.counters.rows.store(raw.rows, Ordering::Relaxed);
    if cancel.is_cancelled() {
        return Err(error::interrupted());
    }
    sink.commit().await?;
    Ok(prepared.outputs)
}

/// Read a file front to back in chunks of [`RAW_CHUNK`]; returns the bytes read.
fn read_raw_blocking(
    input: &dyn connect::format::input::Input,
    tx: mpsc::Sender<bytes::Bytes>,
) -> Result<u64> {
    use std::io::Read;
    let mut from = input.open()?;
    let mut total = 0u64;
    loop {
        // `read_to_end` fills the spare capacity without zeroing it first
        // where the reader allows (files).
        let mut buf = Vec::with_capacity(RAW_CHUNK);
        (&mut from)
            .take(RAW_CHUNK as u64)
            .read_to_end(&mut buf)
            .map_err(|e| {
                error::input(
                    format!(
                        "cannot read {}: {}",
                        input.name(),
                        crate::security::redact::redact(&e.to_string())
                    ),
                    None,
                )
            })?;
        if buf.is_empty() {
            return Ok(total);
        }
        total += buf.len() as u64;
        if tx.blocking_send(bytes::Bytes::from(buf)).is_err() {
            return Ok(total);
        }
    }
}

/// Gather a byte stream (an object's body, in pieces of a few KiB) into
/// chunks of [`RAW_CHUNK`]; returns the bytes read.
async fn read_raw_stream(
    mut stream: futures::stream::BoxStream<'static, Result<bytes::Bytes>>,
    tx: mpsc::Sender<bytes::Bytes>,
) -> Result<u64> {
    use futures::StreamExt;
    let mut total = 0u64;
    let mut buf = bytes::BytesMut::with_capacity(RAW_CHUNK);
    while let Some(piece) = stream.next().await {
        let piece = piece?;
        total += piece.len() as u64;
        buf.extend_from_slice(&piece);
        if buf.len() >= RAW_CHUNK {
            let chunk = buf.split().freeze();
            buf.reserve(RAW_CHUNK);
            if tx.send(chunk).await.is_err() {
                return Ok(total);
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.send(buf.freeze()).await;
    }
    Ok(total)
}

/// Cancel the token on Ctrl-C or SIGTERM.
pub fn cancel_on_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = match signal(SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        cancel.cancel();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::time::Duration;

    fn batch(rows: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from_iter_values(0..rows as i64))],
        )
        .unwrap()
    }

    #[test]
    fn an_oversized_batch_takes_the_whole_budget_but_passes() {
        let budget = Budget::new(64 * 1024, 4);
        let big = batch(100_000); // ~800 KiB > 64 KiB budget
        assert_eq!(budget.cost(&big), 64);
        assert_eq!(budget.cost(&batch(1)), 1);
    }

    /// A sink that loses a row: the runner must refuse to commit (exit 4).
    struct LossySink {
        rows: u64,
        committed: bool,
        aborted: bool,
    }

    #[async_trait::async_trait]
    impl Sink for LossySink {
        fn describe(&self) -> String {
            "lossy".into()
        }
        async fn begin(&mut self, _: arrow::datatypes::SchemaRef) -> Result<()> {
            Ok(())
        }
        async fn write(&mut self, batch: RecordBatch) -> Result<()> {
            self.rows += batch.num_rows() as u64;
            Ok(())
        }
        async fn prepare(&mut self) -> Result<connect::Prepared> {
            Ok(connect::Prepared {
                rows: self.rows - 1,
                outputs: Vec::new(),
            })
        }
        async fn commit(&mut self) -> Result<()> {
            self.committed = true;
            Ok(())
        }
        async fn abort(&mut self) -> Result<()> {
            self.aborted = true;
            Ok(())
        }
    }

    struct MemorySource(Vec<RecordBatch>);

    impl connect::Source for MemorySource {
        fn describe(&self) -> String {
            "memory".into()
        }
        fn schema(&self) -> arrow::datatypes::SchemaRef {
            self.0[0].schema()
        }
        fn partitions(self: Box<Self>) -> Result<Vec<Partition>> {
            Ok(vec![Partition::Blocking(Box::new(
                self.0.into_iter().map(Ok),
            ))])
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_row_count_mismatch_is_a_verification_failure_and_nothing_commits() {
        let mut sink = LossySink {
            rows: 0,
            committed: false,
            aborted: false,
        };
        let open = OpenContext {
            counters: Arc::new(Counters::default()),
            cancel: CancellationToken::new(),
            run_id: "t".into(),
            run_date: "2026-01-01".into(),
            allow_insecure: false,
            vault: None,
            insecure: Default::default(),
            pg_readers: Default::default(),
        };
        let source = Box::new(MemorySource(vec![batch(10), batch(5)]));
        let parts = connect::Source::partitions(source).unwrap();
        let err = pump(parts, &mut sink, &open, &open.cancel)
            .await
            .unwrap_err();
        assert_eq!(error::exit_kind(&err), error::ExitKind::Verify);
        assert!(err.to_string().contains("15 rows were read"), "{err}");
        assert!(!sink.committed);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn producers_block_on_the_byte_budget() {
        // 10 batches of ~80 KiB against a 200 KiB budget: at most two fit.
        let budget = Budget::new(200 * 1024, 100);
        let (tx, mut rx) = mpsc::channel::<Item<RecordBatch>>(100);
        let iter: connect::BatchIter = Box::new((0..10).map(|_| Ok(batch(10_000))));
        let b2 = budget.clone();
        let handle = tokio::runtime::Handle::current();
        let producer = tokio::task::spawn_blocking(move || {
            produce_blocking(iter, tx, b2, CancellationToken::new(), handle)
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let cost = budget.cost(&batch(10_000)) as usize;
        let in_flight = (200 - budget.available_kib()) / cost;
        assert!(in_flight <= 2, "{in_flight} batches in flight");
        let mut got = 0;
        while let Some((b, permit)) = rx.recv().await {
            got += b.num_rows();
            drop(permit);
        }
        producer.await.unwrap().unwrap();
        assert_eq!(got, 100_000);
        assert_eq!(budget.available_kib(), 200);
    }
}
