//! Inter-sample overs as `afclip` counts them: the frames whose interval,
//! read at every eighth of a sample and by the BS.1770 meter's phases,
//! reaches over full scale. Most of a file cannot, and bounds say so
//! before the costly points are read.

use crate::measure::interpolation::{
    grid_phases, read_centres, read_in_blocks, read_phases, Phase, DETECT_DELAY, TAPS,
};
use crate::{AudioError, BlockSink};

const OVERSAMPLE: usize = 8;

/// Frames whose bounds are taken together.
const BLOCK: usize = 64;

/// The reconstruction's bandwidth in cycles per sample: Nyquist, plus the
/// Kaiser sinc's transition band past it.
const BANDWIDTH: f64 = 0.55;

/// The filter's ripple and the 16× grid's shortfall on the true peak
/// (0.1 dB and 0.04 dB), taken as margins on each bound below.
const RIPPLE: f64 = 1.0116;
const GRID_SHORTFALL: f64 = 1.005;

/// Counts the frames of both channels whose interval reads over full
/// scale, the same count as reading every point of every frame.
///
/// Each block of frames passes up to three tests:
/// - its samples, times the most any phase can gain on them (the sum of
///   its taps' magnitudes), cannot reach full scale: no over;
/// - otherwise its samples and quarter points (and the meter's phases) are
///   read; an eighth point over full scale has a quarter point or sample
///   an eighth of a sample away on its rising side, which by Bernstein's
///   inequality (|f''| ≤ (2πB)²·M for a signal of bandwidth B bounded by
///   M) reads at least 1 − ½(2πB/8)²·M. Under that: no over at an eighth;
///   - otherwise the other eighth points are read too.
pub struct InterSampleOvers {
    /// The quarter points and the meter's phases.
    quarters: Vec<Phase>,
    /// The other eighth points.
    eighths: Vec<Phase>,
    /// The most any phase reads, relative to its window's largest sample.
    gain: f32,
    /// The quarter-point reading an over at an eighth point implies.
    near: f32,
    /// Per channel: the last TAPS samples, then the block being read.
    history: [Vec<f32>; 2],
    readings: Vec<f32>,
    count: u64,
    /// Blocks ruled out by their samples, by their quarter points, and
    /// read at every eighth.
    settled: [u64; 3],
}

impl InterSampleOvers {
    /// A counter for a signal at `rate` whose strict true peak is
    /// `true_peak_db` (the bound needs the signal's highest value).
    pub fn new(rate: u32, true_peak_db: f64) -> Self {
        let (quarters, eighths) = grid_phases(OVERSAMPLE, 4, rate);
        let gain = quarters
            .iter()
            .chain(&eighths)
            .map(Phase::gain)
            .fold(1.0f32, f32::max);
        let highest = crate::db_to_gain(true_peak_db) * GRID_SHORTFALL * RIPPLE;
        let curvature = 0.5 * (std::f64::consts::TAU * BANDWIDTH / OVERSAMPLE as f64).powi(2);
        InterSampleOvers {
            quarters,
            eighths,
            gain,
            near: ((1.0 - curvature * highest) / RIPPLE) as f32,
            history: [vec![0.0; TAPS], vec![0.0; TAPS]],
            readings: Vec::with_capacity(BLOCK),
            count: 0,
            settled: [0; 3],
        }
    }

    /// The count over everything written.
    pub fn finish(mut self) -> u64 {
        let silence = [0.0f32; DETECT_DELAY];
        self.read(&silence, &silence);
        self.count
    }

    fn read(&mut self, left: &[f32], right: &[f32]) {
        for (channel, samples) in [left, right].into_iter().enumerate() {
            let mut history = std::mem::take(&mut self.history[channel]);
            read_in_blocks(&mut history, samples, BLOCK, |history, frames| {
                self.count += self.count_block(history, frames)
            });
            self.history[channel] = history;
        }
    }

    /// The overs among the `frames` newest samples of `history` (TAPS
    /// older ones before them).
    fn count_block(&mut self, history: &[f32], frames: usize) -> u64 {
        // Every window read: history[j + 1..j + 1 + TAPS] for frame j. The
        // margin covers the rounding of a 64-term sum in f32.
        let largest = history[1..].iter().fold(0.0f32, |m, x| m.max(x.abs()));
        if largest * self.gain * 1.0001 <= 1.0 {
            self.settled[0] += 1;
            return 0;
        }
        let mut readings = std::mem::take(&mut self.readings);
        readings.clear();
        readings.resize(frames, 0.0);
        read_centres(history, &mut readings);
        read_phases(&self.quarters, history, &mut readings);
        // The sample after the last frame closes its interval.
        let next = history[frames + TAPS / 2].abs();
        let quarter = readings.iter().fold(next, |m, r| m.max(*r));
        if quarter >= self.near {
            read_phases(&self.eighths, history, &mut readings);
            self.settled[2] += 1;
        } else {
            self.settled[1] += 1;
        }
        let count = readings.iter().filter(|r| **r > 1.0).count() as u64;
        self.readings = readings;
        count
    }
}

