//! A store connection (`kind = "s3" | "azure" | "gcs" | "http"`) → its
//! typed settings ([`StoreConfig::read`], before anything is contacted) →
//! a built object_store client ([`build`]), after the security policy has
//! had its say.
//!
//! Credentials stay references until [`build`]; credentials not in the spec
//! come from each cloud's usual environment variables through object_store's
//! `from_env` builders (`AWS_*`, `AZURE_STORAGE_*`, `GOOGLE_*`), including the
//! instance, web-identity and managed-identity chains object_store offers.
//!
//! HTTPS only: an `http://` endpoint (in the spec or the environment) is
//! refused with exit 3 unless the connection says `allow_http = true` and the
//! run was given `--allow-insecure`. Certificates are verified through
//! `security::tls` — system roots plus `tls.ca_file`, or `tls.pin_sha256` —
//! with the HTTP client built here; `tls.mode = "no-verify"` turns the
//! checks off (with `--allow-insecure`). There is no `disable`: an object
//! store without TLS is an `http://` endpoint.
//!
//! Waits: `timeout.connect` bounds each new connection (TCP and TLS
//! handshake), `timeout.idle` each request until its answer and each wait
//! for the next bytes of a response (reqwest's read timeout); TCP keepalive
//! is on. object_store retries failed requests with backoff for at most
//! `retry.timeout` (default: `timeout.idle`), so a request stuck on a silent
//! server fails after about `timeout.idle`, not after minutes of retries. A
//! refused certificate is never retried ([`ConvoyHttp`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::client::{HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use super::StoreKind;
use crate::connect::OpenContext;
use crate::security::reference::SecretRef;
use crate::security::tls::{TlsMode, TlsSettings};
use crate::spec::fields::{seconds, Fields, Timeouts};

/// A built store and how to speak of it.
pub struct Store {
    pub store: Arc<dyn ObjectStore>,
    pub kind: StoreKind,
    /// `s3 bucket lake (eu-west-1)`: short and secret-free.
    pub identity: String,
    /// `s3://lake`: how object names are shown (`s3://lake/raw/a.csv`).
    pub root: String,
    /// Whether this store may be written to (HTTPS URLs are read-only).
    pub writable: bool,
}

/// S3 server-side encryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sse {
    /// SSE-S3 (`AES256`).
    S3,
    /// `aws:kms` or `aws:kms:dsse`, with an optional key id.
    Kms {
        kind: String,
        key_id: Option<String>,
    },
}

/// What each kind of store needs besides the common settings.
#[derive(Clone)]
pub enum Target {
    S3 {
        bucket: String,
        endpoint: Option<String>,
        access_key_id: Option<SecretRef>,
        secret_access_key: Option<SecretRef>,
        session_token: Option<SecretRef>,
        sse: Option<Sse>,
    },
    Azure {
        container: String,
        account: Option<String>,
        endpoint: Option<String>,
        key: Option<SecretRef>,
        sas: Option<SecretRef>,
        token: Option<SecretRef>,
    },
    Gcs {
        bucket: String,
        service_account_key: Option<SecretRef>,
    },
    Http {
        url: String,
    },
}

/// A store connection's settings, typed and checked.
#[derive(Clone)]
pub struct StoreConfig {
    pub target: Target,
    pub region: Option<String>,
    pub tls: TlsSettings,
    pub allow_http: bool,
    pub retry: RetryConfig,
    pub timeouts: Timeouts,
}

/// The TLS modes a store cannot do, and what to do instead.
pub const TLS_REFUSED: &[(TlsMode, &str)] = &[(
    TlsMode::Disable,
    "object stores are reached over HTTPS; for a server without TLS give an http:// endpoint with allow_http = true (and --allow-insecure), or use mode = \"no-verify\" to keep TLS without certificate checks",
)];

