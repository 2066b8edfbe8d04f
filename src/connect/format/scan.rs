//! A light pass over CSV bytes on their way to the decoder, for what the
//! decoders (convoy's [`super::records`], or arrow-csv over csv-core) do not
//! tell: both read as csv-core does, which is lenient, so a quote opened and
//! never closed merges the lines after it into one value, blank lines
//! vanish, and record numbers are not file lines.
//!
//! The pass follows only quotes and line ends (found with `memchr`, so it
//! costs a small fraction of decoding) and:
//! - refuses a quoted field whose closing quote is followed by anything but
//!   a delimiter or a line end, and one still open at the end of the input,
//!   naming the line where the quote opened (PostgreSQL and DuckDB refuse
//!   such files too);
//! - in a file of one column turns a blank line into an empty field, which
//!   is how PostgreSQL, DuckDB and pyarrow write a NULL there; in wider files
//!   counts the blank lines csv-core skips, for a warning;
//! - remembers where records and file lines stop corresponding (newlines in
//!   quoted fields, skipped blank lines), so errors name the file line.
//!
//! Written by hand: no CSV crate reports these while streaming.

use std::io::Read;
use std::sync::{Arc, Mutex};

/// The CSV dialect the pass follows.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: u8,
    pub escape: Option<u8>,
    pub header: bool,
}

/// What the pass learnt, shared with whoever reports errors and warnings.
#[derive(Default, Debug)]
pub struct Scanned {
    inner: Mutex<ScannedInner>,
}

#[derive(Default, Debug)]
struct ScannedInner {
    /// (record index, its first line), where the gap between records and
    /// lines changes. Records count from 0, header included.
    marks: Vec<(u64, u64)>,
    blank_lines: u64,
    error: Option<String>,
    /// The refused closing quote followed a backslash: the file may escape
    /// quotes with one (as Spark writes CSV).
    backslash_quote: bool,
    /// The first value that did not fit its column: (column, value).
    misfit: Option<(usize, String)>,
    /// Quoted empty fields (`""`): (record, field), in order.
    empty_strings: std::collections::VecDeque<(u64, usize)>,
}

impl Scanned {
    fn lock(&self) -> std::sync::MutexGuard<'_, ScannedInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file line (from 1) where record `record` (from 0, header
    /// included) starts.
    pub fn line_of(&self, record: u64) -> u64 {
        let inner = self.lock();
        let i = inner.marks.partition_point(|&(r, _)| r <= record);
        match i {
            0 => record + 1,
            _ => {
                let (r, l) = inner.marks[i - 1];
                l + (record - r)
            }
        }
    }

    /// Blank lines skipped (files of more than one column).
    pub fn blank_lines(&self) -> u64 {
        self.lock().blank_lines
    }

    /// The quoted empty fields (`""`) of records before `end`: (record,
    /// field). They are empty strings, where an empty field is NULL.
    pub fn take_empty_strings(&self, end: u64) -> Vec<(u64, usize)> {
        let mut inner = self.lock();
        let n = inner
            .empty_strings
            .iter()
            .take_while(|(r, _)| *r < end)
            .count();
        inner.empty_strings.drain(..n).collect()
    }

    /// A value that did not fit its column's type.
    pub fn misfit(&self, column: usize, value: &str) {
        let mut inner = self.lock();
        if inner.misfit.is_none() {
            inner.misfit = Some((column, value.to_string()));
        }
    }

    /// The value that did not fit, and its column.
    pub fn misfit_found(&self) -> Option<(usize, String)> {
        self.lock().misfit.clone()
    }

    /// Why the input was refused, if it was.
    pub fn error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    /// Whether the quote it was refused for followed a backslash.
    pub fn backslash_quote(&self) -> bool {
        self.lock().backslash_quote
    }
}

/// Where the pass is between two pieces of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside a quoted field.
    Plain,
    /// Inside a quoted field.
    Quoted,
    /// Inside a quoted field, right after the escape character.
    Escaped,
    /// Right after a quote inside a quoted field: a doubled quote, or the
    /// end of the field.
    QuoteSeen,
}

