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
