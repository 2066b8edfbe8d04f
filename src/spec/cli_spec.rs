//! `convoy copy SRC DST …` → the same [`Spec`] a file would give.
//!
//! The arguments arrive located (see `connect::locate`): a local path, or a
//! URL already turned into the connection a spec would name and the
//! endpoint on it. The flags are plain values ([`CopyFlags`]), so the spec
//! knows nothing of the command-line parser.

use std::collections::BTreeMap;

use super::parse::single_byte;
use super::{
    validate, Connection, Copy, Endpoint, Format, Mode, Spec, SpecError, StageSpec, LOCAL,
};

/// The settings of a command-line copy; a spec file has the same under
/// `from`/`to`.
#[derive(Debug, Default, Clone)]
pub struct CopyFlags {
    pub format: Option<String>,
    pub source_format: Option<String>,
    pub schema: Option<String>,
    pub infer_rows: Option<usize>,
    pub no_header: bool,
    pub header: bool,
    pub delimiter: Option<String>,
    pub quote: Option<String>,
    pub escape: Option<String>,
    pub quoted_empty_is_null: bool,
    pub null: Option<String>,
    pub max_rows_per_file: Option<u64>,
    pub row_group_size: Option<usize>,
    pub compression: Option<String>,
    pub mode: Option<String>,
    pub key: Vec<String>,
    pub cursor: Option<String>,
    pub query: Option<String>,
    pub name: Option<String>,
    pub keep_stage: bool,
    pub encrypt_stage: bool,
    pub recipients: Vec<String>,
}

/// Where a command-line argument points.
#[derive(Clone)]
pub enum Location {
    /// A local path (or `-`).
    Local(String),
    /// An endpoint on the connection a URL implies.
    Remote(Box<(Connection, Endpoint)>),
}

/// A spec field path as the command line speaks of it (`copy[0].from.path`
/// is `SRC`, `connections.DST.port` is `DST (port)`).
pub fn command_line_path(path: &str) -> String {
    for (conn, arg) in [
        ("connections.SRC", "SRC"),
        ("connections.DST", "DST"),
        ("connections.STAGE", "--stage"),
    ] {
        if let Some(rest) = path.strip_prefix(conn) {
            return match rest.strip_prefix('.') {
                Some(field) => format!("{arg} ({field})"),
                None => arg.to_string(),
            };
        }
    }
    match path {
        "copy[0].from.path" | "copy[0].from.table" => "SRC".into(),
        "copy[0].from.query" => "--query".into(),
        "copy[0].to.table" | "copy[0].to.path" => "DST".into(),
        "copy[0].to.format" => "--format".into(),
        "copy[0].to.compression" => "--compression".into(),
        "copy[0].from.format" => "--source-format".into(),
        "copy[0].from.schema" => "--schema".into(),
        "copy[0].mode" | "copy[0].to.mode" => "--mode".into(),
        p if p.starts_with("copy[0].stage") => "--stage".into(),
        other => other.to_string(),
    }
}

