//! What the user wrote for a PostgreSQL connection (spec settings or a
//! `postgres://` URL) → a validated [`PgConfig`], before anything is
//! contacted; and connecting with it.
//!
//! Connecting: `SslMode::Require` with the rustls configuration from
//! `security::tls` — a server that offers no TLS is refused before the
//! password is sent. The password comes from `password = "${…}"` in the
//! spec or from `PGPASSWORD`, and stays a [`Secret`] until the driver needs
//! it; a literal password in a spec or URL is refused.
//!
//! Waits: `timeout.connect` bounds the whole connection (TCP, the TLS
//! request and handshake, startup and authentication; the driver's own
//! `connect_timeout` covers the TCP connect only); `timeout.idle` bounds
//! each wait for data ([`PgConfig::within`]) and, as the session's
//! `lock_timeout`, any wait for a lock another session holds (a table being
//! replaced, a transaction left open); TCP keepalive notices a server that vanished
//! while it works on a statement. There is no `statement_timeout`: a COPY of
//! a large table is one statement and may rightly run for hours.

use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::connect::url::Url;
use crate::connect::{Located, OpenContext};
use crate::error;
use crate::security::reference::SecretRef;
use crate::security::tls::{self, TlsMode, TlsSettings};
use crate::security::Secret;
use crate::spec::fields::{seconds, Fields, Timeouts};
use crate::spec::Endpoint;

pub const DEFAULT_PORT: u16 = 5432;

/// A statement that may wait for a lock is given this much beyond
/// `lock_timeout` on the client's side.
pub(crate) const LOCK_MARGIN: Duration = Duration::from_secs(10);

/// A connection's settings, validated.
#[derive(Clone)]
pub struct PgConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    database: String,
    pub(crate) user: String,
    password: Option<SecretRef>,
    pub(crate) tls: TlsSettings,
    application_name: String,
    pub(crate) timeouts: Timeouts,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgConfig({}, password: [redacted])", self.ident())
    }
}

/// What TLS modes mean for PostgreSQL: all three are possible.
pub const TLS_REFUSED: &[(TlsMode, &str)] = &[];

impl PgConfig {
    /// Read the settings of a connection.
    pub fn read(f: &mut Fields) -> PgConfig {
        let host = f.string("host").unwrap_or_else(|| "localhost".into());
        let port = f.port("port").unwrap_or(DEFAULT_PORT);
        let user = f
            .string("user")
            .or_else(|| std::env::var("PGUSER").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into());
        let database = f.string("database").unwrap_or_else(|| user.clone());
        let password = f.secret("password");
        let tls = f.tls(TLS_REFUSED, Ok(()));
        let application_name = f
            .string("application_name")
            .unwrap_or_else(|| "convoy".into());
        let mut timeouts = f.timeouts();
        // libpq's name for it, still understood.
        if let Some(d) = f.duration("connect_timeout") {
            timeouts.connect = d;
        }
        PgConfig {
            host,
            port,
            database,
            user,
            password,
            tls,
            application_name,
            timeouts,
        }
    }

    /// Short identity for messages: `postgres host:port/db`.
    pub fn ident(&self) -> String {
        format!("postgres {}:{}/{}", self.host, self.port, self.database)
    }

    /// Warn about, and record for the summary, TLS weakened with
    /// `--allow-insecure` (without the flag `connect` refuses it).
    pub fn note_insecure(&self, ctx: &OpenContext) {
        if !ctx.allow_insecure {
            return;
        }
        if let Some(note) = self.tls.insecure_note() {
            ctx.note_insecure(format!("{}: {note}", self.ident()));
        }
    }

