//! Column types as users write them: `--schema id:int64,amount:decimal(18,4),…`.
//!
//! Text formats (CSV, JSON Lines) carry no types, so a schema either comes from
//! the user in this notation or is inferred from a sample (see
//! `connect::format::infer`). The same notation is printed by `convoy plan` and
//! `--dry-run`, for every Arrow type, so a schema that was printed once can be
//! pinned in a spec: [`parse_schema`] reads back whatever [`format_schema`]
//! writes.
//!
//! A column name is written as it is, or in double quotes (a quote inside
//! doubled) when it is empty, starts or ends with a space, or holds one of
//! `: , " ( ) < >`: `"a:b":string,"x,y":int32`.

use std::sync::Arc;

use arrow::datatypes::{
    DataType, Field, FieldRef, Fields, IntervalUnit, Schema, SchemaRef, TimeUnit, UnionFields,
    UnionMode,
};

/// Metadata key Arrow uses for extension types.
pub const EXTENSION_NAME: &str = "ARROW:extension:name";
/// The canonical Arrow extension name for UUIDs (stored as 16 bytes).
pub const UUID_EXTENSION: &str = "arrow.uuid";

/// A field holding UUIDs: `FixedSizeBinary(16)` tagged `arrow.uuid`.
pub fn uuid_field(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::FixedSizeBinary(16), nullable).with_metadata(
        [(EXTENSION_NAME.to_string(), UUID_EXTENSION.to_string())]
            .into_iter()
            .collect::<std::collections::HashMap<String, String>>(),
    )
}

/// Whether a field is a UUID column.
pub fn is_uuid(field: &Field) -> bool {
    matches!(field.data_type(), DataType::FixedSizeBinary(16))
        && field.metadata().get(EXTENSION_NAME).map(String::as_str) == Some(UUID_EXTENSION)
}

/// The names accepted in a schema string, for error hints.
pub const TYPE_NAMES: &str = "bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, \
float16, float32, float64, decimal(p,s), string, binary, fixed_binary(n), uuid, date, date64, \
time, time(unit), timestamp, timestamp(unit), timestamptz, timestamp(unit, zone), \
duration(unit), interval(year_month|day_time|month_day_nano), null, list<type>, \
large_list<type>, fixed_list<type, n>, struct<name:type, …>, map<key, value>, \
sparse_union<name:type, …>, dense_union<name:type, …>";

/// Parse one type name such as `decimal(18,4)` or `timestamp(us, UTC)`.
#[allow(dead_code)] // the schema parser's entry for one type; tests use it
pub fn parse_type(text: &str) -> Result<DataType, String> {
    let mut p = Parser::new(text);
    let field = p.typed("")?;
    p.space();
    if !p.done() {
        return Err(format!("unexpected {:?} after the type", p.rest()));
    }
    Ok(field.data_type().clone())
}

