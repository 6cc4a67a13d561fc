//! The steps of a build: what each renders, from which inputs.

use std::path::PathBuf;

use bounce_nodes::processors::FadeCurve;
use bounce_nodes::{Dither, ProcessorSpec};
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
    /// A master at a deliverable's rate, limited again there: what every
    /// deliverable of that master and rate encodes first.
    Resample,
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
            StepKind::Deliverable => "deliverable",
            StepKind::Tag => "tag",
            StepKind::ReplayGain => "replaygain",
            StepKind::Export => "export",
            StepKind::Image => "image",
            StepKind::Cue => "cue",
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
            StepKind::Stem | StepKind::Bus | StepKind::Master | StepKind::Resample
        )
    }

    /// Bumped when a kind's rendering changes outside its processors.
    pub fn version(self) -> u32 {
        match self {
            // 2: a file shorter than its header declares is refused.
            StepKind::Source => 2,
            // 2: samples clipped to an integer file's full scale are reported.
            StepKind::Deliverable => 2,
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

/// What a step does. Serialised, it is the parameter part of the step's
/// key, so it holds nothing that does not change the output (no paths).
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
    /// A source through its chain, fader and pan, placed at its offset.
    Stem {
        chain: Vec<ProcessorSpec>,
        gain: f64,
        pan: f64,
        offset: f64,
    },
    /// The sum of the inputs, in order, through a chain, fader and pan.
    Bus {
        chain: Vec<ProcessorSpec>,
        gain: f64,
        pan: f64,
    },
    /// The sum of the inputs, fitted to the track's length, through the mix
    /// chain and the track's fades.
    Mix {
        chain: Vec<ProcessorSpec>,
        length: Option<f64>,
        fade_in: Option<(f64, FadeCurve)>,
        fade_out: Option<(f64, FadeCurve)>,
    },
    /// A mastering chain, then a gain solved to reach the target (or, in
    /// album mode, the gain of the album step, its second input), then a
    /// true-peak limiter at the ceiling.
    Master {
        chain: Vec<ProcessorSpec>,
        target: Option<f64>,
        ceiling: Option<f64>,
        album: bool,
    },
    /// The gain that brings every track's master, measured as one
    /// programme, to the target.
    AlbumGain {
        chain: Vec<ProcessorSpec>,
        target: f64,
        ceiling: f64,
    },
    /// A stem or bus (first input) from 0 to the length of its track's mix
    /// (second input), so a track's stems sum to its mix.
    Export,
    /// The album ReplayGain loudness and peak over every encoded file of a
    /// deliverable (the inputs), rounded as tags print them, so a change
    /// that leaves them the same stops there.
    AlbumReplayGain,
    /// The encoded file (first input) with tags; the second input is the
    /// deliverable's album ReplayGain step.
    Tag {
        container: bounce_nodes::Container,
        fields: Box<TagFields>,
    },
    /// The tracks' CD files (the inputs, in disc order) joined into one
    /// image, each after its gap (CD frames) and padded to a CD frame.
    CdImage { gaps: Vec<u64> },
    /// The CUE sheet of the image the same inputs and gaps make.
    CueSheet {
        text: bounce_nodes::CueText,
        gaps: Vec<u64>,
    },
    /// The master (the input) resampled to `rate`, under a `ceiling`
    /// limited again at that rate, and, to keep its loudness, brought back
    /// to the master's.
    Resample {
        rate: u32,
        ceiling: Option<f64>,
        keep_loudness: bool,
    },
    /// The master encoded as a file; a second input, when resampled, is
    /// the master at the file's rate, which the first attempt encodes.
    Encode {
        container: bounce_nodes::Container,
        bits: u16,
        float: bool,
        rate: u32,
        dither: Dither,
        /// For MP3s: the bitrate or VBR quality.
        mp3: Option<bounce_nodes::Mp3Mode>,
        /// The ceiling the delivered file must keep, dBTP.
        ceiling: Option<f64>,
        /// The master had a loudness target: a resampled file must keep the
        /// master's measured loudness (per track, and so per album).
        keep_loudness: bool,
        /// A delivery standard the encoded file is checked against.
        check: Option<SpecCheck>,
    },
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
    /// The processor chains in this action, for their DSP versions.
    pub fn chains(&self) -> Vec<&ProcessorSpec> {
        match self {
            Action::Stem { chain, .. }
            | Action::Bus { chain, .. }
            | Action::Mix { chain, .. }
            | Action::Master { chain, .. }
            | Action::AlbumGain { chain, .. } => chain.iter().collect(),
            _ => Vec::new(),
        }
    }
}
