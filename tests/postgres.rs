//! PostgreSQL source and sink against real clusters: types, modes,
//! atomicity, partitioned reads and TLS refusals.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::pg::{self, convoy, Ca, Cluster, Tls, PASSWORD};
use crate::support::text;

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "convoy failed: {}", text(&o));
    o
}

/// Run a spec with the shared cluster as connection `pg`.
fn run_spec(dir: &Path, copies: &str) -> Output {
    let c = pg::shared();
    let spec = format!("{}\n{copies}", c.connection("pg", "localhost", ""));
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    convoy(dir, &["run", "spec.toml"])
}

pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid_like())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn declared_types(c: &Cluster, table: &str) -> String {
    c.psql(&format!(
        "select string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' order by attnum) \
         from pg_attribute where attrelid = '{table}'::regclass and attnum > 0 and not attisdropped"
    ))
}

pub(crate) const ALL_TYPES: &str =
    "id bigint primary key, i2 smallint, i4 integer, n numeric(18,4), \
    nbig numeric(50,10), nfree numeric, r real, d double precision, t text, vc varchar(20), \
    ch char(5), b bytea, ok boolean, dt date, tm time, ts timestamp, tz timestamptz, \
    iv interval, u uuid, j json, jb jsonb, ia integer[], ta text[], ip inet, net cidr";

pub(crate) const ALL_VALUES: &str = "(1, -32768, 2147483647, 12345678901234.5678, \
    -1234567890123456789012345678901234567890.0123456789, 3.14159265358979323846264338327950288, \
    1.5, 2.718281828459045, 'héllo, \"wörld\"', 'varchar', 'ab', '\\x00ff10', true, '2024-02-29', \
    '23:59:59.999999', '1999-12-31 23:59:59.123456', '2024-06-01 12:00:00.5+02', \
    '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', \
    '{\"b\": null}', '{1,NULL,3}', '{x,\"y z\"}', '192.168.0.1/24', '10.0.0.0/8'), \
    (2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, \
    null, null, null, null, null, null, null, null, null), \
    (3, 0, 0, -0.0001, 0, 0.000000000000000000001, -0, 0, '', '', '', '\\x', false, '1900-01-01', \
    '00:00', '1900-01-01 00:00', '1970-01-01 00:00+00', '-1 days', \
    '00000000-0000-0000-0000-000000000000', '[]', '{}', '{}', '{}', '::1', '2001:db8::/32')";

/// PG → file → PG: declared types and values survive.
fn round_trip(file: &str, drop_interval: bool) {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let src = unique("types_src");
    let back = unique("types_back");
    c.psql(&format!(
        "create table {src} ({ALL_TYPES}); insert into {src} values {ALL_VALUES}"
    ));
    if drop_interval {
        c.psql(&format!("alter table {src} drop column iv"));
    }
    ok(run_spec(
        dir.path(),
        &format!(
            "[[copy]]\nname = \"out\"\nfrom = {{ connection = \"pg\", table = \"{src}\" }}\nto = {{ path = \"{file}\" }}\n\
             [[copy]]\nname = \"back\"\nfrom = {{ path = \"{file}\" }}\nto = {{ connection = \"pg\", table = \"public.{back}\" }}\n"
        ),
    ));
    let want = declared_types(c, &src);
    assert_eq!(declared_types(c, &back), want);
    // Every value, in PostgreSQL's own text form (json has no equality).
    let rows = |t: &str| {
        c.psql(&format!(
            "select string_agg(whole::text, E'\\n' order by whole.id) from {t} whole"
        ))
    };
    assert_eq!(rows(&back), rows(&src));
    assert_eq!(c.psql(&format!("select count(*) from {back}")), "3");
    // NULLs stay NULL, not empty strings.
    assert_eq!(
        c.psql(&format!("select count(*) from {back} where t is null")),
        "1"
    );
}

