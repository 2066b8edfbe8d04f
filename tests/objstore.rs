//! Object stores: one conformance suite run against local files, Azurite
//! (Azure Blob) and moto (S3), all over HTTPS on loopback; plus the policy
//! cases (wrong CA, plain HTTP), S3 server-side encryption and HTTPS sources.
//! GCS runs against its emulator in `tests/gcs.rs` (reads end to end; the
//! emulator refuses object_store's uploads, so it is not in this suite).

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::files::{assert_same, sample_table, SAMPLE_SCHEMA};
use crate::support::objstore::{self, local, Backend, Target};
use crate::support::{parquet_table, write_parquet, Dir};

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(#[test] fn $case() { super::$case(super::Backend::Local) })*
        }
        mod azurite {
            $(#[test] fn $case() { super::$case(super::Backend::Azurite) })*
        }
        mod s3 {
            $(#[test] fn $case() { super::$case(super::Backend::S3) })*
        }
    };
}

conformance!(
    every_format_round_trips_exactly,
    an_object_over_50_mib_goes_through_multipart,
    glob_and_prefix_sources_read_every_matching_object_as_one_table,
    split_output_writes_parts_then_a_manifest_and_replaces_the_previous_output,
    an_interrupted_upload_leaves_no_object_and_no_manifest,
    a_parquet_file_travels_byte_for_byte_unless_told_to_rewrite_it,
    compressed_text_objects_are_read_and_written_as_streams,
);

fn every_format_round_trips_exactly(backend: Backend) {
    let dir = Dir::new();
    let t = Target::new(backend, &dir);
    let table = sample_table();
    write_parquet(&dir.path("orig.parquet"), &table);
    let schema = format!("schema = \"{SAMPLE_SCHEMA}\"");
    for (ext, text) in [
        ("csv", true),
        ("jsonl", true),
        ("arrow", false),
        ("parquet", false),
    ] {
        let name = format!("a.{ext}");
        t.run(&dir, &local("orig.parquet", ""), &t.at(&name, ""), &[])
            .ok();
        let from = t.at(&name, if text { &schema } else { "" });
        t.run(&dir, &from, &local("back.parquet", ""), &[]).ok();
        assert_same(
            &table,
            &parquet_table(&dir.path("back.parquet")),
            &format!("{backend:?} {ext}"),
        );
    }
    let mut names = t.list();
    names.retain(|n| !n.starts_with('.'));
    assert_eq!(names, ["a.arrow", "a.csv", "a.jsonl", "a.parquet"]);
}

/// Compressed CSV and JSON Lines objects: written compressed by their
/// name, read back exactly (a prefix lists them as data), every gzip member
/// read, and an object cut short refused naming it.
fn compressed_text_objects_are_read_and_written_as_streams(backend: Backend) {
    let dir = Dir::new();
    let t = Target::new(backend, &dir);
    let table = sample_table();
    write_parquet(&dir.path("orig.parquet"), &table);
    let schema = format!("schema = \"{SAMPLE_SCHEMA}\"");
    for name in ["z/a.csv.gz", "z/b.jsonl.zst"] {
        t.run(&dir, &local("orig.parquet", ""), &t.at(name, ""), &[])
            .ok();
        let bytes = t.get(name);
        let plain = if name.ends_with(".gz") {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                &mut out,
            )
            .unwrap();
            out
        } else {
            zstd::decode_all(&bytes[..]).unwrap()
        };
        assert!(
            plain.len() > bytes.len(),
            "{backend:?} {name} is compressed"
        );
        let _ = std::fs::remove_file(dir.path("back.parquet"));
        t.run(&dir, &t.at(name, &schema), &local("back.parquet", ""), &[])
            .ok();
        assert_same(
            &table,
            &parquet_table(&dir.path("back.parquet")),
            &format!("{backend:?} {name}"),
        );
    }
    // Two gzip members in one object, found under a prefix by its name.
    let member = |text: &str| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let two = [member("id,v\n1,a\n"), member("2,b\n3,c\n")].concat();
    t.put("m/x.csv.gz", two.clone());
    t.run(&dir, &t.at("m/", ""), &local("m.parquet", ""), &[])
        .ok();
    assert_eq!(parquet_table(&dir.path("m.parquet")).num_rows(), 3);
    // Cut short: refused, naming the object.
    t.put("cut/y.csv.gz", two[..two.len() - 5].to_vec());
    let r = t.run(
        &dir,
        &t.at("cut/y.csv.gz", ""),
        &local("m.parquet", ""),
        &[],
    );
    assert_eq!(r.code, 1, "{backend:?}: {}", r.stderr);
    assert!(r.stderr.contains("cut/y.csv.gz"), "{}", r.stderr);
    assert!(r.stderr.contains("damaged or cut short"), "{}", r.stderr);
    assert_eq!(parquet_table(&dir.path("m.parquet")).num_rows(), 3);
}

