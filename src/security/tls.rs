//! The one place TLS client configurations are built.
//!
//! Every connector that speaks TLS asks this module for its rustls
//! `ClientConfig`; none builds its own. The rules:
//!
//! - TLS 1.2 is the minimum; 1.3 is preferred.
//! - The server's certificate chain is verified against the operating
//!   system's roots plus an optional `ca_file`, and its name against the host
//!   convoy connected to. There is no "prefer" and no silent fallback.
//! - `pin_sha256` names the SHA-256 of the server's SubjectPublicKeyInfo (hex
//!   or base64). Pinning is meant for on-premises servers with self-signed
//!   certificates: instead of switching verification off, the user says
//!   exactly which key the server must hold. A pin **replaces** chain, name
//!   and expiry checks (a self-signed certificate passes none of them), but
//!   the handshake signature is still verified against the pinned key, so
//!   only the holder of that private key can complete the handshake.
//! - `mode = "no-verify"` keeps TLS but accepts any certificate;
//!   `mode = "disable"` turns TLS off. Both are refused (exit 3) unless the
//!   command line also says `--allow-insecure`, and are warned about.
//!
//! Handshake failures are turned into refusals that say which check failed
//! and how to fix it ([`classify`]).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

use crate::error;

/// How a connection uses TLS: the one set of modes every kind shares. A kind
/// that cannot do a mode refuses it when the spec is read, saying what it
/// can do instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Chain and host name verified (the default; needs no line in a spec).
    #[default]
    VerifyFull,
    /// TLS, but the server's certificate is not checked: only with
    /// `--allow-insecure`.
    NoVerify,
    /// No TLS at all: only with `--allow-insecure`.
    Disable,
}

impl TlsMode {
    pub const ALL: &'static [TlsMode] = &[TlsMode::VerifyFull, TlsMode::NoVerify, TlsMode::Disable];

    /// As written in a spec: `tls = { mode = "…" }`.
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::VerifyFull => "verify-full",
            TlsMode::NoVerify => "no-verify",
            TlsMode::Disable => "disable",
        }
    }

    /// What the mode means, for messages.
    pub fn meaning(self) -> &'static str {
        match self {
            TlsMode::VerifyFull => "TLS with chain and host name verified",
            TlsMode::NoVerify => "TLS without certificate checks",
            TlsMode::Disable => "no TLS at all",
        }
    }
}

/// TLS settings of a connection, as the spec gives them
/// (`tls = { mode = "…", ca_file = "…", pin_sha256 = "…" }`), read by
/// `spec::fields::Fields::tls`, the one parser of that table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Extra trusted CA certificates (PEM), on top of the system roots.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the server's SubjectPublicKeyInfo, hex or base64.
    pub pin_sha256: Option<String>,
    pub mode: TlsMode,
}

impl TlsSettings {
    /// Refuse `no-verify` and `disable` unless `--allow-insecure` was
    /// given. The caller warns about and records an allowed use
    /// (`OpenContext::note_insecure`).
    pub fn check_allowed(&self, allow_insecure: bool, what: &str) -> Result<()> {
        if self.mode == TlsMode::VerifyFull || allow_insecure {
            return Ok(());
        }
        let (what_it_does, refusing) = match self.mode {
            TlsMode::Disable => ("TLS is disabled", "refusing to connect in plaintext"),
            _ => (
                "certificate checks are off",
                "refusing to connect to a server whose certificate is not verified",
            ),
        };
        Err(error::policy(
            format!(
                "{what}: {what_it_does} in the spec (tls = {{ mode = \"{}\" }}); {refusing}",
                self.mode.name()
            ),
            Some(format!(
                "remove mode = \"{}\" (verified TLS is the default; trust a private CA with ca_file), or add --allow-insecure if this is really intended",
                self.mode.name()
            )),
        ))
    }

