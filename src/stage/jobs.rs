//! The three ways a copy uses a stage, each ending in the copy's report:
//! - extract (`convoy extract SRC STAGE`): source → a new run of parts;
//! - load (`convoy load RUN DST`): a complete run → the destination,
//!   through the destination's normal atomic commit; the run is marked
//!   loaded afterwards;
//! - staged (`convoy copy SRC DST --stage URL`, `stage = {…}` in a spec):
//!   extract, then load, then remove the run unless it is kept.
//!
//! Both halves go through the runner's one pipeline (`run::transfer`), so
//! every check of a direct copy applies to each.

use anyhow::Result;

use super::manifest::{self, Encryption, LOADED, SHARDS};
use super::sink::{FeedSender, Origin, StageSink};
use super::source::StageSource;
use super::RunPlace;
use crate::connect::objstore::store_error;
use crate::connect::{OpenContext, Output};
use crate::plan::Plan;
use crate::report::{CopyReport, StageReport};
use crate::run::{self, Copying, RunContext};
use crate::spec::{Copy, Mode, StageHalf, StageSpec};
use object_store::ObjectStoreExt;

/// Run a copy that has a stage.
pub async fn run(plan: &Plan, copy: &Copy, ctx: &RunContext) -> CopyReport {
    let stage = copy.stage.as_ref().expect("a staged copy");
    let (source, sink) = match stage.only {
        Some(StageHalf::Extract) => (plan.describe(&copy.from), plan.describe(&stage.endpoint)),
        Some(StageHalf::Load) => (plan.describe(&stage.endpoint), plan.describe(&copy.to)),
        None => (plan.describe(&copy.from), plan.describe(&copy.to)),
    };
    let mut c = Copying::start(copy, source, sink, ctx);
    // An extract writes files: it leaves a core to a server on this
    // machine as a direct copy into files does.
    let _confined = match stage.only {
        Some(StageHalf::Extract) => {
            run::leave_core_to_local_server(plan, &copy.from, &stage.endpoint, &mut c.report)
        }
        _ => None,
    };
    let result = match plan.check_regions(copy, ctx.allow_cross_region) {
        Err(e) => Err(e),
        Ok(()) => match stage.only {
            Some(StageHalf::Extract) if stage.coordinate => {
                coordinate(plan, copy, stage, ctx, &mut c).await
            }
            Some(StageHalf::Extract) => extract(plan, copy, stage, ctx, &mut c)
                .await
                .map(|(outputs, _)| outputs),
            Some(StageHalf::Load) => load(plan, copy, stage, ctx, &mut c).await,
            None => staged(plan, copy, stage, ctx, &mut c).await,
        },
    };
    c.finish(result)
}

/// The run a copy's stage names: the run id given, else one made from this
/// process's run id (and the copy's name, when a spec has several copies).
fn run_place(plan: &Plan, copy: &Copy, stage: &StageSpec, open: &OpenContext) -> Result<RunPlace> {
    let path = open.path_of(&stage.endpoint);
    if stage.only == Some(StageHalf::Load) {
        // The run's directory is the last segment of the path.
        let trimmed = path.trim_end_matches('/');
        let (stage_path, run) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        let st = plan
            .connector(&stage.endpoint)
            .stage_store(stage_path, open)?;
        return RunPlace::at(st.store, &st.root, &format!("{}/{run}", st.path));
    }
    let st = plan.connector(&stage.endpoint).stage_store(&path, open)?;
    let path = st.path.clone();
    let run_id = match &stage.run_id {
        Some(id) => id.clone(),
        None if plan.spec.copies.len() == 1 => open.run_id.clone(),
        None => {
            let name: String = copy
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("{}-{name}", open.run_id)
        }
    };
    RunPlace::new(st.store, &st.root, &path, &run_id)
}

/// Who the parts are encrypted for: the recipients given, else this machine.
fn recipients(
    stage: &StageSpec,
    open: &OpenContext,
) -> Result<Option<Vec<age::x25519::Recipient>>> {
    if !stage.encrypt {
        return Ok(None);
    }
    if stage.recipients.is_empty() {
        let id = open.secrets.identity()?;
        return Ok(Some(vec![crate::security::age::recipient_of(&id)]));
    }
    let parsed = stage
        .recipients
        .iter()
        .map(|r| crate::security::age::parse_recipient(r).map_err(Into::into))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(parsed))
}

