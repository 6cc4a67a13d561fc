//! A master at a deliverable's rate: resampled once, limited there and
//! brought back to the master's loudness, for every deliverable of that
//! master and rate to encode (an MP3 under a ceiling has its own, limited
//! lower by the room its codec's overshoot takes, at any rate).
//!
//! Resampling drops what lies above the new Nyquist frequency and reshapes
//! the peaks, so the file's own limiter keeps the ceiling and a trim
//! restores the loudness. The resampled audio and the limiter's detection
//! of it are kept while trying, so a try costs the limiter's gain stage
//! and two meters, not a resampler and a detector.

use bounce_nodes::{
    copy_source, render_limited, AudioError, BlockSource, EnvelopeWriter, LoudnessMeter, PcmReader,
    PcmWriter, Precision, Resampled, Scaled, Tee, TruePeakMeter,
};

use crate::render::{
    file_limiter, first_limit, open_blob, Input, OutputInfo, Renderer, StepOutput, ATTEMPTS,
    LOUDNESS_SLACK,
};
use crate::step::Step;
use crate::BuildError;

impl Renderer<'_> {
    /// Renders `master` at `rate` under `ceiling` (dBTP), at `target`
    /// loudness (LUFS) if given. The output records the trim applied as
    /// `solved_gain` and the limiter's ceiling as `limiter_ceiling`.
    pub(crate) fn render_at_rate(
        &self,
        step: &Step,
        master: &Input,
        rate: u32,
        ceiling: Option<f64>,
        target: Option<f64>,
    ) -> Result<StepOutput, BuildError> {
        let audio = |source: AudioError| BuildError::Audio {
            step: step.id.clone(),
            source,
        };
        let target = target.filter(|t| t.is_finite());
        let resampled = self.cache.temp_file("resampled");
        let envelope = self.cache.temp_file("envelope");
        {
            let reader = open_blob(self.cache, &master.output.hash).map_err(audio)?;
            let mut source: Box<dyn BlockSource> = match rate == self.rate {
                true => Box::new(reader),
                false => Box::new(Resampled::new(reader, self.rate, rate).map_err(audio)?),
            };
            let mut writer =
                PcmWriter::create(resampled.path(), rate, Precision::Float).map_err(audio)?;
            let mut detection = EnvelopeWriter::create(envelope.path(), rate).map_err(audio)?;
            let mut tee = Tee {
                first: &mut writer,
                second: &mut detection,
            };
            copy_source(source.as_mut(), &mut tee).map_err(audio)?;
            writer.finish().map_err(audio)?;
            detection.finish().map_err(audio)?;
        }
        let mut trim = 0.0;
        let mut limit_at = first_limit(ceiling);
        for attempt in 1..=ATTEMPTS {
            let output = self.cache.temp_file(step.kind.name());
            let mut writer =
                PcmWriter::create(output.path(), rate, Precision::Float).map_err(audio)?;
            let mut strict = TruePeakMeter::new(rate);
            let mut meter = LoudnessMeter::integrated_only(rate).map_err(audio)?;
            let mut meters = Tee {
                first: &mut strict,
                second: &mut meter,
            };
            let mut sink = Tee {
                first: &mut writer,
                second: &mut meters,
            };
            let reader = PcmReader::open(resampled.path()).map_err(audio)?;
            match limit_at {
                Some(at) => render_limited(
                    Box::new(reader),
                    rate,
                    trim,
                    file_limiter(at),
                    Some(envelope.path()),
                    &mut sink,
                )
                .map_err(audio)?,
                None => {
                    let mut scaled: Box<dyn BlockSource> = Box::new(Scaled::new(reader, trim));
                    copy_source(scaled.as_mut(), &mut sink).map_err(audio)?;
                }
            }
            let frames = writer.finish().map_err(audio)?;
            let loudness = meter.report().map_err(audio)?.integrated;
            let over = ceiling
                .map(|c| strict.true_peak_db() - c)
                .filter(|over| *over > 0.0);
            let off = target
                .filter(|_| loudness.is_finite())
                .map(|t| t - loudness)
                .filter(|off| off.abs() > LOUDNESS_SLACK);
            let done = over.is_none() && off.is_none();
            // The last try stands: the deliverable verifies what it encodes
            // and reports a miss with the figures.
            if done || attempt == ATTEMPTS {
                let hash = self.commit(step, output)?;
                return Ok(StepOutput {
                    hash,
                    info: OutputInfo {
                        solved_gain: Some(trim),
                        limiter_ceiling: limit_at,
                        ..OutputInfo::pcm(rate, frames, Precision::Float)
                    },
                });
            }
            match (over, off) {
                (Some(over), _) => match limit_at.as_mut() {
                    Some(at) => *at -= over + 0.005,
                    None => trim -= over + 0.01,
                },
                (None, Some(off)) => trim += off,
                (None, None) => unreachable!("done above"),
            }
        }
        unreachable!("the last attempt returns")
    }
}
