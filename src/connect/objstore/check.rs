//! `convoy check` of an object store endpoint: DNS, TCP and a TLS
//! handshake under the same policy as every connection, then the store's
//! own client: a listing of the path (read access and credentials). Write
//! access cannot be shown without writing, so it is reported as not tested.

use super::{store_error, ObjConnection, StoreKind};
use crate::connect::{probe, Checked, OpenContext, Role, Status};
use crate::security::tls::TlsMode;
use crate::spec::Endpoint;

/// The steps of one store endpoint.
pub(super) async fn check(
    conn: &ObjConnection,
    ep: &Endpoint,
    role: Role,
    ctx: &OpenContext,
) -> Checked {
    let mut c = Checked::default();
    check_into(conn, ep, role, ctx, &mut c).await;
    c
}

async fn check_into(
    conn: &ObjConnection,
    ep: &Endpoint,
    role: Role,
    ctx: &OpenContext,
    c: &mut Checked,
) {
    let Some((host, port, https)) = conn.host_port() else {
        return c.push(
            "config",
            Status::Fail,
            "cannot tell which host this store is on",
        );
    };
    let Some(mut sock) = probe::reach(c, &host, port, conn.cfg.timeouts.connect).await else {
        return;
    };
    if https {
        let settings = conn.cfg.tls.clone();
        let no_verify = settings.mode != TlsMode::VerifyFull;
        if no_verify && !ctx.allow_insecure {
            return c.push_hint(
                "tls",
                Status::Refused,
                format!("tls.mode = \"{}\" turns off certificate verification", settings.mode.name()),
                "pass --allow-insecure to permit it, or trust the server's CA with tls = { ca_file = \"…\" }",
            );
        }
        let who = conn.identity("").trim_end().to_string();
        let h = host.clone();
        let shaken =
            tokio::task::spawn_blocking(move || probe::handshake(&mut sock, &settings, &h, &who))
                .await;
        let how = if no_verify {
            "certificate NOT verified (tls.mode = \"no-verify\", --allow-insecure)"
        } else if conn.cfg.tls.pin_sha256.is_some() {
            "public key matches pin_sha256"
        } else {
            "chain and host name verified"
        };
        match shaken {
            Ok(Ok(info)) => probe::push_tls(c, info, how),
            Ok(Err(e)) => return c.push_error("tls", &e),
            Err(e) => return c.push("tls", Status::Fail, format!("internal error: {e}")),
        }
    } else {
        if !(conn.cfg.allow_http && ctx.allow_insecure) {
            return c.push_hint(
                "tls",
                Status::Refused,
                format!("{host}:{port} is plain HTTP"),
                "use https, or set allow_http = true and pass --allow-insecure",
            );
        }
        c.push(
            "tls",
            Status::Warn,
            "plain HTTP, allowed by --allow-insecure",
        );
    }
    let store = match conn.store(ctx) {
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
    if store.kind == StoreKind::Http {
        let object = object_store::path::Path::from(path.trim_start_matches('/'));
        match store.store.head(&object).await {
            Ok(meta) => c.push(
                "access",
                Status::Ok,
                format!("{} is readable ({} bytes)", store.root, meta.size),
            ),
            Err(e) => c.push_error("access", &store_error(&store.identity, "reading", e)),
        }
        return;
    }
    use futures::StreamExt;
    let listing = object_store::path::Path::from(prefix.as_str());
    let first = store.store.list(Some(&listing)).next().await;
    match first {
        Some(Err(e)) => return c.push_error("auth", &store_error(&store.identity, "listing", e)),
        _ => c.push(
            "auth",
            Status::Ok,
            format!("credentials accepted: listed {}/{prefix}", store.root),
        ),
    }
    if role == Role::Source {
        c.push("access", Status::Ok, "read access (listing works)");
    } else {
        c.push(
            "access",
            Status::Skipped,
            "write access is not tested: it cannot be shown without writing an object",
        );
    }
}
