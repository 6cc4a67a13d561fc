//! Loudness and peak measurement (ITU-R BS.1770-4, EBU R128): loudness
//! from the K-weighted energy of 100 ms blocks (see `blocks`), true peak
//! through the strict meter, which reads every
//! point BS.1770-4's oversampler reads and more (see `true_peak`).

use crate::measure::blocks::{self, BlockMeter};
use crate::{AudioError, BlockSink, LoudnessBlocks, TruePeakMeter};

/// What a meter read over a whole signal.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoudnessReport {
    /// Integrated loudness, LUFS (−∞ for silence).
    pub integrated: f64,
    /// Loudness range, LU.
    pub range: f64,
    /// Maximum true peak over both channels, dBTP, by the strict meter.
    pub true_peak: f64,
    /// The strict meter's true peak of each channel, dBTP.
    pub true_peak_channels: [f64; 2],
    /// Maximum sample peak over both channels, dBFS.
    pub sample_peak: f64,
    /// Highest momentary (400 ms) loudness, LUFS.
    pub max_momentary: f64,
    /// Highest short-term (3 s) loudness, LUFS.
    pub max_short_term: f64,
}

impl LoudnessReport {
    /// A report of nothing measured: every figure NaN.
    pub fn unmeasured() -> Self {
        LoudnessReport {
            integrated: f64::NAN,
            range: f64::NAN,
            true_peak: f64::NAN,
            true_peak_channels: [f64::NAN; 2],
            sample_peak: f64::NAN,
            max_momentary: f64::NAN,
            max_short_term: f64::NAN,
        }
    }
}

/// A sink that measures what flows into it.
pub struct LoudnessMeter {
    blocks: BlockMeter,
    strict: Option<TruePeakMeter>,
    /// Reports the range and sample peak.
    full: bool,
    /// Reports the momentary and short-term maxima.
    windows: bool,
    /// Keeps its 100 ms blocks (a delivered file's, for its album's
    /// ReplayGain and its report).
    keeps_blocks: bool,
    /// Meters only the left channel at unit weight: a mono file's.
    mono: bool,
}

impl LoudnessMeter {
    /// Measures everything in [`LoudnessReport`] of a file of `channels`
    /// channels: a mono file's one channel counts once, as BS.1770-4 sums
    /// a file's channels (so it reads 3 dB under the same signal on both
    /// speakers of a stereo file), and it comes as the same samples left
    /// and right.
    pub fn full_of(sample_rate: u32, channels: u16) -> Result<Self, AudioError> {
        Self::full(sample_rate)?.of_channels(channels)
    }

    /// This meter, reading a file of `channels`: a mono file's one
    /// channel (given as the same samples left and right) counts once.
    pub fn of_channels(mut self, channels: u16) -> Result<Self, AudioError> {
        if channels == 1 {
            self.blocks = BlockMeter::mono(self.blocks.rate(), self.full)?;
            self.mono = true;
        }
        Ok(self)
    }

    /// Measures everything in [`LoudnessReport`].
    pub fn full(sample_rate: u32) -> Result<Self, AudioError> {
        let mut meter = Self::program(sample_rate)?;
        meter.windows = true;
        Ok(meter)
    }

    /// Measures what a delivered file's manifest records: everything but
    /// the momentary and short-term maxima (which read NaN), and keeps its
    /// 100 ms blocks.
    pub fn program(sample_rate: u32) -> Result<Self, AudioError> {
        let mut meter = Self::new(sample_rate, true, true)?;
        meter.keeps_blocks = true;
        Ok(meter)
    }

    /// Measures integrated loudness and keeps the 100 ms blocks.
    pub fn blocks_only(sample_rate: u32) -> Result<Self, AudioError> {
        let mut meter = Self::integrated_only(sample_rate)?;
        meter.keeps_blocks = true;
        Ok(meter)
    }

    /// The 100 ms blocks, for a meter that keeps them.
    pub fn loudness_blocks(&self) -> Option<LoudnessBlocks> {
        if !self.keeps_blocks {
            return None;
        }
        let tail = match self.blocks.pending() {
            0 => None,
            _ => Some([self.blocks.last_100ms(), self.blocks.last_400ms()]),
        };
        Some(LoudnessBlocks::new(
            self.blocks.energies(),
            self.blocks.fold_down_energies(),
            tail,
        ))
    }

    /// Measures integrated loudness and true peak only (others read NaN).
    pub fn true_peak_and_integrated(sample_rate: u32) -> Result<Self, AudioError> {
        Self::new(sample_rate, true, false)
    }

