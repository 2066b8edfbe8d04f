//! Compressed text files (gzip, zstd, bzip2, xz): the fixtures other tools
//! compressed read value by value; every member of a concatenated file
//! read; convoy's compressed output read back by convoy and by the
//! compression tools themselves; a cut or damaged file refused naming it;
//! standard input recognised by its first bytes; the setting and the name
//! of an output agree.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::files::{assert_same, sample_table, SAMPLE_SCHEMA};
use crate::support::fixtures::{assert_rows, data, expected, jsonl_rows, read_csv, read_table};
use crate::support::{parquet_table, write_parquet, Dir, Run};

fn copy(dir: &Dir, src: &str, dst: &str, args: &[&str]) -> Run {
    let mut all = vec!["copy", src, dst, "--progress", "never"];
    all.extend_from_slice(args);
    dir.run(&all)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// With a frame checksum, as the zstd tool writes by default: without one,
/// a damaged byte can decode to other bytes that nothing can tell apart.
fn zstd(data: &[u8]) -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(data), &mut out).unwrap();
    out
}

/// Each codec's extension and how the test writes it.
type Compressor = fn(&[u8]) -> Vec<u8>;
const CODECS: [(&str, Compressor); 4] = [("gz", gzip), ("zst", zstd), ("xz", xz), ("bz2", bzip2)];

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The ids of a Parquet file convoy wrote.
fn ids(path: &Path) -> Vec<i64> {
    let t = parquet_table(path);
    t.column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap_or_else(|| panic!("id is not int64: {:?}", t.schema()))
        .values()
        .to_vec()
}

/// Every compressed fixture, read into every format, holds exactly what
/// the tool that wrote it reads back.
#[test]
fn compressed_fixtures_are_read_exactly_into_every_format() {
    let dir = Dir::new();
    for name in [
        "compressed.csv.gz",
        "compressed.csv.zst",
        "compressed.csv.bz2",
        "compressed.csv.xz",
        "compressed.jsonl.gz",
    ] {
        let exp = expected(name);
        for ext in ["parquet", "arrow", "jsonl", "csv", "csv.gz", "jsonl.zst"] {
            let out = format!("{name}.out.{ext}");
            let run = copy(&dir, &data(name).display().to_string(), &out, &["--json"]);
            assert_eq!(run.code, 0, "{name} -> {ext}: {}", run.stderr);
            // Progress counts the compressed bytes, which the size is of.
            let size = std::fs::metadata(data(name)).unwrap().len();
            assert_eq!(run.json()["copies"][0]["bytes_read"], size, "{name}");
            let details = run.json()["copies"][0]["details"][0].clone();
            assert!(
                details.as_str().unwrap().contains("-compressed"),
                "{name}: {details}"
            );
            // Text outputs are decompressed here and read as text.
            let path = dir.path(&out);
            let bytes = std::fs::read(&path).unwrap();
            let plain = match ext {
                "csv.gz" => dir.write(&format!("{out}.plain.csv"), gunzip(&bytes)),
                "jsonl.zst" => dir.write(
                    &format!("{out}.plain.jsonl"),
                    zstd::decode_all(&bytes[..]).unwrap(),
                ),
                _ => path,
            };
            let (columns, rows) = match plain.extension().unwrap().to_str().unwrap() {
                "csv" => read_csv(&plain),
                "jsonl" => jsonl_rows(&plain, &exp),
                _ => {
                    let (c, r, _) = read_table(&plain);
                    (c, r)
                }
            };
            assert_rows(&exp, &columns, &rows, &format!("{name} -> {ext}"));
        }
    }
}

