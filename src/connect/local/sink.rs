//! The local files sink: nothing is visible before commit.
//!
//! A single file is written to a hidden temporary file next to it, fsynced
//! and renamed over the destination at commit. Split output
//! (`max_rows_per_file`) is written into a hidden staging directory with
//! `_convoy_manifest.json` written last, and swapped with the destination
//! directory at commit (an atomic exchange on Linux). Abort removes the
//! temporary file or directory; an existing destination is never touched
//! before commit.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;

use crate::connect::format::compression::Compression;
use crate::connect::format::write::{check_schema, FormatWriter, Hashing};
use crate::connect::format::{manifest_json, takes_raw, RawFile, MANIFEST};
use crate::connect::{Encoded, Encoding, OpenContext, Output, Prepared, Sink};
use crate::spec::{Endpoint, Format};

/// Files as a sink.
pub struct FileSink {
    dest: PathBuf,
    format: Format,
    /// Compression around each text file written.
    compression: Compression,
    ep: Endpoint,
    split: Option<u64>,
    run_id: String,
    schema: Option<SchemaRef>,
    /// Temporary file (single output) or staging directory (split output).
    temp: Option<PathBuf>,
    /// Directories created for the destination, removed again on abort.
    created_dirs: Vec<PathBuf>,
    current: Option<(FormatWriter, PathBuf, u64)>,
    parts: Vec<Output>,
    rows_total: u64,
    prepared: bool,
    /// Set when the sink takes a source file's bytes unchanged.
    raw: Option<RawFile>,
    ctx: OpenContext,
}

impl FileSink {
    /// `raw` is the destination as the endpoint names it, `dest` where it is.
    pub fn new(raw: &str, dest: PathBuf, ep: &Endpoint, ctx: &OpenContext) -> Result<FileSink> {
        let split = ep.max_rows_per_file;
        let format = ep
            .format
            .or_else(|| Format::from_path(raw))
            .ok_or_else(|| crate::error::usage(format!("cannot tell the format of {raw}"), None))?;
        let compression = crate::connect::format::compression::output(
            raw,
            format,
            ep.compression,
            split.is_some(),
        )?;
        if split.is_none() && (raw.ends_with('/') || dest.is_dir()) {
            return Err(crate::error::usage(
                format!("destination {} is a directory", dest.display()),
                Some(
                    "name a file (e.g. out/orders.parquet), or split the output with --max-rows-per-file"
                        .to_string(),
                ),
            ));
        }
        Ok(FileSink {
            dest,
            format,
            compression,
            ep: ep.clone(),
            split,
            run_id: ctx.run_id.clone(),
            schema: None,
            temp: None,
            created_dirs: Vec::new(),
            current: None,
            parts: Vec::new(),
            rows_total: 0,
            prepared: false,
            raw: None,
            ctx: ctx.clone(),
        })
    }

