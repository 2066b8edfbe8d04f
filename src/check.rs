//! `convoy check`: can every endpoint of a spec be reached, safely, with the
//! credentials given, and does it grant what the copy needs? Nothing is
//! written anywhere.
//!
//! For each network endpoint of the selected copies, in order: DNS, TCP
//! connect, TLS (handshake through `security::tls`, reporting the protocol
//! version, cipher suite, certificate subject, issuer and days to expiry),
//! authentication, and access (read on sources, write rights on sinks,
//! answered from the server's privilege functions, never by writing). SQL
//! Server also gets a PRELOGIN probe: a server that declines encryption is
//! refused before any login is sent. Local files: the source is readable, the
//! destination directory writable.
//!
//! Exit status: 3 when any endpoint fails a security check (no TLS, unknown
//! CA, wrong host name, expired certificate, pin mismatch, insecure setting
//! without `--allow-insecure`), else 1 when any is unreachable or refuses
//! the login or access, else 0.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::cli::GlobalOpts;
use crate::connect::{self, OpenContext};
use crate::error::{self, ExitKind};
use crate::security::redact::redact;
use crate::security::tls::{self, TlsMode};
use crate::spec::{Endpoint, Kind, Mode, Spec};

/// Certificates closer than this to expiry are warned about.
const EXPIRY_WARNING_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skipped,
    Warn,
    Fail,
    Refused,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skipped => "skipped",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Refused => "REFUSED",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What the TLS handshake showed.
#[derive(Debug, Clone, Serialize)]
pub struct TlsInfo {
    pub version: String,
    pub cipher_suite: String,
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
    pub days_to_expiry: i64,
}

/// The checks of one endpoint (a source or sink of one or more copies).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointCheck {
    pub endpoint: String,
    pub role: &'static str,
    pub copies: Vec<String>,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    pub status: Status,
    pub steps: Vec<Step>,
}

impl EndpointCheck {
    fn push(&mut self, step: &'static str, status: Status, detail: impl Into<String>) {
        self.steps.push(Step {
            step,
            status,
            detail: redact(&detail.into()),
            hint: None,
        });
    }

    /// Record an error as the result of `step`: refusals by policy are
    /// security failures, anything else plain failures.
    fn push_error(&mut self, step: &'static str, e: &anyhow::Error) {
        let status = match error::exit_kind(e) {
            ExitKind::Policy => Status::Refused,
            _ => Status::Fail,
        };
        self.steps.push(Step {
            step,
            status,
            detail: error::messages(e).join(": "),
            hint: error::hint(e).map(redact),
        });
    }
}

