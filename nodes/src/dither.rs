//! Requantisation to integer samples, with TPDF dither when precision drops.

use serde::{Deserialize, Serialize};

/// Changes whenever requantisation changes; part of every encode step's key
/// (each change is listed in docs/design.md, "Versions in a key").
pub const DITHER_VERSION: u32 = 3;

/// What noise to add before rounding to fewer bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dither {
    /// Triangular-PDF noise of ±1 LSB peak: removes distortion from the
    /// quantisation error at the cost of a flat noise floor.
    Tpdf,
    /// TPDF with the error fed back through a 9-tap filter (Wannamaker's
    /// F-weighted shaper, 1992) that moves the noise above 15 kHz, where the
    /// ear is least sensitive: a lower audible floor, more total noise.
    Shaped,
    None,
}

/// Error-feedback coefficients of the F-weighted shaper (designed at 44.1
/// kHz; the noise transfer function is 1 − Σ h_k z^−k).
const SHAPER: [f64; 9] = [
    2.412, -3.370, 3.937, -4.174, 3.353, -2.205, 1.281, -0.569, 0.0847,
];
/// Past errors beyond this many LSB mean the shaper is being driven into
/// clipping; they are clamped so the loop cannot run away.
const MAX_ERROR: f64 = 4.0;

/// Turns float samples into integers of `bits` bits.
pub struct Quantizer {
    scale: f64,
    max: i32,
    min: i32,
    dither: Dither,
    rng: SplitMix64,
    /// Past quantisation errors, newest first (shaped dither only).
    errors: [f64; 9],
    overs: Overs,
}