/// The pass itself; feed it the input piece by piece.
pub struct Scanner {
    d: Dialect,
    one_column: bool,
    state: State,
    /// Current file line, from 1.
    line: u64,
    /// Index of the record being read (header included).
    record: u64,
    /// Whether the current line has had a byte other than `\r`.
    line_has_bytes: bool,
    /// The last byte seen (a quote opens a field only at its start).
    last: u8,
    /// The quote that may close the open field followed a backslash.
    after_backslash: bool,
    quote_line: u64,
    /// Records and lines no longer correspond from the next record on.
    moved: bool,
    started: bool,
    /// Note quoted empty fields (when an empty field is NULL).
    keep_empty: bool,
    /// The open quoted field has had no byte yet.
    empty: bool,
    /// Where the current record starts in the piece being scanned, or
    /// `None` when it started in an earlier piece ...
    rec_start: Option<usize>,
    /// ... whose part of the record is counted here.
    carry: Count,
    pub shared: Arc<Scanned>,
}

/// Fields counted over part of a record, quotes followed.
#[derive(Debug, Clone, Copy)]
struct Count {
    fields: usize,
    state: State,
    at_field_start: bool,
}

impl Default for Count {
    fn default() -> Count {
        Count {
            fields: 0,
            state: State::Plain,
            at_field_start: true,
        }
    }
}

impl Count {
    fn run(&mut self, bytes: &[u8], d: &Dialect) {
        let q = d.quote;
        for &b in bytes {
            if self.state == State::QuoteSeen {
                if b == q {
                    self.state = State::Quoted;
                    continue;
                }
                self.state = State::Plain;
                self.at_field_start = false;
            }
            match self.state {
                State::Plain => {
                    if b == d.delimiter {
                        self.fields += 1;
                        self.at_field_start = true;
                    } else if b == q && self.at_field_start {
                        self.state = State::Quoted;
                    } else {
                        self.at_field_start = false;
                    }
                }
                State::Quoted => {
                    if d.escape == Some(b) && b != q {
                        self.state = State::Escaped;
                    } else if b == q {
                        self.state = State::QuoteSeen;
                    }
                }
                State::Escaped => self.state = State::Quoted,
                State::QuoteSeen => unreachable!("handled above"),
            }
        }
    }
}

impl Scanner {
    pub fn new(d: Dialect, one_column: bool) -> Scanner {
        Scanner {
            d,
            one_column,
            state: State::Plain,
            line: 1,
            record: 0,
            line_has_bytes: false,
            last: b'\n',
            after_backslash: false,
            quote_line: 0,
            moved: false,
            started: false,
            keep_empty: false,
            empty: false,
            rec_start: Some(0),
            carry: Count::default(),
            shared: Arc::default(),
        }
    }

    /// Note where quoted empty fields are (see [`Scanned::take_empty_strings`]).
    pub fn keep_empty_strings(mut self) -> Scanner {
        self.keep_empty = true;
        self
    }

    /// A quoted empty field ends at `end` in `buf`.
    fn empty_string(&mut self, buf: &[u8], end: usize) {
        let (start, mut count) = match self.rec_start {
            Some(s) => (s.min(end), Count::default()),
            None => (0, self.carry),
        };
        count.run(&buf[start..end], &self.d);
        self.shared
            .lock()
            .empty_strings
            .push_back((self.record, count.fields));
    }

    fn fail(&self, msg: String) -> String {
        self.shared.lock().error = Some(msg.clone());
        msg
    }

