//! TLS settings of a SQL Server connection: `tls = { ca_file, pin_sha256, mode }`
//! and `trust_server_certificate`.
//!
//! tiberius 0.13 (feature `rustls`) builds its own rustls `ClientConfig` inside
//! the connection handshake and cannot be handed an external one. What it
//! builds by default, and what convoy relies on: TLS 1.2 or 1.3
//! (`with_safe_default_protocol_versions`), the operating system's root
//! certificates plus any CA given here, and rustls's `WebPkiServerVerifier`,
//! which checks the certificate chain *and* that the certificate names the host
//! convoy connected to (the server name is the connection's host). An empty
//! system store with no `ca_file` fails closed. `trust_cert()` swaps in a
//! verifier that accepts anything; convoy calls it only for
//! `trust_server_certificate = true` with `--allow-insecure`.
//!
//! When the shared `security/tls.rs` policy lands, [`client_tls`] is the one
//! function to route through it: it parses the same `tls = { … }` table and
//! returns what this connector can apply to tiberius. Public-key pinning
//! (`pin_sha256`) needs a custom verifier, which tiberius does not accept, so
//! it is refused here rather than silently ignored.

use std::path::Path;

use anyhow::Result;
use toml::{Table, Value};

/// What a connection may do with TLS, validated.
#[derive(Clone)]
pub struct ClientTls {
    /// PEM (or DER) bytes of extra CA certificates, trusted besides the system roots.
    pub ca: Option<Vec<u8>>,
    /// Certificate chain and hostname not checked (only with `--allow-insecure`).
    pub trust_server_certificate: bool,
}

impl ClientTls {
    /// Apply to a tiberius configuration.
    pub fn apply(&self, config: &mut tiberius::Config) {
        if self.trust_server_certificate {
            config.trust_cert();
        } else if let Some(ca) = &self.ca {
            config.trust_cert_ca_bundle(ca.clone());
        }
    }
}

/// Parse the TLS settings of a connection (`tls = { … }` and
/// `trust_server_certificate`). `allow_insecure` is `--allow-insecure`.
pub fn client_tls(settings: &Table, base_dir: &Path, allow_insecure: bool) -> Result<ClientTls> {
    let mut trust = match settings.get("trust_server_certificate") {
        None | Some(Value::Boolean(false)) => false,
        Some(Value::Boolean(true)) => true,
        Some(other) => {
            return Err(crate::error::usage(
                format!("trust_server_certificate: expected true or false, found {other}"),
                None,
            ))
        }
    };
    let mut ca = None;
    match settings.get("tls") {
        None => {}
        Some(Value::Table(t)) => {
            for key in t.keys() {
                if !["ca_file", "pin_sha256", "mode"].contains(&key.as_str()) {
                    return Err(crate::error::usage(
                        format!("tls.{key}: unknown key (expected ca_file, mode)"),
                        None,
                    ));
                }
            }
            if t.contains_key("pin_sha256") {
                return Err(crate::error::usage(
                    "tls.pin_sha256 is not available for SQL Server connections (the TDS client builds its own certificate verifier)",
                    Some("trust the server's certificate or its CA with tls = { ca_file = \"server-ca.pem\" }".to_string()),
                ));
            }
            match t.get("mode") {
                None => {}
                Some(Value::String(m)) => match m.as_str() {
                    "verify-full" => {}
                    "no-verify" => trust = true,
                    "disable" => {
                        return Err(crate::error::policy(
                            "tls.mode = \"disable\" is refused: SQL Server connections are always encrypted by convoy",
                            Some("for a server with a self-signed certificate give tls = { ca_file = \"…\" }".to_string()),
                        ))
                    }
                    other => {
                        return Err(crate::error::usage(
                            format!("tls.mode: unknown value \"{other}\" (verify-full or no-verify)"),
                            None,
                        ))
                    }
                },
                Some(other) => {
                    return Err(crate::error::usage(
                        format!("tls.mode: expected a string, found {other}"),
                        None,
                    ))
                }
            }
            match t.get("ca_file") {
                None => {}
                Some(Value::String(f)) => {
                    let path = if Path::new(f).is_absolute() {
                        Path::new(f).to_path_buf()
                    } else {
                        base_dir.join(f)
                    };
                    let bytes = std::fs::read(&path).map_err(|e| {
                        crate::error::usage(
                            format!("tls.ca_file: cannot read {}: {e}", path.display()),
                            None,
                        )
                    })?;
                    ca = Some(bytes);
                }
                Some(other) => {
                    return Err(crate::error::usage(
                        format!("tls.ca_file: expected a path, found {other}"),
                        None,
                    ))
                }
            }
        }
        Some(other) => {
            return Err(crate::error::usage(
                format!("tls: expected a table such as {{ ca_file = \"ca.pem\" }}, found {other}"),
                None,
            ))
        }
    }
    if trust && !allow_insecure {
        return Err(crate::error::policy(
            "trust_server_certificate = true turns off certificate checks and is refused without --allow-insecure",
            Some("give the server's CA with tls = { ca_file = \"…\" } instead, or add --allow-insecure to accept the risk".to_string()),
        ));
    }
    if trust && ca.is_some() {
        return Err(crate::error::usage(
            "give tls.ca_file or trust_server_certificate, not both",
            None,
        ));
    }
    Ok(ClientTls {
        ca,
        trust_server_certificate: trust,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{exit_kind, ExitKind};

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn trusting_any_certificate_needs_the_flag() {
        let s = table("trust_server_certificate = true");
        let e = client_tls(&s, Path::new("."), false).err().unwrap();
        assert_eq!(exit_kind(&e), ExitKind::Policy);
        assert!(
            client_tls(&s, Path::new("."), true)
                .unwrap()
                .trust_server_certificate
        );
        let s = table("tls = { mode = \"no-verify\" }");
        assert!(client_tls(&s, Path::new("."), false).is_err());
    }

    #[test]
    fn verification_is_the_default_and_cannot_be_disabled() {
        let d = client_tls(&Table::new(), Path::new("."), true).unwrap();
        assert!(!d.trust_server_certificate);
        assert!(d.ca.is_none());
        let e = client_tls(&table("tls = { mode = \"disable\" }"), Path::new("."), true)
            .err()
            .unwrap();
        assert_eq!(exit_kind(&e), ExitKind::Policy);
        let e = client_tls(
            &table("tls = { pin_sha256 = \"ab\" }"),
            Path::new("."),
            true,
        )
        .err()
        .unwrap();
        assert_eq!(exit_kind(&e), ExitKind::Usage);
    }
}
