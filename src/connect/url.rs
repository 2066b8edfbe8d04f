//! Command-line locations: `scheme://…` URLs, split once for every kind.
//!
//! A password in a URL is refused (exit 3) before anything else reads the
//! URL: command lines are visible to every user of the machine and kept in
//! shell history. People paste passwords unencoded, so the password is found
//! by `security::redact::url_password` (the user part ends at the last `@`),
//! not by a URL parser, which would read `loader:Xy/9kP@db` as the host
//! `loader` with the port `Xy`. The message names the scheme and the host,
//! never any part of the user part.
//!
//! The authority is then parsed by the `url` crate (user, host, port); what
//! follows it is kept as written, since object keys and globs are not URL
//! paths (`?` is a glob character there). Database kinds read the database
//! from the path and their parameters from the query string
//! ([`Url::database`], [`Url::query`]).

use anyhow::Result;

use crate::error;

/// A command-line URL without a password.
#[derive(Debug, Clone)]
pub struct Url {
    /// Lower case: `postgres`, `s3`, `abfss`, …
    pub scheme: String,
    /// The user part, decoded (`loader`; an Azure container in `abfss://`).
    pub user: Option<String>,
    /// The host, decoded, without IPv6 brackets; may be empty.
    pub host: String,
    pub port: Option<u16>,
    /// Everything after the authority, as written, without the leading `/`.
    pub rest: String,
}

