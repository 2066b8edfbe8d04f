//! Errors a user can act on, and the one exit-status policy.
//!
//! Inside modules errors are `anyhow::Error` chains with context. Where an error
//! decides the exit status (a usage mistake, a policy refusal, a failed
//! verification, an interruption) the chain carries a [`Failure`] that says so,
//! together with an optional hint. `main` walks the chain once to pick the exit
//! code and prints `error: … / caused by: … / hint: …` through the redactor.
//! The typed errors of the vault, references and sealed values decide their
//! own status too; [`exit_kind`] is the one place any error becomes a
//! status, and [`render`] the one way every command prints one.

use std::fmt;

/// Exit statuses, documented in README and `convoy --help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitKind {
    /// 0: every copy succeeded and was verified.
    Success,
    /// 1: a copy failed; its destination was left as it was before the run.
    Failed,
    /// 2: usage or spec error; nothing was contacted.
    Usage,
    /// 3: refused by policy (TLS, plaintext secret, region, insecure option).
    Policy,
    /// 4: verification failed (counts or checksums differ); nothing was published.
    Verify,
    /// 130: interrupted; the destination was left as it was.
    Interrupted,
}

impl ExitKind {
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Success => 0,
            ExitKind::Failed => 1,
            ExitKind::Usage => 2,
            ExitKind::Policy => 3,
            ExitKind::Verify => 4,
            ExitKind::Interrupted => 130,
        }
    }

    /// When several copies end differently, the run exits with the most
    /// serious status: an interruption first, then refusals, verification
    /// failures, plain failures.
    pub fn severity(self) -> u8 {
        match self {
            ExitKind::Success => 0,
            ExitKind::Failed => 1,
            ExitKind::Verify => 2,
            ExitKind::Usage => 3,
            ExitKind::Policy => 4,
            ExitKind::Interrupted => 5,
        }
    }
}

/// An error that decides the exit status and may carry a hint.
#[derive(Debug)]
pub struct Failure {
    pub kind: ExitKind,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

fn failure(kind: ExitKind, message: impl Into<String>, hint: Option<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        kind,
        message: message.into(),
        hint,
    })
}

/// An error with this exit status and hint.
pub fn with_kind(
    kind: ExitKind,
    message: impl Into<String>,
    hint: Option<String>,
) -> anyhow::Error {
    failure(kind, message, hint)
}

/// A usage or spec mistake (exit 2).
pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> anyhow::Error {
    failure(ExitKind::Usage, message, hint.into())
}

/// A refusal by the security policy (exit 3).
pub fn policy(message: impl Into<String>, hint: impl Into<Option<String>>) -> anyhow::Error {
    failure(ExitKind::Policy, message, hint.into())
}

/// Bad input data or an unusable source/destination (exit 1).
pub fn input(message: impl Into<String>, hint: impl Into<Option<String>>) -> anyhow::Error {
    failure(ExitKind::Failed, message, hint.into())
}

/// Verification failed before publishing (exit 4).
pub fn verify(message: impl Into<String>) -> anyhow::Error {
    failure(ExitKind::Verify, message, None)
}

/// The run was cancelled by Ctrl-C or SIGTERM (exit 130).
pub fn interrupted() -> anyhow::Error {
    failure(
        ExitKind::Interrupted,
        "interrupted; the destination was left as it was",
        None,
    )
}

/// What the last panic said and where, kept by [`install_panic_hook`] so
/// the error of the copy it ended can say it.
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Replace Rust's panic message with one that says this is a bug in convoy
/// and how to report it; the place and message are also kept for the copy's
/// error ([`bug`]). Panics are caught around each copy (see `run::run_copy`),
/// so a bug ends that copy with exit status 1 and its destination untouched.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let text = crate::security::redact::redact(&format!("{what}{place}"));
        eprintln!("convoy: internal error (a bug in convoy): {text}");
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
    }));
}

/// A bug in convoy ended `what` (a panic, caught): exit status 1, with the
/// panic's message and a request to report it.
pub fn bug(what: &str) -> anyhow::Error {
    let panic = LAST_PANIC
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .map(|p| format!(": {p}"))
        .unwrap_or_default();
    failure(
        ExitKind::Failed,
        format!("internal error (a bug in convoy) in {what}{panic}"),
        Some(
            "the destination was left as it was; please report this bug to the convoy maintainers with the command you ran and this message"
                .to_string(),
        ),
    )
}

/// The exit status and hint of one error in a chain, when it decides them:
/// a [`Failure`], or one of the typed errors of the security module.
fn classify(e: &(dyn std::error::Error + 'static)) -> Option<(ExitKind, Option<String>)> {
    use crate::security::{reference::ReferenceError, sealed::SealError, vault::VaultError};
    if let Some(f) = e.downcast_ref::<Failure>() {
        return Some((f.kind, f.hint.clone()));
    }
    if let Some(e) = e.downcast_ref::<VaultError>() {
        return Some((e.exit_kind(), e.hint()));
    }
    if let Some(e) = e.downcast_ref::<ReferenceError>() {
        return Some((e.exit_kind(), e.hint()));
    }
    if let Some(e) = e.downcast_ref::<SealError>() {
        return Some((e.exit_kind(), e.hint()));
    }
    if e.downcast_ref::<crate::security::InvalidName>().is_some() {
        return Some((ExitKind::Usage, None));
    }
    None
}

/// The exit status an error maps to: that of the first error in its chain
/// that decides one, else 1. The one place errors become exit statuses.
pub fn exit_kind(err: &anyhow::Error) -> ExitKind {
    err.chain()
        .find_map(classify)
        .map_or(ExitKind::Failed, |(kind, _)| kind)
}

/// The first hint in the chain.
pub fn hint(err: &anyhow::Error) -> Option<String> {
    err.chain().find_map(|e| classify(e).and_then(|(_, h)| h))
}

/// The error's message and its causes, outermost first, each through the redactor.
pub fn messages(err: &anyhow::Error) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = crate::security::redact::redact(&cause.to_string());
        // anyhow chains often repeat the inner message in the outer one.
        if out.last().is_some_and(|last| last.contains(&text)) {
            continue;
        }
        out.push(text);
    }
    out
}

/// `error: …`, `  caused by: …`, `  hint: …`, ready for stderr.
pub fn render(err: &anyhow::Error) -> String {
    let msgs = messages(err);
    let mut out = String::new();
    for (i, m) in msgs.iter().enumerate() {
        if i == 0 {
            out.push_str(&format!("error: {m}\n"));
        } else {
            out.push_str(&format!("  caused by: {m}\n"));
        }
    }
    if let Some(h) = hint(err) {
        out.push_str(&format!(
            "  hint: {}\n",
            crate::security::redact::redact(&h)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_kind_found_under_context() {
        let err = Err::<(), _>(policy("plaintext refused", "use TLS".to_string()))
            .context("opening source")
            .unwrap_err();
        assert_eq!(exit_kind(&err), ExitKind::Policy);
        assert_eq!(hint(&err).as_deref(), Some("use TLS"));
        let text = render(&err);
        assert!(text.starts_with("error: opening source\n"), "{text}");
        assert!(text.contains("caused by: plaintext refused"), "{text}");
        assert!(text.contains("hint: use TLS"), "{text}");
    }

    #[test]
    fn plain_errors_are_failures() {
        let err = anyhow::anyhow!("disk full");
        assert_eq!(exit_kind(&err), ExitKind::Failed);
        assert_eq!(hint(&err), None);
    }
}
