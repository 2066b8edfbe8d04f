//! `convoy check` of a SQL Server endpoint: DNS and TCP, then a PRELOGIN
//! probe written by hand (a server that does not offer encryption is
//! refused before any login is sent; TDS 8.0 strict starts with TLS
//! instead), the encrypted login through the TDS client, and the rights the
//! copy needs, from `HAS_PERMS_BY_NAME`, never by writing.

use std::io::{Read, Write};
use std::net::TcpStream;

use anyhow::Result;

use super::client;
use super::config::{Encrypt, MssqlConfig};
use crate::connect::{probe, Checked, OpenContext, Role, Status};
use crate::error::{self, ExitKind};
use crate::security::tls::TlsMode;
use crate::spec::{Endpoint, Mode};

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

/// The steps of one SQL Server endpoint.
pub(super) async fn check(
    cfg: &MssqlConfig,
    ep: &Endpoint,
    role: Role,
    mode: &Mode,
    ctx: &OpenContext,
) -> Checked {
    let mut c = Checked::default();
    check_into(cfg, ep, role, mode, ctx, &mut c).await;
    c
}

async fn check_into(
    cfg: &MssqlConfig,
    ep: &Endpoint,
    role: Role,
    mode: &Mode,
    ctx: &OpenContext,
    c: &mut Checked,
) {
    let Some(mut sock) = probe::reach(c, &cfg.host, cfg.port, cfg.timeouts.connect).await else {
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
                return c.push_hint(
                    "prelogin",
                    Status::Refused,
                    format!(
                        "server {host}:{port} does not offer encryption (PRELOGIN ENCRYPTION = {}); convoy will not log in",
                        if level == 2 { "NOT_SUP" } else { "OFF" }
                    ),
                    "enable \"Force Encryption\" or install a certificate on the server (SQL Server Configuration Manager)",
                );
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
    let mut conn = match client::connect(cfg, ctx).await {
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
    let no_verify = cfg.tls.mode == TlsMode::NoVerify;
    c.push(
        "tls",
        if no_verify { Status::Warn } else { Status::Ok },
        if no_verify {
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
        (Role::Source, _, Some(q)) => {
            let r = client::batch(&mut conn, &format!("SELECT TOP 0 * FROM ({q}) AS q")).await;
            return match r {
                Ok(()) => c.push("access", Status::Ok, "the source query runs (TOP 0)"),
                Err(e) => c.push_error("access", &e),
            };
        }
        (Role::Source, Some(t), _) => format!(
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
        Ok(Some(1)) if role == Role::Source => {
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
                if role == Role::Source {
                    "SELECT"
                } else {
                    "INSERT"
                }
            ),
        ),
        Err(e) => c.push_error("access", &e),
    }
}
