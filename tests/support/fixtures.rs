//! Files other tools wrote (`tests/data/`) and the values those tools read
//! back (`tests/data/expected/<fixture>.json`, convention in
//! `tests/data/README.md`): load them, turn what convoy wrote into the same
//! canonical values, and compare value by value, by meaning (a float at its
//! own precision, a timestamp with a zone by its instant).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, TimeUnit};
use serde_json::Value;

/// A fixture's path.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// What the writing tool reads back from a fixture.
pub struct Expected {
    pub columns: Vec<String>,
    /// pyarrow's type strings.
    pub types: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

pub fn expected(name: &str) -> Expected {
    let path = data(&format!("expected/{name}.json"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let strings = |k: &str| -> Vec<String> {
        doc[k]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no {k}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    Expected {
        columns: strings("columns"),
        types: strings("types"),
        rows: doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().clone())
            .collect(),
    }
}

// ------------------------------------------------------------ Arrow -> canonical

const UNIT_DIGITS: [(TimeUnit, i64, usize); 4] = [
    (TimeUnit::Second, 1, 0),
    (TimeUnit::Millisecond, 1_000, 3),
    (TimeUnit::Microsecond, 1_000_000, 6),
    (TimeUnit::Nanosecond, 1_000_000_000, 9),
];

fn per_unit(u: TimeUnit) -> (i64, usize) {
    let (_, per, digits) = UNIT_DIGITS.iter().find(|(x, _, _)| *x == u).unwrap();
    (*per, *digits)
}

fn ints(a: &dyn Array) -> Vec<Option<i64>> {
    let data = a.to_data();
    (0..a.len())
        .map(|i| {
            a.is_valid(i)
                .then(|| match data.data_type().primitive_width() {
                    Some(4) => data.buffers()[0].typed_data::<i32>()[data.offset() + i] as i64,
                    _ => data.buffers()[0].typed_data::<i64>()[data.offset() + i],
                })
        })
        .collect()
}

fn fmt_timestamp(v: i64, unit: TimeUnit, tz: Option<&str>) -> String {
    use chrono::{Offset, TimeZone};
    let (per, digits) = per_unit(unit);
    let (secs, frac) = (v.div_euclid(per), v.rem_euclid(per));
    let utc = chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .naive_utc();
    let frac = if digits > 0 {
        format!(".{frac:0digits$}")
    } else {
        String::new()
    };
    match tz {
        None => format!("{}{frac}", utc.format("%Y-%m-%dT%H:%M:%S")),
        Some(tz) => {
            let tz: arrow::array::timezone::Tz = tz.parse().unwrap();
            let off = tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
            let local = utc + chrono::Duration::seconds(off as i64);
            let a = off.unsigned_abs();
            let mut o = format!(
                "{}{:02}:{:02}",
                if off < 0 { '-' } else { '+' },
                a / 3600,
                a / 60 % 60
            );
            if a % 60 != 0 {
                o.push_str(&format!(":{:02}", a % 60));
            }
            format!("{}{frac}{o}", local.format("%Y-%m-%dT%H:%M:%S"))
        }
    }
}

fn float(v: f64) -> Value {
    if v.is_nan() {
        Value::from("NaN")
    } else if v.is_infinite() {
        Value::from(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// The canonical values of an array (as `canon_array` in make_fixtures.py).
pub fn canon(a: &ArrayRef) -> Vec<Value> {
    let n = a.len();
    let valid = |i: usize| a.is_valid(i);
    let each = |f: &dyn Fn(usize) -> Value| -> Vec<Value> {
        (0..n)
            .map(|i| if valid(i) { f(i) } else { Value::Null })
            .collect()
    };
    match a.data_type() {
        DataType::Dictionary(_, v) => canon(&arrow::compute::cast(a, v).unwrap()),
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => each(&|i| Value::from(a.as_boolean().value(i))),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let c = arrow::compute::cast(a, &DataType::Int64).unwrap();
            each(&|i| Value::from(c.as_primitive::<arrow::datatypes::Int64Type>().value(i)))
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let c = arrow::compute::cast(a, &DataType::UInt64).unwrap();
            each(&|i| Value::from(c.as_primitive::<arrow::datatypes::UInt64Type>().value(i)))
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let c = arrow::compute::cast(a, &DataType::Float64).unwrap();
            each(&|i| float(c.as_primitive::<arrow::datatypes::Float64Type>().value(i)))
        }
        DataType::Decimal128(_, _) => {
            let d = a.as_primitive::<arrow::datatypes::Decimal128Type>();
            each(&|i| Value::from(d.value_as_string(i)))
        }
        DataType::Decimal256(_, _) => {
            let d = a.as_primitive::<arrow::datatypes::Decimal256Type>();
            each(&|i| Value::from(d.value_as_string(i)))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let c = arrow::compute::cast(a, &DataType::Utf8).unwrap();
            each(&|i| Value::from(c.as_string::<i32>().value(i)))
        }
        DataType::Binary | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
            let c = match a.data_type() {
                DataType::FixedSizeBinary(_) => a.clone(),
                _ => arrow::compute::cast(a, &DataType::Binary).unwrap(),
            };
            each(&|i| {
                Value::from(match c.data_type() {
                    DataType::FixedSizeBinary(_) => hex::encode(c.as_fixed_size_binary().value(i)),
                    _ => hex::encode(c.as_binary::<i32>().value(i)),
                })
            })
        }
        DataType::Date32 | DataType::Date64 => {
            let per = if a.data_type() == &DataType::Date32 {
                86_400_000
            } else {
                1
            };
            ints(a.as_ref())
                .into_iter()
                .map(|v| match v {
                    None => Value::Null,
                    Some(v) => Value::from(
                        chrono::DateTime::from_timestamp_millis(v * per)
                            .unwrap()
                            .format("%Y-%m-%d")
                            .to_string(),
                    ),
                })
                .collect()
        }
        DataType::Time32(u) | DataType::Time64(u) => {
            let (per, digits) = per_unit(*u);
            ints(a.as_ref())
                .into_iter()
                .map(|v| match v {
                    None => Value::Null,
                    Some(v) => {
                        let (s, f) = (v / per, v % per);
                        let mut t = format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
                        if digits > 0 {
                            t.push_str(&format!(".{f:0digits$}"));
                        }
                        Value::from(t)
                    }
                })
                .collect()
        }
        DataType::Timestamp(u, tz) => ints(a.as_ref())
            .into_iter()
            .map(|v| match v {
                None => Value::Null,
                Some(v) => Value::from(fmt_timestamp(v, *u, tz.as_deref())),
            })
            .collect(),
        DataType::Duration(_) => ints(a.as_ref())
            .into_iter()
            .map(|v| v.map_or(Value::Null, Value::from))
            .collect(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => {
            let c = match a.data_type() {
                DataType::List(_) => a.clone(),
                DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                    arrow::compute::cast(a, &DataType::List(f.clone())).unwrap()
                }
                _ => unreachable!(),
            };
            let l = c.as_list::<i32>();
            each(&|i| Value::from(canon(&l.value(i))))
        }
        DataType::Struct(fs) => {
            let s = a.as_struct();
            let children: Vec<Vec<Value>> = s.columns().iter().map(canon).collect();
            each(&|i| {
                Value::Object(
                    fs.iter()
                        .zip(&children)
                        .map(|(f, c)| (f.name().clone(), c[i].clone()))
                        .collect(),
                )
            })
        }
        DataType::Map(_, _) => {
            let m = a.as_map();
            each(&|i| {
                let e = m.value(i);
                let keys = canon(e.column(0));
                let vals = canon(e.column(1));
                Value::from(
                    keys.into_iter()
                        .zip(vals)
                        .map(|(k, v)| Value::from(vec![k, v]))
                        .collect::<Vec<_>>(),
                )
            })
        }
        other => panic!("no canonical form for {other}"),
    }
}

/// Rows of canonical values of a whole table (UUID columns hyphenated).
pub fn rows(batch: &RecordBatch) -> Vec<Vec<Value>> {
    let cols: Vec<Vec<Value>> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            let values = canon(c);
            if f.metadata().get("ARROW:extension:name").map(String::as_str) != Some("arrow.uuid") {
                return values;
            }
            values
                .into_iter()
                .map(|v| match v.as_str() {
                    Some(h) => Value::from(format!(
                        "{}-{}-{}-{}-{}",
                        &h[..8],
                        &h[8..12],
                        &h[12..16],
                        &h[16..20],
                        &h[20..]
                    )),
                    None => v,
                })
                .collect()
        })
        .collect();
    (0..batch.num_rows())
        .map(|r| cols.iter().map(|c| c[r].clone()).collect())
        .collect()
}

/// A Parquet or Arrow IPC file convoy wrote: column names and rows.
pub fn read_table(path: &Path) -> (Vec<String>, Vec<Vec<Value>>, arrow::datatypes::SchemaRef) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (schema, batches): (_, Vec<RecordBatch>) = if bytes.starts_with(b"PAR1") {
        use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
        let bytes = bytes::Bytes::from(bytes);
        let mut b = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
        // INT96 (a byte-for-byte copy of a Spark file) at microseconds, as
        // Spark and pyarrow's coerce_int96_timestamp_unit="us" read it.
        let int96: Vec<String> = b
            .parquet_schema()
            .columns()
            .iter()
            .filter(|c| c.physical_type() == parquet::basic::Type::INT96)
            .map(|c| c.name().to_string())
            .collect();
        if !int96.is_empty() {
            let fields: Vec<Field> = b
                .schema()
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Timestamp(_, tz) if int96.contains(f.name()) => f
                        .as_ref()
                        .clone()
                        .with_data_type(DataType::Timestamp(TimeUnit::Microsecond, tz.clone())),
                    _ => f.as_ref().clone(),
                })
                .collect();
            let options = ArrowReaderOptions::new()
                .with_schema(Arc::new(arrow::datatypes::Schema::new(fields)));
            b = ParquetRecordBatchReaderBuilder::try_new_with_options(bytes, options).unwrap();
        }
        let s = b.schema().clone();
        (s, b.build().unwrap().map(|b| b.unwrap()).collect())
    } else {
        let r = arrow::ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        let s = r.schema();
        (s, r.map(|b| b.unwrap()).collect())
    };
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let names = schema.fields().iter().map(|f| f.name().clone()).collect();
    (names, rows(&all), Arc::clone(&schema))
}

