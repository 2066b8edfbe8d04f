//! Object stores: S3 (and S3-compatible endpoints), Azure Blob Storage and
//! ADLS Gen2, Google Cloud Storage as sources and sinks; HTTPS URLs as
//! sources (`kind = "s3" | "azure" | "gcs" | "http"`; `s3://`, `az://`,
//! `abfss://`, `gs://`, `https://` URLs). Every file format of the local
//! connector, read and written by the same code ([`crate::connect::format`])
//! through [`io`].
//!
//! - `builder`: the typed settings of a connection, and the object_store
//!   client built from them under convoy's TLS and HTTPS policy.
//! - `io`: bytes in and out of a store for the format readers and writers.
//! - `sink`: atomic publishing of one object or a split output.
//! - `check`: what `convoy check` asks of an endpoint.
//!
//! A source is one object, a prefix (`raw/`: the objects directly under it)
//! or a glob (`raw/orders/*.csv`); all of them, sorted by name, form one table
//! under the same schema rules as local files.

pub mod builder;
mod check;
pub mod io;
mod sink;

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectMeta, ObjectStoreExt};

use self::builder::{Store, StoreConfig, Target};
use self::io::ObjectInput;
pub use self::sink::ObjSink;
use super::format::input::Input;
use super::format::{FileSource, MANIFEST};
use super::url::Url;
use super::{
    Checked, Connector, Coordination, Kind, Located, NetworkEndpoint, OpenContext, Role, Sink,
    Source, StageStore,
};
use crate::spec::fields::Fields;
use crate::spec::{validate, Connection, Endpoint, Format, Mode};

/// The kinds of store this module serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    S3,
    Azure,
    Gcs,
    Http,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::S3 => "s3",
            StoreKind::Azure => "azure",
            StoreKind::Gcs => "gcs",
            StoreKind::Http => "http",
        }
    }
}

/// `kind = "s3"`.
pub struct S3;
/// `kind = "azure"`.
pub struct Azure;
/// `kind = "gcs"`.
pub struct Gcs;
/// `kind = "http"`.
pub struct Http;

macro_rules! store_kind {
    ($ty:ty, $kind:expr, $schemes:expr) => {
        impl Kind for $ty {
            fn name(&self) -> &'static str {
                $kind.name()
            }

            fn schemes(&self) -> &'static [&'static str] {
                $schemes
            }

            fn locate(&self, url: &Url) -> Result<Located> {
                from_url($kind, url)
            }

            fn configure(&self, conn: &Connection, f: &mut Fields) -> Arc<dyn Connector> {
                Arc::new(ObjConnection {
                    cfg: StoreConfig::read($kind, conn.region.clone(), f),
                    kind: $kind,
                })
            }
        }
    };
}

store_kind!(S3, StoreKind::S3, &["s3", "s3a"]);
store_kind!(Azure, StoreKind::Azure, &["az", "azure", "abfs", "abfss"]);
store_kind!(Gcs, StoreKind::Gcs, &["gs", "gcs"]);
store_kind!(Http, StoreKind::Http, &["https", "http"]);

/// A store URL → the settings a spec would give and the endpoint: the
/// bucket or container from the authority, the object or prefix from what
/// follows, as written (globs included).
fn from_url(kind: StoreKind, url: &Url) -> Result<Located> {
    let mut settings = toml::Table::new();
    let mut set = |k: &str, v: &str| {
        settings.insert(k.to_string(), toml::Value::String(v.to_string()));
    };
    let authority = match (&url.user, kind) {
        (Some(container), StoreKind::Azure) => format!("{container}@{}", url.authority()),
        _ => url.authority(),
    };
    if authority.is_empty() {
        return Err(crate::error::usage(
            format!(
                "{}://: the URL names no bucket, container or host",
                url.scheme
            ),
            None,
        ));
    }
    match kind {
        StoreKind::S3 | StoreKind::Gcs => set("bucket", &url.authority()),
        StoreKind::Azure => match &url.user {
            Some(container) => {
                let account = url.host.split('.').next().unwrap_or_default();
                set("container", container);
                set("account", account);
            }
            None => set("container", &url.authority()),
        },
        StoreKind::Http => set("url", &format!("{}://{}", url.scheme, url.authority())),
    }
    let name = format!("{}://{authority}", url.scheme);
    let mut ep = Endpoint::new(&name);
    ep.path = Some(url.rest.clone());
    Ok(Located {
        name,
        settings,
        endpoint: ep,
    })
}

