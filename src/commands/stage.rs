//! `convoy extract`, `convoy load` and `convoy stage list|rm`: the halves
//! of a staged copy run apart, and the housekeeping of a stage.

use crate::cli::{ExtractArgs, GlobalOpts, LoadArgs, StageCmd};
use crate::error;
use crate::plan::Plan;
use crate::security::redact::redact;
use crate::stage::housekeeping::{self, RunInfo, RunState};
use crate::stage::RunPlace;

/// Flags of `convoy copy` that make no sense for one half.
fn refuse_stage_flags(opts: &crate::cli::CopyOpts, what: &str) -> anyhow::Result<()> {
    if opts.stage.is_some() || opts.keep_stage {
        return Err(error::usage(
            format!(
                "--stage and --keep-stage belong to `convoy copy`; {what} names its stage itself"
            ),
            None,
        ));
    }
    Ok(())
}

pub async fn extract(args: &ExtractArgs, g: &GlobalOpts) -> i32 {
    let plan = refuse_stage_flags(&args.opts, "extract")
        .and_then(|()| {
            if args.coordinate {
                Ok(None)
            } else {
                super::shard_of(&args.shards)
            }
        })
        .and_then(|shard| {
            let shard = shard.map(|(i, n, _)| (i, n));
            if args.coordinate && (args.shards.shards.is_none() || args.run_id.is_none()) {
                return Err(error::usage(
                    "--coordinate cuts a run for its shards: give --shards N and --run-id",
                    None,
                ));
            }
            if (shard.is_some() || args.coordinate) && args.run_id.is_none() {
                return Err(error::usage(
                    "the shards of a run must share its id: give --run-id (e.g. the scheduler's job name)",
                    None,
                ));
            }
            let sharding = crate::plan::Sharding {
                shard: if args.coordinate {
                    args.shards.shards.map(|n| (1, n))
                } else {
                    shard
                },
                coordinate: args.coordinate,
                wait_for_cut: args.coordinated,
            };
            Plan::for_extract(
                &args.source,
                &args.stage,
                args.run_id.clone(),
                sharding,
                &args.opts.flags(),
            )
        });
    match plan {
        Ok(plan) if args.plan => super::plan::run(&plan, &[0], g),
        Ok(plan) => super::copy::run(&plan, None, args.dry_run, g, "extract").await,
        Err(e) => super::fail_early(&e, g, "extract"),
    }
}

pub async fn load(args: &LoadArgs, g: &GlobalOpts) -> i32 {
    let plan = refuse_stage_flags(&args.opts, "load")
        .and_then(|()| {
            if args.opts.encrypt_stage || !args.opts.recipients.is_empty() {
                Err(error::usage(
                    "--encrypt-stage and --recipient belong to the extract; a load decrypts with this machine's identity",
                    None,
                ))
            } else {
                Ok(())
            }
        })
        .and_then(|()| {
            Plan::for_load(&args.run, &args.destination, args.force, &args.opts.flags())
        });
    match plan {
        Ok(plan) if args.plan => super::plan::run(&plan, &[0], g),
        Ok(plan) => super::copy::run(&plan, None, args.dry_run, g, "load").await,
        Err(e) => super::fail_early(&e, g, "load"),
    }
}

pub async fn run(cmd: &StageCmd, g: &GlobalOpts) -> i32 {
    let result = match cmd {
        StageCmd::List { stage } => list(stage, g).await,
        StageCmd::Rm {
            target,
            older_than,
            incomplete,
        } => rm(target, older_than.as_deref(), *incomplete, g).await,
    };
    match result {
        Ok(()) => 0,
        Err(e) => super::fail_early(&e, g, "stage"),
    }
}

