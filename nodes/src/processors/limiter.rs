//! A true-peak brick-wall limiter.
//!
//! Detection: each sample and seven values between it and the next, read
//! through an 8× polyphase Kaiser-windowed sinc of 64 taps per phase, denser than the 4× that
//! ITU-R BS.1770-4 Annex 2 asks of a true-peak meter; and, beside them, the
//! values the meter itself computes (the 48-tap Hann-windowed sinc of
//! libebur128 and the ebur128 crate, 4× below 96 kHz, 2× below 192 kHz),
//! whose phases are not gain-normalised and can read full-band content a
//! little higher. The limiter holds the larger of the two.
//!
//! Gain: the gain each sample needs is run through a sliding minimum as long
//! as the lookahead (plus two samples, to cover the intersample values on
//! both sides), then an instant-attack, exponential release, then a boxcar
//! average as long as the lookahead. Every gain inside the boxcar around a
//! peak is at most the gain that peak needs, so the average is too: the
//! ceiling holds by construction, and the gain moves smoothly (no clicks).
//! The audio is delayed to meet its gain; the chain runner removes the delay.

use super::Processor;
use crate::measure::interpolation::{Interpolator, DETECT_DELAY, TAPS};

use super::kind::{Kind, Param};
use super::ProcessorSpec;

/// `limit …`: the true-peak limiter.
pub const KIND: Kind = Kind {
    name: "limit",
    summary: "a true-peak brick-wall limiter: lookahead, detection at 8x and the BS.1770 meter's own points, so nothing passes the ceiling",
    params: &[
        Param::property("ceiling", "a ceiling", "dBTP", -1.0, -30.0, 0.0),
        Param::property("release", "a release time", "ms", 50.0, 1.0, 5000.0),
        Param::property("lookahead", "a lookahead", "ms", 5.0, 0.1, 50.0),
    ],
    other_props: &[],
    version: LIMITER_VERSION,
    build: Some(|v| ProcessorSpec::Limit {
        ceiling: v[0],
        release: v[1],
        lookahead: v[2],
    }),
    in_chain: true,
    example: "limit ceiling=-1 release=50",
};

/// Changes whenever the limiter's output changes; part of the key of every
/// step that limits (masters with a ceiling, resampled deliverables).
pub const LIMITER_VERSION: u32 = 5;

/// Interpolated values per input sample (the sample itself included).
const OVERSAMPLE: usize = 8;
/// A hair under the ceiling, for the gain's own rounding to f32.
const SAFETY_DB: f64 = 0.005;

/// The limiter's detection: per frame, the larger of both channels'
/// interpolated peaks, read `DETECT_DELAY` frames late. [`Limiter`] runs
/// it on each block; over a whole signal at unit gain it is what
/// [`Limiter::process_detected`] takes.
#[derive(Clone)]
pub struct PeakDetector {
    detectors: [Interpolator; 2],
    right: Vec<f32>,
}

impl PeakDetector {
    pub fn new(rate: u32) -> Self {
        PeakDetector {
            detectors: [
                Interpolator::new(OVERSAMPLE, rate),
                Interpolator::new(OVERSAMPLE, rate),
            ],
            right: Vec::new(),
        }
    }

    /// Appends one reading per frame to `peaks`.
    pub fn detect(&mut self, left: &[f32], right: &[f32], peaks: &mut Vec<f32>) {
        let from = peaks.len();
        self.detectors[0].read(left, peaks);
        self.right.clear();
        self.detectors[1].read(right, &mut self.right);
        for (peak, r) in peaks[from..].iter_mut().zip(&self.right) {
            *peak = peak.max(*r);
        }
    }

    /// The readings while silence flushes the last frames out; after them
    /// the detectors read only zeros.
    pub fn flush(&mut self, peaks: &mut Vec<f32>) {
        let silence = [0.0f32; TAPS];
        self.detect(&silence, &silence, peaks);
    }
}

