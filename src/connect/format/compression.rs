//! Compressed text files: gzip, zstd, bzip2 and xz around CSV and JSON
//! Lines, read and written as streams (nothing is decompressed to a
//! temporary file, memory stays flat).
//!
//! Reading: a file's compression is named by its extension (`orders.csv.gz`)
//! and confirmed by its first bytes; where the name says nothing (standard
//! input, `--source-format csv` on an object without an extension) the first
//! bytes alone decide — none of the four signatures can start a UTF-8 text
//! file. [`decompressing`] wraps an [`Input`] so every reader sees plain text.
//! Concatenated members (`cat a.gz b.gz`, bgzip blocks, zstd frames, xz
//! streams, bzip2 streams) are all read. A stream cut short or damaged is an
//! error naming the file, never a shorter copy: every codec checks its own
//! trailer (gzip CRC-32 and length, xz CRC-64, bzip2 CRC-32, zstd frame end).
//!
//! Writing: [`Encoder`] compresses what a format writer produces before it
//! is hashed and counted, so the SHA-256 and size a sink records are those of
//! the bytes in the file.
//!
//! The codecs are the crates of their field: flate2 (with zlib-rs, a pure
//! Rust port of zlib; with miniz_oxide a gzip input took 1.36–1.41× zcat's
//! time, with zlib-rs 1.16×),
//! zstd (the reference library, already built for Parquet), bzip2 (its
//! default backend is libbz2-rs-sys, pure Rust) and liblzma (the reference
//! xz library, built from its vendored sources and linked statically).

use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;

use super::input::{Input, RandomAccess};
use crate::connect::Counters;
use crate::spec::Format;

/// A compression around a whole text file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Codec {
    /// The names `--compression` takes for text outputs.
    pub const NAMES: &'static str = "gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none";

    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
            Codec::Bzip2 => "bzip2",
            Codec::Xz => "xz",
        }
    }

    /// The extension convoy gives files it writes.
    pub fn extension(self) -> &'static str {
        match self {
            Codec::Gzip => "gz",
            Codec::Zstd => "zst",
            Codec::Bzip2 => "bz2",
            Codec::Xz => "xz",
        }
    }

    fn from_extension(ext: &str) -> Option<Codec> {
        match ext.to_ascii_lowercase().as_str() {
            "gz" | "gzip" | "bgz" => Some(Codec::Gzip),
            "zst" | "zstd" => Some(Codec::Zstd),
            "bz2" | "bzip2" => Some(Codec::Bzip2),
            "xz" => Some(Codec::Xz),
            _ => None,
        }
    }

    /// The compression a file name's last extension names (`a.csv.gz`).
    pub fn from_path(path: &str) -> Option<Codec> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        Codec::from_extension(name.rsplit_once('.')?.1)
    }

    /// The first bytes of every stream of this codec.
    fn magic(self) -> &'static [u8] {
        match self {
            Codec::Gzip => &[0x1f, 0x8b],
            Codec::Zstd => &[0x28, 0xb5, 0x2f, 0xfd],
            Codec::Bzip2 => b"BZh",
            Codec::Xz => &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
        }
    }

    /// The codec whose signature `head` starts with. bzip2's three ASCII
    /// letters are followed by a block size digit and the 48-bit magic of a
    /// block or of the end of the stream, so a text file cannot pass for it.
    pub fn sniff(head: &[u8]) -> Option<Codec> {
        [Codec::Gzip, Codec::Zstd, Codec::Xz]
            .into_iter()
            .find(|c| head.starts_with(c.magic()))
            .or_else(|| {
                let bz = head.len() >= 10
                    && head.starts_with(b"BZh")
                    && (b'1'..=b'9').contains(&head[3])
                    && (head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
                        || head[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90]);
                bz.then_some(Codec::Bzip2)
            })
    }

    fn levels(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Codec::Gzip => 0..=9,
            Codec::Zstd => 1..=22,
            Codec::Bzip2 => 1..=9,
            Codec::Xz => 0..=9,
        }
    }

    /// The level used when none is given: each tool's own default, except
    /// zstd's (3, also its tool's default).
    fn default_level(self) -> u32 {
        match self {
            Codec::Gzip => 6,
            Codec::Zstd => 3,
            Codec::Bzip2 => 9,
            Codec::Xz => 6,
        }
    }
}

