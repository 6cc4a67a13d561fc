//! Requantisation to integer samples, with TPDF dither when precision drops.

use serde::{Deserialize, Serialize};

/// What noise to add before rounding to fewer bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dither {
    /// Triangular-PDF noise of ±1 LSB peak: removes distortion from the
    /// quantisation error at the cost of a flat noise floor.
    Tpdf,
    None,
}

/// Turns float samples into integers of `bits` bits.
pub struct Quantizer {
    scale: f64,
    max: i32,
    min: i32,
    dither: Dither,
    rng: SplitMix64,
}

impl Quantizer {
    /// `seed` makes the dither noise the same on every run.
    pub fn new(bits: u32, dither: Dither, seed: u64) -> Self {
        let scale = (1u64 << (bits - 1)) as f64;
        Quantizer {
            scale,
            max: (scale - 1.0) as i32,
            min: -(scale as i64) as i32,
            dither,
            rng: SplitMix64(seed),
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn quantize(&mut self, x: f32) -> i32 {
        let mut value = x as f64 * self.scale;
        if self.dither == Dither::Tpdf {
            value += self.rng.unit() - self.rng.unit();
        }
        (value.round() as i64).clamp(self.min as i64, self.max as i64) as i32
    }
}

/// A small, fast, well-mixed generator; good enough for dither noise.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_on_the_grid_pass_untouched_without_dither() {
        let mut q = Quantizer::new(24, Dither::None, 0);
        for s in [-8_388_608i32, -1, 0, 1, 4_000_000, 8_388_607] {
            assert_eq!(q.quantize(s as f32 / 8_388_608.0), s);
        }
    }

    #[test]
    fn full_scale_clips_to_the_largest_code() {
        let mut q = Quantizer::new(16, Dither::None, 0);
        assert_eq!(q.quantize(1.0), 32767);
        assert_eq!(q.quantize(-1.5), -32768);
    }

    #[test]
    fn tpdf_noise_has_the_expected_power_and_no_bias() {
        // TPDF of ±1 LSB: variance 1/6 LSB², plus rounding 1/12: total 1/4.
        let mut q = Quantizer::new(16, Dither::Tpdf, 42);
        let n = 200_000;
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for _ in 0..n {
            let e = q.quantize(0.3 / 32768.0) as f64 - 0.3;
            sum += e;
            sum_sq += e * e;
        }
        let mean = sum / n as f64;
        let variance = sum_sq / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((variance - 0.25).abs() < 0.01, "variance {variance}");
    }

    #[test]
    fn same_seed_same_noise() {
        let mut a = Quantizer::new(16, Dither::Tpdf, 7);
        let mut b = Quantizer::new(16, Dither::Tpdf, 7);
        for i in 0..1000 {
            let x = (i as f32 * 0.01).sin() * 0.001;
            assert_eq!(a.quantize(x), b.quantize(x));
        }
    }
}