    /// Scan `buf`. In a one-column file, blank lines are written out as an
    /// empty quoted field; `out` then receives the bytes to decode (else it
    /// is left alone and `buf` is decoded as it is).
    pub fn feed(&mut self, mut buf: &[u8], mut out: Option<&mut Vec<u8>>) -> Result<(), String> {
        if !self.started && !buf.is_empty() {
            self.started = true;
            if let Some(rest) = buf.strip_prefix(b"\xef\xbb\xbf") {
                if let Some(o) = out.as_deref_mut() {
                    o.extend_from_slice(&buf[..3]);
                }
                buf = rest;
            }
            self.rec_start = Some(0);
        }
        let q = self.d.quote;
        let mut i = 0;
        // Bytes of `buf` before `copied` are already in `out`.
        let mut copied = 0;
        while i < buf.len() {
            match self.state {
                State::Plain => {
                    let Some(k) = memchr::memchr2(q, b'\n', &buf[i..]) else {
                        if buf[i..].iter().any(|&b| b != b'\r') {
                            self.line_has_bytes = true;
                        }
                        self.last = buf[buf.len() - 1];
                        break;
                    };
                    let at = i + k;
                    if buf[at] == b'\n' {
                        // Bytes between the last stop and this line end.
                        if buf[i..at].iter().any(|&b| b != b'\r') {
                            self.line_has_bytes = true;
                        }
                        let blank = !self.line_has_bytes;
                        let is_record =
                            !blank || (self.one_column && (self.record > 0 || !self.d.header));
                        if blank && is_record {
                            if let Some(o) = out.as_deref_mut() {
                                // The line is empty or a lone `\r`.
                                let start = if at > i && buf[at - 1] == b'\r' {
                                    at - 1
                                } else {
                                    at
                                };
                                o.extend_from_slice(&buf[copied..start]);
                                o.push(q);
                                o.push(q);
                                copied = start;
                            }
                        }
                        self.line += 1;
                        if is_record {
                            self.record += 1;
                        } else {
                            self.shared.lock().blank_lines += 1;
                            self.moved = true;
                        }
                        self.line_has_bytes = false;
                        if self.moved {
                            self.mark();
                        }
                        self.last = b'\n';
                        self.rec_start = Some(at + 1);
                        i = at + 1;
                    } else {
                        let prev = if at > 0 { buf[at - 1] } else { self.last };
                        self.line_has_bytes = true;
                        if prev == self.d.delimiter || prev == b'\n' || prev == b'\r' {
                            self.state = State::Quoted;
                            self.quote_line = self.line;
                            self.empty = true;
                        }
                        self.last = q;
                        i = at + 1;
                    }
                }
                State::Quoted => {
                    let found = match self.d.escape {
                        Some(e) if e != q => memchr::memchr3(q, b'\n', e, &buf[i..]),
                        _ => memchr::memchr2(q, b'\n', &buf[i..]),
                    };
                    let Some(k) = found else {
                        break;
                    };
                    let at = i + k;
                    let b = buf[at];
                    if k > 0 || b != q {
                        self.empty = false;
                    }
                    if b == b'\n' {
                        self.line += 1;
                        self.moved = true;
                    } else if b == q {
                        self.state = State::QuoteSeen;
                        self.after_backslash = at > 0 && buf[at - 1] == b'\\';
                    } else {
                        self.state = State::Escaped;
                    }
                    i = at + 1;
                }
                State::Escaped => {
                    if buf[i] == b'\n' {
                        self.line += 1;
                        self.moved = true;
                    }
                    self.state = State::Quoted;
                    i += 1;
                }
                State::QuoteSeen => {
                    let b = buf[i];
                    if b == q {
                        // A doubled quote: still inside the field.
                        self.state = State::Quoted;
                        self.empty = false;
                        i += 1;
                    } else if b == self.d.delimiter || b == b'\n' || b == b'\r' {
                        if self.empty && self.keep_empty {
                            self.empty_string(buf, i);
                        }
                        self.state = State::Plain;
                        self.last = q;
                        // The line end (if it is one) is handled as plain.
                    } else {
                        let shown = char_at(&buf[i..]);
                        self.shared.lock().backslash_quote =
                            self.after_backslash && self.d.escape.is_none();
                        return Err(self.fail(format!(
                            "line {}: the quoted field that starts there ends on line {} with {shown:?} after its closing quote; a quote inside a quoted field must be doubled (\"\")",
                            self.quote_line, self.line
                        )));
                    }
                }
            }
        }
        if self.keep_empty {
            // The part of the last record in this piece, for the next.
            let (start, mut count) = match self.rec_start {
                Some(s) => (s.min(buf.len()), Count::default()),
                None => (0, self.carry),
            };
            count.run(&buf[start..], &self.d);
            self.carry = count;
            self.rec_start = None;
        }
        if let Some(o) = out {
            o.extend_from_slice(&buf[copied..]);
        }
        Ok(())
    }

    fn mark(&mut self) {
        let mut inner = self.shared.lock();
        let (record, line) = (self.record, self.line);
        match inner.marks.last_mut() {
            Some(m) if m.0 == record => m.1 = line,
            _ => inner.marks.push((record, line)),
        }
        self.moved = false;
    }