/// The name without a compression extension: `a.csv.gz` → `a.csv`.
pub fn strip_extension(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, ext)) if Codec::from_extension(ext).is_some() => stem,
        _ => name,
    }
}

/// The compression of an output as the user set it: a codec and level, or
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    pub codec: Option<Codec>,
    pub level: Option<u32>,
}

impl Compression {
    /// `gzip`, `gzip(9)`, `zstd`, `zstd(19)`, `bzip2`, `xz`, `none`.
    pub fn parse(text: &str) -> Result<Compression, String> {
        let lower = text.trim().to_ascii_lowercase();
        let (name, level) = match lower.split_once('(') {
            Some((c, rest)) => match rest.strip_suffix(')').map(str::trim).map(str::parse::<u32>) {
                Some(Ok(l)) => (c.trim().to_string(), Some(l)),
                _ => return Err(format!("compression level in {text:?} is not a number")),
            },
            None => (lower.clone(), None),
        };
        let codec = match name.as_str() {
            "none" | "uncompressed" if level.is_none() => None,
            "gzip" | "gz" => Some(Codec::Gzip),
            "zstd" | "zst" => Some(Codec::Zstd),
            "bzip2" | "bz2" => Some(Codec::Bzip2),
            "xz" => Some(Codec::Xz),
            _ => {
                return Err(format!(
                    "unknown compression {text:?} for a text file ({})",
                    Codec::NAMES
                ))
            }
        };
        if let (Some(c), Some(l)) = (codec, level) {
            if !c.levels().contains(&l) {
                return Err(format!(
                    "{} level {l} is out of range ({}..={})",
                    c.name(),
                    c.levels().start(),
                    c.levels().end()
                ));
            }
        }
        Ok(Compression { codec, level })
    }

    /// The extension of a part of split output in `format`: `csv.gz`.
    pub fn part_extension(&self, format: Format) -> String {
        match self.codec {
            Some(c) => format!("{}.{}", format.extension(), c.extension()),
            None => format.extension().to_string(),
        }
    }

    /// What a sink's description adds: ` (gzip level 6)`, or nothing.
    pub fn suffix(&self) -> String {
        match self.codec {
            Some(_) => format!(" ({})", self.describe()),
            None => String::new(),
        }
    }

    /// How plans and reports say it.
    pub fn describe(&self) -> String {
        match (self.codec, self.level) {
            (None, _) => "uncompressed".to_string(),
            (Some(c), Some(l)) => format!("{} level {l}", c.name()),
            (Some(c), None) => format!("{} level {}", c.name(), c.default_level()),
        }
    }
}

/// The compression an output gets: the one its name ends with
/// (`out.csv.gz`), or the one set (`--compression`, `compression = …`),
/// which must agree with the name. A named file whose name does not say
/// compressed is not written compressed (it would be misread as text); split
/// output names its parts itself. Parquet and Arrow IPC files compress
/// inside and are never wrapped.
pub fn output(
    path: &str,
    format: Format,
    set: Option<Compression>,
    split: bool,
) -> Result<Compression> {
    let named = if split { None } else { Codec::from_path(path) };
    if matches!(format, Format::Parquet | Format::Ipc) {
        if named.is_some() || set.is_some_and(|s| s.codec.is_some()) {
            return Err(crate::error::usage(
                format!(
                    "{path}: a {} file cannot be wrapped in gzip, zstd, bzip2 or xz",
                    format.name()
                ),
                Some(match format {
                    Format::Parquet => "Parquet compresses its pages itself: name the file .parquet and choose the codec with --compression (zstd, snappy, lz4, gzip, none)".to_string(),
                    _ => "name the file .arrow; to make it smaller write Parquet".to_string(),
                }),
            ));
        }
        return Ok(Compression {
            codec: None,
            level: None,
        });
    }
    match (named, set) {
        (Some(n), Some(s)) if s.codec != Some(n) => Err(crate::error::usage(
            format!(
                "{path} is named as {} but the compression set is {}",
                n.name(),
                s.codec.map_or("none", Codec::name)
            ),
            Some(format!(
                "name the file for the compression it holds (.{} for {}), or leave the setting out",
                s.codec.map_or("csv", Codec::extension),
                s.codec.map_or("no compression", Codec::name)
            )),
        )),
        (Some(n), s) => Ok(Compression {
            codec: Some(n),
            level: s.and_then(|s| s.level),
        }),
        (None, Some(s)) if s.codec.is_some() && !split => {
            let c = s.codec.expect("checked");
            Err(crate::error::usage(
                format!(
                    "{path}: its name does not say {}, so it would be read back as plain text",
                    c.name()
                ),
                Some(format!(
                    "name it {path}.{}: the extension alone selects the compression",
                    c.extension()
                )),
            ))
        }
        (None, Some(s)) => Ok(s),
        (None, None) => Ok(Compression {
            codec: None,
            level: None,
        }),
    }
}