    /// The insecure setting in use, for the warning and the summary (None
    /// for verified TLS).
    pub fn insecure_note(&self) -> Option<&'static str> {
        match self.mode {
            TlsMode::VerifyFull => None,
            TlsMode::NoVerify => Some(
                "TLS without certificate checks (tls.mode = \"no-verify\", allowed by --allow-insecure)",
            ),
            TlsMode::Disable => Some(
                "TLS is disabled (tls.mode = \"disable\", allowed by --allow-insecure); data and credentials travel in plaintext",
            ),
        }
    }

    /// How `plan` describes the TLS of a connection made with these settings.
    pub fn describe(&self) -> &'static str {
        match self.mode {
            TlsMode::Disable => "DISABLED (insecure, needs --allow-insecure)",
            TlsMode::NoVerify => "NOT VERIFIED (insecure, needs --allow-insecure)",
            TlsMode::VerifyFull if self.pin_sha256.is_some() => "pinned (server public key sha256)",
            TlsMode::VerifyFull if self.ca_file.is_some() => "verify-full + ca_file",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// The 32 bytes of a pin given as hex (colons allowed) or base64.
pub fn parse_pin(text: &str) -> std::result::Result<Vec<u8>, String> {
    let t = text.trim();
    let hexed: String = t.chars().filter(|c| *c != ':').collect();
    if hexed.len() == 64 {
        if let Ok(b) = hex::decode(&hexed) {
            return Ok(b);
        }
    }
    match base64::engine::general_purpose::STANDARD.decode(t) {
        Ok(b) if b.len() == 32 => Ok(b),
        _ => Err("expected the SHA-256 of the server's public key: 64 hex digits or 44 base64 characters".into()),
    }
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo.
pub fn spki_sha256(cert: &CertificateDer<'_>) -> Result<[u8; 32]> {
    use x509_cert::der::{Decode, Encode};
    let parsed = x509_cert::Certificate::from_der(cert.as_ref())
        .map_err(|e| anyhow::anyhow!("cannot parse the server certificate: {e}"))?;
    let spki = parsed
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| anyhow::anyhow!("cannot encode the server public key: {e}"))?;
    Ok(Sha256::digest(&spki).into())
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The system's trusted roots, read once per process: reading and parsing
/// them takes tens of milliseconds, and a run may open many connections.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        store
    })
}

/// The trusted roots: the system's plus the optional CA file.
fn roots(settings: &TlsSettings) -> Result<RootCertStore> {
    let mut store = system_roots().clone();
    if let Some(path) = &settings.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| {
                error::usage(
                    format!("cannot read the CA file {}: {e}", path.display()),
                    Some("tls.ca_file must name a PEM file of CA certificates".to_string()),
                )
            })?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| error::usage(format!("CA file {}: {e}", path.display()), None))?;
        if certs.is_empty() {
            return Err(error::usage(
                format!("CA file {} holds no certificate", path.display()),
                Some("tls.ca_file must name a PEM file of CA certificates".to_string()),
            ));
        }
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(error::usage(
                format!("CA file {}: no usable CA certificate", path.display()),
                None,
            ));
        }
    }
    Ok(store)
}

/// Build the client configuration for these settings. Not for
/// `TlsMode::Disable` (the caller does not use TLS then).
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("building the TLS configuration")?;
    let config = match &settings.pin_sha256 {
        _ if settings.mode == TlsMode::NoVerify => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerifier {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Some(pin) => {
            let pin =
                parse_pin(pin).map_err(|e| error::usage(format!("tls.pin_sha256: {e}"), None))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinVerifier {
                    pin,
                    algorithms: provider.signature_verification_algorithms,
                }))
                .with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(chain_verifier(settings, provider)?)
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Chain and host name checks against the trusted roots.
fn chain_verifier(
    settings: &TlsSettings,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<ChainVerifier>> {
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(settings)?), provider)
        .build()
        .map_err(|e| {
            error::policy(
                format!("no trusted CA certificates: {e}"),
                Some("add tls = { ca_file = \"ca.pem\" } to the connection".to_string()),
            )
        })?;
    Ok(Arc::new(ChainVerifier { inner }))
}

/// The chain and name checks of rustls' WebPKI verifier, unchanged, except
/// that a refused certificate which signed itself is reported as
/// [`SelfSigned`]: WebPKI only sees an issuer it does not know, and names
/// that in ways a reader cannot act on (`CaUsedAsEndEntity`, a signature
/// algorithm that does not fit a trusted key of the same name).
#[derive(Debug)]
struct ChainVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match (&e, self_signed(end_entity)) {
                (rustls::Error::InvalidCertificate(_), Some(found)) => {
                    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                        Arc::new(SelfSigned { found }),
                    )))
                }
                _ => e,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// The hex SHA-256 of the public key of a certificate that names itself as
/// its issuer; None for any other (or one that does not parse).
fn self_signed(cert: &CertificateDer<'_>) -> Option<String> {
    use x509_cert::der::Decode;
    let parsed = x509_cert::Certificate::from_der(cert.as_ref()).ok()?;
    let tbs = &parsed.tbs_certificate;
    if tbs.issuer != tbs.subject {
        return None;
    }
    spki_sha256(cert).ok().map(hex::encode)
}

