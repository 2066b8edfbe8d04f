//! CSV records split and decoded into Arrow columns, for the dialects nearly
//! every file has: an ASCII delimiter and quote, quotes doubled inside quoted
//! fields or escaped with an ASCII escape character, and columns that are
//! text or integers on the wire (the conformer turns text into every other
//! type).
//!
//! It reads exactly what csv-core (under arrow-csv) reads — the same records,
//! fields and values, blank lines skipped, `\r`, `\n` and `\r\n` ending
//! records, a quote opening a quoted field only at the start of a field —
//! and is checked against it byte for byte in the tests below. It is faster
//! because it finds the bytes that matter 64 at a time (delimiters, line
//! ends, quotes, with quoted regions from the parity of the quotes before),
//! leaves field bytes where they were read rather than copying each out, and
//! builds each column straight from the fields.
//!
//! The bytes come through the [`super::scan::Scan`] reader, which has already
//! refused what csv-core would merge or mend (a quote never closed, text
//! after a closing quote), so only inputs it let through are split here.

use std::io::Read;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBufferBuilder, StringArray};
use arrow::array::{PrimitiveArray, RecordBatch};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::kernels::cast_utils::Parser;
use arrow::datatypes::*;

/// Bytes asked of the input at a time.
const READ_BYTES: usize = 256 << 10;

/// A batch ends early once its records hold this many bytes, so that wide
/// rows keep memory flat (and a text column within Arrow's 2 GiB).
const BATCH_BYTES: usize = 16 << 20;

/// Why a batch could not be read; worded for the user by the caller.
#[derive(Debug)]
pub enum Problem {
    /// A record (counted from 0, the header included) with the wrong number
    /// of fields.
    Fields {
        record: u64,
        expected: usize,
        found: usize,
    },
    /// A record whose bytes are not UTF-8.
    Utf8 { record: u64 },
    /// A value that does not parse as its column's type.
    Value {
        record: u64,
        column: usize,
        value: String,
        ty: DataType,
    },
    /// Reading the input failed.
    Io(std::io::Error),
    /// Anything else (a batch arrow refuses to build).
    Other(String),
}

/// The bytes that matter to splitting records.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: u8,
    /// Inside a quoted field, the byte after it is taken as it is.
    pub escape: Option<u8>,
}

/// Whether [`Records`] reads this dialect and these wire types (otherwise
/// arrow-csv does).
pub fn handles(wire: &Schema, d: Dialect) -> bool {
    let plain = |b: u8| b.is_ascii() && b != 0 && b != b'\r' && b != b'\n';
    !wire.fields().is_empty()
        && plain(d.delimiter)
        && plain(d.quote)
        && d.delimiter != d.quote
        && d.escape
            .is_none_or(|e| plain(e) && e != d.delimiter && e != d.quote)
        && wire
            .fields()
            .iter()
            .all(|f| f.data_type() == &DataType::Utf8 || f.data_type().is_integer())
}

/// Where a field's bytes are in the buffer, quotes included.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

/// Batches of the wire schema from CSV bytes.
pub struct Records<R> {
    input: R,
    buf: Vec<u8>,
    /// Bytes of `buf` read so far ...
    filled: usize,
    /// ... of which those before `pos` are split into batches already.
    pos: usize,
    eof: bool,
    dialect: Dialect,
    wire: SchemaRef,
    /// The text of a NULL; `None`: an empty field is NULL.
    null: Option<Vec<u8>>,
    header: bool,
    /// The next record, counted from 0 with the header.
    record: u64,
    batch_rows: usize,
    batch_bytes: usize,
    spans: Vec<Span>,
    scratch: Vec<u8>,
    /// Nothing has been split yet (a byte-order mark may lead).
    first: bool,
    done: bool,
}

impl<R: Read> Records<R> {
    pub fn new(
        input: R,
        wire: SchemaRef,
        dialect: Dialect,
        header: bool,
        null: Option<Vec<u8>>,
        batch_rows: usize,
    ) -> Records<R> {
        Records {
            input,
            buf: Vec::new(),
            filled: 0,
            pos: 0,
            eof: false,
            dialect,
            wire,
            null,
            header,
            record: 0,
            batch_rows: batch_rows.max(1),
            batch_bytes: BATCH_BYTES,
            spans: Vec::new(),
            scratch: Vec::new(),
            first: true,
            done: false,
        }
    }

