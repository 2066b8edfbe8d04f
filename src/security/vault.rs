//! The vault: named secrets in one encrypted file, so that spec files hold only
//! `${secret:NAME}` references.
//!
//! Location: `--vault`, else `CONVOY_VAULT`, else `$XDG_CONFIG_HOME/convoy/vault`
//! (`~/.config/convoy/vault` when `XDG_CONFIG_HOME` is unset). The file and its key file must
//! be private to their owner (no group or other permission bits); convoy refuses them
//! otherwise, and creates them with mode 0600 in a 0700 directory.
//!
//! # Keys
//! A vault is encrypted with XChaCha20-Poly1305 under one of two key sources, fixed when the
//! vault is created and recorded in its header:
//! - **machine key** (default): a random 256-bit key in `machine.key` next to the vault
//!   (mode 0600, JSON `{format, version, current, keys: {id: base64}}`). The vault header names
//!   the key id it was written with.
//! - **passphrase**: chosen when the vault is created with `CONVOY_VAULT_PASSPHRASE` set, or
//!   with `convoy secrets set --passphrase`. Argon2id (m = 64 MiB, t = 3, p = 1, 16-byte salt,
//!   parameters stored in the header) derives a master key; HKDF-SHA256 turns it into the
//!   encryption key and a 16-byte check value, so a wrong passphrase is reported as such
//!   instead of as tampering. The passphrase is taken from `CONVOY_VAULT_PASSPHRASE`, or asked
//!   on the terminal.
//!
//! # File format (version 1)
//! ```text
//! "CONVOY-VAULT" | version u8 = 1 | key source u8 (1 machine key, 2 passphrase)
//!   source 1: key id [16]
//!   source 2: m_cost u32le | t_cost u32le | p_cost u32le | salt [16] | check [16]
//! | nonce [24] | XChaCha20-Poly1305(JSON document) with the whole header as associated data
//! ```
//! The JSON document is `{"version": 1, "identity": base64, "entries": {name: {"value",
//! "created", "rotated"}}}` (RFC 3339 times). `identity` is this machine's X25519 key for
//! sealed values ([`super::sealed`]); it lives inside the encrypted document so it is protected
//! exactly as the secrets are, and it survives `rotate`. Any change to any byte fails
//! authentication and is refused; nothing is ever half-read.
//!
//! # Writes
//! Every write goes to a 0600 temporary file in the same directory, is fsynced, renamed over
//! the vault, and the directory is fsynced: a crash leaves the old or the new vault. Commands
//! that modify the vault hold an exclusive `flock` on `<vault>.lock` from reading to writing,
//! so concurrent `convoy secrets set` runs do not lose each other's updates.
//!
//! `rotate` with a machine key first adds the new key to `machine.key` (which then holds both),
//! then writes the vault under the new key, then removes the old key: at every instant the
//! vault on disk has its key in the key file. One `machine.key` serves the vault(s) of one
//! directory; keep one vault per directory if you rotate.

use crate::error::ExitKind;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2_011::Sha256;
use zeroize::Zeroizing;

use super::sealed::Identity;
use super::{random_bytes, validate_name, InvalidName, Secret};

pub const MAGIC: &[u8; 12] = b"CONVOY-VAULT";
pub const FORMAT_VERSION: u8 = 1;
/// Environment variable naming the vault file.
pub const VAULT_ENV: &str = "CONVOY_VAULT";
/// Environment variable holding the vault passphrase (also selects passphrase mode when the
/// vault is created).
pub const PASSPHRASE_ENV: &str = "CONVOY_VAULT_PASSPHRASE";
/// Name of the machine key file, in the vault's directory.
pub const KEY_FILE_NAME: &str = "machine.key";

const SOURCE_MACHINE_KEY: u8 = 1;
const SOURCE_PASSPHRASE: u8 = 2;
const NONCE_LEN: usize = 24;
const KEY_FILE_FORMAT: &str = "convoy-machine-key";

/// Argon2id cost for new passphrase vaults.
#[cfg(not(test))]
const KDF_DEFAULT: KdfParams = KdfParams {
    m_cost: 64 * 1024,
    t_cost: 3,
    p_cost: 1,
};
/// Unit tests use a cheap cost; the integration tests exercise the real one.
#[cfg(test)]
const KDF_DEFAULT: KdfParams = KdfParams {
    m_cost: 64,
    t_cost: 1,
    p_cost: 1,
};
/// Limits on header-supplied Argon2 parameters, so a modified header cannot make convoy
/// allocate gigabytes or spin for hours before authentication fails.
const KDF_MAX: KdfParams = KdfParams {
    m_cost: 1024 * 1024,
    t_cost: 64,
    p_cost: 16,
};

