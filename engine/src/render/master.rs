//! Masters with a loudness target and a ceiling, and the album gain.

use bounce_cache::TempFile;
use bounce_nodes::{
    render_chain, render_limited, solve_target, AudioError, BlockSource, ChainContext,
    EnvelopeWriter, LimiterSettings, LoudnessMeter, LoudnessReport, PcmReader, PcmWriter,
    Precision, ProcessorSpec, Solution, TargetProblem, Tee, TruePeakMeter, TARGET_TOLERANCE,
};

use crate::error::BuildError;
use crate::limiter::first_limit;
use crate::render::{Input, OutputInfo, Renderer, StepOutput};
use crate::step::Step;

/// Limiting beyond this many dB gets a warning: the target is squeezing
/// the music.
const HEAVY_LIMITING_DB: f64 = 6.0;
/// Rounds of render-verify-lower before an over is reported.
const VERIFY_ROUNDS: usize = 4;
/// Extra room taken when the limiter's ceiling is lowered after an over, dB.
const VERIFY_MARGIN_DB: f64 = 0.005;

/// What reads a master's output: its strict true peak, and its loudness
/// unless the solver measured these very samples already.
enum FinalMeter {
    Both(Box<LoudnessMeter>),
    Peaks(TruePeakMeter),
}

impl FinalMeter {
    fn sink(&mut self) -> &mut dyn bounce_nodes::BlockSink {
        match self {
            FinalMeter::Both(meter) => meter.as_mut(),
            FinalMeter::Peaks(meter) => meter,
        }
    }

    /// The report, with `solved` (LUFS) as the loudness where only peaks
    /// were read (the other figures are NaN, as the integrated meter's are).
    fn report(&self, solved: Option<f64>) -> Result<LoudnessReport, AudioError> {
        match (self, solved) {
            (FinalMeter::Peaks(peaks), Some(integrated)) => Ok(LoudnessReport {
                integrated,
                true_peak: peaks.true_peak_db(),
                true_peak_channels: peaks.true_peak_channels_db(),
                ..LoudnessReport::unmeasured()
            }),
            (FinalMeter::Both(meter), _) => meter.report(),
            (FinalMeter::Peaks(_), None) => unreachable!("peaks alone only with a solved loudness"),
        }
    }
}

/// A chain's output kept in a temp file, with its loudness and true peak,
/// and the limiter's detection of it (so trying gains costs no detection).
struct Rendered {
    file: TempFile,
    envelope: TempFile,
    loudness: f64,
    true_peak: f64,
}

