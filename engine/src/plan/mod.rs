//! Planning: a project becomes a DAG of steps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bounce_nodes::processors::FadeCurve;
use bounce_nodes::{PanLaw, ProcessorSpec, DUAL_MONO_GAIN_DB};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::Code;
use crate::diagnostic::ProjectDiagnostic;
use crate::diagnostic::ProjectErrors;
use crate::limiter::master_limiter;
use crate::model::*;
use crate::step::{Action, EncodeSettings, SpecCheck, Step, StepKind, TagFields};
use crate::targets::DEFAULT_CEILING_DBTP;
use crate::template::{render, TemplateValues};

mod podcast;
mod report_steps;
pub use report_steps::PlannedPreview;

/// The build graph. Edges run from an input to the step that reads it;
/// each step's action names its inputs (see [`Action::inputs`]).
pub struct Plan {
    pub graph: DiGraph<Step, ()>,
    /// The deliverable steps and where their files go, relative to the
    /// version folder.
    pub outputs: Vec<PlannedOutput>,
    /// The release report's steps, each measuring the audio of one
    /// delivered file: (the file's output step, its inspect step, or the
    /// codec comparison that inspects it); see [`Plan::add_report_steps`].
    pub inspections: Vec<(NodeIndex, NodeIndex)>,
    /// The release report's codec comparisons: (a lossy file's output
    /// step, the lossless file's it is measured against, the comparison).
    pub comparisons: Vec<(NodeIndex, NodeIndex, NodeIndex)>,
    /// The previews the report asked for.
    pub previews: Vec<PlannedPreview>,
}

#[derive(Debug, Clone)]
pub struct PlannedOutput {
    pub step: NodeIndex,
    pub deliverable: String,
    /// `None` for a file of the whole release (a CD image, its CUE sheet).
    pub track: Option<u32>,
    pub path: PathBuf,
    pub isrc: Option<String>,
    /// A lossy codec's settings in its own words, for the manifest.
    pub codec: Option<String>,
}

impl Plan {
    /// The steps `step` reads, in the order its action names them.
    pub fn inputs_of(&self, step: NodeIndex) -> Vec<NodeIndex> {
        self.graph[step].action.inputs()
    }
}

/// Adds `step` to `graph` with an edge from each input its action names.
fn add_node(graph: &mut DiGraph<Step, ()>, step: Step) -> NodeIndex {
    let inputs = step.action.inputs();
    let index = graph.add_node(step);
    for input in inputs {
        graph.add_edge(input, index, ());
    }
    index
}

struct Planner {
    graph: DiGraph<Step, ()>,
    by_id: BTreeMap<String, NodeIndex>,
}

impl Planner {
    /// Adds `step`, unless a step of its id is planned already (two
    /// deliverables of one master share its steps): that one is returned.
    fn add(&mut self, step: Step) -> NodeIndex {
        if let Some(existing) = self.by_id.get(&step.id) {
            return *existing;
        }
        let id = step.id.clone();
        let index = add_node(&mut self.graph, step);
        self.by_id.insert(id, index);
        index
    }