/// The least of the last `window` values pushed: a monotonic queue in a
/// ring (each value enters once and leaves once; none behind a smaller
/// newer one is kept).
struct SlidingMinimum {
    /// (position, value) candidates, oldest first, values rising.
    ring: Vec<(u64, f64)>,
    mask: usize,
    head: usize,
    tail: usize,
    window: u64,
    next: u64,
}

impl SlidingMinimum {
    fn new(window: usize) -> Self {
        let capacity = (window + 1).next_power_of_two();
        SlidingMinimum {
            ring: vec![(0, 0.0); capacity],
            mask: capacity - 1,
            head: 0,
            tail: 0,
            window: window as u64,
            next: 0,
        }
    }

    /// Takes the next value; returns the least of the last `window`.
    #[inline]
    fn push(&mut self, value: f64) -> f64 {
        while self.tail != self.head && self.ring[(self.tail - 1) & self.mask].1 >= value {
            self.tail -= 1;
        }
        self.ring[self.tail & self.mask] = (self.next, value);
        self.tail += 1;
        while self.ring[self.head & self.mask].0 + self.window <= self.next {
            self.head += 1;
        }
        self.next += 1;
        self.ring[self.head & self.mask].1
    }
}

/// The limiter's running state.
pub struct Limiter {
    ceiling: f64,
    lookahead: usize,
    release_coef: f64,
    detector: PeakDetector,
    /// One block's detection.
    peaks: Vec<f32>,
    /// Per channel: the audio waiting for its gain, `latency()` frames.
    delay: [Vec<f32>; 2],
    /// Scratch: a channel's delay followed by the block being limited.
    joined: Vec<f32>,
    /// One block's gains, for the frames leaving the delay.
    gains: Vec<f64>,
    /// The least gain needed over the lookahead and the detection's reach.
    minimum: SlidingMinimum,
    released: f64,
    /// The last `lookahead` released gains, a ring whose oldest is at
    /// `boxcar_next`.
    boxcar: Vec<f64>,
    boxcar_next: usize,
    boxcar_sum: f64,
    index: u64,
    /// The gains applied so far, as a product (a multiply a frame, not a
    /// logarithm: the mean in dB is read once, the gain runs every frame)
    /// whose natural logarithm is taken into `log_gain` before it can
    /// underflow; and the frames they were applied to.
    gain_product: f64,
    log_gain: f64,
    frames: u64,
}

impl Limiter {
    /// `ceiling_db` in dBTP; `release_ms` and `lookahead_ms` in milliseconds.
    pub fn new(ceiling_db: f64, release_ms: f64, lookahead_ms: f64, rate: u32) -> Self {
        let lookahead = ((lookahead_ms / 1000.0 * rate as f64).round() as usize).max(1);
        let release = release_ms / 1000.0 * rate as f64;
        Limiter {
            ceiling: crate::db_to_gain(ceiling_db - SAFETY_DB),
            lookahead,
            release_coef: if release > 0.0 {
                (-1.0 / release).exp()
            } else {
                0.0
            },
            detector: PeakDetector::new(rate),
            peaks: Vec::new(),
            delay: [
                vec![0.0f32; lookahead + DETECT_DELAY],
                vec![0.0f32; lookahead + DETECT_DELAY],
            ],
            joined: Vec::new(),
            gains: Vec::new(),
            minimum: SlidingMinimum::new(lookahead + TAPS),
            released: 1.0,
            boxcar: vec![1.0; lookahead],
            boxcar_next: 0,
            boxcar_sum: lookahead as f64,
            index: 0,
            gain_product: 1.0,
            log_gain: 0.0,
            frames: 0,
        }
    }

    /// The mean gain reduction over every frame limited so far, dB: how
    /// hard the limiter works on the whole programme, beside the most it
    /// takes off anywhere.
    pub fn mean_reduction_db(&self) -> f64 {
        if self.frames == 0 {
            0.0
        } else {
            let log_gain = self.log_gain + self.gain_product.ln();
            -20.0 * log_gain / std::f64::consts::LN_10 / self.frames as f64
        }
    }

