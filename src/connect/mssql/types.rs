//! SQL Server types ↔ Arrow types, and values both ways. The table in
//! README ("SQL Server type mapping") is this module in prose.
//!
//! | SQL Server | Arrow (read) | created for Arrow (write) |
//! | --- | --- | --- |
//! | bit | Boolean | Boolean → bit |
//! | tinyint (0..255) | UInt8 | UInt8 → tinyint, Int8 → smallint |
//! | smallint / int / bigint | Int16 / Int32 / Int64 | same; UInt16 → int, UInt32 → bigint, UInt64 → decimal(20,0) |
//! | decimal/numeric(p,s) | Decimal128(p,s) | Decimal128(p,s) → decimal(p,s), p ≤ 38 |
//! | money / smallmoney | Decimal128(19,4) / Decimal128(10,4) | (→ decimal(19,4) / (10,4)) |
//! | real / float | Float32 / Float64 | Float32 → real, Float64 → float |
//! | char, varchar, nchar, nvarchar (n or max), text, ntext, xml | Utf8 | Utf8 → nvarchar(max) |
//! | binary, varbinary (n or max), image | Binary | Binary → varbinary(max), FixedSizeBinary(n) → binary(n) |
//! | uniqueidentifier | FixedSizeBinary(16) `arrow.uuid`, RFC 4122 byte order | uuid → uniqueidentifier |
//! | date | Date32 | Date32 → date |
//! | time(n) | Time64(µs) for n ≤ 6, Time64(ns) for n = 7 | Time64(µs) → time(6), Time64(ns) → time(7) |
//! | datetime | Timestamp(ms) | (→ datetime2(3)) |
//! | smalldatetime | Timestamp(s) | (→ datetime2(0)) |
//! | datetime2(n) | Timestamp(µs) for n ≤ 6, Timestamp(ns) for n = 7 | Timestamp(unit) → datetime2(0/3/6/7) |
//! | datetimeoffset(n) | Timestamp(µs or ns, "UTC"): the instant; the offset is not kept | Timestamp(unit, zone) → datetimeoffset(n) at +00:00 |
//!
//! Values are exact or refused: a decimal with more digits than its column,
//! a timestamp finer than its column (`datetime2(3)` and a value with
//! microseconds), an integer out of range, a datetime that is not a multiple
//! of 1/300 s: each is an error naming the row and column, never a rounding.
//!
//! GUIDs: SQL Server stores the first three groups of a uniqueidentifier
//! little-endian on disk and on the wire. tiberius reorders those bytes both
//! ways, so a `Uuid` here is in RFC 4122 order — the order of the text SQL
//! Server prints — and convoy's 16 bytes are `Uuid::as_bytes()`.

use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    FixedSizeBinaryBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, PrimitiveArray, StringBuilder, Time64MicrosecondBuilder, Time64NanosecondBuilder,
    UInt8Builder,
};
use arrow::datatypes::{
    DataType, Field, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use tiberius::numeric::Numeric;
use tiberius::time::{Date, DateTime, DateTime2, DateTimeOffset, SmallDateTime, Time};
use tiberius::xml::XmlData;
use tiberius::{ColumnData, Uuid};

/// Days from 0001-01-01 (the `date`/`datetime2` epoch) to 1970-01-01.
pub const DAYS_0001_TO_1970: i64 = 719_162;
/// Days from 1900-01-01 (the `datetime`/`smalldatetime` epoch) to 1970-01-01.
pub const DAYS_1900_TO_1970: i64 = 25_567;
/// Last day SQL Server's `date` can hold (9999-12-31), counted from 0001-01-01.
const MAX_DAYS_0001: i64 = 3_652_058;
const NS_PER_DAY: i128 = 86_400_000_000_000;

/// A SQL Server type as `sys.dm_exec_describe_first_result_set` names it:
/// `decimal(18,4)`, `nvarchar(max)`, `datetime2(7)`, `int`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlType {
    /// Lower-case base name.
    pub name: String,
    /// Arguments as written (`18`, `4`, `max`).
    pub args: Vec<String>,
}

impl SqlType {
    pub fn parse(text: &str) -> SqlType {
        let t = text.trim();
        match t.find('(') {
            Some(open) if t.ends_with(')') => SqlType {
                name: t[..open].trim().to_ascii_lowercase(),
                args: t[open + 1..t.len() - 1]
                    .split(',')
                    .map(|a| a.trim().to_ascii_lowercase())
                    .collect(),
            },
            _ => SqlType {
                name: t.to_ascii_lowercase(),
                args: Vec::new(),
            },
        }
    }

    fn new(name: &str, args: &[&str]) -> SqlType {
        SqlType {
            name: name.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn arg(&self, i: usize) -> Option<u32> {
        self.args.get(i).and_then(|a| a.parse().ok())
    }

    /// Precision and scale of decimal/numeric/money.
    pub fn decimal(&self) -> Option<(u8, u8)> {
        match self.name.as_str() {
            "decimal" | "numeric" => Some((
                self.arg(0).unwrap_or(18) as u8,
                self.arg(1).unwrap_or(0) as u8,
            )),
            "money" => Some((19, 4)),
            "smallmoney" => Some((10, 4)),
            _ => None,
        }
    }

    /// Fractional-second digits of time/datetime2/datetimeoffset (default 7).
    pub fn fraction(&self) -> u8 {
        self.arg(0).map_or(7, |n| n.min(7) as u8)
    }
}

impl std::fmt::Display for SqlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.args.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}({})", self.name, self.args.join(","))
        }
    }
}

fn sub_second_unit(digits: u8) -> TimeUnit {
    if digits <= 6 {
        TimeUnit::Microsecond
    } else {
        TimeUnit::Nanosecond
    }
}

