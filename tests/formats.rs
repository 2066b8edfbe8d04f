//! Parquet, Arrow IPC and JSON Lines as other tools write and read them
//! (issue 12): files pyarrow, pandas and DuckDB wrote (`tests/data/`) are
//! copied into every format and compared value by value with what the
//! writing tool reads back; damaged files are refused naming the file on
//! every path; a column a format cannot hold is refused when the
//! destination opens, in a dry run too, never with a panic.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, ListArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use serde_json::Value;

use crate::support::fixtures::{
    assert_rows, data, expected, jsonl_rows, read_csv, read_jsonl, read_table, Expected,
};
use crate::support::{write_parquet, Dir, Run};

/// `convoy copy SRC DST ARGS… --json`, run in `dir`.
fn copy(dir: &Dir, src: &str, dst: &str, args: &[&str]) -> Run {
    let mut all = vec!["copy", src, dst, "--json", "--progress", "never"];
    all.extend_from_slice(args);
    dir.run(&all)
}

fn fixture(name: &str) -> String {
    data(name).display().to_string()
}

/// What was written to `out`, compared with the fixture's expected values.
fn assert_output(exp: &Expected, out: &Path, what: &str) {
    let ext = out.extension().unwrap().to_str().unwrap();
    let (columns, rows) = match ext {
        "csv" => read_csv(out),
        "jsonl" => jsonl_rows(out, exp),
        _ => {
            let (c, r, _) = read_table(out);
            (c, r)
        }
    };
    assert_rows(exp, &columns, &rows, what);
}

/// Every binary fixture other tools wrote, read into every format that can
/// hold its columns, exactly as the writing tool reads it back.
#[test]
fn files_other_tools_wrote_are_copied_exactly_into_every_format() {
    let dir = Dir::new();
    // (fixture, outputs that cannot hold one of its columns)
    let fixtures: &[(&str, &[&str])] = &[
        ("pa_int96.parquet", &[]),
        ("pa_brotli.parquet", &[]),
        ("pa_page_crc_ok.parquet", &[]),
        ("pa_nan.parquet", &[]),
        ("pa_map_nulls.parquet", &["csv"]),
        ("pa_dict_nulls.parquet", &[]),
        ("pa_dict_nulls.arrow", &[]),
        // The empty binary value reads back as NULL from CSV (README).
        ("pa_float16_fsb.parquet", &["csv"]),
        ("pa_durations.arrow", &[]),
        ("pa_time_units.arrow", &[]),
        ("pa_time_units.parquet", &[]),
        ("pa_paris_1800.parquet", &[]),
        ("pa_zero_rows.parquet", &[]),
        ("pa_feather_zstd.feather", &[]),
        ("pd_feather_lz4.feather", &[]),
        ("pa_uncompressed.arrow", &[]),
        ("pa_stream.arrows", &[]),
        ("pa_nested.parquet", &["csv"]),
        ("duck_types.parquet", &["csv"]),
    ];
    for (name, skip) in fixtures {
        let exp = expected(name);
        for ext in ["parquet", "arrow", "jsonl", "csv"] {
            if skip.contains(&ext) {
                continue;
            }
            let out = format!("{name}.out.{ext}");
            // A Parquet source is copied byte for byte to Parquet unless a
            // writing option asks for a new encoding.
            let rewrite: &[&str] = if ext == "parquet" && name.ends_with(".parquet") {
                &["--compression", "zstd"]
            } else {
                &[]
            };
            let run = copy(&dir, &fixture(name), &out, rewrite);
            assert_eq!(run.code, 0, "{name} -> {ext}: {}", run.stderr);
            assert_output(&exp, &dir.path(&out), &format!("{name} -> {ext}"));
        }
    }
}

/// Damaged Parquet files are refused naming the file, whatever the output,
/// the byte-for-byte path and standard input included; the destination
/// stays as it was.
#[test]
fn damaged_parquet_files_are_refused_on_every_path() {
    let dir = Dir::new();
    let cases: &[(&str, &[&str])] = &[
        (
            "pa_footer_num_rows_0.parquet",
            &["the footer says the file holds 0 rows", "row groups hold 6"],
        ),
        (
            "pa_page_crc_bad.parquet",
            &["column \"id\"", "row group 0", "page checksum mismatch"],
        ),
        (
            "pa_bad_magic.parquet",
            &["does not start with PAR1", "\"XXXX\""],
        ),
    ];
    let outputs: &[(&str, &[&str])] = &[
        ("out.csv", &[]),
        ("out.jsonl", &[]),
        ("out.parquet", &[]),
        ("out.parquet", &["--compression", "zstd"]),
    ];
    for (name, needles) in cases {
        for (out, args) in outputs {
            dir.write(out, b"previous contents");
            let run = copy(&dir, &fixture(name), out, args);
            assert_eq!(run.code, 1, "{name} -> {out} {args:?}: {}", run.stderr);
            let doc = run.json();
            let message = doc["copies"][0]["error"]["message"].as_str().unwrap();
            assert!(message.contains(name), "{name} -> {out}: {message}");
            for n in *needles {
                assert!(
                    message.contains(n),
                    "{name} -> {out}: {n:?} not in {message}"
                );
            }
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
            assert_eq!(std::fs::read(dir.path(out)).unwrap(), b"previous contents");
        }
        // From standard input (spooled, then checked the same way).
        let run: Run = dir
            .cmd(&["copy", "-", "out.parquet", "--source-format", "parquet"])
            .stdin(std::fs::File::open(data(name)).unwrap())
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, 1, "{name} from stdin: {}", run.stderr);
        for n in *needles {
            assert!(run.stderr.contains(n), "{name} from stdin: {}", run.stderr);
        }
    }
    assert_eq!(dir.listing(), ["out.csv", "out.jsonl", "out.parquet"]);
}

