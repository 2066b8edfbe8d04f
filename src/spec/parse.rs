//! TOML spec files → [`Spec`], collecting every error with its field path.
//!
//! The file is read as a plain TOML tree and walked by hand rather than with
//! `#[serde(deny_unknown_fields)]`: serde stops at the first problem, and a
//! user fixing a nightly spec wants all of them at once, each with a "did you
//! mean" for misspelt keys and names.

use std::collections::BTreeMap;
use std::path::Path;

use toml::{Table, Value};

use super::{
    suggest, validate, Connection, Copy, CsvOptions, Endpoint, Format, Mode, ParquetOptions, Spec,
    SpecError, StageSpec, LOCAL,
};

const TOP_KEYS: &[&str] = &["connections", "defaults", "copy"];
const DEFAULT_KEYS: &[&str] = &["mode", "csv", "parquet", "infer_rows", "stage"];
const COPY_KEYS: &[&str] = &[
    "name",
    "from",
    "to",
    "mode",
    "key",
    "cursor",
    "allow_cross_region",
    "stage",
];
/// The largest part a stage may be asked for, in MiB.
const MAX_PART_MB: u64 = 1024;

const STAGE_KEYS: &[&str] = &[
    "connection",
    "path",
    "keep",
    "encrypt",
    "recipients",
    "part_mb",
];
const ENDPOINT_KEYS: &[&str] = &[
    "connection",
    "path",
    "table",
    "query",
    "format",
    "schema",
    "compression",
    "csv",
    "parquet",
    "max_rows_per_file",
    "infer_rows",
    "partition",
];
const PARTITION_KEYS: &[&str] = &["column", "count"];
const CSV_KEYS: &[&str] = &[
    "header",
    "delimiter",
    "quote",
    "escape",
    "null",
    "quoted_empty_string",
];
const PARQUET_KEYS: &[&str] = &["compression", "row_group_size"];
const MODES: &[&str] = &["append", "replace", "merge", "incremental"];

/// A spec as read from its file: every copy that could be read, and every
/// problem found in it that needs no knowledge of connection kinds (the
/// kinds check their own settings when the spec is resolved, see `plan`).
pub struct Parsed {
    pub spec: Spec,
    pub errors: Vec<SpecError>,
}

/// Read a spec file. Only an unreadable file or broken TOML is an error
/// here; everything else is collected in [`Parsed::errors`].
pub fn parse_file(path: &Path) -> anyhow::Result<Parsed> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::error::usage(format!("cannot read spec {}: {e}", path.display()), None)
    })?;
    let base_dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    parse_str(&text, &path.display().to_string(), base_dir)
}

/// Read spec text. `source` names it in messages.
pub fn parse_str(text: &str, source: &str, base_dir: std::path::PathBuf) -> anyhow::Result<Parsed> {
    let root: Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        crate::error::usage(
            format!(
                "{source}:{line}:{col}: not valid TOML: {}",
                e.message().trim()
            ),
            None,
        )
    })?;
    let mut w = Walker { errors: Vec::new() };
    let spec = w.spec(&root, base_dir);
    let mut errors = w.errors;
    errors.extend(validate::check(&spec));
    Ok(Parsed { spec, errors })
}