/// A JSON Lines file convoy wrote: for each line, its keys in order and the
/// values by key, numbers kept as their exact text.
pub fn read_jsonl(path: &Path) -> Vec<Vec<(String, Value)>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let raw: Vec<(String, Box<serde_json::value::RawValue>)> = ordered(line);
            raw.into_iter()
                .map(|(k, v)| (k, exact_json(v.get())))
                .collect()
        })
        .collect()
}

fn ordered(text: &str) -> Vec<(String, Box<serde_json::value::RawValue>)> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<(String, Box<serde_json::value::RawValue>)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(e) = m.next_entry()? {
                out.push(e);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde::Deserializer::deserialize_map(&mut de, V).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A JSON value with every number as `{"number": "<its text>"}`, so no
/// digit is lost before comparing.
fn exact_json(text: &str) -> Value {
    let t = text.trim();
    match t.as_bytes().first() {
        Some(b'{') => Value::Object(
            ordered(t)
                .into_iter()
                .map(|(k, v)| (k, exact_json(v.get())))
                .collect(),
        ),
        Some(b'[') => {
            let items: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(t).unwrap();
            Value::from(
                items
                    .iter()
                    .map(|v| exact_json(v.get()))
                    .collect::<Vec<_>>(),
            )
        }
        Some(b'-' | b'0'..=b'9') => serde_json::json!({ "number": t }),
        _ => serde_json::from_str(t).unwrap(),
    }
}

// ------------------------------------------------------------ comparing

/// Whether `actual` means `expected`, for a column of pyarrow type `ty`.
/// Text outputs give strings for everything; JSON numbers come as
/// `{"number": text}`.
pub fn same(expected: &Value, actual: &Value, ty: &str) -> bool {
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) if o.len() == 1 && o.contains_key("number") => {
                o["number"].as_str().map(str::to_string)
            }
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    if expected.is_null() || actual.is_null() {
        return expected.is_null() && actual.is_null();
    }
    let ty = ty
        .strip_prefix("dictionary<values=")
        .map_or(ty, |t| t.split(',').next().unwrap());
    if ty.starts_with("list") || ty.starts_with("struct") || ty.starts_with("map") {
        return same_nested(expected, actual);
    }
    let (Some(e), Some(a)) = (text(expected), text(actual)) else {
        return false;
    };
    let num = |s: &str| -> Option<f64> {
        match s {
            "NaN" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            _ => s.parse().ok(),
        }
    };
    let f_eq = |x: f64, y: f64| (x.is_nan() && y.is_nan()) || x == y;
    if ty == "halffloat" {
        return match (num(&e), num(&a)) {
            (Some(x), Some(y)) => f_eq(
                half::f16::from_f64(x).to_f64(),
                half::f16::from_f64(y).to_f64(),
            ),
            _ => false,
        };
    }
    if ty == "float" {
        return match (num(&e), num(&a)) {
            (Some(x), Some(y)) => f_eq(x as f32 as f64, y as f32 as f64),
            _ => false,
        };
    }
    if ty == "double" {
        return match (num(&e), num(&a)) {
            (Some(x), Some(y)) => f_eq(x, y),
            _ => false,
        };
    }
    if ty.starts_with("int") || ty.starts_with("uint") || ty.starts_with("decimal") {
        return e == a;
    }
    if ty.starts_with("timestamp") {
        return instant(&e).is_some() && instant(&e) == instant(&a);
    }
    if ty.starts_with("time") {
        return clock(&e).is_some() && clock(&e) == clock(&a);
    }
    if ty.starts_with("date") {
        return a == e || a.strip_prefix(&e).is_some_and(|r| r == "T00:00:00");
    }
    if ty.starts_with("duration") {
        let unit = &ty["duration[".len()..ty.len() - 1];
        return e == a || iso_duration(&a, unit).is_some_and(|v| v.to_string() == e);
    }
    e == a
}