/// Check the endpoints of the selected copies, print the report, return the
/// exit status.
pub async fn run(spec: &Spec, indices: &[usize], g: &GlobalOpts) -> i32 {
    let ctx = OpenContext {
        counters: Arc::default(),
        cancel: tokio_util::sync::CancellationToken::new(),
        run_id: "check".into(),
        run_date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        allow_insecure: g.allow_insecure,
        vault: g.vault.clone(),
        insecure: Arc::default(),
        pg_readers: Default::default(),
    };
    // One check per distinct (connection, object, role), naming every copy that uses it.
    let mut targets: Vec<(Endpoint, &'static str, Mode, Vec<String>)> = Vec::new();
    for &i in indices {
        let copy = &spec.copies[i];
        for (ep, role) in [(&copy.from, "source"), (&copy.to, "sink")] {
            let same = |t: &(Endpoint, &'static str, Mode, Vec<String>)| {
                t.1 == role
                    && t.0.connection == ep.connection
                    && t.0.table == ep.table
                    && t.0.path == ep.path
                    && t.0.query == ep.query
                    && t.2 == copy.mode
            };
            match targets.iter_mut().find(|t| same(t)) {
                Some(t) => t.3.push(copy.name.clone()),
                None => {
                    targets.push((ep.clone(), role, copy.mode.clone(), vec![copy.name.clone()]))
                }
            }
        }
    }
    let mut results = Vec::new();
    for (ep, role, mode, copies) in targets {
        let mut c = EndpointCheck {
            endpoint: redact(&connect::describe(spec, &ep)),
            role,
            copies,
            kind: connect::kind_of(spec, &ep),
            host: None,
            port: None,
            tls: None,
            status: Status::Ok,
            steps: Vec::new(),
        };
        if g.verbose > 0 && !g.json {
            eprintln!("convoy: checking {} ({role})", c.endpoint);
        }
        match c.kind {
            Kind::Local => check_local(spec, &ep, role, &ctx, &mut c),
            Kind::Postgres => check_postgres(spec, &ep, role, &mode, &ctx, &mut c).await,
            Kind::Mssql => check_mssql(spec, &ep, role, &mode, &ctx, &mut c).await,
            k if connect::objstore::handles(k) => {
                check_objstore(spec, &ep, role, &ctx, &mut c).await
            }
            other => c.push(
                "config",
                Status::Fail,
                format!(
                    "{} connections are not available in this version of convoy",
                    other.name()
                ),
            ),
        }
        c.status = c.steps.iter().map(|s| s.status).max().unwrap_or(Status::Ok);
        if c.status == Status::Skipped {
            c.status = Status::Ok;
        }
        results.push(c);
    }
    let code = if results.iter().any(|c| c.status == Status::Refused) {
        ExitKind::Policy
    } else if results.iter().any(|c| c.status == Status::Fail) {
        ExitKind::Failed
    } else {
        ExitKind::Success
    };
    let insecure = ctx.insecure.lock().map(|v| v.clone()).unwrap_or_default();
    if g.json {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "convoy_version": env!("CARGO_PKG_VERSION"),
            "command": "check",
            "status": crate::report::status_word(code),
            "exit_code": code.code(),
            "insecure": insecure,
            "endpoints": results,
        }))
        .expect("check report serialises");
        println!("{}", redact(&text));
    } else if !g.quiet || code != ExitKind::Success {
        print_human(&results);
    }
    code.code()
}

fn print_human(results: &[EndpointCheck]) {
    let mut out = String::new();
    for c in results {
        let at = match (&c.host, c.port) {
            (Some(h), Some(p)) => format!("  [{h}:{p}]"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{}{at}  ({} of {})\n",
            c.endpoint,
            c.role,
            c.copies.join(", ")
        ));
        for s in &c.steps {
            out.push_str(&format!(
                "  {:<7} {:<8} {}\n",
                s.step,
                s.status.word(),
                s.detail
            ));
            if let Some(h) = &s.hint {
                out.push_str(&format!("  {:<7} {:<8} hint: {h}\n", "", ""));
            }
        }
        out.push('\n');
    }
    let count = |st: Status| results.iter().filter(|c| c.status == st).count();
    out.push_str(&format!(
        "{} endpoint(s): {} ok, {} with warnings, {} failed, {} refused\n",
        results.len(),
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Refused)
    ));
    print!("{}", redact(&out));
}

// ------------------------------------------------------------ network steps

/// DNS then TCP; records both steps. None when either failed.
async fn reach(
    c: &mut EndpointCheck,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Option<TcpStream> {
    c.host = Some(host.to_string());
    c.port = Some(port);
    let name = host.to_string();
    let started = Instant::now();
    let looked_up = tokio::time::timeout(
        timeout,
        tokio::task::spawn_blocking(move || (name.as_str(), port).to_socket_addrs()),
    )
    .await;
    let addrs: Vec<SocketAddr> = match looked_up {
        Err(_) => {
            c.push(
                "dns",
                Status::Fail,
                format!("{host}: no answer within {}s", timeout.as_secs()),
            );
            return None;
        }
        Ok(Err(e)) => {
            c.push("dns", Status::Fail, format!("{host}: {e}"));
            return None;
        }
        Ok(Ok(Err(e))) => {
            c.push("dns", Status::Fail, format!("{host} does not resolve: {e}"));
            return None;
        }
        Ok(Ok(Ok(a))) => a.collect(),
    };
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    c.push(
        "dns",
        Status::Ok,
        format!(
            "{host} -> {} ({} ms)",
            shown.join(", "),
            started.elapsed().as_millis()
        ),
    );
    let connected = tokio::task::spawn_blocking(move || {
        let mut last = None;
        for a in addrs {
            let started = Instant::now();
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => return Ok((s, a, started.elapsed())),
                Err(e) => last = Some(format!("{a}: {e}")),
            }
        }
        Err(last.unwrap_or_else(|| "no address".into()))
    })
    .await;
    match connected {
        Ok(Ok((s, a, took))) => {
            let _ = s.set_read_timeout(Some(timeout));
            let _ = s.set_write_timeout(Some(timeout));
            c.push(
                "tcp",
                Status::Ok,
                format!("connected to {a} in {} ms", took.as_millis()),
            );
            Some(s)
        }
        Ok(Err(e)) => {
            let mut s = Step {
                step: "tcp",
                status: Status::Fail,
                detail: redact(&format!("cannot connect to {host}:{port}: {e}")),
                hint: Some("check the host, the port and the firewall".into()),
            };
            if e.contains("timed out") {
                s.detail = redact(&format!(
                    "no answer from {host}:{port} within {}s",
                    timeout.as_secs()
                ));
            }
            c.steps.push(s);
            None
        }
        Err(e) => {
            c.push("tcp", Status::Fail, format!("internal error: {e}"));
            None
        }
    }
}

