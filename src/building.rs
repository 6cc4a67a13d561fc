//! `bounce build` (and `watch`'s builds): a build watched by people or by
//! tools, its failures said once, and its exit status.

use std::io::IsTerminal;
use std::time::Instant;

use bounce_engine::{build, BuildError, BuildOptions, BuildReport, Project};

use crate::args::{MessageFormat, EXIT_FAILED, EXIT_USAGE};
use crate::build_log::{print_build_error, HumanObserver, JsonObserver};

pub(crate) fn run_build(
    project: &Project,
    options: BuildOptions,
    format: MessageFormat,
) -> Result<BuildReport, i32> {
    let dry_run = options.dry_run;
    let started = Instant::now();
    // A setting another overrides has no effect: said before anything runs.
    for unused in project.warnings() {
        eprintln!("warning: {unused}");
    }
    for note in project.notes() {
        eprintln!("note: {note}");
    }
    let result = match format {
        MessageFormat::Json => {
            let observer = JsonObserver::default();
            let result = build(project, &options, &observer);
            if let Ok(report) = &result {
                observer.summary(report, started.elapsed());
            }
            result
        }
        MessageFormat::Human => {
            let observer = HumanObserver::new(std::io::stderr().is_terminal(), dry_run);
            let result = build(project, &options, &observer);
            observer.finish();
            if let Ok(report) = &result {
                observer.summary(report, started.elapsed());
            }
            result
        }
    };
    match result {
        Ok(report) if report.failed == 0 => Ok(report),
        Ok(report) => {
            for error in &report.errors {
                eprintln!("error: {error}");
            }
            eprintln!(
                "error: {} failed; nothing was written to {}",
                bounce_engine::count(report.failed, "step"),
                report.version_dir.display()
            );
            Err(EXIT_FAILED)
        }
        Err(error) => {
            print_build_error(&error);
            Err(exit_status(&error))
        }
    }
}

/// A target the project does not have, or a project that does not plan,
/// is the user's to mend as a mistyped command is; anything else stopping
/// a build is a failed build.
pub(crate) fn exit_status(error: &BuildError) -> i32 {
    match error {
        BuildError::UnknownTarget { .. } | BuildError::Project(_) => EXIT_USAGE,
        _ => EXIT_FAILED,
    }
}