fn a_parquet_file_travels_byte_for_byte_unless_told_to_rewrite_it(backend: Backend) {
    let dir = Dir::new();
    let t = Target::new(backend, &dir);
    let table = sample_table();
    // Written by the arrow-rs writer with its defaults: convoy's own writer
    // (zstd, its created_by) would give other bytes.
    write_parquet(&dir.path("orig.parquet"), &table);
    let original = std::fs::read(dir.path("orig.parquet")).unwrap();
    let digest = sha256(&original);
    let byte_for_byte = |run: &crate::support::Run| {
        let copy = &run.json()["copies"][0];
        assert_eq!(copy["rows_written"], table.num_rows() as u64, "{copy}");
        assert_eq!(copy["outputs"][0]["sha256"], digest.as_str(), "{copy}");
        copy["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().starts_with("byte for byte"))
    };

    // A dry run says so, and writes nothing.
    let dry = t.run(
        &dir,
        &local("orig.parquet", ""),
        &t.at("dry.parquet", ""),
        &["--json", "--dry-run"],
    );
    let details = dry.ok().json()["copies"][0]["details"].to_string();
    assert!(details.contains("byte for byte"), "{details}");
    assert!(
        !t.list().iter().any(|n| n.contains("dry")),
        "{:?}",
        t.list()
    );

    let up = t.run(
        &dir,
        &local("orig.parquet", ""),
        &t.at("same.parquet", ""),
        &["--json"],
    );
    assert!(byte_for_byte(up.ok()), "{backend:?}: up was re-encoded");
    assert_eq!(sha256(&t.get("same.parquet")), digest);

    let down = t.run(
        &dir,
        &t.at("same.parquet", ""),
        &local("back.parquet", ""),
        &["--json"],
    );
    assert!(byte_for_byte(down.ok()), "{backend:?}: down was re-encoded");
    assert_eq!(
        sha256(&std::fs::read(dir.path("back.parquet")).unwrap()),
        digest
    );

    // Big enough for several parts: every part arrives, in order.
    let big = big_parquet();
    let big_digest = sha256(&std::fs::read(big).unwrap());
    let big_rows = parquet_table(big).num_rows() as u64;
    let up = t.run(
        &dir,
        &local(&big.display().to_string(), ""),
        &t.at("big.parquet", ""),
        &["--json"],
    );
    assert_eq!(up.ok().json()["copies"][0]["rows_written"], big_rows);
    assert_eq!(sha256(&t.get("big.parquet")), big_digest);
    if backend == Backend::S3 {
        let etag = t.meta("big.parquet").e_tag.unwrap_or_default();
        assert!(etag.ends_with("-3\""), "not a 3-part upload: ETag {etag}");
    }
    t.run(
        &dir,
        &t.at("big.parquet", ""),
        &local("big-back.parquet", ""),
        &[],
    )
    .ok();
    assert_eq!(
        sha256(&std::fs::read(dir.path("big-back.parquet")).unwrap()),
        big_digest
    );

    // A writing option means: write the data anew, with it.
    t.run(
        &dir,
        &local("orig.parquet", ""),
        &t.at("snappy.parquet", "parquet = { compression = \"snappy\" }"),
        &[],
    )
    .ok();
    let rewritten = t.get("snappy.parquet");
    assert_ne!(sha256(&rewritten), digest);
    dir.write("snappy.parquet", rewritten);
    assert_same(
        &table,
        &parquet_table(&dir.path("snappy.parquet")),
        "rewritten",
    );
}

/// About 20 MB of Parquet that does not compress (three 8 MiB parts), made
/// once per test process.
fn big_parquet() -> &'static std::path::Path {
    static BIG: OnceLock<(tempfile::TempDir, std::path::PathBuf)> = OnceLock::new();
    &BIG.get_or_init(|| {
        use arrow::array::Int64Array;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.parquet");
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let values = Int64Array::from_iter_values((0..2_500_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as i64
        }));
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("v", arrow::datatypes::DataType::Int64, false),
        ]));
        let batch =
            arrow::array::RecordBatch::try_new(schema, vec![std::sync::Arc::new(values)]).unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_compression(parquet::basic::Compression::UNCOMPRESSED)
            .build();
        let f = std::fs::File::create(&path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        (dir, path)
    })
    .1
}