fn stage_report(run: &RunPlace, stage: &StageSpec, kept: bool) -> StageReport {
    StageReport {
        run: run.shown.clone(),
        run_id: run.run_id.clone(),
        encrypted: stage.encrypt,
        kept,
    }
}

/// How long a shard started with `--coordinated` waits for the
/// coordinator's cut.
const CUT_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// The coordinator's cut of a run, when there is one (waiting for it when
/// asked to).
async fn cut_of(run: &RunPlace, wait: bool, ctx: &RunContext) -> Result<Option<serde_json::Value>> {
    let started = std::time::Instant::now();
    loop {
        let names: Vec<String> = run
            .list()
            .await?
            .iter()
            .filter_map(|m| run.name_of(m).map(str::to_string))
            .collect();
        if names.iter().any(|n| n == SHARDS) {
            let bytes = run
                .store
                .get(&run.child(SHARDS))
                .await
                .map_err(|e| store_error(&run.shown_child(SHARDS), "reading", e))?
                .bytes()
                .await
                .map_err(|e| store_error(&run.shown_child(SHARDS), "reading", e))?;
            let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                crate::error::input(
                    format!("{} is not a shard cut: {e}", run.shown_child(SHARDS)),
                    None,
                )
            })?;
            return Ok(Some(doc));
        }
        if !wait {
            return Ok(None);
        }
        if started.elapsed() > CUT_WAIT {
            return Err(crate::error::input(
                format!(
                    "no coordinator wrote its cut into {} within {} minutes",
                    run.shown,
                    CUT_WAIT.as_secs() / 60
                ),
                Some(
                    "start `convoy extract … --coordinate` with the same --run-id and --shards"
                        .to_string(),
                ),
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = ctx.cancel.cancelled() => return Err(crate::error::interrupted()),
        }
    }
}

/// The coordinator of a sharded extract: cut the source once, write the
/// cut into the run, hold what it needs (a snapshot) until every shard has
/// written its manifest.
async fn coordinate(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    ctx: &RunContext,
    c: &mut Copying,
) -> Result<Vec<Output>> {
    let open = c.open.clone();
    let run = run_place(plan, copy, stage, &open)?;
    c.report.stage = Some(stage_report(&run, stage, true));
    let (_, count) = stage.shard.unwrap_or((1, 1));
    let names: Vec<String> = run
        .list()
        .await?
        .iter()
        .filter_map(|m| run.name_of(m).map(str::to_string))
        .collect();
    if names
        .iter()
        .any(|n| manifest::parse_manifest_name(n).is_some())
    {
        return Err(crate::error::input(
            format!(
                "{} already has shard manifests: a coordinator's cut must come before its shards",
                run.shown
            ),
            Some("coordinate a new run (another --run-id)".to_string()),
        ));
    }
    let cut = plan
        .connector(&copy.from)
        .coordinate(&copy.from, count, &open)
        .await?;
    c.report
        .details
        .push(format!("cut for {count} shards: {}", cut.plan));
    if ctx.dry_run {
        return Ok(Vec::new());
    }
    run.put_json(
        SHARDS,
        &serde_json::json!({
            "shards": count,
            "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "plan": cut.plan,
        }),
    )
    .await?;
    // Held until every shard is done: a snapshot the shards joined stays
    // valid for as long as they read.
    let _hold = cut.hold;
    loop {
        let names: Vec<String> = run
            .list()
            .await?
            .iter()
            .filter_map(|m| run.name_of(m).map(str::to_string))
            .collect();
        let done = (1..=count)
            .filter(|i| names.contains(&manifest::manifest_name(*i, count)))
            .count();
        if done == count as usize {
            c.report
                .details
                .push(format!("all {count} shards wrote their manifests"));
            return Ok(Vec::new());
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = ctx.cancel.cancelled() => return Err(crate::error::interrupted()),
        }
    }
}

/// Source → a run of parts. Returns the parts and where the run is.
async fn extract(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    ctx: &RunContext,
    c: &mut Copying,
) -> Result<(Vec<Output>, RunPlace)> {
    let run = run_place(plan, copy, stage, &c.open)?;
    extract_into(plan, copy, stage, ctx, c, run, None).await
}

