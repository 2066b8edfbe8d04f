//! What the user wrote for a SQL Server connection (spec settings or an
//! `mssql://` URL) → a validated [`MssqlConfig`], before anything is contacted.
//!
//! This is where the encryption policy lives (the TLS settings are the
//! shared `tls = { … }` table, read by `spec::fields`; what tiberius does
//! with them is in [`MssqlConfig::tiberius`]): the only TDS encryption levels
//! this module can produce are `Required` (TLS negotiated in PRELOGIN, the
//! whole session encrypted, a server that declines is refused before LOGIN7)
//! and `Strict` (TDS 8.0: TLS before any TDS byte). tiberius's `NotSupported`
//! and `Off` levels send the login, password included, in clear or leave the
//! session unencrypted; no setting maps to them (see [`Encrypt::level`] and the
//! test that enumerates settings).

use anyhow::Result;
use tiberius::{AuthMethod, EncryptionLevel};
use toml::{Table, Value};

use crate::connect::url::Url;
use crate::connect::{Located, OpenContext};
use crate::security::reference::{self, SecretRef};
use crate::security::tls::{TlsMode, TlsSettings};
use crate::spec::fields::{Fields, Timeouts};
use crate::spec::{Endpoint, PartitionSpec};

/// The default TDS port.
pub const DEFAULT_PORT: u16 = 1433;
/// Environment variable read for the password of an `mssql://` URL that names
/// no `password=` reference (as `PGPASSWORD` is for PostgreSQL tools).
pub const PASSWORD_ENV: &str = "MSSQL_PASSWORD";

/// How the TDS session is encrypted. There is deliberately no "off".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypt {
    /// TDS 7.x: encryption negotiated in PRELOGIN and required; the whole
    /// session runs over TLS.
    Required,
    /// TDS 8.0 strict: TLS first, then TDS inside it (SQL Server 2022+, Azure SQL).
    Strict,
}

impl Encrypt {
    /// The tiberius level. The only two values this function can return are
    /// the only two convoy ever hands to tiberius.
    pub fn level(self) -> EncryptionLevel {
        match self {
            Encrypt::Required => EncryptionLevel::Required,
            Encrypt::Strict => EncryptionLevel::Strict,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encrypt::Required => "required",
            Encrypt::Strict => "strict",
        }
    }

    /// `encrypt = …` as written in a spec or URL.
    pub fn parse(value: Option<&Value>) -> Result<Encrypt> {
        let text = match value {
            None => return Ok(Encrypt::Required),
            Some(Value::Boolean(true)) => "true".to_string(),
            Some(Value::Boolean(false)) => "false".to_string(),
            Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
            Some(other) => {
                return Err(crate::error::usage(
                    format!("encrypt: expected \"required\" or \"strict\", found {other}"),
                    None,
                ))
            }
        };
        match text.as_str() {
            "required" | "require" | "mandatory" | "true" | "yes" | "on" => Ok(Encrypt::Required),
            "strict" => Ok(Encrypt::Strict),
            "false" | "no" | "off" | "optional" | "disable" | "disabled" | "not_supported"
            | "notsupported" | "none" | "login" => Err(crate::error::policy(
                format!(
                    "encrypt = \"{text}\" is refused: SQL Server connections are always encrypted by convoy (an unencrypted login sends the password in clear)"
                ),
                Some(
                    "remove the setting (the default is \"required\"), or use encrypt = \"strict\" for TDS 8.0; for a server with a self-signed certificate give tls = { ca_file = \"…\" }"
                        .to_string(),
                ),
            )),
            other => Err(crate::error::usage(
                format!("encrypt: unknown value \"{other}\" (expected \"required\" or \"strict\")"),
                None,
            )),
        }
    }
}

/// How convoy logs in. The credential stays a reference until connecting.
pub enum Auth {
    SqlLogin {
        user: String,
        password: SecretRef,
    },
    /// An Azure AD (Entra ID) access token, e.g. from `az account get-access-token
    /// --resource https://database.windows.net/`.
    AadToken(SecretRef),
}

/// A validated SQL Server connection: everything needed to connect.
pub struct MssqlConfig {
    pub host: String,
    pub port: u16,
    pub database: Option<String>,
    pub auth: Auth,
    pub encrypt: Encrypt,
    /// `tls = { … }`; `trust_server_certificate = true` is `mode = "no-verify"`.
    pub tls: TlsSettings,
    /// The certificate checks were switched off with `trust_server_certificate`.
    trust_setting: bool,
    /// `timeout = { connect, idle }` (`connect_timeout` is still read as
    /// `timeout.connect`).
    pub timeouts: Timeouts,
}