    /// Read more of the input after what is held (`eof` at its end).
    fn fill(&mut self) -> Result<(), Problem> {
        if self.buf.len() < self.filled + READ_BYTES {
            self.buf.resize(self.filled + READ_BYTES, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.filled += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Problem::Io(e)),
            }
        }
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, Problem> {
        // Keep what is not split yet, at the front.
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        let ncols = self.wire.fields().len();
        self.spans.clear();
        if self.first {
            // A UTF-8 byte-order mark before the first record is no part of
            // it, as csv-core has it.
            self.first = false;
            while self.filled < 3 && !self.eof {
                self.fill()?;
            }
            if self.buf[..self.filled].starts_with(b"\xef\xbb\xbf") {
                self.pos = 3;
            }
        }
        if self.header {
            let n = self.split_counted(1)?;
            self.spans.clear();
            if n == 0 {
                return Ok(None);
            }
            self.header = false;
        }
        let data_start = self.pos;
        let first = self.record;
        let rows = self.split_counted(self.batch_rows)?;
        if rows == 0 {
            return Ok(None);
        }
        // Text columns check their bytes are UTF-8, integer columns their
        // digits; when either fails, a record that is not UTF-8 is what is
        // reported, as arrow-csv checks the whole batch before its values.
        let columns = match self.columns(first) {
            Ok(columns) => columns,
            Err(problem) => {
                return Err(match std::str::from_utf8(&self.buf[data_start..self.pos]) {
                    Err(e) => {
                        let at = data_start + e.valid_up_to();
                        let field = self
                            .spans
                            .partition_point(|s| s.start <= at)
                            .saturating_sub(1);
                        Problem::Utf8 {
                            record: first + (field / ncols) as u64,
                        }
                    }
                    Ok(_) => problem,
                })
            }
        };
        let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.wire.clone(), columns, &options)
            .map(Some)
            .map_err(|e| Problem::Other(e.to_string()))
    }

    /// The columns of the batch whose records are in `spans`, the first
    /// being record `first`.
    fn columns(&mut self, first: u64) -> Result<Vec<ArrayRef>, Problem> {
        let ncols = self.wire.fields().len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(ncols);
        for (col, f) in self.wire.fields().iter().enumerate() {
            let c = Column {
                buf: &self.buf,
                spans: &self.spans,
                col,
                ncols,
                dialect: self.dialect,
                null: self.null.as_deref(),
                first,
            };
            let scratch = &mut self.scratch;
            columns.push(match f.data_type() {
                DataType::Utf8 => c.strings(scratch)?,
                DataType::Int8 => c.integers::<Int8Type>(scratch)?,
                DataType::Int16 => c.integers::<Int16Type>(scratch)?,
                DataType::Int32 => c.integers::<Int32Type>(scratch)?,
                DataType::Int64 => c.integers::<Int64Type>(scratch)?,
                DataType::UInt8 => c.integers::<UInt8Type>(scratch)?,
                DataType::UInt16 => c.integers::<UInt16Type>(scratch)?,
                DataType::UInt32 => c.integers::<UInt32Type>(scratch)?,
                DataType::UInt64 => c.integers::<UInt64Type>(scratch)?,
                other => {
                    return Err(Problem::Other(format!(
                        "the CSV decoder does not build {other} columns"
                    )))
                }
            });
        }
        Ok(columns)
    }

    /// Split up to `max` records from `pos` (fewer once they hold
    /// `batch_bytes`), reading more input as needed, each checked to have one
    /// field per column; their fields are appended to `spans` and `record`
    /// moves past them. Returns how many were split.
    fn split_counted(&mut self, max: usize) -> Result<usize, Problem> {
        let ncols = self.wire.fields().len();
        let start = self.pos;
        let mut cut = Cut::at(self.pos, self.spans.len());
        let mut got = 0;
        loop {
            got += split(
                &self.buf[..self.filled],
                &mut cut,
                self.eof,
                (max - got, start + self.batch_bytes),
                self.dialect,
                &mut self.spans,
                ncols,
            )
            .map_err(|(i, found)| Problem::Fields {
                record: self.record + (got + i) as u64,
                expected: ncols,
                found,
            })?;
            self.pos = cut.record_start;
            // Blank lines alone do not end a batch: only records do.
            if got == max || self.eof || (got > 0 && self.pos >= start + self.batch_bytes) {
                break;
            }
            self.fill()?;
        }
        // A batch ended by its bytes may hold the start of the next record,
        // which the next batch splits again.
        self.spans.truncate(cut.first_span);
        self.record += got as u64;
        Ok(got)
    }
}