#[test]
fn postgres_every_mapped_type_round_trips_through_parquet() {
    // parquet 60 cannot write Arrow's MonthDayNano intervals; they are
    // covered through Arrow IPC below.
    round_trip("t.parquet", true);
}

#[test]
fn postgres_every_mapped_type_round_trips_through_arrow_ipc() {
    round_trip("t.arrow", false);
}

#[test]
fn merge_and_incremental_from_the_command_line() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let table = unique("cli_merge");
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?table={table}&sslrootcert={}",
        c.port,
        c.ca_file.as_ref().unwrap().display()
    );
    let load = |csv: &str, args: &[&str]| {
        std::fs::write(dir.path().join("in.csv"), csv).unwrap();
        let mut a = vec![
            "copy",
            "in.csv",
            url.as_str(),
            "--schema",
            "id:int64,v:string",
        ];
        a.extend_from_slice(args);
        ok(convoy(dir.path(), &a));
    };
    load("id,v\n1,a\n2,b\n", &["--mode", "merge", "--key", "id"]);
    load("id,v\n2,B\n3,c\n", &["--mode", "merge", "--key", "id"]);
    assert_eq!(
        c.psql(&format!(
            "select string_agg(id || v, ',' order by id) from {table}"
        )),
        "1a,2B,3c"
    );
    load(
        "id,v\n2,x\n3,y\n4,d\n",
        &["--mode", "incremental", "--cursor", "id"],
    );
    assert_eq!(
        c.psql(&format!(
            "select string_agg(id || v, ',' order by id) from {table}"
        )),
        "1a,2B,3c,4d"
    );
    let o = convoy(dir.path(), &["copy", "in.csv", &url, "--mode", "merge"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--key"), "{}", text(&o));
}

#[test]
fn postgres_csv_loads_into_a_new_table_with_exact_types() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("in.csv"),
        "id,amount,name,at\n1,12.3400,ann,2024-01-02T03:04:05Z\n2,-0.0100,,2024-01-02T03:04:05.5Z\n",
    )
    .unwrap();
    let table = unique("csv_in");
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?table={table}&sslrootcert={}",
        c.port,
        c.ca_file.as_ref().unwrap().display()
    );
    ok(convoy(
        dir.path(),
        &[
            "copy",
            "in.csv",
            &url,
            "--schema",
            "id:int64,amount:decimal(10,4),name:string,at:timestamptz",
        ],
    ));
    assert_eq!(
        declared_types(c, &table),
        "id bigint, amount numeric(10,4), name text, at timestamp with time zone"
    );
    assert_eq!(
        c.psql(&format!("select id, amount, coalesce(name, 'NULL'), at at time zone 'UTC' from {table} order by id")),
        "1|12.3400|ann|2024-01-02 03:04:05\n2|-0.0100|NULL|2024-01-02 03:04:05.5"
    );
}

#[test]
fn postgres_to_postgres_and_partitioned_reads_equal_unpartitioned() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let src = unique("pp_src");
    let one = unique("pp_one");
    let four = unique("pp_four");
    c.psql(&format!(
        "create table {src} as select g::bigint as id, md5(g::text) as t, g * 1.5 as x from generate_series(1, 50000) g; \
         insert into {src} values (null, 'null id', 0)"
    ));
    ok(run_spec(
        dir.path(),
        &format!(
            "[[copy]]\nname = \"one\"\nfrom = {{ connection = \"pg\", table = \"{src}\" }}\nto = {{ connection = \"pg\", table = \"{one}\" }}\n\
             [[copy]]\nname = \"four\"\nfrom = {{ connection = \"pg\", table = \"{src}\", partition = {{ column = \"id\", count = 4 }} }}\nto = {{ connection = \"pg\", table = \"{four}\" }}\n"
        ),
    ));
    for t in [&one, &four] {
        assert_eq!(c.psql(&format!("select count(*) from {t}")), "50001", "{t}");
        let diff = c.psql(&format!(
            "select count(*) from ((table {src} except all table {t}) union all (table {t} except all table {src})) d"
        ));
        assert_eq!(diff, "0", "{t} differs from the source");
    }
}

