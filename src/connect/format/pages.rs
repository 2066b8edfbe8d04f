//! Page checksums of a Parquet file, checked from its bytes as they stream
//! past, without decoding or decompressing any page.
//!
//! A Parquet page may carry the CRC-32 of its (compressed) body in its
//! header. The parquet crate checks it when it decodes a page; a
//! byte-for-byte copy decodes nothing, so [`PageCheck`] follows the column
//! chunks the footer lists, reads each page header (a small Thrift
//! compact-protocol struct: only the body size and the checksum are kept) and
//! checksums the body that follows. The parquet crate does not expose its
//! page-header parser, hence the few lines of Thrift here. The same check
//! names the column of a checksum mismatch the decoder found.

use anyhow::Result;

/// Where one column chunk lies in the file.
#[derive(Debug, Clone)]
pub struct ChunkSpan {
    pub start: u64,
    pub end: u64,
    pub column: String,
    pub row_group: usize,
}

impl ChunkSpan {
    /// Every column chunk of a file, in file order.
    pub fn of(meta: &parquet::file::metadata::ParquetMetaData) -> Vec<ChunkSpan> {
        let mut spans = Vec::new();
        for (g, rg) in meta.row_groups().iter().enumerate() {
            for c in rg.columns() {
                let (start, len) = c.byte_range();
                spans.push(ChunkSpan {
                    start,
                    end: start.saturating_add(len),
                    column: c.column_path().string(),
                    row_group: g,
                });
            }
        }
        spans.sort_by_key(|s| s.start);
        spans
    }
}

enum State {
    /// Collecting the bytes of a page header.
    Header(Vec<u8>),
    /// Inside a page body: bytes still to come, and the checksum to match.
    Body {
        remaining: u64,
        crc: Option<(u32, crc32fast::Hasher)>,
    },
}

/// Checks page checksums of a Parquet file fed front to back.
pub struct PageCheck {
    file: String,
    spans: Vec<ChunkSpan>,
    /// The span being read (or the next one).
    next: usize,
    /// File offset of the next byte fed.
    pos: u64,
    state: State,
    /// Pages whose checksum was checked.
    pub checked: u64,
}

/// Page headers are small; one larger than this is not a page header.
const MAX_HEADER: usize = 16 << 20;

impl PageCheck {
    pub fn new(file: String, spans: Vec<ChunkSpan>) -> PageCheck {
        PageCheck {
            file,
            spans,
            next: 0,
            pos: 0,
            state: State::Header(Vec::new()),
            checked: 0,
        }
    }

    fn bad(&self, span: &ChunkSpan, why: String) -> anyhow::Error {
        crate::error::input(
            format!(
                "{}: column \"{}\", row group {}: {why}",
                self.file, span.column, span.row_group
            ),
            Some("the file is corrupt; copy it again from where it came from".to_string()),
        )
    }

