//! Sealed values: a secret encrypted so that only one machine can read it, for handing a
//! credential to an on-premises runner or a CI variable without ever sending it in clear.
//!
//! Every machine has an X25519 identity, kept inside its vault (see [`super::vault`]); its
//! public half prints as an age recipient `age1…` (see [`super::age`]; the older spelling
//! `convoy-pk1:<base64url>` of the same key is still accepted). Sealing is the libsodium "sealed box" idea
//! built from RustCrypto/dalek parts, since `crypto_box` has no stable release on the current
//! RustCrypto stack:
//!
//! 1. a fresh ephemeral X25519 key pair `(e, E)` per sealed value; `Z = X25519(e, R)` with the
//!    recipient's public key `R` (a non-contributory `Z`, from a low-order `R`, is refused);
//! 2. `HKDF-SHA256(salt = E ‖ R, ikm = Z, info = "convoy sealed v1")` gives 56 bytes: a
//!    32-byte XChaCha20-Poly1305 key and a 24-byte nonce (the key is never reused, as `e` is
//!    fresh);
//! 3. the value is encrypted with associated data `version ‖ name ‖ E ‖ R`, so the label and
//!    the intended recipient are authenticated too.
//!
//! The sealed text is `base64url(0x01 ‖ len(name) ‖ name ‖ E ‖ ciphertext ‖ tag)` without
//! padding: only `[A-Za-z0-9_-]`, safe in TOML, YAML, shell and CI variables, and never a `}`,
//! so it can sit inside `${sealed:…}`. The name is the label given at sealing time; it is not
//! secret and lets errors say which value failed.

use crate::error::ExitKind;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2_011::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::{random_bytes, validate_name, Secret};

/// Prefix of a printed public key.
pub const PUBLIC_KEY_PREFIX: &str = "convoy-pk1:";
const VERSION: u8 = 1;
const INFO: &[u8] = b"convoy sealed v1";

/// This machine's private X25519 key. Debug prints only the public half.
#[derive(Clone)]
pub struct Identity(StaticSecret);

impl Identity {
    pub fn generate() -> Identity {
        Identity(StaticSecret::from(random_bytes::<32>()))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Identity {
        Identity(StaticSecret::from(bytes))
    }

    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key as an age recipient (`age1…`), what `convoy secrets
    /// identity` prints: sealed values and staged parts are encrypted to it.
    pub fn public_key(&self) -> String {
        super::age::recipient_of(self).to_string()
    }

    /// The same public key as `convoy-pk1:<base64url>`, the spelling of
    /// earlier versions (still accepted).
    #[cfg(test)]
    pub fn convoy_public_key(&self) -> String {
        format_public_key(&PublicKey::from(&self.0))
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", self.public_key())
    }
}

/// A sealed value that could not be made or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{0:?} is not a convoy public key")]
    BadPublicKey(String),
    #[error("the sealed value is malformed: {0}")]
    Malformed(&'static str),
    #[error("sealed value {name:?} was not sealed for this machine's identity ({public_key})")]
    WrongIdentity { name: String, public_key: String },
    #[error(transparent)]
    InvalidName(#[from] super::InvalidName),
}

impl SealError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SealError::BadPublicKey(_) => Some(
                "a public key looks like age1…; print it on the receiving machine with `convoy secrets identity`"
                    .to_string(),
            ),
            SealError::Malformed(_) => {
                Some("paste the whole text printed by `convoy secrets seal`".into())
            }
            SealError::WrongIdentity { .. } => Some(
                "seal the value again with --to set to what `convoy secrets identity` prints on this machine".into(),
            ),
            SealError::InvalidName(_) => None,
        }
    }

    /// Opening with the wrong identity is a refusal; a malformed key or text is a usage error.
    pub fn exit_kind(&self) -> ExitKind {
        match self {
            SealError::WrongIdentity { .. } => ExitKind::Policy,
            _ => ExitKind::Usage,
        }
    }
}

