//! Google Cloud Storage against an emulator (fake-gcs-server over HTTPS,
//! `support/gcs.rs`): first the emulator itself through object_store, the
//! client convoy uses, trusting only the test CA; then convoy end to end:
//! GCS sources are copied exactly; a GCS sink cannot be tested here beyond
//! its failure, because the emulator refuses object_store's uploads.

use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use std::process::Stdio;

use crate::files::{assert_same, sample_table, SAMPLE_SCHEMA};
use crate::support::gcs;
use crate::support::objstore::rt;
use crate::support::{parquet_table, wait_within, write_parquet, Dir, Run};

fn key(rel: &str) -> String {
    format!(
        "t-{}/{rel}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

#[test]
fn the_emulator_serves_object_store_over_https_with_the_test_ca() {
    let store = gcs::store();
    let name = key("hello.txt");
    let body = b"hello from convoy's tests".to_vec();
    gcs::upload(&name, &body);
    let path = ObjPath::from(name.as_str());
    rt().block_on(async {
        let got = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(got.as_ref(), body.as_slice());
        let meta = store.head(&path).await.unwrap();
        assert_eq!(meta.size, body.len() as u64);
        assert!(meta.e_tag.is_some(), "no ETag: {meta:?}");
        let part = store
            .get_opts(
                &path,
                GetOptions {
                    range: Some(GetRange::Bounded(6..10)),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(part.as_ref(), b"from");
        let prefix = ObjPath::from(name.split('/').next().unwrap());
        let listed: Vec<_> = store.list(Some(&prefix)).try_collect().await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].location, path);
        store.delete(&path).await.unwrap();
        assert!(matches!(
            store.head(&path).await,
            Err(object_store::Error::NotFound { .. })
        ));
    });
}

/// Regression guard on the emulator, not on convoy: object_store writes to
/// GCS through the XML API, which fake-gcs-server refuses. When this starts
/// failing, the emulator learnt XML uploads: test convoy's GCS sink too.
#[test]
fn the_emulator_refuses_object_store_writes() {
    let store = gcs::store();
    let path = ObjPath::from(key("put.txt").as_str());
    rt().block_on(async {
        let put = store.put(&path, b"x".to_vec().into()).await;
        let e = put
            .expect_err("the emulator accepted an XML API put")
            .to_string();
        assert!(e.contains("invalid uploadType"), "{e}");
        let e = match store.put_multipart(&path).await {
            Ok(_) => panic!("the emulator accepted an XML multipart upload"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("invalid uploadType"), "{e}");
    });
}

// ---- convoy against the emulator ----------------------------------------

const KEY_ENV: &str = "CONVOY_TEST_GCS_KEY";

/// `convoy run` of a spec with the emulator as connection `g`.
fn run_spec(dir: &Dir, copies: &str) -> Run {
    let spec = dir.write(
        "spec.toml",
        format!("{}\n{copies}", gcs::connection("g", KEY_ENV)),
    );
    let child = dir
        .cmd(&["run", spec.to_str().unwrap(), "--json"])
        .env(KEY_ENV, gcs::service_account_key())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_within(child, 120).into()
}

#[test]
fn gcs_sources_copy_exactly_to_local_files() {
    let dir = Dir::new();
    let table = sample_table();
    write_parquet(&dir.path("orig.parquet"), &table);
    dir.run(&["copy", "orig.parquet", "orig.csv", "-q"]).ok();
    let prefix = key("");
    let parquet = std::fs::read(dir.path("orig.parquet")).unwrap();
    gcs::upload(&format!("{prefix}a.parquet"), &parquet);
    gcs::upload(
        &format!("{prefix}b.csv"),
        &std::fs::read(dir.path("orig.csv")).unwrap(),
    );
    let run = run_spec(
        &dir,
        &format!(
            "[[copy]]\nname = \"parquet\"\n\
             from = {{ connection = \"g\", path = \"{prefix}a.parquet\" }}\n\
             to = {{ path = \"back-a.parquet\" }}\n\
             [[copy]]\nname = \"csv\"\n\
             from = {{ connection = \"g\", path = \"{prefix}b.csv\", schema = \"{SAMPLE_SCHEMA}\" }}\n\
             to = {{ path = \"back-b.parquet\" }}\n"
        ),
    );
    run.ok();
    assert_same(
        &table,
        &parquet_table(&dir.path("back-a.parquet")),
        "gs parquet",
    );
    assert_same(
        &table,
        &parquet_table(&dir.path("back-b.parquet")),
        "gs csv",
    );
    // One Parquet object to one Parquet file travels byte for byte.
    assert_eq!(std::fs::read(dir.path("back-a.parquet")).unwrap(), parquet);
    let copies = &run.json()["copies"];
    assert_eq!(copies[0]["rows_read"], table.num_rows() as u64, "{copies}");
}

/// The emulator refuses object_store's uploads (see `support/gcs.rs`), which
/// is still a test of convoy: a sink whose upload cannot start fails with
/// exit 1, names the object and publishes nothing.
#[test]
fn a_gcs_sink_whose_upload_is_refused_fails_and_publishes_nothing() {
    let dir = Dir::new();
    write_parquet(&dir.path("orig.parquet"), &sample_table());
    let prefix = key("");
    let run = run_spec(
        &dir,
        &format!(
            "[[copy]]\nname = \"up\"\nfrom = {{ path = \"orig.parquet\" }}\n\
             to = {{ connection = \"g\", path = \"{prefix}x.parquet\", parquet = {{ compression = \"zstd\" }} }}\n"
        ),
    );
    assert_eq!(run.code, 1, "{run:?}");
    let error = run.json()["copies"][0]["error"]["message"].to_string();
    assert!(
        error.contains(&format!("gs://{}/{prefix}x.parquet", gcs::BUCKET)),
        "{error}"
    );
    let store = gcs::store();
    let listed: Vec<_> = rt()
        .block_on(
            store
                .list(Some(&ObjPath::from(prefix.trim_end_matches('/'))))
                .try_collect::<Vec<_>>(),
        )
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}
