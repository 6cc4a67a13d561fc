use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::temp_name;
use crate::layout::{CacheLayout, CACHEDIR_TAG};
use crate::{hash_file, write_atomically, CacheError, Hash};

/// What a step produced: its output blob and facts about it that later
/// steps and the manifest need without reading the blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionEntry {
    pub output: Hash,
    #[serde(default)]
    pub meta: serde_json::Value,
    /// Whether `output` names a blob in the store (a source's output is
    /// the hash of its decoded audio, kept nowhere; a transient step's is
    /// kept only while a build reads it).
    #[serde(default = "yes")]
    pub blob: bool,
    /// Blobs the output names besides its own (a codec comparison's
    /// excerpt): kept, fetched and uploaded with it. An entry whose blobs
    /// are not all there is no hit: its step renders again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Hash>,
}

fn yes() -> bool {
    true
}

/// The on-disk action cache and blob store.
pub struct Cache {
    root: PathBuf,
}

/// A file being written in the cache's `tmp/`; removed if never committed.
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Cache {
    /// Opens the cache at `root`, creating it (with `CACHEDIR.TAG`) if
    /// needed. A folder that holds other files and no bounce marker is
    /// refused: it is someone's folder, not a cache.
    pub fn open(root: &Path) -> Result<Self, CacheError> {
        let layout = CacheLayout::new(root);
        if !layout.may_open() {
            return Err(CacheError::NotACache {
                path: root.to_path_buf(),
            });
        }
        for path in [
            layout.blobs(),
            layout.actions(),
            layout.tmp(),
            layout.scratch(),
        ] {
            fs::create_dir_all(&path).map_err(|e| CacheError::io(&path, e))?;
        }
        let tag = layout.tag();
        if !tag.exists() {
            // Another process may be writing it at the same moment.
            if let Err(error) = write_atomically(&tag, CACHEDIR_TAG.as_bytes()) {
                if !tag.exists() {
                    return Err(error);
                }
            }
        }
        Ok(Cache {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The names of the cache's files.
    pub fn layout(&self) -> CacheLayout {
        CacheLayout::new(&self.root)
    }

    pub(crate) fn action_path(&self, key: &Hash) -> PathBuf {
        let hex = key.to_hex();
        self.layout()
            .actions()
            .join(&hex[..2])
            .join(format!("{hex}.json"))
    }

    /// Where the blob with this hash lives (whether or not it exists).
    pub fn blob_path(&self, hash: &Hash) -> PathBuf {
        let hex = hash.to_hex();
        self.layout().blobs().join(&hex[..2]).join(hex)
    }

    pub fn has_blob(&self, hash: &Hash) -> bool {
        self.blob_path(hash).is_file()
    }

    /// The bytes free on the cache's file system.
    pub fn available_space(&self) -> Result<u64, CacheError> {
        fs4::available_space(&self.root).map_err(|e| CacheError::io(&self.root, e))
    }

    /// Where a scratch output with this hash lives (whether or not it exists).
    pub fn scratch_path(&self, hash: &Hash) -> PathBuf {
        self.layout().scratch().join(hash.to_hex())
    }

    /// Where the bytes with this hash can be read: the blob store, or the
    /// scratch folder.
    pub fn output_path(&self, hash: &Hash) -> PathBuf {
        let blob = self.blob_path(hash);
        if blob.is_file() {
            return blob;
        }
        self.scratch_path(hash)
    }

    /// Whether the bytes with this hash are here, as a blob or in scratch.
    pub fn has_output(&self, hash: &Hash) -> bool {
        self.blob_path(hash).is_file() || self.scratch_path(hash).is_file()
    }

    /// Hashes a finished temp file and keeps it in the scratch folder: an
    /// output that is cheap to render again, so it lives only while the
    /// build that made it needs it ([`Cache::drop_scratch`]). It never
    /// shares a file with a blob, so dropping it never takes a kept output.
    pub fn commit_scratch(&self, temp: TempFile) -> Result<Hash, CacheError> {
        let hash = hash_file(temp.path())?;
        let dest = self.scratch_path(&hash);
        fs::rename(temp.path(), &dest).map_err(|e| CacheError::io(&dest, e))?;
        Ok(hash)
    }

    /// A file kept beside a scratch output and dropped with it (such as
    /// the limiter's detection of resampled audio).
    pub fn scratch_sidecar(&self, hash: &Hash, kind: &str) -> PathBuf {
        self.scratch_path(hash).with_extension(kind)
    }

    /// Removes a scratch output and its sidecars.
    pub fn drop_scratch(&self, hash: &Hash) {
        let path = self.scratch_path(hash);
        let _ = fs::remove_file(&path);
        let prefix = format!("{}.", hash.to_hex());
        for entry in fs::read_dir(self.layout().scratch())
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Removes every scratch output (a build's leftovers, under its lock).
    pub fn clear_scratch(&self) {
        let dir = self.layout().scratch();
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let _ = fs::remove_file(entry.path());
        }
    }

    /// The entry for a step key, if the step has run. An unreadable entry
    /// counts as absent: the step simply re-runs. Callers whose output is a
    /// blob check that it is still here with [`Cache::has_blob`].
    pub fn action(&self, key: &Hash) -> Option<ActionEntry> {
        let bytes = fs::read(self.action_path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn put_action(&self, key: &Hash, entry: &ActionEntry) -> Result<(), CacheError> {
        let bytes = serde_json::to_vec(entry).expect("an action entry serialises");
        write_atomically(&self.action_path(key), &bytes)
    }

    /// Forgets the entry of `key` (its step renders again).
    pub fn remove_action(&self, key: &Hash) {
        let _ = fs::remove_file(self.action_path(key));
    }

    /// A fresh file to write a blob into.
    pub fn temp_file(&self, stem: &str) -> TempFile {
        TempFile {
            path: temp_name(&self.layout().tmp(), stem),
        }
    }

    /// Hashes a finished temp file and moves it into the blob store.
    pub fn commit_blob(&self, temp: TempFile) -> Result<Hash, CacheError> {
        let file = fs::File::open(temp.path()).map_err(|e| CacheError::io(temp.path(), e))?;
        file.sync_all()
            .map_err(|e| CacheError::io(temp.path(), e))?;
        let hash = hash_file(temp.path())?;
        let dest = self.blob_path(&hash);
        if dest.exists() {
            self.touch_blob(&hash);
        } else {
            let dir = dest.parent().expect("blob paths have a parent");
            fs::create_dir_all(dir).map_err(|e| CacheError::io(dir, e))?;
            fs::rename(temp.path(), &dest).map_err(|e| CacheError::io(&dest, e))?;
        }
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bounce-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn blobs_are_named_by_content_and_actions_point_at_them() {
        let root = scratch("roundtrip");
        let cache = Cache::open(&root).unwrap();
        assert!(root.join("CACHEDIR.TAG").is_file());
        let temp = cache.temp_file("x");
        fs::write(temp.path(), b"audio bytes").unwrap();
        let hash = cache.commit_blob(temp).unwrap();
        assert_eq!(hash, Hash::of_bytes(b"audio bytes"));
        assert_eq!(fs::read(cache.blob_path(&hash)).unwrap(), b"audio bytes");

        let key = Hash::of_bytes(b"step key");
        assert!(cache.action(&key).is_none());
        let entry = ActionEntry {
            output: hash,
            meta: serde_json::json!({"frames": 3}),
            blob: true,
            also: Vec::new(),
        };
        cache.put_action(&key, &entry).unwrap();
        assert_eq!(cache.action(&key), Some(entry));
        fs::remove_file(cache.blob_path(&hash)).unwrap();
        assert!(!cache.has_blob(&hash));
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        fs::remove_dir_all(&root).unwrap();
    }
}