    /// The next bytes of the file.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let Some(span) = self.spans.get(self.next).cloned() else {
                // After the last chunk: page indexes, footer.
                self.pos += data.len() as u64;
                return Ok(());
            };
            if self.pos < span.start {
                let skip = (span.start - self.pos).min(data.len() as u64) as usize;
                data = &data[skip..];
                self.pos += skip as u64;
                continue;
            }
            if self.pos >= span.end {
                self.finish_span(&span)?;
                continue;
            }
            let in_span = (span.end - self.pos).min(data.len() as u64) as usize;
            let (here, rest) = data.split_at(in_span);
            self.feed_span(&span, here)?;
            self.pos += in_span as u64;
            data = rest;
            if self.pos == span.end {
                self.finish_span(&span)?;
            }
        }
        Ok(())
    }

    fn finish_span(&mut self, span: &ChunkSpan) -> Result<()> {
        match &self.state {
            State::Header(h) if h.is_empty() => {}
            State::Body { remaining: 0, .. } => {}
            _ => {
                return Err(self.bad(
                    span,
                    "the last page runs past the end of its column chunk".to_string(),
                ))
            }
        }
        self.state = State::Header(Vec::new());
        self.next += 1;
        Ok(())
    }

    fn feed_span(&mut self, span: &ChunkSpan, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            match &mut self.state {
                State::Header(buf) => {
                    // Parse in place; copy only a header cut by the end of a piece.
                    let before = buf.len();
                    let take = if before == 0 {
                        data.len()
                    } else {
                        data.len().min(64 << 10)
                    };
                    let parsed = if before == 0 {
                        parse_page_header(data)
                    } else {
                        buf.extend_from_slice(&data[..take]);
                        parse_page_header(buf)
                    };
                    match parsed {
                        Ok(Some(h)) => {
                            let used = h.len - before;
                            data = &data[used..];
                            if h.body_len < 0 {
                                return Err(self.bad(
                                    span,
                                    format!("a page header gives a negative size ({})", h.body_len),
                                ));
                            }
                            self.state = State::Body {
                                remaining: h.body_len as u64,
                                crc: h.crc.map(|c| (c as u32, crc32fast::Hasher::new())),
                            };
                        }
                        Ok(None) => {
                            if before == 0 {
                                buf.extend_from_slice(&data[..take]);
                            }
                            if buf.len() >= MAX_HEADER {
                                return Err(
                                    self.bad(span, "a page header cannot be read".to_string())
                                );
                            }
                            data = &data[take..];
                        }
                        Err(why) => {
                            return Err(
                                self.bad(span, format!("a page header cannot be read: {why}"))
                            )
                        }
                    }
                }
                State::Body { remaining, crc } => {
                    let n = (*remaining).min(data.len() as u64) as usize;
                    if let Some((_, h)) = crc {
                        h.update(&data[..n]);
                    }
                    *remaining -= n as u64;
                    data = &data[n..];
                    if *remaining == 0 {
                        if let Some((expected, h)) = crc.take() {
                            let got = h.finalize();
                            if got != expected {
                                return Err(self.bad(
                                    span,
                                    format!(
                                        "page checksum mismatch (CRC-32 {got:08x}, the page header says {expected:08x})"
                                    ),
                                ));
                            }
                            self.checked += 1;
                        }
                        self.state = State::Header(Vec::new());
                    }
                }
            }
        }
        Ok(())
    }

    /// The whole file was fed: every column chunk must have been seen.
    pub fn finish(&mut self) -> Result<()> {
        while let Some(span) = self.spans.get(self.next).cloned() {
            if self.pos < span.end {
                return Err(self.bad(&span, "the file ends inside this column chunk".into()));
            }
            self.finish_span(&span)?;
        }
        Ok(())
    }
}

/// What a page header says about the page body that follows it.
#[derive(Debug, PartialEq, Eq)]
struct PageHeader {
    /// Bytes of the header itself.
    len: usize,
    body_len: i64,
    crc: Option<i32>,
}

/// Thrift compact protocol over a slice; `None` when the slice ends first.
struct Compact<'a> {
    b: &'a [u8],
    i: usize,
}

type Step<T> = std::result::Result<Option<T>, String>;

macro_rules! need {
    ($e:expr) => {
        match $e {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e),
        }
    };
}

impl Compact<'_> {
    fn byte(&mut self) -> Step<u8> {
        let Some(&v) = self.b.get(self.i) else {
            return Ok(None);
        };
        self.i += 1;
        Ok(Some(v))
    }

    fn varint(&mut self) -> Step<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = need!(self.byte());
            if shift == 63 && b > 1 {
                return Err("a number is too long".into());
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(Some(v));
            }
        }
        Err("a number is too long".into())
    }

    fn zigzag(&mut self) -> Step<i64> {
        let v = need!(self.varint());
        Ok(Some((v >> 1) as i64 ^ -((v & 1) as i64)))
    }

    fn skip_bytes(&mut self, n: u64) -> Step<()> {
        let end = (self.i as u64).saturating_add(n);
        if end > self.b.len() as u64 {
            return Ok(None);
        }
        self.i = end as usize;
        Ok(Some(()))
    }

    /// Skip one value of a compact type.
    fn skip(&mut self, ty: u8, depth: u32) -> Step<()> {
        if depth > 32 {
            return Err("nested too deeply".into());
        }
        match ty {
            1 | 2 => {}
            3 => {
                need!(self.byte());
            }
            4..=6 => {
                need!(self.varint());
            }
            7 => need!(self.skip_bytes(8)),
            8 => {
                let n = need!(self.varint());
                need!(self.skip_bytes(n));
            }
            9 | 10 => {
                let h = need!(self.byte());
                let n = match h >> 4 {
                    15 => need!(self.varint()),
                    n => n as u64,
                };
                let elem = h & 0x0f;
                for _ in 0..n {
                    // Booleans in a list take one byte each.
                    if elem == 1 || elem == 2 {
                        need!(self.byte());
                    } else {
                        need!(self.skip(elem, depth + 1));
                    }
                }
            }
            11 => {
                let n = need!(self.varint());
                if n > 0 {
                    let kv = need!(self.byte());
                    for _ in 0..n {
                        for t in [kv >> 4, kv & 0x0f] {
                            if t == 1 || t == 2 {
                                need!(self.byte());
                            } else {
                                need!(self.skip(t, depth + 1));
                            }
                        }
                    }
                }
            }
            12 => {
                need!(self.skip_struct(depth + 1));
            }
            other => return Err(format!("unknown Thrift type {other}")),
        }
        Ok(Some(()))
    }

    fn skip_struct(&mut self, depth: u32) -> Step<()> {
        loop {
            let h = need!(self.byte());
            if h == 0 {
                return Ok(Some(()));
            }
            if h >> 4 == 0 {
                need!(self.zigzag());
            }
            need!(self.skip(h & 0x0f, depth));
        }
    }
}

