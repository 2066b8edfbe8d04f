//! The connectors, one folder per kind of store, and the one registry of
//! connection kinds.
//!
//! Each connector folder owns everything its kind means: its typed settings
//! and URL forms, its network endpoints, the sentence `plan` prints about how
//! it publishes, its `check` steps, and its source and sink (see
//! [`api::Kind`] and [`api::Connector`]). `plan`, `check` and `run` loop over
//! what [`configure`] returns and never ask which kind they hold. Adding a
//! kind is a folder and a line in [`KINDS`].
//!
//! Shared floors: [`api`] (the traits), [`format`] (file formats over any
//! bytes), [`probe`] (DNS, TCP and TLS steps of `check`), [`url`]
//! (command-line URLs, passwords refused).

pub mod api;
pub mod format;
pub mod local;
pub mod mssql;
pub mod objstore;
pub mod postgres;
pub mod probe;
pub mod url;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;

pub use api::*;

use crate::spec::cli_spec::Location;
use crate::spec::fields::{Fields, Problems};
use crate::spec::{suggest, Connection, Spec, LOCAL};

/// Every kind of connection convoy knows.
pub static KINDS: &[&dyn Kind] = &[
    &local::Local,
    &postgres::Postgres,
    &mssql::Mssql,
    &objstore::S3,
    &objstore::Azure,
    &objstore::Gcs,
    &objstore::Http,
];

/// The kind of this name.
pub fn kind(name: &str) -> Option<&'static dyn Kind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

/// The configured connections of a spec, by name; the local file system is
/// there as `local` unless the spec gives that name to a connection of its
/// own.
pub type Connectors = BTreeMap<String, Arc<dyn Connector>>;

/// Read every connection's settings with its kind's rules. Problems (an
/// unknown kind, a badly typed setting, a literal credential) go into
/// `problems`; nothing is contacted.
pub fn configure(spec: &Spec, problems: &mut Problems) -> Connectors {
    let mut out = Connectors::new();
    out.insert(
        LOCAL.to_string(),
        Arc::new(local::LocalFiles::implicit(&spec.base_dir)) as Arc<dyn Connector>,
    );
    for (name, conn) in &spec.connections {
        let path = format!("connections.{name}");
        let Some(kind) = kind(&conn.kind) else {
            let names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
            let hint = suggest(&conn.kind, names.iter().copied())
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_else(|| format!(" (expected one of: {})", names.join(", ")));
            problems.push(
                format!("{path}.kind"),
                format!("unknown kind \"{}\"{hint}", conn.kind),
            );
            continue;
        };
        let mut fields = Fields::new(path, &conn.settings, &spec.base_dir, problems);
        let connector = kind.configure(conn, &mut fields);
        fields.finish();
        out.insert(name.clone(), connector);
    }
    out
}

/// A command-line argument: a URL of a kind's scheme (`postgres://…`,
/// `s3://…`), or a local path (`file://` included). A URL with a password is
/// refused (exit 3) before anything else reads it. `arg` names the argument
/// in messages (`SRC`, `DST`).
pub fn locate(text: &str, arg: &str) -> Result<Location> {
    let Some((scheme, rest)) = url::split_scheme(text) else {
        return Ok(Location::Local(text.to_string()));
    };
    if scheme == "file" {
        return Ok(Location::Local(rest.to_string()));
    }
    let kind = KINDS
        .iter()
        .copied()
        .find(|k| k.schemes().contains(&scheme.as_str()));
    let Some(kind) = kind else {
        let known: Vec<&str> = KINDS.iter().flat_map(|k| k.schemes()).copied().collect();
        return Err(crate::error::usage(
            format!(
                "{arg}: unknown URL scheme {scheme}:// ({}, or a local path)",
                known.join(", ")
            ),
            None,
        ));
    };
    let url = url::Url::parse(text, arg, kind.url_path_is_a_name())?;
    let located = kind.locate(&url)?;
    Ok(Location::Remote(Box::new((
        Connection {
            name: located.name,
            kind: kind.name().to_string(),
            region: None,
            settings: located.settings,
            implied: true,
        },
        located.endpoint,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(text: &str) -> (Connection, crate::spec::Endpoint) {
        match locate(text, "SRC").unwrap() {
            Location::Remote(r) => *r,
            Location::Local(p) => panic!("{text} is local: {p}"),
        }
    }

    #[test]
    fn object_store_urls_become_implicit_connections() {
        let (c, ep) = remote("abfss://raw@lakeprod.dfs.core.windows.net/orders/*.csv");
        assert_eq!(c.kind, "azure");
        assert_eq!(c.settings["container"].as_str(), Some("raw"));
        assert_eq!(c.settings["account"].as_str(), Some("lakeprod"));
        assert_eq!(ep.path.as_deref(), Some("orders/*.csv"));
        let (c, ep) = remote("s3://lake/raw/orders.parquet");
        assert_eq!(c.kind, "s3");
        assert_eq!(c.settings["bucket"].as_str(), Some("lake"));
        assert_eq!(ep.path.as_deref(), Some("raw/orders.parquet"));
        let (c, ep) = remote("https://example.org/data/x.csv");
        assert_eq!(c.kind, "http");
        assert_eq!(c.settings["url"].as_str(), Some("https://example.org"));
        assert_eq!(ep.path.as_deref(), Some("data/x.csv"));
        assert_eq!(remote("gs://b/x.parquet").0.kind, "gcs");
        assert!(matches!(
            locate("file:///tmp/a.parquet", "DST").unwrap(),
            Location::Local(p) if p == "/tmp/a.parquet"
        ));
        assert!(matches!(
            locate("a.csv", "SRC").unwrap(),
            Location::Local(_)
        ));
    }

    #[test]
    fn a_password_in_a_url_is_refused() {
        for text in [
            "s3://AKIA:supersecret@lake/a.csv",
            "s3://AKIAEXAMPLE:wJalrXUtn/supersecret@lake/raw/x.parquet",
            "gs://k:supersecret@b/x",
            "az://k:supersecret@c/x",
            "https://u:supersecret@h/x.csv",
            "postgres://u:super/secret@h/db?table=t",
            "mssql://u:super?secret@h/db?table=t",
        ] {
            let e = locate(text, "SRC").err().unwrap();
            assert_eq!(
                crate::error::exit_kind(&e),
                crate::error::ExitKind::Policy,
                "{text}"
            );
            assert!(!crate::error::render(&e).contains("super"), "{text}");
        }
    }

    #[test]
    fn every_kind_is_registered_once_and_schemes_are_unique() {
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KINDS.len());
        let mut schemes: Vec<&str> = KINDS.iter().flat_map(|k| k.schemes()).copied().collect();
        let n = schemes.len();
        schemes.sort();
        schemes.dedup();
        assert_eq!(schemes.len(), n);
    }
}
