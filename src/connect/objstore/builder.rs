//! A spec connection (`kind = "s3" | "azure" | "gcs" | "http"`) → a built
//! object_store client, after the security policy has had its say.
//!
//! The split follows the spec/runtime rule: [`Settings`] reads what the user
//! wrote (types checked, credentials resolved from references, nothing
//! contacted); [`build`] turns it into a [`Store`] with a short, secret-free
//! identity for messages. Credentials not in the spec come from each cloud's
//! usual environment variables through object_store's `from_env` builders
//! (`AWS_*`, `AZURE_STORAGE_*`, `GOOGLE_*`), including the instance,
//! web-identity and managed-identity chains object_store offers.
//!
//! HTTPS only: an `http://` endpoint (in the spec or the environment) is
//! refused with exit 3 unless the connection says `allow_http = true` and the
//! run was given `--allow-insecure`. Certificates are always verified, against
//! the system roots plus `tls = { ca_file = "…" }`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::{BackoffConfig, Certificate, ClientOptions, ObjectStore, RetryConfig};
use toml::Value;

use crate::connect::OpenContext;
use crate::security::reference::{self, ResolveContext};
use crate::security::Secret;
use crate::spec::{Connection, Kind};

/// A built store and how to speak of it.
pub struct Store {
    pub store: Arc<dyn ObjectStore>,
    pub kind: Kind,
    /// `s3 bucket lake (eu-west-1)`: short and secret-free.
    pub identity: String,
    /// `s3://lake`: how object names are shown (`s3://lake/raw/a.csv`).
    pub root: String,
    /// Whether this store may be written to (HTTPS URLs are read-only).
    pub writable: bool,
}

/// Reads one connection's settings, with messages naming the field.
pub struct Settings<'a> {
    name: &'a str,
    conn: &'a Connection,
    resolve: ResolveContext,
    base_dir: PathBuf,
}

impl<'a> Settings<'a> {
    pub fn new(
        name: &'a str,
        conn: &'a Connection,
        base_dir: &Path,
        ctx: &OpenContext,
    ) -> Settings<'a> {
        Settings {
            name,
            conn,
            resolve: ResolveContext::new(ctx.vault.clone()).with_base_dir(base_dir),
            base_dir: base_dir.to_path_buf(),
        }
    }

    fn field(&self, key: &str) -> String {
        format!("connections.{}.{key}", self.name)
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.conn.settings.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(crate::error::usage(
                format!("{}: expected a string", self.field(key)),
                None,
            )),
        }
    }

    fn required(&self, key: &str) -> Result<String> {
        self.string(key)?.ok_or_else(|| {
            crate::error::usage(
                format!(
                    "{}: missing (a {} connection needs it)",
                    self.field(key),
                    self.conn.kind.name()
                ),
                None,
            )
        })
    }

    fn boolean(&self, key: &str) -> Result<bool> {
        match self.conn.settings.get(key) {
            None => Ok(false),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(_) => Err(crate::error::usage(
                format!("{}: expected true or false", self.field(key)),
                None,
            )),
        }
    }

    /// A value that may be written literally or as a reference (`access_key_id`).
    fn plain_or_reference(&self, key: &str) -> Result<Option<Secret>> {
        match self.string(key)? {
            None => Ok(None),
            Some(v) if reference::is_reference(&v) => self.secret(key),
            Some(v) => Ok(Some(Secret::new(v))),
        }
    }

    /// A credential: always a reference (literals were refused at parse time).
    fn secret(&self, key: &str) -> Result<Option<Secret>> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        reference::resolve(&text, &self.resolve)
            .map(Some)
            .map_err(|e| {
                let message = format!("{}: {e}", self.field(key));
                if e.exit_code() == 3 {
                    crate::error::policy(message, e.hint())
                } else {
                    crate::error::usage(message, e.hint())
                }
            })
    }
}