/// A vault that could not be read, unlocked or written.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{what} {path} is accessible to other users (mode {mode:04o}); refusing to use it")]
    LoosePermissions {
        what: &'static str,
        path: PathBuf,
        mode: u32,
    },
    #[error("vault {path} failed authentication: it was modified or the key/passphrase is wrong ({detail})")]
    Tampered { path: PathBuf, detail: String },
    #[error("the passphrase does not unlock vault {path}")]
    WrongPassphrase { path: PathBuf },
    #[error("vault {path} is protected by a passphrase and none was given")]
    PassphraseRequired { path: PathBuf },
    #[error("machine key file {path} is unreadable: {detail}")]
    BadKeyFile { path: PathBuf, detail: String },
    #[error("no secret named {name:?} in vault {path}")]
    NotFound { name: String, path: PathBuf },
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
}

impl VaultError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            VaultError::LoosePermissions { path, .. } => {
                format!("chmod 600 {}", path.display())
            }
            VaultError::Tampered { .. } => "restore the vault (and machine.key) from a backup, or move it away and set the secrets again".into(),
            VaultError::WrongPassphrase { .. } => format!("check {PASSPHRASE_ENV}, or the passphrase typed"),
            VaultError::PassphraseRequired { .. } => {
                format!("set {PASSPHRASE_ENV}, or run convoy from a terminal to be asked")
            }
            VaultError::BadKeyFile { path, .. } => format!(
                "restore {} from a backup; without it the vault cannot be opened",
                path.display()
            ),
            VaultError::NotFound { name, .. } => format!("convoy secrets set {name}"),
            VaultError::Io { .. } | VaultError::InvalidName(_) => return None,
        })
    }

    /// Refusals on security grounds exit with 3, usage mistakes with 2, the rest with 1.
    pub fn exit_kind(&self) -> ExitKind {
        match self {
            VaultError::LoosePermissions { .. }
            | VaultError::Tampered { .. }
            | VaultError::WrongPassphrase { .. }
            | VaultError::BadKeyFile { .. } => ExitKind::Policy,
            VaultError::PassphraseRequired { .. } | VaultError::InvalidName(_) => ExitKind::Usage,
            VaultError::NotFound { .. } | VaultError::Io { .. } => ExitKind::Failed,
        }
    }
}

type Result<T, E = VaultError> = std::result::Result<T, E>;

/// Name and dates of one secret, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub name: String,
    pub created: DateTime<Utc>,
    /// When the value was last replaced (equal to `created` until then).
    pub rotated: DateTime<Utc>,
}

/// Which key protects a vault, as asked for by `rotate_to`.
#[derive(Debug)]
pub enum NewKey {
    /// Keep the key source: a new random machine key, or a new salt for the same passphrase.
    Same,
    /// Switch to (or renew) a random machine key.
    MachineKey,
    /// Switch to (or change) a passphrase.
    Passphrase(Secret),
}

/// The unlocked vault: entries in memory, written back by [`Vault::save`].
pub struct Vault {
    path: PathBuf,
    key: VaultKey,
    identity: Identity,
    entries: BTreeMap<String, Entry>,
    exists: bool,
    _lock: Option<LockFile>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

struct Entry {
    value: Secret,
    created: DateTime<Utc>,
    rotated: DateTime<Utc>,
}

enum VaultKey {
    Machine {
        key_file: PathBuf,
        id: [u8; 16],
        key: Zeroizing<[u8; 32]>,
        /// The key is not yet in the key file (a new vault on a machine without one).
        unsaved: bool,
    },
    Passphrase {
        passphrase: Secret,
        params: KdfParams,
        salt: [u8; 16],
        check: [u8; 16],
        key: Zeroizing<[u8; 32]>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KdfParams {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
}

/// Where the passphrase comes from when a vault needs one.
enum PassSource {
    Given(Secret),
    /// `CONVOY_VAULT_PASSPHRASE`, else the terminal when there is one.
    Ambient,
}

impl Vault {
    /// The default vault file: `$XDG_CONFIG_HOME/convoy/vault`, else `~/.config/convoy/vault`.
    pub fn default_path() -> PathBuf {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join(".config")
            });
        config.join("convoy").join("vault")
    }

