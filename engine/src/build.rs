//! A build: plans the project, selects what the targets need, finds each
//! step in the cache or renders it (the scheduler in `schedule.rs` orders
//! and runs them; [`Run`] is the work it is given), publishes the files
//! and keeps what the next build starts from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use bounce_cache::{ActionEntry, Cache, DirLock, Hash, StatCache};
use bounce_nodes::Precision;
use petgraph::graph::NodeIndex;
use petgraph::visit::{Dfs, Reversed};
use petgraph::Direction;
use serde::Serialize;

pub use crate::built::{BuildReport, BuiltFile};
use crate::error::BuildError;
use crate::explain::{reason, RebuildReason, StepRecord, StepRecords};
use crate::key::{key_json, step_key};
use crate::model::Project;
use crate::plan::{plan, Plan, PlannedOutput};
use crate::publish::manifest::MANIFEST;
use crate::publish::publish;
use crate::render::{read_source, Input, Inputs, OutputInfo, Renderer, StepOutput};
use crate::schedule::{self, Dag, Ended, Work};
use crate::step::{Action, Step};

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Worker threads; 0 means one per core.
    pub jobs: usize,
    /// Say what would render, render nothing.
    pub dry_run: bool,
    /// Deliverable names or `deliverable:track`; empty means everything.
    pub targets: Vec<String>,
    /// The cache folder; `None` means `.bounce/` beside the project file.
    pub cache_dir: Option<PathBuf>,
    /// The most the cache's blobs may take, bytes; `None` means the
    /// default ([`bounce_cache::DEFAULT_CACHE_SIZE`]).
    pub cache_size: Option<u64>,
    /// Render into the cache only: write no files (for `bounce diff`).
    pub no_publish: bool,
    /// A cache shared with other machines (see [`bounce_cache::RemoteCache`]).
    pub remote: Option<std::sync::Arc<bounce_cache::RemoteCache>>,
    /// With `dry_run`: what to move between the local and remote caches
    /// instead of saying what would render.
    pub sync: Option<CacheSync>,
    /// Measure every delivered file for the release report, as steps of
    /// the graph (`inspect:…`), alongside the rest of the build.
    pub report: bool,
}

/// `bounce cache push` and `pull`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheSync {
    /// Upload what the local cache holds of the project's steps.
    Push,
    /// Download what a build would find on the remote.
    Pull,
}

/// What happened to one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Rendered in this build.
    Built,
    /// Found in the cache.
    Cached,
    Failed,
    /// Dry run: would render.
    Stale,
}

/// The error of a step that did not run because an input failed.
pub const INPUT_FAILED: &str = "not run: an input failed";

/// One step's outcome, as reported to an [`Observer`].
pub struct StepEvent<'a> {
    pub step: &'a Step,
    pub status: Status,
    pub millis: u64,
    pub key: Option<Hash>,
    pub error: Option<String>,
    /// Warnings about the step's output (recalled when it comes from the cache).
    pub warnings: Vec<String>,
    /// Routine corrections made to the output (see [`OutputInfo::notes`]).
    pub notes: Vec<String>,
    /// Why the step renders (or would, in a dry run).
    pub reason: Option<RebuildReason>,
    /// Found in the remote cache rather than the local one.
    pub remote: bool,
    /// How long the step's output lasts, seconds (when it has one).
    pub seconds: Option<f64>,
}

impl<'a> StepEvent<'a> {
    /// A step that failed, or did not run because an input failed.
    fn failed(step: &'a Step, millis: u64, error: String) -> Self {
        StepEvent {
            step,
            status: Status::Failed,
            millis,
            key: None,
            error: Some(error),
            warnings: Vec::new(),
            notes: Vec::new(),
            reason: None,
            remote: false,
            seconds: None,
        }
    }
}

/// Watches a build; the CLI turns these calls into progress and JSON.
pub trait Observer: Sync {
    /// Another bounce process holds `what`; this one waits for it.
    fn waiting(&self, _what: &Path) {}
    /// The steps this build will run (or find), before any starts.
    fn planned(&self, _steps: &[&Step]) {}
    fn started(&self, _step: &Step) {}
    fn finished(&self, _event: &StepEvent) {}
}

/// The counts of the last build, for `bounce cache stats`.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct LastBuild {
    pub built: usize,
    pub cached: usize,
}

impl LastBuild {
    pub fn path(cache_root: &Path) -> PathBuf {
        bounce_cache::CacheLayout::new(cache_root).last_build()
    }
}

/// The cache folder for a project.
pub fn cache_dir(project: &Project, options: &BuildOptions) -> PathBuf {
    match &options.cache_dir {
        Some(dir) => dir.clone(),
        None => default_cache_dir(&project.file),
    }
}

/// `$BOUNCE_CACHE`, or `.bounce/` beside the project file.
pub fn default_cache_dir(project_file: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("BOUNCE_CACHE") {
        return PathBuf::from(dir);
    }
    std::path::absolute(project_file)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".bounce")
}