fn same_nested(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Null, Value::Null) => true,
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| same_nested(x, y))
        }
        // A map written as a JSON object.
        (Value::Array(pairs), Value::Object(o))
            if pairs
                .iter()
                .all(|p| p.as_array().is_some_and(|p| p.len() == 2)) =>
        {
            pairs.len() == o.len()
                && pairs.iter().all(|p| {
                    let k = p[0].as_str().unwrap_or_default();
                    o.get(k).is_some_and(|v| same_nested(&p[1], v))
                })
        }
        (Value::Object(e), Value::Object(a)) if !a.contains_key("number") => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|x| same_nested(v, x)))
        }
        (e, Value::Object(o)) if o.contains_key("number") => {
            let t = o["number"].as_str().unwrap();
            match e {
                Value::Number(n) => n.to_string() == t || n.as_f64() == t.parse().ok(),
                Value::String(s) => s == t,
                _ => false,
            }
        }
        (e, a) => e == a,
    }
}

/// Nanoseconds since 1970 of an RFC 3339 timestamp (offset `±HH:MM[:SS]`
/// or `Z`; none means UTC wall clock).
pub fn instant(s: &str) -> Option<i128> {
    let (date, rest) = s.split_at_checked(10)?;
    let rest = rest.strip_prefix(['T', ' '])?;
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let days = (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i128;
    let (clock_text, offset) = match rest.find(['+', '-', 'Z']) {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let ns = clock(clock_text)? as i128;
    let off = match offset {
        None | Some("Z") => 0i128,
        Some(o) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let parts: Vec<i128> = o[1..].split(':').map(|p| p.parse().unwrap()).collect();
            let secs =
                parts[0] * 3600 + parts.get(1).unwrap_or(&0) * 60 + parts.get(2).unwrap_or(&0);
            sign * secs * 1_000_000_000
        }
    };
    Some(days * 86_400_000_000_000 + ns - off)
}

/// Nanoseconds since midnight of `HH:MM:SS[.fraction]`.
fn clock(s: &str) -> Option<i64> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let p: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = p[..] else { return None };
    let f: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}")[..9].parse().ok()?
    };
    Some(((h * 60 + m) * 60 + sec) * 1_000_000_000 + f)
}