    /// `explicit`, else `CONVOY_VAULT`, else [`Vault::default_path`].
    pub fn resolve_path(explicit: Option<&Path>) -> PathBuf {
        explicit
            .map(Path::to_path_buf)
            .or_else(|| {
                std::env::var_os(VAULT_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(Vault::default_path)
    }

    /// Opens the vault at `path` for reading (a missing file is an empty vault, created by the
    /// first [`save`](Vault::save)). A passphrase vault takes its passphrase from
    /// `CONVOY_VAULT_PASSPHRASE` or the terminal.
    pub fn open(path: &Path) -> Result<Vault> {
        Vault::open_inner(path, PassSource::Ambient, false)
    }

    /// Like [`open`](Vault::open), and holds an exclusive lock on the vault until dropped, so a
    /// read-modify-write does not lose a concurrent writer's update.
    pub fn open_locked(path: &Path) -> Result<Vault> {
        Vault::open_inner(path, PassSource::Ambient, true)
    }

    /// Opens with an explicit passphrase; a vault that does not exist yet will be a
    /// passphrase vault. `lock` as in [`open_locked`](Vault::open_locked).
    pub fn open_with_passphrase(path: &Path, passphrase: Secret, lock: bool) -> Result<Vault> {
        Vault::open_inner(path, PassSource::Given(passphrase), lock)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the vault file exists on disk (false until the first save of a new vault).
    pub fn exists(&self) -> bool {
        self.exists
    }

    /// Whether the vault is protected by a passphrase (else by the machine key file).
    pub fn uses_passphrase(&self) -> bool {
        matches!(self.key, VaultKey::Passphrase { .. })
    }

    /// This machine's identity for sealed values.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn get(&self, name: &str) -> Option<Secret> {
        self.entries.get(name).map(|e| e.value.clone())
    }

    /// Stores `value` under `name` (replacing a value keeps `created` and sets `rotated`).
    pub fn set(&mut self, name: &str, value: Secret) -> Result<()> {
        validate_name(name)?;
        // Stored to the second; keep memory and disk equal.
        let now = Utc::now().trunc_subsecs(0);
        match self.entries.get_mut(name) {
            Some(e) => {
                e.value = value;
                e.rotated = now;
            }
            None => {
                self.entries.insert(
                    name.to_string(),
                    Entry {
                        value,
                        created: now,
                        rotated: now,
                    },
                );
            }
        }
        Ok(())
    }

    /// Removes `name`; false if there was no such secret.
    pub fn remove(&mut self, name: &str) -> bool {
        self.entries.remove(name).is_some()
    }

    pub fn list(&self) -> Vec<EntryInfo> {
        self.entries
            .iter()
            .map(|(name, e)| EntryInfo {
                name: name.clone(),
                created: e.created,
                rotated: e.rotated,
            })
            .collect()
    }

    /// Writes the vault atomically under its current key (with a fresh nonce).
    pub fn save(&mut self) -> Result<()> {
        ensure_dir(&self.path)?;
        if let VaultKey::Machine {
            key_file,
            id,
            key,
            unsaved,
        } = &mut self.key
        {
            if *unsaved {
                let mut kf = KeyFile::load(key_file)?.unwrap_or_default();
                kf.add(*id, key.clone());
                kf.save(key_file)?;
                *unsaved = false;
            }
        }
        let bytes = self.seal_document()?;
        atomic_write(&self.path, &bytes)?;
        self.exists = true;
        Ok(())
    }

    /// Re-encrypts everything under a new key of the same kind (see [`NewKey::Same`]).
    #[cfg(test)]
    pub fn rotate(&mut self) -> Result<()> {
        self.rotate_to(NewKey::Same)
    }

    /// Re-encrypts everything under a new key, possibly switching key source. Safe against a
    /// crash at any point: the vault on disk can always be opened with what is on disk.
    pub fn rotate_to(&mut self, new: NewKey) -> Result<()> {
        let key_file = key_file_for(&self.path);
        let old_machine_id = match &self.key {
            VaultKey::Machine { id, unsaved, .. } if !*unsaved => Some(*id),
            _ => None,
        };
        let new = match (new, &self.key) {
            (NewKey::Same, VaultKey::Passphrase { passphrase, .. }) => {
                NewKey::Passphrase(passphrase.clone())
            }
            (NewKey::Same, VaultKey::Machine { .. }) => NewKey::MachineKey,
            (other, _) => other,
        };
        match new {
            NewKey::Passphrase(passphrase) => {
                self.key = passphrase_key(&self.path, passphrase, KDF_DEFAULT, random_bytes())?;
            }
            NewKey::MachineKey | NewKey::Same => {
                let id = random_bytes::<16>();
                let key = Zeroizing::new(random_bytes::<32>());
                // Step 1: the key file holds the old and the new key.
                let mut kf = KeyFile::load(&key_file)?.unwrap_or_default();
                kf.add(id, key.clone());
                kf.save(&key_file)?;
                self.key = VaultKey::Machine {
                    key_file: key_file.clone(),
                    id,
                    key,
                    unsaved: false,
                };
            }
        }
        // Step 2: the vault is replaced, atomically, under the new key.
        self.save()?;
        // Step 3: the old machine key is no longer needed by this vault.
        if let Some(old) = old_machine_id {
            if let Some(mut kf) = KeyFile::load(&key_file)? {
                kf.remove(&old);
                if kf.keys.is_empty() {
                    fs::remove_file(&key_file).map_err(io_err("remove", &key_file))?;
                    fsync_dir(&key_file)?;
                } else {
                    kf.save(&key_file)?;
                }
            }
        }
        Ok(())
    }

    fn open_inner(path: &Path, pass: PassSource, lock: bool) -> Result<Vault> {
        let lock = if lock {
            Some(LockFile::acquire(path)?)
        } else {
            None
        };
        let bytes = match File::open(path) {
            Ok(mut file) => {
                check_private(&file, "vault", path)?;
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map_err(io_err("read", path))?;
                Some(bytes)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("open", path)(e)),
        };
        let mut vault = match bytes {
            None => Vault::new_empty(path, pass)?,
            Some(bytes) => Vault::decrypt(path, &bytes, pass)?,
        };
        vault._lock = lock;
        Ok(vault)
    }

    fn new_empty(path: &Path, pass: PassSource) -> Result<Vault> {
        let passphrase = match pass {
            PassSource::Given(p) => Some(p),
            PassSource::Ambient => passphrase_from_env(),
        };
        let key = match passphrase {
            Some(p) => passphrase_key(path, p, KDF_DEFAULT, random_bytes())?,
            None => {
                let key_file = key_file_for(path);
                match KeyFile::load(&key_file)? {
                    Some(kf) => {
                        let (id, key) = kf.current_key(&key_file)?;
                        VaultKey::Machine {
                            key_file,
                            id,
                            key,
                            unsaved: false,
                        }
                    }
                    None => VaultKey::Machine {
                        key_file,
                        id: random_bytes(),
                        key: Zeroizing::new(random_bytes()),
                        unsaved: true,
                    },
                }
            }
        };
        Ok(Vault {
            path: path.to_path_buf(),
            key,
            identity: Identity::generate(),
            entries: BTreeMap::new(),
            exists: false,
            _lock: None,
        })
    }

    fn decrypt(path: &Path, bytes: &[u8], pass: PassSource) -> Result<Vault> {
        let tampered = |detail: &str| VaultError::Tampered {
            path: path.to_path_buf(),
            detail: detail.to_string(),
        };
        let header = Header::parse(bytes).map_err(tampered)?;
        let key = match header.source {
            HeaderSource::Machine { id } => {
                let key_file = key_file_for(path);
                let kf = KeyFile::load(&key_file)?.ok_or_else(|| {
                    tampered(&format!(
                        "machine key file {} is missing",
                        key_file.display()
                    ))
                })?;
                let key = kf.key(&id).ok_or_else(|| {
                    tampered(&format!(
                        "its key {} is not in {}",
                        hex::encode(id),
                        key_file.display()
                    ))
                })?;
                if std::env::var_os(PASSPHRASE_ENV).is_some() {
                    eprintln!(
                        "warning: {PASSPHRASE_ENV} is set but vault {} uses the machine key {}; the passphrase is not used",
                        path.display(),
                        key_file.display()
                    );
                }
                VaultKey::Machine {
                    key_file,
                    id,
                    key,
                    unsaved: false,
                }
            }
            HeaderSource::Passphrase {
                params,
                salt,
                check,
            } => {
                let passphrase = match pass {
                    PassSource::Given(p) => p,
                    PassSource::Ambient => match passphrase_from_env() {
                        Some(p) => p,
                        None => prompt_passphrase(path)?,
                    },
                };
                let key = passphrase_key(path, passphrase, params, salt)?;
                if !matches!(&key, VaultKey::Passphrase { check: c, .. } if *c == check) {
                    return Err(VaultError::WrongPassphrase {
                        path: path.to_path_buf(),
                    });
                }
                key
            }
        };
        let cipher = XChaCha20Poly1305::new_from_slice(key.key()).expect("32-byte key");
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &XNonce::from(header.nonce),
                    Payload {
                        msg: &bytes[header.len..],
                        aad: &bytes[..header.len],
                    },
                )
                .map_err(|_| tampered("authentication tag mismatch"))?,
        );
        let doc: DocIn = serde_json::from_slice(&plain)
            .map_err(|_| tampered("the content is not a vault document"))?;
        let identity_bytes = Zeroizing::new(
            STANDARD
                .decode(doc.identity.as_bytes())
                .map_err(|_| tampered("bad identity"))?,
        );
        let identity_bytes: [u8; 32] = identity_bytes[..]
            .try_into()
            .map_err(|_| tampered("bad identity"))?;
        let mut entries = BTreeMap::new();
        for (name, e) in doc.entries {
            let created = parse_time(&e.created).ok_or_else(|| tampered("bad date"))?;
            let rotated = parse_time(&e.rotated).ok_or_else(|| tampered("bad date"))?;
            entries.insert(
                name,
                Entry {
                    value: Secret::new(e.value),
                    created,
                    rotated,
                },
            );
        }
        let _ = Zeroizing::new(doc.identity);
        Ok(Vault {
            path: path.to_path_buf(),
            key,
            identity: Identity::from_bytes(identity_bytes),
            entries,
            exists: true,
            _lock: None,
        })
    }

    fn seal_document(&self) -> Result<Vec<u8>> {
        let identity = Zeroizing::new(STANDARD.encode(*self.identity.to_bytes()));
        let doc = DocOut {
            version: 1,
            identity: &identity,
            entries: self
                .entries
                .iter()
                .map(|(name, e)| {
                    (
                        name.as_str(),
                        EntryOut {
                            value: e.value.expose(),
                            created: format_time(e.created),
                            rotated: format_time(e.rotated),
                        },
                    )
                })
                .collect(),
        };
        let plain = Zeroizing::new(serde_json::to_vec(&doc).expect("serialisable"));
        let nonce = random_bytes::<NONCE_LEN>();
        let mut out = Header::encode(&self.key, &nonce);
        let cipher = XChaCha20Poly1305::new_from_slice(self.key.key()).expect("32-byte key");
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &out,
                },
            )
            .map_err(|_| VaultError::Io {
                action: "encrypt",
                path: self.path.clone(),
                source: io::Error::other("vault too large"),
            })?;
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }
}

