//! References: how a spec value points at a secret instead of containing it.
//!
//! A value is either a literal or exactly one reference, the whole string:
//! - `${secret:NAME}`: the vault entry `NAME`;
//! - `${env:NAME}`: the environment variable `NAME` (set and non-empty);
//! - `${file:PATH}`: the content of a file, one trailing newline (`\n` or `\r\n`) removed.
//!   Relative paths are taken from the spec file's directory when the context knows it.
//!   The file must be a regular file of at most 64 KiB and not empty. A file that group or
//!   other users can read is used, with a warning on stderr: mounted secrets in containers
//!   (`/run/secrets`, Kubernetes volumes) are routinely 0444/0644 and refusing them would push
//!   users towards worse places; files under `/run/secrets/` and `/var/run/secrets/` are
//!   exempt from the warning. A file that other users can *write* is refused.
//! - `${sealed:TEXT}`: a value sealed to this machine's identity (`convoy secrets seal`).
//!
//! The vault is opened only when a `${secret:…}` or `${sealed:…}` reference needs it, once.
//! Errors name the reference, never a value, and say what to do.

use crate::error::ExitKind;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::sealed::{self, SealError};
use super::vault::Vault;
use super::{validate_name, Secret};

/// Largest file a `${file:…}` reference may read.
pub const MAX_FILE_LEN: u64 = 64 * 1024;

/// What [`resolve`] needs: where the vault is and where relative file paths start.
#[derive(Debug, Default)]
pub struct ResolveContext {
    vault_path: Option<PathBuf>,
    base_dir: Option<PathBuf>,
    /// The vault once opened, or the (message, exit code) of why it could not be.
    vault: OnceLock<Result<Vault, (String, ExitKind)>>,
}

impl ResolveContext {
    /// `vault_path` as given by `--vault`; `None` means `CONVOY_VAULT`, else the default.
    pub fn new(vault_path: Option<PathBuf>) -> ResolveContext {
        ResolveContext {
            vault_path,
            ..ResolveContext::default()
        }
    }

    /// Relative `${file:…}` paths are resolved against `dir` (the spec file's directory).
    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> ResolveContext {
        self.base_dir = Some(dir.into());
        self
    }

    pub fn vault_path(&self) -> PathBuf {
        Vault::resolve_path(self.vault_path.as_deref())
    }

    /// This machine's identity, from its vault (opened once).
    pub fn identity(&self) -> anyhow::Result<super::sealed::Identity> {
        let vault = self.vault("this machine's identity").map_err(|e| {
            let kind = e.exit_kind();
            let hint = e.hint().or_else(|| {
                Some(
                    "create it with `convoy secrets identity` (it prints this machine's recipient)"
                        .to_string(),
                )
            });
            crate::error::with_kind(kind, e.to_string(), hint)
        })?;
        if !vault.exists() {
            return Err(crate::error::usage(
                format!(
                    "this machine has no identity yet: the vault {} does not exist",
                    self.vault_path().display()
                ),
                Some("create it with `convoy secrets identity`, which prints this machine's recipient".to_string()),
            ));
        }
        Ok(vault.identity().clone())
    }

    fn vault(&self, reference: &str) -> Result<&Vault, ReferenceError> {
        let opened = self.vault.get_or_init(|| {
            let path = self.vault_path();
            // Keep the full error text (with its hint) for every reference that needs it.
            Vault::open(&path).map_err(|e| {
                let message = match e.hint() {
                    Some(h) => format!("{e}; hint: {h}"),
                    None => e.to_string(),
                };
                (message, e.exit_kind())
            })
        });
        opened
            .as_ref()
            .map_err(|(message, exit_kind)| ReferenceError::Vault {
                reference: reference.to_string(),
                message: message.clone(),
                exit_kind: *exit_kind,
            })
    }
}