/// An object store error, redacted, with TLS failures refused as policy
/// (exit 3) and a hint on what to do.
pub fn store_error(what: &str, doing: &str, e: object_store::Error) -> anyhow::Error {
    // Causes, outermost first, each once (object_store repeats inner messages).
    let mut text = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !t.is_empty() && !text.contains(&t) {
            text = format!("{text}: {t}");
        }
        src = s.source();
    }
    let text = crate::security::redact::redact(&text);
    // Which check a refused certificate failed, as for every connection.
    if let Some(refusal) = crate::security::tls::classify(&e, &format!("{what}: {doing}")) {
        return refusal;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") {
        return crate::error::policy(
            format!("{what}: {doing}: the server's TLS certificate is not trusted: {text}"),
            Some(
                "convoy always verifies certificates; give the CA that signed it with tls = { ca_file = \"…\" }"
                    .to_string(),
            ),
        );
    }
    if let Some(stalled) = find::<builder::Stalled>(&e) {
        let hint = if stalled.connecting {
            "check the endpoint and the network (a firewall that drops packets, a proxy); raise timeout.connect if the store is slow to accept connections"
        } else {
            "the server or the network stopped answering; if the store is only slow, raise timeout.idle in the connection"
        };
        return crate::error::input(
            format!("{what}: {stalled} while {doing}"),
            Some(hint.to_string()),
        );
    }
    if matches!(e, object_store::Error::Precondition { .. }) {
        return crate::error::verify(format!(
            "{what}: {doing}: the object was replaced while convoy read it; nothing was published"
        ));
    }
    if matches!(e, object_store::Error::NotFound { .. }) {
        return crate::error::input(format!("{what}: {doing}: not found"), None);
    }
    // No credentials in the connection or the environment: the last place
    // object_store looks is the machine's own credential endpoint.
    let metadata = [
        "169.254.169.254",
        "169.254.170.",
        "fd00:ec2::",
        "metadata.google.internal",
        "/latest/api/token",
        "/metadata/identity/oauth2/token",
    ];
    if metadata.iter().any(|m| text.contains(m)) {
        return crate::error::input(
            format!("{what}: {doing}: no credentials: none were given, and the machine's instance metadata gave none: {text}"),
            Some("give the connection its credentials (e.g. secret_access_key = \"${secret:NAME}\", key = \"${env:NAME}\") or set the cloud's environment variables (README: Object stores, Credentials)".to_string()),
        );
    }
    crate::error::input(format!("{what}: {doing}: {text}"), None)
}

/// The first error of type `T` in a chain.
fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

/// A store connection, configured.
pub struct ObjConnection {
    kind: StoreKind,
    cfg: StoreConfig,
}

impl ObjConnection {
    /// Build the client (credentials resolved, TLS policy applied).
    pub fn store(&self, ctx: &OpenContext) -> Result<Store> {
        builder::build(&self.cfg, ctx)
    }

    /// The host, port and whether it is HTTPS, from the spec and, where the
    /// spec is silent, the environment or the cloud's default.
    fn host_port(&self) -> Option<(String, u16, bool)> {
        let env = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok());
        let url = match &self.cfg.target {
            Target::S3 { endpoint, .. } => endpoint
                .clone()
                .or_else(|| env(&["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]))
                .unwrap_or_else(|| {
                    let region = self
                        .cfg
                        .region
                        .clone()
                        .or_else(|| env(&["AWS_REGION", "AWS_DEFAULT_REGION"]));
                    match region {
                        Some(r) => format!("https://s3.{r}.amazonaws.com"),
                        None => "https://s3.amazonaws.com".into(),
                    }
                }),
            Target::Azure {
                endpoint, account, ..
            } => endpoint
                .clone()
                .or_else(|| env(&["AZURE_STORAGE_ENDPOINT"]))
                .unwrap_or_else(|| {
                    let account = account
                        .clone()
                        .or_else(|| env(&["AZURE_STORAGE_ACCOUNT_NAME"]))
                        .unwrap_or_else(|| "ACCOUNT".into());
                    format!("https://{account}.blob.core.windows.net")
                }),
            Target::Gcs { .. } => "https://storage.googleapis.com".into(),
            Target::Http { url } => url.clone(),
        };
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let https = scheme.eq_ignore_ascii_case("https");
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => {
                (h.to_string(), p.parse().ok()?)
            }
            _ => (authority.to_string(), if https { 443 } else { 80 }),
        };
        Some((host, port, https))
    }

    /// Short identity of a path on this store, without building anything.
    fn identity(&self, path: &str) -> String {
        let region = self
            .cfg
            .region
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        match &self.cfg.target {
            Target::S3 { bucket, .. } => format!("s3 bucket {bucket}{region} {path}"),
            Target::Azure {
                container, account, ..
            } => format!(
                "azure container {container}{} {path}",
                account
                    .as_ref()
                    .map(|a| format!(" (account {a})"))
                    .unwrap_or_default()
            ),
            Target::Gcs { bucket, .. } => format!("gcs bucket {bucket}{region} {path}"),
            Target::Http { url } => format!(
                "https {}/{path}",
                crate::security::redact::redact(url.trim_end_matches('/'))
            ),
        }
    }
}

#[async_trait]
impl Connector for ObjConnection {
    fn kind(&self) -> &'static str {
        self.kind.name()
    }

