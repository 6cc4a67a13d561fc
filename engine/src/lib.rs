//! The engine of bounce: the project model and its KDL reader, planning a
//! project into a graph of steps, step keys, and the scheduler that renders
//! what is stale and publishes the deliverables.
#![forbid(unsafe_code)]

mod build;
mod built;
mod check;
mod diagnostic;
mod diff;
mod error;
mod explain;
mod feed;
pub mod formats;
mod graph;
mod identifiers;
mod init;
mod kdl_view;
mod key;
mod limiter;

pub mod model;
mod path_rule;
mod plan;
mod publish;
pub mod qc;
mod reader;
mod render;
mod revision;
mod schedule;
mod signal;
pub mod step;
mod suggest;
pub mod targets;
pub mod template;
mod words;

pub use build::{
    build, cache_dir, default_cache_dir, BuildOptions, BuildReport, BuiltFile, CacheSync,
    LastBuild, Observer, Status, StepEvent, INPUT_FAILED,
};
pub use check::check_project;
pub use diagnostic::{Code, ProjectDiagnostic, ProjectErrors, SourceFile, Span};
pub use diff::{file_changes, step_changes, FileChange, Presence, StepChange};
pub use error::BuildError;
pub use explain::{Change, RebuildReason};
pub use graph::{render_graph, GraphFormat};
pub use init::{start_project, InitError, Started};
pub use key::KEY_SCHEMA;
pub use model::{Project, Revision};
pub use plan::{plan, Plan};
pub use publish::clean::{clean, Cleaned};
pub use publish::manifest::{read_manifest, Manifest, ManifestFile, MANIFEST, RELEASE_LOCK};
pub use publish::release_lock::{is_released, release, Released};
pub use reader::load_project;
pub use render::{Measured, OutputInfo};
pub use revision::{load_at_revision, RevisionError};
pub use signal::{signal_graph, signal_text};
pub use words::{count, rounded};
