//! The commands: turn parsed arguments into specs, run them, report, and
//! return the exit status.

use std::io::Write;

use crate::cli::{Cli, Command, CopyOpts, GlobalOpts};
use crate::error::{self, ExitKind};
use crate::report::{self, CopyReport, Progress, Summary};
use crate::run::{self, RunContext};
use crate::spec::{self, Spec};

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
    // Readers blocked on a pipe must not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

async fn dispatch(cli: Cli) -> i32 {
    let g = &cli.global;
    match &cli.command {
        Command::Copy(args) => {
            match spec::cli_spec::from_args(&args.source, &args.destination, &args.opts) {
                Ok(spec) => run_spec(&spec, None, args.dry_run, g, "copy").await,
                Err(e) => fail_early(&e, g, "copy"),
            }
        }
        Command::Run(args) => match spec::parse::parse_file(&args.spec) {
            Ok(spec) => run_spec(&spec, Some(&args.copies), args.dry_run, g, "run").await,
            Err(e) => fail_early(&e, g, "run"),
        },
        Command::Plan(args) => match plan_spec(&args.args, &args.opts) {
            Ok(spec) => match select(&spec, &args.copies) {
                Ok(indices) => {
                    let plans: Vec<_> = indices
                        .iter()
                        .map(|&i| crate::plan::plan_copy(&spec, &spec.copies[i]))
                        .collect();
                    if g.json {
                        let text = serde_json::to_string_pretty(&serde_json::json!({
                            "convoy_version": env!("CARGO_PKG_VERSION"),
                            "copies": plans,
                            "endpoints": crate::plan::all_endpoints(&plans),
                        }))
                        .expect("plans serialise");
                        println!("{}", crate::security::redact::redact(&text));
                    } else {
                        crate::plan::print_human(&plans);
                    }
                    0
                }
                Err(e) => fail_early(&e, g, "plan"),
            },
            Err(e) => fail_early(&e, g, "plan"),
        },
        Command::Check(args) => match plan_spec(&args.args, &args.opts) {
            Ok(spec) => match select(&spec, &args.copies) {
                Ok(indices) => crate::check::run(&spec, &indices, g).await,
                Err(e) => fail_early(&e, g, "check"),
            },
            Err(e) => fail_early(&e, g, "check"),
        },
        Command::Secrets(cmd) => {
            let cmd = cmd.clone();
            let vault = g.vault.clone();
            match tokio::task::spawn_blocking(move || crate::commands::secrets::run(cmd, vault))
                .await
            {
                Ok(Ok(())) => 0,
                Ok(Err(e)) => crate::commands::report(&e),
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

fn plan_spec(args: &[String], opts: &CopyOpts) -> anyhow::Result<Spec> {
    match args {
        [spec_file] => spec::parse::parse_file(std::path::Path::new(spec_file)),
        [src, dst] => spec::cli_spec::from_args(src, dst, opts),
        _ => Err(error::usage("plan takes a spec file or SRC DST", None)),
    }
}

/// The indices of the copies named with `--copy` (all when none are named).
fn select(spec: &Spec, names: &[String]) -> anyhow::Result<Vec<usize>> {
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

/// An error before any copy ran: print it (or a JSON document) and exit.
fn fail_early(e: &anyhow::Error, g: &GlobalOpts, command: &str) -> i32 {
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

async fn run_spec(
    spec: &Spec,
    names: Option<&Vec<String>>,
    dry_run: bool,
    g: &GlobalOpts,
    command: &str,
) -> i32 {
    let indices = match select(spec, names.map_or(&[][..], |v| &v[..])) {
        Ok(i) => i,
        Err(e) => return fail_early(&e, g, command),
    };
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now();
    let cancel = tokio_util::sync::CancellationToken::new();
    run::cancel_on_signals(cancel.clone());
    let ctx = RunContext {
        cancel: cancel.clone(),
        dry_run,
        run_id: format!(
            "{}-{}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
        run_date: started_at.format("%Y-%m-%d").to_string(),
        progress: Progress::new(g.progress, g.quiet || g.json),
        allow_cross_region: g.allow_cross_region,
        allow_insecure: g.allow_insecure,
        vault: g.vault.clone(),
    };
    let mut reports: Vec<CopyReport> = Vec::new();
    for &i in &indices {
        let copy = &spec.copies[i];
        if cancel.is_cancelled() {
            reports.push(CopyReport::new(copy, spec));
            continue;
        }
        if g.verbose > 0 && !g.json {
            eprintln!(
                "convoy: {}: {} -> {}",
                copy.name,
                crate::security::redact::redact(&crate::connect::describe(spec, &copy.from)),
                crate::security::redact::redact(&crate::connect::describe(spec, &copy.to))
            );
        }
        reports.push(run::run_copy(spec, copy, &ctx).await);
    }
    let kind = report::run_exit(&reports);
    if g.json {
        Summary::finalize(&mut reports);
        report::print_json(&Summary {
            convoy_version: env!("CARGO_PKG_VERSION"),
            command,
            status: report::status_word(kind),
            exit_code: kind.code(),
            dry_run,
            run_id: &ctx.run_id,
            started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_s: started.elapsed(),
            insecure: {
                let mut all: Vec<String> = Vec::new();
                for r in &reports {
                    for i in &r.insecure {
                        if !all.contains(i) {
                            all.push(i.clone());
                        }
                    }
                }
                all
            },
            copies: &reports,
            error: None,
        });
        // Errors still go to stderr for people reading CI logs.
        for r in &reports {
            if let Some(e) = &r.rendered_error {
                eprint!(
                    "{}",
                    e.replacen("error: ", &format!("error: {}: ", r.name), 1)
                );
            }
        }
    } else {
        report::print_human(&mut reports, g.quiet);
    }
    if kind == ExitKind::Interrupted {
        let _ = std::io::stdout().flush();
    }
    kind.code()
}