/// Parse `30s`, `500ms`, `2m`, `1h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// `retry = { max = N, timeout = "30s" }` → object_store's retry policy.
pub fn retry_config(s: &Settings) -> Result<RetryConfig> {
    let mut cfg = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 10,
        retry_timeout: Duration::from_secs(180),
    };
    let Some(v) = s.conn.settings.get("retry") else {
        return Ok(cfg);
    };
    let field = s.field("retry");
    let Value::Table(t) = v else {
        return Err(crate::error::usage(
            format!("{field}: expected a table such as {{ max = 5, timeout = \"30s\" }}"),
            None,
        ));
    };
    for (k, v) in t {
        match (k.as_str(), v) {
            ("max", Value::Integer(n)) if *n >= 0 => cfg.max_retries = *n as usize,
            ("timeout", Value::String(d)) => {
                cfg.retry_timeout = parse_duration(d).ok_or_else(|| {
                    crate::error::usage(
                        format!("{field}.timeout: {d:?} is not a duration (e.g. \"30s\", \"2m\")"),
                        None,
                    )
                })?
            }
            ("max", _) => {
                return Err(crate::error::usage(
                    format!("{field}.max: expected a non-negative integer"),
                    None,
                ))
            }
            ("timeout", _) => {
                return Err(crate::error::usage(
                    format!("{field}.timeout: expected a duration such as \"30s\""),
                    None,
                ))
            }
            (other, _) => {
                return Err(crate::error::usage(
                    format!("{field}.{other}: unknown key (expected max, timeout)"),
                    None,
                ))
            }
        }
    }
    Ok(cfg)
}

/// object_store's HTTP client with its TLS from `security::tls`: the same
/// roots, CA file, protocol versions and verification as every other
/// connection convoy makes.
#[derive(Debug, Clone)]
pub struct PolicyConnector {
    tls: Arc<rustls::ClientConfig>,
    allow_http: bool,
}

impl object_store::client::HttpConnector for PolicyConnector {
    fn connect(&self, _: &ClientOptions) -> object_store::Result<object_store::client::HttpClient> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured((*self.tls).clone())
            .https_only(!self.allow_http)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "HTTP client",
                source: Box::new(e),
            })?;
        Ok(object_store::client::HttpClient::new(client))
    }
}

/// Every store builder gets its HTTP client the same way: convoy's TLS
/// policy (client options, and the connector unless verification is off,
/// with a warning), and the spec's retry settings.
trait WithConvoyClient: Sized {
    fn with_convoy_client(
        self,
        s: &Settings,
        allow_http: bool,
        ctx: &OpenContext,
        identity: &str,
    ) -> Result<Self>;
}

macro_rules! with_convoy_client {
    ($($builder:ty),*) => {$(
        impl WithConvoyClient for $builder {
            fn with_convoy_client(
                self,
                s: &Settings,
                allow_http: bool,
                ctx: &OpenContext,
                identity: &str,
            ) -> Result<Self> {
                let (opts, tls_off, connector) = client_options(s, allow_http, ctx)?;
                if tls_off {
                    warn_insecure(ctx, identity, "certificate verification is off");
                }
                let b = match connector {
                    Some(c) => self.with_http_connector(c),
                    None => self,
                };
                Ok(b.with_client_options(opts).with_retry(retry_config(s)?))
            }
        }
    )*};
}

with_convoy_client!(
    AmazonS3Builder,
    MicrosoftAzureBuilder,
    GoogleCloudStorageBuilder,
    HttpBuilder
);

