//! The steps of a build: what each renders, from which inputs.

use std::path::PathBuf;

use bounce_nodes::{Dither, LimiterSettings, ProcessorSpec};
use petgraph::graph::NodeIndex;

use crate::model::Trim;
use serde::Serialize;

/// The kind of a step, as `--message-format json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Source,
    Stem,
    Bus,
    Mix,
    Master,
    /// One gain for a master in album mode, solved over every track.
    Album,
    /// A master at a deliverable's rate, with the limiter's detection of
    /// it beside it.
    Resample,
    /// A master fitted to a file: at its rate, limited again there under
    /// its ceiling, at its master's loudness. What every deliverable of
    /// that master, rate and ceiling encodes first.
    Fit,
    Deliverable,
    /// Tags written into an encoded file.
    Tag,
    /// A deliverable's album ReplayGain values.
    ReplayGain,
    /// A stem or bus fitted to its track, for a stems deliverable.
    Export,
    /// A CD image: the tracks' files joined with their gaps.
    Image,
    /// The CUE sheet of a CD image.
    Cue,
    /// A delivered file measured for the release report.
    Inspect,
    /// A lossy file decoded and measured against a lossless file of the
    /// same master, rate and targets, for the release report.
    Codec,
    /// A lossless file encoded with a lossy codec for the release report
    /// only (`report { preview … }`): nothing lossy is delivered.
    Preview,
    /// A track's chapters as a Podcasting 2.0 JSON chapters file.
    Chapters,
    /// A deliverable's files as the episodes of an RSS feed.
    Feed,
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Source => "source",
            StepKind::Stem => "stem",
            StepKind::Bus => "bus",
            StepKind::Mix => "mix",
            StepKind::Master => "master",
            StepKind::Album => "album",
            StepKind::Resample => "resample",
            StepKind::Fit => "fit",
            StepKind::Deliverable => "deliverable",
            StepKind::Tag => "tag",
            StepKind::ReplayGain => "replaygain",
            StepKind::Export => "export",
            StepKind::Image => "image",
            StepKind::Cue => "cue",
            StepKind::Inspect => "inspect",
            StepKind::Codec => "codec",
            StepKind::Preview => "preview",
            StepKind::Chapters => "chapters",
            StepKind::Feed => "feed",
        }
    }

    /// Whether the kind's output is kept only while a build needs it:
    /// stems, buses, masters and their resampled copies are rendered into
    /// scratch, read by their consumers and dropped, so the cache holds
    /// each track's mix and its files, not its stems a second time. Their
    /// keys stay in the action cache; a consumer that must render when
    /// their output is gone renders them again first. The mix stays: it
    /// is what a master edit starts from.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            StepKind::Stem | StepKind::Bus | StepKind::Master | StepKind::Resample | StepKind::Fit
        )
    }

    /// Bumped when a kind's rendering changes outside its processors
    /// (each bump is listed in docs/design.md, "Versions in a key").
    pub fn version(self) -> u32 {
        match self {
            StepKind::Source => 2,
            StepKind::Deliverable => 3,
            _ => 1,
        }
    }
}

/// One cached unit of work.
#[derive(Debug, Clone)]
pub struct Step {
    /// Stable across builds, e.g. `stem:1:kick`.
    pub id: String,
    pub kind: StepKind,
    pub track: Option<u32>,
    pub action: Action,
}

impl Step {
    /// A step's typical cost, in tenths of a second for a 3-minute track
    /// at 48 kHz (BENCHMARKS.md, the eighth mastering run's per-step
    /// figures): only their proportions matter. They order the ready steps
    /// (the costliest path first, so an album's MP3s, the longest steps,
    /// start before its PCM files and do not trail the build alone) and
    /// weigh the progress a build shows.
    pub fn typical_cost(&self) -> u64 {
        match (&self.action, self.kind) {
            (Action::Encode { file, .. }, _) if file.mp3.is_some() => 37,
            (Action::Encode { .. }, _) => 8,
            (_, StepKind::Source | StepKind::Tag | StepKind::Cue) => 1,
            (_, StepKind::Chapters | StepKind::Feed) => 1,
            // A comparison decodes a lossy file and inspects it too.
            (_, StepKind::Inspect) => 3,
            (_, StepKind::Codec) => 7,
            (_, StepKind::Preview) => 15,
            (_, StepKind::ReplayGain) => 2,
            (_, StepKind::Stem | StepKind::Bus | StepKind::Mix | StepKind::Export) => 3,
            (_, StepKind::Fit) => 3,
            (_, StepKind::Image) => 5,
            (_, StepKind::Resample) => 9,
            (_, StepKind::Deliverable) => 8,
            (_, StepKind::Master | StepKind::Album) => 22,
        }
    }
}

