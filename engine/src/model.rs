//! The typed project: what a project file says, checked, with the place in
//! the file where each thing was written kept for later errors.

use std::path::PathBuf;

use bounce_nodes::processors::FadeCurve;
use bounce_nodes::{Dither, ProcessorSpec};

use crate::diagnostic::Span;
pub use crate::formats::FileFormat;
use serde::{Deserialize, Serialize};

/// A whole release.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project file the build started from.
    pub file: PathBuf,
    pub release: Release,
    pub tracks: Vec<Track>,
    pub masters: Vec<Master>,
    pub deliverables: Vec<Deliverable>,
    /// Deliverables that are the release report (`deliverable "qc" {
    /// report }`): written after a complete build, which fails when a
    /// check does.
    pub reports: Vec<String>,
    /// Lossy formats the report previews each track's master in, encoded
    /// for the report only (`report { preview "mp3" bitrate=128 }`).
    pub previews: Vec<FileFormat>,
    /// Commercial or earlier masters the report compares tracks with.
    pub references: Vec<Reference>,
    /// The report's thresholds (`checks { … }`).
    pub checks: CheckRules,
    /// Every project file read (the file and what it includes).
    pub files: Vec<PathBuf>,
    /// Set when the project was read from a git revision rather than the
    /// work tree: the manifest and `{rev}` then name that revision.
    pub revision: Option<Revision>,
}

/// The git revision a project was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub commit: String,
    /// `git describe --always --tags`.
    pub describe: String,
}

/// What the report's checks hold files and the release to: the thresholds
/// of the checks that warn, and which of them fail instead (`checks { … }`
/// in the project; the defaults are these).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRules {
    /// DC offset over this warns, dBFS.
    pub dc_offset: f64,
    /// Silence before the music over this warns, seconds.
    pub head_silence: f64,
    /// Silence after the music over this warns, seconds.
    pub tail_silence: f64,
    /// A mono fold-down losing more than this warns, LU.
    pub mono_loss: f64,
    /// Correlation under 0 for more than this share of the time warns.
    pub antiphase: f64,
    /// PLR under this (heavily limited) warns, dB.
    pub plr: f64,
    /// Lossless files under this depth or rate warn (Apple Digital Masters
    /// asks 24-bit at 44.1 kHz or more).
    pub hi_res_bits: u16,
    pub hi_res_rate: u32,
    /// Cover art that is not a square of at least this many pixels warns
    /// (stores ask for 1400).
    pub cover_side: u32,
    /// The checks (by name) that fail rather than warn.
    pub failing: Vec<&'static str>,
}

impl Default for CheckRules {
    fn default() -> Self {
        CheckRules {
            dc_offset: -50.0,
            head_silence: 1.0,
            tail_silence: 3.0,
            mono_loss: 3.0,
            antiphase: 0.01,
            plr: 8.0,
            hi_res_bits: 24,
            hi_res_rate: 44_100,
            cover_side: 1400,
            failing: Vec::new(),
        }
    }
}

impl CheckRules {
    /// The tunable checks, as the report names them.
    pub const DC_OFFSET: &'static str = "dc offset";
    pub const SILENCE: &'static str = "silence";
    pub const MONO: &'static str = "mono";
    pub const DYNAMICS: &'static str = "dynamics";
    pub const HI_RES: &'static str = "hi-res";
    pub const COVER: &'static str = "cover";

