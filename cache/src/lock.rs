//! Advisory locks between bounce processes: one build at a time writes a
//! cache or an output folder; another waits its turn.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::CacheError;

/// An exclusive lock, held until dropped (or the process ends, however it
/// ends: the operating system releases it).
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `path` (created if needed), calling `waiting` first if another
    /// process holds it.
    pub fn acquire(path: &Path, waiting: impl FnOnce()) -> Result<Self, CacheError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| CacheError::io(dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| CacheError::io(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                waiting();
                file.lock().map_err(|e| CacheError::io(path, e))?;
            }
            Err(TryLockError::Error(e)) => return Err(CacheError::io(path, e)),
        }
        Ok(DirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = DirLock::acquire(&path, || panic!("nobody holds it")).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || {
                let _second = DirLock::acquire(&path, || sender.send("waiting").unwrap()).unwrap();
            }
        });
        assert_eq!(receiver.recv().unwrap(), "waiting");
        drop(first);
        waiter.join().unwrap();
    }
}