/// A step's input: the step it is in the plan. Never part of a key (an
/// input enters its consumer's key as its output's hash), so each is
/// skipped when an action is serialised.
pub type StepRef = NodeIndex;

/// What a step does, and from which steps, each input named for what it is
/// to the step. Serialised, it is the parameter part of the step's key, so
/// it holds nothing that does not change the output (no paths, no inputs).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Hash an audio file and read its header.
    ReadFile {
        #[serde(skip)]
        path: PathBuf,
    },
    /// A generated sine.
    Tone { freq: f64, level: f64, length: f64 },
    /// A `source`, trimmed to its in and out points (resampled to the
    /// release's rate) through its chain, which ends with its fader and
    /// pan, placed at its offset.
    Stem {
        chain: Vec<ProcessorSpec>,
        offset: f64,
        /// The part of the source played (keyed only when not the whole,
        /// so untrimmed stems keep their keys).
        #[serde(skip_serializing_if = "Trim::is_whole")]
        trim: Trim,
        #[serde(skip)]
        source: StepRef,
        /// The stems a `duck` in the chain listens to, in its order.
        #[serde(skip)]
        keys: Vec<StepRef>,
    },
    /// The sum of the `members`, in order, through a chain that ends with
    /// the bus's fader and pan.
    Bus {
        chain: Vec<ProcessorSpec>,
        #[serde(skip)]
        members: Vec<StepRef>,
        /// The stems a `duck` in the chain listens to, in its order.
        #[serde(skip)]
        keys: Vec<StepRef>,
    },
    /// The sum of the `parts` (the stems and buses routed to no bus),
    /// fitted to the track's length, through the mix chain, which ends with
    /// the track's fades.
    Mix {
        chain: Vec<ProcessorSpec>,
        length: Option<f64>,
        #[serde(skip)]
        parts: Vec<StepRef>,
    },
    /// A mastering chain over the `mix`; with a `target` (or, in album
    /// mode, the gain of the `album_gain` step) a solved gain and the
    /// `limit`ing that keeps the ceiling. Without a target the limiter, if
    /// any, ends the chain.
    Master {
        chain: Vec<ProcessorSpec>,
        target: Option<f64>,
        #[serde(serialize_with = "limiter_as_processor")]
        limit: Option<LimiterSettings>,
        /// The album step whose gain this track takes, in album mode.
        #[serde(rename = "album", serialize_with = "is_some")]
        album_gain: Option<StepRef>,
        #[serde(skip)]
        mix: StepRef,
    },
    /// The gain that brings every track's master (the chain over each of
    /// the `mixes`), measured as one programme, to the target, through the
    /// master's `limit`.
    AlbumGain {
        chain: Vec<ProcessorSpec>,
        target: f64,
        #[serde(serialize_with = "limiter_as_processor")]
        limit: LimiterSettings,
        #[serde(skip)]
        mixes: Vec<StepRef>,
    },
    /// A stem or bus (`audio`) from 0 to the length of its track's `mix`,
    /// so a track's stems sum to its mix.
    Export {
        #[serde(skip)]
        audio: StepRef,
        #[serde(skip)]
        mix: StepRef,
    },
    /// The album ReplayGain loudness and peak over every encoded file of a
    /// deliverable (`files`), rounded as tags print them, so a change
    /// that leaves them the same stops there.
    AlbumReplayGain {
        #[serde(skip)]
        files: Vec<StepRef>,
    },
    /// The release report's figures of a delivered `file`: a step of the
    /// graph, so a report measures again only what changed.
    Inspect {
        #[serde(skip)]
        file: StepRef,
    },
    /// What a lossy codec changed: the `lossy` file decoded less the
    /// `lossless` one, with an excerpt of the difference around the
    /// loudest moment the lossless file's `inspection` found.
    CodecDifference {
        #[serde(skip)]
        lossy: StepRef,
        #[serde(skip)]
        lossless: StepRef,
        #[serde(skip)]
        inspection: StepRef,
    },
    /// The encoded `lossless` file encoded with `codec`, for the report to
    /// measure what the codec would change.
    Preview {
        codec: bounce_nodes::Mp3Settings,
        #[serde(skip)]
        lossless: StepRef,
    },
    /// The `encoded` file with tags, their ReplayGain from the
    /// deliverable's album ReplayGain step (`album`; none for stems).
    Tag {
        container: bounce_nodes::Container,
        fields: Box<TagFields>,
        #[serde(skip)]
        encoded: StepRef,
        #[serde(skip)]
        album: Option<StepRef>,
    },
    /// The tracks' CD `files` (in disc order) joined into one image, each
    /// after its gap (CD frames) and padded to a CD frame.
    CdImage {
        gaps: Vec<u64>,
        #[serde(skip)]
        files: Vec<StepRef>,
    },
    /// A file of text the plan made whole from the project (a JSON
    /// chapters file): its key is its text.
    Text { text: String },
    /// An RSS feed of the tagged `files`, one item each, with what the
    /// project says of the show and of each episode.
    Feed {
        feed: crate::feed::FeedText,
        #[serde(skip)]
        files: Vec<StepRef>,
    },
    /// The CUE sheet of the image the same files and gaps make.
    CueSheet {
        text: bounce_nodes::CueText,
        gaps: Vec<u64>,
        #[serde(skip)]
        files: Vec<StepRef>,
    },
    /// The `master` resampled to `rate`, with the limiter's detection of
    /// it kept beside it for the fit steps that read it.
    Resample {
        rate: u32,
        #[serde(skip)]
        master: StepRef,
    },
    /// The `master` at `rate` (the `resampled` step's, when the rate
    /// differs), under a `ceiling` limited again at that rate, and, to
    /// keep its loudness, brought back to the master's. An MP3's ceiling
    /// here is the file's less the room the codec's overshoot takes.
    Fit {
        rate: u32,
        ceiling: Option<f64>,
        keep_loudness: bool,
        #[serde(skip)]
        master: StepRef,
        #[serde(skip)]
        resampled: Option<StepRef>,
    },
    /// The `master` (or a stem's export) encoded as a file; when the file
    /// is resampled or lossy, its `fit` is what the first attempt encodes
    /// and the `resampled` master what a later one limits again.
    Encode {
        #[serde(flatten)]
        file: EncodeSettings,
        #[serde(skip)]
        master: StepRef,
        #[serde(skip)]
        fit: Option<StepRef>,
        #[serde(skip)]
        resampled: Option<StepRef>,
    },
}

