//! Strict conversion of text values into exact Arrow types.
//!
//! Text sources (CSV, JSON) are decoded by arrow with decimal, timestamp,
//! date, time and UUID columns kept as strings, then converted here. The
//! parsers refuse what arrow's lenient casts would silently round or
//! truncate: `1.23456` into `decimal(18,4)`, nanoseconds into a microsecond
//! column, a timestamp without an offset into a column with a zone. A
//! refusal names the file, row, column, value and expected type.

use std::sync::Arc;

use anyhow::Result;
use arrow::array::{
    Array, ArrayRef, Date32Builder, Decimal128Builder, Decimal256Builder, FixedSizeBinaryArray,
    RecordBatch, StringArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    i256, DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};

use crate::schema::{is_uuid, type_name};

/// Which values a timestamp column accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// With or without an offset (inference).
    Any,
    /// Only with an offset or `Z` (a column with a zone).
    Required,
    /// Only without (a column without a zone).
    Forbidden,
}

#[derive(Debug, Clone, Copy)]
pub struct Timestamp {
    pub value: i64,
    pub zoned: bool,
    pub frac_digits: u8,
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, &c| a * 10 + (c - b'0') as u32))
}

/// `YYYY-MM-DD` → days since 1970-01-01.
pub fn parse_date(s: &str) -> Result<i32, String> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err("expected a date as YYYY-MM-DD".into());
    }
    let (y, m, d) = match (digits(&b[..4]), digits(&b[5..7]), digits(&b[8..])) {
        (Some(y), Some(m), Some(d)) => (y, m, d),
        _ => return Err("expected a date as YYYY-MM-DD".into()),
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d == 0 || d > month_days[m as usize - 1] {
        return Err("no such date".into());
    }
    Ok(days_from_civil(y as i64, m as i64, d as i64) as i32)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm), without the cost of a calendar library per value.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `HH:MM:SS[.ffffff]` → (seconds of the day, nanoseconds, fraction digits).
fn parse_clock(b: &[u8]) -> Result<(u32, u32, u8, usize), String> {
    const ERR: &str = "expected a time as HH:MM:SS[.fraction]";
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return Err(ERR.into());
    }
    let (h, m, sec) = match (digits(&b[..2]), digits(&b[3..5]), digits(&b[6..8])) {
        (Some(h), Some(m), Some(s)) => (h, m, s),
        _ => return Err(ERR.into()),
    };
    if h > 23 || m > 59 || sec > 59 {
        return Err("hour, minute or second out of range".into());
    }
    let mut i = 8;
    let mut nanos = 0u32;
    let mut frac = 0u8;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if frac < 9 {
                nanos = nanos * 10 + (b[i] - b'0') as u32;
                frac += 1;
            } else if b[i] != b'0' {
                return Err("more than 9 fractional digits of a second".into());
            }
            i += 1;
        }
        if i == start {
            return Err(ERR.into());
        }
        for _ in frac..9 {
            nanos *= 10;
        }
    }
    Ok((h * 3600 + m * 60 + sec, nanos, frac, i))
}

/// `HH:MM:SS[.ffffff]` → microseconds since midnight.
#[cfg(test)]
pub fn parse_time(s: &str) -> Result<i64, String> {
    parse_time_in(s, TimeUnit::Microsecond)
}

/// `HH:MM:SS[.fraction]` → time since midnight in `unit`, refusing digits
/// the unit cannot hold.
pub fn parse_time_in(s: &str, unit: TimeUnit) -> Result<i64, String> {
    let (secs, nanos, _, used) = parse_clock(s.as_bytes())?;
    if used != s.len() {
        return Err("unexpected text after the time".into());
    }
    let per_sec = unit_per_second(unit);
    let nanos_per_unit = 1_000_000_000 / per_sec;
    if nanos as i64 % nanos_per_unit != 0 {
        return Err(format!("more precision than {}", unit_words(unit)));
    }
    Ok(secs as i64 * per_sec + nanos as i64 / nanos_per_unit)
}

fn unit_words(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "seconds",
        TimeUnit::Millisecond => "milliseconds",
        TimeUnit::Microsecond => "microseconds",
        TimeUnit::Nanosecond => "nanoseconds",
    }
}

/// Hex text (`deadbeef`, or PostgreSQL's `\xdeadbeef`) → bytes; what convoy
/// writes for binary columns in CSV and JSON.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let b = s.strip_prefix("\\x").unwrap_or(s).as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err("expected hex digits in pairs".into());
    }
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks_exact(2) {
        let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        if hi | lo > 0x0F {
            return Err("expected hex digits (0-9, a-f)".into());
        }
        out.push(hi << 4 | lo);
    }
    Ok(out)
}

/// A float16 from its text: the nearest float16, refusing text that is a
/// finite number too large for it (it would become infinity).
pub fn parse_float16(s: &str) -> Result<half::f16, String> {
    let v: f64 = match s.trim() {
        "NaN" | "nan" => return Ok(half::f16::NAN),
        "inf" | "Infinity" | "+inf" | "+Infinity" => return Ok(half::f16::INFINITY),
        "-inf" | "-Infinity" => return Ok(half::f16::NEG_INFINITY),
        t => t.parse().map_err(|_| "not a number".to_string())?,
    };
    let h = half::f16::from_f64(v);
    if h.is_infinite() {
        return Err("too large for float16".into());
    }
    Ok(h)
}

