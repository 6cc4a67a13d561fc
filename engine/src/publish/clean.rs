//! `bounce clean`: removes the cache and, if asked, the rendered versions,
//! touching only what bounce wrote. A folder without bounce's cache marker
//! is never removed; a version folder goes only as far as its manifest
//! (written by bounce) lists files, and never when it is released.

use std::fs;
use std::path::{Path, PathBuf};

use bounce_cache::CacheLayout;

use crate::error::BuildError;
use crate::model::Project;
use crate::path_rule::{outside_reason, PathRule};
use crate::publish::manifest::{read_manifest, MANIFEST};
use crate::publish::release_lock::is_released;

/// What `clean` removed, and what it left, each with the reason.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub removed: Vec<PathBuf>,
    pub kept: Vec<(PathBuf, String)>,
}

const NOT_WRITTEN: &str = "bounce did not write it";

/// Removes the cache and, if `outputs_too`, every unreleased version bounce
/// wrote under the project's output folder.
pub fn clean(
    project: &Project,
    cache_root: &Path,
    outputs_too: bool,
) -> Result<Cleaned, BuildError> {
    let mut cleaned = Cleaned::default();
    if outputs_too {
        // Checked first, so a refused output folder leaves the cache too.
        refuse_unsafe_output_root(project)?;
    }
    let removal = CacheLayout::new(cache_root).remove()?;
    cleaned.removed.extend(removal.removed);
    cleaned.kept.extend(
        removal
            .kept
            .into_iter()
            .map(|p| (p, NOT_WRITTEN.to_string())),
    );
    if outputs_too {
        let root = &project.release.output;
        for entry in fs::read_dir(root).into_iter().flatten().flatten() {
            let path = entry.path();
            let is_folder = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_folder && is_released(&path) {
                cleaned.kept.push((path, "a released version".into()));
            } else if is_folder {
                clean_version(&path, &mut cleaned)?;
            } else if entry.file_name() == crate::publish::manifest::OUTPUT_LOCK {
                remove_file(&path, &mut cleaned)?;
            }
        }
    }
    Ok(cleaned)
}

/// An output folder `clean` may walk: a real folder (not a link to one)
/// that holds neither the project file nor any of its sources.
fn refuse_unsafe_output_root(project: &Project) -> Result<(), BuildError> {
    let root = &project.release.output;
    let refuse = |why: String| BuildError::UnsafeOutput {
        path: root.clone(),
        why,
    };
    match fs::symlink_metadata(root) {
        Err(_) => return Ok(()),
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(refuse(
                "it is a symbolic link; bounce does not clean through links".into(),
            ))
        }
        Ok(_) => {}
    }
    let Ok(root) = fs::canonicalize(root) else {
        return Ok(());
    };
    for input in std::iter::once(project.file.clone()).chain(project.inputs()) {
        let Ok(input) = fs::canonicalize(&input) else {
            continue;
        };
        if input.starts_with(&root) {
            return Err(refuse(format!(
                "it holds {}, which the project reads; set `output` to a folder of its own",
                input.display()
            )));
        }
    }
    Ok(())
}

/// Removes the files a bounce manifest lists in one version folder, each
/// only while its bytes are the ones the manifest records (see
/// [`crate::path_rule`]), then the manifest and the folders left empty;
/// anything else stays. An entry outside the folder is refused and named.
fn clean_version(dir: &Path, cleaned: &mut Cleaned) -> Result<(), BuildError> {
    let manifest_path = dir.join(MANIFEST);
    let Some(manifest) = read_manifest(&manifest_path).filter(|m| m.tool == "bounce") else {
        cleaned
            .kept
            .push((dir.to_path_buf(), "it holds no bounce manifest".into()));
        return Ok(());
    };
    // Every entry is checked before any file goes.
    for file in &manifest.files {
        if let Some(why) = outside_reason(Path::new(&file.path)) {
            return Err(BuildError::UnsafeOutput {
                path: manifest_path,
                why: format!(
                    "its entry \"{}\" is refused ({why}); nothing was removed from {}",
                    file.path,
                    dir.display()
                ),
            });
        }
    }
    let rule = PathRule::bounds_only(dir);
    for file in &manifest.files {
        let relative = Path::new(&file.path);
        let Ok(path) = rule.writable(relative) else {
            // Under a linked folder: not bounce's.
            cleaned
                .kept
                .push((dir.join(relative), "reached through a symbolic link".into()));
            continue;
        };
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let hash = bounce_cache::hash_file(&path)
            .ok()
            .map(|h| h.to_hex().to_string());
        if hash.as_deref() == Some(file.blake3.as_str()) {
            remove_file(&path, cleaned)?;
        } else {
            cleaned.kept.push((
                path,
                "its bytes changed since bounce wrote it (yours now)".into(),
            ));
        }
    }
    remove_file(&manifest_path, cleaned)?;
    bounce_cache::remove_stale_temps(dir, true);
    remove_empty_folders(dir, cleaned);
    if dir.exists() {
        cleaned.kept.push((
            dir.to_path_buf(),
            "it still holds files bounce did not write".into(),
        ));
    }
    Ok(())
}

fn remove_file(path: &Path, cleaned: &mut Cleaned) -> Result<(), BuildError> {
    fs::remove_file(path).map_err(|source| BuildError::Output {
        path: path.to_path_buf(),
        source,
    })?;
    cleaned.removed.push(path.to_path_buf());
    Ok(())
}

/// Removes `dir` and the folders under it that hold nothing (links and
/// files stay, and so do the folders that hold them).
fn remove_empty_folders(dir: &Path, cleaned: &mut Cleaned) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_empty_folders(&entry.path(), cleaned);
        }
    }
    if fs::remove_dir(dir).is_ok() {
        cleaned.removed.push(dir.to_path_buf());
    }
}