/// A TLS handshake over `sock` with the configuration `security::tls` builds.
fn handshake(
    sock: &mut TcpStream,
    settings: &tls::TlsSettings,
    host: &str,
    who: &str,
) -> Result<TlsInfo> {
    let config = tls::client_config(settings)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
        error::usage(
            format!("{who}: {host:?} is not a valid TLS server name: {e}"),
            None,
        )
    })?;
    let mut conn = rustls::ClientConnection::new(config, name)
        .map_err(|e| anyhow::anyhow!("{who}: TLS setup failed: {e}"))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(sock) {
            if let Some(refusal) = tls::classify(&e, who) {
                return Err(refusal);
            }
            return Err(error::input(
                format!("{who}: TLS handshake failed: {e}"),
                None,
            ));
        }
    }
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".into(),
    };
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| anyhow::anyhow!("{who}: the server sent no certificate"))?;
    let (subject, issuer, not_after, days_to_expiry) = certificate_facts(leaf.as_ref())?;
    // Be polite: end the session before closing the socket.
    conn.send_close_notify();
    let _ = conn.complete_io(sock);
    Ok(TlsInfo {
        version,
        cipher_suite,
        subject,
        issuer,
        not_after,
        days_to_expiry,
    })
}

/// Subject, issuer, expiry (RFC 3339) and days left of a DER certificate.
fn certificate_facts(der: &[u8]) -> Result<(String, String, String, i64)> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| anyhow::anyhow!("cannot parse the server certificate: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let not_after = tbs.validity.not_after.to_unix_duration().as_secs() as i64;
    let now = chrono::Utc::now().timestamp();
    let when = chrono::DateTime::from_timestamp(not_after, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    Ok((
        tbs.subject.to_string(),
        tbs.issuer.to_string(),
        when,
        (not_after - now).div_euclid(86_400),
    ))
}

fn push_tls(c: &mut EndpointCheck, info: TlsInfo, how: &str) {
    let detail = format!(
        "{}, {}; {how}; subject {}; issuer {}; expires {} ({} days)",
        info.version,
        info.cipher_suite,
        info.subject,
        info.issuer,
        info.not_after,
        info.days_to_expiry
    );
    if info.days_to_expiry < EXPIRY_WARNING_DAYS {
        c.steps.push(Step {
            step: "tls",
            status: Status::Warn,
            detail: redact(&detail),
            hint: Some(format!(
                "the server certificate expires in less than {EXPIRY_WARNING_DAYS} days; have it renewed"
            )),
        });
    } else {
        c.push("tls", Status::Ok, detail);
    }
    c.tls = Some(info);
}

// ------------------------------------------------------------ PostgreSQL

/// Ask for TLS the way libpq does (SSLRequest); true when the server agrees.
fn pg_ssl_request(sock: &mut TcpStream) -> std::io::Result<bool> {
    sock.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])?;
    let mut answer = [0u8; 1];
    sock.read_exact(&mut answer)?;
    Ok(answer[0] == b'S')
}