    /// The latency the limiter adds, in frames.
    pub fn latency(&self) -> usize {
        self.lookahead + DETECT_DELAY
    }

    /// Limits a block whose detection was done beforehand: `peaks[i]` is
    /// what [`PeakDetector`] read for frame i of the same audio at unit
    /// gain, and the block is that audio times `scale`. Detection is
    /// linear, so the peaks scale with the audio; the costly part of the
    /// limiter then runs once however often a gain is tried.
    pub fn process_detected(
        &mut self,
        left: &mut [f32],
        right: &mut [f32],
        peaks: &[f32],
        scale: f64,
    ) {
        debug_assert!(left.len() == right.len() && peaks.len() >= left.len());
        // The gains first (the part that runs frame after frame), then each
        // channel delayed and scaled in a loop of its own.
        let mut gains = std::mem::take(&mut self.gains);
        gains.clear();
        gains.extend(
            peaks[..left.len()]
                .iter()
                .map(|peak| self.gain_for_peak(*peak as f64 * scale)),
        );
        self.delay_and_apply(0, left, &gains);
        self.delay_and_apply(1, right, &gains);
        for gain in &gains {
            self.gain_product *= gain;
            if self.gain_product < 1e-100 {
                self.log_gain += self.gain_product.ln();
                self.gain_product = 1.0;
            }
        }
        self.frames += gains.len() as u64;
        self.gains = gains;
    }

    /// Replaces `samples` with the frames leaving the channel's delay,
    /// each times its gain, and keeps the newest for the next block.
    fn delay_and_apply(&mut self, channel: usize, samples: &mut [f32], gains: &[f64]) {
        let joined = &mut self.joined;
        joined.clear();
        joined.extend_from_slice(&self.delay[channel]);
        joined.extend_from_slice(samples);
        for ((out, delayed), gain) in samples.iter_mut().zip(joined.iter()).zip(gains) {
            *out = (*delayed as f64 * gain) as f32;
        }
        let delay = &mut self.delay[channel];
        let kept = delay.len();
        delay.copy_from_slice(&joined[joined.len() - kept..]);
    }

    /// The gain for the frame leaving the delay, given the peak the
    /// detectors read for the frame entering it.
    fn gain_for_peak(&mut self, peak: f64) -> f64 {
        let needed = if peak > self.ceiling {
            self.ceiling / peak
        } else {
            1.0
        };
        let floor = self.minimum.push(needed);
        self.index += 1;
        // Instant attack, exponential release: never above the floor.
        self.released = if floor < self.released {
            floor
        } else {
            floor + (self.released - floor) * self.release_coef
        };
        let oldest = std::mem::replace(&mut self.boxcar[self.boxcar_next], self.released);
        self.boxcar_sum += self.released - oldest;
        self.boxcar_next += 1;
        if self.boxcar_next == self.boxcar.len() {
            self.boxcar_next = 0;
        }
        // Re-sum now and then (oldest first) so rounding cannot drift.
        if self.index.is_multiple_of(65536) {
            let (newer, older) = self.boxcar.split_at(self.boxcar_next);
            self.boxcar_sum = older.iter().chain(newer).sum();
        }
        (self.boxcar_sum / self.lookahead as f64).min(1.0)
    }
}

