//! Local files: CSV, Parquet, JSON Lines and Arrow IPC, as sources and sinks
//! (`kind = "local"`, and every path on the command line).
//!
//! A source is a file, a directory (every file of a known format in it) or a
//! glob; all its files form one table, read in sorted name order so that the
//! same input always gives the same output. `-` reads standard input. The
//! sink never writes the destination directly (see `sink`). Relative paths
//! resolve against the connection's `root`, itself relative to the spec's
//! directory.

mod check;
mod sink;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;

pub use self::sink::FileSink;
use super::format::input::{Input, LocalInput};
use super::format::{FileSource, MANIFEST};
use super::{
    Checked, Connector, Coordination, Kind, NetworkEndpoint, OpenContext, Role, Sink, Source,
    StageStore,
};
use crate::spec::fields::Fields;
use crate::spec::{validate, Connection, Endpoint, Format, Mode, LOCAL};

/// `kind = "local"`.
pub struct Local;

impl Kind for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn configure(&self, conn: &Connection, f: &mut Fields) -> Arc<dyn Connector> {
        let base = f.base_dir().to_path_buf();
        let root = f.path("root").unwrap_or_else(|| base.clone());
        Arc::new(LocalFiles {
            name: Some(conn.name.clone()),
            root,
        })
    }
}

/// The local file system as a connection.
pub struct LocalFiles {
    /// None for the implicit connection of paths without one.
    name: Option<String>,
    /// Relative paths resolve against this directory.
    root: PathBuf,
}

impl LocalFiles {
    /// The connection every path without one uses: relative paths from
    /// `base_dir` (the spec's directory, or the working directory).
    pub fn implicit(base_dir: &Path) -> LocalFiles {
        LocalFiles {
            name: None,
            root: base_dir.to_path_buf(),
        }
    }

    /// Where a path of an endpoint is.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() || path == "-" || self.root == Path::new(".") {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }
}

#[async_trait]
impl Connector for LocalFiles {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn check_endpoint(&self, ep: &Endpoint, role: Role, mode: &Mode) -> Vec<(String, String)> {
        validate::file_endpoint("local", ep, role, mode)
    }

    fn describe(&self, ep: &Endpoint) -> String {
        let what = ep.path.as_deref().unwrap_or("?");
        match &self.name {
            Some(name) if name != LOCAL => format!("local {name} {what}"),
            _ => format!("local {what}"),
        }
    }

    fn network(&self) -> Vec<NetworkEndpoint> {
        Vec::new()
    }

    fn publish(&self, ep: &Endpoint, _mode: &Mode) -> String {
        match ep.max_rows_per_file {
            None => "written to a hidden temporary file beside the destination, fsynced, renamed into place".to_string(),
            Some(n) => format!(
                "files of at most {n} rows written into a hidden staging directory with {MANIFEST} last, swapped with the destination directory"
            ),
        }
    }

    async fn check(&self, ep: &Endpoint, role: Role, _mode: &Mode, ctx: &OpenContext) -> Checked {
        check::check(self, ep, role, ctx)
    }

    fn open_source(&self, ep: &Endpoint, ctx: &OpenContext) -> Result<Box<dyn Source>> {
        let raw = ep.path.as_deref().unwrap_or_default();
        let path = self.resolve(raw);
        // The listing a coordinator froze for every shard, else today's.
        let frozen = ctx
            .share
            .as_ref()
            .and_then(|s| s.plan.as_ref())
            .and_then(|p| p["files"].as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str())
                    .map(PathBuf::from)
                    .collect()
            });
        let files = match frozen {
            Some(files) => files,
            None => expand(&path, ep.format)?,
        };
        let label = if files.len() == 1 {
            format!("local {}", files[0].display())
        } else {
            format!("local {} ({} files)", path.display(), files.len())
        };
        let inputs: Vec<Arc<dyn Input>> = files
            .iter()
            .map(|f| Arc::new(LocalInput::new(f)) as Arc<dyn Input>)
            .collect();
        Ok(Box::new(FileSource::from_inputs(label, inputs, ep, ctx)?))
    }

    fn open_sink(&self, ep: &Endpoint, _mode: &Mode, ctx: &OpenContext) -> Result<Box<dyn Sink>> {
        let raw = ctx.path_of(ep);
        let dest = self.resolve(&raw);
        Ok(Box::new(FileSink::new(&raw, dest, ep, ctx)?))
    }

    async fn coordinate(
        &self,
        ep: &Endpoint,
        _count: u32,
        _ctx: &OpenContext,
    ) -> Result<Coordination> {
        let path = self.resolve(ep.path.as_deref().unwrap_or_default());
        if path.as_os_str() == "-" {
            return Err(crate::error::usage(
                "standard input cannot be split into shards",
                None,
            ));
        }
        let files = expand(&path, ep.format)?;
        Ok(Coordination {
            plan: serde_json::json!({
                "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            }),
            hold: Box::new(()),
        })
    }

    fn holds_stages(&self) -> bool {
        true
    }

    /// The stage's directory as a store of objects (files written to a
    /// temporary name and renamed, so a reader never sees half a file).
    fn stage_store(&self, path: &str, _ctx: &OpenContext) -> Result<StageStore> {
        let dir = self.resolve(if path.is_empty() { "." } else { path });
        let root = std::path::absolute(&dir)
            .map_err(|e| crate::error::input(format!("{}: {e}", dir.display()), None))?;
        fs::create_dir_all(&root).map_err(|e| {
            crate::error::input(format!("cannot create {}: {e}", root.display()), None)
        })?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&root)
            .map(|s| s.with_automatic_cleanup(true))
            .map_err(|e| crate::error::input(format!("{}: {e}", root.display()), None))?;
        Ok(StageStore {
            store: Arc::new(store),
            root: root.display().to_string(),
            path: String::new(),
        })
    }
}

fn is_hidden_or_ours(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// The files a source path names: one file, a directory's files, or a glob.
fn expand(path: &Path, format: Option<Format>) -> Result<Vec<PathBuf>> {
    let text = path.to_string_lossy();
    if text == "-" {
        return Ok(vec![path.to_path_buf()]);
    }
    if text.contains(['*', '?', '[']) {
        let mut files: Vec<PathBuf> = glob::glob(&text)
            .map_err(|e| crate::error::usage(format!("bad glob pattern {text:?}: {e}"), None))?
            .filter_map(|r| r.ok())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(crate::error::input(
                format!("no files match {text}"),
                Some("check the pattern; quote it so the shell does not expand it".to_string()),
            ));
        }
        return Ok(files);
    }
    let meta = fs::metadata(path)
        .map_err(|e| crate::error::input(format!("cannot read {}: {e}", path.display()), None))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if is_hidden_or_ours(&name) || !entry.file_type()?.is_file() {
            continue;
        }
        let matches = match format {
            Some(f) => Format::from_path(&name) == Some(f) || Format::from_path(&name).is_none(),
            None => Format::from_path(&name).is_some(),
        };
        if matches {
            files.push(entry.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(crate::error::input(
            format!("directory {} holds no data files", path.display()),
            Some(
                "files need a .csv, .parquet, .jsonl or .arrow extension, or give --source-format"
                    .to_string(),
            ),
        ));
    }
    Ok(files)
}
