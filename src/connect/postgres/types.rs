//! The PostgreSQL ↔ Arrow type table, both ways.
//!
//! | PostgreSQL | Arrow | notes |
//! | --- | --- | --- |
//! | smallint / integer / bigint | Int16 / Int32 / Int64 | |
//! | numeric(p,s), p ≤ 38 | Decimal128(p,s) | exact |
//! | numeric(p,s), p > 38 | Decimal256(p,s) | exact |
//! | numeric (no precision) | Utf8, field metadata `convoy.pg_type = numeric` | exact text; cast to numeric(p,s) in `--query` for a decimal column |
//! | real / double precision | Float32 / Float64 | |
//! | text / varchar(n) / char(n) | Utf8 | declared type kept in `convoy.pg_type` |
//! | bytea | Binary | |
//! | boolean | Boolean | |
//! | date | Date32 | ±infinity refused |
//! | time | Time64(µs) | |
//! | timestamp | Timestamp(µs) | ±infinity refused |
//! | timestamptz | Timestamp(µs, "UTC") | the UTC instant |
//! | interval | Interval(MonthDayNano) | |
//! | uuid | FixedSizeBinary(16) + `arrow.uuid` | |
//! | json / jsonb | Utf8 + `convoy.pg_type = json / jsonb` | |
//! | inet / cidr | Utf8 + `convoy.pg_type` | |
//! | enum types | Utf8 + `convoy.pg_type = <enum name>` | created as text when the destination has no such type |
//! | one-dimensional arrays of the above | List | |
//!
//! Creating a table goes the other way: integers, floats, decimals, strings,
//! binary, dates, times, timestamps, intervals, UUIDs and lists map to the
//! types above; a string column that carries `convoy.pg_type` of `json`,
//! `jsonb`, `inet`, `cidr`, `numeric`, `varchar(n)` or `character(n)` is created
//! with that type, so a PostgreSQL → Parquet → PostgreSQL round trip keeps
//! declared types.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, IntervalUnit, TimeUnit};

use crate::error;

/// Field metadata key recording the PostgreSQL type a column came from.
pub const PG_TYPE: &str = "convoy.pg_type";

/// A column as the catalog describes it.
#[derive(Debug, Clone)]
pub struct PgColumn {
    pub name: String,
    pub oid: u32,
    pub typmod: i32,
    /// `format_type(oid, typmod)`, e.g. `numeric(18,4)`.
    pub type_name: String,
    pub not_null: bool,
    /// `pg_type.typtype`: b base, e enum, d domain, …
    pub typtype: char,
    /// For arrays: the element type.
    pub elem_oid: u32,
    pub elem_typtype: char,
    pub elem_name: String,
}

/// A type as binary COPY sends it: the type and its modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgType {
    pub oid: u32,
    pub typmod: i32,
}

/// OIDs below this are built in: the same type on every server.
const FIRST_NORMAL_OID: u32 = 16_384;

impl PgType {
    /// Values of this type pass from one server's `COPY … TO` to another's
    /// `COPY … FROM` unchanged when both sides have this very type: built-in
    /// types only (a user type's OID means nothing on another server).
    pub fn passes_through(&self) -> bool {
        self.oid < FIRST_NORMAL_OID
    }
}

impl PgColumn {
    /// The column's own type.
    pub fn pg_type(&self) -> PgType {
        PgType {
            oid: self.oid,
            typmod: self.typmod,
        }
    }
}

/// How one column's values travel in binary COPY.
#[derive(Debug, Clone, PartialEq)]
pub enum Wire {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// numeric ↔ Arrow decimal with this scale.
    Numeric {
        scale: i8,
    },
    /// numeric ↔ decimal text (Arrow Utf8).
    NumericText,
    /// text, varchar, char, json, enum labels: the UTF-8 bytes.
    Text,
    /// jsonb: a version byte (1) then the text.
    Jsonb,
    /// inet / cidr ↔ their text form.
    Inet {
        cidr: bool,
    },
    Bytea,
    Date,
    Time,
    Timestamp,
    Interval,
    Uuid,
    Array {
        elem_oid: u32,
        elem: Box<Wire>,
    },
}

pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const JSON: u32 = 114;
    pub const CIDR: u32 = 650;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const INET: u32 = 869;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// Precision and scale of a `numeric(p,s)` type modifier; None when unconstrained.
