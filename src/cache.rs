//! `bounce cache stats|gc|verify|push|pull`.

use bounce_cache::{Cache, DirLock};
use bounce_engine::{build, cache_dir, BuildOptions, CacheSync, LastBuild};

use clap::Subcommand;

use crate::args::{load, parse_cache_size, ProjectArgs, EXIT_FAILED, EXIT_USAGE};
use crate::build_log::print_build_error;
use crate::output::outln;

#[derive(Subcommand)]
pub(crate) enum CacheAction {
    /// Size, entries and the last build's hit rate.
    Stats {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Remove what no step can use, then evict down to the cap.
    Gc {
        #[command(flatten)]
        project: ProjectArgs,
        /// The cap to evict down to (default 20G).
        #[arg(long, value_parser = parse_cache_size)]
        cache_size: Option<u64>,
    },
    /// Upload to the shared cache (--remote-cache) what the local cache
    /// holds of the project's steps.
    Push {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Download from the shared cache what a build of the targets would
    /// use, rendering nothing: a later build then needs no network.
    Pull {
        /// Deliverables (`name` or `name:track`); all if none.
        targets: Vec<String>,
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Re-hash every blob; remove damaged ones so they render again.
    Verify {
        /// Also drop the entries whose output is missing, so their steps
        /// render again and the cache verifies clean.
        #[arg(long)]
        repair: bool,
        #[command(flatten)]
        project: ProjectArgs,
    },
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Opens the project's cache, reporting a failure.
fn open(args: &ProjectArgs) -> Result<Cache, i32> {
    let project = load(args)?;
    let options = BuildOptions {
        cache_dir: args.cache_dir.clone(),
        ..BuildOptions::default()
    };
    Cache::open(&cache_dir(&project, &options)).map_err(|e| {
        print_build_error(&e.into());
        EXIT_FAILED
    })
}

/// Holds the cache against builds while tending it.
fn lock(cache: &Cache) -> Result<DirLock, i32> {
    let path = cache.layout().lock();
    DirLock::acquire(&path, || {
        eprintln!(
            "Waiting for another bounce build to release {}",
            path.display()
        )
    })
    .map_err(|e| {
        print_build_error(&e.into());
        EXIT_FAILED
    })
}

pub fn run(action: CacheAction) -> Result<(), i32> {
    match action {
        CacheAction::Stats { project } => {
            let cache = open(&project)?;
            let blobs = cache.blobs();
            let bytes: u64 = blobs.iter().map(|b| b.size).sum();
            outln!("cache        {}", cache.root().display());
            outln!("size         {} in {} files", megabytes(bytes), blobs.len());
            outln!("entries      {}", cache.entries().len());
            let last: Option<LastBuild> = std::fs::read(LastBuild::path(cache.root()))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            match last {
                Some(last) if last.built + last.cached > 0 => outln!(
                    "last build   {} cached, {} rendered: {:.0} % hit rate",
                    last.cached,
                    last.built,
                    100.0 * last.cached as f64 / (last.built + last.cached) as f64
                ),
                _ => outln!("last build   none"),
            }
            Ok(())
        }
        CacheAction::Gc {
            project,
            cache_size,
        } => {
            let cache = open(&project)?;
            let _lock = lock(&cache)?;
            let unused = cache.collect_garbage().map_err(|e| {
                print_build_error(&e.into());
                EXIT_FAILED
            })?;
            let cap = cache_size.unwrap_or(bounce_cache::DEFAULT_CACHE_SIZE);
            let evicted = cache.evict_to(cap, &Default::default());
            eprintln!(
                "removed {} unused files ({}) and evicted {} ({}) to stay under {}",
                unused.blobs,
                megabytes(unused.bytes),
                evicted.blobs,
                megabytes(evicted.bytes),
                megabytes(cap)
            );
            Ok(())
        }
        CacheAction::Push { project } => sync(&project, Vec::new(), CacheSync::Push),
        CacheAction::Pull { targets, project } => sync(&project, targets, CacheSync::Pull),
        CacheAction::Verify { repair, project } => {
            let cache = open(&project)?;
            let _lock = lock(&cache)?;
            let report = cache.verify_and(repair).map_err(|e| {
                print_build_error(&e.into());
                EXIT_FAILED
            })?;
            for path in &report.corrupt {
                eprintln!(
                    "damaged (removed; its step renders again): {}",
                    path.display()
                );
            }
            for key in &report.missing {
                match repair {
                    true => eprintln!("dropped the entry of step {} (it renders again)", key.short()),
                    false => eprintln!(
                        "missing output of step {} (it renders again; `bounce cache verify --repair` drops its entry)",
                        key.short()
                    ),
                }
            }
            eprintln!(
                "checked {} files and {} entries: {}",
                report.blobs,
                report.entries,
                if report.is_clean() {
                    "clean"
                } else {
                    "problems found"
                }
            );
            // Repaired, what is left is sound: only damage that stays fails.
            if report.is_clean() || (repair && report.corrupt.is_empty()) {
                Ok(())
            } else {
                Err(EXIT_FAILED)
            }
        }
    }
}

/// `cache push` and `cache pull`: a dry run that moves what it finds.
fn sync(args: &ProjectArgs, targets: Vec<String>, sync: CacheSync) -> Result<(), i32> {
    let project = load(args)?;
    let options = BuildOptions {
        dry_run: true,
        targets,
        sync: Some(sync),
        ..args.options()?
    };
    let Some(remote) = options.remote.clone() else {
        eprintln!("error: name the shared cache with --remote-cache URL or BOUNCE_REMOTE_CACHE");
        return Err(EXIT_USAGE);
    };
    let report = build(&project, &options, &Quiet).map_err(|error| {
        print_build_error(&error);
        EXIT_FAILED
    })?;
    let moved = report.remote.unwrap_or_default();
    if let Some(warning) = &moved.warning {
        eprintln!("warning: {warning}");
        return Err(EXIT_FAILED);
    }
    match sync {
        CacheSync::Push => eprintln!(
            "{:>10} {} to {} ({} steps in the local cache)",
            "Pushed",
            megabytes(moved.uploaded),
            remote.url(),
            report.cached
        ),
        CacheSync::Pull => eprintln!(
            "{:>10} {} from {} ({} steps found there, {} to render)",
            "Pulled",
            megabytes(moved.downloaded),
            remote.url(),
            moved.hits,
            report.stale
        ),
    }
    Ok(())
}

/// Watches nothing: push and pull report their totals only.
struct Quiet;

impl bounce_engine::Observer for Quiet {}
