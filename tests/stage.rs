//! Staged copies: one command through a stage, extract and load apart on
//! two "machines" (two vaults), encryption, verification of what the stage
//! holds, kills at every stage, housekeeping — against a local directory,
//! moto (S3) and Azurite over HTTPS, and PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::postgres::{declared_types, unique, unsafe_kill, ALL_TYPES, ALL_VALUES};
use crate::support::objstore::{self, Backend, Target};
use crate::support::pg::{self, PASSWORD};
use crate::support::{parquet_table, wait_within, Dir, Run};

/// Values a CSV reader could get wrong: decimals with their scale,
/// timestamps with zones, Unicode, quotes, newlines, NULLs.
const TRICKY_CSV: &str = "id,amount,at,note\n\
1,12345.6789,2024-02-29T23:59:59.123456+02:00,\"héllo, \"\"wörld\"\"\"\n\
2,-0.0001,1999-12-31T00:00:00Z,\"two\nlines\"\n\
3,,,\n\
4,0.0000,2038-01-19T03:14:08Z,日本語\n";

/// A "machine": its own vault (identity) and environment.
struct Machine {
    dir: Dir,
    env: Vec<(String, String)>,
}

impl Machine {
    fn new() -> Machine {
        let dir = Dir::new();
        let vault = dir.path("vault/vault");
        Machine {
            env: vec![("CONVOY_VAULT".into(), vault.display().to_string())],
            dir,
        }
    }

