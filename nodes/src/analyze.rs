//! Measuring a whole file: what `bounce analyze` prints.

use std::path::Path;

use crate::{copy_source, AudioError, DecodedFile, FileInfo, LoudnessMeter, LoudnessReport};

/// A file's format and its measurement.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub info: FileInfo,
    pub frames: u64,
    pub loudness: LoudnessReport,
}

impl Analysis {
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / self.info.sample_rate as f64
    }
}

/// Decodes `path` completely and measures it (a mono file is measured as
/// the same signal on both channels, i.e. as a centre-panned stereo file).
pub fn analyze_file(path: &Path) -> Result<Analysis, AudioError> {
    let mut file = DecodedFile::open(path)?;
    let info = file.info().clone();
    let mut meter = LoudnessMeter::full(info.sample_rate)?;
    let frames = copy_source(&mut file, &mut meter)?;
    Ok(Analysis {
        info,
        frames,
        loudness: meter.report()?,
    })
}
