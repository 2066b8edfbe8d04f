//! Object store servers for tests: Azurite (Azure Blob emulator) and moto
//! (S3), each serving HTTPS on a free loopback port with a certificate from a
//! test CA generated at test time. One of each is shared by all tests of the
//! process; a watchdog stops it when the test process ends.
//!
//! Installed by `scripts/test`: Azurite under `.test-services/node_modules`
//! (`npm install --prefix .test-services azurite`), moto with
//! `pip install "moto[server]"`. A service that cannot start fails the test
//! with a message naming what is missing.
//!
//! [`Target`] is one place a conformance case writes to and reads from: local
//! files, Azurite or S3, each as a spec connection named `store`, plus an
//! object_store client the test uses to look at what convoy left there.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::ca::Ca;
use super::free_port;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{Certificate, ClientOptions, ObjectStore, ObjectStoreExt};

use super::Dir;

/// Azurite's documented development account and key.
pub const AZ_ACCOUNT: &str = "devstoreaccount1";
pub const AZ_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// moto accepts any credentials unless told otherwise.
pub const S3_KEY_ID: &str = "convoytestkey";
pub const S3_SECRET: &str = "convoy-test-secret-value";
pub const BUCKET: &str = "convoy-test";
pub const CONTAINER: &str = "convoy-test";

/// Files shared by every service of the process: the CA, and a second CA
/// that signed nothing (for wrong-CA tests).
pub struct Certs {
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    pub ca_file: PathBuf,
    pub other_ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("convoy objstore test CA");
        let other = Ca::new("convoy objstore other CA");
        let (cert, key) = ca.issue(&["127.0.0.1", "localhost"], false);
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("ca.pem"), &ca.pem).unwrap();
        std::fs::write(p("other-ca.pem"), &other.pem).unwrap();
        std::fs::write(p("server.pem"), cert).unwrap();
        std::fs::write(p("server-key.pem"), key).unwrap();
        Certs {
            ca_file: p("ca.pem"),
            other_ca_file: p("other-ca.pem"),
            cert_file: p("server.pem"),
            key_file: p("server-key.pem"),
            ca,
            dir,
        }
    })
}

