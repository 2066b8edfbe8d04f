//! The baseline for `bench/objstore.sh`: the same bytes to and from S3 with
//! object_store alone (multipart, 8 MiB parts, at most 5 in flight:
//! `wait_for_capacity(4)` waits for 4 and then adds one; what convoy uses),
//! no format work.
//!
//! Usage: objstore_put put|get|get-sync ENDPOINT BUCKET KEY FILE CA_FILE
//! (`get-sync` also fsyncs the file it wrote, as a tool that publishes a
//! file durably must.)
//! Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.

use std::io::{Read, Write};

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{Certificate, ClientOptions, ObjectStoreExt, WriteMultipart};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [op, endpoint, bucket, key, file, ca] = &args[..] else {
        return Err("usage: objstore_put put|get|get-sync ENDPOINT BUCKET KEY FILE CA_FILE".into());
    };
    let pem = std::fs::read(ca)?;
    let store = AmazonS3Builder::from_env()
        .with_endpoint(endpoint)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_client_options(
            ClientOptions::new().with_root_certificate(Certificate::from_pem(&pem)?),
        )
        .build()?;
    let path = Path::from(key.as_str());
    match op.as_str() {
        "put" => {
            let upload = store.put_multipart(&path).await?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
            let mut f = std::fs::File::open(file)?;
            let mut buf = vec![0u8; 8 << 20];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(4).await?;
                w.write(&buf[..n]);
            }
            w.finish().await?;
        }
        "get" | "get-sync" => {
            let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
            let mut s = store.get(&path).await?.into_stream();
            while let Some(b) = s.next().await {
                out.write_all(&b?)?;
            }
            out.flush()?;
            if op == "get-sync" {
                out.get_ref().sync_all()?;
            }
        }
        _ => return Err("put, get or get-sync".into()),
    }
    Ok(())
}
