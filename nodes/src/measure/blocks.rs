//! BS.1770 loudness from the K-weighted energy of each 100 ms block.
//!
//! Every figure of ITU-R BS.1770-4 and EBU Tech 3341/3342 is a mean of
//! whole 100 ms blocks: a gating block (400 ms, stepped by 100 ms) is the
//! mean of four, a momentary reading of the last four, a short-term
//! reading of the last thirty. So the K-weighted signal is summed once,
//! into one energy per block, and every figure follows from those.

use crate::AudioError;

/// Changes whenever a loudness reading changes; part of the key of every
/// step whose output or record follows from one (masters solved to a
/// target, fits, delivered files).
pub const METER_VERSION: u32 = 2;

/// The absolute gate, LUFS (BS.1770-4 §2.8; EBU Tech 3342 uses it too).
pub(crate) const ABSOLUTE_GATE: f64 = -70.0;
/// The relative gate of the integrated loudness, LU (BS.1770-4 §2.8).
const RELATIVE_GATE: f64 = -10.0;
/// The relative gate of the loudness range, LU (EBU Tech 3342 §3).
const RANGE_RELATIVE_GATE: f64 = -20.0;
/// Blocks in a gating block and a momentary window (400 ms).
const MOMENTARY_BLOCKS: usize = 4;
/// Blocks in a short-term window (3 s).
const SHORT_TERM_BLOCKS: usize = 30;
/// Blocks between the short-term windows of the loudness range: 1 s, as
/// libebur128 steps them, so the range reads as ebur128 and ffmpeg read it.
const RANGE_HOP_BLOCKS: usize = 10;
/// Filter states under this (−600 dB) are set to zero at each block's
/// end, so silence never decays into subnormal numbers, which cost a
/// hundred times the arithmetic of normal ones.
const STATE_FLOOR: f64 = 1e-30;

/// BS.1770's loudness of a mean-square energy (K-weighted, channels
/// weighted and summed), LUFS.
pub(crate) fn loudness(energy: f64) -> f64 {
    if energy > 0.0 {
        10.0 * energy.log10() - 0.691
    } else {
        f64::NEG_INFINITY
    }
}

pub(crate) fn energy(loudness: f64) -> f64 {
    10f64.powf((loudness + 0.691) / 10.0)
}

/// The power ratio of a level difference in LU (or dB).
fn power_ratio(lu: f64) -> f64 {
    10f64.powf(lu / 10.0)
}

/// BS.1770-4's K-weighting (Annex 1: the shelving pre-filter, then the
/// RLB high-pass) as one fourth-order filter, with the coefficients
/// libebur128 derives for any rate from the analogue prototypes, so the
/// readings are those of ebur128 and ffmpeg.
#[derive(Clone, Copy)]
struct KWeighting {
    b: [f64; 5],
    /// The denominator without its leading 1.
    a: [f64; 4],
}