/// Client options: certificates (system roots plus `tls.ca_file`), plain
/// HTTP only when allowed. Returns the options, whether TLS verification was
/// switched off (insecure), and — unless it was — the connector that builds
/// the HTTP client with convoy's TLS policy.
fn client_options(
    s: &Settings,
    allow_http: bool,
    ctx: &OpenContext,
) -> Result<(ClientOptions, bool, Option<PolicyConnector>)> {
    let mut ca_file: Option<PathBuf> = None;
    let mut opts = ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(300));
    let mut insecure = false;
    if let Some(v) = s.conn.settings.get("tls") {
        let field = s.field("tls");
        let Value::Table(t) = v else {
            return Err(crate::error::usage(
                format!("{field}: expected a table such as {{ ca_file = \"corp-ca.pem\" }}"),
                None,
            ));
        };
        for (k, v) in t {
            match (k.as_str(), v) {
                ("ca_file", Value::String(p)) => {
                    let path = if Path::new(p).is_absolute() {
                        PathBuf::from(p)
                    } else {
                        s.base_dir.join(p)
                    };
                    ca_file = Some(path.clone());
                    let pem = std::fs::read(&path).map_err(|e| {
                        crate::error::usage(
                            format!("{field}.ca_file: cannot read {}: {e}", path.display()),
                            None,
                        )
                    })?;
                    let certs = Certificate::from_pem_bundle(&pem).map_err(|e| {
                        crate::error::usage(
                            format!(
                                "{field}.ca_file: {} holds no usable PEM certificate: {e}",
                                path.display()
                            ),
                            None,
                        )
                    })?;
                    if certs.is_empty() {
                        return Err(crate::error::usage(
                            format!("{field}.ca_file: {} holds no certificate", path.display()),
                            None,
                        ));
                    }
                    for c in certs {
                        opts = opts.with_root_certificate(c);
                    }
                }
                ("mode", Value::String(m)) if m == "verify-full" => {}
                ("mode", Value::String(m)) if m == "disable" => {
                    if !ctx.allow_insecure {
                        return Err(crate::error::policy(
                            format!("{field}.mode = \"disable\" turns off certificate verification"),
                            Some(
                                "pass --allow-insecure to permit it, or trust the server's CA with tls = { ca_file = \"…\" }"
                                    .to_string(),
                            ),
                        ));
                    }
                    opts = opts.with_allow_invalid_certificates(true);
                    insecure = true;
                }
                ("mode", _) => {
                    return Err(crate::error::usage(
                        format!(
                            "{field}.mode: expected \"verify-full\" (the default) or \"disable\""
                        ),
                        None,
                    ))
                }
                (other, _) => {
                    return Err(crate::error::usage(
                        format!("{field}.{other}: not supported for object stores (ca_file, mode)"),
                        None,
                    ))
                }
            }
        }
    }
    let connector = if insecure {
        None
    } else {
        let settings = crate::security::tls::TlsSettings {
            ca_file,
            ..Default::default()
        };
        Some(PolicyConnector {
            tls: crate::security::tls::client_config(&settings)?,
            allow_http,
        })
    };
    Ok((opts, insecure, connector))
}

/// The HTTPS rule for one endpoint URL. Returns whether plain HTTP is used.
fn check_scheme(url: &str, allow_http: bool, ctx: &OpenContext, what: &str) -> Result<bool> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(false);
    }
    if lower.starts_with("http://") {
        if allow_http && ctx.allow_insecure {
            return Ok(true);
        }
        let hint = if allow_http {
            "allow_http = true also needs --allow-insecure on the command line"
        } else {
            "use an https:// endpoint; plain HTTP needs allow_http = true in the connection and --allow-insecure"
        };
        return Err(crate::error::policy(
            format!(
                "{what}: {} is plain HTTP; convoy speaks only HTTPS to object stores",
                crate::security::redact::redact(url)
            ),
            Some(hint.to_string()),
        ));
    }
    Err(crate::error::usage(
        format!(
            "{what}: {} is not an https:// URL",
            crate::security::redact::redact(url)
        ),
        None,
    ))
}

fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

fn build_error(identity: &str, e: object_store::Error) -> anyhow::Error {
    crate::error::usage(
        format!(
            "{identity}: {}",
            crate::security::redact::redact(&e.to_string())
        ),
        None,
    )
}

fn warn_insecure(ctx: &OpenContext, identity: &str, what: &str) {
    ctx.note_insecure(format!("{identity}: {what} (allowed by --allow-insecure)"));
}

/// Build the store a connection names.
pub fn build(s: &Settings, ctx: &OpenContext) -> Result<Store> {
    match s.conn.kind {
        Kind::S3 => s3(s, ctx),
        Kind::Azure => azure(s, ctx),
        Kind::Gcs => gcs(s, ctx).and_then(|(b, mut store)| {
            store.store = Arc::new(b.build().map_err(|e| build_error(&store.identity, e))?);
            Ok(store)
        }),
        Kind::Http => http(s, ctx),
        other => unreachable!("{} is not an object store", other.name()),
    }
}