/// Builds the project: plans it, finds or renders what the targets need,
/// publishes the deliverables and keeps what the next build starts from.
/// Each phase is a function below, in the order they run.
pub fn build(
    project: &Project,
    options: &BuildOptions,
    observer: &dyn Observer,
) -> Result<BuildReport, BuildError> {
    let mut plan = plan(project).map_err(BuildError::Project)?;
    if options.report {
        plan.add_report_steps(project);
    }
    let selected = select(project, &plan, &options.targets)?;
    let root = cache_dir(project, options);
    refuse_a_cache_over_inputs(project, &root)?;
    // One writer at a time per cache (locked before the cache is even
    // opened), and per output folder while publishing; reading (a dry run)
    // needs no lock: every file appears whole.
    let lock = |path: PathBuf| DirLock::acquire(&path, || observer.waiting(&path));
    let layout = bounce_cache::CacheLayout::new(&root);
    if !layout.may_open() {
        // Checked before the lock, which would leave a file there.
        return Err(bounce_cache::CacheError::NotACache { path: root }.into());
    }
    // A pull writes into the cache although it renders nothing.
    let pulling = options.sync == Some(CacheSync::Pull);
    let _cache_lock = match options.dry_run && !pulling {
        true => None,
        false => Some(lock(layout.lock())?),
    };
    let cache = open_cache(&layout, options.dry_run)?;
    let stat = StatCache::load(&layout.stat());
    let mut records = StepRecords::load(cache.root());
    observer.planned(&selected.iter().map(|n| &plan.graph[*n]).collect::<Vec<_>>());
    let run = Run::new(
        &plan,
        &selected,
        &cache,
        &stat,
        project.release.sample_rate,
        observer,
        &records,
        options.remote.as_deref(),
        options.sync,
    );
    if options.dry_run {
        run.dry_run(&selected)?;
    } else {
        refuse_changes_to_a_release(project, &plan, &selected, &run)?;
        run.execute(&selected, options.jobs)?;
    }
    // Uploads finish before the build does.
    let remote = options.remote.as_deref().map(|r| r.finish()).transpose()?;
    let used = run.used_blobs();
    let new_records = run.new_records();
    let mut report = BuildReport {
        version_dir: project.release.output.join(&project.release.version),
        remote,
        ..run.counts()
    };
    // Every file is known when nothing failed, nor (in a dry run) would
    // render: `release` checks the version folder against them.
    if report.failed == 0 && report.stale == 0 {
        let outputs = run.selected_outputs();
        report.files = run.built_files(project, &outputs);
        report.previews = run.built_previews();
        if !options.no_publish && !options.dry_run {
            // Checked before the lock, which would be written through a link.
            crate::publish::refuse_links(project, Path::new(MANIFEST))?;
            let _output_lock = lock(
                project
                    .release
                    .output
                    .join(crate::publish::manifest::OUTPUT_LOCK),
            )?;
            bounce_cache::remove_stale_temps(&report.version_dir, true);
            let complete = options.targets.is_empty();
            let jobs = worker_count(options.jobs, outputs.len());
            publish(
                project,
                &cache,
                &stat,
                &outputs,
                complete,
                jobs,
                &mut report,
            )?;
        }
    }
    if !options.dry_run {
        cache.clear_scratch();
    }
    stat.save()?;
    for (id, record) in new_records {
        records.record(&id, record);
    }
    records.save()?;
    if !options.dry_run {
        keep_for_next_build(&cache, options, &mut report, &used)?;
    }
    Ok(report)
}

/// A cache folder that holds a file the project reads would have it
/// swept or evicted: refused before anything opens it.
fn refuse_a_cache_over_inputs(project: &Project, root: &Path) -> Result<(), BuildError> {
    match crate::path_rule::input_inside(project, root) {
        None => Ok(()),
        Some(input) => Err(BuildError::UnsafeOutput {
            path: root.to_path_buf(),
            why: format!(
                "the cache folder holds {}, which the project reads; point --cache-dir at a \
                 folder of its own",
                input.display()
            ),
        }),
    }
}

/// Opens the cache; a build that will write clears what a killed build
/// left half-written (nobody else writes now: the cache is locked).
fn open_cache(layout: &bounce_cache::CacheLayout, dry_run: bool) -> Result<Cache, BuildError> {
    let cache = Cache::open(layout.root())?;
    if !dry_run {
        cache.clear_scratch();
        bounce_cache::remove_stale_temps(cache.root(), false);
        bounce_cache::remove_stale_temps(&layout.tmp(), false);
    }
    Ok(cache)
}

/// Evicts to the cache's cap, keeping what this build `used`, and records
/// the build's counts for `cache stats`.
fn keep_for_next_build(
    cache: &Cache,
    options: &BuildOptions,
    report: &mut BuildReport,
    used: &BTreeSet<Hash>,
) -> Result<(), BuildError> {
    // Only new blobs grow the cache: a build that rendered nothing skips
    // the scan unless a cap was asked for.
    if report.built > 0 || options.cache_size.is_some() {
        let cap = options
            .cache_size
            .unwrap_or(bounce_cache::DEFAULT_CACHE_SIZE);
        report.evicted = cache.evict_to(cap, used);
    }
    let last = LastBuild {
        built: report.built,
        cached: report.cached,
    };
    let bytes = serde_json::to_vec(&last).expect("counts serialise");
    bounce_cache::write_atomically(&LastBuild::path(cache.root()), &bytes)?;
    Ok(())
}