    /// The end of the input (`complete`: nothing was cut off).
    pub fn finish(&mut self) -> Result<(), String> {
        if matches!(self.state, State::Quoted | State::Escaped) {
            return Err(self.fail(format!(
                "line {}: a quoted field starts there and is never closed (the file ends inside it)",
                self.quote_line
            )));
        }
        if self.state == State::QuoteSeen && self.empty && self.keep_empty {
            // `""` at the very end of the input.
            self.shared
                .lock()
                .empty_strings
                .push_back((self.record, self.carry.fields));
        }
        Ok(())
    }
}

/// The character starting `b`, for a message.
fn char_at(b: &[u8]) -> String {
    let end = b.len().min(4);
    for n in (1..=end).rev() {
        if let Ok(s) = std::str::from_utf8(&b[..n]) {
            if let Some(c) = s.chars().next() {
                return c.to_string();
            }
        }
    }
    format!("\\x{:02x}", b[0])
}

/// A reader that passes its input through a [`Scanner`].
pub struct Scan<R> {
    inner: R,
    scanner: Scanner,
    /// One-column files: bytes rewritten, waiting to be read.
    out: Vec<u8>,
    pos: usize,
    buf: Vec<u8>,
    done: bool,
}

impl<R: Read> Scan<R> {
    pub fn new(inner: R, scanner: Scanner) -> Scan<R> {
        Scan {
            inner,
            scanner,
            out: Vec::new(),
            pos: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    fn refuse(msg: String) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
    }
}

impl<R: Read> Read for Scan<R> {
    fn read(&mut self, dest: &mut [u8]) -> std::io::Result<usize> {
        if dest.is_empty() {
            return Ok(0);
        }
        if !self.scanner.one_column {
            let n = self.inner.read(dest)?;
            if n == 0 {
                if !self.done {
                    self.done = true;
                    self.scanner.finish().map_err(Self::refuse)?;
                }
                return Ok(0);
            }
            self.scanner.feed(&dest[..n], None).map_err(Self::refuse)?;
            return Ok(n);
        }
        while self.pos == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            self.buf.resize(256 << 10, 0);
            let n = self.inner.read(&mut self.buf)?;
            if n == 0 {
                self.done = true;
                self.scanner.finish().map_err(Self::refuse)?;
                return Ok(0);
            }
            self.scanner
                .feed(&self.buf[..n], Some(&mut self.out))
                .map_err(Self::refuse)?;
        }
        let n = dest.len().min(self.out.len() - self.pos);
        dest[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, one_column: bool) -> (Result<String, String>, Arc<Scanned>) {
        let d = Dialect {
            delimiter: b',',
            quote: b'"',
            escape: None,
            header: true,
        };
        let s = Scanner::new(d, one_column);
        let shared = s.shared.clone();
        let mut r = Scan::new(text.as_bytes(), s);
        let mut out = String::new();
        let res = r
            .read_to_string(&mut out)
            .map(|_| out)
            .map_err(|e| e.to_string());
        (res, shared)
    }

    #[test]
    fn a_quote_never_closed_names_the_line_it_opened_on() {
        let (r, _) = scan(
            "id,name,note\n1,a,\"ok\"\n2,b,\"unterminated\n3,c,\"ok 3\"\n4,d,\"ok\"\n",
            false,
        );
        let e = r.unwrap_err();
        assert!(e.starts_with("line 3: "), "{e}");
        let (r, _) = scan("a,b\n1,\"x\n", false);
        assert!(r
            .unwrap_err()
            .contains("line 2: a quoted field starts there and is never closed"));
        // Quotes inside a field that did not start with one are data.
        let (r, _) = scan("a,b\n1,5\" disk\n2,\"say \"\"hi\"\"\"\n", false);
        assert!(r.is_ok());
    }

    /// A quote escaped with a backslash (as Spark writes CSV) is refused,
    /// and noted so that the hint can name `--escape`.
    #[test]
    fn a_backslash_before_the_refused_quote_is_noted() {
        let (r, s) = scan("id,txt\n1,\"say \\\"hi\\\" now\"\n", false);
        assert!(r.unwrap_err().starts_with("line 2: "));
        assert!(s.backslash_quote());
        let (r, s) = scan("id,txt\n1,\"say \"hi\" now\"\n", false);
        assert!(r.is_err());
        assert!(!s.backslash_quote());
    }