/// A reference that could not be resolved. Never contains a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error(
        "{reference}: a secret value must be a reference such as ${{secret:NAME}}, not a literal"
    )]
    NotAReference { reference: String },
    #[error("{reference}: a value is either one whole reference or a literal; references cannot be embedded in text")]
    Embedded { reference: String },
    #[error("{reference}: unknown reference kind {kind:?}")]
    UnknownKind { reference: String, kind: String },
    #[error("{reference}: {source}")]
    InvalidName {
        reference: String,
        source: super::InvalidName,
    },
    #[error("{reference}: no secret named {name:?} in vault {vault}")]
    NoSuchSecret {
        reference: String,
        name: String,
        vault: PathBuf,
    },
    #[error("{reference}: {message}")]
    Vault {
        reference: String,
        message: String,
        exit_kind: ExitKind,
    },
    #[error("{reference}: environment variable {name} is not set")]
    EnvMissing { reference: String, name: String },
    #[error("{reference}: environment variable {name} is empty")]
    EnvEmpty { reference: String, name: String },
    #[error("{reference}: cannot read {path}: {detail}")]
    File {
        reference: String,
        path: PathBuf,
        detail: String,
    },
    #[error(
        "{reference}: {path} is writable by other users (mode {mode:04o}); refusing to trust it"
    )]
    FileWritable {
        reference: String,
        path: PathBuf,
        mode: u32,
    },
    #[error("{reference}: {source}")]
    Sealed {
        reference: String,
        source: SealError,
    },
}

impl ReferenceError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ReferenceError::NotAReference { .. } => {
                "store it with `convoy secrets set NAME` and write ${secret:NAME}".into()
            }
            ReferenceError::Embedded { .. } => {
                "put the whole value in the secret, then reference it alone".into()
            }
            ReferenceError::UnknownKind { .. } => {
                "use ${secret:NAME}, ${env:NAME}, ${file:PATH} or ${sealed:…}".into()
            }
            ReferenceError::InvalidName { .. } => return None,
            ReferenceError::NoSuchSecret { name, .. } => format!("convoy secrets set {name}"),
            ReferenceError::Vault { .. } => return None,
            ReferenceError::EnvMissing { name, .. } | ReferenceError::EnvEmpty { name, .. } => {
                format!("export {name} before running convoy, or use ${{secret:…}}")
            }
            ReferenceError::File { .. } => {
                "the file must exist, be readable, non-empty and at most 64 KiB".into()
            }
            ReferenceError::FileWritable { path, .. } => {
                format!("chmod go-w {}", path.display())
            }
            ReferenceError::Sealed { source, .. } => return source.hint(),
        })
    }

    /// 3 when refused on security grounds, 2 otherwise (a reference is part of the spec).
    pub fn exit_kind(&self) -> ExitKind {
        match self {
            ReferenceError::Vault { exit_kind, .. } => *exit_kind,
            ReferenceError::FileWritable { .. } | ReferenceError::NotAReference { .. } => {
                ExitKind::Policy
            }
            ReferenceError::Sealed { source, .. } => source.exit_kind(),
            _ => ExitKind::Usage,
        }
    }
}

/// Whether `s` is written as a reference (`${…}`, the whole string). Unknown kinds count,
/// so that a misspelt reference is reported instead of being taken as a literal.
pub fn is_reference(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("${") && s.ends_with('}') && s[2..s.len() - 1].find(['{', '}']).is_none()
}