/// The Arrow field a result column becomes.
pub fn arrow_field(name: &str, t: &SqlType, nullable: bool) -> Result<Field> {
    let dt = match t.name.as_str() {
        "bit" => DataType::Boolean,
        "tinyint" => DataType::UInt8,
        "smallint" => DataType::Int16,
        "int" => DataType::Int32,
        "bigint" => DataType::Int64,
        "decimal" | "numeric" | "money" | "smallmoney" => {
            let (p, s) = t.decimal().expect("decimal type");
            DataType::Decimal128(p, s as i8)
        }
        "real" => DataType::Float32,
        "float" => match t.arg(0) {
            Some(n) if n <= 24 => DataType::Float32,
            _ => DataType::Float64,
        },
        "char" | "varchar" | "nchar" | "nvarchar" | "text" | "ntext" | "xml" | "sysname" => {
            DataType::Utf8
        }
        "binary" | "varbinary" | "image" | "timestamp" | "rowversion" => DataType::Binary,
        "uniqueidentifier" => return Ok(crate::schema::uuid_field(name, nullable)),
        "date" => DataType::Date32,
        "time" => DataType::Time64(sub_second_unit(t.fraction())),
        "datetime" => DataType::Timestamp(TimeUnit::Millisecond, None),
        "smalldatetime" => DataType::Timestamp(TimeUnit::Second, None),
        "datetime2" => DataType::Timestamp(sub_second_unit(t.fraction()), None),
        "datetimeoffset" => DataType::Timestamp(sub_second_unit(t.fraction()), Some("UTC".into())),
        other => bail!(
            "column {name:?} has type {other}, which convoy does not read; convert it in a query (e.g. CAST({name} AS nvarchar(max)))"
        ),
    };
    Ok(Field::new(name, dt, nullable))
}

/// The SQL Server type a new table gets for an Arrow field.
pub fn sql_type_for(field: &Field) -> Result<SqlType> {
    if crate::schema::is_uuid(field) {
        return Ok(SqlType::new("uniqueidentifier", &[]));
    }
    let time_digits = |u: &TimeUnit| match u {
        TimeUnit::Second => "0",
        TimeUnit::Millisecond => "3",
        TimeUnit::Microsecond => "6",
        TimeUnit::Nanosecond => "7",
    };
    Ok(match field.data_type() {
        DataType::Boolean => SqlType::new("bit", &[]),
        DataType::Int8 | DataType::Int16 => SqlType::new("smallint", &[]),
        DataType::UInt8 => SqlType::new("tinyint", &[]),
        DataType::Int32 | DataType::UInt16 => SqlType::new("int", &[]),
        DataType::Int64 | DataType::UInt32 => SqlType::new("bigint", &[]),
        DataType::UInt64 => SqlType::new("decimal", &["20", "0"]),
        DataType::Float16 | DataType::Float32 => SqlType::new("real", &[]),
        DataType::Float64 => SqlType::new("float", &[]),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            if *p > 38 {
                bail!(
                    "column {:?} is decimal({p},{s}); SQL Server decimals hold at most 38 digits",
                    field.name()
                );
            }
            if *s < 0 {
                bail!(
                    "column {:?} has a negative decimal scale ({s}), which SQL Server has no type for",
                    field.name()
                );
            }
            SqlType {
                name: "decimal".into(),
                args: vec![p.to_string(), s.to_string()],
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            SqlType::new("nvarchar", &["max"])
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            SqlType::new("varbinary", &["max"])
        }
        DataType::FixedSizeBinary(n) if *n <= 8000 => SqlType {
            name: "binary".into(),
            args: vec![n.to_string()],
        },
        DataType::Date32 | DataType::Date64 => SqlType::new("date", &[]),
        DataType::Time32(u) | DataType::Time64(u) => SqlType::new("time", &[time_digits(u)]),
        DataType::Timestamp(u, None) => SqlType::new("datetime2", &[time_digits(u)]),
        DataType::Timestamp(u, Some(_)) => SqlType::new("datetimeoffset", &[time_digits(u)]),
        other => bail!(
            "column {:?} has Arrow type {other}, which has no SQL Server column type in convoy",
            field.name()
        ),
    })
}

// ---------------------------------------------------------------------------
// Reading: ColumnData → Arrow arrays.

/// Accumulates one column of a batch.
pub enum ColumnReader {
    Bool(BooleanBuilder),
    U8(UInt8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder, u8, i8),
    Str(StringBuilder),
    Bin(BinaryBuilder),
    Uuid(FixedSizeBinaryBuilder),
    Date(Date32Builder),
    TimeUs(Time64MicrosecondBuilder),
    TimeNs(Time64NanosecondBuilder),
    Ts(Vec<Option<i64>>, TimeUnit, Option<Arc<str>>),
}

impl ColumnReader {
    pub fn new(field: &Field) -> Result<ColumnReader> {
        if crate::schema::is_uuid(field) {
            return Ok(ColumnReader::Uuid(FixedSizeBinaryBuilder::new(16)));
        }
        Ok(match field.data_type() {
            DataType::Boolean => ColumnReader::Bool(BooleanBuilder::new()),
            DataType::UInt8 => ColumnReader::U8(UInt8Builder::new()),
            DataType::Int16 => ColumnReader::I16(Int16Builder::new()),
            DataType::Int32 => ColumnReader::I32(Int32Builder::new()),
            DataType::Int64 => ColumnReader::I64(Int64Builder::new()),
            DataType::Float32 => ColumnReader::F32(Float32Builder::new()),
            DataType::Float64 => ColumnReader::F64(Float64Builder::new()),
            DataType::Decimal128(p, s) => ColumnReader::Dec(Decimal128Builder::new(), *p, *s),
            DataType::Utf8 => ColumnReader::Str(StringBuilder::new()),
            DataType::Binary => ColumnReader::Bin(BinaryBuilder::new()),
            DataType::Date32 => ColumnReader::Date(Date32Builder::new()),
            DataType::Time64(TimeUnit::Microsecond) => {
                ColumnReader::TimeUs(Time64MicrosecondBuilder::new())
            }
            DataType::Time64(TimeUnit::Nanosecond) => {
                ColumnReader::TimeNs(Time64NanosecondBuilder::new())
            }
            DataType::Timestamp(u, z) => ColumnReader::Ts(Vec::new(), *u, z.clone()),
            other => bail!("internal: no reader for {other}"),
        })
    }