    #[test]
    fn lines_count_newlines_in_quotes_and_blank_lines() {
        let (r, s) = scan("id,note\n1,\"a\nb\"\n2,ok\n\n\r\nx,bad\n", false);
        r.unwrap();
        assert_eq!(s.line_of(0), 1);
        assert_eq!(s.line_of(1), 2);
        assert_eq!(s.line_of(2), 4);
        assert_eq!(s.line_of(3), 7);
        assert_eq!(s.blank_lines(), 2);
    }

    /// Random well-formed CSV (quoted fields with newlines, doubled quotes,
    /// CRLF, blank lines) fed in pieces of every size: the lines of records
    /// and the blank lines are those the text was built with.
    #[test]
    fn lines_are_found_whatever_the_pieces() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let d = Dialect {
            delimiter: b',',
            quote: b'"',
            escape: None,
            header: true,
        };
        for round in 0..300 {
            let mut text = String::new();
            let mut line = 1u64;
            let mut starts = Vec::new();
            let mut blanks = 0;
            // Short texts with many quotes and blank lines, and long ones
            // with few.
            let long = round % 3 == 0;
            let records = if long { 1 + rnd(400) } else { 1 + rnd(12) };
            let rare = if long { 60 } else { 4 };
            for _ in 0..records {
                while rnd(rare) == 0 {
                    text.push_str(if rnd(2) == 0 { "\n" } else { "\r\n" });
                    line += 1;
                    blanks += 1;
                }
                starts.push(line);
                for f in 0..2 {
                    if f > 0 {
                        text.push(',');
                    }
                    match if long && rnd(30) != 0 { rnd(2) } else { rnd(4) } {
                        0 => {}
                        1 => text.push_str("ab"),
                        2 => text.push_str("\"\""),
                        _ => {
                            text.push('"');
                            for _ in 0..rnd(4) {
                                match rnd(4) {
                                    0 => {
                                        text.push('\n');
                                        line += 1;
                                    }
                                    1 => text.push_str("\"\""),
                                    2 => text.push(','),
                                    _ => text.push('x'),
                                }
                            }
                            text.push('"');
                        }
                    }
                }
                text.push_str(if rnd(3) == 0 { "\r\n" } else { "\n" });
                line += 1;
            }
            for piece in [1, 2, 3, 5, 8, 64, text.len()] {
                let mut s = Scanner::new(d, false);
                for chunk in text.as_bytes().chunks(piece) {
                    s.feed(chunk, None).unwrap();
                }
                s.finish().unwrap();
                let got: Vec<u64> = (0..starts.len() as u64)
                    .map(|r| s.shared.line_of(r))
                    .collect();
                assert_eq!(got, starts, "pieces of {piece}: {text:?}");
                assert_eq!(
                    s.shared.blank_lines(),
                    blanks,
                    "pieces of {piece}: {text:?}"
                );
            }
        }
    }

    #[test]
    fn quoted_empty_fields_are_found_by_record_and_field() {
        let d = Dialect {
            delimiter: b',',
            quote: b'"',
            escape: None,
            header: true,
        };
        let text = "a,b,c\n\"\",\"x,\"\"y\",\"\"\n1,,\"\"\"\"\n\"\",\"\n\",\"\"";
        // Fed whole, and byte by byte (records cut anywhere).
        for piece in [text.len(), 1, 2, 3] {
            let mut s = Scanner::new(d, false).keep_empty_strings();
            for chunk in text.as_bytes().chunks(piece) {
                s.feed(chunk, None).unwrap();
            }
            s.finish().unwrap();
            assert_eq!(
                s.shared.take_empty_strings(u64::MAX),
                vec![(1, 0), (1, 2), (3, 0), (3, 2)],
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn a_blank_line_is_a_null_in_a_file_of_one_column() {
        let (r, s) = scan("c\n1\n\n3\n\r\n", true);
        assert_eq!(r.unwrap(), "c\n1\n\"\"\n3\n\"\"\r\n");
        assert_eq!(s.blank_lines(), 0);
        assert_eq!(s.line_of(3), 4);
    }
}