/// About 81 MB of CSV that does not compress, made once per test process.
fn big_csv() -> &'static std::path::Path {
    static BIG: OnceLock<(tempfile::TempDir, std::path::PathBuf)> = OnceLock::new();
    &BIG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        w.write_all(b"id,name,code\n").unwrap();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..900_000u64 {
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let (a, b, c, d) = (next(), next(), next(), next());
            writeln!(w, "{i},n{a:016x}{b:016x},c{c:016x}{d:016x}").unwrap();
        }
        w.flush().unwrap();
        (dir, path)
    })
    .1
}

const BIG_SCHEMA: &str = "schema = \"id:int64,name:string,code:string\"";

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn an_object_over_50_mib_goes_through_multipart(backend: Backend) {
    let dir = Dir::new();
    let t = Target::new(backend, &dir);
    let big = big_csv().display().to_string();
    t.run(
        &dir,
        &local(&big, BIG_SCHEMA),
        &t.at("big.csv", ""),
        &["--json"],
    )
    .ok();
    let meta = t.meta("big.csv");
    assert!(meta.size > 50 << 20, "object is only {} bytes", meta.size);
    if backend == Backend::S3 {
        // S3 names multipart objects' ETags "<md5 of part md5s>-<parts>".
        let etag = meta.e_tag.clone().unwrap_or_default();
        assert!(etag.contains('-'), "not a multipart upload: ETag {etag}");
    }
    t.run(
        &dir,
        &t.at("big.csv", BIG_SCHEMA),
        &local("back.csv", ""),
        &[],
    )
    .ok();
    let original = std::fs::read(big_csv()).unwrap();
    assert_eq!(sha256(&t.get("big.csv")), sha256(&original));
    assert_eq!(
        sha256(&std::fs::read(dir.path("back.csv")).unwrap()),
        sha256(&original)
    );
}

fn glob_and_prefix_sources_read_every_matching_object_as_one_table(backend: Backend) {
    let dir = Dir::new();
    let t = Target::new(backend, &dir);
    t.put("g/b.csv", "id,v\n3,c\n4,d\n");
    t.put("g/a.csv", "id,v\n1,a\n2,b\n");
    t.put("g/c.csv", "id,v\n5,e\n");
    t.put("g/_convoy_manifest.json", "{}");
    t.put("g/sub/d.csv", "id,v\n77,nested\n");
    t.put("g/readme.txt", "not data");
    for pattern in ["g/*.csv", "g/"] {
        let _ = std::fs::remove_file(dir.path("out.parquet"));
        let from = t.at(pattern, "format = \"csv\"");
        let from = if pattern.ends_with('/') {
            // A prefix keeps only data files by extension.
            t.at(pattern, "")
        } else {
            from
        };
        t.run(&dir, &from, &local("out.parquet", ""), &[]).ok();
        let got = parquet_table(&dir.path("out.parquet"));
        let ids = got
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .values()
            .to_vec();
        assert_eq!(ids, [1, 2, 3, 4, 5], "{backend:?} {pattern}");
    }
    // No match is an error that names the pattern.
    let r = t.run(&dir, &t.at("g/*.parquet", ""), &local("x.parquet", ""), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("g/*.parquet"), "{}", r.stderr);
}