async fn check_postgres(
    spec: &Spec,
    ep: &Endpoint,
    role: &str,
    mode: &Mode,
    ctx: &OpenContext,
    c: &mut EndpointCheck,
) {
    use crate::connect::postgres::PgConfig;
    let cfg = match PgConfig::from_spec(spec, &ep.connection, ctx) {
        Ok(cfg) => cfg,
        Err(e) => return c.push_error("config", &e),
    };
    let who = cfg.ident();
    let disabled = cfg.tls.mode == TlsMode::Disable;
    if disabled {
        if !ctx.allow_insecure {
            // Say so at once; there is nothing to learn from connecting.
            if let Err(e) = cfg.tls.check_allowed(false, &who) {
                return c.push_error("tls", &e);
            }
        }
        ctx.note_insecure(format!(
            "{who}: TLS disabled (tls.mode = \"disable\", allowed by --allow-insecure)"
        ));
    }
    let Some(mut sock) = reach(c, &cfg.host, cfg.port, cfg.connect_timeout).await else {
        return;
    };
    if disabled {
        c.push(
            "tls",
            Status::Warn,
            "TLS disabled (--allow-insecure): data and the password travel in plaintext",
        );
    } else {
        let settings = cfg.tls.clone();
        let host = cfg.host.clone();
        let who2 = who.clone();
        let outcome = tokio::task::spawn_blocking(move || -> Result<TlsInfo> {
            let offered = pg_ssl_request(&mut sock)
                .map_err(|e| error::input(format!("{who2}: no answer to the TLS request: {e}"), None))?;
            if !offered {
                return Err(error::policy(
                    format!("{who2}: TLS refused: the server offers no TLS; convoy does not connect in plaintext"),
                    Some("enable ssl on the server, or if plaintext is really intended add tls = { mode = \"disable\" } to the connection and --allow-insecure".to_string()),
                ));
            }
            handshake(&mut sock, &settings, &host, &who2)
        })
        .await;
        let how = if cfg.tls.pin_sha256.is_some() {
            "public key matches pin_sha256"
        } else {
            "chain and host name verified"
        };
        match outcome {
            Ok(Ok(info)) => push_tls(c, info, how),
            Ok(Err(e)) => return c.push_error("tls", &e),
            Err(e) => return c.push("tls", Status::Fail, format!("internal error: {e}")),
        }
    }
    let client = match cfg.connect().await {
        Ok(client) => client,
        Err(e) => return c.push_error("auth", &e),
    };
    match client.query_one("SELECT 1", &[]).await {
        Ok(_) => c.push(
            "auth",
            Status::Ok,
            format!("logged in as {}; SELECT 1 answered", cfg.user),
        ),
        Err(e) => {
            return c.push(
                "auth",
                Status::Fail,
                format!("logged in as {} but SELECT 1 failed: {e}", cfg.user),
            )
        }
    }
    match pg_access(&client, ep, role, mode).await {
        Ok((status, detail)) => c.push("access", status, detail),
        Err(e) => c.push_error("access", &e),
    }
}

