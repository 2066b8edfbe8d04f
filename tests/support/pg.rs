//! Throwaway PostgreSQL clusters on free loopback ports, with certificates
//! generated at test time.
//!
//! `initdb` and the server refuse to run as root, so they run as the
//! `postgres` user in a directory that user owns. A shared cluster lives for
//! the whole test process (a watchdog stops it when the process ends);
//! clusters made with [`Cluster::start`] are stopped on drop. When the
//! server binaries are missing, the test fails and says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub use super::ca::Ca;
use super::free_port;

pub const BIN: &str = "/usr/lib/postgresql/15/bin";
pub const PASSWORD: &str = "convoy-test-pw";

/// How a cluster does TLS.
pub enum Tls {
    /// ssl = on with this certificate and key (PEM).
    On { cert: String, key: String },
    /// ssl = off.
    Off,
}

pub struct Cluster {
    pub port: u16,
    pub data: PathBuf,
    /// The CA that signed the server certificate, as a file (None without TLS).
    pub ca_file: Option<PathBuf>,
    _dir: tempfile::TempDir,
    owned: bool,
}

fn require_binaries() {
    for b in ["initdb", "pg_ctl", "postgres"] {
        let p = Path::new(BIN).join(b);
        assert!(
            p.exists(),
            "PostgreSQL server binary {} is missing: install PostgreSQL 15 server binaries to run these tests",
            p.display()
        );
    }
    assert!(
        Path::new("/usr/bin/psql").exists() || Path::new(BIN).join("psql").exists(),
        "psql is missing"
    );
}

fn as_postgres(args: &[&str]) -> std::process::Output {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .args(args)
        .output()
        .expect("runuser (needed to run PostgreSQL as the postgres user)");
    assert!(
        out.status.success(),
        "{:?} failed: {}{}",
        args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Cluster {
    pub fn start(tls: Tls, ca_pem: Option<&str>) -> Cluster {
        require_binaries();
        let dir = tempfile::Builder::new()
            .prefix("convoy-pg")
            .tempdir_in("/tmp")
            .unwrap();
        let root = dir.path();
        let data = root.join("data");
        let pw = root.join("pw");
        std::fs::write(&pw, PASSWORD).unwrap();
        let chown = |p: &Path| {
            let s = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(p)
                .status()
                .unwrap();
            assert!(s.success());
        };
        chown(root);
        as_postgres(&[
            &format!("{BIN}/initdb"),
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--pwfile",
            pw.to_str().unwrap(),
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        let port = free_port();
        let mut conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n",
            root.display()
        );
        let hba = match &tls {
            Tls::On { cert, key } => {
                std::fs::write(data.join("server.crt"), cert).unwrap();
                std::fs::write(data.join("server.key"), key).unwrap();
                conf.push_str(
                    "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
                );
                "hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n"
            }
            Tls::Off => {
                conf.push_str("ssl = off\n");
                "host all all 127.0.0.1/32 scram-sha-256\n"
            }
        };
        let mut pc = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        pc.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), pc).unwrap();
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        chown(root);
        {
            use std::os::unix::fs::PermissionsExt;
            if data.join("server.key").exists() {
                std::fs::set_permissions(
                    data.join("server.key"),
                    std::fs::Permissions::from_mode(0o600),
                )
                .unwrap();
            }
        }
        as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            data.to_str().unwrap(),
            "-l",
            root.join("log").to_str().unwrap(),
            "-w",
            "start",
        ]);
        let ca_file = ca_pem.map(|pem| {
            let p = root.join("ca.pem");
            std::fs::write(&p, pem).unwrap();
            p
        });
        Cluster {
            port,
            data,
            ca_file,
            _dir: dir,
            owned: true,
        }
    }

    /// Keep running until the test process ends.
    // The watchdog outlives this process on purpose; nobody waits for it.
    #[allow(clippy::zombie_processes)]
    fn shared(mut self) -> Cluster {
        self.owned = false;
        let pid = std::process::id();
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {pid} 2>/dev/null; do sleep 1; done; runuser -u postgres -- {BIN}/pg_ctl -D {} stop -m immediate; rm -rf {}",
                self.data.display(),
                self.data.parent().unwrap().display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self
    }

    /// Run SQL with psql (verified TLS when the cluster has it); returns
    /// unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        let mut conn = format!(
            "host=localhost port={} user=postgres dbname=postgres",
            self.port
        );
        match &self.ca_file {
            Some(ca) => conn.push_str(&format!(
                " sslmode=verify-full sslrootcert={}",
                ca.display()
            )),
            None => conn.push_str(" sslmode=disable"),
        }
        let out = Command::new("psql")
            .args([&conn, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql failed on {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// A `[connections.NAME]` table for a spec file.
    pub fn connection(&self, name: &str, host: &str, extra: &str) -> String {
        let tls = match &self.ca_file {
            Some(ca) => format!("tls = {{ ca_file = \"{}\" }}", ca.display()),
            None => String::new(),
        };
        format!(
            "[connections.{name}]\nkind = \"postgres\"\nhost = \"{host}\"\nport = {}\ndatabase = \"postgres\"\nuser = \"postgres\"\n{tls}\n{extra}\n",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.owned {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(format!("{BIN}/pg_ctl"))
                .args(["-D", self.data.to_str().unwrap(), "stop", "-m", "immediate"])
                .output();
        }
    }
}

/// The CA that signs the shared cluster's certificate.
pub fn test_ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| Ca::new("convoy test CA"))
}

/// One TLS cluster shared by the tests; its certificate names `localhost` only.
pub fn shared() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| {
        let ca = test_ca();
        let (cert, key) = ca.issue(&["localhost"], false);
        Cluster::start(Tls::On { cert, key }, Some(&ca.pem)).shared()
    })
}

/// One cluster without TLS, for refusal tests.
pub fn plaintext() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| Cluster::start(Tls::Off, None).shared())
}

/// convoy run in `dir` with the clusters' password in `PGPASSWORD` and no
/// vault from the environment.
pub fn convoy(dir: &Path, args: &[&str]) -> std::process::Output {
    convoy_env(dir, args, &[])
}

/// [`convoy`] with more environment variables.
pub fn convoy_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let child = Command::new(super::bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .env("PGPASSWORD", PASSWORD)
        .env_remove("CONVOY_VAULT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A copy that hangs (on a lock, say) fails its test.
    super::wait_within(child, 120)
}