/// How a deliverable's file is encoded and what it is held to.
#[derive(Debug, Clone, Serialize)]
pub struct EncodeSettings {
    pub container: bounce_nodes::Container,
    pub bits: u16,
    pub float: bool,
    pub rate: u32,
    pub dither: Dither,
    /// For MP3s: the bitrate or VBR quality.
    pub mp3: Option<bounce_nodes::Mp3Settings>,
    /// 1 for a mono file; left out of the key when 2, as before there
    /// were mono files.
    #[serde(skip_serializing_if = "is_stereo")]
    pub channels: u16,
    /// The ceiling the delivered file must keep, dBTP.
    pub ceiling: Option<f64>,
    /// The master had a loudness target: a resampled file must keep the
    /// master's measured loudness (per track, and so per album).
    pub keep_loudness: bool,
    /// A delivery standard the encoded file is checked against.
    pub check: Option<SpecCheck>,
}

/// A limiter in a key as the processor it runs, so its settings read as
/// the chain's own limiter's do.
fn limiter_as_processor<S: serde::Serializer, L: Limiters>(
    limit: &L,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    limit.as_processor().serialize(serializer)
}

/// A limiter, or a limiter that may be absent.
trait Limiters {
    fn as_processor(&self) -> Option<ProcessorSpec>;
}

impl Limiters for LimiterSettings {
    fn as_processor(&self) -> Option<ProcessorSpec> {
        Some(self.processor())
    }
}

impl Limiters for Option<LimiterSettings> {
    fn as_processor(&self) -> Option<ProcessorSpec> {
        self.map(LimiterSettings::processor)
    }
}

fn is_stereo(channels: &u16) -> bool {
    *channels == 2
}

fn is_some<S: serde::Serializer>(
    input: &Option<StepRef>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(input.is_some())
}