/// A text input read through this module: its first bytes are looked at
/// as it opens (no separate peek, so a pipe or a FIFO is read once and an
/// object costs no extra request), and it is decompressed when they or its
/// name say so. It counts the bytes it reads for progress (compressed
/// bytes, which its size is of).
struct Sniffed {
    inner: Arc<dyn Input>,
    format: Format,
    named: Option<Codec>,
    found: Detected,
    counters: Arc<Counters>,
}

/// The compression found when an input was first opened: unset until then,
/// `Some(None)` for plain text.
pub type Detected = Arc<std::sync::OnceLock<Option<Codec>>>;

/// `input` as the text it holds: decompressed when its name or first bytes
/// say it is compressed. A name that says compressed over bytes that are
/// not, or an empty compressed file, is refused naming the file when it is
/// opened; a compressed Parquet or Arrow file is refused here. Returns the
/// input to read and where what was found when it opened is kept.
pub fn decompressing(
    input: Arc<dyn Input>,
    format: Format,
    counters: &Arc<Counters>,
) -> Result<(Arc<dyn Input>, Detected)> {
    let name = input.name();
    let named = Codec::from_path(&name);
    let found = Detected::default();
    if matches!(format, Format::Parquet | Format::Ipc) {
        if let Some(c) = named {
            return Err(crate::error::input(
                format!(
                    "{name}: a {}-compressed {} file cannot be read in place",
                    c.name(),
                    format.name()
                ),
                Some(format!(
                    "{} files are read from their end first; decompress it (e.g. `{}`) and read the result",
                    format.name(),
                    match c {
                        Codec::Gzip => "gunzip -k",
                        Codec::Zstd => "zstd -d",
                        Codec::Bzip2 => "bunzip2 -k",
                        Codec::Xz => "unxz -k",
                    }
                )),
            ));
        }
        let _ = found.set(None);
        return Ok((input, found));
    }
    Ok((
        Arc::new(Sniffed {
            inner: input,
            format,
            named,
            found: found.clone(),
            counters: counters.clone(),
        }),
        found,
    ))
}

/// What `head` (the first bytes of a file named `name`) says about its
/// compression, checked against its name's.
fn check(name: &str, named: Option<Codec>, head: &[u8]) -> Result<Option<Codec>> {
    let found = Codec::sniff(head);
    match (named, found) {
        (Some(n), _) if head.is_empty() => Err(crate::error::input(
            format!(
                "{name} is empty: it is not a {} file (not even an empty one)",
                n.name()
            ),
            Some("an empty file is not copied; check how it was written".to_string()),
        )),
        (Some(n), Some(f)) if n != f => Err(crate::error::input(
            format!(
                "{name} is named as {} but holds {} data",
                n.name(),
                f.name()
            ),
            Some(format!(
                "rename it to end in .{} (or give its bytes the name they have)",
                f.extension()
            )),
        )),
        (Some(n), None) => Err(crate::error::input(
            format!(
                "{name} is named as {} but does not start with its signature ({}); it starts with {}",
                n.name(),
                hex_bytes(n.magic()),
                hex_bytes(&head[..head.len().min(n.magic().len())])
            ),
            Some(format!(
                "the file is damaged, or it is not {}-compressed: rename it without .{}",
                n.name(),
                Codec::from_path(name).map_or("gz", Codec::extension)
            )),
        )),
        (_, found) => Ok(found),
    }
}

