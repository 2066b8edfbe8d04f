//! Typed reading of a connection's settings, every problem collected.
//!
//! A connector describes its settings by reading them through [`Fields`]:
//! `host` is a string, `port` a port number, `password` a secret reference,
//! `tls` the one TLS table every kind shares. Each read checks the type,
//! and [`Fields::finish`] reports the keys nobody read, with a "did you
//! mean". Nothing stops at the first problem: they all go into
//! [`Problems`], so a spec is fixed in one pass, and all of this happens
//! before anything is contacted.
//!
//! Credentials are read with [`Fields::secret`]: a literal value is not an
//! error of form but a refusal by policy (exit 3), collected apart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

use super::{suggest, SpecError};
use crate::security::reference::{is_reference, SecretRef};
use crate::security::tls::{TlsMode, TlsSettings};

/// Everything wrong with the settings read so far.
#[derive(Debug, Default)]
pub struct Problems {
    /// Mistakes of form (exit 2).
    pub errors: Vec<SpecError>,
    /// Settings refused by the security policy (exit 3): a literal
    /// credential, encryption switched off; each with what to do instead.
    pub refusals: Vec<(SpecError, String)>,
}

impl Problems {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(SpecError {
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn refuse(&mut self, path: String, message: impl Into<String>, hint: impl Into<String>) {
        self.refusals.push((
            SpecError {
                path,
                message: message.into(),
            },
            hint.into(),
        ));
    }
}

/// The settings of one table (a connection, or a table inside one).
pub struct Fields<'a> {
    path: String,
    table: &'a Table,
    read: Vec<String>,
    problems: &'a mut Problems,
    base_dir: &'a Path,
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// How long a connection waits on the network, read from
/// `timeout = { connect = "30s", idle = "2m" }` by [`Fields::timeouts`]: the
/// one setting every connection kind that talks to a network shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Reaching the server and logging in: TCP connect, TLS handshake and
    /// the login (for a database), or the TCP and TLS handshake of each HTTP
    /// connection (for an object store).
    pub connect: Duration,
    /// The longest silence on an open connection while convoy waits for
    /// data: no byte of a data stream, data the server does not take, an
    /// HTTP request without its answer. Also the bound on waiting for a
    /// lock another database session holds.
    pub idle: Duration,
}

impl Timeouts {
    /// Defaults for unattended runs: long enough for a slow login or a
    /// server under load, short enough that a hung peer fails a nightly
    /// job within minutes instead of holding it (and its locks) for hours.
    pub const DEFAULT: Timeouts = Timeouts {
        connect: Duration::from_secs(30),
        idle: Duration::from_secs(120),
    };

    /// TCP keepalive: the first probe after half the idle timeout, then
    /// three more `idle / 6` apart, so a peer that vanished while a server
    /// works on a statement (and sends nothing) is noticed after about
    /// `idle`. Returns (time, interval, retries).
    pub fn keepalive(&self) -> (Duration, Duration, u32) {
        let time = (self.idle / 2).max(Duration::from_secs(1));
        let interval = (self.idle / 6).max(Duration::from_secs(1));
        (time, interval, 3)
    }
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts::DEFAULT
    }
}

/// Seconds for messages: `30 s`, `1.5 s`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// `30s`, `500ms`, `2m`, `1h`, `7d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

