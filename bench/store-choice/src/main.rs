//! The storage libraries bounce could share its cache through, measured
//! on the same S3 server doing the cache's work: blobs of rendered audio
//! (4 MiB each) and action entries (1 KiB each), put then read back, four
//! requests in flight as bounce keeps them.
//!
//!   AWS_ENDPOINT_URL=http://127.0.0.1:PORT store-choice BLOBS ENTRIES

use std::time::Instant;

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use object_store::ObjectStore;

const KEY: &str = "bench";
const SECRET: &str = "bench-secret";
const IN_FLIGHT: usize = 4;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn payload(i: usize, size: usize) -> Bytes {
    Bytes::from((0..size).map(|j| ((i * 31 + j * 7) % 251) as u8).collect::<Vec<u8>>())
}

async fn opendal_run(endpoint: &str, prefix: &str, n: usize, size: usize) -> Result<(f64, f64)> {
    let builder = opendal::services::S3::default()
        .bucket("bucket")
        .endpoint(endpoint)
        .region("us-east-1")
        .access_key_id(KEY)
        .secret_access_key(SECRET)
        .root(&format!("/{prefix}"));
    let op = opendal::Operator::new(builder)?.finish();
    let started = Instant::now();
    stream::iter(0..n)
        .map(|i| {
            let op = op.clone();
            async move { op.write(&format!("o{i}"), payload(i, size)).await.map(|_| ()) }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await?;
    let put = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let sizes: Vec<usize> = stream::iter(0..n)
        .map(|i| {
            let op = op.clone();
            async move { op.read(&format!("o{i}")).await.map(|b| b.len()) }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    assert!(sizes.iter().all(|s| *s == size));
    Ok((put, started.elapsed().as_secs_f64()))
}

async fn object_store_run(endpoint: &str, prefix: &str, n: usize, size: usize) -> Result<(f64, f64)> {
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("bucket")
        .with_endpoint(endpoint)
        .with_region("us-east-1")
        .with_access_key_id(KEY)
        .with_secret_access_key(SECRET)
        .with_allow_http(true)
        .build()?;
    let path = |i: usize| object_store::path::Path::from(format!("{prefix}/o{i}"));
    let started = Instant::now();
    stream::iter(0..n)
        .map(|i| {
            let (store, path) = (&store, path(i));
            async move { store.put(&path, payload(i, size).into()).await.map(|_| ()) }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await?;
    let put = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let sizes: Vec<usize> = stream::iter(0..n)
        .map(|i| {
            let (store, path) = (&store, path(i));
            async move {
                match store.get(&path).await {
                    Ok(got) => got.bytes().await.map(|b| b.len()),
                    Err(e) => Err(e),
                }
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    assert!(sizes.iter().all(|s| *s == size));
    Ok((put, started.elapsed().as_secs_f64()))
}

#[tokio::main]
async fn main() -> Result<()> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (blobs, entries) = (args.first().copied().unwrap_or(64), args.get(1).copied().unwrap_or(500));
    println!("| library | {blobs} blobs of 4 MiB: put, get | {entries} entries of 1 KiB: put, get |");
    println!("| --- | --- | --- |");
    for round in 0..2 {
        let (bp, bg) = object_store_run(&endpoint, &format!("os{round}b"), blobs, 4 << 20).await?;
        let (ep, eg) = object_store_run(&endpoint, &format!("os{round}e"), entries, 1024).await?;
        println!("| object_store 0.12 (round {}) | {bp:.2} s, {bg:.2} s | {ep:.2} s, {eg:.2} s |", round + 1);
        let (bp, bg) = opendal_run(&endpoint, &format!("od{round}b"), blobs, 4 << 20).await?;
        let (ep, eg) = opendal_run(&endpoint, &format!("od{round}e"), entries, 1024).await?;
        println!("| opendal 0.54 (round {}) | {bp:.2} s, {bg:.2} s | {ep:.2} s, {eg:.2} s |", round + 1);
    }
    Ok(())
}