/// [`extract`] into a run known already, telling `feed` of every part.
async fn extract_into(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    ctx: &RunContext,
    c: &mut Copying,
    run: RunPlace,
    feed: Option<FeedSender>,
) -> Result<(Vec<Output>, RunPlace)> {
    let mut open = c.open.clone();
    c.report.stage = Some(stage_report(&run, stage, true));
    if let Some((index, count)) = stage.shard.filter(|(_, n)| *n > 1) {
        let cut = cut_of(&run, stage.wait_for_cut, ctx).await?;
        if let Some(cut) = &cut {
            if cut["shards"].as_u64() != Some(count as u64) {
                return Err(crate::error::usage(
                    format!(
                        "the coordinator cut {} for {} shards, this is shard {index} of {count}",
                        run.shown, cut["shards"]
                    ),
                    None,
                ));
            }
        }
        open.share = Some(crate::connect::Share {
            index,
            count,
            plan: cut.map(|c| c["plan"].clone()),
        });
    }
    let connector = plan.connector(&copy.from).clone();
    let from = copy.from.clone();
    let source = run::open_source(ctx, &open, move |o| connector.open_source(&from, &o)).await?;
    let origin = Origin {
        share: source.share(),
        source: source.describe(),
        source_region: plan
            .spec
            .connections
            .get(&copy.from.connection)
            .and_then(|conn| conn.region.clone()),
    };
    let sink = StageSink::new(
        run.clone(),
        stage.shard.unwrap_or((1, 1)),
        recipients(stage, &open)?,
        origin,
        open.cancel.clone(),
    );
    let sink = match feed {
        Some(feed) => sink.feeding(feed),
        None => sink,
    };
    let sink = match stage.part_mb {
        Some(mb) => sink.part_bytes(mb << 20),
        None => sink,
    };
    let outputs = run::transfer(source, Box::new(sink), &open, ctx, &mut c.report).await?;
    Ok((outputs, run))
}

/// A complete run → the destination; the run is marked loaded after the
/// destination committed.
async fn load(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    ctx: &RunContext,
    c: &mut Copying,
) -> Result<Vec<Output>> {
    let open = c.open.clone();
    let run = run_place(plan, copy, stage, &open)?;
    c.report.stage = Some(stage_report(&run, stage, true));
    let opener = complete_run(&run, stage);
    load_run(plan, copy, run, opener, ctx, &open, &mut c.report).await
}

/// Opens a complete run as a source (`stage.force`: also one loaded before).
fn complete_run(
    run: &RunPlace,
    stage: &StageSpec,
) -> impl FnOnce(OpenContext) -> Result<StageSource> + Send + 'static {
    let (place, force) = (run.clone(), stage.force);
    move |o: OpenContext| StageSource::open(place, force, &o)
}

/// A run → the destination through the stage source `opener` makes; the
/// run is marked loaded after the destination committed.
async fn load_run(
    plan: &Plan,
    copy: &Copy,
    run: RunPlace,
    opener: impl FnOnce(OpenContext) -> Result<StageSource> + Send + 'static,
    ctx: &RunContext,
    open: &OpenContext,
    report: &mut CopyReport,
) -> Result<Vec<Output>> {
    let source = run::open_source(ctx, open, move |o| {
        Ok(Box::new(opener(o)?) as Box<dyn crate::connect::Source>)
    })
    .await?;
    let sink = plan
        .connector(&copy.to)
        .open_sink(&copy.to, &copy.mode, open)?;
    let outputs = run::transfer(source, sink, open, ctx, report).await?;
    if !ctx.dry_run {
        mark_loaded(&run, open, report, &outputs).await;
    }
    Ok(outputs)
}

/// Mark a run loaded, so that loading it again needs `--force`.
async fn mark_loaded(run: &RunPlace, open: &OpenContext, report: &CopyReport, outputs: &[Output]) {
    let marker = serde_json::json!({
        "loaded_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "destination": report.sink,
        "rows": outputs.iter().map(|o| o.rows).sum::<u64>(),
        "convoy_version": env!("CARGO_PKG_VERSION"),
    });
    if let Err(e) = run.put_json(LOADED, &marker).await {
        open.warn(format!(
            "the destination was loaded, but marking {} as loaded failed: {}",
            run.shown,
            crate::error::messages(&e).join(": ")
        ));
    }
}