    /// The mix of a track, with everything that feeds it.
    fn plan_mix(&mut self, track: &Track) -> NodeIndex {
        let number = track.number;
        let mut nodes: BTreeMap<&str, NodeIndex> = BTreeMap::new();
        // A stem that ducks under others comes after them: it reads them.
        let ducks = |s: &Source| s.chain.iter().any(|p| p.ducks_under().is_some());
        let plain = track.sources.iter().filter(|s| !s.mute && !ducks(s));
        let ducking = track.sources.iter().filter(|s| !s.mute && ducks(s));
        for source in plain.chain(ducking) {
            let keys = duck_keys(&source.chain, &nodes);
            let read = match &source.kind {
                SourceKind::File(path) => Action::ReadFile { path: path.clone() },
                SourceKind::Tone {
                    freq,
                    level,
                    length,
                } => Action::Tone {
                    freq: *freq,
                    level: *level,
                    length: *length,
                },
            };
            let source_step = self.add(Step {
                id: format!("source:{number}:{}", source.name),
                kind: StepKind::Source,
                track: Some(number),
                action: read,
            });
            let stem = self.add(Step {
                id: format!("stem:{number}:{}", source.name),
                kind: StepKind::Stem,
                track: Some(number),
                action: Action::Stem {
                    // The pan law follows the source's channels: it
                    // is resolved when the source is read.
                    chain: with_fader(&source.chain, source.gain, source.pan, PanLaw::Auto),
                    offset: source.offset,
                    trim: source.trim.clone(),
                    source: source_step,
                    keys,
                },
            });
            nodes.insert(&source.name, stem);
        }
        // Buses in an order where members come first: repeat until settled
        // (routing was checked acyclic when the project was read).
        let mut pending: Vec<&Bus> = track.buses.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|bus| {
                let muted = |m: &str| track.sources.iter().any(|s| s.name == m && s.mute);
                let ready = bus
                    .members
                    .iter()
                    .all(|(m, _)| nodes.contains_key(m.as_str()) || muted(m));
                if !ready {
                    return true;
                }
                let members: Vec<NodeIndex> = bus
                    .members
                    .iter()
                    .filter_map(|(m, _)| nodes.get(m.as_str()).copied())
                    .collect();
                let keys = duck_keys(&bus.chain, &nodes);
                let index = self.add(Step {
                    id: format!("bus:{number}:{}", bus.name),
                    kind: StepKind::Bus,
                    track: Some(number),
                    action: Action::Bus {
                        chain: with_fader(&bus.chain, bus.gain, bus.pan, PanLaw::Balance),
                        members,
                        keys,
                    },
                });
                nodes.insert(&bus.name, index);
                false
            });
            assert!(pending.len() < before, "bus routing has a cycle");
        }
        let routed: Vec<&str> = track
            .buses
            .iter()
            .flat_map(|b| b.members.iter().map(|(m, _)| m.as_str()))
            .collect();
        // Declaration order: sources, then buses, as written.
        let unrouted: Vec<NodeIndex> = track
            .sources
            .iter()
            .map(|s| s.name.as_str())
            .chain(track.buses.iter().map(|b| b.name.as_str()))
            .filter(|name| !routed.contains(name))
            .filter_map(|name| nodes.get(name).copied())
            .collect();
        self.add(Step {
            id: format!("mix:{number}"),
            kind: StepKind::Mix,
            track: Some(number),
            action: Action::Mix {
                chain: with_fades(&track.mix, track),
                length: track.length,
                parts: unrouted,
            },
        })
    }
}

/// The steps of the stems a chain's `duck`s listen to.
fn duck_keys(chain: &[ProcessorSpec], nodes: &BTreeMap<&str, NodeIndex>) -> Vec<NodeIndex> {
    chain
        .iter()
        .filter_map(ProcessorSpec::ducks_under)
        .flatten()
        .filter_map(|name| nodes.get(name.as_str()).copied())
        .collect()
}

/// A chain followed by a fader and a pan, as every stem and bus ends.
fn with_fader(chain: &[ProcessorSpec], gain: f64, pan: f64, law: PanLaw) -> Vec<ProcessorSpec> {
    let mut full = chain.to_vec();
    full.push(ProcessorSpec::Gain { db: gain });
    full.push(ProcessorSpec::Pan { position: pan, law });
    full
}

/// The mix chain followed by the track's fades, if it has any (one curve
/// for both: the fade-in's, else the fade-out's).
fn with_fades(chain: &[ProcessorSpec], track: &Track) -> Vec<ProcessorSpec> {
    let mut full = chain.to_vec();
    if track.fade_in.is_some() || track.fade_out.is_some() {
        full.push(ProcessorSpec::Fade {
            fade_in: track.fade_in.map(|f| f.seconds).unwrap_or(0.0),
            fade_out: track.fade_out.map(|f| f.seconds).unwrap_or(0.0),
            curve: track
                .fade_in
                .or(track.fade_out)
                .map(|f| f.curve)
                .unwrap_or(FadeCurve::Cos),
        });
    }
    full
}

/// How a deliverable encodes a master or a stem.
fn encode_action(
    deliverable: &Deliverable,
    (rate, ceiling): (u32, Option<f64>),
    keep_loudness: bool,
    check: Option<SpecCheck>,
    (master, fit, resampled): (NodeIndex, Option<NodeIndex>, Option<NodeIndex>),
) -> Action {
    Action::Encode {
        file: EncodeSettings {
            container: deliverable.format.container(),
            bits: deliverable.bits,
            float: deliverable.float,
            rate,
            dither: deliverable.dither,
            mp3: deliverable.format.mp3(),
            channels: deliverable.format.channels,
            ceiling,
            keep_loudness,
            check,
        },
        master,
        fit,
        resampled,
    }
}