impl BlockSink for InterSampleOvers {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        self.read(left, right);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::true_peak::refinement_tests::noise;
    use crate::processors::Interpolator;
    use crate::TruePeakMeter;

    const RATE: u32 = 48000;

    /// Every eighth point and the meter's phases of every frame, as the
    /// count was made before any block was skipped.
    fn every_point(left: &[f32], right: &[f32]) -> u64 {
        [left, right]
            .iter()
            .map(|samples| {
                let mut interpolator = Interpolator::new(OVERSAMPLE, RATE);
                let mut readings = Vec::new();
                interpolator.read(samples, &mut readings);
                interpolator.read(&[0.0; DETECT_DELAY], &mut readings);
                readings.iter().filter(|r| **r > 1.0).count() as u64
            })
            .sum()
    }

    fn sine(freq: f64, amplitude: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| {
                (amplitude * (std::f64::consts::TAU * freq * i as f64 / RATE as f64 + 0.3).sin())
                    as f32
            })
            .collect()
    }

    fn count(left: &[f32], right: &[f32], chunk: usize) -> u64 {
        let mut meter = TruePeakMeter::new(RATE);
        meter.write(left, right).unwrap();
        let mut overs = InterSampleOvers::new(RATE, meter.true_peak_db());
        for (l, r) in left.chunks(chunk).zip(right.chunks(chunk)) {
            overs.write(l, r).unwrap();
        }
        overs.finish()
    }

    /// Skipping blocks never changes the count: on loud limited-like
    /// noise pushed past full scale, on sines up to near Nyquist whose
    /// crests fall between samples, on a mix whose peaks are rare, on
    /// clicks at block edges and on a full-scale square, in blocks of
    /// every size. Each case has overs to count, and most skip blocks.
    #[test]
    fn counts_what_reading_every_point_counts() {
        let mut cases: Vec<(&str, Vec<f32>, Vec<f32>)> = Vec::new();
        for (seed, drive) in [(3u64, 1.02f32), (5, 1.08), (7, 1.2)] {
            let dense: Vec<f32> = noise(seed, 30000)
                .iter()
                .map(|x| (x * 6.0).tanh() * drive)
                .collect();
            let reversed = dense.iter().rev().copied().collect();
            cases.push(("limited noise", dense, reversed));
        }
        for freq in [997.0, 11025.0, 15000.0, 19997.0, 21000.0] {
            // A crest 0.3 dB over full scale, wherever the samples fall.
            let over = sine(freq, 1.035, 20000);
            cases.push(("sine", over.clone(), sine(freq, 0.5, 20000)));
        }
        // Quiet noise with a few loud bursts: most blocks are ruled out.
        let mut mix: Vec<f32> = noise(11, 48000).iter().map(|x| x * 0.3).collect();
        for at in [4000, 20000, 40000] {
            for (i, x) in sine(5000.0, 1.06, 2000).into_iter().enumerate() {
                mix[at + i] += x;
            }
        }
        cases.push(("mix with bursts", mix.clone(), noise(12, 48000)));
        let mut clicks = vec![0.0f32; 20000];
        for at in [63, 64 * 40 - 1, 64 * 100, 13001] {
            clicks[at] = 0.99;
            clicks[at + 1] = -0.99;
        }
        cases.push(("clicks", clicks, vec![0.0; 20000]));
        let square: Vec<f32> = (0..20000)
            .map(|i| if (i / 40) % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        cases.push(("square", square.clone(), square));
        for (name, left, right) in &cases {
            let expected = every_point(left, right);
            assert!(expected > 0, "{name}: no over to count");
            for chunk in [1, 63, 64, 1000, 4096] {
                assert_eq!(
                    count(left, right, chunk),
                    expected,
                    "{name}, blocks of {chunk}"
                );
            }
        }
    }

    /// On a mix whose loud moments are rare, the bounds settle most
    /// blocks: a quiet stretch by its samples, a loud one under full scale
    /// by its quarter points; only the bursts are read at every eighth.
    #[test]
    fn reads_every_eighth_only_near_full_scale() {
        let mut left: Vec<f32> = noise(11, 48000).iter().map(|x| x * 0.3).collect();
        left[10000..20000].copy_from_slice(&sine(3000.0, 0.8, 10000));
        left[30000..30500].copy_from_slice(&sine(5000.0, 1.06, 500));
        let mut overs = InterSampleOvers::new(RATE, crate::gain_to_db(1.06));
        overs.write(&left, &left).unwrap();
        let [samples, quarters, eighths] = overs.settled;
        let blocks = (samples + quarters + eighths) as f64;
        assert!(samples as f64 > 0.6 * blocks, "{:?}", overs.settled);
        assert!(quarters as f64 > 0.2 * blocks, "{:?}", overs.settled);
        assert!(eighths as f64 <= 0.05 * blocks, "{:?}", overs.settled);
        assert!(overs.finish() > 0);
    }
}