    /// Whether a check that does not pass warns or fails.
    pub fn fails(&self, check: &str) -> bool {
        self.failing.contains(&check)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Release {
    pub title: String,
    pub artist: Option<String>,
    pub version: String,
    pub upc: Option<String>,
    pub label: Option<String>,
    pub year: Option<i64>,
    pub genre: Option<String>,
    pub copyright: Option<String>,
    pub composer: Option<String>,
    pub cover: Option<PathBuf>,
    /// The cover image's content hash, taken when it was checked.
    pub cover_hash: Option<String>,
    pub sample_rate: u32,
    /// Where versions are written, resolved against the project file.
    pub output: PathBuf,
    /// What a podcast's feed says of the show.
    pub description: Option<String>,
    /// An RFC 5646 language tag (`en`, `en-GB`).
    pub language: Option<String>,
    pub explicit: Option<bool>,
    /// An Apple Podcasts category (`Technology`).
    pub category: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Track {
    pub number: u32,
    pub title: String,
    /// Normalised: no hyphens, upper case.
    pub isrc: Option<String>,
    pub artist: Option<String>,
    pub composer: Option<String>,
    pub genre: Option<String>,
    pub sources: Vec<Source>,
    pub buses: Vec<Bus>,
    pub mix: Vec<ProcessorSpec>,
    pub length: Option<f64>,
    pub fade_in: Option<Fade>,
    pub fade_out: Option<Fade>,
    /// Silence before the track on a CD, seconds.
    pub gap: f64,
    /// Chapter marks, in time order.
    pub chapters: Vec<bounce_nodes::ChapterMark>,
    /// An episode's description, numbers and explicit flag.
    pub episode: bounce_nodes::EpisodeText,
    /// When an episode is published (year, month, day), for its feed.
    pub date: Option<(i32, u32, u32)>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fade {
    pub seconds: f64,
    pub curve: FadeCurve,
}

/// A stem or a tone.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    pub gain: f64,
    pub pan: f64,
    pub offset: f64,
    /// The part of the source the stem plays: from `start` seconds into
    /// it, to `end` if given.
    pub trim: Trim,
    pub mute: bool,
    pub chain: Vec<ProcessorSpec>,
    pub span: Span,
}

/// The part of a source a stem plays, seconds of the source: its in and
/// out points, the regions cut out of it (each seam crossfaded), and its
/// fades. What is left at its default stays out of a key, so a stem
/// keeps the key it had before it could say more.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Trim {
    pub start: f64,
    pub end: Option<f64>,
    /// Removed regions, `(from, to)`, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cuts: Vec<(f64, f64)>,
    /// Each seam's equal-power crossfade, where there are cuts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crossfade: Option<f64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub fade_in: f64,
    #[serde(skip_serializing_if = "is_zero")]
    pub fade_out: f64,
}

fn is_zero(seconds: &f64) -> bool {
    *seconds == 0.0
}

impl Trim {
    /// The whole source.
    pub fn is_whole(&self) -> bool {
        self.start == 0.0 && self.end.is_none() && self.is_plain()
    }

    /// Only in and out points: no cuts, no fades.
    pub fn is_plain(&self) -> bool {
        self.cuts.is_empty() && self.fade_in == 0.0 && self.fade_out == 0.0
    }

    /// The edit at `rate` of a source `frames` long: the regions between
    /// the in point, the cuts and the out point (or the source's end).
    pub fn edit_list(&self, rate: u32, frames: u64) -> bounce_nodes::EditList {
        let at = |seconds: f64| ((seconds * rate as f64).round() as u64).min(frames);
        let mut regions = Vec::new();
        let mut from = at(self.start);
        for &(cut_from, cut_to) in &self.cuts {
            regions.push((from, at(cut_from)));
            from = at(cut_to);
        }
        regions.push((from, self.end.map_or(frames, at)));
        bounce_nodes::EditList {
            regions,
            crossfade: at(self.crossfade.unwrap_or(0.0)),
            fade_in: at(self.fade_in),
            fade_out: at(self.fade_out),
        }
    }

    /// The frames to skip and (if cut) keep at `rate`.
    pub fn frames(&self, rate: u32) -> (u64, Option<u64>) {
        let at = |seconds: f64| (seconds * rate as f64).round() as u64;
        (at(self.start), self.end.map(|end| at(end) - at(self.start)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// An audio file; the path is resolved against the file that names it.
    File(PathBuf),
    Tone {
        freq: f64,
        level: f64,
        length: f64,
    },
}

#[derive(Debug, Clone)]
pub struct Bus {
    pub name: String,
    pub members: Vec<(String, Span)>,
    pub gain: f64,
    pub pan: f64,
    pub chain: Vec<ProcessorSpec>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoudnessMode {
    Track,
    Album,
}

#[derive(Debug, Clone)]
pub struct Master {
    pub name: String,
    pub target: Option<f64>,
    pub ceiling: Option<f64>,
    pub mode: LoudnessMode,
    pub chain: Vec<ProcessorSpec>,
    pub span: Span,
}

/// What a deliverable renders.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Master(String),
    Stems(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Deliverable {
    pub name: String,
    pub content: Content,
    pub content_span: Span,
    /// Where each of a `stems` deliverable's names is written.
    pub stem_spans: Vec<Span>,
    pub format: FileFormat,
    pub bits: u16,
    pub float: bool,
    /// `None`: see [`Deliverable::file_rate`].
    pub rate: Option<u32>,
    pub dither: Dither,
    pub tracks: Option<Vec<u32>>,
    pub path: String,
    /// A delivery standard the files are checked against.
    pub standard: Option<Standard>,
    /// Overrides of the master's target and ceiling for this deliverable.
    pub target: Option<f64>,
    pub ceiling: Option<f64>,
    /// An RSS feed of this deliverable's files, as podcast episodes.
    pub feed: Option<FeedSpec>,
    pub span: Span,
}

/// `feed base-url="…"`: where a deliverable's files are published, and
/// where its feed is written.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSpec {
    /// The URL of the version folder as published, ending in `/`.
    pub base_url: String,
    /// The feed's path in the version folder.
    pub path: String,
    /// The show's artwork, a URL (Apple asks 1400 to 3000 pixels square).
    pub image: Option<String>,
}

impl Deliverable {
    /// The rate of this deliverable's files: the one it names, else its
    /// format's default for the release (the release's own, but an MP3's
    /// 44.1 kHz of a release at 48 kHz or more).
    pub fn file_rate(&self, release_rate: u32) -> u32 {
        self.rate
            .unwrap_or_else(|| self.format.kind.default_rate(release_rate))
    }

    /// The project's tracks this deliverable makes files of (`tracks`, or
    /// every one), in track order.
    pub fn tracks_of<'a>(&'a self, project: &'a Project) -> impl Iterator<Item = &'a Track> {
        project.tracks.iter().filter(|t| {
            self.tracks
                .as_ref()
                .is_none_or(|subset| subset.contains(&t.number))
        })
    }
}

/// A delivery standard: its loudness target, tolerance and true-peak limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standard {
    /// EBU R128: −23 LUFS ±0.5 LU, −1 dBTP.
    EbuR128,
    /// ATSC A/85: −24 LKFS ±2 dB, −2 dBTP.
    AtscA85,
    Spotify,
    AppleMusic,
    Youtube,
    ApplePodcasts,
    /// Podcast practice (AES TD1004): −16 LUFS stereo, −19 LUFS mono
    /// (the same loudness on two speakers), −1 dBTP.
    Podcast,
}

impl Standard {
    pub const NAMES: &'static [&'static str] = &[
        "ebu-r128",
        "atsc-a85",
        "spotify",
        "apple-music",
        "youtube",
        "apple-podcasts",
        "podcast",
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "ebu-r128" => Standard::EbuR128,
            "atsc-a85" => Standard::AtscA85,
            "spotify" => Standard::Spotify,
            "apple-music" => Standard::AppleMusic,
            "youtube" => Standard::Youtube,
            "apple-podcasts" => Standard::ApplePodcasts,
            "podcast" => Standard::Podcast,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl Project {
    /// The folder of the project file, absolute.
    pub fn dir(&self) -> PathBuf {
        std::path::absolute(&self.file)
            .ok()
            .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// A track's artist, or the release's.
    pub fn artist_of<'a>(&'a self, track: &'a Track) -> Option<&'a String> {
        track.artist.as_ref().or(self.release.artist.as_ref())
    }

    pub fn track(&self, number: u32) -> Option<&Track> {
        self.tracks.iter().find(|t| t.number == number)
    }
    pub fn master(&self, name: &str) -> Option<&Master> {
        self.masters.iter().find(|m| m.name == name)
    }
}

/// A reference track: read like a source (any rate or format), for the
/// release report only; `track` limits it to one track.
#[derive(Debug, Clone)]
pub struct Reference {
    pub name: String,
    pub path: PathBuf,
    pub track: Option<u32>,
}

/// See [`Project::file_targets`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FileTargets {
    pub target: Option<f64>,
    pub ceiling: Option<f64>,
    pub tolerance: Option<f64>,
}

impl Project {
    /// What `check` and `build` say before anything runs: settings that
    /// have no effect, and files a deliverable will not make.
    pub fn warnings(&self) -> Vec<String> {
        let mut said = self.unused_settings();
        said.extend(self.unheld_loudness());
        said.extend(self.unreachable_targets());
        said.extend(self.stems_not_in_every_track());
        said
    }

    /// What `check` and `build` note before anything runs: the level each
    /// mono deliverable is held to.
    pub fn notes(&self) -> Vec<String> {
        self.mono_levels()
    }

    /// A `stems` deliverable's names that some of its tracks lack: those
    /// tracks get no file of that name.
    fn stems_not_in_every_track(&self) -> Vec<String> {
        let mut said = Vec::new();
        for deliverable in &self.deliverables {
            let Content::Stems(names) = &deliverable.content else {
                continue;
            };
            let tracks = deliverable.tracks_of(self);
            for track in tracks {
                let has = |name: &String| {
                    track.sources.iter().any(|s| &s.name == name)
                        || track.buses.iter().any(|b| &b.name == name)
                };
                let missing: Vec<&str> = names
                    .iter()
                    .filter(|n| !has(n))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    said.push(format!(
                        "deliverable \"{}\" writes no {} for track {} (\"{}\"), which has no stem or bus of that name",
                        deliverable.name,
                        missing
                            .iter()
                            .map(|n| format!("\"{n}\""))
                            .collect::<Vec<_>>()
                            .join(", "),
                        track.number,
                        track.title
                    ));
                }
            }
        }
        said
    }

    /// The files a build reads: project files, sources and the cover.
    pub fn inputs(&self) -> Vec<PathBuf> {
        let mut paths = self.files.clone();
        for track in &self.tracks {
            for source in &track.sources {
                if let SourceKind::File(path) = &source.kind {
                    paths.push(path.clone());
                }
            }
        }
        paths.extend(self.release.cover.clone());
        paths.extend(self.references.iter().map(|r| r.path.clone()));
        paths
    }
}