/// Read or write rights, from the server's privilege functions.
async fn pg_access(
    client: &tokio_postgres::Client,
    ep: &Endpoint,
    role: &str,
    mode: &Mode,
) -> Result<(Status, String)> {
    use crate::connect::postgres as pg;
    let pgerr = |what: &str, e: tokio_postgres::Error| {
        let msg = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_string());
        error::input(format!("{what}: {msg}"), None)
    };
    let has = |privs: &[&str]| privs.join(", ");
    if role == "source" {
        if let Some(q) = &ep.query {
            // LIMIT 0 inside a read-only transaction: permissions and syntax
            // are checked, no row is read and nothing can change.
            client
                .batch_execute("BEGIN READ ONLY")
                .await
                .map_err(|e| pgerr("starting a read-only transaction", e))?;
            let r = client
                .batch_execute(&format!("SELECT * FROM ({q}) AS q LIMIT 0"))
                .await;
            let _ = client.batch_execute("ROLLBACK").await;
            r.map_err(|e| pgerr("the source query cannot be run", e))?;
            return Ok((
                Status::Ok,
                "the source query runs (LIMIT 0, read-only transaction)".into(),
            ));
        }
        let table = ep.table.as_deref().unwrap_or_default();
        let (q, _) = pg::canonical_name(client, table).await?;
        if !pg::table_exists(client, &q).await? {
            return Ok((Status::Fail, format!("table {table} does not exist")));
        }
        let row = client
            .query_one("SELECT has_table_privilege($1, 'SELECT')", &[&q])
            .await
            .map_err(|e| pgerr("reading privileges", e))?;
        return Ok(if row.get::<_, bool>(0) {
            (Status::Ok, format!("SELECT on {table} granted"))
        } else {
            (Status::Fail, format!("no SELECT privilege on {table}"))
        });
    }
    let table = ep.table.as_deref().unwrap_or_default();
    let (q, _) = pg::canonical_name(client, table).await?;
    let mut missing = Vec::new();
    let mut needed: Vec<&str>;
    if pg::table_exists(client, &q).await? {
        needed = match mode {
            Mode::Append => vec!["INSERT"],
            Mode::Replace => vec!["INSERT", "TRUNCATE"],
            Mode::Merge { .. } => vec!["INSERT", "UPDATE", "SELECT"],
            Mode::Incremental { .. } => vec!["INSERT", "SELECT"],
        };
        for p in &needed {
            let row = client
                .query_one("SELECT has_table_privilege($1, $2)", &[&q, p])
                .await
                .map_err(|e| pgerr("reading privileges", e))?;
            if !row.get::<_, bool>(0) {
                missing.push(format!("{p} on {table}"));
            }
        }
    } else {
        let row = client
            .query_one(
                "SELECT coalesce(CASE WHEN array_length(p, 1) > 1 THEN p[array_upper(p, 1) - 1] END, current_schema()) \
                 FROM parse_ident($1) AS p",
                &[&table],
            )
            .await
            .map_err(|e| pgerr("table name", e))?;
        let schema: String = row.get(0);
        let row = client
            .query_one("SELECT has_schema_privilege($1, 'CREATE')", &[&schema])
            .await
            .map_err(|e| pgerr("reading privileges", e))?;
        needed = vec!["CREATE"];
        if !row.get::<_, bool>(0) {
            missing.push(format!(
                "CREATE on schema {schema} (the table {table} does not exist yet)"
            ));
        }
    }
    if matches!(mode, Mode::Merge { .. } | Mode::Incremental { .. }) {
        needed.push("TEMPORARY");
        let row = client
            .query_one(
                "SELECT has_database_privilege(current_database(), 'TEMPORARY')",
                &[],
            )
            .await
            .map_err(|e| pgerr("reading privileges", e))?;
        if !row.get::<_, bool>(0) {
            missing.push("TEMPORARY on the database".into());
        }
    }
    Ok(if missing.is_empty() {
        (
            Status::Ok,
            format!("{} granted for {} into {table}", has(&needed), mode.name()),
        )
    } else {
        (
            Status::Fail,
            format!("missing privileges: {}", missing.join("; ")),
        )
    })
}

// ------------------------------------------------------------ SQL Server

/// PRELOGIN with VERSION and ENCRYPTION = ON; returns the server's
/// ENCRYPTION answer (0 off, 1 on, 2 not supported, 3 required).
fn mssql_prelogin(sock: &mut TcpStream) -> Result<u8> {
    let mut payload = vec![0x00, 0x00, 11, 0x00, 6, 0x01, 0x00, 17, 0x00, 1, 0xFF];
    payload.extend_from_slice(&[0; 6]);
    payload.push(0x01);
    let len = (payload.len() + 8) as u16;
    let mut packet = vec![0x12, 0x01, (len >> 8) as u8, len as u8, 0, 0, 1, 0];
    packet.extend(payload);
    sock.write_all(&packet)?;
    let mut header = [0u8; 8];
    sock.read_exact(&mut header)?;
    let len = u16::from_be_bytes([header[2], header[3]]) as usize;
    let mut body = vec![0u8; len.saturating_sub(8)];
    sock.read_exact(&mut body)?;
    let mut i = 0;
    while i + 5 <= body.len() && body[i] != 0xFF {
        let offset = u16::from_be_bytes([body[i + 1], body[i + 2]]) as usize;
        if body[i] == 0x01 {
            return body
                .get(offset)
                .copied()
                .ok_or_else(|| anyhow::anyhow!("malformed PRELOGIN answer"));
        }
        i += 5;
    }
    Err(anyhow::anyhow!(
        "the PRELOGIN answer has no ENCRYPTION option"
    ))
}

