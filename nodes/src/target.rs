//! Solving the gain before a true-peak limiter so that the limited output
//! reads a loudness target: measure, adjust, repeat, a bounded number of times.

use std::path::{Path, PathBuf};

use crate::processors::{Limiter, Processor};
use crate::EnvelopeReader;
use crate::{db_to_gain, AudioError, BlockSink, BlockSource, LoudnessMeter, StereoBuffer};

/// How close the solver gets before it stops, LU.
const CONVERGED: f64 = 0.02;
/// What the result must reach or the target counts as missed, LU.
pub const TARGET_TOLERANCE: f64 = 0.1;
const MAX_ITERATIONS: usize = 12;

/// What the solver found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Solution {
    /// The gain before the limiter, dB.
    pub gain_db: f64,
    /// The loudness of the limited output, LUFS.
    pub loudness: f64,
    /// The most the limiter had to take off, dB.
    pub max_reduction: f64,
    pub iterations: usize,
}

/// The limiter settings masters use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterSettings {
    pub ceiling: f64,
    pub release_ms: f64,
    pub lookahead_ms: f64,
}

impl LimiterSettings {
    /// A master's settings, for tests here; the plan states a master's
    /// limiter (engine's `master_limiter`).
    #[cfg(test)]
    fn master(ceiling: f64) -> Self {
        LimiterSettings {
            ceiling,
            release_ms: 50.0,
            lookahead_ms: 5.0,
        }
    }

    /// The processor that runs these settings in a chain.
    pub fn processor(self) -> crate::ProcessorSpec {
        crate::ProcessorSpec::Limit {
            ceiling: self.ceiling,
            release: self.release_ms,
            lookahead: self.lookahead_ms,
        }
    }

    /// These settings at another ceiling.
    pub fn at(self, ceiling: f64) -> Self {
        LimiterSettings { ceiling, ..self }
    }
}

/// What the solver is asked: bring `count` signals, each through a gain
/// and the limiter and measured together as one programme, to `target`.
#[derive(Debug, Clone, Copy)]
pub struct TargetProblem<'a> {
    pub count: usize,
    pub rate: u32,
    /// LUFS.
    pub target: f64,
    pub limiter: LimiterSettings,
    /// The loudness of the signals before any gain, LUFS.
    pub unlimited_loudness: f64,
    /// Their highest true peak before any gain, dBTP (for the limiting figure).
    pub true_peak_in: f64,
    /// A gain to try first, such as a previous solution.
    pub start_gain: Option<f64>,
    /// Signal i's limiter detection (see [`crate::EnvelopeWriter`]), or
    /// none to detect on every try.
    pub envelopes: &'a [PathBuf],
}

/// Finds the gain for `problem`; `open(i)` yields signal `i`, the same on
/// every call.
pub fn solve_target(
    open: &mut dyn FnMut(usize) -> Result<Box<dyn BlockSource>, AudioError>,
    problem: &TargetProblem,
) -> Result<Solution, AudioError> {
    let TargetProblem {
        count,
        rate,
        target,
        limiter,
        unlimited_loudness,
        true_peak_in,
        start_gain,
        envelopes,
    } = *problem;
    // Without limiting the gain is exact; a previous solution is closer.
    let mut gain = start_gain.unwrap_or(target - unlimited_loudness);
    let mut previous: Option<(f64, f64)> = None;
    let mut best: Option<Solution> = None;
    for iteration in 1..=MAX_ITERATIONS {
        // Loudness alone: the ceiling is the limiter's, verified by the
        // caller with the strict meter on the output it keeps.
        let loudness = measure_limited(open, count, rate, gain, limiter, envelopes)?;
        let solution = Solution {
            gain_db: gain,
            loudness,
            max_reduction: (true_peak_in + gain - limiter.ceiling).max(0.0),
            iterations: iteration,
        };
        let error = target - loudness;
        if best.is_none_or(|b| (target - b.loudness).abs() > error.abs()) {
            best = Some(solution);
        }
        if error.abs() <= CONVERGED || !loudness.is_finite() {
            break;
        }
        // Secant step on loudness(gain); limiting flattens the slope.
        let slope = match previous {
            Some((g, l)) if (gain - g).abs() > 1e-9 => {
                ((loudness - l) / (gain - g)).clamp(0.05, 1.0)
            }
            _ => 1.0,
        };
        previous = Some((gain, loudness));
        gain += error / slope;
    }
    Ok(best.expect("at least one iteration"))
}