    fn check_endpoint(&self, ep: &Endpoint, role: Role, mode: &Mode) -> Vec<(String, String)> {
        let mut problems = validate::file_endpoint(self.kind.name(), ep, role, mode);
        if self.kind == StoreKind::Http && role == Role::Sink {
            problems.push((
                "connection".into(),
                "https connections are read-only; write to s3, azure, gcs or local files".into(),
            ));
        }
        problems
    }

    fn describe(&self, ep: &Endpoint) -> String {
        self.identity(ep.path.as_deref().unwrap_or("?"))
    }

    fn network(&self) -> Vec<NetworkEndpoint> {
        self.host_port()
            .map(|(host, port, https)| NetworkEndpoint {
                host,
                port,
                protocol: if https { "https" } else { "http" }.to_string(),
                tls: if !https {
                    "none: plain HTTP (needs allow_http and --allow-insecure)".to_string()
                } else if self.cfg.tls.mode != crate::security::tls::TlsMode::VerifyFull {
                    self.cfg.tls.describe().to_string()
                } else if self.cfg.tls.pin_sha256.is_some() {
                    "pinned (server public key sha256)".to_string()
                } else {
                    "verified (system roots + tls.ca_file)".to_string()
                },
            })
            .into_iter()
            .collect()
    }

    fn publish(&self, ep: &Endpoint, _mode: &Mode) -> String {
        match ep.max_rows_per_file {
            None => "one multipart upload, completed at commit (aborted on error or interrupt): readers see the old object or the whole new one".to_string(),
            Some(n) => format!(
                "objects of at most {n} rows under the prefix, then {MANIFEST} last; objects of the previous output are deleted after it"
            ),
        }
    }

    async fn check(&self, ep: &Endpoint, role: Role, _mode: &Mode, ctx: &OpenContext) -> Checked {
        check::check(self, ep, role, ctx).await
    }

    fn open_source(&self, ep: &Endpoint, ctx: &OpenContext) -> Result<Box<dyn Source>> {
        let handle = tokio::runtime::Handle::current();
        let st = self.store(ctx)?;
        let key = ep
            .path
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/');
        // The listing a coordinator froze for every shard, else today's.
        let frozen: Option<Vec<String>> = ctx
            .share
            .as_ref()
            .and_then(|s| s.plan.as_ref())
            .and_then(|p| p["files"].as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            });
        let listing = async {
            match frozen {
                Some(keys) => {
                    let mut metas = Vec::new();
                    for k in keys {
                        let p = object_path(&k)?;
                        metas.push(st.store.head(&p).await.map_err(|e| {
                            store_error(&st.identity, &format!("reading {}/{k}", st.root), e)
                        })?);
                    }
                    Ok::<_, anyhow::Error>(metas)
                }
                None => expand(&st, key, ep.format).await,
            }
        };
        // On a blocking thread the runner does not wait for: watch the
        // cancellation token here.
        let metas = handle.block_on(async {
            tokio::select! {
                biased;
                _ = ctx.cancel.cancelled() => Err(crate::error::interrupted()),
                r = listing => r,
            }
        })?;
        let label = if metas.len() == 1 {
            format!("{} {}", st.identity, metas[0].location)
        } else {
            format!("{} {key} ({} objects)", st.identity, metas.len())
        };
        let inputs: Vec<Arc<dyn Input>> = metas
            .into_iter()
            .map(|m| {
                Arc::new(ObjectInput {
                    store: st.store.clone(),
                    name: format!("{}/{}", st.root, m.location),
                    path: m.location,
                    size: m.size,
                    handle: handle.clone(),
                    e_tag: m.e_tag,
                    cancel: ctx.cancel.clone(),
                }) as Arc<dyn Input>
            })
            .collect();
        Ok(Box::new(FileSource::from_inputs(label, inputs, ep, ctx)?))
    }

    fn open_sink(&self, ep: &Endpoint, _mode: &Mode, ctx: &OpenContext) -> Result<Box<dyn Sink>> {
        let st = self.store(ctx)?;
        if !st.writable {
            return Err(crate::error::usage(
                format!("{} is read-only: HTTPS URLs are sources", st.identity),
                None,
            ));
        }
        Ok(Box::new(ObjSink::new(st, ep, ctx)?))
    }

    async fn coordinate(
        &self,
        ep: &Endpoint,
        _count: u32,
        ctx: &OpenContext,
    ) -> Result<Coordination> {
        let st = self.store(ctx)?;
        let key = ep
            .path
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/');
        let metas = expand(&st, key, ep.format).await?;
        Ok(Coordination {
            plan: serde_json::json!({
                "files": metas.iter().map(|m| m.location.to_string()).collect::<Vec<_>>(),
            }),
            hold: Box::new(()),
        })
    }

    fn holds_stages(&self) -> bool {
        self.kind != StoreKind::Http
    }

    fn stage_store(&self, path: &str, ctx: &OpenContext) -> Result<StageStore> {
        let st = self.store(ctx)?;
        if !st.writable {
            return Err(crate::error::usage(
                format!("{} is read-only and cannot hold a stage", st.identity),
                None,
            ));
        }
        Ok(StageStore {
            store: st.store,
            root: st.root,
            path: path.trim_matches('/').to_string(),
        })
    }
}

