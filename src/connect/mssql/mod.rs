//! SQL Server and Azure SQL Database as source and sink, over TDS with tiberius.
//!
//! - `config`: settings or an `mssql://` URL → a validated connection (the
//!   encryption policy: `Required` or TDS 8.0 `Strict`, nothing weaker).
//! - `tls`: the `tls = { … }` settings and what tiberius verifies.
//! - `client`: connecting, redirects, and errors with exit statuses.
//! - `types`: the type table, values both ways, exact or refused.
//! - `sql`: every statement convoy generates.
//! - `read`: a query or table streamed into Arrow batches, optionally in
//!   parallel key ranges.
//! - `write`: TDS bulk load (never row-by-row INSERTs), each mode in one
//!   transaction.

pub mod client;
pub mod config;
pub mod read;
pub mod sql;
pub mod tls;
pub mod types;
pub mod write;

pub use read::MssqlSource;
pub use write::MssqlSink;

use anyhow::Result;

use self::config::MssqlConfig;
use super::OpenContext;
use crate::connect::NetworkEndpoint;
use crate::security::reference::ResolveContext;
use crate::spec::{Endpoint, Mode, Spec};

/// The validated connection an endpoint names; warns about (and records)
/// insecure settings the user allowed.
pub fn endpoint_config(spec: &Spec, ep: &Endpoint, ctx: &OpenContext) -> Result<MssqlConfig> {
    let conn = spec.connections.get(&ep.connection).ok_or_else(|| {
        crate::error::usage(format!("no connection named \"{}\"", ep.connection), None)
    })?;
    let resolve = ResolveContext::new(ctx.vault.clone()).with_base_dir(spec.base_dir.clone());
    let cfg =
        MssqlConfig::from_settings(&conn.settings, &spec.base_dir, &resolve, ctx.allow_insecure)
            .map_err(|e| e.context(format!("connection \"{}\"", ep.connection)))?;
    if cfg.tls.trust_server_certificate {
        ctx.note_insecure(format!(
            "mssql {}: trust_server_certificate = true: the server's certificate is not verified (allowed by --allow-insecure)",
            cfg.label()
        ));
    }
    Ok(cfg)
}

/// The outbound connection a SQL Server connection makes, for `convoy plan`.
pub fn network_endpoint(settings: &toml::Table) -> NetworkEndpoint {
    let strict = settings
        .get("encrypt")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.eq_ignore_ascii_case("strict"));
    let trust = settings
        .get("trust_server_certificate")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    NetworkEndpoint {
        host: settings
            .get("host")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string(),
        port: settings
            .get("port")
            .and_then(|v| v.as_integer())
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(config::DEFAULT_PORT),
        protocol: "tds".into(),
        tls: format!(
            "{}, {}",
            if strict {
                "TDS 8.0 strict (TLS first)"
            } else {
                "encryption required"
            },
            if trust {
                "certificate NOT verified (--allow-insecure)"
            } else {
                "certificate and host name verified"
            }
        ),
    }
}

/// How a SQL Server sink publishes, for `convoy plan`.
pub fn publish(mode: &Mode) -> &'static str {
    match mode {
        Mode::Append => "bulk-loaded into the table in one transaction, committed last",
        Mode::Replace => {
            "bulk-loaded into a new table, counted, swapped in with sp_rename and the old table dropped, all in one transaction"
        }
        Mode::Merge { .. } => {
            "bulk-loaded into a temporary table, then one MERGE on the key, in one transaction"
        }
        Mode::Incremental { .. } => {
            "bulk-loaded into a temporary table, rows past the cursor maximum inserted, in one transaction"
        }
    }
}
