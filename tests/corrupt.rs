//! The corrupt-input family: files cut short anywhere, with damaged magic at
//! either end, random bytes under each extension, NUL bytes, invalid UTF-8,
//! huge fields, 10,000 columns, ragged rows, a BOM, CRLF line ends, empty
//! and header-only files. Each either copies exactly or fails with exit 1
//! naming the file — never a panic, never fewer rows with exit 0, never a
//! changed destination or a file left behind.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::support::{parquet_table, write_parquet, Dir, Run};

/// A small, fixed-seed generator: the same damage on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", name]
        .iter()
        .collect();
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A directory with a destination of each format already in place, written
/// by an earlier good copy.
struct Bench {
    dir: Dir,
    n: usize,
    /// The first is Parquet (see `copied`).
    destinations: [&'static str; 2],
}

impl Bench {
    fn new() -> Bench {
        Bench::to(["dest.parquet", "dest.csv"])
    }

    fn to(destinations: [&'static str; 2]) -> Bench {
        let dir = Dir::new();
        dir.write("seed.csv", "id,t\n42,old\n");
        for d in destinations {
            dir.run(&["copy", "seed.csv", d]).ok();
        }
        Bench {
            dir,
            n: 0,
            destinations,
        }
    }

    /// Write `bytes` as a new input file with extension `ext` and copy it
    /// to one of the destinations (in turn). Whatever the outcome: no
    /// panic; on failure exit 1, the file named, the destination as it
    /// was and nothing left behind.
    fn attempt(&mut self, what: &str, ext: &str, bytes: &[u8]) -> (Run, String) {
        self.n += 1;
        let name = format!("in{:04}.{ext}", self.n);
        let dest = self.destinations[self.n % 2];
        self.dir.write(&name, bytes);
        let before = std::fs::read(self.dir.path(dest)).unwrap();
        let listing = self.dir.listing();
        let run = self.dir.run(&["copy", &name, dest]);
        let told = format!(
            "{what} ({name} → {dest}): exit {}\n{}{}",
            run.code, run.stdout, run.stderr
        );
        assert!(
            !run.stderr.contains("panicked") && run.code != 101,
            "a panic: {told}"
        );
        if run.code != 0 {
            assert_eq!(run.code, 1, "a damaged input is a failed copy: {told}");
            assert!(
                run.stderr.contains(&name),
                "the error does not name the file: {told}"
            );
            assert!(
                std::fs::read(self.dir.path(dest)).unwrap() == before,
                "the destination changed: {told}"
            );
            assert_eq!(
                self.dir.listing(),
                listing,
                "a file was left behind: {told}"
            );
        }
        std::fs::remove_file(self.dir.path(&name)).unwrap();
        (run, dest.to_string())
    }

    /// The attempt must fail.
    fn refused(&mut self, what: &str, ext: &str, bytes: &[u8]) -> String {
        let (run, _) = self.attempt(what, ext, bytes);
        assert_eq!(
            run.code, 1,
            "{what} (.{ext}) copied with exit 0:\n{}{}",
            run.stdout, run.stderr
        );
        run.stderr
    }

    /// The attempt must succeed; returns what the Parquet destination holds.
    fn copied(&mut self, what: &str, ext: &str, bytes: &[u8]) -> RecordBatch {
        // The next attempt takes an even number: dest.parquet.
        if self.n.is_multiple_of(2) {
            self.n += 1;
        }
        let (run, dest) = self.attempt(what, ext, bytes);
        assert_eq!(dest, "dest.parquet");
        assert_eq!(run.code, 0, "{what}: {}{}", run.stdout, run.stderr);
        parquet_table(&self.dir.path(&dest))
    }
}

/// Cut points: both ends, the middle and `random` more drawn from `rng`.
fn cuts(len: usize, random: usize, rng: &mut Lcg) -> Vec<usize> {
    let mut at = vec![
        1,
        2,
        4,
        8,
        len / 2,
        len - 1,
        len - 2,
        len - 4,
        len - 8,
        len - 12,
    ];
    at.extend((0..random).map(|_| 1 + rng.below(len - 1)));
    at.retain(|&c| c > 0 && c < len);
    at.sort_unstable();
    at.dedup();
    at
}

fn ext_of(name: &str) -> &str {
    name.split_once('.').unwrap().1
}

#[test]
fn binary_files_cut_short_or_damaged_anywhere_are_refused() {
    // JSON Lines holds the nested columns CSV cannot.
    let mut b = Bench::to(["dest.parquet", "dest.jsonl"]);
    let mut rng = Lcg(0x5eed_0015);
    for name in [
        "duck_types.parquet",
        "pa_nested.parquet",
        "pa_brotli.parquet",
        "pa_uncompressed.arrow",
        "pd_feather_lz4.feather",
        "pa_feather_zstd.feather",
        "pa_stream.arrows",
        "compressed.csv.gz",
        "compressed.csv.zst",
        "compressed.csv.xz",
        "compressed.csv.bz2",
        "compressed.jsonl.gz",
    ] {
        let good = fixture(name);
        let ext = ext_of(name);
        // The file as it is copies, so each failure below is the damage's.
        for _ in 0..2 {
            b.attempt(&format!("{name} as written"), ext, &good).0.ok();
        }
        for c in cuts(good.len(), 14, &mut rng) {
            b.refused(
                &format!("{name} cut to {c} of {} bytes", good.len()),
                ext,
                &good[..c],
            );
        }
        let mut head = good.clone();
        head[..4].copy_from_slice(b"XXXX");
        b.refused(
            &format!("{name} with its first 4 bytes damaged"),
            ext,
            &head,
        );
        let mut tail = good.clone();
        let n = tail.len();
        tail[n - 4..].copy_from_slice(b"XXXX");
        b.refused(&format!("{name} with its last 4 bytes damaged"), ext, &tail);
        b.refused(
            &format!("random bytes named .{ext}"),
            ext,
            &rng.bytes(good.len()),
        );
    }
}

/// Whether a prefix of an RFC 4180 file (quotes doubled) ends inside a
/// quoted field.
fn inside_quotes(prefix: &[u8]) -> bool {
    prefix.iter().filter(|&&b| b == b'"').count() % 2 == 1
}

#[test]
fn text_files_cut_short_copy_what_they_hold_or_are_refused() {
    let mut b = Bench::new();
    let mut rng = Lcg(0x5eed_0016);
    for name in ["pg_types.csv", "pd_to_csv.csv", "duck_nulls.csv"] {
        let good = fixture(name);
        let rows = b.copied(name, "csv", &good).num_rows();
        for c in cuts(good.len(), 30, &mut rng) {
            let what = format!("{name} cut to {c} of {} bytes", good.len());
            let (run, dest) = b.attempt(&what, "csv", &good[..c]);
            if inside_quotes(&good[..c]) {
                assert_eq!(
                    run.code, 1,
                    "{what} ends inside a quoted field: {}",
                    run.stderr
                );
            } else if run.code == 0 && dest.ends_with(".parquet") {
                let got = parquet_table(&b.dir.path(&dest)).num_rows();
                assert!(got <= rows, "{what}: {got} rows from a file of {rows}");
            }
        }
    }
    // JSON Lines: a cut in the middle of a line is refused; a cut after a
    // whole line gives exactly the lines before it.
    let good = fixture("pd_records.jsonl");
    for c in cuts(good.len(), 30, &mut rng) {
        let what = format!("pd_records.jsonl cut to {c} of {} bytes", good.len());
        let prefix = &good[..c];
        let text = String::from_utf8_lossy(prefix);
        let last = text.rsplit('\n').next().unwrap().trim();
        let whole = last.is_empty() || serde_json::from_str::<serde_json::Value>(last).is_ok();
        let (run, dest) = b.attempt(&what, "jsonl", prefix);
        if !whole {
            assert_eq!(run.code, 1, "{what} ends inside a line: {}", run.stderr);
            assert!(
                run.stderr.contains("line"),
                "{what}: no line named: {}",
                run.stderr
            );
        } else if run.code == 0 && dest.ends_with(".parquet") {
            let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
            let got = parquet_table(&b.dir.path(&dest)).num_rows();
            assert_eq!(got, lines, "{what}: {got} rows from {lines} lines");
        }
    }
    for ext in ["csv", "tsv", "jsonl", "ndjson"] {
        let mut noise = rng.bytes(3000);
        noise[10] = 0xff; // never valid UTF-8
        b.refused(&format!("random bytes named .{ext}"), ext, &noise);
    }
}

#[test]
fn empty_files_are_refused_and_a_header_alone_is_zero_rows() {
    let mut b = Bench::new();
    for ext in [
        "csv", "tsv", "jsonl", "json", "parquet", "arrow", "feather", "csv.gz",
    ] {
        let stderr = b.refused(&format!("an empty .{ext}"), ext, b"");
        assert!(stderr.contains("empty"), "{stderr}");
    }
    b.refused("a .jsonl of blank lines", "jsonl", b"\n\n  \n");
    b.refused("a .csv of blank lines", "csv", b"\n\n\n");
    let t = b.copied("a header alone", "csv", b"id,name\n");
    assert_eq!(t.num_rows(), 0);
    let names: Vec<_> = t
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["id", "name"]);
}

fn strings(t: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a = t
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col} in {:?}", t.schema()));
    let a = arrow::compute::cast(a, &DataType::Utf8).unwrap();
    let a = a.as_any().downcast_ref::<StringArray>().unwrap();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect()
}

