//! The canary: one recognisable secret, handed to every connector kind
//! through every way a credential can arrive (vault, sealed value,
//! environment, file, and — refused — a spec literal or a URL), then every
//! command run over it: successful copies, a wrong password, TLS refusals,
//! an unreachable host, a bad spec, `plan`, `check`, `--json`, `-v`,
//! `secrets list`. The canary must appear nowhere: not on stdout or stderr,
//! not in a JSON summary, not in any file convoy wrote outside the
//! destination (the vault holds it only encrypted).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::pg;

const CANARY: &str = "canary-7f3a9c-Secret";

struct Machine {
    dir: tempfile::TempDir,
    /// Files the test wrote itself (a spec with a refused literal, a
    /// `${file:…}` secret); they are not convoy's doing.
    inputs: BTreeSet<PathBuf>,
    /// Every output of every command: (what ran, stdout + stderr).
    seen: Vec<(String, String)>,
}

impl Machine {
    fn new() -> Machine {
        Machine {
            dir: tempfile::tempdir().unwrap(),
            inputs: BTreeSet::new(),
            seen: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&mut self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::write(&p, text).unwrap();
        self.inputs.insert(p);
    }

    /// Run convoy with `stdin`; returns the exit status and stdout.
    fn run(&mut self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (i32, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_convoy"))
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("CONVOY_VAULT", self.path("config/convoy/vault"))
            .env("TMPDIR", self.dir.path())
            .env_remove("CONVOY_VAULT_PASSPHRASE")
            .env_remove("PGPASSWORD")
            .env("CANARY_ENV", CANARY)
            .env("CANARY_WRONG", format!("{CANARY}-wrong"))
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = crate::support::wait_within(child, 120);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code().unwrap_or(-1);
        self.seen.push((
            format!("convoy {} (exit {code})", args.join(" ")),
            format!("{stdout}\n{stderr}"),
        ));
        (code, stdout)
    }

    fn expect(&mut self, args: &[&str], code: i32) -> String {
        let (got, stdout) = self.run(args, "", &[]);
        let (what, text) = self.seen.last().unwrap();
        assert_eq!(got, code, "{what}:\n{text}");
        stdout
    }

    fn expect_json(&mut self, args: &[&str], code: i32) {
        let stdout = self.expect(args, code);
        let v: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("convoy {args:?}: not JSON ({e}):\n{stdout}"));
        assert_eq!(v["exit_code"], code, "{v:#}");
    }

    /// Every file under the directory, except the destination and the
    /// test's own inputs.
    fn files_outside(&self, dest: &Path) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut all = Vec::new();
        walk(self.dir.path(), &mut all);
        all.retain(|p| !p.starts_with(dest) && !self.inputs.contains(p));
        all
    }
}

fn leaks(hay: &[u8]) -> bool {
    hay.windows(CANARY.len()).any(|w| w == CANARY.as_bytes())
}

