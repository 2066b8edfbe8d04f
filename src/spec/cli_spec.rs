//! `convoy copy SRC DST …` → the same [`Spec`] a file would give.

use std::collections::BTreeMap;

use super::parse::single_byte;
use super::{
    validate, Connection, Copy, Endpoint, Format, Mode, Spec, SpecError, SpecErrors, LOCAL,
};
use crate::cli::CopyOpts;

/// Build and validate a one-copy spec from the command line.
pub fn from_args(source: &str, destination: &str, opts: &CopyOpts) -> anyhow::Result<Spec> {
    let mut errors = Vec::new();
    let mut err = |path: &str, message: String| {
        errors.push(SpecError {
            path: path.to_string(),
            message,
        })
    };
    let mut connections = BTreeMap::new();
    let mut from = endpoint(source, "source", &mut connections)?;
    let mut to = endpoint(destination, "destination", &mut connections)?;
    if let Some(q) = &opts.query {
        from.query = Some(q.clone());
        from.table = None;
    }
    for (flag, value, ep) in [
        ("--source-format", &opts.source_format, &mut from),
        ("--format", &opts.format, &mut to),
    ] {
        if let Some(name) = value {
            match Format::from_name(name) {
                Some(f) => ep.format = Some(f),
                None => err(
                    flag,
                    format!(
                        "unknown format {name:?} (expected one of: {})",
                        Format::NAMES.join(", ")
                    ),
                ),
            }
        }
    }
    if let Some(s) = &opts.schema {
        match crate::schema::parse_schema(s) {
            Ok(schema) => from.schema = Some(schema),
            Err(e) => err(
                "--schema",
                format!("{e} (types: {})", crate::schema::TYPE_NAMES),
            ),
        }
    }
    let mut csv = from.csv.clone();
    if opts.no_header {
        csv.header = false;
    }
    for (flag, value) in [
        ("--delimiter", &opts.delimiter),
        ("--quote", &opts.quote),
        ("--escape", &opts.escape),
    ] {
        if let Some(v) = value {
            match single_byte(v) {
                Ok(b) => match flag {
                    "--delimiter" => csv.delimiter = b,
                    "--quote" => csv.quote = b,
                    _ => csv.escape = Some(b),
                },
                Err(e) => err(flag, e),
            }
        }
    }
    if let Some(n) = &opts.null {
        csv.null = n.clone();
    }
    from.csv = csv.clone();
    to.csv = csv;
    if let Some(n) = opts.infer_rows {
        from.infer_rows = n.max(1);
    }
    if let Some(n) = opts.max_rows_per_file {
        if n == 0 {
            err("--max-rows-per-file", "must be positive".into());
        }
        to.max_rows_per_file = Some(n);
    }
    if let Some(n) = opts.row_group_size {
        if n == 0 {
            err("--row-group-size", "must be positive".into());
        }
        to.parquet.row_group_size = n.max(1);
    }
    if let Some(c) = &opts.compression {
        match crate::connect::file::parquet_compression(c) {
            Ok(_) => to.parquet.compression = c.clone(),
            Err(e) => err("--compression", e),
        }
    }
    let mode = match opts.mode.as_deref() {
        None | Some("replace") => Mode::Replace,
        Some("merge") | Some("incremental") => {
            err(
                "--mode",
                "merge and incremental need a key or cursor: write a spec file (convoy run)".into(),
            );
            Mode::Replace
        }
        Some("append") => Mode::Append,
        Some(other) => {
            err(
                "--mode",
                format!("unknown or unsupported mode {other:?} for a command-line copy (replace, append)"),
            );
            Mode::Replace
        }
    };
    let spec = Spec {
        base_dir: ".".into(),
        connections,
        copies: vec![Copy {
            name: opts.name.clone().unwrap_or_else(|| "copy".to_string()),
            from,
            to,
            mode,
            allow_cross_region: false,
        }],
    };
    errors.extend(validate::check(&spec).into_iter().map(|mut e| {
        // Speak of the command line, not of an imaginary spec file.
        e.path = e
            .path
            .replace("copy[0].from.path", "SRC")
            .replace("copy[0].from.table", "SRC")
            .replace("copy[0].from.query", "--query")
            .replace("copy[0].to.table", "DST")
            .replace("copy[0].to.path", "DST")
            .replace("copy[0].to.format", "--format")
            .replace("copy[0].from.format", "--source-format")
            .replace("copy[0].from.schema", "--schema")
            .replace("copy[0].mode", "--mode");
        e
    }));
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(SpecErrors {
            source: "the command line".into(),
            errors,
        }
        .into_error())
    }
}

/// A command-line location: a database URL (which adds an implicit
/// connection named `source` or `destination` to the spec) or else a local
/// path.
fn endpoint(
    text: &str,
    role: &str,
    connections: &mut BTreeMap<String, Connection>,
) -> anyhow::Result<Endpoint> {
    if crate::connect::mssql::config::is_url(text) {
        let (conn, mut ep) = crate::connect::mssql::config::parse_url(text)?;
        ep.connection = role.to_string();
        connections.insert(role.to_string(), conn);
        return Ok(ep);
    }
    let mut ep = Endpoint::new(LOCAL);
    let path = text.strip_prefix("file://").unwrap_or(text);
    ep.path = Some(path.to_string());
    Ok(ep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_endpoint_settings() {
        let opts = CopyOpts {
            schema: Some("id:int64,amount:decimal(18,4)".into()),
            delimiter: Some(";".into()),
            no_header: true,
            max_rows_per_file: Some(10),
            ..CopyOpts::default()
        };
        let spec = from_args("in.csv", "out/", &{
            let mut o = opts;
            o.format = Some("parquet".into());
            o
        })
        .unwrap();
        let c = &spec.copies[0];
        assert_eq!(c.from.csv.delimiter, b';');
        assert!(!c.from.csv.header);
        assert_eq!(c.to.max_rows_per_file, Some(10));
        assert_eq!(c.from.schema.as_ref().unwrap().fields().len(), 2);
    }

    #[test]
    fn every_flag_error_is_reported() {
        let opts = CopyOpts {
            format: Some("parqet".into()),
            delimiter: Some("ab".into()),
            schema: Some("id".into()),
            ..CopyOpts::default()
        };
        let msg = from_args("in.csv", "out.x", &opts).unwrap_err().to_string();
        for part in ["--format: unknown format", "--delimiter:", "--schema:"] {
            assert!(msg.contains(part), "{part} missing from {msg}");
        }
    }
}