impl KWeighting {
    #[allow(non_snake_case)]
    fn new(rate: u32) -> Self {
        use std::f64::consts::PI;
        let rate = rate as f64;
        // The shelf: +4 dB above about 1.7 kHz.
        let (f0, G, Q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
        let K = (PI * f0 / rate).tan();
        let Vh = 10f64.powf(G / 20.0);
        let Vb = Vh.powf(0.4996667741545416);
        let a0 = 1.0 + K / Q + K * K;
        let pb = [
            (Vh + Vb * K / Q + K * K) / a0,
            2.0 * (K * K - Vh) / a0,
            (Vh - Vb * K / Q + K * K) / a0,
        ];
        let pa = [1.0, 2.0 * (K * K - 1.0) / a0, (1.0 - K / Q + K * K) / a0];
        // The high-pass at 38 Hz.
        let (f0, Q) = (38.13547087602444, 0.5003270373238773);
        let K = (PI * f0 / rate).tan();
        let rb = [1.0, -2.0, 1.0];
        let d = 1.0 + K / Q + K * K;
        let ra = [1.0, 2.0 * (K * K - 1.0) / d, (1.0 - K / Q + K * K) / d];
        // The two biquads multiplied out.
        let product = |p: [f64; 3], r: [f64; 3]| {
            [
                p[0] * r[0],
                p[0] * r[1] + p[1] * r[0],
                p[0] * r[2] + p[1] * r[1] + p[2] * r[0],
                p[1] * r[2] + p[2] * r[1],
                p[2] * r[2],
            ]
        };
        let a = product(pa, ra);
        KWeighting {
            b: product(pb, rb),
            a: [a[1], a[2], a[3], a[4]],
        }
    }

    /// Filters `N` channels together (direct form II, one state of four
    /// values per channel), writes each frame's energy, its channels'
    /// squares summed and times `weight`, to `energies`, and adds them to
    /// `sums.energy` in order (so a block's sum is the same however its
    /// frames were split between writes). For two channels it also adds
    /// the square of their sum to `sums.fold_down`: by linearity, the
    /// K-weighted fold-down (L + R)/2 is half of it.
    /// The channels' recursions are independent, so they run side by side,
    /// and the newest state's product is subtracted last: the chain from
    /// one frame to the next is one multiply and one subtraction long.
    fn run<const N: usize>(
        &self,
        states: &mut [[f64; 4]; N],
        inputs: [&[f32]; N],
        weight: f64,
        energies: &mut [f64],
        sums: &mut Sums,
    ) {
        let [b0, b1, b2, b3, b4] = self.b;
        let [a1, a2, a3, a4] = self.a;
        let frames = energies.len();
        let inputs = inputs.map(|c| &c[..frames]);
        let mut s = *states;
        let Sums {
            energy: mut total,
            fold_down: mut folded,
        } = *sums;
        for (i, out) in energies.iter_mut().enumerate() {
            let mut e = 0.0;
            let mut y_sum = 0.0;
            for c in 0..N {
                let [v1, v2, v3, v4] = s[c];
                let v0 = (inputs[c][i] as f64 - a2 * v2 - a3 * v3 - a4 * v4) - a1 * v1;
                let y = b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3 + b4 * v4;
                s[c] = [v0, v1, v2, v3];
                e += y * y;
                y_sum += y;
            }
            let e = e * weight;
            total += e;
            if N == 2 {
                folded += y_sum * y_sum;
            }
            *out = e;
        }
        *states = s;
        *sums = Sums {
            energy: total,
            fold_down: folded,
        };
    }
}

/// A block's running sums: its frames' energies, and for stereo the
/// squares of the K-weighted channels' sum.
#[derive(Clone, Copy, Default)]
struct Sums {
    energy: f64,
    fold_down: f64,
}

/// The channels a meter reads and how BS.1770 weighs them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Left and right at unit weight (BS.1770-4 Table 3, front channels).
    Stereo,
    /// One channel heard on both speakers: weighed twice.
    DualMono,
    /// A mono file: its one channel at unit weight (BS.1770-4 sums the
    /// channels a file has), 3 dB under the same signal as dual mono.
    Mono,
}

/// K-weights what is written to it and keeps the energy of each whole
/// 100 ms block.
pub struct BlockMeter {
    filter: KWeighting,
    layout: Layout,
    /// Per channel: the filter's state.
    states: [[f64; 4]; 2],
    /// The energy of each of the last 400 ms of frames, a ring ending at
    /// `next`: what a reading at any point (the end of a file) sums.
    recent: Vec<f64>,
    next: usize,
    rate: u32,
    /// Frames per block: 100 ms as libebur128 rounds it, so blocks fall
    /// where its gating blocks fall.
    step: usize,
    /// Frames written into the block being filled, and their sums.
    filled: usize,
    filled_sums: Sums,
    energies: Vec<f64>,
    /// A stereo meter's: the energy of each whole block of the mono
    /// fold-down (L + R)/2 heard on both speakers.
    fold_down: Vec<f64>,
    /// Per channel: the highest sample magnitude, when asked for.
    sample_peaks: Option<[f32; 2]>,
}

