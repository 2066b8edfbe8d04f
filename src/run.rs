//! The runner: one bounded pipeline per copy, from a source's partitions to
//! a sink, with cancellation and verification before commit.
//!
//! Memory stays flat: batches travel through a channel bounded both by
//! count and by bytes (a semaphore of KiB permits). A producer blocks when
//! the budget is spent and never drops a batch; a single batch larger than
//! the whole budget takes all of it, so it passes alone instead of
//! deadlocking.
//!
//! Cancellation wins: every wait on the source or the sink races the run's
//! cancellation token (Ctrl-C, SIGTERM), so a peer that stops answering
//! cannot hold a signal up. The sink is then aborted, and the abort itself
//! gets [`ABORT_WITHIN`] at most; a signal during the commit gives the
//! commit [`COMMIT_GRACE`] to finish, because a commit cut short leaves it
//! unknown whether the destination was published. A second signal ends the
//! process at once (`cancel_on_signals`). How long each network wait may
//! last is the connectors' business (`timeout = { connect, idle }`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use arrow::array::RecordBatch;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::connect::{self, Encoded, OpenContext, Output, Partition, Sink, Source};
use crate::error;
use crate::plan::Plan;
use crate::report::{CopyReport, Progress, Status};
use crate::spec::{Copy, Endpoint};

/// Bytes of batches in flight between source and sink.
pub const BUDGET_BYTES: usize = 48 << 20;
/// Batches in flight between source and sink.
pub const BUDGET_BATCHES: usize = 8;
/// After this long without data the sink is asked whether it holds up its
/// own source.
const STALL_CHECK: Duration = Duration::from_secs(2);
/// The longest an abort may take (removing temporaries, aborting uploads,
/// rolling back) before the copy ends without waiting for it: what it has
/// not removed is never visible (see README, "Timeouts").
pub const ABORT_WITHIN: Duration = Duration::from_secs(10);
/// How long a commit already under way may go on after a signal.
pub const COMMIT_GRACE: Duration = Duration::from_secs(5);

/// `fut`, unless the run is cancelled first: then it is dropped (which
/// closes whatever connection it was waiting on) and the answer is
/// "interrupted".
async fn unless_cancelled<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(error::interrupted()),
        r = fut => r,
    }
}

/// An error seen after a signal is reported as the interruption it most
/// likely is (a sink stopped mid-write fails its write).
fn after_signal(cancel: &CancellationToken, e: anyhow::Error) -> anyhow::Error {
    if cancel.is_cancelled() && error::exit_kind(&e) != error::ExitKind::Interrupted {
        return error::interrupted();
    }
    e
}

/// Abort the sink within [`ABORT_WITHIN`], adding what went wrong to `e`.
async fn abort_sink(sink: &mut dyn Sink, e: anyhow::Error) -> anyhow::Error {
    match tokio::time::timeout(ABORT_WITHIN, sink.abort()).await {
        Ok(Ok(())) => e,
        Ok(Err(abort_err)) => e.context(format!(
            "and aborting {} failed: {abort_err}",
            sink.describe()
        )),
        Err(_) => e.context(format!(
            "and aborting {} did not finish within {}; what it had written is not published",
            sink.describe(),
            crate::spec::fields::seconds(ABORT_WITHIN)
        )),
    }
}

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
/// pieces in the source's own encoding that the sink takes unchanged.
#[async_trait::async_trait]
trait Piece: Send + Sized + 'static {
    fn rows(&self) -> u64;
    /// Memory it holds, for the budget.
    fn size(&self) -> usize;
    /// Nothing to pass on (a batch without rows; a piece without bytes).
    fn is_empty(&self) -> bool;
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
    fn is_empty(&self) -> bool {
        self.num_rows() == 0
    }
    async fn write_to(self, sink: &mut dyn Sink) -> Result<()> {
        sink.write(self).await
    }
}