    /// Append one value. Nulls arrive as `ColumnData::X(None)` of any variant.
    pub fn append(&mut self, v: &ColumnData<'static>) -> Result<()> {
        if is_null(v) {
            self.append_null();
            return Ok(());
        }
        match (self, v) {
            (ColumnReader::Bool(b), ColumnData::Bit(Some(x))) => b.append_value(*x),
            (ColumnReader::U8(b), ColumnData::U8(Some(x))) => b.append_value(*x),
            (ColumnReader::I16(b), ColumnData::I16(Some(x))) => b.append_value(*x),
            (ColumnReader::I32(b), ColumnData::I32(Some(x))) => b.append_value(*x),
            (ColumnReader::I64(b), ColumnData::I64(Some(x))) => b.append_value(*x),
            (ColumnReader::F32(b), ColumnData::F32(Some(x))) => b.append_value(*x),
            (ColumnReader::F64(b), ColumnData::F64(Some(x))) => b.append_value(*x),
            (ColumnReader::F64(b), ColumnData::F32(Some(x))) => b.append_value(*x as f64),
            (ColumnReader::Dec(b, _, s), ColumnData::Numeric(Some(n))) => {
                b.append_value(rescale(n.value(), n.scale() as i8, *s)?)
            }
            (ColumnReader::Dec(b, _, s), ColumnData::F64(Some(x))) => {
                // money/smallmoney: tiberius decodes the scaled integer to f64.
                b.append_value(money_from_f64(*x, *s)?)
            }
            (ColumnReader::Str(b), ColumnData::String(Some(x))) => b.append_value(x),
            (ColumnReader::Str(b), ColumnData::Xml(Some(x))) => b.append_value(x.as_ref()),
            (ColumnReader::Bin(b), ColumnData::Binary(Some(x))) => b.append_value(x),
            (ColumnReader::Uuid(b), ColumnData::Guid(Some(g))) => b.append_value(g.as_bytes())?,
            (ColumnReader::Date(b), ColumnData::Date(Some(d))) => {
                b.append_value((d.days() as i64 - DAYS_0001_TO_1970) as i32)
            }
            (ColumnReader::TimeUs(b), ColumnData::Time(Some(t))) => {
                b.append_value((time_nanos(t) / 1000) as i64)
            }
            (ColumnReader::TimeNs(b), ColumnData::Time(Some(t))) => {
                b.append_value(time_nanos(t) as i64)
            }
            (ColumnReader::Ts(vals, unit, _), data) => {
                let ns = match data {
                    ColumnData::DateTime2(Some(dt)) => datetime2_nanos(dt),
                    // The date and time of a datetimeoffset are UTC on the wire;
                    // the offset only says how it was written.
                    ColumnData::DateTimeOffset(Some(dto)) => datetime2_nanos(&dto.datetime2()),
                    ColumnData::DateTime(Some(dt)) => datetime_nanos(dt),
                    ColumnData::SmallDateTime(Some(dt)) => smalldatetime_nanos(dt),
                    other => bail!("unexpected value {other:?} for a timestamp column"),
                };
                vals.push(Some(from_nanos(ns, *unit)?));
            }
            (_, other) => bail!("unexpected value {other:?} for this column"),
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            ColumnReader::Bool(b) => b.append_null(),
            ColumnReader::U8(b) => b.append_null(),
            ColumnReader::I16(b) => b.append_null(),
            ColumnReader::I32(b) => b.append_null(),
            ColumnReader::I64(b) => b.append_null(),
            ColumnReader::F32(b) => b.append_null(),
            ColumnReader::F64(b) => b.append_null(),
            ColumnReader::Dec(b, _, _) => b.append_null(),
            ColumnReader::Str(b) => b.append_null(),
            ColumnReader::Bin(b) => b.append_null(),
            ColumnReader::Uuid(b) => b.append_null(),
            ColumnReader::Date(b) => b.append_null(),
            ColumnReader::TimeUs(b) => b.append_null(),
            ColumnReader::TimeNs(b) => b.append_null(),
            ColumnReader::Ts(v, _, _) => v.push(None),
        }
    }

    /// The column so far, as an array; the reader starts over empty.
    pub fn finish(&mut self) -> Result<ArrayRef> {
        Ok(match self {
            ColumnReader::Bool(b) => Arc::new(b.finish()),
            ColumnReader::U8(b) => Arc::new(b.finish()),
            ColumnReader::I16(b) => Arc::new(b.finish()),
            ColumnReader::I32(b) => Arc::new(b.finish()),
            ColumnReader::I64(b) => Arc::new(b.finish()),
            ColumnReader::F32(b) => Arc::new(b.finish()),
            ColumnReader::F64(b) => Arc::new(b.finish()),
            ColumnReader::Dec(b, p, s) => Arc::new(b.finish().with_precision_and_scale(*p, *s)?),
            ColumnReader::Str(b) => Arc::new(b.finish()),
            ColumnReader::Bin(b) => Arc::new(b.finish()),
            ColumnReader::Uuid(b) => Arc::new(b.finish()),
            ColumnReader::Date(b) => Arc::new(b.finish()),
            ColumnReader::TimeUs(b) => Arc::new(b.finish()),
            ColumnReader::TimeNs(b) => Arc::new(b.finish()),
            ColumnReader::Ts(v, unit, zone) => {
                let vals = std::mem::take(v);
                match unit {
                    TimeUnit::Second => Arc::new(
                        PrimitiveArray::<TimestampSecondType>::from(vals)
                            .with_timezone_opt(zone.clone()),
                    ),
                    TimeUnit::Millisecond => Arc::new(
                        PrimitiveArray::<TimestampMillisecondType>::from(vals)
                            .with_timezone_opt(zone.clone()),
                    ),
                    TimeUnit::Microsecond => Arc::new(
                        PrimitiveArray::<TimestampMicrosecondType>::from(vals)
                            .with_timezone_opt(zone.clone()),
                    ),
                    TimeUnit::Nanosecond => Arc::new(
                        PrimitiveArray::<TimestampNanosecondType>::from(vals)
                            .with_timezone_opt(zone.clone()),
                    ),
                }
            }
        })
    }
}

fn is_null(v: &ColumnData<'_>) -> bool {
    matches!(
        v,
        ColumnData::U8(None)
            | ColumnData::I16(None)
            | ColumnData::I32(None)
            | ColumnData::I64(None)
            | ColumnData::F32(None)
            | ColumnData::F64(None)
            | ColumnData::Bit(None)
            | ColumnData::String(None)
            | ColumnData::Guid(None)
            | ColumnData::Binary(None)
            | ColumnData::Numeric(None)
            | ColumnData::Xml(None)
            | ColumnData::DateTime(None)
            | ColumnData::SmallDateTime(None)
            | ColumnData::Time(None)
            | ColumnData::Date(None)
            | ColumnData::DateTime2(None)
            | ColumnData::DateTimeOffset(None)
    )
}

