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
        }
    }

    fn observe(&mut self, v: &str) {
        self.seen += 1;
        if self.bool_ok && !(v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")) {
            self.bool_ok = false;
        }
        if leading_zero(v) {
            // "007" or "01234" are codes, not numbers: keep them as text.
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
        if self.float_ok && v.parse::<f64>().is_err() {
            self.float_ok = false;
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
        if self.float_ok && !self.dec_ok {
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
