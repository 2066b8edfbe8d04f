//! PostgreSQL's binary COPY format, straight to and from Arrow.
//!
//! Written by hand because no crate decodes binary COPY into Arrow builders:
//! `postgres-types` decodes one value at a time into Rust values, which would
//! cost an allocation per text value and a detour per row. The format is
//! small and stable (a header, then per row a field count and length-prefixed
//! values in each type's `send` form); see the PostgreSQL manual, "COPY —
//! Binary Format".

use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use arrow::array::*;
use arrow::datatypes::{i256, DataType, IntervalMonthDayNano, SchemaRef, TimeUnit};
use bytes::{BufMut, BytesMut};

use super::types::Wire;
use crate::connect::Encoded;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Days from 1970-01-01 (Arrow) to 2000-01-01 (PostgreSQL).
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Rows per batch the [`Decoder`] hands out…
const BATCH_ROWS: usize = 16_384;
/// …or fewer when the rows are wide.
const BATCH_BYTES: usize = 16 << 20;
/// Bytes per chunk the [`Framer`] hands out.
const FRAME_BYTES: usize = 1 << 20;

/// What consumes a binary COPY stream chunk by chunk and hands out items:
/// record batches ([`Decoder`]) or whole rows unchanged ([`Framer`]).
pub trait Consumer: Send + 'static {
    type Item: Send + 'static;
    /// Take in the next bytes of the stream; rows may span chunks.
    fn feed(&mut self, chunk: &[u8]) -> Result<()>;
    /// Enough is gathered to hand out.
    fn full(&self) -> bool;
    /// Bytes fed since the last [`Consumer::take`].
    fn bytes(&self) -> usize;
    /// What was gathered since the last call.
    fn take(&mut self) -> Result<Self::Item>;
    /// The stream ended: it must have ended with the trailer.
    fn end(&self) -> Result<()>;
}

/// The stream's framing: the header, then rows of `ncols` length-prefixed
/// fields, then the trailer. Shared by both consumers.
struct Frames {
    ncols: usize,
    pending: BytesMut,
    header_done: bool,
    finished: bool,
}

/// One step through the framing.
enum Frame {
    /// A complete row from `start` to `end` (the field count included).
    Row { start: usize, end: usize },
    /// The trailer: the stream is complete.
    Trailer,
    /// More bytes are needed.
    Incomplete,
}

impl Frames {
    fn new(ncols: usize) -> Frames {
        Frames {
            ncols,
            pending: BytesMut::new(),
            header_done: false,
            finished: false,
        }
    }

    /// Run `each` over the complete rows of `chunk` (after what is pending),
    /// keep the incomplete rest for the next chunk.
    fn feed(
        &mut self,
        chunk: &[u8],
        mut each: impl FnMut(&[u8], usize, usize) -> Result<()>,
    ) -> Result<()> {
        if self.finished && !chunk.is_empty() {
            bail!("the COPY stream continued after its trailer");
        }
        if self.pending.is_empty() {
            let used = self.walk(chunk, &mut each)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            self.pending.extend_from_slice(chunk);
            let buf = std::mem::take(&mut self.pending);
            let used = self.walk(&buf, &mut each)?;
            self.pending.extend_from_slice(&buf[used..]);
        }
        Ok(())
    }

    fn walk(
        &mut self,
        buf: &[u8],
        each: &mut impl FnMut(&[u8], usize, usize) -> Result<()>,
    ) -> Result<usize> {
        let mut pos = 0;
        if !self.header_done {
            if buf.len() < SIGNATURE.len() + 8 {
                return Ok(0);
            }
            if &buf[..SIGNATURE.len()] != SIGNATURE {
                bail!("not a binary COPY stream");
            }
            let ext = i32::from_be_bytes(buf[15..19].try_into().unwrap());
            if ext < 0 {
                bail!("bad COPY header extension length {ext}");
            }
            if buf.len() < 19 + ext as usize {
                return Ok(0);
            }
            pos = 19 + ext as usize;
            self.header_done = true;
        }
        loop {
            match self.next(buf, pos)? {
                Frame::Row { start, end } => {
                    each(buf, start, end)?;
                    pos = end;
                }
                Frame::Trailer => {
                    self.finished = true;
                    return Ok(pos + 2);
                }
                Frame::Incomplete => return Ok(pos),
            }
        }
    }

    fn next(&self, buf: &[u8], pos: usize) -> Result<Frame> {
        if pos + 2 > buf.len() {
            return Ok(Frame::Incomplete);
        }
        let n = i16::from_be_bytes([buf[pos], buf[pos + 1]]);
        if n == -1 {
            return Ok(Frame::Trailer);
        }
        if n as usize != self.ncols {
            bail!("COPY row has {n} fields, expected {}", self.ncols);
        }
        let mut p = pos + 2;
        for _ in 0..self.ncols {
            if p + 4 > buf.len() {
                return Ok(Frame::Incomplete);
            }
            let len = i32::from_be_bytes(buf[p..p + 4].try_into().unwrap());
            p += 4;
            if len > 0 {
                p += len as usize;
            } else if len < -1 {
                bail!("bad COPY field length {len}");
            }
        }
        if p > buf.len() {
            return Ok(Frame::Incomplete);
        }
        Ok(Frame::Row { start: pos, end: p })
    }

    fn end(&self) -> Result<()> {
        if !self.finished || !self.pending.is_empty() {
            bail!("the COPY stream ended in the middle of a row");
        }
        Ok(())
    }
}

/// Decodes a binary COPY stream into record batches.
pub struct Decoder {
    schema: SchemaRef,
    columns: Vec<Builder>,
    frames: Frames,
    rows: usize,
    bytes: usize,
}

impl Decoder {
    pub fn new(schema: SchemaRef, wires: Vec<Wire>) -> Decoder {
        let columns = schema
            .fields()
            .iter()
            .zip(&wires)
            .map(|(f, w)| Builder::new(f.data_type(), w))
            .collect();
        Decoder {
            frames: Frames::new(wires.len()),
            schema,
            columns,
            rows: 0,
            bytes: 0,
        }
    }
}

impl Consumer for Decoder {
    type Item = RecordBatch;

    fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.bytes += chunk.len();
        let Decoder {
            frames,
            columns,
            schema,
            rows,
            ..
        } = self;
        frames.feed(chunk, |buf, start, _end| {
            let mut p = start + 2;
            for (c, column) in columns.iter_mut().enumerate() {
                let len = i32::from_be_bytes(buf[p..p + 4].try_into().unwrap());
                p += 4;
                let value = if len < 0 {
                    None
                } else {
                    let v = &buf[p..p + len as usize];
                    p += len as usize;
                    Some(v)
                };
                column
                    .append(value)
                    .map_err(|e| anyhow!("column \"{}\": {e}", schema.field(c).name()))?;
            }
            *rows += 1;
            Ok(())
        })
    }

    fn full(&self) -> bool {
        self.rows >= BATCH_ROWS || self.bytes >= BATCH_BYTES
    }

    fn bytes(&self) -> usize {
        self.bytes
    }

    fn take(&mut self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = self.columns.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        self.bytes = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    fn end(&self) -> Result<()> {
        self.frames.end()
    }
}

/// Whole rows of a binary COPY stream, unchanged: the header and trailer
/// are taken off, so the rows of several streams (partitions) can follow
/// one another into one `COPY … FROM STDIN (FORMAT binary)`.
pub struct Framer {
    frames: Frames,
    out: BytesMut,
    rows: u64,
    bytes: usize,
}

impl Framer {
    pub fn new(ncols: usize) -> Framer {
        Framer {
            frames: Frames::new(ncols),
            out: BytesMut::with_capacity(FRAME_BYTES),
            rows: 0,
            bytes: 0,
        }
    }
}

impl Consumer for Framer {
    type Item = Encoded;

    fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.bytes += chunk.len();
        let Framer {
            frames, out, rows, ..
        } = self;
        // PostgreSQL sends each row in a message of its own: rows are copied
        // one at a time.
        frames.feed(chunk, |buf, start, end| {
            *rows += 1;
            out.extend_from_slice(&buf[start..end]);
            Ok(())
        })
    }

    fn full(&self) -> bool {
        self.out.len() >= FRAME_BYTES
    }

    fn bytes(&self) -> usize {
        self.bytes
    }

    fn take(&mut self) -> Result<Encoded> {
        let data = self.out.split().freeze();
        self.out.reserve(FRAME_BYTES);
        let rows = std::mem::take(&mut self.rows);
        self.bytes = 0;
        Ok(Encoded { bytes: data, rows })
    }

    fn end(&self) -> Result<()> {
        self.frames.end()
    }
}

fn be_i16(v: &[u8]) -> Result<i16> {
    Ok(i16::from_be_bytes(
        v.try_into().map_err(|_| anyhow!("bad int2 length"))?,
    ))
}
fn be_i32(v: &[u8]) -> Result<i32> {
    Ok(i32::from_be_bytes(
        v.try_into().map_err(|_| anyhow!("bad int4 length"))?,
    ))
}
fn be_i64(v: &[u8]) -> Result<i64> {
    Ok(i64::from_be_bytes(
        v.try_into().map_err(|_| anyhow!("bad int8 length"))?,
    ))
}

/// `len` bytes of `v` from `at`, or an error when the value is shorter.
fn slice(v: &[u8], at: usize, len: usize) -> Result<&[u8]> {
    at.checked_add(len)
        .and_then(|end| v.get(at..end))
        .ok_or_else(|| anyhow!("array value is shorter than its header says"))
}

fn b<T: 'static>(builder: &mut dyn ArrayBuilder) -> &mut T {
    builder
        .as_any_mut()
        .downcast_mut::<T>()
        .expect("builder matches the wire type")
}

fn jsonb_text(v: &[u8]) -> Result<&str> {
    match v.split_first() {
        Some((1, rest)) => utf8(rest),
        _ => Err(anyhow!("unknown jsonb version")),
    }
}

fn utf8(v: &[u8]) -> Result<&str> {
    std::str::from_utf8(v).map_err(|_| anyhow!("text is not valid UTF-8"))
}

fn boolean(v: &[u8]) -> Result<bool> {
    Ok(v.first() == Some(&1))
}

fn float4(v: &[u8]) -> Result<f32> {
    be_i32(v).map(|i| f32::from_bits(i as u32))
}

fn float8(v: &[u8]) -> Result<f64> {
    be_i64(v).map(|i| f64::from_bits(i as u64))
}

fn date(v: &[u8]) -> Result<i32> {
    let d = be_i32(v)?;
    if d == i32::MAX || d == i32::MIN {
        bail!("infinite dates cannot be copied; cast or filter them in --query");
    }
    Ok(d + PG_EPOCH_DAYS)
}

fn timestamp(v: &[u8]) -> Result<i64> {
    let t = be_i64(v)?;
    if t == i64::MAX || t == i64::MIN {
        bail!("infinite timestamps cannot be copied; cast or filter them in --query");
    }
    Ok(t + PG_EPOCH_MICROS)
}

/// A column's builder, with the common wire forms resolved once so that a
/// value goes to its builder without a type check; the rest go through
/// [`append`].
enum Builder {
    Bool(Box<BooleanBuilder>),
    Int2(Box<Int16Builder>),
    Int4(Box<Int32Builder>),
    Int8(Box<Int64Builder>),
    Float4(Box<Float32Builder>),
    Float8(Box<Float64Builder>),
    Numeric(Box<Decimal128Builder>, i8),
    Text(Box<StringBuilder>),
    Date(Box<Date32Builder>),
    Timestamp(Box<TimestampMicrosecondBuilder>),
    Uuid(Box<FixedSizeBinaryBuilder>),
    Other(Box<dyn ArrayBuilder>, Wire),
}