fn hex_bytes(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bytes looked at to tell a compression (bzip2's signature is 10 long).
const SNIFF: usize = 16;

impl Input for Sniffed {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn reads_again(&self) -> bool {
        self.inner.reads_again()
    }

    fn counts_bytes(&self) -> bool {
        true
    }

    fn open(&self) -> Result<Box<dyn Read + Send>> {
        let name = self.inner.name();
        let mut raw = Counted {
            inner: self.inner.open()?,
            counters: self.counters.clone(),
        };
        let mut head = Vec::with_capacity(SNIFF);
        while head.len() < SNIFF {
            let mut b = [0u8; SNIFF];
            let n = match raw.read(&mut b[..SNIFF - head.len()]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(crate::error::input(
                        format!(
                            "cannot read {name}: {}",
                            crate::security::redact::redact(&e.to_string())
                        ),
                        None,
                    ))
                }
            };
            head.extend_from_slice(&b[..n]);
        }
        let codec = check(&name, self.named, &head)?;
        let _ = self.found.set(codec);
        let whole: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head).chain(raw));
        let Some(codec) = codec else {
            return Ok(whole);
        };
        let decoding = Decoding {
            inner: decoder(codec, whole)?,
            name,
            codec,
            out: 0,
        };
        Ok(Box::new(Ahead::spawn(Box::new(decoding))?))
    }

    fn random(&self) -> Result<Arc<dyn RandomAccess>> {
        Err(anyhow::anyhow!(
            "internal error: a {} file of a text source read at random ({})",
            self.format.name(),
            self.name()
        ))
    }

    fn head(&self, _n: usize) -> Result<Bytes> {
        // Text readers sample through `open`; a peek would use up a pipe.
        self.random().map(|_| Bytes::new())
    }
}

/// Bytes decompressed ahead per piece, and pieces kept ready.
const AHEAD_PIECE: usize = 1 << 20;
const AHEAD_PIECES: usize = 4;

/// A reader that decompresses on a thread of its own, a few pieces ahead
/// of the reader that parses: decompression and parsing then overlap, and
/// the copy runs at the slower of the two instead of their sum. Memory is
/// bounded by [`AHEAD_PIECES`] pieces; when the reader is dropped, the
/// thread stops at its next piece.
struct Ahead {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    piece: Vec<u8>,
    at: usize,
    done: bool,
}

impl Ahead {
    fn spawn(mut r: Box<dyn Read + Send>) -> Result<Ahead> {
        let (tx, rx) = std::sync::mpsc::sync_channel(AHEAD_PIECES);
        std::thread::Builder::new()
            .name("decompress".into())
            .spawn(move || loop {
                let mut buf = Vec::with_capacity(AHEAD_PIECE);
                match (&mut r).take(AHEAD_PIECE as u64).read_to_end(&mut buf) {
                    Ok(0) => {
                        let _ = tx.send(Ok(buf));
                        return;
                    }
                    Ok(_) => {
                        if tx.send(Ok(buf)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            })?;
        Ok(Ahead {
            rx,
            piece: Vec::new(),
            at: 0,
            done: false,
        })
    }
}

impl Read for Ahead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.piece.len() {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(piece)) => {
                    self.done = piece.is_empty();
                    self.piece = piece;
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(std::io::Error::other(
                        "internal error: the decompressing thread ended early",
                    ));
                }
            }
        }
        let n = buf.len().min(self.piece.len() - self.at);
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Compressed bytes as they are read, counted for progress.
struct Counted {
    inner: Box<dyn Read + Send>,
    counters: Arc<Counters>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters.add_bytes(n as u64);
        Ok(n)
    }
}

/// A streaming decoder for `codec` that reads every member, frame or
/// stream one after another.
fn decoder(codec: Codec, r: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>> {
    Ok(match codec {
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        Codec::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
        Codec::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(r)),
    })
}

/// Decompressed bytes; a decoder's error names the file and the codec, and
/// says the data is damaged or cut short (the codecs check their trailers,
/// so a cut stream ends in an error, not early).
struct Decoding {
    inner: Box<dyn Read + Send>,
    name: String,
    codec: Codec,
    /// Bytes given out so far, to say where the damage is.
    out: u64,
}