impl BlockMeter {
    /// Left and right at unit weight, as BS.1770 weighs front channels.
    pub fn stereo(rate: u32, sample_peak: bool) -> Result<Self, AudioError> {
        Self::new(rate, Layout::Stereo, sample_peak)
    }

    /// One channel heard on both speakers: BS.1770's dual mono, weighed
    /// twice (a fold-down's loudness for half a stereo meter's work).
    pub fn dual_mono(rate: u32) -> Result<Self, AudioError> {
        Self::new(rate, Layout::DualMono, false)
    }

    /// A mono file's one channel, weighed once (BS.1770-4 eq. 2).
    pub fn mono(rate: u32, sample_peak: bool) -> Result<Self, AudioError> {
        Self::new(rate, Layout::Mono, sample_peak)
    }

    fn new(rate: u32, layout: Layout, sample_peak: bool) -> Result<Self, AudioError> {
        if !(8..=2_822_400).contains(&rate) {
            return Err(AudioError::Meter(format!(
                "a loudness meter cannot read {rate} Hz"
            )));
        }
        Ok(BlockMeter {
            filter: KWeighting::new(rate),
            layout,
            states: [[0.0; 4]; 2],
            recent: vec![0.0; window_frames(rate, 400)],
            next: 0,
            rate,
            step: block_frames(rate),
            filled: 0,
            filled_sums: Sums::default(),
            energies: Vec::new(),
            fold_down: Vec::new(),
            sample_peaks: sample_peak.then_some([0.0; 2]),
        })
    }

    /// The rate it meters.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Frames in each block.
    pub fn step(&self) -> usize {
        self.step
    }

    /// The energy of each whole block written so far.
    pub fn energies(&self) -> &[f64] {
        &self.energies
    }

    /// A stereo meter's energy of each whole block of the mono fold-down
    /// (L + R)/2 heard on both speakers, as a dual-mono meter of the
    /// fold-down reads it (within rounding): the fold-down's K-weighting
    /// is the mean of the channels'.
    pub fn fold_down_energies(&self) -> &[f64] {
        &self.fold_down
    }

    /// Frames written into the block not yet whole.
    pub fn pending(&self) -> usize {
        self.filled
    }

    /// The energy of the last 100 ms written, a block not yet whole
    /// included (what a reading at the end of a file shows).
    pub fn last_100ms(&self) -> f64 {
        self.last(100)
    }

    /// The momentary energy of the last 400 ms written, a block not yet
    /// whole included.
    pub fn last_400ms(&self) -> f64 {
        self.last(400)
    }

    /// The mean energy of the last `ms` written, frames before the first
    /// reading as silence (as libebur128's window starts filled with it).
    fn last(&self, ms: u32) -> f64 {
        let frames = window_frames(self.rate, ms);
        // The ring ends at `next`: the newest frames lie before it.
        let (newest, oldest) = self.recent.split_at(self.next);
        let from_newest = frames.min(newest.len());
        let sum: f64 = newest[newest.len() - from_newest..].iter().sum::<f64>()
            + oldest[oldest.len() - (frames - from_newest)..]
                .iter()
                .sum::<f64>();
        sum / frames as f64
    }

    /// The highest sample magnitude of each channel (a meter made with
    /// `sample_peak`).
    pub fn sample_peak(&self) -> Result<f64, AudioError> {
        let peaks = self
            .sample_peaks
            .ok_or_else(|| AudioError::Meter("the meter was not asked for sample peaks".into()))?;
        Ok(peaks[0].max(peaks[1]) as f64)
    }

