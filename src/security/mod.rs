//! Everything that keeps credentials secret: the [`secret::Secret`] type, the process-wide
//! [`redact`] filter every printed line passes through, the encrypted [`vault`], sealed values
//! for another machine ([`sealed`]), and the `${…}` [`reference`] syntax that spec values use
//! to point at a secret instead of containing it.
//!
//! Cryptography comes from RustCrypto and dalek crates (XChaCha20-Poly1305, Argon2id,
//! HKDF-SHA256, X25519); this module only composes them.

pub mod age;
pub mod redact;
pub mod reference;
pub mod sealed;
pub mod secret;
pub mod tls;
pub mod vault;

pub use secret::Secret;

/// `N` bytes from the thread-local CSPRNG (ChaCha, seeded from the operating system).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

/// Checks a secret name: `[A-Za-z0-9_.-]+`, at most 128 characters.
pub fn validate_name(name: &str) -> Result<(), InvalidName> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(InvalidName {
            name: name.chars().take(64).collect(),
        })
    }
}

/// A secret name outside `[A-Za-z0-9_.-]+`.
#[derive(Debug, thiserror::Error)]
#[error("invalid secret name {name:?}: use letters, digits, '_', '.' and '-' (at most 128)")]
pub struct InvalidName {
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["warehouse_pw", "a", "lake.key-2", "A9"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(129);
        for bad in ["", "a b", "a/b", "x}", "é", "${x}", long.as_str()] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