impl<'a> Fields<'a> {
    /// `path` names the table in messages (`connections.db`); relative paths
    /// in it resolve against `base_dir`.
    pub fn new(
        path: impl Into<String>,
        table: &'a Table,
        base_dir: &'a Path,
        problems: &'a mut Problems,
    ) -> Fields<'a> {
        Fields {
            path: path.into(),
            table,
            read: Vec::new(),
            problems,
            base_dir,
        }
    }

    /// The path of a key of this table, for messages.
    pub fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn base_dir(&self) -> &Path {
        self.base_dir
    }

    /// Report a problem with `key`.
    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        let path = self.field(key);
        self.problems.push(path, message);
    }

    /// Refuse `key` on security grounds (exit 3), saying what to do instead.
    pub fn refuse(&mut self, key: &str, message: impl Into<String>, hint: impl Into<String>) {
        let path = self.field(key);
        self.problems.refuse(path, message, hint);
    }

    /// The value of `key`, without checking its type (for settings whose
    /// parser lives with the connector); the key counts as known.
    pub fn raw(&mut self, key: &str) -> Option<&'a Value> {
        self.get(key)
    }

    fn get(&mut self, key: &str) -> Option<&'a Value> {
        if !self.read.iter().any(|k| k == key) {
            self.read.push(key.to_string());
        }
        self.table.get(key)
    }

    /// Whether the table has `key` (the key counts as known).
    pub fn has(&mut self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn wrong(&mut self, key: &str, expected: &str, found: &Value) {
        self.problem(
            key,
            format!("expected {expected}, found {}", type_name(found)),
        );
    }

    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong(key, "a string", other);
                None
            }
        }
    }

    /// A string that must be there; `what` says what it is for.
    pub fn required(&mut self, key: &str, what: &str) -> Option<String> {
        if self.table.get(key).is_none() {
            self.problem(key, format!("missing ({what})"));
            self.get(key);
            return None;
        }
        self.string(key).filter(|s| {
            !s.is_empty() || {
                self.problem(key, format!("must not be empty ({what})"));
                false
            }
        })
    }

    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Boolean(b) => Some(*b),
            other => {
                self.wrong(key, "true or false", other);
                None
            }
        }
    }

    pub fn integer(&mut self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Integer(i) => Some(*i),
            other => {
                self.wrong(key, "an integer", other);
                None
            }
        }
    }

    /// A TCP port, 1 to 65535.
    pub fn port(&mut self, key: &str) -> Option<u16> {
        let v = self.get(key)?;
        match v {
            Value::Integer(p) if (1..=65535).contains(p) => Some(*p as u16),
            Value::Integer(p) => {
                self.problem(key, format!("{p} is not a port (1 to 65535)"));
                None
            }
            other => {
                self.wrong(key, "a port number (1 to 65535)", other);
                None
            }
        }
    }

    /// A duration: `"30s"`, `"500ms"`, `"2m"`, or a whole number of seconds.
    pub fn duration(&mut self, key: &str) -> Option<Duration> {
        match self.get(key)? {
            Value::Integer(s) if *s > 0 => Some(Duration::from_secs(*s as u64)),
            Value::String(s) => match parse_duration(s) {
                Some(d) if !d.is_zero() => Some(d),
                _ => {
                    self.problem(
                        key,
                        format!("{s:?} is not a duration (e.g. \"30s\", \"500ms\", \"2m\")"),
                    );
                    None
                }
            },
            other => {
                self.wrong(key, "a duration such as \"30s\"", other);
                None
            }
        }
    }

    /// `timeout = { connect = "…", idle = "…" }`: see [`Timeouts`]; what
    /// the table leaves out keeps its default.
    pub fn timeouts(&mut self) -> Timeouts {
        let mut out = Timeouts::DEFAULT;
        let Some(mut t) = self.table("timeout", "{ connect = \"30s\", idle = \"2m\" }") else {
            return out;
        };
        if let Some(d) = t.duration("connect") {
            out.connect = d;
        }
        if let Some(d) = t.duration("idle") {
            out.idle = d;
        }
        t.finish();
        out
    }

    /// One of `allowed`, with a "did you mean" otherwise.
    pub fn one_of(&mut self, key: &str, allowed: &[&str]) -> Option<String> {
        let v = self.string(key)?;
        if allowed.contains(&v.as_str()) {
            return Some(v);
        }
        let hint = suggest(&v, allowed.iter().copied())
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_else(|| format!(" (expected one of: {})", allowed.join(", ")));
        self.problem(key, format!("unknown value {v:?}{hint}"));
        None
    }

    /// A path, relative to the spec's directory unless absolute.
    pub fn path(&mut self, key: &str) -> Option<PathBuf> {
        let p = self.string(key)?;
        let p = Path::new(&p);
        Some(if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        })
    }

    /// A credential: always a `${…}` reference. A literal is refused by
    /// policy (exit 3): secrets come from the vault, the environment, a file
    /// or a sealed value, never from a spec in plain text.
    pub fn secret(&mut self, key: &str) -> Option<SecretRef> {
        let text = self.string(key)?;
        let field = self.field(key);
        if !is_reference(&text) {
            // `convoy secrets set db_password` for `connections.db.password`.
            let name = field
                .strip_prefix("connections.")
                .unwrap_or(&field)
                .replace('.', "_");
            self.problems.refuse(
                field,
                "a literal credential is not allowed in a spec",
                format!(
                    "store it in the vault with `convoy secrets set {name}` and write {key} = \"${{secret:{name}}}\" (or ${{env:NAME}}, ${{file:PATH}}, ${{sealed:…}})"
                ),
            );
            return None;
        }
        Some(SecretRef::reference(text, field))
    }

    /// A value that is not secret by itself but may come from a reference
    /// (an access key id).
    pub fn plain_or_secret(&mut self, key: &str) -> Option<SecretRef> {
        let text = self.string(key)?;
        let field = self.field(key);
        Some(if is_reference(&text) {
            SecretRef::reference(text, field)
        } else {
            SecretRef::literal(text)
        })
    }

    /// A table inside this one: read it with the returned [`Fields`] and
    /// [`Fields::finish`] it.
    pub fn table(&mut self, key: &str, example: &str) -> Option<Fields<'_>> {
        let path = self.field(key);
        match self.get(key)? {
            Value::Table(t) => Some(Fields {
                path,
                table: t,
                read: Vec::new(),
                problems: self.problems,
                base_dir: self.base_dir,
            }),
            other => {
                let found = type_name(other);
                self.problem(
                    key,
                    format!("expected a table such as {example}, found {found}"),
                );
                None
            }
        }
    }

    /// `tls = { mode, ca_file, pin_sha256 }`: the one TLS setting of every
    /// kind. `refused` lists the modes this kind cannot do, each with what to
    /// do instead; `pin` is `Err(why)` when the kind cannot pin a key.
    pub fn tls(&mut self, refused: &[(TlsMode, &str)], pin: Result<(), &str>) -> TlsSettings {
        let mut out = TlsSettings::default();
        let Some(mut t) = self.table("tls", "{ ca_file = \"ca.pem\" }") else {
            return out;
        };
        // Read when connecting: a plan is often made on another machine
        // than the one that holds the file.
        out.ca_file = t.path("ca_file");
        if let Some(p) = t.string("pin_sha256") {
            match (crate::security::tls::parse_pin(&p), pin) {
                (_, Err(why)) => t.problem("pin_sha256", why.to_string()),
                (Err(e), Ok(())) => t.problem("pin_sha256", e),
                (Ok(_), Ok(())) => out.pin_sha256 = Some(p),
            }
        }
        let names: Vec<&str> = TlsMode::ALL.iter().map(|m| m.name()).collect();
        if let Some(m) = t.one_of("mode", &names) {
            let mode = TlsMode::ALL
                .iter()
                .copied()
                .find(|x| x.name() == m)
                .unwrap_or_default();
            match refused.iter().find(|(r, _)| *r == mode) {
                Some((_, instead)) => t.problem(
                    "mode",
                    format!(
                        "mode \"{m}\" ({}) is not available here: {instead}",
                        mode.meaning()
                    ),
                ),
                None => out.mode = mode,
            }
        }
        if out.mode != TlsMode::VerifyFull && (out.ca_file.is_some() || out.pin_sha256.is_some()) {
            t.problem(
                "mode",
                format!(
                    "mode \"{}\" checks no certificate; ca_file and pin_sha256 apply to \"verify-full\"",
                    out.mode.name()
                ),
            );
        }
        t.finish();
        out
    }

    /// Report every key that was not read, with a "did you mean".
    pub fn finish(self) {
        let known: Vec<&str> = self.read.iter().map(String::as_str).collect();
        for key in self.table.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            let hint = match suggest(key, known.iter().copied()) {
                Some(s) => format!(" (did you mean \"{s}\"?)"),
                None => format!(" (expected one of: {})", known.join(", ")),
            };
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            self.problems.push(path, format!("unknown key{hint}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, f: impl FnOnce(&mut Fields)) -> Problems {
        let table: Table = text.parse().unwrap();
        let mut problems = Problems::default();
        let mut fields = Fields::new("connections.c", &table, Path::new("/spec"), &mut problems);
        f(&mut fields);
        fields.finish();
        problems
    }

    fn messages(p: &Problems) -> Vec<String> {
        p.errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn every_problem_is_collected_with_its_path() {
        let p = read("host = 1\nport = \"x\"\nprot = 5\n", |f| {
            assert_eq!(f.string("host"), None);
            assert_eq!(f.port("port"), None);
        });
        let m = messages(&p);
        assert!(m.contains(&"connections.c.host: expected a string, found an integer".into()));
        assert!(m.contains(
            &"connections.c.port: expected a port number (1 to 65535), found a string".into()
        ));
        assert!(
            m.contains(&"connections.c.prot: unknown key (did you mean \"port\"?)".into()),
            "{m:?}"
        );
    }

    #[test]
    fn literal_secrets_are_set_apart() {
        let p = read("password = \"hunter22\"\ntoken = \"${env:T}\"\n", |f| {
            assert!(f.secret("password").is_none());
            assert!(f.secret("token").is_some());
        });
        assert!(p.errors.is_empty());
        assert_eq!(p.refusals.len(), 1);
        assert_eq!(p.refusals[0].0.path, "connections.c.password");
        assert!(p.refusals[0].1.contains("convoy secrets set c_password"));
    }

    #[test]
    fn durations_and_paths() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("soon"), None);
        read("t = \"10s\"\nca = \"ca.pem\"\n", |f| {
            assert_eq!(f.duration("t"), Some(Duration::from_secs(10)));
            assert_eq!(f.path("ca"), Some(PathBuf::from("/spec/ca.pem")));
        });
    }

    #[test]
    fn timeouts_have_defaults_and_are_read_from_one_table() {
        read("", |f| assert_eq!(f.timeouts(), Timeouts::DEFAULT));
        let p = read("timeout = { connect = \"5s\", idle = \"1m\" }", |f| {
            assert_eq!(
                f.timeouts(),
                Timeouts {
                    connect: Duration::from_secs(5),
                    idle: Duration::from_secs(60)
                }
            );
        });
        assert!(p.errors.is_empty(), "{:?}", messages(&p));
        // One given, the other keeps its default.
        read("timeout = { idle = 3 }", |f| {
            let t = f.timeouts();
            assert_eq!(t.idle, Duration::from_secs(3));
            assert_eq!(t.connect, Timeouts::DEFAULT.connect);
        });
        let p = read("timeout = { conect = \"5s\", idle = \"never\" }", |f| {
            f.timeouts();
        });
        let m = messages(&p);
        assert!(
            m.iter()
                .any(|e| e.contains("timeout.conect: unknown key (did you mean \"connect\"?)")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|e| e.contains("timeout.idle: \"never\" is not a duration")),
            "{m:?}"
        );
        let p = read("timeout = \"30s\"", |f| {
            f.timeouts();
        });
        assert!(
            messages(&p)[0].contains("expected a table"),
            "{:?}",
            messages(&p)
        );
        // Keepalive notices a vanished peer after about the idle timeout.
        let (time, interval, retries) = Timeouts::DEFAULT.keepalive();
        assert_eq!(time + interval * retries, Timeouts::DEFAULT.idle);
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(seconds(Duration::from_secs(60)), "60 s");
    }

    #[test]
    fn tls_modes_a_kind_cannot_do_are_refused_with_what_to_do_instead() {
        let p = read("tls = { mode = \"disable\" }", |f| {
            f.tls(&[(TlsMode::Disable, "use no-verify")], Ok(()));
        });
        let m = messages(&p);
        assert!(
            m[0].starts_with("connections.c.tls.mode: mode \"disable\" (no TLS at all) is not available here: use no-verify"),
            "{m:?}"
        );
        let p = read("tls = { mode = \"bogus\" }", |f| {
            f.tls(&[], Ok(()));
        });
        assert!(messages(&p)[0].contains("unknown value \"bogus\""));
        let p = read("tls = { mode = \"no-verify\", cafile = \"x\" }", |f| {
            assert_eq!(f.tls(&[], Ok(())).mode, TlsMode::NoVerify);
        });
        assert!(
            messages(&p)[0].contains("tls.cafile: unknown key (did you mean \"ca_file\"?)"),
            "{:?}",
            messages(&p)
        );
    }
}