    /// Writes one slice per channel; returns how many blocks it closed.
    pub fn write(&mut self, channels: &[&[f32]]) -> Result<usize, AudioError> {
        let expected = match self.layout {
            Layout::Stereo => 2,
            Layout::DualMono | Layout::Mono => 1,
        };
        let frames = channels.first().map_or(0, |c| c.len());
        if channels.len() != expected || channels.iter().any(|c| c.len() != frames) {
            return Err(AudioError::Meter(format!(
                "a meter of {expected} channels was given {} of unequal or other length",
                channels.len()
            )));
        }
        if let Some(peaks) = &mut self.sample_peaks {
            for (peak, channel) in peaks.iter_mut().zip(channels) {
                *peak = channel.iter().fold(*peak, |m, x| m.max(x.abs()));
            }
        }
        let before = self.energies.len();
        let mut start = 0;
        while start < frames {
            // Up to the block's end and the ring's end, whichever is first.
            let take = (self.step - self.filled)
                .min(self.recent.len() - self.next)
                .min(frames - start);
            let end = start + take;
            let out = &mut self.recent[self.next..self.next + take];
            let sum = &mut self.filled_sums;
            match self.layout {
                Layout::Stereo => self.filter.run(
                    &mut self.states,
                    [&channels[0][start..end], &channels[1][start..end]],
                    1.0,
                    out,
                    sum,
                ),
                Layout::DualMono | Layout::Mono => {
                    let weight = if self.layout == Layout::Mono {
                        1.0
                    } else {
                        2.0
                    };
                    let mut one = [self.states[0]];
                    let mono = [&channels[0][start..end]];
                    self.filter.run(&mut one, mono, weight, out, sum);
                    self.states[0] = one[0];
                }
            }
            self.next = (self.next + take) % self.recent.len();
            self.filled += take;
            if self.filled == self.step {
                let Sums { energy, fold_down } = std::mem::take(&mut self.filled_sums);
                self.energies.push(energy / self.step as f64);
                if let Layout::Stereo = self.layout {
                    // Dual mono: twice the mean square of (yL + yR)/2.
                    self.fold_down.push(fold_down / (2.0 * self.step as f64));
                }
                self.filled = 0;
                for v in self.states.iter_mut().flatten() {
                    if v.abs() < STATE_FLOOR {
                        *v = 0.0;
                    }
                }
            }
            start = end;
        }
        Ok(self.energies.len() - before)
    }
}

/// Frames in a window of `ms` milliseconds, as libebur128 counts them.
fn window_frames(rate: u32, ms: u32) -> usize {
    rate as usize * ms as usize / 1000
}

/// Frames in a 100 ms block at `rate`, as ebur128 rounds them.
pub fn block_frames(rate: u32) -> usize {
    (rate as usize + 5) / 10
}

/// The mean of `count` blocks ending with block `last`, blocks before the
/// first reading as silence (as a meter's window starts filled with it).
fn window_mean(blocks: &[f64], last: usize, count: usize) -> f64 {
    let first = (last + 1).saturating_sub(count);
    blocks[first..=last].iter().sum::<f64>() / count as f64
}

/// The momentary energy (400 ms) read at the end of block `last`.
pub fn momentary(blocks: &[f64], last: usize) -> f64 {
    window_mean(blocks, last, MOMENTARY_BLOCKS)
}

/// The short-term energy (3 s) read at the end of block `last`.
pub fn short_term(blocks: &[f64], last: usize) -> f64 {
    window_mean(blocks, last, SHORT_TERM_BLOCKS)
}

/// The energy of each 400 ms gating block (75 % overlap): one per block
/// from the fourth on.
pub fn gating_energies(blocks: &[f64]) -> impl Iterator<Item = f64> + Clone + '_ {
    blocks
        .windows(MOMENTARY_BLOCKS)
        .map(|w| w.iter().sum::<f64>() / MOMENTARY_BLOCKS as f64)
}

