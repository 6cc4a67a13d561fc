//! Released versions: `bounce release` locks `OUTPUT/VERSION/` by writing
//! the hash of its manifest into `release.lock`. A later build that would
//! change any byte of a released version stops before writing anything;
//! an identical rebuild passes.

use std::fs;
use std::path::Path;

use bounce_cache::{write_atomically, Hash, StatCache};
use serde::{Deserialize, Serialize};

use crate::built::BuiltFile;
use crate::error::BuildError;
use crate::model::Project;
use crate::plan::PlannedOutput;
use crate::publish::manifest::read_manifest;
use crate::publish::manifest::RELEASE_LOCK;
use crate::render::StepOutput;

#[derive(Debug, Serialize, Deserialize)]
struct ReleaseLock {
    version: String,
    /// BLAKE3 of `manifest.json` as released.
    manifest_blake3: String,
}

/// What `bounce release` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Released {
    /// Locked now; `dirty_at` is the commit (`git describe`) of a build
    /// made from a work tree with uncommitted changes, which no commit
    /// reproduces.
    Now {
        files: usize,
        dirty_at: Option<String>,
    },
    Already,
}

/// Locks the project's current version. `current` is every file the
/// project makes now, as a dry run of a complete build found them all in
/// the cache: the version folder must hold exactly those bytes, so a
/// folder built in part, or from an older state of the project, is never
/// locked.
pub fn release(project: &Project, current: &[BuiltFile]) -> Result<Released, BuildError> {
    let version = &project.release.version;
    let dir = project.release.output.join(version);
    let lock_path = dir.join(RELEASE_LOCK);
    if lock_path.exists() {
        return Ok(Released::Already);
    }
    let manifest_path = dir.join(crate::publish::manifest::MANIFEST);
    let not_ready = |why: String| BuildError::NotReleasable {
        version: version.clone(),
        why,
    };
    let manifest = read_manifest(&manifest_path)
        .ok_or_else(|| not_ready(format!("{} has no manifest: build it first", dir.display())))?;
    let listed: std::collections::BTreeMap<&str, &str> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.blake3.as_str()))
        .collect();
    let stale: Vec<&str> = current
        .iter()
        .filter(|f| listed.get(f.path.as_str()) != Some(&f.hash.to_hex().as_str()))
        .map(|f| f.path.as_str())
        .collect();
    if !stale.is_empty() {
        return Err(not_ready(format!(
            "{} {} not what the project makes now: build it first (`bounce build`, every deliverable)",
            stale.join(", "),
            if stale.len() == 1 { "is" } else { "are" }
        )));
    }
    if manifest.partial || listed.len() != current.len() {
        return Err(not_ready(
            "the version was last built in part: build it first (`bounce build`, every deliverable)"
                .into(),
        ));
    }
    for file in &manifest.files {
        let path = dir.join(&file.path);
        let hash = bounce_cache::hash_file(&path).ok().map(|h| h.to_hex());
        if hash.as_deref() != Some(file.blake3.as_str()) {
            return Err(not_ready(format!(
                "{} is missing or differs from the manifest: build it again",
                path.display()
            )));
        }
    }
    let lock = ReleaseLock {
        version: version.clone(),
        manifest_blake3: bounce_cache::hash_file(&manifest_path)?.to_hex(),
    };
    let mut bytes = serde_json::to_vec_pretty(&lock).expect("the lock serialises");
    bytes.push(b'\n');
    write_atomically(&lock_path, &bytes)?;
    Ok(Released::Now {
        files: manifest.files.len(),
        dirty_at: manifest
            .git
            .as_ref()
            .filter(|g| g.dirty)
            .map(|g| g.describe.clone()),
    })
}

/// Whether a version folder is released.
pub fn is_released(version_dir: &Path) -> bool {
    version_dir.join(RELEASE_LOCK).is_file()
}

/// Refuses a build that would change a released version: a file whose
/// bytes differ from the released manifest's, or a file it does not list.
/// Returns whether the version is released (its manifest is then frozen).
pub(crate) fn check_unchanged(
    project: &Project,
    version_dir: &Path,
    outputs: &[(&PlannedOutput, &StepOutput)],
    stat: &StatCache,
) -> Result<bool, BuildError> {
    let lock_path = version_dir.join(RELEASE_LOCK);
    let Ok(bytes) = fs::read(&lock_path) else {
        return Ok(false);
    };
    let version = project.release.version.clone();
    let lock: Option<ReleaseLock> = serde_json::from_slice(&bytes).ok();
    let manifest_path = version_dir.join(crate::publish::manifest::MANIFEST);
    let manifest_hash = stat.hash(&manifest_path).ok().map(|h: Hash| h.to_hex());
    let manifest = read_manifest(&manifest_path);
    let (Some(lock), Some(manifest)) = (lock, manifest) else {
        return Err(BuildError::ReleaseBroken {
            version,
            why: "its lock or manifest is unreadable".into(),
        });
    };
    if manifest_hash.as_deref() != Some(lock.manifest_blake3.as_str()) {
        return Err(BuildError::ReleaseBroken {
            version,
            why: "manifest.json no longer matches release.lock".into(),
        });
    }
    let changed: Vec<String> = outputs
        .iter()
        .filter_map(|(planned, output)| {
            let path = crate::template::portable(&planned.path);
            let released = manifest.files.iter().find(|f| f.path == path);
            (released.map(|f| f.blake3.as_str()) != Some(output.hash.to_hex().as_str()))
                .then_some(path)
        })
        .collect();
    if changed.is_empty() {
        Ok(true)
    } else {
        Err(BuildError::ReleasedChanged {
            version,
            files: changed.join(", "),
            because: String::new(),
        })
    }
}