impl<R: Read> Iterator for Records<R> {
    type Item = Result<RecordBatch, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_batch();
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
        }
        next.transpose()
    }
}

/// One column of a batch's records.
struct Column<'a> {
    buf: &'a [u8],
    spans: &'a [Span],
    col: usize,
    ncols: usize,
    dialect: Dialect,
    null: Option<&'a [u8]>,
    /// The batch's first record (header counted).
    first: u64,
}

impl Column<'_> {
    /// The column's fields, quotes included, row by row.
    fn fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans[self.col..]
            .iter()
            .step_by(self.ncols)
            .map(|s| &self.buf[s.start..s.end])
    }

    fn is_null(&self, value: &[u8]) -> bool {
        match self.null {
            None => value.is_empty(),
            Some(text) => value == text,
        }
    }

    fn strings(&self, scratch: &mut Vec<u8>) -> Result<ArrayRef, Problem> {
        let rows = self.spans.len() / self.ncols;
        // The fields' bytes, quotes included: what the values need at most.
        let bytes: usize = self.fields().map(<[u8]>::len).sum();
        if i32::try_from(bytes).is_err() {
            return Err(Problem::Other(format!(
                "column {} holds more than 2 GiB of text in {rows} rows",
                self.col + 1
            )));
        }
        let mut offsets: Vec<i32> = Vec::with_capacity(rows + 1);
        offsets.push(0);
        let mut values: Vec<u8> = Vec::with_capacity(bytes);
        let mut nulls = Vec::new();
        for (row, raw) in self.fields().enumerate() {
            let v = value(raw, self.dialect, scratch);
            if self.is_null(v) {
                nulls.push(row);
            } else {
                values.extend_from_slice(v);
            }
            // At most `bytes`, checked above.
            offsets.push(values.len() as i32);
        }
        let array = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values.into(),
            null_buffer(rows, &nulls),
        )
        .map_err(|e| Problem::Other(e.to_string()))?;
        Ok(Arc::new(array))
    }

    fn integers<T: ArrowPrimitiveType + Parser>(
        &self,
        scratch: &mut Vec<u8>,
    ) -> Result<ArrayRef, Problem> {
        let rows = self.spans.len() / self.ncols;
        let mut values: Vec<T::Native> = Vec::with_capacity(rows);
        let mut nulls = Vec::new();
        for (row, raw) in self.fields().enumerate() {
            let v = value(raw, self.dialect, scratch);
            if self.is_null(v) {
                values.push(T::Native::default());
                nulls.push(row);
                continue;
            }
            let record = self.first + row as u64;
            let text = std::str::from_utf8(v).map_err(|_| Problem::Utf8 { record })?;
            match T::parse(text) {
                Some(n) => values.push(n),
                None => {
                    return Err(Problem::Value {
                        record,
                        column: self.col,
                        value: text.to_string(),
                        ty: T::DATA_TYPE,
                    })
                }
            }
        }
        Ok(Arc::new(PrimitiveArray::<T>::new(
            values.into(),
            null_buffer(rows, &nulls),
        )))
    }
}

/// The validity of `rows` values of which those at `nulls` are NULL.
fn null_buffer(rows: usize, nulls: &[usize]) -> Option<NullBuffer> {
    if nulls.is_empty() {
        return None;
    }
    let mut valid = BooleanBufferBuilder::new(rows);
    valid.append_n(rows, true);
    for &row in nulls {
        valid.set_bit(row, false);
    }
    Some(NullBuffer::new(valid.finish()))
}

