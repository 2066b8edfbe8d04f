//! Security: secrets, redaction, TLS policy.
pub mod redact;
pub mod tls;