impl StoreConfig {
    /// Read the settings of a `kind` connection; problems go into `f`.
    pub fn read(kind: StoreKind, region: Option<String>, f: &mut Fields) -> StoreConfig {
        let target = match kind {
            StoreKind::S3 => {
                let bucket = f
                    .required("bucket", "the bucket's name")
                    .unwrap_or_default();
                let endpoint = f.string("endpoint");
                let access_key_id = f.plain_or_secret("access_key_id");
                let secret_access_key = f.secret("secret_access_key");
                let session_token = f.secret("session_token");
                let sse_kind = f.string("sse");
                let kms_key = f.string("sse_kms_key_id");
                let sse = match sse_kind.as_deref() {
                    None => {
                        if kms_key.is_some() {
                            f.problem("sse_kms_key_id", "needs sse = \"aws:kms\"");
                        }
                        None
                    }
                    Some("AES256" | "aes256" | "sse-s3") => {
                        if kms_key.is_some() {
                            f.problem(
                                "sse_kms_key_id",
                                "a KMS key applies to sse = \"aws:kms\", not SSE-S3",
                            );
                        }
                        Some(Sse::S3)
                    }
                    Some(k @ ("aws:kms" | "aws:kms:dsse")) => Some(Sse::Kms {
                        kind: k.to_string(),
                        key_id: kms_key,
                    }),
                    Some(other) => {
                        f.problem(
                            "sse",
                            format!("unknown server-side encryption {other:?} (AES256, aws:kms, aws:kms:dsse)"),
                        );
                        None
                    }
                };
                Target::S3 {
                    bucket,
                    endpoint,
                    access_key_id,
                    secret_access_key,
                    session_token,
                    sse,
                }
            }
            StoreKind::Azure => {
                let container = f
                    .required("container", "the blob container's name")
                    .unwrap_or_default();
                if f.has("encryption_scope") {
                    f.problem(
                        "encryption_scope",
                        "encryption scopes are not supported by this version of convoy: set a default encryption scope on the container (enforced for every blob written to it) and remove this key",
                    );
                }
                Target::Azure {
                    container,
                    account: f.string("account"),
                    endpoint: f.string("endpoint"),
                    key: f.secret("key"),
                    sas: f.secret("sas"),
                    token: f.secret("token"),
                }
            }
            StoreKind::Gcs => Target::Gcs {
                bucket: f
                    .required("bucket", "the bucket's name")
                    .unwrap_or_default(),
                service_account_key: f.secret("service_account_key"),
            },
            StoreKind::Http => Target::Http {
                url: f
                    .required("url", "the server's https:// URL")
                    .unwrap_or_default(),
            },
        };
        let allow_http = match kind {
            StoreKind::Gcs => false,
            _ => f.boolean("allow_http").unwrap_or(false),
        };
        let tls = f.tls(TLS_REFUSED, Ok(()));
        let timeouts = f.timeouts();
        let retry = read_retry(f, timeouts.idle);
        StoreConfig {
            target,
            region,
            tls,
            allow_http,
            retry,
            timeouts,
        }
    }
}

/// `retry = { max = N, timeout = "30s" }` → object_store's retry policy.
/// Retries stop `timeout` after a request was first sent (default: the
/// connection's idle timeout, so that one request stuck on a silent server
/// is not tried again and again for minutes).
fn read_retry(f: &mut Fields, idle: Duration) -> RetryConfig {
    let mut cfg = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 10,
        retry_timeout: idle,
    };
    if let Some(mut t) = f.table("retry", "{ max = 5, timeout = \"30s\" }") {
        match t.integer("max") {
            Some(n) if n >= 0 => cfg.max_retries = n as usize,
            Some(_) => t.problem("max", "expected a non-negative integer"),
            None => {}
        }
        if let Some(d) = t.duration("timeout") {
            cfg.retry_timeout = d;
        }
        t.finish();
    }
    cfg
}

/// object_store's HTTP client with its TLS from `security::tls`: the same
/// roots, CA file, pin, protocol versions and verification as every other
/// connection convoy makes; and the connection's timeouts.
#[derive(Debug, Clone)]
pub struct PolicyConnector {
    tls: Arc<rustls::ClientConfig>,
    allow_http: bool,
    timeouts: Timeouts,
}

