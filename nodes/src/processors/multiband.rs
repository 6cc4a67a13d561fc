//! Multiband compression on Linkwitz–Riley 4th-order crossovers.
//!
//! The split is a tree: the input divides at the lowest crossover, the upper
//! part divides again at the next, and so on. An LR4 lowpass and highpass at
//! one corner sum to a 2nd-order allpass with Q = 1/√2 (1 + s⁴ factors as
//! (s² + √2 s + 1)(s² − √2 s + 1)), and the bilinear transform keeps that
//! identity, so each band below a crossover passes through that allpass to
//! stay in phase with the bands above. With every band neutral the sum is
//! one allpass: flat in magnitude.

use serde::{Deserialize, Serialize};

use super::biquad::{Biquad, Coefficients, Shape};
use super::compressor::{Compressor, CompressorParams};
use super::Processor;

use super::kind::Kind;

/// `multiband CROSSOVERS… { band… }`: Linkwitz-Riley bands, compressed.
pub const KIND: Kind = Kind {
    name: "multiband",
    summary: "splits at its crossover frequencies (rising, under 0.9 of Nyquist) into Linkwitz-Riley 4th-order bands that sum flat, one more band than crossovers, each compressed: a `band` takes `compress`'s properties and `gain=` (dB, -60 to 24)",
    params: &[],
    other_props: &[],
    // 2: the bands' compressors take levels and gains in vectors.
    version: 2,
    build: None,
    in_chain: true,
    example: "multiband 200 2500 {\n    band threshold=-20 ratio=2 attack=30 release=200\n    band threshold=-18 ratio=1.5\n    band threshold=-16 ratio=2 gain=-0.5\n}",
};

const BUTTERWORTH_Q: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// One band's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BandParams {
    pub compressor: CompressorParams,
    /// dB after the band's compressor.
    pub gain: f64,
}

impl BandParams {
    pub fn is_identity(&self) -> bool {
        self.compressor.is_identity() && self.gain == 0.0
    }
}

/// A chain of second-order sections with state for both channels, run on
/// a frame at a time: the two channels' sums side by side, which the
/// compiler keeps in the lanes of one vector.
struct Sections {
    coefficients: Vec<Coefficients>,
    state: Vec<[Biquad; 2]>,
}

impl Sections {
    fn new(coefficients: Vec<Coefficients>) -> Self {
        let n = coefficients.len();
        Sections {
            coefficients,
            state: vec![[Biquad::default(); 2]; n],
        }
    }
    fn lr4(shape: Shape, freq: f64, rate: f64) -> Self {
        let c = Coefficients::new(shape, freq, rate);
        Sections::new(vec![c, c])
    }
    #[inline]
    fn run(&mut self, x: [f64; 2]) -> [f64; 2] {
        let mut y = x;
        for (c, [left, right]) in self.coefficients.iter().zip(self.state.iter_mut()) {
            y = [left.tick(c, y[0]), right.tick(c, y[1])];
        }
        y
    }
}

/// The running multiband processor.
pub struct Multiband {
    lowpasses: Vec<Sections>,
    highpasses: Vec<Sections>,
    /// For band i: the allpasses of every crossover above its own.
    compensation: Vec<Sections>,
    compressors: Vec<Option<Compressor>>,
    gains: Vec<f64>,
    bands: [Vec<f32>; 2],
}

impl Multiband {
    /// `crossovers` in Hz, ascending; `bands` has one more entry.
    pub fn new(crossovers: &[f64], bands: &[BandParams], rate: u32) -> Self {
        let r = rate as f64;
        let lowpasses = crossovers
            .iter()
            .map(|f| Sections::lr4(Shape::Lowpass { q: BUTTERWORTH_Q }, *f, r))
            .collect();
        let highpasses = crossovers
            .iter()
            .map(|f| Sections::lr4(Shape::Highpass { q: BUTTERWORTH_Q }, *f, r))
            .collect();
        let compensation = (0..bands.len())
            .map(|band| {
                let above = crossovers.iter().skip(band + 1);
                Sections::new(
                    above
                        .map(|f| Coefficients::new(Shape::Allpass { q: BUTTERWORTH_Q }, *f, r))
                        .collect(),
                )
            })
            .collect();
        Multiband {
            lowpasses,
            highpasses,
            compensation,
            compressors: bands
                .iter()
                .map(|b| (!b.compressor.is_identity()).then(|| Compressor::new(b.compressor, rate)))
                .collect(),
            gains: bands.iter().map(|b| crate::db_to_gain(b.gain)).collect(),
            bands: [Vec::new(), Vec::new()],
        }
    }