/// A duration in `unit`: an integer of the unit, or ISO 8601 text
/// (`PT90.5S`, `-P1DT2H`, as convoy writes durations to CSV), exactly.
pub fn parse_duration(s: &str, unit: TimeUnit) -> Result<i64, String> {
    const ERR: &str = "expected a duration as an integer of the unit or ISO 8601 (PT1.5S)";
    if let Ok(v) = s.parse::<i64>() {
        return Ok(v);
    }
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let rest = rest.strip_prefix('P').ok_or(ERR)?;
    let per = unit_per_second(unit) as i128;
    let mut total: i128 = 0;
    let mut in_time = false;
    let mut number = String::new();
    let mut seen = false;
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'T' if !in_time && number.is_empty() => in_time = true,
            'D' | 'H' | 'M' | 'S' => {
                let secs_per: i128 = match (c, in_time) {
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return Err(ERR.into()),
                };
                let (int, frac) = number.split_once('.').unwrap_or((&number, ""));
                if int.is_empty() || (c != 'S' && !frac.is_empty()) {
                    return Err(ERR.into());
                }
                let int: i128 = int.parse().map_err(|_| ERR.to_string())?;
                let mut value = int
                    .checked_mul(secs_per * per)
                    .ok_or("out of range for the column's unit")?;
                if !frac.is_empty() {
                    let digits = frac.len() as u32;
                    let f: i128 = frac.parse().map_err(|_| ERR.to_string())?;
                    let scaled = f * per;
                    let ten = 10i128.pow(digits.min(30));
                    if digits > 30 || scaled % ten != 0 {
                        return Err(format!("more precision than {}", unit_words(unit)));
                    }
                    value += scaled / ten;
                }
                total = total.checked_add(value).ok_or("out of range")?;
                number.clear();
                seen = true;
            }
            _ => return Err(ERR.into()),
        }
    }
    if !seen || !number.is_empty() {
        return Err(ERR.into());
    }
    let total = if negative { -total } else { total };
    i64::try_from(total).map_err(|_| "out of range for the column's unit".to_string())
}

/// `s.trim()`, without its cost for the values that need none: most start
/// and end with a visible ASCII character.
#[inline]
fn trimmed(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// A float64 from its text, refusing text the float would change: a number
/// beyond the range (it would become infinity), one too small (it would
/// become 0), or one with more significant digits than a float64 keeps (17).
pub fn parse_float64(s: &str) -> Result<f64, String> {
    let (t, v) = match lexical_core::parse::<f64>(s.as_bytes()) {
        Ok(v) => (s, v),
        Err(_) => {
            let t = s.trim();
            let v = lexical_core::parse(t.as_bytes()).map_err(|_| "not a number".to_string())?;
            (t, v)
        }
    };
    // Most values: finite, not zero, and too short to hold 18 digits (the
    // characters less a sign and a decimal point bound the digits).
    let b = t.as_bytes();
    let marks =
        usize::from(matches!(b.first(), Some(b'-' | b'+'))) + usize::from(b.contains(&b'.'));
    if t.len() - marks <= 17 && v.is_finite() && v != 0.0 {
        return Ok(v);
    }
    if v.is_finite() && v != 0.0 {
        let mut all = 0u32;
        for &b in t.as_bytes() {
            if b | 0x20 == b'e' {
                break;
            }
            all += b.is_ascii_digit() as u32;
        }
        if all <= 17 {
            return Ok(v);
        }
    }
    // The exact count: significant digits of the mantissa.
    let mut digits = 0u32;
    let mut leading = true;
    let mut trailing_zeros = 0u32;
    for &b in t.as_bytes() {
        match b {
            b'e' | b'E' => break,
            b'0' if leading => {}
            b'0'..=b'9' => {
                leading = false;
                digits += 1;
                trailing_zeros = if b == b'0' { trailing_zeros + 1 } else { 0 };
            }
            _ => {}
        }
    }
    if v.is_finite() {
        if v == 0.0 && digits > 0 {
            return Err("too small for float64 (it would become 0)".into());
        }
        if digits - trailing_zeros > 17 {
            return Err(format!(
                "has {} significant digits, more than a float64 keeps (17); declare the column decimal(p,s) or string",
                digits - trailing_zeros
            ));
        }
    } else if digits > 0 {
        return Err("beyond the range of float64".into());
    }
    Ok(v)
}

/// A float32 from its text: the nearest float32 (declaring float32 asks for
/// its precision), refusing a finite number beyond its range (it would
/// become infinity) or one too small for it (it would become 0).
pub fn parse_float32(s: &str) -> Result<f32, String> {
    let t = s.trim();
    let v: f32 = lexical_core::parse(t.as_bytes()).map_err(|_| "not a number".to_string())?;
    let mantissa = t.split(['e', 'E']).next().unwrap_or("");
    let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if v.is_infinite() && nonzero {
        return Err("beyond the range of float32; declare the column float64".into());
    }
    if v == 0.0 && nonzero {
        return Err("too small for float32 (it would become 0); declare the column float64".into());
    }
    Ok(v)
}

/// A boolean as PostgreSQL (`t`/`f`, `true`/`false`), SQL Server (`1`/`0`)
/// and spreadsheets (`yes`/`no`) write it, in any case.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    // By length first: one comparison per value.
    let word = |w: &str| s.eq_ignore_ascii_case(w);
    match s.len() {
        1 if word("t") || s == "1" => Ok(true),
        1 if word("f") || s == "0" => Ok(false),
        2 if word("no") => Ok(false),
        3 if word("yes") => Ok(true),
        4 if word("true") => Ok(true),
        5 if word("false") => Ok(false),
        _ => Err("expected true/false, t/f, 1/0 or yes/no".into()),
    }
}

/// A date64 (milliseconds since 1970) from `YYYY-MM-DD` or a timestamp
/// without an offset (how CSV output writes date64).
pub fn parse_date64(s: &str) -> Result<i64, String> {
    if s.len() == 10 {
        return Ok(parse_date(s)? as i64 * 86_400_000);
    }
    parse_timestamp(s, TimeUnit::Millisecond, Zone::Forbidden).map(|t| t.value)
}

