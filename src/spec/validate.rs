//! Checks that need the whole spec: names that refer to each other, settings
//! that only make sense on one side of a copy, modes a sink can honour.
//! Shared by spec files and the command line.

use std::collections::HashSet;

use super::{suggest, Endpoint, Format, Kind, Mode, Spec, SpecError, LOCAL};

/// Every semantic problem in a parsed spec.
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
        let from_kind = endpoint_kind(spec, &format!("{path}.from"), &copy.from, &mut errors);
        let to_kind = endpoint_kind(spec, &format!("{path}.to"), &copy.to, &mut errors);
        if let Some(kind) = from_kind {
            check_source(&format!("{path}.from"), &copy.from, kind, &mut errors);
        }
        if let Some(kind) = to_kind {
            check_sink(&format!("{path}.to"), &copy.to, kind, &mut errors);
            if kind.is_file_store() && copy.mode != Mode::Replace {
                errors.push(SpecError {
                    path: format!("{path}.mode"),
                    message: format!(
                        "mode \"{}\" needs a database sink; files and objects are always replaced as a whole",
                        copy.mode.name()
                    ),
                });
            }
        }
    }
    errors
}

fn endpoint_kind(
    spec: &Spec,
    path: &str,
    ep: &Endpoint,
    errors: &mut Vec<SpecError>,
) -> Option<Kind> {
    if ep.connection == LOCAL && !spec.connections.contains_key(LOCAL) {
        return Some(Kind::Local);
    }
    match spec.connections.get(&ep.connection) {
        Some(c) => Some(c.kind),
        None => {
            let known = spec
                .connections
                .keys()
                .map(String::as_str)
                .chain(std::iter::once(LOCAL));
            let hint = suggest(&ep.connection, known)
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            errors.push(SpecError {
                path: format!("{path}.connection"),
                message: format!("no connection named \"{}\"{hint}", ep.connection),
            });
            None
        }
    }
}

fn check_source(path: &str, ep: &Endpoint, kind: Kind, errors: &mut Vec<SpecError>) {
    let mut err = |field: &str, message: String| {
        errors.push(SpecError {
            path: format!("{path}.{field}"),
            message,
        })
    };
    if ep.max_rows_per_file.is_some() {
        err(
            "max_rows_per_file",
            "only applies to the destination (to = …)".into(),
        );
    }
    if kind.is_file_store() {
        if ep.path.is_none() {
            err("path", format!("a {} source needs a path", kind.name()));
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
                    format!(
                        "{field} is for database sources; {} sources take a path",
                        kind.name()
                    ),
                );
            }
        }
        let format = ep
            .format
            .or_else(|| ep.path.as_deref().and_then(Format::from_path));
        if ep.schema.is_some() && matches!(format, Some(Format::Parquet | Format::Ipc)) {
            err(
                "schema",
                "Parquet and Arrow files carry their own schema; schema applies to CSV and JSON"
                    .into(),
            );
        }
    } else {
        match (&ep.table, &ep.query) {
            (None, None) => err("table", "a database source needs table or query".into()),
            (Some(_), Some(_)) => err("query", "give table or query, not both".into()),
            _ => {}
        }
        if ep.path.is_some() {
            err(
                "path",
                format!("{} sources take table or query, not path", kind.name()),
            );
        }
    }
}

fn check_sink(path: &str, ep: &Endpoint, kind: Kind, errors: &mut Vec<SpecError>) {
    let mut err = |field: &str, message: String| {
        errors.push(SpecError {
            path: format!("{path}.{field}"),
            message,
        })
    };
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
    if kind == Kind::Http {
        err(
            "connection",
            "https connections are read-only; write to s3, azure, gcs or local files".into(),
        );
    }
    if kind.is_file_store() {
        match &ep.path {
            None => err(
                "path",
                format!("a {} destination needs a path", kind.name()),
            ),
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
                format!("{} destinations take a path, not a table", kind.name()),
            );
        }
    } else {
        if ep.table.is_none() {
            err("table", "a database destination needs a table".into());
        }
        if ep.path.is_some() {
            err(
                "path",
                format!("{} destinations take a table, not a path", kind.name()),
            );
        }
    }
}