#[async_trait::async_trait]
impl Piece for Encoded {
    fn rows(&self) -> u64 {
        self.rows
    }
    fn size(&self) -> usize {
        self.bytes.len()
    }
    fn is_empty(&self) -> bool {
        self.rows == 0 && self.bytes.is_empty()
    }
    async fn write_to(self, sink: &mut dyn Sink) -> Result<()> {
        sink.write_encoded(self).await
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
        if batch.is_empty() {
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
        if batch.is_empty() {
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

/// Everything a run needs besides the plan.
pub struct RunContext {
    pub cancel: CancellationToken,
    pub dry_run: bool,
    pub progress: Progress,
    pub allow_cross_region: bool,
    /// What connectors get; each copy has its own counters and warnings.
    pub open: OpenContext,
}

/// One copy's report in the making: its own context (counters, warnings),
/// its progress bar and clock. [`Copying::finish`] turns the outcome into
/// the copy's report; every kind of copy (direct, staged, extract, load)
/// goes through it.
pub struct Copying {
    pub open: OpenContext,
    pub report: CopyReport,
    started: Instant,
    bar: crate::report::CopyProgress,
    dry_run: bool,
}

impl Copying {
    pub fn start(copy: &Copy, source: String, sink: String, ctx: &RunContext) -> Copying {
        let open = ctx.open.for_copy();
        let bar = ctx.progress.start(&copy.name, open.counters.clone());
        Copying {
            report: CopyReport::new(copy, source, sink),
            open,
            started: Instant::now(),
            bar,
            dry_run: ctx.dry_run,
        }
    }

    /// The report of a copy that ended with `result`.
    pub fn finish(mut self, result: Result<Vec<Output>>) -> CopyReport {
        self.bar.finish();
        let counters = &self.open.counters;
        let (warnings, insecure) = self.open.warnings();
        let report = &mut self.report;
        report.insecure = insecure;
        report.warnings.extend(warnings);
        report.duration = self.started.elapsed();
        report.rows_read = report.rows_read.max(counters.rows.load(Ordering::Relaxed));
        report.bytes_read = report
            .bytes_read
            .max(counters.bytes_read.load(Ordering::Relaxed));
        match result {
            Ok(outputs) => {
                report.rows_written = outputs.iter().map(|o| o.rows).sum();
                report.bytes_written = outputs.iter().map(|o| o.bytes).sum();
                report.outputs = outputs;
                report.status = if self.dry_run {
                    Status::DryRun
                } else {
                    Status::Succeeded
                };
            }
            Err(e) => report.fail(&e),
        }
        self.report
    }
}

/// Run one copy end to end and report how it went. Never panics on bad
/// input; any failure aborts the sink.
pub async fn run_copy(plan: &Plan, copy: &Copy, ctx: &RunContext) -> CopyReport {
    let mut c = Copying::start(
        copy,
        plan.describe(&copy.from),
        plan.describe(&copy.to),
        ctx,
    );
    // Kept until the copy ends (see `crate::cores`).
    let _confined = leave_core_to_local_server(plan, &copy.from, &copy.to, &mut c.report);
    let result = match plan.check_regions(copy, ctx.allow_cross_region) {
        Ok(()) => {
            catching(
                &format!("copy {}", copy.name),
                direct(plan, copy, &c.open, ctx, &mut c.report),
            )
            .await
        }
        Err(e) => Err(e),
    };
    c.finish(result)
}

/// When a copy reads from a database server on this machine into files
/// or objects, keep convoy's threads off one core: the server's session,
/// the copy's slowest stage, has it to itself (see [`crate::cores`]).
pub fn leave_core_to_local_server(
    plan: &Plan,
    from: &Endpoint,
    to: &Endpoint,
    report: &mut CopyReport,
) -> Option<crate::cores::Confined> {
    let (from, to) = (plan.connector(from), plan.connector(to));
    let hosts = from.network();
    let local = from.is_server()
        && !to.is_server()
        && !hosts.is_empty()
        && hosts.iter().all(|n| crate::cores::is_loopback(&n.host));
    if !local || crate::cores::disabled() {
        return None;
    }
    let confined = crate::cores::leave_one_core()?;
    report.details.push(format!(
        "convoy's threads leave CPU {} to the database server on this machine ({}=0 keeps every core)",
        confined.left,
        crate::cores::ENV
    ));
    Some(confined)
}

/// A panic (a bug) ends the copy it happens in, not the run: unwinding
/// drops the sink, which removes what it wrote (every sink cleans up when
/// dropped uncommitted), and the copy fails with exit status 1 like any
/// failure, reported in the JSON summary too, with a request to report it.
async fn catching<T>(what: &str, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(error::bug(what)))
}

async fn direct(
    plan: &Plan,
    copy: &Copy,
    open: &OpenContext,
    ctx: &RunContext,
    report: &mut CopyReport,
) -> Result<Vec<Output>> {
    let mut reads = 0;
    loop {
        let connector = plan.connector(&copy.from).clone();
        let ep = copy.from.clone();
        let source = open_source(ctx, open, move |o| connector.open_source(&ep, &o)).await?;
        let sink = plan
            .connector(&copy.to)
            .open_sink(&copy.to, &copy.mode, open)?;
        let details = report.details.len();
        let moved = transfer(source, sink, open, ctx, report).await;
        // A source that can do better when read again says why (the sink
        // was aborted: the destination is as it was).
        let again = open.shared.get::<crate::connect::ReadAgain>().take();
        match (moved, again) {
            (Err(_), Some(why)) if reads < MAX_READS && !ctx.cancel.is_cancelled() => {
                reads += 1;
                open.warn(why);
                report.details.truncate(details);
                open.counters.rows.store(0, Ordering::Relaxed);
                open.counters.bytes_read.store(0, Ordering::Relaxed);
            }
            (moved, _) => return moved,
        }
    }
}

/// Times a copy's source may be read again from the start (see
/// [`crate::connect::ReadAgain`]).
const MAX_READS: usize = 8;

/// Open a source on a blocking thread (opening can block: a pipe that has
/// not sent its header yet), staying interruptible.
pub async fn open_source(
    ctx: &RunContext,
    open: &OpenContext,
    opener: impl FnOnce(OpenContext) -> Result<Box<dyn Source>> + Send + 'static,
) -> Result<Box<dyn Source>> {
    let open2 = open.clone();
    let opening = tokio::task::spawn_blocking(move || opener(open2));
    tokio::select! {
        opened = opening => opened
            .map_err(|e| if e.is_panic() {
                error::bug("opening the source")
            } else {
                anyhow::anyhow!("internal error opening the source: {e}")
            })?,
        _ = ctx.cancel.cancelled() => Err(error::interrupted()),
    }
}

/// Move everything from `source` to `sink` — unchanged in the source's own
/// encoding when the sink accepts it — verify, and commit; on any failure
/// the sink is aborted. A dry run stops after describing both.
///
/// Every kind of copy (direct, staged, extract, load) moves its rows here,
/// so a panic is caught here too: the source and sink are dropped while
/// unwinding (sinks remove what they wrote) and the copy fails (see
/// [`catching`]).
pub async fn transfer(
    source: Box<dyn Source>,
    sink: Box<dyn Sink>,
    open: &OpenContext,
    ctx: &RunContext,
    report: &mut CopyReport,
) -> Result<Vec<Output>> {
    let what = format!("copy {}", report.name);
    catching(&what, moving(source, sink, open, ctx, report)).await
}

async fn moving(
    source: Box<dyn Source>,
    mut sink: Box<dyn Sink>,
    open: &OpenContext,
    ctx: &RunContext,
    report: &mut CopyReport,
) -> Result<Vec<Output>> {
    report.source = source.describe();
    report.details.extend(source.details());
    let schema = source.schema();
    report.schema = Some(crate::schema::format_schema(&schema));
    report.sink = sink.describe();
    // A sink that can tell before `begin` whether it takes the source's own
    // encoding says so now, and a dry run reports it.
    let offered = source.encoding();
    if let Some(e) = offered.as_ref().filter(|e| sink.accepts(e)) {
        report.details.push(e.note.clone());
    }
    sink.check_schema(&schema)?;
    if ctx.dry_run {
        return Ok(Vec::new());
    }
    if ctx.cancel.is_cancelled() {
        return Err(error::interrupted());
    }
    if let Err(e) = unless_cancelled(&ctx.cancel, sink.begin(schema)).await {
        let e = after_signal(&ctx.cancel, e);
        return Err(abort_sink(sink.as_mut(), e).await);
    }
    let encoded = match offered.as_ref().filter(|e| sink.accepts(e)) {
        Some(e) => {
            if !report.details.contains(&e.note) {
                report.details.push(e.note.clone());
            }
            true
        }
        None => false,
    };
    let moved = if encoded {
        match tokio::task::block_in_place(|| source.encoded_partitions()) {
            Ok(parts) => pump(parts, sink.as_mut(), open, &ctx.cancel).await,
            Err(e) => Err(e),
        }
    } else {
        match tokio::task::block_in_place(|| source.partitions()) {
            Ok(parts) => pump(parts, sink.as_mut(), open, &ctx.cancel).await,
            Err(e) => Err(e),
        }
    };
    match moved {
        Ok(outputs) => Ok(outputs),
        Err(e) => {
            let e = after_signal(&ctx.cancel, e);
            Err(abort_sink(sink.as_mut(), e).await)
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
        let item = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                failure = Some(error::interrupted());
                break;
            }
            item = tokio::time::timeout(STALL_CHECK, rx.recv()) => item,
        };
        match item {
            Err(_) => {
                if let Err(e) = unless_cancelled(cancel, sink.stalled()).await {
                    failure = Some(e);
                    break;
                }
            }
            Ok(Some((batch, permit))) => {
                let n = batch.rows();
                if let Err(e) = unless_cancelled(cancel, batch.write_to(sink)).await {
                    failure = Some(match after_signal(cancel, e) {
                        e if error::exit_kind(&e) == error::ExitKind::Interrupted => e,
                        e => e.context(format!("writing to {}", sink.describe())),
                    });
                    break;
                }
                drop(permit);
                rows_read += n;
                open.counters.rows.fetch_add(n, Ordering::Relaxed);
            }
            Ok(None) => break,
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
        p.await.map_err(|e| {
            if e.is_panic() {
                error::bug("a reader")
            } else {
                anyhow::anyhow!("internal error in a reader: {e}")
            }
        })??;
    }
    if cancel.is_cancelled() {
        return Err(error::interrupted());
    }
    let prepared = unless_cancelled(cancel, sink.prepare()).await?;
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
    commit(sink, cancel).await?;
    Ok(prepared.outputs)
}

/// Commit. A signal that comes while the commit is under way gives it
/// [`COMMIT_GRACE`] to finish: a commit is one atomic step, and one cut
/// short would leave it unknown whether the destination was published.
async fn commit(sink: &mut dyn Sink, cancel: &CancellationToken) -> Result<()> {
    let describe = sink.describe();
    let committing = sink.commit();
    tokio::pin!(committing);
    tokio::select! {
        biased;
        r = &mut committing => return r,
        _ = cancel.cancelled() => {}
    }
    match tokio::time::timeout(COMMIT_GRACE, committing).await {
        Ok(r) => r,
        Err(_) => Err(error::interrupted().context(format!(
            "interrupted during the commit of {describe}, which did not finish within {} of the signal: it holds either its old or its new contents (never a mix); look before running again",
            crate::spec::fields::seconds(COMMIT_GRACE)
        ))),
    }
}

/// Cancel the token on Ctrl-C or SIGTERM. A second signal ends the process
/// at once with status 130, whatever is still being cleaned up: what an
/// unfinished abort leaves is never published (README, "Timeouts").
pub fn cancel_on_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (mut int, mut term) = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(i), Ok(t)) => (i, t),
                _ => return,
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            cancel.cancel();
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            cancel.cancel();
            let _ = tokio::signal::ctrl_c().await;
        }
        eprintln!("error: interrupted again: exiting at once, without waiting for the cleanup");
        std::process::exit(error::ExitKind::Interrupted.code());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

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
        let open = OpenContext::new(
            "t".into(),
            "2026-01-01".into(),
            false,
            Arc::new(crate::security::reference::ResolveContext::new(None)),
            CancellationToken::new(),
        );
        let source = Box::new(MemorySource(vec![batch(10), batch(5)]));
        let parts = connect::Source::partitions(source).unwrap();
        let err = pump(parts, &mut sink, &open, &open.cancel)
            .await
            .unwrap_err();
        assert_eq!(error::exit_kind(&err), error::ExitKind::Verify);
        assert!(err.to_string().contains("15 rows were read"), "{err}");
        assert!(!sink.committed);
    }

    /// A sink whose writes never complete, as one whose server stopped
    /// reading.
    struct StuckSink;

    #[async_trait::async_trait]
    impl Sink for StuckSink {
        fn describe(&self) -> String {
            "stuck".into()
        }
        async fn begin(&mut self, _: arrow::datatypes::SchemaRef) -> Result<()> {
            Ok(())
        }
        async fn write(&mut self, _: RecordBatch) -> Result<()> {
            std::future::pending().await
        }
        async fn prepare(&mut self) -> Result<connect::Prepared> {
            unreachable!("never reached")
        }
        async fn commit(&mut self) -> Result<()> {
            unreachable!("never reached")
        }
        async fn abort(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancellation_wins_over_a_write_that_never_completes() {
        let cancel = CancellationToken::new();
        let open = OpenContext::new(
            "t".into(),
            "2026-01-01".into(),
            false,
            Arc::new(crate::security::reference::ResolveContext::new(None)),
            cancel.clone(),
        );
        let source = Box::new(MemorySource(vec![batch(10), batch(5)]));
        let parts = connect::Source::partitions(source).unwrap();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.cancel();
        });
        let started = Instant::now();
        let err = tokio::time::timeout(
            Duration::from_secs(5),
            pump(parts, &mut StuckSink, &open, &cancel),
        )
        .await
        .expect("the pump ended")
        .unwrap_err();
        assert_eq!(error::exit_kind(&err), error::ExitKind::Interrupted);
        assert!(started.elapsed() < Duration::from_secs(2));
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

    /// A sink that panics on its first batch and notes when it is dropped.
    struct PanickingSink(Arc<std::sync::atomic::AtomicBool>);

    impl Drop for PanickingSink {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[async_trait::async_trait]
    impl Sink for PanickingSink {
        fn describe(&self) -> String {
            "panicking".into()
        }
        async fn begin(&mut self, _: arrow::datatypes::SchemaRef) -> Result<()> {
            Ok(())
        }
        async fn write(&mut self, _: RecordBatch) -> Result<()> {
            panic!("a bug in a sink");
        }
        async fn prepare(&mut self) -> Result<connect::Prepared> {
            Ok(connect::Prepared::default())
        }
        async fn commit(&mut self) -> Result<()> {
            Ok(())
        }
        async fn abort(&mut self) -> Result<()> {
            Ok(())
        }
    }

    fn context() -> OpenContext {
        OpenContext::new(
            "t".into(),
            "2026-01-01".into(),
            false,
            Arc::new(crate::security::reference::ResolveContext::new(None)),
            CancellationToken::new(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_ends_the_copy_with_exit_1_and_a_bug_report_request() {
        let open = context();
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sink_dropped = dropped.clone();
        let open2 = open.clone();
        let err = catching("copy c", async move {
            let mut sink = PanickingSink(sink_dropped);
            let parts = connect::Source::partitions(Box::new(MemorySource(vec![batch(3)])))?;
            pump(parts, &mut sink, &open2, &open2.cancel).await
        })
        .await
        .unwrap_err();
        assert_eq!(error::exit_kind(&err), error::ExitKind::Failed);
        assert!(
            err.to_string()
                .contains("internal error (a bug in convoy) in copy c"),
            "{err}"
        );
        assert!(error::hint(&err).unwrap().contains("report"), "{err}");
        // The sink was dropped while unwinding: it removes what it wrote.
        assert!(dropped.load(Ordering::SeqCst));

        // A reader that panics ends the copy the same way.
        let panicking: connect::BatchIter = Box::new((0..2).map(|i| {
            if i == 1 {
                panic!("a bug in a reader");
            }
            Ok(batch(1))
        }));
        let mut sink = LossySink {
            rows: 0,
            committed: false,
            aborted: false,
        };
        let err = pump(
            vec![Partition::Blocking(panicking)],
            &mut sink,
            &open,
            &open.cancel,
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("a bug in convoy) in a reader"),
            "{err}"
        );
        assert!(!sink.committed);
    }
}