    /// The password: the spec's reference, else `PGPASSWORD`.
    fn password(&self, ctx: &OpenContext) -> Result<Option<Secret>> {
        match &self.password {
            Some(r) => r.resolve(&ctx.secrets).map(Some),
            None => Ok(std::env::var("PGPASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .map(Secret::new)),
        }
    }

    /// The driver's configuration: address, login, keepalive.
    fn driver_config(&self, ctx: &OpenContext) -> Result<tokio_postgres::Config> {
        let mut c = tokio_postgres::Config::new();
        let (time, interval, retries) = self.timeouts.keepalive();
        c.host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .user(&self.user)
            .application_name(&self.application_name)
            .connect_timeout(self.timeouts.connect)
            .keepalives(true)
            .keepalives_idle(time)
            .keepalives_interval(interval)
            .keepalives_retries(retries);
        if let Some(p) = self.password(ctx)? {
            c.password(p.expose());
        }
        Ok(c)
    }

    /// Open a connection; its I/O runs on a task of its own. The whole of
    /// it — TCP, TLS, startup, authentication — gets `timeout.connect`.
    pub async fn connect(&self, ctx: &OpenContext) -> Result<Client> {
        let who = self.ident();
        self.tls.check_allowed(ctx.allow_insecure, &who)?;
        let mut c = self.driver_config(ctx)?;
        // Waits for a lock another session holds end after timeout.idle,
        // with the server's own error, for every statement of the session.
        let settings = format!("SET lock_timeout = '{}ms'", self.timeouts.idle.as_millis());
        let connecting = async {
            let client = if self.tls.mode == TlsMode::Disable {
                c.ssl_mode(tokio_postgres::config::SslMode::Disable);
                let (client, conn) = c.connect(tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                client
            } else {
                c.ssl_mode(tokio_postgres::config::SslMode::Require);
                let (client, conn) = c.connect(self.tls_connector()?).await?;
                tokio::spawn(conn);
                client
            };
            client.batch_execute(&settings).await?;
            Ok(client)
        };
        match tokio::time::timeout(self.timeouts.connect, connecting).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(Connecting::Driver(e))) => Err(connect_error(e, &who)),
            Ok(Err(Connecting::Other(e))) => Err(e),
            Err(_) => Err(error::input(
                format!(
                    "no answer from {who} within {} while connecting (TCP, TLS handshake and login)",
                    seconds(self.timeouts.connect)
                ),
                Some(
                    "check that the host and port are a PostgreSQL server's and that the network lets the connection through; raise timeout.connect if the server is slow to accept logins"
                        .to_string(),
                ),
            )),
        }
    }

    fn tls_connector(&self) -> Result<BufferedTls, Connecting> {
        let config = tls::client_config(&self.tls).map_err(Connecting::Other)?;
        Ok(BufferedTls(tokio_postgres_rustls::MakeRustlsConnect::new(
            (*config).clone(),
        )))
    }

    /// Ask the server to stop whatever `client` is running (a cancel
    /// request on a connection of its own), within `timeout.connect`.
    /// Best effort: failures are ignored.
    pub async fn cancel_running(&self, client: &Client) {
        let token = client.cancel_token();
        let cancelling = async {
            if self.tls.mode == TlsMode::Disable {
                let _ = token.cancel_query(tokio_postgres::NoTls).await;
            } else if let Ok(tls) = self.tls_connector() {
                let _ = token.cancel_query(tls).await;
            }
        };
        let _ = tokio::time::timeout(self.timeouts.connect, cancelling).await;
    }

    /// `fut`, a wait on this server for data or an answer, within
    /// `timeout.idle`; `what` says what convoy was waiting for ("reading
    /// COPY data").
    pub async fn within<T, E>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> Result<T>
    where
        E: Into<anyhow::Error>,
    {
        self.within_for(self.timeouts.idle, what, fut).await
    }

    /// [`PgConfig::within`] for a statement that may wait for a lock: the
    /// session's `lock_timeout` (`timeout.idle`) ends that wait with the
    /// server's clearer error first.
    pub async fn within_lock<T, E>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> Result<T>
    where
        E: Into<anyhow::Error>,
    {
        self.within_for(self.timeouts.idle + LOCK_MARGIN, what, fut)
            .await
    }

    /// [`PgConfig::within`] with a bound of its own.
    pub async fn within_for<T, E>(
        &self,
        bound: Duration,
        what: &str,
        fut: impl std::future::Future<Output = std::result::Result<T, E>>,
    ) -> Result<T>
    where
        E: Into<anyhow::Error>,
    {
        match tokio::time::timeout(bound, fut).await {
            Ok(r) => r.map_err(Into::into),
            Err(_) => Err(self.silent(bound, what)),
        }
    }

    /// The error for a server that said nothing for `bound`.
    pub fn silent(&self, bound: Duration, what: &str) -> anyhow::Error {
        error::input(
            format!(
                "no data from {} for {} while {what}",
                self.ident(),
                seconds(bound)
            ),
            Some(
                "the server or the network stopped answering; if the server is only slow (a query that takes long to produce its rows), raise timeout.idle in the connection"
                    .to_string(),
            ),
        )
    }
}

/// Why connecting failed: the driver's error, or one of convoy's own.
enum Connecting {
    Driver(tokio_postgres::Error),
    Other(anyhow::Error),
}

impl From<tokio_postgres::Error> for Connecting {
    fn from(e: tokio_postgres::Error) -> Connecting {
        Connecting::Driver(e)
    }
}

fn connect_error(e: tokio_postgres::Error, who: &str) -> anyhow::Error {
    let text = e.to_string();
    let full = format!("{e:?}");
    if full.contains("server does not support TLS") || text.contains("server does not support TLS")
    {
        return error::policy(
            format!("{who}: TLS refused: the server offers no TLS; convoy does not connect in plaintext (nothing, not even the password, was sent)"),
            Some("enable ssl on the server, or if plaintext is really intended add tls = { mode = \"disable\" } to the connection and --allow-insecure".to_string()),
        );
    }
    if let Some(refusal) = tls::classify(&e, who) {
        return refusal;
    }
    if let Some(db) = e.as_db_error() {
        return error::input(
            format!("{who}: {}", db.message()),
            db.hint().map(str::to_string),
        );
    }
    anyhow::Error::new(e).context(format!("cannot connect to {who}"))
}

/// `postgres://user@host:port/db?table=schema.t` → the settings a spec
/// would give and the endpoint. A password was refused by [`Url::parse`].
pub fn from_url(url: &Url) -> Result<Located> {
    let bad = |m: String| {
        error::usage(
            m,
            Some("expected postgres://user@host:port/database?table=schema.table".to_string()),
        )
    };
    if url.host.is_empty() {
        return Err(bad("the URL names no host".into()));
    }
    let mut settings = toml::Table::new();
    if let Some(u) = &url.user {
        settings.insert("user".into(), u.clone().into());
    }
    settings.insert("host".into(), url.host.clone().into());
    if let Some(p) = url.port {
        settings.insert("port".into(), toml::Value::Integer(p.into()));
    }
    if let Some(d) = url.database() {
        settings.insert("database".into(), d.into());
    }
    let mut ep = Endpoint::new("");
    let mut tls = toml::Table::new();
    for (k, v) in url.query() {
        match k.as_str() {
            "table" => ep.table = Some(v),
            "query" => ep.query = Some(v),
            "application_name" => {
                settings.insert(k, v.into());
            }
            "connect_timeout" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(format!("invalid connect_timeout {v:?}")))?;
                settings.insert(k, toml::Value::Integer(n));
            }
            "sslrootcert" | "ca_file" => {
                tls.insert("ca_file".into(), v.into());
            }
            "sslmode" => match v.as_str() {
                "verify-full" => {}
                "disable" => {
                    tls.insert("mode".into(), "disable".into());
                }
                other => {
                    return Err(bad(format!(
                        "sslmode={other} is not supported: convoy always verifies TLS (verify-full); sslmode=disable needs --allow-insecure"
                    )))
                }
            },
            "password" => {
                return Err(error::policy(
                    "a password in a postgres:// URL is refused",
                    Some("set PGPASSWORD in the environment instead".to_string()),
                ))
            }
            other => {
                return Err(bad(format!(
                    "unknown URL parameter {other:?} (known: table, query, sslrootcert, sslmode, application_name, connect_timeout)"
                )))
            }
        }
    }
    if !tls.is_empty() {
        settings.insert("tls".into(), toml::Value::Table(tls));
    }
    let name = format!(
        "{}{}/{}",
        url.user
            .as_ref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default(),
        url.authority(),
        url.database().unwrap_or_default()
    );
    Ok(Located {
        name,
        settings,
        endpoint: ep,
    })
}