/// object_store does not export its encryption key enum; its names parse.
fn sse_key() -> AmazonS3ConfigKey {
    "aws_server_side_encryption"
        .parse()
        .expect("object_store knows this key")
}

fn kms_key() -> AmazonS3ConfigKey {
    "aws_sse_kms_key_id"
        .parse()
        .expect("object_store knows this key")
}

fn s3(s: &Settings, ctx: &OpenContext) -> Result<Store> {
    let bucket = s.required("bucket")?;
    let mut b = AmazonS3Builder::from_env().with_bucket_name(&bucket);
    if let Some(r) = &s.conn.region {
        b = b.with_region(r);
    }
    let region = b.get_config_value(&AmazonS3ConfigKey::Region);
    let identity = match &region {
        Some(r) => format!("s3 bucket {bucket} ({r})"),
        None => format!("s3 bucket {bucket}"),
    };
    if let Some(e) = s.string("endpoint")? {
        b = b.with_endpoint(e);
    }
    let allow_http = s.boolean("allow_http")?;
    let mut insecure = false;
    if let Some(endpoint) = b.get_config_value(&AmazonS3ConfigKey::Endpoint) {
        insecure = check_scheme(&endpoint, allow_http, ctx, &identity)?;
        if insecure {
            warn_insecure(ctx, &identity, "plain HTTP endpoint");
        }
    }
    if let Some(k) = s.plain_or_reference("access_key_id")? {
        b = b.with_access_key_id(k.expose());
    }
    if let Some(k) = s.secret("secret_access_key")? {
        b = b.with_secret_access_key(k.expose());
    }
    if let Some(k) = s.secret("session_token")? {
        b = b.with_token(k.expose());
    }
    match s.string("sse")?.as_deref() {
        None => {
            if s.string("sse_kms_key_id")?.is_some() {
                return Err(crate::error::usage(
                    format!("{}: needs sse = \"aws:kms\"", s.field("sse_kms_key_id")),
                    None,
                ));
            }
        }
        Some("AES256" | "aes256" | "sse-s3") => {
            if s.string("sse_kms_key_id")?.is_some() {
                return Err(crate::error::usage(
                    format!(
                        "{}: a KMS key applies to sse = \"aws:kms\", not SSE-S3",
                        s.field("sse_kms_key_id")
                    ),
                    None,
                ));
            }
            b = b.with_config(sse_key(), "AES256");
        }
        Some(kind @ ("aws:kms" | "aws:kms:dsse")) => {
            b = b.with_config(sse_key(), kind);
            if let Some(key) = s.string("sse_kms_key_id")? {
                b = b.with_config(kms_key(), key);
            }
        }
        Some(other) => {
            return Err(crate::error::usage(
                format!(
                    "{}: unknown server-side encryption {other:?} (AES256, aws:kms, aws:kms:dsse)",
                    s.field("sse")
                ),
                None,
            ))
        }
    }
    let store = b
        .with_convoy_client(s, insecure, ctx, &identity)?
        .with_allow_http(insecure)
        .build()
        .map_err(|e| build_error(&identity, e))?;
    Ok(Store {
        store: Arc::new(store),
        kind: Kind::S3,
        identity,
        root: format!("s3://{bucket}"),
        writable: true,
    })
}

