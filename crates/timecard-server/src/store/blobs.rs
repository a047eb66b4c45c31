//! X2: screenshots, thumbnails and report zips outside the database
//! (`--blobs DIR` or `--blobs s3://BUCKET/PREFIX`), through `object_store`.
//!
//! A blob is written before the row that points to it commits, under a key
//! no other write uses (a random part in every name): an upload that dies
//! in between leaves an orphan, never a row without its picture, and
//! `timecard-server blobs gc` removes orphans. Objects are never
//! overwritten.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::{Result, StoreError};
use timecard_core::domain::{Segment, SegmentId};

/// Writes in flight at once for one batch.
const PUTS_AT_ONCE: usize = 16;

/// Where blobs go, as given to `--blobs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobLocation {
    Folder(PathBuf),
    /// `s3://BUCKET/PREFIX`; endpoint, region and keys from `AWS_*`.
    S3 {
        bucket: String,
        prefix: String,
    },
}

impl BlobLocation {
    pub fn parse(text: &str) -> std::result::Result<BlobLocation, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("{text:?} names no bucket: give s3://BUCKET/PREFIX"));
            }
            Ok(BlobLocation::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            })
        } else if text.contains("://") {
            Err(format!(
                "{text:?}: blobs go to a folder or to s3://BUCKET/PREFIX"
            ))
        } else if text.is_empty() {
            Err("--blobs needs a folder or s3://BUCKET/PREFIX".into())
        } else {
            Ok(BlobLocation::Folder(PathBuf::from(text)))
        }
    }
}

impl std::fmt::Display for BlobLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobLocation::Folder(path) => write!(f, "{}", path.display()),
            BlobLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// The two objects of a screenshot, written before its row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShotKeys {
    /// What the row keeps; the objects are `BASE.jpg` and `BASE.thumb.jpg`.
    pub base: String,
}

impl ShotKeys {
    fn new(user_id: i64, segment: SegmentId) -> ShotKeys {
        ShotKeys {
            base: format!(
                "screenshots/{user_id}/{segment}/{}",
                uuid::Uuid::new_v4().simple()
            ),
        }
    }

    pub fn full(&self) -> String {
        format!("{}.jpg", self.base)
    }

    pub fn thumbnail(&self) -> String {
        format!("{}.thumb.jpg", self.base)
    }
}

/// A report's logs zip.
pub fn report_key(report_id: &str) -> String {
    format!("reports/{report_id}/{}.zip", uuid::Uuid::new_v4().simple())
}