/// What the shared TLS modes mean here: the session is always encrypted.
pub const TLS_REFUSED: &[(TlsMode, &str)] = &[(
    TlsMode::Disable,
    "SQL Server connections are always encrypted by convoy (an unencrypted login sends the password in clear); for a server whose certificate cannot be verified give its CA with ca_file, or use mode = \"no-verify\" with --allow-insecure",
)];

impl MssqlConfig {
    /// Read a connection's settings; problems go into `f`.
    pub fn read(f: &mut Fields) -> MssqlConfig {
        let host = f
            .required("host", "the SQL Server's host name")
            .unwrap_or_default();
        let port = f.port("port").unwrap_or(DEFAULT_PORT);
        let mut timeouts = f.timeouts();
        if let Some(d) = f.duration("connect_timeout") {
            timeouts.connect = d;
        }
        let encrypt = match Encrypt::parse(f.raw("encrypt")) {
            Ok(e) => e,
            Err(e) => {
                let hint = crate::error::hint(&e).unwrap_or_default().to_string();
                if crate::error::exit_kind(&e) == crate::error::ExitKind::Policy {
                    f.refuse("encrypt", e.to_string(), hint);
                } else {
                    f.problem("encrypt", e.to_string());
                }
                Encrypt::Required
            }
        };
        let trust_setting = f.boolean("trust_server_certificate").unwrap_or(false);
        let mut tls = f.tls(
            TLS_REFUSED,
            Err("pin_sha256 is not available for SQL Server connections (the TDS client builds its own certificate verifier); trust the server's certificate or its CA with tls = { ca_file = \"server-ca.pem\" }"),
        );
        if trust_setting {
            if tls.ca_file.is_some() {
                f.problem(
                    "trust_server_certificate",
                    "give tls.ca_file or trust_server_certificate, not both",
                );
            }
            tls.mode = TlsMode::NoVerify;
        }
        let user = f.string("user");
        let token = f.secret("token");
        let password = f.secret("password");
        let has_password = f.has("password");
        let has_token = f.has("token");
        let auth = match (token, password) {
            (Some(_), Some(_)) => {
                f.problem("token", "give password or token, not both");
                None
            }
            _ if has_token && has_password => {
                f.problem("token", "give password or token, not both");
                None
            }
            (Some(token), None) => {
                if user.is_some() {
                    f.problem("user", "an access token names its own user; remove user");
                }
                Some(Auth::AadToken(token))
            }
            (None, Some(password)) => match user {
                Some(user) => Some(Auth::SqlLogin { user, password }),
                None => {
                    f.problem(
                        "user",
                        "missing (a SQL Server login needs user and password, or token)",
                    );
                    None
                }
            },
            _ if has_token || has_password => None,
            (None, None) => {
                match &user {
                    Some(u) => f.problem(
                        "password",
                        format!(
                            "no password for SQL Server user {u}: set password = \"${{secret:NAME}}\" in the connection, or {PASSWORD_ENV} in the environment for an mssql:// URL"
                        ),
                    ),
                    None => f.problem(
                        "user",
                        "an mssql connection needs user and password, or token (for Azure AD, token = \"${env:NAME}\" holding an access token)",
                    ),
                }
                None
            }
        };
        MssqlConfig {
            host,
            port,
            database: f.string("database").filter(|d| !d.is_empty()),
            auth: auth.unwrap_or(Auth::AadToken(SecretRef::literal(String::new()))),
            encrypt,
            tls,
            trust_setting,
            timeouts,
        }
    }

    /// Short identity for messages: `host:port/db`.
    pub fn label(&self) -> String {
        format!(
            "{}:{}/{}",
            self.host,
            self.port,
            self.database.as_deref().unwrap_or("")
        )
    }