    fn with(mut self, env: &[(String, String)]) -> Machine {
        self.env.extend_from_slice(env);
        self
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(crate::support::bin());
        c.args(args)
            .current_dir(self.dir.path(""))
            .env("PGPASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        wait_within(self.cmd(args).spawn().unwrap(), 120).into()
    }

    /// This machine's recipient (creates its vault).
    fn identity(&self) -> String {
        let r = self.run(&["secrets", "identity"]);
        r.ok();
        r.stdout.trim().to_string()
    }
}

/// Environment that points `s3://` URLs at moto (and trusts the test CA).
fn s3_env() -> Vec<(String, String)> {
    let port = objstore::moto().port;
    vec![
        (
            "AWS_ENDPOINT_URL".into(),
            format!("https://127.0.0.1:{port}"),
        ),
        ("AWS_ACCESS_KEY_ID".into(), objstore::S3_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), objstore::S3_SECRET.into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        (
            "SSL_CERT_FILE".into(),
            objstore::certs().ca_file.display().to_string(),
        ),
    ]
}

/// Environment that points `az://` URLs at Azurite.
fn azure_env() -> Vec<(String, String)> {
    let port = objstore::azurite().port;
    vec![
        (
            "AZURE_STORAGE_ACCOUNT_NAME".into(),
            objstore::AZ_ACCOUNT.into(),
        ),
        ("AZURE_STORAGE_ACCOUNT_KEY".into(), objstore::AZ_KEY.into()),
        (
            "AZURE_STORAGE_ENDPOINT".into(),
            format!("https://127.0.0.1:{port}/{}", objstore::AZ_ACCOUNT),
        ),
        (
            "SSL_CERT_FILE".into(),
            objstore::certs().ca_file.display().to_string(),
        ),
    ]
}

fn fresh_prefix() -> String {
    format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The run a `--json` extract reports.
fn run_of(r: &Run) -> String {
    let json = r.json();
    json["copies"][0]["stage"]["run"]
        .as_str()
        .unwrap_or_else(|| panic!("no stage run in {json:#}"))
        .to_string()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_staged_copy_through_a_local_directory_is_exact_and_removes_its_run() {
    let m = Machine::new();
    m.dir.write("in.csv", TRICKY_CSV);
    m.run(&["copy", "in.csv", "direct.parquet", "-q"]).ok();
    let r = m.run(&[
        "copy",
        "in.csv",
        "staged.parquet",
        "--stage",
        "stage/",
        "--json",
    ]);
    r.ok();
    let json = r.json();
    assert_eq!(json["copies"][0]["rows_read"], 4, "{json:#}");
    assert_eq!(json["copies"][0]["rows_written"], 4, "{json:#}");
    assert_eq!(json["copies"][0]["stage"]["kept"], false, "{json:#}");
    assert_eq!(
        parquet_table(&m.dir.path("staged.parquet")),
        parquet_table(&m.dir.path("direct.parquet"))
    );
    assert!(
        files_under(&m.dir.path("stage")).is_empty(),
        "the run was left behind: {:?}",
        files_under(&m.dir.path("stage"))
    );
    // Kept: the run stays, with its manifest and parts, and says where.
    let r = m.run(&[
        "copy",
        "in.csv",
        "kept.parquet",
        "--stage",
        "stage/",
        "--keep-stage",
        "--json",
    ]);
    r.ok();
    let run = run_of(&r);
    let files: Vec<String> = files_under(Path::new(&run))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.contains(&"_manifest-s0001-of-0001.json".to_string())
            && files.contains(&"part-s0001-00000.parquet".to_string())
            && files.contains(&"_loaded.json".to_string()),
        "{files:?}"
    );
    // A staged part is Parquet with the source's exact types.
    assert_eq!(
        parquet_table(&Path::new(&run).join("part-s0001-00000.parquet")),
        parquet_table(&m.dir.path("direct.parquet"))
    );
}

#[test]
fn postgres_to_postgres_through_an_encrypted_s3_stage_is_exact() {
    let c = pg::shared();
    let m = Machine::new();
    m.identity();
    let target = Target::new(Backend::S3, &m.dir);
    let src = unique("stage_src");
    let dst = unique("stage_dst");
    c.psql(&format!(
        "create table {src} ({ALL_TYPES}); insert into {src} values {ALL_VALUES}; \
         alter table {src} drop column iv"
    ));
    let spec = format!(
        "{}\n{}\n[[copy]]\nname = \"pg\"\nfrom = {{ connection = \"pg\", table = \"{src}\" }}\n\
         to = {{ connection = \"pg\", table = \"public.{dst}\" }}\n\
         stage = {{ connection = \"store\", path = \"{}\", encrypt = true, keep = true }}\n",
        c.connection("pg", "localhost", ""),
        target.connection,
        target.key("stage")
    );
    m.dir.write("spec.toml", spec);
    let mut cmd = m.cmd(&["run", "spec.toml", "--json"]);
    for (k, v) in &target.env {
        cmd.env(k, v);
    }
    let r: Run = wait_within(cmd.spawn().unwrap(), 120).into();
    r.ok();
    let json = r.json();
    assert_eq!(json["copies"][0]["stage"]["encrypted"], true, "{json:#}");
    assert_eq!(declared_types(c, &dst), declared_types(c, &src));
    let rows = |t: &str| {
        c.psql(&format!(
            "select string_agg(whole::text, E'\\n' order by whole.id) from {t} whole"
        ))
    };
    assert_eq!(rows(&dst), rows(&src));
    // What the stage holds is ciphertext: no row value is readable there.
    let parts: Vec<String> = target
        .list()
        .into_iter()
        .filter(|n| n.contains("part-"))
        .collect();
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert!(parts[0].ends_with(".parquet.age"), "{parts:?}");
    let bytes = target.get(&parts[0]);
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    for needle in ["wörld", "varchar", "a0eebc99"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is readable in the stage"
        );
    }
}

#[test]
fn extract_and_load_on_two_machines_with_encryption_for_the_loader() {
    let c = pg::shared();
    let a = Machine::new().with(&azure_env());
    let b = Machine::new().with(&azure_env());
    a.identity();
    let b_id = b.identity();
    a.dir.write("in.csv", TRICKY_CSV);
    let stage = format!("az://{}/{}/stage/", objstore::CONTAINER, fresh_prefix());
    // A, which can reach only the stage, extracts for B.
    let r = a.run(&["extract", "in.csv", &stage, "--recipient", &b_id, "--json"]);
    r.ok();
    let run = run_of(&r);
    assert!(
        run.starts_with(&stage.trim_end_matches('/').to_string()),
        "{run}"
    );
    let human = a.run(&["extract", "in.csv", &stage, "--recipient", &b_id]);
    human.ok();
    assert!(
        human.stdout.contains("stage run: az://"),
        "{}",
        human.stdout
    );
    std::fs::remove_file(a.dir.path("in.csv")).unwrap();
    // A cannot read what it encrypted for B.
    let dst = unique("two_machines");
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?table=public.{dst}&sslrootcert={}",
        c.port,
        c.ca_file.as_ref().unwrap().display()
    );
    let refused = a.run(&["load", &run, &url]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&b_id) && refused.stderr.contains("not for this machine"),
        "{}",
        refused.stderr
    );
    // B, which can reach only the stage and the destination, loads it.
    b.run(&["load", &run, &url, "-q"]).ok();
    assert_eq!(
        c.psql(&format!(
            "select string_agg(id || '|' || coalesce(amount::text, '-') || '|' || coalesce(note, '-'), ';' order by id) from {dst}"
        )),
        "1|12345.6789|héllo, \"wörld\";2|-0.0001|two\nlines;3|-|-;4|0.0000|日本語"
    );
    // A scheduler retrying the load must not add the rows twice.
    let again = b.run(&["load", &run, &url]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stderr.contains("loaded already"), "{}", again.stderr);
    assert_eq!(c.psql(&format!("select count(*) from {dst}")), "4");
    b.run(&["load", &run, &url, "--force", "--mode", "append", "-q"])
        .ok();
    assert_eq!(c.psql(&format!("select count(*) from {dst}")), "8");
}

/// Replace one object of a run on S3.
fn put_s3(key: &str, data: Vec<u8>) {
    let store = s3_store();
    let p = object_store::path::Path::from(key);
    objstore::rt()
        .block_on(object_store::ObjectStoreExt::put(&*store, &p, data.into()))
        .unwrap();
}