/// The step that tags one file of a deliverable (a stem's, if named).
fn tag_step(
    deliverable: &Deliverable,
    (track, stem): (&Track, Option<&str>),
    fields: TagFields,
    (encoded, album): (NodeIndex, Option<NodeIndex>),
) -> Step {
    let stem = stem.map(|s| format!(":{s}")).unwrap_or_default();
    Step {
        id: format!("tag:{}:{}{stem}", deliverable.name, track.number),
        kind: StepKind::Tag,
        track: Some(track.number),
        action: Action::Tag {
            container: deliverable.format.container(),
            fields: Box::new(fields),
            encoded,
            album,
        },
    }
}

/// Renders the output path of one file (a stem's, if named) and claims it,
/// reporting a failed template or a path another file claimed; `None` when
/// there is no path to write to.
fn claim_path(
    project: &Project,
    deliverable: &Deliverable,
    track: &Track,
    stem: Option<&str>,
    paths: &mut BTreeMap<PathBuf, String>,
    errors: &mut Vec<ProjectDiagnostic>,
) -> Option<PathBuf> {
    let values = TemplateValues {
        rev: revision_name(project, deliverable),
        release: project.release.title.clone(),
        artist: project.artist_of(track).cloned().unwrap_or_default(),
        version: project.release.version.clone(),
        deliverable: deliverable.name.clone(),
        track: Some(track.number),
        title: track.title.clone(),
        isrc: track.isrc.clone().unwrap_or_default(),
        stem: stem.unwrap_or_default().to_string(),
        ext: deliverable.format.extension().into(),
    };
    let path = match render(&deliverable.path, &values) {
        Ok(path) => path,
        Err(why) => {
            errors.push(ProjectDiagnostic::new(&deliverable.span, why).code(Code::BadTemplate));
            return None;
        }
    };
    if let Some(reserved) = reserved_name(&path) {
        errors.push(
            ProjectDiagnostic::new(
                &deliverable.span,
                format!("the path \"{}\" is bounce's own {reserved}", path.display()),
            )
            .code(Code::BadDeliverable)
            .help("choose another name for the deliverable's files"),
        );
        return None;
    }
    let full = project
        .release
        .output
        .join(&project.release.version)
        .join(&path);
    let bytes = full.as_os_str().len();
    if bytes >= crate::template::MAX_PATH_BYTES {
        errors.push(
            ProjectDiagnostic::new(
                &deliverable.span,
                format!(
                    "the file's full path is {bytes} bytes long; file systems take at most {}",
                    crate::template::MAX_PATH_BYTES - 1
                ),
            )
            .code(Code::BadDeliverable)
            .help("shorten the template, the version or the output folder's path"),
        );
        return None;
    }
    let mut who = format!(
        "deliverable \"{}\", track {}",
        deliverable.name, track.number
    );
    if let Some(stem) = stem {
        who.push_str(&format!(", stem \"{stem}\""));
    }
    if let Some(other) = paths.insert(case_folded(&path), who.clone()) {
        let help = match stem {
            Some(_) if deliverable.path.contains("{stem}") => {
                "give the stems names that differ in more than letter case"
            }
            Some(_) => "put {stem} in the deliverable's path template",
            None => "give the deliverables path templates that differ, e.g. with {deliverable} or {track}",
        };
        errors.push(
            ProjectDiagnostic::new(
                &deliverable.span,
                format!("{who} and {other} both write {}", path.display()),
            )
            .code(Code::BadDeliverable)
            .help(help),
        );
    }
    Some(path)
}

