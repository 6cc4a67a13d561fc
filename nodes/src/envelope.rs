//! The limiter's detection of a whole signal, kept in a file: one `f32`
//! reading per frame (little-endian), then the readings of the silence
//! that flushes it. Masters try several gains before the limiter while
//! solving a loudness target; detection is linear in the gain and is most
//! of the limiter's cost, so it runs once and every try reads this file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::processors::PeakDetector;
use crate::{AudioError, BlockSink};

/// Writes the detection of the audio that flows into it.
pub struct EnvelopeWriter {
    detector: PeakDetector,
    out: BufWriter<File>,
    path: PathBuf,
    peaks: Vec<f32>,
    peak: f32,
}

impl EnvelopeWriter {
    pub fn create(path: &Path, rate: u32) -> Result<Self, AudioError> {
        let file = File::create(path).map_err(|e| AudioError::io(path, e))?;
        Ok(EnvelopeWriter {
            detector: PeakDetector::new(rate),
            out: BufWriter::new(file),
            path: path.to_path_buf(),
            peaks: Vec::new(),
            peak: 0.0,
        })
    }

    fn write_peaks(&mut self) -> Result<(), AudioError> {
        self.peak = self.peaks.iter().fold(self.peak, |m, p| m.max(*p));
        let bytes: Vec<u8> = self.peaks.iter().flat_map(|p| p.to_le_bytes()).collect();
        self.peaks.clear();
        self.out
            .write_all(&bytes)
            .map_err(|e| AudioError::io(&self.path, e))
    }

    /// Adds the readings of the silence after the audio and closes the
    /// file; returns the highest reading, dBTP (the limiter's view of the
    /// true peak: 8× and the BS.1770 phases).
    pub fn finish(mut self) -> Result<f64, AudioError> {
        self.detector.flush(&mut self.peaks);
        self.write_peaks()?;
        self.out
            .flush()
            .map_err(|e| AudioError::io(&self.path, e))?;
        Ok(crate::gain_to_db(self.peak as f64))
    }
}

impl BlockSink for EnvelopeWriter {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        self.detector.detect(left, right, &mut self.peaks);
        self.write_peaks()
    }
}

/// Reads an envelope block by block, in step with the audio.
pub struct EnvelopeReader {
    input: BufReader<File>,
    path: PathBuf,
    bytes: Vec<u8>,
}

impl EnvelopeReader {
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let file = File::open(path).map_err(|e| AudioError::io(path, e))?;
        Ok(EnvelopeReader {
            input: BufReader::new(file),
            path: path.to_path_buf(),
            bytes: Vec::new(),
        })
    }

    /// The next `frames` readings into `peaks`; past the file's end every
    /// reading is 0, as the detectors read on silence.
    pub fn read(&mut self, frames: usize, peaks: &mut Vec<f32>) -> Result<(), AudioError> {
        self.bytes.resize(frames * 4, 0);
        let mut filled = 0;
        while filled < self.bytes.len() {
            match self.input.read(&mut self.bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(AudioError::io(&self.path, e)),
            }
        }
        self.bytes[filled..].fill(0);
        peaks.clear();
        peaks.extend(
            self.bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))),
        );
        Ok(())
    }
}
