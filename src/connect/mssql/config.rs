//! What the user wrote for a SQL Server connection (spec settings or an
//! `mssql://` URL) → a validated [`MssqlConfig`], before anything is contacted.
//!
//! This is where the encryption policy lives: the only TDS encryption levels
//! this module can produce are `Required` (TLS negotiated in PRELOGIN, the
//! whole session encrypted, a server that declines is refused before LOGIN7)
//! and `Strict` (TDS 8.0: TLS before any TDS byte). tiberius's `NotSupported`
//! and `Off` levels send the login, password included, in clear or leave the
//! session unencrypted; no setting maps to them (see [`Encrypt::level`] and the
//! test that enumerates settings).

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use tiberius::{AuthMethod, EncryptionLevel};
use toml::{Table, Value};

use super::tls::{self, ClientTls};
use crate::security::reference::{self, ResolveContext};
use crate::security::Secret;
use crate::spec::{Connection, Endpoint, Kind, PartitionSpec};

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

/// How convoy logs in.
pub enum Auth {
    SqlLogin {
        user: String,
        password: Secret,
    },
    /// An Azure AD (Entra ID) access token, e.g. from `az account get-access-token
    /// --resource https://database.windows.net/`.
    AadToken(Secret),
}

/// A validated SQL Server connection: everything needed to connect.
pub struct MssqlConfig {
    pub host: String,
    pub port: u16,
    pub database: Option<String>,
    pub auth: Auth,
    pub encrypt: Encrypt,
    pub tls: ClientTls,
    pub connect_timeout: Duration,
}