/// Change a decimal's scale without losing digits (or fail).
pub fn rescale(value: i128, from: i8, to: i8) -> Result<i128> {
    if from == to {
        Ok(value)
    } else if to > from {
        10i128
            .checked_pow((to - from) as u32)
            .and_then(|f| value.checked_mul(f))
            .ok_or_else(|| anyhow!("decimal value out of range"))
    } else {
        let f = 10i128.pow((from - to) as u32);
        if value % f != 0 {
            bail!("decimal value has more than {to} digits after the point");
        }
        Ok(value / f)
    }
}

/// money and smallmoney are integers scaled by 10⁴; tiberius hands them over
/// as f64. Below 2⁵⁰ ten-thousandths (about 1.1 × 10¹¹) the integer is
/// recovered exactly; larger amounts are refused rather than rounded.
pub fn money_from_f64(x: f64, scale: i8) -> Result<i128> {
    let scaled = (x * 1e4).round();
    if scaled.abs() >= (1u64 << 50) as f64 {
        bail!(
            "money value {x} is too large to read exactly through a query; read the table (convoy casts money to decimal(19,4)) or CAST the column AS decimal(19,4) in the query"
        );
    }
    rescale(scaled as i128, 4, scale)
}

fn time_nanos(t: &Time) -> i128 {
    t.increments() as i128 * 10i128.pow(9 - t.scale().min(9) as u32)
}

/// Nanoseconds since 1970-01-01 of a datetime2 value.
pub fn datetime2_nanos(dt: &DateTime2) -> i128 {
    (dt.date().days() as i128 - DAYS_0001_TO_1970 as i128) * NS_PER_DAY + time_nanos(&dt.time())
}

/// `datetime` counts 1/300 s; convoy reads it at the millisecond SQL Server
/// displays (.000, .003, .007).
fn datetime_nanos(dt: &DateTime) -> i128 {
    let ms = (dt.seconds_fragments() as i128 * 10 + 1) / 3;
    (dt.days() as i128 - DAYS_1900_TO_1970 as i128) * NS_PER_DAY + ms * 1_000_000
}

fn smalldatetime_nanos(dt: &SmallDateTime) -> i128 {
    (dt.days() as i128 - DAYS_1900_TO_1970 as i128) * NS_PER_DAY
        + dt.seconds_fragments() as i128 * 60_000_000_000
}

fn unit_nanos(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

fn from_nanos(ns: i128, unit: TimeUnit) -> Result<i64> {
    let per = unit_nanos(unit);
    if ns % per != 0 {
        bail!("timestamp has more precision than its Arrow unit");
    }
    i64::try_from(ns / per).map_err(|_| {
        anyhow!(
            "timestamp is outside the range Arrow nanosecond timestamps hold (1677-09-21 to 2262-04-11); read it as datetime2(6) (CAST in a query)"
        )
    })
}

// ---------------------------------------------------------------------------
// Writing: Arrow values → ColumnData for a bulk load into a known column type.

/// One value of `array` at `row`, as the target column type wants it.
pub fn to_column_data(
    field: &Field,
    array: &dyn Array,
    row: usize,
    target: &SqlType,
) -> Result<ColumnData<'static>> {
    let t = target.name.as_str();
    if array.is_null(row) {
        return Ok(null_for(target));
    }
    if crate::schema::is_uuid(field) || matches!(array.data_type(), DataType::FixedSizeBinary(_)) {
        let bytes = array.as_fixed_size_binary().value(row);
        return match t {
            "uniqueidentifier" if bytes.len() == 16 => {
                Ok(ColumnData::Guid(Some(Uuid::from_slice(bytes)?)))
            }
            "binary" | "varbinary" | "image" => Ok(ColumnData::Binary(Some(bytes.to_vec().into()))),
            _ => bail!("cannot write {} into a {target} column", array.data_type()),
        };
    }
    match array.data_type() {
        DataType::Boolean => {
            let v = array.as_boolean().value(row);
            match t {
                "bit" => Ok(ColumnData::Bit(Some(v))),
                _ => int_to(v as i128, target),
            }
        }
        DataType::Int8 => int_to(array.as_primitive::<Int8Type>().value(row) as i128, target),
        DataType::Int16 => int_to(array.as_primitive::<Int16Type>().value(row) as i128, target),
        DataType::Int32 => int_to(array.as_primitive::<Int32Type>().value(row) as i128, target),
        DataType::Int64 => int_to(array.as_primitive::<Int64Type>().value(row) as i128, target),
        DataType::UInt8 => int_to(array.as_primitive::<UInt8Type>().value(row) as i128, target),
        DataType::UInt16 => int_to(
            array.as_primitive::<UInt16Type>().value(row) as i128,
            target,
        ),
        DataType::UInt32 => int_to(
            array.as_primitive::<UInt32Type>().value(row) as i128,
            target,
        ),
        DataType::UInt64 => int_to(
            array.as_primitive::<UInt64Type>().value(row) as i128,
            target,
        ),
        DataType::Float32 => {
            let v = array
                .as_primitive::<arrow::datatypes::Float32Type>()
                .value(row);
            match t {
                "real" => Ok(ColumnData::F32(Some(v))),
                "float" => Ok(ColumnData::F64(Some(v as f64))),
                _ => bail!("cannot write a float32 into a {target} column exactly"),
            }
        }
        DataType::Float64 => {
            let v = array
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(row);
            match t {
                "float" if target.arg(0).is_none_or(|n| n > 24) => Ok(ColumnData::F64(Some(v))),
                "real" | "float" if (v as f32) as f64 == v || v.is_nan() => {
                    Ok(ColumnData::F32(Some(v as f32)))
                }
                "real" | "float" => bail!("{v} does not fit a {target} column exactly"),
                _ => bail!("cannot write a float64 into a {target} column exactly"),
            }
        }
        DataType::Decimal128(_, s) => {
            let v = array
                .as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(row);
            decimal_to(v, *s, target)
        }
        DataType::Decimal256(_, s) => {
            let v = array
                .as_primitive::<arrow::datatypes::Decimal256Type>()
                .value(row);
            let v = v
                .to_i128()
                .ok_or_else(|| anyhow!("decimal value has more than 38 digits"))?;
            decimal_to(v, *s, target)
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s: String = match array.data_type() {
                DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
                DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_string(),
                _ => array.as_string_view().value(row).to_string(),
            };
            match t {
                "char" | "varchar" | "nchar" | "nvarchar" | "text" | "ntext" | "sysname" => {
                    if let Some(n) = target.arg(0) {
                        let units = if t.starts_with('n') {
                            s.encode_utf16().count()
                        } else {
                            s.len()
                        };
                        if units > n as usize {
                            bail!("text of {units} characters does not fit {target}");
                        }
                    }
                    Ok(ColumnData::String(Some(s.into())))
                }
                "xml" => Ok(ColumnData::Xml(Some(std::borrow::Cow::Owned(
                    XmlData::new(s),
                )))),
                "uniqueidentifier" => {
                    let b =
                        crate::connect::format::conform::parse_uuid(&s).map_err(|e| anyhow!(e))?;
                    Ok(ColumnData::Guid(Some(Uuid::from_bytes(b))))
                }
                _ => bail!("cannot write text into a {target} column"),
            }
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let b: Vec<u8> = match array.data_type() {
                DataType::Binary => array.as_binary::<i32>().value(row).to_vec(),
                DataType::LargeBinary => array.as_binary::<i64>().value(row).to_vec(),
                _ => array.as_binary_view().value(row).to_vec(),
            };
            match t {
                "binary" | "varbinary" | "image" => {
                    if let Some(n) = target.arg(0) {
                        if b.len() > n as usize {
                            bail!("{} bytes do not fit {target}", b.len());
                        }
                    }
                    Ok(ColumnData::Binary(Some(b.into())))
                }
                _ => bail!("cannot write binary into a {target} column"),
            }
        }
        DataType::Date32 => {
            let days = array
                .as_primitive::<arrow::datatypes::Date32Type>()
                .value(row) as i128;
            timestamp_to(days * NS_PER_DAY, target)
        }
        DataType::Date64 => {
            let ms = array
                .as_primitive::<arrow::datatypes::Date64Type>()
                .value(row) as i128;
            timestamp_to(ms * 1_000_000, target)
        }
        DataType::Time32(unit) | DataType::Time64(unit) => {
            let v: i128 = match array.data_type() {
                DataType::Time32(TimeUnit::Second) => array
                    .as_primitive::<arrow::datatypes::Time32SecondType>()
                    .value(row) as i128,
                DataType::Time32(_) => array
                    .as_primitive::<arrow::datatypes::Time32MillisecondType>()
                    .value(row) as i128,
                DataType::Time64(TimeUnit::Microsecond) => array
                    .as_primitive::<arrow::datatypes::Time64MicrosecondType>()
                    .value(row) as i128,
                _ => array
                    .as_primitive::<arrow::datatypes::Time64NanosecondType>()
                    .value(row) as i128,
            };
            if t != "time" {
                bail!("cannot write a time of day into a {target} column");
            }
            let ns = v * unit_nanos(*unit);
            Ok(ColumnData::Time(Some(time_at(ns, target.fraction())?)))
        }
        DataType::Timestamp(unit, _) => {
            let v: i128 = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row) as i128,
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row) as i128
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row) as i128
                }
                TimeUnit::Nanosecond => {
                    array.as_primitive::<TimestampNanosecondType>().value(row) as i128
                }
            };
            timestamp_to(v * unit_nanos(*unit), target)
        }
        other => bail!("cannot write Arrow type {other} to SQL Server"),
    }
}

