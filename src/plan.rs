//! What a copy would do, without doing it: source, sink, formats, mode, how
//! the destination is published, regions, and every network endpoint the
//! copy needs (what an administrator opens in a firewall; convoy needs no
//! inbound port). Drives `convoy plan`.

use serde::Serialize;

use crate::connect::{self, format::MANIFEST, NetworkEndpoint};
use crate::spec::{Copy, Endpoint, Format, Kind, Spec};

#[derive(Debug, Clone, Serialize)]
pub struct CopyPlan {
    pub name: String,
    pub source: String,
    pub source_format: Option<String>,
    pub source_schema: String,
    pub sink: String,
    pub sink_format: Option<String>,
    pub mode: String,
    pub publish: String,
    pub source_region: Option<String>,
    pub sink_region: Option<String>,
    pub endpoints: Vec<NetworkEndpoint>,
}

fn format_of(ep: &Endpoint) -> Option<Format> {
    ep.format
        .or_else(|| ep.path.as_deref().and_then(Format::from_path))
}

fn region(spec: &Spec, ep: &Endpoint) -> Option<String> {
    spec.connections
        .get(&ep.connection)
        .and_then(|c| c.region.clone())
}

pub fn plan_copy(spec: &Spec, copy: &Copy) -> CopyPlan {
    let sink_kind = connect::kind_of(spec, &copy.to);
    let sink_format = format_of(&copy.to);
    let publish = match (sink_kind, copy.to.max_rows_per_file) {
        (Kind::Local, None) => {
            "written to a hidden temporary file beside the destination, fsynced, renamed into place"
                .to_string()
        }
        (Kind::Local, Some(n)) => format!(
            "files of at most {n} rows written into a hidden staging directory with {MANIFEST} last, swapped with the destination directory"
        ),
        (Kind::Mssql, _) => connect::mssql::publish(&copy.mode).to_string(),
        (k, None) if connect::objstore::handles(k) => {
            "one multipart upload, completed at commit (aborted on error or interrupt): readers see the old object or the whole new one"
                .to_string()
        }
        (k, Some(n)) if connect::objstore::handles(k) => format!(
            "objects of at most {n} rows under the prefix, then {MANIFEST} last; objects of the previous output are deleted after it"
        ),
        (k, _) => format!("{} sink", k.name()),
    };
    let source_schema = match (&copy.from.schema, format_of(&copy.from)) {
        (Some(s), _) => format!("declared: {}", crate::schema::format_schema(s)),
        (None, Some(Format::Csv | Format::Json)) => format!(
            "inferred at run time from the first {} rows",
            copy.from.infer_rows
        ),
        _ => "from the source".to_string(),
    };
    CopyPlan {
        name: copy.name.clone(),
        source: connect::describe(spec, &copy.from),
        source_format: format_of(&copy.from).map(|f| f.name().to_string()),
        source_schema,
        sink: connect::describe(spec, &copy.to),
        sink_format: sink_format.map(|f| {
            if f == Format::Parquet {
                format!(
                    "parquet ({}, row groups of {} rows)",
                    copy.to.parquet.compression, copy.to.parquet.row_group_size
                )
            } else {
                f.name().to_string()
            }
        }),
        mode: copy.mode.name().to_string(),
        publish,
        source_region: region(spec, &copy.from),
        sink_region: region(spec, &copy.to),
        endpoints: [&copy.from, &copy.to]
            .into_iter()
            .filter_map(|ep| spec.connections.get(&ep.connection))
            .filter_map(connect::network_endpoint)
            .fold(Vec::new(), |mut all, e| {
                if !all.contains(&e) {
                    all.push(e);
                }
                all
            }),
    }
}

/// Print plans as text.
pub fn print_human(plans: &[CopyPlan]) {
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
        out.push_str(&format!(
            "  to:       {}{}\n",
            p.sink,
            p.sink_format
                .as_ref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        ));
        out.push_str(&format!("  mode:     {}\n", p.mode));
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
    print!("{}", crate::security::redact::redact(&out));
}

/// Every endpoint of these plans, once each, in first-seen order.
pub fn all_endpoints(plans: &[CopyPlan]) -> Vec<NetworkEndpoint> {
    let mut all: Vec<NetworkEndpoint> = Vec::new();
    for e in plans.iter().flat_map(|p| &p.endpoints) {
        if !all.contains(e) {
            all.push(e.clone());
        }
    }
    all
}

/// Refuse (exit 3) a copy whose known regions differ, unless allowed by the
/// copy's `allow_cross_region` or `--allow-cross-region`.
pub fn check_regions(spec: &Spec, copy: &Copy, allow_flag: bool) -> anyhow::Result<()> {
    let (Some(from), Some(to)) = (region(spec, &copy.from), region(spec, &copy.to)) else {
        return Ok(());
    };
    if from == to || copy.allow_cross_region || allow_flag {
        return Ok(());
    }
    Err(crate::error::policy(
        format!(
            "copy {} would move data from region {from} to region {to}",
            copy.name
        ),
        Some(
            "if that is intended, set allow_cross_region = true on the copy or pass --allow-cross-region"
                .to_string(),
        ),
    ))
}