/// Encrypts `plaintext` so that only the holder of `recipient` (`convoy-pk1:…`) can open it.
/// `name` is an authenticated, non-secret label. Returns the text to put inside `${sealed:…}`.
pub fn seal(recipient: &str, name: &str, plaintext: &str) -> Result<String, SealError> {
    validate_name(name)?;
    let recipient_pk = recipient_key(recipient)?;
    let ephemeral = StaticSecret::from(random_bytes::<32>());
    let ephemeral_pk = PublicKey::from(&ephemeral);
    let shared = ephemeral.diffie_hellman(&recipient_pk);
    if !shared.was_contributory() {
        return Err(SealError::BadPublicKey(recipient.to_string()));
    }
    let mut head = vec![VERSION, name.len() as u8];
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(ephemeral_pk.as_bytes());
    let (cipher, nonce) = derive(shared.as_bytes(), &ephemeral_pk, &recipient_pk);
    let aad = [head.as_slice(), recipient_pk.as_bytes()].concat();
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| SealError::Malformed("the value is too long to seal"))?;
    head.extend_from_slice(&ciphertext);
    Ok(URL_SAFE_NO_PAD.encode(head))
}

/// The label a sealed text carries, without opening it (for error messages).
pub fn sealed_name(sealed: &str) -> Result<String, SealError> {
    Ok(SealedParts::parse(sealed)?.name)
}

/// Opens `sealed` (the text inside `${sealed:…}`, or the whole reference) with `identity`.
pub fn open(sealed: &str, identity: &Identity) -> Result<Secret, SealError> {
    let parts = SealedParts::parse(sealed)?;
    let my_pk = PublicKey::from(&identity.0);
    let shared = identity.0.diffie_hellman(&parts.ephemeral);
    if !shared.was_contributory() {
        return Err(SealError::Malformed("invalid ephemeral key"));
    }
    let (cipher, nonce) = derive(shared.as_bytes(), &parts.ephemeral, &my_pk);
    let aad = [&parts.raw[..parts.head_len], my_pk.as_bytes()].concat();
    let body = &parts.raw[parts.head_len..];
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::WrongIdentity {
                name: parts.name.clone(),
                public_key: identity.public_key(),
            })?,
    );
    let text = std::str::from_utf8(&plain).map_err(|_| SealError::Malformed("not UTF-8"))?;
    Ok(Secret::new(text.to_string()))
}

/// A decoded sealed text: `raw[..head_len]` is `version ‖ len ‖ name ‖ E`, the rest is the
/// ciphertext and tag.
struct SealedParts {
    raw: Vec<u8>,
    name: String,
    ephemeral: PublicKey,
    head_len: usize,
}

impl SealedParts {
    fn parse(sealed: &str) -> Result<SealedParts, SealError> {
        let text = sealed.trim();
        let text = text
            .strip_prefix("${sealed:")
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let raw = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| SealError::Malformed("not base64url"))?;
        match raw.first() {
            Some(&VERSION) => {}
            Some(_) => return Err(SealError::Malformed("unknown version")),
            None => return Err(SealError::Malformed("empty")),
        }
        let name_len = *raw.get(1).ok_or(SealError::Malformed("too short"))? as usize;
        let head_len = 2 + name_len + 32;
        if raw.len() < head_len + 16 {
            return Err(SealError::Malformed("too short"));
        }
        let name = std::str::from_utf8(&raw[2..2 + name_len])
            .ok()
            .filter(|n| validate_name(n).is_ok())
            .ok_or(SealError::Malformed("bad label"))?
            .to_string();
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&raw[2 + name_len..head_len]);
        Ok(SealedParts {
            raw,
            name,
            ephemeral: PublicKey::from(pk),
            head_len,
        })
    }
}

fn derive(
    shared: &[u8; 32],
    ephemeral: &PublicKey,
    recipient: &PublicKey,
) -> (XChaCha20Poly1305, XNonce) {
    let salt = [ephemeral.as_bytes().as_slice(), recipient.as_bytes()].concat();
    let mut okm = Zeroizing::new([0u8; 56]);
    Hkdf::<Sha256>::new(Some(&salt), shared)
        .expand(INFO, okm.as_mut())
        .expect("56 bytes is a valid HKDF-SHA256 length");
    let cipher = XChaCha20Poly1305::new_from_slice(&okm[..32]).expect("32-byte key");
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&okm[32..]);
    (cipher, XNonce::from(nonce))
}

#[cfg(test)]
fn format_public_key(pk: &PublicKey) -> String {
    format!(
        "{PUBLIC_KEY_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(pk.as_bytes())
    )
}

