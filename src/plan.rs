//! The resolved spec: every connection configured by its kind, every
//! endpoint checked by its connection — all before anything is contacted —
//! and what each copy would do. `plan`, `check` and `run` all start from a
//! [`Plan`].
//!
//! Resolving reports every problem at once: the spec's own (names, keys,
//! formats) and each kind's (badly typed settings, unknown TLS modes,
//! endpoints that do not fit the kind), each with its field path. A setting
//! refused by the security policy (a literal credential, encryption switched
//! off) makes it a refusal (exit 3) instead of a usage error (exit 2).

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::connect::{self, Connector, Connectors, NetworkEndpoint, Role};
use crate::spec::cli_spec::{self, CopyFlags};
use crate::spec::fields::Problems;
use crate::spec::{parse, Copy, Endpoint, Format, Spec, SpecError, SpecErrors, StageHalf};

/// How an extract takes part in a sharded run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sharding {
    /// This process's share, (I, N).
    pub shard: Option<(u32, u32)>,
    /// Be the coordinator (needs `shard` for N).
    pub coordinate: bool,
    /// Wait for the coordinator's cut.
    pub wait_for_cut: bool,
}

/// A spec whose connections are configured and whose endpoints fit them.
pub struct Plan {
    pub spec: Spec,
    connectors: Connectors,
}

impl Plan {
    /// Read, check and resolve a spec file.
    pub fn load(path: &Path) -> anyhow::Result<Plan> {
        let parsed = parse::parse_file(path)?;
        resolve(
            parsed.spec,
            parsed.errors,
            &path.display().to_string(),
            |p| p.to_string(),
        )
    }

    /// `convoy copy SRC DST …` as a plan.
    pub fn from_args(
        source: &str,
        destination: &str,
        stage: Option<&str>,
        flags: &CopyFlags,
    ) -> anyhow::Result<Plan> {
        let from = connect::locate(source, "SRC")?;
        let to = connect::locate(destination, "DST")?;
        let stage = stage.map(|s| connect::locate(s, "--stage")).transpose()?;
        let (spec, errors) = cli_spec::from_args(from, to, stage, flags);
        resolve(
            spec,
            errors,
            "the command line",
            cli_spec::command_line_path,
        )
    }

    /// `convoy extract SRC STAGE`: a copy whose destination is the stage.
    pub fn for_extract(
        source: &str,
        stage: &str,
        run_id: Option<String>,
        shards: Sharding,
        flags: &CopyFlags,
    ) -> anyhow::Result<Plan> {
        let from = connect::locate(source, "SRC")?;
        let at = connect::locate(stage, "STAGE")?;
        let (mut spec, errors) = cli_spec::from_args(from, at.clone(), Some(at), flags);
        if flags.name.is_none() {
            spec.copies[0].name = "extract".into();
        }
        if let Some(s) = spec.copies[0].stage.as_mut() {
            s.only = Some(StageHalf::Extract);
            s.run_id = run_id;
            s.keep = true;
            s.shard = shards.shard;
            s.coordinate = shards.coordinate;
            s.wait_for_cut = shards.wait_for_cut;
        }
        resolve(
            spec,
            errors,
            "the command line",
            cli_spec::command_line_path,
        )
    }

    /// `convoy load RUN DST`: a copy whose source is a stage run.
    pub fn for_load(
        run: &str,
        destination: &str,
        force: bool,
        flags: &CopyFlags,
    ) -> anyhow::Result<Plan> {
        let at = connect::locate(run, "RUN")?;
        let to = connect::locate(destination, "DST")?;
        let (mut spec, errors) = cli_spec::from_args(at.clone(), to, Some(at), flags);
        if flags.name.is_none() {
            spec.copies[0].name = "load".into();
        }
        if let Some(s) = spec.copies[0].stage.as_mut() {
            s.only = Some(StageHalf::Load);
            s.force = force;
            s.keep = true;
        }
        resolve(
            spec,
            errors,
            "the command line",
            cli_spec::command_line_path,
        )
    }

