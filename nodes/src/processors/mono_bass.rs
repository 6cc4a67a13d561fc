//! `mono-bass FREQ`: everything under a frequency folded to mono, as a
//! vinyl cut needs (lateral groove only in the bass) and club systems
//! expect: the side signal through a 2nd-order Butterworth highpass (an
//! "elliptical EQ"), the mid untouched.

use super::biquad::{Biquad, Coefficients, Shape};
use super::kind::{Kind, Param};
use super::{Processor, ProcessorSpec};

pub const KIND: Kind = Kind {
    name: "mono-bass",
    summary: "folds what lies under a frequency to mono: the side signal through a 2nd-order Butterworth highpass there, the mid untouched",
    params: &[Param::argument("a frequency in Hz", "Hz", 20.0, 500.0)],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::MonoBass { freq: v[0] }),
    in_chain: true,
    example: "mono-bass 120",
};

/// The running state: the side's highpass.
pub struct MonoBass {
    coefficients: Coefficients,
    side: Biquad,
}

impl MonoBass {
    pub fn new(freq: f64, rate: u32) -> Self {
        let q = std::f64::consts::FRAC_1_SQRT_2;
        MonoBass {
            coefficients: Coefficients::new(Shape::Highpass { q }, freq, rate as f64),
            side: Biquad::default(),
        }
    }
}

impl Processor for MonoBass {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let (lf, rf) = (*l as f64, *r as f64);
            let mid = (lf + rf) * 0.5;
            let side = self.side.tick(&self.coefficients, (lf - rf) * 0.5);
            *l = (mid + side) as f32;
            *r = (mid - side) as f32;
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`).
pub(super) fn is_identity(_: &f64) -> bool {
    false
}

pub(super) fn describe(freq: &f64) -> String {
    format!("mono under {freq} Hz")
}

pub(super) fn build(freq: &f64, context: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(MonoBass::new(*freq, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The level (dB) of `signal` at `freq` after its first half second.
    fn level_db(signal: &[f32], freq: f64, rate: f64) -> f64 {
        let tail = &signal[rate as usize / 2..];
        let w = std::f64::consts::TAU * freq / rate;
        let (mut re, mut im) = (0.0, 0.0);
        for (n, x) in tail.iter().enumerate() {
            re += *x as f64 * (w * n as f64).cos();
            im -= *x as f64 * (w * n as f64).sin();
        }
        20.0 * (2.0 * re.hypot(im) / tail.len() as f64).log10()
    }

    /// The side follows the bilinear-transformed 2nd-order Butterworth
    /// highpass prewarped at its corner, |H|² = 1 / (1 + (tan(πfc/fs) /
    /// tan(πf/fs))⁴): −3.01 dB at the corner; the mid passes untouched.
    #[test]
    fn the_side_is_highpassed_on_the_butterworth_curve_and_the_mid_kept() {
        let rate = 48000.0;
        let corner = 120.0;
        for freq in [30.0, 60.0, 120.0, 240.0, 1000.0, 5000.0] {
            let n = rate as usize * 2;
            let tone: Vec<f32> = (0..n)
                .map(|i| (0.5 * (std::f64::consts::TAU * freq * i as f64 / rate).sin()) as f32)
                .collect();
            // Side only: left = −right.
            let mut left = tone.clone();
            let mut right: Vec<f32> = tone.iter().map(|x| -x).collect();
            let mut processor = MonoBass::new(corner, rate as u32);
            for (l, r) in left.chunks_mut(4096).zip(right.chunks_mut(4096)) {
                processor.process(l, r);
            }
            let warp = |f: f64| (std::f64::consts::PI * f / rate).tan();
            let expected = -10.0 * (1.0 + (warp(corner) / warp(freq)).powi(4)).log10();
            let measured = level_db(&left, freq, rate) - level_db(&tone, freq, rate);
            assert!(
                (measured - expected).abs() < 0.05,
                "{freq} Hz: {measured:.3} dB, the curve says {expected:.3}"
            );
            let sum: f64 = left.iter().zip(&right).map(|(l, r)| (l + r).abs() as f64).sum();
            assert!(sum < 1e-3, "{freq} Hz: the side stays side");
            // Mid only: left = right, untouched.
            let mut left = tone.clone();
            let mut right = tone.clone();
            let mut processor = MonoBass::new(corner, rate as u32);
            processor.process(&mut left, &mut right);
            let worst = left
                .iter()
                .zip(&tone)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-7, "{freq} Hz: the mid moved by {worst}");
            assert_eq!(left, right);
        }
    }
}
