//! Reads project files (LANGUAGE.md) into a [`Project`], reporting every
//! mistake at once.

mod checks;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use bounce_nodes::processors::registry::{self, Kind};
use bounce_nodes::processors::{
    BandParams, Breakpoint, CompressorParams, Detect, EqBand, FadeCurve, Parameter,
};
use bounce_nodes::{Dither, Mp3Mode, PanLaw, ProcessorSpec, MP3_BITRATES, MP3_RATES};
use kdl::KdlDocument;

use crate::codes::{check_upc, normalise_isrc};
use crate::diagnostic::Code;
use crate::kdl_view::{choose, Diagnostics, NodeView, Range};
use crate::model::*;
use crate::suggest::nearest;
use crate::{ProjectDiagnostic, ProjectErrors, SourceFile, Span};

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
    "report",
];
const SAMPLE_RATES: &[u32] = &[
    8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000, 352800, 384000,
];
pub const DEFAULT_PATH: &str = "{deliverable}/{track:02} - {title}.{ext}";
pub const DEFAULT_STEMS_PATH: &str = "{deliverable}/{track:02} - {title} - {stem}.{ext}";
pub const DEFAULT_CD_PATH: &str = "{deliverable}/{release}.{ext}";
/// A deliverable's bit depth when `format` does not say.
const DEFAULT_BITS: u16 = 24;
/// An MP3's bitrate when `format` does not say, kbit/s.
const DEFAULT_MP3_BITRATE: u16 = 320;

/// Reads the project file at `path` and everything it includes.
pub fn load_project(path: &Path) -> Result<Project, ProjectErrors> {
    let mut reader = Reader::default();
    reader.read_file(path, None);
    reader.finish(path)
}

