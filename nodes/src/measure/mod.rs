//! Measuring audio: the BS.1770 loudness meter, the true-peak
//! interpolator and meter, a whole file's analysis, the report's
//! inspection in one pass, and what a lossy codec changed.

mod analyze;
pub mod blocks;
mod gating;
mod inspect;
pub(crate) mod interpolation;
mod lanes;
mod lossy;
pub(crate) mod meter;
mod overs;
mod true_peak;

pub use analyze::{analyze_file, difference_peak, Analysis};
pub use blocks::METER_VERSION;
pub use gating::{LoudnessBlocks, GATING_VERSION};
pub use inspect::{
    inspect_file, AlreadyRead, Inspection, Inspector, Overs as OverCounts, Spectrum,
    INSPECTOR_VERSION, SCOPE_CELLS,
};
pub use lossy::{codec_difference, CodecDifference, Excerpt, ExcerptWritten};
pub use meter::{LoudnessMeter, LoudnessReport};
pub use overs::InterSampleOvers;
pub use true_peak::TruePeakMeter;