impl Renderer<'_> {
    /// Wraps an audio error with the step it stopped.
    pub(crate) fn audio(step: &Step) -> impl Fn(AudioError) -> BuildError + '_ {
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
        let file = self.cache.temp_file("chain");
        let mut writer =
            PcmWriter::create(file.path(), self.rate, Precision::Float).map_err(&audio)?;
        let mut meter = LoudnessMeter::integrated_only(self.rate).map_err(&audio)?;
        let envelope = self.cache.temp_file("envelope");
        let mut detection = EnvelopeWriter::create(envelope.path(), self.rate).map_err(&audio)?;
        let mut open = || -> Result<Box<dyn BlockSource>, AudioError> {
            Ok(Box::new(crate::render::open_blob(
                self.cache,
                &input.output.hash,
            )?))
        };
        let context = ChainContext {
            sample_rate: self.rate,
            total_frames: input.output.info.frames,
            ring_out: false,
        };
        let mut measures = Tee {
            first: &mut meter,
            second: &mut detection,
        };
        let mut tee = Tee {
            first: &mut writer,
            second: &mut measures,
        };
        render_chain(&mut open, chain, &context, &mut tee).map_err(&audio)?;
        writer.finish().map_err(&audio)?;
        let true_peak = detection.finish().map_err(&audio)?;
        let report = meter.report().map_err(&audio)?;
        Ok(Rendered {
            file,
            envelope,
            loudness: report.integrated,
            true_peak,
        })
    }

    /// A master: chain, then the solved (or album) gain and the limiter.
    /// The output's true peak is verified with the strict meter; an over
    /// lowers the limiter's ceiling by the excess and the target is solved
    /// again, so both the ceiling and the loudness hold.
    pub(crate) fn render_master(
        &self,
        step: &Step,
        chain: &[ProcessorSpec],
        target: Option<f64>,
        limiter: LimiterSettings,
        album: Option<(f64, f64)>,
        mix: Input,
    ) -> Result<StepOutput, BuildError> {
        let audio = Self::audio(step);
        let ceiling = limiter.ceiling;
        let rendered = self.render_chain_to_temp(step, &mix, chain)?;
        let mut warnings = Vec::new();
        let mut limit_at = album.map_or(first_limit(ceiling), |(_, c)| c);
        let mut previous_gain = None;
        for round in 1..=VERIFY_ROUNDS {
            let settings = limiter.at(limit_at);
            // The solver's loudness at the gain it returns: the output below
            // is the same samples it measured, so only its peaks are read.
            let mut solved_loudness = None;
            let gain = match (album, target) {
                (Some((gain, _)), _) => gain,
                (None, Some(_)) if !rendered.loudness.is_finite() => 0.0,
                (None, Some(target)) => {
                    let path = rendered.file.path().to_path_buf();
                    let mut open = |_: usize| -> Result<Box<dyn BlockSource>, AudioError> {
                        Ok(Box::new(PcmReader::open(&path)?))
                    };
                    let solution = solve_target(
                        &mut open,
                        &TargetProblem {
                            count: 1,
                            rate: self.rate,
                            target,
                            limiter: settings,
                            unlimited_loudness: rendered.loudness,
                            true_peak_in: rendered.true_peak,
                            start_gain: previous_gain,
                            envelopes: &[rendered.envelope.path().to_path_buf()],
                        },
                    )
                    .map_err(&audio)?;
                    check_target(step, target, ceiling, &solution)?;
                    solved_loudness = Some(solution.loudness);
                    solution.gain_db
                }
                (None, None) => 0.0,
            };
            previous_gain = Some(gain);
            let temp = self.cache.temp_file("master");
            let mut writer =
                PcmWriter::create(temp.path(), self.rate, Precision::Float).map_err(&audio)?;
            let mut meter = match solved_loudness {
                Some(_) => FinalMeter::Peaks(TruePeakMeter::new(self.rate)),
                None => FinalMeter::Both(Box::new(
                    LoudnessMeter::true_peak_and_integrated(self.rate).map_err(&audio)?,
                )),
            };
            let reader = PcmReader::open(rendered.file.path()).map_err(&audio)?;
            let mut tee = Tee {
                first: &mut writer,
                second: meter.sink(),
            };
            let limited = render_limited(
                Box::new(reader),
                self.rate,
                gain,
                settings,
                Some(rendered.envelope.path()),
                &mut tee,
            )
            .map_err(&audio)?;
            let frames = writer.finish().map_err(&audio)?;
            let report = meter.report(solved_loudness).map_err(&audio)?;
            let over = report.true_peak - ceiling;
            if over > 0.0 && round < VERIFY_ROUNDS {
                limit_at -= over + VERIFY_MARGIN_DB;
                continue;
            }
            if over > 0.0 {
                return Err(BuildError::CeilingMissed {
                    step: step.id.clone(),
                    true_peak: ceiling + over,
                    ceiling,
                    attempts: VERIFY_ROUNDS,
                });
            }
            if target.is_some() && album.is_none() && !rendered.loudness.is_finite() {
                warnings.push("the mix is silent: no loudness to bring to the target".to_string());
            }
            let reduction = rendered.true_peak + gain - limit_at;
            if reduction > HEAVY_LIMITING_DB {
                warnings.push(format!(
                    "the limiter takes off up to {reduction:.1} dB to reach the target under the {ceiling} dBTP ceiling"
                ));
            }
            let hash = self.commit(step, temp)?;
            return Ok(StepOutput {
                hash,
                info: OutputInfo {
                    solved_gain: Some(gain),
                    limiter_ceiling: Some(limit_at),
                    limiter_reduction: Some(reduction.max(0.0)),
                    limiter_mean: Some(limited.mean_reduction_db),
                    measured: Some(report.into()),
                    warnings,
                    ..OutputInfo::pcm(self.rate, frames, Precision::Float)
                },
            });
        }
        unreachable!("the last round returns")
    }

    /// One gain for every track, measured as one programme.
    pub(crate) fn render_album_gain(
        &self,
        step: &Step,
        chain: &[ProcessorSpec],
        target: f64,
        limiter: LimiterSettings,
        inputs: &[Input],
    ) -> Result<StepOutput, BuildError> {
        let ceiling = limiter.ceiling;
        let audio = Self::audio(step);
        let mut meter = LoudnessMeter::integrated_only(self.rate).map_err(&audio)?;
        let mut rendered = Vec::new();
        for input in inputs {
            let r = self.render_chain_to_temp(step, input, chain)?;
            let reader = PcmReader::open(r.file.path()).map_err(&audio)?;
            bounce_nodes::copy_source(&mut Box::new(reader), &mut meter).map_err(&audio)?;
            rendered.push(r);
        }
        let whole = meter.report().map_err(&audio)?;
        let mut warnings = Vec::new();
        let paths: Vec<_> = rendered
            .iter()
            .map(|r| r.file.path().to_path_buf())
            .collect();
        let envelopes: Vec<_> = rendered
            .iter()
            .map(|r| r.envelope.path().to_path_buf())
            .collect();
        let mut open = |i: usize| -> Result<Box<dyn BlockSource>, AudioError> {
            Ok(Box::new(PcmReader::open(&paths[i])?))
        };
        let mut limit_at = first_limit(ceiling);
        let mut gain = 0.0;
        let mut previous_gain = None;
        if !whole.integrated.is_finite() {
            warnings.push("the album is silent: no loudness to bring to the target".to_string());
        }
        for round in 1..=VERIFY_ROUNDS {
            if !whole.integrated.is_finite() {
                break;
            }
            let settings = limiter.at(limit_at);
            let solution = solve_target(
                &mut open,
                &TargetProblem {
                    count: paths.len(),
                    rate: self.rate,
                    target,
                    limiter: settings,
                    unlimited_loudness: whole.integrated,
                    true_peak_in: rendered
                        .iter()
                        .map(|r| r.true_peak)
                        .fold(f64::NEG_INFINITY, f64::max),
                    start_gain: previous_gain,
                    envelopes: &envelopes,
                },
            )
            .map_err(&audio)?;
            check_target(step, target, ceiling, &solution)?;
            gain = solution.gain_db;
            previous_gain = Some(gain);
            // Verify every track's limited output with the strict meter.
            let mut strict = TruePeakMeter::new(self.rate);
            for (index, envelope) in envelopes.iter().enumerate() {
                render_limited(
                    open(index).map_err(&audio)?,
                    self.rate,
                    gain,
                    settings,
                    Some(envelope),
                    &mut strict,
                )
                .map_err(&audio)?;
            }
            let over = strict.true_peak_db() - ceiling;
            if over <= 0.0 {
                if solution.max_reduction > HEAVY_LIMITING_DB {
                    warnings.push(format!(
                        "the limiter takes off up to {:.1} dB to reach the album target under the {ceiling} dBTP ceiling",
                        solution.max_reduction
                    ));
                }
                break;
            }
            if round == VERIFY_ROUNDS {
                return Err(BuildError::CeilingMissed {
                    step: step.id.clone(),
                    true_peak: ceiling + over,
                    ceiling,
                    attempts: VERIFY_ROUNDS,
                });
            }
            limit_at -= over + VERIFY_MARGIN_DB;
        }
        // The output is the gain itself: a tiny blob, so its hash changes
        // exactly when the gain does.
        let hash = self.commit_bytes("album", format!("album gain {gain:.17e} dB\n").as_bytes())?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                solved_gain: Some(gain),
                limiter_ceiling: Some(limit_at),
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
