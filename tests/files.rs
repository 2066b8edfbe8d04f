//! Local files: every format pair, globs, split output, bad input, interruption.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Decimal256Array,
    FixedSizeBinaryArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, TimestampNanosecondArray,
};
use arrow::datatypes::{i256, DataType, Field, Schema, TimeUnit};

use crate::support::{parquet_table, write_parquet, Dir};

const UUID_META: (&str, &str) = ("ARROW:extension:name", "arrow.uuid");

/// A table with every type text formats must carry exactly, with nulls,
/// Unicode, quoting hazards and extreme values.
pub fn sample_table() -> RecordBatch {
    let uuid_field = Field::new("uid", DataType::FixedSizeBinary(16), true).with_metadata(
        [(UUID_META.0.to_string(), UUID_META.1.to_string())]
            .into_iter()
            .collect::<std::collections::HashMap<String, String>>(),
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("qty", DataType::Int32, true),
        Field::new("amount", DataType::Decimal128(18, 4), true),
        Field::new("big", DataType::Decimal256(50, 10), true),
        Field::new("ratio", DataType::Float64, true),
        Field::new("note", DataType::Utf8, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new(
            "local",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        ),
        Field::new("day", DataType::Date32, true),
        Field::new("ok", DataType::Boolean, true),
        uuid_field,
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![
            Some(1),
            Some(i64::MAX),
            Some(i64::MIN),
            None,
        ])),
        Arc::new(Int32Array::from(vec![Some(-7), None, Some(0), Some(42)])),
        Arc::new(
            Decimal128Array::from(vec![
                Some(1_299_000),
                Some(-1),
                Some(999_999_999_999_999_999),
                None,
            ])
            .with_precision_and_scale(18, 4)
            .unwrap(),
        ),
        Arc::new(
            Decimal256Array::from(vec![
                Some(
                    i256::from_string("12345678901234567890123456789012345678901234567890")
                        .unwrap(),
                ),
                Some(i256::from_i128(-5)),
                None,
                Some(i256::ZERO),
            ])
            .with_precision_and_scale(50, 10)
            .unwrap(),
        ),
        Arc::new(Float64Array::from(vec![
            Some(0.1),
            Some(-1.5e-300),
            Some(123456789.125),
            None,
        ])),
        Arc::new(StringArray::from(vec![
            Some("plain"),
            Some("Jürgen, \"Groß\"\nline two"),
            Some("佐藤 花子 🚚"),
            None,
        ])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![
                Some(1_709_287_200_123_456),
                Some(0),
                Some(-1),
                None,
            ])
            .with_timezone("UTC"),
        ),
        Arc::new(TimestampNanosecondArray::from(vec![
            Some(1_709_287_200_123_456_789),
            None,
            Some(-86_400_000_000_000),
            Some(1),
        ])),
        Arc::new(Date32Array::from(vec![
            Some(19_782),
            Some(-719_162),
            None,
            Some(0),
        ])),
        Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
        ])),
        Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                vec![
                    Some(vec![
                        0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0, 0xc0, 0x4f,
                        0xc9, 0x64, 0xff,
                    ]),
                    None,
                    Some(vec![0u8; 16]),
                    Some(vec![0xffu8; 16]),
                ]
                .into_iter(),
                16,
            )
            .unwrap(),
        ),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

pub const SAMPLE_SCHEMA: &str = "id:int64,qty:int32,amount:decimal(18,4),big:decimal(50,10),\
ratio:float64,note:string,at:timestamp(us, UTC),local:timestamp(ns),day:date,ok:bool,uid:uuid";

