use serde::{Deserialize, Serialize};

use super::biquad::{butterworth_qs, Biquad, Coefficients, Shape};
use super::Processor;

use super::kind::Kind;

/// `eq { band… }`: RBJ biquads and Butterworth cascades.
pub const KIND: Kind = Kind {
    name: "eq",
    summary: "an equaliser of bands, each a child: `highpass` and `lowpass` (FREQ, `slope=` 12, 24 or 48 dB per octave, Butterworth), `low-shelf`, `high-shelf` and `bell` (FREQ, `gain=` dB, `q=`), `notch` (FREQ, `q=`); RBJ biquads",
    params: &[],
    other_props: &[],
    version: 1,
    build: None,
    in_chain: true,
    example: "eq {\n    highpass 30 slope=24\n    bell 3000 gain=-1.5 q=1.2\n    high-shelf 10000 gain=1\n}",
};

/// One band of an `eq`, as the project states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EqBand {
    /// Butterworth, `slope` 12, 24 or 48 dB/octave.
    Highpass {
        freq: f64,
        slope: u32,
    },
    Lowpass {
        freq: f64,
        slope: u32,
    },
    LowShelf {
        freq: f64,
        gain: f64,
        q: f64,
    },
    HighShelf {
        freq: f64,
        gain: f64,
        q: f64,
    },
    Bell {
        freq: f64,
        gain: f64,
        q: f64,
    },
    Notch {
        freq: f64,
        q: f64,
    },
}

impl EqBand {
    /// A band that changes nothing: a shelf or bell at 0 dB.
    pub fn is_identity(&self) -> bool {
        match self {
            EqBand::LowShelf { gain, .. }
            | EqBand::HighShelf { gain, .. }
            | EqBand::Bell { gain, .. } => *gain == 0.0,
            _ => false,
        }
    }

    /// The band as second-order sections at `rate`.
    pub fn sections(&self, rate: f64) -> Vec<Coefficients> {
        match *self {
            EqBand::Highpass { freq, slope } => butterworth_qs(slope / 6)
                .into_iter()
                .map(|q| Coefficients::new(Shape::Highpass { q }, freq, rate))
                .collect(),
            EqBand::Lowpass { freq, slope } => butterworth_qs(slope / 6)
                .into_iter()
                .map(|q| Coefficients::new(Shape::Lowpass { q }, freq, rate))
                .collect(),
            EqBand::LowShelf { freq, gain, q } => {
                vec![Coefficients::new(
                    Shape::LowShelf { gain_db: gain, q },
                    freq,
                    rate,
                )]
            }
            EqBand::HighShelf { freq, gain, q } => {
                vec![Coefficients::new(
                    Shape::HighShelf { gain_db: gain, q },
                    freq,
                    rate,
                )]
            }
            EqBand::Bell { freq, gain, q } => {
                vec![Coefficients::new(
                    Shape::Peaking { gain_db: gain, q },
                    freq,
                    rate,
                )]
            }
            EqBand::Notch { freq, q } => vec![Coefficients::new(Shape::Notch { q }, freq, rate)],
        }
    }
}

/// A series of EQ bands on both channels.
pub struct Eq {
    sections: Vec<Coefficients>,
    state: [Vec<Biquad>; 2],
}

impl Eq {
    pub fn new(bands: &[EqBand], rate: u32) -> Self {
        let sections: Vec<Coefficients> = bands
            .iter()
            .filter(|b| !b.is_identity())
            .flat_map(|b| b.sections(rate as f64))
            .collect();
        let state = [
            vec![Biquad::default(); sections.len()],
            vec![Biquad::default(); sections.len()],
        ];
        Eq { sections, state }
    }
}