async fn check_mssql(
    spec: &Spec,
    ep: &Endpoint,
    role: &str,
    mode: &Mode,
    ctx: &OpenContext,
    c: &mut EndpointCheck,
) {
    use crate::connect::mssql::{client, config::Encrypt};
    let cfg = match connect::mssql::endpoint_config(spec, ep, ctx) {
        Ok(cfg) => cfg,
        Err(e) => return c.push_error("config", &e),
    };
    let Some(mut sock) = reach(c, &cfg.host, cfg.port, cfg.connect_timeout).await else {
        return;
    };
    let (host, port) = (cfg.host.clone(), cfg.port);
    if cfg.encrypt == Encrypt::Strict {
        c.push(
            "prelogin",
            Status::Skipped,
            "TDS 8.0 strict: TLS comes before any TDS packet",
        );
    } else {
        let answer = tokio::task::spawn_blocking(move || mssql_prelogin(&mut sock)).await;
        match answer {
            Ok(Ok(1 | 3)) => c.push("prelogin", Status::Ok, "the server supports encryption"),
            Ok(Ok(level)) => {
                c.steps.push(Step {
                    step: "prelogin",
                    status: Status::Refused,
                    detail: redact(&format!(
                        "server {host}:{port} does not offer encryption (PRELOGIN ENCRYPTION = {}); convoy will not log in",
                        if level == 2 { "NOT_SUP" } else { "OFF" }
                    )),
                    hint: Some("enable \"Force Encryption\" or install a certificate on the server (SQL Server Configuration Manager)".into()),
                });
                return;
            }
            Ok(Err(e)) => {
                return c.push(
                    "prelogin",
                    Status::Fail,
                    format!("{host}:{port}: no TDS answer: {e}"),
                )
            }
            Err(e) => return c.push("prelogin", Status::Fail, format!("internal error: {e}")),
        }
    }
    let mut conn = match client::connect(&cfg).await {
        Ok(conn) => conn,
        Err(e) => {
            let step = if error::exit_kind(&e) == ExitKind::Policy {
                "tls"
            } else {
                "auth"
            };
            if step == "auth" {
                c.push(
                    "tls",
                    Status::Ok,
                    "encrypted; certificate and host name verified by the TDS client",
                );
            }
            return c.push_error(step, &e);
        }
    };
    c.push(
        "tls",
        if cfg.tls.trust_server_certificate {
            Status::Warn
        } else {
            Status::Ok
        },
        if cfg.tls.trust_server_certificate {
            "encrypted; certificate NOT verified (trust_server_certificate, --allow-insecure)"
        } else {
            "encrypted; certificate and host name verified by the TDS client"
        },
    );
    match client::scalar::<i32>(&mut conn, "SELECT 1").await {
        Ok(_) => c.push("auth", Status::Ok, "logged in; SELECT 1 answered"),
        Err(e) => return c.push_error("auth", &e),
    }
    let quote = |s: &str| s.replace('\'', "''");
    let sql = match (role, &ep.table, &ep.query) {
        ("source", _, Some(q)) => {
            let r = client::batch(&mut conn, &format!("SELECT TOP 0 * FROM ({q}) AS q")).await;
            return match r {
                Ok(()) => c.push("access", Status::Ok, "the source query runs (TOP 0)"),
                Err(e) => c.push_error("access", &e),
            };
        }
        ("source", Some(t), _) => format!(
            "SELECT CASE WHEN OBJECT_ID(N'{t}') IS NULL THEN -1 ELSE HAS_PERMS_BY_NAME(N'{t}', 'OBJECT', 'SELECT') END",
            t = quote(t)
        ),
        (_, Some(t), _) => format!(
            "SELECT CASE WHEN OBJECT_ID(N'{t}') IS NULL THEN 2 + HAS_PERMS_BY_NAME(DB_NAME(), 'DATABASE', 'CREATE TABLE') \
             ELSE HAS_PERMS_BY_NAME(N'{t}', 'OBJECT', 'INSERT') END",
            t = quote(t)
        ),
        _ => return c.push("access", Status::Skipped, "no table named"),
    };
    let t = ep.table.as_deref().unwrap_or_default();
    match client::scalar::<i32>(&mut conn, &sql).await {
        Ok(Some(1)) if role == "source" => {
            c.push("access", Status::Ok, format!("SELECT on {t} granted"))
        }
        Ok(Some(-1)) => c.push("access", Status::Fail, format!("table {t} does not exist")),
        Ok(Some(1)) => c.push(
            "access",
            Status::Ok,
            format!("INSERT on {t} granted for {}", mode.name()),
        ),
        Ok(Some(3)) => c.push(
            "access",
            Status::Ok,
            format!("CREATE TABLE granted ({t} does not exist yet)"),
        ),
        Ok(Some(2)) => c.push(
            "access",
            Status::Fail,
            format!("no CREATE TABLE permission ({t} does not exist yet)"),
        ),
        Ok(_) => c.push(
            "access",
            Status::Fail,
            format!(
                "no {} permission on {t}",
                if role == "source" { "SELECT" } else { "INSERT" }
            ),
        ),
        Err(e) => c.push_error("access", &e),
    }
}