/// An ISO 8601 `[-]PT<seconds>[.fraction]S` duration in `unit`.
fn iso_duration(s: &str, unit: &str) -> Option<i128> {
    let (neg, rest) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let secs = rest.strip_prefix("PT")?.strip_suffix('S')?;
    let (int, frac) = secs.split_once('.').unwrap_or((secs, ""));
    let digits = match unit {
        "s" => 0,
        "ms" => 3,
        "us" => 6,
        _ => 9,
    };
    let v: i128 = format!("{int}{frac:0<digits$}").parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Compare a table convoy wrote with what the writing tool read back.
pub fn assert_rows(exp: &Expected, columns: &[String], rows: &[Vec<Value>], what: &str) {
    assert_eq!(columns, exp.columns, "{what}: column names");
    assert_eq!(rows.len(), exp.rows.len(), "{what}: rows");
    for (r, (er, ar)) in exp.rows.iter().zip(rows).enumerate() {
        for (c, (e, a)) in er.iter().zip(ar).enumerate() {
            assert!(
                same(e, a, &exp.types[c]),
                "{what}: row {} column {:?} ({}): expected {e}, got {a}",
                r + 1,
                exp.columns[c],
                exp.types[c]
            );
        }
    }
}

/// A CSV file convoy wrote: header and rows, an empty field as NULL.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<Value>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut records = csv_records(&text).into_iter();
    let header = records
        .next()
        .unwrap_or_default()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let rows = records
        .map(|rec| {
            rec.into_iter()
                .map(|f| f.map_or(Value::Null, Value::from))
                .collect()
        })
        .collect();
    (header, rows)
}

