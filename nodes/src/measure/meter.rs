//! Loudness and peak measurement (ITU-R BS.1770-4, EBU R128): loudness
//! through ebur128, true peak through the strict meter, which reads every
//! point BS.1770-4's oversampler reads and more (see `true_peak`).

use ebur128::{EbuR128, Mode};

use crate::{AudioError, BlockSink, GatingBlocks, TruePeakMeter};

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
    meter: EbuR128,
    strict: Option<TruePeakMeter>,
    /// Reports the range and sample peak.
    full: bool,
    /// Reads momentary and short-term every 100 ms for their maxima:
    /// ebur128 sums each 3 s window again at every reading, which costs
    /// more than the rest of the meter, so only a file whose `bext` chunk
    /// carries them (and `analyze`) asks.
    windows: bool,
    /// Keeps each gating block's loudness (a delivered file's, for its
    /// album's ReplayGain).
    blocks: Option<GatingBlocks>,
    /// Frames per 100 ms as ebur128 counts them: the step at which
    /// momentary and short-term are read, and at which it closes a
    /// gating block.
    step: usize,
    /// Frames since the last momentary/short-term reading.
    since_reading: usize,
    /// Frames measured so far.
    frames: u64,
    max_momentary: f64,
    max_short_term: f64,
}

pub(crate) fn meter_error(e: ebur128::Error) -> AudioError {
    AudioError::Meter(e.to_string())
}

impl LoudnessMeter {
    /// Measures everything in [`LoudnessReport`].
    pub fn full(sample_rate: u32) -> Result<Self, AudioError> {
        let mut meter = Self::program(sample_rate)?;
        meter.windows = true;
        Ok(meter)
    }

    /// Measures what a delivered file's manifest records: everything but
    /// the momentary and short-term maxima (which read NaN), and keeps its
    /// gating blocks.
    pub fn program(sample_rate: u32) -> Result<Self, AudioError> {
        let mut meter = Self::new(
            sample_rate,
            Mode::I | Mode::LRA | Mode::M | Mode::S | Mode::SAMPLE_PEAK,
            true,
            true,
        )?;
        meter.blocks = Some(GatingBlocks::default());
        Ok(meter)
    }

    /// Measures integrated loudness and keeps the gating blocks.
    pub fn gating_only(sample_rate: u32) -> Result<Self, AudioError> {
        let mut meter = Self::integrated_only(sample_rate)?;
        meter.blocks = Some(GatingBlocks::default());
        Ok(meter)
    }

    /// The gating blocks kept, for a meter that keeps them.
    pub fn gating_blocks(&self) -> Option<&GatingBlocks> {
        self.blocks.as_ref()
    }

    /// Takes the gating blocks kept, leaving none.
    pub fn take_gating_blocks(&mut self) -> Option<GatingBlocks> {
        self.blocks.take()
    }

    /// Measures integrated loudness and true peak only (others read NaN).
    pub fn true_peak_and_integrated(sample_rate: u32) -> Result<Self, AudioError> {
        Self::new(sample_rate, Mode::I, true, false)
    }

    /// Measures integrated loudness only (the other fields read as NaN).
    pub fn integrated_only(sample_rate: u32) -> Result<Self, AudioError> {
        Self::new(sample_rate, Mode::I, false, false)
    }

    fn new(sample_rate: u32, mode: Mode, true_peak: bool, full: bool) -> Result<Self, AudioError> {
        Ok(LoudnessMeter {
            meter: EbuR128::new(2, sample_rate, mode).map_err(meter_error)?,
            strict: true_peak.then(|| TruePeakMeter::new(sample_rate)),
            full,
            windows: false,
            blocks: None,
            // ebur128's own rounding of 100 ms (`samples_in_100ms`).
            step: (sample_rate as usize + 5) / 10,
            since_reading: 0,
            frames: 0,
            max_momentary: f64::NEG_INFINITY,
            max_short_term: f64::NEG_INFINITY,
        })
    }

    fn read_windows(&mut self) -> Result<(), AudioError> {
        let momentary = self.meter.loudness_momentary().map_err(meter_error)?;
        let short_term = self.meter.loudness_shortterm().map_err(meter_error)?;
        self.max_momentary = self.max_momentary.max(momentary);
        self.max_short_term = self.max_short_term.max(short_term);
        Ok(())
    }

