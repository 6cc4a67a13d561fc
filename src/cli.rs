//! Argument parsing and dispatch.

use std::path::PathBuf;

use bounce_engine::{build, cache_dir, check_project, clean, BuildOptions, Project};
use clap::{Parser, Subcommand, ValueEnum};

use crate::args::{
    load, load_with, parse_cache_size, MessageFormat, ProjectArgs, EXIT_FAILED, EXIT_USAGE,
};
use crate::build_log::{print_build_error, print_project_errors};
use crate::building::{exit_status, run_build};
use crate::cache::CacheAction;
use crate::output::{out, outln};
use bounce_engine::count;

#[derive(Parser)]
#[command(
    name = "bounce",
    version,
    about = "A declarative build tool for audio releases"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Say every step rendered, not only the files.
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphNotation {
    Dot,
    Mermaid,
    /// Lines for a terminal.
    Text,
}

#[derive(Subcommand)]
enum Command {
    /// Render what is stale and write the deliverables.
    Build {
        /// Deliverables to build (`name` or `name:track`); all if none.
        targets: Vec<String>,
        #[command(flatten)]
        project: ProjectArgs,
        /// Worker threads (default: one per core).
        #[arg(short = 'j', long = "jobs")]
        jobs: Option<usize>,
        /// Show what would render, render nothing.
        #[arg(long)]
        dry_run: bool,
        /// `json`: one JSON object per step and a summary, on standard output.
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
        /// The most the cache may take (e.g. 20G, 500M); least recently
        /// used outputs go first. Default 20G.
        #[arg(long, value_parser = parse_cache_size)]
        cache_size: Option<u64>,
        /// Render the project as it was at this git revision, into
        /// OUTPUT/rev-DESCRIBE/ (stems git does not track come from the
        /// work tree).
        #[arg(long)]
        rev: Option<String>,
    },
    /// What changed between two git revisions (the second defaults to the
    /// work tree): steps and settings, then each file's loudness, peak and
    /// a null test.
    Diff {
        from: String,
        to: Option<String>,
        #[command(flatten)]
        project: ProjectArgs,
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
    },
    /// Build, then build again whenever the project or a source changes.
    Watch {
        /// Deliverables to build (`name` or `name:track`); all if none.
        targets: Vec<String>,
        #[command(flatten)]
        project: ProjectArgs,
        #[arg(short = 'j', long = "jobs")]
        jobs: Option<usize>,
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
    },
    /// Inspect and tend the cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Say what a build would render and why, rendering nothing.
    Explain {
        /// Deliverables to explain (`name` or `name:track`); all if none.
        targets: Vec<String>,
        #[command(flatten)]
        project: ProjectArgs,
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
    },
    /// Print the graph of steps, each marked cached or stale; or, with
    /// --signal, the signal flow of each track (stems, buses, mix, masters,
    /// deliverables).
    Graph {
        /// Deliverables whose steps to show (`name` or `name:track`); all if
        /// none. With --signal, a `name:track` shows that track.
        targets: Vec<String>,
        #[command(flatten)]
        project: ProjectArgs,
        /// Text for a terminal, or DOT (Graphviz) or Mermaid; default: dot
        /// for steps, text for --signal.
        #[arg(long, value_enum)]
        format: Option<GraphNotation>,
        /// The signal flow instead of the build's steps.
        #[arg(long)]
        signal: bool,
    },
    /// Lock the built version (`OUTPUT/VERSION/`): a later build that would
    /// change any of its files stops with an error.
    Release {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Build the current version, then inspect every delivered file and
    /// write the release report (`OUTPUT/VERSION/report/index.html` and
    /// `report.json`) with its delivery checklist; a failed check exits 1.
    Report {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Write a starting bounce.kdl from a folder of stems (one track per
    /// sub-folder, or one track).
    Init {
        /// The folder (default: here).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Print a completion script for a shell.
    Completions { shell: clap_complete::Shell },
    /// Check the project file and report every error in it.
    Check {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Measure audio files: format, peaks, loudness, loudness range.
    Analyze {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
    },
    /// Remove the cache (and with --outputs, the output folder).
    Clean {
        #[command(flatten)]
        project: ProjectArgs,
        /// Remove the rendered versions too.
        #[arg(long)]
        outputs: bool,
    },
}

/// Runs the command line; returns the exit status.
pub fn run() -> i32 {
    let cli = Cli::parse();
    crate::output::set_verbose(cli.verbose);
    let result = match cli.command {
        Command::Build {
            targets,
            project,
            jobs,
            dry_run,
            message_format,
            cache_size,
            rev,
        } => {
            let mut options = match project.options() {
                Ok(options) => BuildOptions {
                    jobs: jobs.unwrap_or(0),
                    dry_run,
                    targets,
                    cache_size,
                    ..options
                },
                Err(code) => return code,
            };
            let loaded = match &rev {
                Some(rev) => crate::revisions::load_revision(&project, rev, &mut options),
                None => load(&project),
            };
            loaded.and_then(|p| {
                select_report(&p, &mut options);
                let built = run_build(&p, options.clone(), message_format)?;
                if options.report && !options.dry_run {
                    write_report(&p, &options, &built, true)?;
                }
                Ok(())
            })
        }
        Command::Diff {
            from,
            to,
            project,
            message_format,
        } => crate::revisions::diff(&project, &from, to.as_deref(), message_format),
        Command::Cache { action } => crate::cache::run(action),
        Command::Watch {
            targets,
            project,
            jobs,
            message_format,
        } => {
            let options = match project.options() {
                Ok(options) => BuildOptions {
                    jobs: jobs.unwrap_or(0),
                    targets,
                    ..options
                },
                Err(code) => return code,
            };
            crate::watch::run(&project, options, message_format)
        }
        Command::Explain {
            targets,
            project,
            message_format,
        } => {
            let mut options = match project.options() {
                Ok(options) => BuildOptions {
                    dry_run: true,
                    targets,
                    ..options
                },
                Err(code) => return code,
            };
            load(&project).and_then(|p| {
                select_report(&p, &mut options);
                run_build(&p, options, message_format).map(|_| ())
            })
        }
        Command::Graph {
            targets,
            project,
            format,
            signal,
        } => run_graph(&project, targets, format, signal),
        Command::Release { project } => run_release(&project),
        Command::Report { project } => run_report(&project),
        Command::Init { dir } => run_init(&dir),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "bounce", &mut std::io::stdout());
            Ok(())
        }
        Command::Check { project } => load_with(&project, check_project).map(|p| {
            for unused in p.warnings() {
                eprintln!("warning: {unused}");
            }
            for note in p.notes() {
                eprintln!("note: {note}");
            }
            // The answer of a query: standard output.
            outln!(
                "{}: ok ({}, {}, {})",
                project.file.display(),
                count(p.tracks.len(), "track"),
                count(p.masters.len(), "master"),
                count(p.deliverables.len(), "deliverable")
            );
        }),
        Command::Analyze {
            files,
            message_format,
        } => crate::analyze::run(&files, message_format),
        Command::Clean { project, outputs } => run_clean(&project, outputs),
    };
    match result {
        Ok(()) => 0,
        Err(code) => code,
    }
}

fn run_clean(args: &ProjectArgs, outputs: bool) -> Result<(), i32> {
    let project = load(args)?;
    let options = BuildOptions {
        cache_dir: args.cache_dir.clone(),
        ..BuildOptions::default()
    };
    match clean(&project, &cache_dir(&project, &options), outputs) {
        Ok(cleaned) => {
            for path in &cleaned.removed {
                eprintln!("removed {}", path.display());
            }
            for (path, why) in &cleaned.kept {
                eprintln!("kept {} ({why})", path.display());
            }
            Ok(())
        }
        Err(error) => {
            print_build_error(&error);
            Err(EXIT_FAILED)
        }
    }
}

/// Records each step's status in a dry run.
#[derive(Default)]
struct StatusCollector {
    statuses: std::sync::Mutex<std::collections::BTreeMap<String, bounce_engine::Status>>,
}

impl bounce_engine::Observer for StatusCollector {
    fn finished(&self, event: &bounce_engine::StepEvent) {
        self.statuses
            .lock()
            .expect("status lock")
            .insert(event.step.id.clone(), event.status);
    }
}

fn run_graph(
    args: &ProjectArgs,
    targets: Vec<String>,
    notation: Option<GraphNotation>,
    signal: bool,
) -> Result<(), i32> {
    let project = load(args)?;
    // With --signal a bare number names a track (`graph --signal 4`).
    let (numbers, targets): (Vec<String>, Vec<String>) = targets
        .into_iter()
        .partition(|t| signal && t.parse::<u32>().is_ok());
    let track = numbers
        .first()
        .and_then(|n| n.parse::<u32>().ok())
        .or_else(|| {
            targets
                .iter()
                .find_map(|t| t.split_once(':').and_then(|(_, n)| n.parse::<u32>().ok()))
        });
    // A bare number names no deliverable for the build to check: said here.
    let bare = numbers.first().and_then(|n| n.parse::<u32>().ok());
    if let Some(n) = bare.filter(|n| !project.tracks.iter().any(|t| t.number == *n)) {
        eprintln!("error: the project has no track {n}");
        return Err(EXIT_USAGE);
    }
    let options = BuildOptions {
        dry_run: true,
        targets,
        cache_dir: args.cache_dir.clone(),
        ..BuildOptions::default()
    };
    let collector = StatusCollector::default();
    if let Err(error) = build(&project, &options, &collector) {
        print_build_error(&error);
        return Err(exit_status(&error));
    }
    let plan = bounce_engine::plan(&project).map_err(|errors| {
        print_project_errors(&errors);
        EXIT_USAGE
    })?;
    let default = if signal {
        GraphNotation::Text
    } else {
        GraphNotation::Dot
    };
    let format = match notation.unwrap_or(default) {
        GraphNotation::Dot => bounce_engine::GraphFormat::Dot,
        GraphNotation::Mermaid => bounce_engine::GraphFormat::Mermaid,
        GraphNotation::Text => bounce_engine::GraphFormat::Text,
    };
    if signal {
        out!("{}", bounce_engine::signal_graph(&project, track, format));
        return Ok(());
    }
    let statuses = collector.statuses.into_inner().expect("status lock");
    out!("{}", bounce_engine::render_graph(&plan, &statuses, format));
    Ok(())
}

/// Collects the steps a dry run finds stale.
#[derive(Default)]
struct StaleSteps(std::sync::Mutex<Vec<String>>);

impl bounce_engine::Observer for StaleSteps {
    fn finished(&self, event: &bounce_engine::StepEvent) {
        if event.status == bounce_engine::Status::Stale {
            self.0
                .lock()
                .expect("stale list")
                .push(event.step.id.clone());
        }
    }
}

/// A report deliverable measures the whole version: naming it selects
/// everything, and a build of everything measures for it (a dry run
/// lists those steps; a build then writes the report).
fn select_report(project: &Project, options: &mut BuildOptions) {
    let asked = options.targets.len();
    options.targets.retain(|t| !project.reports.contains(t));
    if options.targets.len() < asked {
        options.targets.clear();
    }
    options.report = !project.reports.is_empty() && options.targets.is_empty();
}

fn run_report(args: &ProjectArgs) -> Result<(), i32> {
    let project = load(args)?;
    let options = BuildOptions {
        report: true,
        ..args.options()?
    };
    let built = run_build(&project, options.clone(), MessageFormat::Human)?;
    write_report(&project, &options, &built, false)
}

/// Writes the release report of a built version and says what it found;
/// a failed check fails the command.
/// In a build (`recall` true), warnings about files that did not change
/// were said when they did: they are counted, not repeated. Failures are
/// always said.
fn write_report(
    project: &Project,
    options: &BuildOptions,
    built: &bounce_engine::BuildReport,
    recall: bool,
) -> Result<(), i32> {
    let outcome = bounce_engine::qc::write_report(project, &cache_dir(project, options), built)
        .map_err(|error| {
            print_build_error(&error);
            EXIT_FAILED
        })?;
    // Files measured by this build's steps, or by the report itself.
    let inspected = built.inspected + outcome.inspected;
    let quiet_warnings = recall && inspected == 0;
    for check in outcome.failed() {
        eprintln!("error: {}: {}", check.name, check.figures);
    }
    for check in outcome.warned().filter(|_| !quiet_warnings) {
        eprintln!("warning: {}: {}", check.name, check.figures);
    }
    eprintln!(
        "{:>10} {} ({} files, {} inspected now; {} passed, {} warnings, {} failed)",
        "Reported",
        outcome.page.display(),
        outcome.files,
        inspected,
        outcome.checks.len() - outcome.failed().count() - outcome.warned().count(),
        outcome.warned().count(),
        outcome.failed().count()
    );
    if outcome.failed().next().is_some() {
        return Err(EXIT_FAILED);
    }
    Ok(())
}

fn run_release(args: &ProjectArgs) -> Result<(), i32> {
    let project = load(args)?;
    let dir = project.release.output.join(&project.release.version);
    if bounce_engine::is_released(&dir) {
        eprintln!("version {} was already released", project.release.version);
        return Ok(());
    }
    // What the project makes now, from the keys alone: nothing renders.
    let options = BuildOptions {
        dry_run: true,
        ..args.options()?
    };
    let stale = StaleSteps::default();
    let report = build(&project, &options, &stale).map_err(|error| {
        print_build_error(&error);
        EXIT_FAILED
    })?;
    let stale = stale.0.into_inner().expect("stale list");
    if !stale.is_empty() {
        let shown: Vec<&str> = stale.iter().take(5).map(String::as_str).collect();
        eprintln!(
            "error: cannot release version {}: {} would render ({}{}): build it first (`bounce build`, every deliverable)",
            project.release.version,
            count(stale.len(), "step"),
            shown.join(", "),
            if stale.len() > shown.len() { ", …" } else { "" }
        );
        return Err(EXIT_FAILED);
    }
    match bounce_engine::release(&project, &report.files) {
        Ok(bounce_engine::Released::Now { files, dirty_at }) => {
            if let Some(describe) = dirty_at {
                eprintln!(
                    "warning: version {} was built from a work tree with uncommitted changes \
                     (on {describe}): no commit reproduces the files it locks; commit, build \
                     and release again to tie the release to a revision",
                    project.release.version
                );
            }
            eprintln!(
                "{:>10} version {} ({files} files in {}) is locked",
                "Released",
                project.release.version,
                dir.display()
            );
            Ok(())
        }
        Ok(bounce_engine::Released::Already) => {
            eprintln!("version {} was already released", project.release.version);
            Ok(())
        }
        Err(error) => {
            print_build_error(&error);
            Err(EXIT_FAILED)
        }
    }
}

fn run_init(dir: &std::path::Path) -> Result<(), i32> {
    let started = bounce_engine::start_project(dir).map_err(|error| {
        eprintln!("error: {error}");
        EXIT_FAILED
    })?;
    let file = started.file.clone();
    if let Err(error) = bounce_cache::write_atomically(&file, started.text.as_bytes()) {
        eprintln!("error: {error}");
        return Err(EXIT_FAILED);
    }
    let stems: usize = started.tracks.iter().map(|(_, s)| s.len()).sum();
    for choice in &started.choices {
        eprintln!("{:>10} {choice}", "Chose");
    }
    eprintln!(
        "{:>10} {} with {} and {}; try `bounce build -f {}`",
        "Wrote",
        file.display(),
        count(started.tracks.len(), "track"),
        count(stems, "stem"),
        file.display()
    );
    Ok(())
}