impl object_store::client::HttpConnector for PolicyConnector {
    fn connect(
        &self,
        options: &ClientOptions,
    ) -> object_store::Result<object_store::client::HttpClient> {
        // object_store asks for a client that allows plain HTTP for one
        // purpose only: the credential endpoints of the machine, container
        // or pod it runs on (EC2/ECS/EKS, Azure and GCP instance metadata),
        // which serve nothing else. That client reaches those hosts and no
        // other over plain HTTP ([`credential_endpoint`]).
        let credentials = !self.allow_http
            && options
                .get_config_value(&object_store::ClientConfigKey::AllowHttp)
                .as_deref()
                == Some("true");
        let (time, interval, retries) = self.timeouts.keepalive();
        // Instance metadata answers at once where it exists; elsewhere a
        // long wait would only delay the next credential source.
        let connect = if credentials {
            CREDENTIALS_CONNECT.min(self.timeouts.connect)
        } else {
            self.timeouts.connect
        };
        // No total timeout: a large object may rightly take hours to
        // stream; what must not happen is a silence of `idle`.
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured((*self.tls).clone())
            .https_only(!self.allow_http && !credentials)
            .connect_timeout(connect)
            .read_timeout(self.timeouts.idle)
            .tcp_keepalive(time)
            .tcp_keepalive_interval(interval)
            .tcp_keepalive_retries(retries)
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "HTTP client",
                source: Box::new(e),
            })?;
        Ok(object_store::client::HttpClient::new(ConvoyHttp {
            client,
            timeouts: Timeouts {
                connect,
                ..self.timeouts
            },
            plain_only_to_credentials: credentials,
        }))
    }
}

/// How long the client of the machine's credential endpoints waits for a
/// connection.
const CREDENTIALS_CONNECT: Duration = Duration::from_secs(2);

/// Whether `host` is a credential endpoint of the machine, container or pod
/// convoy runs on, served over plain HTTP by design and never routed off
/// the host or its link: IPv4 link-local (`169.254.169.254` for EC2, Azure
/// and GCP instance metadata, `169.254.170.2` ECS, `169.254.170.23` EKS Pod
/// Identity), AWS's IPv6 `fd00:ec2::/64` (`fd00:ec2::254`, `fd00:ec2::23`),
/// `metadata.google.internal`, and loopback (Azure App Service and
/// Functions identity endpoints).
pub fn credential_endpoint(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("metadata.google.internal")
        || host.eq_ignore_ascii_case("localhost")
    {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_link_local() || ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => {
            let s = ip.segments();
            ip.is_loopback() || (s[0] == 0xfd00 && s[1] == 0x0ec2 && s[2] == 0 && s[3] == 0)
        }
        Err(_) => false,
    }
}

/// reqwest as object_store calls it, with two changes to how failures are
/// classified: a TLS failure is never retried (the next attempt meets the
/// same certificate; object_store would try ten times), and a timeout
/// carries the server it waited for ([`Stalled`]), for the message.
#[derive(Debug)]
struct ConvoyHttp {
    client: reqwest::Client,
    timeouts: Timeouts,
    /// The client of credential endpoints: plain HTTP reaches those alone.
    plain_only_to_credentials: bool,
}

#[async_trait::async_trait]
impl HttpService for ConvoyHttp {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let endpoint = req
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "?".into());
        if self.plain_only_to_credentials
            && req.uri().scheme_str() != Some("https")
            && !credential_endpoint(req.uri().host().unwrap_or(""))
        {
            return Err(HttpError::new(
                HttpErrorKind::Unknown,
                std::io::Error::other(format!(
                    "refused to fetch credentials from {endpoint} over plain HTTP: only the \
                     machine's own credential endpoints (link-local, loopback, \
                     metadata.google.internal) are reached without TLS"
                )),
            ));
        }
        let timeouts = self.timeouts;
        let classify = move |e: HttpError| -> HttpError {
            if crate::security::tls::is_tls_failure(&e) {
                return HttpError::new(HttpErrorKind::Unknown, e);
            }
            if e.kind() == HttpErrorKind::Timeout {
                let connecting = std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<reqwest::Error>())
                    .is_some_and(|r| r.is_connect());
                return HttpError::new(
                    HttpErrorKind::Timeout,
                    Stalled {
                        endpoint: endpoint.clone(),
                        connecting,
                        after: if connecting {
                            timeouts.connect
                        } else {
                            timeouts.idle
                        },
                        source: e,
                    },
                );
            }
            e
        };
        let response = HttpService::call(&self.client, req)
            .await
            .map_err(&classify)?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::BodyExt::map_err(body, classify);
        Ok(HttpResponse::from_parts(
            parts,
            object_store::client::HttpResponseBody::new(body),
        ))
    }
}

