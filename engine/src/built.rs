//! What a build did: the counts, the files it made and wrote, and what
//! the shared cache did; read by publishing, `release`, `diff` and the
//! command line.

use std::path::PathBuf;

use bounce_cache::Hash;

use crate::render::OutputInfo;

/// What a build did.
#[derive(Debug, Default)]
pub struct BuildReport {
    pub built: usize,
    /// Of the steps built, the release report's measurements of files.
    pub inspected: usize,
    pub cached: usize,
    pub failed: usize,
    pub stale: usize,
    /// Files written in the version folder (new or changed).
    pub written: Vec<PathBuf>,
    /// Files an earlier build of this version wrote that the project no
    /// longer makes, removed.
    pub removed: Vec<PathBuf>,
    /// Files that were already there, byte for byte.
    pub unchanged: Vec<PathBuf>,
    pub version_dir: PathBuf,
    pub errors: Vec<String>,
    /// Blobs removed to keep the cache under its cap.
    pub evicted: bounce_cache::Evicted,
    /// Every deliverable file of the build, published or not.
    pub files: Vec<BuiltFile>,
    /// The codec previews the report asked for, as the build made them.
    pub previews: Vec<BuiltPreview>,
    /// What the remote cache did, when there is one.
    pub remote: Option<bounce_cache::RemoteReport>,
    /// The files of this version as its manifest listed them before this
    /// build published (what a changed file was).
    pub before: Vec<crate::publish::manifest::ManifestFile>,
}

/// A codec preview of a delivered lossless file, as the build made it.
#[derive(Debug, Clone)]
pub struct BuiltPreview {
    /// The lossless file previewed, relative to the version folder.
    pub path: String,
    pub format: crate::formats::FileFormat,
    /// The preview's comparison with the file, which holds the preview's
    /// inspection too (a blob of the cache).
    pub comparison: Hash,
}

/// A deliverable file as the build made it, in the cache.
#[derive(Debug, Clone)]
pub struct BuiltFile {
    /// Relative to the version folder.
    pub path: String,
    pub deliverable: String,
    /// What the file is held to.
    pub targets: crate::model::FileTargets,
    pub hash: Hash,
    pub info: OutputInfo,
    /// The release report's measurement of its audio (a blob of the
    /// cache), when the build made one.
    pub inspection: Option<Hash>,
    /// For a lossy file, the report's comparison with a lossless file
    /// (that file's path, and a blob of the cache), when the build made one.
    pub comparison: Option<(String, Hash)>,
}