fn manifest_of(t: &Target, prefix: &str) -> serde_json::Value {
    serde_json::from_slice(&t.get(&format!("{prefix}/_convoy_manifest.json"))).unwrap()
}

fn check_split(t: &Target, rows: u64, parts: usize) {
    let m = manifest_of(t, "out");
    assert_eq!(m["rows"], rows);
    let files = m["files"].as_array().unwrap();
    assert_eq!(files.len(), parts, "{m}");
    let mut listed: Vec<String> = files
        .iter()
        .map(|f| format!("out/{}", f["name"].as_str().unwrap()))
        .collect();
    for f in files {
        let name = format!("out/{}", f["name"].as_str().unwrap());
        let data = t.get(&name);
        assert_eq!(f["bytes"], data.len() as u64, "{name}");
        assert_eq!(f["sha256"], sha256(&data).as_str(), "{name}");
    }
    listed.push("out/_convoy_manifest.json".into());
    listed.sort();
    let mut present = t.list();
    present.retain(|n| n.starts_with("out/"));
    assert_eq!(present, listed, "only the manifest's objects remain");
}

fn split_output_writes_parts_then_a_manifest_and_replaces_the_previous_output(backend: Backend) {
    let dir = Dir::new();
    let t = Target::new(backend, &dir);
    let ten: String = std::iter::once("id\n".to_string())
        .chain((0..10).map(|i| format!("{i}\n")))
        .collect();
    dir.write("ten.csv", ten);
    let to = t.at("out/", "format = \"csv\", max_rows_per_file = 4");
    t.run(&dir, &local("ten.csv", ""), &to, &[]).ok();
    check_split(&t, 10, 3);
    // A second run replaces the output as a whole.
    let six: String = std::iter::once("id\n".to_string())
        .chain((100..106).map(|i| format!("{i}\n")))
        .collect();
    dir.write("six.csv", six);
    t.run(&dir, &local("six.csv", ""), &to, &[]).ok();
    check_split(&t, 6, 2);
    // The output reads back as one table (the manifest is not data).
    t.run(&dir, &t.at("out/", ""), &local("back.csv", ""), &[])
        .ok();
    let back = std::fs::read_to_string(dir.path("back.csv")).unwrap();
    assert_eq!(back, "id\n100\n101\n102\n103\n104\n105\n");
    // A prefix holding foreign objects is not replaced.
    t.put("foreign/x.csv", "id\n1\n");
    let r = t.run(
        &dir,
        &local("six.csv", ""),
        &t.at("foreign/", "format = \"csv\", max_rows_per_file = 4"),
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("not written by convoy"), "{}", r.stderr);
}

/// S3 uploads that were started and neither completed nor aborted.
pub(crate) fn pending_s3_uploads(t: &Target) -> String {
    objstore::python(
        "import sys, boto3\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], verify=sys.argv[2], region_name='us-east-1',\n\
                           aws_access_key_id='k', aws_secret_access_key='s')\n\
         r = s3.list_multipart_uploads(Bucket=sys.argv[3], Prefix=sys.argv[4])\n\
         print(' '.join(u['Key'] for u in r.get('Uploads', [])))\n",
        &[
            &format!("https://127.0.0.1:{}", objstore::moto().port),
            objstore::certs().ca_file.to_str().unwrap(),
            objstore::BUCKET,
            &t.prefix,
        ],
    )
    .trim()
    .to_string()
}

