//! Where a file source's bytes come from: a local file, standard input, or an
//! object in a store. The readers in [`super::read`] only see this trait, so
//! every format reads the same way from every place.
//!
//! Text formats are read front to back ([`Input::open`]). Parquet and Arrow
//! IPC need random access (footer first, then column chunks or batches), which
//! an object store serves with range requests ([`RandomAccess`]); memory stays
//! bounded by the largest column chunk, never by the file.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

/// Read + Seek, boxable.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Positioned reads of a file whose length is known.
pub trait RandomAccess: Send + Sync {
    fn len(&self) -> u64;
    /// A reader from `start` to the end.
    fn read_from(&self, start: u64) -> std::io::Result<Box<dyn Read + Send>>;
    /// Exactly `len` bytes at `start`.
    fn bytes(&self, start: u64, len: usize) -> std::io::Result<Bytes>;
}

/// One file of a source.
pub trait Input: Send + Sync {
    /// How messages name it (a path, or `s3://bucket/key`).
    fn name(&self) -> String;
    /// Its size in bytes, when known (0 for standard input not yet read).
    fn size(&self) -> u64;
    /// Read it front to back.
    fn open(&self) -> Result<Box<dyn Read + Send>>;
    /// Read it at any position (Parquet).
    fn random(&self) -> Result<Arc<dyn RandomAccess>>;
    /// Read and seek (Arrow IPC files).
    fn seekable(&self) -> Result<Box<dyn ReadSeek>> {
        Ok(Box::new(SeekReader::new(self.random()?)))
    }
    /// Up to `n` bytes from the start, without using it up: what kind of
    /// file it is. [`Input::open`] still reads from the start afterwards.
    fn head(&self, n: usize) -> Result<Bytes> {
        let random = self.random()?;
        let n = (n as u64).min(random.len()) as usize;
        Ok(random.bytes(0, n)?)
    }
    /// Whether [`Input::open`] can read it again from the start with the
    /// same bytes (a file or an object; not standard input or a pipe).
    fn reads_again(&self) -> bool {
        true
    }
    /// Whether it adds what it reads to the progress counters itself (a
    /// compressed file counts its compressed bytes, which its size is of),
    /// so readers do not count its decompressed bytes again.
    fn counts_bytes(&self) -> bool {
        false
    }
    /// Its bytes front to back as an async stream, where that is how they
    /// arrive (objects); `None` where [`Input::open`] is the better way.
    fn stream(&self) -> Option<futures::stream::BoxStream<'static, Result<Bytes>>> {
        None
    }
}

/// A local file or `-` for standard input.
pub struct LocalInput {
    pub path: PathBuf,
    stdin: Mutex<Stdin>,
}

/// Standard input is read once: front to back ([`Input::open`]), or copied
/// ("spooled") into an unnamed temporary file when a format needs random
/// access (Parquet, Arrow IPC files read their footer first). The file has no
/// name (`O_TMPFILE`), so no other process can open it and it disappears when
/// convoy exits, however it exits.
enum Stdin {
    /// Nothing read yet, or only the first bytes (kept to be read again).
    Fresh(Vec<u8>),
    Spooled(Arc<File>),
    /// Handed out to be read front to back.
    Taken,
}

impl LocalInput {
    pub fn new(path: &Path) -> LocalInput {
        LocalInput {
            path: path.to_path_buf(),
            stdin: Mutex::new(Stdin::Fresh(Vec::new())),
        }
    }

    fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }

    fn file(&self) -> Result<File> {
        File::open(&self.path).map_err(|e| {
            crate::error::input(format!("cannot open {}: {e}", self.path.display()), None)
        })
    }

    fn stdin_state(&self) -> std::sync::MutexGuard<'_, Stdin> {
        self.stdin.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn already_read() -> anyhow::Error {
        crate::error::input(
            "standard input was already read",
            Some("read the data from a file instead".to_string()),
        )
    }

    /// Standard input in a temporary file, copied on first use.
    fn spooled(&self) -> Result<Arc<File>> {
        let mut state = self.stdin_state();
        match &mut *state {
            Stdin::Spooled(f) => Ok(f.clone()),
            Stdin::Taken => Err(Self::already_read()),
            Stdin::Fresh(head) => {
                let spool_error = |e: std::io::Error| {
                    crate::error::input(
                        format!("cannot copy standard input to a temporary file: {e}"),
                        Some(
                            "Parquet and Arrow IPC files are read from their end first, so standard input is copied to a file in the temporary directory (TMPDIR) first; make room there, or read from a file".to_string(),
                        ),
                    )
                };
                let mut f = tempfile::tempfile().map_err(spool_error)?;
                std::io::Write::write_all(&mut f, head).map_err(spool_error)?;
                std::io::copy(&mut std::io::stdin().lock(), &mut f).map_err(spool_error)?;
                let f = Arc::new(f);
                *state = Stdin::Spooled(f.clone());
                Ok(f)
            }
        }
    }
}

impl Input for LocalInput {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn reads_again(&self) -> bool {
        // A named pipe or `<(…)` is drained by the first read.
        !self.is_stdin() && std::fs::metadata(&self.path).is_ok_and(|m| m.is_file())
    }