/// Parse `name:type,name:type,…`. Commas inside parentheses and angle
/// brackets belong to the type; quoted names may hold anything.
pub fn parse_schema(text: &str) -> Result<SchemaRef, String> {
    let mut p = Parser::new(text);
    let fields = p.fields(None)?;
    let mut seen = std::collections::HashSet::new();
    for f in &fields {
        if !seen.insert(f.name().clone()) {
            return Err(format!("column {:?} appears twice in the schema", f.name()));
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Parser<'a> {
        Parser { s, i: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += self.peek().map_or(0, char::len_utf8);
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.space();
        if self.peek() == Some(c) {
            self.i += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Fields up to `end` (or the end of the text), separated by commas.
    fn fields(&mut self, end: Option<char>) -> Result<Vec<Field>, String> {
        let mut fields = Vec::new();
        loop {
            let start = self.i;
            let name = self.name().map_err(|e| {
                let entry = self.entry_text(start);
                if end.is_none() {
                    format!("schema entry {} ({entry:?}) {e}", fields.len() + 1)
                } else {
                    format!("{entry:?} {e}")
                }
            })?;
            fields.push(
                self.typed(&name)
                    .map_err(|e| format!("column {name:?}: {e}"))?,
            );
            if self.eat(',') {
                continue;
            }
            self.space();
            match end {
                Some(c) if self.eat(c) => return Ok(fields),
                Some(c) => {
                    return Err(format!(
                        "expected ',' or '{c}' after column {name:?}, found {:?}",
                        self.rest()
                    ))
                }
                None if self.done() => return Ok(fields),
                None => {
                    return Err(format!(
                        "expected ',' after column {name:?}, found {:?}",
                        self.rest()
                    ))
                }
            }
        }
    }

    /// The text of one schema entry, for messages.
    fn entry_text(&self, start: usize) -> String {
        let tail = &self.s[start..];
        tail.split(',').next().unwrap_or(tail).trim().to_string()
    }

    /// A column name and its colon: `"quoted ""name"""` or text up to the
    /// colon.
    fn name(&mut self) -> Result<String, String> {
        self.space();
        let name = if self.peek() == Some('"') {
            self.i += 1;
            let mut name = String::new();
            loop {
                match self.peek() {
                    None => return Err("has a quoted name without its closing quote".into()),
                    Some('"') => {
                        self.i += 1;
                        if self.peek() == Some('"') {
                            self.i += 1;
                            name.push('"');
                        } else {
                            break;
                        }
                    }
                    Some(c) => {
                        self.i += c.len_utf8();
                        name.push(c);
                    }
                }
            }
            name
        } else {
            let rest = self.rest();
            let end = rest
                .find([':', ',', '<', '>'])
                .filter(|&e| rest.as_bytes()[e] == b':')
                .ok_or("is not name:type")?;
            let name = rest[..end].trim().to_string();
            self.i += end;
            if name.is_empty() {
                return Err("has an empty column name".into());
            }
            name
        };
        if !self.eat(':') {
            return Err("is not name:type".into());
        }
        Ok(name)
    }

    /// A type, as the field `name`.
    fn typed(&mut self, name: &str) -> Result<Field, String> {
        self.space();
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.i += 1;
        }
        let head = self.s[start..self.i].to_ascii_lowercase();
        if head.is_empty() {
            return Err(format!("expected a type, found {:?}", self.rest()));
        }
        let mut args: Vec<String> = Vec::new();
        if self.eat('(') {
            let rest = self.rest();
            let close = rest
                .find(')')
                .ok_or_else(|| format!("unbalanced parentheses in type {:?}", &self.s[start..]))?;
            args = rest[..close]
                .split(',')
                .map(|a| a.trim().to_string())
                .collect();
            self.i += close + 1;
        }
        let dt = match head.as_str() {
            "list" | "large_list" | "fixed_list" => {
                if !self.eat('<') {
                    return Err(format!("{head} needs its item type: {head}<int64>"));
                }
                let item = Arc::new(self.typed("item")?);
                let dt = match head.as_str() {
                    "list" => DataType::List(item),
                    "large_list" => DataType::LargeList(item),
                    _ => {
                        if !self.eat(',') {
                            return Err("fixed_list needs a size: fixed_list<int64, 3>".into());
                        }
                        self.space();
                        let digits: String = self
                            .rest()
                            .chars()
                            .take_while(char::is_ascii_digit)
                            .collect();
                        self.i += digits.len();
                        let n: i32 = digits
                            .parse()
                            .map_err(|_| format!("fixed_list size {digits:?} is not a number"))?;
                        DataType::FixedSizeList(item, n)
                    }
                };
                if !self.eat('>') {
                    return Err(format!("{head}<…> is not closed with '>'"));
                }
                dt
            }
            "struct" => {
                if !self.eat('<') {
                    return Err("struct needs its fields: struct<a:int64, b:string>".into());
                }
                if self.eat('>') {
                    DataType::Struct(Fields::empty())
                } else {
                    DataType::Struct(self.fields(Some('>'))?.into())
                }
            }
            "map" => {
                if !self.eat('<') {
                    return Err("map needs key and value types: map<string, int64>".into());
                }
                let mut key = self.typed("key")?;
                key.set_nullable(false);
                if !self.eat(',') {
                    return Err("map needs key and value types: map<string, int64>".into());
                }
                let value = self.typed("value")?;
                if !self.eat('>') {
                    return Err("map<…> is not closed with '>'".into());
                }
                let entries = Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![key, value])),
                    false,
                );
                DataType::Map(Arc::new(entries), false)
            }
            "sparse_union" | "dense_union" => {
                if !self.eat('<') {
                    return Err(format!(
                        "{head} needs its members: {head}<a:int64, b:string>"
                    ));
                }
                let members = self.fields(Some('>'))?;
                let ids: Vec<i8> = (0..members.len() as i8).collect();
                let fields = UnionFields::try_new(ids, members).map_err(|e| e.to_string())?;
                let mode = if head == "sparse_union" {
                    UnionMode::Sparse
                } else {
                    UnionMode::Dense
                };
                DataType::Union(fields, mode)
            }
            _ => {
                if self.eat('<') {
                    return Err(format!("type {head} takes no <…>"));
                }
                if head == "uuid" && args.is_empty() {
                    return Ok(uuid_field(name, true));
                }
                simple_type(&head, &args, &self.s[start..self.i])?
            }
        };
        Ok(Field::new(name, dt, true))
    }
}

