//! The engine of bounce: the project model and its KDL reader, planning a
//! project into a graph of steps, step keys, and the scheduler that renders
//! what is stale and publishes the deliverables.
#![forbid(unsafe_code)]

mod build;
mod check;
mod clean;
mod codes;
mod diagnostic;
mod diff;
mod error;
mod explain;
pub mod formats;
mod graph;
mod init;
mod kdl_view;
mod key;
mod limiter;
mod manifest;
mod outcome;

pub mod model;
mod path_rule;
mod plan;
mod publish;
pub mod qc;
mod reader;
mod release;
mod render;
mod revision;
mod schedule;
mod signal;
pub mod step;
mod suggest;
pub mod targets;
pub mod template;
mod transaction;
mod words;

pub use build::{
    build, cache_dir, default_cache_dir, BuildOptions, BuildReport, BuiltFile, CacheSync,
    LastBuild, Observer, Status, StepEvent, INPUT_FAILED,
};
pub use check::check_project;
pub use clean::{clean, Cleaned};
pub use diagnostic::{Code, ProjectDiagnostic, ProjectErrors, SourceFile, Span};
pub use diff::{file_changes, step_changes, FileChange, Presence, StepChange};
pub use error::BuildError;
pub use explain::{Change, RebuildReason};
pub use graph::{render_graph, GraphFormat};
pub use init::{start_project, InitError, Started};
pub use key::KEY_SCHEMA;
pub use manifest::{read_manifest, Manifest, ManifestFile, MANIFEST, RELEASE_LOCK};
pub use model::{Project, Revision};
pub use plan::{plan, Plan};
pub use reader::load_project;
pub use release::{is_released, release, Released};
pub use render::{Measured, OutputInfo};
pub use revision::{load_at_revision, RevisionError};
pub use signal::{signal_graph, signal_text};
pub use words::{count, rounded};
