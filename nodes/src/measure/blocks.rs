//! BS.1770 loudness from the K-weighted energy of each 100 ms block.
//!
//! Every figure of ITU-R BS.1770-4 and EBU Tech 3341/3342 is a mean of
//! whole 100 ms blocks: a gating block (400 ms, stepped by 100 ms) is the
//! mean of four, a momentary reading of the last four, a short-term
//! reading of the last thirty. So the K-weighted signal is summed once,
//! into one energy per block, and every figure follows from those. ebur128
//! filters (its K-weighting is the one used), but left to itself it sums
//! each 400 ms gating block again at every step and each 3 s window again
//! at every reading: up to eleven sums of every sample where one does.

use ebur128::{Channel, EbuR128, Mode};

use crate::AudioError;

fn meter_error(e: ebur128::Error) -> AudioError {
    AudioError::Meter(e.to_string())
}

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

/// Feeds a K-weighting filter and keeps the energy of each whole 100 ms
/// block written to it.
pub struct BlockMeter {
    /// Filters and holds the last 400 ms of the K-weighted signal.
    meter: EbuR128,
    /// Frames per block: 100 ms as ebur128 rounds it (`samples_in_100ms`),
    /// so blocks fall where its gating blocks fall. At a rate whose 100 ms
    /// is not a whole number of frames (11.025 kHz), `loudness_window`
    /// sums one frame less than that: the block's energy is the mean of
    /// all its frames but its first.
    step: usize,
    /// Frames written into the block being filled.
    filled: usize,
    energies: Vec<f64>,
}

impl BlockMeter {
    /// Left and right at unit weight, as BS.1770 weighs front channels.
    pub fn stereo(rate: u32, sample_peak: bool) -> Result<Self, AudioError> {
        let mode = if sample_peak {
            Mode::M | Mode::SAMPLE_PEAK
        } else {
            Mode::M
        };
        Self::new(EbuR128::new(2, rate, mode).map_err(meter_error)?, rate)
    }

    /// One channel heard on both speakers: BS.1770's dual mono, weighed
    /// twice (a fold-down's loudness for half a stereo meter's work).
    pub fn dual_mono(rate: u32) -> Result<Self, AudioError> {
        let mut meter = EbuR128::new(1, rate, Mode::M).map_err(meter_error)?;
        meter
            .set_channel(0, Channel::DualMono)
            .map_err(meter_error)?;
        Self::new(meter, rate)
    }

    fn new(meter: EbuR128, rate: u32) -> Result<Self, AudioError> {
        Ok(BlockMeter {
            meter,
            step: block_frames(rate),
            filled: 0,
            energies: Vec::new(),
        })
    }

    /// Frames in each block.
    pub fn step(&self) -> usize {
        self.step
    }

    /// The energy of each whole block written so far.
    pub fn energies(&self) -> &[f64] {
        &self.energies
    }

    /// Frames written into the block not yet whole.
    pub fn pending(&self) -> usize {
        self.filled
    }

    /// The energy of the last 100 ms written, a block not yet whole
    /// included (what a reading at the end of a file shows).
    pub fn last_100ms(&self) -> Result<f64, AudioError> {
        self.last(100)
    }

    /// The momentary energy of the last 400 ms written, a block not yet
    /// whole included.
    pub fn last_400ms(&self) -> Result<f64, AudioError> {
        self.last(400)
    }

    fn last(&self, ms: u32) -> Result<f64, AudioError> {
        Ok(energy(self.meter.loudness_window(ms).map_err(meter_error)?))
    }

    /// The highest sample magnitude of each channel (a meter made with
    /// `sample_peak`).
    pub fn sample_peak(&self) -> Result<f64, AudioError> {
        let mut peak = 0.0f64;
        for channel in 0..self.meter.channels() {
            peak = peak.max(self.meter.sample_peak(channel).map_err(meter_error)?);
        }
        Ok(peak)
    }

    /// Writes one slice per channel; returns how many blocks it closed.
    pub fn write(&mut self, channels: &[&[f32]]) -> Result<usize, AudioError> {
        let frames = channels.first().map_or(0, |c| c.len());
        let before = self.energies.len();
        let mut start = 0;
        while start < frames {
            let take = (self.step - self.filled).min(frames - start);
            let end = start + take;
            let mut parts = [&[][..]; 2];
            for (part, channel) in parts.iter_mut().zip(channels) {
                *part = &channel[start..end];
            }
            self.meter
                .add_frames_planar_f32(&parts[..channels.len()])
                .map_err(meter_error)?;
            self.filled += take;
            if self.filled == self.step {
                self.filled = 0;
                let block = self.last_100ms()?;
                self.energies.push(block);
            }
            start = end;
        }
        Ok(self.energies.len() - before)
    }
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
                assert!(
                    ours == theirs || (ours - theirs).abs() < 1e-9,
                    "block {i}: {ours} against {theirs}"
                );
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
}