    /// Refuse certificate checks switched off unless `--allow-insecure` was
    /// given; warn about (and record) them when it was.
    pub fn check_insecure(&self, ctx: &OpenContext) -> Result<()> {
        if self.tls.mode != TlsMode::NoVerify {
            return Ok(());
        }
        let setting = if self.trust_setting {
            "trust_server_certificate = true"
        } else {
            "tls.mode = \"no-verify\""
        };
        if !ctx.allow_insecure {
            return Err(crate::error::policy(
                format!("mssql {}: {setting} turns off certificate checks and is refused without --allow-insecure", self.label()),
                Some("give the server's CA with tls = { ca_file = \"…\" } instead, or add --allow-insecure to accept the risk".to_string()),
            ));
        }
        ctx.note_insecure(format!(
            "mssql {}: {setting}: the server's certificate is not verified (allowed by --allow-insecure)",
            self.label()
        ));
        Ok(())
    }

    /// The tiberius configuration, credentials resolved. Encryption comes
    /// only from [`Encrypt::level`].
    pub fn tiberius(&self, ctx: &OpenContext) -> Result<tiberius::Config> {
        self.check_insecure(ctx)?;
        let mut c = tiberius::Config::new();
        c.host(&self.host);
        c.port(self.port);
        if let Some(db) = &self.database {
            c.database(db);
        }
        c.application_name("convoy");
        c.encryption(self.encrypt.level());
        if self.tls.mode == TlsMode::NoVerify {
            c.trust_cert();
        } else if let Some(path) = &self.tls.ca_file {
            let ca = std::fs::read(path).map_err(|e| {
                crate::error::usage(
                    format!("tls.ca_file: cannot read {}: {e}", path.display()),
                    None,
                )
            })?;
            c.trust_cert_ca_bundle(ca);
        }
        c.handshake_timeout(Some(self.timeouts.connect));
        match &self.auth {
            Auth::SqlLogin { user, password } => {
                let password = password.resolve(&ctx.secrets)?;
                c.authentication(AuthMethod::sql_server(user, password.expose()))
            }
            Auth::AadToken(token) => {
                let token = token.resolve(&ctx.secrets)?;
                c.authentication(AuthMethod::aad_token(token.expose()))
            }
        }
        Ok(c)
    }
}

fn url_error(message: String) -> anyhow::Error {
    crate::error::usage(
        message,
        Some("expected mssql://user@host:1433/database?table=schema.table".to_string()),
    )
}