fn s3_store() -> std::sync::Arc<dyn object_store::ObjectStore> {
    let dir = Dir::new();
    Target::new(Backend::S3, &dir).store
}

fn s3_objects(prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let store = s3_store();
    let p = object_store::path::Path::from(prefix);
    let mut names: Vec<String> = objstore::rt()
        .block_on(
            store
                .list(Some(&p))
                .map_ok(|m| m.location.to_string())
                .try_collect::<Vec<_>>(),
        )
        .unwrap();
    names.sort();
    names
}

#[test]
fn a_changed_missing_or_extra_part_or_a_missing_manifest_is_never_loaded() {
    let m = Machine::new().with(&s3_env());
    let rows: String = (0..3000).map(|i| format!("{i},row {i}\n")).collect();
    m.dir.write("in.csv", format!("id,t\n{rows}"));
    m.dir.write("out.csv", "the old destination\n");
    let prefix = fresh_prefix();
    let stage = format!("s3://{}/{prefix}/stage/", objstore::BUCKET);
    let extract = || {
        let r = m.run(&["extract", "in.csv", &stage, "--json"]);
        r.ok();
        run_of(&r)
    };
    let load = |run: &str| m.run(&["load", run, "out.csv"]);
    let key_of = |run: &str, name: &str| {
        format!(
            "{}{name}",
            run.strip_prefix(&format!("s3://{}/", objstore::BUCKET))
                .unwrap()
        )
    };
    let unchanged = || {
        assert_eq!(
            std::fs::read_to_string(m.dir.path("out.csv")).unwrap(),
            "the old destination\n"
        )
    };

    // A part changed, same size: its SHA-256 gives it away.
    let run = extract();
    let part = key_of(&run, "part-s0001-00000.parquet");
    let store = s3_store();
    let mut bytes = objstore::rt()
        .block_on(async {
            object_store::ObjectStoreExt::get(
                &*store,
                &object_store::path::Path::from(part.as_str()),
            )
            .await
            .unwrap()
            .bytes()
            .await
        })
        .unwrap()
        .to_vec();
    let n = bytes.len();
    bytes[n / 2] ^= 0x55;
    put_s3(&part, bytes);
    let r = load(&run);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("was changed after it was written"),
        "{}",
        r.stderr
    );
    unchanged();

    // A part missing.
    let run = extract();
    let store = s3_store();
    objstore::rt()
        .block_on(object_store::ObjectStoreExt::delete(
            &*store,
            &object_store::path::Path::from(key_of(&run, "part-s0001-00000.parquet").as_str()),
        ))
        .unwrap();
    let r = load(&run);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("is missing"), "{}", r.stderr);
    unchanged();

    // A part too many.
    let run = extract();
    put_s3(&key_of(&run, "part-s0001-00007.parquet"), b"PAR1".to_vec());
    let r = load(&run);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("is not listed by any manifest"),
        "{}",
        r.stderr
    );
    unchanged();

    // No manifest: an extract that did not finish.
    let run = extract();
    let store = s3_store();
    objstore::rt()
        .block_on(object_store::ObjectStoreExt::delete(
            &*store,
            &object_store::path::Path::from(key_of(&run, "_manifest-s0001-of-0001.json").as_str()),
        ))
        .unwrap();
    let r = load(&run);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is incomplete"), "{}", r.stderr);
    unchanged();

    // And a good run loads.
    let run = extract();
    load(&run).ok();
    assert_eq!(
        std::fs::read_to_string(m.dir.path("out.csv"))
            .unwrap()
            .lines()
            .count(),
        3001
    );
    assert!(s3_objects(&prefix)
        .iter()
        .any(|n| n.ends_with("_loaded.json")));
}

#[test]
fn a_killed_extract_is_never_loaded_and_its_rerun_replaces_it() {
    let m = Machine::new();
    // The source is a pipe that sends half its rows, then nothing.
    let mut child = m
        .cmd(&[
            "extract",
            "-",
            "stage/",
            "--source-format",
            "csv",
            "--run-id",
            "nightly-7",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"id,t\n").unwrap();
        for i in 0..20_000 {
            writeln!(stdin, "{i},row {i}").unwrap();
        }
        stdin.flush().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the extract ended early"
    );
    unsafe_kill(child.id());
    child.wait().unwrap();
    let r = m.run(&["load", "stage/nightly-7/", "out.parquet"]);
    assert_ne!(r.code, 0, "a killed extract was loaded: {}", r.stdout);
    assert!(
        r.stderr.contains("incomplete") || r.stderr.contains("no stage run"),
        "{}",
        r.stderr
    );
    assert!(!m.dir.path("out.parquet").exists());
    // The scheduler runs it again with the same run id: it starts over.
    m.dir.write("in.csv", "id,t\n1,a\n2,b\n");
    m.run(&["extract", "in.csv", "stage/", "--run-id", "nightly-7", "-q"])
        .ok();
    m.run(&["load", "stage/nightly-7/", "out.csv", "-q"]).ok();
    assert_eq!(
        std::fs::read_to_string(m.dir.path("out.csv")).unwrap(),
        "id,t\n1,a\n2,b\n"
    );
}

