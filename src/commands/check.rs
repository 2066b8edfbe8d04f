//! `convoy check`: can every endpoint of a spec be reached, safely, with the
//! credentials given, and does it grant what the copy needs? Nothing is
//! written anywhere.
//!
//! This file only gathers the endpoints of the selected copies, asks each
//! one's connector for its steps (typically DNS, TCP, TLS through
//! `connect::probe`, login, access; see each connector's `check.rs`), and
//! renders the results.
//!
//! Exit status: 3 when any endpoint fails a security check (no TLS, unknown
//! CA, wrong host name, expired certificate, pin mismatch, insecure setting
//! without `--allow-insecure`), else 1 when any is unreachable or refuses
//! the login or access, else 0.

use std::sync::Arc;

use serde::Serialize;

use crate::cli::GlobalOpts;
use crate::connect::{OpenContext, Role, Status, Step, TlsInfo};
use crate::error::ExitKind;
use crate::plan::Plan;
use crate::security::redact::redact;
use crate::security::reference::ResolveContext;
use crate::spec::{Endpoint, Mode, StageHalf};

/// What an endpoint is to the copies that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Source,
    Sink,
    Stage,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Source => "source",
            Target::Sink => "sink",
            Target::Stage => "stage",
        }
    }
}

/// The checks of one endpoint (a source, sink or stage of one or more copies).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointCheck {
    pub endpoint: String,
    pub role: &'static str,
    pub copies: Vec<String>,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    pub status: Status,
    pub steps: Vec<Step>,
}

/// Check the endpoints of the selected copies, print the report, return the
/// exit status.
pub async fn run(plan: &Plan, indices: &[usize], g: &GlobalOpts) -> i32 {
    let spec = &plan.spec;
    let secrets = ResolveContext::new(g.vault.clone()).with_base_dir(spec.base_dir.clone());
    let ctx = OpenContext::new(
        "check".into(),
        chrono::Utc::now().format("%Y-%m-%d").to_string(),
        g.allow_insecure,
        Arc::new(secrets),
        tokio_util::sync::CancellationToken::new(),
    );
    // One check per distinct (connection, object, role), naming every copy that uses it.
    let mut targets: Vec<(Endpoint, Target, Mode, Vec<String>)> = Vec::new();
    for &i in indices {
        let copy = &spec.copies[i];
        let half = copy.stage.as_ref().and_then(|s| s.only);
        let ends = [
            (&copy.from, Target::Source, half != Some(StageHalf::Load)),
            (&copy.to, Target::Sink, half != Some(StageHalf::Extract)),
        ];
        let stage = copy
            .stage
            .as_ref()
            .map(|s| (&s.endpoint, Target::Stage, true));
        for (ep, role, wanted) in ends.into_iter().chain(stage) {
            if !wanted {
                continue;
            }
            let same = |t: &(Endpoint, Target, Mode, Vec<String>)| {
                t.1 == role
                    && t.0.connection == ep.connection
                    && t.0.table == ep.table
                    && t.0.path == ep.path
                    && t.0.query == ep.query
                    && t.2 == copy.mode
            };
            match targets.iter_mut().find(|t| same(t)) {
                Some(t) => t.3.push(copy.name.clone()),
                None => {
                    targets.push((ep.clone(), role, copy.mode.clone(), vec![copy.name.clone()]))
                }
            }
        }
    }
    let mut results = Vec::new();
    for (ep, target, mode, copies) in targets {
        let connector = plan.connector(&ep);
        let endpoint = redact(&connector.describe(&ep));
        if g.verbose > 0 && !g.json {
            eprintln!("convoy: checking {endpoint} ({})", target.name());
        }
        let role = match target {
            Target::Source => Role::Source,
            Target::Sink | Target::Stage => Role::Sink,
        };
        let mut found = connector.check(&ep, role, &mode, &ctx).await;
        let reached = found.steps.iter().all(|s| s.status < Status::Fail);
        if target == Target::Stage && reached {
            let path = ctx.path_of(&ep);
            found
                .steps
                .extend(crate::stage::check_stage(connector.as_ref(), &path, &ctx).await);
        }
        let mut c = EndpointCheck {
            endpoint,
            role: target.name(),
            copies,
            kind: connector.kind(),
            host: found.host,
            port: found.port,
            tls: found.tls,
            status: Status::Ok,
            steps: found.steps,
        };
        c.status = c.steps.iter().map(|s| s.status).max().unwrap_or(Status::Ok);
        if c.status == Status::Skipped {
            c.status = Status::Ok;
        }
        results.push(c);
    }
    let code = if results.iter().any(|c| c.status == Status::Refused) {
        ExitKind::Policy
    } else if results.iter().any(|c| c.status == Status::Fail) {
        ExitKind::Failed
    } else {
        ExitKind::Success
    };
    let (_, insecure) = ctx.warnings();
    if g.json {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "convoy_version": env!("CARGO_PKG_VERSION"),
            "command": "check",
            "status": crate::report::status_word(code),
            "exit_code": code.code(),
            "insecure": insecure,
            "endpoints": results,
        }))
        .expect("check report serialises");
        println!("{}", redact(&text));
    } else if !g.quiet || code != ExitKind::Success {
        print_human(&results);
    }
    code.code()
}

fn print_human(results: &[EndpointCheck]) {
    let mut out = String::new();
    for c in results {
        let at = match (&c.host, c.port) {
            (Some(h), Some(p)) => format!("  [{h}:{p}]"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{}{at}  ({} of {})\n",
            c.endpoint,
            c.role,
            c.copies.join(", ")
        ));
        for s in &c.steps {
            out.push_str(&format!(
                "  {:<7} {:<8} {}\n",
                s.step,
                s.status.word(),
                s.detail
            ));
            if let Some(h) = &s.hint {
                out.push_str(&format!("  {:<7} {:<8} hint: {h}\n", "", ""));
            }
        }
        out.push('\n');
    }
    let count = |st: Status| results.iter().filter(|c| c.status == st).count();
    out.push_str(&format!(
        "{} endpoint(s): {} ok, {} with warnings, {} failed, {} refused\n",
        results.len(),
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Refused)
    ));
    print!("{}", redact(&out));
}