/// Whether the load may run while the extract still reads the source. Not
/// when the destination is replaced on a server the source is read from and
/// the source may read the destination's table (a query, or a table of the
/// same name): emptying the table takes a lock that reading it waits for.
/// (A view over the destination is caught while copying: the sink sees the
/// source wait for its lock and stops, the destination unchanged.)
fn may_overlap(plan: &Plan, copy: &Copy) -> bool {
    if !matches!(copy.mode, Mode::Replace) {
        return true;
    }
    let read = plan.connector(&copy.from).network();
    let written = plan.connector(&copy.to).network();
    if !read.iter().any(|e| written.contains(e)) {
        return true;
    }
    let bare = |t: &str| {
        t.rsplit('.')
            .next()
            .unwrap_or(t)
            .trim_matches(|c| matches!(c, '"' | '[' | ']'))
            .to_lowercase()
    };
    match (&copy.from.query, &copy.from.table, &copy.to.table) {
        (None, Some(from), Some(to)) => bare(from) != bare(to),
        _ => false,
    }
}

/// Extract, load, then remove the run (unless kept). The load follows the
/// extract part by part where it may ([`may_overlap`]); it commits only
/// after the extract has written its manifest and every part was read back
/// from the stage and verified.
async fn staged(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    ctx: &RunContext,
    c: &mut Copying,
) -> Result<Vec<Output>> {
    let run = run_place(plan, copy, stage, &c.open)?;
    let outputs = if ctx.dry_run || !may_overlap(plan, copy) {
        extract_then_load(plan, copy, stage, ctx, c, run.clone()).await?
    } else {
        extract_and_load(plan, copy, stage, ctx, c, run.clone()).await?
    };
    if ctx.dry_run {
        return Ok(outputs);
    }
    if stage.keep {
        c.report
            .details
            .push(format!("stage run kept: {}", run.shown));
    } else {
        match run.remove().await {
            Ok(()) => {
                if let Some(s) = &mut c.report.stage {
                    s.kept = false;
                }
            }
            Err(e) => c.open.warn(format!(
                "the destination was loaded, but removing the stage run {} failed: {}",
                run.shown,
                crate::error::messages(&e).join(": ")
            )),
        }
    }
    Ok(outputs)
}

/// The load runs beside the extract, reading each part once it is on the
/// stage. Its report is the copy's, with the extract's source, rows read
/// and details.
async fn extract_and_load(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    ctx: &RunContext,
    c: &mut Copying,
    run: RunPlace,
) -> Result<Vec<Output>> {
    let (feed, followed) = tokio::sync::mpsc::unbounded_channel();
    // The load counts its own rows: the progress shown is the extract's.
    let mut open = c.open.clone();
    open.counters = Default::default();
    let mut report = c.report.clone();
    let encryption = recipients(stage, &open)?.map(|r| Encryption {
        format: "age-encryption.org/v1".into(),
        recipients: r.iter().map(|r| r.to_string()).collect(),
    });
    let (i, n) = stage.shard.unwrap_or((1, 1));
    let manifest = manifest::manifest_name(i, n);
    let place = run.clone();
    let opener =
        move |o: OpenContext| StageSource::following(place, followed, encryption, manifest, &o);
    let load = load_run(plan, copy, run.clone(), opener, ctx, &open, &mut report);
    let (extracted, loaded) = tokio::join!(
        extract_into(plan, copy, stage, ctx, c, run.clone(), Some(feed)),
        load
    );
    // A load that follows a failed extract fails too (it never commits
    // before the extract's manifest is written): the extract's error is
    // the one to tell.
    extracted?;
    let mut details = std::mem::take(&mut c.report.details);
    details.append(&mut report.details);
    report.details = details;
    report.source = c.report.source.clone();
    report.stage = c.report.stage.clone();
    c.report = report;
    loaded
}

/// The extract to its end, then the load from the run it wrote.
async fn extract_then_load(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    ctx: &RunContext,
    c: &mut Copying,
    run: RunPlace,
) -> Result<Vec<Output>> {
    let (_, run) = extract_into(plan, copy, stage, ctx, c, run, None).await?;
    if ctx.dry_run {
        return Ok(Vec::new());
    }
    let extracted = c.report.clone();
    // The load is a pipeline of its own: its counters start again.
    let open = c.open.clone();
    let extracted_rows = open
        .counters
        .rows
        .load(std::sync::atomic::Ordering::Relaxed);
    open.counters
        .rows
        .store(0, std::sync::atomic::Ordering::Relaxed);
    open.counters
        .bytes_read
        .store(0, std::sync::atomic::Ordering::Relaxed);
    c.report.details.clear();
    let opener = complete_run(&run, stage);
    let loaded = load_run(plan, copy, run, opener, ctx, &open, &mut c.report).await;
    c.report.rows_read = extracted_rows;
    c.report.source = extracted.source.clone();
    let mut details = extracted.details;
    details.append(&mut c.report.details);
    c.report.details = details;
    loaded
}