/// Resolves one reference to its secret value.
pub fn resolve(s: &str, ctx: &ResolveContext) -> Result<Secret, ReferenceError> {
    let trimmed = s.trim();
    if !is_reference(trimmed) {
        return Err(if let Some(start) = trimmed.find("${") {
            // Name only the embedded reference: the surrounding text may be a literal secret.
            let tail = &trimmed[start..];
            let end = tail.find('}').map_or(tail.len(), |i| i + 1);
            ReferenceError::Embedded {
                reference: format!("value containing {}", display_reference(&tail[..end])),
            }
        } else {
            ReferenceError::NotAReference {
                reference: "literal value".into(),
            }
        });
    }
    let reference = display_reference(trimmed);
    let inner = &trimmed[2..trimmed.len() - 1];
    let (kind, arg) = inner.split_once(':').unwrap_or((inner, ""));
    match kind {
        "secret" => {
            validate_name(arg).map_err(|source| ReferenceError::InvalidName {
                reference: reference.clone(),
                source,
            })?;
            let vault = ctx.vault(&reference)?;
            vault.get(arg).ok_or_else(|| ReferenceError::NoSuchSecret {
                reference: reference.clone(),
                name: arg.to_string(),
                vault: vault.path().to_path_buf(),
            })
        }
        "env" => match std::env::var(arg) {
            Ok(v) if v.is_empty() => Err(ReferenceError::EnvEmpty {
                reference,
                name: arg.to_string(),
            }),
            Ok(v) => Ok(Secret::new(v)),
            Err(_) => Err(ReferenceError::EnvMissing {
                reference,
                name: arg.to_string(),
            }),
        },
        "file" => read_file(arg, &reference, ctx),
        "sealed" => {
            // Check the text before touching the vault, so a paste error is reported as such.
            sealed::sealed_name(arg).map_err(|source| ReferenceError::Sealed {
                reference: reference.clone(),
                source,
            })?;
            let vault = ctx.vault(&reference)?;
            sealed::open(arg, vault.identity()).map_err(|source| ReferenceError::Sealed {
                reference: reference.clone(),
                source,
            })
        }
        other => Err(ReferenceError::UnknownKind {
            reference,
            kind: other.to_string(),
        }),
    }
}

/// How a reference is named in messages: sealed texts are long and opaque, so they are shown
/// by the label they carry.
fn display_reference(s: &str) -> String {
    if let Some(text) = s
        .strip_prefix("${sealed:")
        .and_then(|t| t.strip_suffix('}'))
    {
        return match sealed::sealed_name(text) {
            Ok(name) => format!("${{sealed:…}} ({name})"),
            Err(_) => "${sealed:…}".into(),
        };
    }
    s.chars().take(200).collect()
}

fn read_file(arg: &str, reference: &str, ctx: &ResolveContext) -> Result<Secret, ReferenceError> {
    let mut path = PathBuf::from(arg);
    if path.is_relative() {
        if let Some(base) = &ctx.base_dir {
            path = base.join(path);
        }
    }
    let err = |detail: String| ReferenceError::File {
        reference: reference.to_string(),
        path: path.clone(),
        detail,
    };
    if arg.is_empty() {
        return Err(err("no path given".into()));
    }
    let mut file = fs::File::open(&path).map_err(|e| err(e.to_string()))?;
    let meta = file.metadata().map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(err(format!("larger than {MAX_FILE_LEN} bytes")));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(ReferenceError::FileWritable {
            reference: reference.to_string(),
            path,
            mode,
        });
    }
    if mode & 0o044 != 0 && !is_container_secret(&path) {
        eprintln!(
            "warning: {reference}: {} is readable by other users (mode {mode:04o}); consider chmod 600",
            path.display()
        );
    }
    let mut bytes = Vec::new();
    file.by_ref()
        .take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(e.to_string()))?;
    let mut text = String::from_utf8(bytes).map_err(|_| err("not UTF-8 text".into()))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(err("the file is empty".into()));
    }
    Ok(Secret::new(text))
}

fn is_container_secret(path: &Path) -> bool {
    path.starts_with("/run/secrets") || path.starts_with("/var/run/secrets")
}

/// A credential setting as a connection holds it until it connects: the
/// reference (`${secret:…}`, `${env:…}`, …) and the field it was written in,
/// or a value that is not secret by itself (an access key id). It is
/// resolved into a [`Secret`] only when the connector needs it.
#[derive(Clone)]
pub struct SecretRef {
    /// The reference's text, or the value itself when `literal`.
    text: Secret,
    field: String,
    literal: bool,
}

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretRef({})", self.field)
    }
}

