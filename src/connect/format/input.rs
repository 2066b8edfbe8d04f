//! Where a file source's bytes come from: a local file, standard input, or an
//! object in a store. The readers in [`super::read`] only see this trait, so
//! every format reads the same way from every place.
//!
//! Text formats are read front to back ([`Input::open`]). Parquet and Arrow
//! IPC need random access (footer first, then column chunks or batches), which
//! an object store serves with range requests ([`RandomAccess`]); memory stays
//! bounded by the largest column chunk, never by the file.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Its size in bytes, when known (0 for standard input).
    fn size(&self) -> u64;
    /// Read it front to back.
    fn open(&self) -> Result<Box<dyn Read + Send>>;
    /// Read it at any position (Parquet).
    fn random(&self) -> Result<Arc<dyn RandomAccess>>;
    /// Read and seek (Arrow IPC).
    fn seekable(&self) -> Result<Box<dyn ReadSeek>> {
        Ok(Box::new(SeekReader::new(self.random()?)))
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
}

impl LocalInput {
    pub fn new(path: &Path) -> LocalInput {
        LocalInput {
            path: path.to_path_buf(),
        }
    }

    fn file(&self) -> Result<File> {
        File::open(&self.path).map_err(|e| {
            crate::error::input(format!("cannot open {}: {e}", self.path.display()), None)
        })
    }
}

impl Input for LocalInput {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn size(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    fn open(&self) -> Result<Box<dyn Read + Send>> {
        if self.path.as_os_str() == "-" {
            return Ok(Box::new(std::io::stdin()));
        }
        Ok(Box::new(self.file()?))
    }

    fn random(&self) -> Result<Arc<dyn RandomAccess>> {
        Ok(Arc::new(self.file()?))
    }

    fn seekable(&self) -> Result<Box<dyn ReadSeek>> {
        Ok(Box::new(BufReader::new(self.file()?)))
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