/// A stage's store and path, as a connection builds them.
fn open(
    text: &str,
    g: &GlobalOpts,
) -> anyhow::Result<(crate::connect::StageStore, crate::connect::OpenContext)> {
    let (connector, path) = crate::plan::stage_at(text)?;
    let ctx = crate::connect::OpenContext::new(
        "stage".into(),
        chrono::Utc::now().format("%Y-%m-%d").to_string(),
        g.allow_insecure,
        std::sync::Arc::new(crate::security::reference::ResolveContext::new(
            g.vault.clone(),
        )),
        tokio_util::sync::CancellationToken::new(),
    );
    let st = tokio::task::block_in_place(|| connector.stage_store(&path, &ctx))?;
    Ok((st, ctx))
}

async fn list(stage: &str, g: &GlobalOpts) -> anyhow::Result<()> {
    let (st, _) = open(stage, g)?;
    let runs = housekeeping::list(st.store, &st.root, &st.path).await?;
    if g.json {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "convoy_version": env!("CARGO_PKG_VERSION"),
            "command": "stage list",
            "runs": runs,
        }))?;
        println!("{}", redact(&text));
        return Ok(());
    }
    print_runs(&runs);
    Ok(())
}

fn print_runs(runs: &[RunInfo]) {
    if runs.is_empty() {
        println!("no runs");
        return;
    }
    let mut out = format!(
        "{:<11} {:>7} {:>12} {:>10} {:>9}  {}\n",
        "state", "shards", "rows", "bytes", "age", "run"
    );
    for r in runs {
        out.push_str(&format!(
            "{:<11} {:>7} {:>12} {:>10} {:>9}  {}{}\n",
            match r.state {
                RunState::Complete => "complete",
                RunState::Incomplete => "incomplete",
                RunState::Loaded => "loaded",
            },
            r.shards,
            r.rows,
            crate::report::human_bytes(r.bytes),
            human_age(r.age_s),
            r.location,
            if r.encrypted { "  (encrypted)" } else { "" }
        ));
    }
    print!("{}", redact(&out));
}

fn human_age(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

async fn rm(
    target: &str,
    older_than: Option<&str>,
    incomplete_only: bool,
    g: &GlobalOpts,
) -> anyhow::Result<()> {
    let mut removed = Vec::new();
    match older_than {
        None => {
            if incomplete_only {
                return Err(error::usage(
                    "--incomplete selects runs of a stage: give --older-than too",
                    None,
                ));
            }
            let trimmed = target.trim_end_matches('/');
            let (stage, run) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
            let (st, _) = open(stage, g)?;
            let place = RunPlace::at(st.store, &st.root, &format!("{}/{run}", st.path))?;
            let n = housekeeping::remove(&place).await?;
            if n == 0 {
                return Err(error::input(
                    format!("there is no stage run at {}", place.shown),
                    Some("`convoy stage list STAGE` shows the runs of a stage".to_string()),
                ));
            }
            removed.push((place.shown, n));
        }
        Some(age) => {
            let limit = crate::spec::fields::parse_duration(age).ok_or_else(|| {
                error::usage(
                    format!("--older-than {age:?} is not an age (e.g. 7d, 12h, 30m)"),
                    None,
                )
            })?;
            let (st, _) = open(target, g)?;
            let runs = housekeeping::list(st.store.clone(), &st.root, &st.path).await?;
            for r in runs {
                if (r.age_s as u64) < limit.as_secs()
                    || (incomplete_only && r.state != RunState::Incomplete)
                {
                    continue;
                }
                let place = RunPlace::new(st.store.clone(), &st.root, &st.path, &r.run_id)?;
                let n = housekeeping::remove(&place).await?;
                removed.push((place.shown, n));
            }
        }
    }
    if g.json {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "convoy_version": env!("CARGO_PKG_VERSION"),
            "command": "stage rm",
            "removed": removed.iter().map(|(r, n)| serde_json::json!({"run": r, "objects": n})).collect::<Vec<_>>(),
        }))?;
        println!("{}", redact(&text));
    } else if !g.quiet {
        for (r, n) in &removed {
            println!("removed {r} ({n} objects)");
        }
        if removed.is_empty() {
            println!("no runs to remove");
        }
    }
    Ok(())
}