/// Orders `copy[2].to` before `copy[10].from`: numbers compare as numbers.
pub(super) fn natural_key(path: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut n = c.to_digit(10).unwrap_or(0) as u64;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(d as u64);
                chars.next();
            }
            out.push((std::mem::take(&mut text), n));
        } else {
            text.push(c);
        }
    }
    out.push((text, 0));
    out
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Walker {
    errors: Vec<SpecError>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

use super::fields::type_name;

impl Walker {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(SpecError {
            path: path.into(),
            message: message.into(),
        });
    }

    fn keys(&mut self, path: &str, table: &Table, allowed: &[&str]) {
        for key in table.keys() {
            if !allowed.contains(&key.as_str()) {
                // A setting that belongs one level down, e.g. `delimiter`
                // written beside `path` instead of inside `csv = { … }`.
                let nested = [("csv", CSV_KEYS), ("parquet", PARQUET_KEYS)]
                    .into_iter()
                    .filter(|(table, _)| allowed.contains(table))
                    .find_map(|(table, keys)| {
                        suggest(key, keys.iter().copied())
                            .map(|k| format!("{table} = {{ {k} = … }}"))
                    });
                let hint = match (suggest(key, allowed.iter().copied()), nested) {
                    (Some(s), _) => format!(" (did you mean \"{s}\"?)"),
                    (None, Some(n)) => format!(" (did you mean {n}?)"),
                    (None, None) => format!(" (expected one of: {})", allowed.join(", ")),
                };
                self.err(join(path, key), format!("unknown key{hint}"));
            }
        }
    }

    fn string(&mut self, path: &str, table: &Table, key: &str) -> Option<String> {
        match table.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.err(
                    join(path, key),
                    format!("expected a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn boolean(&mut self, path: &str, table: &Table, key: &str) -> Option<bool> {
        match table.get(key)? {
            Value::Boolean(b) => Some(*b),
            other => {
                self.err(
                    join(path, key),
                    format!("expected true or false, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn positive(&mut self, path: &str, table: &Table, key: &str) -> Option<u64> {
        match table.get(key)? {
            Value::Integer(i) if *i > 0 => Some(*i as u64),
            Value::Integer(i) => {
                self.err(join(path, key), format!("must be positive, found {i}"));
                None
            }
            other => {
                self.err(
                    join(path, key),
                    format!("expected an integer, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn table<'t>(&mut self, path: &str, table: &'t Table, key: &str) -> Option<&'t Table> {
        match table.get(key)? {
            Value::Table(t) => Some(t),
            other => {
                self.err(
                    join(path, key),
                    format!("expected a table, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn strings(&mut self, path: &str, table: &Table, key: &str) -> Option<Vec<String>> {
        let p = join(path, key);
        match table.get(key)? {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => self.err(
                            format!("{p}[{i}]"),
                            format!("expected a string, found {}", type_name(other)),
                        ),
                    }
                }
                Some(out)
            }
            other => {
                self.err(
                    p,
                    format!("expected a list of strings, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn spec(&mut self, root: &Table, base_dir: std::path::PathBuf) -> Spec {
        self.keys("", root, TOP_KEYS);
        let mut connections = BTreeMap::new();
        if let Some(conns) = self.table("", root, "connections") {
            for (name, value) in conns {
                let path = format!("connections.{name}");
                match value {
                    Value::Table(t) => {
                        if let Some(c) = self.connection(&path, name, t) {
                            connections.insert(name.clone(), c);
                        }
                    }
                    other => self.err(
                        path,
                        format!("expected a table, found {}", type_name(other)),
                    ),
                }
            }
        }
        let defaults = self
            .table("", root, "defaults")
            .cloned()
            .unwrap_or_default();
        self.keys("defaults", &defaults, DEFAULT_KEYS);
        let default_mode = self.mode("defaults", &defaults);
        let default_stage = self.stage("defaults", &defaults);
        let mut default_ep = Endpoint::new(LOCAL);
        self.endpoint_options("defaults", &defaults, &mut default_ep);

        let mut copies = Vec::new();
        match root.get("copy") {
            None => self.err("copy", "the spec has no [[copy]] sections"),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("copy[{i}]");
                    match item {
                        Value::Table(t) => {
                            if let Some(c) = self.copy(
                                &path,
                                i,
                                t,
                                default_mode.clone(),
                                &default_ep,
                                default_stage.as_ref(),
                            ) {
                                copies.push(c);
                            }
                        }
                        other => self.err(
                            path,
                            format!("expected a table, found {}", type_name(other)),
                        ),
                    }
                }
            }
            Some(other) => self.err(
                "copy",
                format!(
                    "expected [[copy]] sections (an array of tables), found {}",
                    type_name(other)
                ),
            ),
        }
        Spec {
            base_dir,
            connections,
            copies,
        }
    }

    fn connection(&mut self, path: &str, name: &str, t: &Table) -> Option<Connection> {
        let kind = match t.get("kind") {
            None => {
                self.err(join(path, "kind"), "missing (e.g. kind = \"postgres\")");
                return None;
            }
            Some(_) => self.string(path, t, "kind")?,
        };
        let region = self.string(path, t, "region");
        let mut settings = t.clone();
        settings.remove("kind");
        settings.remove("region");
        Some(Connection {
            name: name.to_string(),
            kind,
            region,
            settings,
            implied: false,
        })
    }

    /// `stage = { connection, path, keep, encrypt, recipients, part_mb }`.
    fn stage(&mut self, path: &str, t: &Table) -> Option<StageSpec> {
        let st = self.table(path, t, "stage")?;
        let p = join(path, "stage");
        self.keys(&p, st, STAGE_KEYS);
        let mut endpoint = Endpoint::new(LOCAL);
        if let Some(c) = self.string(&p, st, "connection") {
            endpoint.connection = c;
        }
        endpoint.path = Some(self.string(&p, st, "path").unwrap_or_default());
        Some(StageSpec {
            endpoint,
            keep: self.boolean(&p, st, "keep").unwrap_or(false),
            encrypt: self.boolean(&p, st, "encrypt").unwrap_or(false),
            recipients: self.strings(&p, st, "recipients").unwrap_or_default(),
            run_id: None,
            only: None,
            force: false,
            shard: None,
            coordinate: false,
            wait_for_cut: false,
            part_mb: match self.positive(&p, st, "part_mb") {
                Some(mb) if mb > MAX_PART_MB => {
                    self.err(
                        join(&p, "part_mb"),
                        format!(
                            "at most {MAX_PART_MB}, found {mb}: a loader holds one part in memory"
                        ),
                    );
                    None
                }
                mb => mb,
            },
        })
    }

    fn mode(&mut self, path: &str, t: &Table) -> Option<Mode> {
        let name = self.string(path, t, "mode")?;
        let mode = match name.as_str() {
            "append" => Mode::Append,
            "replace" => Mode::Replace,
            "merge" => Mode::Merge { key: Vec::new() },
            "incremental" => Mode::Incremental {
                cursor: String::new(),
            },
            other => {
                let hint = suggest(other, MODES.iter().copied())
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_else(|| format!(" (expected one of: {})", MODES.join(", ")));
                self.err(
                    join(path, "mode"),
                    format!("unknown mode \"{other}\"{hint}"),
                );
                return None;
            }
        };
        Some(mode)
    }

    fn copy(
        &mut self,
        path: &str,
        index: usize,
        t: &Table,
        default_mode: Option<Mode>,
        default_ep: &Endpoint,
        default_stage: Option<&StageSpec>,
    ) -> Option<Copy> {
        self.keys(path, t, COPY_KEYS);
        let name = self
            .string(path, t, "name")
            .unwrap_or_else(|| format!("copy{}", index + 1));
        let from = self.endpoint_at(path, t, "from", default_ep);
        let to = self.endpoint_at(path, t, "to", default_ep);
        let mut mode = self.mode(path, t).or(default_mode);
        let key = self.strings(path, t, "key");
        let cursor = self.string(path, t, "cursor");
        match &mut mode {
            Some(Mode::Merge { key: k }) => match key {
                Some(key) if !key.is_empty() => *k = key,
                _ => self.err(
                    join(path, "key"),
                    "mode \"merge\" needs key = [\"column\", …]",
                ),
            },
            Some(Mode::Incremental { cursor: c }) => match cursor {
                Some(cursor) => *c = cursor,
                None => self.err(
                    join(path, "cursor"),
                    "mode \"incremental\" needs cursor = \"column\"",
                ),
            },
            _ => {
                if key.is_some() {
                    self.err(join(path, "key"), "key is only used with mode = \"merge\"");
                }
                if cursor.is_some() {
                    self.err(
                        join(path, "cursor"),
                        "cursor is only used with mode = \"incremental\"",
                    );
                }
            }
        }
        let allow_cross_region = self.boolean(path, t, "allow_cross_region").unwrap_or(false);
        let stage = match t.get("stage") {
            Some(_) => self.stage(path, t),
            None => default_stage.cloned(),
        };
        Some(Copy {
            name,
            from: from?,
            to: to?,
            mode: mode.unwrap_or(Mode::Replace),
            allow_cross_region,
            stage,
        })
    }

    fn endpoint_at(
        &mut self,
        path: &str,
        t: &Table,
        key: &str,
        default_ep: &Endpoint,
    ) -> Option<Endpoint> {
        let p = join(path, key);
        match t.get(key) {
            None => {
                self.err(
                    p,
                    "missing (e.g. { path = \"data/orders.csv\" } or { connection = \"db\", table = \"public.orders\" })",
                );
                None
            }
            Some(Value::Table(et)) => Some(self.endpoint(&p, et, default_ep)),
            Some(other) => {
                self.err(p, format!("expected a table, found {}", type_name(other)));
                None
            }
        }
    }

    fn endpoint(&mut self, path: &str, t: &Table, default_ep: &Endpoint) -> Endpoint {
        self.keys(path, t, ENDPOINT_KEYS);
        let mut ep = default_ep.clone();
        ep.connection = self
            .string(path, t, "connection")
            .unwrap_or_else(|| LOCAL.to_string());
        ep.path = self.string(path, t, "path");
        ep.table = self.string(path, t, "table");
        ep.query = self.string(path, t, "query");
        if let Some(f) = self.string(path, t, "format") {
            match Format::from_name(&f) {
                Some(format) => ep.format = Some(format),
                None => {
                    let hint = suggest(&f, Format::NAMES.iter().copied())
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_else(|| {
                            format!(" (expected one of: {})", Format::NAMES.join(", "))
                        });
                    self.err(
                        join(path, "format"),
                        format!("unknown format \"{f}\"{hint}"),
                    );
                }
            }
        }
        if let Some(s) = self.string(path, t, "schema") {
            match crate::schema::parse_schema(&s) {
                Ok(schema) => ep.schema = Some(schema),
                Err(e) => self.err(
                    join(path, "schema"),
                    format!("{e} (types: {})", crate::schema::TYPE_NAMES),
                ),
            }
        }
        if let Some(c) = self.string(path, t, "compression") {
            match crate::connect::format::compression::Compression::parse(&c) {
                Ok(x) => ep.compression = Some(x),
                Err(e) => self.err(join(path, "compression"), e),
            }
        }
        if let Some(n) = self.positive(path, t, "max_rows_per_file") {
            ep.max_rows_per_file = Some(n);
        }
        if let Some(pt) = self.table(path, t, "partition") {
            let p = join(path, "partition");
            self.keys(&p, pt, PARTITION_KEYS);
            let column = self.string(&p, pt, "column");
            let count = self.positive(&p, pt, "count");
            if column.is_none() {
                self.err(
                    join(&p, "column"),
                    "missing (an integer column to split by)",
                );
            }
            if count.is_none() && !pt.contains_key("count") {
                self.err(
                    join(&p, "count"),
                    "missing (how many ranges to read in parallel)",
                );
            }
            if let (Some(column), Some(count)) = (column, count) {
                ep.partition = Some(super::PartitionSpec {
                    column,
                    count: count.min(256) as usize,
                });
            }
        }
        self.endpoint_options(path, t, &mut ep);
        ep
    }

    /// The settings `[defaults]` and endpoints share: csv, parquet, infer_rows.
    fn endpoint_options(&mut self, path: &str, t: &Table, ep: &mut Endpoint) {
        if let Some(n) = self.positive(path, t, "infer_rows") {
            ep.infer_rows = n as usize;
        }
        if let Some(csv) = self.table(path, t, "csv") {
            let p = join(path, "csv");
            self.keys(&p, csv, CSV_KEYS);
            self.csv(&p, csv, &mut ep.csv);
        }
        if let Some(pq) = self.table(path, t, "parquet") {
            let p = join(path, "parquet");
            self.keys(&p, pq, PARQUET_KEYS);
            self.parquet(&p, pq, &mut ep.parquet);
        }
    }

    fn csv(&mut self, path: &str, t: &Table, o: &mut CsvOptions) {
        if let Some(h) = self.boolean(path, t, "header") {
            o.header = h;
            o.set.header = true;
        }
        if let Some(q) = self.boolean(path, t, "quoted_empty_string") {
            o.quoted_empty_string = q;
        }
        for key in ["delimiter", "quote", "escape"] {
            if let Some(s) = self.string(path, t, key) {
                match single_byte(&s) {
                    Ok(b) => o.give(key, b),
                    Err(e) => self.err(join(path, key), e),
                }
            }
        }
        if let Some(n) = self.string(path, t, "null") {
            o.null = n;
        }
    }

    fn parquet(&mut self, path: &str, t: &Table, o: &mut ParquetOptions) {
        if let Some(c) = self.string(path, t, "compression") {
            match super::parquet_compression(&c) {
                Ok(_) => {
                    o.compression = c;
                    o.explicit = true;
                }
                Err(e) => self.err(join(path, "compression"), e),
            }
        }
        if let Some(n) = self.positive(path, t, "row_group_size") {
            o.row_group_size = n as usize;
            o.explicit = true;
        }
    }
}

/// A one-character CSV setting: `","`, `"\t"`, `"tab"`, `"|"`, …
pub fn single_byte(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" => return Ok(b'\t'),
        _ => {}
    }
    let bytes = s.as_bytes();
    if bytes.len() == 1 && bytes[0].is_ascii() {
        Ok(bytes[0])
    } else {
        Err(format!(
            "expected a single ASCII character (or \"tab\"), found {s:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> String {
        let parsed = parse_str(text, "spec.toml", ".".into()).unwrap();
        crate::spec::SpecErrors {
            source: "spec.toml".into(),
            errors: parsed.errors,
        }
        .to_string()
    }

    #[test]
    fn all_errors_at_once_with_paths_and_hints() {
        let text = r#"
[connections.lake]
kind = "local"

[[copy]]
name = "a"
from = { path = "a.csv", fromat = "csv" }
to = { connection = "laek", path = "a.parquet" }
mdoe = "replace"

[[copy]]
from = { path = "b.csv", csv = { delimiter = ";;" } }
to = { path = "b.parquet", format = "parqet" }
mode = "merge"
"#;
        let msg = errors(text);
        for expected in [
            r#"copy[0].from.fromat: unknown key (did you mean "format"?)"#,
            r#"copy[0].to.connection: no connection named "laek" (did you mean "lake"?)"#,
            r#"copy[0].mdoe: unknown key (did you mean "mode"?)"#,
            r#"copy[1].from.csv.delimiter: expected a single ASCII character"#,
            r#"copy[1].to.format: unknown format "parqet" (did you mean "parquet"?)"#,
            r#"copy[1].key: mode "merge" needs key"#,
        ] {
            assert!(msg.contains(expected), "missing {expected:?} in:\n{msg}");
        }
        assert!(msg.starts_with("spec.toml has "), "{msg}");
    }

    #[test]
    fn toml_syntax_errors_name_line_and_column() {
        let e = parse_str("[[copy]\nname = 1\n", "spec.toml", ".".into())
            .err()
            .unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Usage);
        assert!(e.to_string().starts_with("spec.toml:1:"), "{e}");
    }

    #[test]
    fn a_stage_part_size_is_bounded() {
        let text = |mb: &str| {
            format!(
                "[[copy]]\nname = \"a\"\nfrom = {{ path = \"a.csv\" }}\nto = {{ path = \"a.parquet\" }}\nstage = {{ path = \"st\", part_mb = {mb} }}\n"
            )
        };
        let e = errors(&text("2048"));
        assert!(e.contains("stage.part_mb"), "{e}");
        assert!(e.contains("at most 1024"), "{e}");
        assert!(errors(&text("0")).contains("must be positive"));
        let parsed = parse_str(&text("4"), "spec.toml", ".".into()).unwrap();
        assert!(parsed.errors.is_empty());
        let stage = parsed.spec.copies[0].stage.as_ref().unwrap();
        assert_eq!(stage.part_mb, Some(4));
    }

    #[test]
    fn a_minimal_spec_parses() {
        let parsed = parse_str(
            r#"
[defaults]
csv = { delimiter = "tab" }
[[copy]]
name = "orders"
from = { path = "orders.tsv" }
to = { path = "orders.parquet", parquet = { row_group_size = 5000 } }
"#,
            "spec.toml",
            "/data".into(),
        )
        .unwrap();
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let c = &parsed.spec.copies[0];
        assert_eq!(c.name, "orders");
        assert_eq!(c.mode, Mode::Replace);
        assert_eq!(c.from.csv.delimiter, b'\t');
        assert_eq!(c.to.parquet.row_group_size, 5000);
        assert_eq!(c.from.connection, LOCAL);
    }
}