/// Sources and outputs never overlap: a file the project reads may not
/// lie in the version folder, where publishing and `clean` write and
/// remove (docs/commands.md, "What bounce writes and removes").
fn inputs_in_the_version_folder(project: &Project) -> Vec<ProjectDiagnostic> {
    use crate::path_rule::resolved;
    let version = resolved(&project.release.output.join(&project.release.version));
    let inside = |path: &Path| resolved(path).starts_with(&version);
    let why = |path: &Path| {
        format!(
            "{} is inside the version folder {}, which bounce writes",
            path.display(),
            version.display()
        )
    };
    let help = "keep sources and project files out of `output`/VERSION: move the file, \
                or set `output` or `version` to another folder";
    let mut errors = Vec::new();
    for track in &project.tracks {
        for source in &track.sources {
            if let SourceKind::File(path) = &source.kind {
                if inside(path) {
                    errors.push(
                        ProjectDiagnostic::new(&source.span, why(path))
                            .code(Code::BadDeliverable)
                            .label("read from the version folder")
                            .help(help),
                    );
                }
            }
        }
    }
    let others = std::iter::once(&project.file)
        .chain(&project.files)
        .chain(&project.release.cover)
        .chain(project.references.iter().map(|r| &r.path));
    // The cache beside the project (a `--cache-dir` elsewhere is checked
    // when a build opens it).
    let cache = project.dir().join(".bounce");
    if let Some(input) = crate::path_rule::input_inside(project, &cache) {
        errors.push(
            ProjectDiagnostic::global(format!(
                "{} is inside the cache folder {}, which bounce writes and evicts",
                input.display(),
                cache.display()
            ))
            .code(Code::BadDeliverable)
            .help("keep sources out of the cache folder"),
        );
    }
    let mut seen = BTreeSet::new();
    for path in others {
        if inside(path) && seen.insert(path.clone()) {
            errors.push(
                ProjectDiagnostic::global(why(path))
                    .code(Code::BadDeliverable)
                    .help(help),
            );
        }
    }
    errors
}

/// Names that differ only in case are one file on macOS and Windows.
fn case_folded(path: &Path) -> PathBuf {
    PathBuf::from(path.to_string_lossy().to_lowercase())
}

/// What a version folder's own file `path` would overwrite, if any.
fn reserved_name(path: &Path) -> Option<&'static str> {
    let text = path.to_string_lossy().to_lowercase();
    let first = path
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if text == crate::publish::manifest::MANIFEST {
        Some("manifest")
    } else if text == crate::publish::manifest::RELEASE_LOCK {
        Some("release lock")
    } else if first == crate::publish::transaction::STAGE {
        Some("staging folder")
    } else if first == crate::publish::manifest::REPORT_DIR {
        Some("release report folder")
    } else {
        None
    }
}

/// The image and CUE sheet of a CD deliverable, from its tracks' files
/// (in disc order).
fn plan_cd(
    planner: &mut Planner,
    project: &Project,
    deliverable: &Deliverable,
    tracks: &[(&Track, NodeIndex)],
    (outputs, paths, errors): (
        &mut Vec<PlannedOutput>,
        &mut BTreeMap<PathBuf, String>,
        &mut Vec<ProjectDiagnostic>,
    ),
) {
    let release = &project.release;
    let values = release_values(project, deliverable, deliverable.format.extension());
    let image_path = match render(&deliverable.path, &values) {
        Ok(path) => path,
        Err(why) => {
            errors.push(ProjectDiagnostic::new(&deliverable.span, why).code(Code::BadTemplate));
            return;
        }
    };
    let cue_path = image_path.with_extension("cue");
    for path in [&image_path, &cue_path] {
        claim_whole_path(path, deliverable, paths, errors);
    }
    let gaps: Vec<u64> = tracks
        .iter()
        .map(|(t, _)| bounce_nodes::cd_frames(t.gap))
        .collect();
    let files: Vec<NodeIndex> = tracks.iter().map(|(_, e)| *e).collect();
    let text = bounce_nodes::CueText {
        file: image_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        // A UPC-A is an EAN-13 with a leading zero.
        catalog: release.upc.as_ref().map(|upc| format!("{upc:0>13}")),
        title: release.title.clone(),
        performer: release.artist.clone(),
        tracks: tracks
            .iter()
            .map(|(track, _)| bounce_nodes::CueTrack {
                title: track.title.clone(),
                // Every track names its performer (CD-Text readers show
                // each track's): its own artist, else the release's.
                performer: project.artist_of(track).cloned(),
                songwriter: track.composer.clone().or_else(|| release.composer.clone()),
                isrc: track.isrc.clone(),
            })
            .collect(),
    };
    let image = planner.add(Step {
        id: format!("image:{}", deliverable.name),
        kind: StepKind::Image,
        track: None,
        action: Action::CdImage {
            gaps: gaps.clone(),
            files: files.clone(),
        },
    });
    let cue = planner.add(Step {
        id: format!("cue:{}", deliverable.name),
        kind: StepKind::Cue,
        track: None,
        action: Action::CueSheet { text, gaps, files },
    });
    for (step, path) in [(image, image_path), (cue, cue_path)] {
        outputs.push(PlannedOutput {
            step,
            deliverable: deliverable.name.clone(),
            track: None,
            path,
            isrc: None,
            codec: None,
        });
    }
}

