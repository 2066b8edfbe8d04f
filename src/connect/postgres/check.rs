//! `convoy check` of a PostgreSQL endpoint: DNS, TCP, the TLS request and
//! handshake under convoy's policy (a server that offers no TLS is refused
//! before anything else is sent), the login, and the rights the copy needs,
//! asked of the server's privilege functions, never by writing.

use std::io::{Read, Write};
use std::net::TcpStream;

use anyhow::Result;

use super::catalog;
use super::config::PgConfig;
use crate::connect::{probe, Checked, OpenContext, Role, Status, TlsInfo};
use crate::error;
use crate::security::tls::TlsMode;
use crate::spec::{Endpoint, Mode};

/// Ask for TLS the way libpq does (SSLRequest); true when the server agrees.
fn pg_ssl_request(sock: &mut TcpStream) -> std::io::Result<bool> {
    sock.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])?;
    let mut answer = [0u8; 1];
    sock.read_exact(&mut answer)?;
    Ok(answer[0] == b'S')
}

/// The steps of one PostgreSQL endpoint.
pub(super) async fn check(
    cfg: &PgConfig,
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
    cfg: &PgConfig,
    ep: &Endpoint,
    role: Role,
    mode: &Mode,
    ctx: &OpenContext,
    c: &mut Checked,
) {
    let who = cfg.ident();
    let disabled = cfg.tls.mode == TlsMode::Disable;
    if cfg.tls.mode != TlsMode::VerifyFull {
        if !ctx.allow_insecure {
            // Say so at once; there is nothing to learn from connecting.
            if let Err(e) = cfg.tls.check_allowed(false, &who) {
                return c.push_error("tls", &e);
            }
        }
        cfg.note_insecure(ctx);
    }
    let Some(mut sock) = probe::reach(c, &cfg.host, cfg.port, cfg.timeouts.connect).await else {
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
            probe::handshake(&mut sock, &settings, &host, &who2)
        })
        .await;
        let how = if cfg.tls.mode == TlsMode::NoVerify {
            "certificate NOT verified (tls.mode = \"no-verify\", --allow-insecure)"
        } else if cfg.tls.pin_sha256.is_some() {
            "public key matches pin_sha256"
        } else {
            "chain and host name verified"
        };
        match outcome {
            Ok(Ok(info)) => probe::push_tls(c, info, how),
            Ok(Err(e)) => return c.push_error("tls", &e),
            Err(e) => return c.push("tls", Status::Fail, format!("internal error: {e}")),
        }
    }
    let client = match cfg.connect(ctx).await {
        Ok(client) => client,
        Err(e) => return c.push_error("auth", &e),
    };
    match cfg
        .within("answering SELECT 1", client.query_one("SELECT 1", &[]))
        .await
    {
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
    match cfg
        .within("checking privileges", pg_access(&client, ep, role, mode))
        .await
    {
        Ok((status, detail)) => c.push("access", status, detail),
        Err(e) => c.push_error("access", &e),
    }
}

/// Read or write rights, from the server's privilege functions.
async fn pg_access(
    client: &tokio_postgres::Client,
    ep: &Endpoint,
    role: Role,
    mode: &Mode,
) -> Result<(Status, String)> {
    let pgerr = |what: &str, e: tokio_postgres::Error| {
        let msg = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_string());
        error::input(format!("{what}: {msg}"), None)
    };
    let has = |privs: &[&str]| privs.join(", ");
    if role == Role::Source {
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
        let (q, _) = catalog::canonical_name(client, table).await?;
        if !catalog::table_exists(client, &q).await? {
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
    let (q, _) = catalog::canonical_name(client, table).await?;
    let mut missing = Vec::new();
    let mut needed: Vec<&str>;
    if catalog::table_exists(client, &q).await? {
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
