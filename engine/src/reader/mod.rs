//! Reads project files (LANGUAGE.md) into a [`Project`], reporting every
//! mistake at once.

mod chain;
mod checks;
mod deliverable;
mod master;
mod release;
mod track;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use bounce_nodes::processors::registry::{self, Kind};
use bounce_nodes::processors::{
    BandParams, Breakpoint, CompressorParams, DenoiseParams, Detect, DuckParams, EqBand, FadeCurve,
    Parameter,
};
use bounce_nodes::{Dither, PanLaw, ProcessorSpec};
use kdl::KdlDocument;

use crate::diagnostic::Code;
use crate::diagnostic::ProjectDiagnostic;
use crate::diagnostic::ProjectErrors;
use crate::diagnostic::SourceFile;
use crate::diagnostic::Span;
use crate::identifiers::{check_upc, normalise_isrc};
use crate::kdl_view::{self, choose, Diagnostics, NodeView, Range};
use crate::model::*;
use crate::suggest::nearest;
use crate::words::count;

const TOP_LEVEL: &[&str] = &[
    "release",
    "track",
    "master",
    "deliverable",
    "include",
    "reference",
    "checks",
];
const RELEASE_FIELDS: &[&str] = &[
    "artist",
    "version",
    "upc",
    "label",
    "year",
    "genre",
    "copyright",
    "composer",
    "cover",
    "sample-rate",
    "output",
    "description",
    "language",
    "explicit",
    "category",
];
const TRACK_CHILDREN: &[&str] = &[
    "isrc",
    "artist",
    "composer",
    "genre",
    "stem",
    "tone",
    "bus",
    "mix",
    "length",
    "fade-in",
    "fade-out",
    "gap",
    "reference",
    "chapter",
    "date",
    "description",
    "episode",
    "season",
    "explicit",
];
const EQ_BANDS: &[&str] = &[
    "highpass",
    "lowpass",
    "low-shelf",
    "high-shelf",
    "bell",
    "notch",
];
const DELIVERABLE_CHILDREN: &[&str] = &[
    "master", "stems", "format", "dither", "tracks", "path", "standard", "target", "ceiling",
    "report", "feed",
];
const SAMPLE_RATES: &[u32] = &[
    8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000, 352800, 384000,
];
pub const DEFAULT_PATH: &str = "{deliverable}/{track:02} - {title}.{ext}";
pub const DEFAULT_STEMS_PATH: &str = "{deliverable}/{track:02} - {title} - {stem}.{ext}";
pub const DEFAULT_CD_PATH: &str = "{deliverable}/{release}.{ext}";
pub const DEFAULT_FEED_PATH: &str = "{deliverable}/feed.xml";
use crate::formats::{self, DEFAULT_BITS};

/// Reads the project file at `path` and everything it includes.
pub fn load_project(path: &Path) -> Result<Project, ProjectErrors> {
    let mut reader = Reader::default();
    reader.read_file(path, None);
    reader.finish(path)
}

/// As [`load_project`], and opens every audio file to check that bounce can
/// decode it (format, channels), as `bounce check` does. Builds skip this:
/// a no-op build opens no audio, and a render reports a bad file anyway.
pub fn load_probed(path: &Path) -> Result<Project, ProjectErrors> {
    let mut reader = Reader {
        probed: Some(HashMap::new()),
        ..Reader::default()
    };
    reader.read_file(path, None);
    reader.finish(path)
}

#[derive(Default)]
struct Reader {
    diags: Diagnostics,
    /// Files already read, to stop include cycles.
    seen: HashSet<PathBuf>,
    release: Option<(Release, Span)>,
    tracks: Vec<Track>,
    masters: Vec<Master>,
    deliverables: Vec<Deliverable>,
    reports: Vec<String>,
    previews: Vec<FileFormat>,
    references: Vec<Reference>,
    checks: CheckRules,
    /// Where `checks` was written (a second one is an error).
    checks_at: Option<Span>,
    /// The folder of the project file: includes stay inside it.
    root: Option<PathBuf>,
    /// When audio files are opened at load: what each one's header said.
    probed: Option<HashMap<PathBuf, Result<(), String>>>,
}

/// The largest project file bounce reads, bytes: far past any release's
/// text, and short of what a wrong `-f` (a device, an audio file) holds.
const MAX_PROJECT_BYTES: u64 = 4 << 20;

/// How deep nodes may nest: a project needs four or five levels.
const MAX_DEPTH: usize = 64;

