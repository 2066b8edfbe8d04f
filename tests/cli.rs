//! The command line: specs, plans, exit codes, JSON, help and completions.

use crate::support::Dir;

#[test]
fn spec_errors_are_reported_together_with_paths_and_hints() {
    let dir = Dir::new();
    dir.write(
        "bad.toml",
        r#"
[connections.lake]
kind = "local"
root = "data"

[[copy]]
name = "a"
from = { connection = "laek", path = "a.csv", delimter = ";" }
to = { path = "a.parquet", format = "parqet" }

[[copy]]
name = "a"
form = { path = "b.csv" }
to = { path = "b.parquet" }
mode = "merge"
"#,
    );
    let run = dir.run(&["run", "bad.toml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for e in [
        "bad.toml has 6 errors",
        r#"copy[0].from.delimter: unknown key (did you mean csv = { delimiter = … }?)"#,
        r#"copy[0].to.format: unknown format "parqet" (did you mean "parquet"?)"#,
        r#"copy[1].form: unknown key (did you mean "from"?)"#,
        r#"copy[1].from: missing"#,
        r#"copy[1].key: mode "merge" needs key"#,
    ] {
        assert!(
            run.stderr.contains(e),
            "{e:?} missing from:\n{}",
            run.stderr
        );
    }
    // A second problem class: names that refer to nothing.
    dir.write(
        "bad2.toml",
        "[[copy]]\nname = \"x\"\nfrom = { connection = \"laek\", path = \"a.csv\" }\nto = { path = \"a.parquet\" }\n[connections.lake]\nkind = \"local\"\n",
    );
    let run = dir.run(&["run", "bad2.toml", "--json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            r#"copy[0].from.connection: no connection named "laek" (did you mean "lake"?)"#
        ),
        "{}",
        run.stderr
    );
    let json = run.json();
    assert_eq!(json["status"], "usage_error");
    assert_eq!(json["exit_code"], 2);
    assert!(json["error"]["message"].as_str().unwrap().contains("laek"));
}

#[test]
fn run_executes_the_copies_of_a_spec_relative_to_its_directory() {
    let dir = Dir::new();
    dir.write("jobs/data/a.csv", "id,v\n1,1.50\n2,2.25\n");
    dir.write("jobs/data/b.csv", "id\n7\n");
    dir.write(
        "jobs/nightly.toml",
        r#"
[connections.files]
kind = "local"
root = "data"

[[copy]]
name = "a"
from = { connection = "files", path = "a.csv" }
to = { connection = "files", path = "out/{run_date}/a.parquet" }

[[copy]]
name = "b"
from = { connection = "files", path = "b.csv", schema = "id:int32" }
to = { path = "b.jsonl" }
"#,
    );
    let run = dir.run(&["run", "jobs/nightly.toml", "--copy", "b", "--json"]);
    run.ok();
    let json = run.json();
    assert_eq!(json["copies"].as_array().unwrap().len(), 1);
    assert_eq!(
        std::fs::read_to_string(dir.path("jobs/b.jsonl")).unwrap(),
        "{\"id\":7}\n"
    );
    let run = dir.run(&["run", "jobs/nightly.toml"]);
    run.ok();
    assert!(run.stdout.contains("succeeded"), "{}", run.stdout);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(dir
        .path(&format!("jobs/data/out/{today}/a.parquet"))
        .exists());
    let run = dir.run(&["run", "jobs/nightly.toml", "--copy", "bb"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("did you mean \"b\""), "{}", run.stderr);
}

#[test]
fn a_failed_copy_does_not_stop_the_others_and_sets_the_exit_code() {
    let dir = Dir::new();
    dir.write("good.csv", "id\n1\n");
    dir.write(
        "spec.toml",
        r#"
[[copy]]
name = "missing"
from = { path = "nope.csv" }
to = { path = "x.parquet" }

[[copy]]
name = "good"
from = { path = "good.csv" }
to = { path = "good.parquet" }
"#,
    );
    let run = dir.run(&["run", "spec.toml", "--json"]);
    assert_eq!(run.code, 1);
    let json = run.json();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["copies"][0]["status"], "failed");
    assert!(json["copies"][0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nope.csv"));
    assert_eq!(json["copies"][1]["status"], "succeeded");
    assert!(dir.path("good.parquet").exists());
}

#[test]
fn dry_run_opens_the_source_and_writes_nothing() {
    let dir = Dir::new();
    dir.write("in.csv", "id,amount\n1,2.50\n");
    let run = dir.run(&["copy", "in.csv", "out.parquet", "--dry-run"]);
    run.ok();
    assert!(
        run.stdout.contains("id:int64,amount:decimal(18,2)"),
        "{}",
        run.stdout
    );
    assert!(!dir.path("out.parquet").exists());
    let run = dir.run(&["copy", "missing.csv", "out.parquet", "--dry-run"]);
    assert_eq!(run.code, 1);
}

#[test]
fn plan_shows_what_would_happen_without_doing_it() {
    let dir = Dir::new();
    dir.write(
        "spec.toml",
        r#"
[[copy]]
name = "orders"
from = { path = "orders.csv", schema = "id:int64" }
to = { path = "out/", format = "parquet", max_rows_per_file = 1000 }
"#,
    );
    let run = dir.run(&["plan", "spec.toml"]);
    run.ok();
    for e in [
        "copy orders",
        "declared: id:int64",
        "files of at most 1000 rows",
        "network endpoints: none",
    ] {
        assert!(run.stdout.contains(e), "{e:?} missing:\n{}", run.stdout);
    }
    let json = dir.run(&["plan", "in.csv", "out.parquet", "--json"]).json();
    assert_eq!(json["copies"][0]["mode"], "replace");
    assert_eq!(json["copies"][0]["endpoints"], serde_json::json!([]));
    assert!(
        dir.listing().iter().all(|p| p == "spec.toml"),
        "{:?}",
        dir.listing()
    );
}

#[test]
fn regions_that_differ_are_refused_unless_allowed() {
    let dir = Dir::new();
    dir.write("in.csv", "id\n1\n");
    let spec = |allow: &str| {
        format!(
            "[connections.eu]\nkind = \"local\"\nregion = \"westeurope\"\n[connections.us]\nkind = \"local\"\nregion = \"eastus\"\n\
             [[copy]]\nname = \"c\"\n{allow}from = {{ connection = \"eu\", path = \"in.csv\" }}\nto = {{ connection = \"us\", path = \"out.parquet\" }}\n"
        )
    };
    dir.write("x.toml", spec(""));
    let run = dir.run(&["run", "x.toml"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("from region westeurope to region eastus"),
        "{}",
        run.stderr
    );
    assert!(!dir.path("out.parquet").exists());
    dir.run(&["run", "x.toml", "--allow-cross-region", "-q"])
        .ok();
    std::fs::remove_file(dir.path("out.parquet")).unwrap();
    dir.write("y.toml", spec("allow_cross_region = true\n"));
    dir.run(&["run", "y.toml", "-q"]).ok();
}

#[test]
fn literal_credentials_in_a_spec_are_refused() {
    let dir = Dir::new();
    dir.write(
        "s.toml",
        "[connections.db]\nkind = \"postgres\"\nhost = \"h\"\npassword = \"canary-Pa55word\"\n[[copy]]\nfrom = { connection = \"db\", table = \"t\" }\nto = { path = \"t.parquet\" }\n",
    );
    let run = dir.run(&["run", "s.toml", "--json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("convoy secrets set db_password"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("canary-Pa55word") && !run.stdout.contains("canary-Pa55word"));
    assert_eq!(run.json()["status"], "refused");
}

#[test]
fn usage_errors_exit_2_and_help_shows_the_exit_codes() {
    let dir = Dir::new();
    let run = dir.run(&["copy", "a.csv", "b.xyz"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot tell the format"),
        "{}",
        run.stderr
    );
    let run = dir.run(&["copy", "a.csv", "b.parquet", "--compression", "brotli(99)"]);
    assert_eq!(run.code, 2);
    let run = dir.run(&["frobnicate"]);
    assert_eq!(run.code, 2);
    let help = dir.run(&["--help"]);
    help.ok();
    for line in [
        "Exit status:",
        "0    every copy succeeded",
        "130  interrupted",
    ] {
        assert!(
            help.stdout.contains(line),
            "{line:?} missing:\n{}",
            help.stdout
        );
    }
}

/// The committed completion files match what the binary generates
/// (regenerate with `scripts/completions`).
#[test]
fn committed_completions_are_current() {
    let dir = Dir::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for (shell, file) in [
        ("bash", "convoy.bash"),
        ("zsh", "_convoy"),
        ("fish", "convoy.fish"),
        ("powershell", "_convoy.ps1"),
    ] {
        let run = dir.run(&["completions", shell]);
        run.ok();
        let committed = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("completions/{file}: {e}; run scripts/completions"));
        assert!(
            committed == run.stdout,
            "completions/{file} is stale; run scripts/completions"
        );
    }
}

#[test]
fn progress_always_prints_plain_lines_when_stderr_is_not_a_terminal() {
    let dir = Dir::new();
    dir.write("in.csv", "id\n1\n2\n3\n");
    let run = dir.run(&["copy", "in.csv", "out.parquet", "--progress", "always"]);
    run.ok();
    assert!(run.stderr.contains("copy: started"), "{}", run.stderr);
    assert!(run.stderr.contains("copy: 3 rows"), "{}", run.stderr);
    // Default (auto) prints nothing when stderr is not a terminal.
    let run = dir.run(&["copy", "in.csv", "out2.parquet"]);
    run.ok();
    assert_eq!(run.stderr, "");
}

/// The README's first command and the example spec work as written.
#[test]
fn readme_main_job_and_example_spec_work() {
    let dir = Dir::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = dir.path("orders.parquet");
    let run = dir.run(&[
        "copy",
        root.join("examples/data/orders.csv").to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    run.ok();
    assert!(run.stdout.contains("succeeded"), "{}", run.stdout);
    assert_eq!(crate::support::parquet_table(&out).num_rows(), 6);
    // The example spec, run from a copy of examples/ (it writes beside itself).
    dir.write(
        "ex/nightly.toml",
        std::fs::read(root.join("examples/nightly.toml")).unwrap(),
    );
    dir.write(
        "ex/data/orders.csv",
        std::fs::read(root.join("examples/data/orders.csv")).unwrap(),
    );
    let run = dir.run(&["run", "ex/nightly.toml", "--json"]);
    run.ok();
    let json = run.json();
    assert_eq!(json["copies"][0]["rows_written"], 6);
    assert_eq!(json["copies"][1]["outputs"].as_array().unwrap().len(), 2);
    assert!(dir.path("ex/out/feed/_convoy_manifest.json").exists());
}

/// Regression: a badly typed setting in the last copy of a spec used to be
/// found only when that copy opened, after the first copies had run.
#[test]
fn a_bad_setting_in_the_last_copy_stops_the_run_before_anything_is_contacted() {
    let dir = Dir::new();
    dir.write("in.csv", "id\n1\n");
    // A server that would record any connection made to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    dir.write(
        "nightly.toml",
        format!(
            r#"
[connections.db]
kind = "postgres"
host = "127.0.0.1"
port = {port}
password = "${{env:CONVOY_TEST_NO_SUCH_PW}}"

[connections.broken]
kind = "postgres"
hots = "127.0.0.1"
port = "x"
tls = {{ mode = "bogus" }}

[[copy]]
name = "first"
from = {{ path = "in.csv" }}
to = {{ path = "first.parquet" }}

[[copy]]
name = "second"
from = {{ connection = "db", table = "t" }}
to = {{ path = "second.parquet" }}

[[copy]]
name = "last"
from = {{ connection = "broken", table = "t" }}
to = {{ path = "last.parquet" }}
"#
        ),
    );
    let run = dir.run(&["run", "nightly.toml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for e in [
        "nightly.toml has 3 errors",
        r#"connections.broken.hots: unknown key (did you mean "host"?)"#,
        "connections.broken.port: expected a port number (1 to 65535), found a string",
        r#"connections.broken.tls.mode: unknown value "bogus" (expected one of: verify-full, no-verify, disable)"#,
    ] {
        assert!(
            run.stderr.contains(e),
            "{e:?} missing from:\n{}",
            run.stderr
        );
    }
    assert!(!dir.path("first.parquet").exists(), "the first copy ran");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a connection was made"
    );
    assert_eq!(dir.listing(), vec!["in.csv", "nightly.toml"]);
}

/// Regression: `convoy plan` said only "postgres sink" about how a
/// PostgreSQL table is published.
#[test]
fn plan_says_how_a_postgres_sink_publishes_each_mode() {
    let dir = Dir::new();
    let url = "postgres://loader@db.example:5432/sales?table=public.orders";
    for (mode, extra, sentence) in [
        ("replace", &[][..], "TRUNCATE and COPY in one transaction"),
        ("append", &[][..], "COPY into the table in one transaction"),
        (
            "merge",
            &["--key", "id"][..],
            "INSERT … ON CONFLICT on the key",
        ),
    ] {
        let mut args = vec!["plan", "in.csv", url, "--mode", mode];
        args.extend_from_slice(extra);
        let run = dir.run(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let line = run
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("publish:"))
            .unwrap_or_else(|| panic!("no publish line:\n{}", run.stdout));
        assert!(line.contains(sentence), "{mode}: {line}");
    }
}

/// One TLS setting with one meaning: a kind that cannot do a mode refuses
/// it when the spec is read, naming the mode and what to do instead.
#[test]
fn each_kind_refuses_the_tls_modes_it_cannot_do() {
    let dir = Dir::new();
    let mut spec = String::new();
    let kinds = [
        (
            "sql",
            "kind = \"mssql\"\nhost = \"h\"\ntoken = \"${env:T}\"",
            "disable",
        ),
        ("lake", "kind = \"s3\"\nbucket = \"b\"", "disable"),
        (
            "blob",
            "kind = \"azure\"\naccount = \"a\"\ncontainer = \"c\"",
            "disable",
        ),
        ("gcs", "kind = \"gcs\"\nbucket = \"b\"", "disable"),
        (
            "web",
            "kind = \"http\"\nurl = \"https://example.org\"",
            "disable",
        ),
        (
            "pinned",
            "kind = \"mssql\"\nhost = \"h\"\ntoken = \"${env:T}\"",
            "pin",
        ),
    ];
    for (name, settings, what) in kinds {
        let tls = if what == "pin" {
            "tls = { pin_sha256 = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" }".to_string()
        } else {
            format!("tls = {{ mode = \"{what}\" }}")
        };
        spec.push_str(&format!("[connections.{name}]\n{settings}\n{tls}\n\n"));
        let (from, to) = if name == "web" {
            (
                format!("connection = \"{name}\", path = \"x.csv\""),
                "path = \"x.parquet\"".to_string(),
            )
        } else if name == "sql" || name == "pinned" {
            (
                format!("connection = \"{name}\", table = \"t\""),
                "path = \"x.parquet\"".to_string(),
            )
        } else {
            (
                "path = \"x.csv\"".to_string(),
                format!("connection = \"{name}\", path = \"x.parquet\""),
            )
        };
        spec.push_str(&format!(
            "[[copy]]\nname = \"{name}\"\nfrom = {{ {from} }}\nto = {{ {to} }}\n\n"
        ));
    }
    dir.write("tls.toml", &spec);
    let run = dir.run(&["plan", "tls.toml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("has 6 errors"), "{}", run.stderr);
    assert!(
        run.stderr.contains(r#"connections.sql.tls.mode: mode "disable" (no TLS at all) is not available here: SQL Server connections are always encrypted"#),
        "{}",
        run.stderr
    );
    for store in ["lake", "blob", "gcs", "web"] {
        let want = format!(
            r#"connections.{store}.tls.mode: mode "disable" (no TLS at all) is not available here: object stores are reached over HTTPS; for a server without TLS give an http:// endpoint"#
        );
        assert!(run.stderr.contains(&want), "{want}\n{}", run.stderr);
    }
    assert!(
        run.stderr.contains("connections.pinned.tls.pin_sha256: pin_sha256 is not available for SQL Server connections"),
        "{}",
        run.stderr
    );
    // PostgreSQL can do all three; the plan says what each means.
    dir.write(
        "pg.toml",
        "[connections.a]\nkind = \"postgres\"\nhost = \"a\"\ntls = { mode = \"no-verify\" }\n\
         [connections.b]\nkind = \"postgres\"\nhost = \"b\"\ntls = { mode = \"disable\" }\n\
         [[copy]]\nname = \"x\"\nfrom = { connection = \"a\", table = \"t\" }\nto = { connection = \"b\", table = \"t\" }\n",
    );
    let run = dir.run(&["plan", "pg.toml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("a:5432  postgresql  NOT VERIFIED"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("b:5432  postgresql  DISABLED"),
        "{}",
        run.stdout
    );
}
