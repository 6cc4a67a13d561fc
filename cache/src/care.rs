//! Keeping the cache bounded and sound: least-recently-used eviction under
//! a size cap (a blob's modification time is its last use), garbage
//! collection, and verification that re-hashes every blob.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::{hash_file, Cache, CacheError, Hash};

/// The cap when none is given: 20 GiB.
pub const DEFAULT_CACHE_SIZE: u64 = 20 << 30;

/// One blob in the store.
#[derive(Debug, Clone)]
pub struct BlobInfo {
    pub hash: Option<Hash>,
    pub path: PathBuf,
    pub size: u64,
    pub last_used: SystemTime,
}

/// What eviction removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evicted {
    pub blobs: usize,
    pub bytes: u64,
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Verification {
    pub blobs: usize,
    pub entries: usize,
    /// Blobs whose content no longer matches their name (removed).
    pub corrupt: Vec<PathBuf>,
    /// Entries whose blob is gone (their steps render again).
    pub missing: Vec<Hash>,
}

impl Verification {
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.missing.is_empty()
    }
}

/// Parses a size like `20G`, `512M`, `1.5GiB` or `1000000` (bytes).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: u64 = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    (number >= 0.0).then_some((number * scale as f64) as u64)
}

impl Cache {
    /// Marks a blob as just used, for eviction's order.
    pub fn touch_blob(&self, hash: &Hash) {
        let path = self.blob_path(hash);
        if let Ok(file) = fs::File::options().write(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    /// Every blob, with its size and last use.
    pub fn blobs(&self) -> Vec<BlobInfo> {
        let mut blobs = Vec::new();
        let shards = fs::read_dir(self.layout().blobs()).into_iter().flatten();
        for shard in shards.flatten() {
            for entry in fs::read_dir(shard.path()).into_iter().flatten().flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                blobs.push(BlobInfo {
                    hash: entry.file_name().to_str().and_then(Hash::from_hex),
                    path: entry.path(),
                    size: meta.len(),
                    last_used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
        blobs
    }

    /// Every action entry's key and the blob it names.
    pub fn entries(&self) -> Vec<(Hash, crate::ActionEntry)> {
        let mut entries = Vec::new();
        let shards = fs::read_dir(self.layout().actions()).into_iter().flatten();
        for shard in shards.flatten() {
            for file in fs::read_dir(shard.path()).into_iter().flatten().flatten() {
                let name = file.file_name();
                let key = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .and_then(Hash::from_hex);
                if let (Some(key), Some(entry)) = (key, key.and_then(|k| self.action(&k))) {
                    entries.push((key, entry));
                }
            }
        }
        entries
    }

    /// Removes the least recently used blobs, except `keep`, until the
    /// blobs take at most `cap` bytes.
    pub fn evict_to(&self, cap: u64, keep: &BTreeSet<Hash>) -> Evicted {
        let mut blobs = self.blobs();
        let mut total: u64 = blobs.iter().map(|b| b.size).sum();
        let mut evicted = Evicted::default();
        if total <= cap {
            return evicted;
        }
        blobs.sort_by_key(|b| b.last_used);
        let mut gone = BTreeSet::new();
        for blob in blobs {
            if total <= cap {
                break;
            }
            if blob.hash.is_some_and(|h| keep.contains(&h)) {
                continue;
            }
            if fs::remove_file(&blob.path).is_ok() {
                total -= blob.size;
                evicted.blobs += 1;
                evicted.bytes += blob.size;
                gone.extend(blob.hash);
            }
        }
        self.drop_entries_naming(&gone);
        evicted
    }

    /// Removes the entries that name a blob in `gone`: an evicted blob's
    /// step renders again, and `verify` counts only real damage.
    fn drop_entries_naming(&self, gone: &BTreeSet<Hash>) -> usize {
        if gone.is_empty() {
            return 0;
        }
        let mut dropped = 0;
        for (key, entry) in self.entries() {
            let names_gone = (entry.blob && gone.contains(&entry.output))
                || entry.also.iter().any(|h| gone.contains(h));
            if names_gone && fs::remove_file(self.action_path(&key)).is_ok() {
                dropped += 1;
            }
        }
        dropped
    }

    /// Removes what no step can use: blobs no entry names (left by a
    /// build killed between writing a blob and its entry) and leftover
    /// temporary files. Call with the cache lock held.
    pub fn collect_garbage(&self) -> Result<Evicted, CacheError> {
        let named: BTreeSet<Hash> = self
            .entries()
            .into_iter()
            .flat_map(|(_, e)| std::iter::once(e.output).chain(e.also))
            .collect();
        let mut removed = Evicted::default();
        for blob in self.blobs() {
            if blob.hash.is_none_or(|h| !named.contains(&h)) {
                fs::remove_file(&blob.path).map_err(|e| CacheError::io(&blob.path, e))?;
                removed.blobs += 1;
                removed.bytes += blob.size;
            }
        }
        let tmp = self.layout().tmp();
        for entry in fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let _ = fs::remove_file(entry.path());
        }
        crate::remove_stale_temps(&self.layout().actions(), true);
        Ok(removed)
    }

    /// Re-hashes every blob: a blob whose content does not match its name
    /// is removed (the step that made it renders again); an entry whose
    /// rendered blob is missing is reported. Call with the cache lock held.
    pub fn verify(&self) -> Result<Verification, CacheError> {
        self.verify_and(false)
    }

    /// [`Cache::verify`], and with `repair` the entries it finds damaged
    /// (a blob missing, or the blob a removed corrupt one was) dropped,
    /// so their steps render again.
    pub fn verify_and(&self, repair: bool) -> Result<Verification, CacheError> {
        let mut report = Verification::default();
        for blob in self.blobs() {
            report.blobs += 1;
            let sound = blob.hash.is_some() && hash_file(&blob.path).ok() == blob.hash;
            if !sound {
                fs::remove_file(&blob.path).map_err(|e| CacheError::io(&blob.path, e))?;
                report.corrupt.push(blob.path);
            }
        }
        for (key, entry) in self.entries() {
            report.entries += 1;
            let missing = (entry.blob && !self.has_blob(&entry.output))
                || entry.also.iter().any(|h| !self.has_blob(h));
            if missing {
                if repair {
                    let path = self.action_path(&key);
                    fs::remove_file(&path).map_err(|e| CacheError::io(&path, e))?;
                }
                report.missing.push(key);
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ActionEntry;

    fn cache_with(blobs: &[&[u8]]) -> (tempfile::TempDir, Cache, Vec<Hash>) {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let mut hashes = Vec::new();
        for (i, bytes) in blobs.iter().enumerate() {
            let temp = cache.temp_file("t");
            fs::write(temp.path(), bytes).unwrap();
            let hash = cache.commit_blob(temp).unwrap();
            let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i as u64);
            fs::File::options()
                .write(true)
                .open(cache.blob_path(&hash))
                .unwrap()
                .set_modified(old)
                .unwrap();
            cache
                .put_action(
                    &Hash::of_bytes(&[i as u8]),
                    &ActionEntry {
                        output: hash,
                        meta: serde_json::Value::Null,
                        blob: true,
                        also: Vec::new(),
                    },
                )
                .unwrap();
            hashes.push(hash);
        }
        (dir, cache, hashes)
    }

    #[test]
    fn eviction_removes_the_least_recently_used_first() {
        let (_dir, cache, hashes) = cache_with(&[&[1; 100], &[2; 100], &[3; 100]]);
        cache.touch_blob(&hashes[0]);
        let evicted = cache.evict_to(200, &BTreeSet::new());
        assert_eq!(
            evicted,
            Evicted {
                blobs: 1,
                bytes: 100
            }
        );
        assert!(cache.has_blob(&hashes[0]) && !cache.has_blob(&hashes[1]));
        let keep = BTreeSet::from([hashes[2]]);
        cache.evict_to(0, &keep);
        assert!(!cache.has_blob(&hashes[0]) && cache.has_blob(&hashes[2]));
    }

    #[test]
    fn verify_removes_corrupt_blobs_and_reports_missing_ones() {
        let (_dir, cache, hashes) = cache_with(&[b"one", b"two"]);
        assert!(cache.verify().unwrap().is_clean());
        fs::write(cache.blob_path(&hashes[0]), b"bit rot").unwrap();
        let report = cache.verify().unwrap();
        assert_eq!(report.corrupt, [cache.blob_path(&hashes[0])]);
        assert!(!cache.has_blob(&hashes[0]));
        let again = cache.verify().unwrap();
        assert_eq!(again.missing, [Hash::of_bytes(&[0])]);
    }

    #[test]
    fn eviction_drops_the_entries_of_what_it_evicted() {
        let (_dir, cache, _) = cache_with(&[b"first blob", b"second blob"]);
        let evicted = cache.evict_to(12, &BTreeSet::new());
        assert_eq!(evicted.blobs, 1);
        let report = cache.verify().unwrap();
        assert!(report.is_clean(), "{:?}", report.missing);
        assert_eq!(report.entries, 1);
    }

    #[test]
    fn sizes_read_with_units() {
        assert_eq!(parse_size("20G"), Some(20 << 30));
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("1.5 GB"), Some(3 << 29));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("lots"), None);
    }
}
