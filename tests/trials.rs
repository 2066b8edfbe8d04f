//! Fault trials that run in CI: copies killed with SIGKILL at moments drawn
//! from a fixed seed, on every kind of sink, and copies that overlap on one
//! destination. After each, the destination holds exactly the old output or
//! exactly the new one — never a mix, never a part — and the next run
//! succeeds (and, on object stores, leaves nothing no manifest lists).

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::postgres::{unique, unsafe_kill};
use crate::support::objstore::{Backend, Target};
use crate::support::pg::{self, PASSWORD};
use crate::support::{parquet_table, wait_within, Dir, Run};

/// A small, fixed-seed generator: the same trials on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A delay in `[lo, hi)` milliseconds.
    fn delay(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

const OLD_ROWS: usize = 10;
const NEW_ROWS: usize = 120_000;

fn csv(rows: usize, tag: &str) -> String {
    let mut s = String::from("id,tag,v\n");
    for i in 0..rows {
        s.push_str(&format!("{i},{tag},{}.{:03}\n", i * 7, i % 1000));
    }
    s
}

/// Where a trial writes, and how to read back what is there.
enum Sink {
    LocalFile,
    LocalSplit,
    Store(Target, bool),
    Postgres(String),
}

struct Trial {
    dir: Dir,
    sink: Sink,
}

impl Trial {
    fn new(sink: impl FnOnce(&Dir) -> Sink) -> Trial {
        let dir = Dir::new();
        let sink = sink(&dir);
        dir.write("old.csv", csv(OLD_ROWS, "old"));
        dir.write("new.csv", csv(NEW_ROWS, "new"));
        Trial { dir, sink }
    }

    fn to(&self) -> String {
        match &self.sink {
            Sink::LocalFile => "{ path = \"out/t.parquet\" }".into(),
            Sink::LocalSplit => {
                "{ path = \"out/t/\", format = \"parquet\", max_rows_per_file = 25000 }".into()
            }
            Sink::Store(t, false) => t.at("t.parquet", ""),
            Sink::Store(t, true) => t.at("t/", "format = \"parquet\", max_rows_per_file = 25000"),
            Sink::Postgres(table) => format!("{{ connection = \"pg\", table = \"{table}\" }}"),
        }
    }

    fn spec(&self, input: &str) -> String {
        let conn = match &self.sink {
            Sink::Store(t, _) => t.connection.clone(),
            Sink::Postgres(_) => pg::shared().connection("pg", "localhost", ""),
            _ => String::new(),
        };
        let name = format!("{input}.toml");
        self.dir.write(
            &name,
            format!(
                "{conn}\n[[copy]]\nname = \"t\"\nfrom = {{ path = \"{input}.csv\", schema = \"id:int64,tag:string,v:decimal(12,3)\" }}\nto = {}\nmode = \"replace\"\n",
                self.to()
            ),
        );
        name
    }

    fn start(&self, input: &str) -> Child {
        let spec = self.spec(input);
        let mut c = self.dir.cmd(&["run", &spec, "-q", "--progress", "never"]);
        c.env("PGPASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Sink::Store(t, _) = &self.sink {
            for (k, v) in &t.env {
                c.env(k, v);
            }
        }
        c.spawn().unwrap()
    }

    fn run(&self, input: &str) -> Run {
        wait_within(self.start(input), 180).into()
    }

    /// The rows the destination holds and their tag (one tag only), or None
    /// when there is no output yet.
    fn contents(&self) -> Option<(usize, String)> {
        let tables: Vec<arrow::array::RecordBatch> = match &self.sink {
            Sink::LocalFile => {
                let p = self.dir.path("out/t.parquet");
                if !p.exists() {
                    return None;
                }
                vec![parquet_table(&p)]
            }
            Sink::LocalSplit => {
                let m = self.dir.path("out/t/_convoy_manifest.json");
                if !m.exists() {
                    return None;
                }
                let manifest: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(m).unwrap()).unwrap();
                manifest["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        parquet_table(
                            &self
                                .dir
                                .path(&format!("out/t/{}", f["name"].as_str().unwrap())),
                        )
                    })
                    .collect()
            }
            Sink::Store(t, split) => {
                let listed = t.list();
                if !*split {
                    if !listed.contains(&"t.parquet".to_string()) {
                        return None;
                    }
                    vec![parquet_of(t.get("t.parquet"))]
                } else {
                    if !listed.contains(&"t/_convoy_manifest.json".to_string()) {
                        return None;
                    }
                    let manifest: serde_json::Value =
                        serde_json::from_slice(&t.get("t/_convoy_manifest.json")).unwrap();
                    manifest["files"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| parquet_of(t.get(&format!("t/{}", f["name"].as_str().unwrap()))))
                        .collect()
                }
            }
            Sink::Postgres(table) => {
                let c = pg::shared();
                let out = c.psql(&format!(
                    "select count(*) || ',' || coalesce(string_agg(distinct tag, '|'), '') from {table}"
                ));
                let (n, tags) = out.split_once(',').unwrap();
                let n: usize = n.parse().unwrap();
                return (n > 0).then(|| (n, tags.to_string()));
            }
        };
        let mut rows = 0;
        let mut tags = std::collections::BTreeSet::new();
        for t in &tables {
            rows += t.num_rows();
            let col = t
                .column(1)
                .as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .unwrap();
            for v in col.iter().flatten() {
                tags.insert(v.to_string());
            }
        }
        Some((rows, tags.into_iter().collect::<Vec<_>>().join("|")))
    }

    /// Object names under a split output that its manifest does not list.
    fn unlisted(&self) -> Vec<String> {
        let Sink::Store(t, true) = &self.sink else {
            return Vec::new();
        };
        let listed = t.list();
        let manifest: serde_json::Value =
            match listed.contains(&"t/_convoy_manifest.json".to_string()) {
                true => serde_json::from_slice(&t.get("t/_convoy_manifest.json")).unwrap(),
                false => serde_json::json!({ "files": [] }),
            };
        let names: Vec<String> = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("t/{}", f["name"].as_str().unwrap()))
            .collect();
        listed
            .into_iter()
            .filter(|o| o.starts_with("t/") && o != "t/_convoy_manifest.json" && !names.contains(o))
            .collect()
    }

    fn assert_old_or_new(&self, what: &str) {
        match self.contents() {
            Some((OLD_ROWS, tag)) if tag == "old" => {}
            Some((NEW_ROWS, tag)) if tag == "new" => {}
            other => panic!(
                "{what}: the destination holds {other:?}, neither the old output nor the new one"
            ),
        }
    }
}

