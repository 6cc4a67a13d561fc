//! The names bounce keeps in a cache folder, in one place, and the only
//! way to remove a cache: by those names, never by whatever else a
//! folder holds.

use std::fs;
use std::path::{Path, PathBuf};

use crate::CacheError;

/// `CACHEDIR.TAG` as bounce writes it (https://bford.info/cachedir/): the
/// marker that a folder is bounce's cache.
pub(crate) const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by bounce.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

pub(crate) const TAG_FILE: &str = "CACHEDIR.TAG";
const BLOBS: &str = "blobs";
const ACTIONS: &str = "actions";
const TMP: &str = "tmp";
const STAT: &str = "stat.json";
const STEPS: &str = "steps.json";
const LAST_BUILD: &str = "last-build.json";
const LOCK: &str = "lock";
const REVISIONS: &str = "revisions";
const SCRATCH: &str = "scratch";
const INSPECTIONS: &str = "inspections";

/// Every name bounce writes directly under a cache root.
const OWN_ENTRIES: &[&str] = &[
    TAG_FILE,
    BLOBS,
    ACTIONS,
    TMP,
    STAT,
    STEPS,
    LAST_BUILD,
    LOCK,
    REVISIONS,
    SCRATCH,
    INSPECTIONS,
];

/// Where each of the cache's files lives under its root.
#[derive(Debug, Clone)]
pub struct CacheLayout {
    root: PathBuf,
}

impl CacheLayout {
    pub fn new(root: &Path) -> Self {
        CacheLayout {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn tag(&self) -> PathBuf {
        self.root.join(TAG_FILE)
    }

    pub(crate) fn blobs(&self) -> PathBuf {
        self.root.join(BLOBS)
    }

    pub(crate) fn actions(&self) -> PathBuf {
        self.root.join(ACTIONS)
    }

    /// Outputs kept only while a build uses them (see [`crate::Cache::commit_scratch`]).
    pub fn scratch(&self) -> PathBuf {
        self.root.join(SCRATCH)
    }

    pub fn tmp(&self) -> PathBuf {
        self.root.join(TMP)
    }

    /// The [`crate::StatCache`] of source files.
    pub fn stat(&self) -> PathBuf {
        self.root.join(STAT)
    }

    /// The last key of every step, for explanations.
    pub fn steps(&self) -> PathBuf {
        self.root.join(STEPS)
    }

    /// The counts of the last build.
    pub fn last_build(&self) -> PathBuf {
        self.root.join(LAST_BUILD)
    }

    /// The file a writer locks.
    pub fn lock(&self) -> PathBuf {
        self.root.join(LOCK)
    }

    /// The release report's measurements of delivered files, one JSON
    /// file per file's BLAKE3 hash: a file is inspected once.
    pub fn inspections(&self) -> PathBuf {
        self.root.join(INSPECTIONS)
    }

    /// Where projects exported from git revisions live.
    pub fn revisions(&self) -> PathBuf {
        self.root.join(REVISIONS)
    }

    /// Whether the folder carries bounce's own `CACHEDIR.TAG`.
    pub fn is_marked(&self) -> bool {
        fs::read(self.tag()).is_ok_and(|bytes| bytes == CACHEDIR_TAG.as_bytes())
    }

    /// Whether a cache may be made here: the folder is absent, holds
    /// nothing but names bounce writes (a lock taken before the cache was
    /// made), or is already bounce's cache. Any other folder holds
    /// someone's files.
    pub fn may_open(&self) -> bool {
        match fs::read_dir(&self.root) {
            Ok(entries) => {
                self.is_marked()
                    || entries.flatten().all(|entry| {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        let own = OWN_ENTRIES.contains(&name.as_str())
                            || crate::atomic::is_temp_name(&name);
                        // A folder of bounce's name that holds something
                        // without the tag is the user's (`blobs/` of theirs).
                        let empty_or_file = match entry.file_type() {
                            Ok(t) if t.is_dir() => fs::read_dir(entry.path())
                                .is_ok_and(|mut inside| inside.next().is_none()),
                            Ok(t) => t.is_file(),
                            Err(_) => false,
                        };
                        own && empty_or_file
                    })
            }
            Err(_) => !self.root.exists(),
        }
    }

    /// Removes the cache: only the entries bounce writes, and the folder
    /// itself if nothing else is left in it. A folder without bounce's
    /// marker is refused whole. Returns what was removed and what was
    /// left because bounce did not write it.
    pub fn remove(&self) -> Result<Removal, CacheError> {
        let mut removal = Removal::default();
        let meta = match fs::symlink_metadata(&self.root) {
            Ok(meta) => meta,
            Err(_) => return Ok(removal),
        };
        if meta.file_type().is_symlink() || !meta.is_dir() || !self.is_marked() {
            return Err(CacheError::NotACache {
                path: self.root.clone(),
            });
        }
        let entries = fs::read_dir(&self.root).map_err(|e| CacheError::io(&self.root, e))?;
        // The tag goes last: a clean stopped half-way stays recognisable.
        let mut tag = None;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name == TAG_FILE {
                tag = Some(path);
            } else if OWN_ENTRIES.contains(&name.as_str()) || crate::atomic::is_temp_name(&name) {
                remove_entry(&path)?;
                removal.removed.push(path);
            } else {
                removal.kept.push(path);
            }
        }
        if removal.kept.is_empty() {
            fs::remove_dir_all(&self.root).map_err(|e| CacheError::io(&self.root, e))?;
            removal.removed.push(self.root.clone());
        } else if let Some(tag) = tag {
            removal.removed.push(tag.clone());
            fs::remove_file(&tag).map_err(|e| CacheError::io(&tag, e))?;
        }
        Ok(removal)
    }
}

/// Removes a file, a symbolic link (never what it points to) or a folder.
fn remove_entry(path: &Path) -> Result<(), CacheError> {
    let meta = fs::symlink_metadata(path).map_err(|e| CacheError::io(path, e))?;
    let result = if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    result.map_err(|e| CacheError::io(path, e))
}

/// What [`CacheLayout::remove`] did.
#[derive(Debug, Default)]
pub struct Removal {
    pub removed: Vec<PathBuf>,
    /// Entries bounce did not write, left where they are.
    pub kept: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cache;

