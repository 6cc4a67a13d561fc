//! Feed-forward compressor after Giannoulis, Massberg and Reiss, "Digital
//! Dynamic Range Compressor Design — A Tutorial and Analysis" (JAES 60(6),
//! 2012): a gain computer with a quadratic soft knee (their eq. 4) and a
//! smooth branching peak detector on the gain reduction in dB (eq. 17), so
//! attack and release are true exponential time constants.

use serde::{Deserialize, Serialize};

use super::Processor;

use super::kind::{Kind, Param};

/// `compress …`: a feed-forward compressor (also a multiband band).
pub const KIND: Kind = Kind {
    name: "compress",
    summary: "a feed-forward compressor (`knee=` softens its knee); `detect=\"peak\"` (default) or `\"rms\"` (over 10 ms), `link=#true` (default) to act on both channels as one",
    params: &[
        Param::property("threshold", "a threshold", "dBFS", 0.0, -80.0, 0.0),
        Param::property("ratio", "a ratio", ":1", 1.0, 1.0, 100.0),
        Param::property("attack", "an attack time", "ms", 10.0, 0.0, 1000.0),
        Param::property("release", "a release time", "ms", 100.0, 1.0, 10000.0),
        Param::property("knee", "a knee width", "dB", 0.0, 0.0, 24.0),
        Param::property("makeup", "a makeup gain", "dB", 0.0, -24.0, 24.0),
    ],
    other_props: &["detect", "link"],
    // 2: levels and gains taken a block at a time in vectors.
    version: 2,
    build: None,
    in_chain: true,
    example: "compress threshold=-18 ratio=4 attack=10 release=120",
};

/// How the level is detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detect {
    /// The instantaneous sample magnitude.
    Peak,
    /// Mean square over a 10 ms window: a sine reads 3 dB under its peak.
    Rms,
}

/// A compressor's settings, as the project states them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompressorParams {
    /// dBFS.
    pub threshold: f64,
    pub ratio: f64,
    /// Milliseconds.
    pub attack: f64,
    pub release: f64,
    /// Width of the soft knee, dB (0: hard knee).
    pub knee: f64,
    /// Gain after compression, dB.
    pub makeup: f64,
    pub detect: Detect,
    /// One gain for both channels, from the louder.
    pub link: bool,
}

impl CompressorParams {
    /// From the numbers its registry entry lists (threshold, ratio,
    /// attack, release, knee, makeup), and its detector and linking.
    pub fn from_numbers(numbers: &[f64], detect: Detect, link: bool) -> Self {
        CompressorParams {
            threshold: numbers[0],
            ratio: numbers[1],
            attack: numbers[2],
            release: numbers[3],
            knee: numbers[4],
            makeup: numbers[5],
            detect,
            link,
        }
    }
}

impl Default for CompressorParams {
    fn default() -> Self {
        CompressorParams {
            threshold: 0.0,
            ratio: 1.0,
            attack: 10.0,
            release: 100.0,
            knee: 0.0,
            makeup: 0.0,
            detect: Detect::Peak,
            link: true,
        }
    }
}

impl CompressorParams {
    pub fn is_identity(&self) -> bool {
        self.ratio == 1.0 && self.makeup == 0.0
    }

    /// The static curve: output level for a steady input level, both dB.
    pub fn curve(&self, level: f64) -> f64 {
        let (t, r, w) = (self.threshold, self.ratio, self.knee);
        let over = level - t;
        if 2.0 * over < -w {
            level
        } else if 2.0 * over.abs() <= w && w > 0.0 {
            level + (1.0 / r - 1.0) * (over + w / 2.0).powi(2) / (2.0 * w)
        } else {
            t + over / r
        }
    }
}

const RMS_WINDOW_SECONDS: f64 = 0.010;
/// The quietest level the detector considers, to keep logs finite.
const FLOOR_DB: f64 = -200.0;

/// The static curve as the reduction it asks at each level, in a form
/// whose branches are selects, so a block of levels runs in vectors.
#[derive(Clone, Copy)]
struct Knee {
    threshold: f64,
    /// 1 − 1/ratio: the share of the level over the threshold taken off.
    slope: f64,
    half_width: f64,
    /// 1 / (2 × width), 0 for a hard knee.
    inverse_double_width: f64,
}

impl Knee {
    fn of(params: &CompressorParams) -> Self {
        Knee {
            threshold: params.threshold,
            slope: 1.0 - 1.0 / params.ratio,
            half_width: params.knee / 2.0,
            inverse_double_width: if params.knee > 0.0 {
                1.0 / (2.0 * params.knee)
            } else {
                0.0
            },
        }
    }

