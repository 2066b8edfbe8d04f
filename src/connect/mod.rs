//! The connectors, and the functions that open one for an endpoint of a
//! spec. The traits they implement live in [`api`].

pub mod api;
pub mod format;
pub mod local;
pub mod mssql;
pub mod objstore;
pub mod postgres;

pub use api::*;

use anyhow::Result;

use crate::spec::{Endpoint, Kind, Spec};

/// The kind of store an endpoint names.
pub fn kind_of(spec: &Spec, ep: &Endpoint) -> Kind {
    spec.connections
        .get(&ep.connection)
        .map_or(Kind::Local, |c| c.kind)
}

fn not_available(kind: Kind) -> anyhow::Error {
    crate::error::usage(
        format!(
            "{} connections are not available in this version of convoy",
            kind.name()
        ),
        Some(
            "local files, object stores (s3, azure, gcs, https), PostgreSQL and SQL Server are supported"
                .to_string(),
        ),
    )
}

/// Open the source an endpoint names.
pub fn open_source(spec: &Spec, ep: &Endpoint, ctx: &OpenContext) -> Result<Box<dyn Source>> {
    match kind_of(spec, ep) {
        Kind::Local => Ok(Box::new(local::open_source(spec, ep, ctx)?)),
        Kind::Postgres => Ok(Box::new(postgres::PgSource::open(spec, ep, ctx)?)),
        Kind::Mssql => Ok(Box::new(mssql::MssqlSource::open(spec, ep, ctx)?)),
        k if objstore::handles(k) => objstore::open_source(spec, ep, ctx),
        other => Err(not_available(other)),
    }
}

/// Open the sink an endpoint names. Nothing is written before `begin`.
pub fn open_sink(
    spec: &Spec,
    ep: &Endpoint,
    mode: &crate::spec::Mode,
    ctx: &OpenContext,
) -> Result<Box<dyn Sink>> {
    match kind_of(spec, ep) {
        Kind::Local => Ok(Box::new(local::FileSink::new(spec, ep, ctx)?)),
        Kind::Postgres => Ok(Box::new(postgres::PgSink::new(spec, ep, mode, ctx)?)),
        Kind::Mssql => Ok(Box::new(mssql::MssqlSink::new(spec, ep, mode, ctx)?)),
        k if objstore::handles(k) => objstore::open_sink(spec, ep, ctx),
        other => Err(not_available(other)),
    }
}

/// The outbound network endpoint a connection needs (None for local files).
pub fn network_endpoint(conn: &crate::spec::Connection) -> Option<NetworkEndpoint> {
    match conn.kind {
        Kind::Postgres => Some(postgres::network_endpoint(&conn.settings)),
        Kind::Mssql => Some(mssql::network_endpoint(&conn.settings)),
        k if objstore::handles(k) => {
            objstore::network_endpoint(conn).map(|(host, port, https)| NetworkEndpoint {
                host,
                port,
                protocol: if https { "https" } else { "http" }.to_string(),
                tls: if https {
                    "verified (system roots + tls.ca_file)".to_string()
                } else {
                    "none: plain HTTP (needs allow_http and --allow-insecure)".to_string()
                },
            })
        }
        _ => None,
    }
}

/// Describe an endpoint without opening it (for plans and reports).
pub fn describe(spec: &Spec, ep: &Endpoint) -> String {
    let kind = kind_of(spec, ep);
    let what = ep
        .path
        .as_deref()
        .or(ep.table.as_deref())
        .or(ep.query.as_ref().map(|_| "(query)"))
        .unwrap_or("?");
    if kind == Kind::Local && !spec.connections.contains_key(&ep.connection) {
        format!("local {what}")
    } else if let Some(conn) = spec
        .connections
        .get(&ep.connection)
        .filter(|c| objstore::handles(c.kind))
    {
        objstore::describe(conn, what)
    } else {
        format!("{} {} {what}", kind.name(), ep.connection)
    }
}

/// Resolve a credential setting: a `${secret:…}`, `${env:…}`, `${file:…}` or
/// `${sealed:…}` reference. `field` names the setting in messages (never the
/// value); relative `${file:…}` paths start at `base_dir`.
pub fn resolve_secret(
    value: &str,
    field: &str,
    base_dir: &std::path::Path,
    vault: Option<std::path::PathBuf>,
) -> Result<crate::security::Secret> {
    let ctx = crate::security::reference::ResolveContext::new(vault).with_base_dir(base_dir);
    crate::security::reference::resolve(value, &ctx).map_err(|e| {
        let message = format!("{field}: {e}");
        match e.exit_code() {
            3 => crate::error::policy(message, e.hint()),
            2 => crate::error::usage(message, e.hint()),
            _ => crate::error::input(message, e.hint()),
        }
    })
}