pub(crate) fn object_path(key: &str) -> Result<ObjPath> {
    ObjPath::parse(key)
        .map_err(|e| crate::error::usage(format!("{key:?} is not a valid object name: {e}"), None))
}

fn is_hidden_or_ours(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

fn wanted(name: &str, format: Option<Format>) -> bool {
    match format {
        Some(f) => Format::from_path(name) == Some(f) || Format::from_path(name).is_none(),
        None => Format::from_path(name).is_some(),
    }
}

/// The objects a source path names: one object, a prefix's objects, or a glob's.
async fn expand(st: &Store, key: &str, format: Option<Format>) -> Result<Vec<ObjectMeta>> {
    let shown = format!("{}/{key}", st.root);
    let mut found: Vec<ObjectMeta>;
    if key.contains(['*', '?', '[']) {
        if st.kind == StoreKind::Http {
            return Err(crate::error::usage(
                format!("{shown}: HTTPS sources cannot be listed; name one file"),
                None,
            ));
        }
        let pattern = glob::Pattern::new(key)
            .map_err(|e| crate::error::usage(format!("bad glob pattern {key:?}: {e}"), None))?;
        let wild = key.find(['*', '?', '[']).unwrap_or(key.len());
        let prefix = key[..wild].rfind('/').map_or("", |i| &key[..i]);
        let prefix = (!prefix.is_empty())
            .then(|| object_path(prefix))
            .transpose()?;
        let opts = glob::MatchOptions {
            require_literal_separator: true,
            ..glob::MatchOptions::new()
        };
        found = st
            .store
            .list(prefix.as_ref())
            .try_filter(|m| {
                // As for local globs: whatever matches, hidden names too.
                futures::future::ready(pattern.matches_with(m.location.as_ref(), opts))
            })
            .try_collect()
            .await
            .map_err(|e| store_error(&st.identity, &format!("listing {shown}"), e))?;
        if found.is_empty() {
            return Err(crate::error::input(
                format!("no objects match {shown}"),
                Some("check the pattern; quote it so the shell does not expand it".to_string()),
            ));
        }
    } else if key.is_empty() || key.ends_with('/') {
        if st.kind == StoreKind::Http {
            return Err(crate::error::usage(
                format!("{shown}: HTTPS sources cannot be listed; name one file"),
                None,
            ));
        }
        let prefix = (!key.is_empty()).then(|| object_path(key)).transpose()?;
        let listed = st
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(|e| store_error(&st.identity, &format!("listing {shown}"), e))?;
        found = listed
            .objects
            .into_iter()
            .filter(|m| {
                m.location
                    .filename()
                    .is_some_and(|n| !is_hidden_or_ours(n) && wanted(n, format))
            })
            .collect();
        if found.is_empty() {
            return Err(crate::error::input(
                format!("{shown} holds no data objects"),
                Some(
                    "objects need a .csv, .parquet, .jsonl or .arrow extension, or give --source-format"
                        .to_string(),
                ),
            ));
        }
    } else {
        let path = object_path(key)?;
        let meta = st
            .store
            .head(&path)
            .await
            .map_err(|e| store_error(&st.identity, &format!("reading {shown}"), e))?;
        found = vec![meta];
    }
    found.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(found)
}
