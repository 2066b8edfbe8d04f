//! `convoy secrets …`: manage the vault and sealed values. Values are read from the terminal
//! without echo, or from stdin when it is not a terminal, and never from the command line
//! (argv is visible to every user of the machine and kept in shell history). No command prints
//! a stored value.

use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::Utc;

use crate::security::sealed;
use crate::security::vault::{NewKey, Vault, VaultError, PASSPHRASE_ENV};
use crate::security::{validate_name, Secret};

/// Environment variable with the new passphrase for `rotate --passphrase`.
pub const NEW_PASSPHRASE_ENV: &str = "CONVOY_VAULT_NEW_PASSPHRASE";
/// Largest value `set` and `seal` accept.
const MAX_VALUE_LEN: u64 = 64 * 1024;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SecretsCmd {
    /// Store a secret in the vault. The value is read from the terminal without echo, or from
    /// stdin when piped (one trailing newline removed); never from the command line.
    Set {
        /// Secret name: letters, digits, '_', '.' and '-'.
        name: String,
        /// Create the vault protected by a passphrase instead of a machine key file. The
        /// passphrase comes from CONVOY_VAULT_PASSPHRASE or is asked twice on the terminal.
        /// Only when the vault does not exist yet (setting CONVOY_VAULT_PASSPHRASE when the
        /// vault is created has the same effect); use `rotate --passphrase` to switch later.
        #[arg(long)]
        passphrase: bool,
    },
    /// List the stored secrets: name, created, last rotated, age. Never values.
    List,
    /// Remove a secret from the vault.
    Rm {
        /// Secret name.
        name: String,
    },
    /// Re-encrypt the whole vault under a new key: a new random machine key, or a new salt
    /// for the same passphrase. Secret values and this machine's identity are kept.
    Rotate {
        /// Switch to (or change) a passphrase: read from CONVOY_VAULT_NEW_PASSPHRASE or asked
        /// twice on the terminal.
        #[arg(long, conflicts_with = "machine_key")]
        passphrase: bool,
        /// Switch to a random machine key file (machine.key next to the vault).
        #[arg(long)]
        machine_key: bool,
    },
    /// Print this machine's public key, for `convoy secrets seal --to` on another machine.
    Identity,
    /// Seal a value so that only the machine whose public key is given can read it. The value
    /// is read like `set`; the output, `${sealed:…}`, can go in a spec file or a CI variable.
    Seal {
        /// The receiving machine's public key, as printed there by `convoy secrets identity`.
        #[arg(long, value_name = "PUBLIC_KEY")]
        to: String,
        /// A label for the value (shown in error messages on the receiving machine).
        name: String,
    },
}

/// Runs one `secrets` subcommand against the vault at `vault` (else `CONVOY_VAULT`, else the
/// default path).
pub fn run(cmd: SecretsCmd, vault: Option<PathBuf>) -> anyhow::Result<()> {
    let path = Vault::resolve_path(vault.as_deref());
    match cmd {
        SecretsCmd::Set { name, passphrase } => {
            validate_name(&name)?;
            let mut vault = if passphrase {
                open_for_passphrase_creation(&path)?
            } else {
                Vault::open_locked(&path)?
            };
            let value = read_value(&format!("value for {name}: "))?;
            let replaced = vault.get(&name).is_some();
            vault.set(&name, value)?;
            vault.save()?;
            eprintln!(
                "{} {name} in vault {}",
                if replaced { "replaced" } else { "stored" },
                path.display()
            );
        }
        SecretsCmd::List => {
            let vault = Vault::open(&path)?;
            let entries = vault.list();
            if entries.is_empty() {
                eprintln!(
                    "no secrets in vault {}; add one with `convoy secrets set NAME`",
                    path.display()
                );
                return Ok(());
            }
            print!("{}", format_table(&entries));
        }
        SecretsCmd::Rm { name } => {
            validate_name(&name)?;
            let mut vault = Vault::open_locked(&path)?;
            if !vault.remove(&name) {
                return Err(VaultError::NotFound { name, path }.into());
            }
            vault.save()?;
            eprintln!("removed {name} from vault {}", path.display());
        }
        SecretsCmd::Rotate {
            passphrase,
            machine_key,
        } => {
            let mut vault = Vault::open_locked(&path)?;
            if !vault.exists() {
                return Err(usage_error(
                    format!(
                        "vault {} does not exist; there is nothing to rotate",
                        path.display()
                    ),
                    Some("convoy secrets set NAME creates it"),
                ));
            }
            let new = if passphrase {
                NewKey::Passphrase(read_new_passphrase(NEW_PASSPHRASE_ENV)?)
            } else if machine_key {
                NewKey::MachineKey
            } else {
                NewKey::Same
            };
            vault.rotate_to(new)?;
            eprintln!(
                "rotated vault {}: {} secret(s) re-encrypted under a new {}",
                path.display(),
                vault.list().len(),
                if vault.uses_passphrase() {
                    "passphrase-derived key"
                } else {
                    "machine key"
                }
            );
        }
        SecretsCmd::Identity => {
            let mut vault = Vault::open_locked(&path)?;
            if !vault.exists() {
                vault.save()?;
                eprintln!("created vault {} with a new identity", path.display());
            }
            println!("{}", vault.identity().public_key());
        }
        SecretsCmd::Seal { to, name } => {
            validate_name(&name)?;
            sealed::check_public_key(&to)?;
            let value = read_value(&format!("value to seal as {name}: "))?;
            let text = sealed::seal(&to, &name, value.expose())?;
            println!("${{sealed:{text}}}");
        }
    }
    Ok(())
}