    #[test]
    fn a_folder_without_the_marker_is_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("bounce.kdl"), "release").unwrap();
        fs::create_dir(dir.path().join("blobs")).unwrap();
        let layout = CacheLayout::new(dir.path());
        assert!(matches!(layout.remove(), Err(CacheError::NotACache { .. })));
        assert!(dir.path().join("bounce.kdl").is_file());
        assert!(dir.path().join("blobs").is_dir());
        assert!(!layout.may_open());
    }

    #[test]
    fn a_cache_goes_but_files_bounce_did_not_write_stay() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        Cache::open(&root).unwrap();
        fs::write(root.join("stat.json"), "{}").unwrap();
        fs::write(root.join("notes.txt"), "mine").unwrap();
        let layout = CacheLayout::new(&root);
        assert!(layout.may_open());
        let removal = layout.remove().unwrap();
        assert_eq!(removal.kept, vec![root.join("notes.txt")]);
        assert!(!root.join("blobs").exists() && !root.join("stat.json").exists());
        assert!(root.join("notes.txt").is_file());

        fs::remove_file(root.join("notes.txt")).unwrap();
        Cache::open(&root).unwrap();
        layout.remove().unwrap();
        assert!(!root.exists());
    }

    #[test]
    fn a_linked_cache_folder_is_refused_and_its_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        Cache::open(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(CacheLayout::new(&link).remove().is_err());
        assert!(real.join("CACHEDIR.TAG").is_file());
    }
}