pub fn numeric_typmod(typmod: i32) -> Option<(u8, i8)> {
    if typmod < 4 {
        return None;
    }
    let t = typmod - 4;
    let p = ((t >> 16) & 0xffff) as u8;
    // The scale is an 11-bit signed field since PostgreSQL 15.
    let raw = t & 0x7ff;
    let s = if raw & 0x400 != 0 { raw - 0x800 } else { raw } as i8;
    Some((p, s))
}

fn meta(field: Field, pg: &str) -> Field {
    let mut m: HashMap<String, String> = field
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    m.insert(PG_TYPE.into(), pg.into());
    field.with_metadata(m)
}

/// A scalar type's Arrow type, wire form and whether it must be selected as text.
fn scalar(oid: u32, typmod: i32, typtype: char) -> Option<(DataType, Wire, bool)> {
    use oid::*;
    Some(match oid {
        BOOL => (DataType::Boolean, Wire::Bool, false),
        INT2 => (DataType::Int16, Wire::Int2, false),
        INT4 => (DataType::Int32, Wire::Int4, false),
        INT8 => (DataType::Int64, Wire::Int8, false),
        FLOAT4 => (DataType::Float32, Wire::Float4, false),
        FLOAT8 => (DataType::Float64, Wire::Float8, false),
        NUMERIC => match numeric_typmod(typmod) {
            Some((p, s)) if s >= 0 && p <= 38 => (
                DataType::Decimal128(p, s),
                Wire::Numeric { scale: s },
                false,
            ),
            Some((p, s)) if s >= 0 && p <= 76 => (
                DataType::Decimal256(p, s),
                Wire::Numeric { scale: s },
                false,
            ),
            _ => (DataType::Utf8, Wire::Text, true),
        },
        TEXT | VARCHAR | BPCHAR | NAME | CHAR | JSON => (DataType::Utf8, Wire::Text, false),
        JSONB => (DataType::Utf8, Wire::Jsonb, false),
        INET | CIDR => (DataType::Utf8, Wire::Text, true),
        BYTEA => (DataType::Binary, Wire::Bytea, false),
        DATE => (DataType::Date32, Wire::Date, false),
        TIME => (DataType::Time64(TimeUnit::Microsecond), Wire::Time, false),
        TIMESTAMP => (
            DataType::Timestamp(TimeUnit::Microsecond, None),
            Wire::Timestamp,
            false,
        ),
        TIMESTAMPTZ => (
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Wire::Timestamp,
            false,
        ),
        INTERVAL => (
            DataType::Interval(IntervalUnit::MonthDayNano),
            Wire::Interval,
            false,
        ),
        UUID => (DataType::FixedSizeBinary(16), Wire::Uuid, false),
        _ if typtype == 'e' => (DataType::Utf8, Wire::Text, false),
        _ => return None,
    })
}

fn unsupported(col: &PgColumn) -> anyhow::Error {
    error::input(
        format!(
            "column \"{}\" has type {}, which convoy cannot copy",
            col.name, col.type_name
        ),
        Some(format!(
            "cast it in a query, e.g. --query \"select …, {}::text as {} from …\"",
            quote_ident(&col.name),
            quote_ident(&col.name)
        )),
    )
}

/// What reading a column into Arrow takes.
#[derive(Debug)]
pub struct SourceColumn {
    pub field: Field,
    /// The expression that selects it.
    pub select: String,
    pub wire: Wire,
}

/// How a column is read into Arrow: its field, the expression to select it
/// with and its wire form.
pub fn source_column(col: &PgColumn) -> anyhow::Result<SourceColumn> {
    let ident = quote_ident(&col.name);
    let nullable = !col.not_null;
    if col.elem_oid != 0 {
        let Some((dt, wire, as_text)) = scalar(col.elem_oid, col.typmod, col.elem_typtype) else {
            return Err(unsupported(col));
        };
        let (elem_oid, select) = if as_text {
            (oid::TEXT, format!("{ident}::text[]"))
        } else {
            (col.elem_oid, ident.clone())
        };
        let field = Field::new(
            &col.name,
            DataType::List(Arc::new(Field::new_list_field(dt, true))),
            nullable,
        );
        let field = meta(field, &col.type_name);
        return Ok(SourceColumn {
            field,
            select,
            wire: Wire::Array {
                elem_oid,
                elem: Box::new(wire),
            },
        });
    }
    let Some((dt, wire, as_text)) = scalar(col.oid, col.typmod, col.typtype) else {
        return Err(unsupported(col));
    };
    let field = if wire == Wire::Uuid {
        crate::schema::uuid_field(&col.name, nullable)
    } else {
        Field::new(&col.name, dt, nullable)
    };
    let field = if matches!(field.data_type(), DataType::Utf8) {
        meta(field, &col.type_name)
    } else {
        field
    };
    let select = if as_text {
        format!("{ident}::text")
    } else {
        ident
    };
    Ok(SourceColumn {
        field,
        select,
        wire,
    })
}