impl Processor for Eq {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        for (channel, state) in [left, right].into_iter().zip(self.state.iter_mut()) {
            for x in channel.iter_mut() {
                let mut y = *x as f64;
                for (section, biquad) in self.sections.iter().zip(state.iter_mut()) {
                    y = biquad.tick(section, y);
                }
                *x = y as f32;
            }
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(bands: &[EqBand]) -> bool {
    bands.iter().all(EqBand::is_identity)
}

pub(super) fn describe(bands: &[EqBand]) -> String {
    format!("eq ({})", super::bands(bands.len()))
}

pub(super) fn build(bands: &[EqBand], context: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Eq::new(bands, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    type C = (f64, f64); // a complex number as (re, im)

    fn mul(a: C, b: C) -> C {
        (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
    }
    fn div(a: C, b: C) -> C {
        let d = b.0 * b.0 + b.1 * b.1;
        ((a.0 * b.0 + a.1 * b.1) / d, (a.1 * b.0 - a.0 * b.1) / d)
    }
    fn abs(a: C) -> f64 {
        a.0.hypot(a.1)
    }

    /// The analog prototype of a band, evaluated where the bilinear
    /// transform (prewarped at the band's frequency) maps `f`: the curve a
    /// correct digital implementation must follow exactly.
    fn analytic_db(band: &EqBand, f: f64, rate: f64) -> f64 {
        let warp = |f0: f64| (PI * f / rate).tan() / (PI * f0 / rate).tan();
        let magnitude = match *band {
            EqBand::Highpass { freq, slope } => {
                let w = warp(freq);
                1.0 / (1.0 + w.powi(-2 * (slope / 6) as i32)).sqrt()
            }
            EqBand::Lowpass { freq, slope } => {
                let w = warp(freq);
                1.0 / (1.0 + w.powi(2 * (slope / 6) as i32)).sqrt()
            }
            EqBand::Bell { freq, gain, q } => {
                let (w, a) = (warp(freq), 10f64.powf(gain / 40.0));
                abs(div((1.0 - w * w, w * a / q), (1.0 - w * w, w / (a * q))))
            }
            EqBand::LowShelf { freq, gain, q } => {
                let (w, a) = (warp(freq), 10f64.powf(gain / 40.0));
                let k = a.sqrt() / q;
                a * abs(div((a - w * w, k * w), (1.0 - a * w * w, k * w)))
            }
            EqBand::HighShelf { freq, gain, q } => {
                let (w, a) = (warp(freq), 10f64.powf(gain / 40.0));
                let k = a.sqrt() / q;
                a * abs(div((1.0 - a * w * w, k * w), (a - w * w, k * w)))
            }
            EqBand::Notch { freq, q } => {
                let w = warp(freq);
                abs(div((1.0 - w * w, 0.0), (1.0 - w * w, w / q)))
            }
        };
        20.0 * magnitude.log10()
    }

    /// The measured response of the processor at `f`: the DFT of its
    /// impulse response.
    fn measured_db(impulse_response: &[f32], f: f64, rate: f64) -> f64 {
        let w = 2.0 * PI * f / rate;
        let mut acc = (0.0, 0.0);
        let step = (w.cos(), -w.sin());
        let mut phasor = (1.0, 0.0);
        for h in impulse_response {
            acc.0 += *h as f64 * phasor.0;
            acc.1 += *h as f64 * phasor.1;
            phasor = mul(phasor, step);
        }
        20.0 * abs(acc).log10()
    }

    fn impulse_response(bands: &[EqBand], rate: u32) -> Vec<f32> {
        let mut eq = Eq::new(bands, rate);
        let n = 1 << 18;
        let mut left = vec![0.0f32; n];
        left[0] = 1.0;
        let mut right = left.clone();
        for (l, r) in left.chunks_mut(4096).zip(right.chunks_mut(4096)) {
            eq.process(l, r);
        }
        assert_eq!(left, right, "both channels filter alike");
        left
    }

    fn check(band: EqBand) {
        for rate in [44100, 48000] {
            let ir = impulse_response(std::slice::from_ref(&band), rate);
            // 20 Hz to 20 kHz, 1/12 octave apart.
            let mut f = 20.0;
            while f <= 20000.0 {
                let expected = analytic_db(&band, f, rate as f64);
                let measured = measured_db(&ir, f, rate as f64);
                // Deep notch and stopband values are compared in absolute terms.
                if expected > -60.0 {
                    assert!(
                        (measured - expected).abs() < 0.1,
                        "{band:?} at {rate} Hz, {f:.1} Hz: {measured:.3} dB vs {expected:.3} dB"
                    );
                }
                f *= 2f64.powf(1.0 / 12.0);
            }
        }
    }

    #[test]
    fn highpasses_follow_butterworth_at_every_slope() {
        for slope in [12, 24, 48] {
            check(EqBand::Highpass { freq: 20.0, slope });
            check(EqBand::Highpass { freq: 120.0, slope });
        }
    }

    #[test]
    fn lowpasses_follow_butterworth_at_every_slope() {
        for slope in [12, 24, 48] {
            check(EqBand::Lowpass {
                freq: 8000.0,
                slope,
            });
        }
    }

    #[test]
    fn bells_shelves_and_notches_follow_the_cookbook_prototypes() {
        check(EqBand::Bell {
            freq: 3000.0,
            gain: -1.5,
            q: 1.2,
        });
        check(EqBand::Bell {
            freq: 250.0,
            gain: 6.0,
            q: 4.0,
        });
        check(EqBand::LowShelf {
            freq: 100.0,
            gain: 3.0,
            q: 0.707,
        });
        check(EqBand::HighShelf {
            freq: 10000.0,
            gain: -4.0,
            q: 0.707,
        });
        check(EqBand::Notch {
            freq: 1000.0,
            q: 10.0,
        });
    }

    #[test]
    fn a_minus_three_db_point_sits_at_the_corner() {
        let band = EqBand::Highpass {
            freq: 1000.0,
            slope: 24,
        };
        let ir = impulse_response(std::slice::from_ref(&band), 48000);
        assert!((measured_db(&ir, 1000.0, 48000.0) + 3.0103).abs() < 0.01);
    }

    #[test]
    fn zero_db_bands_are_transparent() {
        let bands = [
            EqBand::Bell {
                freq: 1000.0,
                gain: 0.0,
                q: 1.0,
            },
            EqBand::LowShelf {
                freq: 100.0,
                gain: 0.0,
                q: 0.707,
            },
            EqBand::HighShelf {
                freq: 9000.0,
                gain: 0.0,
                q: 0.707,
            },
        ];
        let mut eq = Eq::new(&bands, 48000);
        let input: Vec<f32> = (0..4096)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let (mut l, mut r) = (input.clone(), input.clone());
        eq.process(&mut l, &mut r);
        assert_eq!(l, input);
    }
}
