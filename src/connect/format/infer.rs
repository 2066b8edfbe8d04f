//! Schema inference for CSV samples, with exact types.
//!
//! A column's type is the narrowest that holds every sampled value exactly:
//! booleans, 64-bit integers, decimals (kept as decimals with the largest
//! scale seen; never widened to a float), floats (only when a value uses an
//! exponent, `NaN` or `inf`), dates, timestamps with a zone (every value has
//! an offset) or without (none has), else strings. An inferred decimal's
//! scale is the sample's largest; its precision is 18 when the sample's
//! values leave four more integer digits of room, else 38, so rows past the
//! sample with larger values still fit (or fail loudly, never rounded).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::conform::{parse_date, parse_timestamp, Zone};

/// Integer digits an inferred decimal may grow beyond the sample's largest
/// value before it needs the wider decimal(38, s).
const DECIMAL_HEADROOM: usize = 4;

#[derive(Debug, Clone)]
struct Column {
    seen: usize,
    bool_ok: bool,
    int_ok: bool,
    dec_ok: bool,
    float_ok: bool,
    date_ok: bool,
    ts_zoned_ok: bool,
    ts_naive_ok: bool,
    max_scale: u8,
    max_int_digits: u8,
    max_frac_ts: u8,
    /// Every value is the shortest text of a float64 (it reads back the
    /// same from the float).
    float_exact: bool,
    /// Some value has more significant digits than a float64 always keeps
    /// (16 or more): what float printers write, not a decimal.
    long_digits: bool,
}

impl Column {
    fn new() -> Column {
        Column {
            seen: 0,
            bool_ok: true,
            int_ok: true,
            dec_ok: true,
            float_ok: true,
            date_ok: true,
            ts_zoned_ok: true,
            ts_naive_ok: true,
            max_scale: 0,
            max_int_digits: 0,
            max_frac_ts: 0,
            float_exact: true,
            long_digits: false,
        }
    }

    fn observe(&mut self, v: &str) {
        self.seen += 1;
        if self.bool_ok && !is_bool_word(v) {
            self.bool_ok = false;
        }
        if leading_zero(v) || v.starts_with('+') {
            // "007", "01234" or "+4915…" are codes and phone numbers, not
            // numbers: keep them as text.
            self.int_ok = false;
            self.dec_ok = false;
            self.float_ok = false;
        }
        if self.int_ok && v.parse::<i64>().is_err() {
            self.int_ok = false;
        }
        if self.dec_ok {
            match plain_decimal(v) {
                Some((int_digits, scale)) => {
                    self.max_int_digits = self.max_int_digits.max(int_digits);
                    self.max_scale = self.max_scale.max(scale);
                }
                None => self.dec_ok = false,
            }
        }
        if self.float_ok {
            match v.parse::<f64>() {
                Ok(f) => {
                    if self.float_exact && !float_round_trips(v, f) {
                        self.float_exact = false;
                    }
                    if significant_digits(v) >= 16 {
                        self.long_digits = true;
                    }
                }
                Err(_) => self.float_ok = false,
            }
        }
        if self.date_ok && parse_date(v).is_err() {
            self.date_ok = false;
        }
        if self.ts_zoned_ok || self.ts_naive_ok {
            match parse_timestamp(v, TimeUnit::Nanosecond, Zone::Any) {
                Ok(ts) => {
                    if ts.zoned {
                        self.ts_naive_ok = false;
                    } else {
                        self.ts_zoned_ok = false;
                    }
                    self.max_frac_ts = self.max_frac_ts.max(ts.frac_digits);
                }
                Err(_) => {
                    self.ts_zoned_ok = false;
                    self.ts_naive_ok = false;
                }
            }
        }
    }