/// A type without `<…>`: its name and the arguments in parentheses.
fn simple_type(head: &str, args: &[String], text: &str) -> Result<DataType, String> {
    let no_args = |dt: DataType| {
        if args.is_empty() {
            Ok(dt)
        } else {
            Err(format!("type {head} takes no arguments"))
        }
    };
    let one_unit = || -> Result<TimeUnit, String> {
        match args {
            [u] => parse_unit(u),
            _ => Err(format!("{head} takes one unit: {head}(ms)")),
        }
    };
    match head {
        "bool" | "boolean" => no_args(DataType::Boolean),
        "int8" | "tinyint" => no_args(DataType::Int8),
        "int16" | "smallint" => no_args(DataType::Int16),
        "int32" | "int" | "integer" => no_args(DataType::Int32),
        "int64" | "bigint" | "long" => no_args(DataType::Int64),
        "uint8" => no_args(DataType::UInt8),
        "uint16" => no_args(DataType::UInt16),
        "uint32" => no_args(DataType::UInt32),
        "uint64" => no_args(DataType::UInt64),
        "float16" | "halffloat" => no_args(DataType::Float16),
        "float32" | "float" | "real" => no_args(DataType::Float32),
        "float64" | "double" => no_args(DataType::Float64),
        "string" | "text" | "utf8" | "varchar" => no_args(DataType::Utf8),
        "binary" | "bytes" | "bytea" => no_args(DataType::Binary),
        "null" => no_args(DataType::Null),
        "date" | "date32" => no_args(DataType::Date32),
        "date64" => no_args(DataType::Date64),
        "uuid" => Err("type uuid takes no arguments".into()),
        "fixed_binary" | "fixedsizebinary" => match args {
            [n] => n
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .map(DataType::FixedSizeBinary)
                .ok_or_else(|| format!("fixed_binary size {n:?} is not a number")),
            _ => Err("fixed_binary takes its size in bytes: fixed_binary(4)".into()),
        },
        "time" => {
            if args.is_empty() {
                return Ok(DataType::Time64(TimeUnit::Microsecond));
            }
            Ok(match one_unit()? {
                u @ (TimeUnit::Second | TimeUnit::Millisecond) => DataType::Time32(u),
                u => DataType::Time64(u),
            })
        }
        "duration" => Ok(DataType::Duration(one_unit()?)),
        "interval" => match args {
            [u] => match u.to_ascii_lowercase().as_str() {
                "year_month" => Ok(DataType::Interval(IntervalUnit::YearMonth)),
                "day_time" => Ok(DataType::Interval(IntervalUnit::DayTime)),
                "month_day_nano" => Ok(DataType::Interval(IntervalUnit::MonthDayNano)),
                other => Err(format!(
                    "unknown interval unit {other:?} (year_month, day_time or month_day_nano)"
                )),
            },
            _ => Err("interval takes its unit: interval(month_day_nano)".into()),
        },
        "decimal" | "numeric" => {
            let [p, s] = args else {
                return Err("decimal needs precision and scale: decimal(18,4)".into());
            };
            let p: u8 = p
                .parse()
                .map_err(|_| format!("decimal precision {p:?} is not a number"))?;
            let s: i8 = s
                .parse()
                .map_err(|_| format!("decimal scale {s:?} is not a number"))?;
            if p == 0 || p > 76 {
                return Err(format!("decimal precision {p} is outside 1..=76"));
            }
            if s < 0 || s as u8 > p {
                return Err(format!("decimal scale {s} is outside 0..={p}"));
            }
            Ok(if p <= 38 {
                DataType::Decimal128(p, s)
            } else {
                DataType::Decimal256(p, s)
            })
        }
        "timestamp" | "timestamptz" => {
            let zoned_default = head == "timestamptz";
            let (unit, zone) = match args {
                [] => (TimeUnit::Microsecond, None),
                [u] => (parse_unit(u)?, None),
                [u, z] => (parse_unit(u)?, Some(z.clone())),
                _ => return Err("timestamp takes at most a unit and a zone".into()),
            };
            let zone = match (zone, zoned_default) {
                (Some(z), _) => Some(z),
                (None, true) => Some("UTC".to_string()),
                (None, false) => None,
            };
            if let Some(z) = &zone {
                validate_zone(z)?;
            }
            Ok(DataType::Timestamp(unit, zone.map(Arc::from)))
        }
        _ => Err(format!("unknown type {:?}", text.trim())),
    }
}