    fn hidden_sibling(&self, tag: &str) -> PathBuf {
        let name = self
            .dest
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "output".into());
        let parent = self.dest.parent().unwrap_or(Path::new("."));
        parent.join(format!(".{name}.convoy-{}.{tag}", self.run_id))
    }

    fn create_parents(&mut self) -> Result<()> {
        let parent = match self.dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => return Ok(()),
        };
        let mut missing = Vec::new();
        let mut p = parent.as_path();
        while !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(q) if !q.as_os_str().is_empty() => p = q,
                _ => break,
            }
        }
        for dir in missing.iter().rev() {
            fs::create_dir(dir).with_context(|| format!("creating directory {}", dir.display()))?;
            self.created_dirs.push(dir.clone());
        }
        Ok(())
    }

    fn open_part(&mut self) -> Result<()> {
        let schema = self.schema.clone().expect("begin was called");
        let path = match self.split {
            None => self.temp.clone().expect("temp path"),
            Some(_) => self.temp.clone().expect("staging dir").join(format!(
                "part-{:05}.{}",
                self.parts.len(),
                self.compression.part_extension(self.format)
            )),
        };
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let (w, rows) = FormatWriter::open(
            Hashing::new(file).compressed(self.compression)?,
            self.raw.as_ref(),
            self.format,
            &schema,
            &self.ep.csv,
            &self.ep.parquet,
        )?;
        self.rows_total += rows;
        self.current = Some((w, path, rows));
        Ok(())
    }

    fn close_part(&mut self) -> Result<()> {
        if let Some((w, path, rows)) = self.current.take() {
            let done = w.finish()?;
            if done.rows != rows {
                return Err(crate::error::verify(format!(
                    "{}: the writer recorded {} rows, {} were given to it",
                    path.display(),
                    done.rows,
                    rows
                )));
            }
            let location = match self.split {
                None => self.dest.display().to_string(),
                Some(_) => self
                    .dest
                    .join(path.file_name().expect("part name"))
                    .display()
                    .to_string(),
            };
            self.parts.push(Output {
                location,
                rows: done.rows,
                bytes: done.bytes,
                sha256: done.sha256,
            });
        }
        Ok(())
    }

    fn write_blocking(&mut self, batch: RecordBatch) -> Result<()> {
        let mut batch = batch;
        loop {
            if self.current.is_none() {
                self.open_part()?;
            }
            let room = match self.split {
                Some(max) => max - self.current.as_ref().map_or(0, |c| c.2),
                None => u64::MAX,
            };
            let n = batch.num_rows() as u64;
            let take = n.min(room);
            let (w, _, rows) = self.current.as_mut().expect("open part");
            if take == n {
                w.write(&batch)?;
                *rows += n;
                self.rows_total += n;
                if Some(*rows) == self.split {
                    self.close_part()?;
                }
                return Ok(());
            }
            w.write(&batch.slice(0, take as usize))?;
            *rows += take;
            self.rows_total += take;
            self.close_part()?;
            batch = batch.slice(take as usize, (n - take) as usize);
        }
    }

    fn manifest(&self) -> serde_json::Value {
        let schema = self.schema.as_ref().expect("begin was called");
        manifest_json(
            &self.run_id,
            self.format,
            schema,
            self.rows_total,
            &self.parts,
        )
    }

    fn check_replaceable_dir(&self) -> Result<()> {
        if !self.dest.exists() {
            return Ok(());
        }
        if !self.dest.is_dir() {
            return Err(crate::error::usage(
                format!("{} exists and is not a directory", self.dest.display()),
                Some("split output (--max-rows-per-file) goes into a directory".to_string()),
            ));
        }
        let empty = fs::read_dir(&self.dest)?.next().is_none();
        if !empty && !self.dest.join(MANIFEST).exists() {
            return Err(crate::error::input(
                format!(
                    "{} exists and was not written by convoy (it has no {MANIFEST})",
                    self.dest.display()
                ),
                Some(
                    "convoy replaces a whole output directory; choose a new or empty one"
                        .to_string(),
                ),
            ));
        }
        Ok(())
    }

    fn cleanup(&mut self) {
        self.current = None;
        if let Some(t) = self.temp.take() {
            let _ = if t.is_dir() {
                fs::remove_dir_all(&t)
            } else {
                fs::remove_file(&t)
            };
        }
        for dir in self.created_dirs.drain(..).rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// A write that failed because the file system is full, as an error that
/// names the destination and says what to do; other errors are given back.
fn disk_full(e: anyhow::Error, dest: &Path) -> std::result::Result<anyhow::Error, anyhow::Error> {
    let full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| {
            io.kind() == std::io::ErrorKind::StorageFull
                || io.raw_os_error() == Some(libc::ENOSPC)
                || io.raw_os_error() == Some(libc::EDQUOT)
        }) || c.to_string().contains("No space left on device")
            || c.to_string().contains("Disk quota exceeded")
    });
    if !full {
        return Err(e);
    }
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(crate::error::input(
        format!(
            "writing {}: the file system is full (no space left on the device that holds {})",
            dest.display(),
            dir.display()
        ),
        Some(format!(
            "free space in {} (convoy writes a temporary there before it replaces {}); nothing was published and the temporary was removed",
            dir.display(),
            dest.display()
        )),
    ))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Swap two directory entries atomically (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings for the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

#[async_trait]
impl Sink for FileSink {
    fn describe(&self) -> String {
        format!("local {}{}", self.dest.display(), self.compression.suffix())
    }

    async fn begin(&mut self, schema: SchemaRef) -> Result<()> {
        self.schema = Some(schema);
        if self.split.is_some() {
            self.check_replaceable_dir()?;
        }
        self.create_parents()?;
        match self.split {
            None => {
                let temp = self.hidden_sibling("tmp");
                self.temp = Some(temp);
                self.open_part()?;
            }
            Some(_) => {
                let dir = self.hidden_sibling("staging");
                fs::create_dir(&dir)
                    .with_context(|| format!("creating staging directory {}", dir.display()))?;
                self.temp = Some(dir);
            }
        }
        Ok(())
    }

    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        tokio::task::block_in_place(|| self.write_blocking(batch))
            .map_err(|e| disk_full(e, &self.dest).unwrap_or_else(|e| e))
    }

    fn accepts(&mut self, encoding: &Encoding) -> bool {
        self.raw = takes_raw(encoding, self.format, self.split, &self.ep.parquet);
        self.raw.is_some()
    }

    fn check_schema(&mut self, schema: &SchemaRef) -> Result<()> {
        if self.raw.is_none() {
            for w in check_schema(self.format, schema)? {
                self.ctx.warn(w);
            }
        }
        Ok(())
    }

    async fn write_encoded(&mut self, piece: Encoded) -> Result<()> {
        let (w, path, _) = self.current.as_mut().expect("begin was called");
        tokio::task::block_in_place(|| w.write_bytes(piece.bytes))
            .with_context(|| format!("writing {}", path.display()))
            .map_err(|e| disk_full(e, &self.dest).unwrap_or_else(|e| e))
    }

    async fn prepare(&mut self) -> Result<Prepared> {
        let dest = self.dest.clone();
        tokio::task::block_in_place(|| -> Result<Prepared> {
            self.close_part()?;
            if let Some(dir) = self.temp.clone().filter(|_| self.split.is_some()) {
                let text = serde_json::to_vec_pretty(&self.manifest())?;
                let path = dir.join(MANIFEST);
                let mut f = fs::File::create(&path)?;
                std::io::Write::write_all(&mut f, &text)?;
                f.sync_all()?;
                sync_dir(&dir);
            }
            self.prepared = true;
            Ok(Prepared {
                rows: self.parts.iter().map(|p| p.rows).sum(),
                outputs: self.parts.clone(),
            })
        })
        .map_err(|e| {
            disk_full(e, &dest).unwrap_or_else(|e| e.context(format!("writing {}", dest.display())))
        })
    }

    async fn commit(&mut self) -> Result<()> {
        assert!(self.prepared, "commit before prepare");
        let temp = self.temp.take().expect("begin was called");
        let parent = self
            .dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let result = if self.split.is_some() && self.dest.exists() {
            // Swap the new directory in; the old one ends up at `temp`.
            match exchange(&temp, &self.dest) {
                Ok(()) => {
                    sync_dir(&parent);
                    let _ = fs::remove_dir_all(&temp);
                    Ok(())
                }
                Err(_) => {
                    let old = self.hidden_sibling("old");
                    fs::rename(&self.dest, &old)
                        .and_then(|_| fs::rename(&temp, &self.dest))
                        .map(|_| {
                            let _ = fs::remove_dir_all(&old);
                        })
                }
            }
        } else {
            fs::rename(&temp, &self.dest)
        };
        if let Err(e) = result {
            self.temp = Some(temp);
            return Err(
                anyhow::Error::new(e).context(format!("publishing {}", self.dest.display()))
            );
        }
        sync_dir(&parent);
        self.created_dirs.clear();
        Ok(())
    }

    async fn abort(&mut self) -> Result<()> {
        self.cleanup();
        Ok(())
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // A sink dropped without commit (a panic, an early return) must not
        // leave its temporary behind.
        self.cleanup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_names_the_destination_and_says_what_to_do() {
        let dest = Path::new("/data/out/orders.parquet");
        // As the Parquet writer reports it: an I/O error under its own.
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let e = anyhow::Error::new(io).context("External: No space left on device");
        let e = disk_full(e, dest).unwrap();
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Failed);
        let text = e.to_string();
        assert!(text.contains("/data/out/orders.parquet"), "{text}");
        assert!(text.contains("file system is full"), "{text}");
        let hint = crate::error::hint(&e).unwrap();
        assert!(hint.contains("free space in /data/out"), "{hint}");
        // Other failures are given back as they were.
        let other = anyhow::anyhow!("permission denied");
        assert_eq!(
            disk_full(other, dest).unwrap_err().to_string(),
            "permission denied"
        );
    }
}
