//! Everything in bounce that touches samples: decoders, resampling, the
//! processors, loudness measurement, dither and encoders.
//!
//! Audio moves through here as planar stereo `f32` blocks of at most
//! [`BLOCK_FRAMES`] frames: a [`BlockSource`] fills blocks, processors change
//! them in place, a [`BlockSink`] consumes them. Nothing here holds a whole
//! track in memory, and nothing here knows of project files or the cache.
// One unsafe call in the crate: the AVX build of the interpolator's
// kernel, entered after the CPU is asked (measure::interpolation::read_phases).
#![deny(unsafe_code)]

mod block;
mod cd;
mod chain;
pub mod contain;
mod decode;
mod dither;
mod edits;
mod encode;
mod envelope;
mod error;
mod file_kind;
mod measure;
mod pcm;
pub mod processors;
mod resample;
mod sources;
mod tags;
mod target;
mod units;
mod vector_math;

pub use block::{copy_source, BlockSink, BlockSource, StereoBuffer, BLOCK_FRAMES};
pub use cd::{
    cd_frames, cue_sheet, lay_out, msf, write_image, CueText, CueTrack, TrackPlace, CD_BITS,
    CD_RATE, MAX_CD_SECONDS, MAX_CD_TRACKS, MIN_CD_PREGAP_SECONDS, MIN_CD_TRACK_SECONDS,
    SAMPLES_PER_CD_FRAME,
};
pub use chain::{render_chain, ChainContext};
pub use decode::{probe_file, DecodedFile, FileInfo};
pub use dither::{Dither, Overs, Quantizer, DITHER_VERSION};
pub use edits::{EditList, Edited};
pub use encode::{
    measure_decoded, BextInfo, Container, Mp3Mode, Mp3Settings, Mp3Sink, PcmFormat, PcmSink,
    Written, MP3_BITRATES, MP3_RATES, WRITER_VERSION,
};
pub use envelope::{EnvelopeReader, EnvelopeWriter};
pub use error::AudioError;
pub use file_kind::not_a_regular_file;
pub use measure::{
    analyze_file, codec_difference, difference_peak, inspect_file, AlreadyRead, Analysis,
    CodecDifference, Excerpt, ExcerptWritten, Inspection, Inspector, LoudnessBlocks, LoudnessMeter,
    LoudnessReport, OverCounts, Spectrum, TruePeakMeter, GATING_VERSION, INSPECTOR_VERSION,
    METER_VERSION, SCOPE_CELLS,
};
pub use pcm::{PcmReader, PcmWriter, Precision};
pub use processors::{PanLaw, ProcessorSpec};
pub use resample::{Resampled, RESAMPLER_VERSION};
pub use sources::{Fit, Mixer, Offset, Scaled, Silence, Tee, Tone, Trimmed};
pub use tags::{ChapterMark, Cover, EpisodeText, ReplayGain, TagText, Tags};
pub use target::{
    render_limited, solve_target, LimiterReport, LimiterSettings, Solution, TargetProblem,
    TARGET_TOLERANCE,
};
pub use units::{db_to_gain, gain_to_db, DUAL_MONO_GAIN_DB};