    fn data_type(&self) -> DataType {
        if self.seen == 0 {
            return DataType::Utf8;
        }
        if self.bool_ok {
            return DataType::Boolean;
        }
        if self.int_ok {
            return DataType::Int64;
        }
        let digits = self.max_int_digits as usize + self.max_scale as usize;
        if self.dec_ok && self.float_ok && self.float_exact && self.long_digits {
            // 0.007150221951635061: how PostgreSQL, Python and JavaScript
            // print a double; the float reads back as the same text.
            return DataType::Float64;
        }
        if self.dec_ok && digits <= 38 {
            // decimal(18, s) is stored as a 64-bit integer (fast, small); use
            // it when the sample leaves four digits of headroom.
            let precision = if digits + DECIMAL_HEADROOM <= 18 {
                18
            } else {
                38
            };
            return DataType::Decimal128(precision, self.max_scale as i8);
        }
        if self.float_ok && !self.dec_ok && self.float_exact {
            // A value the float would change (1e400, 21 digits) keeps the
            // column as text.
            return DataType::Float64;
        }
        if self.date_ok {
            return DataType::Date32;
        }
        let unit = if self.max_frac_ts > 6 {
            TimeUnit::Nanosecond
        } else {
            TimeUnit::Microsecond
        };
        if self.ts_zoned_ok {
            return DataType::Timestamp(unit, Some("UTC".into()));
        }
        if self.ts_naive_ok {
            return DataType::Timestamp(unit, None);
        }
        DataType::Utf8
    }
}

/// The words an inferred boolean column holds (PostgreSQL writes `t`/`f`).
fn is_bool_word(v: &str) -> bool {
    ["true", "false", "t", "f"]
        .iter()
        .any(|w| v.eq_ignore_ascii_case(w))
}

/// Significant digits of a number's text (mantissa, without leading zeros).
fn significant_digits(v: &str) -> usize {
    let mant = v.split(['e', 'E']).next().unwrap_or(v);
    let digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    let start = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    let end = digits
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(start, |e| e + 1);
    end.saturating_sub(start)
}

/// (negative, significant digits, power of ten of the first digit) of a
/// number's text; `None` when it is not plain digits with an optional
/// exponent.
fn normal_form(v: &str) -> Option<(bool, String, i64)> {
    let (neg, body) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all: String = format!("{int}{frac}");
    let lead = all.bytes().take_while(|&b| b == b'0').count();
    let digits = all[lead..].trim_end_matches('0').to_string();
    if digits.is_empty() {
        return Some((neg, digits, 0));
    }
    Some((neg, digits, exp + int.len() as i64 - lead as i64 - 1))
}