/// Build a one-copy spec from the command line, with every problem the
/// flags have. The connection a URL implies is named after its argument
/// (`SRC`, `DST`, `STAGE`).
pub fn from_args(
    from: Location,
    to: Location,
    stage: Option<Location>,
    opts: &CopyFlags,
) -> (Spec, Vec<SpecError>) {
    let mut errors = Vec::new();
    let mut err = |path: &str, message: String| {
        errors.push(SpecError {
            path: path.to_string(),
            message,
        })
    };
    let mut connections = BTreeMap::new();
    let mut endpoint = |location: Location, arg: &str| match location {
        Location::Local(path) => {
            let mut ep = Endpoint::new(LOCAL);
            ep.path = Some(path);
            ep
        }
        Location::Remote(remote) => {
            let (mut conn, mut ep) = *remote;
            conn.name = arg.to_string();
            ep.connection = arg.to_string();
            connections.insert(arg.to_string(), conn);
            ep
        }
    };
    let mut from = endpoint(from, "SRC");
    let mut to = endpoint(to, "DST");
    let stage = stage.map(|s| StageSpec {
        endpoint: endpoint(s, "STAGE"),
        keep: opts.keep_stage,
        encrypt: opts.encrypt_stage || !opts.recipients.is_empty(),
        recipients: opts.recipients.clone(),
        run_id: None,
        only: None,
        force: false,
        shard: None,
        coordinate: false,
        wait_for_cut: false,
        part_mb: None,
    });
    if stage.is_none() && (opts.keep_stage || opts.encrypt_stage || !opts.recipients.is_empty()) {
        err(
            "--stage",
            "--keep-stage, --encrypt-stage and --recipient apply to a staged copy: give --stage URL".into(),
        );
    }
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
        csv.set.header = true;
    }
    if opts.header {
        csv.header = true;
        csv.set.header = true;
    }
    for (flag, value) in [
        ("--delimiter", &opts.delimiter),
        ("--quote", &opts.quote),
        ("--escape", &opts.escape),
    ] {
        if let Some(v) = value {
            match single_byte(v) {
                Ok(b) => csv.give(flag.trim_start_matches("--"), b),
                Err(e) => err(flag, e),
            }
        }
    }
    if let Some(n) = &opts.null {
        csv.null = n.clone();
    }
    if opts.quoted_empty_is_null {
        csv.quoted_empty_string = false;
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
        to.parquet.explicit = true;
    }
    let text_out = matches!(
        to.format
            .or_else(|| to.path.as_deref().and_then(Format::from_path)),
        Some(Format::Csv | Format::Json)
    );
    if let Some(c) = opts.compression.as_ref().filter(|_| text_out) {
        // For a CSV or JSON destination it is the file's compression.
        match crate::connect::format::compression::Compression::parse(c) {
            Ok(x) => to.compression = Some(x),
            Err(e) => err("--compression", e),
        }
    } else if let Some(c) = &opts.compression {
        match super::parquet_compression(c) {
            Ok(_) => {
                to.parquet.compression = c.clone();
                to.parquet.explicit = true;
            }
            Err(e) => err("--compression", e),
        }
    }
    let mode = match opts.mode.as_deref() {
        None | Some("replace") => Mode::Replace,
        Some("merge") => {
            if opts.key.is_empty() {
                err(
                    "--mode",
                    "merge needs the key columns: --key id (repeatable)".into(),
                );
            }
            Mode::Merge {
                key: opts.key.clone(),
            }
        }
        Some("incremental") => match &opts.cursor {
            Some(c) => Mode::Incremental { cursor: c.clone() },
            None => {
                err("--mode", "incremental needs --cursor COLUMN".into());
                Mode::Replace
            }
        },
        Some("append") => Mode::Append,
        Some(other) => {
            err(
                "--mode",
                format!("unknown mode {other:?} (replace, append, merge, incremental)"),
            );
            Mode::Replace
        }
    };
    if !opts.key.is_empty() && !matches!(mode, Mode::Merge { .. }) {
        err("--key", "only used with --mode merge".into());
    }
    if opts.cursor.is_some() && !matches!(mode, Mode::Incremental { .. }) {
        err("--cursor", "only used with --mode incremental".into());
    }
    let spec = Spec {
        base_dir: ".".into(),
        connections,
        copies: vec![Copy {
            name: opts.name.clone().unwrap_or_else(|| "copy".to_string()),
            from,
            to,
            mode,
            allow_cross_region: false,
            stage,
        }],
    };
    errors.extend(validate::check(&spec));
    (spec, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(p: &str) -> Location {
        Location::Local(p.to_string())
    }

    #[test]
    fn flags_become_endpoint_settings() {
        let opts = CopyFlags {
            schema: Some("id:int64,amount:decimal(18,4)".into()),
            delimiter: Some(";".into()),
            no_header: true,
            max_rows_per_file: Some(10),
            format: Some("parquet".into()),
            ..CopyFlags::default()
        };
        let (spec, errors) = from_args(local("in.csv"), local("out/"), None, &opts);
        assert!(errors.is_empty(), "{errors:?}");
        let c = &spec.copies[0];
        assert_eq!(c.from.csv.delimiter, b';');
        assert!(!c.from.csv.header);
        assert_eq!(c.to.max_rows_per_file, Some(10));
        assert_eq!(c.from.schema.as_ref().unwrap().fields().len(), 2);
    }

    #[test]
    fn every_flag_error_is_reported() {
        let opts = CopyFlags {
            format: Some("parqet".into()),
            delimiter: Some("ab".into()),
            schema: Some("id".into()),
            ..CopyFlags::default()
        };
        let (_, errors) = from_args(local("in.csv"), local("out.x"), None, &opts);
        let msg: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let msg = msg.join("\n");
        for part in ["--format: unknown format", "--delimiter:", "--schema:"] {
            assert!(msg.contains(part), "{part} missing from {msg}");
        }
    }

    #[test]
    fn urls_name_their_connection_after_the_argument() {
        let conn = Connection {
            name: String::new(),
            kind: "s3".into(),
            region: None,
            settings: toml::Table::new(),
            implied: true,
        };
        let (spec, _) = from_args(
            Location::Remote(Box::new((conn, Endpoint::new("")))),
            local("a.parquet"),
            None,
            &CopyFlags::default(),
        );
        assert_eq!(spec.copies[0].from.connection, "SRC");
        assert_eq!(spec.connections["SRC"].name, "SRC");
        assert_eq!(command_line_path("connections.SRC.port"), "SRC (port)");
        assert_eq!(command_line_path("copy[0].to.path"), "DST");
    }
}