/// The template's values for a file of the whole release (a CD image, a
/// feed): no track's, the release's title as `{title}`.
fn release_values(project: &Project, deliverable: &Deliverable, ext: &str) -> TemplateValues {
    let release = &project.release;
    TemplateValues {
        rev: revision_name(project, deliverable),
        release: release.title.clone(),
        artist: release.artist.clone().unwrap_or_default(),
        version: release.version.clone(),
        deliverable: deliverable.name.clone(),
        title: release.title.clone(),
        ext: ext.into(),
        ..TemplateValues::default()
    }
}

/// Claims a path of a deliverable that is no track's file (a CD image,
/// its CUE sheet, a feed, a chapters file): not one of bounce's own
/// names, and no other output's.
fn claim_whole_path(
    path: &Path,
    deliverable: &Deliverable,
    paths: &mut BTreeMap<PathBuf, String>,
    errors: &mut Vec<ProjectDiagnostic>,
) {
    let who = format!("deliverable \"{}\"", deliverable.name);
    if let Some(reserved) = reserved_name(path) {
        errors.push(
            ProjectDiagnostic::new(
                &deliverable.span,
                format!("the path \"{}\" is bounce's own {reserved}", path.display()),
            )
            .code(Code::BadDeliverable),
        );
    } else if let Some(other) = paths.insert(case_folded(path), who.clone()) {
        errors.push(
            ProjectDiagnostic::new(
                &deliverable.span,
                format!("{who} and {other} both write {}", path.display()),
            )
            .code(Code::BadDeliverable),
        );
    }
}

/// `{rev}` for a deliverable's paths: the revision the project was read
/// from, or the work tree's `git describe` (asked only of templates that
/// use it), or `unversioned` outside git.
fn revision_name(project: &Project, deliverable: &Deliverable) -> String {
    if !deliverable.path.contains("{rev}") {
        return String::new();
    }
    match &project.revision {
        Some(revision) => revision.describe.clone(),
        None => crate::revision::describe_work_tree(&project.dir())
            .unwrap_or_else(|| "unversioned".into()),
    }
}

/// What a track's files say about themselves.
fn tag_fields(
    project: &Project,
    deliverable: &Deliverable,
    track: &Track,
    total: u32,
) -> TagFields {
    let release = &project.release;
    TagFields {
        text: bounce_nodes::TagText {
            title: track.title.clone(),
            artist: project.artist_of(track).cloned(),
            album: release.title.clone(),
            track: track.number,
            track_total: total,
            year: release.year,
            genre: track.genre.clone().or_else(|| release.genre.clone()),
            label: release.label.clone(),
            copyright: release.copyright.clone(),
            composer: track.composer.clone().or_else(|| release.composer.clone()),
            isrc: track.isrc.clone(),
            upc: release.upc.clone(),
            bext: deliverable
                .format
                .kind
                .bext()
                .then(|| bext_info(project, track)),
            chapters: track.chapters.clone(),
            episode: track.episode.clone(),
        },
        cover_hash: release.cover_hash.clone(),
        cover_path: release.cover.clone(),
    }
}

/// The descriptive `bext` fields of a track's broadcast WAV: title and
/// artist, the label (or artist) as originator, the ISRC as reference, and
/// a date from `SOURCE_DATE_EPOCH` or the release's year, never the clock.
fn bext_info(project: &Project, track: &Track) -> bounce_nodes::BextInfo {
    let release = &project.release;
    let artist = project.artist_of(track);
    let (origination_date, origination_time) = match source_date_epoch() {
        Some(seconds) => civil_date_time(seconds),
        None => (
            release
                .year
                .map(|y| format!("{y:04}-01-01"))
                .unwrap_or_default(),
            "00:00:00".to_string(),
        ),
    };
    bounce_nodes::BextInfo {
        description: match artist {
            Some(artist) => format!("{artist} - {}", track.title),
            None => track.title.clone(),
        },
        originator: release
            .label
            .clone()
            .or_else(|| artist.cloned())
            .unwrap_or_default(),
        originator_reference: track.isrc.clone().unwrap_or_default(),
        origination_date,
        origination_time,
    }
}