/// The `details` of each copy of a `--json` summary.
fn details(o: &Output) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    json["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["details"].to_string())
        .collect()
}

#[test]
fn postgres_to_postgres_passes_rows_through_unchanged_when_the_types_are_the_same() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let src = unique("pt_src");
    let same = unique("pt_same");
    let wider = unique("pt_wider");
    // Besides every mapped type, values Arrow has no room for: they travel
    // only when the rows pass through unchanged.
    c.psql(&format!(
        "create table {src} ({ALL_TYPES}); insert into {src} values {ALL_VALUES}; \
         insert into {src} (id, nfree, dt, ts, tz) values (4, 'NaN', 'infinity', 'infinity', '-infinity'); \
         create table {wider} (id bigint, i4 bigint, n numeric(20,6), t text)"
    ));
    std::fs::write(
        dir.path().join("spec.toml"),
        format!(
            "{}\n[[copy]]\nname = \"same\"\nfrom = {{ connection = \"pg\", table = \"{src}\", partition = {{ column = \"id\", count = 2 }} }}\nto = {{ connection = \"pg\", table = \"{same}\" }}\n\
             [[copy]]\nname = \"wider\"\nfrom = {{ connection = \"pg\", query = \"select id, i4, n, t from {src} where id < 4\" }}\nto = {{ connection = \"pg\", table = \"{wider}\" }}\n",
            c.connection("pg", "localhost", "")
        ),
    )
    .unwrap();
    let o = ok(convoy(dir.path(), &["run", "spec.toml", "--json"]));
    let d = details(&o);
    assert!(d[0].contains("passed through unchanged"), "{}", d[0]);
    assert!(!d[1].contains("passed through"), "{}", d[1]);
    // The same table: declared types and every value, infinities and NaN included.
    assert_eq!(declared_types(c, &same), declared_types(c, &src));
    let rows = |t: &str| {
        c.psql(&format!(
            "select string_agg(whole::text, E'\\n' order by whole.id) from {t} whole"
        ))
    };
    assert_eq!(rows(&same), rows(&src));
    assert!(rows(&same).contains("-infinity"), "{}", rows(&same));
    // Wider columns: decoded and encoded again, values equal.
    let diff = c.psql(&format!(
        "select count(*) from {src} s full join {wider} w using (id) \
         where s.id < 4 and (w.id is null or s.i4 is distinct from w.i4 or s.n is distinct from w.n or s.t is distinct from w.t)"
    ));
    assert_eq!(diff, "0");
    assert_eq!(c.psql(&format!("select count(*) from {wider}")), "3");
}

#[test]
fn a_large_table_with_an_integer_primary_key_is_read_in_parallel_unasked_given_the_cores() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let src = unique("auto_src");
    let dst = unique("auto_dst");
    // The planner's estimate decides; pretend the table is large.
    c.psql(&format!(
        "create table {src} (id bigint primary key, t text); \
         insert into {src} select g, md5(g::text) from generate_series(1, 30000) g; \
         update pg_class set reltuples = 2e6 where oid = '{src}'::regclass"
    ));
    ok(run_spec(
        dir.path(),
        &format!(
            "[[copy]]\nname = \"auto\"\nfrom = {{ connection = \"pg\", table = \"{src}\" }}\nto = {{ connection = \"pg\", table = \"{dst}\" }}\n"
        ),
    ));
    let o = ok(convoy(
        dir.path(),
        &["run", "spec.toml", "--dry-run", "--json"],
    ));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let details = json["copies"][0]["details"].to_string();
    // Half the cores read ranges, from 4 cores up; below that, one reader.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores >= 4 {
        let expected = format!("{} partitions of", (cores / 2).clamp(2, 8));
        assert!(details.contains(&expected), "{details}");
    } else {
        assert!(!details.contains("partitions of"), "{details}");
    }
    assert_eq!(c.psql(&format!("select count(*) from {dst}")), "30000");
    let diff = c.psql(&format!(
        "select count(*) from ((table {src} except all table {dst}) union all (table {dst} except all table {src})) d"
    ));
    assert_eq!(diff, "0");
}

