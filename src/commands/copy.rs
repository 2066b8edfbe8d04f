//! `convoy copy` and `convoy run`: run the copies of a plan one after the
//! other, report each, and exit with the most serious status.

use std::io::Write;
use std::sync::Arc;

use crate::cli::GlobalOpts;
use crate::connect::OpenContext;
use crate::error::ExitKind;
use crate::plan::Plan;
use crate::report::{self, CopyReport, Progress, Summary};
use crate::run::{self, RunContext};
use crate::security::reference::ResolveContext;

/// Run the selected copies of a plan (all when `names` is none or empty).
pub async fn run(
    plan: &Plan,
    names: Option<&Vec<String>>,
    dry_run: bool,
    g: &GlobalOpts,
    command: &str,
) -> i32 {
    run_share(plan, names, None, dry_run, g, command).await
}

/// Run this process's share `(I, N)` of the selected copies: copy k of
/// them (0-based, in spec order) belongs to share k mod N + 1.
pub async fn run_share(
    plan: &Plan,
    names: Option<&Vec<String>>,
    share: Option<(u32, u32)>,
    dry_run: bool,
    g: &GlobalOpts,
    command: &str,
) -> i32 {
    let spec = &plan.spec;
    let indices = match super::select(spec, names.map_or(&[][..], |v| &v[..])) {
        Ok(i) => i,
        Err(e) => return super::fail_early(&e, g, command),
    };
    let indices: Vec<usize> = match share {
        None => indices,
        Some((i, n)) => indices
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % n as usize == (i - 1) as usize)
            .map(|(_, c)| c)
            .collect(),
    };
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now();
    let cancel = tokio_util::sync::CancellationToken::new();
    run::cancel_on_signals(cancel.clone());
    let run_id = format!(
        "{}-{}",
        started_at.format("%Y%m%dT%H%M%SZ"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let secrets = ResolveContext::new(g.vault.clone()).with_base_dir(spec.base_dir.clone());
    let ctx = RunContext {
        cancel: cancel.clone(),
        dry_run,
        progress: Progress::new(g.progress, g.quiet || g.json),
        allow_cross_region: g.allow_cross_region,
        open: OpenContext::new(
            run_id.clone(),
            started_at.format("%Y-%m-%d").to_string(),
            g.allow_insecure,
            Arc::new(secrets),
            cancel.clone(),
        ),
    };
    let mut reports: Vec<CopyReport> = Vec::new();
    for &i in &indices {
        let copy = &spec.copies[i];
        if cancel.is_cancelled() {
            reports.push(CopyReport::new(
                copy,
                plan.describe(&copy.from),
                plan.describe(&copy.to),
            ));
            continue;
        }
        if g.verbose > 0 && !g.json {
            eprintln!(
                "convoy: {}: {} -> {}",
                copy.name,
                crate::security::redact::redact(&plan.describe(&copy.from)),
                crate::security::redact::redact(&plan.describe(&copy.to))
            );
        }
        reports.push(match copy.stage {
            Some(_) => crate::stage::jobs::run(plan, copy, &ctx).await,
            None => run::run_copy(plan, copy, &ctx).await,
        });
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
            run_id: &run_id,
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