#[test]
fn a_killed_load_leaves_the_table_and_its_rerun_needs_no_source() {
    let c = pg::shared();
    let m = Machine::new();
    let dst = unique("killed_load");
    c.psql(&format!(
        "create table {dst} (id bigint, t text); insert into {dst} values (1, 'old')"
    ));
    m.dir.write("in.csv", "id,t\n7,new\n8,newer\n");
    m.run(&["extract", "in.csv", "stage/", "--run-id", "r1", "-q"])
        .ok();
    std::fs::remove_file(m.dir.path("in.csv")).unwrap();
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?table=public.{dst}&sslrootcert={}",
        c.port,
        c.ca_file.as_ref().unwrap().display()
    );
    // Another session holds the table: the load waits inside its
    // transaction, and is killed there.
    let mut holder = Command::new("psql")
        .args([
            &format!(
                "host=localhost port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert={}",
                c.port,
                c.ca_file.as_ref().unwrap().display()
            ),
            "-X",
            "-c",
            &format!("begin; lock table {dst} in access exclusive mode; select pg_sleep(6); commit;"),
        ])
        .env("PGPASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let mut load = m
        .cmd(&["load", "stage/r1/", &url, "--mode", "replace"])
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let waiting = c.psql(&format!(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%{dst}%'"
        ));
        if waiting != "0" {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "the load never reached the table"
        );
        assert!(
            load.try_wait().unwrap().is_none(),
            "the load ended before it was killed"
        );
    }
    unsafe_kill(load.id());
    load.wait().unwrap();
    holder.wait().unwrap();
    assert_eq!(
        c.psql(&format!(
            "select string_agg(id || t, ',' order by id) from {dst}"
        )),
        "1old"
    );
    // The same command again: the source is gone, the stage is enough.
    m.run(&["load", "stage/r1/", &url, "--mode", "replace", "-q"])
        .ok();
    assert_eq!(
        c.psql(&format!(
            "select string_agg(id || t, ',' order by id) from {dst}"
        )),
        "7new,8newer"
    );
}

