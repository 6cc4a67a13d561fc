//! Second-order sections from the RBJ Audio EQ Cookbook (R. Bristow-Johnson),
//! run in transposed direct form II with coefficients and state in f64.

use std::f64::consts::PI;

/// Normalised coefficients (a0 = 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

/// The shapes of the cookbook.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    Lowpass { q: f64 },
    Highpass { q: f64 },
    Notch { q: f64 },
    Allpass { q: f64 },
    Peaking { gain_db: f64, q: f64 },
    LowShelf { gain_db: f64, q: f64 },
    HighShelf { gain_db: f64, q: f64 },
}

impl Coefficients {
    /// The cookbook's formulas for `shape` at `freq` Hz and `rate` Hz.
    pub fn new(shape: Shape, freq: f64, rate: f64) -> Self {
        let w0 = 2.0 * PI * freq / rate;
        let (sin, cos) = w0.sin_cos();
        let alpha_of = |q: f64| sin / (2.0 * q);
        let amplitude = |gain_db: f64| 10f64.powf(gain_db / 40.0);
        let (b0, b1, b2, a0, a1, a2) = match shape {
            Shape::Lowpass { q } => {
                let alpha = alpha_of(q);
                (
                    (1.0 - cos) / 2.0,
                    1.0 - cos,
                    (1.0 - cos) / 2.0,
                    1.0 + alpha,
                    -2.0 * cos,
                    1.0 - alpha,
                )
            }
            Shape::Highpass { q } => {
                let alpha = alpha_of(q);
                (
                    (1.0 + cos) / 2.0,
                    -(1.0 + cos),
                    (1.0 + cos) / 2.0,
                    1.0 + alpha,
                    -2.0 * cos,
                    1.0 - alpha,
                )
            }
            Shape::Notch { q } => {
                let alpha = alpha_of(q);
                (1.0, -2.0 * cos, 1.0, 1.0 + alpha, -2.0 * cos, 1.0 - alpha)
            }
            Shape::Allpass { q } => {
                let alpha = alpha_of(q);
                (
                    1.0 - alpha,
                    -2.0 * cos,
                    1.0 + alpha,
                    1.0 + alpha,
                    -2.0 * cos,
                    1.0 - alpha,
                )
            }
            Shape::Peaking { gain_db, q } => {
                let (alpha, a) = (alpha_of(q), amplitude(gain_db));
                (
                    1.0 + alpha * a,
                    -2.0 * cos,
                    1.0 - alpha * a,
                    1.0 + alpha / a,
                    -2.0 * cos,
                    1.0 - alpha / a,
                )
            }
            Shape::LowShelf { gain_db, q } => {
                let (alpha, a) = (alpha_of(q), amplitude(gain_db));
                let k = 2.0 * a.sqrt() * alpha;
                (
                    a * ((a + 1.0) - (a - 1.0) * cos + k),
                    2.0 * a * ((a - 1.0) - (a + 1.0) * cos),
                    a * ((a + 1.0) - (a - 1.0) * cos - k),
                    (a + 1.0) + (a - 1.0) * cos + k,
                    -2.0 * ((a - 1.0) + (a + 1.0) * cos),
                    (a + 1.0) + (a - 1.0) * cos - k,
                )
            }
            Shape::HighShelf { gain_db, q } => {
                let (alpha, a) = (alpha_of(q), amplitude(gain_db));
                let k = 2.0 * a.sqrt() * alpha;
                (
                    a * ((a + 1.0) + (a - 1.0) * cos + k),
                    -2.0 * a * ((a - 1.0) + (a + 1.0) * cos),
                    a * ((a + 1.0) + (a - 1.0) * cos - k),
                    (a + 1.0) - (a - 1.0) * cos + k,
                    2.0 * ((a - 1.0) - (a + 1.0) * cos),
                    (a + 1.0) - (a - 1.0) * cos - k,
                )
            }
        };
        Coefficients {
            b0: b0 / a0,
            b1: b1 / a0,
            b2: b2 / a0,
            a1: a1 / a0,
            a2: a2 / a0,
        }
    }
}

/// One section's running state for one channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Biquad {
    s1: f64,
    s2: f64,
}

impl Biquad {
    #[inline]
    pub fn tick(&mut self, c: &Coefficients, x: f64) -> f64 {
        let y = c.b0 * x + self.s1;
        self.s1 = c.b1 * x - c.a1 * y + self.s2;
        self.s2 = c.b2 * x - c.a2 * y;
        y
    }
}

/// The Q of each second-order section of an order-`order` Butterworth
/// filter (poles at angles (2k − 1)π / 2n).
pub fn butterworth_qs(order: u32) -> Vec<f64> {
    (1..=order / 2)
        .map(|k| 1.0 / (2.0 * ((2 * k - 1) as f64 * PI / (2 * order) as f64).cos()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn butterworth_sections_have_the_textbook_qs() {
        let q4 = butterworth_qs(4);
        assert!((q4[0] - 0.541_196).abs() < 1e-6 && (q4[1] - 1.306_563).abs() < 1e-6);
        let q2 = butterworth_qs(2);
        assert!((q2[0] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
    }
}
