//! SQL Server and Azure SQL Database (`kind = "mssql"`, `mssql://` URLs) as
//! source and sink, over TDS with tiberius.
//!
//! - `config`: settings or an `mssql://` URL → a validated connection (the
//!   encryption policy: `Required` or TDS 8.0 `Strict`, nothing weaker; the
//!   shared `tls = { … }` settings and what tiberius verifies with them).
//! - `check`: what `convoy check` asks of an endpoint (PRELOGIN first).
//! - `client`: connecting, redirects, and errors with exit statuses.
//! - `types`: the type table, values both ways, exact or refused.
//! - `sql`: every statement convoy generates.
//! - `read`: a query or table streamed into Arrow batches, optionally in
//!   parallel key ranges.
//! - `write`: TDS bulk load (never row-by-row INSERTs), each mode in one
//!   transaction.

mod check;
pub mod client;
pub mod config;
pub mod read;
pub mod sql;
pub mod types;
pub mod write;

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;

use self::config::{Encrypt, MssqlConfig};
pub use self::read::MssqlSource;
pub use self::write::MssqlSink;
use super::url::Url;
use super::{Checked, Connector, Kind, Located, NetworkEndpoint, OpenContext, Role, Sink, Source};
use crate::security::tls::TlsMode;
use crate::spec::fields::Fields;
use crate::spec::{validate, Connection, Endpoint, Mode};

/// `kind = "mssql"`.
pub struct Mssql;

impl Kind for Mssql {
    fn name(&self) -> &'static str {
        "mssql"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["mssql", "sqlserver"]
    }

    fn url_path_is_a_name(&self) -> bool {
        true
    }

    fn locate(&self, url: &Url) -> Result<Located> {
        config::from_url(url)
    }

    fn configure(&self, conn: &Connection, f: &mut Fields) -> Arc<dyn Connector> {
        Arc::new(MssqlConnection {
            name: (!conn.implied).then(|| conn.name.clone()),
            cfg: Arc::new(MssqlConfig::read(f)),
        })
    }
}

/// A SQL Server connection, configured.
pub struct MssqlConnection {
    name: Option<String>,
    cfg: Arc<MssqlConfig>,
}

#[async_trait]
impl Connector for MssqlConnection {
    fn kind(&self) -> &'static str {
        "mssql"
    }

    fn check_endpoint(&self, ep: &Endpoint, role: Role, _mode: &Mode) -> Vec<(String, String)> {
        validate::table_endpoint("mssql", ep, role)
    }

    fn describe(&self, ep: &Endpoint) -> String {
        let what = ep
            .table
            .as_deref()
            .or(ep.query.as_ref().map(|_| "(query)"))
            .unwrap_or("?");
        match &self.name {
            Some(name) => format!("mssql {name} {what}"),
            None => format!("mssql {} {what}", self.cfg.label()),
        }
    }

    fn is_server(&self) -> bool {
        true
    }

    fn network(&self) -> Vec<NetworkEndpoint> {
        vec![NetworkEndpoint {
            host: self.cfg.host.clone(),
            port: self.cfg.port,
            protocol: "tds".into(),
            tls: format!(
                "{}, {}",
                if self.cfg.encrypt == Encrypt::Strict {
                    "TDS 8.0 strict (TLS first)"
                } else {
                    "encryption required"
                },
                if self.cfg.tls.mode == TlsMode::NoVerify {
                    "certificate NOT verified (--allow-insecure)"
                } else {
                    "certificate and host name verified"
                }
            ),
        }]
    }

    fn publish(&self, _ep: &Endpoint, mode: &Mode) -> String {
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
        .to_string()
    }

    async fn check(&self, ep: &Endpoint, role: Role, mode: &Mode, ctx: &OpenContext) -> Checked {
        check::check(&self.cfg, ep, role, mode, ctx).await
    }

    fn open_source(&self, ep: &Endpoint, ctx: &OpenContext) -> Result<Box<dyn Source>> {
        Ok(Box::new(MssqlSource::open(self.cfg.clone(), ep, ctx)?))
    }

    fn open_sink(&self, ep: &Endpoint, mode: &Mode, ctx: &OpenContext) -> Result<Box<dyn Sink>> {
        Ok(Box::new(MssqlSink::new(self.cfg.clone(), ep, mode, ctx)?))
    }
}
