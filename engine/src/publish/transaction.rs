//! Publishing a version all or nothing.
//!
//! Every new file is first copied (and checked against its hash) into
//! `VERSION/.bounce-stage/`, on the same filesystem as its destination:
//! a full disk, a read-only folder or a name the filesystem refuses fails
//! there, before any published file is touched. Then a journal is written
//! and each destination is moved aside into the stage folder and the new
//! file renamed into place, the manifest last. A failure while renaming
//! rolls every rename back; a build killed while renaming leaves the
//! journal, and the next publish rolls it back before it starts. So the
//! version folder is always the previous complete version or the new one.

use std::fs;
use std::path::{Path, PathBuf};

use bounce_cache::{hash_file, write_atomically, Hash};
use serde::{Deserialize, Serialize};

use crate::error::BuildError;
use crate::path_rule::PathRule;

/// The staging folder inside a version folder.
pub const STAGE: &str = ".bounce-stage";
const JOURNAL: &str = "journal.json";

/// One destination's change: a new file (`staged`) or a removal (`None`).
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    /// Relative to the version folder.
    dest: PathBuf,
    staged: bool,
}

/// A version folder's pending changes.
pub struct Transaction {
    root: PathBuf,
    entries: Vec<Entry>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Output {
        path: path.to_path_buf(),
        source,
    }
}

impl Transaction {
    /// Starts a transaction on `root`, first rolling back one a killed
    /// build left.
    pub fn begin(root: &Path) -> Result<Self, BuildError> {
        recover(root)?;
        Ok(Transaction {
            root: root.to_path_buf(),
            entries: Vec::new(),
        })
    }

    fn stage(&self) -> PathBuf {
        self.root.join(STAGE)
    }

    fn new_path(&self, index: usize) -> PathBuf {
        self.stage().join(format!("new-{index}"))
    }

    fn old_path(&self, index: usize) -> PathBuf {
        self.stage().join(format!("old-{index}"))
    }

    fn stage_dir(&self) -> Result<PathBuf, BuildError> {
        let stage = self.stage();
        fs::create_dir_all(&stage).map_err(io_error(&stage))?;
        Ok(stage)
    }

    /// Stages a copy of each `(dest, source, hash)`, `jobs` at a time;
    /// each copy must hash to its `hash` and is on the disk before this
    /// returns.
    pub fn copy_all(
        &mut self,
        copies: &[(&Path, PathBuf, Hash)],
        jobs: usize,
    ) -> Result<(), BuildError> {
        use rayon::prelude::*;
        if copies.is_empty() {
            return Ok(());
        }
        self.stage_dir()?;
        let first = self.entries.len();
        let stage = |(offset, (dest, source, hash)): (usize, &(&Path, PathBuf, Hash))| {
            let staged = self.new_path(first + offset);
            let target = self.root.join(dest);
            fs::copy(source, &staged).map_err(io_error(&target))?;
            if hash_file(&staged)? != *hash {
                let _ = fs::remove_file(&staged);
                return Err(BuildError::DamagedBlob { path: target });
            }
            sync(&staged)
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.clamp(1, copies.len()))
            .build()
            .map_err(|e| BuildError::Threads {
                jobs,
                reason: e.to_string(),
            })?;
        pool.install(|| copies.par_iter().enumerate().try_for_each(stage))?;
        self.entries.extend(copies.iter().map(|(dest, ..)| Entry {
            dest: dest.to_path_buf(),
            staged: true,
        }));
        Ok(())
    }

    /// Stages `bytes` for `dest`.
    pub fn write(&mut self, dest: &Path, bytes: &[u8]) -> Result<(), BuildError> {
        self.stage_dir()?;
        let staged = self.new_path(self.entries.len());
        fs::write(&staged, bytes).map_err(io_error(&self.root.join(dest)))?;
        sync(&staged)?;
        self.entries.push(Entry {
            dest: dest.to_path_buf(),
            staged: true,
        });
        Ok(())
    }

