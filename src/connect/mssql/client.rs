//! Opening a TDS session: TCP, PRELOGIN, TLS, LOGIN7, through tiberius, with
//! the errors a user can act on.
//!
//! A server that declines encryption in PRELOGIN makes tiberius stop with a
//! protocol error before LOGIN7 is written (the encryption level convoy asks
//! for is always `Required` or `Strict`); that error is turned into a policy
//! refusal (exit 3). Certificate failures are refusals too. Azure SQL's
//! gateway may redirect a login to another host; the redirect is followed
//! once, with the same encryption and certificate checks.
//!
//! Waits: the whole login (TCP, PRELOGIN, TLS, LOGIN7, a redirect) gets
//! `timeout.connect`; data streams get `timeout.idle` per wait ([`within`]);
//! the sockets convoy opens have TCP keepalive on.

use anyhow::Result;
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use super::config::MssqlConfig;
use super::sql;
use super::types::SqlType;
use crate::connect::OpenContext;
use crate::spec::fields::seconds;

pub type Client = tiberius::Client<Compat<TcpStream>>;

/// Connect and log in, within `timeout.connect`.
pub async fn connect(cfg: &MssqlConfig, ctx: &OpenContext) -> Result<Client> {
    match tokio::time::timeout(cfg.timeouts.connect, login(cfg, ctx)).await {
        Ok(r) => r,
        Err(_) => Err(crate::error::input(
            format!(
                "no answer from SQL Server {} within {} while connecting (TCP, TLS handshake and login)",
                cfg.label(),
                seconds(cfg.timeouts.connect)
            ),
            Some(
                "check the host, the port and the firewall; raise timeout.connect if the server is slow to accept logins (a paused Azure SQL serverless database takes a while to resume)"
                    .to_string(),
            ),
        )),
    }
}

/// `fut`, a wait on the server for data or an answer, within
/// `timeout.idle`; `what` says what convoy waited for.
pub async fn within<T>(
    cfg: &MssqlConfig,
    what: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(cfg.timeouts.idle, fut).await {
        Ok(r) => r,
        Err(_) => Err(crate::error::input(
            format!(
                "no data from SQL Server {} for {} while {what}",
                cfg.label(),
                seconds(cfg.timeouts.idle)
            ),
            Some(
                "the server or the network stopped answering; if the server is only slow (a query that takes long to produce its rows), raise timeout.idle in the connection"
                    .to_string(),
            ),
        )),
    }
}

async fn login(cfg: &MssqlConfig, ctx: &OpenContext) -> Result<Client> {
    let mut config = cfg.tiberius(ctx)?;
    let mut host = cfg.host.clone();
    let mut port = cfg.port;
    for _ in 0..2 {
        let tcp = tcp_connect(cfg, &host, port).await?;
        match tiberius::Client::connect(config.clone(), tcp.compat_write()).await {
            Ok(client) => return Ok(client),
            Err(tiberius::error::Error::Routing {
                host: new_host,
                port: new_port,
            }) => {
                host = new_host;
                port = new_port;
                config.host(&host);
                config.port(port);
            }
            Err(e) => return Err(map_error(e, &host, port)),
        }
    }
    Err(crate::error::input(
        format!(
            "{}: the server redirected the login more than once",
            cfg.label()
        ),
        None,
    ))
}

async fn tcp_connect(cfg: &MssqlConfig, host: &str, port: u16) -> Result<TcpStream> {
    let addr = format!("{host}:{port}");
    let tcp = TcpStream::connect(&addr).await.map_err(|e| {
        crate::error::input(
            format!("cannot reach SQL Server at {addr}: {e}"),
            Some("check the host, the port and the firewall".to_string()),
        )
    })?;
    tcp.set_nodelay(true)?;
    let (time, interval, retries) = cfg.timeouts.keepalive();
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(time)
        .with_interval(interval)
        .with_retries(retries);
    socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive)?;
    Ok(tcp)
}