    /// The connection an endpoint is on.
    pub fn connector(&self, ep: &Endpoint) -> &Arc<dyn Connector> {
        self.connectors
            .get(&ep.connection)
            .expect("resolved: every endpoint's connection is configured")
    }

    pub fn describe(&self, ep: &Endpoint) -> String {
        self.connector(ep).describe(ep)
    }

    fn region(&self, ep: &Endpoint) -> Option<String> {
        self.spec
            .connections
            .get(&ep.connection)
            .and_then(|c| c.region.clone())
    }

    /// What a copy would do.
    pub fn copy_plan(&self, copy: &Copy) -> CopyPlan {
        let source_schema = match (&copy.from.schema, format_of(&copy.from)) {
            (Some(s), _) => format!("declared: {}", crate::schema::format_schema(s)),
            (None, Some(Format::Csv | Format::Json)) => format!(
                "inferred at run time from the first {} rows",
                copy.from.infer_rows
            ),
            _ => "from the source".to_string(),
        };
        let mut endpoints: Vec<NetworkEndpoint> = Vec::new();
        let stage = copy.stage.as_ref().map(|s| &s.endpoint);
        for ep in [&copy.from].into_iter().chain(stage).chain([&copy.to]) {
            for e in self.connector(ep).network() {
                if !endpoints.contains(&e) {
                    endpoints.push(e);
                }
            }
        }
        CopyPlan {
            name: copy.name.clone(),
            source: self.describe(&copy.from),
            source_format: format_of(&copy.from).map(|f| {
                let path = copy.from.path.as_deref().unwrap_or_default();
                match crate::connect::format::compression::Codec::from_path(path) {
                    Some(c) if matches!(f, Format::Csv | Format::Json) => {
                        format!("{}, {}-compressed", f.name(), c.name())
                    }
                    _ => f.name().to_string(),
                }
            }),
            source_schema,
            source_csv: (format_of(&copy.from) == Some(Format::Csv))
                .then(|| csv_plan(&copy.from.csv)),
            sink: self.describe(&copy.to),
            sink_format: format_of(&copy.to).map(|f| {
                if f == Format::Parquet {
                    format!(
                        "parquet ({}, row groups of {} rows)",
                        copy.to.parquet.compression, copy.to.parquet.row_group_size
                    )
                } else {
                    let path = copy.to.path.as_deref().unwrap_or_default();
                    let split = copy.to.max_rows_per_file.is_some();
                    match crate::connect::format::compression::output(
                        path,
                        f,
                        copy.to.compression,
                        split,
                    ) {
                        Ok(c) if c.codec.is_some() => format!("{}, {}", f.name(), c.describe()),
                        _ => f.name().to_string(),
                    }
                }
            }),
            mode: copy.mode.name().to_string(),
            publish: match copy.stage.as_ref() {
                Some(s) if s.coordinate => format!(
                    "cuts the source once for {} shards, writes the cut into the run and waits until every shard has written its manifest",
                    s.shard.map_or(1, |(_, n)| n)
                ),
                Some(s) if s.only == Some(StageHalf::Extract) => format!(
                    "Parquet parts{} written under the stage's run, then {} last: the run is complete when every shard's manifest is there",
                    if s.encrypt { ", encrypted on this machine," } else { "" },
                    match s.shard {
                        Some((i, n)) => format!("the manifest of shard {i} of {n}"),
                        None => "its manifest".to_string(),
                    }
                ),
                _ => self.connector(&copy.to).publish(&copy.to, &copy.mode),
            },
            stage: copy.stage.as_ref().map(|s| StagePlan {
                location: self.describe(&s.endpoint),
                region: self.region(&s.endpoint),
                encrypted: s.encrypt,
                kept: s.keep,
            }),
            source_region: self.region(&copy.from),
            sink_region: self.region(&copy.to),
            endpoints,
        }
    }