/// Concatenated members (`cat a.gz b.gz`, bgzip's blocks), zstd frames, xz
/// and bzip2 streams are all read: the rows of every member arrive.
#[test]
fn every_member_of_a_concatenated_file_is_read() {
    let dir = Dir::new();
    let header = b"id,v\n".to_vec();
    let chunk = |from: i64, to: i64| -> Vec<u8> {
        (from..to)
            .flat_map(|i| format!("{i},v{i}\n").into_bytes())
            .collect()
    };
    let want: Vec<i64> = (0..30_000).collect();
    let codecs = CODECS;
    for (ext, enc) in codecs {
        // The header alone in the first member, as `cat header.gz rows.gz`.
        let mut file = enc(&header);
        for k in 0..3 {
            file.extend(enc(&chunk(k * 10_000, (k + 1) * 10_000)));
        }
        let name = format!("multi.csv.{ext}");
        dir.write(&name, &file);
        copy(&dir, &name, "multi.parquet", &[]).ok();
        assert_eq!(ids(&dir.path("multi.parquet")), want, "{ext}");
    }
    // bgzip: many small gzip members with the extra field it adds; written
    // by the gzip crate member by member as bgzip cuts them (64 KiB).
    let all = [header.clone(), chunk(0, 30_000)].concat();
    let mut bgz = Vec::new();
    for block in all.chunks(65_280) {
        let mut e = flate2::GzBuilder::new()
            .extra(vec![b'B', b'C', 2, 0, 0, 0])
            .write(Vec::new(), flate2::Compression::default());
        e.write_all(block).unwrap();
        bgz.extend(e.finish().unwrap());
    }
    dir.write("b.csv.gz", &bgz);
    copy(&dir, "b.csv.gz", "b.parquet", &[]).ok();
    assert_eq!(ids(&dir.path("b.parquet")), want, "bgzip");
}

/// convoy's compressed output: the tools read it (`gzip -t`, `zstd -t`,
/// `xz -t`, `bzip2 -t` and Python's modules), convoy reads it back
/// exactly, the SHA-256 and size reported are those of the file's bytes,
/// and split output names its parts with the extension.
#[test]
fn compressed_output_is_read_back_by_convoy_and_by_the_tools() {
    let dir = Dir::new();
    let table = sample_table();
    write_parquet(&dir.path("orig.parquet"), &table);
    copy(&dir, "orig.parquet", "plain.csv", &[]).ok();
    let plain = std::fs::read(dir.path("plain.csv")).unwrap();
    for (out, tool) in [
        ("o.csv.gz", "gzip"),
        ("o.csv.zst", "zstd"),
        ("o.csv.xz", "xz"),
        ("o.csv.bz2", "bzip2"),
        ("o.jsonl.zst", "zstd"),
        ("o.jsonl.gz", "gzip"),
    ] {
        let run = copy(&dir, "orig.parquet", out, &["--json"]);
        assert_eq!(run.code, 0, "{out}: {}", run.stderr);
        let bytes = std::fs::read(dir.path(out)).unwrap();
        let output = &run.json()["copies"][0]["outputs"][0];
        assert_eq!(output["sha256"], sha256(&bytes), "{out}: {output}");
        assert_eq!(output["bytes"], bytes.len() as u64, "{out}: {output}");
        let t = Command::new(tool)
            .args(["-t", out])
            .current_dir(dir.path(""))
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            t.status.success(),
            "{tool} -t {out}: {}",
            String::from_utf8_lossy(&t.stderr)
        );
        if out.starts_with("o.csv") {
            let d = Command::new(tool)
                .args(["-dc", out])
                .current_dir(dir.path(""))
                .output()
                .unwrap();
            assert_eq!(d.stdout, plain, "{tool} -dc {out}");
        }
        let back = format!("{out}.parquet");
        copy(&dir, out, &back, &["--schema", SAMPLE_SCHEMA]).ok();
        assert_same(&table, &parquet_table(&dir.path(&back)), out);
    }
    // Python's own modules read convoy's gzip and zstd output.
    let py = Command::new("python3")
        .args([
            "-c",
            "import gzip, sys, zstandard\n\
             a = gzip.open(sys.argv[1]).read()\n\
             b = zstandard.ZstdDecompressor().stream_reader(open(sys.argv[2], 'rb')).read()\n\
             assert a == open(sys.argv[3], 'rb').read() == b, 'differs'\n",
            "o.csv.gz",
            "o.csv.zst",
            "plain.csv",
        ])
        .current_dir(dir.path(""))
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "python gzip/zstandard (pip install zstandard): {}",
        String::from_utf8_lossy(&py.stderr)
    );
    // Split output: parts named .csv.gz, the manifest's hashes are theirs.
    copy(
        &dir,
        "orig.parquet",
        "parts",
        &[
            "--format",
            "csv",
            "--max-rows-per-file",
            "2",
            "--compression",
            "gzip(9)",
        ],
    )
    .ok();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path("parts/_convoy_manifest.json")).unwrap())
            .unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(files.len() > 1, "{manifest}");
    for f in files {
        let name = f["name"].as_str().unwrap();
        assert!(name.ends_with(".csv.gz"), "{name}");
        let bytes = std::fs::read(dir.path("parts").join(name)).unwrap();
        assert_eq!(f["sha256"], sha256(&bytes), "{name}");
    }
    copy(
        &dir,
        "parts",
        "parts.parquet",
        &["--source-format", "csv", "--schema", SAMPLE_SCHEMA],
    )
    .ok();
    assert_same(&table, &parquet_table(&dir.path("parts.parquet")), "parts");
}

