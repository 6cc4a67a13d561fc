//! The version folder's own files: `manifest.json`, which says what the
//! folder holds and how each file was made, and the names bounce keeps
//! beside the deliverables (the release lock, the publishing lock).

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The lock file in a released version folder.
pub const RELEASE_LOCK: &str = "release.lock";

/// `manifest.json`: what a version folder holds and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    pub tool_version: String,
    pub release: String,
    pub version: String,
    pub git: Option<GitState>,
    /// Whether the last build that changed this version built only some
    /// of it (a target, `watch` on a target): its files may come from
    /// more than one state of the project until a complete build.
    #[serde(default)]
    pub partial: bool,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitState {
    pub commit: String,
    /// `git describe --always --tags`.
    #[serde(default)]
    pub describe: String,
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub deliverable: String,
    /// `None` for a file of the whole release.
    pub track: Option<u32>,
    pub blake3: String,
    pub duration: f64,
    pub sample_rate: u32,
    pub bits: Option<u16>,
    pub float: bool,
    /// A lossy codec's settings: `LAME 3.100 -b 320 -q 3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    pub integrated_loudness: Option<f64>,
    pub loudness_range: Option<f64>,
    pub true_peak: Option<f64>,
    pub sample_peak: Option<f64>,
    pub isrc: Option<String>,
    /// Routine corrections made to reach the file's targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The manifest's name in a version folder.
pub const MANIFEST: &str = "manifest.json";

/// The release report's folder inside a version folder.
pub const REPORT_DIR: &str = "report";
/// The lock file a publishing build holds in the output folder.
pub const OUTPUT_LOCK: &str = ".lock";

pub fn read_manifest(path: &Path) -> Option<Manifest> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}