impl VaultKey {
    fn key(&self) -> &[u8] {
        match self {
            VaultKey::Machine { key, .. } | VaultKey::Passphrase { key, .. } => &key[..],
        }
    }
}

/// Argon2id → master key; HKDF-SHA256 → encryption key and check value.
fn passphrase_key(
    path: &Path,
    passphrase: Secret,
    params: KdfParams,
    salt: [u8; 16],
) -> Result<VaultKey> {
    let argon = argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| VaultError::Tampered {
            path: path.to_path_buf(),
            detail: format!("invalid key derivation parameters: {e}"),
        })?;
    let mut master = Zeroizing::new([0u8; 32]);
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon)
        .hash_password_into(passphrase.expose().as_bytes(), &salt, master.as_mut())
        .map_err(|e| VaultError::Tampered {
            path: path.to_path_buf(),
            detail: format!("key derivation failed: {e}"),
        })?;
    let hk = Hkdf::<Sha256>::new(None, master.as_ref());
    let mut key = Zeroizing::new([0u8; 32]);
    let mut check = [0u8; 16];
    hk.expand(b"convoy vault key v1", key.as_mut())
        .expect("valid length");
    hk.expand(b"convoy vault check v1", &mut check)
        .expect("valid length");
    Ok(VaultKey::Passphrase {
        passphrase,
        params,
        salt,
        check,
        key,
    })
}