    /// Refuse (exit 3) a copy whose known regions differ — source, stage and
    /// destination — unless allowed by the copy's `allow_cross_region` or
    /// `--allow-cross-region`.
    pub fn check_regions(&self, copy: &Copy, allow_flag: bool) -> anyhow::Result<()> {
        if copy.allow_cross_region || allow_flag {
            return Ok(());
        }
        let stage = copy.stage.as_ref().map(|s| ("stage", &s.endpoint));
        let known: Vec<(&str, String)> = [("source", &copy.from)]
            .into_iter()
            .chain(stage)
            .chain([("destination", &copy.to)])
            .filter_map(|(what, ep)| self.region(ep).map(|r| (what, r)))
            .collect();
        let Some((first_what, first)) = known.first() else {
            return Ok(());
        };
        match known.iter().find(|(_, r)| r != first) {
            None => Ok(()),
            Some((what, other)) => Err(crate::error::policy(
                format!(
                    "copy {} would move data from region {first} to region {other}{}",
                    copy.name,
                    match (*first_what, *what) {
                        ("stage", _) => format!(" (the stage is in {first})"),
                        (_, "stage") => format!(" (the stage is in {other})"),
                        _ => String::new(),
                    }
                ),
                Some(
                    "if that is intended, set allow_cross_region = true on the copy or pass --allow-cross-region"
                        .to_string(),
                ),
            )),
        }
    }
}

/// Configure every connection and check every endpoint; all problems at
/// once. `show` renders a field path the way the user wrote the spec.
fn resolve(
    spec: Spec,
    mut errors: Vec<SpecError>,
    source: &str,
    show: impl Fn(&str) -> String,
) -> anyhow::Result<Plan> {
    let mut problems = Problems::default();
    let connectors = connect::configure(&spec, &mut problems);
    errors.append(&mut problems.errors);
    for (i, copy) in spec.copies.iter().enumerate() {
        if let Some(stage) = &copy.stage {
            if let Some(c) = connectors.get(&stage.endpoint.connection) {
                if !c.holds_stages() {
                    errors.push(SpecError {
                        path: format!("copy[{i}].stage.connection"),
                        message: format!(
                            "a {} connection cannot hold a stage (s3, azure, gcs or local)",
                            c.kind()
                        ),
                    });
                }
            }
            for (j, r) in stage.recipients.iter().enumerate() {
                if let Err(e) = crate::security::age::parse_recipient(r) {
                    errors.push(SpecError {
                        path: format!("copy[{i}].stage.recipients[{j}]"),
                        message: e.to_string(),
                    });
                }
            }
        }
        let half = copy.stage.as_ref().and_then(|s| s.only);
        for (side, role, ep) in [
            ("from", Role::Source, &copy.from),
            ("to", Role::Sink, &copy.to),
        ] {
            // The half of an extract or load that is the stage itself.
            let is_stage = matches!(
                (half, role),
                (Some(StageHalf::Extract), Role::Sink) | (Some(StageHalf::Load), Role::Source)
            );
            let Some(c) = connectors.get(&ep.connection).filter(|_| !is_stage) else {
                continue;
            };
            for (field, message) in c.check_endpoint(ep, role, &copy.mode) {
                let path = if field == "mode" {
                    format!("copy[{i}].mode")
                } else {
                    format!("copy[{i}].{side}.{field}")
                };
                errors.push(SpecError { path, message });
            }
        }
    }
    if !problems.refusals.is_empty() {
        let hint = problems.refusals[0].1.clone();
        let lines: Vec<String> = problems
            .refusals
            .iter()
            .map(|(e, _)| format!("  - {}: {}", show(&e.path), e.message))
            .collect();
        return Err(crate::error::policy(
            format!("{source} is refused:\n{}", lines.join("\n")),
            Some(hint),
        ));
    }
    if !errors.is_empty() {
        for e in &mut errors {
            e.path = show(&e.path);
        }
        return Err(SpecErrors {
            source: source.to_string(),
            errors,
        }
        .into_error());
    }
    Ok(Plan { spec, connectors })
}