/// A running server.
pub struct Service {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(super) fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// Start `program` and wait until it accepts connections on `port`.
pub(super) fn start(
    what: &str,
    mut cmd: Command,
    port: u16,
    dir: tempfile::TempDir,
) -> Result<Service, String> {
    let log = dir.path().join("service.log");
    let out = std::fs::File::create(&log).unwrap();
    cmd.stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    // Stop the server when this test process ends, however it ends.
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; kill {} 2>/dev/null",
            std::process::id(),
            child.id()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Service {
                port,
                child,
                _dir: dir,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{what} exited ({status}) before listening:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!(
                "{what} did not listen on port {port} within 30 s:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Run a Python snippet (stdlib + boto3, which moto brings) against a service.
pub fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python helper failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The shared moto S3 server, with bucket [`BUCKET`].
pub fn moto() -> &'static Service {
    static MOTO: OnceLock<Result<Service, String>> = OnceLock::new();
    let s = MOTO.get_or_init(|| {
        let Some(bin) = which("moto_server") else {
            return Err(
                "moto_server is not installed: run scripts/test or pip install \"moto[server]\""
                    .into(),
            );
        };
        let c = certs();
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string(), "-c"])
            .arg(&c.cert_file)
            .arg("-k")
            .arg(&c.key_file)
            .env_remove("INITIAL_NO_AUTH_ACTION_COUNT");
        let svc = start("moto_server", cmd, port, dir)?;
        python(
            "import sys, boto3\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1], verify=sys.argv[2], region_name='us-east-1',\n\
                               aws_access_key_id='k', aws_secret_access_key='s')\n\
             s3.create_bucket(Bucket=sys.argv[3])\n",
            &[
                &format!("https://127.0.0.1:{port}"),
                c.ca_file.to_str().unwrap(),
                BUCKET,
            ],
        );
        Ok(svc)
    });
    s.as_ref()
        .unwrap_or_else(|e| panic!("S3 server (moto) unavailable: {e}"))
}

/// The shared Azurite server, with container [`CONTAINER`].
pub fn azurite() -> &'static Service {
    static AZURITE: OnceLock<Result<Service, String>> = OnceLock::new();
    let s = AZURITE.get_or_init(|| {
        let bin = repo().join(".test-services/node_modules/.bin/azurite-blob");
        if !bin.is_file() {
            return Err(format!(
                "{} is missing: run scripts/test or npm install --prefix .test-services azurite",
                bin.display()
            ));
        }
        if which("node").is_none() {
            return Err("node is not installed (Azurite needs Node.js)".into());
        }
        let c = certs();
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(bin);
        cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--cert")
            .arg(&c.cert_file)
            .arg("--key")
            .arg(&c.key_file)
            .args(["--oauth", "basic", "--skipApiVersionCheck", "--silent"])
            .arg("--location")
            .arg(dir.path());
        let svc = start("azurite-blob", cmd, port, dir)?;
        // Create the container with a bearer token: Azurite's basic OAuth
        // mode checks the claims, not the signature.
        python(
            r#"
import base64, json, ssl, sys, time, urllib.request
def b64(d): return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
now = int(time.time())
tok = b64({"alg": "RS256", "typ": "JWT"}) + "." + b64({
    "aud": "https://storage.azure.com", "iss": "https://sts.windows.net/ab1f708d-50f6-404c-a006-d71b2ac7a606/",
    "iat": now - 60, "nbf": now - 60, "exp": now + 3600, "oid": "x", "tid": "ab1f708d-50f6-404c-a006-d71b2ac7a606"}) + ".sig"
req = urllib.request.Request(sys.argv[1] + "?restype=container", method="PUT",
    headers={"Authorization": "Bearer " + tok, "x-ms-version": "2021-08-06", "Content-Length": "0"})
urllib.request.urlopen(req, context=ssl.create_default_context(cafile=sys.argv[2]))
"#,
            &[
                &format!("https://127.0.0.1:{port}/{AZ_ACCOUNT}/{CONTAINER}"),
                c.ca_file.to_str().unwrap(),
            ],
        );
        Ok(svc)
    });
    s.as_ref()
        .unwrap_or_else(|e| panic!("Azure Blob emulator (Azurite) unavailable: {e}"))
}

/// A runtime for the test's own object_store client.
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Azurite,
    S3,
}

/// One place a conformance case writes to and reads from.
pub struct Target {
    pub backend: Backend,
    /// The `[connections.store]` section of a spec.
    pub connection: String,
    /// A prefix of its own for each test (`t-<uuid>`).
    pub prefix: String,
    pub store: Arc<dyn ObjectStore>,
    /// Environment convoy needs (secrets referenced by the connection).
    pub env: Vec<(&'static str, String)>,
}

fn client_options() -> ClientOptions {
    ClientOptions::new()
        .with_root_certificate(Certificate::from_pem(certs().ca.pem.as_bytes()).unwrap())
}

impl Target {
    pub fn new(backend: Backend, dir: &Dir) -> Target {
        let prefix = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let ca = certs().ca_file.display().to_string();
        match backend {
            Backend::Local => {
                let root = dir.path("store");
                std::fs::create_dir_all(&root).unwrap();
                Target {
                    backend,
                    connection: format!(
                        "[connections.store]\nkind = \"local\"\nroot = \"{}\"\n",
                        root.display()
                    ),
                    prefix,
                    store: Arc::new(
                        object_store::local::LocalFileSystem::new_with_prefix(&root).unwrap(),
                    ),
                    env: Vec::new(),
                }
            }
            Backend::Azurite => {
                let port = azurite().port;
                let endpoint = format!("https://127.0.0.1:{port}/{AZ_ACCOUNT}");
                let store = object_store::azure::MicrosoftAzureBuilder::new()
                    .with_account(AZ_ACCOUNT)
                    .with_access_key(AZ_KEY)
                    .with_container_name(CONTAINER)
                    .with_endpoint(endpoint.clone())
                    .with_client_options(client_options())
                    .build()
                    .unwrap();
                Target {
                    backend,
                    connection: format!(
                        "[connections.store]\nkind = \"azure\"\naccount = \"{AZ_ACCOUNT}\"\n\
                         container = \"{CONTAINER}\"\nendpoint = \"{endpoint}\"\n\
                         key = \"${{env:CONVOY_TEST_AZ_KEY}}\"\ntls = {{ ca_file = \"{ca}\" }}\n"
                    ),
                    prefix,
                    store: Arc::new(store),
                    env: vec![("CONVOY_TEST_AZ_KEY", AZ_KEY.to_string())],
                }
            }
            Backend::S3 => {
                let port = moto().port;
                let endpoint = format!("https://127.0.0.1:{port}");
                let store = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(BUCKET)
                    .with_region("us-east-1")
                    .with_endpoint(&endpoint)
                    .with_access_key_id(S3_KEY_ID)
                    .with_secret_access_key(S3_SECRET)
                    .with_client_options(client_options())
                    .build()
                    .unwrap();
                Target {
                    backend,
                    connection: format!(
                        "[connections.store]\nkind = \"s3\"\nbucket = \"{BUCKET}\"\nregion = \"us-east-1\"\n\
                         endpoint = \"{endpoint}\"\naccess_key_id = \"{S3_KEY_ID}\"\n\
                         secret_access_key = \"${{env:CONVOY_TEST_S3_SECRET}}\"\n\
                         tls = {{ ca_file = \"{ca}\" }}\n"
                    ),
                    prefix,
                    store: Arc::new(store),
                    env: vec![("CONVOY_TEST_S3_SECRET", S3_SECRET.to_string())],
                }
            }
        }
    }