fn passphrase_from_env() -> Option<Secret> {
    std::env::var(PASSPHRASE_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Secret::new)
}

fn prompt_passphrase(path: &Path) -> Result<Secret> {
    let required = || VaultError::PassphraseRequired {
        path: path.to_path_buf(),
    };
    if !(io::stdin().is_terminal() || io::stderr().is_terminal()) {
        return Err(required());
    }
    let prompt = format!("passphrase for vault {}: ", path.display());
    match rpassword::prompt_password(prompt) {
        Ok(p) if !p.is_empty() => Ok(Secret::new(p)),
        _ => Err(required()),
    }
}

enum HeaderSource {
    Machine {
        id: [u8; 16],
    },
    Passphrase {
        params: KdfParams,
        salt: [u8; 16],
        check: [u8; 16],
    },
}

struct Header {
    source: HeaderSource,
    nonce: [u8; NONCE_LEN],
    /// Length of the header in bytes; the ciphertext follows.
    len: usize,
}

impl Header {
    fn encode(key: &VaultKey, nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        match key {
            VaultKey::Machine { id, .. } => {
                out.push(SOURCE_MACHINE_KEY);
                out.extend_from_slice(id);
            }
            VaultKey::Passphrase {
                params,
                salt,
                check,
                ..
            } => {
                out.push(SOURCE_PASSPHRASE);
                for v in [params.m_cost, params.t_cost, params.p_cost] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                out.extend_from_slice(salt);
                out.extend_from_slice(check);
            }
        }
        out.extend_from_slice(nonce);
        out
    }

    fn parse(bytes: &[u8]) -> std::result::Result<Header, &'static str> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take::<12>()? != *MAGIC {
            return Err("not a convoy vault file");
        }
        let [version] = r.take::<1>()?;
        if version != FORMAT_VERSION {
            return Err("unknown format version");
        }
        let source = match r.take::<1>()? {
            [SOURCE_MACHINE_KEY] => HeaderSource::Machine { id: r.take()? },
            [SOURCE_PASSPHRASE] => {
                let params = KdfParams {
                    m_cost: u32::from_le_bytes(r.take()?),
                    t_cost: u32::from_le_bytes(r.take()?),
                    p_cost: u32::from_le_bytes(r.take()?),
                };
                if params.m_cost > KDF_MAX.m_cost
                    || params.t_cost > KDF_MAX.t_cost
                    || params.p_cost > KDF_MAX.p_cost
                {
                    return Err("key derivation parameters out of range");
                }
                HeaderSource::Passphrase {
                    params,
                    salt: r.take()?,
                    check: r.take()?,
                }
            }
            _ => return Err("unknown key source"),
        };
        let nonce = r.take()?;
        if bytes.len() < r.pos + 16 {
            return Err("truncated");
        }
        Ok(Header {
            source,
            nonce,
            len: r.pos,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> std::result::Result<[u8; N], &'static str> {
        let slice = self
            .bytes
            .get(self.pos..self.pos + N)
            .ok_or("truncated header")?;
        self.pos += N;
        Ok(slice.try_into().expect("length checked"))
    }
}

#[derive(Serialize)]
struct DocOut<'a> {
    version: u32,
    identity: &'a str,
    entries: BTreeMap<&'a str, EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    value: &'a str,
    created: String,
    rotated: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocIn {
    #[allow(dead_code)]
    version: u32,
    identity: String,
    entries: BTreeMap<String, EntryIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    value: String,
    created: String,
    rotated: String,
}

fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The machine key file: every key a vault in this directory may be written with.
#[derive(Default)]
struct KeyFile {
    current: Option<[u8; 16]>,
    keys: Vec<([u8; 16], Zeroizing<[u8; 32]>)>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileDoc {
    format: String,
    version: u32,
    current: String,
    keys: BTreeMap<String, String>,
}

impl KeyFile {
    /// `None` when the file does not exist.
    fn load(path: &Path) -> Result<Option<KeyFile>> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", path)(e)),
        };
        check_private(&file, "machine key file", path)?;
        let mut text = Zeroizing::new(String::new());
        file.read_to_string(&mut text)
            .map_err(io_err("read", path))?;
        let bad = |detail: &str| VaultError::BadKeyFile {
            path: path.to_path_buf(),
            detail: detail.to_string(),
        };
        let doc: KeyFileDoc = serde_json::from_str(&text).map_err(|_| bad("not valid JSON"))?;
        if doc.format != KEY_FILE_FORMAT || doc.version != 1 {
            return Err(bad("unknown format"));
        }
        let id = |s: &str| -> Result<[u8; 16]> {
            hex::decode(s)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| bad("bad key id"))
        };
        let mut kf = KeyFile {
            current: Some(id(&doc.current)?),
            keys: Vec::new(),
        };
        for (k, v) in &doc.keys {
            let raw = Zeroizing::new(STANDARD.decode(v).map_err(|_| bad("bad key"))?);
            let key: [u8; 32] = raw[..].try_into().map_err(|_| bad("bad key length"))?;
            kf.keys.push((id(k)?, Zeroizing::new(key)));
        }
        Ok(Some(kf))
    }

    fn save(&self, path: &Path) -> Result<()> {
        let doc = KeyFileDoc {
            format: KEY_FILE_FORMAT.into(),
            version: 1,
            current: hex::encode(self.current.unwrap_or_default()),
            keys: self
                .keys
                .iter()
                .map(|(id, key)| (hex::encode(id), STANDARD.encode(&key[..])))
                .collect(),
        };
        let text = Zeroizing::new(serde_json::to_string_pretty(&doc).expect("serialisable"));
        ensure_dir(path)?;
        atomic_write(path, text.as_bytes())
    }

    fn add(&mut self, id: [u8; 16], key: Zeroizing<[u8; 32]>) {
        self.keys.retain(|(i, _)| *i != id);
        self.keys.push((id, key));
        self.current = Some(id);
    }

    fn remove(&mut self, id: &[u8; 16]) {
        self.keys.retain(|(i, _)| i != id);
        if self.current.as_ref() == Some(id) {
            self.current = self.keys.last().map(|(i, _)| *i);
        }
    }

    fn key(&self, id: &[u8; 16]) -> Option<Zeroizing<[u8; 32]>> {
        self.keys
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, k)| k.clone())
    }

    fn current_key(&self, path: &Path) -> Result<([u8; 16], Zeroizing<[u8; 32]>)> {
        self.current
            .and_then(|id| self.key(&id).map(|k| (id, k)))
            .ok_or_else(|| VaultError::BadKeyFile {
                path: path.to_path_buf(),
                detail: "its current key is missing".into(),
            })
    }
}

fn key_file_for(vault: &Path) -> PathBuf {
    vault
        .parent()
        .map(|d| d.join(KEY_FILE_NAME))
        .unwrap_or_else(|| PathBuf::from(KEY_FILE_NAME))
}