/// `mssql://user@host:port/db?table=schema.t&…` → the settings a spec would
/// give and the endpoint.
///
/// Parameters: `table`, `query`, `encrypt` (`required` | `strict`), `ca_file`,
/// `trust_server_certificate`, `connect_timeout`, `password` and `token` (only
/// as `${…}` references), `partition_column` with `partitions`. Without
/// `password` or `token`, the password is read from `MSSQL_PASSWORD`. A
/// password written into the URL was refused by [`Url::parse`].
pub fn from_url(url: &Url) -> Result<Located> {
    let mut settings = Table::new();
    if let Some(u) = &url.user {
        settings.insert("user".into(), u.clone().into());
    }
    if url.host.is_empty() {
        return Err(url_error("the URL names no host".into()));
    }
    settings.insert("host".into(), url.host.clone().into());
    if let Some(p) = url.port {
        settings.insert("port".into(), Value::Integer(p.into()));
    }
    if let Some(d) = url.database() {
        settings.insert("database".into(), d.into());
    }
    let mut ep = Endpoint::new("");
    let mut tls = Table::new();
    let mut partition_column = None;
    let mut partitions = None;
    for (k, v) in url.query() {
        match k.as_str() {
            "table" => ep.table = Some(v),
            "query" => ep.query = Some(v),
            "encrypt" => {
                settings.insert(k, v.into());
            }
            "ca_file" => {
                tls.insert("ca_file".into(), v.into());
            }
            "trust_server_certificate" | "TrustServerCertificate" => {
                let b = matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1");
                settings.insert("trust_server_certificate".into(), Value::Boolean(b));
            }
            "connect_timeout" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| url_error(format!("invalid connect_timeout {v:?}")))?;
                settings.insert(k, Value::Integer(n));
            }
            "password" | "token" => {
                if !reference::is_reference(&v) {
                    return Err(crate::error::policy(
                        format!("a literal {k} in an mssql:// URL is refused"),
                        Some(format!(
                            "write {k}=${{secret:NAME}} (or ${{env:NAME}}) instead, or set {PASSWORD_ENV} in the environment"
                        )),
                    ));
                }
                settings.insert(k, v.into());
            }
            "partition_column" => partition_column = Some(v),
            "partitions" => {
                let n: usize = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| url_error(format!("invalid partitions {v:?}")))?;
                partitions = Some(n.min(256));
            }
            other => {
                return Err(url_error(format!(
                    "unknown URL parameter {other:?} (known: table, query, encrypt, ca_file, trust_server_certificate, connect_timeout, password, token, partition_column, partitions)"
                )))
            }
        }
    }
    match (partition_column, partitions) {
        (Some(column), count) => {
            ep.partition = Some(PartitionSpec {
                column,
                count: count.unwrap_or(4),
            })
        }
        (None, Some(_)) => {
            return Err(url_error(
                "partitions needs partition_column (an integer column)".into(),
            ))
        }
        (None, None) => {}
    }
    if !tls.is_empty() {
        settings.insert("tls".into(), Value::Table(tls));
    }
    if !settings.contains_key("password") && !settings.contains_key("token") {
        if let Ok(v) = std::env::var(PASSWORD_ENV) {
            if !v.is_empty() {
                settings.insert("password".into(), format!("${{env:{PASSWORD_ENV}}}").into());
            }
        }
    }
    Ok(Located {
        name: format!("mssql://{}", url.authority()),
        settings,
        endpoint: ep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{exit_kind, ExitKind};
    use crate::spec::fields::Problems;
    use std::path::Path;

    fn located(text: &str) -> Result<Located> {
        from_url(&Url::parse(text, "SRC", true)?)
    }

    fn read(s: &Table) -> (MssqlConfig, Problems) {
        let mut p = Problems::default();
        let mut f = Fields::new("connections.db", s, Path::new("."), &mut p);
        let cfg = MssqlConfig::read(&mut f);
        f.finish();
        (cfg, p)
    }

    fn ctx(allow_insecure: bool) -> OpenContext {
        OpenContext::new(
            "r".into(),
            "2026-01-01".into(),
            allow_insecure,
            std::sync::Arc::new(crate::security::reference::ResolveContext::new(None)),
            tokio_util::sync::CancellationToken::new(),
        )
    }

    #[test]
    fn urls_make_a_connection_and_an_endpoint() {
        let l = located(
            "mssql://loader@db.corp:1444/sales?table=dbo.orders&encrypt=strict&partition_column=id&partitions=8",
        )
        .unwrap();
        let s = &l.settings;
        assert_eq!(s["host"].as_str(), Some("db.corp"));
        assert_eq!(s["port"].as_integer(), Some(1444));
        assert_eq!(s["user"].as_str(), Some("loader"));
        assert_eq!(s["database"].as_str(), Some("sales"));
        assert_eq!(s["encrypt"].as_str(), Some("strict"));
        assert_eq!(l.endpoint.table.as_deref(), Some("dbo.orders"));
        assert_eq!(
            l.endpoint.partition,
            Some(PartitionSpec {
                column: "id".into(),
                count: 8
            })
        );
    }

    #[test]
    fn passwords_in_urls_are_refused_by_policy() {
        for url in [
            "mssql://u:hunter22@h/db?table=t",
            "mssql://u@h/db?table=t&password=hunter22",
        ] {
            let e = located(url).err().unwrap();
            assert_eq!(exit_kind(&e), ExitKind::Policy, "{url}");
            assert!(!e.to_string().contains("hunter22"));
        }
        let l = located("mssql://u@h/db?table=t&password=${secret:db_pw}").unwrap();
        assert_eq!(l.settings["password"].as_str(), Some("${secret:db_pw}"));
    }

    #[test]
    fn encryption_cannot_be_turned_off() {
        for v in ["off", "false", "no", "optional", "not_supported", "disable"] {
            let e = Encrypt::parse(Some(&Value::String(v.into()))).unwrap_err();
            assert_eq!(exit_kind(&e), ExitKind::Policy, "{v}");
        }
        let e = Encrypt::parse(Some(&Value::Boolean(false))).unwrap_err();
        assert_eq!(exit_kind(&e), ExitKind::Policy);
        assert_eq!(Encrypt::parse(None).unwrap(), Encrypt::Required);
        assert_eq!(
            Encrypt::parse(Some(&Value::String("strict".into()))).unwrap(),
            Encrypt::Strict
        );
    }

    #[test]
    fn trusting_any_certificate_needs_the_flag() {
        std::env::set_var("CONVOY_TEST_MSSQL_TRUST_PW", "pw");
        for text in [
            "trust_server_certificate = true",
            "tls = { mode = \"no-verify\" }",
        ] {
            let s: Table = format!(
                "host = \"h\"\nuser = \"u\"\npassword = \"${{env:CONVOY_TEST_MSSQL_TRUST_PW}}\"\n{text}"
            )
            .parse()
            .unwrap();
            let (cfg, p) = read(&s);
            assert!(
                p.errors.is_empty() && p.refusals.is_empty(),
                "{text}: {p:?}"
            );
            let e = cfg.tiberius(&ctx(false)).err().unwrap();
            assert_eq!(exit_kind(&e), ExitKind::Policy, "{text}");
            cfg.tiberius(&ctx(true)).unwrap();
        }
    }

    #[test]
    fn verification_is_the_default_and_cannot_be_disabled() {
        let s: Table = "host = \"h\"\ntoken = \"${env:T}\"\ntls = { mode = \"disable\" }"
            .parse()
            .unwrap();
        let (_, p) = read(&s);
        assert!(
            p.errors[0].to_string().contains("always encrypted"),
            "{:?}",
            p.errors
        );
        let s: Table = "host = \"h\"\ntoken = \"${env:T}\"\ntls = { pin_sha256 = \"ab\" }"
            .parse()
            .unwrap();
        let (_, p) = read(&s);
        assert!(p.errors[0]
            .to_string()
            .contains("pin_sha256 is not available"));
        let s: Table = "host = \"h\"\ntoken = \"${env:T}\"".parse().unwrap();
        let (cfg, p) = read(&s);
        assert!(p.errors.is_empty());
        assert_eq!(cfg.tls.mode, TlsMode::VerifyFull);
    }

    /// Every combination of the settings that touch TLS either is refused or
    /// gives tiberius `Required` or `Strict`: never `NotSupported` or `Off`,
    /// which would send LOGIN7 (with the password) without TLS.
    #[test]
    fn no_configuration_reaches_an_unencrypted_level() {
        std::env::set_var("CONVOY_TEST_MSSQL_CFG_PW", "pw");
        let encrypts: Vec<Option<Value>> = vec![
            None,
            Some(Value::Boolean(true)),
            Some(Value::Boolean(false)),
            Some("required".into()),
            Some("strict".into()),
            Some("off".into()),
            Some("not_supported".into()),
            Some("optional".into()),
            Some("bogus".into()),
        ];
        let trusts: Vec<Option<Value>> = vec![
            None,
            Some(Value::Boolean(true)),
            Some(Value::Boolean(false)),
        ];
        let tls_modes: Vec<Option<&str>> = vec![
            None,
            Some("verify-full"),
            Some("no-verify"),
            Some("disable"),
        ];
        let mut accepted = 0;
        for e in &encrypts {
            for t in &trusts {
                for m in &tls_modes {
                    for allow in [false, true] {
                        let mut s = Table::new();
                        s.insert("host".into(), "db.example".into());
                        s.insert("user".into(), "u".into());
                        s.insert("password".into(), "${env:CONVOY_TEST_MSSQL_CFG_PW}".into());
                        if let Some(e) = e {
                            s.insert("encrypt".into(), e.clone());
                        }
                        if let Some(t) = t {
                            s.insert("trust_server_certificate".into(), t.clone());
                        }
                        if let Some(m) = m {
                            let mut tt = Table::new();
                            tt.insert("mode".into(), (*m).into());
                            s.insert("tls".into(), Value::Table(tt));
                        }
                        let (cfg, p) = read(&s);
                        if !p.errors.is_empty() || !p.refusals.is_empty() {
                            continue;
                        }
                        match cfg.tiberius(&ctx(allow)) {
                            Ok(_) => {
                                accepted += 1;
                                let level = cfg.encrypt.level();
                                assert!(
                                    matches!(
                                        level,
                                        EncryptionLevel::Required | EncryptionLevel::Strict
                                    ),
                                    "{e:?} {t:?} {m:?} {allow} gave {level:?}"
                                );
                                // Certificate checks are off only when asked for and allowed.
                                if cfg.tls.mode == TlsMode::NoVerify {
                                    assert!(allow);
                                }
                            }
                            Err(err) => {
                                let k = exit_kind(&err);
                                assert!(matches!(k, ExitKind::Policy | ExitKind::Usage));
                            }
                        }
                    }
                }
            }
        }
        assert!(accepted > 0);
    }
}