/// `SOURCE_DATE_EPOCH`, as reproducible builds define it.
fn source_date_epoch() -> Option<i64> {
    std::env::var("SOURCE_DATE_EPOCH").ok()?.trim().parse().ok()
}

/// UTC `yyyy-mm-dd` and `hh:mm:ss` of a Unix time (days to civil date after
/// Howard Hinnant's algorithm).
fn civil_date_time(seconds: i64) -> (String, String) {
    let days = seconds.div_euclid(86400);
    let secs = seconds.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        ),
    )
}

/// The files a plan writes so far, the paths they claimed (case-folded,
/// with who claimed each) and what the project got wrong on the way.
#[derive(Default)]
struct Claims {
    outputs: Vec<PlannedOutput>,
    paths: BTreeMap<PathBuf, String>,
    errors: Vec<ProjectDiagnostic>,
}

/// Turns a project into its build graph: each track's mix, then each
/// deliverable of a master (masters, files, tags or a CD), then each
/// deliverable of stems.
pub fn plan(project: &Project) -> Result<Plan, ProjectErrors> {
    let mut planner = Planner {
        graph: DiGraph::new(),
        by_id: BTreeMap::new(),
    };
    let mut mixes = BTreeMap::new();
    for track in &project.tracks {
        mixes.insert(track.number, planner.plan_mix(track));
    }
    let mut claims = Claims::default();
    for deliverable in &project.deliverables {
        if let Content::Master(master) = &deliverable.content {
            let master = project.master(master).expect("checked when read");
            planner.plan_master_files(project, deliverable, master, &mixes, &mut claims);
        }
    }
    for deliverable in &project.deliverables {
        if let Content::Stems(names) = &deliverable.content {
            planner.plan_stem_files(project, deliverable, names, &mixes, &mut claims);
        }
    }
    let mut errors = claims.errors;
    errors.extend(inputs_in_the_version_folder(project));
    if !errors.is_empty() {
        return Err(ProjectErrors(errors));
    }
    Ok(Plan {
        inspections: Vec::new(),
        comparisons: Vec::new(),
        previews: Vec::new(),
        graph: planner.graph,
        outputs: claims.outputs,
    })
}

/// A deliverable's master as it renders for that deliverable: the named
/// master, or a variant of it when a standard or the deliverable's own
/// `target=`/`ceiling=` asks for other levels.
struct MasterFor<'a> {
    master: &'a Master,
    /// The file's loudness target, LUFS as its channels are measured.
    target: Option<f64>,
    ceiling: Option<f64>,
    /// Folded down to mono for a mono file.
    mono: bool,
    /// `""` for the named master, `@TARGET/CEILING` for a variant.
    variant: String,
    /// The album step, in album mode with a target.
    album: Option<NodeIndex>,
}

impl MasterFor<'_> {
    /// The master's chain, then for a mono file the fold-down (width 0:
    /// both channels (L + R) / 2), so that its gain and limiter work on
    /// the one channel the file will hold.
    fn chain(&self) -> Vec<ProcessorSpec> {
        let fold = self.mono.then_some(ProcessorSpec::Width { width: 0.0 });
        self.master.chain.iter().cloned().chain(fold).collect()
    }

    /// The target as the master's stereo meter reads it: a mono file's
    /// channel, on both channels of the master, reads 3.01 dB over the
    /// file (BS.1770-4 weighs each channel once).
    fn stereo_target(&self) -> Option<f64> {
        self.target
            .map(|t| if self.mono { t + DUAL_MONO_GAIN_DB } else { t })
    }
}