// ------------------------------------------------------------ local files

fn access_ok(path: &Path, mode: libc::c_int) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    unsafe { libc::access(c.as_ptr(), mode) == 0 }
}

// ------------------------------------------------------------ object stores

/// DNS, TCP and a TLS handshake under the same policy as every connection
/// (system roots plus `tls.ca_file`, chain and host name verified), then
/// the store's own client: a listing of the path (read access and
/// credentials). Write access cannot be shown without writing, so it is
/// reported as not tested.
async fn check_objstore(
    spec: &Spec,
    ep: &Endpoint,
    role: &str,
    ctx: &OpenContext,
    c: &mut EndpointCheck,
) {
    let Some(conn) = spec.connections.get(&ep.connection) else {
        return c.push("config", Status::Fail, "no such connection");
    };
    let Some((host, port, https)) = connect::objstore::network_endpoint(conn) else {
        return c.push(
            "config",
            Status::Fail,
            "cannot tell which host this store is on",
        );
    };
    let Some(mut sock) = reach(c, &host, port, Duration::from_secs(10)).await else {
        return;
    };
    if https {
        let ca_file = conn
            .settings
            .get("tls")
            .and_then(|t| t.get("ca_file"))
            .and_then(|v| v.as_str())
            .map(|p| spec.base_dir.join(p));
        let settings = tls::TlsSettings {
            ca_file,
            ..Default::default()
        };
        let who = connect::objstore::describe(conn, "").trim_end().to_string();
        let h = host.clone();
        let shaken =
            tokio::task::spawn_blocking(move || handshake(&mut sock, &settings, &h, &who)).await;
        match shaken {
            Ok(Ok(info)) => push_tls(c, info, "chain and host name verified"),
            Ok(Err(e)) => return c.push_error("tls", &e),
            Err(e) => return c.push("tls", Status::Fail, format!("internal error: {e}")),
        }
    } else {
        let allow_http = conn
            .settings
            .get("allow_http")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if !(allow_http && ctx.allow_insecure) {
            c.steps.push(Step {
                step: "tls",
                status: Status::Refused,
                detail: redact(&format!("{host}:{port} is plain HTTP")),
                hint: Some(
                    "use https, or set allow_http = true and pass --allow-insecure".to_string(),
                ),
            });
            return;
        }
        c.push(
            "tls",
            Status::Warn,
            "plain HTTP, allowed by --allow-insecure",
        );
    }
    let store = match connect::objstore::open_store(spec, ep, ctx) {
        Ok(s) => s,
        Err(e) => return c.push_error("auth", &e),
    };
    let path = ctx.path_of(ep);
    // The directory part before any glob, as a listing prefix.
    let literal = path.split(['*', '?', '[']).next().unwrap_or_default();
    let prefix = match literal.rsplit_once('/') {
        Some((dir, _)) => dir.to_string(),
        None => String::new(),
    };
    use object_store::ObjectStoreExt;
    if store.kind == Kind::Http {
        let object = object_store::path::Path::from(path.trim_start_matches('/'));
        match store.store.head(&object).await {
            Ok(meta) => c.push(
                "access",
                Status::Ok,
                format!("{} is readable ({} bytes)", store.root, meta.size),
            ),
            Err(e) => c.push_error(
                "access",
                &connect::objstore::store_error(&store.identity, "reading", e),
            ),
        }
        return;
    }
    use futures::StreamExt;
    let listing = object_store::path::Path::from(prefix.as_str());
    let first = store.store.list(Some(&listing)).next().await;
    match first {
        Some(Err(e)) => {
            return c.push_error(
                "auth",
                &connect::objstore::store_error(&store.identity, "listing", e),
            )
        }
        _ => c.push(
            "auth",
            Status::Ok,
            format!("credentials accepted: listed {}/{prefix}", store.root),
        ),
    }
    if role == "source" {
        c.push("access", Status::Ok, "read access (listing works)");
    } else {
        c.push(
            "access",
            Status::Skipped,
            "write access is not tested: it cannot be shown without writing an object",
        );
    }
}