    /// Measures integrated loudness only (the other fields read as NaN).
    pub fn integrated_only(sample_rate: u32) -> Result<Self, AudioError> {
        Self::new(sample_rate, false, false)
    }

    fn new(sample_rate: u32, true_peak: bool, full: bool) -> Result<Self, AudioError> {
        Ok(LoudnessMeter {
            blocks: BlockMeter::stereo(sample_rate, full)?,
            strict: true_peak.then(|| TruePeakMeter::new(sample_rate)),
            full,
            windows: false,
            keeps_blocks: false,
            mono: false,
        })
    }

    /// The highest reading of `window` at the end of each block, LUFS.
    fn max_reading(&self, window: fn(&[f64], usize) -> f64) -> f64 {
        let energies = self.blocks.energies();
        let highest = (0..energies.len())
            .map(|last| window(energies, last))
            .fold(0.0, f64::max);
        if energies.is_empty() {
            f64::NEG_INFINITY
        } else {
            blocks::loudness(highest)
        }
    }

    pub fn report(&self) -> Result<LoudnessReport, AudioError> {
        let energies = self.blocks.energies();
        let integrated = blocks::integrated(blocks::gating_energies(energies));
        let true_peak = self
            .strict
            .as_ref()
            .map_or(f64::NAN, TruePeakMeter::true_peak_db);
        let true_peak_channels = self
            .strict
            .as_ref()
            .map_or([f64::NAN; 2], TruePeakMeter::true_peak_channels_db);
        if !self.full {
            return Ok(LoudnessReport {
                integrated,
                true_peak,
                true_peak_channels,
                ..LoudnessReport::unmeasured()
            });
        }
        let (max_momentary, max_short_term) = if self.windows {
            (
                self.max_reading(blocks::momentary),
                self.max_reading(blocks::short_term),
            )
        } else {
            (f64::NAN, f64::NAN)
        };
        Ok(LoudnessReport {
            integrated,
            range: blocks::loudness_range(energies),
            true_peak,
            true_peak_channels,
            sample_peak: crate::gain_to_db(self.blocks.sample_peak()?),
            max_momentary,
            max_short_term,
        })
    }
}

impl BlockSink for LoudnessMeter {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        if let Some(strict) = &mut self.strict {
            strict.write(left, right)?;
        }
        match self.mono {
            true => self.blocks.write(&[left])?,
            false => self.blocks.write(&[left, right])?,
        };
        Ok(())
    }
}

/// The true peak a BS.1770-4 meter (libebur128, 4× at 48 kHz) reads,
/// dBTP: the reading the limiter's own guarantee is stated against.
#[cfg(test)]
pub(crate) fn bs1770_true_peak_db(left: &[f32], right: &[f32], rate: u32) -> f64 {
    use ebur128::{EbuR128, Mode};
    let mut meter = EbuR128::new(2, rate, Mode::TRUE_PEAK).expect("a valid rate");
    meter
        .add_frames_planar_f32(&[left, right])
        .expect("two channels");
    let l = meter.true_peak(0).expect("measured");
    let r = meter.true_peak(1).expect("measured");
    crate::gain_to_db(l.max(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::blocks::tests::moving;

    /// The blocks a program meter keeps integrate to the loudness it
    /// reads, at rates whose 100 ms is not a whole number of frames too,
    /// whatever the sizes of the slices written; a meter that keeps only
    /// the blocks keeps the same ones.
    #[test]
    fn kept_blocks_integrate_to_the_meters_loudness() {
        for (rate, chunk) in [(48000, 4096), (44100, 1000), (22050, 333), (11025, 4096)] {
            let (left, right) = moving(rate, 20.05);
            let mut meter = LoudnessMeter::program(rate).unwrap();
            for (l, r) in left.chunks(chunk).zip(right.chunks(chunk)) {
                meter.write(l, r).unwrap();
            }
            let integrated = meter.report().unwrap().integrated;
            let blocks = meter.loudness_blocks().unwrap();
            // 10 blocks a second, and the 50 ms past the last whole one.
            assert_eq!(blocks.len(), 200, "{rate} Hz");
            assert!(blocks.tail().is_some());
            let gated = LoudnessBlocks::integrated([&blocks]);
            let mut lean = LoudnessMeter::blocks_only(rate).unwrap();
            lean.write(&left, &right).unwrap();
            assert_eq!(lean.loudness_blocks(), Some(blocks), "{rate} Hz");
            assert!(
                (gated - integrated).abs() < 0.0001,
                "{rate} Hz: {gated} from the blocks, {integrated} from the meter"
            );
        }
    }
}