#[test]
fn a_copy_from_a_server_on_this_machine_into_a_file_leaves_the_server_a_core() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let src = unique("cores_src");
    let dst = unique("cores_dst");
    c.psql(&format!(
        "create table {src} (id int, t text); \
         insert into {src} select g, md5(g::text) from generate_series(1, 1000) g"
    ));
    let copies = format!(
        "[[copy]]\nname = \"file\"\nfrom = {{ connection = \"pg\", table = \"{src}\" }}\nto = {{ path = \"out.parquet\" }}\n\
         [[copy]]\nname = \"table\"\nfrom = {{ connection = \"pg\", table = \"{src}\" }}\nto = {{ connection = \"pg\", table = \"{dst}\" }}\n"
    );
    std::fs::write(
        dir.path().join("spec.toml"),
        format!("{}\n{copies}", c.connection("pg", "localhost", "")),
    )
    .unwrap();
    let leaves = "to the database server on this machine";
    let o = ok(convoy(dir.path(), &["run", "spec.toml", "--json"]));
    let d = details(&o);
    // convoy may use the cores this test may use.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores >= 2 {
        assert!(d[0].contains(leaves), "{}", d[0]);
    } else {
        assert!(!d[0].contains(leaves), "{}", d[0]);
    }
    // Into a table, the server works on both sides: convoy keeps every core.
    assert!(!d[1].contains(leaves), "{}", d[1]);
    assert_eq!(c.psql(&format!("select count(*) from {dst}")), "1000");
    let o = ok(pg::convoy_env(
        dir.path(),
        &["run", "spec.toml", "--copy", "file", "--json"],
        &[("CONVOY_LEAVE_CORE", "0")],
    ));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!json["copies"][0]["details"].to_string().contains(leaves));
    assert_eq!(json["copies"][0]["rows_written"], 1000);
    // An extract writes files too.
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?table={src}&sslrootcert={}",
        c.port,
        c.ca_file.as_ref().unwrap().display()
    );
    let o = ok(convoy(
        dir.path(),
        &["extract", &url, "stage/", "--json", "--progress", "never"],
    ));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = json["copies"][0]["details"].to_string();
    assert_eq!(d.contains(leaves), cores >= 2, "{d}");
}

/// Plain tables are read with `COPY table TO`; what that form would not
/// read whole (inheritance children, partitions, generated columns) is read
/// through a query, with every row.
#[test]
fn tables_with_children_partitions_or_generated_columns_are_read_whole() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let (par, kid, gen, pp, plain) = (
        unique("rk_par"),
        unique("rk_kid"),
        unique("rk_gen"),
        unique("rk_pp"),
        unique("rk_plain"),
    );
    c.psql(&format!(
        "create table {par} (id int, t text); create table {kid} () inherits ({par}); \
         insert into {par} values (1, 'parent'); insert into {kid} values (2, 'child'); \
         create table {gen} (a int, b int generated always as (a * 2) stored); \
         insert into {gen} values (1), (2), (3); \
         create table {pp} (id int, t text) partition by range (id); \
         create table {pp}_1 partition of {pp} for values from (0) to (10); \
         create table {pp}_2 partition of {pp} for values from (10) to (20); \
         insert into {pp} values (1, 'low'), (15, 'high'); \
         create table {plain} (id int, t text); insert into {plain} values (7, 'seven')"
    ));
    let mut copies = String::new();
    for t in [&par, &gen, &pp, &plain] {
        copies.push_str(&format!(
            "[[copy]]\nname = \"{t}\"\nfrom = {{ connection = \"pg\", table = \"{t}\" }}\nto = {{ path = \"{t}.csv\" }}\n"
        ));
    }
    ok(run_spec(dir.path(), &copies));
    let read = |t: &str| {
        let text = std::fs::read_to_string(dir.path().join(format!("{t}.csv"))).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[1..].sort();
        lines.join("\n")
    };
    assert_eq!(read(&par), "id,t\n1,parent\n2,child");
    assert_eq!(read(&gen), "a,b\n1,2\n2,4\n3,6");
    assert_eq!(read(&pp), "id,t\n1,low\n15,high");
    assert_eq!(read(&plain), "id,t\n7,seven");
}

