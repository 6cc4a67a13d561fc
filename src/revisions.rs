//! `bounce build --rev` and `bounce diff`.

use bounce_cache::Cache;
use bounce_engine::{
    build, default_cache_dir, file_changes, load_at_revision, step_changes, BuildOptions,
    BuiltFile, FileChange, Observer, Presence, Project,
};

use crate::args::{load, MessageFormat, ProjectArgs, EXIT_FAILED, EXIT_USAGE};
use crate::build_log::{print_build_error, print_project_errors};
use crate::output::outln;

/// The work tree's cache: a revision's steps hit it.
fn work_cache(args: &ProjectArgs) -> std::path::PathBuf {
    args.cache_dir
        .clone()
        .unwrap_or_else(|| default_cache_dir(&args.file))
}

/// The project at `rev`; points `options` at the work tree's cache.
pub fn load_revision(
    args: &ProjectArgs,
    rev: &str,
    options: &mut BuildOptions,
) -> Result<Project, i32> {
    let cache = work_cache(args);
    options.cache_dir = Some(cache.clone());
    // The export goes inside the cache: made (or refused, if the folder
    // is someone's) before anything is written there.
    Cache::open(&cache).map_err(|error| {
        eprintln!("error: {error}");
        EXIT_FAILED
    })?;
    load_at_revision(
        &args.file,
        rev,
        &bounce_cache::CacheLayout::new(&cache).revisions(),
    )
    .map_err(|error| {
        if let bounce_engine::RevisionError::Project { errors, .. } = &error {
            print_project_errors(errors);
        }
        eprintln!("error: {error}");
        EXIT_USAGE
    })
}

/// Builds `project` into the cache only; its files.
fn render(project: &Project, options: &BuildOptions, name: &str) -> Result<Vec<BuiltFile>, i32> {
    struct Quiet;
    impl Observer for Quiet {}
    eprintln!("{:>10} {name}", "Rendering");
    match build(project, options, &Quiet) {
        Ok(report) if report.failed == 0 => Ok(report.files),
        Ok(report) => {
            for error in &report.errors {
                eprintln!("error: {error}");
            }
            Err(EXIT_FAILED)
        }
        Err(error) => {
            print_build_error(&error);
            Err(EXIT_FAILED)
        }
    }
}

fn figure(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.2}"))
}

fn describe_file(change: &FileChange) -> String {
    // A file only one build made: its figures from that build.
    let alone = |side: usize, word: &str| {
        let pick = |pair: (Option<f64>, Option<f64>)| if side == 0 { pair.0 } else { pair.1 };
        match pick(change.integrated) {
            Some(lufs) => format!(
                "{word} (loudness {} LUFS, true peak {} dBTP)",
                figure(Some(lufs)),
                figure(pick(change.true_peak))
            ),
            None => word.to_string(),
        }
    };
    match change.presence {
        Presence::Added => return alone(1, "added"),
        Presence::Removed => return alone(0, "removed"),
        Presence::Both => {}
    }
    let pair = |(a, b): (Option<f64>, Option<f64>), unit: &str| match (a, b) {
        (Some(a), Some(b)) if (a - b).abs() >= 0.005 => {
            format!(
                "{} → {} {unit} ({:+.2})",
                figure(Some(a)),
                figure(Some(b)),
                b - a
            )
        }
        (a, _) => format!("{} {unit}", figure(a)),
    };
    let null = match change.difference {
        Some(d) if d == f64::NEG_INFINITY => "same audio".to_string(),
        Some(d) => format!("difference peaks at {d:.1} dBFS"),
        None if !change.bytes_differ => "same bytes".to_string(),
        None => "not comparable sample by sample".to_string(),
    };
    // A file with no audio measured (a CUE sheet) has no figures to show.
    if [change.integrated, change.range, change.true_peak]
        .iter()
        .all(|(a, b)| a.is_none() && b.is_none())
    {
        return match change.bytes_differ {
            true => "text changed".into(),
            false => "same bytes".into(),
        };
    }
    format!(
        "loudness {}, range {}, true peak {}; {null}",
        pair(change.integrated, "LUFS"),
        pair(change.range, "LU"),
        pair(change.true_peak, "dBTP")
    )
}

pub fn diff(
    args: &ProjectArgs,
    from: &str,
    to: Option<&str>,
    format: MessageFormat,
) -> Result<(), i32> {
    let mut options = BuildOptions {
        no_publish: true,
        ..BuildOptions::default()
    };
    let before = load_revision(args, from, &mut options)?;
    let after = match to {
        Some(rev) => load_revision(args, rev, &mut options)?,
        None => load(args)?,
    };
    let to_name = to.unwrap_or("the work tree");
    let steps = step_changes(&before, &after).map_err(|errors| {
        print_project_errors(&errors);
        EXIT_USAGE
    })?;
    let old = render(&before, &options, from)?;
    let new = render(&after, &options, to_name)?;
    let cache = Cache::open(&work_cache(args)).map_err(|e| {
        print_build_error(&e.into());
        EXIT_FAILED
    })?;
    let files = file_changes(&old, &new, &cache).map_err(|e| {
        print_build_error(&e);
        EXIT_FAILED
    })?;
    match format {
        MessageFormat::Json => {
            let finite = |x: Option<f64>| x.filter(|v| v.is_finite());
            let files: Vec<_> = files
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "path": f.path,
                        "integrated": [f.integrated.0, f.integrated.1],
                        "range": [f.range.0, f.range.1],
                        "true_peak": [f.true_peak.0, f.true_peak.1],
                        "same_audio": f.difference == Some(f64::NEG_INFINITY),
                        "difference_dbfs": finite(f.difference),
                        "bytes_differ": f.bytes_differ,
                        "presence": match f.presence {
                            Presence::Both => "both",
                            Presence::Added => "added",
                            Presence::Removed => "removed",
                        },
                    })
                })
                .collect();
            outln!(
                "{}",
                serde_json::json!({"from": from, "to": to_name, "steps": steps, "files": files})
            );
        }
        MessageFormat::Human => {
            outln!("Steps, {from} → {to_name}:");
            if steps.is_empty() {
                outln!("  no step changed");
            }
            for change in &steps {
                outln!("  {}: {}", change.step, change.change);
            }
            outln!("Files:");
            for change in &files {
                outln!("  {}: {}", change.path, describe_file(change));
            }
        }
    }
    Ok(())
}