impl Run<'_> {
    /// What this build used, which stays whatever the cap: each output
    /// and the blobs it names (a comparison's excerpt, which the report
    /// copies).
    fn used_blobs(&self) -> BTreeSet<Hash> {
        self.results
            .iter()
            .filter_map(OnceLock::get)
            .flat_map(|outcome| match outcome {
                StepResult::Done(output, ..) => std::iter::once(output.hash)
                    .chain(output.info.also.clone())
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The records of the keys this build found or rendered anew, by step.
    fn new_records(&self) -> Vec<(String, StepRecord)> {
        self.results
            .iter()
            .filter_map(OnceLock::get)
            .filter_map(|outcome| match outcome {
                StepResult::Done(_, _, Some(record)) => Some(record.clone()),
                _ => None,
            })
            .collect()
    }

    /// How many steps rendered, were found, failed or would render, and
    /// the failures' messages.
    fn counts(&self) -> BuildReport {
        let mut report = BuildReport {
            errors: self.errors.lock().expect("errors lock").clone(),
            ..BuildReport::default()
        };
        for (index, result) in self.results.iter().enumerate() {
            let Some(result) = result.get() else { continue };
            match result {
                StepResult::Done(_, Status::Built, _) => {
                    report.built += 1;
                    // A file's inspect step, or the comparison inspecting it.
                    if self
                        .plan
                        .inspections
                        .iter()
                        .any(|(_, i)| i.index() == index)
                    {
                        report.inspected += 1;
                    }
                }
                StepResult::Done(_, Status::Cached, _) => report.cached += 1,
                StepResult::Done(..) => {}
                StepResult::Failed => report.failed += 1,
                StepResult::Stale => report.stale += 1,
            }
        }
        report
    }

    /// Each selected file of the plan with its output (every selected step
    /// finished: called only when nothing failed or is stale).
    fn selected_outputs(&self) -> Vec<(&PlannedOutput, &StepOutput)> {
        self.plan
            .outputs
            .iter()
            .filter(|o| self.selected.contains(&o.step))
            .map(|o| {
                let Some(StepResult::Done(output, ..)) = self.results[o.step.index()].get() else {
                    unreachable!("every selected step finished")
                };
                (o, output.as_ref())
            })
            .collect()
    }

    /// What a step made, where the build ran it.
    fn done(&self, step: NodeIndex) -> Option<Hash> {
        match self.results[step.index()].get() {
            Some(StepResult::Done(output, ..)) => Some(output.hash),
            _ => None,
        }
    }

    /// A file's path in the version, by its output step.
    fn path_of(&self, step: NodeIndex) -> Option<String> {
        let planned = self.plan.outputs.iter().find(|o| o.step == step)?;
        Some(crate::template::portable(&planned.path))
    }

    /// The files of `outputs` as the build made them, each with the
    /// report's measurement of it and its codec comparison (against the
    /// lossless file's path) where the build made them.
    fn built_files(
        &self,
        project: &Project,
        outputs: &[(&PlannedOutput, &StepOutput)],
    ) -> Vec<BuiltFile> {
        let plan = self.plan;
        let inspection = |step: NodeIndex| -> Option<Hash> {
            let (_, inspect) = plan.inspections.iter().find(|(file, _)| *file == step)?;
            self.done(*inspect)
        };
        let comparison = |step: NodeIndex| -> Option<(String, Hash)> {
            let (_, partner, compare) = plan.comparisons.iter().find(|(file, ..)| *file == step)?;
            Some((self.path_of(*partner)?, self.done(*compare)?))
        };
        outputs
            .iter()
            .map(|(planned, output)| BuiltFile {
                path: crate::template::portable(&planned.path),
                deliverable: planned.deliverable.clone(),
                targets: project.file_targets(&planned.deliverable),
                hash: output.hash,
                info: output.info.clone(),
                inspection: inspection(planned.step),
                comparison: comparison(planned.step),
            })
            .collect()
    }

    /// The codec previews the build made, by the path of the file each
    /// previews.
    fn built_previews(&self) -> Vec<crate::built::BuiltPreview> {
        self.plan
            .previews
            .iter()
            .filter_map(|preview| {
                Some(crate::built::BuiltPreview {
                    path: self.path_of(preview.file)?,
                    format: preview.format,
                    comparison: self.done(preview.compare)?,
                })
            })
            .collect()
    }
}

/// A released version stops a build in its first moments, before anything
/// renders, when the project changed what it holds: a quiet dry run from
/// the cache finds each selected file's output (which must be the released
/// bytes), or says why it would render. A file that would render because
/// a setting, a source or a version changed would change; one that only
/// left the cache renders, and is compared byte for byte when published.
fn refuse_changes_to_a_release(
    project: &Project,
    plan: &Plan,
    selected: &BTreeSet<NodeIndex>,
    run: &Run,
) -> Result<(), BuildError> {
    let version_dir = project.release.output.join(&project.release.version);
    if !crate::publish::release_lock::is_released(&version_dir) {
        return Ok(());
    }
    // Unreadable: publishing says so with the figures.
    let Some(manifest) = crate::publish::manifest::read_manifest(&version_dir.join(MANIFEST))
    else {
        return Ok(());
    };
    let reasons = Reasons::default();
    let preflight = run.fresh(&reasons);
    preflight.dry_run(selected)?;
    let reasons = reasons.0.lock().expect("reasons lock");
    // What changed under a step (itself or an input, however far up).
    let change_under = |step: NodeIndex| {
        let mut stack = vec![step];
        let mut seen = BTreeSet::new();
        while let Some(node) = stack.pop() {
            if !seen.insert(node) {
                continue;
            }
            let id = &plan.graph[node].id;
            if let Some(changed @ RebuildReason::Changed(_)) = reasons.get(id) {
                // The step that changed, named: the files it reaches are many.
                return Some(format!("{id}: {changed}"));
            }
            stack.extend(plan.inputs_of(node));
        }
        None
    };
    let mut files = Vec::new();
    let mut because = None;
    for output in plan.outputs.iter().filter(|o| selected.contains(&o.step)) {
        let path = crate::template::portable(&output.path);
        let released = manifest.files.iter().find(|f| f.path == path);
        let differs = match preflight.results[output.step.index()].get() {
            Some(StepResult::Done(found, ..)) => {
                released.map(|f| f.blake3.as_str()) != Some(found.hash.to_hex().as_str())
            }
            // Rendering again what only left the cache may give the same
            // bytes; publishing compares them.
            _ => match change_under(output.step) {
                Some(changed) => {
                    because.get_or_insert(changed);
                    true
                }
                None => released.is_none(),
            },
        };
        if differs {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Ok(());
    }
    Err(BuildError::ReleasedChanged {
        version: project.release.version.clone(),
        files: files.join(", "),
        because: because.map(|why| format!(" ({why})")).unwrap_or_default(),
    })
}

/// An observer that keeps why each stale step would render, by step id,
/// and says nothing.
#[derive(Default)]
struct Reasons(Mutex<std::collections::HashMap<String, RebuildReason>>);

impl Observer for Reasons {
    fn finished(&self, event: &StepEvent) {
        if let Some(reason) = &event.reason {
            self.0
                .lock()
                .expect("reasons lock")
                .insert(event.step.id.clone(), reason.clone());
        }
    }
}

/// The steps needed for the requested targets (all deliverables if none).
fn select(
    project: &Project,
    plan: &Plan,
    targets: &[String],
) -> Result<BTreeSet<NodeIndex>, BuildError> {
    let mut roots = Vec::new();
    if targets.is_empty() {
        roots.extend(plan.outputs.iter().map(|o| o.step));
        roots.extend(plan.inspections.iter().map(|(_, inspect)| *inspect));
        roots.extend(plan.comparisons.iter().map(|(_, _, compare)| *compare));
        roots.extend(plan.previews.iter().map(|p| p.compare));
    }
    for target in targets {
        let (name, track) = match target.split_once(':') {
            Some((name, track)) => match track.parse::<u32>() {
                Ok(number) if number >= 1 => (name, Some(number)),
                _ => {
                    return Err(BuildError::UnknownTarget {
                        target: target.clone(),
                        hint: format!(
                            " (after the deliverable comes a track number, as in \"{name}:1\")"
                        ),
                    })
                }
            },
            None => (target.as_str(), None),
        };
        let matching: Vec<_> = plan
            .outputs
            .iter()
            .filter(|o| o.deliverable == name && track.is_none_or(|t| o.track == Some(t)))
            .map(|o| o.step)
            .collect();
        if matching.is_empty() {
            let names: Vec<&str> = project
                .deliverables
                .iter()
                .map(|d| d.name.as_str())
                .collect();
            let hint = match crate::suggest::nearest(name, &names) {
                Some(s) if s != name => format!(" (did you mean \"{s}\"?)"),
                _ if names.contains(&name) => " (no such track in that deliverable)".into(),
                _ => format!(" (deliverables: {})", names.join(", ")),
            };
            return Err(BuildError::UnknownTarget {
                target: target.clone(),
                hint,
            });
        }
        roots.extend(matching);
    }
    // One walk from every root at once: shared ancestors (an album step,
    // a deliverable's ReplayGain) are visited once, not once per root.
    let reversed = Reversed(&plan.graph);
    let mut dfs = Dfs::empty(reversed);
    dfs.stack = roots;
    let mut selected = BTreeSet::new();
    while let Some(node) = dfs.next(reversed) {
        selected.insert(node);
    }
    Ok(selected)
}

/// How one step of the run ended.
enum StepResult {
    /// The output, how it was found, and (in real builds) the record of
    /// its key for the next build's explanations.
    Done(Box<StepOutput>, Status, Option<(String, StepRecord)>),
    Failed,
    Stale,
}

struct Run<'a> {
    plan: &'a Plan,
    selected: &'a BTreeSet<NodeIndex>,
    cache: &'a Cache,
    stat: &'a StatCache,
    rate: u32,
    observer: &'a dyn Observer,
    records: &'a StepRecords,
    results: Vec<OnceLock<StepResult>>,
    errors: Mutex<Vec<String>>,
    /// Per step: held while a transient output is rendered again.
    restoring: Vec<Mutex<()>>,
    /// Per transient output: the consumers that have yet to finish, after
    /// which its scratch file goes.
    scratch_readers: Mutex<std::collections::HashMap<Hash, usize>>,
    remote: Option<&'a bounce_cache::RemoteCache>,
    sync: Option<CacheSync>,
    /// Measurements of PCM streams, shared by the files that carry them.
    measures: crate::render::Measures,
    /// The keys of the steps whose outputs the shared cache gave.
    from_remote: Mutex<BTreeMap<NodeIndex, Hash>>,
}

impl<'a> Run<'a> {
    /// A run of `plan`'s `selected` steps with nothing done yet, finding
    /// outputs in `cache` (and the shared cache, `remote`).
    #[allow(clippy::too_many_arguments)]
    fn new(
        plan: &'a Plan,
        selected: &'a BTreeSet<NodeIndex>,
        cache: &'a Cache,
        stat: &'a StatCache,
        rate: u32,
        observer: &'a dyn Observer,
        records: &'a StepRecords,
        remote: Option<&'a bounce_cache::RemoteCache>,
        sync: Option<CacheSync>,
    ) -> Self {
        let steps = plan.graph.node_count();
        Run {
            plan,
            selected,
            cache,
            stat,
            rate,
            observer,
            records,
            results: (0..steps).map(|_| OnceLock::new()).collect(),
            errors: Mutex::new(Vec::new()),
            restoring: (0..steps).map(|_| Mutex::new(())).collect(),
            scratch_readers: Mutex::new(std::collections::HashMap::new()),
            remote,
            sync,
            measures: crate::render::Measures::default(),
            from_remote: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Run<'_> {
    /// A run of the same build with nothing done yet, watched by `observer`.
    fn fresh<'b>(&'b self, observer: &'b dyn Observer) -> Run<'b> {
        Run::new(
            self.plan,
            self.selected,
            self.cache,
            self.stat,
            self.rate,
            observer,
            self.records,
            self.remote,
            self.sync,
        )
    }

    /// Renders every selected step once its inputs are done, on `jobs`
    /// threads, through the scheduler: of the steps ready to run, each
    /// worker takes the one with the costliest path still ahead of it
    /// (critical-path scheduling), so every track's stems and mix come
    /// before any track's long serial run of master, resample, fits and
    /// files, and at the end those runs share the cores instead of the
    /// last one running alone.
    fn execute(&self, selected: &BTreeSet<NodeIndex>, jobs: usize) -> Result<(), BuildError> {
        let jobs = worker_count(jobs, selected.len());
        let dag = Dag::new(
            self.plan
                .graph
                .node_indices()
                .map(|n| self.plan.inputs_of(n).iter().map(|i| i.index()).collect())
                .collect(),
        );
        let chosen: Vec<bool> = self
            .plan
            .graph
            .node_indices()
            .map(|n| selected.contains(&n))
            .collect();
        schedule::run(&dag, &chosen, jobs, self).map_err(|e| BuildError::Threads {
            jobs,
            reason: e.to_string(),
        })
    }

    /// The outputs of a step's inputs, or `None` if any has none (failed,
    /// or stale in a dry run).
    fn finished_inputs(&self, node: NodeIndex) -> Option<Inputs<'_>> {
        self.plan
            .inputs_of(node)
            .into_iter()
            .map(|i| match self.results[i.index()].get() {
                Some(StepResult::Done(output, ..)) => Some((
                    i,
                    Input {
                        step: &self.plan.graph[i],
                        output,
                    },
                )),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(Inputs::new)
    }

    /// A step that failed on inputs the shared cache gave drops their
    /// local entries: an entry naming the wrong audio would otherwise
    /// fail every later build, with the remote or without it.
    fn forget_remote_inputs(&self, node: NodeIndex) {
        let given = self.from_remote.lock().expect("remote lock");
        for input in self
            .plan
            .graph
            .neighbors_directed(node, petgraph::Direction::Incoming)
        {
            if let Some(key) = given.get(&input) {
                self.cache.remove_action(key);
            }
        }
    }

    /// A failed step's error, said once in the report; a damaged cached
    /// input goes, so the next build renders it.
    fn failed(&self, error: BuildError) -> String {
        if let BuildError::Audio {
            source: bounce_nodes::AudioError::Damaged { path },
            ..
        } = &error
        {
            let _ = std::fs::remove_file(path);
        }
        let message = error.to_string();
        self.errors
            .lock()
            .expect("errors lock")
            .push(message.clone());
        message
    }

    /// A source step's content hash (`None` for other steps).
    fn content(&self, step: &Step) -> Result<Option<Hash>, BuildError> {
        match &step.action {
            Action::ReadFile { path } => Ok(Some(self.stat.hash(path)?)),
            _ => Ok(None),
        }
    }

    /// The inputs of a step the scheduler started: they all ended well.
    fn ready_inputs(&self, node: NodeIndex) -> Inputs<'_> {
        self.finished_inputs(node)
            .expect("the scheduler starts a step once its inputs are done")
    }

    /// Refuses to start a step whose output cannot fit on the cache's
    /// file system: a long track fails at once with the figures instead of
    /// filling the disk. The output is at most its longest input (or its
    /// stated length) as stereo float, twice over for the temporary file.
    fn check_space(&self, step: &Step, inputs: &Inputs) -> Result<(), BuildError> {
        let rate = self.rate as f64;
        // The longest input, at the processing rate.
        let longest = inputs
            .iter()
            .map(|i| i.output.info.frames as f64 * rate / i.output.info.sample_rate.max(1) as f64)
            .fold(0.0, f64::max);
        let frames = match &step.action {
            Action::Mix {
                length: Some(length),
                ..
            } => length * rate,
            Action::Stem { offset, .. } => longest + offset * rate,
            _ => longest,
        };
        let needed = (frames * 2.0 * 4.0 * 2.0) as u64;
        let free = self.cache.available_space()?;
        if needed > free {
            return Err(BuildError::NoSpace {
                step: step.id.clone(),
                needed,
                free,
                dir: self.cache.root().to_path_buf(),
            });
        }
        Ok(())
    }

    /// Counts the selected consumers that will read a transient output.
    fn add_scratch_readers(&self, node: NodeIndex, hash: Hash) {
        let readers = self
            .plan
            .graph
            .neighbors_directed(node, Direction::Outgoing)
            .filter(|n| self.selected.contains(n))
            .count();
        let mut counts = self.scratch_readers.lock().expect("scratch lock");
        *counts.entry(hash).or_default() += readers;
        if counts[&hash] == 0 {
            counts.remove(&hash);
            self.cache.drop_scratch(&hash);
        }
    }

    /// A consumer is done with its transient inputs: the last one to
    /// finish drops each scratch file.
    fn release_scratch_inputs(&self, node: NodeIndex) {
        let mut counts = self.scratch_readers.lock().expect("scratch lock");
        for input in self.plan.inputs_of(node) {
            if !self.plan.graph[input].kind.is_transient() {
                continue;
            }
            let Some(StepResult::Done(output, ..)) = self.results[input.index()].get() else {
                continue;
            };
            if let Some(count) = counts.get_mut(&output.hash) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(&output.hash);
                    self.cache.drop_scratch(&output.hash);
                }
            }
        }
    }

    /// Renders again, into scratch, the transient inputs of `node` whose
    /// output is gone (kept by no earlier build), so `node` can read them.
    fn restore_transient_inputs(&self, node: NodeIndex) -> Result<(), BuildError> {
        for input in self.plan.inputs_of(node) {
            let step = &self.plan.graph[input];
            if !step.kind.is_transient() {
                continue;
            }
            let Some(StepResult::Done(output, ..)) = self.results[input.index()].get() else {
                continue;
            };
            let _restoring = self.restoring[input.index()].lock().expect("restore lock");
            if self.cache.has_output(&output.hash) {
                continue;
            }
            self.restore_transient_inputs(input)?;
            let inputs = self
                .finished_inputs(input)
                .expect("a finished step's inputs are finished");
            let again = Renderer {
                cache: self.cache,
                rate: self.rate,
                measures: &self.measures,
            }
            .render(step, &inputs)?;
            if again.hash != output.hash {
                self.cache.drop_scratch(&again.hash);
                // The entry names other audio than its step makes (a
                // shared cache's entry, or a damaged one): it goes, so
                // the next build renders the step, remote or not.
                let inputs: Vec<Hash> = inputs.iter().map(|i| i.output.hash).collect();
                let key = step_key(step, self.rate, &inputs, self.content(step)?);
                self.cache.remove_action(&key);
                return Err(BuildError::NotReproducible {
                    step: step.id.clone(),
                });
            }
        }
        Ok(())
    }

    /// The record of a step's `key` (made from these inputs and content),
    /// and why it is not in the cache.
    fn explain(
        &self,
        step: &Step,
        key: Hash,
        inputs: &Inputs,
        content: Option<Hash>,
    ) -> (StepRecord, RebuildReason) {
        let hashes: Vec<Hash> = inputs.iter().map(|i| i.output.hash).collect();
        let record = StepRecord {
            key,
            material: key_json(step, self.rate, &hashes, content),
        };
        let names: Vec<&str> = inputs.iter().map(|i| i.step.id.as_str()).collect();
        let source = match &step.action {
            Action::ReadFile { path } => Some(path.as_path()),
            _ => None,
        };
        let why = reason(
            self.records.get(&step.id),
            &record.key,
            &record.material,
            &names,
            source,
        );
        (record, why)
    }

    /// The step as found in the cache, with the record of its key when
    /// it differs from the last build's.
    fn found(
        &self,
        node: NodeIndex,
        key: Hash,
        output: StepOutput,
        remote: bool,
    ) -> Result<Ran, BuildError> {
        let step = &self.plan.graph[node];
        // Recorded already (the usual case): nothing to copy or keep.
        let record = match self.records.get(&step.id) {
            Some(known) if known.key == key => None,
            _ => {
                let inputs = self.ready_inputs(node);
                let hashes: Vec<Hash> = inputs.iter().map(|i| i.output.hash).collect();
                Some(StepRecord {
                    key,
                    material: key_json(step, self.rate, &hashes, self.content(step)?),
                })
            }
        };
        Ok(Ran {
            output,
            status: Status::Cached,
            key,
            record,
            reason: None,
            remote,
        })
    }

    /// Renders a step no cache holds, keeps its output and says why it
    /// rendered.
    fn render_step(&self, node: NodeIndex, step: &Step, key: Hash) -> Result<Ran, BuildError> {
        let inputs = self.ready_inputs(node);
        let content = self.content(step)?;
        let (record, why) = self.explain(step, key, &inputs, content);
        if !is_source(step) {
            // Sources are read where they lie: they write nothing.
            self.check_space(step, &inputs)?;
        }
        self.restore_transient_inputs(node)?;
        let output = match &step.action {
            Action::ReadFile { path } => read_source(path).map_err(|source| BuildError::Audio {
                step: step.id.clone(),
                source,
            })?,
            Action::Tone { length, .. } => StepOutput {
                hash: key,
                info: OutputInfo::pcm(
                    self.rate,
                    (length * self.rate as f64).round() as u64,
                    Precision::Float,
                ),
            },
            _ => Renderer {
                cache: self.cache,
                rate: self.rate,
                measures: &self.measures,
            }
            .render(step, &inputs)?,
        };
        let entry = ActionEntry {
            output: output.hash,
            meta: serde_json::to_value(&output.info).expect("output info serialises"),
            blob: !is_source(step) && !step.kind.is_transient(),
            also: output.info.also.clone(),
        };
        self.cache.put_action(&key, &entry)?;
        if let Some(remote) = self.remote {
            remote.upload(self.cache, &key, &entry);
        }
        Ok(Ran {
            output,
            status: Status::Built,
            key,
            record: Some(record),
            reason: Some(why),
            remote: false,
        })
    }

    /// A cached output for `key`, if its entry and (for rendered steps) its
    /// blob are both there, locally or on the remote; and whether the
    /// remote supplied either. With `fetch` a remote blob is downloaded
    /// (checked against its hash) and the entry kept locally; without (a
    /// dry run) the remote is only asked.
    fn lookup(
        &self,
        step: &Step,
        key: &Hash,
        fetch: bool,
    ) -> Result<Option<(StepOutput, bool)>, BuildError> {
        let (entry, mut from_remote) = match self.cache.action(key) {
            Some(entry) => (entry, false),
            None => match self.remote.map(|r| r.action(key)).transpose()?.flatten() {
                Some(entry) => (entry, true),
                None => return Ok(None),
            },
        };
        let Ok(mut info) = serde_json::from_value::<OutputInfo>(entry.meta.clone()) else {
            return Ok(None);
        };
        info.also.clone_from(&entry.also);
        // A transient output is rendered again when a consumer needs it.
        let own = (!is_source(step) && !step.kind.is_transient()).then_some(&entry.output);
        for blob in own.into_iter().chain(&entry.also) {
            if self.cache.has_blob(blob) {
                self.cache.touch_blob(blob);
            } else {
                let found = match self.remote {
                    Some(remote) if fetch => remote.fetch_blob(self.cache, blob, key)?,
                    Some(remote) => remote.has_blob(blob),
                    None => false,
                };
                if !found {
                    return Ok(None);
                }
                from_remote = true;
            }
        }
        if from_remote {
            if let Some(remote) = self.remote {
                remote.hit();
            }
            if fetch {
                self.cache.put_action(key, &entry)?;
            }
        }
        Ok(Some((
            StepOutput {
                hash: entry.output,
                info,
            },
            from_remote,
        )))
    }

    /// Walks the graph in order, finding what is cached without rendering,
    /// and saying why each stale step would render.
    fn dry_run(&self, selected: &BTreeSet<NodeIndex>) -> Result<(), BuildError> {
        let order = petgraph::algo::toposort(&self.plan.graph, None).expect("the plan is acyclic");
        for node in order.into_iter().filter(|n| selected.contains(n)) {
            let step = &self.plan.graph[node];
            let mut remote = false;
            let (outcome, key, why) = match self.finished_inputs(node) {
                None => {
                    let stale = self
                        .plan
                        .inputs_of(node)
                        .iter()
                        .find(|i| {
                            !matches!(self.results[i.index()].get(), Some(StepResult::Done(..)))
                        })
                        .map(|i| self.plan.graph[*i].id.as_str())
                        .unwrap_or("an input");
                    (
                        StepResult::Stale,
                        None,
                        Some(RebuildReason::InputRenders {
                            step: stale.to_string(),
                        }),
                    )
                }
                Some(inputs) => {
                    let content = match &step.action {
                        Action::ReadFile { path } => self.stat.hash(path).ok(),
                        _ => None,
                    };
                    let hashes: Vec<Hash> = inputs.iter().map(|i| i.output.hash).collect();
                    let key = step_key(step, self.rate, &hashes, content);
                    let pull = self.sync == Some(CacheSync::Pull);
                    match self.lookup(step, &key, pull)? {
                        Some((output, from_remote)) => {
                            remote = from_remote;
                            if let (Some(CacheSync::Push), Some(target), false) =
                                (self.sync, self.remote, from_remote)
                            {
                                if let Some(entry) = self.cache.action(&key) {
                                    target.upload(self.cache, &key, &entry);
                                }
                            }
                            (
                                StepResult::Done(Box::new(output), Status::Cached, None),
                                Some(key),
                                None,
                            )
                        }
                        None => {
                            let (_, why) = self.explain(step, key, &inputs, content);
                            (StepResult::Stale, None, Some(why))
                        }
                    }
                }
            };
            let status = match outcome {
                StepResult::Done(..) => Status::Cached,
                _ => Status::Stale,
            };
            self.observer.finished(&StepEvent {
                step,
                status,
                millis: 0,
                key,
                error: None,
                warnings: Vec::new(),
                notes: Vec::new(),
                reason: why,
                remote,
                seconds: match &outcome {
                    StepResult::Done(output, ..) => Some(output.info.seconds()),
                    _ => None,
                },
            });
            let _ = self.results[node.index()].set(outcome);
        }
        Ok(())
    }
}

/// The build as the scheduler sees it: keys from the plan, the cache as
/// the store, the renderer for what it lacks.
impl Work for Run<'_> {
    type Output = Ran;

    fn cost(&self, step: usize) -> u64 {
        self.plan.graph[NodeIndex::new(step)].typical_cost()
    }

    fn start(&self, step: usize) {
        self.observer
            .started(&self.plan.graph[NodeIndex::new(step)]);
    }

    fn key(&self, step: usize) -> Result<Hash, String> {
        let node = NodeIndex::new(step);
        let step = &self.plan.graph[node];
        let hashes: Vec<Hash> = self
            .ready_inputs(node)
            .iter()
            .map(|i| i.output.hash)
            .collect();
        let content = self.content(step).map_err(|e| self.failed(e))?;
        Ok(step_key(step, self.rate, &hashes, content))
    }

    fn find(&self, step: usize, key: &Hash) -> Result<Option<Ran>, String> {
        let node = NodeIndex::new(step);
        let found = self
            .lookup(&self.plan.graph[node], key, true)
            .map_err(|e| self.failed(e))?;
        if let Some((_, true)) = &found {
            self.from_remote
                .lock()
                .expect("remote lock")
                .insert(node, *key);
        }
        found
            .map(|(output, remote)| self.found(node, *key, output, remote))
            .transpose()
            .map_err(|e| self.failed(e))
    }

    fn render(&self, step: usize, key: &Hash) -> Result<Ran, String> {
        let node = NodeIndex::new(step);
        let step = &self.plan.graph[node];
        // A panic is a failed step, never a worker gone with the cache
        // lock held (the scheduler would wait for it forever).
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.render_step(node, step, *key)
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(BuildError::Panicked {
                step: step.id.clone(),
                what: what.to_string(),
            })
        });
        rendered.map_err(|e| {
            self.forget_remote_inputs(node);
            self.failed(e)
        })
    }

    fn settle(&self, step: usize, ended: Ended<Ran>, millis: u64) {
        let node = NodeIndex::new(step);
        let step = &self.plan.graph[node];
        let (outcome, event) = match ended {
            Ended::Found(ran) | Ended::Rendered(ran) => {
                let event = StepEvent {
                    step,
                    status: ran.status,
                    millis,
                    key: Some(ran.key),
                    error: None,
                    warnings: ran.output.info.warnings.clone(),
                    notes: ran.output.info.notes.clone(),
                    reason: ran.reason,
                    remote: ran.remote,
                    seconds: Some(ran.output.info.seconds()),
                };
                let record = ran.record.map(|r| (step.id.clone(), r));
                (
                    StepResult::Done(Box::new(ran.output), ran.status, record),
                    event,
                )
            }
            Ended::Failed(error) => (StepResult::Failed, StepEvent::failed(step, millis, error)),
            Ended::InputFailed => (
                StepResult::Failed,
                StepEvent::failed(step, millis, INPUT_FAILED.into()),
            ),
        };
        self.observer.finished(&event);
        if let StepResult::Done(output, ..) = &outcome {
            if step.kind.is_transient() {
                self.add_scratch_readers(node, output.hash);
            }
        }
        let _ = self.results[node.index()].set(outcome);
        self.release_scratch_inputs(node);
    }
}

/// Worker threads for `asked` (0: one per core): never more than the
/// cores, which the rendering keeps busy, nor than the steps to run. The
/// bytes are the same at any count.
fn worker_count(asked: usize, steps: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let asked = if asked == 0 { cores } else { asked };
    asked.min(cores).min(steps.max(1))
}

/// Sources are read, not rendered: their outputs name no blob.
fn is_source(step: &Step) -> bool {
    matches!(step.action, Action::ReadFile { .. } | Action::Tone { .. })
}

/// A step found or rendered: its output, how, its key record, and why it
/// rendered.
struct Ran {
    output: StepOutput,
    status: Status,
    key: Hash,
    /// A record for the next build, when it differs from the last one.
    record: Option<StepRecord>,
    reason: Option<RebuildReason>,
    /// Found in the remote cache.
    remote: bool,
}