fn measure_limited(
    open: &mut dyn FnMut(usize) -> Result<Box<dyn BlockSource>, AudioError>,
    count: usize,
    rate: u32,
    gain_db: f64,
    settings: LimiterSettings,
    envelopes: &[PathBuf],
) -> Result<f64, AudioError> {
    let mut meter = LoudnessMeter::integrated_only(rate)?;
    for index in 0..count {
        let source = open(index)?;
        let envelope = envelopes.get(index).map(PathBuf::as_path);
        render_limited(source, rate, gain_db, settings, envelope, &mut meter)?;
    }
    let report = meter.report()?;
    Ok(report.integrated)
}

/// What the limiter did over a whole render.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterReport {
    /// The gain reduction averaged over every frame, dB.
    pub mean_reduction_db: f64,
}

/// `source` through a gain and the limiter into `sink`, aligned and of the
/// same length as the source. With an `envelope` (the limiter's detection
/// of the same source, see [`crate::EnvelopeWriter`]) the limiter reads
/// its peaks there instead of detecting them again.
pub fn render_limited(
    source: Box<dyn BlockSource>,
    rate: u32,
    gain_db: f64,
    settings: LimiterSettings,
    envelope: Option<&Path>,
    sink: &mut dyn BlockSink,
) -> Result<LimiterReport, AudioError> {
    let mut envelope = envelope.map(EnvelopeReader::open).transpose()?;
    let mut peaks = Vec::new();
    let mut limiter = Limiter::new(
        settings.ceiling,
        settings.release_ms,
        settings.lookahead_ms,
        rate,
    );
    let latency = limiter.latency();
    let gain = db_to_gain(gain_db) as f32;
    let mut source = source;
    let mut buffer = StereoBuffer::default();
    let mut to_skip = latency;
    let mut flushed = 0;
    loop {
        let mut frames = buffer.fill_from(source.as_mut())?;
        if frames == 0 {
            if flushed >= latency {
                return Ok(LimiterReport {
                    mean_reduction_db: limiter.mean_reduction_db(),
                });
            }
            frames = (latency - flushed).min(buffer.left.len());
            buffer.left[..frames].fill(0.0);
            buffer.right[..frames].fill(0.0);
            flushed += frames;
        }
        let (left, right) = buffer.slices(frames);
        for x in left.iter_mut().chain(right.iter_mut()) {
            *x *= gain;
        }
        match envelope.as_mut() {
            Some(envelope) => {
                envelope.read(frames, &mut peaks)?;
                limiter.process_detected(left, right, &peaks, gain as f64);
            }
            None => limiter.process(left, right),
        }
        let skip = to_skip.min(frames);
        to_skip -= skip;
        if skip < frames {
            sink.write(&left[skip..], &right[skip..])?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sine at -20 dBFS with a full-scale click every 100 ms: a crest of
    /// 20 dB, so a loud target needs real limiting.
    struct Clicky {
        position: u64,
        length: u64,
        freq: f64,
    }

    impl BlockSource for Clicky {
        fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
            let n = (left.len() as u64).min(self.length - self.position) as usize;
            for i in 0..n {
                let t = self.position + i as u64;
                let mut x = 0.1 * (std::f64::consts::TAU * self.freq * t as f64 / 48000.0).sin();
                if t.is_multiple_of(4800) {
                    x = 1.0;
                }
                left[i] = x as f32;
                right[i] = x as f32;
            }
            self.position += n as u64;
            Ok(n)
        }
    }

    #[test]
    fn a_loud_target_is_reached_through_the_limiter() {
        let rate = 48000;
        let mut open = |i: usize| -> Result<Box<dyn BlockSource>, AudioError> {
            Ok(Box::new(Clicky {
                position: 0,
                length: 5 * 48000,
                freq: 200.0 + 300.0 * i as f64,
            }))
        };
        let mut meter = LoudnessMeter::full(rate).unwrap();
        for i in 0..2 {
            crate::copy_source(open(i).unwrap().as_mut(), &mut meter).unwrap();
        }
        let before = meter.report().unwrap();
        let problem = TargetProblem {
            count: 2,
            rate,
            target: -10.0,
            limiter: LimiterSettings::master(-1.0),
            unlimited_loudness: before.integrated,
            true_peak_in: before.true_peak,
            start_gain: None,
            envelopes: &[],
        };
        let solution = solve_target(&mut open, &problem).unwrap();
        assert!(
            (solution.loudness + 10.0).abs() <= CONVERGED,
            "{solution:?}"
        );
        // The solved gain's output keeps the ceiling on the BS.1770 meter.
        let mut output = LoudnessMeter::full(rate).unwrap();
        for i in 0..2 {
            let settings = problem.limiter;
            render_limited(
                open(i).unwrap(),
                rate,
                solution.gain_db,
                settings,
                None,
                &mut output,
            )
            .unwrap();
        }
        let true_peak = output.report().unwrap().true_peak;
        assert!(true_peak <= -1.0, "{true_peak} dBTP, {solution:?}");
        assert!(solution.max_reduction > 6.0, "{solution:?}");
        assert!(solution.iterations > 1, "{solution:?}");
    }
}

#[cfg(test)]
mod envelope_tests {
    use super::*;
    use crate::EnvelopeWriter;

    /// A buffer as a source, block by block.
    struct Samples {
        left: Vec<f32>,
        right: Vec<f32>,
        at: usize,
    }

    impl BlockSource for Samples {
        fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
            let n = left.len().min(self.left.len() - self.at);
            left[..n].copy_from_slice(&self.left[self.at..self.at + n]);
            right[..n].copy_from_slice(&self.right[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    struct Collect(Vec<f32>, Vec<f32>);

    impl BlockSink for Collect {
        fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
            self.0.extend_from_slice(left);
            self.1.extend_from_slice(right);
            Ok(())
        }
    }

    /// Limiting through a stored detection gives what detecting again
    /// gives, at every gain tried, within f32 rounding, and keeps the
    /// ceiling on the BS.1770 meter.
    #[test]
    fn a_stored_detection_limits_as_detecting_again_does() {
        let rate = 48000;
        let mut state = 7u64;
        let left: Vec<f32> = (0..3 * 48000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                let noise = ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
                0.3 * noise + 0.2 * (i as f32 * 0.05).sin()
            })
            .collect();
        let right: Vec<f32> = left.iter().rev().copied().collect();
        let source = || Samples {
            left: left.clone(),
            right: right.clone(),
            at: 0,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("envelope");
        let mut writer = EnvelopeWriter::create(&path, rate).unwrap();
        crate::copy_source(&mut source(), &mut writer).unwrap();
        writer.finish().unwrap();
        for gain_db in [0.0, 6.0, 14.0] {
            let settings = LimiterSettings::master(-1.0);
            let mut direct = Collect(Vec::new(), Vec::new());
            render_limited(
                Box::new(source()),
                rate,
                gain_db,
                settings,
                None,
                &mut direct,
            )
            .unwrap();
            let mut stored = Collect(Vec::new(), Vec::new());
            render_limited(
                Box::new(source()),
                rate,
                gain_db,
                settings,
                Some(&path),
                &mut stored,
            )
            .unwrap();
            assert_eq!(direct.0.len(), left.len());
            assert_eq!(stored.0.len(), left.len());
            let worst = direct
                .0
                .iter()
                .zip(&stored.0)
                .chain(direct.1.iter().zip(&stored.1))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{gain_db} dB: differs by {worst}");
            let peak = crate::measure::meter::bs1770_true_peak_db(&stored.0, &stored.1, rate);
            assert!(peak <= -1.0, "{gain_db} dB: {peak} dBTP");
        }
    }
}