/// A project file's text: a regular file of at most [`MAX_PROJECT_BYTES`].
fn read_project_text(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    if let Some(what) = bounce_nodes::not_a_regular_file(path) {
        let kind = match what.as_str() {
            "not found" => ErrorKind::NotFound,
            _ => ErrorKind::InvalidInput,
        };
        return Err(Error::new(kind, what));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_PROJECT_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PROJECT_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "larger than {} MB: not a project file",
                MAX_PROJECT_BYTES >> 20
            ),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "not UTF-8 text: not a project file"))
}

/// Where braces first nest deeper than [`MAX_DEPTH`], and how deep, found
/// before the KDL parser (which recurses) sees the text. Strings and
/// comments are skipped, so a brace inside them does not count.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // A plain string: up to the next unescaped quote.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut nested = 1;
                i += 2;
                while i < bytes.len() && nested > 0 {
                    if bytes[i..].starts_with(b"/*") {
                        nested += 1;
                        i += 1;
                    } else if bytes[i..].starts_with(b"*/") {
                        nested -= 1;
                        i += 1;
                    }
                    i += 1;
                }
                continue;
            }
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some((i, depth));
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn display_name(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.and_then(|c| path.strip_prefix(c).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

impl Reader {
    fn error(
        &mut self,
        code: Code,
        span: &Span,
        message: impl Into<String>,
    ) -> &mut ProjectDiagnostic {
        self.diags
            .push(ProjectDiagnostic::new(span, message).code(code));
        self.diags.list.last_mut().expect("just pushed")
    }

    fn read_file(&mut self, path: &Path, included_at: Option<&Span>) {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        if self.root.is_none() {
            self.root = absolute.parent().map(Path::to_path_buf);
        }
        if !self.seen.insert(absolute.clone()) {
            if let Some(span) = included_at {
                self.error(
                    Code::Duplicate,
                    span,
                    format!("{} is included twice", display_name(path)),
                )
                .label = "included again here".into();
            }
            return;
        }
        let text = match read_project_text(path) {
            Ok(text) => text,
            Err(e) => {
                let message = format!("cannot read {}: {e}", display_name(path));
                match included_at {
                    Some(span) => {
                        self.error(Code::MissingFile, span, message);
                    }
                    None if e.kind() == std::io::ErrorKind::NotFound => self.diags.push(
                        ProjectDiagnostic::global(message).code(Code::MissingFile).help(
                            "name the project file with -f FILE, or write one from a folder of stems with `bounce init`",
                        ),
                    ),
                    None => self.diags.push(ProjectDiagnostic::global(message).code(Code::MissingFile)),
                }
                return;
            }
        };
        let file = SourceFile::new(display_name(path), text.clone());
        if let Some((offset, depth)) = too_deep(&text) {
            let span = Span {
                file: file.clone(),
                range: (offset, 1).into(),
            };
            self.error(
                Code::Syntax,
                &span,
                format!("nodes nested {depth} deep; a project nests at most {MAX_DEPTH}"),
            )
            .label = "too deep".into();
            return;
        }
        let document = match KdlDocument::parse(&text) {
            Ok(document) => document,
            Err(error) => {
                for d in error.diagnostics {
                    let span = Span {
                        file: file.clone(),
                        range: syntax_error_range(&text, d.span),
                    };
                    let mut diagnostic = ProjectDiagnostic::new(
                        &span,
                        d.message.unwrap_or_else(|| "invalid KDL".into()),
                    )
                    .code(Code::Syntax)
                    .label(d.label.unwrap_or_else(|| "here".into()));
                    diagnostic.help = d.help;
                    // A KDL 1 keyword in a KDL 2 file: say how 2 writes it.
                    let at = syntax_error_range(&text, d.span);
                    let word = text.get(at.offset()..at.offset() + at.len()).unwrap_or("");
                    if let Some(v2) = match word {
                        "true" => Some("#true"),
                        "false" => Some("#false"),
                        "null" => Some("#null"),
                        _ => None,
                    } {
                        diagnostic.help = Some(format!(
                            "KDL 2 writes `{v2}`; a file that mixes KDL 1 and 2 reads as neither"
                        ));
                    }
                    self.diags.push(diagnostic);
                }
                return;
            }
        };
        let dir = absolute.parent().unwrap_or(Path::new(".")).to_path_buf();
        for node in document.nodes() {
            let view = NodeView {
                node,
                file: &file,
                dir: &dir,
            };
            self.read_top_level(view);
        }
    }

    fn read_top_level(&mut self, node: NodeView) {
        match node.name() {
            "release" => self.read_release(node),
            "track" => self.read_track(node),
            "master" => self.read_master(node),
            "deliverable" => self.read_deliverable(node),
            "reference" => self.read_reference(node, None),
            "checks" => self.read_checks(node),
            "include" => {
                node.check_shape(&mut self.diags, &[], 1, false);
                if let Some(path) = node.string_arg(&mut self.diags, 0, "a file to include") {
                    let span = node.span_of(node.args()[0].span());
                    let full = node.dir.join(&path);
                    match self.includable(&full) {
                        Ok(()) => self.read_file(&full, Some(&span)),
                        Err(why) => {
                            self.error(
                                Code::MissingFile,
                                &span,
                                format!("cannot include \"{path}\": {why}"),
                            )
                            .help = Some(
                                "include takes .kdl files in the project's folder or below".into(),
                            );
                        }
                    }
                }
            }
            other => self.unknown_node(node, other, TOP_LEVEL, "at the top level"),
        }
    }

    /// An included file must be a `.kdl` file under the project's folder:
    /// a project can then never read, nor echo in an error, a file of the
    /// system's (`/proc/self/environ`, a private key).
    fn includable(&self, path: &Path) -> Result<(), String> {
        if path.extension().and_then(|e| e.to_str()) != Some("kdl") {
            return Err("not a .kdl file".into());
        }
        let root = self.root.as_deref().unwrap_or(Path::new("."));
        let inside = std::fs::canonicalize(path)
            .ok()
            .zip(std::fs::canonicalize(root).ok())
            .is_some_and(|(file, root)| file.starts_with(root));
        match inside {
            true => Ok(()),
            false if !path.exists() => Ok(()),
            false => Err("outside the project's folder".into()),
        }
    }

    fn unknown_node(&mut self, node: NodeView, name: &str, known: &[&str], place: &str) {
        self.unknown("node", node, name, known, place);
    }

    /// A node named `name` that is no `what` bounce knows `place`, with
    /// the nearest of the `known` names.
    fn unknown(&mut self, what: &str, node: NodeView, name: &str, known: &[&str], place: &str) {
        let d = self.error(
            Code::UnknownNode,
            &node.name_span(),
            format!("unknown {what} `{name}` {place}"),
        );
        d.label = format!("unknown {what}");
        d.help = Some(match nearest(name, known) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of: {}", known.join(", ")),
        });
    }

    /// The tracks by number (the first of each), and a track numbered
    /// twice as an error.
    fn track_numbers(&self) -> (BTreeMap<u32, Span>, Vec<ProjectDiagnostic>) {
        let mut numbers: BTreeMap<u32, Span> = BTreeMap::new();
        let mut errors = Vec::new();
        for track in self.tracks.iter().filter(|t| t.number != 0) {
            if let Some(first) = numbers.get(&track.number) {
                let (line, _) = first.line_col();
                let message = format!("track {} is defined twice", track.number);
                let help = format!("the first is at {}:{line}", first.file.name);
                errors.push(
                    ProjectDiagnostic::new(&track.span, message)
                        .code(Code::Duplicate)
                        .help(help),
                );
            } else {
                numbers.insert(track.number, track.span.clone());
            }
        }
        (numbers, errors)
    }

    /// What a deliverable names that the project lacks: a master, a stem
    /// or bus, a track; and a CD's Red Book limits.
    fn deliverable_references(
        &self,
        deliverable: &Deliverable,
        numbers: &BTreeMap<u32, Span>,
    ) -> Vec<ProjectDiagnostic> {
        let mut errors = Vec::new();
        if deliverable.format.kind.disc_image() {
            errors.extend(self.red_book_errors(deliverable));
        }
        let master_names: Vec<&str> = self.masters.iter().map(|m| m.name.as_str()).collect();
        if let Content::Master(name) = &deliverable.content {
            if !master_names.contains(&name.as_str()) {
                let mut d = ProjectDiagnostic::new(
                    &deliverable.content_span,
                    format!("unknown master \"{name}\""),
                )
                .code(Code::BadRouting)
                .label("no such master");
                if let Some(s) = nearest(name, &master_names) {
                    d = d.help(format!("did you mean \"{s}\"?"));
                }
                errors.push(d);
            }
        }
        if let Content::Stems(names) = &deliverable.content {
            errors.extend(self.unknown_stems(deliverable, names));
        }
        for number in deliverable.tracks.iter().flatten() {
            if !numbers.contains_key(number) {
                errors.push(
                    ProjectDiagnostic::new(
                        &deliverable.span,
                        format!(
                            "deliverable \"{}\" lists track {number}, which does not exist",
                            deliverable.name
                        ),
                    )
                    .code(Code::BadRouting),
                );
            }
        }
        errors
    }

    /// The names of a stems deliverable that no track has as a stem or bus,
    /// each with the caret at the name itself.
    fn unknown_stems(&self, deliverable: &Deliverable, names: &[String]) -> Vec<ProjectDiagnostic> {
        let all: Vec<&str> = self
            .tracks
            .iter()
            .flat_map(|t| {
                let sources = t.sources.iter().map(|s| s.name.as_str());
                sources.chain(t.buses.iter().map(|b| b.name.as_str()))
            })
            .collect();
        let mut errors = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if all.contains(&name.as_str()) {
                continue;
            }
            let span = deliverable
                .stem_spans
                .get(i)
                .unwrap_or(&deliverable.content_span);
            let mut d =
                ProjectDiagnostic::new(span, format!("no track has a stem or bus \"{name}\""))
                    .code(Code::BadRouting)
                    .label("unknown stem");
            if let Some(s) = nearest(name, &all) {
                d = d.help(format!("did you mean \"{s}\"?"));
            }
            errors.push(d);
        }
        errors
    }

    /// Cross-references, then the project or every error found.
    fn finish(mut self, path: &Path) -> Result<Project, ProjectErrors> {
        let (numbers, mut errors) = self.track_numbers();
        for deliverable in &self.deliverables {
            errors.extend(self.deliverable_references(deliverable, &numbers));
        }
        self.diags.list.extend(errors);
        if self.release.is_none() && self.seen.len() <= 1 && self.diags.list.is_empty() {
            self.diags.push(
                ProjectDiagnostic::global(format!("{} has no `release`", display_name(path)))
                    .code(Code::MissingValue),
            );
        } else if self.release.is_none() && self.diags.list.is_empty() {
            self.diags.push(
                ProjectDiagnostic::global("the project has no `release`").code(Code::MissingValue),
            );
        }
        if self.tracks.is_empty() && self.diags.list.is_empty() {
            self.diags.push(
                ProjectDiagnostic::global(format!("{} has no tracks", display_name(path)))
                    .code(Code::MissingValue),
            );
        }
        if !self.diags.list.is_empty() {
            return Err(ProjectErrors(self.diags.list));
        }
        let (release, _) = self.release.expect("checked above");
        let mut tracks = self.tracks;
        tracks.sort_by_key(|t| t.number);
        let project = Project {
            file: path.to_path_buf(),
            release,
            tracks,
            masters: self.masters,
            deliverables: self.deliverables,
            reports: self.reports,
            previews: self.previews,
            references: self.references,
            checks: self.checks,
            files: {
                let mut files: Vec<PathBuf> = self.seen.into_iter().collect();
                files.sort();
                files
            },
            revision: None,
        };
        Ok(project)
    }
}