/// Integrated loudness of gating-block energies, LUFS (BS.1770-4 §2.8:
/// blocks under −70 LUFS dropped, then those 10 LU under the mean of the
/// rest; −∞ when none is left).
pub fn integrated(gating: impl Iterator<Item = f64> + Clone) -> f64 {
    let mean = |min: f64| {
        let (count, sum) = gating
            .clone()
            .filter(|e| *e >= min)
            .fold((0u64, 0.0), |(n, s), e| (n + 1, s + e));
        (count > 0).then(|| sum / count as f64)
    };
    let absolute = energy(ABSOLUTE_GATE);
    let Some(over_absolute) = mean(absolute) else {
        return f64::NEG_INFINITY;
    };
    let relative = over_absolute * power_ratio(RELATIVE_GATE);
    mean(relative.max(absolute)).map_or(f64::NEG_INFINITY, loudness)
}

/// Loudness range, LU (EBU Tech 3342): the spread between the 10th and
/// 95th percentiles of the short-term loudness, gated at −70 LUFS and 20
/// LU under the mean, with libebur128's windows and percentile rounding.
pub fn loudness_range(blocks: &[f64]) -> f64 {
    let mut windows: Vec<f64> = (SHORT_TERM_BLOCKS - 1..blocks.len())
        .step_by(RANGE_HOP_BLOCKS)
        .map(|last| short_term(blocks, last))
        .filter(|e| *e >= energy(ABSOLUTE_GATE))
        .collect();
    if windows.is_empty() {
        return 0.0;
    }
    windows.sort_by(f64::total_cmp);
    let mean = windows.iter().sum::<f64>() / windows.len() as f64;
    let gate = mean * power_ratio(RANGE_RELATIVE_GATE);
    let gated = &windows[windows.partition_point(|e| *e < gate)..];
    let Some(last) = gated.len().checked_sub(1) else {
        return 0.0;
    };
    let at = |share: f64| gated[(last as f64 * share + 0.5) as usize];
    loudness(at(0.95)) - loudness(at(0.1))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    /// A signal whose loudness moves: tone bursts at levels 0 to −45 dB
    /// under −6 dBFS, with silences, so both gates drop some blocks.
    pub(crate) fn moving(rate: u32, seconds: f64) -> (Vec<f32>, Vec<f32>) {
        let n = (rate as f64 * seconds) as usize;
        let mut left = Vec::with_capacity(n);
        let mut right = Vec::with_capacity(n);
        for i in 0..n {
            let t = i as f64 / rate as f64;
            let section = (t / 1.3) as usize;
            let level = match section % 5 {
                0 => 0.5,
                1 => 0.05,
                2 => 0.0,
                3 => 0.003,
                _ => 0.25,
            };
            let x =
                level * (std::f64::consts::TAU * (220.0 + 110.0 * (section % 3) as f64) * t).sin();
            left.push(x as f32);
            right.push((0.7 * x) as f32);
        }
        (left, right)
    }

    /// Every figure from the blocks reads as ebur128 reads it, at a rate
    /// whose 100 ms is not a whole number of frames too (where each block
    /// leaves out one frame), whatever the sizes of the slices written.
    #[test]
    fn the_blocks_read_as_ebur128() {
        for (rate, chunk, tolerance) in [
            (48000, 4096, 1e-6),
            (44100, 1000, 1e-6),
            (22050, 333, 1e-6),
            (11025, 4096, 0.005),
        ] {
            let (left, right) = moving(rate, 20.0);
            let mut reference =
                EbuR128::new(2, rate, Mode::I | Mode::LRA | Mode::M).expect("a valid rate");
            reference.add_frames_planar_f32(&[&left, &right]).unwrap();
            let mut meter = BlockMeter::stereo(rate, false).unwrap();
            for (l, r) in left.chunks(chunk).zip(right.chunks(chunk)) {
                meter.write(&[l, r]).unwrap();
            }
            let blocks = meter.energies();
            assert_eq!(blocks.len(), left.len() / meter.step());
            let ours = integrated(gating_energies(blocks));
            let theirs = reference.loudness_global().unwrap();
            assert!(
                (ours - theirs).abs() < tolerance,
                "{rate} Hz: {ours} against {theirs}"
            );
            let ours = loudness_range(blocks);
            let theirs = reference.loudness_range().unwrap();
            assert!(theirs > 5.0, "the signal has a range: {theirs}");
            assert!(
                (ours - theirs).abs() < tolerance,
                "{rate} Hz: LRA {ours} against {theirs}"
            );
        }
    }

    /// Momentary and short-term readings are the means of the last 4 and
    /// 30 blocks: a meter read at the same point agrees.
    #[test]
    fn readings_are_means_of_the_last_blocks() {
        let rate = 48000;
        let (left, right) = moving(rate, 6.0);
        let mut reference = EbuR128::new(2, rate, Mode::S).unwrap();
        let mut meter = BlockMeter::stereo(rate, false).unwrap();
        let step = meter.step();
        for (i, (l, r)) in left.chunks(step).zip(right.chunks(step)).enumerate() {
            reference.add_frames_planar_f32(&[l, r]).unwrap();
            meter.write(&[l, r]).unwrap();
            let blocks = meter.energies();
            for (ours, theirs) in [
                (
                    momentary(blocks, i),
                    reference.loudness_momentary().unwrap(),
                ),
                (
                    short_term(blocks, i),
                    reference.loudness_shortterm().unwrap(),
                ),
            ] {
                let ours = loudness(ours);
                // A decaying tail under the absolute gate differs by the
                // filters' rounding, and ours ends at −600 dB: both are
                // gated away all the same.
                let agree = if theirs < ABSOLUTE_GATE {
                    ours < ABSOLUTE_GATE
                } else {
                    ours == theirs || (ours - theirs).abs() < 1e-9
                };
                assert!(agree, "block {i}: {ours} against {theirs}");
            }
        }
    }

    /// Dual mono weighs its one channel twice: a mono meter of a signal
    /// reads as a stereo meter of it on both channels.
    #[test]
    fn dual_mono_reads_as_both_channels() {
        let (left, _) = moving(48000, 5.0);
        let mut mono = BlockMeter::dual_mono(48000).unwrap();
        mono.write(&[&left]).unwrap();
        let mut stereo = BlockMeter::stereo(48000, false).unwrap();
        stereo.write(&[&left, &left]).unwrap();
        for (a, b) in mono.energies().iter().zip(stereo.energies()) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} against {b}");
        }
    }

    /// A stereo meter's fold-down blocks read as a dual-mono meter of the
    /// fold-down itself: on channels that differ, on one channel alone
    /// (the fold-down 6 dB down, heard twice: 3 dB under), and on L = −R
    /// (nothing left).
    #[test]
    fn the_fold_down_is_read_from_the_channels() {
        let (left, right) = moving(44100, 4.0);
        let silent = vec![0.0f32; left.len()];
        let inverted: Vec<f32> = left.iter().map(|x| -x).collect();
        for (l, r) in [(&left, &right), (&left, &silent), (&left, &inverted)] {
            let mut stereo = BlockMeter::stereo(44100, false).unwrap();
            stereo.write(&[l, r]).unwrap();
            let folded: Vec<f32> = l.iter().zip(r.iter()).map(|(a, b)| (a + b) / 2.0).collect();
            let mut mono = BlockMeter::dual_mono(44100).unwrap();
            mono.write(&[&folded]).unwrap();
            assert_eq!(stereo.fold_down_energies().len(), mono.energies().len());
            assert!(!mono.energies().is_empty());
            for (a, b) in stereo.fold_down_energies().iter().zip(mono.energies()) {
                // The dual-mono meter reads the fold-down rounded to f32.
                assert!((a - b).abs() <= 1e-6 * b.abs(), "{a} against {b}");
            }
        }
        let mut one = BlockMeter::stereo(44100, false).unwrap();
        one.write(&[&left, &silent]).unwrap();
        let block = one.energies().len() / 2;
        let drop = loudness(one.energies()[block]) - loudness(one.fold_down_energies()[block]);
        assert!((drop - 3.0103).abs() < 1e-6, "{drop}");
    }
}
