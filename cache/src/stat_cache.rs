//! Content hashes of source files, remembered by their file-system stat so a
//! no-op build hashes nothing (as ninja and git do).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::{hash_file, write_atomically, CacheError, Hash};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    // Nested, not flattened: serde's flatten cannot read a u128 back.
    stamp: Stamp,
    hash: Hash,
}

/// What the file system says of a file: enough to tell it changed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime_ns: u128,
    inode: u64,
}

/// Path → (size, mtime, inode) → content hash, persisted in `stat.json`.
pub struct StatCache {
    file: PathBuf,
    entries: Mutex<BTreeMap<PathBuf, Entry>>,
    dirty: Mutex<bool>,
}

/// A file modified this close to when it was hashed might change again
/// within the same timestamp tick; such entries are not trusted ("racily
/// clean", as git calls it).
const RACY_WINDOW: Duration = Duration::from_secs(2);

fn stat(path: &Path) -> Result<(Stamp, SystemTime), CacheError> {
    let meta = fs::metadata(path).map_err(|e| CacheError::io(path, e))?;
    let mtime = meta.modified().map_err(|e| CacheError::io(path, e))?;
    let mtime_ns = mtime
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    let stamp = Stamp {
        size: meta.len(),
        mtime_ns,
        inode,
    };
    Ok((stamp, mtime))
}

impl StatCache {
    /// Loads `file`; a missing or unreadable one starts empty.
    pub fn load(file: &Path) -> Self {
        let entries = fs::read(file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        StatCache {
            file: file.to_path_buf(),
            entries: Mutex::new(entries),
            dirty: Mutex::new(false),
        }
    }

    /// The content hash of `path`, from memory when its stat is unchanged.
    pub fn hash(&self, path: &Path) -> Result<Hash, CacheError> {
        let (stamp, mtime) = stat(path)?;
        if let Some(entry) = self.entries.lock().expect("stat cache lock").get(path) {
            if entry.stamp == stamp {
                return Ok(entry.hash);
            }
        }
        let hash = hash_file(path)?;
        let settled = SystemTime::now()
            .duration_since(mtime)
            .map(|age| age > RACY_WINDOW)
            .unwrap_or(false);
        if settled {
            self.remember(path, Entry { stamp, hash });
        }
        Ok(hash)
    }

    /// Writes the cache back if anything was added.
    pub fn save(&self) -> Result<(), CacheError> {
        if !*self.dirty.lock().expect("stat cache lock") {
            return Ok(());
        }
        let entries = self.entries.lock().expect("stat cache lock");
        let bytes = serde_json::to_vec(&*entries).expect("stat entries serialise");
        write_atomically(&self.file, &bytes)
    }
}

impl StatCache {
    /// Remembers the hash of a file this process just wrote itself, so the
    /// next build need not read it back.
    pub fn record(&self, path: &Path, hash: Hash) -> Result<(), CacheError> {
        let (stamp, _) = stat(path)?;
        self.remember(path, Entry { stamp, hash });
        Ok(())
    }

    fn remember(&self, path: &Path, entry: Entry) {
        self.entries
            .lock()
            .expect("stat cache lock")
            .insert(path.to_path_buf(), entry);
        *self.dirty.lock().expect("stat cache lock") = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::time::Duration;

    #[test]
    fn a_saved_cache_is_used_by_the_next_process() {
        let dir = std::env::temp_dir().join(format!("bounce-stat-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let audio = dir.join("stem.wav");
        fs::write(&audio, b"first content").unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&audio)
            .unwrap()
            .set_modified(old)
            .unwrap();

        let first = StatCache::load(&dir.join("stat.json"));
        let hash = first.hash(&audio).unwrap();
        first.save().unwrap();

        // Same size, same inode, same mtime, other bytes: a loaded cache
        // answers from the stamp without reading the file.
        fs::write(&audio, b"other content").unwrap();
        File::options()
            .write(true)
            .open(&audio)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let second = StatCache::load(&dir.join("stat.json"));
        assert_eq!(
            second.hash(&audio).unwrap(),
            hash,
            "the saved entries were not loaded"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