/// Samples beyond full scale that a quantiser had to clip.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overs {
    pub samples: u64,
    /// The largest magnitude among them (1.0 is full scale).
    pub peak: f32,
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
            errors: [0.0; 9],
            overs: Overs::default(),
        }
    }

    /// The samples clipped so far: those past full scale on the way in,
    /// not the dither's last LSB at full scale.
    pub fn overs(&self) -> Overs {
        self.overs
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn quantize(&mut self, x: f32) -> i32 {
        if x.abs() > 1.0 {
            self.overs.samples += 1;
            self.overs.peak = self.overs.peak.max(x.abs());
        }
        let mut value = x as f64 * self.scale;
        if self.dither == Dither::Shaped {
            value -= SHAPER
                .iter()
                .zip(&self.errors)
                .map(|(h, e)| h * e)
                .sum::<f64>();
        }
        let noise = match self.dither {
            Dither::Tpdf | Dither::Shaped => self.rng.unit() - self.rng.unit(),
            Dither::None => 0.0,
        };
        let rounded = (value + noise).round();
        if self.dither == Dither::Shaped {
            self.errors.rotate_right(1);
            self.errors[0] = (rounded - value).clamp(-MAX_ERROR, MAX_ERROR);
        }
        (rounded as i64).clamp(self.min as i64, self.max as i64) as i32
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
    fn counts_the_samples_past_full_scale_not_the_ones_at_it() {
        let mut q = Quantizer::new(16, Dither::Tpdf, 3);
        for x in [1.0, -1.0, 0.5, 1.25, -2.0, 0.999] {
            q.quantize(x);
        }
        assert_eq!(
            q.overs(),
            Overs {
                samples: 2,
                peak: 2.0
            }
        );
    }

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

    const N: usize = 1 << 16;
    const RATE: f64 = 48000.0;
    /// 1365 cycles in N samples: 999.76 Hz, exactly on a DFT bin.
    const BIN: usize = 1365;

    /// Magnitude in dBFS (of a sine's peak) at DFT bin `k`, Hann-windowed.
    fn bin_db(signal: &[f64], k: usize) -> f64 {
        let n = signal.len();
        let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
        for (i, x) in signal.iter().enumerate() {
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos();
            let phase = std::f64::consts::TAU * (k * i) as f64 / n as f64;
            re += x * w * phase.cos();
            im += x * w * phase.sin();
            wsum += w;
        }
        20.0 * (2.0 * re.hypot(im) / wsum).log10()
    }

    /// Quantises a sine at `level_db` to 16 bits; returns the output in -1..1.
    fn quantised_sine(level_db: f64, dither: Dither) -> Vec<f64> {
        let mut q = Quantizer::new(16, dither, 99);
        let a = 10f64.powf(level_db / 20.0);
        (0..N)
            .map(|i| {
                let x = a * (std::f64::consts::TAU * (BIN * i) as f64 / N as f64).sin();
                q.quantize(x as f32) as f64 / 32768.0
            })
            .collect()
    }

    /// The median level of the bins around `k` (excluding `k` ± 3).
    fn floor_db(signal: &[f64], k: usize) -> f64 {
        let mut levels: Vec<f64> = (k - 40..k + 40)
            .filter(|b| b.abs_diff(k) > 3)
            .map(|b| bin_db(signal, b))
            .collect();
        levels.sort_by(f64::total_cmp);
        levels[levels.len() / 2]
    }

    #[test]
    fn a_minus_100_dbfs_sine_keeps_its_level_and_gains_no_harmonics() {
        let out = quantised_sine(-100.0, Dither::Tpdf);
        assert!(
            (bin_db(&out, BIN) + 100.0).abs() < 1.0,
            "the tone reads {}",
            bin_db(&out, BIN)
        );
        for harmonic in 2..=7 {
            let k = BIN * harmonic;
            let excess = bin_db(&out, k) - floor_db(&out, k);
            assert!(
                excess < 10.0,
                "harmonic {harmonic} stands {excess:.1} dB over the floor"
            );
        }
    }

    #[test]
    fn without_dither_a_quiet_sine_distorts_which_the_test_above_would_catch() {
        // One LSB of amplitude, undithered: a three-level staircase (a 120°
        // pulse, so no third harmonic, but a strong fifth and seventh).
        let out = quantised_sine(-90.3, Dither::None);
        let strongest = (2..=7)
            .map(|h| bin_db(&out, BIN * h) - floor_db(&out, BIN * h))
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(
            strongest > 20.0,
            "strongest harmonic only {strongest:.1} dB over the floor"
        );
    }

    #[test]
    fn shaped_dither_lowers_the_audible_floor_and_raises_the_top() {
        let error = |dither| {
            let mut q = Quantizer::new(16, dither, 5);
            (0..N)
                .map(|i| {
                    let x = 0.25 * (std::f64::consts::TAU * (BIN * i) as f64 / N as f64).sin();
                    q.quantize(x as f32) as f64 / 32768.0 - (x as f32) as f64
                })
                .collect::<Vec<f64>>()
        };
        let band_db = |signal: &[f64], from: f64, to: f64| {
            let bins: Vec<usize> = (0..N / 2)
                .filter(|k| {
                    (*k as f64 * RATE / N as f64) >= from && (*k as f64 * RATE / N as f64) < to
                })
                .step_by(7)
                .collect();
            let power: f64 = bins
                .iter()
                .map(|k| 10f64.powf(bin_db(signal, *k) / 10.0))
                .sum::<f64>()
                / bins.len() as f64;
            10.0 * power.log10()
        };
        let (flat, shaped) = (error(Dither::Tpdf), error(Dither::Shaped));
        let low_gain = band_db(&shaped, 1000.0, 5000.0) - band_db(&flat, 1000.0, 5000.0);
        let high_gain = band_db(&shaped, 17000.0, 22000.0) - band_db(&flat, 17000.0, 22000.0);
        assert!(low_gain < -6.0, "1–5 kHz floor moved {low_gain:.1} dB");
        assert!(high_gain > 6.0, "17–22 kHz floor moved {high_gain:.1} dB");
        let peak_error = shaped.iter().fold(0.0f64, |m, e| m.max(e.abs())) * 32768.0;
        assert!(
            peak_error < 30.0,
            "the shaper stays stable: {peak_error} LSB"
        );
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