    /// `level − curve(level)`, dB (see [`CompressorParams::curve`]).
    #[inline(always)]
    fn reduction(&self, level: f64) -> f64 {
        let over = level - self.threshold;
        let into_knee = over + self.half_width;
        let in_knee = over.abs() <= self.half_width && self.inverse_double_width > 0.0;
        let reduction = if in_knee {
            into_knee * into_knee * self.inverse_double_width
        } else {
            over
        };
        if over < -self.half_width {
            0.0
        } else {
            self.slope * reduction
        }
    }
}

/// The ballistics of one gain path: what it holds between blocks.
#[derive(Default)]
struct Sidechain {
    mean_square: f64,
    /// Smoothed gain reduction, dB (≥ 0).
    reduction: f64,
}

/// A compressor's running state.
pub struct Compressor {
    params: CompressorParams,
    attack_coef: f64,
    release_coef: f64,
    rms_coef: f64,
    makeup: f64,
    knee: Knee,
    sidechains: [Sidechain; 2],
    /// One block's detector values, then reductions, then gains, per
    /// gain path.
    scratch: [Vec<f64>; 2],
}

/// A reduction this small (dB) is no reduction: its gain differs from 1
/// by under 1.2e-10, far below an f32 sample's resolution.
const NO_REDUCTION_DB: f64 = 1e-9;

fn coefficient(seconds: f64, rate: f64) -> f64 {
    if seconds <= 0.0 {
        0.0
    } else {
        (-1.0 / (seconds * rate)).exp()
    }
}

impl Compressor {
    pub fn new(params: CompressorParams, rate: u32) -> Self {
        let rate = rate as f64;
        Compressor {
            params,
            attack_coef: coefficient(params.attack / 1000.0, rate),
            release_coef: coefficient(params.release / 1000.0, rate),
            rms_coef: coefficient(RMS_WINDOW_SECONDS, rate),
            makeup: crate::db_to_gain(params.makeup),
            knee: Knee::of(&params),
            sidechains: Default::default(),
            scratch: Default::default(),
        }
    }

    /// Turns one path's detector values (magnitudes for peak, squares for
    /// RMS) into the linear gains to apply, in place, in the widest vectors
    /// the CPU has: each value on its own, so every width gives the same
    /// bits (a test holds the paths to it).
    fn gains(&mut self, which: usize, values: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                #[allow(unsafe_code)]
                unsafe {
                    self.gains_avx512(which, values)
                };
                return;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                #[allow(unsafe_code)]
                unsafe {
                    self.gains_avx2(which, values)
                };
                return;
            }
        }
        self.gains_portable(which, values);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn gains_avx2(&mut self, which: usize, values: &mut [f64]) {
        self.gains_portable(which, values);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn gains_avx512(&mut self, which: usize, values: &mut [f64]) {
        self.gains_portable(which, values);
    }

    /// The level and the gain are taken for the whole block in loops that
    /// vectorise; only the smoothing runs frame after frame.
    #[inline(always)]
    fn gains_portable(&mut self, which: usize, values: &mut [f64]) {
        let params = self.params;
        let side = &mut self.sidechains[which];
        let (per_db, floor) = match params.detect {
            Detect::Peak => (20.0, 1e-10),
            Detect::Rms => {
                let coef = self.rms_coef;
                for v in values.iter_mut() {
                    side.mean_square = coef * side.mean_square + (1.0 - coef) * *v;
                    *v = side.mean_square;
                }
                (10.0, 1e-20)
            }
        };
        // What the curve wants taken off (nothing under the knee).
        let nepers_to_db = per_db / std::f64::consts::LN_10;
        let knee = self.knee;
        for v in values.iter_mut() {
            let level = (nepers_to_db * crate::vector_math::ln(v.max(floor))).max(FLOOR_DB);
            *v = knee.reduction(level);
        }
        let (attack, release) = (self.attack_coef, self.release_coef);
        let mut reduction = side.reduction;
        for v in values.iter_mut() {
            let coef = if *v > reduction { attack } else { release };
            reduction = coef * reduction + (1.0 - coef) * *v;
            *v = reduction;
        }
        side.reduction = reduction;
        let makeup = self.makeup;
        for v in values.iter_mut() {
            let gain = crate::vector_math::exp(-*v * crate::units::NEPERS_PER_DB) * makeup;
            *v = if *v < NO_REDUCTION_DB { makeup } else { gain };
        }
    }
}