/// Compare values and declared types (field metadata aside from extension names).
pub fn assert_same(expected: &RecordBatch, got: &RecordBatch, what: &str) {
    assert_eq!(expected.num_rows(), got.num_rows(), "{what}: row count");
    for (i, (e, g)) in expected
        .schema()
        .fields()
        .iter()
        .zip(got.schema().fields())
        .enumerate()
    {
        assert_eq!(e.name(), g.name(), "{what}: column {i} name");
        assert_eq!(
            e.data_type(),
            g.data_type(),
            "{what}: column {} type",
            e.name()
        );
        assert_eq!(
            e.metadata().get(UUID_META.0),
            g.metadata().get(UUID_META.0),
            "{what}: column {} extension",
            e.name()
        );
        assert_eq!(
            expected.column(i).as_ref(),
            got.column(i).as_ref(),
            "{what}: column {} values",
            e.name()
        );
    }
}

#[test]
fn every_format_pair_round_trips_values_and_types() {
    let dir = Dir::new();
    let table = sample_table();
    write_parquet(&dir.path("orig.parquet"), &table);
    let formats = [
        ("csv", true),
        ("jsonl", true),
        ("arrow", false),
        ("parquet", false),
    ];
    for (a, a_text) in formats {
        dir.run(&["copy", "orig.parquet", &format!("a.{a}"), "-q"])
            .ok();
        for (b, _) in formats {
            let mut args = vec![
                "copy".to_string(),
                format!("a.{a}"),
                format!("b.{b}"),
                "-q".into(),
            ];
            if a_text {
                args.extend(["--schema".into(), SAMPLE_SCHEMA.into()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            dir.run(&args).ok();
            let b_file = format!("b.{b}");
            let mut back = vec!["copy", &b_file, "back.parquet", "-q"];
            if b == "csv" || b == "jsonl" {
                back.extend(["--schema", SAMPLE_SCHEMA]);
            }
            dir.run(&back).ok();
            assert_same(
                &table,
                &parquet_table(&dir.path("back.parquet")),
                &format!("{a} -> {b}"),
            );
        }
    }
}

#[test]
fn csv_inference_keeps_decimals_zones_and_unicode_exact() {
    let dir = Dir::new();
    dir.write(
        "orders.csv",
        "id,amount,at,local,day,ok,zip,name\n\
         1,129.9000,2026-03-01T09:15:00Z,2026-03-01 09:15:00.5,2026-03-01,true,01234,Zoë\n\
         2,-0.5,2026-03-01T10:02:13.25+01:00,2026-03-02 00:00:00,2026-03-02,false,98000,\"佐藤, 花子\"\n\
         3,,,,,,,\n",
    );
    let run = dir.run(&["copy", "orders.csv", "orders.parquet", "--json"]);
    run.ok();
    let t = parquet_table(&dir.path("orders.parquet"));
    let s = t.schema();
    assert_eq!(s.field(0).data_type(), &DataType::Int64);
    assert_eq!(s.field(1).data_type(), &DataType::Decimal128(18, 4));
    assert_eq!(
        s.field(2).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(
        s.field(3).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert_eq!(s.field(4).data_type(), &DataType::Date32);
    assert_eq!(s.field(5).data_type(), &DataType::Boolean);
    assert_eq!(
        s.field(6).data_type(),
        &DataType::Utf8,
        "leading zeros stay text"
    );
    let amount = t
        .column(1)
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!(amount.value(0), 1_299_000);
    assert_eq!(amount.value(1), -5_000);
    assert!(amount.is_null(2));
    let at = t
        .column(2)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(at.value(1), 1_772_355_733_250_000); // 09:02:13.25Z
    let zip = t.column(6).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(zip.value(0), "01234");
    let name = t.column(7).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(name.value(1), "佐藤, 花子");
    let json = run.json();
    let copy = &json["copies"][0];
    assert_eq!(json["status"], "succeeded");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(copy["rows_read"], 3);
    assert_eq!(copy["rows_written"], 3);
    assert_eq!(copy["status"], "succeeded");
    assert!(copy["bytes_written"].as_u64().unwrap() > 0);
    assert!(copy["duration_s"].is_number());
    assert_eq!(copy["warnings"], serde_json::json!([]));
    assert!(copy["source"].as_str().unwrap().contains("orders.csv"));
    assert!(copy["sink"].as_str().unwrap().contains("orders.parquet"));
    let sha = copy["outputs"][0]["sha256"].as_str().unwrap();
    let bytes = std::fs::read(dir.path("orders.parquet")).unwrap();
    use sha2::Digest;
    assert_eq!(sha, hex::encode(sha2::Sha256::digest(&bytes)));
}

#[test]
fn glob_and_directory_sources_read_every_file_as_one_table() {
    let dir = Dir::new();
    for (name, rows) in [("a", 1..4), ("b", 4..6), ("c", 6..10)] {
        let mut text = String::from("id,name\n");
        for i in rows {
            text.push_str(&format!("{i},n{i}\n"));
        }
        dir.write(&format!("in/{name}.csv"), text);
    }
    dir.write("in/notes.txt", "not data");
    dir.run(&["copy", "in/*.csv", "glob.parquet", "-q"]).ok();
    dir.run(&["copy", "in", "dir.parquet", "-q"]).ok();
    for out in ["glob.parquet", "dir.parquet"] {
        let t = parquet_table(&dir.path(out));
        let ids = t.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(
            ids.values().to_vec(),
            (1..10).collect::<Vec<i64>>(),
            "{out}"
        );
    }
    // A file whose columns differ is refused with both names.
    dir.write("in/d.csv", "id,label\n10,x\n");
    let run = dir.run(&["copy", "in/*.csv", "bad.parquet"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("d.csv") && run.stderr.contains("\"label\""),
        "{}",
        run.stderr
    );
    assert!(!dir.path("bad.parquet").exists());
}

#[test]
fn split_output_writes_parts_and_a_manifest_and_replaces_a_previous_run() {
    let dir = Dir::new();
    let mut text = String::from("id\n");
    for i in 0..10 {
        text.push_str(&format!("{i}\n"));
    }
    dir.write("ten.csv", &text);
    dir.run(&[
        "copy",
        "ten.csv",
        "out/",
        "--format",
        "csv",
        "--max-rows-per-file",
        "4",
        "-q",
    ])
    .ok();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path("out/_convoy_manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["rows"], 10);
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    let mut rows = Vec::new();
    for f in files {
        let name = f["name"].as_str().unwrap();
        let bytes = std::fs::read(dir.path(&format!("out/{name}"))).unwrap();
        use sha2::Digest;
        assert_eq!(f["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
        assert_eq!(f["bytes"], bytes.len());
        rows.push(f["rows"].as_u64().unwrap());
    }
    assert_eq!(rows, vec![4, 4, 2]);
    // A second, smaller run replaces the whole directory: no stale part stays.
    dir.write("two.csv", "id\n1\n2\n");
    dir.run(&[
        "copy",
        "two.csv",
        "out/",
        "--format",
        "csv",
        "--max-rows-per-file",
        "4",
        "-q",
    ])
    .ok();
    let mut names: Vec<String> = std::fs::read_dir(dir.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["_convoy_manifest.json", "part-00000.csv"]);
    // A directory convoy did not write is never replaced.
    dir.write("mine/keep.txt", "precious");
    let run = dir.run(&[
        "copy",
        "two.csv",
        "mine/",
        "--format",
        "csv",
        "--max-rows-per-file",
        "4",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("was not written by convoy"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("mine/keep.txt")).unwrap(),
        "precious"
    );
    assert!(
        !dir.listing().iter().any(|p| p.contains(".convoy-")),
        "{:?}",
        dir.listing()
    );
}

/// Each bad input fails with exit 1, names file/row/column and gives a hint,
/// and leaves an existing destination byte-identical with no temporary left.
#[test]
fn bad_input_fails_clearly_and_leaves_the_destination_as_it_was() {
    let dir = Dir::new();
    dir.write("out.parquet", b"previous contents");
    let mut good = String::from("id,amount\n");
    for i in 0..50_000 {
        good.push_str(&format!("{i},{i}.25\n"));
    }
    // (file, content, extra arguments, expected fragments of stderr)
    type Case<'a> = (&'a str, Vec<u8>, Vec<&'a str>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "ragged.csv",
            format!("{good}7\n").into_bytes(),
            vec![],
            vec![
                "ragged.csv",
                "row 50001 (line 50002)",
                "expected 2 fields, found 1",
                "hint:",
            ],
        ),
        (
            "latin1.csv",
            b"id,name\n1,ok\n2,caf\xe9\n".to_vec(),
            vec![],
            vec!["latin1.csv", "row 2 (line 3)", "not valid UTF-8", "iconv"],
        ),
        (
            "late_latin1.csv",
            [good.as_bytes(), b"9,caf\xe9\n"].concat(),
            vec![],
            vec!["late_latin1.csv", "row 50001", "not valid UTF-8", "iconv"],
        ),
        (
            "toolong.csv",
            b"id,amount\n1,1.5\n2,1.23456\n".to_vec(),
            vec!["--schema", "id:int64,amount:decimal(18,4)"],
            vec![
                "toolong.csv",
                "row 2 (line 3)",
                "column \"amount\"",
                "\"1.23456\"",
                "decimal(18,4)",
                "more than 4 digits after",
            ],
        ),
        (
            "overflow.csv",
            b"id,amount\n1,99999999999999999999\n".to_vec(),
            vec!["--schema", "id:int64,amount:decimal(18,4)"],
            vec![
                "overflow.csv",
                "row 1",
                "column \"amount\"",
                "more than 14 digits before",
            ],
        ),
        (
            "notint.csv",
            b"id,amount\nx1,1\n".to_vec(),
            vec!["--schema", "id:int32,amount:int64"],
            vec![
                "notint.csv",
                "row 1 (line 2)",
                "column \"id\"",
                "\"x1\" is not a valid int32",
            ],
        ),
        // A value past the sample that does not fit its inferred type is no
        // longer bad input: the file is read again with a wider type (see
        // formats::csv_inferred_columns_are_widened_when_a_later_value_does_not_fit).
        (
            "garbage.parquet",
            b"PAR1 this is not parquet".to_vec(),
            vec![],
            vec!["garbage.parquet", "is not a readable Parquet file", "hint:"],
        ),
    ];
    let before = dir.listing();
    for (name, content, extra, expect) in cases {
        dir.write(name, &content);
        let mut args = vec!["copy", name, "out.parquet"];
        args.extend(extra);
        let run = dir.run(&args);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        for e in expect {
            assert!(
                run.stderr.contains(e),
                "{name}: {e:?} missing from:\n{}",
                run.stderr
            );
        }
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert_eq!(
            std::fs::read(dir.path("out.parquet")).unwrap(),
            b"previous contents",
            "{name}"
        );
        std::fs::remove_file(dir.path(name)).unwrap();
        assert_eq!(dir.listing(), before, "{name} left something behind");
    }
}

#[test]
fn a_new_destination_directory_is_removed_again_when_the_copy_fails() {
    let dir = Dir::new();
    dir.write("bad.csv", "a,b\n1\n");
    let run = dir.run(&["copy", "bad.csv", "new/deeper/out.parquet"]);
    assert_eq!(run.code, 1);
    assert!(!dir.path("new").exists(), "{:?}", dir.listing());
}

#[test]
fn standard_input_is_a_source() {
    let dir = Dir::new();
    let mut child = dir
        .cmd(&["copy", "-", "out.jsonl", "--source-format", "csv", "-q"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"id,name\n1,a\n2,b\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(dir.path("out.jsonl")).unwrap(),
        "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n"
    );
}

/// Ctrl-C in the middle of a copy: exit 130, destination untouched, no
/// temporary file. The source is a pipe that stays open, so the copy is
/// certainly in progress when the signal arrives.
#[test]
fn interrupt_leaves_an_existing_destination_byte_identical() {
    let dir = Dir::new();
    dir.write("out.csv", b"old,contents\n1,2\n");
    let fifo = dir.path("in.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let child = dir
            .cmd(&[
                "copy",
                "in.csv",
                "out.csv",
                "--schema",
                "id:int64,name:string",
                "-q",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        use std::io::Write;
        let mut chunk = String::from("id,name\n");
        for i in 0..100_000 {
            chunk.push_str(&format!("{i},name{i}\n"));
        }
        writer.write_all(chunk.as_bytes()).unwrap();
        // Wait until the copy has written part of its temporary file.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !dir.listing().iter().any(|p| p.contains(".convoy-")) {
            assert!(
                std::time::Instant::now() < deadline,
                "no temporary file appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        unsafe { libc::kill(child.id() as i32, signal) };
        let out = crate::support::wait_within(child, 20);
        drop(writer);
        assert_eq!(
            out.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
        assert_eq!(
            std::fs::read(dir.path("out.csv")).unwrap(),
            b"old,contents\n1,2\n"
        );
        assert!(
            !dir.listing().iter().any(|p| p.contains(".convoy-")),
            "{:?}",
            dir.listing()
        );
    }
}

#[test]
fn output_is_deterministic_and_parquet_settings_apply() {
    let dir = Dir::new();
    let mut text = String::from("id,v\n");
    for i in 0..1000 {
        text.push_str(&format!("{i},{}\n", i * 3));
    }
    dir.write("in.csv", text);
    dir.run(&[
        "copy",
        "in.csv",
        "a.parquet",
        "--row-group-size",
        "100",
        "--compression",
        "snappy",
        "-q",
    ])
    .ok();
    let f = std::fs::File::open(dir.path("a.parquet")).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(f).unwrap();
    use parquet::file::reader::FileReader;
    let meta = reader.metadata();
    assert_eq!(meta.num_row_groups(), 10);
    assert_eq!(
        meta.row_group(0).column(0).compression(),
        parquet::basic::Compression::SNAPPY
    );
    // Columns encoded in parallel still line up row by row.
    let t = parquet_table(&dir.path("a.parquet"));
    let ids = t.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let vs = t.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(ids.values().to_vec(), (0..1000).collect::<Vec<i64>>());
    assert!(ids
        .values()
        .iter()
        .zip(vs.values())
        .all(|(i, v)| *v == i * 3));
    dir.run(&["copy", "in.csv", "b.csv", "-q"]).ok();
    dir.run(&["copy", "in.csv", "c.csv", "-q"]).ok();
    assert_eq!(
        std::fs::read(dir.path("b.csv")).unwrap(),
        std::fs::read(dir.path("in.csv")).unwrap()
    );
    assert_eq!(
        std::fs::read(dir.path("b.csv")).unwrap(),
        std::fs::read(dir.path("c.csv")).unwrap()
    );
}

#[test]
fn csv_dialect_options_apply_to_reading_and_writing() {
    let dir = Dir::new();
    dir.write("in.tsv", "1\tx;y\t\\N\n2\t\t7\n");
    dir.run(&[
        "copy",
        "in.tsv",
        "out.csv",
        "--source-format",
        "csv",
        "--no-header",
        "--delimiter",
        "tab",
        "--null",
        "\\N",
        "--schema",
        "id:int64,s:string,n:int64",
        "-q",
    ])
    .ok();
    // Written with the same dialect: tab-separated, \N for NULL, no header.
    assert_eq!(
        std::fs::read_to_string(dir.path("out.csv")).unwrap(),
        "1\tx;y\t\\N\n2\t\t7\n"
    );
}

/// Ctrl-C while the source has not even sent its header yet still ends the
/// run promptly with 130 (opening a source is interruptible).
#[test]
fn interrupt_while_opening_a_silent_pipe() {
    let dir = Dir::new();
    let fifo = dir.path("in.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let child = dir
        .cmd(&["copy", "in.csv", "out.parquet", "-q"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = crate::support::wait_within(child, 5);
    drop(writer);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path("out.parquet").exists());
}