impl Builder {
    fn new(data_type: &DataType, wire: &Wire) -> Builder {
        let builder = make_builder(data_type, 1024);
        macro_rules! pick {
            ($variant:ident, $ty:ty $(, $extra:expr)?) => {
                if builder.as_any().is::<$ty>() {
                    match builder.into_box_any().downcast::<$ty>() {
                        Ok(b) => return Builder::$variant(b $(, $extra)?),
                        Err(_) => unreachable!("the type was checked"),
                    }
                }
            };
        }
        match wire {
            Wire::Bool => pick!(Bool, BooleanBuilder),
            Wire::Int2 => pick!(Int2, Int16Builder),
            Wire::Int4 => pick!(Int4, Int32Builder),
            Wire::Int8 => pick!(Int8, Int64Builder),
            Wire::Float4 => pick!(Float4, Float32Builder),
            Wire::Float8 => pick!(Float8, Float64Builder),
            Wire::Numeric { scale } => pick!(Numeric, Decimal128Builder, *scale),
            Wire::Text | Wire::NumericText | Wire::Inet { .. } => pick!(Text, StringBuilder),
            Wire::Date => pick!(Date, Date32Builder),
            Wire::Timestamp => pick!(Timestamp, TimestampMicrosecondBuilder),
            Wire::Uuid => pick!(Uuid, FixedSizeBinaryBuilder),
            _ => {}
        }
        Builder::Other(builder, wire.clone())
    }

    fn append(&mut self, v: Option<&[u8]>) -> Result<()> {
        macro_rules! put {
            ($b:expr, $conv:expr) => {
                match v {
                    None => $b.append_null(),
                    Some(v) => $b.append_value($conv(v)?),
                }
            };
        }
        match self {
            Builder::Bool(b) => put!(b, boolean),
            Builder::Int2(b) => put!(b, be_i16),
            Builder::Int4(b) => put!(b, be_i32),
            Builder::Int8(b) => put!(b, be_i64),
            Builder::Float4(b) => put!(b, float4),
            Builder::Float8(b) => put!(b, float8),
            Builder::Numeric(b, scale) => put!(b, |v| decode_numeric_i128(v, *scale)),
            Builder::Text(b) => put!(b, utf8),
            Builder::Date(b) => put!(b, date),
            Builder::Timestamp(b) => put!(b, timestamp),
            Builder::Uuid(b) => match v {
                None => b.append_null(),
                Some(v) => b.append_value(v)?,
            },
            Builder::Other(b, wire) => append(b.as_mut(), wire, v)?,
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Int2(b) => Arc::new(b.finish()),
            Builder::Int4(b) => Arc::new(b.finish()),
            Builder::Int8(b) => Arc::new(b.finish()),
            Builder::Float4(b) => Arc::new(b.finish()),
            Builder::Float8(b) => Arc::new(b.finish()),
            Builder::Numeric(b, _) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Uuid(b) => Arc::new(b.finish()),
            Builder::Other(b, _) => b.finish(),
        }
    }
}

/// Append one value (None = NULL) in its `send` form to a builder.
fn append(builder: &mut dyn ArrayBuilder, wire: &Wire, v: Option<&[u8]>) -> Result<()> {
    macro_rules! put {
        ($ty:ty, $conv:expr) => {{
            let bl = b::<$ty>(builder);
            match v {
                None => bl.append_null(),
                Some(v) => bl.append_value($conv(v)?),
            }
        }};
    }
    match wire {
        Wire::Bool => put!(BooleanBuilder, boolean),
        Wire::Int2 => put!(Int16Builder, be_i16),
        Wire::Int4 => put!(Int32Builder, be_i32),
        Wire::Int8 => put!(Int64Builder, be_i64),
        Wire::Float4 => put!(Float32Builder, float4),
        Wire::Float8 => put!(Float64Builder, float8),
        Wire::Numeric { scale } => {
            if let Some(bl) = builder.as_any_mut().downcast_mut::<Decimal128Builder>() {
                match v {
                    None => bl.append_null(),
                    Some(v) => bl.append_value(decode_numeric_i128(v, *scale)?),
                }
            } else {
                put!(Decimal256Builder, |v| decode_numeric(v, *scale))
            }
        }
        Wire::Text | Wire::NumericText | Wire::Inet { .. } => put!(StringBuilder, utf8),
        Wire::Jsonb => put!(StringBuilder, jsonb_text),
        Wire::Bytea => {
            let bl = b::<BinaryBuilder>(builder);
            match v {
                None => bl.append_null(),
                Some(v) => bl.append_value(v),
            }
        }
        Wire::Date => put!(Date32Builder, date),
        Wire::Time => put!(Time64MicrosecondBuilder, be_i64),
        Wire::Timestamp => put!(TimestampMicrosecondBuilder, timestamp),
        Wire::Interval => put!(IntervalMonthDayNanoBuilder, |v: &[u8]| {
            if v.len() != 16 {
                bail!("bad interval length");
            }
            let micros = be_i64(&v[..8])?;
            let days = be_i32(&v[8..12])?;
            let months = be_i32(&v[12..16])?;
            Ok(IntervalMonthDayNano::new(
                months,
                days,
                micros
                    .checked_mul(1000)
                    .ok_or_else(|| anyhow!("interval out of range"))?,
            ))
        }),
        Wire::Uuid => {
            let bl = b::<FixedSizeBinaryBuilder>(builder);
            match v {
                None => bl.append_null(),
                Some(v) => bl.append_value(v)?,
            }
        }
        Wire::Array { elem, .. } => {
            let bl = b::<ListBuilder<Box<dyn ArrayBuilder>>>(builder);
            let Some(v) = v else {
                bl.append_null();
                return Ok(());
            };
            let ndim = be_i32(slice(v, 0, 4)?)?;
            if ndim == 0 {
                bl.append(true);
                return Ok(());
            }
            if ndim != 1 {
                bail!("only one-dimensional arrays can be copied (found {ndim} dimensions)");
            }
            let count = be_i32(slice(v, 12, 4)?)?;
            let mut p = 20;
            for _ in 0..count {
                let len = be_i32(slice(v, p, 4)?)?;
                p += 4;
                let item = if len < 0 {
                    None
                } else {
                    let it = slice(v, p, len as usize)?;
                    p += len as usize;
                    Some(it)
                };
                append(bl.values().as_mut(), elem, item)?;
            }
            bl.append(true);
        }
    }
    Ok(())
}

fn pow10(n: u32) -> i256 {
    let mut x = i256::ONE;
    for _ in 0..n {
        x = x.wrapping_mul(i256::from_i128(10));
    }
    x
}