fn unit_per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.f][Z|±HH[:MM]]` → an instant in `unit`.
pub fn parse_timestamp(s: &str, unit: TimeUnit, zone: Zone) -> Result<Timestamp, String> {
    let b = s.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') {
        return Err("expected a timestamp as YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]".into());
    }
    let days = parse_date(&s[..10])? as i64;
    let (secs, nanos, frac, used) = parse_clock(&b[11..])?;
    let rest = &b[11 + used..];
    let (zoned, offset_secs) = match rest {
        [] => (false, 0i64),
        [b'Z' | b'z'] => (true, 0),
        [sign @ (b'+' | b'-'), tail @ ..] => {
            // Seconds too: historical zones (local mean time, Paris
            // +00:09:21 until 1911) as PostgreSQL writes them.
            let (h, m, sec) = match tail {
                [h1, h2] => (digits(&[*h1, *h2]), Some(0), Some(0)),
                [h1, h2, m1, m2] => (digits(&[*h1, *h2]), digits(&[*m1, *m2]), Some(0)),
                [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2]), digits(&[*m1, *m2]), Some(0)),
                [h1, h2, m1, m2, s1, s2] => (
                    digits(&[*h1, *h2]),
                    digits(&[*m1, *m2]),
                    digits(&[*s1, *s2]),
                ),
                [h1, h2, b':', m1, m2, b':', s1, s2] => (
                    digits(&[*h1, *h2]),
                    digits(&[*m1, *m2]),
                    digits(&[*s1, *s2]),
                ),
                _ => (None, None, None),
            };
            match (h, m, sec) {
                (Some(h), Some(m), Some(sec)) if h <= 23 && m <= 59 && sec <= 59 => {
                    let off = (h * 3600 + m * 60 + sec) as i64;
                    (true, if *sign == b'-' { -off } else { off })
                }
                _ => return Err("the UTC offset is not ±HH, ±HHMM, ±HH:MM or ±HH:MM:SS".into()),
            }
        }
        _ => return Err("unexpected text after the time".into()),
    };
    match (zone, zoned) {
        (Zone::Required, false) => {
            return Err("has no UTC offset, but the column has a time zone".into())
        }
        (Zone::Forbidden, true) => {
            return Err("has a UTC offset, but the column has no time zone".into())
        }
        _ => {}
    }
    let per_sec = unit_per_second(unit);
    let nanos_per_unit = 1_000_000_000 / per_sec;
    if nanos as i64 % nanos_per_unit != 0 {
        return Err(format!(
            "more fractional digits than the column's unit ({}) holds",
            unit_words(unit)
        ));
    }
    let total_secs = days * 86_400 + secs as i64 - offset_secs;
    let value = total_secs
        .checked_mul(per_sec)
        .and_then(|v| v.checked_add(nanos as i64 / nanos_per_unit))
        .ok_or_else(|| "out of range for the column's unit".to_string())?;
    Ok(Timestamp {
        value,
        zoned,
        frac_digits: frac,
    })
}

/// Digits and scale of a decimal literal: `[-+]digits[.digits][e[-+]digits]`.
struct DecimalText<'a> {
    negative: bool,
    /// All mantissa digits, integer part then fraction.
    digits: Vec<&'a [u8]>,
    /// Power of ten the digit string must be multiplied by.
    exponent: i32,
}

fn split_decimal(s: &str) -> Result<DecimalText<'_>, String> {
    const ERR: &str = "not a decimal number";
    let b = s.as_bytes();
    let (negative, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (mant, exp) = match b.iter().position(|&c| c == b'e' || c == b'E') {
        Some(i) => {
            let e = std::str::from_utf8(&b[i + 1..])
                .ok()
                .and_then(|e| e.parse::<i32>().ok())
                .filter(|e| e.abs() < 1000)
                .ok_or(ERR)?;
            (&b[..i], e)
        }
        None => (b, 0),
    };
    let (int, frac) = match mant.iter().position(|&c| c == b'.') {
        Some(i) => (&mant[..i], &mant[i + 1..]),
        None => (mant, &mant[..0]),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.iter().all(u8::is_ascii_digit)
        || !frac.iter().all(u8::is_ascii_digit)
    {
        return Err(ERR.into());
    }
    Ok(DecimalText {
        negative,
        digits: vec![int, frac],
        exponent: exp - frac.len() as i32,
    })
}

/// The unscaled digits of a decimal at `scale`, refusing to drop any
/// non-zero digit, and checking `precision`.
fn unscaled_digits(s: &str, precision: u8, scale: i8) -> Result<(bool, Vec<u8>), String> {
    let t = split_decimal(s)?;
    let mut all: Vec<u8> = t.digits.concat();
    // value = all × 10^exponent; we want all × 10^(exponent + scale).
    let shift = t.exponent + scale as i32;
    if shift >= 0 {
        all.extend(std::iter::repeat_n(b'0', shift as usize));
    } else {
        let drop = (-shift) as usize;
        let keep = all.len().saturating_sub(drop);
        if all[keep..].iter().any(|&c| c != b'0') {
            return Err(format!(
                "has more than {scale} digit{} after the decimal point",
                if scale == 1 { "" } else { "s" }
            ));
        }
        all.truncate(keep);
    }
    let first = all.iter().position(|&c| c != b'0').unwrap_or(all.len());
    let all = all[first..].to_vec();
    if all.len() > precision as usize {
        return Err(format!(
            "has more than {} digit{} before the decimal point",
            precision as i32 - scale as i32,
            if precision as i32 - scale as i32 == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    Ok((t.negative, all))
}

/// The common case without allocating: `[-+]digits[.digits]` with at most
/// `scale` fractional digits and at most 18 significant digits in all.
fn decimal_fast(s: &str, precision: u8, scale: i8) -> Option<i128> {
    let b = s.as_bytes();
    let (negative, b) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let mut v: i64 = 0;
    let mut digits = 0u32;
    let mut frac: i32 = -1;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                if digits > 0 || c != b'0' {
                    digits += 1;
                    if digits > 18 {
                        return None;
                    }
                }
                v = v * 10 + (c - b'0') as i64;
                if frac >= 0 {
                    frac += 1;
                }
            }
            b'.' if frac < 0 => frac = 0,
            _ => return None,
        }
    }
    let frac = frac.max(0);
    if b.is_empty() || b == b"." || frac > scale as i32 {
        return None;
    }
    let pad = (scale as i32 - frac) as u32;
    if digits + pad > precision as u32 {
        return None;
    }
    let v = v as i128 * 10i128.pow(pad);
    Some(if negative { -v } else { v })
}

/// A decimal literal as an exact `decimal(precision, scale)` (≤ 38 digits).
pub fn parse_decimal128(s: &str, precision: u8, scale: i8) -> Result<i128, String> {
    if let Some(v) = decimal_fast(s, precision, scale) {
        return Ok(v);
    }
    let (negative, digits) = unscaled_digits(s, precision, scale)?;
    let v = digits
        .iter()
        .fold(0i128, |a, &c| a * 10 + (c - b'0') as i128);
    Ok(if negative { -v } else { v })
}

/// A decimal literal as an exact `decimal(precision, scale)` (≤ 76 digits).
pub fn parse_decimal256(s: &str, precision: u8, scale: i8) -> Result<i256, String> {
    let (negative, digits) = unscaled_digits(s, precision, scale)?;
    let ten = i256::from_i128(10);
    let v = digits.iter().fold(i256::ZERO, |a, &c| {
        a.wrapping_mul(ten)
            .wrapping_add(i256::from_i128((c - b'0') as i128))
    });
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// Hex digit values; 0xFF for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (or 32 hex digits) → 16 bytes,
/// without allocating or branching per digit (UUID columns are often the
/// costliest to read).
pub fn parse_uuid(s: &str) -> Result<[u8; 16], String> {
    const ERR: &str = "expected a UUID as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    let b = s.as_bytes();
    let mut digits = [0u8; 32];
    match b.len() {
        36 if b[8] == b'-' && b[13] == b'-' && b[18] == b'-' && b[23] == b'-' => {
            digits[..8].copy_from_slice(&b[..8]);
            digits[8..12].copy_from_slice(&b[9..13]);
            digits[12..16].copy_from_slice(&b[14..18]);
            digits[16..20].copy_from_slice(&b[19..23]);
            digits[20..].copy_from_slice(&b[24..]);
        }
        32 => digits.copy_from_slice(b),
        _ => return Err(ERR.into()),
    }
    let mut out = [0u8; 16];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        invalid |= hi | lo;
        *byte = hi << 4 | lo;
    }
    if invalid > 0x0F {
        return Err(ERR.into());
    }
    Ok(out)
}

/// A 16-byte UUID as lowercase hyphenated text.
pub fn format_uuid(b: &[u8]) -> String {
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[derive(Debug, Clone)]
enum Conv {
    Decimal128(u8, i8),
    Decimal256(u8, i8),
    Timestamp(TimeUnit, Zone),
    Date,
    Time(TimeUnit),
    Uuid,
    /// Hex text (what convoy writes for binary columns) to bytes.
    Binary(Option<i32>),
    Float16,
    /// Integers of the unit, or ISO 8601 (what convoy writes for durations).
    Duration(TimeUnit),
    Date64,
    /// Booleans as databases and spreadsheets write them (CSV).
    Bool,
    /// float64 from CSV text, refusing what the float would change.
    Float64,
    /// float32 from CSV text, refusing overflow and underflow.
    Float32,
}

/// Where the rows of a batch came from, for error messages.
#[derive(Debug, Clone)]
pub struct Location<'a> {
    pub file: &'a str,
    /// 1-based number of the batch's first data row in the file.
    pub first_row: u64,
    /// File line of a row = row + this, where lines and rows correspond.
    pub line_offset: Option<u64>,
    /// File lines of records, where they do not correspond (CSV), and the
    /// header lines before the first row.
    pub lines: Option<(&'a super::scan::Scanned, u64)>,
    /// Whether the schema was inferred (changes the hint).
    pub inferred: bool,
}

/// A value as an error shows it: quoted, its first 60 characters.
pub fn shown(value: &str) -> String {
    let head: String = value.chars().take(60).collect();
    let ellipsis = if head.len() < value.len() { "…" } else { "" };
    format!("{head:?}{ellipsis}")
}

/// Converts batches decoded with the "wire" schema (strings for the columns
/// that need strict parsing) into the declared schema.
#[derive(Debug, Clone)]
pub struct Conformer {
    target: SchemaRef,
    wire: SchemaRef,
    convs: Vec<Option<Conv>>,
}

impl Conformer {
    pub fn new(target: SchemaRef) -> Conformer {
        let mut convs = Vec::new();
        let mut wire_fields = Vec::new();
        for f in target.fields() {
            let conv = if is_uuid(f) {
                Some(Conv::Uuid)
            } else {
                match f.data_type() {
                    DataType::Decimal128(p, s) => Some(Conv::Decimal128(*p, *s)),
                    DataType::Decimal256(p, s) => Some(Conv::Decimal256(*p, *s)),
                    DataType::Timestamp(u, tz) => Some(Conv::Timestamp(
                        *u,
                        if tz.is_some() {
                            Zone::Required
                        } else {
                            Zone::Forbidden
                        },
                    )),
                    DataType::Date32 => Some(Conv::Date),
                    DataType::Time32(u) | DataType::Time64(u) => Some(Conv::Time(*u)),
                    DataType::Binary | DataType::LargeBinary => Some(Conv::Binary(None)),
                    DataType::FixedSizeBinary(n) => Some(Conv::Binary(Some(*n))),
                    DataType::Float16 => Some(Conv::Float16),
                    DataType::Duration(u) => Some(Conv::Duration(*u)),
                    DataType::Date64 => Some(Conv::Date64),
                    _ => None,
                }
            };
            wire_fields.push(if conv.is_some() {
                Field::new(f.name(), DataType::Utf8, true)
            } else {
                f.as_ref().clone()
            });
            convs.push(conv);
        }
        Conformer {
            wire: Arc::new(Schema::new(wire_fields)),
            target,
            convs,
        }
    }

    /// For CSV: booleans are also read as PostgreSQL (`t`/`f`), SQL Server
    /// (`1`/`0`) and spreadsheets (`yes`/`no`) write them.
    pub fn csv(target: SchemaRef) -> Conformer {
        let mut c = Conformer::new(target);
        let mut wire: Vec<Field> = c.wire.fields().iter().map(|f| f.as_ref().clone()).collect();
        for (i, f) in c.target.fields().iter().enumerate() {
            let conv = match f.data_type() {
                DataType::Boolean => Conv::Bool,
                DataType::Float64 => Conv::Float64,
                DataType::Float32 => Conv::Float32,
                _ => continue,
            };
            if c.convs[i].is_none() {
                c.convs[i] = Some(conv);
                wire[i] = Field::new(f.name(), DataType::Utf8, true);
            }
        }
        c.wire = Arc::new(Schema::new(wire));
        c
    }

    /// The schema the text decoder should produce.
    pub fn wire(&self) -> SchemaRef {
        self.wire.clone()
    }

    pub fn target(&self) -> SchemaRef {
        self.target.clone()
    }

    /// Convert one decoded batch; the first value that does not fit fails it.
    pub fn apply(&self, batch: RecordBatch, at: &Location) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (i, (col, conv)) in batch.columns().iter().zip(&self.convs).enumerate() {
            let Some(conv) = conv else {
                columns.push(col.clone());
                continue;
            };
            let strings = col
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("wire schema holds strings for converted columns");
            let field = self.target.field(i);
            let fail = |row: usize, reason: String| -> anyhow::Error {
                let value = strings.value(row);
                if let Some((lines, _)) = at.lines {
                    lines.misfit(i, value);
                }
                let hint = if at.inferred {
                    format!(
                        "the type was inferred from a sample; declare it, e.g. --schema '{}:string', or raise --infer-rows",
                        field.name()
                    )
                } else {
                    "fix the value, or declare the column with a type that holds it".to_string()
                };
                let row_no = at.first_row + row as u64;
                let line = match at.lines {
                    Some((lines, header)) => {
                        format!(" (line {})", lines.line_of(row_no - 1 + header))
                    }
                    None => at
                        .line_offset
                        .map(|o| format!(" (line {})", row_no + o))
                        .unwrap_or_default(),
                };
                crate::error::input(
                    format!(
                        "{}: row {row_no}{line}, column \"{}\": {} is not a valid {}: {}",
                        at.file,
                        field.name(),
                        shown(value),
                        type_name(field),
                        reason
                    ),
                    Some(hint),
                )
            };
            let nulls = strings.nulls().cloned();
            let array: ArrayRef = match conv {
                Conv::Decimal128(p, s) => {
                    let mut b = Decimal128Builder::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        if strings.is_null(row) {
                            b.append_null();
                        } else {
                            b.append_value(
                                parse_decimal128(trimmed(strings.value(row)), *p, *s)
                                    .map_err(|e| fail(row, e))?,
                            );
                        }
                    }
                    Arc::new(b.finish().with_precision_and_scale(*p, *s)?)
                }
                Conv::Decimal256(p, s) => {
                    let mut b = Decimal256Builder::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        if strings.is_null(row) {
                            b.append_null();
                        } else {
                            b.append_value(
                                parse_decimal256(trimmed(strings.value(row)), *p, *s)
                                    .map_err(|e| fail(row, e))?,
                            );
                        }
                    }
                    Arc::new(b.finish().with_precision_and_scale(*p, *s)?)
                }
                Conv::Timestamp(unit, zone) => {
                    let mut values = Vec::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        if strings.is_null(row) {
                            values.push(0);
                        } else {
                            values.push(
                                parse_timestamp(strings.value(row), *unit, *zone)
                                    .map_err(|e| fail(row, e))?
                                    .value,
                            );
                        }
                    }
                    let tz = match field.data_type() {
                        DataType::Timestamp(_, tz) => tz.clone(),
                        _ => None,
                    };
                    timestamp_array(*unit, values, nulls, tz)
                }
                Conv::Date => {
                    let mut b = Date32Builder::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        if strings.is_null(row) {
                            b.append_null();
                        } else {
                            b.append_value(
                                parse_date(strings.value(row)).map_err(|e| fail(row, e))?,
                            );
                        }
                    }
                    Arc::new(b.finish())
                }
                Conv::Time(unit) => {
                    let mut values = Vec::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        values.push(if strings.is_null(row) {
                            0
                        } else {
                            parse_time_in(strings.value(row), *unit).map_err(|e| fail(row, e))?
                        });
                    }
                    integers_as(field.data_type(), values, nulls)?
                }
                Conv::Binary(size) => {
                    let mut values = Vec::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        values.push(if strings.is_null(row) {
                            None
                        } else {
                            let v = parse_hex(strings.value(row)).map_err(|e| fail(row, e))?;
                            if let Some(n) = size.filter(|&n| n as usize != v.len()) {
                                return Err(fail(
                                    row,
                                    format!("holds {} bytes, the column {n}", v.len()),
                                ));
                            }
                            Some(v)
                        });
                    }
                    match size {
                        Some(n) => Arc::new(FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                            values.into_iter(),
                            *n,
                        )?) as ArrayRef,
                        None => arrow::compute::cast(
                            &arrow::array::BinaryArray::from_iter(values),
                            field.data_type(),
                        )?,
                    }
                }
                Conv::Float16 => {
                    let mut b = arrow::array::Float16Builder::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        if strings.is_null(row) {
                            b.append_null();
                        } else {
                            b.append_value(
                                parse_float16(strings.value(row)).map_err(|e| fail(row, e))?,
                            );
                        }
                    }
                    Arc::new(b.finish())
                }
                Conv::Float64 => {
                    let mut values = Vec::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        values.push(if strings.is_null(row) {
                            0.0
                        } else {
                            parse_float64(strings.value(row)).map_err(|e| fail(row, e))?
                        });
                    }
                    Arc::new(arrow::array::Float64Array::new(values.into(), nulls))
                }
                Conv::Float32 => {
                    let mut values = Vec::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        values.push(if strings.is_null(row) {
                            0.0
                        } else {
                            parse_float32(strings.value(row)).map_err(|e| fail(row, e))?
                        });
                    }
                    Arc::new(arrow::array::Float32Array::new(values.into(), nulls))
                }
                Conv::Bool => {
                    let mut b = arrow::array::BooleanBuilder::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        if strings.is_null(row) {
                            b.append_null();
                        } else {
                            b.append_value(
                                parse_bool(trimmed(strings.value(row)))
                                    .map_err(|e| fail(row, e))?,
                            );
                        }
                    }
                    Arc::new(b.finish())
                }
                Conv::Duration(_) | Conv::Date64 => {
                    let mut values = Vec::with_capacity(strings.len());
                    for row in 0..strings.len() {
                        values.push(if strings.is_null(row) {
                            0
                        } else {
                            let text = trimmed(strings.value(row));
                            match conv {
                                Conv::Duration(unit) => parse_duration(text, *unit),
                                _ => parse_date64(text),
                            }
                            .map_err(|e| fail(row, e))?
                        });
                    }
                    integers_as(field.data_type(), values, nulls)?
                }
                Conv::Uuid => {
                    let mut values = Vec::with_capacity(strings.len() * 16);
                    for row in 0..strings.len() {
                        if strings.is_null(row) {
                            values.extend_from_slice(&[0; 16]);
                        } else {
                            values.extend_from_slice(
                                &parse_uuid(strings.value(row)).map_err(|e| fail(row, e))?,
                            );
                        }
                    }
                    Arc::new(FixedSizeBinaryArray::try_new(
                        16,
                        values.into(),
                        strings.nulls().cloned(),
                    )?)
                }
            };
            columns.push(array);
        }
        Ok(RecordBatch::try_new(self.target.clone(), columns)?)
    }
}

/// Integers as an array of a type stored as 32- or 64-bit integers (times,
/// durations, date64); the values were checked to fit.
fn integers_as(dt: &DataType, values: Vec<i64>, nulls: Option<NullBuffer>) -> Result<ArrayRef> {
    let data = match dt {
        DataType::Time32(_) => {
            let narrow: Vec<i32> = values.iter().map(|&v| v as i32).collect();
            arrow::array::Int32Array::new(narrow.into(), nulls).into_data()
        }
        _ => arrow::array::Int64Array::new(values.into(), nulls).into_data(),
    };
    Ok(arrow::array::make_array(
        data.into_builder().data_type(dt.clone()).build()?,
    ))
}

fn timestamp_array(
    unit: TimeUnit,
    values: Vec<i64>,
    nulls: Option<NullBuffer>,
    tz: Option<Arc<str>>,
) -> ArrayRef {
    fn build<T: arrow::datatypes::ArrowTimestampType>(
        values: Vec<i64>,
        nulls: Option<NullBuffer>,
        tz: Option<Arc<str>>,
    ) -> ArrayRef {
        Arc::new(arrow::array::PrimitiveArray::<T>::new(values.into(), nulls).with_timezone_opt(tz))
    }
    match unit {
        TimeUnit::Second => build::<TimestampSecondType>(values, nulls, tz),
        TimeUnit::Millisecond => build::<TimestampMillisecondType>(values, nulls, tz),
        TimeUnit::Microsecond => build::<TimestampMicrosecondType>(values, nulls, tz),
        TimeUnit::Nanosecond => build::<TimestampNanosecondType>(values, nulls, tz),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_or_refused() {
        assert_eq!(parse_decimal128("12.34", 18, 4), Ok(123400));
        assert_eq!(parse_decimal128("-0.0001", 18, 4), Ok(-1));
        assert_eq!(parse_decimal128("1.50000", 18, 4), Ok(15000));
        assert_eq!(parse_decimal128("1.5e2", 18, 4), Ok(1_500_000));
        assert!(parse_decimal128("1.23456", 18, 4)
            .unwrap_err()
            .contains("more than 4 digits after"));
        assert!(parse_decimal128("123456789012345", 18, 4)
            .unwrap_err()
            .contains("more than 14 digits before"));
        assert!(parse_decimal128("12a", 18, 4).is_err());
        assert!(parse_decimal128("", 18, 4).is_err());
        assert_eq!(
            parse_decimal256("-123456789012345678901234567890123456789012.5", 60, 2)
                .unwrap()
                .to_string(),
            "-12345678901234567890123456789012345678901250"
        );
    }

    #[test]
    fn timestamps_keep_their_instant_and_refuse_loss() {
        let us = TimeUnit::Microsecond;
        let t = parse_timestamp("2024-03-01T12:00:00.123456+02:00", us, Zone::Required).unwrap();
        let u = parse_timestamp("2024-03-01 10:00:00.123456Z", us, Zone::Required).unwrap();
        assert_eq!(t.value, u.value);
        assert_eq!(t.value, 1_709_287_200_123_456);
        assert!(
            parse_timestamp("2024-03-01T10:00:00.1234567Z", us, Zone::Required)
                .unwrap_err()
                .contains("microseconds")
        );
        assert!(parse_timestamp("2024-03-01T10:00:00", us, Zone::Required)
            .unwrap_err()
            .contains("no UTC offset"));
        assert!(parse_timestamp("2024-03-01T10:00:00Z", us, Zone::Forbidden)
            .unwrap_err()
            .contains("has a UTC offset"));
        assert!(parse_timestamp("2023-02-29T10:00:00", us, Zone::Any).is_err());
        assert_eq!(
            parse_timestamp("1969-12-31T23:59:59.999999", us, Zone::Forbidden)
                .unwrap()
                .value,
            -1
        );
    }

    #[test]
    fn fast_and_general_decimal_paths_agree() {
        for (text, p, s) in [
            ("0", 18, 4),
            ("-0.0001", 18, 4),
            ("123456789012345.6789", 38, 4),
            ("99999999999999.9999", 18, 4),
            ("+7.5", 10, 2),
            (".5", 10, 2),
            ("5.", 10, 2),
        ] {
            let fast = decimal_fast(text, p, s);
            let (neg, digits) = unscaled_digits(text, p, s).unwrap();
            let v = digits
                .iter()
                .fold(0i128, |a, &c| a * 10 + (c - b'0') as i128);
            assert_eq!(
                fast.unwrap_or(if neg { -v } else { v }),
                if neg { -v } else { v },
                "{text}"
            );
        }
        assert_eq!(decimal_fast("1.23456", 18, 4), None);
        assert!(parse_decimal128("999999999999999.9999", 18, 4).is_err());
        for days in [-719_162i64, -1, 0, 1, 19_782, 2_932_896] {
            let date = chrono::DateTime::from_timestamp(days * 86_400, 0)
                .unwrap()
                .date_naive();
            assert_eq!(parse_date(&date.to_string()), Ok(days as i32));
        }
    }

    #[test]
    fn dates_times_uuids() {
        assert_eq!(parse_date("1970-01-02"), Ok(1));
        assert!(parse_date("2024-13-01").is_err());
        assert_eq!(parse_time("00:00:01.5"), Ok(1_500_000));
        let u = parse_uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF").unwrap();
        assert_eq!(u[0], 0x6f);
        assert_eq!(format_uuid(&u), "6f9619ff-8b86-d011-b42d-00c04fc964ff");
        assert!(parse_uuid("not-a-uuid").is_err());
        assert!(parse_uuid("6F9619FF-8B86-D011-B42D-00C04FC964FG").is_err());
        assert!(parse_uuid("6F9619FF8B86-D011-B42D-00C04FC964FF-").is_err());
        assert_eq!(
            parse_uuid("6f9619ff8b86d011b42d00c04fc964ff"),
            parse_uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF")
        );
        // Every digit position refuses a byte that is not a hex digit.
        let good = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
        for (i, c) in good.char_indices().filter(|(_, c)| *c != '-') {
            for bad in ['g', 'G', ' ', '-', '\0', 'z'] {
                let mut s = good.to_string();
                s.replace_range(i..i + c.len_utf8(), &bad.to_string());
                assert!(parse_uuid(&s).is_err(), "{s}");
            }
        }
        // Non-ASCII text of the right length is refused, not misread.
        assert!(parse_uuid("6f9619ff-8b86-d011-b42d-00c04fc964é").is_err());
    }

    #[test]
    fn offsets_with_seconds_keep_the_instant() {
        let us = TimeUnit::Microsecond;
        // Paris local mean time, as PostgreSQL exports it.
        let lmt = parse_timestamp("1800-06-01 12:09:21+00:09:21", us, Zone::Required).unwrap();
        let utc = parse_timestamp("1800-06-01T12:00:00Z", us, Zone::Required).unwrap();
        assert_eq!(lmt.value, utc.value);
        let compact = parse_timestamp("1800-06-01T12:09:21+000921", us, Zone::Required).unwrap();
        assert_eq!(compact.value, utc.value);
        let west = parse_timestamp("1900-01-01T00:00:00-04:56:02", us, Zone::Required).unwrap();
        assert_eq!(
            west.value,
            parse_timestamp("1900-01-01T04:56:02Z", us, Zone::Required)
                .unwrap()
                .value
        );
        assert!(parse_timestamp("1800-06-01T12:09:21+00:09:60", us, Zone::Required).is_err());
        assert!(parse_timestamp("1800-06-01T12:09:21+00:09:2", us, Zone::Required).is_err());
    }

    #[test]
    fn binary_durations_and_times_read_what_convoy_writes() {
        assert_eq!(parse_hex("00ff10"), Ok(vec![0, 255, 16]));
        assert_eq!(parse_hex("\\x00FF"), Ok(vec![0, 255]));
        assert_eq!(parse_hex(""), Ok(vec![]));
        assert!(parse_hex("0").is_err());
        assert!(parse_hex("zz").is_err());
        let s = TimeUnit::Second;
        let ms = TimeUnit::Millisecond;
        let ns = TimeUnit::Nanosecond;
        assert_eq!(
            parse_duration("10000000000000000", s),
            Ok(10_000_000_000_000_000)
        );
        assert_eq!(
            parse_duration("PT10000000000000000S", s),
            Ok(10_000_000_000_000_000)
        );
        assert_eq!(parse_duration("-PT0.001S", ms), Ok(-1));
        assert_eq!(parse_duration("P1DT2H3M4.5S", ms), Ok(93_784_500));
        assert_eq!(parse_duration("PT1.000000001S", ns), Ok(1_000_000_001));
        assert!(parse_duration("PT0.5S", s)
            .unwrap_err()
            .contains("precision"));
        assert!(parse_duration("PT9223372036854775808S", s).is_err());
        assert!(parse_duration("P1H", s).is_err());
        assert!(parse_duration("1.5", s).is_err());
        assert_eq!(parse_time_in("00:00:07", s), Ok(7));
        assert_eq!(
            parse_time_in("12:00:00.123456789", ns),
            Ok(43_200_123_456_789)
        );
        assert!(parse_time_in("00:00:07.5", s).is_err());
        assert_eq!(parse_date64("1970-01-02"), Ok(86_400_000));
        assert_eq!(parse_date64("1970-01-02T00:00:00.001"), Ok(86_400_001));
        assert_eq!(parse_float16("0.5").unwrap().to_f64(), 0.5);
        assert!(parse_float16("NaN").unwrap().is_nan());
        assert!(parse_float16("70000").is_err());
    }

    #[test]
    fn text_columns_become_binary_durations_and_float16() {
        let target = Arc::new(Schema::new(vec![
            Field::new("b", DataType::Binary, true),
            Field::new("f", DataType::FixedSizeBinary(2), true),
            Field::new("d", DataType::Duration(TimeUnit::Millisecond), true),
            Field::new("t", DataType::Time32(TimeUnit::Second), true),
            Field::new("h", DataType::Float16, true),
        ]));
        let c = Conformer::new(target.clone());
        assert!(c
            .wire()
            .fields()
            .iter()
            .all(|f| f.data_type() == &DataType::Utf8));
        let col = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as ArrayRef;
        let batch = RecordBatch::try_new(
            c.wire(),
            vec![
                col(vec![Some("dead"), None]),
                col(vec![Some("beef"), None]),
                col(vec![Some("-PT0.001S"), Some("5")]),
                col(vec![Some("00:01:00"), None]),
                col(vec![Some("1.5"), None]),
            ],
        )
        .unwrap();
        let at = Location {
            file: "f.csv",
            first_row: 1,
            line_offset: Some(1),
            lines: None,
            inferred: false,
        };
        let out = c.apply(batch, &at).unwrap();
        assert_eq!(out.schema(), target);
        let d = out
            .column(2)
            .as_any()
            .downcast_ref::<arrow::array::DurationMillisecondArray>()
            .unwrap();
        assert_eq!(d.values().to_vec(), vec![-1, 5]);
        // A fixed-size value of the wrong size names row, line and column.
        let bad = RecordBatch::try_new(
            c.wire(),
            vec![
                col(vec![None]),
                col(vec![Some("beefbeef")]),
                col(vec![None]),
                col(vec![None]),
                col(vec![None]),
            ],
        )
        .unwrap();
        let err = c.apply(bad, &at).unwrap_err().to_string();
        assert!(err.contains("row 1 (line 2), column \"f\""), "{err}");
        assert!(err.contains("holds 4 bytes, the column 2"), "{err}");
    }

    #[test]
    fn floats_from_csv_text_are_refused_where_the_float_would_change() {
        assert_eq!(
            parse_float64("0.007150221951635061"),
            Ok(0.007150221951635061)
        );
        assert_eq!(parse_float64("1e21"), Ok(1e21));
        assert_eq!(parse_float32("0.1"), Ok(0.1f32));
        assert_eq!(
            parse_float32("-0.0").map(f32::to_bits),
            Ok((-0.0f32).to_bits())
        );
        assert_eq!(parse_float32("3.4e38"), Ok(3.4e38f32));
        assert!(parse_float32("-inf").unwrap().is_infinite());
        assert!(parse_float32("NaN").unwrap().is_nan());
        for bad in ["1.7976931348623157e308", "-1e39", "1e-50", "x"] {
            assert!(parse_float32(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_float64("1000000000000000000000"), Ok(1e21));
        assert_eq!(parse_float64("-0.000"), Ok(-0.0));
        assert!(parse_float64("NaN").unwrap().is_nan());
        assert_eq!(parse_float64("-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_float64(" 2.5 "), Ok(2.5));
        // 17 digits with both a sign and a point: exact as it is.
        let text = "-742.62099679949541";
        assert_eq!(parse_float64(text), Ok(text.parse::<f64>().unwrap()));
        assert_eq!(trimmed(" t\u{3000}"), "t");
        assert_eq!(trimmed("t"), "t");
        assert_eq!(trimmed("é "), "é");
        assert_eq!(trimmed(""), "");
        for (bad, why) in [
            ("1e400", "beyond the range"),
            ("-1e-400", "too small"),
            ("3.14159265358979323846", "21 significant digits"),
            // 18 digits in 19 characters: a sign or a point, not both.
            ("-123456789012345678", "18 significant digits"),
            ("12345678901234567.8", "18 significant digits"),
            ("x", "not a number"),
        ] {
            let e = parse_float64(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