impl Processor for Compressor {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let rms = self.params.detect == Detect::Rms;
        let detector = |x: f32| {
            let x = x as f64;
            if rms {
                x * x
            } else {
                x.abs()
            }
        };
        let [first, second] = std::mem::take(&mut self.scratch);
        let (mut first, mut second) = (first, second);
        first.clear();
        if self.params.link {
            first.extend(left.iter().zip(right.iter()).map(|(l, r)| {
                let (l, r) = (detector(*l), detector(*r));
                if rms {
                    (l + r) / 2.0
                } else {
                    l.max(r)
                }
            }));
            self.gains(0, &mut first);
            for ((l, r), gain) in left.iter_mut().zip(right.iter_mut()).zip(&first) {
                *l = (*l as f64 * gain) as f32;
                *r = (*r as f64 * gain) as f32;
            }
        } else {
            second.clear();
            first.extend(left.iter().map(|x| detector(*x)));
            second.extend(right.iter().map(|x| detector(*x)));
            self.gains(0, &mut first);
            self.gains(1, &mut second);
            for (x, gain) in left.iter_mut().zip(&first) {
                *x = (*x as f64 * gain) as f32;
            }
            for (x, gain) in right.iter_mut().zip(&second) {
                *x = (*x as f64 * gain) as f32;
            }
        }
        self.scratch = [first, second];
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(params: &CompressorParams) -> bool {
    params.is_identity()
}

pub(super) fn describe(params: &CompressorParams) -> String {
    format!("compress {}:1 at {} dBFS", params.ratio, params.threshold)
}

pub(super) fn build(params: &CompressorParams, context: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Compressor::new(*params, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(params: CompressorParams, left: &mut [f32], right: &mut [f32]) {
        let mut compressor = Compressor::new(params, 48000);
        for (l, r) in left.chunks_mut(4096).zip(right.chunks_mut(4096)) {
            compressor.process(l, r);
        }
    }

    fn sine(level_db: f64, seconds: f64) -> Vec<f32> {
        let amplitude = crate::db_to_gain(level_db);
        (0..(48000.0 * seconds) as usize)
            .map(|i| {
                (amplitude * (std::f64::consts::TAU * 997.0 * i as f64 / 48000.0).sin()) as f32
            })
            .collect()
    }

    fn peak_db(signal: &[f32]) -> f64 {
        20.0 * signal.iter().fold(0.0f32, |m, x| m.max(x.abs())).log10() as f64
    }

    fn rms_db(signal: &[f32]) -> f64 {
        let ms = signal.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / signal.len() as f64;
        10.0 * ms.log10()
    }

    /// The vector paths (AVX-512 or AVX2 where the CPU has them) give the
    /// portable path's bits, over levels that cross the knee both ways.
    #[test]
    fn every_vector_width_gives_the_same_gains() {
        for detect in [Detect::Peak, Detect::Rms] {
            let params = CompressorParams {
                threshold: -24.0,
                ratio: 3.0,
                knee: 6.0,
                attack: 1.0,
                release: 30.0,
                makeup: 2.0,
                detect,
                link: true,
            };
            let values: Vec<f64> = (0..4099)
                .map(|i| {
                    let swell = 0.5 + 0.5 * (i as f64 * 0.003).sin();
                    swell * (i as f64 * 0.37).sin().abs() + 1e-12
                })
                .collect();
            let (mut dispatched, mut portable) = (values.clone(), values);
            Compressor::new(params, 48000).gains(0, &mut dispatched);
            Compressor::new(params, 48000).gains_portable(0, &mut portable);
            assert!(dispatched.iter().any(|g| *g < 0.9 * 2.0), "it compresses");
            let same = dispatched
                .iter()
                .zip(&portable)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{detect:?}: the paths differ");
        }
    }

    #[test]
    fn the_knee_in_selects_asks_what_the_static_curve_asks() {
        for (threshold, ratio, knee) in [(-20.0, 4.0, 0.0), (-18.0, 1.5, 6.0), (-30.0, 100.0, 24.0)] {
            let params = CompressorParams {
                threshold,
                ratio,
                knee,
                ..CompressorParams::default()
            };
            let shape = Knee::of(&params);
            let mut level = -200.0;
            while level < 20.0 {
                let want = level - params.curve(level);
                let got = shape.reduction(level);
                assert!(
                    (got - want).abs() < 1e-12,
                    "{params:?} at {level} dB: {got} against {want}"
                );
                level += 0.0625;
            }
        }
    }

    #[test]
    fn static_curve_matches_threshold_ratio_and_knee_on_steady_sines() {
        for (knee, detect) in [
            (0.0, Detect::Peak),
            (6.0, Detect::Peak),
            (0.0, Detect::Rms),
            (10.0, Detect::Rms),
        ] {
            let params = CompressorParams {
                threshold: -20.0,
                ratio: 4.0,
                attack: 1.0,
                release: 500.0,
                knee,
                makeup: 3.0,
                detect,
                link: true,
            };
            for input in [-40.0, -24.0, -21.0, -20.0, -18.0, -10.0, -3.0] {
                let mut l = sine(input, 2.0);
                let mut r = l.clone();
                run(params, &mut l, &mut r);
                let tail = &l[48000..];
                // The detector sees the peak level (peak) or the RMS level (rms).
                let (measured, detected) = match detect {
                    Detect::Peak => (peak_db(tail), input),
                    Detect::Rms => (rms_db(tail), input - 3.0103),
                };
                let expected = params.curve(detected) + params.makeup;
                assert!(
                    (measured - expected).abs() < 0.2,
                    "{detect:?} knee {knee}: {input} dB in gave {measured:.3}, curve says {expected:.3}"
                );
                assert_eq!(l, r, "linked channels get one gain");
            }
        }
    }

    /// Time for the gain reduction to cover 1 − 1/e of a level step.
    fn time_constant(reduction_db: &[f64], from: f64, to: f64) -> f64 {
        let target = from + (to - from) * (1.0 - (-1.0f64).exp());
        let crossed = reduction_db
            .iter()
            .position(|g| {
                if to > from {
                    *g >= target
                } else {
                    *g <= target
                }
            })
            .expect("the step settles");
        crossed as f64 / 48000.0 * 1000.0
    }

    #[test]
    fn attack_and_release_are_the_stated_time_constants() {
        for (attack, release) in [(5.0, 50.0), (20.0, 200.0)] {
            let params = CompressorParams {
                threshold: -30.0,
                ratio: 4.0,
                attack,
                release,
                ..CompressorParams::default()
            };
            // A level step on a steady magnitude (DC): -40 dB, then -10 dB, then -40 dB.
            let quiet = crate::db_to_gain(-40.0) as f32;
            let loud = crate::db_to_gain(-10.0) as f32;
            let n = 48000;
            let mut input = vec![quiet; n];
            input.extend(vec![loud; n]);
            input.extend(vec![quiet; n]);
            let mut l = input.clone();
            let mut r = input.clone();
            run(params, &mut l, &mut r);
            let reduction: Vec<f64> = l
                .iter()
                .zip(&input)
                .map(|(y, x)| 20.0 * (*x as f64 / *y as f64).log10())
                .collect();
            let full = -10.0 - params.curve(-10.0);
            let measured_attack = time_constant(&reduction[n..2 * n], 0.0, full);
            let measured_release = time_constant(&reduction[2 * n..], full, 0.0);
            assert!(
                (measured_attack / attack - 1.0).abs() < 0.1,
                "attack {measured_attack} ms vs {attack}"
            );
            assert!(
                (measured_release / release - 1.0).abs() < 0.1,
                "release {measured_release} ms vs {release}"
            );
        }
    }

    #[test]
    fn unlinked_channels_compress_apart() {
        let params = CompressorParams {
            threshold: -20.0,
            ratio: 10.0,
            attack: 1.0,
            release: 100.0,
            link: false,
            ..CompressorParams::default()
        };
        let mut l = sine(-6.0, 1.0);
        let mut r = sine(-30.0, 1.0);
        let quiet = r.clone();
        run(params, &mut l, &mut r);
        assert!(peak_db(&l[24000..]) < -17.0);
        assert_eq!(r, quiet, "the quiet side is below threshold and untouched");
    }

    #[test]
    fn ratio_one_is_transparent() {
        let params = CompressorParams {
            threshold: -40.0,
            ..CompressorParams::default()
        };
        assert!(params.is_identity());
        let mut l = sine(-3.0, 0.5);
        let input = l.clone();
        let mut r = l.clone();
        run(params, &mut l, &mut r);
        for (a, b) in l.iter().zip(&input) {
            assert!((a - b).abs() <= 1e-7, "{a} vs {b}");
        }
    }
}