/// A numeric's `send` form as an integer scaled by 10^scale; refuses values
/// that would need rounding, NaN and infinities.
pub fn decode_numeric(v: &[u8], scale: i8) -> Result<i256> {
    if v.len() < 8 {
        bail!("bad numeric length");
    }
    let ndigits = be_i16(&v[0..2])? as i32;
    let weight = be_i16(&v[2..4])? as i32;
    let sign = u16::from_be_bytes([v[4], v[5]]);
    if ndigits < 0 || v.len() < 8 + 2 * ndigits as usize {
        bail!("bad numeric length");
    }
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => bail!("NaN cannot be stored in a decimal column"),
        _ => bail!("infinity cannot be stored in a decimal column"),
    }
    let mut acc = i256::ZERO;
    let ten_k = i256::from_i128(10_000);
    for i in 0..ndigits as usize {
        let d = be_i16(&v[8 + 2 * i..10 + 2 * i])?;
        acc = acc
            .checked_mul(ten_k)
            .and_then(|a| a.checked_add(i256::from_i128(d as i128)))
            .ok_or_else(|| anyhow!("numeric value out of range"))?;
    }
    // acc × 10000^(weight − ndigits + 1), rescaled to 10^scale.
    let exp = 4 * (weight - ndigits + 1) + scale as i32;
    if ndigits > 0 {
        if exp >= 0 {
            acc = acc
                .checked_mul(pow10(exp as u32))
                .ok_or_else(|| anyhow!("numeric value out of range"))?;
        } else {
            let div = pow10((-exp) as u32);
            if acc.wrapping_rem(div) != i256::ZERO {
                bail!("numeric value has more decimal places than the column's scale {scale}");
            }
            acc = acc.wrapping_div(div);
        }
    }
    Ok(if sign == 0x4000 {
        acc.wrapping_neg()
    } else {
        acc
    })
}

/// [`decode_numeric`] for Decimal128 columns, in 128-bit arithmetic; the
/// 256-bit path is taken only when an intermediate value does not fit, so
/// values and errors are the same as [`decode_numeric`]'s.
pub fn decode_numeric_i128(v: &[u8], scale: i8) -> Result<i128> {
    let fast = || -> Option<i128> {
        if v.len() < 8 || scale < 0 {
            return None;
        }
        let ndigits = i16::from_be_bytes([v[0], v[1]]);
        let weight = i16::from_be_bytes([v[2], v[3]]) as i32;
        let sign = u16::from_be_bytes([v[4], v[5]]);
        if !(sign == 0x0000 || sign == 0x4000) || ndigits < 0 {
            return None;
        }
        let ndigits = ndigits as usize;
        if v.len() < 8 + 2 * ndigits {
            return None;
        }
        let mut acc: i128 = 0;
        for i in 0..ndigits {
            let d = i16::from_be_bytes([v[8 + 2 * i], v[9 + 2 * i]]) as i128;
            acc = acc.checked_mul(10_000)?.checked_add(d)?;
        }
        if ndigits > 0 {
            let exp = 4 * (weight - ndigits as i32 + 1) + scale as i32;
            let p = 10i128.checked_pow(exp.unsigned_abs())?;
            if exp >= 0 {
                acc = acc.checked_mul(p)?;
            } else if acc % p != 0 {
                // More decimal places than the scale: the slow path says so.
                return None;
            } else {
                acc /= p;
            }
        }
        Some(if sign == 0x4000 { -acc } else { acc })
    };
    match fast() {
        Some(x) => Ok(x),
        None => decode_numeric(v, scale)?
            .to_i128()
            .ok_or_else(|| anyhow!("numeric value out of range")),
    }
}

/// Write a numeric's `send` form straight from a decimal's unscaled 128-bit
/// value, without text: base-10000 groups aligned on the decimal point.
/// Returns false (writing nothing) when the value is too large to align in
/// 128 bits or the scale is negative; the caller then uses the text path.
pub fn encode_numeric_i128(out: &mut BytesMut, v: i128, scale: i8) -> bool {
    if scale < 0 {
        return false;
    }
    let s = scale as u32;
    let pad = (4 - s % 4) % 4;
    let Some(mut u) = v.unsigned_abs().checked_mul(10u128.pow(pad)) else {
        return false;
    };
    let frac_groups = ((s + pad) / 4) as i32;
    // Least significant group first; 128 bits hold at most 10 groups.
    let mut groups = [0i16; 10];
    let mut n = 0;
    while u > u64::MAX as u128 {
        groups[n] = (u % 10_000) as i16;
        u /= 10_000;
        n += 1;
    }
    let mut small = u as u64;
    while small > 0 {
        groups[n] = (small % 10_000) as i16;
        small /= 10_000;
        n += 1;
    }
    let low = groups[..n].iter().take_while(|&&g| g == 0).count();
    let ndigits = n - low;
    if ndigits == 0 {
        out.put_i32(8);
        out.put_i16(0);
        out.put_i16(0);
        out.put_u16(0);
        out.put_u16(s as u16);
        return true;
    }
    out.put_i32(8 + 2 * ndigits as i32);
    out.put_i16(ndigits as i16);
    out.put_i16((n as i32 - 1 - frac_groups) as i16);
    out.put_u16(if v < 0 { 0x4000 } else { 0 });
    out.put_u16(s as u16);
    for g in groups[low..n].iter().rev() {
        out.put_i16(*g);
    }
    true
}

/// Write a numeric's `send` form for a decimal given as digits.
pub fn encode_numeric(out: &mut BytesMut, negative: bool, int_digits: &str, frac_digits: &str) {
    let dscale = frac_digits.len() as u16;
    let int_digits = int_digits.trim_start_matches('0');
    let mut groups: Vec<i16> = Vec::new();
    let lead = (4 - int_digits.len() % 4) % 4;
    let padded_int: String = "0".repeat(lead) + int_digits;
    for chunk in padded_int.as_bytes().chunks(4) {
        groups.push(std::str::from_utf8(chunk).unwrap().parse().unwrap());
    }
    let mut weight = groups.len() as i32 - 1;
    let trail = (4 - frac_digits.len() % 4) % 4;
    let padded_frac: String = frac_digits.to_string() + &"0".repeat(trail);
    for chunk in padded_frac.as_bytes().chunks(4) {
        groups.push(std::str::from_utf8(chunk).unwrap().parse().unwrap());
    }
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let (weight, sign) = if groups.is_empty() {
        (0, 0)
    } else {
        (weight, if negative { 0x4000u16 } else { 0 })
    };
    out.put_i32(8 + 2 * groups.len() as i32);
    out.put_i16(groups.len() as i16);
    out.put_i16(weight as i16);
    out.put_u16(sign);
    out.put_u16(dscale);
    for g in groups {
        out.put_i16(g);
    }
}

