//! The runs of a stage and their state, and removing them: a scheduled job
//! otherwise fills a bucket with abandoned runs.
//!
//! A run is `complete` when every shard's manifest is there, `incomplete`
//! otherwise (an extract running, or one that was interrupted), and `loaded`
//! once a load marked it so. Its age is that of its newest object.

use std::sync::Arc;

use anyhow::Result;
use object_store::path::Path as ObjPath;
use object_store::ObjectStore;
use serde::Serialize;

use super::manifest::{self, LOADED};
use super::RunPlace;
use crate::connect::objstore::store_error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Complete,
    Incomplete,
    Loaded,
}

/// One run of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub run_id: String,
    /// What `convoy load` takes.
    pub location: String,
    pub state: RunState,
    /// Shards whose manifest is there, of how many.
    pub shards: String,
    pub rows: u64,
    pub bytes: u64,
    pub encrypted: bool,
    /// Seconds since the newest object of the run was written.
    pub age_s: i64,
}

/// The runs under `path` of a store shown as `root`, oldest first.
pub async fn list(store: Arc<dyn ObjectStore>, root: &str, path: &str) -> Result<Vec<RunInfo>> {
    let stage = path.trim_matches('/');
    let prefix = (!stage.is_empty())
        .then(|| super::object_path(stage))
        .transpose()?;
    let shown_stage = if stage.is_empty() {
        root.trim_end_matches('/').to_string()
    } else {
        format!("{}/{stage}", root.trim_end_matches('/'))
    };
    let listed = store
        .list_with_delimiter(prefix.as_ref())
        .await
        .map_err(|e| store_error(&shown_stage, "listing the stage", e))?;
    let mut out = Vec::new();
    for dir in listed.common_prefixes {
        let Some(run_id) = dir.filename().map(str::to_string) else {
            continue;
        };
        let Ok(run) = RunPlace::new(store.clone(), root, stage, &run_id) else {
            continue;
        };
        out.push(info(&run).await?);
    }
    out.sort_by(|a, b| b.age_s.cmp(&a.age_s).then(a.run_id.cmp(&b.run_id)));
    Ok(out)
}

/// The state of one run.
pub async fn info(run: &RunPlace) -> Result<RunInfo> {
    let objects = run.list().await?;
    let newest = objects.iter().map(|m| m.last_modified).max();
    let names: Vec<&str> = objects.iter().filter_map(|m| run.name_of(m)).collect();
    let shards: Vec<(u32, u32, &str)> = names
        .iter()
        .filter_map(|n| manifest::parse_manifest_name(n).map(|(i, c)| (i, c, *n)))
        .collect();
    let count = shards.first().map_or(0, |s| s.1);
    let complete =
        count > 0 && (1..=count).all(|i| shards.iter().any(|(s, c, _)| *s == i && *c == count));
    let mut rows = 0;
    let mut encrypted = false;
    for (_, _, n) in &shards {
        if let Ok(m) = run.read_manifest(n).await {
            rows += m.rows;
            encrypted |= m.encryption.is_some();
        }
    }
    let state = if names.contains(&LOADED) {
        RunState::Loaded
    } else if complete {
        RunState::Complete
    } else {
        RunState::Incomplete
    };
    Ok(RunInfo {
        run_id: run.run_id.clone(),
        location: run.shown.clone(),
        state,
        shards: format!("{}/{}", shards.len(), count.max(shards.len() as u32)),
        rows,
        bytes: objects.iter().map(|m| m.size).sum(),
        encrypted,
        age_s: newest.map_or(0, |t| (chrono::Utc::now() - t).num_seconds().max(0)),
    })
}

/// Remove a run, all of it.
pub async fn remove(run: &RunPlace) -> Result<usize> {
    let objects = run.list().await?;
    let n = objects.len();
    let paths: Vec<ObjPath> = objects.into_iter().map(|m| m.location).collect();
    run.delete(paths).await?;
    Ok(n)
}