    fn size(&self) -> u64 {
        if self.is_stdin() {
            return match &*self.stdin_state() {
                Stdin::Spooled(f) => RandomAccess::len(f.as_ref()),
                _ => 0,
            };
        }
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    fn open(&self) -> Result<Box<dyn Read + Send>> {
        if self.is_stdin() {
            let mut state = self.stdin_state();
            return match std::mem::replace(&mut *state, Stdin::Taken) {
                Stdin::Fresh(head) => Ok(Box::new(Cursor::new(head).chain(std::io::stdin()))),
                Stdin::Spooled(f) => {
                    let r = f.read_from(0)?;
                    *state = Stdin::Spooled(f);
                    Ok(r)
                }
                Stdin::Taken => Err(Self::already_read()),
            };
        }
        Ok(Box::new(self.file()?))
    }

    fn random(&self) -> Result<Arc<dyn RandomAccess>> {
        if self.is_stdin() {
            return Ok(self.spooled()?);
        }
        Ok(Arc::new(self.file()?))
    }

    fn seekable(&self) -> Result<Box<dyn ReadSeek>> {
        if self.is_stdin() {
            let f = self.spooled()?;
            let mut f = f.try_clone()?;
            f.seek(SeekFrom::Start(0))?;
            return Ok(Box::new(BufReader::new(f)));
        }
        Ok(Box::new(BufReader::new(self.file()?)))
    }

    fn head(&self, n: usize) -> Result<Bytes> {
        if !self.is_stdin() {
            let mut f = self.file()?;
            let mut buf = Vec::with_capacity(n);
            (&mut f).take(n as u64).read_to_end(&mut buf)?;
            return Ok(buf.into());
        }
        let mut state = self.stdin_state();
        match &mut *state {
            Stdin::Fresh(head) => {
                while head.len() < n {
                    let mut chunk = vec![0u8; n - head.len()];
                    let got = match std::io::stdin().lock().read(&mut chunk) {
                        Ok(0) => break,
                        Ok(got) => got,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e.into()),
                    };
                    head.extend_from_slice(&chunk[..got]);
                }
                Ok(Bytes::copy_from_slice(&head[..n.min(head.len())]))
            }
            Stdin::Spooled(f) => {
                let n = (n as u64).min(RandomAccess::len(f.as_ref())) as usize;
                Ok(RandomAccess::bytes(f.as_ref(), 0, n)?)
            }
            Stdin::Taken => Err(Self::already_read()),
        }
    }
}

impl RandomAccess for File {
    fn len(&self) -> u64 {
        self.metadata().map_or(0, |m| m.len())
    }

    fn read_from(&self, start: u64) -> std::io::Result<Box<dyn Read + Send>> {
        let mut f = self.try_clone()?;
        f.seek(SeekFrom::Start(start))?;
        Ok(Box::new(BufReader::new(f)))
    }

    fn bytes(&self, start: u64, len: usize) -> std::io::Result<Bytes> {
        let mut buf = vec![0u8; len];
        self.read_exact_at(&mut buf, start)?;
        Ok(buf.into())
    }
}

/// [`RandomAccess`] as parquet's [`ChunkReader`].
#[derive(Clone)]
pub struct Chunks(pub Arc<dyn RandomAccess>);

impl Length for Chunks {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

impl ChunkReader for Chunks {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.0
            .read_from(start)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.0
            .bytes(start, length)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }
}

/// Bytes fetched per positioned read when seeking through a remote file.
const SEEK_BLOCK: usize = 4 << 20;

/// Read + Seek over [`RandomAccess`], fetching blocks of [`SEEK_BLOCK`].
pub struct SeekReader {
    ra: Arc<dyn RandomAccess>,
    pos: u64,
    block: Bytes,
    block_start: u64,
}

impl SeekReader {
    pub fn new(ra: Arc<dyn RandomAccess>) -> SeekReader {
        SeekReader {
            ra,
            pos: 0,
            block: Bytes::new(),
            block_start: 0,
        }
    }
}

impl Read for SeekReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = self.ra.len();
        if self.pos >= len || buf.is_empty() {
            return Ok(0);
        }
        let in_block =
            self.pos >= self.block_start && self.pos < self.block_start + self.block.len() as u64;
        if !in_block {
            let want = (SEEK_BLOCK as u64).min(len - self.pos) as usize;
            self.block = self.ra.bytes(self.pos, want)?;
            self.block_start = self.pos;
        }
        let off = (self.pos - self.block_start) as usize;
        let n = buf.len().min(self.block.len() - off);
        buf[..n].copy_from_slice(&self.block[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SeekReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let len = self.ra.len() as i128;
        let next = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => len + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if next < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            ));
        }
        self.pos = next as u64;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem(Bytes);

    impl RandomAccess for Mem {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_from(&self, start: u64) -> std::io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(std::io::Cursor::new(
                self.0.slice(start as usize..),
            )))
        }
        fn bytes(&self, start: u64, len: usize) -> std::io::Result<Bytes> {
            Ok(self.0.slice(start as usize..start as usize + len))
        }
    }

    #[test]
    fn seek_reader_reads_across_blocks_and_seeks() {
        let data: Vec<u8> = (0..(SEEK_BLOCK * 2 + 10))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut r = SeekReader::new(Arc::new(Mem(data.clone().into())));
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, data);
        r.seek(SeekFrom::End(-5)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, &data[data.len() - 5..]);
    }
}
