//! The network steps `convoy check` takes for any endpoint: DNS, TCP, and a
//! TLS handshake under the same policy as every connection (through
//! `security::tls`), reporting the protocol version, cipher suite,
//! certificate subject, issuer and days to expiry. Each connector's check
//! uses them before its own login and access steps.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{Checked, Status, Step, TlsInfo};
use crate::error;
use crate::security::redact::redact;
use crate::security::tls;

/// Certificates closer than this to expiry are warned about.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// DNS then TCP; records both steps. None when either failed.
pub async fn reach(c: &mut Checked, host: &str, port: u16, timeout: Duration) -> Option<TcpStream> {
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
pub fn handshake(
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
pub fn certificate_facts(der: &[u8]) -> Result<(String, String, String, i64)> {
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

pub fn push_tls(c: &mut Checked, info: TlsInfo, how: &str) {
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
        let mut c = Checked::default();
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
