//! Column types as users write them: `--schema id:int64,amount:decimal(18,4),…`.
//!
//! Text formats (CSV, JSON Lines) carry no types, so a schema either comes from
//! the user in this notation or is inferred from a sample (see
//! `connect::file::infer`). The same notation is printed by `convoy plan` so a
//! schema that was inferred once can be pinned in a spec.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

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
float32, float64, decimal(p,s), string, binary, date, time, timestamp, timestamp(unit), \
timestamptz, timestamp(unit, zone), uuid";

/// Parse one type name such as `decimal(18,4)` or `timestamp(us, UTC)`.
pub fn parse_type(text: &str) -> Result<DataType, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let (head, args) = match lower.find('(') {
        Some(open) if lower.ends_with(')') => {
            let args: Vec<String> = t[open + 1..t.len() - 1]
                .split(',')
                .map(|a| a.trim().to_string())
                .collect();
            (lower[..open].trim().to_string(), args)
        }
        Some(_) => return Err(format!("unbalanced parentheses in type {t:?}")),
        None => (lower.clone(), Vec::new()),
    };
    let no_args = |dt: DataType| {
        if args.is_empty() {
            Ok(dt)
        } else {
            Err(format!("type {head} takes no arguments"))
        }
    };
    match head.as_str() {
        "bool" | "boolean" => no_args(DataType::Boolean),
        "int8" | "tinyint" => no_args(DataType::Int8),
        "int16" | "smallint" => no_args(DataType::Int16),
        "int32" | "int" | "integer" => no_args(DataType::Int32),
        "int64" | "bigint" | "long" => no_args(DataType::Int64),
        "uint8" => no_args(DataType::UInt8),
        "uint16" => no_args(DataType::UInt16),
        "uint32" => no_args(DataType::UInt32),
        "uint64" => no_args(DataType::UInt64),
        "float32" | "float" | "real" => no_args(DataType::Float32),
        "float64" | "double" => no_args(DataType::Float64),
        "string" | "text" | "utf8" | "varchar" => no_args(DataType::Utf8),
        "binary" | "bytes" => no_args(DataType::Binary),
        "date" => no_args(DataType::Date32),
        "time" => no_args(DataType::Time64(TimeUnit::Microsecond)),
        "uuid" => no_args(DataType::FixedSizeBinary(16)),
        "decimal" | "numeric" => {
            let [p, s] = args.as_slice() else {
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
            let (unit, zone) = match args.as_slice() {
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
        _ => Err(format!("unknown type {t:?}")),
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

/// The schema-string name of a field's type, or the Arrow name for types the
/// notation does not cover.
pub fn type_name(field: &Field) -> String {
    if is_uuid(field) {
        return "uuid".into();
    }
    match field.data_type() {
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".into(),
        DataType::Date32 => "date".into(),
        DataType::Time64(TimeUnit::Microsecond) => "time".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Timestamp(u, None) => format!("timestamp({})", unit_name(u)),
        DataType::Timestamp(u, Some(z)) => format!("timestamp({}, {z})", unit_name(u)),
        other => other.to_string(),
    }
}

/// `name:type,…` for a whole schema; parses back with [`parse_schema`].
pub fn format_schema(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}:{}", f.name(), type_name(f)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parse `name:type,name:type,…`. Commas inside parentheses belong to the type.
pub fn parse_schema(text: &str) -> Result<SchemaRef, String> {
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut parts = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    let mut seen = std::collections::HashSet::new();
    for (i, part) in parts.iter().enumerate() {
        let part = part.trim();
        let Some((name, ty)) = part.split_once(':') else {
            return Err(format!(
                "schema entry {} ({part:?}) is not name:type",
                i + 1
            ));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("schema entry {} has an empty column name", i + 1));
        }
        if !seen.insert(name.to_string()) {
            return Err(format!("column {name:?} appears twice in the schema"));
        }
        let dt = parse_type(ty).map_err(|e| format!("column {name:?}: {e}"))?;
        if dt == DataType::FixedSizeBinary(16) {
            fields.push(uuid_field(name, true));
        } else {
            fields.push(Field::new(name, dt, true));
        }
    }
    Ok(Arc::new(Schema::new(fields)))
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
    }
}
