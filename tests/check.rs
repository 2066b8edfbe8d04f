//! `convoy plan` endpoint lists and `convoy check` against real PostgreSQL
//! clusters (good, expired certificate, unknown CA, wrong host name, no TLS,
//! nothing listening, missing privileges) and a SQL Server stand-in that
//! declines encryption.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::pg::{self, convoy, Ca, Cluster, Tls, PASSWORD};
use crate::support::text;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Check a spec of one copy from the PostgreSQL connection `conn` (named
/// `pg`) into a local file.
fn check_source(dir: &Path, conn: &str, extra_args: &[&str]) -> Output {
    let spec = format!(
        "{conn}\n[[copy]]\nname = \"r\"\nfrom = {{ connection = \"pg\", query = \"select 1 as x\" }}\nto = {{ path = \"out.csv\" }}\n"
    );
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let mut args = vec!["check", "spec.toml"];
    args.extend_from_slice(extra_args);
    convoy(dir, &args)
}

fn assert_exit(o: &Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", text(o));
    assert!(
        stdout(o).contains(needle),
        "expected {needle:?} in {}",
        text(o)
    );
}

#[test]
fn plan_lists_every_outbound_endpoint_of_a_multi_copy_spec_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"
[connections.warehouse]
kind = "postgres"
host = "db.corp.example"
database = "sales"
user = "loader"
password = "${env:WAREHOUSE_PW}"
region = "westeurope"
tls = { ca_file = "corp-ca.pem" }

[connections.reporting]
kind = "postgres"
host = "reports.corp.example"
port = 6432
user = "loader"
password = "${env:REPORTING_PW}"
tls = { pin_sha256 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }

[connections.erp]
kind = "mssql"
host = "erp.corp.example"
database = "erp"
user = "reader"
password = "${env:ERP_PW}"
encrypt = "strict"
region = "westeurope"

[[copy]]
name = "orders"
from = { connection = "erp", table = "dbo.orders" }
to = { connection = "warehouse", table = "public.orders" }

[[copy]]
name = "customers"
from = { connection = "erp", table = "dbo.customers" }
to = { connection = "warehouse", table = "public.customers" }

[[copy]]
name = "report"
from = { connection = "warehouse", query = "select 1 as x" }
to = { connection = "reporting", table = "public.daily" }

[[copy]]
name = "export"
from = { connection = "warehouse", table = "public.orders" }
to = { path = "orders.parquet" }
"#;
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    let o = convoy(dir.path(), &["plan", "spec.toml"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = stdout(&o);
    let endpoints: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("network endpoints"))
        .skip(1)
        .collect();
    assert_eq!(endpoints.len(), 3, "{out}");
    let line = |hp: &str| {
        *endpoints
            .iter()
            .find(|l| l.trim_start().starts_with(hp))
            .unwrap_or_else(|| panic!("{hp} missing:\n{out}"))
    };
    let erp = line("erp.corp.example:1433 ");
    assert!(erp.contains("tds") && erp.contains("strict"), "{erp}");
    let wh = line("db.corp.example:5432 ");
    assert!(
        wh.contains("postgresql") && wh.contains("verify-full + ca_file"),
        "{wh}"
    );
    let rep = line("reports.corp.example:6432 ");
    assert!(
        rep.contains("postgresql") && rep.contains("pinned"),
        "{rep}"
    );
    assert!(out.contains("regions:  westeurope -> westeurope"), "{out}");
    assert!(out.contains("regions:  westeurope -> unknown"), "{out}");

    let o = convoy(dir.path(), &["plan", "spec.toml", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let all = json["endpoints"].as_array().unwrap();
    assert_eq!(all.len(), 3, "{json:#}");
    assert!(all.contains(&serde_json::json!({
        "host": "db.corp.example", "port": 5432, "protocol": "postgresql", "tls": "verify-full + ca_file"
    })));
    let export = &json["copies"][3];
    assert_eq!(export["name"], "export");
    assert_eq!(export["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(export["source_region"], "westeurope");
    // Plans contact nothing and write nothing.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn plan_marks_disabled_tls_as_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let o = check_source(
        dir.path(),
        "[connections.pg]\nkind = \"postgres\"\nhost = \"h\"\nport = 1\ntls = { mode = \"disable\" }\n",
        &[],
    );
    assert_exit(&o, 3, "REFUSED");
    let o = convoy(dir.path(), &["plan", "spec.toml"]);
    assert!(
        stdout(&o).contains("h:1  postgresql  DISABLED (insecure"),
        "{}",
        text(&o)
    );
}

#[test]
fn check_a_good_server_reports_tls_login_and_access() {
    let c = pg::shared();
    c.psql("create table if not exists check_src (id int); create table if not exists check_dst (id int)");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), "id\n1\n").unwrap();
    let spec = format!(
        "{}\n[[copy]]\nname = \"out\"\nfrom = {{ connection = \"pg\", table = \"public.check_src\" }}\nto = {{ path = \"exports/{{run_date}}/src.parquet\" }}\n\
         [[copy]]\nname = \"in\"\nfrom = {{ path = \"in.csv\" }}\nto = {{ connection = \"pg\", table = \"check_dst\" }}\nmode = \"merge\"\nkey = [\"id\"]\n\
         [[copy]]\nname = \"new\"\nfrom = {{ path = \"in.csv\" }}\nto = {{ connection = \"pg\", table = \"check_not_yet\" }}\n",
        c.connection("pg", "localhost", "")
    );
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    let o = convoy(dir.path(), &["check", "spec.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    for needle in [
        "TLS 1.3",
        "subject CN=localhost",
        "issuer CN=convoy test CA",
        "chain and host name verified",
        "logged in as postgres; SELECT 1 answered",
        "SELECT on public.check_src granted",
        "INSERT, UPDATE, SELECT, TEMPORARY granted for merge into check_dst",
        "CREATE granted for replace into check_not_yet",
        "in.csv readable",
        "writable (",
    ] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
    let o = convoy(dir.path(), &["check", "spec.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["command"], "check");
    assert_eq!(json["exit_code"], 0);
    let pg_src = json["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "postgres" && e["role"] == "source")
        .unwrap();
    assert_eq!(pg_src["tls"]["version"], "TLS 1.3");
    assert!(pg_src["tls"]["cipher_suite"]
        .as_str()
        .unwrap()
        .starts_with("TLS13_"));
    assert!(pg_src["tls"]["days_to_expiry"].as_i64().unwrap() > 30);
    assert_eq!(pg_src["port"], c.port);
    // Nothing was written: no file, no table.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["in.csv", "spec.toml"]);
    assert_eq!(c.psql("select to_regclass('check_not_yet') is null"), "t");
}

#[test]
fn check_src_dst_checks_both_ends() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pg::test_ca().pem).unwrap();
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?table=public.check_src",
        c.port
    );
    c.psql("create table if not exists check_src (id int)");
    let o = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["check", &url, "out.csv"])
        .current_dir(dir.path())
        .env("PGPASSWORD", PASSWORD)
        .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
        .output()
        .unwrap();
    // The URL form has no ca_file: the test CA is trusted through the system roots.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("local out.csv"), "{}", text(&o));
    assert!(
        stdout(&o).contains("SELECT on public.check_src granted"),
        "{}",
        text(&o)
    );
}

#[test]
fn check_refuses_an_expired_certificate() {
    let ca = Ca::new("convoy check expired CA");
    let (cert, key) = ca.issue(&["localhost"], true);
    let c = Cluster::start(Tls::On { cert, key }, Some(&ca.pem));
    let dir = tempfile::tempdir().unwrap();
    let o = check_source(dir.path(), &c.connection("pg", "localhost", ""), &[]);
    assert_exit(&o, 3, "expired");
    assert!(stdout(&o).contains("tcp     ok"), "{}", text(&o));
}

#[test]
fn check_refuses_an_unknown_ca() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other.pem"), Ca::new("another CA").pem).unwrap();
    let conn = format!(
        "[connections.pg]\nkind = \"postgres\"\nhost = \"localhost\"\nport = {}\nuser = \"postgres\"\ndatabase = \"postgres\"\ntls = {{ ca_file = \"other.pem\" }}\n",
        c.port
    );
    let o = check_source(dir.path(), &conn, &["--json"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = &json["endpoints"][0];
    assert_eq!(e["status"], "refused");
    let tls = e["steps"].as_array().unwrap().last().unwrap();
    assert_eq!(tls["step"], "tls");
    assert!(
        tls["detail"].as_str().unwrap().contains("unknown issuer"),
        "{json:#}"
    );
    assert!(
        tls["hint"].as_str().unwrap().contains("ca_file"),
        "{json:#}"
    );
}

#[test]
fn check_refuses_a_wrong_host_name() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let o = check_source(dir.path(), &c.connection("pg", "127.0.0.1", ""), &[]);
    assert_exit(&o, 3, "hostname mismatch");
}

#[test]
fn check_refuses_a_server_without_tls() {
    let c = pg::plaintext();
    let dir = tempfile::tempdir().unwrap();
    let o = check_source(dir.path(), &c.connection("pg", "localhost", ""), &[]);
    assert_exit(&o, 3, "offers no TLS");
    // With TLS disabled on purpose and the flag, it is a warning, listed as insecure.
    let conn = c.connection("pg", "localhost", "tls = { mode = \"disable\" }");
    let o = check_source(dir.path(), &conn, &["--allow-insecure", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["endpoints"][0]["status"], "warn");
    assert_eq!(json["insecure"].as_array().unwrap().len(), 1, "{json:#}");
}

#[test]
fn check_reports_an_unreachable_port_as_a_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let conn = format!(
        "[connections.pg]\nkind = \"postgres\"\nhost = \"localhost\"\nport = {port}\nuser = \"postgres\"\nconnect_timeout = 5\n"
    );
    let o = check_source(dir.path(), &conn, &[]);
    assert_exit(&o, 1, "tcp     FAIL");
}

#[test]
fn check_reports_missing_privileges_as_a_failure() {
    let c = pg::shared();
    c.psql(&format!(
        "do $$ begin if not exists (select from pg_roles where rolname = 'check_nobody') then \
         create role check_nobody login password '{PASSWORD}'; end if; end $$; \
         create table if not exists check_private (id int); revoke all on check_private from public"
    ));
    let dir = tempfile::tempdir().unwrap();
    let conn = c
        .connection("pg", "localhost", "")
        .replace("user = \"postgres\"", "user = \"check_nobody\"");
    let spec = format!(
        "{conn}\n[[copy]]\nname = \"r\"\nfrom = {{ connection = \"pg\", table = \"check_private\" }}\nto = {{ path = \"out.csv\" }}\n"
    );
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    let o = convoy(dir.path(), &["check", "spec.toml"]);
    assert_exit(&o, 1, "no SELECT privilege on check_private");
    assert!(stdout(&o).contains("TLS 1.3"), "{}", text(&o));
}

#[test]
fn check_refuses_a_sql_server_that_declines_encryption_before_login() {
    let (port, server) = crate::mssql::declining_server(2);
    let dir = tempfile::tempdir().unwrap();
    let spec = format!(
        "[connections.ms]\nkind = \"mssql\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"sa\"\npassword = \"${{env:MS_PW}}\"\n\
         [[copy]]\nname = \"r\"\nfrom = {{ connection = \"ms\", table = \"dbo.t\" }}\nto = {{ path = \"out.csv\" }}\n"
    );
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["check", "spec.toml"])
        .current_dir(dir.path())
        .env("MS_PW", "Canary-Pw-Check-0b1d")
        .output()
        .unwrap();
    assert_exit(&o, 3, "does not offer encryption");
    let (_, after) = server.join().unwrap();
    assert!(
        after.is_empty(),
        "convoy sent {} bytes after PRELOGIN",
        after.len()
    );
}

#[test]
fn check_refuses_a_pin_mismatch_and_accepts_the_right_pin() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let conn = |pin: &str| {
        format!(
            "[connections.pg]\nkind = \"postgres\"\nhost = \"localhost\"\nport = {}\nuser = \"postgres\"\ndatabase = \"postgres\"\ntls = {{ pin_sha256 = \"{pin}\" }}\n",
            c.port
        )
    };
    let o = check_source(dir.path(), &conn(&"00".repeat(32)), &[]);
    assert_exit(&o, 3, "pin mismatch");
    // The refusal names the key the server holds; pinning that one passes.
    let out = stdout(&o);
    let found = out
        .split("server public key sha256 ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no key in {out}"))
        .to_string();
    let o = check_source(dir.path(), &conn(&found), &[]);
    assert_exit(&o, 0, "public key matches pin_sha256");
}