/// An object store and the runtime its client runs on: the store's methods
/// are called from blocking threads (and from commands with no runtime).
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// `Some` for a folder: written files are synced to disk.
    folder: Option<PathBuf>,
    location: BlobLocation,
    /// `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Blobs {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is not allowed on a server's
        // async workers (where its last reference to the store may go).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Blobs {
    pub fn open(location: &BlobLocation) -> Result<Blobs> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("timecard-blobs")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start its runtime: {e}")))?;
        let _entered = runtime.enter();
        let (store, folder): (Arc<dyn ObjectStore>, _) = match location {
            BlobLocation::Folder(path) => {
                std::fs::create_dir_all(path).map_err(|e| {
                    StoreError::Unavailable(format!("cannot make {}: {e}", path.display()))
                })?;
                let local = LocalFileSystem::new_with_prefix(path).map_err(|e| {
                    StoreError::Unavailable(format!("cannot use {}: {e}", path.display()))
                })?;
                (Arc::new(local), Some(path.clone()))
            }
            BlobLocation::S3 { bucket, prefix } => {
                timecard_core::tls::install_crypto_provider();
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    // Self-hosted stores (Garage, MinIO, Ceph) answer on
                    // one host name: the bucket goes in the path.
                    .with_virtual_hosted_style_request(false)
                    .build()
                    .map_err(|e| StoreError::Unavailable(format!("s3://{bucket}: {e}")))?;
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix.as_str()))
                };
                (store, None)
            }
        };
        drop(_entered);
        Ok(Blobs {
            store,
            folder,
            location: location.clone(),
            runtime: Some(runtime),
        })
    }

    fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the store")
            .block_on(work)
    }

    pub fn location(&self) -> &BlobLocation {
        &self.location
    }

    /// Writes objects (at most [`PUTS_AT_ONCE`] at a time); `Ok` once all
    /// are durable.
    pub fn put_all(&self, objects: Vec<(String, Vec<u8>)>) -> Result<()> {
        let store = &self.store;
        self.block_on(async {
            futures_util::stream::iter(objects)
                .map(|(key, bytes)| async move {
                    store
                        .put(&ObjectPath::from(key.as_str()), PutPayload::from(bytes))
                        .await
                        .map_err(|e| blob_error(format!("writing {key}"), &e))?;
                    Ok::<_, StoreError>(key)
                })
                .buffer_unordered(PUTS_AT_ONCE)
                .try_for_each(|key| async move { self.sync(&key) })
                .await
        })
    }

    /// A folder's file (and its folder) to disk: `object_store` renames a
    /// written temporary file into place but does not sync it.
    fn sync(&self, key: &str) -> Result<()> {
        let Some(root) = &self.folder else {
            return Ok(());
        };
        let path = root.join(key);
        let synced = std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .and_then(|()| match path.parent() {
                Some(dir) => std::fs::File::open(dir).and_then(|d| d.sync_all()),
                None => Ok(()),
            });
        synced.map_err(|e| blob_error(format!("syncing {}", path.display()), &e))
    }

    /// Writes the screenshots of `segments` that have one, each under new
    /// keys.
    pub fn put_screenshots<'a>(
        &self,
        user_id: i64,
        segments: impl IntoIterator<Item = &'a Segment>,
    ) -> Result<Vec<(SegmentId, ShotKeys)>> {
        let mut written = Vec::new();
        let mut objects = Vec::new();
        for segment in segments {
            if let Some(shot) = &segment.screenshot {
                let keys = ShotKeys::new(user_id, segment.id);
                objects.push((keys.full(), shot.jpeg.clone()));
                objects.push((keys.thumbnail(), shot.thumbnail.clone()));
                written.push((segment.id, keys));
            }
        }
        self.put_all(objects)?;
        Ok(written)
    }

    /// An object's bytes; `None` when it is not there.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.block_on(async {
            match self.store.get(&ObjectPath::from(key)).await {
                Ok(found) => found
                    .bytes()
                    .await
                    .map(|b| Some(b.to_vec()))
                    .map_err(|e| StoreError::Unavailable(format!("reading {key}: {e}"))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(StoreError::Unavailable(format!("reading {key}: {e}"))),
            }
        })
    }

    /// Deletes objects; one that is already gone is not an error.
    pub fn delete_all(&self, keys: Vec<String>) -> Result<()> {
        let store = &self.store;
        self.block_on(async {
            futures_util::stream::iter(keys)
                .map(|key| async move {
                    match store.delete(&ObjectPath::from(key.as_str())).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                        Err(e) => Err(StoreError::Unavailable(format!("deleting {key}: {e}"))),
                    }
                })
                .buffer_unordered(PUTS_AT_ONCE)
                .try_collect::<Vec<()>>()
                .await
                .map(|_| ())
        })
    }

    /// Every object: its key and when it was written.
    pub fn list(&self) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.block_on(async {
            self.store
                .list(None)
                .map_ok(|meta| (meta.location.to_string(), meta.last_modified))
                .try_collect()
                .await
                .map_err(|e| StoreError::Unavailable(format!("listing: {e}")))
        })
    }

    /// Deletes the objects no row points to that are older than `grace`
    /// (younger ones may belong to an upload about to commit). Returns how
    /// many were deleted and how many are kept.
    pub fn collect_garbage(
        &self,
        referenced: &HashSet<String>,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> Result<GarbageCollected> {
        let cutoff = now - chrono::Duration::from_std(grace).unwrap_or_default();
        let mut orphans = Vec::new();
        let mut kept = 0;
        let mut young = 0;
        for (key, written) in self.list()? {
            if referenced.contains(&key) {
                kept += 1;
            } else if written > cutoff {
                young += 1;
            } else {
                orphans.push(key);
            }
        }
        let deleted = orphans.len();
        self.delete_all(orphans)?;
        Ok(GarbageCollected {
            deleted,
            kept,
            young,
        })
    }
}

/// What `blobs gc` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GarbageCollected {
    /// Orphans removed.
    pub deleted: usize,
    /// Objects a row points to.
    pub kept: usize,
    /// Orphans too young to remove yet.
    pub young: usize,
}

/// The object keys a screenshot row's base stands for.
pub fn shot_objects(base: &str) -> [String; 2] {
    let keys = ShotKeys {
        base: base.to_owned(),
    };
    [keys.full(), keys.thumbnail()]
}
/// A failed write to the blob store: [`StoreError::Full`] when the disk
/// is full, else unavailable.
fn blob_error(what: String, e: &(dyn std::error::Error + 'static)) -> StoreError {
    if super::is_disk_full(e) {
        StoreError::Full(format!("{what}: {e}"))
    } else {
        StoreError::Unavailable(format!("{what}: {e}"))
    }
}