/// A refused server certificate that signed itself.
#[derive(Debug)]
pub struct SelfSigned {
    /// The hex SHA-256 of its public key, for `pin_sha256`.
    pub found: String,
}

impl std::fmt::Display for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "self-signed certificate (public key sha256 {})",
            self.found
        )
    }
}

impl std::error::Error for SelfSigned {}

/// The server's key must hash to the pin; see the module doc.
#[derive(Debug)]
struct PinVerifier {
    pin: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

/// `mode = "no-verify"`: any certificate is accepted (only with
/// `--allow-insecure`); the handshake signatures are still checked against
/// the certificate the server sent.
#[derive(Debug)]
struct NoVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A server key that does not match `pin_sha256`.
#[derive(Debug)]
pub struct PinMismatch {
    pub found: String,
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "server public key sha256 {} does not match pin_sha256",
            self.found
        )
    }
}

impl std::error::Error for PinMismatch {}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let digest = spki_sha256(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if digest.as_slice() == self.pin.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(PinMismatch {
                    found: hex::encode(digest),
                })),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Find a TLS verification failure in an error chain and turn it into a
/// refusal (exit 3) that names the failed check and the fix. `who` is the
/// secret-free identity of the endpoint (`postgres db.corp:5432/sales`).
pub fn classify(err: &(dyn std::error::Error + 'static), who: &str) -> Option<anyhow::Error> {
    find_rustls(err).map(|r| refusal(r, who))
}

/// The rustls error in a chain. An `io::Error` hides the error it wraps
/// from `source()` (it returns that error's source), and TLS libraries wrap
/// rustls' errors in I/O errors, sometimes twice: look inside each.
fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn refusal(e: &rustls::Error, who: &str) -> anyhow::Error {
    const TRUST_HINT: &str = "trust the server's CA with tls = { ca_file = \"ca.pem\" } in the connection, or pin its key with tls = { pin_sha256 = \"…\" }";
    let (what, hint): (String, &str) = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => (
                "TLS refused: unknown issuer: the server certificate is not issued by a CA convoy trusts".into(),
                TRUST_HINT,
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
                format!("TLS refused: hostname mismatch, the server certificate is not valid for the host name convoy connected to ({c})"),
                "connect by the name on the certificate (host = \"…\"), or have the server's certificate reissued for this name",
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                format!("TLS refused: the server certificate has expired ({c})"),
                "have the server's certificate renewed; convoy does not accept expired certificates",
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                format!("TLS refused: the server certificate is not valid yet ({c})"),
                "check the clocks of this machine and of the server",
            ),
            CertificateError::Other(o) if o.0.downcast_ref::<PinMismatch>().is_some() => (
                format!("TLS refused: pin mismatch, {}", o.0),
                "check tls.pin_sha256: it must be the SHA-256 of the server's SubjectPublicKeyInfo (openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum)",
            ),
            CertificateError::Other(o) if o.0.downcast_ref::<SelfSigned>().is_some() => (
                format!(
                    "TLS refused: self-signed / unknown issuer: the server certificate signed itself, so no CA vouches for it (its public key has sha256 {})",
                    o.0.downcast_ref::<SelfSigned>().map_or("?", |s| s.found.as_str())
                ),
                "pin the server's key with tls = { pin_sha256 = \"…\" } once you have checked on the server that it is its key (openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum), or give the server a certificate issued by a CA and trust that CA with tls = { ca_file = \"ca.pem\" }",
            ),
            // What WebPKI says of a certificate it found no CA for when the
            // verifier above could not tell that it signed itself.
            CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. } => (
                "TLS refused: self-signed / unknown issuer: the server certificate is not issued by a CA convoy trusts".into(),
                TRUST_HINT,
            ),
            CertificateError::Other(o) if o.to_string().contains("CaUsedAsEndEntity") => (
                "TLS refused: self-signed / unknown issuer: the server presents a CA certificate as its own".into(),
                TRUST_HINT,
            ),
            other => (
                format!("TLS refused: the server certificate was rejected ({other})"),
                "check the server's certificate, or trust its CA with tls = { ca_file = \"…\" }",
            ),
        },
        other => (
            format!("TLS handshake failed: {other}"),
            "the server must offer TLS 1.2 or later",
        ),
    };
    error::policy(format!("{who}: {what}"), Some(hint.to_string()))
}