/// A tiberius error during connect → a convoy error with the right exit status.
pub fn map_error(e: tiberius::error::Error, host: &str, port: u16) -> anyhow::Error {
    use tiberius::error::Error as E;
    match &e {
        E::Protocol(m) if m.contains("encryption level") => crate::error::policy(
            format!(
                "server {host}:{port} does not offer encryption; convoy refused to log in (nothing was sent after PRELOGIN)"
            ),
            Some(
                "enable \"Force Encryption\" or install a certificate on the server (SQL Server Configuration Manager); convoy never sends a login unencrypted"
                    .to_string(),
            ),
        ),
        E::Tls(m) => crate::error::policy(
            format!("TLS with {host}:{port} failed: {}", short_tls(m)),
            Some(
                "if the server's certificate comes from a private CA, give tls = { ca_file = \"ca.pem\" }; the certificate must name the host you connect to"
                    .to_string(),
            ),
        ),
        E::Io { message, .. }
            if message.contains("certificate")
                || message.contains("InvalidCertificate")
                || message.contains("UnknownIssuer")
                || message.contains("NotValidForName")
                || message.contains("HandshakeFailure") =>
        {
            crate::error::policy(
                format!("TLS with {host}:{port} failed: {message}"),
                Some("give the server's CA with tls = { ca_file = \"ca.pem\" }".to_string()),
            )
        }
        E::Server(token) if token.code() == 18456 => crate::error::input(
            format!("login to {host}:{port} failed: {}", token.message()),
            Some("check the user and the password or token".to_string()),
        ),
        _ => crate::error::input(format!("cannot connect to SQL Server at {host}:{port}: {e}"), None),
    }
}

/// tiberius appends a paragraph of advice about its own API to certificate
/// errors; keep the first sentence, convoy gives its own hint.
fn short_tls(m: &str) -> String {
    match m.find(". To connect anyway") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}

/// Run a batch (no parameters) and drain its results.
pub async fn batch(client: &mut Client, sql: &str) -> Result<()> {
    client
        .simple_query(sql)
        .await
        .map_err(|e| sql_error(e, sql))?
        .into_results()
        .await
        .map_err(|e| sql_error(e, sql))?;
    Ok(())
}

/// The first column of the first row of a batch.
pub async fn scalar<T>(client: &mut Client, sql: &str) -> Result<Option<T>>
where
    T: for<'a> tiberius::FromSql<'a> + 'static + Clone,
{
    let row = client
        .simple_query(sql)
        .await
        .map_err(|e| sql_error(e, sql))?
        .into_row()
        .await
        .map_err(|e| sql_error(e, sql))?;
    match row {
        None => Ok(None),
        Some(row) => Ok(row.try_get::<T, _>(0).map_err(|e| sql_error(e, sql))?),
    }
}

/// A server error with the statement it came from (first line only).
pub fn sql_error(e: tiberius::error::Error, sql: &str) -> anyhow::Error {
    let first = sql.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let first: String = first.chars().take(160).collect();
    anyhow::anyhow!("{e}").context(format!("SQL Server rejected: {first}"))
}
/// A column as `sp_describe_first_result_set` reports it.
#[derive(Debug, Clone)]
pub struct Described {
    pub name: String,
    pub ty: SqlType,
    pub nullable: bool,
    /// Computed columns cannot be loaded.
    pub computed: bool,
}

/// The columns a statement returns, without running it.
pub async fn describe(client: &mut Client, tsql: &str) -> Result<Vec<Described>> {
    let text = sql::describe(tsql);
    let rows = client
        .simple_query(text.as_str())
        .await
        .map_err(|e| sql_error(e, tsql))?
        .into_first_result()
        .await
        .map_err(|e| sql_error(e, tsql))?;
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let flag =
            |name: &str| -> bool { row.try_get::<bool, _>(name).ok().flatten().unwrap_or(false) };
        if flag("is_hidden") {
            continue;
        }
        let name = row
            .try_get::<&str, _>("name")
            .ok()
            .flatten()
            .unwrap_or("")
            .to_string();
        if name.is_empty() {
            return Err(crate::error::input(
                format!("column {} of the query has no name", i + 1),
                Some("name every computed column: SELECT count(*) AS n, …".to_string()),
            ));
        }
        let ty = row
            .try_get::<&str, _>("system_type_name")
            .ok()
            .flatten()
            .unwrap_or("")
            .to_string();
        out.push(Described {
            name,
            ty: SqlType::parse(&ty),
            nullable: flag("is_nullable"),
            computed: flag("is_computed_column"),
        });
    }
    Ok(out)
}