/// A page header at the start of `b` (Thrift `PageHeader`: field 3 is the
/// compressed page size, field 4 the CRC-32 of the page body).
fn parse_page_header(b: &[u8]) -> Step<PageHeader> {
    let mut c = Compact { b, i: 0 };
    let mut id: i64 = 0;
    let mut body_len = None;
    let mut crc = None;
    loop {
        let h = need!(c.byte());
        if h == 0 {
            break;
        }
        let ty = h & 0x0f;
        id = match h >> 4 {
            0 => need!(c.zigzag()),
            delta => id + delta as i64,
        };
        match (id, ty) {
            (3, 5) => body_len = Some(need!(c.zigzag())),
            (4, 5) => crc = Some(need!(c.zigzag()) as i32),
            _ => need!(c.skip(ty, 0)),
        }
    }
    let body_len = body_len.ok_or("it has no page size")?;
    Ok(Some(PageHeader {
        len: c.i,
        body_len,
        crc,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::FileReader;

    /// Files pyarrow wrote with page checksums (tests/data/README.md).
    const CRC_OK: &[u8] = include_bytes!("../../../tests/data/pa_page_crc_ok.parquet");
    const CRC_BAD: &[u8] = include_bytes!("../../../tests/data/pa_page_crc_bad.parquet");
    /// One without.
    const NO_CRC: &[u8] = include_bytes!("../../../tests/data/pa_brotli.parquet");

    fn spans(data: &[u8]) -> Vec<ChunkSpan> {
        let reader = parquet::file::serialized_reader::SerializedFileReader::new(
            bytes::Bytes::from(data.to_vec()),
        )
        .unwrap();
        ChunkSpan::of(reader.metadata())
    }

    fn check(data: &[u8], spans: Vec<ChunkSpan>, piece: usize) -> Result<u64> {
        let mut c = PageCheck::new("f.parquet".into(), spans);
        for p in data.chunks(piece) {
            c.feed(p)?;
        }
        c.finish()?;
        Ok(c.checked)
    }

    #[test]
    fn every_page_checksum_is_checked_whatever_the_pieces() {
        let all = check(CRC_OK, spans(CRC_OK), CRC_OK.len()).unwrap();
        assert!(all >= 2, "{all} pages checked");
        for piece in [1, 3, 17, 4096] {
            assert_eq!(
                check(CRC_OK, spans(CRC_OK), piece).unwrap(),
                all,
                "pieces of {piece}"
            );
        }
        // Files without checksums pass, with nothing checked.
        assert_eq!(check(NO_CRC, spans(NO_CRC), 100).unwrap(), 0);
    }

    #[test]
    fn a_changed_byte_in_a_page_body_names_its_column() {
        let err = check(CRC_BAD, spans(CRC_BAD), 1000)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("f.parquet: column \"id\", row group 0"),
            "{err}"
        );
        assert!(err.contains("checksum mismatch"), "{err}");
        // The same change found in another piece size.
        assert!(check(CRC_BAD, spans(CRC_BAD), 7).is_err());
        // A file cut short inside a column chunk.
        let s = spans(CRC_OK);
        let cut = (s[0].start + 10) as usize;
        let err = check(&CRC_OK[..cut], s, 1000).unwrap_err();
        assert!(err.to_string().contains("ends inside"), "{err}");
    }

    #[test]
    fn page_headers_parse_and_ask_for_more_bytes() {
        // type=0 (i32 field 1), uncompressed 10 (field 2), compressed 7
        // (field 3), crc -5 (field 4), then an empty struct (field 5), stop.
        let h = [
            0x15, 0x00, 0x15, 0x14, 0x15, 0x0e, 0x15, 0x09, 0x1c, 0x00, 0x00,
        ];
        let parsed = parse_page_header(&h).unwrap().unwrap();
        assert_eq!(
            parsed,
            PageHeader {
                len: h.len(),
                body_len: 7,
                crc: Some(-5)
            }
        );
        for cut in 0..h.len() {
            assert_eq!(parse_page_header(&h[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(parse_page_header(&[0x1d, 0x00]).is_err());
    }
}