/// An Arrow IPC stream cut between two batches looks complete to arrow's
/// reader; without its end-of-stream marker it is refused.
#[test]
fn an_arrow_stream_without_its_end_marker_is_refused() {
    let dir = Dir::new();
    let whole = std::fs::read(data("pa_stream.arrows")).unwrap();
    dir.write("cut.arrows", &whole[..whole.len() - 8]);
    for (src, stdin) in [("cut.arrows", false), ("-", true)] {
        let mut cmd = dir.cmd(&["copy", src, "out.parquet", "--source-format", "ipc"]);
        if stdin {
            cmd.stdin(std::fs::File::open(dir.path("cut.arrows")).unwrap());
        }
        let run: Run = cmd.output().unwrap().into();
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr.contains("without its end-of-stream marker"),
            "{}",
            run.stderr
        );
        assert!(!dir.path("out.parquet").exists());
    }
}

/// The byte-for-byte copy checks the page checksums a file carries as its
/// bytes pass, and says so.
#[test]
fn byte_for_byte_copies_check_page_checksums() {
    let dir = Dir::new();
    let run = copy(&dir, &fixture("pa_page_crc_ok.parquet"), "out.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let details = run.json()["copies"][0]["details"].to_string();
    assert!(details.contains("byte for byte"), "{details}");
    assert!(details.contains("page checksums checked"), "{details}");
    assert_eq!(
        std::fs::read(dir.path("out.parquet")).unwrap(),
        std::fs::read(data("pa_page_crc_ok.parquet")).unwrap()
    );
}

/// Columns a format cannot hold are refused when the destination opens,
/// naming the column, in a dry run too; the JSON summary is printed and the
/// destination is not touched.
#[test]
fn columns_a_format_cannot_hold_are_refused_at_open_and_in_a_dry_run() {
    let dir = Dir::new();
    let cases: &[(&str, &str, &str)] = &[
        (
            "pa_union.arrow",
            "out.parquet",
            "column \"su\" (sparse_union<",
        ),
        ("pa_union.arrow", "out.csv", "column \"su\""),
        ("pa_union.arrow", "out.jsonl", "column \"su\""),
        (
            "pa_map_nulls.parquet",
            "out.csv",
            "column \"m\" (map<string, int64>)",
        ),
        ("pa_nested.parquet", "out.csv", "column \"l\" (list<int64>)"),
    ];
    for (name, out, needle) in cases {
        for dry in [true, false] {
            dir.write(out, b"previous contents");
            let args: &[&str] = if dry { &["--dry-run"] } else { &[] };
            let run = copy(&dir, &fixture(name), out, args);
            assert_eq!(
                run.code, 1,
                "{name} -> {out} (dry run {dry}): {}",
                run.stderr
            );
            let doc = run.json();
            assert_eq!(doc["copies"][0]["status"], "failed");
            let message = doc["copies"][0]["error"]["message"].as_str().unwrap();
            assert!(message.contains(needle), "{name} -> {out}: {message}");
            assert!(message.contains("cannot be written to"), "{message}");
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
            assert_eq!(std::fs::read(dir.path(out)).unwrap(), b"previous contents");
        }
    }
    // Arrow IPC holds unions.
    let run = copy(&dir, &fixture("pa_union.arrow"), "out.arrow", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["copies"][0]["rows_written"], 3);
}

/// A list of lists (or a struct) has no PostgreSQL column: refused before
/// anything is contacted, naming the column, not blamed on "the existing
/// table".
#[test]
fn a_nested_list_is_refused_for_postgres_before_connecting() {
    let dir = Dir::new();
    let inner = Arc::new(Field::new_list_field(DataType::Int64, true));
    let values = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2)]),
        Some(vec![Some(3)]),
    ]);
    let nested = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::List(inner), true)),
        arrow::buffer::OffsetBuffer::from_lengths([2]),
        Arc::new(values) as ArrayRef,
        None,
    )
    .unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("ll", arrow::array::Array::data_type(&nested).clone(), true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(vec![1])), Arc::new(nested)],
    )
    .unwrap();
    write_parquet(&dir.path("nested.parquet"), &batch);
    // Port 9 (discard): nothing is contacted.
    for args in [&["--dry-run"][..], &[][..]] {
        let run: Run = dir
            .cmd(
                &[
                    &[
                        "copy",
                        "nested.parquet",
                        "postgres://loader@127.0.0.1:9/db?table=t",
                    ][..],
                    args,
                ]
                .concat(),
            )
            .env("PGPASSWORD", "unused")
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("column \"ll\" (list<list<int64>>) cannot be written to PostgreSQL"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("existing table"), "{}", run.stderr);
    }
}

