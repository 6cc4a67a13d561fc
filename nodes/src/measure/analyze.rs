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

/// Decodes `path` completely and measures it as BS.1770-4 defines for its
/// channels: a mono file's one channel counts once (as ffmpeg's ebur128
/// reads it), 3 dB under the same audio as a stereo file.
pub fn analyze_file(path: &Path) -> Result<Analysis, AudioError> {
    let mut file = DecodedFile::open(path)?;
    let info = file.info().clone();
    let mut meter = LoudnessMeter::full_of(info.sample_rate, info.channels as u16)?;
    let frames = copy_source(&mut file, &mut meter)?;
    Ok(Analysis {
        info,
        frames,
        loudness: meter.report()?,
    })
}

/// A null test: the peak of `a − b`, dBFS (−∞ when they are identical),
/// the shorter padded with silence; `None` when their rates differ.
pub fn difference_peak(a: &Path, b: &Path) -> Result<Option<f64>, AudioError> {
    let mut first = DecodedFile::open(a)?;
    let mut second = DecodedFile::open(b)?;
    if first.info().sample_rate != second.info().sample_rate {
        return Ok(None);
    }
    let (mut x, mut y) = (
        crate::StereoBuffer::default(),
        crate::StereoBuffer::default(),
    );
    let mut peak = 0.0f32;
    loop {
        let n = crate::block::read_full(&mut first, &mut x.left, &mut x.right)?;
        let m = crate::block::read_full(&mut second, &mut y.left, &mut y.right)?;
        if n == 0 && m == 0 {
            break;
        }
        for i in 0..n.max(m) {
            let sample = |buffer: &crate::StereoBuffer, len: usize, right: bool| {
                if i >= len {
                    0.0
                } else if right {
                    buffer.right[i]
                } else {
                    buffer.left[i]
                }
            };
            for right in [false, true] {
                peak = peak.max((sample(&x, n, right) - sample(&y, m, right)).abs());
            }
        }
    }
    Ok(Some(crate::gain_to_db(peak as f64)))
}
