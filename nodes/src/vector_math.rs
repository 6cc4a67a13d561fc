//! `ln` and `exp` that the compiler can inline into a loop over a block and
//! turn into vector code: libm's are calls, one sample at a time, and were
//! most of a compressor's cost.
//!
//! Both are plain f64 arithmetic and bit moves, each element on its own (no
//! sums across elements, and Rust never fuses a multiply and an add), so
//! every vector width gives the same bits as the scalar code: the same
//! output on every machine. Accuracy is within a few units in the last
//! place of libm's (tests below), far finer than an f32 sample.

use std::f64::consts::{LN_2, LOG2_E, SQRT_2};

/// `2^52 + 2^51`: a float that large has no fraction bits, so adding it
/// rounds to an integer, which then sits in the low bits of its mantissa.
const ROUNDER: f64 = 6_755_399_441_055_744.0;
/// `2^52`: a float holding 2^52 + n in its mantissa's low bits reads as n.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// ln 2 split in two, so k·ln2 is subtracted without rounding error
/// (the high part has trailing zero bits: k · LN2_HIGH is exact).
const LN2_HIGH: f64 = 0.693_147_180_369_123_8;
const LN2_LOW: f64 = 1.908_214_929_270_587_7e-10;

/// The natural logarithm of a positive, finite, normal `x`.
#[inline(always)]
pub(crate) fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    // x = m · 2^e with m in [1, 2), read from the bits; the exponent field
    // becomes a float through the mantissa of 2^52 (no integer conversion,
    // which older vector units lack).
    let exponent = f64::from_bits((bits >> 52) | TWO_52.to_bits()) - (TWO_52 + 1023.0);
    let mantissa = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 1f64.to_bits());
    // Centre m on 1, in [√½, √2): then s below is at most 0.1716.
    let high = mantissa > SQRT_2;
    let m = if high { mantissa * 0.5 } else { mantissa };
    let e = if high { exponent + 1.0 } else { exponent };
    // ln m = 2 atanh s = 2 (s + s³/3 + s⁵/5 + …), s = (m − 1)/(m + 1):
    // through s¹⁷ the rest is under 3e-16 of the result.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 1.0
        + s2 * (1.0 / 3.0
            + s2 * (1.0 / 5.0
                + s2 * (1.0 / 7.0
                    + s2 * (1.0 / 9.0
                        + s2 * (1.0 / 11.0
                            + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0 + s2 * (1.0 / 17.0))))))));
    e * LN_2 + 2.0 * s * series
}

/// e^x for x in [−700, 700].
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    // x = k ln2 + r, k the nearest integer, |r| ≤ ln2 / 2.
    let shifted = x * LOG2_E + ROUNDER;
    let k = shifted - ROUNDER;
    let r = (x - k * LN2_HIGH) - k * LN2_LOW;
    // e^r by Taylor to r¹³/13!: the rest is under 2e-17 for |r| ≤ 0.347.
    let mut p = 1.0 / 6_227_020_800.0;
    for divisor in [
        479_001_600.0,
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
    ] {
        p = p * r + 1.0 / divisor;
    }
    for divisor in [5_040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0] {
        p = p * r + 1.0 / divisor;
    }
    // 2^k from k's bits in the rounded sum: its low bits are k + 2^51.
    let k_bits = shifted.to_bits().wrapping_sub(ROUNDER.to_bits());
    let scale = f64::from_bits(k_bits.wrapping_add(1023) << 52);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error against libm.
    fn error(got: f64, want: f64) -> f64 {
        ((got - want) / want).abs()
    }

    #[test]
    fn ln_matches_libm_to_a_few_ulps_over_every_level_a_detector_reads() {
        let mut worst = 0.0f64;
        let mut x = 1e-20;
        while x < 1e6 {
            for nudge in [
                1.0,
                1.0 + 1e-15,
                SQRT_2,
                SQRT_2 * (1.0 - 1e-15),
                1.7,
                0.999_999,
            ] {
                let v = x * nudge;
                let want = v.ln();
                // Relative where ln is large, absolute near ln = 0.
                worst = worst.max((ln(v) - want).abs() / want.abs().max(1.0));
            }
            x *= 1.013;
        }
        assert!(worst < 1e-15, "worst error {worst:e}");
        assert_eq!(ln(1.0), 0.0);
    }

    #[test]
    fn exp_matches_libm_to_a_few_ulps_over_every_gain_a_compressor_asks() {
        let mut worst = 0.0f64;
        let mut x = -700.0;
        while x <= 700.0 {
            worst = worst.max(error(exp(x), x.exp()));
            x += 0.0137;
        }
        for x in [0.0, -1e-300, 1e-12, -0.5 * LN_2, 0.5 * LN_2, -23.0] {
            worst = worst.max(error(exp(x), x.exp()));
        }
        assert!(worst < 1e-15, "worst error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
    }
}