/// The KDL parser reports some errors with a span from where the enclosing
/// node began to where it gave up; the place to show is where it gave up.
fn syntax_error_range(text: &str, span: miette::SourceSpan) -> miette::SourceSpan {
    let start = span.offset().min(text.len());
    let end = (start + span.len()).min(text.len());
    if !text[start..end].contains('\n') {
        return span;
    }
    let trimmed = text[..end].trim_end();
    let last = trimmed.len().saturating_sub(1).max(start);
    miette::SourceSpan::new(last.into(), 1)
}

#[cfg(test)]
mod reference_tests {
    use super::*;

    /// The reference in `docs/` names every node, processor, parameter and
    /// template field the reader accepts, so the docs cannot fall behind.
    #[test]
    fn the_language_reference_names_everything_the_reader_accepts() {
        let docs = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md"));
        let lists = [
            TOP_LEVEL,
            RELEASE_FIELDS,
            TRACK_CHILDREN,
            EQ_BANDS,
            DELIVERABLE_CHILDREN,
        ];
        let checks = checks::CHECKS
            .iter()
            .flat_map(|(node, _, props)| std::iter::once(*node).chain(props.iter().copied()));
        let missing: Vec<&str> = lists
            .iter()
            .flat_map(|list| list.iter().copied())
            .chain(checks)
            .filter(|name| {
                // In prose (`name`, name=) or as a node in an example.
                let in_example = docs
                    .lines()
                    .any(|line| line.trim_start().starts_with(&format!("{name} ")));
                !docs.contains(&format!("`{name}"))
                    && !docs.contains(&format!("{name}="))
                    && !in_example
            })
            .collect();
        assert!(
            missing.is_empty(),
            "docs/language.md never names {missing:?}"
        );
        let fields: Vec<&str> = crate::template::FIELDS
            .iter()
            .copied()
            .filter(|field| !docs.contains(&format!("{{{field}")))
            .collect();
        assert!(
            fields.is_empty(),
            "docs/language.md never names the fields {fields:?}"
        );
    }
}