fn parquet_of(bytes: Vec<u8>) -> arrow::array::RecordBatch {
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(bytes),
    )
    .unwrap();
    let schema = b.schema().clone();
    let batches: Vec<_> = b.build().unwrap().map(|b| b.unwrap()).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

/// Kill a copy at `TRIALS` moments (from a fixed seed) across its life —
/// opening, writing, committing — and check the destination after each.
fn kill_trials(sink: impl FnOnce(&Dir) -> Sink, seed: u64, what: &str) {
    const TRIALS: usize = 4;
    let trial = Trial::new(sink);
    trial.run("old").ok();
    trial.assert_old_or_new(&format!("{what}: after the first run"));
    // How long a whole copy takes here, to spread the kills over it.
    let started = std::time::Instant::now();
    trial.run("new").ok();
    let whole = started.elapsed().as_millis() as u64;
    trial.run("old").ok();
    let mut rng = Lcg(seed);
    for n in 0..TRIALS {
        let delay = rng.delay(20, (whole * 11 / 10).max(60));
        let mut child = trial.start("new");
        std::thread::sleep(delay);
        let killed = child.try_wait().unwrap().is_none();
        if killed {
            unsafe_kill(child.id());
        }
        child.wait().unwrap();
        trial.assert_old_or_new(&format!(
            "{what}: trial {n}, killed after {} ms{}",
            delay.as_millis(),
            if killed { "" } else { " (it had finished)" }
        ));
        // The next run always succeeds, and replaces whatever is there.
        trial.run("old").ok();
        assert_eq!(
            trial.contents(),
            Some((OLD_ROWS, "old".to_string())),
            "{what}: trial {n}: the run after the kill"
        );
    }
    let left = trial.unlisted();
    assert!(
        left.is_empty(),
        "{what}: objects no manifest lists remain: {left:?}"
    );
}