fn some(v: &[&str]) -> Vec<Option<String>> {
    v.iter().map(|s| Some(s.to_string())).collect()
}

#[test]
fn odd_bytes_inside_values_are_kept_exactly_or_refused_by_line() {
    let mut b = Bench::new();
    // NUL is a character like any other in UTF-8 text.
    let t = b.copied(
        "NUL bytes in CSV values",
        "csv",
        b"k,t\na,x\0y\nb,\"\0\"\nc,\"q\0\"\"r\"\n",
    );
    assert_eq!(strings(&t, "t"), some(&["x\0y", "\0", "q\0\"r"]));
    let t = b.copied(
        "an escaped NUL in JSON Lines",
        "jsonl",
        b"{\"t\":\"x\\u0000y\"}\n",
    );
    assert_eq!(strings(&t, "t"), some(&["x\0y"]));
    // A raw control character is not JSON.
    let e = b.refused(
        "a raw NUL in a JSON string",
        "jsonl",
        b"{\"t\":\"a\"}\n{\"t\":\"x\0y\"}\n",
    );
    assert!(e.contains("line 2"), "{e}");
    // Invalid UTF-8 is named by line; nothing is replaced with U+FFFD.
    let e = b.refused("invalid UTF-8 in CSV", "csv", b"k,t\na,ok\nb,caf\xe9\n");
    assert!(e.contains("line 3") && e.contains("UTF-8"), "{e}");
    let e = b.refused(
        "invalid UTF-8 in JSON Lines",
        "jsonl",
        b"{\"t\":\"ok\"}\n{\"t\":\"caf\xe9\"}\n",
    );
    assert!(e.contains("line 2"), "{e}");
    // A BOM is not part of the first name; CRLF is not part of the last value.
    let t = b.copied(
        "a BOM and CRLF in CSV",
        "csv",
        b"\xef\xbb\xbfname,t\r\nann,x\r\nbob,\"y\r\nz\"\r\n",
    );
    assert_eq!(strings(&t, "name"), some(&["ann", "bob"]));
    assert_eq!(strings(&t, "t"), some(&["x", "y\r\nz"]));
    let t = b.copied(
        "a BOM and CRLF in JSON Lines",
        "jsonl",
        b"\xef\xbb\xbf{\"name\":\"ann\"}\r\n{\"name\":\"bob\"}\r\n",
    );
    assert_eq!(strings(&t, "name"), some(&["ann", "bob"]));
    // Ragged rows name their line.
    let e = b.refused("a short row", "csv", b"a,b,c\n1,2,3\n4,5\n");
    assert!(e.contains("line 3"), "{e}");
    let e = b.refused("a long row", "csv", b"a,b\nx,y\nx,y\nx,y,z\n");
    assert!(e.contains("line 4"), "{e}");
}