fn mode_copy(src: &str, dst: &str, mode: &str) -> String {
    format!(
        "[[copy]]\nname = \"m\"\nfrom = {{ connection = \"pg\", table = \"{src}\" }}\nto = {{ connection = \"pg\", table = \"{dst}\" }}\n{mode}\n"
    )
}

#[test]
fn postgres_modes_append_replace_merge_incremental() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let src = unique("m_src");
    let dst = unique("m_dst");
    c.psql(&format!(
        "create table {src} (id int primary key, v text, at int); insert into {src} values (1, 'a', 10), (2, 'b', 20), (3, 'c', null); \
         create table {dst} (id int primary key, v text, at int); insert into {dst} values (1, 'old', 5), (9, 'keep', 15); \
         grant select on {dst} to public"
    ));
    let rows = |t: &str| {
        c.psql(&format!("select id || ':' || coalesce(v, '') || ':' || coalesce(at::text, '-') from {t} order by id"))
    };

    // merge: upsert on the key.
    ok(run_spec(
        dir.path(),
        &mode_copy(&src, &dst, "mode = \"merge\"\nkey = [\"id\"]"),
    ));
    assert_eq!(rows(&dst), "1:a:10\n2:b:20\n3:c:-\n9:keep:15");

    // incremental: only rows whose cursor is > max(at) = 20; NULL cursors never.
    c.psql(&format!(
        "insert into {src} values (4, 'd', 30), (5, 'e', 20)"
    ));
    ok(run_spec(
        dir.path(),
        &mode_copy(&src, &dst, "mode = \"incremental\"\ncursor = \"at\""),
    ));
    assert_eq!(rows(&dst), "1:a:10\n2:b:20\n3:c:-\n4:d:30\n9:keep:15");

    // replace: exactly the source afterwards, grants kept.
    ok(run_spec(
        dir.path(),
        &mode_copy(&src, &dst, "mode = \"replace\""),
    ));
    assert_eq!(rows(&dst), rows(&src));
    assert!(c
        .psql(&format!(
            "select relacl::text from pg_class where oid = '{dst}'::regclass"
        ))
        .contains("=r/"));

    // append: a duplicate key fails and leaves the table as it was.
    let before = rows(&dst);
    let o = run_spec(dir.path(), &mode_copy(&src, &dst, "mode = \"append\""));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(rows(&dst), before);
    let fresh = unique("m_fresh");
    ok(run_spec(
        dir.path(),
        &mode_copy(&src, &fresh, "mode = \"append\""),
    ));
    ok(run_spec(
        dir.path(),
        &mode_copy(&src, &format!("{fresh}_2"), "mode = \"append\""),
    ));
    assert_eq!(c.psql(&format!("select count(*) from {fresh}")), "5");
}