    pub fn report(&self) -> Result<LoudnessReport, AudioError> {
        let integrated = self.meter.loudness_global().map_err(meter_error)?;
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
        let peak =
            |f: fn(&EbuR128, u32) -> Result<f64, ebur128::Error>| -> Result<f64, AudioError> {
                let l = f(&self.meter, 0).map_err(meter_error)?;
                let r = f(&self.meter, 1).map_err(meter_error)?;
                Ok(crate::gain_to_db(l.max(r)))
            };
        Ok(LoudnessReport {
            integrated,
            range: self.meter.loudness_range().map_err(meter_error)?,
            true_peak,
            true_peak_channels,
            sample_peak: peak(EbuR128::sample_peak)?,
            max_momentary: if self.windows {
                self.max_momentary
            } else {
                f64::NAN
            },
            max_short_term: if self.windows {
                self.max_short_term
            } else {
                f64::NAN
            },
        })
    }
}

impl BlockSink for LoudnessMeter {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        if let Some(strict) = &mut self.strict {
            strict.write(left, right)?;
        }
        if !self.windows && self.blocks.is_none() {
            return self
                .meter
                .add_frames_planar_f32(&[left, right])
                .map_err(meter_error);
        }
        // Feed in 100 ms steps: momentary and short-term maxima are read
        // on the same grid whatever the block size, and at each step past
        // the first 400 ms ebur128 has just closed a gating block, whose
        // energy the momentary loudness is (the same 400 ms summed).
        let mut start = 0;
        while start < left.len() {
            let take = (self.step - self.since_reading).min(left.len() - start);
            let end = start + take;
            self.meter
                .add_frames_planar_f32(&[&left[start..end], &right[start..end]])
                .map_err(meter_error)?;
            self.since_reading += take;
            self.frames += take as u64;
            if self.since_reading == self.step {
                self.since_reading = 0;
                if self.windows {
                    self.read_windows()?;
                }
                if let Some(blocks) = &mut self.blocks {
                    if self.frames >= 4 * self.step as u64 {
                        blocks.push(self.meter.loudness_momentary().map_err(meter_error)?);
                    }
                }
            }
            start = end;
        }
        Ok(())
    }
}

/// The true peak a BS.1770-4 meter (libebur128, 4× at 48 kHz) reads,
/// dBTP: the reading the limiter's own guarantee is stated against.
#[cfg(test)]
pub(crate) fn bs1770_true_peak_db(left: &[f32], right: &[f32], rate: u32) -> f64 {
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

    /// A signal whose loudness moves: tone bursts at levels 0 to −45 dB
    /// under −6 dBFS, with silences, so both gates drop some blocks.
    fn moving(rate: u32, seconds: f64) -> (Vec<f32>, Vec<f32>) {
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

    /// The blocks a program meter keeps gate to the loudness ebur128
    /// integrates, at rates whose 100 ms is not a whole number of frames
    /// too, whatever the sizes of the blocks written.
    #[test]
    fn kept_gating_blocks_integrate_to_the_meters_loudness() {
        for (rate, chunk) in [(48000, 4096), (44100, 1000), (22050, 333), (11025, 4096)] {
            let (left, right) = moving(rate, 20.0);
            let mut meter = LoudnessMeter::program(rate).unwrap();
            for (l, r) in left.chunks(chunk).zip(right.chunks(chunk)) {
                meter.write(l, r).unwrap();
            }
            let integrated = meter.report().unwrap().integrated;
            let blocks = meter.gating_blocks().unwrap();
            // 10 blocks a second after the first 400 ms, less those under
            // the absolute gate (the silent sections).
            assert!(blocks.len() > 100 && blocks.len() < 200, "{}", blocks.len());
            let gated = GatingBlocks::integrated([blocks]);
            let mut lean = LoudnessMeter::gating_only(rate).unwrap();
            lean.write(&left, &right).unwrap();
            assert_eq!(lean.gating_blocks(), Some(blocks), "{rate} Hz");
            assert!(
                (gated - integrated).abs() < 0.001,
                "{rate} Hz: {gated} from the blocks, {integrated} from ebur128"
            );
        }
    }
}
