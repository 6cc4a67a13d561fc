//! Masters with a loudness target and a ceiling, and the album gain.

use bounce_cache::TempFile;
use bounce_nodes::{
    render_chain, render_limited, solve_target, AudioError, BlockSource, ChainContext,
    LimiterSettings, LoudnessMeter, PcmReader, PcmWriter, Precision, ProcessorSpec, Solution, Tee,
    TARGET_TOLERANCE,
};

use crate::render::{Input, OutputInfo, Renderer, StepOutput};
use crate::step::Step;
use crate::BuildError;

/// Limiting beyond this many dB gets a warning: the target is squeezing
/// the music.
const HEAVY_LIMITING_DB: f64 = 6.0;

/// A chain's output kept in a temp file, with its loudness and true peak.
struct Rendered {
    file: TempFile,
    loudness: f64,
    true_peak: f64,
}

impl Renderer<'_> {
    fn audio(step: &Step) -> impl Fn(AudioError) -> BuildError + '_ {
        move |source| BuildError::Audio {
            step: step.id.clone(),
            source,
        }
    }

    /// Runs `chain` over `input`'s output into a temp file, measuring it.
    fn render_chain_to_temp(
        &self,
        step: &Step,
        input: &Input,
        chain: &[ProcessorSpec],
    ) -> Result<Rendered, BuildError> {
        let audio = Self::audio(step);
        let blob = self.cache.blob_path(&input.output.hash);
        let file = self.cache.temp_file("chain");
        let mut writer =
            PcmWriter::create(file.path(), self.rate, Precision::Float).map_err(&audio)?;
        let mut meter = LoudnessMeter::true_peak_and_integrated(self.rate).map_err(&audio)?;
        let mut open = || -> Result<Box<dyn BlockSource>, AudioError> {
            Ok(Box::new(PcmReader::open(&blob)?))
        };
        let context = ChainContext {
            sample_rate: self.rate,
            total_frames: input.output.info.frames,
            ring_out: false,
        };
        let mut tee = Tee {
            first: &mut writer,
            second: &mut meter,
        };
        render_chain(&mut open, chain, &context, &mut tee).map_err(&audio)?;
        writer.finish().map_err(&audio)?;
        let report = meter.report().map_err(&audio)?;
        Ok(Rendered {
            file,
            loudness: report.integrated,
            true_peak: report.true_peak,
        })
    }

    /// A master: chain, then the solved (or album) gain and the limiter.
    pub(crate) fn render_master(
        &self,
        step: &Step,
        chain: &[ProcessorSpec],
        target: Option<f64>,
        ceiling: f64,
        album_gain: Option<f64>,
        inputs: &[Input],
    ) -> Result<StepOutput, BuildError> {
        let audio = Self::audio(step);
        let settings = LimiterSettings::master(ceiling);
        let rendered = self.render_chain_to_temp(step, &inputs[0], chain)?;
        let mut warnings = Vec::new();
        let gain = match (album_gain, target) {
            (Some(gain), _) => gain,
            (None, Some(_)) if !rendered.loudness.is_finite() => {
                warnings.push("the mix is silent: no loudness to bring to the target".to_string());
                0.0
            }
            (None, Some(target)) => {
                let path = rendered.file.path().to_path_buf();
                let mut open = |_: usize| -> Result<Box<dyn BlockSource>, AudioError> {
                    Ok(Box::new(PcmReader::open(&path)?))
                };
                let solution = solve_target(
                    &mut open,
                    1,
                    self.rate,
                    target,
                    settings,
                    rendered.loudness,
                    rendered.true_peak,
                )
                .map_err(&audio)?;
                check_target(step, target, ceiling, &solution)?;
                solution.gain_db
            }
            (None, None) => 0.0,
        };
        let reduction = rendered.true_peak + gain - ceiling;
        if reduction > HEAVY_LIMITING_DB {
            warnings.push(format!(
                "the limiter takes off up to {reduction:.1} dB to reach the target under the {ceiling} dBTP ceiling"
            ));
        }
        let temp = self.cache.temp_file("master");
        let mut writer =
            PcmWriter::create(temp.path(), self.rate, Precision::Float).map_err(&audio)?;
        let reader = PcmReader::open(rendered.file.path()).map_err(&audio)?;
        render_limited(Box::new(reader), self.rate, gain, settings, &mut writer).map_err(&audio)?;
        let frames = writer.finish().map_err(&audio)?;
        let hash = self.cache.commit_blob(temp)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                solved_gain: Some(gain),
                warnings,
                ..OutputInfo::pcm(self.rate, frames, Precision::Float)
            },
        })
    }

    /// One gain for every track, measured as one programme.
    pub(crate) fn render_album_gain(
        &self,
        step: &Step,
        chain: &[ProcessorSpec],
        target: f64,
        ceiling: f64,
        inputs: &[Input],
    ) -> Result<StepOutput, BuildError> {
        let audio = Self::audio(step);
        let settings = LimiterSettings::master(ceiling);
        let mut meter = LoudnessMeter::true_peak_and_integrated(self.rate).map_err(&audio)?;
        let mut rendered = Vec::new();
        for input in inputs {
            let r = self.render_chain_to_temp(step, input, chain)?;
            let reader = PcmReader::open(r.file.path()).map_err(&audio)?;
            bounce_nodes::copy_source(&mut Box::new(reader), &mut meter).map_err(&audio)?;
            rendered.push(r);
        }
        let whole = meter.report().map_err(&audio)?;
        let mut warnings = Vec::new();
        let gain = if whole.integrated.is_finite() {
            let paths: Vec<_> = rendered
                .iter()
                .map(|r| r.file.path().to_path_buf())
                .collect();
            let mut open = |i: usize| -> Result<Box<dyn BlockSource>, AudioError> {
                Ok(Box::new(PcmReader::open(&paths[i])?))
            };
            let solution = solve_target(
                &mut open,
                paths.len(),
                self.rate,
                target,
                settings,
                whole.integrated,
                whole.true_peak,
            )
            .map_err(&audio)?;
            check_target(step, target, ceiling, &solution)?;
            if solution.max_reduction > HEAVY_LIMITING_DB {
                warnings.push(format!(
                    "the limiter takes off up to {:.1} dB to reach the album target under the {ceiling} dBTP ceiling",
                    solution.max_reduction
                ));
            }
            solution.gain_db
        } else {
            warnings.push("the album is silent: no loudness to bring to the target".to_string());
            0.0
        };
        // The output is the gain itself: a tiny blob, so its hash changes
        // exactly when the gain does.
        let temp = self.cache.temp_file("album");
        std::fs::write(temp.path(), format!("album gain {gain:.17e} dB\n")).map_err(|source| {
            BuildError::Output {
                path: temp.path().to_path_buf(),
                source,
            }
        })?;
        let hash = self.cache.commit_blob(temp)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                solved_gain: Some(gain),
                warnings,
                ..OutputInfo::pcm(self.rate, 0, Precision::Float)
            },
        })
    }
}

/// A target the limiter could not reach fails the step with the figures.
fn check_target(
    step: &Step,
    target: f64,
    ceiling: f64,
    solution: &Solution,
) -> Result<(), BuildError> {
    if (solution.loudness - target).abs() <= TARGET_TOLERANCE {
        return Ok(());
    }
    Err(BuildError::TargetMissed {
        step: step.id.clone(),
        target,
        ceiling,
        reached: solution.loudness,
        gain: solution.gain_db,
    })
}