/// Feed the big CSV into a FIFO at about 30 MB/s, so that a copy is still
/// running when it is interrupted; returns the bytes fed so far.
fn feed(
    fifo: std::path::PathBuf,
) -> (
    std::thread::JoinHandle<()>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let fed = std::sync::Arc::new(AtomicUsize::new(0));
    let f2 = fed.clone();
    let h = std::thread::spawn(move || {
        let data = std::fs::read(big_csv()).unwrap();
        let Ok(mut w) = std::fs::OpenOptions::new().write(true).open(&fifo) else {
            return;
        };
        for chunk in data.chunks(1 << 20) {
            // The reader going away (the copy ended) ends the feed.
            if w.write_all(chunk).is_err() {
                return;
            }
            f2.fetch_add(chunk.len(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(30));
        }
    });
    (h, fed)
}

fn an_interrupted_upload_leaves_no_object_and_no_manifest(backend: Backend) {
    let dir = Dir::new();
    let t = Target::new(backend, &dir);
    for (i, to) in [
        t.at("one.csv", ""),
        t.at("out/", "format = \"csv\", max_rows_per_file = 100000"),
    ]
    .into_iter()
    .enumerate()
    {
        let fifo = dir.path(&format!("in{i}.csv"));
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let spec = t.spec(&dir, &local(fifo.to_str().unwrap(), BIG_SCHEMA), &to);
        let child = t
            .command(&dir, &spec, &[])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (feeder, fed) = feed(fifo);
        // Past several 8 MiB parts (and, split, several whole objects).
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while fed.load(std::sync::atomic::Ordering::Relaxed) < 40 << 20 {
            assert!(
                std::time::Instant::now() < deadline,
                "the copy does not read its input"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        assert_eq!(t.list(), Vec::<String>::new(), "{backend:?}: left behind");
        if backend == Backend::S3 {
            assert_eq!(pending_s3_uploads(&t), "", "multipart uploads not aborted");
        }
    }
}

// ---- policy, encryption, HTTPS sources -----------------------------------

fn with_connection(t: &Target, f: impl Fn(&str) -> String) -> Target {
    Target {
        backend: t.backend,
        connection: f(&t.connection),
        prefix: t.prefix.clone(),
        store: t.store.clone(),
        env: t.env.clone(),
    }
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    for backend in [Backend::S3, Backend::Azurite] {
        let dir = Dir::new();
        let t = Target::new(backend, &dir);
        t.put("a.csv", "id\n1\n");
        let c = objstore::certs();
        let wrong = with_connection(&t, |conn| {
            conn.replace(
                &c.ca_file.display().to_string(),
                &c.other_ca_file.display().to_string(),
            )
        });
        let r = wrong.run(&dir, &t.at("a.csv", ""), &local("out.csv", ""), &[]);
        assert_eq!(r.code, 3, "{backend:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("TLS refused: unknown issuer") && r.stderr.contains("ca_file"),
            "{}",
            r.stderr
        );
        assert!(!dir.path("out.csv").exists());
        for secret in [objstore::S3_SECRET, objstore::AZ_KEY] {
            assert!(!r.stderr.contains(secret) && !r.stdout.contains(secret));
        }
        // Without ca_file the system roots do not know the test CA either.
        let none = with_connection(&t, |conn| {
            conn.lines()
                .filter(|l| !l.starts_with("tls"))
                .collect::<Vec<_>>()
                .join("\n")
        });
        let r = none.run(&dir, &local("orig.csv", ""), &t.at("b.csv", ""), &[]);
        assert_ne!(r.code, 0);
        assert!(!t.list().contains(&"b.csv".to_string()));
    }
}

#[test]
fn plain_http_is_refused_without_the_setting_and_the_flag() {
    for backend in [Backend::S3, Backend::Azurite] {
        let dir = Dir::new();
        dir.write("a.csv", "id\n1\n");
        let t = Target::new(backend, &dir);
        let http = with_connection(&t, |c| c.replace("https://", "http://"));
        let r = http.run(&dir, &local("a.csv", ""), &t.at("a.csv", ""), &[]);
        assert_eq!(r.code, 3, "{backend:?}: {}", r.stderr);
        assert!(r.stderr.contains("plain HTTP"), "{}", r.stderr);
        let allowed = with_connection(&http, |c| format!("{c}allow_http = true\n"));
        let r = allowed.run(&dir, &local("a.csv", ""), &t.at("a.csv", ""), &[]);
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert!(r.stderr.contains("--allow-insecure"), "{}", r.stderr);
        for secret in [objstore::S3_SECRET, objstore::AZ_KEY] {
            assert!(!r.stderr.contains(secret) && !r.stdout.contains(secret));
        }
        assert!(t.list().is_empty());
    }
    // A command-line http:// URL is refused too.
    let dir = Dir::new();
    let r = dir.run(&["copy", "http://127.0.0.1:9/a.csv", "out.parquet"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
}

fn head_object(t: &Target, rel: &str) -> serde_json::Value {
    let out = objstore::python(
        "import sys, json, boto3\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], verify=sys.argv[2], region_name='us-east-1',\n\
                           aws_access_key_id='k', aws_secret_access_key='s')\n\
         h = s3.head_object(Bucket=sys.argv[3], Key=sys.argv[4])\n\
         print(json.dumps({k: h.get(k) for k in ['ServerSideEncryption', 'SSEKMSKeyId']}))\n",
        &[
            &format!("https://127.0.0.1:{}", objstore::moto().port),
            objstore::certs().ca_file.to_str().unwrap(),
            objstore::BUCKET,
            &t.key(rel),
        ],
    );
    serde_json::from_str(&out).unwrap()
}

#[test]
fn s3_server_side_encryption_is_requested_on_every_object_written() {
    let dir = Dir::new();
    let t = Target::new(Backend::S3, &dir);
    dir.write("a.csv", "id\n1\n2\n3\n");
    let key_id = "arn:aws:kms:us-east-1:123456789012:key/convoy-test-key";
    let kms = with_connection(&t, |c| {
        format!("{c}sse = \"aws:kms\"\nsse_kms_key_id = \"{key_id}\"\n")
    });
    kms.run(&dir, &local("a.csv", ""), &t.at("kms.csv", ""), &[])
        .ok();
    let h = head_object(&t, "kms.csv");
    assert_eq!(h["ServerSideEncryption"], "aws:kms", "{h}");
    assert!(
        h["SSEKMSKeyId"]
            .as_str()
            .unwrap_or("")
            .contains("convoy-test-key"),
        "{h}"
    );
    // Split output: every part is encrypted (the manifest too).
    kms.run(
        &dir,
        &local("a.csv", ""),
        &t.at("out/", "format = \"csv\", max_rows_per_file = 2"),
        &[],
    )
    .ok();
    for name in t.list().iter().filter(|n| n.starts_with("out/")) {
        let h = head_object(&t, name);
        assert_eq!(h["ServerSideEncryption"], "aws:kms", "{name}: {h}");
    }
    let s3 = with_connection(&t, |c| format!("{c}sse = \"AES256\"\n"));
    s3.run(&dir, &local("a.csv", ""), &t.at("aes.csv", ""), &[])
        .ok();
    assert_eq!(head_object(&t, "aes.csv")["ServerSideEncryption"], "AES256");
}

#[test]
fn an_https_url_is_a_read_only_source() {
    let dir = Dir::new();
    let t = Target::new(Backend::S3, &dir);
    t.put("web/data.csv", "id,name\n1,a\n2,b\n");
    let port = objstore::moto().port;
    // Published for anonymous readers, as a web server would serve it.
    objstore::python(
        "import sys, boto3\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], verify=sys.argv[2], region_name='us-east-1',\n\
                           aws_access_key_id='k', aws_secret_access_key='s')\n\
         s3.put_object_acl(Bucket=sys.argv[3], Key=sys.argv[4], ACL='public-read')\n",
        &[
            &format!("https://127.0.0.1:{port}"),
            objstore::certs().ca_file.to_str().unwrap(),
            objstore::BUCKET,
            &t.key("web/data.csv"),
        ],
    );
    let ca = objstore::certs().ca_file.display().to_string();
    let web = with_connection(&t, |_| {
        format!(
            "[connections.web]\nkind = \"http\"\nurl = \"https://127.0.0.1:{port}/{}\"\ntls = {{ ca_file = \"{ca}\" }}\n",
            objstore::BUCKET
        )
    });
    let from = format!(
        "{{ connection = \"web\", path = \"{}\" }}",
        t.key("web/data.csv")
    );
    web.run(&dir, &from, &local("out.parquet", ""), &[]).ok();
    assert_eq!(parquet_table(&dir.path("out.parquet")).num_rows(), 2);
    // It cannot be a destination.
    let r = web.run(&dir, &local("out.parquet", ""), &from, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("read-only"), "{}", r.stderr);
}

/// An instance-metadata service on loopback, as EC2 serves it (IMDSv2:
/// a session token, then the role, then its credentials), over plain HTTP.
/// Returns its address and the paths it was asked for.
fn instance_metadata(
    key_id: &'static str,
    secret: &'static str,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push(path.clone());
            let body = match path.as_str() {
                "/latest/api/token" => "imds-session-token".to_string(),
                "/latest/meta-data/iam/security-credentials/" => "convoy-role".to_string(),
                "/latest/meta-data/iam/security-credentials/convoy-role" => format!(
                    "{{\"Code\":\"Success\",\"AccessKeyId\":\"{key_id}\",\"SecretAccessKey\":\"{secret}\",\
                     \"Token\":\"imds-token\",\"Expiration\":\"2099-01-01T00:00:00Z\"}}"
                ),
                _ => String::new(),
            };
            let status = if body.is_empty() {
                "404 Not Found"
            } else {
                "200 OK"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}"), asked)
}

/// Credentials from the machine's instance metadata, which is served over
/// plain HTTP on a link-local or loopback address: reached, and used; any
/// other plain-HTTP credential endpoint is refused without a request.
#[test]
fn credentials_come_from_instance_metadata_over_its_plain_http_only() {
    let dir = Dir::new();
    dir.write("a.csv", "id\n1\n2\n");
    let t = Target::new(Backend::S3, &dir);
    // The connection without credentials of its own.
    let bare = with_connection(&t, |c| {
        c.lines()
            .filter(|l| !l.starts_with("access_key_id") && !l.starts_with("secret_access_key"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    let (endpoint, asked) = instance_metadata(objstore::S3_KEY_ID, objstore::S3_SECRET);
    let spec = bare.spec(&dir, &local("a.csv", ""), &t.at("a.csv", ""));
    let out = bare
        .command(&dir, &spec, &[])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env("AWS_METADATA_ENDPOINT", &endpoint)
        .output()
        .unwrap();
    let r: crate::support::Run = out.into();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(t.get("a.csv"), b"id\n1\n2\n");
    let asked = asked.lock().unwrap().clone();
    assert!(
        asked.contains(&"/latest/meta-data/iam/security-credentials/convoy-role".to_string()),
        "{asked:?}"
    );

    // A credential endpoint that is not the machine's own is not reached
    // over plain HTTP (TEST-NET-1: nothing answers there anyway).
    let started = std::time::Instant::now();
    let out = bare
        .command(&dir, &spec, &[])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env("AWS_METADATA_ENDPOINT", "http://192.0.2.1")
        .output()
        .unwrap();
    let r: crate::support::Run = out.into();
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("over plain HTTP"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("hint: give the connection its credentials"),
        "{}",
        r.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
