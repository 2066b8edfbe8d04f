//! The one filter every error, log line, plan and report passes through before it is printed.
//!
//! It removes, in this order:
//! - every value registered with [`register`] (each [`Secret`](super::Secret) registers itself),
//!   also in its percent-encoded form, as it would appear inside a URL;
//! - the password of a URL (`scheme://user:PASSWORD@host`);
//! - `Authorization:` header values and `Bearer …` / `Basic …` credentials;
//! - the value of any `name=value` pair (query string, connection string) and any
//!   `"name": "value"` / `name = "value"` pair whose name looks sensitive: `sig`, `key`, or a
//!   name containing token, signature, credential, password, passwd, pwd, secret or ending in
//!   `key` (case-insensitive, ignoring `-`, `_` and `.`: `X-Amz-Signature`, `access_token`,
//!   `AccountKey`, …). Values that are themselves `${…}` references are kept: they name a
//!   secret, they are not one.
//!
//! Over-redacting an innocent word is accepted; leaking a credential is not. The patterns are
//! compiled once and the registered values are few, so the cost per line is a few linear scans.

use std::sync::{LazyLock, RwLock};

use regex::{Captures, Regex};
use zeroize::Zeroizing;

use super::secret::REDACTED;

/// Values shorter than this are not registered: they would scrub ordinary words and numbers.
pub const MIN_REGISTERED_LEN: usize = 4;

/// Registered values, longest first so that a value containing another is removed whole.
static VALUES: RwLock<Vec<Zeroizing<String>>> = RwLock::new(Vec::new());

/// Remembers `value` so that [`redact`] removes it from all later output.
pub fn register(value: &str) {
    if value.chars().count() < MIN_REGISTERED_LEN {
        return;
    }
    let mut values = VALUES.write().unwrap_or_else(|e| e.into_inner());
    for form in [value.to_string(), percent_encode(value)] {
        if !values.iter().any(|v| v.as_str() == form) {
            values.push(Zeroizing::new(form));
        }
    }
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// `text` with every secret removed (see the module documentation for what counts).
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    {
        let values = VALUES.read().unwrap_or_else(|e| e.into_inner());
        for v in values.iter() {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
    }
    if out.contains("://") {
        out = redact_url_passwords(&out);
    }
    out = AUTH_HEADER
        .replace_all(&out, |c: &Captures| {
            let quote = c.get(3).map_or("", |m| m.as_str());
            let rest = &c[4];
            // A quoted header value ends at its closing quote; anything after it is kept.
            let tail = match quote.chars().next() {
                Some(q) => rest.find(q).map_or("", |i| &rest[i..]),
                None => "",
            };
            format!("{}{}{quote}{REDACTED}{tail}", &c[1], &c[2])
        })
        .into_owned();
    out = SCHEME_TOKEN
        .replace_all(&out, |c: &Captures| {
            if &c[2] == REDACTED {
                c[0].to_string()
            } else {
                format!("{}{REDACTED}", &c[1])
            }
        })
        .into_owned();
    if out.contains('=') {
        out = PAIR
            .replace_all(&out, |c: &Captures| {
                if is_sensitive_name(&c[2]) && !c[3].is_empty() && !c[3].starts_with("${") {
                    format!("{}{}={REDACTED}", &c[1], &c[2])
                } else {
                    c[0].to_string()
                }
            })
            .into_owned();
    }
    if out.contains('"') {
        out = QUOTED_PAIR
            .replace_all(&out, |c: &Captures| {
                let value = &c["value"];
                if is_sensitive_name(&c["name"]) && !value.starts_with("${") && !value.is_empty() {
                    format!("{}{REDACTED}\"", &c["head"])
                } else {
                    c[0].to_string()
                }
            })
            .into_owned();
    }
    out
}

/// Whether a parameter or field named `name` carries a credential.
pub fn is_sensitive_name(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    n == "sig"
        || n == "auth"
        || n.ends_with("key")
        || [
            "token",
            "signature",
            "credential",
            "password",
            "passwd",
            "pwd",
            "secret",
            "authorization",
        ]
        .iter()
        .any(|w| n.contains(w))
}

/// `Authorization: …` (also `Proxy-Authorization`, `"authorization": "…"`, `authorization=`).
static AUTH_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(\b(?:proxy-)?authorization)(["']?\s*[:=]\s*)(["']?)([^\r\n]*)"#)
        .expect("valid pattern")
});

/// `Bearer <token>` / `Basic <base64>` outside a header line (8+ characters, so prose such
/// as "basic auth" survives).
static SCHEME_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\b(?:bearer|basic)\s+)([A-Za-z0-9\-._~+/]{8,}=*|\[redacted\])")
        .expect("valid pattern")
});