/// Split a decimal string such as `-12.3400` into (negative, int, frac).
fn parse_decimal_text(s: &str) -> Result<(bool, String, String)> {
    let t = s.trim();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (
            &body[..i],
            body[i + 1..]
                .parse::<i32>()
                .map_err(|_| anyhow!("not a number: {s:?}"))?,
        ),
        None => (body, 0),
    };
    let (ip, fp) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (ip.is_empty() && fp.is_empty())
        || !ip.bytes().all(|c| c.is_ascii_digit())
        || !fp.bytes().all(|c| c.is_ascii_digit())
    {
        bail!("not a number: {s:?}");
    }
    let mut digits = format!("{ip}{fp}");
    let mut point = ip.len() as i32 + exp;
    if point < 0 {
        digits = "0".repeat((-point) as usize) + &digits;
        point = 0;
    }
    if point as usize > digits.len() {
        digits += &"0".repeat(point as usize - digits.len());
    }
    let (i, f) = digits.split_at(point as usize);
    Ok((neg, i.to_string(), f.to_string()))
}

fn encode_decimal_int(out: &mut BytesMut, text: String, scale: i8) {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, text),
    };
    let s = scale.max(0) as usize;
    let digits = if digits.len() <= s {
        "0".repeat(s + 1 - digits.len()) + &digits
    } else {
        digits
    };
    let (i, f) = digits.split_at(digits.len() - s);
    encode_numeric(out, neg, i, f);
}