#[test]
fn killed_local_file_copies_leave_the_old_file_or_the_new_one() {
    kill_trials(|_| Sink::LocalFile, 11, "local file");
}

#[test]
fn killed_local_split_copies_leave_the_old_directory_or_the_new_one() {
    kill_trials(|_| Sink::LocalSplit, 12, "local split output");
}

#[test]
fn killed_s3_object_copies_leave_the_old_object_or_the_new_one() {
    kill_trials(
        |d| Sink::Store(Target::new(Backend::S3, d), false),
        13,
        "S3 object",
    );
}

#[test]
fn killed_s3_split_copies_leave_the_old_output_or_the_new_one() {
    kill_trials(
        |d| Sink::Store(Target::new(Backend::S3, d), true),
        14,
        "S3 split output",
    );
}

#[test]
fn killed_azure_object_copies_leave_the_old_blob_or_the_new_one() {
    kill_trials(
        |d| Sink::Store(Target::new(Backend::Azurite, d), false),
        15,
        "Azure blob",
    );
}

#[test]
fn killed_azure_split_copies_leave_the_old_output_or_the_new_one() {
    kill_trials(
        |d| Sink::Store(Target::new(Backend::Azurite, d), true),
        16,
        "Azure split output",
    );
}

#[test]
fn killed_postgres_replaces_leave_the_old_table_or_the_new_one() {
    let table = unique("trial");
    kill_trials(|_| Sink::Postgres(table), 17, "PostgreSQL replace");
}

/// Two copies at once to one destination: each ends well or fails cleanly,
/// and the destination is one of their outputs whole.
fn overlapping(sink: impl FnOnce(&Dir) -> Sink, what: &str) {
    let trial = Trial::new(sink);
    trial.run("old").ok();
    for round in 0..3 {
        let a = trial.start("new");
        let b = trial.start("old");
        let a: Run = wait_within(a, 180).into();
        let b: Run = wait_within(b, 180).into();
        for (name, r) in [("first", &a), ("second", &b)] {
            assert!(
                r.code == 0 || r.code == 1,
                "{what}: round {round}: the {name} run ended with {}: {}",
                r.code,
                r.stderr
            );
        }
        assert!(
            a.code == 0 || b.code == 0,
            "{what}: round {round}: both failed"
        );
        trial.assert_old_or_new(&format!("{what}: round {round}"));
    }
    trial.run("new").ok();
    assert_eq!(
        trial.contents(),
        Some((NEW_ROWS, "new".to_string())),
        "{what}"
    );
    let left = trial.unlisted();
    assert!(
        left.is_empty(),
        "{what}: objects no manifest lists remain: {left:?}"
    );
}

#[test]
fn overlapping_copies_to_a_local_file_leave_one_whole_output() {
    overlapping(|_| Sink::LocalFile, "local file");
}

#[test]
fn overlapping_copies_to_an_s3_object_leave_one_whole_output() {
    overlapping(
        |d| Sink::Store(Target::new(Backend::S3, d), false),
        "S3 object",
    );
}

#[test]
fn overlapping_copies_to_an_s3_split_output_leave_one_whole_output() {
    overlapping(
        |d| Sink::Store(Target::new(Backend::S3, d), true),
        "S3 split output",
    );
}

#[test]
fn overlapping_copies_to_an_azure_split_output_leave_one_whole_output() {
    overlapping(
        |d| Sink::Store(Target::new(Backend::Azurite, d), true),
        "Azure split output",
    );
}

#[test]
fn overlapping_replaces_of_a_postgres_table_leave_one_whole_table() {
    let table = unique("overlap");
    overlapping(|_| Sink::Postgres(table), "PostgreSQL replace");
}
