//! The one rule for every path bounce writes or deletes in a version
//! folder (docs/commands.md, "What bounce writes and removes"):
//!
//! - it is relative to the folder and stays inside it (no root, no `..`);
//! - no folder on its way is a symbolic link (bounce writes through none);
//! - it is not a file the project reads (a source, the project file, an
//!   include, the cover, a reference);
//! - and, to be removed or replaced, it is a plain file whose bytes are
//!   the ones bounce recorded for it.
//!
//! Publishing, the journal's replay, `clean --outputs` and the report go
//! through [`PathRule`]; a manifest or journal entry that breaks it is
//! refused and named.

use std::fs;
use std::path::{Component, Path, PathBuf};

use bounce_cache::StatCache;

use crate::error::BuildError;
use crate::model::Project;

/// Why a relative path is not one bounce may use, if it is not.
pub(crate) fn outside_reason(relative: &Path) -> Option<&'static str> {
    if relative.as_os_str().is_empty() {
        return Some("it is empty");
    }
    for part in relative.components() {
        match part {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Some("it climbs out of the folder with `..`"),
            Component::RootDir | Component::Prefix(_) => return Some("it is an absolute path"),
        }
    }
    None
}

/// Whether a folder on `relative`'s way down from `root` (or `root`
/// itself) is a symbolic link.
pub(crate) fn has_linked_folder(root: &Path, relative: &Path) -> bool {
    let is_link = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    let mut path = root.to_path_buf();
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

/// `path` made absolute with its existing part's links resolved: the
/// deepest folder that exists, canonicalised, and the rest as written.
pub(crate) fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut tail = Vec::new();
    let mut head = absolute.as_path();
    loop {
        if let Ok(real) = fs::canonicalize(head) {
            return tail.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (head.parent(), head.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                head = parent;
            }
            _ => return absolute,
        }
    }
}

/// The rule for one folder bounce writes into.
pub(crate) struct PathRule {
    /// Where link checks start (the output folder, for a version).
    base: PathBuf,
    /// The folder written into, relative to `base`.
    within: PathBuf,
    root: PathBuf,
    /// Every file the project reads, resolved.
    protected: Vec<PathBuf>,
}

impl PathRule {
    /// The rule for the project's version folder, protecting what
    /// `project` reads; no link from the output folder down.
    pub fn for_version(project: &Project) -> Self {
        let output = &project.release.output;
        let protected = std::iter::once(project.file.clone())
            .chain(project.inputs())
            .map(|p| resolved(&p))
            .collect();
        PathRule {
            base: output.clone(),
            within: PathBuf::from(&project.release.version),
            root: output.join(&project.release.version),
            protected,
        }
    }

    /// A rule protecting nothing but the folder's bounds and its links
    /// (the journal's replay, which runs before a project is known).
    pub fn bounds_only(root: &Path) -> Self {
        PathRule {
            base: root.to_path_buf(),
            within: PathBuf::new(),
            root: root.to_path_buf(),
            protected: Vec::new(),
        }
    }

    fn refuse(&self, relative: &Path, why: impl Into<String>) -> BuildError {
        BuildError::UnsafeOutput {
            path: self.root.join(relative),
            why: why.into(),
        }
    }

    /// Where `relative` may be written (a new file, or one renamed in).
    pub fn writable(&self, relative: &Path) -> Result<PathBuf, BuildError> {
        if let Some(why) = outside_reason(relative) {
            return Err(self.refuse(
                relative,
                format!("{why}; bounce writes only inside the version folder"),
            ));
        }
        if has_linked_folder(&self.base, &self.within.join(relative)) {
            return Err(self.refuse(
                relative,
                "a folder on its way is a symbolic link; bounce writes through no link \
                 (point `output` at the real folder instead)",
            ));
        }
        let path = self.root.join(relative);
        let real = resolved(&path);
        if self.protected.contains(&real) {
            return Err(self.refuse(
                relative,
                "it is a file the project reads (a source, the project file or an include); \
                 bounce never writes over its own inputs",
            ));
        }
        Ok(path)
    }

    /// Whether the file at `relative` may be replaced or removed: a plain
    /// file (not a folder or a link) whose bytes hash to `recorded`.
    pub fn replaceable(
        &self,
        relative: &Path,
        recorded: Option<&str>,
        stat: &StatCache,
    ) -> Result<PathBuf, BuildError> {
        let path = self.writable(relative)?;
        let meta = fs::symlink_metadata(&path).map_err(|source| BuildError::Output {
            path: path.clone(),
            source,
        })?;
        if !meta.is_file() {
            let what = if meta.is_dir() {
                "a folder"
            } else {
                "not a plain file"
            };
            return Err(self.refuse(
                relative,
                format!(
                    "it is {what} that bounce did not write; bounce replaces only files it \
                     wrote (move it out of the version folder)"
                ),
            ));
        }
        let hash = stat.hash(&path).ok().map(|h| h.to_hex().to_string());
        if recorded.is_none() || hash.as_deref() != recorded {
            return Err(self.refuse(
                relative,
                "its bytes are not the ones bounce wrote there (a file of yours, or one you \
                 edited); bounce replaces only files it wrote (move it out of the version \
                 folder, or delete it)",
            ));
        }
        Ok(path)
    }
}

/// The first file the project reads that lies inside `folder`, if any:
/// sources and outputs never overlap.
/// A cache's exports of git revisions (`--rev`) are the one place inside
/// it a project may be read from.
pub(crate) fn input_inside(project: &Project, folder: &Path) -> Option<PathBuf> {
    let revisions = resolved(&bounce_cache::CacheLayout::new(folder).revisions());
    let folder = resolved(folder);
    std::iter::once(project.file.clone())
        .chain(project.inputs())
        .find(|input| {
            let input = resolved(input);
            input.starts_with(&folder) && !input.starts_with(&revisions)
        })
}

/// Whether two paths name one file (names differing only in letter case
/// on a case-insensitive file system, or hard links).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(a), fs::symlink_metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_folder_are_named() {
        assert_eq!(outside_reason(Path::new("wav/a.wav")), None);
        assert!(outside_reason(Path::new("../a.wav")).is_some());
        assert!(outside_reason(Path::new("wav/../../a.wav")).is_some());
        assert!(outside_reason(Path::new("/etc/passwd")).is_some());
        assert!(outside_reason(Path::new("")).is_some());
    }

    #[test]
    fn a_resolved_path_follows_links_in_the_part_that_exists() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        assert_eq!(
            resolved(&dir.path().join("link/not/yet.wav")),
            fs::canonicalize(&real).unwrap().join("not/yet.wav")
        );
    }

    #[test]
    fn hard_links_are_one_file_and_two_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("01 - one.wav");
        let b = dir.path().join("01 - One.wav");
        fs::write(&a, b"x").unwrap();
        fs::hard_link(&a, &b).unwrap();
        assert!(same_file(&a, &b));
        let c = dir.path().join("other.wav");
        fs::write(&c, b"x").unwrap();
        assert!(!same_file(&a, &c));
    }
}