impl Processor for Limiter {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let mut peaks = std::mem::take(&mut self.peaks);
        peaks.clear();
        self.detector.detect(left, right, &mut peaks);
        self.process_detected(left, right, &peaks, 1.0);
        self.peaks = peaks;
    }

    fn latency(&self) -> usize {
        Limiter::latency(self)
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(_: &f64, _: &f64, _: &f64) -> bool {
    false
}

pub(super) fn describe(ceiling: &f64, _: &f64, _: &f64) -> String {
    format!("limit {ceiling} dBTP")
}

pub(super) fn build(ceiling: &f64, release: &f64, lookahead: &f64, context: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Limiter::new(*ceiling, *release, *lookahead, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ring gives the least of the last `window` values pushed, as a
    /// plain scan of them does, exactly: on values with ties, runs and
    /// steps, for windows of one value to more than the ring's first size.
    #[test]
    fn the_sliding_minimum_is_the_least_of_the_window() {
        let mut state = 11u64;
        let values: Vec<f64> = (0..20_000)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let level = ((state >> 40) % 64) as f64 / 64.0;
                if i % 700 < 200 { 1.0 } else { level }
            })
            .collect();
        for window in [1, 2, 3, 64, 255, 256, 300, 1000] {
            let mut minimum = SlidingMinimum::new(window);
            for (i, value) in values.iter().enumerate() {
                let least = values[(i + 1).saturating_sub(window)..=i]
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min);
                assert_eq!(minimum.push(*value), least, "window {window} at {i}");
            }
        }
    }

    const RATE: u32 = 48000;

    /// Limits a signal through the processor, compensating its latency as
    /// the chain runner does, and returns the output.
    fn limit(input: &[f32], ceiling: f64) -> Vec<f32> {
        let mut limiter = Limiter::new(ceiling, 50.0, 5.0, RATE);
        let latency = limiter.latency();
        let mut padded = input.to_vec();
        padded.extend(vec![0.0; latency]);
        let mut right = padded.clone();
        for (l, r) in padded.chunks_mut(4096).zip(right.chunks_mut(4096)) {
            limiter.process(l, r);
        }
        padded.drain(..latency);
        padded
    }

    /// A steady tone 6 dB over the ceiling is held down by 6 dB throughout:
    /// the mean reduction is that, less the start before the tone reaches
    /// the limiter; half the time at 6 dB reads half.
    #[test]
    fn the_mean_reduction_is_what_the_limiter_takes_off_on_average() {
        let run = |input: &[f32]| {
            let mut limiter = Limiter::new(-6.0, 50.0, 5.0, RATE);
            let mut left = input.to_vec();
            let mut right = input.to_vec();
            for (l, r) in left.chunks_mut(4096).zip(right.chunks_mut(4096)) {
                limiter.process(l, r);
            }
            limiter.mean_reduction_db()
        };
        // A 997 Hz tone's true peak is its sample peak to within 0.01 dB.
        let loud = sine(997.0, 0.0, 0.0, 4.0);
        let expected = 6.0 + SAFETY_DB;
        let mean = run(&loud);
        assert!((mean - expected).abs() < 0.05, "{mean} dB");
        let mut half = loud.clone();
        half.extend(vec![0.0; loud.len()]);
        let mean = run(&half);
        assert!((mean - expected / 2.0).abs() < 0.1, "{mean} dB");
        assert_eq!(run(&sine(997.0, -20.0, 0.0, 1.0)), 0.0);
    }

    fn true_peak_db(signal: &[f32]) -> f64 {
        crate::measure::meter::bs1770_true_peak_db(signal, signal, RATE)
    }

    fn sine(freq: f64, level_db: f64, phase: f64, seconds: f64) -> Vec<f32> {
        let a = crate::db_to_gain(level_db);
        (0..(RATE as f64 * seconds) as usize)
            .map(|i| {
                (a * (std::f64::consts::TAU * freq * i as f64 / RATE as f64 + phase).sin()) as f32
            })
            .collect()
    }

    fn noise(level_db: f64, seconds: f64, seed: u64) -> Vec<f32> {
        let mut state = seed;
        let a = crate::db_to_gain(level_db);
        (0..(RATE as f64 * seconds) as usize)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (a * (((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0)) as f32
            })
            .collect()
    }

    fn assert_under(name: &str, input: &[f32], ceiling: f64) {
        let output = limit(input, ceiling);
        assert_eq!(output.len(), input.len());
        let peak = true_peak_db(&output);
        assert!(
            peak <= ceiling,
            "{name}: true peak {peak:.3} dBTP over the {ceiling} ceiling"
        );
    }

    #[test]
    fn hard_signals_never_pass_the_ceiling() {
        for ceiling in [-1.0, -0.1, -3.0] {
            assert_under(
                "sine at 20 kHz, 0 dBFS",
                &sine(20000.0, 0.0, 0.3, 1.0),
                ceiling,
            );
            assert_under(
                "sine at 23 kHz, +6 dBFS",
                &sine(23000.0, 6.0, 0.0, 1.0),
                ceiling,
            );
            // fs/4 at 45°: samples at 0 dBFS, true peak +3 dBTP.
            assert_under(
                "intersample peaks",
                &sine(12000.0, 3.0103, std::f64::consts::FRAC_PI_4, 1.0),
                ceiling,
            );
            let square: Vec<f32> = (0..48000)
                .map(|i| if (i / 55) % 2 == 0 { 1.0 } else { -1.0 })
                .collect();
            assert_under("square wave", &square, ceiling);
            assert_under("noise at +12 dB", &noise(12.0, 2.0, 1), ceiling);
            let mut impulses = vec![0.0f32; 48000];
            for i in (1000..48000).step_by(4000) {
                impulses[i] = if i % 8000 == 1000 { 1.0 } else { -1.0 };
            }
            assert_under("impulses", &impulses, ceiling);
        }
    }

    #[test]
    fn quiet_signals_pass_untouched_but_delayed_back_into_place() {
        let input = sine(1000.0, -12.0, 0.0, 0.5);
        let output = limit(&input, -1.0);
        for (a, b) in output.iter().zip(&input) {
            assert!((a - b).abs() < 1e-7);
        }
    }

    #[test]
    fn a_loud_sine_is_held_at_the_ceiling_without_distortion() {
        // A 1 kHz sine 6 dB over: after the attack the gain is steady, so the
        // output is the same sine at the ceiling.
        let output = limit(&sine(1000.0, 5.0, 0.0, 1.0), -1.0);
        let tail = &output[24000..];
        let peak = tail.iter().fold(0.0f32, |m, x| m.max(x.abs())) as f64;
        assert!(
            (20.0 * peak.log10() + 1.0).abs() < 0.05,
            "{}",
            20.0 * peak.log10()
        );
    }

    #[test]
    fn release_lets_the_gain_recover() {
        let mut input = sine(1000.0, 6.0, 0.0, 0.5);
        input.extend(sine(1000.0, -6.0, 0.0, 1.0));
        let output = limit(&input, -1.0);
        let late = &output[48000..72000];
        let peak = 20.0 * (late.iter().fold(0.0f32, |m, x| m.max(x.abs())) as f64).log10();
        assert!((peak + 6.0).abs() < 0.05, "gain recovered to {peak}");
    }
}

#[cfg(test)]
mod rates {
    use super::*;

    /// Full-band noise 6 dB over full scale, limited at every common rate
    /// with short and long lookahead: the meter never reads over.
    #[test]
    fn full_band_noise_stays_under_at_every_rate() {
        for rate in [44100u32, 48000, 88200, 96000, 176400] {
            for lookahead in [1.5, 5.0] {
                let mut state = 5u64;
                let n = rate as usize;
                let input: Vec<f32> = (0..n)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (2.0 * (((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0)) as f32
                    })
                    .collect();
                let mut limiter = Limiter::new(-1.0, 50.0, lookahead, rate);
                let latency = limiter.latency();
                let mut l = input.clone();
                l.extend(vec![0.0; latency]);
                let mut r = l.clone();
                for (a, b) in l.chunks_mut(4096).zip(r.chunks_mut(4096)) {
                    limiter.process(a, b);
                }
                l.drain(..latency);
                let peak = crate::measure::meter::bs1770_true_peak_db(&l, &l, rate);
                assert!(peak <= -1.0, "{rate} Hz, {lookahead} ms: {peak} dBTP");
            }
        }
    }
}