#[test]
fn replacing_a_table_the_source_reads_is_refused_instead_of_waiting_forever() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let t = unique("self_t");
    c.psql(&format!(
        "create table {t} as select g as id from generate_series(1, 1000) g"
    ));
    // TRUNCATE's lock keeps the source's read of the same table waiting
    // until a commit that cannot come.
    let started = std::time::Instant::now();
    let o = run_spec(
        dir.path(),
        &format!(
            "[[copy]]\nname = \"self\"\nfrom = {{ connection = \"pg\", query = \"select id from {t} where id > 500\" }}\nto = {{ connection = \"pg\", table = \"{t}\" }}\nmode = \"replace\"\n"
        ),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("waits for the lock"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(c.psql(&format!("select count(*) from {t}")), "1000");

    // A source that is merely slow (no rows for longer than the check's
    // interval) is not mistaken for one that waits on the destination.
    let other = unique("self_other");
    c.psql(&format!(
        "create table {other} (id int); insert into {other} values (7)"
    ));
    ok(run_spec(
        dir.path(),
        &format!(
            "[[copy]]\nname = \"slow\"\nfrom = {{ connection = \"pg\", query = \"select id from {t}, pg_sleep(5) where id <= 3\" }}\nto = {{ connection = \"pg\", table = \"{other}\" }}\nmode = \"replace\"\n"
        ),
    ));
    assert_eq!(
        c.psql(&format!(
            "select string_agg(id::text, ',' order by id) from {other}"
        )),
        "1,2,3"
    );
}

#[test]
fn postgres_an_existing_table_that_does_not_fit_is_refused() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let src = unique("fit_src");
    let dst = unique("fit_dst");
    c.psql(&format!(
        "create table {src} (id bigint, v text); insert into {src} values (1, 'x'); create table {dst} (id int, v text)"
    ));
    let o = run_spec(dir.path(), &mode_copy(&src, &dst, "mode = \"append\""));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("column \"id\"") && err.contains("integer"),
        "{err}"
    );
}

#[test]
fn postgres_a_killed_run_leaves_the_table_unchanged() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let dst = unique("kill_dst");
    c.psql(&format!(
        "create table {dst} (id bigint, t text); insert into {dst} values (1, 'a'), (2, 'b')"
    ));
    let spec = format!(
        "{}\n[[copy]]\nname = \"big\"\nfrom = {{ connection = \"pg\", query = \"select g::bigint as id, repeat('x', 200) as t from generate_series(1, 50000000) g\" }}\nto = {{ connection = \"pg\", table = \"{dst}\" }}\nmode = \"replace\"\n",
        c.connection("pg", "localhost", "")
    );
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["run", "spec.toml"])
        .current_dir(dir.path())
        .env("PGPASSWORD", PASSWORD)
        .spawn()
        .unwrap();
    // Wait until rows are flowing into the destination's transaction.
    let started = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let copying =
            c.psql("select count(*) from pg_stat_activity where query like 'COPY %FROM STDIN%'");
        if copying != "0" && started.elapsed().as_millis() > 1500 {
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "the copy never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "convoy ended before it was killed"
        );
    }
    unsafe_kill(child.id());
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        c.psql(&format!(
            "select string_agg(id::text || t, ',' order by id) from {dst}"
        )),
        "1a,2b"
    );
}

pub(crate) fn unsafe_kill(pid: u32) {
    let s = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(s.success());
}

// ------------------------------------------------------------ refusals