/// `name=value` in a query string or a connection string.
static PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(^|[?&;\s,(\[{])([A-Za-z][A-Za-z0-9_.\-]*)=([^&;\s"'<>]*)"#)
        .expect("valid pattern")
});

/// `"name": "value"` (JSON) and `name = "value"` (TOML).
static QUOTED_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?P<head>(?:^|[^A-Za-z0-9_.\-])"?(?P<name>[A-Za-z][A-Za-z0-9_.\-]*)"?\s*[:=]\s*")(?P<value>(?:[^"\\]|\\.)*)""#,
    )
        .expect("valid pattern")
});

/// Replaces the password of every `scheme://user:password@host` in `text`.
fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(tail.len());
        let token = &tail[..end];
        match url_password(token) {
            Some((colon, at)) => {
                out.push_str(&token[..=colon]);
                out.push_str(REDACTED);
                out.push_str(&token[at..]);
            }
            None => out.push_str(token),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Where the password of a URL is, in the text after `scheme://`: the
/// positions of the `:` before it and the `@` after it. The user part ends
/// at the *last* `@`, so a password holding `@`, `/`, `?` or `#` (unencoded,
/// as people paste them) is found whole; a `:` that starts a port
/// (`host:5432/…`) or comes after the path has begun is not a password.
/// Erring towards finding one is intended: a URL with a password is refused
/// and redacted, never printed.
pub fn url_password(after_scheme: &str) -> Option<(usize, usize)> {
    let at = after_scheme.rfind('@')?;
    let user = &after_scheme[..at];
    let colon = user.find(':')?;
    if user[..colon].contains(['/', '?', '#']) || colon + 1 == at {
        return None;
    }
    let after = &user[colon + 1..];
    let digits = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    if digits > 0 && after[digits..].starts_with(['/', '?', '#']) {
        // `host:port/path…` with an `@` further on, in the path or query.
        return None;
    }
    Some((colon, at))
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_removed_everywhere() {
        register("canary-R3d4ct-me");
        let text = "login failed for canary-R3d4ct-me; retried with canary-R3d4ct-me";
        assert_eq!(
            redact(text),
            "login failed for [redacted]; retried with [redacted]"
        );
    }

    #[test]
    fn percent_encoded_form_of_a_registered_value_is_removed() {
        register("p@ss word/x");
        let out = redact("GET https://h/x?q=p%40ss%20word%2Fx done");
        assert!(!out.contains("p%40ss%20word%2Fx"), "{out}");
    }

    #[test]
    fn longer_value_is_removed_whole_when_it_contains_a_shorter_one() {
        register("overlap");
        register("overlap-and-more");
        assert_eq!(redact("x overlap-and-more y"), "x [redacted] y");
    }

    #[test]
    fn url_passwords() {
        let cases = [
            (
                "connect postgres://loader:s3cr3t@db.corp:5432/sales failed",
                "connect postgres://loader:[redacted]@db.corp:5432/sales failed",
            ),
            (
                "mssql://sa:p@ss:w/rd@host/db?table=t",
                "mssql://sa:[redacted]@host/db?table=t",
            ),
            ("\"https://u:pw@h\"", "\"https://u:[redacted]@h\""),
            (
                "no password: postgres://loader@db/sales",
                "no password: postgres://loader@db/sales",
            ),
            ("s3://bucket/a@b/c", "s3://bucket/a@b/c"),
            (
                "postgres://loader:Xy/9kP@db:5432/sales?table=public.t",
                "postgres://loader:[redacted]@db:5432/sales?table=public.t",
            ),
            ("postgres://u:ab?cd#e@h/db", "postgres://u:[redacted]@h/db"),
            (
                "s3://AKIAEXAMPLE:wJalrXUtn/FEMIK7MDENG@lake/raw/x.parquet",
                "s3://AKIAEXAMPLE:[redacted]@lake/raw/x.parquet",
            ),
            (
                "postgres://h:5432/db?query=select%20a:b@c",
                "postgres://h:5432/db?query=select%20a:b@c",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn signed_url_parameters() {
        let sas = "https://acct.blob.core.windows.net/c/f.parquet?sv=2022-11-02&se=2030-01-01&sr=b&sp=r&sig=AbC%2Bdef%3D";
        assert_eq!(
            redact(sas),
            "https://acct.blob.core.windows.net/c/f.parquet?sv=2022-11-02&se=2030-01-01&sr=b&sp=r&sig=[redacted]"
        );
        let s3 = "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAX%2F20260101&X-Amz-Security-Token=FQoG&X-Amz-Signature=deadbeef&x-amz-date=20260101";
        let out = redact(s3);
        for leaked in ["AKIAX", "FQoG", "deadbeef"] {
            assert!(!out.contains(leaked), "{out}");
        }
        assert!(out.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"), "{out}");
        assert!(out.contains("x-amz-date=20260101"), "{out}");
        let misc = "https://h/p?ACCESS_TOKEN=t0k&api_key=k3y&page=2";
        assert_eq!(
            redact(misc),
            "https://h/p?ACCESS_TOKEN=[redacted]&api_key=[redacted]&page=2"
        );
    }

    #[test]
    fn connection_string_pairs() {
        let ado = "Server=tcp:h,1433;User ID=sa;Password=Hunter22;Encrypt=true";
        assert_eq!(
            redact(ado),
            "Server=tcp:h,1433;User ID=sa;Password=[redacted];Encrypt=true"
        );
        let az = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=QUJD==;";
        assert_eq!(
            redact(az),
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=[redacted];"
        );
        assert_eq!(
            redact("host=db password=xyz123 user=u"),
            "host=db password=[redacted] user=u"
        );
    }

    #[test]
    fn quoted_pairs_but_not_references() {
        assert_eq!(
            redact(r#"{"user": "u", "password": "pw\"x", "n": 1}"#),
            r#"{"user": "u", "password": "[redacted]", "n": 1}"#
        );
        assert_eq!(
            redact(r#"password = "plain-literal""#),
            r#"password = "[redacted]""#
        );
        assert_eq!(
            redact(r#"password = "${secret:warehouse_pw}""#),
            r#"password = "${secret:warehouse_pw}""#
        );
    }

    #[test]
    fn authorization_headers_and_bearer_tokens() {
        assert_eq!(
            redact("Authorization: Bearer eyJhbGciOi.J9.sig"),
            "Authorization: [redacted]"
        );
        assert_eq!(
            redact("proxy-authorization: Basic dXNlcjpwYXNz"),
            "proxy-authorization: [redacted]"
        );
        assert_eq!(
            redact(
                r#"headers: {"authorization": "AWS4-HMAC-SHA256 Credential=x, Signature=y", "host": "h"}"#
            ),
            r#"headers: {"authorization": "[redacted]", "host": "h"}"#
        );
        assert_eq!(
            redact("sent bearer abcdefgh12345678 to server"),
            "sent bearer [redacted] to server"
        );
        assert_eq!(
            redact("basic auth is not supported"),
            "basic auth is not supported"
        );
    }

    #[test]
    fn innocent_text_is_unchanged() {
        for text in [
            "copy[2].to.connection: no connection named \"laek\" (did you mean \"lake\"?)",
            "wrote 1200 rows to s3://lake-eu/raw/orders/part-0.parquet",
            "mode=replace table=public.orders",
            "",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn sensitive_names() {
        for n in [
            "sig",
            "SIG",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
            "token",
            "access_token",
            "Password",
            "pwd",
            "AccountKey",
            "key",
            "client_secret",
        ] {
            assert!(is_sensitive_name(n), "{n}");
        }
        for n in [
            "sv",
            "se",
            "sp",
            "sr",
            "table",
            "mode",
            "user",
            "X-Amz-Date",
            "page",
        ] {
            assert!(!is_sensitive_name(n), "{n}");
        }
    }

    #[test]
    fn a_long_line_is_fast() {
        let line = "row 17: value out of range; ".repeat(2000);
        let start = std::time::Instant::now();
        for _ in 0..10 {
            assert_eq!(redact(&line), line);
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}