/// What a delivery standard asks of each file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecCheck {
    pub standard: String,
    /// LUFS.
    pub target: f64,
    /// LU either side of the target.
    pub tolerance: f64,
    /// dBTP.
    pub max_true_peak: f64,
    /// Track-mode masters bring each file to the target; album-mode masters
    /// bring the album, so a file's own loudness is not checked.
    pub per_file_loudness: bool,
}

/// The text and picture a delivered file carries.
#[derive(Debug, Clone, Serialize)]
pub struct TagFields {
    pub text: bounce_nodes::TagText,
    /// The cover's content hash: the key follows the picture, not its path.
    pub cover_hash: Option<String>,
    #[serde(skip)]
    pub cover_path: Option<PathBuf>,
}

impl Action {
    /// Every processor this action runs, in order, for their DSP versions.
    pub fn processors(&self) -> Vec<ProcessorSpec> {
        match self {
            Action::Stem { chain, .. } | Action::Bus { chain, .. } | Action::Mix { chain, .. } => {
                chain.clone()
            }
            Action::Master { chain, limit, .. } => chain
                .iter()
                .cloned()
                .chain(limit.map(LimiterSettings::processor))
                .collect(),
            Action::AlbumGain { chain, limit, .. } => {
                chain.iter().cloned().chain([limit.processor()]).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The steps this action reads, in the order their output hashes enter
    /// its key (and, for sums, the order they are summed in).
    pub fn inputs(&self) -> Vec<StepRef> {
        match self {
            Action::ReadFile { .. } | Action::Tone { .. } | Action::Text { .. } => Vec::new(),
            Action::Stem { source, keys, .. } => std::iter::once(*source)
                .chain(keys.iter().copied())
                .collect(),
            Action::Bus { members, keys, .. } => members.iter().chain(keys).copied().collect(),
            Action::Mix { parts: all, .. }
            | Action::AlbumGain { mixes: all, .. }
            | Action::AlbumReplayGain { files: all }
            | Action::CdImage { files: all, .. }
            | Action::Feed { files: all, .. }
            | Action::CueSheet { files: all, .. } => all.clone(),
            Action::Master {
                mix, album_gain, ..
            } => std::iter::once(*mix).chain(*album_gain).collect(),
            Action::Export { audio, mix } => vec![*audio, *mix],
            Action::Inspect { file } => vec![*file],
            Action::CodecDifference {
                lossy,
                lossless,
                inspection,
            } => vec![*lossy, *lossless, *inspection],
            Action::Preview { lossless, .. } => vec![*lossless],
            Action::Tag { encoded, album, .. } => std::iter::once(*encoded).chain(*album).collect(),
            Action::Resample { master, .. } => vec![*master],
            Action::Fit {
                master, resampled, ..
            } => std::iter::once(*master).chain(*resampled).collect(),
            Action::Encode {
                master,
                fit,
                resampled,
                ..
            } => [Some(*master), *fit, *resampled]
                .into_iter()
                .flatten()
                .collect(),
        }
    }

    /// The versions of the code outside processors that this action's
    /// output depends on: the resampler, the limiter a file is limited
    /// with again, requantisation, the file writers, the loudness meter.
    pub fn tools(&self) -> Vec<(&'static str, u32)> {
        use bounce_nodes::processors::LIMITER_VERSION;
        use bounce_nodes::{
            DITHER_VERSION, GATING_VERSION, INSPECTOR_VERSION, METER_VERSION, RESAMPLER_VERSION,
            WRITER_VERSION,
        };
        let resampler = ("resampler", RESAMPLER_VERSION);
        let limiter = ("limiter", LIMITER_VERSION);
        let dither = ("dither", DITHER_VERSION);
        let writer = ("writer", WRITER_VERSION);
        let meter = ("meter", METER_VERSION);
        match self {
            Action::Stem { .. } => vec![resampler],
            Action::Master { .. } | Action::AlbumGain { .. } => vec![meter],
            Action::Resample { .. } => vec![resampler, limiter],
            Action::Fit { .. } => vec![limiter, meter],
            Action::Encode { .. } => vec![resampler, limiter, dither, writer, meter],
            Action::Tag { .. } | Action::CdImage { .. } => vec![writer],
            Action::AlbumReplayGain { .. } => vec![("gating", GATING_VERSION)],
            Action::Inspect { .. } | Action::CodecDifference { .. } => {
                vec![("inspector", INSPECTOR_VERSION)]
            }
            Action::Preview { .. } => vec![writer],
            _ => Vec::new(),
        }
    }
}