/// Checks that `text` is a public key, `age1…` or `convoy-pk1:…` (before
/// asking for a value to seal).
pub fn check_public_key(text: &str) -> Result<(), SealError> {
    recipient_key(text).map(|_| ())
}

/// The X25519 key of a recipient written `age1…` or `convoy-pk1:…`.
fn recipient_key(text: &str) -> Result<PublicKey, SealError> {
    if text.trim().starts_with(PUBLIC_KEY_PREFIX) {
        return parse_public_key(text);
    }
    let r = super::age::parse_recipient(text)?;
    let (_, data, _) = bech32::decode(&r.to_string())
        .map_err(|_| SealError::BadPublicKey(text.chars().take(80).collect()))?;
    let bytes: Vec<u8> = bech32::FromBase32::from_base32(&data)
        .map_err(|_| SealError::BadPublicKey(text.chars().take(80).collect()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| SealError::BadPublicKey(text.chars().take(80).collect()))?;
    Ok(PublicKey::from(bytes))
}

/// A `convoy-pk1:…` public key.
pub(super) fn parse_public_key(text: &str) -> Result<PublicKey, SealError> {
    let bad = || SealError::BadPublicKey(text.chars().take(80).collect());
    let b64 = text
        .trim()
        .strip_prefix(PUBLIC_KEY_PREFIX)
        .ok_or_else(bad)?;
    let bytes: [u8; 32] = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())?;
    Ok(PublicKey::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_the_right_identity() {
        let id = Identity::generate();
        let sealed = seal(&id.public_key(), "lake_key", "s3aled-canary-value").unwrap();
        assert!(sealed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(!sealed.contains("s3aled-canary-value"));
        assert_eq!(open(&sealed, &id).unwrap().expose(), "s3aled-canary-value");
        let wrapped = format!("${{sealed:{sealed}}}");
        assert_eq!(open(&wrapped, &id).unwrap().expose(), "s3aled-canary-value");
        assert_eq!(sealed_name(&sealed).unwrap(), "lake_key");
    }

    #[test]
    fn each_seal_is_different() {
        let id = Identity::generate();
        let a = seal(&id.public_key(), "x", "same").unwrap();
        let b = seal(&id.public_key(), "x", "same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn another_identity_is_refused() {
        let alice = Identity::generate();
        let mallory = Identity::generate();
        let sealed = seal(&alice.public_key(), "lake_key", "only-for-alice").unwrap();
        let err = open(&sealed, &mallory).unwrap_err();
        assert!(matches!(err, SealError::WrongIdentity { .. }), "{err}");
        assert!(err.to_string().contains("lake_key"), "{err}");
        assert!(err.to_string().contains(&mallory.public_key()), "{err}");
        assert_eq!(err.exit_kind(), ExitKind::Policy);
    }

    #[test]
    fn any_modified_byte_is_refused() {
        let id = Identity::generate();
        let sealed = seal(&id.public_key(), "n", "tamper-me").unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let text = URL_SAFE_NO_PAD.encode(&bad);
            assert!(open(&text, &id).is_err(), "byte {i} flipped was accepted");
        }
    }

    #[test]
    fn bad_public_keys_and_texts() {
        assert!(matches!(
            seal("ssh-ed25519 AAAA", "n", "v"),
            Err(SealError::BadPublicKey(_))
        ));
        assert!(matches!(
            seal("convoy-pk1:AAAA", "n", "v"),
            Err(SealError::BadPublicKey(_))
        ));
        // The all-zero point is of low order: sealing to it would give a predictable key.
        let zero = format!("{PUBLIC_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert!(seal(&zero, "n", "v").is_err());
        let id = Identity::generate();
        assert!(matches!(open("!!", &id), Err(SealError::Malformed(_))));
        assert!(matches!(open("AQ", &id), Err(SealError::Malformed(_))));
    }

    #[test]
    fn identity_survives_serialisation_and_debug_shows_only_public_key() {
        let id = Identity::generate();
        let again = Identity::from_bytes(*id.to_bytes());
        assert_eq!(id.public_key(), again.public_key());
        let secret_b64 = URL_SAFE_NO_PAD.encode(*id.to_bytes());
        assert!(!format!("{id:?}").contains(&secret_b64));
    }
}