/// Whether an error chain holds a TLS failure: a refused certificate, a
/// handshake the server and convoy cannot agree on. Trying again gives the
/// same answer, so callers that retry must not retry these.
pub fn is_tls_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    find_rustls(err).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabling_tls_needs_the_flag() {
        let s = TlsSettings {
            mode: TlsMode::Disable,
            ..TlsSettings::default()
        };
        let e = s.check_allowed(false, "postgres db").unwrap_err();
        assert_eq!(error::exit_kind(&e), error::ExitKind::Policy);
        assert!(error::hint(&e).unwrap().contains("--allow-insecure"));
        s.check_allowed(true, "postgres db").unwrap();
        TlsSettings::default().check_allowed(false, "x").unwrap();
    }

    #[test]
    fn pins_are_hex_or_base64() {
        let bytes = [7u8; 32];
        assert_eq!(parse_pin(&hex::encode(bytes)).unwrap(), bytes);
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(parse_pin(&b64).unwrap(), bytes);
        assert!(parse_pin("abc").is_err());
    }

    #[test]
    fn a_config_builds_with_system_roots() {
        client_config(&TlsSettings::default()).unwrap();
        // Read once per process, however many connections are made.
        assert!(std::ptr::eq(system_roots(), system_roots()));
    }

    /// What the verifier of `client_config` says of `cert` for `localhost`,
    /// trusting `ca_pem` besides the system roots.
    fn verdict(cert: &CertificateDer<'_>, ca_pem: &str) -> anyhow::Error {
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        let settings = TlsSettings {
            ca_file: Some(ca_file),
            ..TlsSettings::default()
        };
        let err = chain_verifier(&settings, provider())
            .unwrap()
            .verify_server_cert(
                cert,
                &[],
                &ServerName::try_from("localhost").unwrap(),
                &[],
                UnixTime::now(),
            )
            .unwrap_err();
        refusal(&err, "postgres localhost:5432/db")
    }

    #[test]
    fn a_self_signed_certificate_is_named_as_such_with_its_key() {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let other = {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.self_signed(&KeyPair::generate().unwrap()).unwrap()
        };
        // A leaf that signed itself, and one made the way `openssl req -x509`
        // makes them (a CA certificate) that the user put into ca_file.
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap();
        let mut as_ca = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        as_ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let as_ca = as_ca.self_signed(&KeyPair::generate().unwrap()).unwrap();
        for (cert, trusted) in [(&leaf, other.pem()), (&as_ca, as_ca.pem())] {
            let e = verdict(cert.der(), &trusted);
            assert_eq!(error::exit_kind(&e), error::ExitKind::Policy);
            let text = e.to_string();
            assert!(text.contains("self-signed / unknown issuer"), "{text}");
            let key = hex::encode(spki_sha256(cert.der()).unwrap());
            assert!(text.contains(&key), "{text}");
            assert!(error::hint(&e).unwrap().contains("pin_sha256"));
        }
        // A certificate from a CA convoy does not know is not self-signed.
        let ca = {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name
                .push(rcgen::DnType::CommonName, "convoy unit test CA");
            rcgen::CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
        };
        let issued = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&KeyPair::generate().unwrap(), &ca)
            .unwrap();
        let text = verdict(issued.der(), &other.pem()).to_string();
        assert!(
            text.contains("unknown issuer") && !text.contains("self-signed"),
            "{text}"
        );
    }

    #[test]
    fn tls_failures_are_found_in_error_chains() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::Expired),
        );
        // Wrapped twice, as reqwest's connector hands it on.
        let io = std::io::Error::other(io);
        let wrapped = anyhow::Error::new(io).context("connecting");
        assert!(is_tls_failure(wrapped.as_ref()));
        let e = classify(wrapped.as_ref(), "s3 bucket b").unwrap();
        assert!(e.to_string().contains("has expired"), "{e}");
        let plain = anyhow::anyhow!("connection refused");
        assert!(!is_tls_failure(plain.as_ref()));
    }

    #[test]
    fn unknown_issuer_is_a_refusal_with_a_hint() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let e = classify(&io, "postgres h:5432/db").unwrap();
        assert_eq!(error::exit_kind(&e), error::ExitKind::Policy);
        assert!(e.to_string().contains("unknown issuer"), "{e}");
        assert!(error::hint(&e).unwrap().contains("ca_file"));
    }
}