/// `check` against the S3 server and Azurite on loopback: verified TLS
/// facts, credentials and read access; a CA that did not sign the
/// server's certificate is a security refusal.
#[test]
fn check_object_stores_over_verified_tls_and_refuse_an_unknown_ca() {
    use crate::support::objstore::{certs, local, Backend, Target};
    use crate::support::Dir;
    for backend in [Backend::S3, Backend::Azurite] {
        let dir = Dir::new();
        let t = Target::new(backend, &dir);
        t.put("in/a.csv", "id\n1\n");
        let spec = t.spec(&dir, &t.at("in/a.csv", ""), &local("out.parquet", ""));
        let mut cmd = dir.cmd(&["check", spec.to_str().unwrap(), "--json"]);
        for (k, v) in &t.env {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let report = json.to_string();
        for needle in [
            "\"version\":\"TLS 1.",
            "convoy objstore test CA",
            "credentials accepted",
            "read access",
        ] {
            assert!(report.contains(needle), "{needle:?} missing: {report}");
        }
        // The same store, trusting a CA that did not sign its certificate.
        let text_spec = std::fs::read_to_string(&spec).unwrap().replace(
            &certs().ca_file.display().to_string(),
            &certs().other_ca_file.display().to_string(),
        );
        std::fs::write(&spec, text_spec).unwrap();
        let mut cmd = dir.cmd(&["check", spec.to_str().unwrap()]);
        for (k, v) in &t.env {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert!(
            stdout(&o).contains("unknown issuer") || stdout(&o).contains("REFUSED"),
            "{}",
            text(&o)
        );
    }
}