/// A decompression failure, as the error under an `io::Error`.
#[derive(Debug)]
pub struct Damaged(pub String);

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Damaged {}

impl Read for Decoding {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.out += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            // Errors of the underlying input (a store, a pipe) already say
            // where they come from.
            Err(e) if e.get_ref().is_some_and(|r| r.is::<Damaged>()) => Err(e),
            Err(e) => Err(std::io::Error::other(Damaged(format!(
                "{}: the {} data is damaged or cut short after {} decompressed bytes ({e}); nothing was copied from it",
                self.name,
                self.codec.name(),
                self.out
            )))),
        }
    }
}

/// A compressing writer over `W`, or `W` itself.
pub enum Encoder<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Bzip2(bzip2::write::BzEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
}

impl<W: Write> Encoder<W> {
    pub fn new(out: W, c: Compression) -> std::io::Result<Encoder<W>> {
        let Some(codec) = c.codec else {
            return Ok(Encoder::Plain(out));
        };
        let level = c.level.unwrap_or(codec.default_level());
        Ok(match codec {
            Codec::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::new(level),
            )),
            Codec::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(out, level as i32)?;
                // A frame checksum, so a damaged file is refused on reading
                // instead of decoding to other bytes.
                e.include_checksum(true)?;
                Encoder::Zstd(e)
            }
            Codec::Bzip2 => Encoder::Bzip2(bzip2::write::BzEncoder::new(
                out,
                bzip2::Compression::new(level),
            )),
            Codec::Xz => Encoder::Xz(liblzma::write::XzEncoder::new(out, level)),
        })
    }

    /// Write the end of the compressed stream; returns the writer.
    pub fn finish(self) -> std::io::Result<W> {
        match self {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Bzip2(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::Bzip2(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::Bzip2(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(codec: Codec, data: &[u8]) -> Vec<u8> {
        let mut e = Encoder::new(
            Vec::new(),
            Compression {
                codec: Some(codec),
                level: None,
            },
        )
        .unwrap();
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(codec: Codec, bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
        let mut d = Decoding {
            inner: decoder(codec, Box::new(std::io::Cursor::new(bytes))).unwrap(),
            name: "f".into(),
            codec,
            out: 0,
        };
        let mut out = Vec::new();
        d.read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn every_codec_round_trips_reads_concatenated_streams_and_refuses_any_cut() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{i},{}\n", i % 7).into_bytes())
            .collect();
        for codec in [Codec::Gzip, Codec::Zstd, Codec::Bzip2, Codec::Xz] {
            let one = roundtrip(codec, &data);
            assert_eq!(Codec::sniff(&one), Some(codec), "{codec:?}");
            assert_eq!(decode(codec, one.clone()).unwrap(), data, "{codec:?}");
            let mut two = one.clone();
            two.extend_from_slice(&roundtrip(codec, b"tail\n"));
            let mut want = data.clone();
            want.extend_from_slice(b"tail\n");
            assert_eq!(decode(codec, two).unwrap(), want, "{codec:?} concatenated");
            for cut in [
                1,
                2,
                5,
                one.len() / 3,
                one.len() / 2,
                one.len() - 4,
                one.len() - 1,
            ] {
                let e = decode(codec, one[..cut].to_vec())
                    .expect_err(&format!("{codec:?} cut at {cut} of {}", one.len()));
                assert!(e.to_string().contains("damaged or cut short"), "{e}");
            }
        }
    }

    #[test]
    fn text_never_passes_for_compressed_and_names_strip() {
        assert_eq!(Codec::sniff(b"BZh91AY&SX,1\n"), None);
        assert_eq!(Codec::sniff(b"id,name\n"), None);
        assert_eq!(strip_extension("a.csv.gz"), "a.csv");
        assert_eq!(strip_extension("a.csv"), "a.csv");
        assert_eq!(Codec::from_path("s3://b/x.JSONL.ZST"), Some(Codec::Zstd));
        assert!(Compression::parse("zstd(30)").is_err());
        assert!(Compression::parse("snappy").is_err());
        assert_eq!(
            Compression::parse("gzip(9)").unwrap(),
            Compression {
                codec: Some(Codec::Gzip),
                level: Some(9)
            }
        );
    }
}