#[cfg(test)]
mod registry_tests {
    use bounce_nodes::processors::registry::{self, KINDS};
    use bounce_nodes::{AudioError, BlockSink, BlockSource, ChainContext};

    use crate::step::Action;

    /// Two seconds of 440 Hz on the left and 660 Hz on the right at
    /// −12 dBFS: a stereo image for `width` and `pan` to change.
    struct TwoTones(u64);

    impl BlockSource for TwoTones {
        fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
            let n = left.len().min((96_000 - self.0) as usize);
            for i in 0..n {
                let t = (self.0 + i as u64) as f32 / 48000.0;
                left[i] = 0.25 * (std::f32::consts::TAU * 440.0 * t).sin();
                right[i] = 0.25 * (std::f32::consts::TAU * 660.0 * t).sin();
            }
            self.0 += n as u64;
            Ok(n)
        }
    }

    /// Collects what a chain renders.
    struct Collect(Vec<f32>);

    impl BlockSink for Collect {
        fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), bounce_nodes::AudioError> {
            self.0.extend(left.iter().chain(right));
            Ok(())
        }
    }

    /// Every processor in the registry is documented (docs/processors.md
    /// is the registry's reference, word for word), parsed from its own
    /// example, keyed (its version is in the key of the step that runs
    /// it) and rendered (finite audio, changed where it is not neutral).
    #[test]
    fn every_registered_processor_is_documented_parsed_keyed_and_rendered() {
        let docs_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/processors.md");
        let reference = registry::reference();
        if std::env::var_os("BOUNCE_UPDATE_DOCS").is_some() {
            std::fs::write(docs_path, &reference).unwrap();
        }
        let docs = std::fs::read_to_string(docs_path).unwrap_or_default();
        assert!(
            docs == reference,
            "docs/processors.md differs from the registry: run the engine's tests with BOUNCE_UPDATE_DOCS=1"
        );
        let language = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md"));
        assert!(
            language.contains("processors.md"),
            "docs/language.md links the processors"
        );

        let dir = tempfile::tempdir().unwrap();
        for kind in KINDS.iter().filter(|k| k.in_chain) {
            let text = format!(
                "release \"R\" {{ version \"1\"; }}\nmaster \"m\" {{ }}\ntrack 1 \"T\" {{\n    tone \"t\" freq=440 level=-12 length=2 {{\n{}\n    }}\n    tone \"host\" length=2\n    tone \"guest\" length=2\n}}\ndeliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n",
                kind.example
            );
            let path = dir.path().join(format!("{}.kdl", kind.name));
            std::fs::write(&path, text).unwrap();
            let project = crate::reader::load_project(&path)
                .unwrap_or_else(|e| panic!("{}'s example does not read: {e:?}", kind.name));
            let plan = crate::plan::plan(&project).unwrap();
            let stem = plan
                .graph
                .node_weights()
                .find(|s| s.id == "stem:1:t")
                .expect("the tone's stem step");
            let Action::Stem { chain, .. } = &stem.action else {
                panic!("a stem step stems")
            };
            let mut spec = chain
                .iter()
                .find(|p| p.name() == kind.name)
                .unwrap_or_else(|| panic!("{} is not in its example's chain", kind.name))
                .clone();
            // A ducker's key comes from the stems it names: here, voices
            // that sound throughout.
            if let bounce_nodes::ProcessorSpec::Duck { key, .. } = &mut spec {
                *key = Some(std::sync::Arc::new(vec![-20.0; 200]));
            }
            let spec = &spec;
            assert_eq!(
                crate::key::versions(&stem.action).get(kind.name),
                Some(&kind.version),
                "{}'s version is not in the key",
                kind.name
            );
            let rate = 48000;
            let context = ChainContext {
                sample_rate: rate,
                total_frames: 2 * rate as u64,
                ring_out: false,
            };
            let render = |chain: &[bounce_nodes::ProcessorSpec]| {
                let mut open = || Ok(Box::new(TwoTones(0)) as Box<dyn BlockSource>);
                let mut out = Collect(Vec::new());
                bounce_nodes::render_chain(&mut open, chain, &context, &mut out).unwrap();
                out.0
            };
            let dry = render(&[]);
            let wet = render(std::slice::from_ref(spec));
            assert!(
                wet.iter().all(|x| x.is_finite()),
                "{} renders NaN",
                kind.name
            );
            assert!(
                spec.is_identity() || wet != dry,
                "{}'s example leaves the tone as it was",
                kind.name
            );
        }
    }
}