impl MssqlConfig {
    /// Build from a connection's settings. `allow_insecure` is `--allow-insecure`.
    pub fn from_settings(
        settings: &Table,
        base_dir: &Path,
        resolve: &ResolveContext,
        allow_insecure: bool,
    ) -> Result<MssqlConfig> {
        let string = |key: &str| -> Result<Option<String>> {
            match settings.get(key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(crate::error::usage(
                    format!("{key}: expected a string, found {other}"),
                    None,
                )),
            }
        };
        let host = string("host")?
            .filter(|h| !h.is_empty())
            .ok_or_else(|| crate::error::usage("an mssql connection needs host", None))?;
        let port = match settings.get("port") {
            None => DEFAULT_PORT,
            Some(Value::Integer(p)) if (1..=65535).contains(p) => *p as u16,
            Some(other) => {
                return Err(crate::error::usage(
                    format!("port: expected 1..65535, found {other}"),
                    None,
                ))
            }
        };
        let connect_timeout = match settings.get("connect_timeout") {
            None => Duration::from_secs(30),
            Some(Value::Integer(s)) if *s > 0 => Duration::from_secs(*s as u64),
            Some(other) => {
                return Err(crate::error::usage(
                    format!(
                        "connect_timeout: expected a positive number of seconds, found {other}"
                    ),
                    None,
                ))
            }
        };
        let encrypt = Encrypt::parse(settings.get("encrypt"))?;
        let tls = tls::client_tls(settings, base_dir, allow_insecure)?;
        let resolve_ref = |key: &str, text: &str| -> Result<Secret> {
            reference::resolve(text, resolve).map_err(|e| {
                let message = format!("{key}: {e}");
                let hint = e.hint();
                if e.exit_code() == crate::security::EXIT_REFUSED {
                    crate::error::policy(message, hint)
                } else {
                    crate::error::usage(message, hint)
                }
            })
        };
        let user = string("user")?;
        let auth = match (string("token")?, string("password")?) {
            (Some(_), Some(_)) => {
                return Err(crate::error::usage(
                    "give password or token, not both",
                    None,
                ))
            }
            (Some(token), None) => {
                if user.is_some() {
                    return Err(crate::error::usage(
                        "an access token names its own user; remove user",
                        None,
                    ));
                }
                Auth::AadToken(resolve_ref("token", &token)?)
            }
            (None, password) => {
                let user = user.ok_or_else(|| {
                    crate::error::usage(
                        "an mssql connection needs user and password, or token",
                        Some(
                            "for Azure AD give token = \"${env:NAME}\" holding an access token"
                                .to_string(),
                        ),
                    )
                })?;
                let password = match password {
                    Some(p) => resolve_ref("password", &p)?,
                    None => {
                        return Err(crate::error::usage(
                            format!("no password for SQL Server user {user}"),
                            Some(format!(
                                "set password = \"${{secret:NAME}}\" in the connection, or {PASSWORD_ENV} in the environment for an mssql:// URL"
                            )),
                        ))
                    }
                };
                Auth::SqlLogin { user, password }
            }
        };
        Ok(MssqlConfig {
            host,
            port,
            database: string("database")?.filter(|d| !d.is_empty()),
            auth,
            encrypt,
            tls,
            connect_timeout,
        })
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

    /// The tiberius configuration. Encryption comes only from [`Encrypt::level`].
    pub fn tiberius(&self) -> tiberius::Config {
        let mut c = tiberius::Config::new();
        c.host(&self.host);
        c.port(self.port);
        if let Some(db) = &self.database {
            c.database(db);
        }
        c.application_name("convoy");
        c.encryption(self.encrypt.level());
        self.tls.apply(&mut c);
        c.handshake_timeout(Some(self.connect_timeout));
        match &self.auth {
            Auth::SqlLogin { user, password } => {
                c.authentication(AuthMethod::sql_server(user, password.expose()))
            }
            Auth::AadToken(token) => c.authentication(AuthMethod::aad_token(token.expose())),
        }
        c
    }
}

/// Whether a command-line location is a SQL Server URL.
pub fn is_url(text: &str) -> bool {
    let lower = text.get(..12).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("mssql://") || lower.starts_with("sqlserver://")
}

fn url_error(message: String) -> anyhow::Error {
    crate::error::usage(
        message,
        Some("expected mssql://user@host:1433/database?table=schema.table".to_string()),
    )
}

/// `mssql://user@host:port/db?table=schema.t&…` → a connection and an endpoint.
///
/// Parameters: `table`, `query`, `encrypt` (`required` | `strict`), `ca_file`,
/// `trust_server_certificate`, `connect_timeout`, `password` and `token` (only
/// as `${…}` references), `partition_column` with `partitions`. Without
/// `password` or `token`, the password is read from `MSSQL_PASSWORD`. A
/// password written into the URL is refused: command lines are visible to
/// other users and kept in shell history.
pub fn parse_url(text: &str) -> Result<(Connection, Endpoint)> {
    let scheme_end = text.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &text[scheme_end..];
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, database) = match rest.split_once('/') {
        Some((a, d)) => (a, Some(crate::spec::cli_spec::percent_decode(d))),
        None => (rest, None),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut settings = Table::new();
    if let Some(u) = userinfo {
        if u.contains(':') {
            return Err(crate::error::policy(
                "a password in an mssql:// URL is refused (command lines are visible to other users and kept in shell history)",
                Some(format!(
                    "remove it from the URL and set {PASSWORD_ENV} in the environment, add &password=${{secret:NAME}}, or use a spec with password = \"${{secret:NAME}}\""
                )),
            ));
        }
        settings.insert(
            "user".into(),
            crate::spec::cli_spec::percent_decode(u).into(),
        );
    }
    let (host, port) = crate::spec::cli_spec::split_host_port(hostport).map_err(url_error)?;
    settings.insert("host".into(), host.into());
    if let Some(p) = port {
        let n: u16 = p
            .parse()
            .map_err(|_| url_error(format!("invalid port {p:?}")))?;
        settings.insert("port".into(), Value::Integer(n.into()));
    }
    if let Some(d) = database.filter(|d| !d.is_empty()) {
        settings.insert("database".into(), d.into());
    }
    let mut ep = Endpoint::new("");
    let mut tls = Table::new();
    let mut partition_column = None;
    let mut partitions = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = crate::spec::cli_spec::percent_decode(v);
        match k {
            "table" => ep.table = Some(v),
            "query" => ep.query = Some(v),
            "encrypt" => {
                settings.insert(k.into(), v.into());
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
                settings.insert(k.into(), Value::Integer(n));
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
                settings.insert(k.into(), v.into());
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
    Ok((
        Connection {
            name: String::new(),
            kind: Kind::Mssql,
            region: None,
            settings,
        },
        ep,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{exit_kind, ExitKind};

    #[test]
    fn urls_make_a_connection_and_an_endpoint() {
        let (c, ep) = parse_url(
            "mssql://loader@db.corp:1444/sales?table=dbo.orders&encrypt=strict&partition_column=id&partitions=8",
        )
        .unwrap();
        assert_eq!(c.kind, Kind::Mssql);
        assert_eq!(c.settings["host"].as_str(), Some("db.corp"));
        assert_eq!(c.settings["port"].as_integer(), Some(1444));
        assert_eq!(c.settings["user"].as_str(), Some("loader"));
        assert_eq!(c.settings["database"].as_str(), Some("sales"));
        assert_eq!(c.settings["encrypt"].as_str(), Some("strict"));
        assert_eq!(ep.table.as_deref(), Some("dbo.orders"));
        assert_eq!(
            ep.partition,
            Some(PartitionSpec {
                column: "id".into(),
                count: 8
            })
        );
        assert!(is_url("sqlserver://h/db?table=t"));
        assert!(is_url("MSSQL://h/db"));
        assert!(!is_url("orders.csv"));
    }

    #[test]
    fn passwords_in_urls_are_refused_by_policy() {
        for url in [
            "mssql://u:hunter22@h/db?table=t",
            "mssql://u@h/db?table=t&password=hunter22",
        ] {
            let e = parse_url(url).unwrap_err();
            assert_eq!(exit_kind(&e), ExitKind::Policy, "{url}");
            assert!(!e.to_string().contains("hunter22"));
        }
        let (c, _) = parse_url("mssql://u@h/db?table=t&password=${secret:db_pw}").unwrap();
        assert_eq!(c.settings["password"].as_str(), Some("${secret:db_pw}"));
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
                        let rc = ResolveContext::new(None);
                        match MssqlConfig::from_settings(&s, Path::new("."), &rc, allow) {
                            Ok(cfg) => {
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
                                if cfg.tls.trust_server_certificate {
                                    assert!(allow);
                                }
                                let _ = cfg.tiberius();
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
