//! `convoy copy SRC DST …` → the same [`Spec`] a file would give.

use std::collections::BTreeMap;

use super::parse::single_byte;
use super::{
    validate, Connection, Copy, Endpoint, Format, Kind, Mode, Spec, SpecError, SpecErrors, LOCAL,
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
    let mut from = Endpoint::new(LOCAL);
    let mut to = Endpoint::new(LOCAL);
    for (arg, role, text, ep) in [
        ("SRC", "source", source, &mut from),
        ("DST", "destination", destination, &mut to),
    ] {
        match endpoint(text, role)? {
            Ok((e, conn)) => {
                *ep = e;
                if let Some((name, c)) = conn {
                    connections.insert(name, c);
                }
            }
            Err(message) => err(arg, message),
        }
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
        to.parquet.explicit = true;
    }
    if let Some(c) = &opts.compression {
        match crate::connect::format::parquet_compression(c) {
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

type Located = Result<(Endpoint, Option<(String, Connection)>), String>;

/// A command-line location: a database or object store URL (with an
/// implicit connection of its own) or a local path. Credentials never come
/// from a URL: one that carries a password is refused (exit 3).
fn endpoint(text: &str, role: &str) -> anyhow::Result<Located> {
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        let (conn, ep) = postgres_url(text)?;
        return Ok(Ok((ep, Some((conn.name.clone(), conn)))));
    }
    if crate::connect::mssql::config::is_url(text) {
        let (mut conn, mut ep) = crate::connect::mssql::config::parse_url(text)?;
        ep.connection = role.to_string();
        conn.name = role.to_string();
        return Ok(Ok((ep, Some((role.to_string(), conn)))));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Ok(Ok((local(text), None)));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "file" {
        return Ok(Ok((local(rest), None)));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if userinfo.contains(':') {
            return Err(crate::error::policy(
                format!(
                    "{} carries a credential; convoy never takes secrets from a URL or the command line",
                    crate::security::redact::redact(text)
                ),
                Some(
                    "remove it and set the store's environment variables (AWS_*, AZURE_STORAGE_*, GOOGLE_*), or use a spec file with ${secret:…}"
                        .to_string(),
                ),
            ));
        }
    }
    let mut settings = toml::Table::new();
    let mut set = |k: &str, v: &str| {
        settings.insert(k.to_string(), toml::Value::String(v.to_string()));
    };
    let kind = match scheme.as_str() {
        "s3" | "s3a" => {
            set("bucket", authority);
            Kind::S3
        }
        "gs" | "gcs" => {
            set("bucket", authority);
            Kind::Gcs
        }
        "az" | "azure" | "abfs" | "abfss" => {
            match authority.split_once('@') {
                Some((container, host)) => {
                    let account = host.split('.').next().unwrap_or_default();
                    set("container", container);
                    set("account", account);
                }
                None => set("container", authority),
            }
            Kind::Azure
        }
        "https" | "http" => {
            set("url", &format!("{scheme}://{authority}"));
            Kind::Http
        }
        other => {
            return Ok(Err(format!(
                "unknown URL scheme {other}:// (s3, az, abfss, gs, https, or a local path)"
            )))
        }
    };
    if authority.is_empty() {
        return Ok(Err(format!(
            "{text}: the URL names no bucket, container or host"
        )));
    }
    let name = format!("{scheme}://{authority}");
    let mut ep = Endpoint::new(&name);
    ep.path = Some(path.to_string());
    Ok(Ok((
        ep,
        Some((
            name.clone(),
            Connection {
                name,
                kind,
                region: None,
                settings,
            },
        )),
    )))
}

fn local(path: &str) -> Endpoint {
    let mut ep = Endpoint::new(LOCAL);
    ep.path = Some(path.to_string());
    ep
}

/// `postgres://user@host:port/db?table=schema.t` → a connection and an
/// endpoint. A password in the URL is refused: argv is visible to every user
/// of the machine and ends up in shell history.
pub fn postgres_url(text: &str) -> anyhow::Result<(Connection, Endpoint)> {
    let rest = text
        .strip_prefix("postgresql://")
        .or_else(|| text.strip_prefix("postgres://"))
        .unwrap_or(text);
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, database) = match rest.split_once('/') {
        Some((a, d)) => (a, Some(percent_decode(d))),
        None => (rest, None),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut settings = toml::Table::new();
    if let Some(u) = userinfo {
        if u.contains(':') {
            return Err(crate::error::policy(
                "a password in a postgres:// URL is refused (command lines are visible to other users and kept in shell history)",
                Some("remove it from the URL and set PGPASSWORD in the environment, or use a spec with password = \"${env:NAME}\"".to_string()),
            ));
        }
        settings.insert("user".into(), percent_decode(u).into());
    }
    let bad = |m: String| {
        crate::error::usage(
            m,
            Some("expected postgres://user@host:port/database?table=schema.table".to_string()),
        )
    };
    let (host, port) = split_host_port(hostport).map_err(bad)?;
    settings.insert("host".into(), host.clone().into());
    if let Some(p) = port {
        let n: u16 = p.parse().map_err(|_| bad(format!("invalid port {p:?}")))?;
        settings.insert("port".into(), toml::Value::Integer(n.into()));
    }
    if let Some(d) = &database {
        if !d.is_empty() {
            settings.insert("database".into(), d.clone().into());
        }
    }
    let mut ep = Endpoint::new("");
    let mut tls = toml::Table::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "table" => ep.table = Some(v),
            "query" => ep.query = Some(v),
            "application_name" => {
                settings.insert(k.into(), v.into());
            }
            "connect_timeout" => {
                let n: i64 = v.parse().map_err(|_| bad(format!("invalid connect_timeout {v:?}")))?;
                settings.insert(k.into(), toml::Value::Integer(n));
            }
            "sslrootcert" | "ca_file" => {
                tls.insert("ca_file".into(), v.into());
            }
            "sslmode" => match v.as_str() {
                "verify-full" => {}
                "disable" => {
                    tls.insert("mode".into(), "disable".into());
                }
                other => {
                    return Err(bad(format!(
                        "sslmode={other} is not supported: convoy always verifies TLS (verify-full); sslmode=disable needs --allow-insecure"
                    )))
                }
            },
            "password" => {
                return Err(crate::error::policy(
                    "a password in a postgres:// URL is refused",
                    Some("set PGPASSWORD in the environment instead".to_string()),
                ))
            }
            other => {
                return Err(bad(format!(
                    "unknown URL parameter {other:?} (known: table, query, sslrootcert, sslmode, application_name, connect_timeout)"
                )))
            }
        }
    }
    if !tls.is_empty() {
        settings.insert("tls".into(), toml::Value::Table(tls));
    }
    let name = format!(
        "{}{}{}/{}",
        userinfo.map(|u| format!("{u}@")).unwrap_or_default(),
        host,
        port.map(|p| format!(":{p}")).unwrap_or_default(),
        database.unwrap_or_default()
    );
    ep.connection = name.clone();
    Ok((
        Connection {
            name,
            kind: Kind::Postgres,
            region: None,
            settings,
        },
        ep,
    ))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → host and the port text, if any.
pub(crate) fn split_host_port(hostport: &str) -> Result<(String, Option<&str>), String> {
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, p) = h
            .split_once(']')
            .ok_or_else(|| format!("unbalanced [ in {hostport:?}"))?;
        (h.to_string(), p.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("the URL names no host".into());
    }
    Ok((host, port))
}

/// Decode `%XX` escapes (and `+` as a space) in a URL component.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    fn postgres_urls_make_a_connection() {
        let (c, ep) =
            postgres_url("postgres://loader@db.corp:5433/sales?table=public.orders").unwrap();
        assert_eq!(c.kind, Kind::Postgres);
        assert_eq!(c.settings["host"].as_str(), Some("db.corp"));
        assert_eq!(c.settings["port"].as_integer(), Some(5433));
        assert_eq!(c.settings["user"].as_str(), Some("loader"));
        assert_eq!(c.settings["database"].as_str(), Some("sales"));
        assert_eq!(ep.table.as_deref(), Some("public.orders"));
        assert_eq!(ep.connection, c.name);
    }

    #[test]
    fn a_password_in_a_postgres_url_is_refused() {
        let e = postgres_url("postgresql://u:secret@h/db?table=t").unwrap_err();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        assert!(crate::error::hint(&e).unwrap().contains("PGPASSWORD"));
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

    #[test]
    fn object_store_urls_become_implicit_connections() {
        let opts = CopyOpts::default();
        let spec = from_args(
            "abfss://raw@lakeprod.dfs.core.windows.net/orders/*.csv",
            "s3://lake/raw/orders.parquet",
            &opts,
        )
        .unwrap();
        let c = &spec.copies[0];
        let from = &spec.connections[&c.from.connection];
        assert_eq!(from.kind, Kind::Azure);
        assert_eq!(from.settings["container"].as_str(), Some("raw"));
        assert_eq!(from.settings["account"].as_str(), Some("lakeprod"));
        assert_eq!(c.from.path.as_deref(), Some("orders/*.csv"));
        let to = &spec.connections[&c.to.connection];
        assert_eq!(to.kind, Kind::S3);
        assert_eq!(to.settings["bucket"].as_str(), Some("lake"));
        assert_eq!(c.to.path.as_deref(), Some("raw/orders.parquet"));

        let spec = from_args("https://example.org/data/x.csv", "gs://b/x.parquet", &opts).unwrap();
        let c = &spec.copies[0];
        let from = &spec.connections[&c.from.connection];
        assert_eq!(from.kind, Kind::Http);
        assert_eq!(from.settings["url"].as_str(), Some("https://example.org"));
        assert_eq!(c.from.path.as_deref(), Some("data/x.csv"));
        assert_eq!(spec.connections[&c.to.connection].kind, Kind::Gcs);

        let spec = from_args("az://raw/a.csv", "file:///tmp/a.parquet", &opts).unwrap();
        assert_eq!(spec.copies[0].to.connection, LOCAL);
        assert_eq!(spec.copies[0].to.path.as_deref(), Some("/tmp/a.parquet"));
    }

    #[test]
    fn a_password_in_a_url_is_refused() {
        let e = from_args(
            "s3://AKIA:supersecret@lake/a.csv",
            "a.parquet",
            &CopyOpts::default(),
        )
        .unwrap_err();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        assert!(!crate::error::render(&e).contains("supersecret"));
    }
}