    /// Marks `dest` for removal.
    pub fn remove(&mut self, dest: &Path) {
        self.entries.push(Entry {
            dest: dest.to_path_buf(),
            staged: false,
        });
    }

    /// Applies every change, or none; returns the files written and removed.
    pub fn commit(self) -> Result<Applied, BuildError> {
        if self.entries.is_empty() {
            let _ = fs::remove_dir_all(self.stage());
            return Ok(Applied::default());
        }
        let journal = self.stage_dir()?.join(JOURNAL);
        let bytes = serde_json::to_vec(&self.entries).expect("the journal serialises");
        write_atomically(&journal, &bytes)?;
        let mut applied = Applied::default();
        for (index, entry) in self.entries.iter().enumerate() {
            if let Err(error) = self.apply(index, entry) {
                // Where a rollback fails too, the journal stays for the
                // next build to finish it.
                if rollback(&self.root, &self.entries) {
                    let _ = fs::remove_dir_all(self.stage());
                }
                return Err(error);
            }
            let dest = self.root.join(&entry.dest);
            match entry.staged {
                true => applied.written.push(dest),
                false => applied.removed.push(dest),
            }
        }
        // The journal goes first: once it is gone the change stands.
        fs::remove_file(&journal).map_err(io_error(&journal))?;
        let _ = fs::remove_dir_all(self.stage());
        Ok(applied)
    }

    fn apply(&self, index: usize, entry: &Entry) -> Result<(), BuildError> {
        let dest = self.root.join(&entry.dest);
        if let Ok(meta) = fs::symlink_metadata(&dest) {
            // Only a file is moved aside: a folder there is someone's,
            // and the stage is deleted at the end.
            if meta.is_dir() {
                return Err(BuildError::UnsafeOutput {
                    path: dest,
                    why: "a folder is where a file goes; bounce replaces only files it wrote"
                        .into(),
                });
            }
            fs::rename(&dest, self.old_path(index)).map_err(io_error(&dest))?;
        }
        if entry.staged {
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(io_error(&dest))?;
            }
            fs::rename(self.new_path(index), &dest).map_err(io_error(&dest))?;
        }
        Ok(())
    }
}

impl Drop for Transaction {
    /// An uncommitted transaction's staged files go; one whose journal is
    /// written is left for [`recover`].
    fn drop(&mut self) {
        let stage = self.stage();
        if !stage.join(JOURNAL).exists() {
            let _ = fs::remove_dir_all(stage);
        }
    }
}

/// A staged file reaches the disk before the journal names it.
fn sync(path: &Path) -> Result<(), BuildError> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_error(path))
}

/// What a committed transaction changed.
#[derive(Debug, Default)]
pub struct Applied {
    pub written: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
}

/// Puts back what a transaction moved: a destination whose new file was
/// renamed in is removed, and its previous file (if any) returns. False if
/// anything could not be put back.
fn rollback(root: &Path, entries: &[Entry]) -> bool {
    let mut whole = true;
    let stage = root.join(STAGE);
    for (index, entry) in entries.iter().enumerate().rev() {
        let dest = root.join(&entry.dest);
        let new = stage.join(format!("new-{index}"));
        let old = stage.join(format!("old-{index}"));
        if entry.staged && !new.exists() && fs::symlink_metadata(&dest).is_ok() {
            whole &= fs::remove_file(&dest).is_ok();
        }
        if fs::symlink_metadata(&old).is_ok() {
            whole &= fs::rename(&old, &dest).is_ok();
        }
    }
    whole
}