/// Refuses a file with any group or other permission bit.
fn check_private(file: &File, what: &'static str, path: &Path) -> Result<()> {
    let mode = file
        .metadata()
        .map_err(io_err("inspect", path))?
        .permissions()
        .mode()
        & 0o7777;
    if mode & 0o077 != 0 {
        return Err(VaultError::LoosePermissions {
            what,
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Creates the parent directory of `path` (mode 0700) if needed.
fn ensure_dir(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err("create directory", dir)),
        _ => Ok(()),
    }
}

/// Temporary 0600 file in the same directory, written, fsynced, renamed over `path`, and the
/// directory fsynced: readers see the old or the new content, never a mix.
fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(io_err("create a temporary file in", dir))?;
    tmp.write_all(bytes).map_err(io_err("write", tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err("sync", path))?;
    tmp.persist(path)
        .map_err(|e| io_err("replace", path)(e.error))?;
    fsync_dir(path)
}

fn fsync_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync directory", dir))
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> VaultError + 'a {
    move |source| VaultError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// An exclusive `flock` on `<vault>.lock`, released when dropped (or when the process dies).
struct LockFile(#[allow(dead_code)] File);

impl LockFile {
    fn acquire(vault: &Path) -> Result<LockFile> {
        ensure_dir(vault)?;
        let mut name = vault.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("open", &path))?;
        loop {
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(LockFile(file));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(io_err("lock", &path)(err));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(v: &str) -> Secret {
        Secret::new(v.to_string())
    }

    fn new_vault(dir: &Path) -> (PathBuf, Vault) {
        let path = dir.join("convoy").join("vault");
        let mut v = Vault::open(&path).unwrap();
        assert!(!v.exists());
        v.set("warehouse_pw", secret("vault-canary-one")).unwrap();
        v.set("lake_key", secret("vault-canary-two")).unwrap();
        v.save().unwrap();
        (path, v)
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn round_trip_with_machine_key() {
        let dir = tempfile::tempdir().unwrap();
        let (path, first) = new_vault(dir.path());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&key_file_for(&path)), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let raw = fs::read(&path).unwrap();
        assert!(raw.starts_with(MAGIC));
        assert!(!String::from_utf8_lossy(&raw).contains("vault-canary"));
        let v = Vault::open(&path).unwrap();
        assert!(v.exists() && !v.uses_passphrase());
        assert_eq!(v.get("warehouse_pw").unwrap().expose(), "vault-canary-one");
        assert_eq!(v.get("lake_key").unwrap().expose(), "vault-canary-two");
        assert!(v.get("nope").is_none());
        let names: Vec<_> = v.list().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["lake_key", "warehouse_pw"]);
        assert_eq!(v.identity().public_key(), first.identity().public_key());
        assert!(!format!("{v:?}").contains("canary"));
    }

    #[test]
    fn replacing_a_value_keeps_created_and_moves_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut v) = new_vault(dir.path());
        let before = v.list()[1].clone();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        v.set("warehouse_pw", secret("vault-canary-new")).unwrap();
        v.save().unwrap();
        let v = Vault::open(&path).unwrap();
        let after = v.list()[1].clone();
        assert_eq!(after.name, "warehouse_pw");
        assert_eq!(after.created, before.created);
        assert!(after.rotated > before.rotated);
        assert_eq!(v.get("warehouse_pw").unwrap().expose(), "vault-canary-new");
    }

    #[test]
    fn remove_and_invalid_names() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut v) = new_vault(dir.path());
        assert!(v.remove("lake_key"));
        assert!(!v.remove("lake_key"));
        v.save().unwrap();
        let mut v = Vault::open(&path).unwrap();
        assert!(v.get("lake_key").is_none());
        let err = v.set("bad name", secret("xxxx")).unwrap_err();
        assert!(matches!(err, VaultError::InvalidName(_)), "{err}");
        assert_eq!(err.exit_kind(), ExitKind::Usage);
    }

    #[test]
    fn every_flipped_byte_is_refused_as_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = new_vault(dir.path());
        let good = fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            fs::write(&path, &bad).unwrap();
            match Vault::open(&path) {
                Err(e @ VaultError::Tampered { .. }) => {
                    assert!(e.to_string().contains("failed authentication"), "{e}");
                    assert_eq!(e.exit_kind(), ExitKind::Policy);
                }
                other => panic!("byte {i}: {other:?}"),
            }
        }
        for len in [0, 5, 40, good.len() - 1] {
            fs::write(&path, &good[..len]).unwrap();
            assert!(matches!(
                Vault::open(&path),
                Err(VaultError::Tampered { .. })
            ));
        }
        let mut longer = good.clone();
        longer.push(0);
        fs::write(&path, &longer).unwrap();
        assert!(matches!(
            Vault::open(&path),
            Err(VaultError::Tampered { .. })
        ));
        fs::write(&path, &good).unwrap();
        assert!(Vault::open(&path).is_ok());
    }

    #[test]
    fn a_replaced_machine_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = new_vault(dir.path());
        let kf = key_file_for(&path);
        fs::remove_file(&kf).unwrap();
        assert!(matches!(
            Vault::open(&path),
            Err(VaultError::Tampered { .. })
        ));
        let mut other = KeyFile::default();
        other.add(random_bytes(), Zeroizing::new(random_bytes()));
        other.save(&kf).unwrap();
        let err = Vault::open(&path).unwrap_err();
        assert!(err.to_string().contains("is not in"), "{err}");
    }

    #[test]
    fn loose_permissions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = new_vault(dir.path());
        for loose in [0o644, 0o640, 0o604, 0o620] {
            fs::set_permissions(&path, fs::Permissions::from_mode(loose)).unwrap();
            let err = Vault::open(&path).unwrap_err();
            assert!(matches!(err, VaultError::LoosePermissions { .. }), "{err}");
            assert!(err.to_string().contains(&format!("{loose:04o}")), "{err}");
            assert!(err.hint().unwrap().contains("chmod 600"));
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let kf = key_file_for(&path);
        fs::set_permissions(&kf, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Vault::open(&path).unwrap_err();
        assert!(matches!(
            err,
            VaultError::LoosePermissions {
                what: "machine key file",
                ..
            }
        ));
    }

    #[test]
    fn passphrase_vault() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault");
        let mut v = Vault::open_with_passphrase(&path, secret("correct horse"), false).unwrap();
        v.set("a", secret("pass-canary-1")).unwrap();
        v.save().unwrap();
        assert!(
            !key_file_for(&path).exists(),
            "no machine key for a passphrase vault"
        );
        let v = Vault::open_with_passphrase(&path, secret("correct horse"), false).unwrap();
        assert!(v.uses_passphrase());
        assert_eq!(v.get("a").unwrap().expose(), "pass-canary-1");
        let err = Vault::open_with_passphrase(&path, secret("wrong horse"), false).unwrap_err();
        assert!(matches!(err, VaultError::WrongPassphrase { .. }), "{err}");
        assert_eq!(err.exit_kind(), ExitKind::Policy);
        // The body and nonce are still authenticated.
        let good = fs::read(&path).unwrap();
        for i in [good.len() - 1, good.len() - 30, 70] {
            let mut bad = good.clone();
            bad[i] ^= 0x80;
            fs::write(&path, &bad).unwrap();
            let err = Vault::open_with_passphrase(&path, secret("correct horse"), false);
            assert!(matches!(err, Err(VaultError::Tampered { .. })), "byte {i}");
        }
    }

    #[test]
    fn header_cannot_demand_a_huge_key_derivation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault");
        let mut v = Vault::open_with_passphrase(&path, secret("pw-pw"), false).unwrap();
        v.save().unwrap();
        let mut raw = fs::read(&path).unwrap();
        raw[14..18].copy_from_slice(&u32::MAX.to_le_bytes());
        fs::write(&path, &raw).unwrap();
        let err = Vault::open_with_passphrase(&path, secret("pw-pw"), false).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn rotate_machine_key() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut v) = new_vault(dir.path());
        let kf = key_file_for(&path);
        let (old_vault, old_key) = (fs::read(&path).unwrap(), fs::read(&kf).unwrap());
        let public = v.identity().public_key();
        v.rotate().unwrap();
        let (new_vault, new_key) = (fs::read(&path).unwrap(), fs::read(&kf).unwrap());
        assert_ne!(old_vault[13..], new_vault[13..]);
        assert_ne!(old_key, new_key);
        assert_eq!(KeyFile::load(&kf).unwrap().unwrap().keys.len(), 1);
        let v = Vault::open(&path).unwrap();
        assert_eq!(v.get("warehouse_pw").unwrap().expose(), "vault-canary-one");
        assert_eq!(v.identity().public_key(), public);
        // The old vault cannot be read with the new key file.
        fs::write(&path, &old_vault).unwrap();
        assert!(matches!(
            Vault::open(&path),
            Err(VaultError::Tampered { .. })
        ));
    }

    #[test]
    fn crash_during_rotation_leaves_a_readable_vault() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = new_vault(dir.path());
        let kf_path = key_file_for(&path);
        // Step 1 done (new key added to the key file), crash before the vault was written.
        let mut kf = KeyFile::load(&kf_path).unwrap().unwrap();
        kf.add(random_bytes(), Zeroizing::new(random_bytes()));
        kf.save(&kf_path).unwrap();
        let mut v = Vault::open(&path).unwrap();
        assert_eq!(v.get("lake_key").unwrap().expose(), "vault-canary-two");
        // Saving after the crash keeps using the key the vault was written with.
        v.save().unwrap();
        assert!(Vault::open(&path).is_ok());
        // A later rotation completes normally.
        v.rotate().unwrap();
        let v = Vault::open(&path).unwrap();
        assert_eq!(v.get("lake_key").unwrap().expose(), "vault-canary-two");
    }

    #[test]
    fn rotate_passphrase_and_switch_key_source() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut v) = new_vault(dir.path());
        v.rotate_to(NewKey::Passphrase(secret("first pass")))
            .unwrap();
        assert!(!key_file_for(&path).exists(), "old machine key removed");
        let mut v = Vault::open_with_passphrase(&path, secret("first pass"), false).unwrap();
        let before = fs::read(&path).unwrap();
        v.rotate().unwrap();
        let after = fs::read(&path).unwrap();
        assert_ne!(before[26..42], after[26..42], "salt changed");
        let mut v = Vault::open_with_passphrase(&path, secret("first pass"), false).unwrap();
        v.rotate_to(NewKey::Passphrase(secret("second pass")))
            .unwrap();
        assert!(Vault::open_with_passphrase(&path, secret("first pass"), false).is_err());
        let mut v = Vault::open_with_passphrase(&path, secret("second pass"), false).unwrap();
        v.rotate_to(NewKey::MachineKey).unwrap();
        let v = Vault::open(&path).unwrap();
        assert!(!v.uses_passphrase());
        assert_eq!(v.get("warehouse_pw").unwrap().expose(), "vault-canary-one");
    }

    #[test]
    fn a_second_vault_in_the_directory_reuses_the_machine_key() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = new_vault(dir.path());
        let other = path.with_file_name("other");
        let mut v = Vault::open(&other).unwrap();
        v.set("x", secret("other-canary")).unwrap();
        v.save().unwrap();
        assert!(Vault::open(&path).is_ok());
        assert_eq!(
            Vault::open(&other).unwrap().get("x").unwrap().expose(),
            "other-canary"
        );
    }

    #[test]
    fn concurrent_locked_writers_do_not_lose_updates() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = new_vault(dir.path());
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut v = Vault::open_locked(&path).unwrap();
                    v.set(&format!("t{i}"), secret(&format!("thread-value-{i}")))
                        .unwrap();
                    v.save().unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let v = Vault::open(&path).unwrap();
        for i in 0..8 {
            assert_eq!(
                v.get(&format!("t{i}")).unwrap().expose(),
                format!("thread-value-{i}")
            );
        }
    }
}