/// Whether `f` (parsed from `v`) prints back as the same number: its
/// shortest text has the same digits and exponent.
fn float_round_trips(v: &str, f: f64) -> bool {
    if !f.is_finite() {
        // Only the words for them, not a number beyond the range.
        let w = v.trim_start_matches(['-', '+']);
        return w.eq_ignore_ascii_case("nan")
            || w.eq_ignore_ascii_case("inf")
            || w.eq_ignore_ascii_case("infinity");
    }
    match (normal_form(v), normal_form(&format!("{f:e}"))) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Whether the integer part of a number-like value starts with a zero that
/// a number type would drop.
fn leading_zero(v: &str) -> bool {
    let b = v.trim_start_matches(['-', '+']).as_bytes();
    b.len() > 1 && b[0] == b'0' && b[1].is_ascii_digit()
}

/// `[-+]digits[.digits]` → (integer digits without leading zeros, scale).
fn plain_decimal(v: &str) -> Option<(u8, u8)> {
    let b = v.as_bytes();
    let b = match b.first() {
        Some(b'-' | b'+') => &b[1..],
        _ => b,
    };
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[..0]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.iter().all(u8::is_ascii_digit) || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let significant = int.iter().skip_while(|&&c| c == b'0').count();
    if significant > 76 || frac.len() > 76 {
        return None;
    }
    Some((significant as u8, frac.len() as u8))
}

/// Infer a schema from CSV records (header already removed). `null` is the
/// text that stands for NULL; such values say nothing about a column's type.
pub fn infer(names: &[String], records: &[csv::StringRecord], null: &str) -> SchemaRef {
    let mut cols = vec![Column::new(); names.len()];
    for rec in records {
        for (i, v) in rec.iter().enumerate().take(cols.len()) {
            if v == null || (null.is_empty() && v.is_empty()) {
                continue;
            }
            cols[i].observe(v);
        }
    }
    let fields: Vec<Field> = names
        .iter()
        .zip(&cols)
        .map(|(n, c)| Field::new(n, c.data_type(), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// The type an inferred column is read again with when `value`, past the
/// sample, does not fit `current`: a decimal wide enough when the value is a
/// plain number and the column holds numbers, nanoseconds for a timestamp
/// with more fractional digits, else text, which holds every value exactly.
pub fn widen(current: &DataType, value: &str) -> DataType {
    let v = value.trim();
    let number = !(leading_zero(v) || v.starts_with('+'));
    match current {
        DataType::Int64 | DataType::Decimal128(..) if number => {
            let Some((int, scale)) = plain_decimal(v) else {
                return DataType::Utf8;
            };
            let (room, had) = match current {
                DataType::Decimal128(p, s) => ((*p as i16 - *s as i16).max(0) as u8, *s as u8),
                // An int64 holds up to 19 digits.
                _ => (19, 0),
            };
            let (int, scale) = (int.max(room), scale.max(had));
            if int as usize + scale as usize <= 38 {
                DataType::Decimal128(38, scale as i8)
            } else {
                DataType::Utf8
            }
        }
        DataType::Timestamp(unit, tz) if *unit != TimeUnit::Nanosecond => {
            match parse_timestamp(v, TimeUnit::Nanosecond, Zone::Any) {
                Ok(ts) if ts.zoned == tz.is_some() => {
                    DataType::Timestamp(TimeUnit::Nanosecond, tz.clone())
                }
                _ => DataType::Utf8,
            }
        }
        _ => DataType::Utf8,
    }
}

/// Whether a non-empty `v` reads as a value of `t` (a typed column; text
/// says nothing): the test of whether a CSV's first line is data.
pub fn fits(v: &str, t: &DataType) -> bool {
    let number = !(leading_zero(v) || v.starts_with('+'));
    match t {
        DataType::Boolean => is_bool_word(v),
        t if t.is_integer() => number && v.parse::<i64>().is_ok(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            number
                && plain_decimal(v).is_some_and(|(int, scale)| {
                    scale as i16 <= *s as i16 && int as i16 <= *p as i16 - *s as i16
                })
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            number && v.parse::<f64>().is_ok()
        }
        DataType::Date32 => parse_date(v).is_ok(),
        DataType::Timestamp(_, tz) => parse_timestamp(v, TimeUnit::Nanosecond, Zone::Any)
            .is_ok_and(|ts| ts.zoned == tz.is_some()),
        _ => false,
    }
}

/// Whether the first of `records` is data rather than a header: every
/// field of it fits its column's type (inferred from the other records, or
/// declared), and at least one column is typed. Columns all text, or too
/// few records to tell: a header (as DuckDB decides).
pub fn first_is_data(records: &[csv::StringRecord], declared: Option<&Schema>, null: &str) -> bool {
    let Some((first, rest)) = records.split_first() else {
        return false;
    };
    let types: Vec<DataType> = match declared {
        Some(s) => s.fields().iter().map(|f| f.data_type().clone()).collect(),
        None => {
            if rest.is_empty() {
                return false;
            }
            let names: Vec<String> = (0..first.len()).map(|i| i.to_string()).collect();
            infer(&names, rest, null)
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect()
        }
    };
    if first.len() != types.len() {
        return false;
    }
    let mut typed = false;
    for (v, t) in first.iter().zip(&types) {
        if matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            continue;
        }
        if v.is_empty() || v == null {
            continue;
        }
        if !fits(v, t) {
            return false;
        }
        typed = true;
    }
    typed
}

/// Header names as a table can hold them: an empty name becomes `columnN`
/// (its position, from 1), a repeated one `name_1`, `name_2`, … (as DuckDB
/// does). Returns the names and what was renamed, for a warning.
pub fn dedupe_names(names: &[String]) -> (Vec<String>, Vec<String>) {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    let mut renamed = Vec::new();
    let taken = |out: &[String], n: &str, all: &[String]| {
        out.iter().any(|o| o == n) || all.iter().any(|o| o == n)
    };
    for (i, n) in names.iter().enumerate() {
        let name = if n.is_empty() {
            let mut c = format!("column{}", i + 1);
            let mut k = 1;
            while taken(&out, &c, names) {
                c = format!("column{}_{k}", i + 1);
                k += 1;
            }
            renamed.push(format!("column {} has no name; it is named \"{c}\"", i + 1));
            c
        } else if out.iter().any(|o| o == n) {
            let mut k = 1;
            let mut c = format!("{n}_{k}");
            while taken(&out, &c, names) {
                k += 1;
                c = format!("{n}_{k}");
            }
            renamed.push(format!(
                "column {} repeats the name \"{n}\"; it is named \"{c}\"",
                i + 1
            ));
            c
        } else {
            n.clone()
        };
        out.push(name);
    }
    (out, renamed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer_one(values: &[&str]) -> DataType {
        let recs: Vec<csv::StringRecord> = values
            .iter()
            .map(|v| csv::StringRecord::from(vec![*v]))
            .collect();
        infer(&["c".to_string()], &recs, "")
            .field(0)
            .data_type()
            .clone()
    }

    #[test]
    fn exact_types_are_inferred() {
        assert_eq!(infer_one(&["1", "-2", ""]), DataType::Int64);
        assert_eq!(
            infer_one(&["1.50", "-2", "3.1234"]),
            DataType::Decimal128(18, 4)
        );
        assert_eq!(
            infer_one(&["12345678901234.5", "1"]),
            DataType::Decimal128(38, 1),
            "too little headroom in decimal(18,1)"
        );
        assert_eq!(infer_one(&["1.5", "2e-7"]), DataType::Float64);
        assert_eq!(infer_one(&["true", "FALSE"]), DataType::Boolean);
        assert_eq!(infer_one(&["t", "F", "true"]), DataType::Boolean);
        assert_eq!(infer_one(&["1", "0"]), DataType::Int64);
        // Shortest round-trip floats, as PostgreSQL and Python print them.
        assert_eq!(
            infer_one(&["0.007150221951635061", "0.5", "12"]),
            DataType::Float64
        );
        assert_eq!(
            infer_one(&["NaN", "-Infinity", "1.234e-19"]),
            DataType::Float64
        );
        // A float would change these: kept as text.
        assert_eq!(
            infer_one(&["1e3", "3.14159265358979323846"]),
            DataType::Utf8
        );
        assert_eq!(infer_one(&["1e3", "1e400"]), DataType::Utf8);
        assert_eq!(infer_one(&["1e3", "-1e-400"]), DataType::Utf8);
        // Twenty digits that are no float's shortest text: a decimal.
        assert_eq!(
            infer_one(&["0.12345678901234567890"]),
            DataType::Decimal128(38, 20)
        );
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            dedupe_names(&names(&["id", "id", "name", ""])).0,
            names(&["id", "id_1", "name", "column4"])
        );
        assert_eq!(
            dedupe_names(&names(&["a", "a", "a_1"])).0,
            names(&["a", "a_2", "a_1"])
        );
        assert_eq!(widen(&DataType::Int64, "2.5"), DataType::Decimal128(38, 1));
        assert_eq!(
            widen(&DataType::Decimal128(18, 4), "123456789012345678901.5"),
            DataType::Decimal128(38, 4)
        );
        assert_eq!(widen(&DataType::Decimal128(18, 4), "1e-19"), DataType::Utf8);
        assert_eq!(widen(&DataType::Int64, "007"), DataType::Utf8);
        assert_eq!(widen(&DataType::Boolean, "maybe"), DataType::Utf8);
        // A leading + is a phone number.
        assert_eq!(infer_one(&["+4915112345678"]), DataType::Utf8);
        assert_eq!(infer_one(&["2024-02-29", "1999-12-31"]), DataType::Date32);
        assert_eq!(
            infer_one(&["2024-02-29T10:00:00Z", "2024-02-29 10:00:00.123456+02:00"]),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            infer_one(&["2024-02-29T10:00:00.123456789"]),
            DataType::Timestamp(TimeUnit::Nanosecond, None)
        );
        assert_eq!(
            infer_one(&["2024-02-29T10:00:00Z", "2024-02-29T10:00:00"]),
            DataType::Utf8
        );
        assert_eq!(infer_one(&["12", "abc"]), DataType::Utf8);
        assert_eq!(infer_one(&["01234", "98000"]), DataType::Utf8);
        assert_eq!(infer_one(&["0.5", "0"]), DataType::Decimal128(18, 1));
        assert_eq!(infer_one(&["", ""]), DataType::Utf8);
        // Too many digits for any 128-bit decimal: kept as text, exactly.
        assert_eq!(
            infer_one(&["123456789012345678901234567890.123456789012"]),
            DataType::Utf8
        );
    }
}