/// A compressed file cut short anywhere, or with damaged bytes, or whose
/// name says another compression, is refused with exit 1 naming the file;
/// the destination keeps what it had.
#[test]
fn a_cut_or_damaged_compressed_file_is_refused_naming_it() {
    let dir = Dir::new();
    let text: Vec<u8> = [b"id,v\n".to_vec()]
        .into_iter()
        .chain((0..50_000).map(|i| format!("{i},value {i}\n").into_bytes()))
        .flatten()
        .collect();
    dir.write("out.csv", "previous contents");
    let codecs = CODECS;
    for (ext, enc) in codecs {
        let whole = enc(&text);
        let n = whole.len();
        let mut flipped = whole.clone();
        flipped[n / 2] ^= 0x55;
        for (what, bytes) in [
            ("cut in the middle", whole[..n / 2].to_vec()),
            ("cut before its trailer", whole[..n - 3].to_vec()),
            ("a byte flipped", flipped),
        ] {
            let name = format!("in.csv.{ext}");
            dir.write(&name, &bytes);
            let run = copy(&dir, &name, "out.csv", &[]);
            assert_eq!(run.code, 1, "{ext} {what}: {}", run.stderr);
            assert!(run.stderr.contains(&name), "{ext} {what}: {}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
            assert_eq!(
                std::fs::read(dir.path("out.csv")).unwrap(),
                b"previous contents"
            );
            // The same from standard input (recognised by its first bytes).
            let run: Run = dir
                .cmd(&["copy", "-", "out.csv", "--source-format", "csv"])
                .stdin(std::fs::File::open(dir.path(&name)).unwrap())
                .output()
                .unwrap()
                .into();
            assert_eq!(run.code, 1, "stdin {ext} {what}: {}", run.stderr);
            // Damaged data may decode to text the CSV reader refuses first.
            if what.starts_with("cut") {
                assert!(
                    run.stderr.contains("damaged or cut short"),
                    "stdin {ext} {what}: {}",
                    run.stderr
                );
            }
        }
    }
    // Named gzip, holds zstd; named gzip, holds text; empty.
    dir.write("z.csv.gz", zstd(&text));
    dir.write("t.csv.gz", &text);
    dir.write("e.csv.gz", b"");
    for (name, needle) in [
        ("z.csv.gz", "holds zstd data"),
        ("t.csv.gz", "does not start with its signature"),
        ("e.csv.gz", "is empty"),
    ] {
        let run = copy(&dir, name, "out.csv", &[]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(name), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{name}: {}", run.stderr);
    }
    // A compressed Parquet file is not read in place.
    dir.write("p.parquet.gz", gzip(b"PAR1"));
    let run = copy(&dir, "p.parquet.gz", "out.csv", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("decompress it"), "{}", run.stderr);
    assert_eq!(dir.listing(), {
        let mut l = vec![
            "e.csv.gz",
            "in.csv.bz2",
            "in.csv.gz",
            "in.csv.xz",
            "in.csv.zst",
            "out.csv",
            "p.parquet.gz",
            "t.csv.gz",
            "z.csv.gz",
        ];
        l.sort();
        l
    });
}

/// Standard input, and a file whose name says no compression, are
/// recognised as compressed by their first bytes.
#[test]
fn compressed_input_is_recognised_by_its_first_bytes() {
    let dir = Dir::new();
    let text = b"id,v\n1,a\n2,b\n3,c\n";
    let codecs = CODECS;
    for (ext, enc) in codecs {
        dir.write("data", enc(text));
        let run: Run = dir
            .cmd(&["copy", "-", "s.parquet", "--source-format", "csv"])
            .stdin(std::fs::File::open(dir.path("data")).unwrap())
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, 0, "stdin {ext}: {}", run.stderr);
        assert_eq!(ids(&dir.path("s.parquet")), [1, 2, 3], "stdin {ext}");
        let _ = std::fs::remove_file(dir.path("n.parquet"));
        copy(&dir, "data", "n.parquet", &["--source-format", "csv"]).ok();
        assert_eq!(ids(&dir.path("n.parquet")), [1, 2, 3], "no extension {ext}");
    }
    // JSON Lines from standard input.
    let run: Run = dir
        .cmd(&["copy", "-", "j.parquet", "--source-format", "json"])
        .stdin(std::fs::File::open(data("compressed.jsonl.gz")).unwrap())
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// The compression of an output follows its name; a setting that
/// disagrees with the name, a compressed name for Parquet, or a codec a
/// text file cannot have is a usage error (exit 2) before anything is
/// read. `plan` and `--dry-run` say the compression.
#[test]
fn the_compression_setting_agrees_with_the_name_and_plans_say_it() {
    let dir = Dir::new();
    dir.write("in.csv", "id,v\n1,a\n");
    for (dst, args, needle) in [
        ("o.csv.gz", &["--compression", "zstd"][..], "named as gzip"),
        ("o.csv", &["--compression", "gzip"][..], "name it o.csv.gz"),
        (
            "o.csv",
            &["--compression", "snappy"][..],
            "unknown compression",
        ),
        (
            "o.csv.gz",
            &["--compression", "gzip(12)"][..],
            "out of range",
        ),
        ("o.parquet.gz", &[][..], "Parquet compresses its pages"),
        ("o.arrow.zst", &[][..], "cannot be wrapped"),
    ] {
        let run = copy(&dir, "in.csv", dst, args);
        assert_eq!(run.code, 2, "{dst} {args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(needle),
            "{dst} {args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(dir.listing(), ["in.csv"]);
    // Agreeing settings, levels, and `none`.
    copy(&dir, "in.csv", "o.csv.gz", &["--compression", "gzip(1)"]).ok();
    copy(&dir, "in.csv", "o.csv", &["--compression", "none"]).ok();
    assert_eq!(std::fs::read(dir.path("o.csv")).unwrap(), b"id,v\n1,a\n");
    // Parquet keeps its own codecs under the same flag.
    copy(&dir, "in.csv", "o.parquet", &["--compression", "gzip"]).ok();
    let plan = dir.run(&["plan", "o.csv.gz", "p.jsonl.zst"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("csv, gzip-compressed"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("json, zstd level 3"),
        "{}",
        plan.stdout
    );
    let dry = copy(&dir, "o.csv.gz", "p.csv.xz", &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("gzip-compressed"), "{}", dry.stdout);
    assert!(
        dry.stdout
            .contains("destination: local p.csv.xz (xz level 6)"),
        "{}",
        dry.stdout
    );
    // A spec says it per destination.
    dir.write(
        "s.toml",
        "[[copy]]\nname = \"c\"\nfrom = { path = \"in.csv\" }\nto = { path = \"parts/\", format = \"json\", max_rows_per_file = 1, compression = \"xz\" }\n",
    );
    dir.run(&["run", "s.toml", "--progress", "never"]).ok();
    assert!(dir.path("parts/part-00000.jsonl.xz").exists());
}

/// A named pipe (or `<(zcat …)`) is read once: the first bytes that tell
/// the compression are looked at as the copy reads, not by a separate peek
/// that would use them up.
#[test]
fn a_compressed_named_pipe_is_read_in_one_pass() {
    let dir = Dir::new();
    let fifo = dir.path("pipe.csv.gz");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let text: Vec<u8> = [b"id,v\n".to_vec()]
        .into_iter()
        .chain((0..1000).map(|i| format!("{i},x\n").into_bytes()))
        .flatten()
        .collect();
    let bytes = gzip(&text);
    let writer = std::thread::spawn(move || {
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(&bytes).unwrap();
    });
    let child = dir
        .cmd(&["copy", "pipe.csv.gz", "p.parquet", "--progress", "never"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = crate::support::wait_within(child, 30);
    assert!(out.status.success(), "{}", crate::support::text(&out));
    writer.join().unwrap();
    assert_eq!(ids(&dir.path("p.parquet")), (0..1000).collect::<Vec<_>>());
}