    /// `prefix/rel`
    pub fn key(&self, rel: &str) -> String {
        format!("{}/{rel}", self.prefix)
    }

    /// Every object under this test's prefix, relative to it, sorted. Local
    /// hidden temporaries count too: nothing may be left behind.
    pub fn list(&self) -> Vec<String> {
        let prefix = ObjPath::from(self.prefix.as_str());
        let mut names: Vec<String> = rt()
            .block_on(
                self.store
                    .list(Some(&prefix))
                    .map_ok(|m| m.location.to_string())
                    .try_collect::<Vec<_>>(),
            )
            .unwrap();
        for n in names.iter_mut() {
            *n = n[self.prefix.len() + 1..].to_string();
        }
        names.sort();
        names
    }

    pub fn get(&self, rel: &str) -> Vec<u8> {
        let p = ObjPath::from(self.key(rel).as_str());
        rt().block_on(async { self.store.get(&p).await?.bytes().await })
            .unwrap_or_else(|e| panic!("get {rel}: {e}"))
            .to_vec()
    }

    pub fn meta(&self, rel: &str) -> object_store::ObjectMeta {
        let p = ObjPath::from(self.key(rel).as_str());
        rt().block_on(self.store.head(&p)).unwrap()
    }

    pub fn put(&self, rel: &str, data: impl Into<Vec<u8>>) {
        let p = ObjPath::from(self.key(rel).as_str());
        let v: Vec<u8> = data.into();
        rt().block_on(self.store.put(&p, v.into())).unwrap();
    }

    /// A spec with the `store` connection and one copy, written into `dir`.
    pub fn spec(&self, dir: &Dir, from: &str, to: &str) -> PathBuf {
        let text = format!(
            "{}\n[[copy]]\nname = \"c\"\nfrom = {from}\nto = {to}\n",
            self.connection
        );
        dir.write("spec.toml", text)
    }

    /// An endpoint of the store: `{ connection = "store", path = "prefix/rel", … }`.
    pub fn at(&self, rel: &str, extra: &str) -> String {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(", {extra}")
        };
        format!(
            "{{ connection = \"store\", path = \"{}\"{extra} }}",
            self.key(rel)
        )
    }

    /// `convoy run spec.toml` with this store's environment.
    pub fn command(&self, dir: &Dir, spec: &Path, extra: &[&str]) -> Command {
        let mut args = vec!["run", spec.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        let mut c = dir.cmd(&args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, dir: &Dir, from: &str, to: &str, extra: &[&str]) -> super::Run {
        let spec = self.spec(dir, from, to);
        self.command(dir, &spec, extra)
            .output()
            .expect("convoy runs")
            .into()
    }
}

/// A local endpoint: `{ path = "…", … }`.
pub fn local(path: &str, extra: &str) -> String {
    if extra.is_empty() {
        format!("{{ path = \"{path}\" }}")
    } else {
        format!("{{ path = \"{path}\", {extra} }}")
    }
}