/// A typed NULL for a column (tiberius takes the column type from the server).
fn null_for(target: &SqlType) -> ColumnData<'static> {
    match target.name.as_str() {
        "bit" => ColumnData::Bit(None),
        "tinyint" => ColumnData::U8(None),
        "smallint" => ColumnData::I16(None),
        "int" => ColumnData::I32(None),
        "bigint" => ColumnData::I64(None),
        "real" => ColumnData::F32(None),
        "float" => ColumnData::F64(None),
        "decimal" | "numeric" | "money" | "smallmoney" => ColumnData::Numeric(None),
        "binary" | "varbinary" | "image" => ColumnData::Binary(None),
        "uniqueidentifier" => ColumnData::Guid(None),
        "date" => ColumnData::Date(None),
        "time" => ColumnData::Time(None),
        "datetime" => ColumnData::DateTime(None),
        "smalldatetime" => ColumnData::SmallDateTime(None),
        "datetime2" => ColumnData::DateTime2(None),
        "datetimeoffset" => ColumnData::DateTimeOffset(None),
        "xml" => ColumnData::Xml(None),
        _ => ColumnData::String(None),
    }
}

fn int_to(v: i128, target: &SqlType) -> Result<ColumnData<'static>> {
    let out_of_range = || anyhow!("{v} is out of range for {target}");
    Ok(match target.name.as_str() {
        "bit" if v == 0 || v == 1 => ColumnData::Bit(Some(v == 1)),
        "tinyint" => ColumnData::U8(Some(u8::try_from(v).map_err(|_| out_of_range())?)),
        "smallint" => ColumnData::I16(Some(i16::try_from(v).map_err(|_| out_of_range())?)),
        "int" => ColumnData::I32(Some(i32::try_from(v).map_err(|_| out_of_range())?)),
        "bigint" => ColumnData::I64(Some(i64::try_from(v).map_err(|_| out_of_range())?)),
        "decimal" | "numeric" | "money" | "smallmoney" => return decimal_to(v, 0, target),
        "float" if v.abs() < (1i128 << 53) => ColumnData::F64(Some(v as f64)),
        "real" if v.abs() < (1i128 << 24) => ColumnData::F32(Some(v as f32)),
        _ => bail!("cannot write the integer {v} into a {target} column exactly"),
    })
}

fn decimal_to(v: i128, scale: i8, target: &SqlType) -> Result<ColumnData<'static>> {
    let Some((p, s)) = target.decimal() else {
        bail!("cannot write a decimal into a {target} column exactly");
    };
    let shown = || format_decimal(v, scale);
    let scaled = rescale(v, scale, s as i8).map_err(|_| {
        anyhow!(
            "{} has more digits after the point than {target} keeps",
            shown()
        )
    })?;
    if scaled.unsigned_abs() >= 10u128.pow(p as u32) {
        bail!("{} has too many digits for {target}", shown());
    }
    Ok(ColumnData::Numeric(Some(Numeric::new_with_scale(
        scaled, s,
    ))))
}

/// A decimal as text, for messages.
pub fn format_decimal(v: i128, scale: i8) -> String {
    if scale <= 0 {
        return (v * 10i128.pow((-scale) as u32)).to_string();
    }
    let digits = v.unsigned_abs().to_string();
    let s = scale as usize;
    let padded = format!("{digits:0>width$}", width = s + 1);
    let (int, frac) = padded.split_at(padded.len() - s);
    format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
}