#[test]
fn stage_list_shows_each_run_s_state_and_rm_removes_runs() {
    let m = Machine::new();
    m.dir.write("in.csv", "id\n1\n2\n");
    for run in ["a", "b", "c"] {
        m.run(&["extract", "in.csv", "stage/", "--run-id", run, "-q"])
            .ok();
    }
    m.run(&["load", "stage/a/", "a.csv", "-q"]).ok();
    std::fs::remove_file(m.dir.path("stage/c/_manifest-s0001-of-0001.json")).unwrap();
    let r = m.run(&["stage", "list", "stage/", "--json"]);
    r.ok();
    let json = r.json();
    let state = |id: &str| {
        json["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["run_id"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {json:#}"))
            .clone()
    };
    assert_eq!(state("a")["state"], "loaded");
    assert_eq!(state("b")["state"], "complete");
    assert_eq!(state("b")["rows"], 2);
    assert_eq!(state("c")["state"], "incomplete");
    let human = m.run(&["stage", "list", "stage/"]);
    human.ok();
    assert!(human.stdout.contains("incomplete"), "{}", human.stdout);
    // Abandoned extracts first, then one run by name, then everything old.
    m.run(&[
        "stage",
        "rm",
        "stage/",
        "--older-than",
        "0s",
        "--incomplete",
        "-q",
    ])
    .ok();
    assert!(!m.dir.path("stage/c").exists());
    assert!(m.dir.path("stage/b").exists());
    m.run(&["stage", "rm", "stage/b/", "-q"]).ok();
    assert!(!m.dir.path("stage/b").exists());
    let missing = m.run(&["stage", "rm", "stage/b/"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    m.run(&["stage", "rm", "stage/", "--older-than", "0s", "-q"])
        .ok();
    assert!(files_under(&m.dir.path("stage")).is_empty());
}

#[test]
fn plan_and_check_show_the_stage_and_regions_cover_it() {
    let m = Machine::new().with(&s3_env());
    m.dir.write("in.csv", "id\n1\n");
    let stage = format!("s3://{}/{}/stage/", objstore::BUCKET, fresh_prefix());
    let r = m.run(&[
        "plan",
        "in.csv",
        "out.parquet",
        "--stage",
        &stage,
        "--encrypt-stage",
    ]);
    r.ok();
    let port = objstore::moto().port;
    assert!(
        r.stdout
            .contains(&format!("127.0.0.1:{port}  https  verified")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("stage:    s3 bucket"), "{}", r.stdout);
    let r = m.run(&["check", "in.csv", "out.parquet", "--stage", &stage]);
    r.ok();
    assert!(r.stdout.contains("(stage of copy)"), "{}", r.stdout);
    assert!(
        r.stdout.contains("a probe object was written and deleted"),
        "{}",
        r.stdout
    );
    // A stage in another region than the data is refused unless allowed.
    let target = Target::new(Backend::S3, &m.dir);
    let spec = format!(
        "{}\n[connections.here]\nkind = \"local\"\nregion = \"eu-west-1\"\n\
         [[copy]]\nname = \"x\"\nfrom = {{ connection = \"here\", path = \"in.csv\" }}\n\
         to = {{ connection = \"here\", path = \"out.parquet\" }}\n\
         stage = {{ connection = \"store\", path = \"{}\" }}\n",
        target.connection,
        target.key("stage")
    );
    m.dir.write("regions.toml", spec);
    let mut cmd = m.cmd(&["run", "regions.toml"]);
    for (k, v) in &target.env {
        cmd.env(k, v);
    }
    let r: Run = wait_within(cmd.spawn().unwrap(), 60).into();
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("(the stage is in us-east-1)"),
        "{}",
        r.stderr
    );
    assert!(!m.dir.path("out.parquet").exists());
}

#[test]
fn an_encrypted_part_opens_with_the_standard_age_tool() {
    let age = objstore_which("age")
        .expect("the age tool is needed (apt-get install age; scripts/test installs it)");
    let keygen = objstore_which("age-keygen").expect("age-keygen is needed (apt-get install age)");
    let m = Machine::new();
    m.dir.write("in.csv", TRICKY_CSV);
    let key = m.dir.path("team.key");
    let out = Command::new(keygen).arg("-o").arg(&key).output().unwrap();
    assert!(out.status.success());
    let public = String::from_utf8_lossy(&out.stderr)
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    assert!(public.starts_with("age1"), "{public}");
    m.run(&[
        "extract",
        "in.csv",
        "stage/",
        "--run-id",
        "r",
        "--recipient",
        &public,
        "-q",
    ])
    .ok();
    let part = m.dir.path("stage/r/part-s0001-00000.parquet.age");
    let plain = m.dir.path("plain.parquet");
    let out = Command::new(age)
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg("-o")
        .arg(&plain)
        .arg(&part)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    m.run(&["copy", "in.csv", "direct.parquet", "-q"]).ok();
    assert_eq!(
        parquet_table(&plain),
        parquet_table(&m.dir.path("direct.parquet"))
    );
}

fn objstore_which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// The commands in `examples/kubernetes/` and `examples/github-actions/`
/// are valid convoy invocations: each, run with `--plan` in the
/// environment its scheduler gives it, is accepted and contacts nothing.
#[test]
fn the_scheduler_examples_are_valid_convoy_commands() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    for dir in ["examples/kubernetes", "examples/github-actions"] {
        for e in std::fs::read_dir(repo.join(dir)).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            // Kubernetes: the container's `args: [...]` (a JSON-style list).
            for line in text.lines() {
                if let Some(list) = line.trim().strip_prefix("args: ") {
                    let args: Vec<String> = serde_json::from_str(list)
                        .unwrap_or_else(|e| panic!("{name}: args is not a list: {e}"));
                    let args = args
                        .into_iter()
                        .map(|a| a.replace("$(RUN_ID)", "orders-2026-11-29"))
                        .collect();
                    commands.push((name.clone(), args));
                }
            }
            // GitHub Actions: `convoy …` lines of `run:` blocks.
            let joined = text.replace("\\\n", " ");
            for line in joined.lines() {
                if let Some(rest) = line.trim().strip_prefix("convoy ") {
                    let rest = rest
                        .replace("${{ matrix.shard }}", "2")
                        .replace("${{ github.run_id }}", "7754");
                    commands.push((name.clone(), shell_words(&rest)));
                }
            }
        }
    }
    assert!(commands.len() >= 5, "{commands:?}");
    let m = Machine::new();
    for (file, mut args) in commands {
        args.push("--plan".into());
        let mut cmd = m.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>());
        cmd.env("JOB_COMPLETION_INDEX", "0");
        let r: Run = wait_within(cmd.spawn().unwrap(), 60).into();
        assert_eq!(r.code, 0, "{file}: convoy {}\n{}", args.join(" "), r.stderr);
        assert!(
            r.stdout.contains("network endpoints") || r.stdout.contains("\"endpoints\""),
            "{file}: {}",
            r.stdout
        );
    }
}