fn azure(s: &Settings, ctx: &OpenContext) -> Result<Store> {
    let container = s.required("container")?;
    let mut b = MicrosoftAzureBuilder::from_env().with_container_name(&container);
    if let Some(a) = s.string("account")? {
        b = b.with_account(a);
    }
    let account = b.get_config_value(&AzureConfigKey::AccountName);
    let identity = match &account {
        Some(a) => format!("azure container {container} (account {a})"),
        None => format!("azure container {container}"),
    };
    if s.string("encryption_scope")?.is_some() {
        return Err(crate::error::usage(
            format!(
                "{}: encryption scopes are not supported by this version of convoy",
                s.field("encryption_scope")
            ),
            Some(
                "set a default encryption scope on the container (enforced for every blob written to it) and remove this key"
                    .to_string(),
            ),
        ));
    }
    if let Some(e) = s.string("endpoint")? {
        b = b.with_endpoint(e);
    }
    let emulator = b
        .get_config_value(&AzureConfigKey::UseEmulator)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    let endpoint = if emulator {
        Some(env_first(&["AZURITE_BLOB_STORAGE_URL"]).unwrap_or("http://127.0.0.1:10000".into()))
    } else {
        b.get_config_value(&AzureConfigKey::Endpoint)
    };
    let allow_http = s.boolean("allow_http")?;
    let mut insecure = false;
    if let Some(endpoint) = endpoint {
        insecure = check_scheme(&endpoint, allow_http, ctx, &identity)?;
        if insecure {
            warn_insecure(ctx, &identity, "plain HTTP endpoint");
        }
    }
    if account.is_none() && !emulator {
        return Err(crate::error::usage(
            format!("{identity}: no storage account"),
            Some(format!(
                "set account in {} or AZURE_STORAGE_ACCOUNT_NAME",
                s.field("account")
            )),
        ));
    }
    if let Some(k) = s.secret("key")? {
        b = b.with_access_key(k.expose());
    }
    if let Some(sas) = s.secret("sas")? {
        b = b.with_config(AzureConfigKey::SasKey, sas.expose().trim_start_matches('?'));
    }
    if let Some(t) = s.secret("token")? {
        b = b.with_bearer_token_authorization(t.expose());
    }
    let store = b
        .with_convoy_client(s, insecure, ctx, &identity)?
        .with_allow_http(insecure)
        .build()
        .map_err(|e| build_error(&identity, e))?;
    Ok(Store {
        store: Arc::new(store),
        kind: Kind::Azure,
        identity,
        root: format!("az://{container}"),
        writable: true,
    })
}

/// The GCS builder and everything but the built client (which needs
/// credentials that parse). Separate so that it can be tested offline.
pub fn gcs(s: &Settings, ctx: &OpenContext) -> Result<(GoogleCloudStorageBuilder, Store)> {
    let bucket = s.required("bucket")?;
    let mut b = GoogleCloudStorageBuilder::from_env().with_bucket_name(&bucket);
    let identity = match &s.conn.region {
        Some(r) => format!("gcs bucket {bucket} ({r})"),
        None => format!("gcs bucket {bucket}"),
    };
    if let Some(k) = s.secret("service_account_key")? {
        b = b.with_service_account_key(k.expose());
    }
    let b = b.with_convoy_client(s, false, ctx, &identity)?;
    debug_assert_eq!(
        b.get_config_value(&GoogleConfigKey::Bucket).as_deref(),
        Some(bucket.as_str())
    );
    let placeholder: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    Ok((
        b,
        Store {
            store: placeholder,
            kind: Kind::Gcs,
            identity,
            root: format!("gs://{bucket}"),
            writable: true,
        },
    ))
}