/// Why a column can go into no PostgreSQL column at all, whatever the
/// table: structs, maps and unions have no column type convoy writes, and an
/// array holds scalars (PostgreSQL arrays of arrays must be rectangular, and
/// convoy writes one-dimensional arrays). Checked when the sink opens and in
/// a dry run, before anything is contacted.
pub fn never_writable(field: &Field) -> Option<anyhow::Error> {
    let dt = field.data_type();
    let why = match dt {
        DataType::Struct(_) => "PostgreSQL has no column type convoy writes a struct into",
        DataType::Map(_, _) => "PostgreSQL has no column type convoy writes a map into",
        DataType::Union(_, _) => "PostgreSQL has no union type",
        DataType::List(inner) | DataType::LargeList(inner) if inner.data_type().is_nested() => {
            "a PostgreSQL array holds scalars, and this is a list of lists, structs or maps"
        }
        _ => return None,
    };
    Some(error::input(
        format!(
            "column \"{}\" ({}) cannot be written to PostgreSQL: {why}",
            field.name(),
            crate::schema::type_name(field)
        ),
        Some(
            "write Parquet, JSON Lines or Arrow IPC instead, or turn the column into text (e.g. JSON) in the source".to_string(),
        ),
    ))
}

/// The PostgreSQL type a new table gets for an Arrow field.
pub fn create_type(field: &Field) -> anyhow::Result<String> {
    if let Some(e) = never_writable(field) {
        return Err(e);
    }
    let declared = field.metadata().get(PG_TYPE).map(String::as_str);
    let t = match field.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => match declared {
            Some(d)
                if ["json", "jsonb", "inet", "cidr", "numeric", "text"].contains(&d)
                    || d.starts_with("character varying(")
                    || d.starts_with("character(") =>
            {
                d.to_string()
            }
            _ => "text".into(),
        },
        DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8) => {
            "text".into()
        }
        DataType::List(inner) | DataType::LargeList(inner) => {
            let elem = create_type(inner)?;
            format!("{elem}[]")
        }
        dt => scalar_create_type(field, dt).ok_or_else(|| {
            error::input(
                format!(
                    "column \"{}\" has Arrow type {dt}, which has no PostgreSQL equivalent in convoy",
                    field.name()
                ),
                Some("cast the column in the source, or create the table yourself".to_string()),
            )
        })?,
    };
    Ok(t)
}