impl SecretRef {
    /// `text` is a reference (see [`is_reference`]) written in `field`.
    pub fn reference(text: String, field: String) -> SecretRef {
        SecretRef {
            // A reference names a secret, it is not one: not registered
            // with the redactor, so messages can say which one is missing.
            text: Secret(zeroize::Zeroizing::new(text)),
            field,
            literal: false,
        }
    }

    /// A value given as it is.
    pub fn literal(text: String) -> SecretRef {
        SecretRef {
            text: Secret::new(text),
            field: String::new(),
            literal: true,
        }
    }

    /// The value. Errors name the field and the reference, never a value;
    /// they carry the reference's exit status (3 when refused on security
    /// grounds, else 2).
    pub fn resolve(&self, ctx: &ResolveContext) -> anyhow::Result<Secret> {
        if self.literal {
            return Ok(self.text.clone());
        }
        resolve(self.text.expose(), ctx).map_err(|e| {
            let message = format!("{}: {e}", self.field);
            match e.exit_kind() {
                ExitKind::Policy => crate::error::policy(message, e.hint()),
                _ => crate::error::usage(message, e.hint()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn ctx_in(dir: &Path) -> ResolveContext {
        ResolveContext::new(Some(dir.join("vault"))).with_base_dir(dir)
    }

    #[test]
    fn is_reference_recognises_whole_references_only() {
        for yes in [
            "${secret:a}",
            "${env:HOME}",
            "${file:/x}",
            "${sealed:AQ}",
            " ${foo:x} ",
        ] {
            assert!(is_reference(yes), "{yes}");
        }
        for no in [
            "hunter2",
            "pre${env:X}",
            "${env:X}post",
            "${a}${b}",
            "$env:X",
            "",
        ] {
            assert!(!is_reference(no), "{no}");
        }
    }

    #[test]
    fn secret_reference_reads_the_vault() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(&dir.path().join("vault")).unwrap();
        v.set("warehouse_pw", Secret::new("ref-canary-vault".into()))
            .unwrap();
        v.save().unwrap();
        let ctx = ctx_in(dir.path());
        let s = resolve("${secret:warehouse_pw}", &ctx).unwrap();
        assert_eq!(s.expose(), "ref-canary-vault");
        let err = resolve("${secret:warehouse_pwd}", &ctx).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("warehouse_pwd") && text.contains("vault"),
            "{text}"
        );
        assert_eq!(err.hint().unwrap(), "convoy secrets set warehouse_pwd");
        assert!(!text.contains("ref-canary"));
        assert!(matches!(
            resolve("${secret:bad name}", &ctx),
            Err(ReferenceError::InvalidName { .. })
        ));
    }

    #[test]
    fn the_vault_is_not_opened_unless_needed() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("vault");
        fs::write(&vault, b"garbage").unwrap();
        fs::set_permissions(&vault, fs::Permissions::from_mode(0o600)).unwrap();
        let ctx = ctx_in(dir.path());
        std::env::set_var("CONVOY_TEST_REF_LAZY", "lazy-env-value");
        assert_eq!(
            resolve("${env:CONVOY_TEST_REF_LAZY}", &ctx)
                .unwrap()
                .expose(),
            "lazy-env-value"
        );
        let err = resolve("${secret:x}", &ctx).unwrap_err();
        assert!(err.to_string().contains("failed authentication"), "{err}");
        assert_eq!(err.exit_kind(), ExitKind::Policy);
    }

    #[test]
    fn env_reference() {
        let ctx = ResolveContext::new(None);
        std::env::set_var("CONVOY_TEST_REF_ENV", "env-canary-value");
        std::env::set_var("CONVOY_TEST_REF_EMPTY", "");
        assert_eq!(
            resolve("${env:CONVOY_TEST_REF_ENV}", &ctx)
                .unwrap()
                .expose(),
            "env-canary-value"
        );
        let err = resolve("${env:CONVOY_TEST_REF_UNSET_X}", &ctx).unwrap_err();
        assert!(matches!(err, ReferenceError::EnvMissing { .. }));
        assert!(err
            .hint()
            .unwrap()
            .contains("export CONVOY_TEST_REF_UNSET_X"));
        assert!(matches!(
            resolve("${env:CONVOY_TEST_REF_EMPTY}", &ctx),
            Err(ReferenceError::EnvEmpty { .. })
        ));
    }

    #[test]
    fn file_reference() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx_in(dir.path());
        let write = |name: &str, content: &[u8], mode: u32| {
            let p = dir.path().join(name);
            fs::write(&p, content).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let abs = write("pw", b"file-canary\n", 0o600);
        let r = format!("${{file:{}}}", abs.display());
        assert_eq!(resolve(&r, &ctx).unwrap().expose(), "file-canary");
        write("crlf", b"two\nlines\r\n", 0o600);
        assert_eq!(
            resolve("${file:crlf}", &ctx).unwrap().expose(),
            "two\nlines"
        );
        write("open", b"readable-by-all", 0o644);
        assert_eq!(
            resolve("${file:open}", &ctx).unwrap().expose(),
            "readable-by-all"
        );
        write("writable", b"anyone-can-change", 0o666);
        let err = resolve("${file:writable}", &ctx).unwrap_err();
        assert!(matches!(err, ReferenceError::FileWritable { .. }), "{err}");
        assert_eq!(err.exit_kind(), ExitKind::Policy);
        write("empty", b"\n", 0o600);
        assert!(resolve("${file:empty}", &ctx)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        write("big", &vec![b'x'; MAX_FILE_LEN as usize + 1], 0o600);
        assert!(resolve("${file:big}", &ctx).is_err());
        let err = resolve("${file:missing}", &ctx).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(resolve("${file:.}", &ctx).is_err());
    }

    #[test]
    fn sealed_reference_opens_only_on_its_machine() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let mut va = Vault::open(&a.path().join("vault")).unwrap();
        va.save().unwrap();
        let mut vb = Vault::open(&b.path().join("vault")).unwrap();
        vb.save().unwrap();
        let text =
            sealed::seal(&va.identity().public_key(), "lake_key", "sealed-ref-canary").unwrap();
        let reference = format!("${{sealed:{text}}}");
        assert!(is_reference(&reference));
        let on_a = resolve(&reference, &ctx_in(a.path())).unwrap();
        assert_eq!(on_a.expose(), "sealed-ref-canary");
        let err = resolve(&reference, &ctx_in(b.path())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("lake_key") && msg.contains("not sealed for"),
            "{msg}"
        );
        assert!(
            !msg.contains(&text),
            "the opaque text is not repeated: {msg}"
        );
        assert_eq!(err.exit_kind(), ExitKind::Policy);
        let err = resolve("${sealed:not-base64!}", &ctx_in(a.path())).unwrap_err();
        assert!(matches!(err, ReferenceError::Sealed { .. }));
    }

    #[test]
    fn literals_embedded_and_unknown_kinds() {
        let ctx = ResolveContext::new(None);
        let err = resolve("hunter2-literal", &ctx).unwrap_err();
        assert!(matches!(err, ReferenceError::NotAReference { .. }));
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = resolve("literal-pw-${env:HOME}", &ctx).unwrap_err();
        assert!(matches!(err, ReferenceError::Embedded { .. }));
        assert!(!err.to_string().contains("literal-pw"), "{err}");
        assert!(err.to_string().contains("${env:HOME}"), "{err}");
        let err = resolve("${secrte:x}", &ctx).unwrap_err();
        assert!(err.to_string().contains("secrte"), "{err}");
        assert!(err.hint().unwrap().contains("${secret:NAME}"));
    }
}
