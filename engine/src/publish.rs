//! Writing deliverables into the version folder, and the manifest last.
//!
//! A version is published all or nothing (see [`Transaction`]). A file
//! whose bytes are already there is left alone (its modification time
//! too), so sync and backup tools see no churn.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use bounce_cache::{Cache, StatCache};

use crate::manifest::{read_manifest, GitState, Manifest, ManifestFile, MANIFEST};
use crate::outcome::BuildReport;
use crate::plan::PlannedOutput;
use crate::render::{Measured, StepOutput};
use crate::revision::git;
use crate::transaction::Transaction;
use crate::{BuildError, Project};

/// Whether a folder on `relative`'s way down from `root` (or `root`
/// itself) is a symbolic link: bounce writes through no link.
pub(crate) fn has_linked_folder(root: &Path, relative: &Path) -> bool {
    let mut path = root.to_path_buf();
    let is_link = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    if is_link(&path) {
        return true;
    }
    let mut parts = relative.components().peekable();
    while let Some(part) = parts.next() {
        path.push(part);
        if parts.peek().is_some() && is_link(&path) {
            return true;
        }
    }
    false
}

/// Refuses an output tree that leads through a symbolic link.
pub(crate) fn refuse_links(
    project: &Project,
    root: &Path,
    relative: &Path,
) -> Result<(), BuildError> {
    let output = &project.release.output;
    let version = root.strip_prefix(output).unwrap_or(root);
    if has_linked_folder(output, &version.join(relative)) {
        return Err(BuildError::UnsafeOutput {
            path: root.join(relative),
            why: "a folder on its way is a symbolic link; bounce writes through no link \
                  (point `output` at the real folder instead)"
                .into(),
        });
    }
    Ok(())
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
    refuse_links(project, &root, Path::new(MANIFEST))?;
    let mut transaction = Transaction::begin(&root)?;
    let released = crate::release::check_unchanged(project, &root, outputs, stat)?;
    let mut files = Vec::new();
    let mut changed = Vec::new();
    let mut copies = Vec::new();
    for (planned, output) in outputs {
        refuse_links(project, &root, &planned.path)?;
        let dest = root.join(&planned.path);
        let is_file = fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file());
        if is_file && stat.hash(&dest).ok() == Some(output.hash) {
            report.unchanged.push(dest.clone());
        } else {
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
        let manifest_path = root.join(MANIFEST);
        let previous = read_manifest(&manifest_path);
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
            let path = root.join(&file.path);
            let intact = stat.hash(&path).ok().map(|h| h.to_hex()) == Some(file.blake3.clone());
            if !intact || has_linked_folder(&root, Path::new(&file.path)) {
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
