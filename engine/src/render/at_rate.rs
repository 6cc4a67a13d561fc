//! A master fitted to a deliverable: at its rate (resampled once per rate,
//! with the limiter's detection of the result kept beside it), limited
//! there under its ceiling and brought back to the master's loudness, for
//! every deliverable of that master, rate and ceiling to encode (an MP3
//! under a ceiling has its own fit, limited lower by the room its codec's
//! overshoot takes, at any rate).
//!
//! Resampling drops what lies above the new Nyquist frequency and reshapes
//! the peaks, so the file's own limiter keeps the ceiling and a trim
//! restores the loudness. Each try reads the resampled audio and its
//! detection, so it costs the limiter's gain stage and a loudness meter,
//! not a resampler and a detector; and fits of one rate share both. The
//! true peak is not measured here: every deliverable measures its file as
//! written (an MP3 decoded), where dither and codecs have had their say,
//! and corrects a miss; a second strict meter here cost more than the fit.

use bounce_cache::Hash;
use bounce_nodes::{
    copy_source, render_limited, BlockSource, EnvelopeWriter, LoudnessMeter, PcmWriter, Precision,
    Resampled, Scaled, Tee,
};

use crate::error::BuildError;
use crate::limiter::{file_limiter, first_limit};
use crate::render::{open_blob, Input, OutputInfo, Renderer, StepOutput, ATTEMPTS, LOUDNESS_SLACK};
use crate::step::Step;

/// The sidecar holding the limiter's detection of a scratch output.
const ENVELOPE: &str = "envelope";