fn refused(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(3), "{}", text(o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(err.contains("hint:"), "no hint in: {err}");
}

fn read_from(dir: &Path, conn: &str) -> Output {
    let spec = format!(
        "{conn}\n[[copy]]\nname = \"r\"\nfrom = {{ connection = \"pg\", query = \"select 1 as x\" }}\nto = {{ path = \"out.csv\" }}\n"
    );
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    convoy(dir, &["run", "spec.toml"])
}

#[test]
fn postgres_refuses_a_server_without_tls() {
    let c = pg::plaintext();
    let dir = tempfile::tempdir().unwrap();
    let o = read_from(dir.path(), &c.connection("pg", "localhost", ""));
    refused(&o, "offers no TLS");
    assert!(!dir.path().join("out.csv").exists());
}

#[test]
fn postgres_refuses_insecure_mode_without_the_flag_and_allows_it_with() {
    let c = pg::plaintext();
    let dir = tempfile::tempdir().unwrap();
    let conn = c.connection("pg", "localhost", "tls = { mode = \"disable\" }");
    let o = read_from(dir.path(), &conn);
    refused(&o, "TLS is disabled");
    let o = convoy(dir.path(), &["run", "spec.toml", "--allow-insecure"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning"));
    // The use is recorded in the JSON summary, for the copy and the run.
    let o = convoy(
        dir.path(),
        &["run", "spec.toml", "--allow-insecure", "--json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = |v: &serde_json::Value| {
        v.as_array().is_some_and(|a| {
            a.iter()
                .any(|i| i.as_str().is_some_and(|s| s.contains("TLS is disabled")))
        })
    };
    assert!(listed(&json["insecure"]), "{json}");
    assert!(listed(&json["copies"][0]["insecure"]), "{json}");
}

#[test]
fn postgres_refuses_an_unknown_ca() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    let other = Ca::new("some other CA");
    std::fs::write(dir.path().join("other.pem"), &other.pem).unwrap();
    let conn = format!(
        "[connections.pg]\nkind = \"postgres\"\nhost = \"localhost\"\nport = {}\nuser = \"postgres\"\ndatabase = \"postgres\"\ntls = {{ ca_file = \"other.pem\" }}\n",
        c.port
    );
    refused(&read_from(dir.path(), &conn), "unknown issuer");
}

#[test]
fn postgres_refuses_a_wrong_hostname() {
    let c = pg::shared();
    let dir = tempfile::tempdir().unwrap();
    // The certificate names localhost, not 127.0.0.1.
    let o = read_from(dir.path(), &c.connection("pg", "127.0.0.1", ""));
    refused(&o, "hostname mismatch");
}

#[test]
fn postgres_refuses_an_expired_certificate() {
    let ca = Ca::new("convoy expired-test CA");
    let (cert, key) = ca.issue(&["localhost"], true);
    let c = Cluster::start(Tls::On { cert, key }, Some(&ca.pem));
    let dir = tempfile::tempdir().unwrap();
    let o = read_from(dir.path(), &c.connection("pg", "localhost", ""));
    refused(&o, "expired");
}

#[test]
fn postgres_refuses_a_self_signed_certificate_and_says_so() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    // A leaf that signed itself; and one made as `openssl req -x509` makes
    // them (a CA certificate), which a user may put into ca_file.
    let (leaf, leaf_key) = crate::support::tls::self_signed(&["localhost"]);
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let as_ca = p.self_signed(&key).unwrap().pem();
    for (cert, key, ca) in [
        (leaf, leaf_key, None),
        (as_ca.clone(), key.serialize_pem(), Some(as_ca.as_str())),
    ] {
        let c = Cluster::start(Tls::On { cert, key }, ca);
        let dir = tempfile::tempdir().unwrap();
        let o = read_from(dir.path(), &c.connection("pg", "localhost", ""));
        refused(&o, "self-signed / unknown issuer");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.contains("UnsupportedSignatureAlgorithm") && !err.contains("CaUsedAsEndEntity"),
            "{err}"
        );
        assert!(err.contains("pin_sha256"), "{err}");
        assert!(!dir.path().join("out.csv").exists());
    }
}

#[test]
fn postgres_refuses_passwords_in_urls_and_specs() {
    let dir = tempfile::tempdir().unwrap();
    let o = convoy(
        dir.path(),
        &["copy", "postgres://u:pw@localhost/db?table=t", "out.csv"],
    );
    refused(&o, "password");
    let conn =
        "[connections.pg]\nkind = \"postgres\"\nhost = \"localhost\"\npassword = \"hunter2\"\n";
    let o = read_from(dir.path(), conn);
    refused(&o, "a literal credential is not allowed");
}