/// JSON Lines output keeps what arrow-json's defaults lose: NaN and
/// infinities, NULL map values and struct fields, NULLs inside dictionaries,
/// repeated column names; and reads back to the same values.
#[test]
fn json_lines_output_keeps_every_value_and_reads_back() {
    let dir = Dir::new();
    let run = copy(&dir, &fixture("pa_nan.parquet"), "nan.jsonl", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path("nan.jsonl")).unwrap();
    for s in ["\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "-0.0"] {
        assert!(text.contains(s), "{s} not in {text}");
    }
    // Back with the schema the dry run prints.
    let schema = copy(
        &dir,
        &fixture("pa_nan.parquet"),
        "x.parquet",
        &["--dry-run"],
    )
    .json()["copies"][0]["schema"]
        .as_str()
        .unwrap()
        .to_string();
    let back = copy(&dir, "nan.jsonl", "back.parquet", &["--schema", &schema]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_output(
        &expected("pa_nan.parquet"),
        &dir.path("back.parquet"),
        "NaN back",
    );

    // NULL map values and all-NULL columns are written, not left out.
    copy(&dir, &fixture("pa_map_nulls.parquet"), "map.jsonl", &[]);
    let lines = read_jsonl(&dir.path("map.jsonl"));
    assert!(lines.iter().all(|l| l.len() == 2), "{lines:?}");
    let m = std::fs::read_to_string(dir.path("map.jsonl")).unwrap();
    assert!(m.contains("\"b\":null"), "{m}");

    // Repeated names: a, a_1, with a warning.
    let run = copy(&dir, &fixture("pa_dup_names.parquet"), "dup.jsonl", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let warnings = run.json()["copies"][0]["warnings"].to_string();
    assert!(
        warnings.contains("\\\"a\\\" is written as \\\"a_1\\\""),
        "{warnings}"
    );
    let lines = read_jsonl(&dir.path("dup.jsonl"));
    let keys: Vec<&str> = lines[0].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "a_1", "b"]);

    // Durations beyond ±2^63 ms: integers of the unit in JSON, ISO 8601 in
    // CSV, and both read back.
    for ext in ["jsonl", "csv"] {
        let out = format!("d.{ext}");
        assert_eq!(
            copy(&dir, &fixture("pa_durations.arrow"), &out, &[]).code,
            0
        );
        let text = std::fs::read_to_string(dir.path(&out)).unwrap();
        assert!(!text.contains("<invalid>"), "{text}");
        let back = copy(
            &dir,
            &out,
            "d.arrow",
            &[
                "--schema",
                "id:int64,d_s:duration(s),d_ms:duration(ms),d_ns:duration(ns)",
            ],
        );
        assert_eq!(back.code, 0, "{}", back.stderr);
        assert_output(&expected("pa_durations.arrow"), &dir.path("d.arrow"), ext);
    }
}

/// JSON Lines input: errors name the line, numbers are exact, columns keep
/// the file's order.
#[test]
fn json_lines_input_names_lines_and_keeps_numbers_exact() {
    let dir = Dir::new();
    for (name, args) in [
        ("jsonl_bad_line.jsonl", &[][..]),
        (
            "jsonl_bad_line_declared.jsonl",
            &["--schema", "id:int64,name:string"][..],
        ),
    ] {
        let run = copy(&dir, &fixture(name), "out.parquet", args);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        let message = run.json()["copies"][0]["error"]["message"].to_string();
        assert!(message.contains(&format!("{name}: line 5")), "{message}");
    }
    // Integers beyond int64: decimal(38,0), exactly.
    let run = copy(&dir, &fixture("jsonl_big_ints.jsonl"), "big.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json()["copies"][0]["schema"],
        "id:int64,n:decimal(38,0)"
    );
    assert_output(
        &expected("jsonl_big_ints.jsonl"),
        &dir.path("big.parquet"),
        "big ints",
    );
    // The file's column order, not alphabetical.
    let run = copy(&dir, &fixture("pd_records.jsonl"), "pd.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_output(
        &expected("pd_records.jsonl"),
        &dir.path("pd.parquet"),
        "pandas",
    );

    // A value that does not fit the column is refused, never truncated or
    // rounded, naming its line.
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "{\"n\":1}\n\n{\"n\":2}\n{\"n\":2.5}\n",
            "line 4: whilst decoding field 'n': 2.5 is not a whole number",
            &["--infer-rows", "2"],
        ),
        (
            "{\"x\":1.5}\n{\"x\":1e400}\n",
            "line 2: whilst decoding field 'x': 1e400 is beyond the range of float64",
            &["--schema", "x:float64"],
        ),
        (
            "{\"n\":1}\n{\"n\":9223372036854775808}\n",
            "line 2: whilst decoding field 'n': 9223372036854775808 is out of range",
            &["--schema", "n:int64"],
        ),
    ];
    for (text, needle, args) in cases {
        dir.write("in.jsonl", text);
        let run = copy(&dir, "in.jsonl", "out.parquet", args);
        assert_eq!(run.code, 1, "{text}: {}", run.stderr);
        let message = run.json()["copies"][0]["error"]["message"].to_string();
        assert!(message.contains(needle), "{text}: {message}");
    }
}