/// A field's value: its bytes, or for a quoted field those between the
/// quotes with doubled and escaped quotes made single (in `scratch` when it
/// has any).
fn value<'a>(raw: &'a [u8], d: Dialect, scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let quote = d.quote;
    let Some(inner) = raw.strip_prefix(&[quote]) else {
        return raw;
    };
    if let Some(body) = inner.strip_suffix(&[quote]) {
        if memchr::memchr(quote, body).is_none()
            && d.escape.is_none_or(|e| memchr::memchr(e, body).is_none())
        {
            return body;
        }
    }
    // What csv-core does inside a quoted field: a quote followed by a quote
    // is one quote, the escape character takes the byte after it as it is,
    // a quote followed by anything else ends the quoted part, and the rest
    // is taken as it is.
    #[derive(PartialEq)]
    enum St {
        Quoted,
        Escaped,
        QuoteSeen,
        After,
    }
    scratch.clear();
    let mut st = St::Quoted;
    for &b in inner {
        match st {
            St::Quoted if b == quote => st = St::QuoteSeen,
            St::Quoted if Some(b) == d.escape => st = St::Escaped,
            St::Escaped => {
                scratch.push(b);
                st = St::Quoted;
            }
            St::QuoteSeen if b == quote => {
                scratch.push(quote);
                st = St::Quoted;
            }
            St::QuoteSeen => {
                scratch.push(b);
                st = St::After;
            }
            _ => scratch.push(b),
        }
    }
    scratch
}

/// The state of the split between two blocks of bytes.
#[derive(Debug, Clone, Copy)]
struct Carry {
    /// Inside a quoted field.
    quoted: bool,
    /// The last byte ended a field or closed a quote: a quote next opens a
    /// field (or is the second of a doubled quote).
    boundary: bool,
    /// The last byte was the escape character inside a quoted field: the
    /// next is taken as it is.
    escaped: bool,
}

/// The quotes of a block, and its delimiters and line ends: bit `i` set
/// where byte `i` is one.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks(block: &[u8; 64], delimiter: u8, quote: u8) -> (u64, u64) {
    use std::arch::x86_64::*;
    let (mut quotes, mut stops) = (0u64, 0u64);
    // SAFETY: SSE2 is part of every x86_64 processor; the loads read bytes
    // 16 i .. 16 i + 16 of a 64-byte array, unaligned loads being allowed.
    unsafe {
        let q = _mm_set1_epi8(quote as i8);
        let d = _mm_set1_epi8(delimiter as i8);
        let n = _mm_set1_epi8(b'\n' as i8);
        let r = _mm_set1_epi8(b'\r' as i8);
        for i in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * i).cast());
            let qs = _mm_movemask_epi8(_mm_cmpeq_epi8(v, q)) as u16;
            let ss = _mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, d), _mm_cmpeq_epi8(v, n)),
                _mm_cmpeq_epi8(v, r),
            )) as u16;
            quotes |= u64::from(qs) << (16 * i);
            stops |= u64::from(ss) << (16 * i);
        }
    }
    (quotes, stops)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn masks(block: &[u8; 64], delimiter: u8, quote: u8) -> (u64, u64) {
    masks_plain(block, delimiter, quote)
}

/// [`masks`] without vector instructions.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn masks_plain(block: &[u8; 64], delimiter: u8, quote: u8) -> (u64, u64) {
    let (mut quotes, mut stops) = (0u64, 0u64);
    for (i, &x) in block.iter().enumerate() {
        quotes |= u64::from(x == quote) << i;
        stops |= u64::from(x == delimiter || x == b'\n' || x == b'\r') << i;
    }
    (quotes, stops)
}

