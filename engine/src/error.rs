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
    Remote(#[from] bounce_cache::RemoteError),
    #[error(transparent)]
    Project(crate::diagnostic::ProjectErrors),
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{step}: cannot reach {target} LUFS under a {ceiling} dBTP ceiling: the loudest this mix gets under it is about {reached:.1} LUFS; lower the target, raise the ceiling, or tame the mix's peaks before the limiter"
    )]
    TargetMissed {
        step: String,
        target: f64,
        ceiling: f64,
        reached: f64,
        gain: f64,
    },
    #[error("{step}: the delivered file's true peak is {true_peak:.2} dBTP, over the {ceiling} dBTP ceiling, after {attempts} corrections")]
    CeilingMissed {
        step: String,
        true_peak: f64,
        ceiling: f64,
        attempts: usize,
    },
    #[error(
        "{step}: out of {standard}: the file reads {loudness:.1} LUFS and {true_peak:.1} dBTP; {standard} asks {target} LUFS ±{tolerance} LU and at most {max_true_peak} dBTP"
    )]
    OutOfSpec {
        step: String,
        standard: String,
        loudness: f64,
        true_peak: f64,
        target: f64,
        tolerance: f64,
        max_true_peak: f64,
    },
    #[error("{step}: not a Red Book CD: {problem}")]
    RedBook { step: String, problem: String },
    #[error("version {version} is released and this build would change {files}{because}; set a new `version` in the release to make another")]
    ReleasedChanged {
        version: String,
        files: String,
        /// What in the project changed them, when known before rendering.
        because: String,
    },
    #[error("version {version} is released but {why}")]
    ReleaseBroken { version: String, why: String },
    #[error("cannot release version {version}: {why}")]
    NotReleasable { version: String, why: String },
    #[error("cannot write the release report: {why}")]
    NoReport { why: String },
    #[error("the cached file for {path} was damaged and has been removed; build again to render it anew")]
    DamagedBlob { path: PathBuf },
    #[error("{step}: rendering it again gave other audio than its cache entry records (an entry from a shared cache, or a damaged one); the entry is dropped: build again")]
    NotReproducible { step: String },
    #[error(
        "{step}: needs about {} MB in {dir} and {} MB are free; free some space or point --cache-dir elsewhere",
        needed / 1_000_000,
        free / 1_000_000
    )]
    NoSpace {
        step: String,
        needed: u64,
        free: u64,
        dir: PathBuf,
    },
    #[error("step {step} stopped on an internal error ({what}); nothing was written for it")]
    Panicked { step: String, what: String },
    #[error("refusing {path}: {why}")]
    UnsafeOutput { path: PathBuf, why: String },
    #[error("unknown target \"{target}\"{hint}")]
    UnknownTarget { target: String, hint: String },
    #[error("cannot start {jobs} worker threads: {reason}")]
    Threads { jobs: usize, reason: String },
}