fn validate_zone(zone: &str) -> Result<(), String> {
    zone.parse::<arrow::array::timezone::Tz>()
        .map(|_| ())
        .map_err(|_| {
            format!("unknown time zone {zone:?}; use UTC, a fixed offset such as +02:00, or an IANA name")
        })
}

fn parse_unit(u: &str) -> Result<TimeUnit, String> {
    match u.to_ascii_lowercase().as_str() {
        "s" => Ok(TimeUnit::Second),
        "ms" => Ok(TimeUnit::Millisecond),
        "us" => Ok(TimeUnit::Microsecond),
        "ns" => Ok(TimeUnit::Nanosecond),
        other => Err(format!("unknown time unit {other:?} (s, ms, us or ns)")),
    }
}

fn unit_name(u: &TimeUnit) -> &'static str {
    match u {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

/// The schema-string name of a field's type (`uuid` for UUID columns).
pub fn type_name(field: &Field) -> String {
    if is_uuid(field) {
        return "uuid".into();
    }
    type_name_of(field.data_type())
}

/// The schema-string name of a type; [`parse_type`] reads it back. A
/// dictionary is written as its values' type (it is an encoding of them).
pub fn type_name_of(dt: &DataType) -> String {
    let item = |f: &FieldRef| type_name(f);
    let members = |fs: &mut dyn Iterator<Item = &FieldRef>| {
        fs.map(|f| format!("{}:{}", quote_name(f.name()), type_name(f)))
            .collect::<Vec<_>>()
            .join(",")
    };
    match dt {
        DataType::Null => "null".into(),
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float16 => "float16".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".into(),
        DataType::FixedSizeBinary(n) => format!("fixed_binary({n})"),
        DataType::Date32 => "date".into(),
        DataType::Date64 => "date64".into(),
        DataType::Time64(TimeUnit::Microsecond) => "time".into(),
        DataType::Time32(u) | DataType::Time64(u) => format!("time({})", unit_name(u)),
        DataType::Duration(u) => format!("duration({})", unit_name(u)),
        DataType::Interval(IntervalUnit::YearMonth) => "interval(year_month)".into(),
        DataType::Interval(IntervalUnit::DayTime) => "interval(day_time)".into(),
        DataType::Interval(IntervalUnit::MonthDayNano) => "interval(month_day_nano)".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Timestamp(u, None) => format!("timestamp({})", unit_name(u)),
        DataType::Timestamp(u, Some(z)) => format!("timestamp({}, {z})", unit_name(u)),
        DataType::List(f) | DataType::ListView(f) => format!("list<{}>", item(f)),
        DataType::LargeList(f) | DataType::LargeListView(f) => format!("large_list<{}>", item(f)),
        DataType::FixedSizeList(f, n) => format!("fixed_list<{}, {n}>", item(f)),
        DataType::Struct(fs) => format!("struct<{}>", members(&mut fs.iter())),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!("map<{}, {}>", item(&kv[0]), item(&kv[1]))
            }
            other => format!("map<{}>", type_name_of(other)),
        },
        DataType::Union(fs, mode) => format!(
            "{}_union<{}>",
            match mode {
                UnionMode::Sparse => "sparse",
                UnionMode::Dense => "dense",
            },
            members(&mut fs.iter().map(|(_, f)| f))
        ),
        DataType::Dictionary(_, v) => type_name_of(v),
        DataType::RunEndEncoded(_, v) => type_name_of(v.data_type()),
        #[allow(unreachable_patterns)]
        other => other.to_string(),
    }
}

