//! `convoy plan`: what each copy would do — source, sink, formats, mode, how
//! the destination is published, regions — and every network endpoint the
//! copies need (what an administrator opens in a firewall; convoy needs no
//! inbound port). Nothing is contacted.

use crate::cli::GlobalOpts;
use crate::plan::{all_endpoints, CopyPlan, Plan};
use crate::security::redact::redact;

/// Print the plans of the selected copies; returns the exit status.
pub fn run(plan: &Plan, indices: &[usize], g: &GlobalOpts) -> i32 {
    let plans: Vec<CopyPlan> = indices
        .iter()
        .map(|&i| plan.copy_plan(&plan.spec.copies[i]))
        .collect();
    if g.json {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "convoy_version": env!("CARGO_PKG_VERSION"),
            "copies": plans,
            "endpoints": all_endpoints(&plans),
        }))
        .expect("plans serialise");
        println!("{}", redact(&text));
    } else {
        print_human(&plans);
    }
    0
}

fn print_human(plans: &[CopyPlan]) {
    let mut out = String::new();
    for p in plans {
        out.push_str(&format!("copy {}\n", p.name));
        out.push_str(&format!(
            "  from:     {}{}\n",
            p.source,
            p.source_format
                .as_ref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        ));
        out.push_str(&format!("  schema:   {}\n", p.source_schema));
        if let Some(csv) = &p.source_csv {
            out.push_str(&format!("  csv:      {csv}\n"));
        }
        out.push_str(&format!(
            "  to:       {}{}\n",
            p.sink,
            p.sink_format
                .as_ref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        ));
        out.push_str(&format!("  mode:     {}\n", p.mode));
        if let Some(st) = &p.stage {
            out.push_str(&format!(
                "  stage:    {}{}{}\n",
                st.location,
                if st.encrypted {
                    " (parts encrypted on this machine)"
                } else {
                    ""
                },
                if st.kept {
                    "; the run is kept"
                } else {
                    "; the run is removed after the load"
                }
            ));
        }
        out.push_str(&format!("  publish:  {}\n", p.publish));
        out.push_str(&format!(
            "  regions:  {} -> {}\n",
            p.source_region.as_deref().unwrap_or("unknown"),
            p.sink_region.as_deref().unwrap_or("unknown")
        ));
        out.push('\n');
    }
    let endpoints = all_endpoints(plans);
    if endpoints.is_empty() {
        out.push_str("network endpoints: none (local files only; convoy needs no inbound port)\n");
    } else {
        out.push_str("network endpoints (outbound only; convoy needs no inbound port):\n");
        let hp: Vec<String> = endpoints
            .iter()
            .map(|e| format!("{}:{}", e.host, e.port))
            .collect();
        let w = hp.iter().map(String::len).max().unwrap_or(0);
        let pw = endpoints
            .iter()
            .map(|e| e.protocol.len())
            .max()
            .unwrap_or(0);
        for (e, hp) in endpoints.iter().zip(&hp) {
            out.push_str(&format!("  {hp:<w$}  {:<pw$}  {}\n", e.protocol, e.tls));
        }
    }
    print!("{}", redact(&out));
}