/// Comma-separated records as PostgreSQL reads them: an unquoted empty
/// field is NULL (`None`), a quoted one (`""`) an empty string, and a
/// blank line one NULL field. Quotes inside quoted fields are doubled.
pub fn csv_records(text: &str) -> Vec<Vec<Option<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes, mut started) = (false, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                (quoted, in_quotes, started) = (true, true, true);
            }
            ',' => {
                record.push((quoted || !field.is_empty()).then(|| std::mem::take(&mut field)));
                quoted = false;
                started = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push((quoted || !field.is_empty()).then(|| std::mem::take(&mut field)));
                records.push(std::mem::take(&mut record));
                (quoted, started) = (false, false);
            }
            c => {
                field.push(c);
                started = true;
            }
        }
    }
    if started || !field.is_empty() || !record.is_empty() {
        record.push((quoted || !field.is_empty()).then_some(field));
        records.push(record);
    }
    records
}

/// JSON Lines rows by the expected columns (a key absent from a line is a
/// loss: convoy writes NULLs explicitly).
pub fn jsonl_rows(path: &Path, exp: &Expected) -> (Vec<String>, Vec<Vec<Value>>) {
    let lines = read_jsonl(path);
    let columns: Vec<String> = lines
        .first()
        .map(|l| l.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_else(|| exp.columns.clone());
    let rows = lines
        .iter()
        .map(|l| {
            let keys: Vec<&String> = l.iter().map(|(k, _)| k).collect();
            assert_eq!(
                keys,
                columns.iter().collect::<Vec<_>>(),
                "every line has every key, in order"
            );
            l.iter().map(|(_, v)| v.clone()).collect()
        })
        .collect();
    (columns, rows)
}
