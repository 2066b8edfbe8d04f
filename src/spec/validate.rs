//! Checks that need the whole spec: names that refer to each other, settings
//! that only make sense on one side of a copy, modes a sink can honour.
//! Shared by spec files and the command line; the rules of files and of
//! tables are here for the kinds to apply to their endpoints.

use std::collections::HashSet;

use super::{suggest, Endpoint, Format, Mode, Role, Spec, SpecError, LOCAL};

/// Every problem in a parsed spec that needs no knowledge of connection
/// kinds: copy names, and connections that do not exist. Each kind checks
/// its endpoints itself (with [`file_endpoint`] or [`table_endpoint`] and
/// rules of its own) when the spec is resolved.
pub fn check(spec: &Spec) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    for (i, copy) in spec.copies.iter().enumerate() {
        let path = format!("copy[{i}]");
        if !names.insert(copy.name.as_str()) {
            errors.push(SpecError {
                path: format!("{path}.name"),
                message: format!("another copy is already named \"{}\"", copy.name),
            });
        }
        let stage = copy.stage.as_ref().map(|s| ("stage", &s.endpoint));
        for (side, ep) in [("from", &copy.from), ("to", &copy.to)]
            .into_iter()
            .chain(stage)
        {
            if ep.connection == LOCAL || spec.connections.contains_key(&ep.connection) {
                continue;
            }
            let known = spec
                .connections
                .keys()
                .map(String::as_str)
                .chain(std::iter::once(LOCAL));
            let hint = suggest(&ep.connection, known)
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            errors.push(SpecError {
                path: format!("{path}.{side}.connection"),
                message: format!("no connection named \"{}\"{hint}", ep.connection),
            });
        }
    }
    errors
}

/// Problems as (field of the endpoint, message).
pub type EndpointProblems = Vec<(String, String)>;

/// The rules of an endpoint on a store of files (local files, object
/// stores): a path, no table or query, whole-file modes only.
pub fn file_endpoint(kind: &str, ep: &Endpoint, role: Role, mode: &Mode) -> EndpointProblems {
    let mut errors = Vec::new();
    let mut err = |field: &str, message: String| errors.push((field.to_string(), message));
    match role {
        Role::Source => {
            if ep.max_rows_per_file.is_some() {
                err(
                    "max_rows_per_file",
                    "only applies to the destination (to = …)".into(),
                );
            }
            if ep.path.is_none() {
                err("path", format!("a {kind} source needs a path"));
            }
            if ep.partition.is_some() {
                err(
                    "partition",
                    "partitioned reads are for database sources".into(),
                );
            }
            for (field, set) in [("table", ep.table.is_some()), ("query", ep.query.is_some())] {
                if set {
                    err(
                        field,
                        format!("{field} is for database sources; {kind} sources take a path"),
                    );
                }
            }
            let format = ep
                .format
                .or_else(|| ep.path.as_deref().and_then(Format::from_path));
            if ep.compression.is_some() {
                err(
                    "compression",
                    "compression is for destinations; a compressed source is recognised by its name and first bytes".into(),
                );
            }
            if ep.schema.is_some() && matches!(format, Some(Format::Parquet | Format::Ipc)) {
                err(
                    "schema",
                    "Parquet and Arrow files carry their own schema; schema applies to CSV and JSON"
                        .into(),
                );
            }
        }
        Role::Sink => {
            sink_common(ep, &mut err);
            if *mode != Mode::Replace {
                err(
                    "mode",
                    format!(
                        "mode \"{}\" needs a database sink; files and objects are always replaced as a whole",
                        mode.name()
                    ),
                );
            }
            match &ep.path {
                None => err("path", format!("a {kind} destination needs a path")),
                Some(p) if p.contains(['*', '?', '[']) => {
                    err("path", "a destination path cannot be a glob pattern".into())
                }
                Some(p) => {
                    let is_dir = p.ends_with('/') || ep.max_rows_per_file.is_some();
                    if ep.format.is_none() && Format::from_path(p).is_none() {
                        let hint = if is_dir {
                            "add format = \"parquet\" (or csv, json, ipc)"
                        } else {
                            "use a file name ending in .csv, .parquet, .jsonl or .arrow, or set format"
                        };
                        err("format", format!("cannot tell the format of {p:?}; {hint}"));
                    }
                    if let Some(format) = ep.format.or_else(|| Format::from_path(p)) {
                        let split = ep.max_rows_per_file.is_some();
                        if let Err(e) = crate::connect::format::compression::output(
                            p,
                            format,
                            ep.compression,
                            split,
                        ) {
                            let hint = crate::error::hint(&e)
                                .map(|h| format!(" ({h})"))
                                .unwrap_or_default();
                            err("compression", format!("{e}{hint}"));
                        }
                    }
                    if ep.max_rows_per_file.is_some()
                        && !p.ends_with('/')
                        && Format::from_path(p).is_some()
                    {
                        err(
                            "path",
                            format!(
                                "output split by max_rows_per_file goes into a directory; {p:?} looks like a file (write it as \"{}/\")",
                                p.rsplit_once('.').map_or(p.as_str(), |(stem, _)| stem)
                            ),
                        );
                    }
                }
            }
            if ep.table.is_some() {
                err(
                    "table",
                    format!("{kind} destinations take a path, not a table"),
                );
            }
        }
    }
    errors
}

/// The rules of an endpoint on a database: a table (or a query, for a
/// source), no path.
pub fn table_endpoint(kind: &str, ep: &Endpoint, role: Role) -> EndpointProblems {
    let mut errors = Vec::new();
    let mut err = |field: &str, message: String| errors.push((field.to_string(), message));
    match role {
        Role::Source => {
            if ep.max_rows_per_file.is_some() {
                err(
                    "max_rows_per_file",
                    "only applies to the destination (to = …)".into(),
                );
            }
            match (&ep.table, &ep.query) {
                (None, None) => err("table", "a database source needs table or query".into()),
                (Some(_), Some(_)) => err("query", "give table or query, not both".into()),
                _ => {}
            }
            if ep.path.is_some() {
                err(
                    "path",
                    format!("{kind} sources take table or query, not path"),
                );
            }
        }
        Role::Sink => {
            sink_common(ep, &mut err);
            if ep.table.is_none() {
                err("table", "a database destination needs a table".into());
            }
            if ep.path.is_some() {
                err(
                    "path",
                    format!("{kind} destinations take a table, not a path"),
                );
            }
        }
    }
    errors
}

fn sink_common(ep: &Endpoint, err: &mut impl FnMut(&str, String)) {
    if ep.query.is_some() {
        err("query", "a destination takes a table, not a query".into());
    }
    if ep.partition.is_some() {
        err(
            "partition",
            "partition applies to the source (from = …)".into(),
        );
    }
    if ep.schema.is_some() {
        err(
            "schema",
            "schema describes a text source; the destination takes the source's schema".into(),
        );
    }
}
