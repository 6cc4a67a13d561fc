//! WAV deliverables through hound.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{
    AudioError, BlockSink, Dither, LoudnessMeter, LoudnessReport, Quantizer, TruePeakMeter,
};

/// The sample format of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WavFormat {
    pub sample_rate: u32,
    /// 16, 24 or 32.
    pub bits: u16,
    /// IEEE float samples (only with 32 bits).
    pub float: bool,
}

/// Writes a stereo WAV file and measures exactly the samples it writes.
pub struct WavSink {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    quantizer: Option<Quantizer>,
    meter: LoudnessMeter,
    strict: TruePeakMeter,
    scratch: [Vec<f32>; 2],
    frames: u64,
}

fn encode_error(path: &Path, e: hound::Error) -> AudioError {
    AudioError::Encode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl WavSink {
    /// `dither` applies only to integer formats; `seed` fixes its noise.
    pub fn create(
        path: &Path,
        format: WavFormat,
        dither: Dither,
        seed: u64,
    ) -> Result<Self, AudioError> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: format.sample_rate,
            bits_per_sample: format.bits,
            sample_format: if format.float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let writer = hound::WavWriter::create(path, spec).map_err(|e| encode_error(path, e))?;
        Ok(WavSink {
            path: path.to_path_buf(),
            writer,
            quantizer: (!format.float).then(|| Quantizer::new(format.bits as u32, dither, seed)),
            meter: LoudnessMeter::full(format.sample_rate)?,
            strict: TruePeakMeter::new(format.sample_rate),
            scratch: [Vec::new(), Vec::new()],
            frames: 0,
        })
    }

    /// Finalises the header; returns the frame count and the measurement of
    /// the written samples, the true peak being the higher of the BS.1770
    /// meter's and the strict reading.
    pub fn finish(self) -> Result<(u64, LoudnessReport), AudioError> {
        let path = self.path.clone();
        self.writer.finalize().map_err(|e| encode_error(&path, e))?;
        let mut report = self.meter.report()?;
        report.true_peak = report.true_peak.max(self.strict.true_peak_db());
        Ok((self.frames, report))
    }
}

impl BlockSink for WavSink {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        let [ml, mr] = &mut self.scratch;
        ml.clear();
        mr.clear();
        match &mut self.quantizer {
            Some(quantizer) => {
                let scale = quantizer.scale();
                for (l, r) in left.iter().zip(right) {
                    let (a, b) = (quantizer.quantize(*l), quantizer.quantize(*r));
                    self.writer
                        .write_sample(a)
                        .and_then(|_| self.writer.write_sample(b))
                        .map_err(|e| encode_error(&self.path, e))?;
                    ml.push((a as f64 / scale) as f32);
                    mr.push((b as f64 / scale) as f32);
                }
            }
            None => {
                for (l, r) in left.iter().zip(right) {
                    self.writer
                        .write_sample(*l)
                        .and_then(|_| self.writer.write_sample(*r))
                        .map_err(|e| encode_error(&self.path, e))?;
                }
                ml.extend_from_slice(left);
                mr.extend_from_slice(right);
            }
        }
        self.frames += left.len() as u64;
        self.strict.write(ml, mr)?;
        self.meter.write(ml, mr)
    }
}