/// Historical zone offsets have seconds: written with them, and read back
/// (PostgreSQL writes them too), so the instant never moves.
#[test]
fn offsets_with_seconds_keep_the_instant() {
    let dir = Dir::new();
    assert_eq!(
        copy(&dir, &fixture("pa_paris_1800.parquet"), "p.csv", &[]).code,
        0
    );
    let text = std::fs::read_to_string(dir.path("p.csv")).unwrap();
    assert!(text.contains("1800-06-01T12:09:21+00:09:21"), "{text}");
    let schema = "paris:timestamp(us, Europe/Paris),kolkata:timestamp(ms, Asia/Kolkata)";
    let run = copy(&dir, "p.csv", "p.parquet", &["--schema", schema]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_output(
        &expected("pa_paris_1800.parquet"),
        &dir.path("p.parquet"),
        "csv back",
    );

    // PostgreSQL's own export: inferred as a timestamp with a zone.
    let run = copy(&dir, &fixture("pg_timestamptz_lmt.csv"), "pg.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema = run.json()["copies"][0]["schema"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(schema.contains("at:timestamp("), "{schema}");
    assert_output(
        &expected("pg_timestamptz_lmt.csv"),
        &dir.path("pg.parquet"),
        "pg",
    );
}

/// The schema string a dry run prints is accepted by --schema for every
/// type, and CSV written with it reads back exactly (binary as hex).
#[test]
fn the_printed_schema_reads_convoys_csv_back() {
    let dir = Dir::new();
    for name in [
        "pa_float16_fsb.parquet",
        "pa_durations.arrow",
        "pa_time_units.arrow",
        "pa_dict_nulls.arrow",
        "pa_int96.parquet",
    ] {
        let dry = copy(&dir, &fixture(name), "x.csv", &["--dry-run"]);
        assert_eq!(dry.code, 0, "{name}: {}", dry.stderr);
        let schema = dry.json()["copies"][0]["schema"]
            .as_str()
            .unwrap()
            .to_string();
        // \N for NULL keeps an empty binary value apart from NULL.
        let null = ["--null", "\\N"];
        assert_eq!(copy(&dir, &fixture(name), "x.csv", &null).code, 0, "{name}");
        let back = copy(
            &dir,
            "x.csv",
            "back.parquet",
            &[&null[..], &["--schema", &schema][..]].concat(),
        );
        assert_eq!(back.code, 0, "{name} with {schema}: {}", back.stderr);
        assert_output(&expected(name), &dir.path("back.parquet"), name);
    }
}

/// Parquet and Arrow IPC from standard input: spooled to an unnamed
/// temporary file (footer first); the IPC stream format streamed.
#[test]
fn standard_input_reads_parquet_and_arrow() {
    let dir = Dir::new();
    for (name, format) in [
        ("pa_int96.parquet", "parquet"),
        ("pa_uncompressed.arrow", "ipc"),
        ("pd_feather_lz4.feather", "ipc"),
        ("pa_stream.arrows", "ipc"),
    ] {
        for out in ["out.parquet", "out.jsonl"] {
            let run: Run = dir
                .cmd(&["copy", "-", out, "--source-format", format, "-q"])
                .stdin(std::fs::File::open(data(name)).unwrap())
                .output()
                .unwrap()
                .into();
            assert_eq!(run.code, 0, "{name}: {}", run.stderr);
            assert_output(
                &expected(name),
                &dir.path(out),
                &format!("{name} from stdin"),
            );
        }
    }
    // Nothing left behind.
    assert_eq!(dir.listing(), ["out.jsonl", "out.parquet"]);
}

/// Second timestamps, date64 and time32(s) reach Parquet with the logical
/// types other readers understand (the parquet crate would write plain
/// integers).
#[test]
fn parquet_output_carries_logical_types_for_every_time_unit() {
    use parquet::basic::{LogicalType, TimeUnit};
    use parquet::file::reader::FileReader;
    let dir = Dir::new();
    let run = copy(&dir, &fixture("pa_time_units.arrow"), "t.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(
        std::fs::File::open(dir.path("t.parquet")).unwrap(),
    )
    .unwrap();
    let schema = reader.metadata().file_metadata().schema_descr();
    let logical: Vec<(String, Option<LogicalType>)> = schema
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.logical_type_ref().cloned()))
        .collect();
    let millis = TimeUnit::MILLIS;
    for (name, lt) in &logical {
        let ok = match (name.as_str(), lt) {
            ("ts_s", Some(LogicalType::Timestamp(t))) => {
                t.unit == millis && !t.is_adjusted_to_u_t_c
            }
            ("ts_ms_utc", Some(LogicalType::Timestamp(t))) => {
                t.unit == millis && t.is_adjusted_to_u_t_c
            }
            ("d64", Some(LogicalType::Date)) => true,
            ("t32s" | "t32ms", Some(LogicalType::Time(t))) => t.unit == millis,
            _ => false,
        };
        assert!(ok, "column {name}: logical type {lt:?}");
    }
    assert_output(
        &expected("pa_time_units.arrow"),
        &dir.path("t.parquet"),
        "time units",
    );
    // A date64 that is not a whole day has no exact Parquet date.
    let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Date64, true)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(arrow::array::Date64Array::from(vec![
            86_400_000, 86_400_001,
        ]))],
    )
    .unwrap();
    let mut w = arrow::ipc::writer::FileWriter::try_new(
        std::fs::File::create(dir.path("d.arrow")).unwrap(),
        &schema,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    let run = copy(&dir, "d.arrow", "d.parquet", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error: Value = run.json()["copies"][0]["error"].clone();
    assert!(
        error
            .to_string()
            .contains("column \\\"d\\\" (date64) holds a value"),
        "{error}"
    );
    assert!(!dir.path("d.parquet").exists());
}

/// The copy's warnings in a `--json` summary.
fn warnings(run: &Run) -> Vec<String> {
    run.json()["copies"][0]["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// CSV as PostgreSQL, DuckDB, pyarrow and pandas write it, and by hand in
/// other dialects, is read without flags exactly as the writer reads it
/// back (issue 12: items 2, 10, 11, 12): one-column files whose NULLs are
/// blank lines, `;` `|` and tab delimiters, t/f booleans, shortest
/// round-trip floats, phone numbers with a leading `+`.
#[test]
fn csv_files_other_tools_wrote_are_read_exactly() {
    let dir = Dir::new();
    let cases: &[(&str, &[&str])] = &[
        ("pg_one_col_nulls.csv", &[]),
        ("duck_one_col_nulls.csv", &[]),
        ("pa_one_col_nulls.csv", &[]),
        ("csv_semicolon.csv", &[]),
        ("csv_tab.tsv", &[]),
        ("csv_pipe.csv", &[]),
        ("csv_bom_crlf.csv", &[]),
        ("csv_leading_plus_zeros.csv", &[]),
        ("csv_header_only.csv", &[]),
        ("csv_bool_inferred.csv", &[]),
        (
            "csv_bool_declared.csv",
            &["--schema", "pg:bool,word:bool,digit:bool,yn:bool"],
        ),
        ("pg_bool_declared.csv", &["--schema", "id:int64,flag:bool"]),
        ("pd_to_csv.csv", &[]),
        ("csv_ts_outside_ns.csv", &[]),
    ];
    for (name, args) in cases {
        let exp = expected(name);
        for ext in ["parquet", "csv"] {
            let out = format!("{name}.out.{ext}");
            let run = copy(&dir, &fixture(name), &out, args);
            assert_eq!(run.code, 0, "{name} -> {ext}: {}", run.stderr);
            assert_output(&exp, &dir.path(&out), &format!("{name} -> {ext}"));
        }
    }
    // Doubles as psql exports them, the sample ending before the first
    // with an exponent: every value is the float its text names. (Compared
    // with the file's text: the expected JSON is read by serde_json, whose
    // float parsing may be a unit in the last place off.)
    let name = "pg_double_precision.csv";
    let run = copy(&dir, &fixture(name), "d.parquet", &["--infer-rows", "20"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (_, rows, _) = read_table(&dir.path("d.parquet"));
    let text = std::fs::read_to_string(data(name)).unwrap();
    let want: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let got: Vec<f64> = rows.iter().map(|r| r[1].as_f64().unwrap()).collect();
    assert_eq!(got.len(), 24);
    assert!(
        want.iter()
            .zip(&got)
            .all(|(w, g)| w.to_bits() == g.to_bits()),
        "{want:?}\n{got:?}"
    );
    // The types the writers meant, not text that holds the same digits.
    let types = |name: &str, args: &[&str]| -> String {
        let run = copy(&dir, &fixture(name), "t.parquet", args);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        run.json()["copies"][0]["schema"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        types("pg_double_precision.csv", &["--infer-rows", "20"]),
        "id:int64,price:float64"
    );
    assert_eq!(
        types("csv_bool_inferred.csv", &[]),
        "pg:bool,word:bool,digit:int64,yn:string"
    );
    assert_eq!(
        types("csv_leading_plus_zeros.csv", &[]),
        "phone:string,zip:string,code:string"
    );
    assert!(types("pg_types.csv", &[]).starts_with("id:int64,price:float64,flag:bool,"));
}

/// A value a float64 would change (21 significant digits, beyond the
/// range) keeps its column as text, exactly (issue 12.10).
#[test]
fn csv_numbers_a_float_would_change_stay_text() {
    let dir = Dir::new();
    let run = copy(&dir, &fixture("csv_float_extremes.csv"), "f.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["copies"][0]["schema"], "id:int64,x:string");
    let (_, rows, _) = read_table(&dir.path("f.parquet"));
    let x: Vec<&Value> = rows.iter().map(|r| &r[1]).collect();
    assert_eq!(
        x,
        ["1e3", "3.14159265358979323846", "1e400", "-1e-400"]
            .iter()
            .map(|s| Value::from(*s))
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>()
    );
    // Declared float64: refused naming row, line and column.
    let run = copy(
        &dir,
        &fixture("csv_float_extremes.csv"),
        "f.parquet",
        &["--schema", "id:int64,x:float64"],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("row 2 (line 3), column \"x\"")
            && run.stderr.contains("21 significant digits"),
        "{}",
        run.stderr
    );
    // Past the sample, a number beyond the range: read again as text.
    let mut text = String::from("id,x\n");
    for i in 0..50 {
        text.push_str(&format!("{i},{i}.5e3\n"));
    }
    text.push_str("50,1e400\n51,-0.5\n");
    dir.write("big.csv", &text);
    let run = copy(&dir, "big.csv", "big.parquet", &["--infer-rows", "10"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["copies"][0]["schema"], "id:int64,x:string");
    let (_, rows, _) = read_table(&dir.path("big.parquet"));
    assert_eq!(rows[50][1], Value::from("1e400"));
}

/// The dialect and the header line are detected from a sample, shown in a
/// dry run, and flags override them (issue 12.12).
#[test]
fn csv_dialect_and_header_are_detected_and_flags_override() {
    let dir = Dir::new();
    let run = copy(
        &dir,
        &fixture("csv_no_header.csv"),
        "n.parquet",
        &["--dry-run"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let details = run.json()["copies"][0]["details"].to_string();
    assert!(details.contains("header no (detected)"), "{details}");
    let run = copy(&dir, &fixture("csv_no_header.csv"), "n.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (columns, rows, _) = read_table(&dir.path("n.parquet"));
    assert_eq!(columns, ["column_1", "column_2", "column_3"]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][1], Value::from("alice"));
    // --header says line 1 is a header, whatever it looks like.
    let run = copy(
        &dir,
        &fixture("csv_no_header.csv"),
        "h.parquet",
        &["--header"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (columns, rows, _) = read_table(&dir.path("h.parquet"));
    assert_eq!(columns, ["1", "alice", "2024-01-02"]);
    assert_eq!(rows.len(), 2);
    // A given delimiter is used as given.
    let run = copy(
        &dir,
        &fixture("csv_semicolon.csv"),
        "s.parquet",
        &["--delimiter", ",", "--dry-run"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["copies"][0]["schema"], "id;name;amount:string");
    let details = run.json()["copies"][0]["details"].to_string();
    assert!(details.contains("delimiter ',' (given)"), "{details}");
    // `plan` says what it will detect.
    let plan = dir.run(&["plan", &fixture("csv_semicolon.csv"), "s.parquet"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout
            .contains("delimiter, quote, header detected at run time from a sample"),
        "{}",
        plan.stdout
    );
}

/// Empty and repeated header names are renamed as DuckDB does, with a
/// warning; no empty name reaches a destination (issue 12.15).
#[test]
fn csv_empty_and_repeated_header_names_are_renamed_with_a_warning() {
    let dir = Dir::new();
    for (name, want, warned) in [
        (
            "csv_dup_header.csv",
            ["id", "id_1", "name"],
            "column 2 repeats the name \"id\"; it is named \"id_1\"",
        ),
        (
            "csv_trailing_comma_header.csv",
            ["id", "name", "column3"],
            "column 3 has no name; it is named \"column3\"",
        ),
    ] {
        let run = copy(&dir, &fixture(name), "d.parquet", &[]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let w = warnings(&run);
        assert!(w.iter().any(|w| w.contains(warned)), "{name}: {w:?}");
        let (columns, rows, _) = read_table(&dir.path("d.parquet"));
        assert_eq!(columns, want, "{name}");
        assert_eq!(rows.len(), 2, "{name}");
    }
}

/// Blank lines between the rows of a wider file are skipped and counted in
/// a warning (issue 12.2).
#[test]
fn csv_blank_lines_in_wider_files_are_counted_in_a_warning() {
    let dir = Dir::new();
    let run = copy(&dir, &fixture("csv_blank_lines.csv"), "b.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let w = warnings(&run);
    assert!(
        w.iter().any(|w| w.contains("3 blank lines skipped")),
        "{w:?}"
    );
    assert_output(
        &expected("csv_blank_lines.csv"),
        &dir.path("b.parquet"),
        "blank lines",
    );
}

/// A UTF-8 byte-order mark (pandas' `utf-8-sig`, Excel's "CSV UTF-8") is
/// not part of the first value, with or without a header, quoted or not.
#[test]
fn a_byte_order_mark_is_not_part_of_the_first_value() {
    let dir = Dir::new();
    for (name, text, args) in [
        ("plain.csv", "\u{feff}1,a\n2,b\n", &["--no-header"][..]),
        (
            "quoted.csv",
            "\u{feff}\"1\",\"a\"\n\"2\",\"b\"\n",
            &["--no-header"][..],
        ),
        ("header.csv", "\u{feff}\"c1\",c2\n1,a\n2,b\n", &[][..]),
    ] {
        dir.write(name, text.as_bytes());
        let out = format!("{name}.jsonl");
        let run = copy(&dir, name, &out, args);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert!(!run.stderr.contains("read again"), "{name}: {}", run.stderr);
        let rows = std::fs::read_to_string(dir.path(&out)).unwrap();
        let first = rows.lines().next().unwrap();
        assert!(
            first.contains(":1,") && !first.contains('\u{feff}'),
            "{name}: {first}"
        );
    }
}

/// Quotes escaped with a backslash, as Spark writes CSV: refused naming the
/// line, with a hint that names `--escape '\'` (whether the refusal comes
/// from the sample or from past it), and read exactly with it.
#[test]
fn backslash_escaped_quotes_are_refused_with_a_hint_and_read_with_escape() {
    let dir = Dir::new();
    let early = "id,txt\n1,\"say \\\"hi\\\" now\"\n2,plain\n".to_string();
    let mut late = String::from("id,txt\n");
    // Past the 4 MiB sample.
    for i in 0..200_000 {
        late.push_str(&format!("{i},\"row {i}, plain\"\n"));
    }
    late.push_str("200000,\"say \\\"hi\\\" now\"\n");
    for (name, text, line) in [("early.csv", &early, 2), ("late.csv", &late, 200_002)] {
        dir.write(name, text.as_bytes());
        let run = copy(&dir, name, "out.jsonl", &[]);
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert!(
            run.stderr.contains(&format!("{name}: line {line}: ")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("--escape '\\'"), "{}", run.stderr);
        assert!(!dir.path("out.jsonl").exists());
        let run = copy(&dir, name, "out.jsonl", &["--escape", "\\"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let out = std::fs::read_to_string(dir.path("out.jsonl")).unwrap();
        assert!(out.contains(r#""txt":"say \"hi\" now""#), "{out}");
        std::fs::remove_file(dir.path("out.jsonl")).unwrap();
    }
}

/// A quote that is never closed is refused naming the line it opened on,
/// in a dry run too; error lines count the newlines inside quoted fields
/// (issue 12: items 1 and 18). The destination is left as it was.
#[test]
fn csv_errors_name_the_file_line() {
    let dir = Dir::new();
    dir.write("dest.parquet", b"before");
    for extra in [&[][..], &["--dry-run"][..]] {
        let run = copy(&dir, &fixture("csv_stray_quote.csv"), "dest.parquet", extra);
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert!(
            run.stderr.contains("csv_stray_quote.csv: line 3"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(std::fs::read(dir.path("dest.parquet")).unwrap(), b"before");
    let run = copy(
        &dir,
        &fixture("csv_quoted_newline_error.csv"),
        "dest.parquet",
        &["--schema", "id:int64,note:string"],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("row 3 (line 5), column \"id\""),
        "{}",
        run.stderr
    );
    // Past the sample, after a quoted newline and blank lines: a value and
    // a row of the wrong width are named by their line.
    let mut text = String::from("id,note\n1,\"a\nb\"\n\n");
    for i in 0..20_000 {
        text.push_str(&format!("{i},x\n"));
    }
    let bad_value = text.clone() + "oops,x\n";
    dir.write("v.csv", bad_value);
    let run = copy(
        &dir,
        "v.csv",
        "dest.parquet",
        &["--schema", "id:int64,note:string"],
    );
    assert!(
        run.stderr.contains("row 20002 (line 20005), column \"id\""),
        "{}",
        run.stderr
    );
    dir.write("w.csv", text.clone() + "1,x,y\n");
    let run = copy(&dir, "w.csv", "dest.parquet", &[]);
    assert!(
        run.stderr.contains("row 20002 (line 20005)"),
        "{}",
        run.stderr
    );
    // A quote left open at the end of a file past the sample.
    dir.write("q.csv", text + "5,\"never closed\n6,x\n");
    let run = copy(&dir, "q.csv", "dest.parquet", &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("line 20005: a quoted field starts there and is never closed"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(dir.path("dest.parquet")).unwrap(), b"before");
}

/// A value past the sample that does not fit its column's inferred type
/// does not fail a well-formed file: it is read again with a wider exact
/// type, and the summary says which column (issue 12.10). Standard input
/// cannot be read again: the copy fails naming row, line and column.
#[test]
fn csv_inferred_columns_are_widened_when_a_later_value_does_not_fit() {
    let dir = Dir::new();
    let mut text = String::from("id,v,t\n");
    for i in 0..30 {
        text.push_str(&format!("{i},{i},2024-01-01 00:00:00\n"));
    }
    text.push_str("30,2.5,2024-01-01 00:00:00.1234567\n31,-7,2024-01-02 00:00:00\n");
    dir.write("w.csv", &text);
    dir.write("dest.parquet", b"before");
    let run = copy(&dir, "w.csv", "dest.parquet", &["--infer-rows", "10"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let w = warnings(&run);
    assert!(
        w.iter().any(|w| w.contains(
            "column \"v\" holds \"2.5\" past the first 10 rows, which int64 does not hold; the file was read again with the column as decimal(38,1)"
        )),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.contains("column \"t\"") && w.contains("as timestamp(ns)")),
        "{w:?}"
    );
    assert_eq!(
        run.json()["copies"][0]["schema"],
        "id:int64,v:decimal(38,1),t:timestamp(ns)"
    );
    assert_eq!(run.json()["copies"][0]["rows_written"], 32);
    let (_, rows, _) = read_table(&dir.path("dest.parquet"));
    assert_eq!(rows.len(), 32);
    let stdin = std::process::Command::new(crate::support::bin())
        .current_dir(dir.path(""))
        .args([
            "copy",
            "-",
            "dest.parquet",
            "--source-format",
            "csv",
            "--infer-rows",
            "10",
            "--progress",
            "never",
        ])
        .stdin(std::fs::File::open(dir.path("w.csv")).unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&stdin.stderr);
    assert_eq!(stdin.status.code(), Some(1), "{err}");
    assert!(
        err.contains("row 31 (line 32), column \"v\": \"2.5\" is not a valid int64"),
        "{err}"
    );
    // Nor can a named pipe (the first read drained it): the same refusal,
    // not a second read of nothing.
    let fifo = dir.path("w.fifo.csv");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let feed = {
        let (fifo, text) = (fifo.clone(), text.clone());
        std::thread::spawn(move || std::fs::write(fifo, text))
    };
    // (Reopening the drained pipe waited for a writer forever.)
    let child = std::process::Command::new(crate::support::bin())
        .current_dir(dir.path(""))
        .args([
            "copy",
            fifo.to_str().unwrap(),
            "dest.parquet",
            "--infer-rows",
            "10",
            "--progress",
            "never",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = Run::from(crate::support::wait_within(child, 30));
    feed.join().unwrap().unwrap();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("row 31 (line 32), column \"v\": \"2.5\" is not a valid int64"),
        "{}",
        run.stderr
    );
    let (_, rows, _) = read_table(&dir.path("dest.parquet"));
    assert_eq!(rows.len(), 32, "the earlier copy stays");
}

/// PostgreSQL, DuckDB and Spark write NULL as an empty field and '' as `""`:
/// by default a `""` in a text column is '' (README);
/// `--quoted-empty-is-null` reads both as NULL.
#[test]
fn csv_quoted_empty_fields_are_empty_strings_unless_asked() {
    let dir = Dir::new();
    let name = "pg_empty_vs_null.csv";
    let run = copy(
        &dir,
        &fixture(name),
        "d.parquet",
        &["--quoted-empty-is-null"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (_, rows, _) = read_table(&dir.path("d.parquet"));
    assert_eq!(rows[2][1], Value::Null);
    let run = copy(&dir, &fixture(name), "e.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_output(&expected(name), &dir.path("e.parquet"), name);
    // Across batches, and not in typed columns (an empty number is NULL).
    let mut text = String::from("id,s,n\n");
    for i in 0..40_000 {
        let s = if i % 3 == 0 { "\"\"" } else { "" };
        let n = if i % 2 == 0 {
            "\"\"".to_string()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{i},{s},{n}\n"));
    }
    dir.write("many.csv", &text);
    let run = copy(&dir, "many.csv", "m.parquet", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (_, rows, _) = read_table(&dir.path("m.parquet"));
    assert_eq!(rows.len(), 40_000);
    for (i, r) in rows.iter().enumerate() {
        let want = if i % 3 == 0 {
            Value::from("")
        } else {
            Value::Null
        };
        assert_eq!(r[1], want, "row {}", i + 1);
        assert_eq!(r[2].is_null(), i % 2 == 0, "row {}", i + 1);
    }
}