#[test]
fn the_canary_secret_never_appears_in_any_output() {
    let good = pg::shared();
    let plaintext = pg::plaintext();
    // A role whose password is the canary, and a table it may read.
    good.psql(&format!(
        "do $$ begin if not exists (select from pg_roles where rolname = 'canary_user') then \
         create role canary_user login; end if; end $$; \
         alter role canary_user password '{CANARY}'; \
         create table if not exists canary_src (id int, t text); truncate canary_src; \
         insert into canary_src values (1, 'one'), (2, 'two'); \
         grant select on canary_src to canary_user; \
         drop table if exists canary_dst; create table canary_dst (id bigint, t text); \
         grant select, insert, truncate on canary_dst to canary_user"
    ));
    let mut m = Machine::new();
    std::fs::create_dir(m.path("dest")).unwrap();
    m.write("in.csv", "id,t\n1,one\n2,two\n");
    m.write("pw.txt", CANARY);

    // The vault, and a value sealed to this machine.
    for name in ["pg_pw", "ms_pw"] {
        let (code, _) = m.run(&["secrets", "set", name], CANARY, &[]);
        assert_eq!(code, 0, "{}", m.seen.last().unwrap().1);
    }
    let (code, identity) = m.run(&["secrets", "identity"], "", &[]);
    assert_eq!(code, 0, "{}", m.seen.last().unwrap().1);
    let identity = identity
        .split_whitespace()
        .last()
        .expect("a public key")
        .to_string();
    let (code, sealed) = m.run(
        &["secrets", "seal", "--to", &identity, "canary"],
        CANARY,
        &[],
    );
    assert_eq!(code, 0, "{}", m.seen.last().unwrap().1);
    let sealed = sealed.trim().to_string();
    assert!(sealed.starts_with("${sealed:"), "{sealed}");

    let ca = good.ca_file.as_ref().unwrap().display().to_string();
    let pg_conn = |name: &str, port: u16, user: &str, password: &str, tls: &str| {
        format!(
            "[connections.{name}]\nkind = \"postgres\"\nhost = \"localhost\"\nport = {port}\ndatabase = \"postgres\"\n\
             user = \"{user}\"\npassword = \"{password}\"\n{tls}\n"
        )
    };
    let with_ca = format!("tls = {{ ca_file = \"{ca}\" }}");
    let (ms_port, ms_server) = crate::mssql::declining_server(2);
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    // A spec that works: vault and sealed credentials, PostgreSQL both ways, local files.
    let good_spec = format!(
        "{}{}\
         [[copy]]\nname = \"pg_out\"\nfrom = {{ connection = \"pg\", table = \"canary_src\" }}\nto = {{ path = \"dest/out.csv\" }}\n\
         [[copy]]\nname = \"pg_in\"\nfrom = {{ path = \"in.csv\" }}\nto = {{ connection = \"pg_sealed\", table = \"canary_dst\" }}\n\
         [[copy]]\nname = \"local\"\nfrom = {{ path = \"in.csv\" }}\nto = {{ path = \"dest/local.parquet\" }}\n\
         [[copy]]\nname = \"pg_staged\"\nfrom = {{ connection = \"pg\", table = \"canary_src\" }}\nto = {{ connection = \"pg_sealed\", table = \"canary_dst\" }}\n\
         stage = {{ path = \"stage\", encrypt = true, keep = true }}\n",
        pg_conn("pg", good.port, "canary_user", "${secret:pg_pw}", &with_ca),
        pg_conn("pg_sealed", good.port, "canary_user", &sealed, &with_ca),
    );
    m.write("good.toml", &good_spec);
    m.expect(&["run", "good.toml"], 0);
    m.expect(&["run", "good.toml", "-v", "-v"], 0);
    m.expect_json(&["run", "good.toml", "--json"], 0);
    m.expect(&["run", "good.toml", "--dry-run", "-v"], 0);
    m.expect(&["plan", "good.toml"], 0);
    m.expect(&["plan", "good.toml", "--json"], 0);
    m.expect(&["check", "good.toml", "-v"], 0);
    m.expect_json(&["check", "good.toml", "--json"], 0);
    assert_eq!(good.psql("select count(*) from canary_dst"), "2");

    // The two halves of a staged copy, run apart, with the password in
    // PGPASSWORD; the stage listed and cleared.
    let pw = [("PGPASSWORD", CANARY)];
    let src = format!(
        "postgres://canary_user@localhost:{}/postgres?table=canary_src&sslrootcert={ca}",
        good.port
    );
    let dst = format!(
        "postgres://canary_user@localhost:{}/postgres?table=canary_dst&sslrootcert={ca}",
        good.port
    );
    for args in [
        vec!["extract", &src, "stage2", "--run-id", "r1", "-v"],
        vec!["extract", &src, "stage2", "--run-id", "r2", "--json"],
        vec!["load", "stage2/r1/", &dst, "-v"],
        vec!["load", "stage2/r2/", &dst, "--json"],
        vec!["stage", "list", "stage2", "-v"],
        vec!["stage", "list", "stage", "--json"],
        vec!["stage", "rm", "stage2/r1/"],
    ] {
        let (code, _) = m.run(&args, "", &pw);
        let (what, text) = m.seen.last().unwrap();
        assert_eq!(code, 0, "{what}:\n{text}");
    }
    // A second load of the same run is refused.
    let (code, _) = m.run(&["load", "stage2/r2/", &dst, "-v"], "", &pw);
    assert_eq!(code, 1, "{}", m.seen.last().unwrap().1);

    // Failures, each with the canary in reach: wrong password (env), TLS
    // refused (file, plaintext server; env, unknown CA), unreachable host,
    // SQL Server that declines encryption (vault).
    m.write("other-ca.pem", &pg::Ca::new("canary other CA").pem);
    let bad_spec = format!(
        "{}{}{}{}\
         [connections.ms]\nkind = \"mssql\"\nhost = \"127.0.0.1\"\nport = {ms_port}\nuser = \"sa\"\npassword = \"${{secret:ms_pw}}\"\n\
         [[copy]]\nname = \"wrong_pw\"\nfrom = {{ connection = \"wrong\", table = \"canary_src\" }}\nto = {{ path = \"dest/a.csv\" }}\n\
         [[copy]]\nname = \"no_tls\"\nfrom = {{ connection = \"plain\", query = \"select 1\" }}\nto = {{ path = \"dest/b.csv\" }}\n\
         [[copy]]\nname = \"unknown_ca\"\nfrom = {{ connection = \"other_ca\", query = \"select 1\" }}\nto = {{ path = \"dest/c.csv\" }}\n\
         [[copy]]\nname = \"unreachable\"\nfrom = {{ connection = \"gone\", query = \"select 1\" }}\nto = {{ path = \"dest/d.csv\" }}\n\
         [[copy]]\nname = \"mssql\"\nfrom = {{ path = \"in.csv\" }}\nto = {{ connection = \"ms\", table = \"dbo.t\" }}\n",
        pg_conn("wrong", good.port, "canary_user", "${env:CANARY_WRONG}", &with_ca),
        pg_conn("plain", plaintext.port, "postgres", "${file:pw.txt}", ""),
        pg_conn("other_ca", good.port, "postgres", "${env:CANARY_ENV}", "tls = { ca_file = \"other-ca.pem\" }"),
        pg_conn("gone", closed_port, "postgres", "${env:CANARY_ENV}", ""),
    );
    m.write("bad.toml", &bad_spec);
    m.expect(&["run", "bad.toml", "-v"], 3);
    for copy in ["wrong_pw", "unreachable"] {
        m.expect(&["run", "bad.toml", "--copy", copy], 1);
        m.expect_json(&["run", "bad.toml", "--copy", copy, "--json"], 1);
    }
    for copy in ["no_tls", "unknown_ca"] {
        m.expect(&["run", "bad.toml", "--copy", copy, "-v"], 3);
        m.expect_json(&["run", "bad.toml", "--copy", copy, "--json"], 3);
    }
    m.expect(&["check", "bad.toml", "-v"], 3);
    m.expect_json(&["check", "bad.toml", "--json"], 3);
    m.expect(&["check", "bad.toml", "--copy", "wrong_pw"], 1);
    m.expect(&["plan", "bad.toml", "--json"], 0);
    let _ = ms_server.join();

    // A literal in a spec, passwords in URLs, signed URLs: refused or
    // failed, never echoed.
    m.write(
        "literal.toml",
        &format!(
            "[connections.pg]\nkind = \"postgres\"\nhost = \"localhost\"\npassword = \"{CANARY}\"\nbogus = 1\n\
             [connections.ms]\nkind = \"mssql\"\nhost = \"localhost\"\nuser = \"sa\"\npassword = \"{CANARY}\"\n\
             [[copy]]\nname = \"c\"\nfrom = {{ connection = \"pg\", table = \"t\" }}\nto = {{ path = \"dest/x.csv\" }}\n"
        ),
    );
    for cmd in ["run", "plan", "check"] {
        m.expect(&[cmd, "literal.toml"], 3);
        m.expect_json(&[cmd, "literal.toml", "--json"], 3);
    }
    let pg_url = format!(
        "postgres://postgres:{CANARY}@localhost:{}/postgres?table=t",
        good.port
    );
    let ms_url = format!("mssql://sa:{CANARY}@localhost:1433/db?table=dbo.t");
    for url in [&pg_url, &ms_url] {
        m.expect(&["copy", url, "dest/y.csv"], 3);
        m.expect_json(&["copy", url, "dest/y.csv", "--json"], 3);
        m.expect(&["plan", url, "dest/y.csv"], 3);
        m.expect(&["check", url, "dest/y.csv"], 3);
    }
    for signed in [
        format!("https://127.0.0.1:{closed_port}/c/f.csv?sv=2024-01-01&sig={CANARY}"),
        format!("missing.csv?X-Amz-Credential={CANARY}&X-Amz-Signature={CANARY}"),
        format!("https://127.0.0.1:{closed_port}/f.csv?token={CANARY}"),
    ] {
        let (code, _) = m.run(&["copy", &signed, "dest/z.csv", "-v"], "", &[]);
        assert_ne!(code, 0);
        let (code, _) = m.run(&["copy", &signed, "dest/z.csv", "--json"], "", &[]);
        assert_ne!(code, 0);
        m.run(&["plan", &signed, "dest/z.csv"], "", &[]);
    }
    m.expect(&["secrets", "list"], 0);
    m.expect(&["secrets", "list", "--json"], 0);

    // The error paths were really taken…
    let all: String = m.seen.iter().map(|(_, t)| t.as_str()).collect();
    for reason in [
        "password authentication failed",
        "offers no TLS",
        "unknown issuer",
        "does not offer encryption",
        "a literal credential is not allowed",
        "sig=[redacted]",
        "X-Amz-Signature=[redacted]",
        "TLS 1.3",
        "loading it again would add its rows twice",
    ] {
        assert!(all.contains(reason), "no command said {reason:?}");
    }
    // …and nothing convoy printed holds the canary.
    for (what, text) in &m.seen {
        assert!(
            !leaks(text.as_bytes()),
            "the canary leaked from {what}:\n{text}"
        );
    }
    // Nor any file it wrote outside the destination (the vault is encrypted).
    let vault = m.path("config/convoy/vault");
    assert!(vault.exists(), "the vault was not where expected");
    let dest = m.path("dest");
    let files = m.files_outside(&dest);
    assert!(files.contains(&vault), "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!leaks(&bytes), "the canary is in {}", f.display());
    }
}