/// As [`load_project`], and opens every audio file to check that bounce can
/// decode it (format, channels), as `bounce check` does. Builds skip this:
/// a no-op build opens no audio, and a render reports a bad file anyway.
pub fn check_project(path: &Path) -> Result<Project, ProjectErrors> {
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
        let d = self.error(
            Code::UnknownNode,
            &node.name_span(),
            format!("unknown node `{name}` {place}"),
        );
        d.label = "unknown node".into();
        d.help = Some(match nearest(name, known) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of: {}", known.join(", ")),
        });
    }

    fn read_release(&mut self, node: NodeView) {
        node.check_shape(&mut self.diags, &[], 1, true);
        if let Some((_, first)) = &self.release {
            let (line, _) = first.line_col();
            let file = first.file.name.clone();
            self.error(Code::Duplicate, &node.name_span(), "a second `release`")
                .help = Some(format!(
                "a project has one release; the first is at {file}:{line}"
            ));
            return;
        }
        let mut release = Release {
            title: node
                .string_arg(&mut self.diags, 0, "a title")
                .unwrap_or_default(),
            sample_rate: 48000,
            output: node.dir.join("out"),
            version: String::new(),
            ..Release::default()
        };
        let mut version = None;
        for child in node.children() {
            let name = child.name();
            if !RELEASE_FIELDS.contains(&name) {
                self.unknown_node(child, name, RELEASE_FIELDS, "in `release`");
                continue;
            }
            let props: &[&str] = if name == "output" { &["outside"] } else { &[] };
            child.check_shape(&mut self.diags, props, 1, false);
            let diags = &mut self.diags;
            match name {
                "year" => {
                    release.year = child
                        .number_arg(diags, 0, "a year", Range::integer(1000.0, 9999.0))
                        .map(|y| y as i64)
                }
                "sample-rate" => {
                    if let Some(rate) =
                        child.number_arg(diags, 0, "a rate in Hz", Range::integer(1.0, 768000.0))
                    {
                        let rate = rate as u32;
                        if SAMPLE_RATES.contains(&rate) {
                            release.sample_rate = rate;
                        } else {
                            let span = child.span_of(child.args()[0].span());
                            diags.push(
                                ProjectDiagnostic::new(
                                    &span,
                                    format!("{rate} Hz is not a standard sample rate"),
                                )
                                .code(Code::OutOfRange)
                                .label("unsupported rate")
                                .help("use 44100, 48000, 88200, 96000, 176400 or 192000"),
                            );
                        }
                    }
                }
                _ => {
                    let Some(value) = child.string_arg(diags, 0, "a value") else {
                        continue;
                    };
                    let span = child.span_of(child.args()[0].span());
                    match name {
                        "artist" => release.artist = Some(value),
                        "version" => {
                            if let Err(why) = check_version(&value) {
                                diags.push(
                                    ProjectDiagnostic::new(
                                        &span,
                                        format!("invalid version \"{value}\""),
                                    )
                                    .code(Code::Invalid)
                                    .help(why),
                                );
                            }
                            version = Some(value);
                        }
                        "upc" => {
                            if let Err(why) = check_upc(&value) {
                                diags.push(
                                    ProjectDiagnostic::new(
                                        &span,
                                        format!("invalid UPC/EAN \"{value}\""),
                                    )
                                    .code(Code::BadIdentifier)
                                    .label("invalid barcode")
                                    .help(why),
                                );
                            }
                            release.upc = Some(value);
                        }
                        "label" => release.label = Some(value),
                        "genre" => release.genre = Some(value),
                        "copyright" => release.copyright = Some(value),
                        "composer" => release.composer = Some(value),
                        "cover" => {
                            let path = child.dir.join(&value);
                            if let Some(what) = bounce_nodes::not_a_regular_file(&path) {
                                let message = match what.as_str() {
                                    "not found" => {
                                        format!("cover image not found: {}", display_name(&path))
                                    }
                                    _ => format!("cover image {}: {what}", display_name(&path)),
                                };
                                diags.push(
                                    ProjectDiagnostic::new(&span, message)
                                        .code(Code::BadImage)
                                        .label("not an image"),
                                );
                            } else if let Err(why) = bounce_nodes::Cover::read(&path).map(|cover| {
                                release.cover_hash =
                                    Some(blake3::hash(&cover.data).to_hex().to_string());
                            }) {
                                diags.push(
                                    ProjectDiagnostic::new(
                                        &span,
                                        format!(
                                            "cover image {} cannot be used: {why}",
                                            display_name(&path)
                                        ),
                                    )
                                    .code(Code::BadImage)
                                    .label("bad cover"),
                                );
                            }
                            release.cover = Some(path);
                        }
                        "output" => {
                            let outside = child.bool_prop(diags, "outside", false);
                            if let Err(why) = check_output(&value, outside) {
                                diags.push(
                                    ProjectDiagnostic::new(
                                        &span,
                                        format!("output folder \"{value}\" {why}"),
                                    )
                                    .code(Code::Invalid)
                                    .label("outside the project")
                                    .help(format!(
                                        "if that is meant, write `output \"{value}\" outside=#true`"
                                    )),
                                );
                            }
                            release.output = child.dir.join(value)
                        }
                        _ => unreachable!("checked against RELEASE_FIELDS"),
                    }
                }
            }
        }
        release.version = version.unwrap_or_else(|| "0.0.0".into());
        self.release = Some((release, node.name_span()));
    }

    fn read_track(&mut self, node: NodeView) {
        node.check_shape(&mut self.diags, &[], 2, true);
        let number = node
            .number_arg(
                &mut self.diags,
                0,
                "a track number",
                Range::integer(1.0, 9999.0),
            )
            .map(|n| n as u32);
        let title = node
            .string_arg(&mut self.diags, 1, "a title")
            .unwrap_or_default();
        let mut track = Track {
            number: number.unwrap_or(0),
            title,
            isrc: None,
            artist: None,
            composer: None,
            genre: None,
            sources: Vec::new(),
            buses: Vec::new(),
            mix: Vec::new(),
            length: None,
            fade_in: None,
            fade_out: None,
            gap: if number == Some(1) { 2.0 } else { 0.0 },
            span: node.name_span(),
        };
        let mut mix_seen = false;
        for child in node.children() {
            let name = child.name();
            let diags = &mut self.diags;
            match name {
                "isrc" | "artist" | "composer" | "genre" => {
                    child.check_shape(diags, &[], 1, false);
                    let Some(value) = child.string_arg(diags, 0, "a value") else {
                        continue;
                    };
                    match name {
                        "isrc" => match normalise_isrc(&value) {
                            Ok(isrc) => track.isrc = Some(isrc),
                            Err(why) => {
                                let span = child.span_of(child.args()[0].span());
                                diags.push(
                                    ProjectDiagnostic::new(
                                        &span,
                                        format!("invalid ISRC \"{value}\""),
                                    )
                                    .code(Code::BadIdentifier)
                                    .label("invalid ISRC")
                                    .help(why),
                                );
                            }
                        },
                        "artist" => track.artist = Some(value),
                        "composer" => track.composer = Some(value),
                        _ => track.genre = Some(value),
                    }
                }
                "stem" | "tone" => {
                    if let Some(source) = self.read_source(child) {
                        track.sources.push(source);
                    }
                }
                "reference" => self.read_reference(child, number),
                "bus" => {
                    if let Some(bus) = self.read_bus(child) {
                        track.buses.push(bus);
                    }
                }
                "mix" => {
                    child.check_shape(diags, &[], 0, true);
                    if mix_seen {
                        diags.push(
                            ProjectDiagnostic::new(
                                &child.name_span(),
                                "a second `mix` in this track",
                            )
                            .code(Code::Duplicate),
                        );
                    }
                    mix_seen = true;
                    track.mix = self.read_chain(child);
                }
                "length" | "gap" => {
                    child.check_shape(diags, &[], 1, false);
                    let range = match name {
                        "length" => Range::length(),
                        _ => Range::duration(),
                    };
                    let value = child.number_arg(diags, 0, "a duration in seconds", range);
                    if name == "length" {
                        track.length = value;
                    } else if let Some(gap) = value {
                        track.gap = gap;
                    }
                }
                "fade-in" | "fade-out" => {
                    child.check_shape(diags, &["curve"], 1, false);
                    let seconds =
                        child.number_arg(diags, 0, "a duration in seconds", Range::duration());
                    let curve = match child.choice_prop(diags, "curve", &["linear", "cos", "exp"]) {
                        Some("linear") => FadeCurve::Linear,
                        Some("exp") => FadeCurve::Exp,
                        _ => FadeCurve::Cos,
                    };
                    let fade = seconds.map(|seconds| Fade { seconds, curve });
                    if name == "fade-in" {
                        track.fade_in = fade;
                    } else {
                        track.fade_out = fade;
                    }
                }
                other => self.unknown_node(child, other, TRACK_CHILDREN, "in `track`"),
            }
        }
        if track.sources.is_empty() && number.is_some() {
            self.error(
                Code::BadRouting,
                &track.span,
                format!("track {} has no stems", track.number),
            )
            .help = Some("add a `stem \"name\" \"file.wav\"` or a `tone`".into());
        } else if track.sources.iter().all(|s| s.mute) && track.length.is_none() {
            // Nothing sounds and nothing says how long: a file of no samples.
            self.error(
                Code::BadRouting,
                &track.span,
                format!(
                    "every stem of track {} is muted: it would deliver an empty file",
                    track.number
                ),
            )
            .help = Some("unmute a stem, or give the track a `length` of silence".into());
        }
        self.check_routing(&track);
        self.tracks.push(track);
    }

    /// `reference "Name" "path"`: an audio file the report compares the
    /// release's tracks (or, inside a track, that track) with.
    fn read_reference(&mut self, node: NodeView, track: Option<u32>) {
        let diags = &mut self.diags;
        node.check_shape(diags, &[], 2, false);
        let Some(name) = node.string_arg(diags, 0, "a name") else {
            return;
        };
        let Some(path) = node.string_arg(diags, 1, "an audio file path") else {
            return;
        };
        let full = node.dir.join(&path);
        if let Some(what) = bounce_nodes::not_a_regular_file(&full) {
            let span = node.span_of(node.args()[1].span());
            diags.push(
                ProjectDiagnostic::new(&span, format!("reference {}: {what}", display_name(&full)))
                    .code(Code::BadAudio)
                    .label("not an audio file")
                    .help("paths are relative to the project file"),
            );
            return;
        }
        self.references.push(Reference {
            name,
            path: full,
            track,
        });
    }

    fn read_source(&mut self, node: NodeView) -> Option<Source> {
        let diags = &mut self.diags;
        let is_tone = node.name() == "tone";
        let common = ["gain", "pan", "offset", "mute"];
        let tone_props = ["gain", "pan", "offset", "mute", "freq", "level", "length"];
        if is_tone {
            node.check_shape(diags, &tone_props, 1, true);
        } else {
            node.check_shape(diags, &common, 2, true);
        }
        let name = node.string_arg(diags, 0, "a name");
        let kind = if is_tone {
            SourceKind::Tone {
                freq: node.number_prop(diags, "freq", 1000.0, Range::positive("Hz")),
                level: node.number_prop(diags, "level", -18.0, Range::between(-200.0, 0.0, "dBFS")),
                length: node.number_prop(diags, "length", 30.0, Range::length()),
            }
        } else {
            let path = node.string_arg(diags, 1, "an audio file path")?;
            let full = node.dir.join(&path);
            if let Some(what) = bounce_nodes::not_a_regular_file(&full) {
                let span = node.span_of(node.args()[1].span());
                let missing = what == "not found";
                diags.push(
                    ProjectDiagnostic::new(
                        &span,
                        match missing {
                            true => format!("audio file not found: {}", display_name(&full)),
                            false => format!("{}: {what}", display_name(&full)),
                        },
                    )
                    .code(Code::MissingFile)
                    .label(if missing {
                        "missing file"
                    } else {
                        "not an audio file"
                    })
                    .help("paths are relative to the project file"),
                );
            } else if let Some(probed) = &mut self.probed {
                let verdict = probed.entry(full.clone()).or_insert_with(|| {
                    bounce_nodes::probe_file(&full)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                });
                if let Err(problem) = verdict {
                    // The caret shows which file; the message says what is wrong.
                    let problem = problem
                        .strip_prefix(&format!("{}: ", full.display()))
                        .unwrap_or(problem);
                    let span = node.span_of(node.args()[1].span());
                    diags.push(
                        ProjectDiagnostic::new(&span, format!("{path}: {problem}"))
                            .code(Code::BadAudio)
                            .label("bad audio file"),
                    );
                }
            }
            SourceKind::File(full)
        };
        if let SourceKind::Tone { freq, .. } = kind {
            let nyquist = self.release_rate() as f64 / 2.0;
            if freq >= nyquist {
                let span = node.span_of(
                    node.prop("freq")
                        .map(|e| e.span())
                        .unwrap_or(node.node.span()),
                );
                self.diags.push(
                    ProjectDiagnostic::new(
                        &span,
                        format!("a {freq} Hz tone is at or above Nyquist ({nyquist} Hz)"),
                    )
                    .code(Code::OutOfRange)
                    .label("too high"),
                );
            }
        }
        let diags = &mut self.diags;
        let source = Source {
            name: name?,
            kind,
            gain: node.number_prop(diags, "gain", 0.0, Range::between(-200.0, 60.0, "dB")),
            pan: node.number_prop(diags, "pan", 0.0, Range::between(-1.0, 1.0, "")),
            offset: node.number_prop(diags, "offset", 0.0, Range::duration()),
            mute: node.bool_prop(diags, "mute", false),
            chain: self.read_chain(node),
            span: node.name_span(),
        };
        Some(source)
    }

    fn release_rate(&self) -> u32 {
        self.release
            .as_ref()
            .map(|(r, _)| r.sample_rate)
            .unwrap_or(48000)
    }

    fn read_bus(&mut self, node: NodeView) -> Option<Bus> {
        let diags = &mut self.diags;
        node.check_shape(diags, &["gain", "pan"], usize::MAX, true);
        let name = node.string_arg(diags, 0, "a name")?;
        let members = node.string_args(diags, 1);
        if members.is_empty() {
            diags.push(
                ProjectDiagnostic::new(&node.name_span(), format!("bus \"{name}\" has no members"))
                    .code(Code::BadRouting)
                    .help("list the stems or buses it sums: bus \"drums\" \"kick\" \"snare\""),
            );
        }
        Some(Bus {
            name,
            members,
            gain: node.number_prop(diags, "gain", 0.0, Range::between(-200.0, 60.0, "dB")),
            pan: node.number_prop(diags, "pan", 0.0, Range::between(-1.0, 1.0, "")),
            chain: self.read_chain(node),
            span: node.name_span(),
        })
    }

    /// Names unique, members known and in one bus only, no cycles.
    fn check_routing(&mut self, track: &Track) {
        let mut names: BTreeMap<&str, &Span> = BTreeMap::new();
        let all = track
            .sources
            .iter()
            .map(|s| (s.name.as_str(), &s.span))
            .chain(track.buses.iter().map(|b| (b.name.as_str(), &b.span)));
        for (name, span) in all {
            if let Some(first) = names.get(name) {
                let (line, _) = first.line_col();
                self.error(
                    Code::Duplicate,
                    span,
                    format!("\"{name}\" is defined twice in track {}", track.number),
                )
                .help = Some(format!("the first is on line {line}"));
            } else {
                names.insert(name, span);
            }
        }
        let known: Vec<&str> = names.keys().copied().collect();
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for bus in &track.buses {
            for (member, span) in &bus.members {
                if member == &bus.name {
                    self.error(
                        Code::BadRouting,
                        span,
                        format!("bus \"{}\" contains itself", bus.name),
                    );
                    continue;
                }
                if !names.contains_key(member.as_str()) {
                    let d = self.error(
                        Code::BadRouting,
                        span,
                        format!("unknown stem or bus \"{member}\" in bus \"{}\"", bus.name),
                    );
                    d.label = "not in this track".into();
                    d.help = nearest(member, &known).map(|s| format!("did you mean \"{s}\"?"));
                    continue;
                }
                if let Some(other) = owner.insert(member, &bus.name) {
                    self.error(
                        Code::BadRouting,
                        span,
                        format!(
                            "\"{member}\" is in two buses, \"{other}\" and \"{}\"",
                            bus.name
                        ),
                    )
                    .help = Some("a stem or bus feeds one bus at most".into());
                }
            }
        }
        // A cycle: following a bus's owner chain comes back to it.
        for bus in &track.buses {
            let mut current = bus.name.as_str();
            for _ in 0..=track.buses.len() {
                match owner.get(current) {
                    Some(next) if *next == bus.name => {
                        self.error(
                            Code::BadRouting,
                            &bus.span,
                            format!("bus \"{}\" feeds itself through a cycle", bus.name),
                        )
                        .label = "part of a cycle".into();
                        break;
                    }
                    Some(next) => current = next,
                    None => break,
                }
            }
        }
    }

    fn read_chain(&mut self, node: NodeView) -> Vec<ProcessorSpec> {
        let mut chain = Vec::new();
        for child in node.children() {
            if let Some(spec) = self.read_processor(child) {
                chain.push(spec);
            }
        }
        chain
    }

    /// A processor of a chain, as its registry entry describes it.
    fn read_processor(&mut self, node: NodeView) -> Option<ProcessorSpec> {
        let name = node.name();
        let Some(kind) = registry::kind(name).filter(|k| k.in_chain) else {
            self.unknown_node(node, name, &registry::chain_names(), "in a chain");
            return None;
        };
        if let Some(build) = kind.build {
            return self.read_numbers(node, kind, &[]).map(|v| build(&v));
        }
        match kind.name {
            "eq" => {
                node.check_shape(&mut self.diags, &[], 0, true);
                let bands: Vec<EqBand> = node
                    .children()
                    .filter_map(|band| self.read_eq_band(band))
                    .collect();
                Some(ProcessorSpec::Eq { bands })
            }
            "compress" => self.read_compressor(node, &[]).map(ProcessorSpec::Compress),
            "multiband" => self.read_multiband(node),
            "automate" => self.read_automation(node),
            other => unreachable!("{other} is registered with neither a build nor a reader"),
        }
    }

    /// A node's numbers as `kind` states them (its argument, then its
    /// properties with their defaults, each in its range), its shape
    /// checked against them and `extra` properties; `None` if a required
    /// number is missing or wrong (said already).
    fn read_numbers(&mut self, node: NodeView, kind: &Kind, extra: &[&str]) -> Option<Vec<f64>> {
        let diags = &mut self.diags;
        let props: Vec<&str> = kind
            .params
            .iter()
            .filter_map(|p| p.name)
            .chain(kind.other_props.iter().copied())
            .chain(extra.iter().copied())
            .collect();
        let args = kind.params.iter().filter(|p| p.name.is_none()).count();
        node.check_shape(diags, &props, args, false);
        let mut values = Vec::with_capacity(kind.params.len());
        for (index, p) in kind.params.iter().enumerate() {
            let range = Range::between(p.min, p.max, p.unit);
            let value = match (p.name, p.default) {
                (Some(name), Some(default)) => Some(node.number_prop(diags, name, default, range)),
                (Some(name), None) => node.optional_number_prop(diags, name, range),
                (None, _) => node.number_arg(diags, index, p.meaning, range),
            };
            values.push(value);
        }
        values.into_iter().collect()
    }

    /// `compress`'s properties (also a multiband `band`'s, with `extra`).
    fn read_compressor(&mut self, node: NodeView, extra: &[&str]) -> Option<CompressorParams> {
        let kind = registry::kind("compress").expect("compress is registered");
        let numbers = self.read_numbers(node, kind, extra)?;
        let diags = &mut self.diags;
        let detect = match node.choice_prop(diags, "detect", &["peak", "rms"]) {
            Some("rms") => Detect::Rms,
            _ => Detect::Peak,
        };
        let link = node.bool_prop(diags, "link", true);
        Some(CompressorParams::from_numbers(&numbers, detect, link))
    }

    fn read_multiband(&mut self, node: NodeView) -> Option<ProcessorSpec> {
        let nyquist = self.release_rate() as f64 / 2.0;
        let diags = &mut self.diags;
        node.check_shape(diags, &[], usize::MAX, true);
        let range = Range {
            max: nyquist * 0.9,
            ..Range::positive("Hz")
        };
        let crossovers = node.number_args(diags, 0, range);
        if crossovers.is_empty() {
            diags.push(
                ProjectDiagnostic::new(
                    &node.name_span(),
                    "`multiband` needs its crossover frequencies",
                )
                .code(Code::MissingValue)
                .help("e.g. `multiband 120 2000 8000 { band …; band …; band …; band … }`"),
            );
            return None;
        }
        for pair in crossovers.windows(2) {
            if pair[1].0 <= pair[0].0 {
                diags.push(
                    ProjectDiagnostic::new(&pair[1].1, "crossovers must rise from low to high")
                        .code(Code::OutOfRange)
                        .label("not above the one before"),
                );
            }
        }
        let mut bands = Vec::new();
        for child in node.children() {
            if child.name() != "band" {
                self.unknown_node(child, child.name(), &["band"], "in `multiband`");
                continue;
            }
            let Some(compressor) = self.read_compressor(child, &["gain"]) else {
                continue;
            };
            let gain = child.number_prop(
                &mut self.diags,
                "gain",
                0.0,
                Range::between(-60.0, 24.0, "dB"),
            );
            bands.push(BandParams { compressor, gain });
        }
        // A crossover that did not read has its own error already.
        let given = node.args().len();
        if crossovers.len() != given {
            return None;
        }
        if bands.len() != given + 1 {
            self.diags.push(
                ProjectDiagnostic::new(
                    &node.name_span(),
                    format!(
                        "{} make {}, but {} given",
                        count(given, "crossover"),
                        count(given + 1, "band"),
                        match bands.len() {
                            1 => "1 `band` is".to_string(),
                            n => format!("{n} `band`s are"),
                        }
                    ),
                )
                .code(Code::Invalid)
                .label("band count"),
            );
            return None;
        }
        Some(ProcessorSpec::Multiband {
            crossovers: crossovers.into_iter().map(|(f, _)| f).collect(),
            bands,
        })
    }

    fn read_automation(&mut self, node: NodeView) -> Option<ProcessorSpec> {
        let diags = &mut self.diags;
        node.check_shape(diags, &[], 1, true);
        let name = node.string_arg(diags, 0, "a parameter: \"gain\" or \"pan\"")?;
        let span = node.span_of(node.args()[0].span());
        let parameter = match choose(
            diags,
            &name,
            &span,
            &["gain", "pan"],
            "automation parameter",
        )? {
            "gain" => Parameter::Gain,
            _ => Parameter::Pan,
        };
        let values = match parameter {
            Parameter::Gain => Range::between(-200.0, 24.0, "dB"),
            Parameter::Pan => Range::between(-1.0, 1.0, ""),
        };
        let mut points = Vec::new();
        for child in node.children() {
            if child.name() != "at" {
                self.unknown_node(child, child.name(), &["at"], "in `automate`");
                continue;
            }
            let diags = &mut self.diags;
            child.check_shape(diags, &[], 2, false);
            let time = child.number_arg(diags, 0, "a time in seconds", Range::duration());
            let value = child.number_arg(diags, 1, "a value", values);
            if let (Some(time), Some(value)) = (time, value) {
                points.push(Breakpoint { time, value });
            }
        }
        if points.is_empty() {
            self.diags.push(
                ProjectDiagnostic::new(&node.name_span(), "`automate` has no breakpoints")
                    .code(Code::MissingValue)
                    .help("add `at SECONDS VALUE` lines: automate \"gain\" { at 0 -60; at 2 0 }"),
            );
            return None;
        }
        Some(ProcessorSpec::Automate {
            parameter,
            points,
            law: PanLaw::Auto,
        })
    }

    fn read_eq_band(&mut self, node: NodeView) -> Option<EqBand> {
        let name = node.name();
        if !EQ_BANDS.contains(&name) {
            self.unknown_node(node, name, EQ_BANDS, "in `eq`");
            return None;
        }
        let nyquist = self.release_rate() as f64 / 2.0;
        let diags = &mut self.diags;
        let props: &[&str] = match name {
            "highpass" | "lowpass" => &["slope"],
            "notch" => &["q"],
            _ => &["gain", "q"],
        };
        node.check_shape(diags, props, 1, false);
        let freq_range = Range {
            max: nyquist * 0.99,
            ..Range::positive("Hz")
        };
        let freq = node.number_arg(diags, 0, "a frequency in Hz", freq_range);
        let q_range = Range::between(0.05, 50.0, "");
        let gain_range = Range::between(-30.0, 30.0, "dB");
        let band = match name {
            "highpass" | "lowpass" => {
                let slope = node.number_prop(diags, "slope", 12.0, Range::integer(12.0, 48.0));
                if ![12.0, 24.0, 48.0].contains(&slope) {
                    let span = node.span_of(node.prop("slope").expect("read").span());
                    diags.push(
                        ProjectDiagnostic::new(&span, format!("slope={slope} is not available"))
                            .code(Code::UnknownValue)
                            .help("slope is 12, 24 or 48 (dB per octave)"),
                    );
                }
                let slope = slope as u32;
                if name == "highpass" {
                    EqBand::Highpass { freq: freq?, slope }
                } else {
                    EqBand::Lowpass { freq: freq?, slope }
                }
            }
            "notch" => EqBand::Notch {
                freq: freq?,
                q: node.number_prop(diags, "q", 10.0, q_range),
            },
            "bell" => EqBand::Bell {
                freq: freq?,
                gain: node.number_prop(diags, "gain", 0.0, gain_range),
                q: node.number_prop(diags, "q", 1.0, q_range),
            },
            shelf => {
                let (gain, q) = (
                    node.number_prop(diags, "gain", 0.0, gain_range),
                    node.number_prop(diags, "q", 0.707, q_range),
                );
                if shelf == "low-shelf" {
                    EqBand::LowShelf {
                        freq: freq?,
                        gain,
                        q,
                    }
                } else {
                    EqBand::HighShelf {
                        freq: freq?,
                        gain,
                        q,
                    }
                }
            }
        };
        Some(band)
    }

    fn read_master(&mut self, node: NodeView) {
        let diags = &mut self.diags;
        node.check_shape(diags, &["target", "ceiling", "mode"], 1, true);
        let Some(name) = node.string_arg(diags, 0, "a name") else {
            return;
        };
        let target =
            node.optional_number_prop(diags, "target", Range::between(-70.0, -1.0, "LUFS"));
        let ceiling =
            node.optional_number_prop(diags, "ceiling", Range::between(-30.0, 0.0, "dBTP"));
        let mode = match node.choice_prop(diags, "mode", &["track", "album"]) {
            Some("album") => LoudnessMode::Album,
            _ => LoudnessMode::Track,
        };
        if mode == LoudnessMode::Album && target.is_none() {
            let span = node.span_of(node.prop("mode").expect("mode was read").span());
            diags.push(
                ProjectDiagnostic::new(&span, "album mode needs a `target=`")
                    .code(Code::MissingValue)
                    .help(
                        "mode=\"album\" solves one gain for the whole release to reach the target",
                    ),
            );
        }
        if let (Some(t), Some(c)) = (target, ceiling) {
            if t >= c {
                let span = node.span_of(node.prop("target").expect("target was read").span());
                diags.push(
                    ProjectDiagnostic::new(
                        &span,
                        format!("a target of {t} LUFS cannot sit at or above a {c} dBTP ceiling"),
                    )
                    .code(Code::OutOfRange),
                );
            }
        }
        if let Some(first) = self.masters.iter().find(|m| m.name == name) {
            let (line, _) = first.span.line_col();
            self.error(
                Code::Duplicate,
                &node.name_span(),
                format!("master \"{name}\" is defined twice"),
            )
            .help = Some(format!("the first is at {}:{line}", first.span.file.name));
        }
        let chain = self.read_chain(node);
        self.masters.push(Master {
            name,
            target,
            // The ceiling defaults to -1 dBTP whenever a target is set.
            ceiling: ceiling.or(target.map(|_| -1.0)),
            mode,
            chain,
            span: node.name_span(),
        });
    }

    fn read_deliverable(&mut self, node: NodeView) {
        let diags = &mut self.diags;
        node.check_shape(diags, &["target", "ceiling"], 1, true);
        let Some(name) = node.string_arg(diags, 0, "a name") else {
            return;
        };
        // `target=` and `ceiling=` may sit on the node or be child nodes.
        let mut target =
            node.optional_number_prop(diags, "target", Range::between(-70.0, -1.0, "LUFS"));
        let mut ceiling =
            node.optional_number_prop(diags, "ceiling", Range::between(-30.0, 0.0, "dBTP"));
        let mut standard = None;
        let mut content: Option<(Content, Span)> = None;
        let mut format = None;
        let mut format_seen = false;
        let (mut bits, mut float, mut rate) = (DEFAULT_BITS, false, None);
        let mut dither = None;
        let mut tracks = None;
        let mut path = DEFAULT_PATH.to_string();
        let mut path_given = false;
        let mut report = None;
        for child in node.children() {
            let diags = &mut self.diags;
            match child.name() {
                "master" | "stems" => {
                    let value = if child.name() == "master" {
                        child.check_shape(diags, &[], 1, false);
                        child
                            .string_arg(diags, 0, "a master's name")
                            .map(Content::Master)
                    } else {
                        child.check_shape(diags, &[], usize::MAX, false);
                        let names = child.string_args(diags, 0);
                        Some(Content::Stems(names.into_iter().map(|(n, _)| n).collect()))
                    };
                    if content.is_some() {
                        diags.push(
                            ProjectDiagnostic::new(
                                &child.name_span(),
                                "a deliverable renders one master or one set of stems",
                            )
                            .code(Code::Invalid)
                            .label("second source"),
                        );
                    }
                    if let Some(value) = value {
                        content = Some((value, child.name_span()));
                    }
                }
                "format" => {
                    format_seen = true;
                    if let Some(read) = read_format(diags, &child) {
                        (format, bits, float, rate) =
                            (Some(read.format), read.bits, read.float, read.rate);
                    }
                }
                "dither" => {
                    child.check_shape(diags, &[], 1, false);
                    if let Some(kind) = child.string_arg(diags, 0, "a dither type") {
                        let span = child.span_of(child.args()[0].span());
                        dither = match choose(
                            diags,
                            &kind,
                            &span,
                            &["tpdf", "shaped", "none"],
                            "dither",
                        ) {
                            Some("tpdf") => Some(Dither::Tpdf),
                            Some("none") => Some(Dither::None),
                            Some(_) => Some(Dither::Shaped),
                            None => None,
                        };
                    }
                }
                "tracks" => {
                    child.check_shape(diags, &[], usize::MAX, false);
                    tracks = Some(
                        child
                            .number_args(diags, 0, Range::integer(1.0, 9999.0))
                            .into_iter()
                            .map(|(n, _)| n as u32)
                            .collect::<Vec<_>>(),
                    );
                }
                "path" => {
                    child.check_shape(diags, &[], 1, false);
                    if let Some(template) = child.string_arg(diags, 0, "a path template") {
                        let span = child.span_of(child.args()[0].span());
                        if let Err(why) = crate::template::check(&template) {
                            diags.push(
                                ProjectDiagnostic::new(
                                    &span,
                                    format!("invalid path template \"{template}\""),
                                )
                                .code(Code::BadTemplate)
                                .help(why),
                            );
                        }
                        path = template;
                        path_given = true;
                    }
                }
                "standard" => {
                    child.check_shape(diags, &[], 1, false);
                    if let Some(name) = child.string_arg(diags, 0, "a standard") {
                        let span = child.span_of(child.args()[0].span());
                        standard = choose(diags, &name, &span, Standard::NAMES, "standard")
                            .and_then(Standard::from_name);
                    }
                }
                "target" | "ceiling" => {
                    child.check_shape(diags, &[], 1, false);
                    let range = if child.name() == "target" {
                        Range::between(-70.0, -1.0, "LUFS")
                    } else {
                        Range::between(-30.0, 0.0, "dBTP")
                    };
                    let value = child.number_arg(diags, 0, "a level", range);
                    if child.name() == "target" {
                        target = value;
                    } else {
                        ceiling = value;
                    }
                }
                "report" => {
                    child.check_shape(diags, &[], 0, false);
                    report = Some(child.name_span());
                }
                other => self.unknown_node(child, other, DELIVERABLE_CHILDREN, "in `deliverable`"),
            }
        }
        if let Some(span) = report {
            // The report renders no audio of its own: it measures the rest.
            if content.is_some() || format_seen {
                self.error(
                    Code::Invalid,
                    &span,
                    format!("deliverable \"{name}\" is the release report: it holds only `report`"),
                )
                .help = Some("give the report a deliverable of its own".into());
            } else if self.reports.contains(&name)
                || self.deliverables.iter().any(|d| d.name == name)
            {
                self.error(
                    Code::Duplicate,
                    &node.name_span(),
                    format!("deliverable \"{name}\" is defined twice"),
                );
            } else {
                self.reports.push(name);
            }
            return;
        }
        let Some((content, content_span)) = content else {
            self.error(
                Code::BadDeliverable,
                &node.name_span(),
                format!("deliverable \"{name}\" renders nothing"),
            )
            .help = Some("add `master \"name\"` or `stems \"a\" \"b\"`".into());
            return;
        };
        // One file per stem per track: the default path names the stem.
        if matches!(content, Content::Stems(_)) && !path_given {
            path = DEFAULT_STEMS_PATH.to_string();
        }
        // One image for the release.
        if format == Some(FileFormat::Cd) && !path_given {
            path = DEFAULT_CD_PATH.to_string();
        }
        if let Some(first) = self.deliverables.iter().find(|d| d.name == name) {
            let (line, _) = first.span.line_col();
            self.error(
                Code::Duplicate,
                &node.name_span(),
                format!("deliverable \"{name}\" is defined twice"),
            )
            .help = Some(format!("the first is at {}:{line}", first.span.file.name));
        }
        let Some(format) = format else {
            // A format that was written but invalid has been reported already.
            if !format_seen {
                self.error(
                    Code::MissingValue,
                    &node.name_span(),
                    format!("deliverable \"{name}\" has no format"),
                )
                .help = Some("add `format \"wav\" bits=24`".into());
            }
            return;
        };
        self.deliverables.push(Deliverable {
            name,
            content,
            content_span,
            format,
            bits,
            float,
            rate,
            dither: dither.unwrap_or(Dither::Tpdf),
            tracks,
            path,
            standard,
            target,
            ceiling,
            span: node.name_span(),
        });
    }

    /// The Red Book limits a CD deliverable's project file can break: what
    /// it renders, its track count, the pregap and any fixed track length
    /// (rendered lengths are checked when the image is made).
    fn red_book_errors(&self, deliverable: &Deliverable) -> Vec<ProjectDiagnostic> {
        use bounce_nodes::{MAX_CD_TRACKS, MIN_CD_PREGAP_SECONDS, MIN_CD_TRACK_SECONDS};
        let mut errors = Vec::new();
        if matches!(deliverable.content, Content::Stems(_)) {
            errors.push(
                ProjectDiagnostic::new(
                    &deliverable.content_span,
                    "a CD image renders a master, not stems",
                )
                .code(Code::BadDeliverable)
                .help("use `master \"name\"` in a deliverable with format \"cd\""),
            );
        }
        let on_disc: Vec<&Track> = self
            .tracks
            .iter()
            .filter(|t| {
                deliverable
                    .tracks
                    .as_ref()
                    .is_none_or(|s| s.contains(&t.number))
            })
            .collect();
        if on_disc.len() > MAX_CD_TRACKS {
            errors.push(
                ProjectDiagnostic::new(
                    &deliverable.span,
                    format!("{} tracks do not fit a CD", on_disc.len()),
                )
                .code(Code::BadDeliverable)
                .help(format!(
                    "a Red Book CD holds at most {MAX_CD_TRACKS} tracks; pick some with `tracks`"
                )),
            );
        }
        if let Some(first) = on_disc.first().filter(|t| t.gap < MIN_CD_PREGAP_SECONDS) {
            errors.push(
                ProjectDiagnostic::new(
                    &first.span,
                    format!(
                        "track {} opens the CD with a {} s gap",
                        first.number, first.gap
                    ),
                ).code(Code::BadDeliverable)
                .help(format!("a Red Book CD has at least {MIN_CD_PREGAP_SECONDS} s before its first track: `gap 2`")),
            );
        }
        for track in &on_disc {
            if let Some(length) = track.length.filter(|l| *l < MIN_CD_TRACK_SECONDS) {
                errors.push(
                    ProjectDiagnostic::new(
                        &track.span,
                        format!(
                            "track {} lasts {length} s, too short for a CD",
                            track.number
                        ),
                    )
                    .code(Code::BadDeliverable)
                    .help(format!(
                        "a Red Book CD track lasts at least {MIN_CD_TRACK_SECONDS} s"
                    )),
                );
            }
        }
        errors
    }

    /// Cross-references, then the project or every error found.
    fn finish(mut self, path: &Path) -> Result<Project, ProjectErrors> {
        let mut numbers: BTreeMap<u32, Span> = BTreeMap::new();
        let mut errors = Vec::new();
        for track in &self.tracks {
            if track.number == 0 {
                continue;
            }
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
        let master_names: Vec<&str> = self.masters.iter().map(|m| m.name.as_str()).collect();
        for deliverable in &self.deliverables {
            if deliverable.format == FileFormat::Cd {
                errors.extend(self.red_book_errors(deliverable));
            }
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
                for name in names {
                    let known = self.tracks.iter().any(|t| {
                        t.sources.iter().any(|s| &s.name == name)
                            || t.buses.iter().any(|b| &b.name == name)
                    });
                    if !known {
                        errors.push(
                            ProjectDiagnostic::new(
                                &deliverable.content_span,
                                format!("no track has a stem or bus \"{name}\""),
                            )
                            .code(Code::BadRouting)
                            .label("unknown stem"),
                        );
                    }
                }
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
            references: self.references,
            checks: self.checks,
            files: {
                let mut files: Vec<PathBuf> = self.seen.into_iter().collect();
                files.sort();
                files
            },
            revision: None,
        };
        // Planning finds what only the whole project shows (colliding
        // output paths); a project that loads always plans.
        crate::plan::plan(&project)?;
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

/// An output folder outside the project's folder (absolute, or up
/// through `..`) is written only when the project says so; the root of a
/// file system never.
fn check_output(value: &str, outside: bool) -> Result<(), String> {
    let path = std::path::Path::new(value);
    let leaves = path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if path.parent().is_none() && path.has_root() {
        return Err("is the root of the file system".into());
    }
    if leaves && !outside {
        return Err("leaves the project's folder".into());
    }
    Ok(())
}

/// `n` things, in English: "1 band", "3 bands".
fn count(n: usize, thing: &str) -> String {
    match n {
        1 => format!("1 {thing}"),
        _ => format!("{n} {thing}s"),
    }
}

fn check_version(version: &str) -> Result<(), String> {
    if version.is_empty() {
        return Err("a version names the output folder and cannot be empty".into());
    }
    if version.chars().any(char::is_control) {
        return Err("a version names a folder: it holds no control characters".into());
    }
    if version == "." || version == ".." || version.contains(['/', '\\']) {
        return Err("a version names one folder: no slashes, no `..`".into());
    }
    Ok(())
}

/// A deliverable's `format` node, read and checked against what the format
/// can carry.
struct FormatChoice {
    format: FileFormat,
    bits: u16,
    float: bool,
    rate: Option<u32>,
}

fn read_format(diags: &mut Diagnostics, child: &NodeView) -> Option<FormatChoice> {
    child.check_shape(
        diags,
        &["bits", "float", "rate", "bitrate", "quality"],
        1,
        false,
    );
    let kind = child.string_arg(diags, 0, "a format")?;
    let kind_span = child.span_of(child.args()[0].span());
    let all = ["wav", "bwf", "aiff", "flac", "mp3", "cd"];
    let kind = choose(diags, &kind, &kind_span, &all, "format")?;
    let prop_span = |name: &str| {
        child.span_of(
            child
                .prop(name)
                .map(|e| e.span())
                .unwrap_or(child.node.span()),
        )
    };
    let bits_given = child.optional_number_prop(diags, "bits", Range::integer(8.0, 64.0));
    let bits = bits_given.map(|b| b as u16).unwrap_or(DEFAULT_BITS);
    let float = child.bool_prop(diags, "float", false);
    let mut rate = None;
    if let Some(r) = child.optional_number_prop(diags, "rate", Range::integer(1.0, 768000.0)) {
        if SAMPLE_RATES.contains(&(r as u32)) {
            rate = Some(r as u32);
        } else {
            diags.push(
                ProjectDiagnostic::new(
                    &prop_span("rate"),
                    format!("{r} Hz is not a standard sample rate"),
                )
                .code(Code::OutOfRange)
                .label("unsupported rate"),
            );
        }
    }
    let bitrate = child.optional_number_prop(diags, "bitrate", Range::integer(8.0, 640.0));
    let quality = child.optional_number_prop(diags, "quality", Range::integer(0.0, 9.0));
    let mut refuse = |name: &str, message: String, help: &str| {
        diags.push(
            ProjectDiagnostic::new(&prop_span(name), message)
                .code(Code::BadDeliverable)
                .help(help.to_string()),
        );
    };
    let lossy_only = ["bitrate", "quality"];
    if kind != "mp3" {
        for name in lossy_only {
            if child.prop(name).is_some() {
                refuse(
                    name,
                    format!("`{name}` applies to MP3 only"),
                    "remove it, or use format \"mp3\"",
                );
            }
        }
    }
    let format = match kind {
        "wav" | "bwf" => {
            if ![16, 24, 32].contains(&bits) {
                refuse(
                    "bits",
                    format!("{bits}-bit WAV is not supported"),
                    "bits is 16, 24 or 32",
                );
            }
            if float && bits != 32 {
                refuse(
                    "float",
                    "float samples need bits=32".into(),
                    "write `bits=32 float=#true`",
                );
            }
            if kind == "wav" {
                FileFormat::Wav
            } else {
                FileFormat::Bwf
            }
        }
        "aiff" | "flac" => {
            let name = if kind == "flac" { "FLAC" } else { "AIFF" };
            if ![16, 24].contains(&bits) {
                refuse(
                    "bits",
                    format!("{name} deliverables are 16 or 24 bits, not {bits}"),
                    "use bits=16 or bits=24, or format \"wav\" for 32-bit",
                );
            }
            if float {
                refuse(
                    "float",
                    format!("{name} carries integer samples only"),
                    "use format \"wav\" bits=32 float=#true",
                );
            }
            if kind == "flac" {
                FileFormat::Flac
            } else {
                FileFormat::Aiff
            }
        }
        "mp3" => {
            for name in ["bits", "float"] {
                if child.prop(name).is_some() {
                    refuse(
                        name,
                        format!("MP3 has no `{name}`: the codec decides the samples"),
                        "set `bitrate=` (CBR) or `quality=` (VBR) instead",
                    );
                }
            }
            if let Some(r) = rate.filter(|r| !MP3_RATES.contains(r)) {
                refuse(
                    "rate",
                    format!("MP3 does not carry {r} Hz"),
                    "MP3 is 32000, 44100 or 48000 Hz",
                );
            }
            let mode = match (bitrate, quality) {
                (Some(_), Some(_)) => {
                    refuse(
                        "quality",
                        "an MP3 is either constant bitrate or VBR".into(),
                        "keep `bitrate=` for CBR or `quality=` for VBR, not both",
                    );
                    return None;
                }
                (_, Some(q)) => Mp3Mode::Vbr(q as u8),
                (b, None) => {
                    let kbps = b.map(|b| b as u16).unwrap_or(DEFAULT_MP3_BITRATE);
                    if !MP3_BITRATES.contains(&kbps) {
                        let all: Vec<String> = MP3_BITRATES.iter().map(|b| b.to_string()).collect();
                        refuse(
                            "bitrate",
                            format!("{kbps} kbit/s is not an MP3 bitrate bounce writes"),
                            &format!("one of {}", all.join(", ")),
                        );
                    }
                    Mp3Mode::Cbr(kbps)
                }
            };
            FileFormat::Mp3(mode)
        }
        "cd" => {
            let off_book = [
                ("bits", bits_given.is_some_and(|b| b != 16.0)),
                ("rate", rate.is_some_and(|r| r != 44100)),
            ];
            for (name, _) in off_book.iter().filter(|(_, off)| *off) {
                refuse(
                    name,
                    "a CD image is 44100 Hz, 16 bits".into(),
                    &format!("remove `{name}=`: Red Book audio has one format"),
                );
            }
            if float {
                refuse(
                    "float",
                    "a CD image carries 16-bit integers".into(),
                    "remove `float=`",
                );
            }
            return Some(FormatChoice {
                format: FileFormat::Cd,
                bits: 16,
                float: false,
                rate: Some(44100),
            });
        }
        _ => unreachable!("chosen from the list"),
    };
    Some(FormatChoice {
        format,
        bits,
        float,
        rate,
    })
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
                "release \"R\" {{ version \"1\"; }}\nmaster \"m\" {{ }}\ntrack 1 \"T\" {{\n    tone \"t\" freq=440 level=-12 length=2 {{\n{}\n    }}\n}}\ndeliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n",
                kind.example
            );
            let path = dir.path().join(format!("{}.kdl", kind.name));
            std::fs::write(&path, text).unwrap();
            let project = crate::load_project(&path)
                .unwrap_or_else(|e| panic!("{}'s example does not read: {e:?}", kind.name));
            let plan = crate::plan(&project).unwrap();
            let stem = plan
                .graph
                .node_weights()
                .find(|s| s.id == "stem:1:t")
                .expect("the tone's stem step");
            let Action::Stem { chain, .. } = &stem.action else {
                panic!("a stem step stems")
            };
            let spec = chain
                .iter()
                .find(|p| p.name() == kind.name)
                .unwrap_or_else(|| panic!("{} is not in its example's chain", kind.name));
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