/// Bit `i` is the parity of the bits `0..=i` of `x`.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The delimiters and line ends of a block that are outside quoted fields,
/// and the state after it.
#[inline(always)]
fn structure(block: &[u8; 64], carry: Carry, d: Dialect) -> (u64, Carry) {
    if let Some(e) = d.escape {
        if carry.escaped || memchr::memchr(e, block).is_some() {
            return structure_bytewise(block, carry, d);
        }
    }
    let (quotes, stops) = masks(block, d.delimiter, d.quote);
    if quotes == 0 {
        if carry.quoted {
            return (0, carry);
        }
        return (
            stops,
            Carry {
                quoted: false,
                boundary: stops >> 63 == 1,
                escaped: false,
            },
        );
    }
    // Inside a quoted field after byte i: the parity of the quotes up to it.
    let after = prefix_xor(quotes) ^ if carry.quoted { !0 } else { 0 };
    let before = (after << 1) | u64::from(carry.quoted);
    let outside = stops & !before;
    let opening = quotes & !before;
    let closing = quotes & before;
    let may_open = ((outside | closing) << 1) | u64::from(carry.boundary);
    if opening & !may_open == 0 {
        return (
            outside,
            Carry {
                quoted: after >> 63 == 1,
                boundary: (outside | closing) >> 63 == 1,
                escaped: false,
            },
        );
    }
    // A quote inside an unquoted field, which is a plain byte there.
    structure_bytewise(block, carry, d)
}

/// [`structure`] byte by byte, as csv-core reads: for blocks with a quote
/// inside an unquoted field or an escape character.
fn structure_bytewise(block: &[u8; 64], carry: Carry, d: Dialect) -> (u64, Carry) {
    #[derive(PartialEq)]
    enum St {
        Boundary,
        Field,
        Quoted,
        Escaped,
    }
    let mut st = if carry.escaped {
        St::Escaped
    } else if carry.quoted {
        St::Quoted
    } else if carry.boundary {
        St::Boundary
    } else {
        St::Field
    };
    let mut out = 0u64;
    for (i, &b) in block.iter().enumerate() {
        let stop = b == d.delimiter || b == b'\n' || b == b'\r';
        st = match st {
            St::Boundary if b == d.quote => St::Quoted,
            St::Boundary | St::Field if stop => {
                out |= 1 << i;
                St::Boundary
            }
            St::Boundary | St::Field => St::Field,
            St::Quoted if b == d.quote => St::Boundary,
            St::Quoted if Some(b) == d.escape => St::Escaped,
            St::Quoted | St::Escaped => St::Quoted,
        };
    }
    (
        out,
        Carry {
            quoted: matches!(st, St::Quoted | St::Escaped),
            boundary: st == St::Boundary,
            escaped: st == St::Escaped,
        },
    )
}

/// Where splitting stands: at a block boundary, possibly inside a record
/// whose fields so far are in `spans` already, so that a record longer than
/// what was read is scanned once however many reads it takes.
#[derive(Debug)]
struct Cut {
    /// The next byte to scan.
    p: usize,
    field_start: usize,
    /// The start of the record being split (after the last one split).
    record_start: usize,
    /// The index in `spans` of the record's first field.
    first_span: usize,
    carry: Carry,
}

impl Cut {
    /// At the start of a record at `pos`, with `spans` fields held before it.
    fn at(pos: usize, spans: usize) -> Cut {
        Cut {
            p: pos,
            field_start: pos,
            record_start: pos,
            first_span: spans,
            carry: Carry {
                quoted: false,
                boundary: true,
                escaped: false,
            },
        }
    }
}