/// Split a command line as a POSIX shell would (quotes, no expansions).
fn shell_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// N processes, one stage run, one load: three shards of a PostgreSQL
/// table through S3 equal a single-process copy row for row — also when a
/// shard is killed and re-run, and when a coordinator holds one snapshot for
/// all of them; shards that cut the table differently are never loaded.
#[test]
fn three_shards_of_a_table_load_as_one_equal_to_a_single_copy() {
    let c = pg::shared();
    let m = Machine::new().with(&s3_env());
    let src = unique("shard_src");
    let (single, sharded, coordinated) = (unique("single"), unique("sharded"), unique("coord"));
    c.psql(&format!(
        "create table {src} (id bigint primary key, t text, x numeric(12,3)); \
         insert into {src} select g, md5(g::text), g / 7.0 from generate_series(1, 30000) g; \
         insert into {src} values (-5, null, null)"
    ));
    let url = |table: &str| {
        format!(
            "postgres://postgres@localhost:{}/postgres?table=public.{table}&sslrootcert={}",
            c.port,
            c.ca_file.as_ref().unwrap().display()
        )
    };
    m.run(&["copy", &url(&src), &url(&single), "-q"]).ok();
    let stage = format!("s3://{}/{}/stage/", objstore::BUCKET, fresh_prefix());
    let run_url = |run: &str| format!("{stage}{run}/");
    let shard = |i: u32, run: &str, extra: &[&str]| {
        let mut args = vec![
            "extract".to_string(),
            url(&src),
            stage.clone(),
            "--shard".into(),
            format!("{i}/3"),
            "--run-id".into(),
            run.into(),
            "-q".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let same = |a: &str, b: &str| {
        c.psql(&format!(
            "select count(*) from ((table {a} except all table {b}) union all (table {b} except all table {a})) d"
        ))
    };

    // Shards 1 and 3 finish; shard 2 is killed mid-way (waiting on a lock).
    for i in [1, 3] {
        let args = shard(i, "r1", &[]);
        m.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .ok();
    }
    let mut holder = Command::new("psql")
        .args([
            &format!(
                "host=localhost port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert={}",
                c.port,
                c.ca_file.as_ref().unwrap().display()
            ),
            "-X",
            "-c",
            &format!("begin; lock table {src} in access exclusive mode; select pg_sleep(5); commit;"),
        ])
        .env("PGPASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let args = shard(2, "r1", &[]);
    let mut second = m
        .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while c.psql(&format!(
        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%{src}%'"
    )) == "0"
    {
        assert!(started.elapsed().as_secs() < 30, "shard 2 never reached the table");
        assert!(second.try_wait().unwrap().is_none(), "shard 2 ended early");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    unsafe_kill(second.id());
    second.wait().unwrap();
    holder.wait().unwrap();
    let r = m.run(&["load", &run_url("r1"), &url(&sharded)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("shard 2 of 3 has not written"),
        "{}",
        r.stderr
    );
    // The scheduler re-runs shard 2; then one load.
    m.run(
        &shard(2, "r1", &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .ok();
    m.run(&["load", &run_url("r1"), &url(&sharded), "-q"]).ok();
    assert_eq!(c.psql(&format!("select count(*) from {sharded}")), "30001");
    assert_eq!(same(&single, &sharded), "0");

    // A coordinator: one cut, one snapshot for all three.
    let coordinator = m
        .cmd(&[
            "extract",
            &url(&src),
            &stage,
            "--shards",
            "3",
            "--run-id",
            "r2",
            "--coordinate",
            "--json",
        ])
        .spawn()
        .unwrap();
    let workers: Vec<_> = (1..=3)
        .map(|i| {
            let args = shard(i, "r2", &["--coordinated"]);
            m.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .spawn()
                .unwrap()
        })
        .collect();
    // Rows written while the shards read are not in the snapshot they share.
    c.psql(&format!("insert into {src} values (900001, 'late', 1)"));
    for w in workers {
        let r: Run = wait_within(w, 120).into();
        r.ok();
    }
    let r: Run = wait_within(coordinator, 120).into();
    r.ok();
    let prefix = stage
        .strip_prefix(&format!("s3://{}/", objstore::BUCKET))
        .unwrap();
    let objects = s3_objects(&format!("{prefix}r2"));
    assert!(
        objects.iter().any(|o| o.ends_with("/_shards.json")),
        "{objects:?}"
    );
    let store = s3_store();
    let manifest = objects
        .iter()
        .find(|o| o.contains("_manifest-s0002"))
        .unwrap();
    let text = objstore::rt()
        .block_on(async {
            object_store::ObjectStoreExt::get(
                &*store,
                &object_store::path::Path::from(manifest.as_str()),
            )
            .await
            .unwrap()
            .bytes()
            .await
        })
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(manifest["share"]["snapshot"], true, "{manifest:#}");
    m.run(&["load", &run_url("r2"), &url(&coordinated), "-q"])
        .ok();
    let late = c.psql(&format!(
        "select count(*) from {coordinated} where id = 900001"
    ));
    let total = c.psql(&format!("select count(*) from {coordinated}"));
    assert!(
        (late == "0" && total == "30001") || (late == "1" && total == "30002"),
        "not one view: late {late}, total {total}"
    );

    // Without a coordinator, shards that saw different key ranges do not load.
    m.run(
        &shard(1, "r3", &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .ok();
    c.psql(&format!("insert into {src} values (5000000, 'far', 1)"));
    for i in [2, 3] {
        m.run(
            &shard(i, "r3", &[])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .ok();
    }
    let r = m.run(&["load", &run_url("r3"), &url(&unique("never"))]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("cut the source differently"),
        "{}",
        r.stderr
    );
}

/// `convoy run SPEC --shard I/N` runs share I of the copies: together the
/// shares run every copy once, whatever order the workers start in.
#[test]
fn run_shards_share_out_the_copies_of_a_spec() {
    let m = Machine::new();
    let mut spec = String::new();
    for i in 0..5 {
        m.dir.write(&format!("in{i}.csv"), format!("id\n{i}\n"));
        spec.push_str(&format!(
            "[[copy]]\nname = \"c{i}\"\nfrom = {{ path = \"in{i}.csv\" }}\nto = {{ path = \"out{i}.csv\" }}\n"
        ));
    }
    m.dir.write("spec.toml", spec);
    let mut seen = Vec::new();
    for (i, env) in [(3, None), (1, Some("0")), (2, None)] {
        let mut cmd = match env {
            // The index from a Kubernetes Indexed Job (0-based).
            Some(idx) => {
                let mut c = m.cmd(&["run", "spec.toml", "--shards", "3", "--json"]);
                c.env("JOB_COMPLETION_INDEX", idx);
                c
            }
            None => m.cmd(&["run", "spec.toml", "--shard", &format!("{i}/3"), "--json"]),
        };
        cmd.env_remove("CONVOY_SHARD");
        let r: Run = wait_within(cmd.spawn().unwrap(), 60).into();
        r.ok();
        for c in r.json()["copies"].as_array().unwrap() {
            seen.push(c["name"].as_str().unwrap().to_string());
        }
    }
    seen.sort();
    assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4"]);
    for i in 0..5 {
        assert!(m.dir.path(&format!("out{i}.csv")).exists());
    }
    let bad = m.run(&["run", "spec.toml", "--shard", "4/3"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

/// `rows` lines of `id,name,amount` whose values do not repeat, so that
/// Parquet cannot make them small: about 1 MiB of Parquet per 100,000 rows.
fn many_rows_csv(rows: u64) -> String {
    let mut s = String::from("id,name,amount\n");
    for i in 1..=rows {
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        s.push_str(&format!(
            "{i},n{:016x},{}.{:02}\n",
            h,
            h % 1_000_000,
            (h >> 20) % 100
        ));
    }
    s
}

/// A staged copy into PostgreSQL from a CSV file, its run kept, with
/// 1 MiB parts, in `mode`.
fn followed_spec(c: &pg::Cluster, dst: &str, mode: &str) -> String {
    format!(
        "{}\n[[copy]]\nname = \"csv\"\nfrom = {{ path = \"in.csv\" }}\n\
         to = {{ connection = \"pg\", table = \"public.{dst}\" }}\nmode = \"{mode}\"\n\
         stage = {{ path = \"stage\", part_mb = 1, keep = true }}\n",
        c.connection("pg", "localhost", ""),
    )
}

fn table_digest(c: &pg::Cluster, table: &str) -> String {
    c.psql(&format!(
        "select count(*) || ' ' || md5(string_agg(t::text, ',' order by id)) from {table} t"
    ))
}

#[test]
fn a_load_that_follows_the_extract_part_by_part_is_exact() {
    let c = pg::shared();
    let m = Machine::new();
    m.dir.write("in.csv", many_rows_csv(400_000));
    let (direct, dst) = (unique("follow_direct"), unique("follow_staged"));
    let url = |t: &str| {
        format!(
            "postgres://postgres@localhost:{}/postgres?table=public.{t}&sslrootcert={}",
            c.port,
            c.ca_file.as_ref().unwrap().display()
        )
    };
    m.run(&["copy", "in.csv", &url(&direct), "-q"]).ok();
    m.dir.write("spec.toml", followed_spec(c, &dst, "append"));
    let r = m.run(&["run", "spec.toml", "--json"]);
    r.ok();
    let json = r.json();
    let copy = &json["copies"][0];
    assert_eq!(copy["rows_read"], 400_000, "{json:#}");
    assert_eq!(copy["rows_written"], 400_000, "{json:#}");
    assert!(
        copy["details"].as_array().unwrap().iter().any(|d| d
            .as_str()
            .unwrap()
            .contains("each part loaded once the extract has written it")),
        "the load did not follow the extract: {json:#}"
    );
    assert_eq!(table_digest(c, &dst), table_digest(c, &direct));
    // The run is complete, loaded, and was written in several parts.
    let run = run_of(&r);
    let names: Vec<String> = files_under(Path::new(&run))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let parts = names.iter().filter(|n| n.starts_with("part-")).count();
    assert!(parts >= 3, "{names:?}");
    assert!(names.contains(&"_loaded.json".to_string()), "{names:?}");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(&run).join("_manifest-s0001-of-0001.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["parts"].as_array().unwrap().len(), parts);
    assert_eq!(manifest["rows"], 400_000);
}

#[test]
fn a_followed_extract_that_fails_late_loads_nothing_and_leaves_no_run() {
    let c = pg::shared();
    let m = Machine::new();
    let dst = unique("follow_bad_src");
    c.psql(&format!(
        "create table {dst} (id bigint, name text, amount numeric); insert into {dst} values (1, 'old', 1)"
    ));
    // The last line opens a quote it never closes: the extract fails after
    // the load has taken its first parts.
    let mut csv = many_rows_csv(400_000);
    csv.push_str("400001,\"never closed,1.00\n");
    m.dir.write("in.csv", csv);
    m.dir.write("spec.toml", followed_spec(c, &dst, "append"));
    let r = m.run(&["run", "spec.toml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("line 400002"), "{}", r.stderr);
    assert_eq!(
        c.psql(&format!("select string_agg(id || name, ',') from {dst}")),
        "1old"
    );
    assert!(
        files_under(&m.dir.path("stage")).is_empty(),
        "{:?}",
        files_under(&m.dir.path("stage"))
    );
}

#[test]
fn a_followed_load_that_fails_late_keeps_the_table_and_the_complete_run() {
    let c = pg::shared();
    let m = Machine::new();
    let dst = unique("follow_bad_dst");
    // The server refuses the rows of the last parts only.
    c.psql(&format!(
        "create table {dst} (id bigint check (id < 350000), name text, amount numeric); \
         insert into {dst} values (1, 'old', 1)"
    ));
    m.dir.write("in.csv", many_rows_csv(400_000));
    m.dir.write("spec.toml", followed_spec(c, &dst, "append"));
    let r = m.run(&["run", "spec.toml", "--json"]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("check constraint"), "{}", r.stderr);
    assert_eq!(
        c.psql(&format!("select string_agg(id || name, ',') from {dst}")),
        "1old"
    );
    // The extract finished: its run is complete and loads without the
    // source once the destination takes the rows.
    let run = run_of(&r);
    std::fs::remove_file(m.dir.path("in.csv")).unwrap();
    c.psql(&format!("alter table {dst} drop constraint {dst}_id_check"));
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?table=public.{dst}&sslrootcert={}",
        c.port,
        c.ca_file.as_ref().unwrap().display()
    );
    m.run(&["load", &run, &url, "--mode", "append", "-q"]).ok();
    assert_eq!(c.psql(&format!("select count(*) from {dst}")), "400001");
}

#[test]
fn a_staged_copy_that_replaces_the_table_it_reads_extracts_before_it_loads() {
    let c = pg::shared();
    let m = Machine::new();
    let t = unique("follow_self");
    c.psql(&format!(
        "create table {t} (id bigint, name text); insert into {t} select g, 'n' || g from generate_series(1, 1000) g"
    ));
    let before = table_digest(c, &t);
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?table=public.{t}&sslrootcert={}",
        c.port,
        c.ca_file.as_ref().unwrap().display()
    );
    // Emptying the table while it is still read would wait for ever: the
    // load starts once the extract is complete.
    let r = m.run(&["copy", &url, &url, "--stage", "stage/", "--json"]);
    r.ok();
    let json = r.json();
    assert!(
        !json["copies"][0]["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d
                .as_str()
                .unwrap()
                .contains("once the extract has written it")),
        "{json:#}"
    );
    assert_eq!(json["copies"][0]["rows_written"], 1000, "{json:#}");
    assert_eq!(table_digest(c, &t), before);
}

#[test]
fn a_staged_copy_killed_while_its_load_follows_leaves_the_table_and_an_incomplete_run() {
    let c = pg::shared();
    let m = Machine::new();
    let dst = unique("follow_killed");
    c.psql(&format!(
        "create table {dst} (id bigint, name text, amount numeric); insert into {dst} values (1, 'old', 1)"
    ));
    // The source is a pipe that sends 300,000 rows (several 1 MiB parts),
    // then nothing: the load has taken the first parts when the copy dies.
    let fifo = m.dir.path("in.csv");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    m.dir.write("spec.toml", followed_spec(c, &dst, "append"));
    let mut child = m.cmd(&["run", "spec.toml"]).spawn().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let Ok(mut w) = std::fs::OpenOptions::new().write(true).open(fifo) else {
            return;
        };
        // The copy may die before it has read everything.
        if w.write_all(many_rows_csv(300_000).as_bytes()).is_err() {
            return;
        }
        // Held open, silent, until the test is over.
        std::thread::sleep(std::time::Duration::from_secs(20));
    });
    let started = std::time::Instant::now();
    loop {
        let loaded = c.psql(&format!(
            "select coalesce(sum(tuples_processed), 0) from pg_stat_progress_copy where relid = '{dst}'::regclass"
        ));
        if loaded != "0" {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the load never took a part"
        );
        assert!(child.try_wait().unwrap().is_none(), "the copy ended early");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    unsafe_kill(child.id());
    child.wait().unwrap();
    assert_eq!(
        c.psql(&format!("select string_agg(id || name, ',') from {dst}")),
        "1old"
    );
    // The run has parts but no manifest: it is incomplete, never loaded.
    let names: Vec<String> = files_under(&m.dir.path("stage"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("part-")), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("_manifest")),
        "{names:?}"
    );
    let r = m.run(&["stage", "list", "stage/"]);
    r.ok();
    assert!(r.stdout.contains("incomplete"), "{}", r.stdout);
    drop(feeder);
}