/// A column resolved once per batch to its concrete Arrow type, so the row
/// loop neither downcasts nor dispatches per value for the common types.
enum Column<'a> {
    Bool(&'a BooleanArray),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
    Dec(&'a Decimal128Array, i8),
    Text(&'a StringArray),
    Date(&'a Date32Array),
    Time(&'a Time64MicrosecondArray),
    Timestamp(&'a TimestampMicrosecondArray),
    Uuid(&'a FixedSizeBinaryArray),
    /// Everything else, value by value.
    Other(&'a dyn Array, &'a Wire),
}

impl<'a> Column<'a> {
    fn new(array: &'a dyn Array, wire: &'a Wire) -> Column<'a> {
        let any = array.as_any();
        let typed = match (wire, array.data_type()) {
            (Wire::Bool, _) => any.downcast_ref().map(Column::Bool),
            (Wire::Int2, _) => any.downcast_ref().map(Column::I16),
            (Wire::Int4, _) => any.downcast_ref().map(Column::I32),
            (Wire::Int8, _) => any.downcast_ref().map(Column::I64),
            (Wire::Float4, _) => any.downcast_ref().map(Column::F32),
            (Wire::Float8, _) => any.downcast_ref().map(Column::F64),
            (Wire::Numeric { scale }, DataType::Decimal128(..)) => {
                any.downcast_ref().map(|a| Column::Dec(a, *scale))
            }
            (Wire::Text, DataType::Utf8) => any.downcast_ref().map(Column::Text),
            (Wire::Date, _) => any.downcast_ref().map(Column::Date),
            (Wire::Time, _) => any.downcast_ref().map(Column::Time),
            (Wire::Timestamp, _) => any.downcast_ref().map(Column::Timestamp),
            (Wire::Uuid, _) => any.downcast_ref().map(Column::Uuid),
            _ => None,
        };
        typed.unwrap_or(Column::Other(array, wire))
    }

    fn encode(&self, out: &mut BytesMut, row: usize) -> Result<()> {
        match self {
            Column::Bool(a) => {
                out.put_i32(1);
                out.put_u8(a.value(row) as u8);
            }
            Column::I16(a) => {
                out.put_i32(2);
                out.put_i16(a.value(row));
            }
            Column::I32(a) => {
                out.put_i32(4);
                out.put_i32(a.value(row));
            }
            Column::I64(a) => {
                out.put_i32(8);
                out.put_i64(a.value(row));
            }
            Column::F32(a) => {
                out.put_i32(4);
                out.put_f32(a.value(row));
            }
            Column::F64(a) => {
                out.put_i32(8);
                out.put_f64(a.value(row));
            }
            Column::Dec(a, scale) => {
                let v = a.value(row);
                if !encode_numeric_i128(out, v, *scale) {
                    encode_decimal_int(out, v.to_string(), *scale);
                }
            }
            Column::Text(a) => {
                let v = a.value(row);
                out.put_i32(v.len() as i32);
                out.put_slice(v.as_bytes());
            }
            Column::Date(a) => {
                out.put_i32(4);
                out.put_i32(a.value(row) - PG_EPOCH_DAYS);
            }
            Column::Time(a) => {
                out.put_i32(8);
                out.put_i64(a.value(row));
            }
            Column::Timestamp(a) => {
                out.put_i32(8);
                out.put_i64(a.value(row) - PG_EPOCH_MICROS);
            }
            Column::Uuid(a) => {
                out.put_i32(16);
                out.put_slice(a.value(row));
            }
            Column::Other(a, wire) => return encode_value(out, *a, row, wire),
        }
        Ok(())
    }
}

/// Encode a batch (already cast to the wire's Arrow types) as binary COPY rows.
pub fn encode_batch(out: &mut BytesMut, batch: &RecordBatch, wires: &[Wire]) -> Result<()> {
    let ncols = batch.num_columns();
    let columns: Vec<(Column, Option<arrow::buffer::NullBuffer>)> = batch
        .columns()
        .iter()
        .zip(wires)
        .map(|(c, w)| (Column::new(c.as_ref(), w), c.logical_nulls()))
        .collect();
    for row in 0..batch.num_rows() {
        out.put_i16(ncols as i16);
        for (c, (column, nulls)) in columns.iter().enumerate() {
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                out.put_i32(-1);
                continue;
            }
            column.encode(out, row).map_err(|e| {
                anyhow!(
                    "row {row}, column \"{}\": {e}",
                    batch.schema().field(c).name()
                )
            })?;
        }
    }
    Ok(())
}

pub fn header(out: &mut BytesMut) {
    out.put_slice(SIGNATURE);
    out.put_i32(0);
    out.put_i32(0);
}

pub fn trailer(out: &mut BytesMut) {
    out.put_i16(-1);
}

fn encode_value(out: &mut BytesMut, array: &dyn Array, row: usize, wire: &Wire) -> Result<()> {
    if array.is_null(row) {
        out.put_i32(-1);
        return Ok(());
    }
    match wire {
        Wire::Bool => {
            out.put_i32(1);
            out.put_u8(array.as_boolean().value(row) as u8);
        }
        Wire::Int2 => {
            out.put_i32(2);
            out.put_i16(
                array
                    .as_primitive::<arrow::datatypes::Int16Type>()
                    .value(row),
            );
        }
        Wire::Int4 => {
            out.put_i32(4);
            out.put_i32(
                array
                    .as_primitive::<arrow::datatypes::Int32Type>()
                    .value(row),
            );
        }
        Wire::Int8 => {
            out.put_i32(8);
            out.put_i64(
                array
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .value(row),
            );
        }
        Wire::Float4 => {
            out.put_i32(4);
            out.put_f32(
                array
                    .as_primitive::<arrow::datatypes::Float32Type>()
                    .value(row),
            );
        }
        Wire::Float8 => {
            out.put_i32(8);
            out.put_f64(
                array
                    .as_primitive::<arrow::datatypes::Float64Type>()
                    .value(row),
            );
        }
        Wire::Numeric { scale } => {
            if let DataType::Decimal128(..) = array.data_type() {
                let v = array
                    .as_primitive::<arrow::datatypes::Decimal128Type>()
                    .value(row);
                if encode_numeric_i128(out, v, *scale) {
                    return Ok(());
                }
            }
            let text = match array.data_type() {
                DataType::Decimal128(..) => array
                    .as_primitive::<arrow::datatypes::Decimal128Type>()
                    .value(row)
                    .to_string(),
                _ => array
                    .as_primitive::<arrow::datatypes::Decimal256Type>()
                    .value(row)
                    .to_string(),
            };
            encode_decimal_int(out, text, *scale);
        }
        Wire::NumericText => {
            let s = array.as_string::<i32>().value(row);
            let (neg, i, f) = parse_decimal_text(s)?;
            encode_numeric(out, neg, &i, &f);
        }
        Wire::Text => {
            let s = array.as_string::<i32>().value(row);
            out.put_i32(s.len() as i32);
            out.put_slice(s.as_bytes());
        }
        Wire::Jsonb => {
            let s = array.as_string::<i32>().value(row);
            out.put_i32(s.len() as i32 + 1);
            out.put_u8(1);
            out.put_slice(s.as_bytes());
        }
        Wire::Inet { cidr } => encode_inet(out, array.as_string::<i32>().value(row), *cidr)?,
        Wire::Bytea => {
            let v = array.as_binary::<i32>().value(row);
            out.put_i32(v.len() as i32);
            out.put_slice(v);
        }
        Wire::Date => {
            out.put_i32(4);
            out.put_i32(
                array
                    .as_primitive::<arrow::datatypes::Date32Type>()
                    .value(row)
                    - PG_EPOCH_DAYS,
            );
        }
        Wire::Time => {
            out.put_i32(8);
            out.put_i64(
                array
                    .as_primitive::<arrow::datatypes::Time64MicrosecondType>()
                    .value(row),
            );
        }
        Wire::Timestamp => {
            out.put_i32(8);
            let t = array
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(row);
            out.put_i64(t - PG_EPOCH_MICROS);
        }
        Wire::Interval => {
            let v = array
                .as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>()
                .value(row);
            if v.nanoseconds % 1000 != 0 {
                bail!("interval has nanoseconds; PostgreSQL keeps microseconds");
            }
            out.put_i32(16);
            out.put_i64(v.nanoseconds / 1000);
            out.put_i32(v.days);
            out.put_i32(v.months);
        }
        Wire::Uuid => {
            out.put_i32(16);
            out.put_slice(array.as_fixed_size_binary().value(row));
        }
        Wire::Array { elem_oid, elem } => {
            let list = array.as_list::<i32>();
            let values = list.value(row);
            let len_pos = out.len();
            out.put_i32(0);
            let start = out.len();
            let n = values.len();
            if n == 0 {
                out.put_i32(0);
                out.put_i32(0);
                out.put_u32(*elem_oid);
            } else {
                out.put_i32(1);
                out.put_i32(values.null_count().min(1) as i32);
                out.put_u32(*elem_oid);
                out.put_i32(n as i32);
                out.put_i32(1);
                for i in 0..n {
                    encode_value(out, values.as_ref(), i, elem)?;
                }
            }
            let len = (out.len() - start) as i32;
            out[len_pos..len_pos + 4].copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

fn encode_inet(out: &mut BytesMut, text: &str, cidr: bool) -> Result<()> {
    let (addr, bits) = match text.split_once('/') {
        Some((a, b)) => (
            a,
            Some(
                b.parse::<u8>()
                    .map_err(|_| anyhow!("bad prefix in {text:?}"))?,
            ),
        ),
        None => (text, None),
    };
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| anyhow!("not an IP address: {text:?}"))?;
    let (family, bytes): (u8, Vec<u8>) = match ip {
        std::net::IpAddr::V4(a) => (2, a.octets().to_vec()),
        std::net::IpAddr::V6(a) => (3, a.octets().to_vec()),
    };
    let max = (bytes.len() * 8) as u8;
    out.put_i32(4 + bytes.len() as i32);
    out.put_u8(family);
    out.put_u8(bits.unwrap_or(max));
    out.put_u8(cidr as u8);
    out.put_u8(bytes.len() as u8);
    out.put_slice(&bytes);
    Ok(())
}

/// Cast a batch's columns to the Arrow types the wires expect.
pub fn conform(batch: &RecordBatch, types: &[DataType], schema: &SchemaRef) -> Result<RecordBatch> {
    let mut cols = Vec::with_capacity(types.len());
    for (i, dt) in types.iter().enumerate() {
        let col = batch.column(i);
        if col.data_type() == dt {
            cols.push(col.clone());
            continue;
        }
        let cast = match (col.data_type(), dt) {
            // Timestamps of another unit: refuse to drop sub-microsecond digits.
            (DataType::Timestamp(TimeUnit::Nanosecond, _), DataType::Timestamp(_, _)) => {
                let a = col.as_primitive::<arrow::datatypes::TimestampNanosecondType>();
                if a.iter().flatten().any(|v| v % 1000 != 0) {
                    bail!(
                        "column \"{}\" has nanoseconds; PostgreSQL keeps microseconds",
                        batch.schema().field(i).name()
                    );
                }
                arrow::compute::cast(col, dt)?
            }
            (DataType::Timestamp(_, _), DataType::Timestamp(u, _)) => {
                // Same instant, the wire's unit; the zone is informational.
                let tmp = arrow::compute::cast(col, &DataType::Timestamp(*u, None))?;
                arrow::compute::cast(&tmp, dt)?
            }
            _ => arrow::compute::cast_with_options(
                col,
                dt,
                &arrow::compute::CastOptions {
                    safe: false,
                    ..Default::default()
                },
            )?,
        };
        cols.push(cast);
    }
    let schema = Arc::new(arrow::datatypes::Schema::new(
        schema
            .fields()
            .iter()
            .zip(types)
            .map(|(f, t)| f.as_ref().clone().with_data_type(t.clone()))
            .collect::<Vec<_>>(),
    ));
    Ok(RecordBatch::try_new(schema, cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY stream of three rows (bigint, nullable text), and its
    /// rows alone.
    fn stream() -> (Vec<u8>, Vec<u8>, RecordBatch) {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("id", DataType::Int64, false),
            arrow::datatypes::Field::new("t", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, -2, 3])),
                Arc::new(StringArray::from(vec![Some("héllo"), None, Some("")])),
            ],
        )
        .unwrap();
        let mut rows = BytesMut::new();
        encode_batch(&mut rows, &batch, &[Wire::Int8, Wire::Text]).unwrap();
        let mut all = BytesMut::new();
        header(&mut all);
        all.extend_from_slice(&rows);
        trailer(&mut all);
        (all.to_vec(), rows.to_vec(), batch)
    }

    /// `data` cut at `at`, then fed in pieces of `step` bytes.
    fn pieces(data: &[u8], at: usize, step: usize) -> Vec<&[u8]> {
        let (a, b) = data.split_at(at);
        let mut out = vec![a];
        out.extend(b.chunks(step));
        out
    }

    #[test]
    fn the_framer_hands_out_the_rows_unchanged_in_any_chunking() {
        let (all, rows, _) = stream();
        for at in 0..all.len() {
            for step in [1, 7, all.len()] {
                let mut f = Framer::new(2);
                for p in pieces(&all, at, step) {
                    f.feed(p).unwrap();
                }
                f.end().unwrap();
                let c = f.take().unwrap();
                assert_eq!(&c.bytes[..], &rows[..], "cut at {at}, step {step}");
                assert_eq!(c.rows, 3);
            }
        }
    }

    #[test]
    fn the_decoder_gives_the_same_batch_in_any_chunking() {
        let (all, _, batch) = stream();
        for at in 0..all.len() {
            let mut d = Decoder::new(batch.schema(), vec![Wire::Int8, Wire::Text]);
            for p in pieces(&all, at, 5) {
                d.feed(p).unwrap();
            }
            d.end().unwrap();
            assert_eq!(d.take().unwrap(), batch, "cut at {at}");
        }
    }

    #[test]
    fn broken_streams_are_errors_not_panics() {
        let (all, _, batch) = stream();
        // Cut short anywhere: an error at the end, never a panic.
        for n in 0..all.len() {
            let mut f = Framer::new(2);
            let fed = f.feed(&all[..n]);
            assert!(fed.is_err() || f.end().is_err(), "cut at {n}");
        }
        // A row with the wrong field count.
        let mut f = Framer::new(3);
        let e = f.feed(&all).unwrap_err();
        assert!(e.to_string().contains("expected 3"), "{e}");
        // Bytes after the trailer.
        let mut f = Framer::new(2);
        f.feed(&all).unwrap();
        assert!(f.feed(&[0, 2]).is_err());
        // Not a COPY stream at all.
        let mut d = Decoder::new(batch.schema(), vec![Wire::Int8, Wire::Text]);
        assert!(d.feed(b"PGCOPY\n\xfe\r\n\0\0\0\0\0\0\0\0\0").is_err());
        // An array value shorter than its header says.
        let field = arrow::datatypes::Field::new_list_field(DataType::Int32, true);
        let mut list = make_builder(&DataType::List(Arc::new(field)), 1);
        let wire = Wire::Array {
            elem_oid: super::super::types::oid::INT4,
            elem: Box::new(Wire::Int4),
        };
        for v in [
            &[0u8, 0, 0, 1][..],
            &[
                0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4, 0,
            ],
        ] {
            let e = append(list.as_mut(), &wire, Some(v)).unwrap_err();
            assert!(e.to_string().contains("shorter"), "{e}");
        }
    }

    fn roundtrip_numeric(text: &str, scale: i8) -> String {
        let (n, i, f) = parse_decimal_text(text).unwrap();
        let mut out = BytesMut::new();
        encode_numeric(&mut out, n, &i, &f);
        let v = decode_numeric(&out[4..], scale).unwrap();
        v.to_string()
    }

    #[test]
    fn numerics_round_trip_exactly() {
        assert_eq!(roundtrip_numeric("12345.6789", 4), "123456789");
        assert_eq!(roundtrip_numeric("-0.0001", 4), "-1");
        assert_eq!(roundtrip_numeric("0", 2), "0");
        assert_eq!(roundtrip_numeric("100000000", 0), "100000000");
        assert_eq!(roundtrip_numeric("1.5", 3), "1500");
        let (n, i, f) = parse_decimal_text("1.23456").unwrap();
        let mut out = BytesMut::new();
        encode_numeric(&mut out, n, &i, &f);
        assert!(
            decode_numeric(&out[4..], 2).is_err(),
            "rounding must be refused"
        );
    }

    #[test]
    fn decimal_ints_encode_with_their_scale() {
        let mut out = BytesMut::new();
        encode_decimal_int(&mut out, "-5".into(), 4);
        assert_eq!(decode_numeric(&out[4..], 4).unwrap().to_string(), "-5");
    }

    #[test]
    fn the_128_bit_numeric_decoder_agrees_with_the_256_bit_one() {
        let texts = [
            "0",
            "1",
            "-1",
            "9999",
            "10000",
            "0.0001",
            "-0.00005",
            "12345.6789",
            "1.23456",
            "99999999999999999999999999999999999.999",
            "170141183460469231731687303715884105727",
            "170141183460469231731687303715884105728",
            "-170141183460469231731687303715884105728",
            "123456789012345678901234567890123456789012345",
            "0.000000000000000000000000000000000000000001",
            "100000000000000000000000000000000000",
        ];
        for text in texts {
            let (n, i, f) = parse_decimal_text(text).unwrap();
            let mut out = BytesMut::new();
            encode_numeric(&mut out, n, &i, &f);
            for scale in [0i8, 1, 2, 4, 5, 8, 18, 38] {
                let slow = decode_numeric(&out[4..], scale)
                    .map_err(|e| e.to_string())
                    .and_then(|x| x.to_i128().ok_or("numeric value out of range".to_string()));
                let fast = decode_numeric_i128(&out[4..], scale).map_err(|e| e.to_string());
                assert_eq!(fast, slow, "{text} at scale {scale}");
            }
        }
        // NaN and a truncated value: the same errors.
        let nan = [0u8, 0, 0, 0, 0xC0, 0, 0, 0];
        assert_eq!(
            decode_numeric_i128(&nan, 2).unwrap_err().to_string(),
            decode_numeric(&nan, 2).unwrap_err().to_string()
        );
        // Fewer digits than announced, or a negative count: an error, never a panic.
        for bad in [
            &[0u8, 2, 0, 0, 0, 0, 0, 0, 0, 1][..],
            &[0xFF, 0xFF, 0, 0, 0, 0, 0, 0],
        ] {
            assert!(decode_numeric(bad, 2).is_err());
            assert!(decode_numeric_i128(bad, 2).is_err());
        }
    }

    #[test]
    fn numeric_from_i128_matches_the_text_path() {
        let values: [i128; 12] = [
            0,
            1,
            -1,
            9_999,
            10_000,
            -123_456_789,
            1_299_000,
            99_999_999_999_999_999,
            i64::MAX as i128 * 1000,
            -(10i128.pow(33)) + 7,
            10i128.pow(37),
            -5,
        ];
        for v in values {
            for scale in [0i8, 1, 2, 4, 5, 8, 10] {
                let mut fast = BytesMut::new();
                let mut slow = BytesMut::new();
                if !encode_numeric_i128(&mut fast, v, scale) {
                    continue;
                }
                encode_decimal_int(&mut slow, v.to_string(), scale);
                assert_eq!(fast, slow, "{v} at scale {scale}");
            }
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use arrow::datatypes::{Field, Schema, TimeUnit};
    use proptest::prelude::*;

    fn wires() -> Vec<(Wire, DataType)> {
        vec![
            (Wire::Int8, DataType::Int64),
            (Wire::Text, DataType::Utf8),
            (Wire::Numeric { scale: 4 }, DataType::Decimal128(38, 4)),
            (Wire::Bool, DataType::Boolean),
            (Wire::Float8, DataType::Float64),
            (Wire::Date, DataType::Date32),
            (
                Wire::Timestamp,
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ),
            (Wire::Bytea, DataType::Binary),
        ]
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(
            wires()
                .iter()
                .enumerate()
                .map(|(i, (_, t))| Field::new(format!("c{i}"), t.clone(), true))
                .collect::<Vec<_>>(),
        ))
    }

    type Row = (
        Option<i64>,
        Option<String>,
        Option<i128>,
        Option<bool>,
        Option<f64>,
        Option<i32>,
        Option<i64>,
        Option<Vec<u8>>,
    );

    fn row() -> impl Strategy<Value = Row> {
        (
            proptest::option::of(any::<i64>()),
            proptest::option::of(".{0,20}"),
            // Decimal128(38, 4): up to 38 digits.
            proptest::option::of(-(10i128.pow(37))..10i128.pow(37)),
            proptest::option::of(any::<bool>()),
            proptest::option::of(
                any::<f64>().prop_filter("NaN never equals itself", |f| !f.is_nan()),
            ),
            // Dates and timestamps PostgreSQL can hold.
            proptest::option::of(-700_000i32..2_900_000),
            proptest::option::of(-200_000_000_000_000_000i64..200_000_000_000_000_000),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        )
    }

    fn batch(rows: &[Row]) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(
                Decimal128Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())
                    .with_precision_and_scale(38, 4)
                    .unwrap(),
            ),
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )),
            Arc::new(Date32Array::from(
                rows.iter().map(|r| r.5).collect::<Vec<_>>(),
            )),
            Arc::new(TimestampMicrosecondArray::from(
                rows.iter().map(|r| r.6).collect::<Vec<_>>(),
            )),
            Arc::new(BinaryArray::from(
                rows.iter().map(|r| r.7.as_deref()).collect::<Vec<_>>(),
            )),
        ];
        RecordBatch::try_new(schema(), cols).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// What convoy encodes, it decodes to the very same values, however
        /// the stream is cut into messages.
        #[test]
        fn encode_then_decode_is_exact(rows in proptest::collection::vec(row(), 0..30), step in 1usize..200) {
            let b = batch(&rows);
            let w: Vec<Wire> = wires().into_iter().map(|(w, _)| w).collect();
            let mut all = BytesMut::new();
            header(&mut all);
            encode_batch(&mut all, &b, &w).unwrap();
            trailer(&mut all);
            let mut d = Decoder::new(schema(), w);
            for piece in all.chunks(step) {
                d.feed(piece).unwrap();
            }
            d.end().unwrap();
            prop_assert_eq!(d.take().unwrap(), b);
        }

        /// Any bytes after a valid header: an error or rows, never a panic.
        #[test]
        fn arbitrary_streams_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let w: Vec<Wire> = wires().into_iter().map(|(w, _)| w).collect();
            let mut all = BytesMut::new();
            header(&mut all);
            all.extend_from_slice(&body);
            let mut d = Decoder::new(schema(), w);
            let _ = d.feed(&all).and_then(|_| d.end()).and_then(|_| d.take());
            let mut f = Framer::new(8);
            let _ = f.feed(&all).and_then(|_| f.end());
        }
    }
}
