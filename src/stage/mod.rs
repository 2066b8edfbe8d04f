//! Staged copies: extract a source into a run of Parquet parts on a store
//! of objects (S3, Azure, GCS, or a local directory), and load a destination
//! from it later, perhaps on another machine.
//!
//! - `manifest`: what a run holds and the names of its objects.
//! - `sink`: the extract side, a [`crate::connect::Sink`] writing parts and,
//!   at commit, the shard's manifest (the commit marker).
//! - `source`: the load side, a [`crate::connect::Source`] that reads only
//!   complete runs and verifies every part's size and SHA-256 while reading
//!   it, each part's rows and the total before anything is committed.
//! - `jobs`: extract, load and the one-command staged copy, each with its
//!   copy report.
//! - `housekeeping`: listing runs with their state, removing them.
//!
//! A stage lives on any connection that can hold one
//! (`Connector::stage_store`): the stage's store, TLS and credentials are
//! that connection's. With encryption, every part is encrypted on the
//! extracting machine before it leaves (`security::age`), to the recipients
//! named in the manifest.

pub mod housekeeping;
pub mod jobs;
pub mod manifest;
mod sink;
mod source;

use std::sync::Arc;

use anyhow::Result;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};

use self::manifest::Manifest;
use crate::connect::objstore::store_error;

/// One run on a stage: its store and prefix.
#[derive(Clone)]
pub struct RunPlace {
    pub store: Arc<dyn ObjectStore>,
    /// `<stage path>/<run id>`, relative to the store.
    pub prefix: ObjPath,
    pub run_id: String,
    /// How it is shown: `s3://lake/convoy-stage/<run id>/`.
    pub shown: String,
}

/// An object name as a path on a store.
pub fn object_path(key: &str) -> Result<ObjPath> {
    ObjPath::parse(key.trim_matches('/'))
        .map_err(|e| crate::error::usage(format!("{key:?} is not a valid object name: {e}"), None))
}

impl RunPlace {
    /// The run `run_id` under `stage_path` on a store shown as `root`.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        root: &str,
        stage_path: &str,
        run_id: &str,
    ) -> Result<RunPlace> {
        if run_id.is_empty()
            || !run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || run_id.starts_with('.')
        {
            return Err(crate::error::usage(
                format!("{run_id:?} is not a usable run id"),
                Some("use letters, digits, '-', '_' and '.'".to_string()),
            ));
        }
        let stage = stage_path.trim_matches('/');
        let key = if stage.is_empty() {
            run_id.to_string()
        } else {
            format!("{stage}/{run_id}")
        };
        Ok(RunPlace {
            store,
            prefix: object_path(&key)?,
            run_id: run_id.to_string(),
            shown: format!("{}/{key}/", root.trim_end_matches('/')),
        })
    }

    /// The run a location names: its last path segment is the run id.
    pub fn at(store: Arc<dyn ObjectStore>, root: &str, run_path: &str) -> Result<RunPlace> {
        let trimmed = run_path.trim_matches('/');
        let (stage, run) = match trimmed.rsplit_once('/') {
            Some((s, r)) => (s, r),
            None => ("", trimmed),
        };
        if run.is_empty() {
            return Err(crate::error::usage(
                "name a run: STAGE/RUN-ID (convoy stage list STAGE shows them)",
                None,
            ));
        }
        RunPlace::new(store, root, stage, run)
    }

    pub fn child(&self, name: &str) -> ObjPath {
        self.prefix.clone().join(name)
    }

    pub fn shown_child(&self, name: &str) -> String {
        format!("{}{name}", self.shown)
    }

    /// Every object of the run.
    pub async fn list(&self) -> Result<Vec<ObjectMeta>> {
        self.store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|e| store_error(&self.shown, "listing the run", e))
    }

    /// The name of an object of this run, relative to the run.
    pub fn name_of<'a>(&self, meta: &'a ObjectMeta) -> Option<&'a str> {
        meta.location
            .as_ref()
            .strip_prefix(self.prefix.as_ref())
            .map(|n| n.trim_start_matches('/'))
    }

    pub async fn read_manifest(&self, name: &str) -> Result<Manifest> {
        let bytes = self
            .store
            .get(&self.child(name))
            .await
            .map_err(|e| store_error(&self.shown_child(name), "reading", e))?
            .bytes()
            .await
            .map_err(|e| store_error(&self.shown_child(name), "reading", e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            crate::error::verify(format!(
                "{} is not a convoy stage manifest: {e}",
                self.shown_child(name)
            ))
        })
    }

    pub async fn put_json(&self, name: &str, value: &impl serde::Serialize) -> Result<()> {
        let body = serde_json::to_vec_pretty(value)?;
        self.store
            .put(&self.child(name), PutPayload::from(body))
            .await
            .map_err(|e| store_error(&self.shown_child(name), "writing", e))?;
        Ok(())
    }

    /// Delete objects of the run; missing ones are fine.
    pub async fn delete(&self, paths: Vec<ObjPath>) -> Result<()> {
        for p in paths {
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    return Err(store_error(
                        &format!("{}/{}", self.shown.trim_end_matches('/'), p),
                        "deleting",
                        e,
                    ))
                }
            }
        }
        Ok(())
    }

    /// Delete the whole run.
    pub async fn remove(&self) -> Result<()> {
        let all = self.list().await?;
        self.delete(all.into_iter().map(|m| m.location).collect())
            .await
    }
}

/// `convoy check` of a stage, after its connection's own steps: the stage
/// is listed, and — convoy owns that prefix — a small probe object is
/// written and deleted there.
pub async fn check_stage(
    connector: &dyn crate::connect::Connector,
    path: &str,
    ctx: &crate::connect::OpenContext,
) -> Vec<crate::connect::Step> {
    use crate::connect::{Checked, Status};
    let mut c = Checked::default();
    let st = match tokio::task::block_in_place(|| connector.stage_store(path, ctx)) {
        Ok(st) => st,
        Err(e) => {
            c.push_error("stage", &e);
            return c.steps;
        }
    };
    let shown = format!("{}/{}", st.root.trim_end_matches('/'), st.path);
    match housekeeping::list(st.store.clone(), &st.root, &st.path).await {
        Ok(runs) => c.push(
            "stage",
            Status::Ok,
            format!("{shown} listed: {} run(s)", runs.len()),
        ),
        Err(e) => {
            c.push_error("stage", &e);
            return c.steps;
        }
    }
    let name = format!("_convoy_probe-{}", uuid::Uuid::new_v4().simple());
    let key = if st.path.is_empty() {
        name
    } else {
        format!("{}/{name}", st.path)
    };
    let probe = match object_path(&key) {
        Ok(p) => p,
        Err(e) => {
            c.push_error("write", &e);
            return c.steps;
        }
    };
    let written = st
        .store
        .put(&probe, PutPayload::from_static(b"convoy check"))
        .await;
    match written {
        Err(e) => c.push_error("write", &store_error(&shown, "writing a probe object", e)),
        Ok(_) => match st.store.delete(&probe).await {
            Ok(()) => c.push(
                "write",
                Status::Ok,
                "a probe object was written and deleted (write and delete access)",
            ),
            Err(e) => c.push_error(
                "write",
                &store_error(&shown, "deleting the probe object", e),
            ),
        },
    }
    c.steps
}
