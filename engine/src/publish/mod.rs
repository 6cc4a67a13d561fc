//! Writing deliverables into the version folder, and the manifest last.
//!
//! A version is published all or nothing (see [`Transaction`]). A file
//! whose bytes are already there is left alone (its modification time
//! too), so sync and backup tools see no churn.

pub(crate) mod clean;
pub(crate) mod manifest;
pub(crate) mod release_lock;
pub(crate) mod transaction;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use bounce_cache::{Cache, StatCache};

use crate::built::BuildReport;
use crate::error::BuildError;
use crate::model::Project;
use crate::path_rule::{same_file, PathRule};
use crate::plan::PlannedOutput;
use crate::publish::manifest::{read_manifest, GitState, Manifest, ManifestFile, MANIFEST};
use crate::render::{Measured, StepOutput};
use crate::revision::git;
use transaction::Transaction;

/// Refuses an output tree that leads through a symbolic link, or a path
/// the project reads (see [`PathRule`]).
pub(crate) fn refuse_links(project: &Project, relative: &Path) -> Result<(), BuildError> {
    PathRule::for_version(project)
        .writable(relative)
        .map(|_| ())
}

/// Publishes the outputs all or nothing: stages each changed file, then
/// renames them into place with the manifest last (see [`Transaction`]).
/// A complete build (every target) also removes the files an earlier
/// build of this version wrote that the project no longer makes.
pub(crate) fn publish(
    project: &Project,
    cache: &Cache,
    stat: &StatCache,
    outputs: &[(&PlannedOutput, &StepOutput)],
    complete: bool,
    jobs: usize,
    report: &mut BuildReport,
) -> Result<(), BuildError> {
    let root = report.version_dir.clone();
    let rule = PathRule::for_version(project);
    rule.writable(Path::new(MANIFEST))?;
    let mut transaction = Transaction::begin(&root)?;
    let released = crate::publish::release_lock::check_unchanged(project, &root, outputs, stat)?;
    let manifest_path = root.join(MANIFEST);
    let previous = read_manifest(&manifest_path);
    // What bounce recorded at each path: the only bytes it may replace.
    let recorded: BTreeMap<&str, &str> = previous
        .iter()
        .flat_map(|m| &m.files)
        .map(|f| (f.path.as_str(), f.blake3.as_str()))
        .collect();
    let mut files = Vec::new();
    let mut changed = Vec::new();
    let mut copies = Vec::new();
    for (planned, output) in outputs {
        let dest = rule.writable(&planned.path)?;
        let there = fs::symlink_metadata(&dest).ok();
        let is_file = there.as_ref().is_some_and(|m| m.is_file());
        if is_file && stat.hash(&dest).ok() == Some(output.hash) {
            report.unchanged.push(dest.clone());
        } else {
            if there.is_some() {
                let portable = crate::template::portable(&planned.path);
                // Under another letter case, on a case-insensitive file
                // system, the recorded name is the same file.
                let hash = recorded.get(portable.as_str()).copied().or_else(|| {
                    recorded
                        .iter()
                        .find(|(path, _)| same_file(&root.join(path), &dest))
                        .map(|(_, hash)| *hash)
                });
                rule.replaceable(&planned.path, hash, stat)?;
            }
            copies.push((
                planned.path.as_path(),
                cache.blob_path(&output.hash),
                output.hash,
            ));
            changed.push((dest, output.hash));
        }
        files.push(manifest_file(planned, output));
    }
    transaction.copy_all(&copies, jobs)?;
    if !released {
        report.before = previous
            .as_ref()
            .map(|m| m.files.clone())
            .unwrap_or_default();
        let partial =
            !complete && (!changed.is_empty() || previous.as_ref().is_some_and(|m| m.partial));
        let built: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
        for file in previous.into_iter().flat_map(|m| m.files) {
            if built.contains(&file.path) {
                continue;
            }
            // A file the user replaced or edited, or one reached through
            // a link or outside the folder, is not bounce's to remove.
            let Ok(path) = rule.replaceable(Path::new(&file.path), Some(&file.blake3), stat) else {
                continue;
            };
            // The same file as one written now (a rename of letter case
            // only, on a case-insensitive file system) stays.
            if changed.iter().any(|(dest, _)| same_file(dest, &path)) {
                continue;
            }
            if complete {
                // Written by an earlier build of this version, made no more.
                transaction.remove(Path::new(&file.path));
            } else {
                // A partial build keeps the entries of files it did not touch.
                files.push(file);
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let manifest = Manifest {
            tool: "bounce".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            release: project.release.title.clone(),
            version: project.release.version.clone(),
            git: git_state(project),
            partial,
            files,
        };
        let mut bytes = serde_json::to_vec_pretty(&manifest).expect("the manifest serialises");
        bytes.push(b'\n');
        if fs::read(&manifest_path).ok().as_deref() != Some(&bytes[..]) {
            transaction.write(Path::new(MANIFEST), &bytes)?;
        }
    }
    let applied = transaction.commit()?;
    for (dest, hash) in changed {
        stat.record(&dest, hash)?;
    }
    report.written.extend(applied.written);
    report.removed.extend(applied.removed);
    Ok(())
}

fn manifest_file(planned: &PlannedOutput, output: &StepOutput) -> ManifestFile {
    let measured = output.info.measured.unwrap_or(Measured {
        integrated: None,
        range: None,
        true_peak: None,
        sample_peak: None,
        max_momentary: None,
        max_short_term: None,
    });
    ManifestFile {
        path: crate::template::portable(&planned.path),
        deliverable: planned.deliverable.clone(),
        track: planned.track,
        blake3: output.hash.to_hex(),
        duration: (output.info.seconds() * 1e6).round() / 1e6,
        sample_rate: output.info.sample_rate,
        bits: output.info.bits,
        float: output.info.float,
        codec: planned.codec.clone(),
        integrated_loudness: measured.integrated,
        loudness_range: measured.range,
        true_peak: measured.true_peak,
        sample_peak: measured.sample_peak,
        isrc: planned.isrc.clone(),
        notes: output.info.notes.clone(),
    }
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
    let dir = project.dir();
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