/// `set --passphrase`: the vault must not exist yet, or already use a passphrase.
fn open_for_passphrase_creation(path: &std::path::Path) -> anyhow::Result<Vault> {
    if path.exists() {
        let vault = Vault::open_locked(path)?;
        if !vault.uses_passphrase() {
            return Err(usage_error(
                format!(
                    "vault {} already exists and uses a machine key",
                    path.display()
                ),
                Some("convoy secrets rotate --passphrase switches it to a passphrase"),
            ));
        }
        return Ok(vault);
    }
    let passphrase = read_new_passphrase(PASSPHRASE_ENV)?;
    Ok(Vault::open_with_passphrase(path, passphrase, true)?)
}

/// A new passphrase: from `env`, else typed twice on the terminal.
fn read_new_passphrase(env: &str) -> anyhow::Result<Secret> {
    if let Some(p) = std::env::var(env).ok().filter(|p| !p.is_empty()) {
        return Ok(Secret::new(p));
    }
    if !(io::stdin().is_terminal() || io::stderr().is_terminal()) {
        return Err(usage_error(
            "a new passphrase is needed and there is no terminal to ask for it",
            Some(&format!("set {env}")),
        ));
    }
    let first = Secret::new(rpassword::prompt_password("new vault passphrase: ")?);
    let again = Secret::new(rpassword::prompt_password("repeat the passphrase: ")?);
    if first.expose() != again.expose() {
        return Err(usage_error("the two passphrases differ", None));
    }
    if first.expose().len() < 8 {
        return Err(usage_error(
            "the passphrase is shorter than 8 characters",
            None,
        ));
    }
    Ok(first)
}

/// A secret value: from the terminal without echo, else all of stdin minus one trailing
/// newline. Empty values are refused.
fn read_value(prompt: &str) -> anyhow::Result<Secret> {
    let mut value = if io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("cannot read the value from the terminal")?
    } else {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .take(MAX_VALUE_LEN + 1)
            .read_to_end(&mut bytes)
            .context("cannot read the value from stdin")?;
        if bytes.len() as u64 > MAX_VALUE_LEN {
            return Err(usage_error(
                format!("the value is longer than {MAX_VALUE_LEN} bytes"),
                None,
            ));
        }
        String::from_utf8(bytes).map_err(|_| usage_error("the value is not UTF-8 text", None))?
    };
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    if value.is_empty() {
        return Err(usage_error(
            "the value is empty",
            Some("type the value at the prompt, or pipe it: printf %s \"$VALUE\" | convoy secrets set NAME"),
        )
        );
    }
    Ok(Secret::new(value))
}

fn format_table(entries: &[crate::security::vault::EntryInfo]) -> String {
    let now = Utc::now();
    let rows: Vec<[String; 4]> = entries
        .iter()
        .map(|e| {
            [
                e.name.clone(),
                e.created.format("%Y-%m-%d %H:%M UTC").to_string(),
                e.rotated.format("%Y-%m-%d %H:%M UTC").to_string(),
                format_age(now - e.rotated),
            ]
        })
        .collect();
    let header = ["NAME", "CREATED", "LAST ROTATED", "AGE"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn format_age(age: chrono::Duration) -> String {
    let secs = age.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// A command-line mistake found after parsing (exit status 2).
fn usage_error(message: impl Into<String>, hint: Option<&str>) -> anyhow::Error {
    crate::error::usage(message.into(), hint.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn ages() {
        assert_eq!(format_age(Duration::seconds(5)), "5s");
        assert_eq!(format_age(Duration::seconds(125)), "2m");
        assert_eq!(format_age(Duration::hours(5)), "5h");
        assert_eq!(format_age(Duration::days(40)), "40d");
        assert_eq!(format_age(Duration::seconds(-3)), "0s");
    }

    #[test]
    fn table_aligns_columns() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let entries = [
            crate::security::vault::EntryInfo {
                name: "a".into(),
                created: t,
                rotated: t,
            },
            crate::security::vault::EntryInfo {
                name: "warehouse_pw".into(),
                created: t,
                rotated: t,
            },
        ];
        let table = format_table(&entries);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("NAME          CREATED"), "{table}");
        assert!(lines[2].starts_with("warehouse_pw  2026-01-02 03:04 UTC  2026-01-02 03:04 UTC"));
    }
}
