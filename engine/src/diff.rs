//! What changed between two revisions of a project: the steps whose
//! settings differ, and for each file both render, the change in loudness
//! and peak and a null test of the audio.

use std::collections::BTreeMap;

use bounce_cache::Cache;
use serde::Serialize;
use serde_json::Value;

use crate::build::BuiltFile;
use crate::diagnostic::ProjectErrors;
use crate::error::BuildError;
use crate::explain::differences;
use crate::model::Project;
use crate::plan::plan;

/// One difference in the graph of steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepChange {
    pub step: String,
    /// `added`, `removed`, or what changed from what to what.
    pub change: String,
}

/// How one delivered file differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileChange {
    pub path: String,
    pub integrated: (Option<f64>, Option<f64>),
    pub range: (Option<f64>, Option<f64>),
    pub true_peak: (Option<f64>, Option<f64>),
    /// Peak of the difference signal, dBFS (−∞: the same audio); `None`
    /// when the files cannot be compared sample by sample.
    pub difference: Option<f64>,
    /// Whether the bytes differ (tags can change while the audio does not).
    pub bytes_differ: bool,
    /// Whether the file is in both builds, or only one.
    pub presence: Presence,
}

/// Whether a file is in both builds compared, or only in one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    Both,
    /// Only in the later build (a new track, or a new name).
    Added,
    /// Only in the earlier build.
    Removed,
}

/// The steps added, removed or set differently from `a` to `b`.
pub fn step_changes(a: &Project, b: &Project) -> Result<Vec<StepChange>, ProjectErrors> {
    let actions = |project: &Project| -> Result<BTreeMap<String, Value>, ProjectErrors> {
        let plan = plan(project)?;
        Ok(plan
            .graph
            .node_weights()
            .map(|step| {
                let action = serde_json::to_value(&step.action).expect("actions serialise");
                (step.id.clone(), action)
            })
            .collect())
    };
    let (before, after) = (actions(a)?, actions(b)?);
    let mut changes = Vec::new();
    // A new version is news, though no step's key holds it.
    if a.release.version != b.release.version {
        changes.push(StepChange {
            step: "release".into(),
            change: format!(
                "version \"{}\" → \"{}\" (a new folder of outputs)",
                a.release.version, b.release.version
            ),
        });
    }
    for (id, old) in &before {
        match after.get(id) {
            None => changes.push(StepChange {
                step: id.clone(),
                change: "removed".into(),
            }),
            Some(new) if new != old => {
                let mut what = Vec::new();
                differences("", old, new, &mut what);
                changes.extend(what.into_iter().map(|change| StepChange {
                    step: id.clone(),
                    change: change.to_string(),
                }));
            }
            Some(_) => {}
        }
    }
    for id in after.keys().filter(|id| !before.contains_key(*id)) {
        changes.push(StepChange {
            step: id.clone(),
            change: "added".into(),
        });
    }
    Ok(changes)
}

/// Compares the files two builds made (by path), from the cache.
pub fn file_changes(
    a: &[BuiltFile],
    b: &[BuiltFile],
    cache: &Cache,
) -> Result<Vec<FileChange>, BuildError> {
    let mut changes = Vec::new();
    for old in a {
        let Some(new) = b.iter().find(|f| f.path == old.path) else {
            continue;
        };
        let figures = |f: &BuiltFile| f.info.measured.unwrap_or_default();
        let (x, y) = (figures(old), figures(new));
        let difference = match (old.info.measured, new.info.measured) {
            (Some(_), Some(_)) if old.hash == new.hash => Some(f64::NEG_INFINITY),
            (Some(_), Some(_)) => bounce_nodes::difference_peak(
                &cache.blob_path(&old.hash),
                &cache.blob_path(&new.hash),
            )
            .map_err(|source| BuildError::Audio {
                step: format!("diff {}", old.path),
                source,
            })?,
            _ => None,
        };
        changes.push(FileChange {
            path: old.path.clone(),
            integrated: (x.integrated, y.integrated),
            range: (x.range, y.range),
            true_peak: (x.true_peak, y.true_peak),
            difference,
            bytes_differ: old.hash != new.hash,
            presence: Presence::Both,
        });
    }
    // A file one build has and the other not (a track added, a title
    // changed): named, with the figures of the build that has it.
    let alone = |file: &BuiltFile, presence: Presence| {
        let m = file.info.measured.unwrap_or_default();
        let pair = |v: Option<f64>| match presence {
            Presence::Removed => (v, None),
            _ => (None, v),
        };
        FileChange {
            path: file.path.clone(),
            integrated: pair(m.integrated),
            range: pair(m.range),
            true_peak: pair(m.true_peak),
            difference: None,
            bytes_differ: true,
            presence,
        }
    };
    for old in a.iter().filter(|f| !b.iter().any(|n| n.path == f.path)) {
        changes.push(alone(old, Presence::Removed));
    }
    for new in b.iter().filter(|f| !a.iter().any(|o| o.path == f.path)) {
        changes.push(alone(new, Presence::Added));
    }
    Ok(changes)
}
