//! `convoy secrets …` driven as a user would: the real binary, a private temp dir per test,
//! `CONVOY_VAULT` and `XDG_CONFIG_HOME` inside it, assertions on exit codes, output and files.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

struct Machine {
    dir: TempDir,
}

impl Machine {
    fn new() -> Machine {
        Machine {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn vault(&self) -> PathBuf {
        self.dir.path().join("config").join("convoy").join("vault")
    }

    fn key_file(&self) -> PathBuf {
        self.vault().with_file_name("machine.key")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_convoy"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("CONVOY_VAULT", self.vault())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .env_remove("CONVOY_VAULT_PASSPHRASE")
            .env_remove("CONVOY_VAULT_NEW_PASSPHRASE")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `convoy args…` with `input` on stdin.
    fn run(&self, args: &[&str], input: &str, env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("convoy runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        Run(child.wait_with_output().unwrap())
    }

    fn set(&self, name: &str, value: &str) -> Run {
        self.run(&["secrets", "set", name], &format!("{value}\n"), &[])
    }
}

struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0.status.code().expect("exited normally")
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    fn all(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }
    fn ok(self) -> Run {
        assert_eq!(
            self.code(),
            0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn set_then_list_shows_names_never_values() {
    let m = Machine::new();
    let out = m.set("warehouse_pw", "canary-WAREHOUSE-1").ok();
    assert!(!out.all().contains("canary-WAREHOUSE-1"), "{}", out.all());
    m.set("lake_key", "canary-LAKE-2").ok();
    assert_eq!(mode(&m.vault()), 0o600);
    assert_eq!(mode(&m.key_file()), 0o600);
    let raw = fs::read(m.vault()).unwrap();
    assert!(raw.starts_with(b"CONVOY-VAULT"));
    assert!(!String::from_utf8_lossy(&raw).contains("canary"));

    let list = m.run(&["secrets", "list"], "", &[]).ok();
    let stdout = list.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("NAME")
            && lines[0].contains("LAST ROTATED")
            && lines[0].contains("AGE")
    );
    assert!(lines[1].starts_with("lake_key ") && lines[2].starts_with("warehouse_pw "));
    assert!(!list.all().contains("canary"), "{}", list.all());
}

#[test]
fn the_default_vault_is_under_xdg_config_home() {
    let m = Machine::new();
    let mut cmd = m.command(&["secrets", "set", "x"]);
    cmd.env_remove("CONVOY_VAULT")
        .stdin(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"default-path-value")
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(m.vault().exists(), "vault at $XDG_CONFIG_HOME/convoy/vault");
    let other = m.dir.path().join("elsewhere").join("vault");
    let run = m.run(
        &["--vault", other.to_str().unwrap(), "secrets", "set", "y"],
        "v-v-v",
        &[],
    );
    run.ok();
    assert!(other.exists());
}

#[test]
fn empty_value_and_bad_names_are_usage_errors() {
    let m = Machine::new();
    let run = m.run(&["secrets", "set", "x"], "\n", &[]);
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(
        run.stderr().contains("error: the value is empty"),
        "{}",
        run.stderr()
    );
    let run = m.set("no spaces", "value");
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("invalid secret name"));
    assert!(!m.vault().exists());
    let run = m.run(&["secrets", "bogus"], "", &[]);
    assert_eq!(run.code(), 2);
}

#[test]
fn rm_removes_one_secret() {
    let m = Machine::new();
    m.set("a_one", "value-a").ok();
    m.set("b_two", "value-b").ok();
    m.run(&["secrets", "rm", "a_one"], "", &[]).ok();
    let list = m.run(&["secrets", "list"], "", &[]).ok().stdout();
    assert!(!list.contains("a_one") && list.contains("b_two"), "{list}");
    let again = m.run(&["secrets", "rm", "a_one"], "", &[]);
    assert_eq!(again.code(), 1);
    assert!(
        again.stderr().contains("no secret named \"a_one\""),
        "{}",
        again.stderr()
    );
    assert!(again.stderr().contains("hint: convoy secrets set a_one"));
}

#[test]
fn rotate_changes_key_and_ciphertext_and_keeps_secrets() {
    let m = Machine::new();
    m.set("warehouse_pw", "rotate-canary").ok();
    let identity = m.run(&["secrets", "identity"], "", &[]).ok().stdout();
    let (vault_before, key_before) = (
        fs::read(m.vault()).unwrap(),
        fs::read(m.key_file()).unwrap(),
    );
    m.run(&["secrets", "rotate"], "", &[]).ok();
    let (vault_after, key_after) = (
        fs::read(m.vault()).unwrap(),
        fs::read(m.key_file()).unwrap(),
    );
    assert_ne!(vault_before, vault_after);
    assert_ne!(key_before, key_after);
    assert_eq!(mode(&m.key_file()), 0o600);
    let list = m.run(&["secrets", "list"], "", &[]).ok().stdout();
    assert!(list.contains("warehouse_pw"), "{list}");
    assert_eq!(
        m.run(&["secrets", "identity"], "", &[]).ok().stdout(),
        identity
    );
    // The old ciphertext no longer opens: its key is gone.
    fs::write(m.vault(), &vault_before).unwrap();
    let run = m.run(&["secrets", "list"], "", &[]);
    assert_eq!(run.code(), 3, "{}", run.all());
}

#[test]
fn a_flipped_byte_in_header_or_body_is_refused() {
    let m = Machine::new();
    m.set("warehouse_pw", "tamper-canary").ok();
    let good = fs::read(m.vault()).unwrap();
    // 20: inside the key id (header); 50: nonce (header); last: the authentication tag.
    for i in [3, 20, 50, good.len() / 2 + 30, good.len() - 1] {
        let mut bad = good.clone();
        bad[i] ^= 0x20;
        fs::write(m.vault(), &bad).unwrap();
        for args in [&["secrets", "list"][..], &["secrets", "set", "other"][..]] {
            let run = m.run(args, "new-value", &[]);
            assert_eq!(run.code(), 3, "byte {i}: {}", run.all());
            assert!(
                run.stderr().contains(
                    "failed authentication: it was modified or the key/passphrase is wrong"
                ),
                "byte {i}: {}",
                run.stderr()
            );
            assert!(!run.all().contains("panicked"), "{}", run.all());
        }
        assert_eq!(
            fs::read(m.vault()).unwrap(),
            bad,
            "a refused vault is not rewritten"
        );
    }
    fs::write(m.vault(), &good).unwrap();
    m.run(&["secrets", "list"], "", &[]).ok();
}

#[test]
fn passphrase_vault_refuses_a_wrong_passphrase() {
    let m = Machine::new();
    let right = [("CONVOY_VAULT_PASSPHRASE", "correct horse battery")];
    m.run(
        &["secrets", "set", "--passphrase", "pw"],
        "passphrase-canary",
        &right,
    )
    .ok();
    assert!(
        !m.key_file().exists(),
        "a passphrase vault has no machine key"
    );
    m.run(&["secrets", "list"], "", &right).ok();
    let wrong = m.run(
        &["secrets", "list"],
        "",
        &[("CONVOY_VAULT_PASSPHRASE", "incorrect horse")],
    );
    assert_eq!(wrong.code(), 3, "{}", wrong.all());
    assert!(
        wrong.stderr().contains("passphrase does not unlock"),
        "{}",
        wrong.stderr()
    );
    let none = m.run(&["secrets", "list"], "", &[]);
    assert_eq!(none.code(), 2, "{}", none.all());
    assert!(
        none.stderr().contains("hint: set CONVOY_VAULT_PASSPHRASE"),
        "{}",
        none.stderr()
    );
    // Rotation gives a new salt; the same passphrase still opens it.
    let before = fs::read(m.vault()).unwrap();
    m.run(&["secrets", "rotate"], "", &right).ok();
    assert_ne!(before[..42], fs::read(m.vault()).unwrap()[..42]);
    m.run(&["secrets", "list"], "", &right).ok();
}

#[test]
fn set_passphrase_on_an_existing_machine_key_vault_is_refused() {
    let m = Machine::new();
    m.set("a", "machine-value").ok();
    let run = m.run(
        &["secrets", "set", "--passphrase", "b"],
        "x-value",
        &[("CONVOY_VAULT_PASSPHRASE", "some passphrase")],
    );
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(
        run.stderr().contains("rotate --passphrase"),
        "{}",
        run.stderr()
    );
}

#[test]
fn rotate_switches_between_machine_key_and_passphrase() {
    let m = Machine::new();
    m.set("a", "switch-value").ok();
    m.run(
        &["secrets", "rotate", "--passphrase"],
        "",
        &[("CONVOY_VAULT_NEW_PASSPHRASE", "new passphrase!")],
    )
    .ok();
    assert!(!m.key_file().exists());
    assert_eq!(m.run(&["secrets", "list"], "", &[]).code(), 2);
    let pw = [("CONVOY_VAULT_PASSPHRASE", "new passphrase!")];
    m.run(&["secrets", "rotate", "--machine-key"], "", &pw).ok();
    assert!(m.key_file().exists());
    let list = m.run(&["secrets", "list"], "", &[]).ok().stdout();
    assert!(list.contains("a "), "{list}");
}

#[test]
fn loose_permissions_are_refused() {
    let m = Machine::new();
    m.set("a", "perm-value").ok();
    fs::set_permissions(m.vault(), fs::Permissions::from_mode(0o644)).unwrap();
    let run = m.run(&["secrets", "list"], "", &[]);
    assert_eq!(run.code(), 3, "{}", run.all());
    let vault = m.vault().display().to_string();
    assert!(
        run.stderr().contains(&vault) && run.stderr().contains("0644"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains(&format!("hint: chmod 600 {vault}")),
        "{}",
        run.stderr()
    );
    fs::set_permissions(m.vault(), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(m.key_file(), fs::Permissions::from_mode(0o640)).unwrap();
    let run = m.run(&["secrets", "list"], "", &[]);
    assert_eq!(run.code(), 3, "{}", run.all());
    assert!(run.stderr().contains("machine.key"), "{}", run.stderr());
}

#[test]
fn values_are_never_taken_from_argv() {
    let m = Machine::new();
    let run = m.run(&["secrets", "set", "a", "argv-value"], "", &[]);
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(!m.vault().exists());
}

/// Writers killed at arbitrary moments leave a vault that opens and holds every name whose
/// writer finished; never a torn or unauthenticated file.
#[test]
fn killed_writers_leave_a_consistent_vault() {
    let m = Machine::new();
    m.set("base", "base-value").ok();
    let spawn = |name: &str| {
        let mut child = m
            .command(&["secrets", "set", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("value-{name}").as_bytes()).unwrap();
        (name.to_string(), child)
    };
    let kill = |child: &mut Child| {
        // SAFETY: plain kill(2) of our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap().success()
    };
    let check = |finished: &[String], when: &str| {
        let list = m.run(&["secrets", "list"], "", &[]);
        assert_eq!(list.code(), 0, "{when}: {}", list.all());
        let names = list.stdout();
        assert!(names.contains("base "), "{when}: {names}");
        for name in finished {
            assert!(
                names.contains(&format!("{name} ")),
                "{when}: {name} finished but is missing"
            );
        }
    };
    let mut finished = Vec::new();
    let mut killed = 0;
    // One writer at a time, killed 0 µs, 125 µs, … 6 ms after it starts (a run takes about
    // 5 ms here), so kills land in every phase: start-up, reading, writing, renaming.
    for k in 0..48u64 {
        let (name, mut child) = spawn(&format!("s{k}"));
        std::thread::sleep(Duration::from_micros(125 * k));
        if kill(&mut child) {
            finished.push(name);
        } else {
            killed += 1;
        }
        check(&finished, &format!("after killing s{k}"));
    }
    // Concurrent writers queued on the vault lock, killed at staggered times.
    for round in 0..3u64 {
        let mut children: Vec<_> = (0..8).map(|i| spawn(&format!("c{round}_{i}"))).collect();
        for (i, (name, child)) in children.iter_mut().enumerate() {
            std::thread::sleep(Duration::from_micros(700 * i as u64 + 300 * round));
            if kill(child) {
                finished.push(name.clone());
            } else {
                killed += 1;
            }
        }
        check(&finished, &format!("concurrent round {round}"));
    }
    assert!(
        killed > 0 && !finished.is_empty(),
        "killed {killed}, finished {}",
        finished.len()
    );
    assert_eq!(mode(&m.vault()), 0o600);
    for entry in fs::read_dir(m.vault().parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{} is private", path.display());
    }
}

#[test]
fn identity_is_per_machine_and_seal_prints_a_reference() {
    let a = Machine::new();
    let b = Machine::new();
    let id_a = a.run(&["secrets", "identity"], "", &[]).ok().stdout();
    let id_b = b.run(&["secrets", "identity"], "", &[]).ok().stdout();
    assert!(id_a.starts_with("age1") && id_b.starts_with("age1"));
    assert_ne!(id_a, id_b);
    assert_eq!(
        a.run(&["secrets", "identity"], "", &[]).ok().stdout(),
        id_a,
        "stable"
    );
    let sealed = a
        .run(
            &["secrets", "seal", "--to", id_b.trim(), "lake_key"],
            "seal-canary-value\n",
            &[],
        )
        .ok();
    let text = sealed.stdout();
    let text = text.trim();
    assert!(
        text.starts_with("${sealed:") && text.ends_with('}'),
        "{text}"
    );
    assert_eq!(text.matches('}').count(), 1);
    assert!(!sealed.all().contains("seal-canary-value"));
    let bad = a.run(
        &["secrets", "seal", "--to", "ssh-rsa AAAA", "lake_key"],
        "v",
        &[],
    );
    assert_eq!(bad.code(), 2, "{}", bad.all());
    assert!(
        bad.stderr().contains("convoy secrets identity"),
        "{}",
        bad.stderr()
    );
}