/// A request that waited `timeout.connect` for its connection, or
/// `timeout.idle` for its answer or its next bytes.
#[derive(Debug)]
pub struct Stalled {
    /// `host:port` of the server.
    pub endpoint: String,
    /// Still connecting (TCP, TLS handshake) when the time was up.
    pub connecting: bool,
    pub after: Duration,
    source: HttpError,
}

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.connecting {
            write!(
                f,
                "no connection to {} within {} (TCP and TLS handshake)",
                self.endpoint,
                seconds(self.after)
            )
        } else {
            write!(
                f,
                "no answer from {} for {}",
                self.endpoint,
                seconds(self.after)
            )
        }
    }
}

impl std::error::Error for Stalled {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Every store builder gets its HTTP client the same way: convoy's TLS
/// policy and the spec's retry settings.
trait WithConvoyClient: Sized {
    fn with_convoy_client(self, cfg: &StoreConfig, allow_http: bool) -> Result<Self>;
}

macro_rules! with_convoy_client {
    ($($builder:ty),*) => {$(
        impl WithConvoyClient for $builder {
            fn with_convoy_client(self, cfg: &StoreConfig, allow_http: bool) -> Result<Self> {
                // The same timeouts as the client `PolicyConnector` builds,
                // for whatever in object_store reads them from here.
                let opts = ClientOptions::new()
                    .with_allow_http(allow_http)
                    .with_connect_timeout(cfg.timeouts.connect)
                    .with_read_timeout(cfg.timeouts.idle)
                    .with_timeout_disabled();
                let connector = PolicyConnector {
                    tls: crate::security::tls::client_config(&cfg.tls)?,
                    allow_http,
                    timeouts: cfg.timeouts,
                };
                Ok(self
                    .with_http_connector(connector)
                    .with_client_options(opts)
                    .with_retry(cfg.retry.clone()))
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

/// Certificate checks switched off: refused without `--allow-insecure`,
/// warned about with it.
fn check_tls(cfg: &StoreConfig, ctx: &OpenContext, identity: &str) -> Result<()> {
    if cfg.tls.mode == TlsMode::VerifyFull {
        return Ok(());
    }
    if !ctx.allow_insecure {
        return Err(crate::error::policy(
            format!(
                "{identity}: tls.mode = \"{}\" turns off certificate verification",
                cfg.tls.mode.name()
            ),
            Some(
                "pass --allow-insecure to permit it, or trust the server's CA with tls = { ca_file = \"…\" }"
                    .to_string(),
            ),
        ));
    }
    warn_insecure(ctx, identity, "certificate verification is off");
    Ok(())
}

/// Build the store a connection names.
pub fn build(cfg: &StoreConfig, ctx: &OpenContext) -> Result<Store> {
    match &cfg.target {
        Target::S3 { .. } => s3(cfg, ctx),
        Target::Azure { .. } => azure(cfg, ctx),
        Target::Gcs { .. } => gcs(cfg, ctx).and_then(|(b, mut store)| {
            store.store = Arc::new(b.build().map_err(|e| build_error(&store.identity, e))?);
            Ok(store)
        }),
        Target::Http { .. } => http(cfg, ctx),
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

fn secret(r: &Option<SecretRef>, ctx: &OpenContext) -> Result<Option<crate::security::Secret>> {
    r.as_ref().map(|r| r.resolve(&ctx.secrets)).transpose()
}

fn s3(cfg: &StoreConfig, ctx: &OpenContext) -> Result<Store> {
    let Target::S3 {
        bucket,
        endpoint,
        access_key_id,
        secret_access_key,
        session_token,
        sse,
    } = &cfg.target
    else {
        unreachable!("an S3 configuration")
    };
    let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(r) = &cfg.region {
        b = b.with_region(r);
    }
    let region = b.get_config_value(&AmazonS3ConfigKey::Region);
    let identity = match &region {
        Some(r) => format!("s3 bucket {bucket} ({r})"),
        None => format!("s3 bucket {bucket}"),
    };
    if let Some(e) = endpoint {
        b = b.with_endpoint(e);
    }
    let mut insecure = false;
    if let Some(endpoint) = b.get_config_value(&AmazonS3ConfigKey::Endpoint) {
        insecure = check_scheme(&endpoint, cfg.allow_http, ctx, &identity)?;
        if insecure {
            warn_insecure(ctx, &identity, "plain HTTP endpoint");
        }
    }
    check_tls(cfg, ctx, &identity)?;
    if let Some(k) = secret(access_key_id, ctx)? {
        b = b.with_access_key_id(k.expose());
    }
    if let Some(k) = secret(secret_access_key, ctx)? {
        b = b.with_secret_access_key(k.expose());
    }
    if let Some(k) = secret(session_token, ctx)? {
        b = b.with_token(k.expose());
    }
    match sse {
        None => {}
        Some(Sse::S3) => b = b.with_config(sse_key(), "AES256"),
        Some(Sse::Kms { kind, key_id }) => {
            b = b.with_config(sse_key(), kind);
            if let Some(key) = key_id {
                b = b.with_config(kms_key(), key);
            }
        }
    }
    let store = b
        .with_convoy_client(cfg, insecure)?
        .with_allow_http(insecure)
        .build()
        .map_err(|e| build_error(&identity, e))?;
    Ok(Store {
        store: Arc::new(store),
        kind: StoreKind::S3,
        identity,
        root: format!("s3://{bucket}"),
        writable: true,
    })
}

fn azure(cfg: &StoreConfig, ctx: &OpenContext) -> Result<Store> {
    let Target::Azure {
        container,
        account,
        endpoint,
        key,
        sas,
        token,
    } = &cfg.target
    else {
        unreachable!("an Azure configuration")
    };
    let mut b = MicrosoftAzureBuilder::from_env().with_container_name(container);
    if let Some(a) = account {
        b = b.with_account(a);
    }
    let account = b.get_config_value(&AzureConfigKey::AccountName);
    let identity = match &account {
        Some(a) => format!("azure container {container} (account {a})"),
        None => format!("azure container {container}"),
    };
    if let Some(e) = endpoint {
        b = b.with_endpoint(e.clone());
    }
    let emulator = b
        .get_config_value(&AzureConfigKey::UseEmulator)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    let endpoint = if emulator {
        Some(env_first(&["AZURITE_BLOB_STORAGE_URL"]).unwrap_or("http://127.0.0.1:10000".into()))
    } else {
        b.get_config_value(&AzureConfigKey::Endpoint)
    };
    let mut insecure = false;
    if let Some(endpoint) = endpoint {
        insecure = check_scheme(&endpoint, cfg.allow_http, ctx, &identity)?;
        if insecure {
            warn_insecure(ctx, &identity, "plain HTTP endpoint");
        }
    }
    check_tls(cfg, ctx, &identity)?;
    if account.is_none() && !emulator {
        return Err(crate::error::usage(
            format!("{identity}: no storage account"),
            Some("set account in the connection, or AZURE_STORAGE_ACCOUNT_NAME".to_string()),
        ));
    }
    if let Some(k) = secret(key, ctx)? {
        b = b.with_access_key(k.expose());
    }
    if let Some(sas) = secret(sas, ctx)? {
        b = b.with_config(AzureConfigKey::SasKey, sas.expose().trim_start_matches('?'));
    }
    if let Some(t) = secret(token, ctx)? {
        b = b.with_bearer_token_authorization(t.expose());
    }
    let store = b
        .with_convoy_client(cfg, insecure)?
        .with_allow_http(insecure)
        .build()
        .map_err(|e| build_error(&identity, e))?;
    Ok(Store {
        store: Arc::new(store),
        kind: StoreKind::Azure,
        identity,
        root: format!("az://{container}"),
        writable: true,
    })
}

/// The GCS builder and everything but the built client (which needs
/// credentials that parse). Separate so that it can be tested offline.
pub fn gcs(cfg: &StoreConfig, ctx: &OpenContext) -> Result<(GoogleCloudStorageBuilder, Store)> {
    let Target::Gcs {
        bucket,
        service_account_key,
    } = &cfg.target
    else {
        unreachable!("a GCS configuration")
    };
    let mut b = GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
    let identity = match &cfg.region {
        Some(r) => format!("gcs bucket {bucket} ({r})"),
        None => format!("gcs bucket {bucket}"),
    };
    check_tls(cfg, ctx, &identity)?;
    if let Some(k) = secret(service_account_key, ctx)? {
        b = b.with_service_account_key(k.expose());
    }
    let b = b.with_convoy_client(cfg, false)?;
    debug_assert_eq!(
        b.get_config_value(&GoogleConfigKey::Bucket).as_deref(),
        Some(bucket.as_str())
    );
    let placeholder: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    Ok((
        b,
        Store {
            store: placeholder,
            kind: StoreKind::Gcs,
            identity,
            root: format!("gs://{bucket}"),
            writable: true,
        },
    ))
}

fn http(cfg: &StoreConfig, ctx: &OpenContext) -> Result<Store> {
    let Target::Http { url } = &cfg.target else {
        unreachable!("an HTTP configuration")
    };
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', '?', '#']).next())
        .map(|h| h.rsplit('@').next().unwrap_or(h).to_string())
        .unwrap_or_else(|| "?".into());
    let identity = format!("https {host}");
    let insecure = check_scheme(url, cfg.allow_http, ctx, &identity)?;
    if insecure {
        warn_insecure(ctx, &identity, "plain HTTP");
    }
    check_tls(cfg, ctx, &identity)?;
    let store = HttpBuilder::new()
        .with_url(url.trim_end_matches('/'))
        .with_convoy_client(cfg, insecure)?
        .build()
        .map_err(|e| build_error(&identity, e))?;
    Ok(Store {
        store: Arc::new(store),
        kind: StoreKind::Http,
        identity,
        root: url.trim_end_matches('/').to_string(),
        writable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::fields::Problems;
    use std::path::Path;
    use tokio_util::sync::CancellationToken;

    fn ctx(allow_insecure: bool) -> OpenContext {
        OpenContext::new(
            "r".into(),
            "2026-01-01".into(),
            allow_insecure,
            Arc::new(crate::security::reference::ResolveContext::new(None)),
            CancellationToken::new(),
        )
    }

    fn read(kind: StoreKind, text: &str, region: Option<&str>) -> (StoreConfig, Problems) {
        let table: toml::Table = text.parse().unwrap();
        let mut p = Problems::default();
        let mut f = Fields::new("connections.lake", &table, Path::new("."), &mut p);
        let cfg = StoreConfig::read(kind, region.map(str::to_string), &mut f);
        f.finish();
        (cfg, p)
    }

    fn messages(p: &Problems) -> String {
        p.errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn retry_settings_become_the_retry_config() {
        let (c, p) = read(
            StoreKind::S3,
            "bucket = \"b\"\nretry = { max = 3, timeout = \"20s\" }",
            None,
        );
        assert!(p.errors.is_empty(), "{}", messages(&p));
        assert_eq!(c.retry.max_retries, 3);
        assert_eq!(c.retry.retry_timeout, Duration::from_secs(20));
        let (_, p) = read(StoreKind::S3, "bucket = \"b\"\nretry = { tries = 3 }", None);
        assert!(
            messages(&p).contains("connections.lake.retry.tries"),
            "{}",
            messages(&p)
        );
    }

    #[test]
    fn timeouts_bound_requests_and_retries() {
        let (c, p) = read(StoreKind::S3, "bucket = \"b\"", None);
        assert!(p.errors.is_empty(), "{}", messages(&p));
        assert_eq!(c.timeouts, Timeouts::DEFAULT);
        // A stuck request is not retried past the idle timeout.
        assert_eq!(c.retry.retry_timeout, Timeouts::DEFAULT.idle);
        let (c, p) = read(
            StoreKind::S3,
            "bucket = \"b\"\ntimeout = { connect = \"2s\", idle = \"7s\" }",
            None,
        );
        assert!(p.errors.is_empty(), "{}", messages(&p));
        assert_eq!(c.timeouts.connect, Duration::from_secs(2));
        assert_eq!(c.retry.retry_timeout, Duration::from_secs(7));
        // An explicit retry timeout wins.
        let (c, _) = read(
            StoreKind::Azure,
            "account = \"a\"\ncontainer = \"c\"\ntimeout = { idle = \"7s\" }\nretry = { timeout = \"40s\" }",
            None,
        );
        assert_eq!(c.retry.retry_timeout, Duration::from_secs(40));
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
        let (c, p) = read(
            StoreKind::Gcs,
            "bucket = \"lake-eu\"\nretry = { max = 2 }",
            Some("europe-west1"),
        );
        assert!(p.errors.is_empty());
        let (b, store) = gcs(&c, &ctx(false)).unwrap();
        assert_eq!(store.identity, "gcs bucket lake-eu (europe-west1)");
        assert_eq!(store.root, "gs://lake-eu");
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::Bucket).as_deref(),
            Some("lake-eu")
        );
        // A missing bucket is a spec error.
        let (_, p) = read(StoreKind::Gcs, "", None);
        assert!(messages(&p).contains("connections.lake.bucket: missing"));
        // Its key comes from a reference, resolved when the store is built.
        std::env::set_var("CONVOY_TEST_GCS_KEY", "{\"type\": \"service_account\"}");
        let (c, _) = read(
            StoreKind::Gcs,
            "bucket = \"b\"\nservice_account_key = \"${env:CONVOY_TEST_GCS_KEY}\"",
            None,
        );
        let (b, _) = gcs(&c, &ctx(false)).unwrap();
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::ServiceAccountKey)
                .as_deref(),
            Some("{\"type\": \"service_account\"}")
        );
        // TLS verification cannot be switched off without the flag.
        let (c, p) = read(
            StoreKind::Gcs,
            "bucket = \"b\"\ntls = { mode = \"no-verify\" }",
            None,
        );
        assert!(p.errors.is_empty());
        let e = gcs(&c, &ctx(false)).err().unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        gcs(&c, &ctx(true)).unwrap();
        // And TLS cannot be left out at all: that is an http:// endpoint.
        let (_, p) = read(
            StoreKind::Gcs,
            "bucket = \"b\"\ntls = { mode = \"disable\" }",
            None,
        );
        assert!(
            messages(&p).contains("http:// endpoint"),
            "{}",
            messages(&p)
        );
    }

    #[test]
    fn s3_identity_names_bucket_and_region_and_refuses_http_endpoints() {
        let (c, _) = read(
            StoreKind::S3,
            "bucket = \"lake\"\nendpoint = \"http://127.0.0.1:9\"",
            Some("eu-west-1"),
        );
        let e = s3(&c, &ctx(false)).err().unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        assert!(
            e.to_string().starts_with("s3 bucket lake (eu-west-1): "),
            "{e}"
        );
    }

    #[test]
    fn azure_encryption_scope_is_refused_with_a_way_out() {
        let (_, p) = read(
            StoreKind::Azure,
            "account = \"a\"\ncontainer = \"c\"\nencryption_scope = \"s\"",
            None,
        );
        assert!(messages(&p).contains("default encryption scope"));
    }
}

#[cfg(test)]
mod credential_tests {
    use super::credential_endpoint;

    #[test]
    fn only_the_machines_own_credential_endpoints_are_plain_http() {
        for host in [
            "169.254.169.254",
            "169.254.170.2",
            "169.254.170.23",
            "[fd00:ec2::254]",
            "fd00:ec2::23",
            "metadata.google.internal",
            "METADATA.GOOGLE.INTERNAL",
            "127.0.0.1",
            "localhost",
            "[::1]",
        ] {
            assert!(credential_endpoint(host), "{host}");
        }
        for host in [
            "192.0.2.1",
            "10.0.0.1",
            "metadata.google.internal.evil.com",
            "fd00:ec3::254",
            "fd00:ec2:0:1::254",
            "s3.amazonaws.com",
            "",
        ] {
            assert!(!credential_endpoint(host), "{host}");
        }
    }
}
