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
use crate::security::reference::ResolveContext;
use crate::spec::{Endpoint, Spec};

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