/// Rolls back what a killed build's transaction left, and clears its stage.
/// A journal naming a path outside the folder, or through a link, is
/// refused whole (anyone who can write the folder could have written it).
pub fn recover(root: &Path) -> Result<(), BuildError> {
    let stage = root.join(STAGE);
    let Ok(meta) = fs::symlink_metadata(&stage) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(BuildError::UnsafeOutput {
            path: stage,
            why: "bounce's staging folder is not a folder (a link, or a file); remove it".into(),
        });
    }
    if let Ok(bytes) = fs::read(stage.join(JOURNAL)) {
        if let Ok(entries) = serde_json::from_slice::<Vec<Entry>>(&bytes) {
            let rule = PathRule::bounds_only(root);
            for entry in &entries {
                if let Err(BuildError::UnsafeOutput { path, why }) = rule.writable(&entry.dest) {
                    return Err(BuildError::UnsafeOutput {
                        path: stage.join(JOURNAL),
                        why: format!(
                            "its entry {} is refused ({why}); the journal was not replayed: \
                             remove {} once you have looked at it",
                            path.display(),
                            stage.display()
                        ),
                    });
                }
            }
            if !rollback(root, &entries) {
                return Err(BuildError::UnsafeOutput {
                    path: root.to_path_buf(),
                    why: format!(
                        "an interrupted publish could not be rolled back; its files are in {}",
                        stage.display()
                    ),
                });
            }
        }
    }
    fs::remove_dir_all(&stage).map_err(io_error(&stage))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("1.0.0");
        fs::create_dir_all(root.join("wav")).unwrap();
        fs::write(root.join("wav/a.wav"), b"old a").unwrap();
        fs::write(root.join("manifest.json"), b"old manifest").unwrap();
        (dir, root)
    }

    #[test]
    fn a_failed_rename_puts_every_file_back() {
        let (_dir, root) = setup();
        let mut tx = Transaction::begin(&root).unwrap();
        tx.write(Path::new("wav/a.wav"), b"new a").unwrap();
        // A file where a folder must go: the second rename fails.
        fs::write(root.join("clash"), b"a file").unwrap();
        tx.write(Path::new("clash/b.wav"), b"new b").unwrap();
        tx.write(Path::new("manifest.json"), b"new manifest")
            .unwrap();
        assert!(tx.commit().is_err());
        assert_eq!(fs::read(root.join("wav/a.wav")).unwrap(), b"old a");
        assert_eq!(
            fs::read(root.join("manifest.json")).unwrap(),
            b"old manifest"
        );
        assert!(!root.join(STAGE).exists());
    }

    #[test]
    fn a_journal_left_by_a_killed_build_is_rolled_back() {
        let (_dir, root) = setup();
        let mut tx = Transaction::begin(&root).unwrap();
        tx.write(Path::new("wav/a.wav"), b"new a").unwrap();
        tx.write(Path::new("wav/new.wav"), b"new file").unwrap();
        tx.remove(Path::new("manifest.json"));
        let journal = root.join(STAGE).join(JOURNAL);
        write_atomically(&journal, &serde_json::to_vec(&tx.entries).unwrap()).unwrap();
        // Killed after two of three changes.
        tx.apply(0, &tx.entries[0]).unwrap();
        tx.apply(1, &tx.entries[1]).unwrap();
        drop(tx);
        recover(&root).unwrap();
        assert_eq!(fs::read(root.join("wav/a.wav")).unwrap(), b"old a");
        assert!(!root.join("wav/new.wav").exists());
        assert_eq!(
            fs::read(root.join("manifest.json")).unwrap(),
            b"old manifest"
        );
        assert!(!root.join(STAGE).exists());
    }

    #[test]
    fn a_commit_applies_writes_and_removals() {
        let (_dir, root) = setup();
        let mut tx = Transaction::begin(&root).unwrap();
        tx.write(Path::new("flac/b.flac"), b"b").unwrap();
        tx.remove(Path::new("wav/a.wav"));
        let applied = tx.commit().unwrap();
        assert_eq!(applied.written, vec![root.join("flac/b.flac")]);
        assert_eq!(applied.removed, vec![root.join("wav/a.wav")]);
        assert!(!root.join("wav/a.wav").exists());
        assert!(!root.join(STAGE).exists());
    }
}
