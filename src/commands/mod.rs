//! One module per command family; each exposes a clap type and a `run` function. This module
//! also turns an error into what the user sees (`error:` / `caused by:` / `hint:`, every line
//! through the redactor) and into the exit status.

pub mod secrets;

use crate::security::redact::redact;
use crate::security::reference::ReferenceError;
use crate::security::sealed::SealError;
use crate::security::vault::VaultError;
use crate::security::{InvalidName, EXIT_FAILURE, EXIT_USAGE};

/// A command-line mistake found after parsing (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub hint: Option<String>,
}

impl UsageError {
    pub fn new(message: impl Into<String>, hint: Option<&str>) -> UsageError {
        UsageError {
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }
}

/// The hint and exit status of the first error in the chain that knows them.
fn classify(err: &anyhow::Error) -> (Option<String>, i32) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<VaultError>() {
            return (e.hint(), e.exit_code());
        }
        if let Some(e) = cause.downcast_ref::<ReferenceError>() {
            return (e.hint(), e.exit_code());
        }
        if let Some(e) = cause.downcast_ref::<SealError>() {
            return (e.hint(), e.exit_code());
        }
        if let Some(e) = cause.downcast_ref::<UsageError>() {
            return (e.hint.clone(), EXIT_USAGE);
        }
        if cause.downcast_ref::<InvalidName>().is_some() {
            return (None, EXIT_USAGE);
        }
    }
    (None, EXIT_FAILURE)
}

/// Prints `err` on stderr and returns the exit status for it.
pub fn report(err: &anyhow::Error) -> i32 {
    let (hint, code) = classify(err);
    eprintln!("error: {}", redact(&err.to_string()));
    for cause in err.chain().skip(1) {
        eprintln!("caused by: {}", redact(&cause.to_string()));
    }
    if let Some(hint) = hint {
        eprintln!("hint: {}", redact(&hint));
    }
    code
}