impl Renderer<'_> {
    /// Writes `source` (at `rate`) into a float file, and the limiter's
    /// detection of it into `envelope`; returns its frames and loudness.
    fn write_with_detection(
        &self,
        step: &Step,
        source: &mut dyn BlockSource,
        rate: u32,
        audio: &std::path::Path,
        envelope: &std::path::Path,
    ) -> Result<(u64, f64), BuildError> {
        let error = Self::audio(step);
        let mut writer = PcmWriter::create(audio, rate, Precision::Float).map_err(&error)?;
        let mut detection = EnvelopeWriter::create(envelope, rate).map_err(&error)?;
        let mut meter = LoudnessMeter::integrated_only(rate).map_err(&error)?;
        let mut measures = Tee {
            first: &mut detection,
            second: &mut meter,
        };
        let mut tee = Tee {
            first: &mut writer,
            second: &mut measures,
        };
        copy_source(source, &mut tee).map_err(&error)?;
        detection.finish().map_err(&error)?;
        let frames = writer.finish().map_err(&error)?;
        Ok((frames, meter.report().map_err(&error)?.integrated))
    }

    /// The master at `rate`, with the limiter's detection of it kept as
    /// its sidecar.
    pub(crate) fn render_resampled(
        &self,
        step: &Step,
        master: &Input,
        rate: u32,
    ) -> Result<StepOutput, BuildError> {
        let error = Self::audio(step);
        let reader = open_blob(self.cache, &master.output.hash).map_err(&error)?;
        let mut source = Resampled::new(reader, self.rate, rate).map_err(&error)?;
        let audio = self.cache.temp_file(step.kind.name());
        let envelope = self.cache.temp_file(ENVELOPE);
        let (frames, loudness) =
            self.write_with_detection(step, &mut source, rate, audio.path(), envelope.path())?;
        let hash = self.commit(step, audio)?;
        let sidecar = self.cache.scratch_sidecar(&hash, ENVELOPE);
        std::fs::rename(envelope.path(), &sidecar).map_err(|source| BuildError::Output {
            path: sidecar,
            source,
        })?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                // What resampling left of the master's loudness: a fit's
                // first trim starts from it.
                solved_gain: Some(master_loudness(master) - loudness).filter(|g| g.is_finite()),
                ..OutputInfo::pcm(rate, frames, Precision::Float)
            },
        })
    }

    /// Fits `audio` (the master, or the master resampled to `rate`) under
    /// `ceiling` (dBTP), at `target` loudness (LUFS) if given. The output
    /// records the trim applied as `solved_gain` and the limiter's ceiling
    /// as `limiter_ceiling`.
    pub(crate) fn render_fit(
        &self,
        step: &Step,
        audio: &Input,
        rate: u32,
        ceiling: Option<f64>,
        target: Option<f64>,
    ) -> Result<StepOutput, BuildError> {
        let error = Self::audio(step);
        let target = target.filter(|t| t.is_finite());
        let envelope = self.detection_of(step, &audio.output.hash, rate)?;
        // Start from what resampling took off, where the loudness matters.
        let mut trim = target.and(audio.output.info.solved_gain).unwrap_or(0.0);
        let limit_at = ceiling.map(first_limit);
        for attempt in 1..=ATTEMPTS {
            let output = self.cache.temp_file(step.kind.name());
            let mut writer =
                PcmWriter::create(output.path(), rate, Precision::Float).map_err(&error)?;
            let mut meter = LoudnessMeter::integrated_only(rate).map_err(&error)?;
            let mut sink = Tee {
                first: &mut writer,
                second: &mut meter,
            };
            let reader = open_blob(self.cache, &audio.output.hash).map_err(&error)?;
            match limit_at {
                Some(at) => {
                    render_limited(
                        Box::new(reader),
                        rate,
                        trim,
                        file_limiter(at),
                        Some(envelope.path()),
                        &mut sink,
                    )
                    .map_err(&error)?;
                }
                None => {
                    let mut scaled: Box<dyn BlockSource> = Box::new(Scaled::new(reader, trim));
                    copy_source(scaled.as_mut(), &mut sink).map_err(&error)?;
                }
            }
            let frames = writer.finish().map_err(&error)?;
            let report = meter.report().map_err(&error)?;
            let loudness = report.integrated;
            let off = target
                .filter(|_| loudness.is_finite())
                .map(|t| t - loudness)
                .filter(|off| off.abs() > LOUDNESS_SLACK);
            // The last try stands: the deliverable verifies what it encodes
            // and reports a miss with the figures.
            let Some(off) = off.filter(|_| attempt < ATTEMPTS) else {
                let hash = self.commit(step, output)?;
                return Ok(StepOutput {
                    hash,
                    info: OutputInfo {
                        solved_gain: Some(trim),
                        limiter_ceiling: limit_at,
                        ..OutputInfo::pcm(rate, frames, Precision::Float)
                    },
                });
            };
            trim += off;
        }
        unreachable!("the last attempt returns")
    }

    /// The limiter's detection of the resample step's output `hash`,
    /// while its scratch holds both.
    pub(crate) fn kept_detection(&self, hash: &Hash) -> Option<std::path::PathBuf> {
        let sidecar = self.cache.scratch_sidecar(hash, ENVELOPE);
        (sidecar.is_file() && self.cache.has_output(hash)).then_some(sidecar)
    }

    /// The limiter's detection of the output `hash`: its resample step's
    /// sidecar, or (for a master at its own rate) detected now.
    fn detection_of(&self, step: &Step, hash: &Hash, rate: u32) -> Result<Detection, BuildError> {
        if let Some(sidecar) = self.kept_detection(hash) {
            return Ok(Detection::Kept(sidecar));
        }
        let error = Self::audio(step);
        let temp = self.cache.temp_file(ENVELOPE);
        let mut detection = EnvelopeWriter::create(temp.path(), rate).map_err(&error)?;
        let mut reader = open_blob(self.cache, hash).map_err(&error)?;
        copy_source(&mut reader, &mut detection).map_err(&error)?;
        detection.finish().map_err(&error)?;
        Ok(Detection::Made(temp))
    }
}

/// The master's measured integrated loudness, LUFS (NaN if unmeasured).
fn master_loudness(master: &Input) -> f64 {
    master
        .output
        .info
        .measured
        .and_then(|m| m.integrated)
        .unwrap_or(f64::NAN)
}

/// A detection read from a resample step's sidecar, or made for one fit.
enum Detection {
    Kept(std::path::PathBuf),
    Made(bounce_cache::TempFile),
}

impl Detection {
    fn path(&self) -> &std::path::Path {
        match self {
            Detection::Kept(path) => path,
            Detection::Made(temp) => temp.path(),
        }
    }
}
