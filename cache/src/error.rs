use std::path::PathBuf;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a bounce cache: it has no bounce CACHEDIR.TAG, so bounce neither \
         writes its cache there nor removes it; name an empty folder or bounce's own"
    )]
    NotACache { path: PathBuf },
    #[error("cache entry {path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl CacheError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        CacheError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