/// A time of day in nanoseconds → `time(digits)`, exactly.
fn time_at(ns: i128, digits: u8) -> Result<Time> {
    let per = 10i128.pow(9 - digits as u32);
    if ns % per != 0 {
        bail!("time has more precision than time({digits})");
    }
    Ok(Time::new((ns / per) as u64, digits))
}

fn date_from_days_0001(days: i128) -> Result<Date> {
    if !(0..=MAX_DAYS_0001 as i128).contains(&days) {
        bail!("date is outside 0001-01-01 .. 9999-12-31");
    }
    Ok(Date::new(days as u32))
}

/// Nanoseconds since 1970-01-01 (UTC for zoned timestamps) → the target type, exactly.
fn timestamp_to(ns: i128, target: &SqlType) -> Result<ColumnData<'static>> {
    let day = ns.div_euclid(NS_PER_DAY);
    let tod = ns.rem_euclid(NS_PER_DAY);
    let t = target.name.as_str();
    match t {
        "date" => {
            if tod != 0 {
                bail!("value has a time of day; a date column cannot hold it");
            }
            Ok(ColumnData::Date(Some(date_from_days_0001(
                day + DAYS_0001_TO_1970 as i128,
            )?)))
        }
        "datetime2" | "datetimeoffset" => {
            let digits = target.fraction();
            let date = date_from_days_0001(day + DAYS_0001_TO_1970 as i128)?;
            let time = time_at(tod, digits)
                .map_err(|_| anyhow!("value has more precision than {target}"))?;
            let dt2 = DateTime2::new(date, time);
            Ok(if t == "datetime2" {
                ColumnData::DateTime2(Some(dt2))
            } else {
                ColumnData::DateTimeOffset(Some(DateTimeOffset::new(dt2, 0)))
            })
        }
        "datetime" => {
            let days = day + DAYS_1900_TO_1970 as i128;
            if !(-53_690..=2_958_463).contains(&days) {
                bail!("value is outside datetime's range (1753-01-01 .. 9999-12-31)");
            }
            if tod % 1_000_000 != 0 {
                bail!("value has more precision than datetime (1/300 s)");
            }
            let ms = tod / 1_000_000;
            let fragments = (ms * 3 + 5) / 10;
            if (fragments * 10 + 1) / 3 != ms {
                bail!("value is not a multiple of 1/300 s, which datetime cannot hold");
            }
            Ok(ColumnData::DateTime(Some(DateTime::new(
                days as i32,
                fragments as u32,
            ))))
        }
        "smalldatetime" => {
            let days = day + DAYS_1900_TO_1970 as i128;
            if !(0..=65_535).contains(&days) || tod % 60_000_000_000 != 0 {
                bail!("value does not fit smalldatetime (whole minutes, 1900-01-01 .. 2079-06-06)");
            }
            Ok(ColumnData::SmallDateTime(Some(SmallDateTime::new(
                days as u16,
                (tod / 60_000_000_000) as u16,
            ))))
        }
        _ => bail!("cannot write a timestamp into a {target} column"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        Decimal128Array, FixedSizeBinaryArray, StringArray, TimestampNanosecondArray,
    };

    fn ty(s: &str) -> SqlType {
        SqlType::parse(s)
    }

    fn read_one(sql: &str, v: ColumnData<'static>) -> ArrayRef {
        let f = arrow_field("c", &ty(sql), true).unwrap();
        let mut r = ColumnReader::new(&f).unwrap();
        r.append(&v).unwrap();
        r.append(&null_for(&ty(sql))).unwrap();
        let a = r.finish().unwrap();
        assert_eq!(a.data_type(), f.data_type());
        assert!(a.is_null(1));
        a
    }

    /// SQL type → Arrow type → the SQL type a new table would get.
    #[test]
    fn the_type_table_both_ways() {
        let cases: &[(&str, DataType, &str)] = &[
            ("bit", DataType::Boolean, "bit"),
            ("tinyint", DataType::UInt8, "tinyint"),
            ("smallint", DataType::Int16, "smallint"),
            ("int", DataType::Int32, "int"),
            ("bigint", DataType::Int64, "bigint"),
            (
                "decimal(38,10)",
                DataType::Decimal128(38, 10),
                "decimal(38,10)",
            ),
            ("numeric(5,0)", DataType::Decimal128(5, 0), "decimal(5,0)"),
            ("money", DataType::Decimal128(19, 4), "decimal(19,4)"),
            ("smallmoney", DataType::Decimal128(10, 4), "decimal(10,4)"),
            ("real", DataType::Float32, "real"),
            ("float", DataType::Float64, "float"),
            ("float(24)", DataType::Float32, "real"),
            ("nvarchar(50)", DataType::Utf8, "nvarchar(max)"),
            ("varchar(max)", DataType::Utf8, "nvarchar(max)"),
            ("char(3)", DataType::Utf8, "nvarchar(max)"),
            ("ntext", DataType::Utf8, "nvarchar(max)"),
            ("text", DataType::Utf8, "nvarchar(max)"),
            ("xml", DataType::Utf8, "nvarchar(max)"),
            ("varbinary(max)", DataType::Binary, "varbinary(max)"),
            ("binary(4)", DataType::Binary, "varbinary(max)"),
            ("date", DataType::Date32, "date"),
            ("time(7)", DataType::Time64(TimeUnit::Nanosecond), "time(7)"),
            (
                "time(3)",
                DataType::Time64(TimeUnit::Microsecond),
                "time(6)",
            ),
            (
                "datetime",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                "datetime2(3)",
            ),
            (
                "smalldatetime",
                DataType::Timestamp(TimeUnit::Second, None),
                "datetime2(0)",
            ),
            (
                "datetime2(7)",
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                "datetime2(7)",
            ),
            (
                "datetime2(6)",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                "datetime2(6)",
            ),
            (
                "datetime2(0)",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                "datetime2(6)",
            ),
            (
                "datetimeoffset(7)",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                "datetimeoffset(7)",
            ),
            (
                "datetimeoffset(3)",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                "datetimeoffset(6)",
            ),
        ];
        for (sql, arrow, back) in cases {
            let f = arrow_field("c", &ty(sql), true).unwrap();
            assert_eq!(f.data_type(), arrow, "{sql}");
            assert_eq!(sql_type_for(&f).unwrap().to_string(), *back, "{sql}");
        }
        let u = arrow_field("u", &ty("uniqueidentifier"), false).unwrap();
        assert!(crate::schema::is_uuid(&u));
        assert_eq!(sql_type_for(&u).unwrap().to_string(), "uniqueidentifier");
        assert!(arrow_field("g", &ty("geography"), true).is_err());
        for (arrow, sql) in [
            (DataType::Int8, "smallint"),
            (DataType::UInt16, "int"),
            (DataType::UInt32, "bigint"),
            (DataType::UInt64, "decimal(20,0)"),
            (DataType::FixedSizeBinary(8), "binary(8)"),
        ] {
            let f = Field::new("c", arrow, true);
            assert_eq!(sql_type_for(&f).unwrap().to_string(), sql);
        }
    }

    #[test]
    fn decimal_limits() {
        let f = Field::new("c", DataType::Decimal256(39, 2), true);
        assert!(sql_type_for(&f).unwrap_err().to_string().contains("38"));
        let f = Field::new("c", DataType::Decimal128(10, -2), true);
        assert!(sql_type_for(&f).is_err());
        // Largest decimal(38,0) and smallest decimal(38,38) both ways.
        let max = 10i128.pow(38) - 1;
        let a = read_one(
            "decimal(38,0)",
            ColumnData::Numeric(Some(Numeric::new_with_scale(max, 0))),
        );
        assert_eq!(
            a.as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(0),
            max
        );
        let arr = Decimal128Array::from(vec![max])
            .with_precision_and_scale(38, 0)
            .unwrap();
        let field = Field::new("c", DataType::Decimal128(38, 0), true);
        match to_column_data(&field, &arr, 0, &ty("decimal(38,0)")).unwrap() {
            ColumnData::Numeric(Some(n)) => assert_eq!((n.value(), n.scale()), (max, 0)),
            other => panic!("{other:?}"),
        }
        // Scale: 1.25 fits decimal(5,3) as 1.250, not decimal(5,1).
        let arr = Decimal128Array::from(vec![125])
            .with_precision_and_scale(5, 2)
            .unwrap();
        let field = Field::new("c", DataType::Decimal128(5, 2), true);
        match to_column_data(&field, &arr, 0, &ty("decimal(5,3)")).unwrap() {
            ColumnData::Numeric(Some(n)) => assert_eq!((n.value(), n.scale()), (1250, 3)),
            other => panic!("{other:?}"),
        }
        let e = to_column_data(&field, &arr, 0, &ty("decimal(5,1)")).unwrap_err();
        assert!(e.to_string().contains("1.25"), "{e}");
        // Precision: 123.45 does not fit decimal(4,2).
        let arr = Decimal128Array::from(vec![12345])
            .with_precision_and_scale(5, 2)
            .unwrap();
        assert!(to_column_data(&field, &arr, 0, &ty("decimal(4,2)")).is_err());
        assert_eq!(format_decimal(-5, 3), "-0.005");
    }

    #[test]
    fn money_is_read_exactly() {
        let a = read_one("money", ColumnData::F64(Some(922_337.580_7)));
        assert_eq!(
            a.as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(0),
            9_223_375_807
        );
        let a = read_one("smallmoney", ColumnData::F64(Some(-214_748.364_8)));
        assert_eq!(
            a.as_primitive::<arrow::datatypes::Decimal128Type>()
                .value(0),
            -2_147_483_648
        );
        assert!(money_from_f64(922_337_203_685_477.5, 4).is_err());
        // Written into a money column as an exact numeric of scale 4.
        let arr = Decimal128Array::from(vec![12_345])
            .with_precision_and_scale(19, 4)
            .unwrap();
        let f = Field::new("c", DataType::Decimal128(19, 4), true);
        match to_column_data(&f, &arr, 0, &ty("money")).unwrap() {
            ColumnData::Numeric(Some(n)) => assert_eq!((n.value(), n.scale()), (12_345, 4)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn datetime2_precision() {
        // 2024-02-29 12:34:56.1234567 as datetime2(7) → ns and back.
        let days = 738_885 + 59; // 2024-01-01 is day 738_885 from 0001-01-01; +59 = 02-29
        let inc = ((12 * 3600 + 34 * 60 + 56) as u64) * 10_000_000 + 1_234_567;
        let v = DateTime2::new(Date::new(days), Time::new(inc, 7));
        let a = read_one("datetime2(7)", ColumnData::DateTime2(Some(v)));
        let ns = a.as_primitive::<TimestampNanosecondType>().value(0);
        assert_eq!(ns % 1_000_000_000, 123_456_700);
        let f = Field::new("c", DataType::Timestamp(TimeUnit::Nanosecond, None), true);
        let arr = TimestampNanosecondArray::from(vec![ns]);
        assert_eq!(
            to_column_data(&f, &arr, 0, &ty("datetime2(7)")).unwrap(),
            ColumnData::DateTime2(Some(v))
        );
        // 100 ns of detail do not fit datetime2(6): refused, not rounded.
        assert!(to_column_data(&f, &arr, 0, &ty("datetime2(6)")).is_err());
        // A whole-microsecond value fits datetime2(6).
        let arr = TimestampNanosecondArray::from(vec![ns - 700]);
        match to_column_data(&f, &arr, 0, &ty("datetime2(6)")).unwrap() {
            ColumnData::DateTime2(Some(d)) => assert_eq!(d.time().scale(), 6),
            other => panic!("{other:?}"),
        }
        // 0001-01-01 and 9999-12-31 as microseconds.
        let first = DateTime2::new(Date::new(0), Time::new(0, 6));
        let a = read_one("datetime2(6)", ColumnData::DateTime2(Some(first)));
        let us = a.as_primitive::<TimestampMicrosecondType>().value(0);
        assert_eq!(us, -DAYS_0001_TO_1970 * 86_400_000_000);
        let last = DateTime2::new(Date::new(MAX_DAYS_0001 as u32), Time::new(0, 6));
        let f = arrow_field("c", &ty("datetime2(7)"), true).unwrap();
        let mut r = ColumnReader::new(&f).unwrap();
        assert!(
            r.append(&ColumnData::DateTime2(Some(last))).is_err(),
            "ns range"
        );
    }

    #[test]
    fn datetimeoffset_keeps_the_instant() {
        // 2024-06-01 10:00 +02:00 is stored as 08:00 UTC with offset +120.
        let days = 738_885 + 152; // 2024-06-01
        let utc = DateTime2::new(Date::new(days), Time::new(8 * 3600 * 10_000_000, 7));
        let a = read_one(
            "datetimeoffset(7)",
            ColumnData::DateTimeOffset(Some(DateTimeOffset::new(utc, 120))),
        );
        let ns = a.as_primitive::<TimestampNanosecondType>().value(0);
        let expected = chrono::DateTime::parse_from_rfc3339("2024-06-01T10:00:00+02:00")
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap();
        assert_eq!(ns, expected);
        let f = Field::new(
            "c",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        );
        let arr = TimestampNanosecondArray::from(vec![ns]).with_timezone("UTC");
        assert_eq!(
            to_column_data(&f, &arr, 0, &ty("datetimeoffset(7)")).unwrap(),
            ColumnData::DateTimeOffset(Some(DateTimeOffset::new(utc, 0)))
        );
    }

    #[test]
    fn datetime_thirds_of_milliseconds() {
        // .003 and .007 are what SQL Server shows for 1 and 2 three-hundredths.
        for (fragments, ms) in [(0u32, 0i64), (1, 3), (2, 7), (3, 10), (299, 997)] {
            let a = read_one(
                "datetime",
                ColumnData::DateTime(Some(DateTime::new(0, fragments))),
            );
            let v = a.as_primitive::<TimestampMillisecondType>().value(0);
            assert_eq!(v, -DAYS_1900_TO_1970 * 86_400_000 + ms);
            let f = Field::new("c", DataType::Timestamp(TimeUnit::Millisecond, None), true);
            let arr = PrimitiveArray::<TimestampMillisecondType>::from(vec![v]);
            assert_eq!(
                to_column_data(&f, &arr, 0, &ty("datetime")).unwrap(),
                ColumnData::DateTime(Some(DateTime::new(0, fragments)))
            );
        }
        let f = Field::new("c", DataType::Timestamp(TimeUnit::Millisecond, None), true);
        let arr = PrimitiveArray::<TimestampMillisecondType>::from(vec![1]);
        assert!(to_column_data(&f, &arr, 0, &ty("datetime")).is_err());
    }

    /// SQL Server prints 6F9619FF-8B86-D011-B42D-00C04FC964FF for the value
    /// whose wire bytes are FF 19 96 6F 86 8B 11 D0 B4 2D 00 C0 4F C9 64 FF
    /// (first three groups little-endian). tiberius reorders, so convoy's
    /// bytes are the printed order, and writing gives back the same Uuid.
    #[test]
    fn guid_byte_order() {
        let text = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
        let g = Uuid::parse_str(text).unwrap();
        let a = read_one("uniqueidentifier", ColumnData::Guid(Some(g)));
        let bytes = a.as_fixed_size_binary().value(0).to_vec();
        assert_eq!(
            bytes,
            [
                0x6F, 0x96, 0x19, 0xFF, 0x8B, 0x86, 0xD0, 0x11, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9,
                0x64, 0xFF
            ]
        );
        assert_eq!(
            crate::connect::format::conform::format_uuid(&bytes).to_ascii_uppercase(),
            text
        );
        let f = crate::schema::uuid_field("u", true);
        let arr = FixedSizeBinaryArray::try_from_iter(vec![bytes.clone()].into_iter()).unwrap();
        assert_eq!(
            to_column_data(&f, &arr, 0, &ty("uniqueidentifier")).unwrap(),
            ColumnData::Guid(Some(g))
        );
        // Text into a uniqueidentifier column parses the same way.
        let arr = StringArray::from(vec![text]);
        let f = Field::new("c", DataType::Utf8, true);
        assert_eq!(
            to_column_data(&f, &arr, 0, &ty("uniqueidentifier")).unwrap(),
            ColumnData::Guid(Some(g))
        );
    }

    #[test]
    fn text_survives_and_lengths_are_checked() {
        let s = "Zürich — 東京 — 🚚";
        let a = read_one("nvarchar(max)", ColumnData::String(Some(s.into())));
        assert_eq!(a.as_string::<i32>().value(0), s);
        let arr = StringArray::from(vec![s]);
        let f = Field::new("c", DataType::Utf8, true);
        assert_eq!(
            to_column_data(&f, &arr, 0, &ty("nvarchar(max)")).unwrap(),
            ColumnData::String(Some(s.to_string().into()))
        );
        // 🚚 is two UTF-16 code units: 16 units in all.
        assert!(to_column_data(&f, &arr, 0, &ty("nvarchar(15)")).is_err());
        assert!(to_column_data(&f, &arr, 0, &ty("nvarchar(16)")).is_ok());
        let x = read_one(
            "xml",
            ColumnData::Xml(Some(std::borrow::Cow::Owned(XmlData::new("<a>é</a>")))),
        );
        assert_eq!(x.as_string::<i32>().value(0), "<a>é</a>");
    }

    #[test]
    fn integers_are_range_checked() {
        let arr = arrow::array::Int64Array::from(vec![256, -1, 255]);
        let f = Field::new("c", DataType::Int64, true);
        assert!(to_column_data(&f, &arr, 0, &ty("tinyint")).is_err());
        assert!(to_column_data(&f, &arr, 1, &ty("tinyint")).is_err());
        assert_eq!(
            to_column_data(&f, &arr, 2, &ty("tinyint")).unwrap(),
            ColumnData::U8(Some(255))
        );
        assert_eq!(
            to_column_data(&f, &arr, 1, &ty("decimal(5,2)")).unwrap(),
            ColumnData::Numeric(Some(Numeric::new_with_scale(-100, 2)))
        );
    }

    #[test]
    fn time_of_day() {
        let t = Time::new(12 * 3600 * 10_000_000 + 1, 7);
        let a = read_one("time(7)", ColumnData::Time(Some(t)));
        let ns = a
            .as_primitive::<arrow::datatypes::Time64NanosecondType>()
            .value(0);
        assert_eq!(ns, 12 * 3600 * 1_000_000_000 + 100);
        let f = Field::new("c", DataType::Time64(TimeUnit::Nanosecond), true);
        let arr = arrow::array::Time64NanosecondArray::from(vec![ns]);
        assert_eq!(
            to_column_data(&f, &arr, 0, &ty("time(7)")).unwrap(),
            ColumnData::Time(Some(t))
        );
        assert!(to_column_data(&f, &arr, 0, &ty("time(6)")).is_err());
    }
}