/// Split records from `buf` where `cut` stands, at most `max` and none
/// after the one that ends at or past `until`, appending the spans of their
/// fields. Bytes after the last whole block are left for
/// when more are read, unless `at_end`. Returns the records split; or, for
/// the first record whose field count is not `ncols`, its index among those
/// split and the fields found.
#[allow(clippy::too_many_arguments)]
fn split(
    buf: &[u8],
    cut: &mut Cut,
    at_end: bool,
    (max, until): (usize, usize),
    d: Dialect,
    spans: &mut Vec<Span>,
    ncols: usize,
) -> Result<usize, (usize, usize)> {
    let mut n = 0;
    let mut tail = [0u8; 64];
    while cut.p < buf.len() {
        let p = cut.p;
        let len = (buf.len() - p).min(64);
        let block: &[u8; 64] = if len == 64 {
            buf[p..p + 64].try_into().expect("64 bytes")
        } else if at_end {
            // Padding is a plain byte (0 is neither delimiter nor quote).
            tail[..len].copy_from_slice(&buf[p..]);
            &tail
        } else {
            break;
        };
        let (mut stops, next) = structure(block, cut.carry, d);
        if len < 64 {
            stops &= (1u64 << len) - 1;
        }
        while stops != 0 {
            let at = p + stops.trailing_zeros() as usize;
            stops &= stops - 1;
            if buf[at] == d.delimiter {
                spans.push(Span {
                    start: cut.field_start,
                    end: at,
                });
                cut.field_start = at + 1;
                continue;
            }
            if spans.len() == cut.first_span && cut.field_start == at {
                // A line end where a record would start: skipped.
                cut.field_start = at + 1;
                cut.record_start = at + 1;
                continue;
            }
            spans.push(Span {
                start: cut.field_start,
                end: at,
            });
            let found = spans.len() - cut.first_span;
            if found != ncols {
                return Err((n, found));
            }
            n += 1;
            if n == max || at + 1 >= until {
                *cut = Cut::at(at + 1, spans.len());
                return Ok(n);
            }
            cut.field_start = at + 1;
            cut.record_start = at + 1;
            cut.first_span = spans.len();
        }
        cut.carry = next;
        cut.p = p + len;
    }
    if at_end && (spans.len() > cut.first_span || cut.field_start < buf.len()) {
        spans.push(Span {
            start: cut.field_start,
            end: buf.len(),
        });
        let found = spans.len() - cut.first_span;
        if found != ncols {
            return Err((n, found));
        }
        *cut = Cut::at(buf.len(), spans.len());
        return Ok(n + 1);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::format::scan;
    use rand::{Rng, SeedableRng};

    const COMMA: Dialect = Dialect {
        delimiter: b',',
        quote: b'"',
        escape: None,
    };

    /// Hands out its bytes a few at a time, as a network read might.
    struct Dribble<'a> {
        bytes: &'a [u8],
        sizes: rand::rngs::StdRng,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self
                .sizes
                .random_range(1..=97)
                .min(buf.len())
                .min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Batches(Vec<RecordBatch>),
        Fields(u64),
        Utf8,
        Value,
    }

    fn ours(
        bytes: &[u8],
        schema: &SchemaRef,
        header: bool,
        null: Option<&str>,
        rows: usize,
        seed: u64,
        escape: Option<u8>,
    ) -> Outcome {
        let input = Dribble {
            bytes,
            sizes: rand::rngs::StdRng::seed_from_u64(seed),
        };
        let records = Records::new(
            input,
            schema.clone(),
            Dialect { escape, ..COMMA },
            header,
            null.map(|n| n.as_bytes().to_vec()),
            rows,
        );
        let mut out = Vec::new();
        for batch in records {
            match batch {
                Ok(b) => out.push(b),
                Err(Problem::Fields { record, .. }) => return Outcome::Fields(record),
                Err(Problem::Utf8 { .. }) => return Outcome::Utf8,
                Err(Problem::Value { .. }) => return Outcome::Value,
                Err(p) => panic!("unexpected {p:?}"),
            }
        }
        Outcome::Batches(out)
    }

    fn arrows(
        bytes: &[u8],
        schema: &SchemaRef,
        header: bool,
        null: Option<&str>,
        rows: usize,
        escape: Option<u8>,
    ) -> Outcome {
        let mut b = arrow::csv::ReaderBuilder::new(schema.clone())
            .with_header(header)
            .with_batch_size(rows);
        if let Some(e) = escape {
            b = b.with_escape(e);
        }
        if let Some(n) = null {
            b = b.with_null_regex(regex::Regex::new(&format!("^{}$", regex::escape(n))).unwrap());
        }
        let mut out = Vec::new();
        for batch in b.build(std::io::Cursor::new(bytes.to_vec())).unwrap() {
            match batch {
                Ok(b) => out.push(b),
                Err(e) => {
                    let text = e.to_string();
                    if text.contains("incorrect number of fields") {
                        let n: u64 = text
                            .split("for line ")
                            .nth(1)
                            .unwrap()
                            .split(',')
                            .next()
                            .unwrap()
                            .parse()
                            .unwrap();
                        return Outcome::Fields(n - 1);
                    }
                    if text.contains("UTF-8") {
                        return Outcome::Utf8;
                    }
                    if text.contains("Error while parsing value") {
                        return Outcome::Value;
                    }
                    panic!("unexpected {text}");
                }
            }
        }
        Outcome::Batches(out)
    }

    /// What the scanner lets through to the decoder, or `None` if it
    /// refuses the input.
    fn scanned(
        bytes: &[u8],
        header: bool,
        one_column: bool,
        escape: Option<u8>,
    ) -> Option<Vec<u8>> {
        let d = scan::Dialect {
            delimiter: b',',
            quote: b'"',
            escape,
            header,
        };
        let mut out = Vec::new();
        scan::Scan::new(bytes, scan::Scanner::new(d, one_column))
            .read_to_end(&mut out)
            .ok()?;
        Some(out)
    }

    fn schema(types: &[DataType]) -> SchemaRef {
        Arc::new(Schema::new(
            types
                .iter()
                .enumerate()
                .map(|(i, t)| Field::new(format!("c{i}"), t.clone(), true))
                .collect::<Vec<_>>(),
        ))
    }

    /// Wide rows end a batch early: the same rows, in batches that hold
    /// about `batch_bytes` each.
    #[test]
    fn batches_of_wide_rows_end_early() {
        let mut text = String::from("n,s\n");
        for i in 0..50 {
            text.push_str(&format!("{i},\"row {i}, wide\"\n"));
        }
        let s = schema(&[DataType::Int64, DataType::Utf8]);
        let mut records = Records::new(text.as_bytes(), s.clone(), COMMA, true, None, 1000);
        records.batch_bytes = 100;
        let batches: Vec<RecordBatch> = records.map(|b| b.unwrap()).collect();
        assert!(batches.len() >= 5, "{}", batches.len());
        assert!(batches.iter().all(|b| b.num_rows() < 10));
        let Outcome::Batches(want) = arrows(text.as_bytes(), &s, true, None, 1000, None) else {
            panic!()
        };
        assert_eq!(
            arrow::compute::concat_batches(&s, &batches).unwrap(),
            arrow::compute::concat_batches(&s, &want).unwrap()
        );
        // More blank lines than a batch's bytes, then a row.
        let text = format!("n,s\n{}1,a\n", "\n".repeat(1000));
        let mut records = Records::new(text.as_bytes(), s.clone(), COMMA, true, None, 1000);
        records.batch_bytes = 100;
        let rows: usize = records.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 1);
    }

    /// The vector masks and the plain ones agree, for every byte value in
    /// every position.
    #[test]
    fn masks_agree() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..2_000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                *b = match rng.random_range(0..4) {
                    0 => b',',
                    1 => b'"',
                    2 => [b'\n', b'\r', b';'][rng.random_range(0..3)],
                    _ => rng.random(),
                };
            }
            for (d, q) in [(b',', b'"'), (b';', b'\''), (b'\t', b'"')] {
                assert_eq!(masks(&block, d, q), masks_plain(&block, d, q));
            }
        }
    }

    /// Fields longer than a read and than the buffer held so far, quotes
    /// doubled and line breaks inside, across batches.
    #[test]
    fn long_fields_are_whole() {
        let long: String = (0..200_000)
            .map(|i| ["ab", "\"\"", "\n", "é"][i % 4])
            .collect();
        let text = format!(
            "n,s\n1,\"{long}\"\n2,plain\n3,\"{long}\"\r\n4,{}\n",
            "x".repeat(700_000)
        );
        let s = schema(&[DataType::Int64, DataType::Utf8]);
        let got = ours(text.as_bytes(), &s, true, None, 3, 1, None);
        assert_eq!(got, arrows(text.as_bytes(), &s, true, None, 3, None));
        let Outcome::Batches(batches) = got else {
            panic!("{got:?}")
        };
        let strings = batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(strings.value(0), long.replace("\"\"", "\""));
        assert_eq!(strings.value(1), "plain");
        assert_eq!(batches[1].num_rows(), 1);
        let records = Records::new(text.as_bytes(), s.clone(), COMMA, true, None, 1000);
        let rows: usize = records.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 4);
    }

    /// Random texts over the bytes that matter to CSV (and some that do
    /// not), split and decoded by both readers: the same batches, or the
    /// same refusal.
    #[test]
    fn reads_what_arrow_csv_reads() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let pieces: &[&[u8]] = &[
            b"a",
            b"b",
            b"1",
            b"-2",
            b"42",
            b" ",
            b",",
            b",",
            b",",
            b"\"",
            b"\"",
            b"\"\"",
            b"\n",
            b"\n",
            b"\r\n",
            b"\r",
            "é".as_bytes(),
            "日本".as_bytes(),
            b"NA",
            b"x\"y",
            b"\xff",
            b"0123456789abcdef0123456789abcdef0123456789",
            b"\\",
            b"\\\"",
        ];
        let values = [
            "7",
            "-12",
            "300",
            "+5",
            " 8",
            "NA",
            "x",
            "a,b",
            "say \"hi\"",
            "line\nbreak",
            "é",
            "",
            "\r",
            "C:\\dir",
        ];
        let types = [
            DataType::Utf8,
            DataType::Utf8,
            DataType::Int64,
            DataType::UInt8,
            DataType::Int32,
        ];
        let mut compared = [0usize; 4];
        for case in 0..16_000u64 {
            let ncols = rng.random_range(1..=4);
            let s = schema(
                &(0..ncols)
                    .map(|_| types[rng.random_range(0..types.len())].clone())
                    .collect::<Vec<_>>(),
            );
            let header = rng.random_bool(0.5);
            let escape = rng.random_bool(0.3).then_some(b'\\');
            let null = rng.random_bool(0.3).then_some("NA");
            let rows = rng.random_range(1..=5);
            let mut text = Vec::new();
            if rng.random_bool(0.5) {
                // Any bytes.
                let len = rng.random_range(0..if case % 10 == 0 { 400 } else { 40 });
                for _ in 0..len {
                    text.extend_from_slice(pieces[rng.random_range(0..pieces.len())]);
                }
            } else {
                // Lines of the right number of fields, mostly.
                for _ in 0..rng.random_range(0..12) {
                    let fields = if rng.random_bool(0.95) {
                        ncols
                    } else {
                        rng.random_range(1..=5)
                    };
                    for f in 0..fields {
                        if f > 0 {
                            text.push(b',');
                        }
                        let quoted = rng.random_bool(0.3);
                        if quoted {
                            text.push(b'"');
                        }
                        for _ in 0..rng.random_range(0..4) {
                            let piece = values[rng.random_range(0..values.len())];
                            if quoted {
                                // Quotes doubled, or escaped where there is
                                // an escape character (as Spark writes).
                                let escaped = match escape {
                                    Some(_) if rng.random_bool(0.5) => {
                                        piece.replace('\\', "\\\\").replace('"', "\\\"")
                                    }
                                    _ => piece.replace('"', "\"\""),
                                };
                                text.extend_from_slice(escaped.as_bytes());
                            } else {
                                text.extend_from_slice(piece.as_bytes());
                            }
                        }
                        if quoted {
                            text.push(b'"');
                        }
                    }
                    text.extend_from_slice([&b"\n"[..], b"\r\n", b"\n\n"][rng.random_range(0..3)]);
                }
            }
            if rng.random_bool(0.05) {
                text.splice(0..0, *b"\xef\xbb\xbf");
            }
            let Some(input) = scanned(&text, header, ncols == 1, escape) else {
                continue;
            };
            let want = arrows(&input, &s, header, null, rows, escape);
            let got = ours(&input, &s, header, null, rows, case, escape);
            assert_eq!(
                got,
                want,
                "case {case}: {:?} as {s:?}, header {header}, null {null:?}, {rows} rows a batch",
                String::from_utf8_lossy(&input)
            );
            compared[match want {
                Outcome::Batches(_) => 0,
                Outcome::Fields(_) => 1,
                Outcome::Utf8 => 2,
                Outcome::Value => 3,
            }] += 1;
        }
        // Every outcome was met often enough to mean something.
        assert!(compared.iter().all(|&n| n > 50), "{compared:?}");
    }
}