/// `scheme://…` → the scheme and what follows, when `text` is a URL.
pub fn split_scheme(text: &str) -> Option<(String, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then(|| (scheme.to_ascii_lowercase(), rest))
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Url {
    /// Parse `text`, refusing a password (exit 3) before anything else.
    /// `arg` names the argument in messages (`SRC`). `path_is_a_name`: the
    /// path of this kind's URLs names a database, which holds no `@`, so
    /// `user:5432/x@host/db` is a password of digits and a slash, not the
    /// port 5432 and a database named `x@host/db`.
    pub fn parse(text: &str, arg: &str, path_is_a_name: bool) -> Result<Url> {
        let (scheme, after) =
            split_scheme(text).ok_or_else(|| error::usage(format!("{arg}: not a URL"), None))?;
        let password = crate::security::redact::url_password(after).or_else(|| {
            let at = after.rfind('@')?;
            let before = &after[..at];
            // An `@` in the path of a database URL, before its query.
            (path_is_a_name && before.contains(':') && !before.contains(['?', '#']))
                .then_some((0, at))
        });
        if let Some((_, at)) = password {
            let host = after[at + 1..]
                .split(['/', '?', '#'])
                .next()
                .unwrap_or_default();
            return Err(error::policy(
                format!(
                    "{arg}: the {scheme}:// URL for {host} carries a password; convoy never takes credentials from a URL or the command line (they are visible to other users and kept in shell history)"
                ),
                Some(
                    "remove it from the URL; give it through the environment (PGPASSWORD, MSSQL_PASSWORD, AWS_*, AZURE_STORAGE_*, GOOGLE_*) or a spec with ${secret:…}"
                        .to_string(),
                ),
            ));
        }
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        let rest = rest.strip_prefix('/').unwrap_or(rest).to_string();
        let bad = |m: String| error::usage(format!("{arg}: {m}"), None);
        // A stand-in scheme: the `url` crate reads the authority of any
        // scheme the same way, but `s3`, `az` … with their own host rules.
        let parsed = url::Url::parse(&format!("convoy://{authority}")).map_err(|e| {
            bad(format!(
                "cannot read the host and port of {scheme}://{authority}: {e}"
            ))
        })?;
        if parsed.password().is_some() {
            return Err(error::policy(
                format!("{arg}: the {scheme}:// URL carries a password"),
                None,
            ));
        }
        let user = (!parsed.username().is_empty()).then(|| decode(parsed.username()));
        let host = decode(parsed.host_str().unwrap_or_default());
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map(str::to_string)
            .unwrap_or(host);
        Ok(Url {
            scheme,
            user,
            host,
            port: parsed.port(),
            rest,
        })
    }

    /// The path before any `?`, decoded: a database name.
    pub fn database(&self) -> Option<String> {
        let path = self.rest.split(['?', '#']).next().unwrap_or_default();
        (!path.is_empty()).then(|| decode(path))
    }

    /// The query string's parameters, decoded (`+` is a space).
    pub fn query(&self) -> Vec<(String, String)> {
        let Some((_, q)) = self.rest.split_once('?') else {
            return Vec::new();
        };
        let q = q.split('#').next().unwrap_or_default();
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// `host[:port]` as written for messages.
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) if self.host.contains(':') => format!("[{}]:{p}", self.host),
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{exit_kind, render, ExitKind};

    #[test]
    fn passwords_are_refused_even_with_slashes_and_question_marks() {
        let e = Url::parse("postgres://loader:5432/9kPw@db:5432/sales", "SRC", true).unwrap_err();
        assert_eq!(exit_kind(&e), ExitKind::Policy);
        assert!(!render(&e).contains("9kPw"));
        // Object keys may hold `@`.
        let u = Url::parse("https://h:8443/@scope/x.csv", "SRC", false).unwrap();
        assert_eq!(u.rest, "@scope/x.csv");
        for (text, secret) in [
            (
                "postgres://loader:Xy/9kP@db:5432/sales?table=public.t",
                "Xy/9kP",
            ),
            ("postgres://u:ab?cd@h/db", "ab?cd"),
            ("mssql://sa:p@ss:w/rd@host/db?table=t", "p@ss:w/rd"),
            (
                "s3://AKIAEXAMPLE:wJalrXUtn/FEMIK7MDENG@lake/raw/x.parquet",
                "FEMIK7MDENG",
            ),
            ("https://u:pw%40x@h/f.csv", "pw%40x"),
            ("postgres://u:5432@h/db", "5432@"),
        ] {
            let e = Url::parse(text, "SRC", false).unwrap_err();
            assert_eq!(exit_kind(&e), ExitKind::Policy, "{text}");
            let shown = render(&e);
            assert!(!shown.contains(secret), "{text}: {shown}");
        }
    }

    #[test]
    fn authority_and_rest() {
        let u = Url::parse(
            "postgres://loader@db.corp:5433/sa%20les?table=public.t&x=a+b",
            "SRC",
            true,
        )
        .unwrap();
        assert_eq!(u.user.as_deref(), Some("loader"));
        assert_eq!((u.host.as_str(), u.port), ("db.corp", Some(5433)));
        assert_eq!(u.database().as_deref(), Some("sa les"));
        assert_eq!(
            u.query(),
            vec![
                ("table".to_string(), "public.t".to_string()),
                ("x".to_string(), "a b".to_string())
            ]
        );
        let u = Url::parse("postgres://h:5432/db?query=select%20'a:b@c'", "SRC", true).unwrap();
        assert_eq!(u.query()[0].1, "select 'a:b@c'");
        let u = Url::parse("s3://lake/raw/file?.csv", "SRC", false).unwrap();
        assert_eq!(
            (u.host.as_str(), u.rest.as_str()),
            ("lake", "raw/file?.csv")
        );
        let u = Url::parse(
            "abfss://raw@lakeprod.dfs.core.windows.net/o/*.csv",
            "SRC",
            false,
        )
        .unwrap();
        assert_eq!(u.user.as_deref(), Some("raw"));
        assert_eq!(u.host, "lakeprod.dfs.core.windows.net");
        let u = Url::parse("postgres://u@[::1]:5432/db", "SRC", true).unwrap();
        assert_eq!(u.host, "::1");
        let e = Url::parse("postgres://u@h:x/db", "SRC", true).unwrap_err();
        assert_eq!(exit_kind(&e), ExitKind::Usage);
    }
}