/// A CSV source's dialect as a plan shows it: the settings given, and those
/// detected from a sample when the copy runs (`--dry-run` shows the result).
fn csv_plan(o: &crate::spec::CsvOptions) -> String {
    let ch = |b: u8| match b {
        b'\t' => "tab".to_string(),
        b => format!("'{}'", b as char),
    };
    let mut detected = Vec::new();
    let mut given = Vec::new();
    for (set, what) in [
        (o.set.delimiter, format!("delimiter {}", ch(o.delimiter))),
        (o.set.quote, format!("quote {}", ch(o.quote))),
        (
            o.set.header,
            format!("header {}", if o.header { "yes" } else { "no" }),
        ),
    ] {
        if set {
            given.push(what);
        } else {
            detected.push(what.split(' ').next().unwrap_or_default().to_string());
        }
    }
    let mut parts = given;
    if !detected.is_empty() {
        parts.push(format!(
            "{} detected at run time from a sample",
            detected.join(", ")
        ));
    }
    parts.join("; ")
}

fn format_of(ep: &Endpoint) -> Option<Format> {
    ep.format
        .or_else(|| ep.path.as_deref().and_then(Format::from_path))
}

#[derive(Debug, Clone, Serialize)]
pub struct CopyPlan {
    pub name: String,
    pub source: String,
    pub source_format: Option<String>,
    pub source_schema: String,
    /// A CSV source's dialect: what was given, and what is detected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_csv: Option<String>,
    pub sink: String,
    pub sink_format: Option<String>,
    pub mode: String,
    pub publish: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<StagePlan>,
    pub source_region: Option<String>,
    pub sink_region: Option<String>,
    pub endpoints: Vec<NetworkEndpoint>,
}

