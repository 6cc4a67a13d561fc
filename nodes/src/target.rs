//! Solving the gain before a true-peak limiter so that the limited output
//! reads a loudness target: measure, adjust, repeat, a bounded number of times.

use crate::processors::{Limiter, Processor};
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
    /// The true peak of the limited output, dBTP.
    pub true_peak: f64,
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
    pub fn master(ceiling: f64) -> Self {
        LimiterSettings {
            ceiling,
            release_ms: 50.0,
            lookahead_ms: 5.0,
        }
    }
}

/// What the solver is asked: bring `count` signals, each through a gain
/// and the limiter and measured together as one programme, to `target`.
#[derive(Debug, Clone, Copy)]
pub struct TargetProblem {
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
    } = *problem;
    // Without limiting the gain is exact; a previous solution is closer.
    let mut gain = start_gain.unwrap_or(target - unlimited_loudness);
    let mut previous: Option<(f64, f64)> = None;
    let mut best: Option<Solution> = None;
    for iteration in 1..=MAX_ITERATIONS {
        let (loudness, true_peak) = measure_limited(open, count, rate, gain, limiter)?;
        let solution = Solution {
            gain_db: gain,
            loudness,
            true_peak,
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
) -> Result<(f64, f64), AudioError> {
    let mut meter = LoudnessMeter::true_peak_and_integrated(rate)?;
    for index in 0..count {
        let source = open(index)?;
        render_limited(source, rate, gain_db, settings, &mut meter)?;
    }
    let report = meter.report()?;
    Ok((report.integrated, report.true_peak))
}

/// `source` through a gain and the limiter into `sink`, aligned and of the
/// same length as the source.
pub fn render_limited(
    source: Box<dyn BlockSource>,
    rate: u32,
    gain_db: f64,
    settings: LimiterSettings,
    sink: &mut dyn BlockSink,
) -> Result<(), AudioError> {
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
                return Ok(());
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
        limiter.process(left, right);
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
        };
        let solution = solve_target(&mut open, &problem).unwrap();
        assert!(
            (solution.loudness + 10.0).abs() <= CONVERGED,
            "{solution:?}"
        );
        assert!(solution.true_peak <= -1.0, "{solution:?}");
        assert!(solution.max_reduction > 6.0, "{solution:?}");
        assert!(solution.iterations > 1, "{solution:?}");
    }
}