impl Planner {
    /// The files of a deliverable of `master`: for each of its tracks the
    /// master, its fit to the file and the encoded file; then the CD image
    /// and CUE sheet, or each file's tags with the album's ReplayGain.
    fn plan_master_files(
        &mut self,
        project: &Project,
        deliverable: &Deliverable,
        master: &Master,
        mixes: &BTreeMap<u32, NodeIndex>,
        claims: &mut Claims,
    ) {
        let targets = crate::targets::resolve(deliverable, Some(master));
        let (target, ceiling) = (targets.target(), targets.ceiling());
        let mono = deliverable.format.mono();
        let variant = if (target, ceiling) == (master.target, master.ceiling) && !mono {
            String::new()
        } else {
            let show = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_else(|| "none".into());
            let channels = if mono { "/mono" } else { "" };
            format!("@{}/{}{channels}", show(target), show(ceiling))
        };
        let mut of = MasterFor {
            master,
            target,
            ceiling,
            mono,
            variant,
            album: None,
        };
        of.album = match (master.mode, of.stereo_target()) {
            (LoudnessMode::Album, Some(target)) => Some(self.add(Step {
                id: format!("album:{}{}", master.name, of.variant),
                kind: StepKind::Album,
                track: None,
                action: Action::AlbumGain {
                    chain: of.chain(),
                    target,
                    limit: master_limiter(ceiling.unwrap_or(DEFAULT_CEILING_DBTP)),
                    mixes: mixes.values().copied().collect(),
                },
            })),
            _ => None,
        };
        let mut encoded: Vec<(usize, &Track, NodeIndex)> = Vec::new();
        for track in deliverable.tracks_of(project) {
            let step = self.plan_track_file(project, deliverable, &of, track, mixes[&track.number]);
            if deliverable.format.kind.disc_image() {
                encoded.push((0, track, step));
                continue;
            }
            let claimed = claim_path(
                project,
                deliverable,
                track,
                None,
                &mut claims.paths,
                &mut claims.errors,
            );
            let Some(path) = claimed else { continue };
            encoded.push((claims.outputs.len(), track, step));
            claims.outputs.push(PlannedOutput {
                step,
                deliverable: deliverable.name.clone(),
                track: Some(track.number),
                path,
                isrc: track.isrc.clone(),
                codec: deliverable
                    .format
                    .mp3()
                    .map(bounce_nodes::Mp3Settings::describe),
            });
        }
        if deliverable.format.kind.disc_image() {
            let tracks: Vec<(&Track, NodeIndex)> =
                encoded.iter().map(|(_, t, e)| (*t, *e)).collect();
            let claimed = (&mut claims.outputs, &mut claims.paths, &mut claims.errors);
            plan_cd(self, project, deliverable, &tracks, claimed);
            return;
        }
        // Tags come last, with the album ReplayGain over the deliverable.
        let replay_gain = self.add(Step {
            id: format!("replaygain:{}", deliverable.name),
            kind: StepKind::ReplayGain,
            track: None,
            action: Action::AlbumReplayGain {
                files: encoded.iter().map(|(_, _, e)| *e).collect(),
            },
        });
        let total = project.tracks.len() as u32;
        for (output, track, encode) in &encoded {
            let fields = tag_fields(project, deliverable, track, total);
            let tag = self.add(tag_step(
                deliverable,
                (track, None),
                fields,
                (*encode, Some(replay_gain)),
            ));
            claims.outputs[*output].step = tag;
        }
        let episodes: Vec<(usize, &Track)> = encoded.iter().map(|(o, t, _)| (*o, *t)).collect();
        self.plan_feed(project, deliverable, &episodes, claims);
    }

