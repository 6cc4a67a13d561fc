//! `bounce check`: everything a build would refuse, found without
//! rendering: the project as read, every audio file opened, and the plan,
//! which finds what only the whole project shows (two files claiming one
//! path, an output over an input). A build plans once, when it starts.

use std::path::Path;

use crate::diagnostic::ProjectErrors;
use crate::model::Project;
use crate::plan::plan;
use crate::reader::load_probed;

/// Reads the project at `path`, opens its audio and plans it.
pub fn check_project(path: &Path) -> Result<Project, ProjectErrors> {
    let project = load_probed(path)?;
    plan(&project)?;
    Ok(project)
}
