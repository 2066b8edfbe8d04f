//! The commands: turn parsed arguments into plans, run them, report, and
//! return the exit status. One file per command family; errors are printed
//! the same way by all of them (`error::render`).

pub mod check;
pub mod copy;
pub mod plan;
pub mod secrets;
pub mod stage;

use std::io::Write;

use crate::cli::{Cli, Command, CopyOpts, GlobalOpts};
use crate::error;
use crate::plan::Plan;
use crate::report::{self, Summary};
use crate::spec;

/// Run a parsed command line; returns the process exit status.
pub fn main(cli: Cli) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 1;
        }
    };
    let code = rt.block_on(dispatch(cli));
    // The runtime is left running until the process exits instead of being
    // shut down: a reader may still be blocked on a silent pipe or peer (a
    // copy that was interrupted or failed does not wait for it), and
    // tokio panics in a blocking thread whose `Handle::block_on` still polls
    // a socket while the runtime shuts down. Every copy has finished,
    // committed or aborted by now; nothing left running has work to finish.
    std::mem::forget(rt);
    code
}

async fn dispatch(cli: Cli) -> i32 {
    let g = &cli.global;
    match &cli.command {
        Command::Copy(args) => {
            match Plan::from_args(
                &args.source,
                &args.destination,
                args.opts.stage.as_deref(),
                &args.opts.flags(),
            ) {
                Ok(plan) => copy::run(&plan, None, args.dry_run, g, "copy").await,
                Err(e) => fail_early(&e, g, "copy"),
            }
        }
        Command::Run(args) => match Plan::load(&args.spec).and_then(|p| {
            let shard = shard_of(&args.shards)?.map(|(i, n, _)| (i, n));
            Ok((p, shard))
        }) {
            Ok((plan, shard)) => {
                copy::run_share(&plan, Some(&args.copies), shard, args.dry_run, g, "run").await
            }
            Err(e) => fail_early(&e, g, "run"),
        },
        Command::Plan(args) => match plan_of(&args.args, &args.opts) {
            Ok(plan) => match select(&plan.spec, &args.copies) {
                Ok(indices) => plan::run(&plan, &indices, g),
                Err(e) => fail_early(&e, g, "plan"),
            },
            Err(e) => fail_early(&e, g, "plan"),
        },
        Command::Check(args) => match plan_of(&args.args, &args.opts) {
            Ok(plan) => match select(&plan.spec, &args.copies) {
                Ok(indices) => check::run(&plan, &indices, g).await,
                Err(e) => fail_early(&e, g, "check"),
            },
            Err(e) => fail_early(&e, g, "check"),
        },
        Command::Extract(args) => stage::extract(args, g).await,
        Command::Load(args) => stage::load(args, g).await,
        Command::Stage(cmd) => stage::run(cmd, g).await,
        Command::Secrets(cmd) => {
            let cmd = cmd.clone();
            let vault = g.vault.clone();
            match tokio::task::spawn_blocking(move || secrets::run(cmd, vault)).await {
                Ok(Ok(())) => 0,
                Ok(Err(e)) => {
                    eprint!("{}", error::render(&e));
                    error::exit_kind(&e).code()
                }
                Err(e) => {
                    eprintln!("error: internal error: {e}");
                    1
                }
            }
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout();
            clap_complete::generate(*shell, &mut cmd, "convoy", &mut out);
            let _ = out.flush();
            0
        }
    }
}

/// A spec file, or SRC DST.
fn plan_of(args: &[String], opts: &CopyOpts) -> anyhow::Result<Plan> {
    match args {
        [spec_file] => Plan::load(std::path::Path::new(spec_file)),
        [src, dst] => Plan::from_args(src, dst, opts.stage.as_deref(), &opts.flags()),
        _ => Err(error::usage("plan takes a spec file or SRC DST", None)),
    }
}

/// The indices of the copies named with `--copy` (all when none are named).
fn select(spec: &spec::Spec, names: &[String]) -> anyhow::Result<Vec<usize>> {
    if names.is_empty() {
        return Ok((0..spec.copies.len()).collect());
    }
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for n in names {
        match spec.copies.iter().position(|c| &c.name == n) {
            Some(i) => out.push(i),
            None => {
                let hint = spec::suggest(n, spec.copies.iter().map(|c| c.name.as_str()))
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default();
                unknown.push(format!("--copy {n}: no copy of that name{hint}"));
            }
        }
    }
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(error::usage(unknown.join("\n"), None))
    }
}

/// An error before any copy ran: print it (and a JSON document) and exit.
pub(crate) fn fail_early(e: &anyhow::Error, g: &GlobalOpts, command: &str) -> i32 {
    let kind = error::exit_kind(e);
    if g.json {
        report::print_json(&Summary {
            convoy_version: env!("CARGO_PKG_VERSION"),
            command,
            status: report::status_word(kind),
            exit_code: kind.code(),
            dry_run: false,
            run_id: "",
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_s: std::time::Duration::ZERO,
            insecure: Vec::new(),
            copies: &[],
            error: Some(report::ErrorReport::from_error(e)),
        });
    }
    eprint!("{}", error::render(e));
    kind.code()
}

/// This process's share `(I, N, where I came from)`: `--shard I/N`, or
/// `--shards N` with the index from the scheduler's environment.
pub(crate) fn shard_of(opts: &crate::cli::ShardOpts) -> anyhow::Result<Option<(u32, u32, String)>> {
    let bad = |m: String| {
        error::usage(
            m,
            Some(
                "give --shard I/N (1 ≤ I ≤ N), or --shards N in a scheduler that sets the index"
                    .to_string(),
            ),
        )
    };
    if let Some(text) = &opts.shard {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| bad(format!("--shard {text:?}: expected I/N, e.g. 2/3")))?;
        let (i, n): (u32, u32) = match (i.trim().parse(), n.trim().parse()) {
            (Ok(i), Ok(n)) => (i, n),
            _ => return Err(bad(format!("--shard {text:?}: expected I/N, e.g. 2/3"))),
        };
        if n == 0 || i == 0 || i > n {
            return Err(bad(format!("--shard {text}: I must be from 1 to N")));
        }
        if opts.shards.is_some_and(|s| s != n) {
            return Err(bad(format!(
                "--shard {text} and --shards {} disagree",
                opts.shards.unwrap_or(0)
            )));
        }
        return Ok(Some((i, n, "--shard".into())));
    }
    let Some(n) = opts.shards else {
        return Ok(None);
    };
    if n == 0 {
        return Err(bad("--shards must be at least 1".into()));
    }
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let (index, from) = if let Some(i) = var("CONVOY_SHARD") {
        (i, "CONVOY_SHARD")
    } else if let Some(i) = var("JOB_COMPLETION_INDEX") {
        (i + 1, "JOB_COMPLETION_INDEX")
    } else if let Some(i) = var("AWS_BATCH_JOB_ARRAY_INDEX") {
        (i + 1, "AWS_BATCH_JOB_ARRAY_INDEX")
    } else if let Some(i) = var("SLURM_ARRAY_TASK_ID") {
        (
            i - var("SLURM_ARRAY_TASK_MIN").unwrap_or(0) + 1,
            "SLURM_ARRAY_TASK_ID",
        )
    } else {
        return Err(bad(format!(
            "--shards {n}: no shard index in the environment (CONVOY_SHARD, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX, SLURM_ARRAY_TASK_ID)"
        )));
    };
    if index < 1 || index > n as i64 {
        return Err(bad(format!(
            "{from} gives shard {index} of {n}: out of range"
        )));
    }
    Ok(Some((index as u32, n, from.to_string())))
}