fn scalar_create_type(field: &Field, dt: &DataType) -> Option<String> {
    Some(
        match dt {
            DataType::Boolean => "boolean",
            DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint",
            DataType::Int32 | DataType::UInt16 => "integer",
            DataType::Int64 | DataType::UInt32 => "bigint",
            DataType::UInt64 => "numeric(20,0)",
            DataType::Float16 | DataType::Float32 => "real",
            DataType::Float64 => "double precision",
            DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *s >= 0 => {
                return Some(format!("numeric({p},{s})"))
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "bytea",
            DataType::FixedSizeBinary(16) if crate::schema::is_uuid(field) => "uuid",
            DataType::FixedSizeBinary(_) => "bytea",
            DataType::Date32 | DataType::Date64 => "date",
            DataType::Time32(_) | DataType::Time64(_) => "time",
            DataType::Timestamp(_, None) => "timestamp",
            DataType::Timestamp(_, Some(_)) => "timestamptz",
            DataType::Interval(IntervalUnit::MonthDayNano) => "interval",
            _ => return None,
        }
        .to_string(),
    )
}

/// The Arrow type convoy encodes for a column of `col`'s type given the
/// source's type, or why the source column does not fit.
pub fn sink_wire(field: &Field, col: &PgColumn) -> Result<(DataType, Wire), String> {
    let src = field.data_type();
    if col.elem_oid != 0 {
        let (inner_field, _large) = match src {
            DataType::List(f) => (f.clone(), false),
            DataType::LargeList(f) => (f.clone(), true),
            _ => {
                return Err(format!(
                    "expected a list for {}, found {src}",
                    col.type_name
                ))
            }
        };
        let elem_col = PgColumn {
            oid: col.elem_oid,
            typtype: col.elem_typtype,
            elem_oid: 0,
            type_name: col.elem_name.clone(),
            ..col.clone()
        };
        let (dt, wire) = sink_wire(&inner_field, &elem_col)?;
        return Ok((
            DataType::List(Arc::new(Field::new_list_field(dt, true))),
            Wire::Array {
                elem_oid: col.elem_oid,
                elem: Box::new(wire),
            },
        ));
    }
    use oid::*;
    let is_int = matches!(
        src,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    );
    let is_text = matches!(
        src,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) || matches!(src, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8));
    let int_width = |dt: &DataType| match dt {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => 2,
        DataType::Int32 | DataType::UInt16 => 4,
        DataType::Int64 | DataType::UInt32 => 8,
        _ => 16,
    };
    let ok = |dt: DataType, w: Wire| Ok((dt, w));
    match col.oid {
        BOOL if matches!(src, DataType::Boolean) => ok(DataType::Boolean, Wire::Bool),
        INT2 if is_int && int_width(src) <= 2 => ok(DataType::Int16, Wire::Int2),
        INT4 if is_int && int_width(src) <= 4 => ok(DataType::Int32, Wire::Int4),
        INT8 if is_int && int_width(src) <= 8 => ok(DataType::Int64, Wire::Int8),
        FLOAT4 if matches!(src, DataType::Float16 | DataType::Float32) => {
            ok(DataType::Float32, Wire::Float4)
        }
        FLOAT8
            if matches!(
                src,
                DataType::Float16 | DataType::Float32 | DataType::Float64
            ) =>
        {
            ok(DataType::Float64, Wire::Float8)
        }
        NUMERIC => {
            let target = numeric_typmod(col.typmod);
            match src {
                DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
                    if let Some((tp, ts)) = target {
                        // The server would round to the column's scale: refuse instead.
                        if *s > ts || (*p as i32 - *s as i32) > (tp as i32 - ts as i32) {
                            return Err(format!(
                                "{src} does not fit {} without rounding",
                                col.type_name
                            ));
                        }
                    }
                    ok(src.clone(), Wire::Numeric { scale: *s })
                }
                _ if is_int => ok(DataType::Utf8, Wire::NumericText),
                _ if is_text => ok(DataType::Utf8, Wire::NumericText),
                _ => Err(format!(
                    "{src} cannot be stored exactly in {}",
                    col.type_name
                )),
            }
        }
        TEXT | VARCHAR | BPCHAR | NAME | JSON if is_text => ok(DataType::Utf8, Wire::Text),
        JSONB if is_text => ok(DataType::Utf8, Wire::Jsonb),
        INET | CIDR if is_text => ok(
            DataType::Utf8,
            Wire::Inet {
                cidr: col.oid == CIDR,
            },
        ),
        _ if col.typtype == 'e' && is_text => ok(DataType::Utf8, Wire::Text),
        BYTEA
            if matches!(
                src,
                DataType::Binary
                    | DataType::LargeBinary
                    | DataType::BinaryView
                    | DataType::FixedSizeBinary(_)
            ) =>
        {
            ok(DataType::Binary, Wire::Bytea)
        }
        DATE if matches!(src, DataType::Date32 | DataType::Date64) => {
            ok(DataType::Date32, Wire::Date)
        }
        TIME if matches!(src, DataType::Time32(_) | DataType::Time64(_)) => {
            ok(DataType::Time64(TimeUnit::Microsecond), Wire::Time)
        }
        TIMESTAMP if matches!(src, DataType::Timestamp(_, None)) => ok(
            DataType::Timestamp(TimeUnit::Microsecond, None),
            Wire::Timestamp,
        ),
        TIMESTAMPTZ if matches!(src, DataType::Timestamp(_, Some(_))) => ok(
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Wire::Timestamp,
        ),
        INTERVAL if matches!(src, DataType::Interval(IntervalUnit::MonthDayNano)) => {
            ok(src.clone(), Wire::Interval)
        }
        UUID if matches!(src, DataType::FixedSizeBinary(16)) => {
            ok(DataType::FixedSizeBinary(16), Wire::Uuid)
        }
        _ => Err(format!("{src} does not fit {}", col.type_name)),
    }
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(oid: u32, typmod: i32, name: &str) -> PgColumn {
        PgColumn {
            name: "c".into(),
            oid,
            typmod,
            type_name: name.into(),
            not_null: false,
            typtype: 'b',
            elem_oid: 0,
            elem_typtype: 'b',
            elem_name: String::new(),
        }
    }

    #[test]
    fn the_type_table_round_trips() {
        // (pg oid, typmod, format_type, expected arrow type)
        let numeric_18_4 = ((18 << 16) | 4) + 4;
        let numeric_50_2 = ((50 << 16) | 2) + 4;
        let cases: Vec<(u32, i32, &str, DataType)> = vec![
            (oid::INT2, -1, "smallint", DataType::Int16),
            (oid::INT4, -1, "integer", DataType::Int32),
            (oid::INT8, -1, "bigint", DataType::Int64),
            (
                oid::NUMERIC,
                numeric_18_4,
                "numeric(18,4)",
                DataType::Decimal128(18, 4),
            ),
            (
                oid::NUMERIC,
                numeric_50_2,
                "numeric(50,2)",
                DataType::Decimal256(50, 2),
            ),
            (oid::NUMERIC, -1, "numeric", DataType::Utf8),
            (oid::FLOAT4, -1, "real", DataType::Float32),
            (oid::FLOAT8, -1, "double precision", DataType::Float64),
            (oid::TEXT, -1, "text", DataType::Utf8),
            (oid::BYTEA, -1, "bytea", DataType::Binary),
            (oid::BOOL, -1, "boolean", DataType::Boolean),
            (oid::DATE, -1, "date", DataType::Date32),
            (
                oid::TIME,
                -1,
                "time without time zone",
                DataType::Time64(TimeUnit::Microsecond),
            ),
            (
                oid::TIMESTAMP,
                -1,
                "timestamp without time zone",
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ),
            (
                oid::TIMESTAMPTZ,
                -1,
                "timestamp with time zone",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ),
            (
                oid::INTERVAL,
                -1,
                "interval",
                DataType::Interval(IntervalUnit::MonthDayNano),
            ),
            (oid::UUID, -1, "uuid", DataType::FixedSizeBinary(16)),
            (oid::JSONB, -1, "jsonb", DataType::Utf8),
            (oid::INET, -1, "inet", DataType::Utf8),
        ];
        for (o, m, name, dt) in cases {
            let c = col(o, m, name);
            let field = source_column(&c).unwrap().field;
            assert_eq!(field.data_type(), &dt, "{name}");
            // …and back: a new table gets a type the value fits, and the
            // existing column accepts the field.
            let created = create_type(&field).unwrap();
            let expect = match name {
                "time without time zone" => "time",
                "timestamp without time zone" => "timestamp",
                "timestamp with time zone" => "timestamptz",
                other => other,
            };
            assert_eq!(created, expect, "{name}");
            sink_wire(&field, &c).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn numeric_scale_is_never_rounded_silently() {
        let c = col(oid::NUMERIC, ((10 << 16) | 2) + 4, "numeric(10,2)");
        let f = Field::new("c", DataType::Decimal128(10, 4), true);
        assert!(sink_wire(&f, &c).unwrap_err().contains("rounding"));
        let f = Field::new("c", DataType::Float64, true);
        assert!(sink_wire(&f, &c).is_err());
    }

    #[test]
    fn unsupported_types_name_the_column_and_hint_a_cast() {
        let mut c = col(600, -1, "point");
        c.name = "where".into();
        let e = source_column(&c).unwrap_err();
        assert!(e.to_string().contains("\"where\" has type point"), "{e}");
        assert!(crate::error::hint(&e).unwrap().contains("--query"));
    }

    #[test]
    fn typmods_decode() {
        assert_eq!(numeric_typmod(((18 << 16) | 4) + 4), Some((18, 4)));
        assert_eq!(numeric_typmod(-1), None);
    }
}
