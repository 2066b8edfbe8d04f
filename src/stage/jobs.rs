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

use super::manifest::LOADED;
use super::sink::{Origin, StageSink};
use super::source::StageSource;
use super::RunPlace;
use crate::connect::{OpenContext, Output};
use crate::plan::Plan;
use crate::report::{CopyReport, StageReport};
use crate::run::{self, Copying, RunContext};
use crate::spec::{Copy, StageHalf, StageSpec};

/// Run a copy that has a stage.
pub async fn run(plan: &Plan, copy: &Copy, ctx: &RunContext) -> CopyReport {
    let stage = copy.stage.as_ref().expect("a staged copy");
    let (source, sink) = match stage.only {
        Some(StageHalf::Extract) => (plan.describe(&copy.from), plan.describe(&stage.endpoint)),
        Some(StageHalf::Load) => (plan.describe(&stage.endpoint), plan.describe(&copy.to)),
        None => (plan.describe(&copy.from), plan.describe(&copy.to)),
    };
    let mut c = Copying::start(copy, source, sink, ctx);
    let result = match plan.check_regions(copy, ctx.allow_cross_region) {
        Err(e) => Err(e),
        Ok(()) => match stage.only {
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

/// Source → a run of parts. Returns the parts and where the run is.
async fn extract(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    ctx: &RunContext,
    c: &mut Copying,
) -> Result<(Vec<Output>, RunPlace)> {
    let open = c.open.clone();
    let run = run_place(plan, copy, stage, &open)?;
    c.report.stage = Some(stage_report(&run, stage, true));
    let connector = plan.connector(&copy.from).clone();
    let from = copy.from.clone();
    let source = run::open_source(ctx, &open, move |o| connector.open_source(&from, &o)).await?;
    let origin = Origin {
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
    load_run(plan, copy, stage, run, ctx, &open, &mut c.report).await
}

async fn load_run(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    run: RunPlace,
    ctx: &RunContext,
    open: &OpenContext,
    report: &mut CopyReport,
) -> Result<Vec<Output>> {
    let force = stage.force;
    let place = run.clone();
    let source = run::open_source(ctx, open, move |o| {
        Ok(Box::new(StageSource::open(place, force, &o)?) as Box<dyn crate::connect::Source>)
    })
    .await?;
    let sink = plan
        .connector(&copy.to)
        .open_sink(&copy.to, &copy.mode, open)?;
    let outputs = run::transfer(source, sink, open, ctx, report).await?;
    if !ctx.dry_run {
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
    Ok(outputs)
}

/// Extract, load, then remove the run (unless kept).
async fn staged(
    plan: &Plan,
    copy: &Copy,
    stage: &StageSpec,
    ctx: &RunContext,
    c: &mut Copying,
) -> Result<Vec<Output>> {
    let (_, run) = extract(plan, copy, stage, ctx, c).await?;
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
    let loaded = load_run(plan, copy, stage, run.clone(), ctx, &open, &mut c.report).await;
    c.report.rows_read = extracted_rows;
    c.report.source = extracted.source.clone();
    let mut details = extracted.details;
    details.append(&mut c.report.details);
    c.report.details = details;
    let outputs = loaded?;
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
            Err(e) => open.warn(format!(
                "the destination was loaded, but removing the stage run {} failed: {}",
                run.shown,
                crate::error::messages(&e).join(": ")
            )),
        }
    }
    Ok(outputs)
}