/// The stage a copy goes through.
#[derive(Debug, Clone, Serialize)]
pub struct StagePlan {
    pub location: String,
    pub region: Option<String>,
    pub encrypted: bool,
    pub kept: bool,
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

/// A stage (or a run on it) named on the command line: its connection,
/// configured, and the path on it.
pub fn stage_at(text: &str) -> anyhow::Result<(Arc<dyn Connector>, String)> {
    let (conn, path) = match connect::locate(text, "STAGE")? {
        cli_spec::Location::Local(p) => (None, p),
        cli_spec::Location::Remote(r) => {
            let (c, ep) = *r;
            (Some(c), ep.path.unwrap_or_default())
        }
    };
    let spec = Spec {
        base_dir: ".".into(),
        connections: conn
            .map(|c| (String::from("STAGE"), c))
            .into_iter()
            .collect(),
        copies: Vec::new(),
    };
    let mut problems = Problems::default();
    let mut connectors = connect::configure(&spec, &mut problems);
    if let Some((e, hint)) = problems.refusals.first() {
        return Err(crate::error::policy(e.to_string(), Some(hint.clone())));
    }
    if !problems.errors.is_empty() {
        return Err(SpecErrors {
            source: "the command line".into(),
            errors: problems.errors,
        }
        .into_error());
    }
    let key = if spec.connections.is_empty() {
        crate::spec::LOCAL
    } else {
        "STAGE"
    };
    let connector = connectors.remove(key).expect("configured");
    if !connector.holds_stages() {
        return Err(crate::error::usage(
            format!("a {} location cannot hold a stage", connector.kind()),
            Some("stage on s3://, az://, gs:// or a local directory".to_string()),
        ));
    }
    Ok((connector, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{exit_kind, hint, ExitKind};

    fn resolve_text(text: &str) -> anyhow::Result<Plan> {
        let parsed = parse::parse_str(text, "spec.toml", ".".into())?;
        resolve(parsed.spec, parsed.errors, "spec.toml", |p| p.to_string())
    }

    #[test]
    fn kinds_check_their_own_settings_with_the_spec_s_errors() {
        let e = resolve_text(
            r#"
[connections.lake]
kind = "lcoal"
[connections.db]
kind = "postgres"
port = "x"
tls = { mode = "bogus" }
hots = "h"
[[copy]]
from = { connection = "db", table = "t" }
to = { path = "a.parquet", format = "parqet" }
"#,
        )
        .err()
        .unwrap();
        assert_eq!(exit_kind(&e), ExitKind::Usage);
        let msg = e.to_string();
        for expected in [
            r#"connections.lake.kind: unknown kind "lcoal" (did you mean "local"?)"#,
            "connections.db.port: expected a port number (1 to 65535), found a string",
            r#"connections.db.tls.mode: unknown value "bogus""#,
            r#"connections.db.hots: unknown key (did you mean "host"?)"#,
            r#"copy[0].to.format: unknown format "parqet""#,
        ] {
            assert!(msg.contains(expected), "missing {expected:?} in:\n{msg}");
        }
    }

    #[test]
    fn literal_credentials_are_refused_by_policy() {
        let e = resolve_text(
            r#"
[connections.db]
kind = "postgres"
host = "db.example"
password = "hunter22"
[connections.lake]
kind = "azure"
container = "c"
key = "${secret:lake_key}"
[[copy]]
from = { connection = "db", table = "t" }
to = { path = "t.parquet" }
"#,
        )
        .err()
        .unwrap();
        assert_eq!(exit_kind(&e), ExitKind::Policy);
        let msg = e.to_string();
        assert!(msg.contains("connections.db.password"), "{msg}");
        assert!(!msg.contains("hunter22"), "{msg}");
        assert!(!msg.contains("connections.lake.key"), "{msg}");
        assert!(hint(&e).unwrap().contains("convoy secrets set db_password"));
    }

    #[test]
    fn endpoints_are_checked_by_their_kind() {
        let e = resolve_text(
            r#"
[connections.db]
kind = "postgres"
[connections.web]
kind = "http"
url = "https://example.org"
[[copy]]
from = { connection = "db", path = "x.csv" }
to = { connection = "web", path = "y.csv" }
"#,
        )
        .err()
        .unwrap();
        let msg = e.to_string();
        for expected in [
            "copy[0].from.path: postgres sources take table or query, not path",
            "copy[0].from.table: a database source needs table or query",
            "copy[0].to.connection: https connections are read-only",
        ] {
            assert!(msg.contains(expected), "missing {expected:?} in:\n{msg}");
        }
    }

    #[test]
    fn a_postgres_sink_says_how_it_publishes() {
        let plan = resolve_text(
            r#"
[connections.db]
kind = "postgres"
host = "h"
[[copy]]
from = { path = "a.csv" }
to = { connection = "db", table = "public.t" }
"#,
        )
        .unwrap();
        let p = plan.copy_plan(&plan.spec.copies[0]);
        assert!(
            p.publish.contains("TRUNCATE and COPY in one transaction"),
            "{}",
            p.publish
        );
    }

    mod properties {
        use super::resolve_text;
        use proptest::prelude::*;

        const SPEC: &str = "[connections.db]\nkind = \"postgres\"\nhost = \"h\"\nport = 5432\n\
            tls = { mode = \"verify-full\" }\n[connections.lake]\nkind = \"s3\"\nbucket = \"b\"\n\
            [defaults]\nmode = \"replace\"\n[[copy]]\nname = \"a\"\n\
            from = { connection = \"db\", table = \"t\", partition = { column = \"id\", count = 4 } }\n\
            to = { path = \"out/a.parquet\", parquet = { compression = \"zstd(3)\" } }\n\
            stage = { connection = \"lake\", path = \"s/\", encrypt = true }\n";

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// Any text: a spec, or errors — never a panic.
            #[test]
            fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
                let _ = resolve_text(&text);
            }

            /// A good spec with one character replaced, or a piece cut out.
            #[test]
            fn damaged_specs_never_panic(at in 0usize..SPEC.len(), len in 0usize..12, c in any::<char>()) {
                let at = (0..=at).rev().find(|i| SPEC.is_char_boundary(*i)).unwrap_or(0);
                let end = (at + len..=SPEC.len()).find(|i| SPEC.is_char_boundary(*i)).unwrap_or(SPEC.len());
                let _ = resolve_text(&format!("{}{c}{}", &SPEC[..at], &SPEC[end..]));
                let _ = resolve_text(&format!("{}{}", &SPEC[..at], &SPEC[end..]));
            }
        }
    }
}
