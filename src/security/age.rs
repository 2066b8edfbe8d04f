//! Client-side encryption of staged data in the age format
//! (<https://age-encryption.org/v1>), with the `age` crate: X25519
//! recipients, a fresh file key per file, 64 KiB STREAM chunks
//! (ChaCha20-Poly1305), so a part is encrypted and decrypted as it streams
//! and any change to it is detected. A person can inspect a part with the
//! standard `age` tool and the machine's identity in an emergency.
//!
//! The machine's identity is the X25519 key its vault already holds for
//! sealed values ([`super::sealed::Identity`]): the same key prints as an age
//! recipient (`age1…`, what `convoy secrets identity` shows) and as an age
//! identity (`AGE-SECRET-KEY-1…`, never printed). The older `convoy-pk1:…`
//! spelling of the same public key is still accepted wherever a recipient
//! is, so values sealed before keep opening.

use std::io::{Read, Write};
use std::str::FromStr;

use anyhow::Result;
use bech32::{ToBase32, Variant};
use zeroize::Zeroize;

use super::sealed::{self, Identity, SealError};

/// An age recipient from `age1…` or `convoy-pk1:…`.
pub fn parse_recipient(text: &str) -> Result<age::x25519::Recipient, SealError> {
    let t = text.trim();
    if t.starts_with(sealed::PUBLIC_KEY_PREFIX) {
        let pk = sealed::parse_public_key(t)?;
        return Ok(recipient_from_bytes(pk.as_bytes()));
    }
    age::x25519::Recipient::from_str(t)
        .map_err(|_| SealError::BadPublicKey(t.chars().take(80).collect()))
}

fn recipient_from_bytes(bytes: &[u8; 32]) -> age::x25519::Recipient {
    let text = bech32::encode("age", bytes.to_base32(), Variant::Bech32).expect("valid HRP");
    age::x25519::Recipient::from_str(&text).expect("a key of 32 bytes is a recipient")
}

/// This machine's recipient, `age1…`.
pub fn recipient_of(identity: &Identity) -> age::x25519::Recipient {
    let public =
        x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*identity.to_bytes()));
    recipient_from_bytes(public.as_bytes())
}

/// This machine's identity as age uses it.
pub fn identity_of(identity: &Identity) -> age::x25519::Identity {
    let bytes = identity.to_bytes();
    let mut text = bech32::encode("age-secret-key-", bytes.to_base32(), Variant::Bech32)
        .expect("valid HRP")
        .to_uppercase();
    let parsed = age::x25519::Identity::from_str(&text).expect("a key of 32 bytes is an identity");
    text.zeroize();
    parsed
}

/// `out` wrapped so that what is written to it reaches `out` encrypted to
/// `recipients`; `finish` writes the last chunk.
pub fn encrypt<W: Write>(
    recipients: &[age::x25519::Recipient],
    out: W,
) -> Result<age::stream::StreamWriter<W>> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| anyhow::anyhow!("cannot encrypt: {e}"))?;
    Ok(encryptor.wrap_output(out)?)
}

/// `input` decrypted with this machine's identity. `what` names the data,
/// `recipients` who it was encrypted for (for the refusal when this machine
/// is not among them).
pub fn decrypt<R: Read>(
    input: R,
    identity: &Identity,
    what: &str,
    recipients: &[String],
) -> Result<age::stream::StreamReader<R>> {
    let id = identity_of(identity);
    let decryptor = age::Decryptor::new(input).map_err(|e| damaged(what, e))?;
    decryptor
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => crate::error::policy(
                format!(
                    "{what} is encrypted for {}, not for this machine ({})",
                    if recipients.is_empty() {
                        "other recipients".to_string()
                    } else {
                        recipients.join(", ")
                    },
                    recipient_of(identity)
                ),
                Some(
                    "load it on a machine whose `convoy secrets identity` is one of those, or extract again with --recipient for this machine"
                        .to_string(),
                ),
            ),
            other => damaged(what, other),
        })
}

fn damaged(what: &str, e: age::DecryptError) -> anyhow::Error {
    crate::error::verify(format!(
        "{what} cannot be decrypted: {e}; it was changed or damaged after it was written"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_key_is_an_age_identity_and_both_key_spellings_are_recipients() {
        let id = Identity::generate();
        let r = recipient_of(&id);
        assert!(r.to_string().starts_with("age1"), "{r}");
        assert_eq!(identity_of(&id).to_public().to_string(), r.to_string());
        assert_eq!(
            parse_recipient(&r.to_string()).unwrap().to_string(),
            r.to_string()
        );
        assert_eq!(
            parse_recipient(&id.convoy_public_key())
                .unwrap()
                .to_string(),
            r.to_string()
        );
        assert!(parse_recipient("ssh-rsa AAAA").is_err());
    }

    #[test]
    fn parts_round_trip_and_refuse_other_machines_and_changes() {
        let me = Identity::generate();
        let other = Identity::generate();
        let mut w = encrypt(&[recipient_of(&me)], Vec::new()).unwrap();
        let plain: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        w.write_all(&plain).unwrap();
        let cipher = w.finish().unwrap();
        assert_ne!(&cipher[..], &plain[..]);
        let mut back = Vec::new();
        decrypt(&cipher[..], &me, "part", &[])
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, plain);
        let e = decrypt(&cipher[..], &other, "part", &["age1xyz".into()])
            .err()
            .unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Policy);
        assert!(e.to_string().contains("age1xyz"), "{e}");
        let mut changed = cipher.clone();
        let n = changed.len();
        changed[n / 2] ^= 1;
        let mut r = decrypt(&changed[..], &me, "part", &[]).unwrap();
        assert!(r.read_to_end(&mut Vec::new()).is_err());
    }
}