    /// One track's file of a deliverable of a master: the master (shared
    /// by every deliverable of the same levels), its resampling and fit
    /// where the file's rate or codec asks, and the encoded file.
    fn plan_track_file(
        &mut self,
        project: &Project,
        deliverable: &Deliverable,
        of: &MasterFor,
        track: &Track,
        mix: NodeIndex,
    ) -> NodeIndex {
        let (master, variant, number) = (of.master, &of.variant, track.number);
        let (target, ceiling) = (of.target, of.ceiling);
        let master_step = self.add(Step {
            id: format!("master:{}{variant}:{number}", master.name),
            kind: StepKind::Master,
            track: Some(number),
            action: match (target, of.album.is_some()) {
                (None, false) => Action::Master {
                    // Without a target a ceiling only limits.
                    chain: of
                        .chain()
                        .into_iter()
                        .chain(ceiling.map(|c| master_limiter(c).processor()))
                        .collect(),
                    target: None,
                    limit: None,
                    album_gain: None,
                    mix,
                },
                _ => Action::Master {
                    chain: of.chain(),
                    target: of.stereo_target(),
                    limit: Some(master_limiter(ceiling.unwrap_or(DEFAULT_CEILING_DBTP))),
                    album_gain: of.album,
                    mix,
                },
            },
        });
        let rate = deliverable.file_rate(project.release.sample_rate);
        let (mut fit, mut resample) = (None, None);
        // An MP3 under a ceiling is limited lower, by what the codec adds
        // to the peaks, at any rate.
        let codec_room = deliverable
            .format
            .mp3()
            .filter(|_| ceiling.is_some())
            .map(bounce_nodes::Mp3Settings::overshoot_db);
        let resampled = rate != project.release.sample_rate;
        if resampled || codec_room.is_some() {
            // One resampling and detection of a master at a rate, for every
            // fit of it, and for a file that misses its ceiling to be
            // limited again from.
            resample = resampled.then(|| {
                self.add(Step {
                    id: format!("resample:{}{variant}:{number}:{rate}", master.name),
                    kind: StepKind::Resample,
                    track: Some(number),
                    action: Action::Resample {
                        rate,
                        master: master_step,
                    },
                })
            });
            // Shared by every deliverable of this master at this rate (and,
            // for MP3s, this codec room).
            let room = codec_room.map(|r| format!(":mp3-{r}")).unwrap_or_default();
            fit = Some(self.add(Step {
                id: format!("fit:{}{variant}:{number}:{rate}{room}", master.name),
                kind: StepKind::Fit,
                track: Some(number),
                action: Action::Fit {
                    rate,
                    ceiling: ceiling.map(|c| c - codec_room.unwrap_or(0.0)),
                    keep_loudness: target.is_some(),
                    master: master_step,
                    resampled: resample,
                },
            }));
        }
        let check = deliverable.standard.map(|standard| SpecCheck {
            standard: standard.name().to_string(),
            target: standard.target_for(deliverable.format.channels),
            tolerance: standard.tolerance(),
            max_true_peak: standard.ceiling(),
            per_file_loudness: master.mode == LoudnessMode::Track,
        });
        self.add(Step {
            id: format!("deliverable:{}:{number}", deliverable.name),
            kind: StepKind::Deliverable,
            track: Some(number),
            action: encode_action(
                deliverable,
                (rate, ceiling),
                target.is_some(),
                check,
                (master_step, fit, resample),
            ),
        })
    }

    /// The files of a deliverable of stems: each named stem or bus of each
    /// of its tracks, fitted to the track's mix, encoded and tagged.
    fn plan_stem_files(
        &mut self,
        project: &Project,
        deliverable: &Deliverable,
        names: &[String],
        mixes: &BTreeMap<u32, NodeIndex>,
        claims: &mut Claims,
    ) {
        let rate = deliverable.file_rate(project.release.sample_rate);
        let total = project.tracks.len() as u32;
        for track in deliverable.tracks_of(project) {
            let number = track.number;
            for name in names {
                let found = ["stem", "bus"]
                    .iter()
                    .find_map(|kind| self.by_id.get(&format!("{kind}:{number}:{name}")).copied());
                let Some(source) = found else { continue };
                let export = self.add(Step {
                    id: format!("export:{}:{number}:{name}", deliverable.name),
                    kind: StepKind::Export,
                    track: Some(number),
                    action: Action::Export {
                        audio: source,
                        mix: mixes[&number],
                    },
                });
                let encode = self.add(Step {
                    id: format!("deliverable:{}:{number}:{name}", deliverable.name),
                    kind: StepKind::Deliverable,
                    track: Some(number),
                    action: encode_action(
                        deliverable,
                        (rate, deliverable.ceiling),
                        false,
                        None,
                        (export, None, None),
                    ),
                });
                let mut fields = tag_fields(project, deliverable, track, total);
                fields.text.title = format!("{} ({name})", track.title);
                // An ISRC names the recording, not a stem of it.
                fields.text.isrc = None;
                let tag = self.add(tag_step(
                    deliverable,
                    (track, Some(name)),
                    fields,
                    (encode, None),
                ));
                let claimed = claim_path(
                    project,
                    deliverable,
                    track,
                    Some(name),
                    &mut claims.paths,
                    &mut claims.errors,
                );
                let Some(path) = claimed else { continue };
                claims.outputs.push(PlannedOutput {
                    step: tag,
                    deliverable: deliverable.name.clone(),
                    track: Some(number),
                    path,
                    isrc: None,
                    codec: deliverable
                        .format
                        .mp3()
                        .map(bounce_nodes::Mp3Settings::describe),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::civil_date_time;

    #[test]
    fn unix_times_become_civil_dates() {
        assert_eq!(civil_date_time(0), ("1970-01-01".into(), "00:00:00".into()));
        assert_eq!(
            civil_date_time(1_700_000_000),
            ("2023-11-14".into(), "22:13:20".into())
        );
        assert_eq!(
            civil_date_time(951_782_400),
            ("2000-02-29".into(), "00:00:00".into())
        );
    }
}
