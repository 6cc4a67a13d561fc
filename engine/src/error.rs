use std::path::PathBuf;

use bounce_cache::CacheError;
use bounce_nodes::AudioError;

/// What can stop a build, beyond mistakes in the project file.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{step}: {source}")]
    Audio {
        step: String,
        #[source]
        source: AudioError,
    },
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Project(crate::ProjectErrors),
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown target \"{target}\"{hint}")]
    UnknownTarget { target: String, hint: String },
    #[error("cannot start {jobs} worker threads: {reason}")]
    Threads { jobs: usize, reason: String },
    #[error("{failed} of {total} steps failed")]
    StepsFailed { failed: usize, total: usize },
}