    /// Splits frame `index` of a block of `len` frames into the band
    /// buffers.
    #[inline]
    fn split(&mut self, x: [f64; 2], index: usize, len: usize) {
        let count = self.gains.len();
        let mut rest = x;
        for band in 0..count {
            let part = if band + 1 < count {
                let low = self.lowpasses[band].run(rest);
                rest = self.highpasses[band].run(rest);
                low
            } else {
                rest
            };
            let aligned = self.compensation[band].run(part);
            self.bands[0][band * len + index] = aligned[0] as f32;
            self.bands[1][band * len + index] = aligned[1] as f32;
        }
    }
}

impl Processor for Multiband {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let n = left.len();
        let count = self.gains.len();
        for channel in &mut self.bands {
            channel.clear();
            channel.resize(n * count, 0.0);
        }
        for i in 0..n {
            self.split([left[i] as f64, right[i] as f64], i, n);
        }
        left.fill(0.0);
        right.fill(0.0);
        let [band_left, band_right] = &mut self.bands;
        for band in 0..count {
            let range = band * n..(band + 1) * n;
            let (bl, br) = (&mut band_left[range.clone()], &mut band_right[range]);
            if let Some(compressor) = &mut self.compressors[band] {
                compressor.process(bl, br);
            }
            let gain = self.gains[band] as f32;
            for i in 0..n {
                left[i] += bl[i] * gain;
                right[i] += br[i] * gain;
            }
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(_: &[f64], _: &[BandParams]) -> bool {
    // Neutral bands still pass an allpass: not an identity.
    false
}

pub(super) fn describe(_: &[f64], bands: &[BandParams]) -> String {
    format!("multiband ({})", super::bands(bands.len()))
}

pub(super) fn build(crossovers: &[f64], bands: &[BandParams], context: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Multiband::new(crossovers, bands, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_db(impulse: &[f32], f: f64, rate: f64) -> f64 {
        let w = std::f64::consts::TAU * f / rate;
        let (mut re, mut im) = (0.0, 0.0);
        for (n, h) in impulse.iter().enumerate() {
            re += *h as f64 * (w * n as f64).cos();
            im -= *h as f64 * (w * n as f64).sin();
        }
        20.0 * re.hypot(im).log10()
    }

    fn impulse_response(crossovers: &[f64], bands: &[BandParams]) -> Vec<f32> {
        let mut multiband = Multiband::new(crossovers, bands, 48000);
        let mut left = vec![0.0f32; 1 << 16];
        left[0] = 1.0;
        let mut right = left.clone();
        for (l, r) in left.chunks_mut(4096).zip(right.chunks_mut(4096)) {
            multiband.process(l, r);
        }
        left
    }

    fn neutral() -> BandParams {
        BandParams {
            compressor: CompressorParams::default(),
            gain: 0.0,
        }
    }

    #[test]
    fn neutral_bands_sum_flat_within_a_hundredth_of_a_db() {
        for crossovers in [
            vec![1000.0],
            vec![120.0, 2000.0, 8000.0],
            vec![80.0, 250.0, 1000.0, 4000.0, 12000.0],
        ] {
            let bands = vec![neutral(); crossovers.len() + 1];
            let ir = impulse_response(&crossovers, &bands);
            let mut f = 20.0;
            while f < 20000.0 {
                let db = response_db(&ir, f, 48000.0);
                assert!(db.abs() < 0.01, "{crossovers:?}: {db:.4} dB at {f:.0} Hz");
                f *= 2f64.powf(1.0 / 24.0);
            }
        }
    }

    #[test]
    fn each_band_holds_its_range() {
        // Only band 1 (120 Hz – 2 kHz) at +0 dB, the rest muted.
        let mut bands = vec![neutral(); 4];
        for (i, band) in bands.iter_mut().enumerate() {
            band.gain = if i == 1 { 0.0 } else { -200.0 };
        }
        let ir = impulse_response(&[120.0, 2000.0, 8000.0], &bands);
        assert!(response_db(&ir, 490.0, 48000.0).abs() < 0.5);
        assert!(response_db(&ir, 20.0, 48000.0) < -30.0);
        assert!(response_db(&ir, 12000.0, 48000.0) < -30.0);
        // LR4 bands cross at -6 dB.
        assert!((response_db(&ir, 120.0, 48000.0) + 6.02).abs() < 0.1);
    }

    #[test]
    fn band_gain_moves_only_its_band() {
        let mut bands = vec![neutral(); 2];
        bands[1].gain = 6.0;
        let ir = impulse_response(&[1000.0], &bands);
        assert!(response_db(&ir, 50.0, 48000.0).abs() < 0.05);
        assert!((response_db(&ir, 15000.0, 48000.0) - 6.0).abs() < 0.05);
    }
}