/// How much of the socket one read takes in under TLS.
const READ_BUFFER: usize = 256 << 10;

/// TLS over a socket read in large gulps. rustls asks its transport for at
/// most 4 KiB at a time, so a COPY of hundreds of megabytes cost one system
/// call per 4 KiB; with a read buffer beneath TLS one call takes in
/// whatever has arrived, up to [`READ_BUFFER`]. Writes pass straight through.
#[derive(Clone)]
pub struct BufferedTls(MakeRustlsConnect);

impl<S> MakeTlsConnect<S> for BufferedTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<BufReader<S>>>::Stream;
    type TlsConnect =
        BufferedConnect<<MakeRustlsConnect as MakeTlsConnect<BufReader<S>>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<BufReader<S>>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        MakeTlsConnect::<BufReader<S>>::make_tls_connect(&mut self.0, domain).map(BufferedConnect)
    }
}

/// One connection's TLS handshake over a read-buffered socket.
pub struct BufferedConnect<T>(T);

impl<S, T> TlsConnect<S> for BufferedConnect<T>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: TlsConnect<BufReader<S>>,
{
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = T::Future;

    fn connect(self, stream: S) -> Self::Future {
        self.0
            .connect(BufReader::with_capacity(READ_BUFFER, stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(text: &str) -> Result<Located> {
        from_url(&Url::parse(text, "SRC", true)?)
    }

    #[test]
    fn postgres_urls_make_a_connection() {
        let l = located("postgres://loader@db.corp:5433/sales?table=public.orders").unwrap();
        let s = &l.settings;
        assert_eq!(s["host"].as_str(), Some("db.corp"));
        assert_eq!(s["port"].as_integer(), Some(5433));
        assert_eq!(s["user"].as_str(), Some("loader"));
        assert_eq!(s["database"].as_str(), Some("sales"));
        assert_eq!(l.endpoint.table.as_deref(), Some("public.orders"));
    }

    #[test]
    fn a_password_in_a_postgres_url_is_refused() {
        let e = located("postgresql://u:secret@h/db?table=t").err().unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        assert!(crate::error::hint(&e).unwrap().contains("PGPASSWORD"));
        let e = located("postgresql://u:Xy/9kP@db:5432/sales?table=public.t")
            .err()
            .unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        assert!(!crate::error::render(&e).contains("Xy"));
    }

    #[test]
    fn passwords_come_from_references() {
        std::env::set_var("CONVOY_TEST_PG_PW", "s3cret");
        let ctx = crate::security::reference::ResolveContext::new(None);
        let r = SecretRef::reference("${env:CONVOY_TEST_PG_PW}".into(), "p".into());
        assert_eq!(r.resolve(&ctx).unwrap().expose(), "s3cret");
        let r = SecretRef::reference("${env:CONVOY_TEST_PG_NOPE}".into(), "p".into());
        let e = r.resolve(&ctx).unwrap_err();
        assert!(e.to_string().contains("CONVOY_TEST_PG_NOPE"), "{e}");
    }
}