fn http(s: &Settings, ctx: &OpenContext) -> Result<Store> {
    let url = s.required("url")?;
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', '?', '#']).next())
        .map(|h| h.rsplit('@').next().unwrap_or(h).to_string())
        .unwrap_or_else(|| "?".into());
    let identity = format!("https {host}");
    let allow_http = s.boolean("allow_http")?;
    let insecure = check_scheme(&url, allow_http, ctx, &identity)?;
    if insecure {
        warn_insecure(ctx, &identity, "plain HTTP");
    }
    let store = HttpBuilder::new()
        .with_url(url.trim_end_matches('/'))
        .with_convoy_client(s, insecure, ctx, &identity)?
        .build()
        .map_err(|e| build_error(&identity, e))?;
    Ok(Store {
        store: Arc::new(store),
        kind: Kind::Http,
        identity,
        root: url.trim_end_matches('/').to_string(),
        writable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::Counters;
    use tokio_util::sync::CancellationToken;

    fn ctx(allow_insecure: bool) -> OpenContext {
        OpenContext {
            counters: Arc::new(Counters::default()),
            cancel: CancellationToken::new(),
            run_id: "r".into(),
            run_date: "2026-01-01".into(),
            allow_insecure,
            vault: None,
            insecure: Default::default(),
            pg_readers: Default::default(),
        }
    }

    fn conn(kind: Kind, toml_text: &str) -> Connection {
        Connection {
            name: "c".into(),
            kind,
            region: None,
            settings: toml_text.parse().unwrap(),
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn retry_settings_become_the_retry_config() {
        let c = conn(Kind::S3, "retry = { max = 3, timeout = \"20s\" }");
        let s = Settings::new("lake", &c, Path::new("."), &ctx(false));
        let r = retry_config(&s).unwrap();
        assert_eq!(r.max_retries, 3);
        assert_eq!(r.retry_timeout, Duration::from_secs(20));
        let c = conn(Kind::S3, "retry = { tries = 3 }");
        let s = Settings::new("lake", &c, Path::new("."), &ctx(false));
        let e = retry_config(&s).err().unwrap().to_string();
        assert!(e.contains("connections.lake.retry.tries"), "{e}");
    }

    #[test]
    fn plain_http_needs_the_setting_and_the_flag() {
        let c = ctx(false);
        let e = check_scheme("http://minio:9000", true, &c, "s3 bucket b").unwrap_err();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        let e = check_scheme("http://minio:9000", false, &ctx(true), "s3 bucket b").unwrap_err();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        assert!(check_scheme("http://minio:9000", true, &ctx(true), "x").unwrap());
        assert!(!check_scheme("https://minio:9000", false, &c, "x").unwrap());
    }

    #[test]
    fn gcs_configuration_is_built_from_the_connection() {
        let mut c = conn(Kind::Gcs, "bucket = \"lake-eu\"\nretry = { max = 2 }");
        c.region = Some("europe-west1".into());
        let s = Settings::new("g", &c, Path::new("."), &ctx(false));
        let (b, store) = gcs(&s, &ctx(false)).unwrap();
        assert_eq!(store.identity, "gcs bucket lake-eu (europe-west1)");
        assert_eq!(store.root, "gs://lake-eu");
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::Bucket).as_deref(),
            Some("lake-eu")
        );
        // A missing bucket is a spec error.
        let c = conn(Kind::Gcs, "");
        let s = Settings::new("g", &c, Path::new("."), &ctx(false));
        let e = gcs(&s, &ctx(false)).err().unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Usage);
        assert!(e.to_string().contains("connections.g.bucket"));
        // Its key comes from a reference, resolved here.
        std::env::set_var("CONVOY_TEST_GCS_KEY", "{\"type\": \"service_account\"}");
        let c = conn(
            Kind::Gcs,
            "bucket = \"b\"\nservice_account_key = \"${env:CONVOY_TEST_GCS_KEY}\"",
        );
        let s = Settings::new("g", &c, Path::new("."), &ctx(false));
        let (b, _) = gcs(&s, &ctx(false)).unwrap();
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::ServiceAccountKey)
                .as_deref(),
            Some("{\"type\": \"service_account\"}")
        );
        // TLS verification cannot be switched off without the flag.
        let c = conn(Kind::Gcs, "bucket = \"b\"\ntls = { mode = \"disable\" }");
        let s = Settings::new("g", &c, Path::new("."), &ctx(false));
        let e = gcs(&s, &ctx(false)).err().unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
    }

    #[test]
    fn s3_identity_names_bucket_and_region_and_refuses_http_endpoints() {
        let mut c = conn(
            Kind::S3,
            "bucket = \"lake\"\nendpoint = \"http://127.0.0.1:9\"",
        );
        c.region = Some("eu-west-1".into());
        let s = Settings::new("lake", &c, Path::new("."), &ctx(false));
        let e = s3(&s, &ctx(false)).err().unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        assert!(
            e.to_string().starts_with("s3 bucket lake (eu-west-1): "),
            "{e}"
        );
    }

    #[test]
    fn azure_encryption_scope_is_refused_with_a_way_out() {
        let c = conn(
            Kind::Azure,
            "account = \"a\"\ncontainer = \"c\"\nencryption_scope = \"s\"",
        );
        let s = Settings::new("az", &c, Path::new("."), &ctx(false));
        let e = azure(&s, &ctx(false)).err().unwrap();
        assert!(crate::error::hint(&e)
            .unwrap()
            .contains("default encryption scope"));
    }
}
