//! Writing deliverables into the version folder, and the manifest last.
//!
//! Each file is copied from the cache beside its destination and renamed
//! into place, so it appears whole or not at all. A file whose bytes are
//! already there is left alone (its modification time too), so sync and
//! backup tools see no churn.

use std::fs;
use std::path::{Path, PathBuf};

use bounce_cache::{write_atomically, AtomicFile, Cache, StatCache};
use serde::{Deserialize, Serialize};

use crate::build::{project_dir, BuildReport};
use crate::plan::PlannedOutput;
use crate::render::{Measured, StepOutput};
use crate::revision::git;
use crate::{BuildError, Project};

/// `manifest.json`: what a version folder holds and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    pub tool_version: String,
    pub release: String,
    pub version: String,
    pub git: Option<GitState>,
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
    pub integrated_loudness: Option<f64>,
    pub loudness_range: Option<f64>,
    pub true_peak: Option<f64>,
    pub sample_peak: Option<f64>,
    pub isrc: Option<String>,
}

fn output_error(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Output {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies each output into the version folder if it changed, then writes
/// the manifest if it changed.
pub(crate) fn publish(
    project: &Project,
    cache: &Cache,
    stat: &StatCache,
    outputs: &[(&PlannedOutput, &StepOutput)],
    report: &mut BuildReport,
) -> Result<(), BuildError> {
    let root = report.version_dir.clone();
    let released = crate::release::check_unchanged(project, &root, outputs, stat)?;
    let mut files = Vec::new();
    for (planned, output) in outputs {
        let dest = root.join(&planned.path);
        let same = dest.is_file() && stat.hash(&dest).ok() == Some(output.hash);
        if same {
            report.unchanged.push(dest.clone());
        } else {
            let file = AtomicFile::new(&dest)?;
            let blob = cache.blob_path(&output.hash);
            fs::copy(&blob, file.path()).map_err(output_error(&dest))?;
            // A damaged blob is never delivered: it goes, and the next
            // build renders the step again.
            if bounce_cache::hash_file(file.path())? != output.hash {
                let _ = fs::remove_file(&blob);
                return Err(BuildError::DamagedBlob { path: dest });
            }
            file.commit()?;
            stat.record(&dest, output.hash)?;
            report.written.push(dest.clone());
        }
        let measured = output.info.measured.unwrap_or(Measured {
            integrated: None,
            range: None,
            true_peak: None,
            sample_peak: None,
            max_momentary: None,
            max_short_term: None,
        });
        files.push(ManifestFile {
            path: planned.path.to_string_lossy().replace('\\', "/"),
            deliverable: planned.deliverable.clone(),
            track: planned.track,
            blake3: output.hash.to_hex(),
            duration: (output.info.seconds() * 1e6).round() / 1e6,
            sample_rate: output.info.sample_rate,
            bits: output.info.bits,
            float: output.info.float,
            integrated_loudness: measured.integrated,
            loudness_range: measured.range,
            true_peak: measured.true_peak,
            sample_peak: measured.sample_peak,
            isrc: planned.isrc.clone(),
        });
    }
    let manifest_path = root.join("manifest.json");
    if released {
        // A released manifest is frozen: the files it lists were checked.
        return Ok(());
    }
    // A partial build (some targets) keeps the entries of files it did not
    // touch, as long as those files are still there unchanged.
    if let Some(previous) = read_manifest(&manifest_path) {
        let built: std::collections::BTreeSet<String> =
            files.iter().map(|f| f.path.clone()).collect();
        for file in previous.files {
            let path = root.join(&file.path);
            let intact = stat.hash(&path).ok().map(|h| h.to_hex()) == Some(file.blake3.clone());
            if !built.contains(&file.path) && intact {
                files.push(file);
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        tool: "bounce".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        release: project.release.title.clone(),
        version: project.release.version.clone(),
        git: git_state(project),
        files,
    };
    let mut bytes = serde_json::to_vec_pretty(&manifest).expect("the manifest serialises");
    bytes.push(b'\n');
    if fs::read(&manifest_path).ok().as_deref() != Some(&bytes[..]) {
        write_atomically(&manifest_path, &bytes)?;
        report.written.push(manifest_path);
    }
    Ok(())
}

pub fn read_manifest(path: &Path) -> Option<Manifest> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// The revision the project was read from, or the commit checked out in
/// its work tree (if it is in a repository) and whether it is dirty.
fn git_state(project: &Project) -> Option<GitState> {
    if let Some(revision) = &project.revision {
        return Some(GitState {
            commit: revision.commit.clone(),
            describe: revision.describe.clone(),
            dirty: false,
        });
    }
    let dir = project_dir(project);
    let commit = git(&dir, &["rev-parse", "HEAD"])?;
    // Outputs and the cache live in the work tree too; only tracked files
    // and new project files make it dirty, not what bounce itself writes.
    let status = git(&dir, &["status", "--porcelain", "--untracked-files=no"])?;
    Some(GitState {
        describe: git(&dir, &["describe", "--always", "--tags"]).unwrap_or(commit.clone()),
        commit,
        dirty: !status.is_empty(),
    })
}

/// Folders of a project's versions, for `bounce clean`.
pub fn output_root(project: &Project) -> PathBuf {
    project.release.output.clone()
}

/// Removes cached and temporary state; returns what was removed.
pub fn clean(
    project: &Project,
    cache_root: &Path,
    outputs_too: bool,
) -> Result<Vec<PathBuf>, BuildError> {
    let mut removed = Vec::new();
    let mut remove = |path: &Path| -> Result<(), BuildError> {
        if path.is_dir() {
            fs::remove_dir_all(path).map_err(output_error(path))?;
            removed.push(path.to_path_buf());
        } else if path.exists() {
            fs::remove_file(path).map_err(output_error(path))?;
            removed.push(path.to_path_buf());
        }
        Ok(())
    };
    remove(cache_root)?;
    if outputs_too {
        // Released versions stay; everything else in the output root goes.
        let root = output_root(project);
        for entry in fs::read_dir(&root).into_iter().flatten().flatten() {
            let path = entry.path();
            if !crate::release::is_released(&path) {
                remove(&path)?;
            }
        }
    }
    Ok(removed)
}
