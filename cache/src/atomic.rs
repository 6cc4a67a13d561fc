//! Whole-or-nothing file writes: write beside the destination, then rename.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::CacheError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique temporary name in `dir`.
pub(crate) fn temp_name(dir: &Path, stem: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{stem}.{}.{n}.tmp", std::process::id()))
}

/// Whether a file name is one of [`temp_name`]'s: `.STEM.PID.N.tmp`.
pub(crate) fn is_temp_name(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let mut parts = inner.rsplitn(3, '.');
    let numeric =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_some()
}

/// How deep the sweep looks under a folder: a version folder is a few
/// levels deep; a deeper tree is the user's.
const SWEEP_DEPTH: usize = 16;

/// The process id in one of [`temp_name`]'s names.
fn temp_pid(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    inner.rsplit('.').nth(1)?.parse().ok()
}

/// Whether process `pid` is running (on a system without `/proc`, every
/// other process counts as ended: the caller's lock is then the only
/// guard).
fn is_running(pid: u32) -> bool {
    pid == std::process::id()
        || (Path::new("/proc/self").exists() && Path::new("/proc").join(pid.to_string()).exists())
}

/// Removes temporary files a killed process left in `dir` (and, if
/// `deep`, its sub-folders): only bounce's own temporary names, never
/// through a symbolic link, at most [`SWEEP_DEPTH`] folders down, and
/// never a file of a process still running (another build writing its
/// report, say). Call while holding the lock that guards `dir`.
pub fn remove_stale_temps(dir: &Path, deep: bool) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    sweep(dir, if deep { SWEEP_DEPTH } else { 0 }, &mut removed);
    removed
}

fn sweep(dir: &Path, depth: usize, removed: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        // The entry's own type: a link is not followed.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        if kind.is_dir() {
            if depth > 0 {
                sweep(&path, depth - 1, removed);
            }
        } else if kind.is_file()
            && is_temp_name(&name)
            && temp_pid(&name).is_some_and(|pid| !is_running(pid))
            && fs::remove_file(&path).is_ok()
        {
            removed.push(path);
        }
    }
}

/// A file being written beside its destination; `commit` renames it into
/// place, dropping it uncommitted removes it.
pub struct AtomicFile {
    temp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl AtomicFile {
    pub fn new(dest: &Path) -> Result<Self, CacheError> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| CacheError::io(dir, e))?;
        let stem = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(AtomicFile {
            temp: temp_name(dir, &stem),
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write the content.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Syncs the written file and renames it over the destination.
    pub fn commit(mut self) -> Result<(), CacheError> {
        let file = File::open(&self.temp).map_err(|e| CacheError::io(&self.temp, e))?;
        file.sync_all().map_err(|e| CacheError::io(&self.temp, e))?;
        fs::rename(&self.temp, &self.dest).map_err(|e| CacheError::io(&self.dest, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `dest` whole or not at all.
pub fn write_atomically(dest: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let file = AtomicFile::new(dest)?;
    let mut out = File::create(file.path()).map_err(|e| CacheError::io(file.path(), e))?;
    out.write_all(bytes)
        .map_err(|e| CacheError::io(file.path(), e))?;
    drop(out);
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_writes_leave_nothing() {
        let dir = std::env::temp_dir().join(format!("bounce-atomic-{}", std::process::id()));
        let dest = dir.join("out.bin");
        {
            let file = AtomicFile::new(&dest).unwrap();
            fs::write(file.path(), b"half").unwrap();
        }
        assert!(!dest.exists());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        write_atomically(&dest, b"whole").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"whole");
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod temp_tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised_and_nothing_else() {
        let name = temp_name(Path::new("/x"), "01 - One.wav");
        assert!(is_temp_name(&name.file_name().unwrap().to_string_lossy()));
        assert!(!is_temp_name("01 - One.wav"));
        assert!(!is_temp_name(".hidden.tmp"));
        assert!(!is_temp_name(".a.b.tmp"));
    }

    #[test]
    fn the_sweep_leaves_live_processes_links_and_deep_trees_alone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("version");
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&elsewhere).unwrap();
        // PIDs never run past 2^22 on Linux: this one has ended.
        let dead = root.join(".a.wav.4999999.1.tmp");
        let live = temp_name(&root, "index.html");
        let behind_link = elsewhere.join(".b.wav.4999999.2.tmp");
        fs::write(&dead, b"x").unwrap();
        fs::write(&live, b"x").unwrap();
        fs::write(&behind_link, b"x").unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("notes")).unwrap();
        // Two links to the folder itself once made the walk exponential.
        std::os::unix::fs::symlink(".", root.join("x")).unwrap();
        std::os::unix::fs::symlink(".", root.join("y")).unwrap();
        let mut deep = root.clone();
        for _ in 0..SWEEP_DEPTH + 2 {
            deep.push("d");
        }
        fs::create_dir_all(&deep).unwrap();
        let too_deep = deep.join(".c.wav.4999999.3.tmp");
        fs::write(&too_deep, b"x").unwrap();
        assert_eq!(remove_stale_temps(&root, true), vec![dead.clone()]);
        assert!(live.exists() && behind_link.exists() && too_deep.exists());
    }
}
