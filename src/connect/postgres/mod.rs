//! PostgreSQL (`kind = "postgres"`, `postgres://` URLs) as source and sink,
//! over binary COPY, always through verified TLS.
//!
//! - `config`: settings or a URL → a validated [`config::PgConfig`]; connecting.
//! - `catalog`: what convoy asks the server's catalog.
//! - `read`: a table or query as a source (binary COPY decoded into Arrow,
//!   or passed on unchanged), optionally in parallel ranges of one snapshot.
//! - `write`: a table as a sink, each mode in one transaction.
//! - `types`: the type table, both ways; `copy_binary`: the wire format.
//! - `check`: what `convoy check` asks of an endpoint.
//!
//! PostgreSQL to PostgreSQL: when every destination column has the source
//! column's built-in type and modifier, the source's COPY rows go to the
//! destination's COPY unchanged (the [`COPY_BINARY`] encoding; the
//! `copy_binary::Framer` takes off header and trailer and counts rows);
//! otherwise they travel through Arrow.

mod catalog;
mod check;
pub mod config;
pub mod copy_binary;
mod read;
pub mod types;
mod write;

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;

use self::config::PgConfig;
pub use self::read::PgSource;
pub use self::write::PgSink;
use super::url::Url;
use super::{
    Checked, Connector, Coordination, Kind, Located, NetworkEndpoint, OpenContext, Role, Sink,
    Source,
};
use crate::spec::fields::Fields;
use crate::spec::{validate, Connection, Endpoint, Mode};

/// Rows in PostgreSQL's binary COPY form, without header or trailer; the
/// encoding's detail is the columns' types (`Vec<types::PgType>`), which the
/// destination's must equal.
pub const COPY_BINARY: &str = "postgres binary COPY";

/// `kind = "postgres"`.
pub struct Postgres;

impl Kind for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn schemes(&self) -> &'static [&'static str] {
        &["postgres", "postgresql"]
    }

    fn url_path_is_a_name(&self) -> bool {
        true
    }

    fn locate(&self, url: &Url) -> Result<Located> {
        config::from_url(url)
    }

    fn configure(&self, conn: &Connection, f: &mut Fields) -> Arc<dyn Connector> {
        Arc::new(PgConnection {
            name: (!conn.implied).then(|| conn.name.clone()),
            cfg: PgConfig::read(f),
        })
    }
}

/// A PostgreSQL connection, configured.
pub struct PgConnection {
    /// The spec's name for it, if the spec named it.
    name: Option<String>,
    cfg: PgConfig,
}

#[async_trait]
impl Connector for PgConnection {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn check_endpoint(&self, ep: &Endpoint, role: Role, _mode: &Mode) -> Vec<(String, String)> {
        validate::table_endpoint("postgres", ep, role)
    }

    fn describe(&self, ep: &Endpoint) -> String {
        let what = ep
            .table
            .as_deref()
            .or(ep.query.as_ref().map(|_| "(query)"))
            .unwrap_or("?");
        match &self.name {
            Some(name) => format!("postgres {name} {what}"),
            None => format!("{} {what}", self.cfg.ident()),
        }
    }

    fn is_server(&self) -> bool {
        true
    }

    fn network(&self) -> Vec<NetworkEndpoint> {
        vec![NetworkEndpoint {
            host: self.cfg.host.clone(),
            port: self.cfg.port,
            protocol: "postgresql".into(),
            tls: self.cfg.tls.describe().to_string(),
        }]
    }

    fn publish(&self, _ep: &Endpoint, mode: &Mode) -> String {
        match mode {
            Mode::Append => "COPY into the table in one transaction, committed last",
            Mode::Replace => {
                "TRUNCATE and COPY in one transaction, committed last: readers see the old rows until the commit, then the new ones (grants, indexes and dependent views stay)"
            }
            Mode::Merge { .. } => {
                "COPY into a temporary table, then INSERT … ON CONFLICT on the key, in one transaction"
            }
            Mode::Incremental { .. } => {
                "COPY into a temporary table, rows past the cursor's maximum inserted, in one transaction"
            }
        }
        .to_string()
    }

    async fn check(&self, ep: &Endpoint, role: Role, mode: &Mode, ctx: &OpenContext) -> Checked {
        check::check(&self.cfg, ep, role, mode, ctx).await
    }

    fn open_source(&self, ep: &Endpoint, ctx: &OpenContext) -> Result<Box<dyn Source>> {
        Ok(Box::new(PgSource::open(self.cfg.clone(), ep, ctx)?))
    }

    async fn coordinate(
        &self,
        ep: &Endpoint,
        count: u32,
        ctx: &OpenContext,
    ) -> Result<Coordination> {
        read::coordinate(self.cfg.clone(), ep, count, ctx).await
    }

    fn open_sink(&self, ep: &Endpoint, mode: &Mode, ctx: &OpenContext) -> Result<Box<dyn Sink>> {
        let table = ep.table.clone().ok_or_else(|| {
            crate::error::usage("a postgres destination needs table = \"schema.name\"", None)
        })?;
        Ok(Box::new(PgSink::new(self.cfg.clone(), table, mode, ctx)))
    }
}
