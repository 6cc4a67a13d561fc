//! Projects as they were at a git revision: the project's folder is
//! exported from git (the project files and every tracked stem), and files
//! git does not track (stems kept out of the repository) are taken from
//! the work tree. The revision renders into `OUTPUT/rev-DESCRIBE/`, with
//! the work tree's cache, so every unchanged step is a cache hit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::diagnostic::ProjectErrors;
use crate::model::{Project, Revision};
use crate::reader::load_project;

#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error("{0} is not in a git repository")]
    NotInGit(PathBuf),
    #[error("no revision \"{0}\" in this repository")]
    Unknown(String),
    #[error("cannot export revision {rev}: {reason}")]
    Export { rev: String, reason: String },
    #[error("{file} does not exist at revision {rev}")]
    NoProject { file: String, rev: String },
    #[error("the project at revision {rev} has errors: {errors}")]
    Project { rev: String, errors: ProjectErrors },
}

/// Runs git in `dir`; its trimmed output, if it succeeded.
pub(crate) fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `git describe --always --tags --dirty` of the work tree holding `dir`.
pub(crate) fn describe_work_tree(dir: &Path) -> Option<String> {
    git(dir, &["describe", "--always", "--tags", "--dirty"])
}

/// Exports `rel` (a folder of the repository at `top`) as of `commit`
/// into `into`.
fn export(top: &Path, commit: &str, rel: &Path, into: &Path) -> Result<(), String> {
    std::fs::create_dir_all(into).map_err(|e| e.to_string())?;
    let pathspec = if rel.as_os_str().is_empty() {
        ".".to_string()
    } else {
        rel.to_string_lossy().into_owned()
    };
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["archive", "--format=tar", commit, "--", &pathspec])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("git: {e}"))?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(into)
        .stdin(archive.stdout.take().expect("piped"))
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    let archived = archive.wait_with_output().map_err(|e| e.to_string())?;
    if !archived.status.success() || !tar.success() {
        return Err(String::from_utf8_lossy(&archived.stderr).trim().to_string());
    }
    Ok(())
}

/// Links every file of the work tree's project folder that the export
/// lacks (what git does not track) into the export. Hidden folders and
/// `out/` (caches, outputs) are skipped, and so is anything where the
/// export holds a symbolic link (one committed in the revision): bounce
/// writes through no link, into no folder outside the export.
fn fill_untracked(work: &Path, export: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(work)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        let (from, to) = (entry.path(), export.join(&name));
        let there = std::fs::symlink_metadata(&to).ok();
        if entry.file_type()?.is_dir() {
            if name_text.starts_with('.') || name_text == "out" {
                continue;
            }
            match there {
                Some(meta) if !meta.is_dir() => continue,
                Some(_) => {}
                None => std::fs::create_dir(&to)?,
            }
            fill_untracked(&from, &to)?;
        } else if there.is_none() && std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

/// Reads the project file `file` as it was at git revision `rev`, using
/// `scratch` for the export.
pub fn load_at_revision(file: &Path, rev: &str, scratch: &Path) -> Result<Project, RevisionError> {
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let work = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let top = git(&work, &["rev-parse", "--show-toplevel"])
        .map(PathBuf::from)
        .ok_or_else(|| RevisionError::NotInGit(work.clone()))?;
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let rel = canonical(&work)
        .strip_prefix(canonical(&top))
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let commit = git(
        &work,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .ok_or_else(|| RevisionError::Unknown(rev.to_string()))?;
    let describe =
        git(&work, &["describe", "--always", "--tags", &commit]).unwrap_or(commit.clone());
    let root = scratch.join(&commit);
    let failed = |reason: String| RevisionError::Export {
        rev: rev.to_string(),
        reason,
    };
    if !root.join(".complete").is_file() {
        let _ = std::fs::remove_dir_all(&root);
        export(&top, &commit, &rel, &root).map_err(failed)?;
        std::fs::write(root.join(".complete"), &commit).map_err(|e| failed(e.to_string()))?;
    }
    let exported = root.join(&rel);
    fill_untracked(&work, &exported).map_err(|e| failed(e.to_string()))?;
    let name = file.file_name().unwrap_or_default();
    let at_rev = exported.join(name);
    if !at_rev.is_file() {
        return Err(RevisionError::NoProject {
            file: name.to_string_lossy().into_owned(),
            rev: rev.to_string(),
        });
    }
    let mut project = load_project(&at_rev).map_err(|errors| RevisionError::Project {
        rev: rev.to_string(),
        errors,
    })?;
    // Outputs go to the work tree, in a folder of the revision's own.
    let output = &project.release.output;
    let in_work = output
        .strip_prefix(&exported)
        .map(|tail| work.join(tail))
        .unwrap_or_else(|_| output.clone());
    project.release.output = in_work.join(format!("rev-{describe}"));
    project.revision = Some(Revision { commit, describe });
    Ok(project)
}