#[test]
fn huge_fields_and_ten_thousand_columns_copy_exactly() {
    let mut b = Bench::new();
    // One 24 MiB value, in CSV and in JSON Lines.
    let big: String = (0..24 << 20)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let t = b.copied(
        "a 24 MiB CSV field",
        "csv",
        format!("k,t\nsmall,x\nbig,\"{big}\"\n").as_bytes(),
    );
    assert_eq!(strings(&t, "t")[1].as_deref(), Some(big.as_str()));
    let t = b.copied(
        "a 24 MiB JSON string",
        "jsonl",
        format!("{{\"t\":\"x\"}}\n{{\"t\":\"{big}\"}}\n").as_bytes(),
    );
    assert_eq!(strings(&t, "t")[1].as_deref(), Some(big.as_str()));

    // 10,000 columns in CSV.
    let cols = 10_000;
    let mut csv = (0..cols)
        .map(|c| format!("c{c}"))
        .collect::<Vec<_>>()
        .join(",");
    csv.push('\n');
    for r in 0..3 {
        csv.push_str(
            &(0..cols)
                .map(|c| format!("v{r}_{c}"))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push('\n');
    }
    let t = b.copied("10,000 CSV columns", "csv", csv.as_bytes());
    assert_eq!(t.num_columns(), cols);
    assert_eq!(
        strings(&t, "c9999"),
        some(&["v0_9999", "v1_9999", "v2_9999"])
    );

    // 10,000 columns in Parquet, to CSV.
    let fields: Vec<Field> = (0..cols)
        .map(|c| Field::new(format!("c{c}"), DataType::Int64, true))
        .collect();
    let columns: Vec<Arc<dyn Array>> = (0..cols)
        .map(|c| Arc::new(Int64Array::from(vec![c as i64, -(c as i64)])) as Arc<dyn Array>)
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let src = b.dir.path("wide.parquet");
    write_parquet(&src, &batch);
    b.dir.run(&["copy", "wide.parquet", "wide.csv"]).ok();
    let text = std::fs::read_to_string(b.dir.path("wide.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].split(',').count(), cols);
    assert_eq!(lines[2].rsplit(',').next(), Some("-9999"));
}