/// A column name as the notation writes it: quoted when it must be.
pub fn quote_name(name: &str) -> String {
    let plain = !name.is_empty()
        && !name.starts_with(char::is_whitespace)
        && !name.ends_with(char::is_whitespace)
        && !name.contains([':', ',', '"', '(', ')', '<', '>']);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `name:type,…` for a whole schema; parses back with [`parse_schema`].
pub fn format_schema(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}:{}", quote_name(f.name()), type_name(f)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_strings_round_trip() {
        let text = "id:int64,amount:decimal(18,4),big:decimal(50,10),at:timestamp(us, UTC),\
                    local:timestamp(ns),d:date,ok:bool,name:string,u:uuid,f:float64";
        let schema = parse_schema(text).unwrap();
        assert_eq!(schema.field(1).data_type(), &DataType::Decimal128(18, 4));
        assert_eq!(schema.field(2).data_type(), &DataType::Decimal256(50, 10));
        assert!(is_uuid(schema.field(8)));
        let printed = format_schema(&schema);
        assert_eq!(parse_schema(&printed).unwrap(), schema);
    }

    /// Every type convoy can print parses back to itself (nested types up to
    /// the names Arrow gives list items and map entries).
    #[test]
    fn every_printed_type_parses_back() {
        let item = |dt: DataType| Arc::new(Field::new("element", dt, true));
        let types = vec![
            DataType::Null,
            DataType::Float16,
            DataType::FixedSizeBinary(4),
            DataType::Date64,
            DataType::Time32(TimeUnit::Second),
            DataType::Time32(TimeUnit::Millisecond),
            DataType::Time64(TimeUnit::Microsecond),
            DataType::Time64(TimeUnit::Nanosecond),
            DataType::Duration(TimeUnit::Second),
            DataType::Duration(TimeUnit::Nanosecond),
            DataType::Interval(IntervalUnit::MonthDayNano),
            DataType::Interval(IntervalUnit::YearMonth),
            DataType::Timestamp(TimeUnit::Second, Some("Asia/Kolkata".into())),
            DataType::Timestamp(TimeUnit::Millisecond, Some("+05:30".into())),
            DataType::List(item(DataType::Int64)),
            DataType::LargeList(item(DataType::Utf8)),
            DataType::FixedSizeList(item(DataType::Float32), 3),
            DataType::Struct(Fields::from(vec![
                Field::new("a", DataType::Int64, true),
                Field::new("b c", DataType::Utf8, true),
                Field::new("x:y", DataType::List(item(DataType::Boolean)), true),
            ])),
            DataType::Map(
                Arc::new(Field::new(
                    "key_value",
                    DataType::Struct(Fields::from(vec![
                        Field::new("key", DataType::Utf8, false),
                        Field::new("value", DataType::Int64, true),
                    ])),
                    false,
                )),
                false,
            ),
            DataType::Union(
                UnionFields::try_new(
                    vec![0, 1],
                    vec![
                        Field::new("i", DataType::Int64, true),
                        Field::new("s", DataType::Utf8, true),
                    ],
                )
                .unwrap(),
                UnionMode::Dense,
            ),
        ];
        for dt in types {
            let text = type_name_of(&dt);
            let back = parse_type(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(type_name_of(&back), text, "{dt}");
            if !dt.is_nested() {
                assert_eq!(back, dt, "{text}");
            }
        }
        // A dictionary is written as its values.
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        assert_eq!(type_name_of(&dict), "string");
    }

    #[test]
    fn names_with_separators_are_quoted() {
        let schema = Schema::new(vec![
            Field::new("a:b", DataType::Utf8, true),
            Field::new("x,y", DataType::Int32, true),
            Field::new("say \"hi\"", DataType::Int32, true),
            Field::new("", DataType::Int32, true),
            Field::new(" padded ", DataType::Int32, true),
            Field::new("plain name", DataType::FixedSizeBinary(4), true),
        ]);
        let text = format_schema(&schema);
        assert_eq!(
            text,
            r#""a:b":string,"x,y":int32,"say ""hi""":int32,"":int32," padded ":int32,plain name:fixed_binary(4)"#
        );
        assert_eq!(*parse_schema(&text).unwrap(), schema);
    }

    #[test]
    fn aliases_and_zones() {
        assert_eq!(parse_type("BIGINT").unwrap(), DataType::Int64);
        assert_eq!(
            parse_type("timestamptz").unwrap(),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            parse_type("timestamp(ms, +02:00)").unwrap(),
            DataType::Timestamp(TimeUnit::Millisecond, Some("+02:00".into()))
        );
        assert!(parse_type("timestamp(us, Mars/Olympus)").is_err());
        assert!(parse_type("timestamp(us, Europe/Paris)").is_ok());
        assert_eq!(
            parse_type("FixedSizeBinary(4)").unwrap(),
            DataType::FixedSizeBinary(4)
        );
        assert_eq!(parse_type("halffloat").unwrap(), DataType::Float16);
    }

    #[test]
    fn bad_schemas_say_why() {
        assert!(parse_schema("id").unwrap_err().contains("not name:type"));
        assert!(parse_schema("a:int,a:int").unwrap_err().contains("twice"));
        assert!(parse_schema("a:decimal(80,2)")
            .unwrap_err()
            .contains("1..=76"));
        assert!(parse_schema("a:decimal(10,12)")
            .unwrap_err()
            .contains("scale"));
        assert!(parse_schema("a:nope").unwrap_err().contains("unknown type"));
        assert!(parse_schema(":int64")
            .unwrap_err()
            .contains("empty column name"));
        assert!(parse_schema("\"a:int64")
            .unwrap_err()
            .contains("closing quote"));
        assert!(parse_schema("a:list<int64")
            .unwrap_err()
            .contains("not closed"));
        assert!(parse_schema("a:int64 b:int64")
            .unwrap_err()
            .contains("expected ','"));
    }
}