fn check_local(spec: &Spec, ep: &Endpoint, role: &str, ctx: &OpenContext, c: &mut EndpointCheck) {
    let raw = ctx.path_of(ep);
    if raw == "-" {
        return c.push(
            "access",
            Status::Ok,
            if role == "source" {
                "standard input"
            } else {
                "standard output"
            },
        );
    }
    let path = connect::local::resolve(spec, ep, &raw);
    if role == "source" {
        let text = path.to_string_lossy().to_string();
        let found: Vec<PathBuf> = if text.contains(['*', '?', '[']) {
            glob::glob(&text)
                .map(|g| g.flatten().collect())
                .unwrap_or_default()
        } else if path.exists() {
            vec![path.clone()]
        } else {
            Vec::new()
        };
        if found.is_empty() {
            return c.push(
                "access",
                Status::Fail,
                format!("{} does not exist", path.display()),
            );
        }
        let unreadable: Vec<String> = found
            .iter()
            .filter(|p| !access_ok(p, libc::R_OK) || (p.is_dir() && !access_ok(p, libc::X_OK)))
            .map(|p| p.display().to_string())
            .collect();
        if unreadable.is_empty() {
            c.push(
                "access",
                Status::Ok,
                format!(
                    "{} readable",
                    if found.len() == 1 {
                        found[0].display().to_string()
                    } else {
                        format!("{} files", found.len())
                    }
                ),
            );
        } else {
            c.push(
                "access",
                Status::Fail,
                format!("not readable: {}", unreadable.join(", ")),
            );
        }
        return;
    }
    // The sink writes beside the destination and renames: the directory that
    // will hold it (or the nearest one that exists) must be writable.
    let dir = if raw.ends_with('/') || ep.max_rows_per_file.is_some() {
        path.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    let mut existing = dir.as_path();
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return c.push(
            "access",
            Status::Fail,
            format!("{} is not a directory", existing.display()),
        );
    }
    if access_ok(existing, libc::W_OK | libc::X_OK) {
        let note = if existing == dir {
            String::new()
        } else {
            format!(" ({} will be created)", dir.display())
        };
        c.push(
            "access",
            Status::Ok,
            format!("directory {} writable{note}", existing.display()),
        );
    } else {
        c.push(
            "access",
            Status::Fail,
            format!("directory {} is not writable", existing.display()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_expiring_in(days: i64) -> Vec<u8> {
        use chrono::Datelike;
        let when = chrono::Utc::now() + chrono::Duration::days(days);
        let mut params = rcgen::CertificateParams::new(vec!["db.example".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "db.example");
        params.not_after = rcgen::date_time_ymd(when.year(), when.month() as u8, when.day() as u8);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn tls_step(days: i64) -> Step {
        let (subject, issuer, not_after, days_to_expiry) =
            certificate_facts(&cert_expiring_in(days)).unwrap();
        assert_eq!(subject, "CN=db.example");
        assert_eq!(issuer, "CN=db.example");
        let mut c = EndpointCheck {
            endpoint: "postgres pg t".into(),
            role: "source",
            copies: vec!["c".into()],
            kind: Kind::Postgres,
            host: None,
            port: None,
            tls: None,
            status: Status::Ok,
            steps: Vec::new(),
        };
        let info = TlsInfo {
            version: "TLS 1.3".into(),
            cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
            subject,
            issuer,
            not_after,
            days_to_expiry,
        };
        push_tls(&mut c, info, "chain and host name verified");
        c.steps.pop().unwrap()
    }

    #[test]
    fn a_certificate_that_expires_within_30_days_is_a_warning() {
        let soon = tls_step(10);
        assert_eq!(soon.status, Status::Warn);
        assert!(soon.hint.unwrap().contains("renewed"));
        assert!(soon.detail.contains("(9 days)") || soon.detail.contains("(10 days)"));
        assert_eq!(tls_step(90).status, Status::Ok);
    }
}
