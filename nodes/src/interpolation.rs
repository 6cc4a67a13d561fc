//! Reading between samples: the phases of a Kaiser-windowed sinc, and the
//! phases a BS.1770-4 meter uses, over one channel's recent samples. The
//! limiter's detector and the strict true-peak meter share them.

/// Filter taps per phase: long enough to reconstruct close to Nyquist.
pub(crate) const TAPS: usize = 64;

/// The delay of a reading: the interpolated values around sample n are
/// known once TAPS/2 later samples have arrived.
pub(crate) const DETECT_DELAY: usize = TAPS / 2;

/// Where the sample being read sits in a window of TAPS samples.
const CENTRE: usize = TAPS / 2 - 1;

/// One phase: taps over `window[start..start + taps.len()]`. A phase whose
/// taps are mostly zero (the meter's) keeps only the lanes that hold some,
/// cut at multiples of eight so every product lands in the lane it would
/// in the full dot product: the sum is the same to the bit.
#[derive(Clone)]
pub(crate) struct Phase {
    start: usize,
    taps: Vec<f32>,
}

impl Phase {
    fn new(full: [f64; TAPS]) -> Self {
        let first = full.iter().position(|t| *t != 0.0).unwrap_or(0);
        let last = full.iter().rposition(|t| *t != 0.0).unwrap_or(0);
        let start = first / 8 * 8;
        let end = (last + 1).div_ceil(8) * 8;
        Phase {
            start,
            taps: full[start..end].iter().map(|t| *t as f32).collect(),
        }
    }

    /// The interpolated value this phase reads from a window of TAPS samples.
    #[inline]
    pub(crate) fn read(&self, window: &[f32]) -> f32 {
        dot(
            &self.taps,
            &window[self.start..self.start + self.taps.len()],
        )
    }
}

/// A dot product over eight independent sums, which the compiler can keep
/// in vector registers (a single running sum forces one add at a time).
#[inline]
fn dot(taps: &[f32], window: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    for (h, x) in taps.chunks_exact(8).zip(window.chunks_exact(8)) {
        for lane in 0..8 {
            sums[lane] += h[lane] * x[lane];
        }
    }
    sums.iter().sum()
}

/// The magnitude of a window's centre sample.
#[inline]
pub(crate) fn centre(window: &[f32]) -> f32 {
    window[CENTRE].abs()
}

/// The Kaiser phases of `oversample`× interpolation (phase p reads p /
/// oversample after the centre), each paired with p.
pub(crate) fn kaiser_phases(oversample: usize) -> Vec<(usize, Phase)> {
    interpolation_phases(oversample)
        .into_iter()
        .enumerate()
        .map(|(i, taps)| (i + 1, Phase::new(taps)))
        .collect()
}

/// The meter's phases at `rate`.
pub(crate) fn bs1770_phases(rate: u32) -> Vec<Phase> {
    meter_phases(rate).into_iter().map(Phase::new).collect()
}

/// One channel's peak reading: each input sample and the interpolated
/// values after it, by the phases of a Kaiser-windowed sinc and the phases
/// a BS.1770-4 meter uses; `push` returns the largest magnitude around the
/// sample `delay()` samples back.
#[derive(Clone)]
pub struct Interpolator {
    /// In f32: twice the vector width of f64, and its 1e-7 relative error
    /// is far below any margin a ceiling is checked with.
    phases: Vec<Phase>,
    /// The last TAPS samples, written twice so that `[next..next + TAPS]`
    /// is always the window, oldest first.
    history: [f32; 2 * TAPS],
    next: usize,
}

impl Interpolator {
    pub fn new(oversample: usize, rate: u32) -> Self {
        Interpolator {
            phases: kaiser_phases(oversample)
                .into_iter()
                .map(|(_, phase)| phase)
                .chain(bs1770_phases(rate))
                .collect(),
            history: [0.0; 2 * TAPS],
            next: 0,
        }
    }

    pub fn push(&mut self, x: f64) -> f64 {
        let x = x as f32;
        self.history[self.next] = x;
        self.history[self.next + TAPS] = x;
        self.next = (self.next + 1) % TAPS;
        let window = &self.history[self.next..self.next + TAPS];
        let mut peak = centre(window);
        for phase in &self.phases {
            peak = peak.max(phase.read(window).abs());
        }
        peak as f64
    }
}

/// The meter's interpolation phases (BS.1770-4 Annex 2 as libebur128 builds
/// it: 48 taps, Hann window, sinc at the input's Nyquist), laid over the
/// detector's history so each reads a point between the centre sample and
/// the next.
fn meter_phases(rate: u32) -> Vec<[f64; TAPS]> {
    const METER_TAPS: usize = 48;
    let factor = match rate {
        r if r < 96_000 => 4,
        r if r < 192_000 => 2,
        _ => return Vec::new(),
    };
    let coefficient = |j: usize| {
        let j = j as f64;
        let window = METER_TAPS as f64;
        let w = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * j / window).cos());
        let m = j - window / 2.0;
        let x = m * std::f64::consts::PI / factor as f64;
        if m.abs() > 1e-6 {
            w * x.sin() / x
        } else {
            w
        }
    };
    let active = METER_TAPS / factor;
    (0..factor)
        .map(|phase| {
            // Phase p, fed up to sample centre + k, reads the point
            // (24 - p) / factor samples back from its newest sample.
            let newest = CENTRE + (METER_TAPS / 2).div_ceil(factor);
            let mut taps = [0.0; TAPS];
            for t in 0..active {
                taps[newest - t] = coefficient(t * factor + phase);
            }
            taps
        })
        .collect()
}

fn interpolation_phases(oversample: usize) -> Vec<[f64; TAPS]> {
    // A Kaiser-windowed sinc at the input's Nyquist frequency, sampled at
    // 1/OVERSAMPLE steps; phase p interpolates at p/OVERSAMPLE after the
    // centre sample.
    let beta = 8.0;
    let half = (TAPS / 2) as f64;
    let bessel = |x: f64| {
        let mut sum = 1.0;
        let mut term = 1.0;
        for k in 1..30 {
            term *= (x / 2.0 / k as f64).powi(2);
            sum += term;
        }
        sum
    };
    (1..oversample)
        .map(|p| {
            let frac = p as f64 / oversample as f64;
            let mut taps = [0.0; TAPS];
            for (j, tap) in taps.iter_mut().enumerate() {
                // Tap j weighs the sample at offset (j - half + 1) from the centre.
                let t = j as f64 - half + 1.0 - frac;
                let sinc = if t == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t)
                };
                let r = t / half;
                let window = if r.abs() >= 1.0 {
                    0.0
                } else {
                    bessel(beta * (1.0 - r * r).sqrt()) / bessel(beta)
                };
                *tap = sinc * window;
            }
            let sum: f64 = taps.iter().sum();
            taps.iter_mut().for_each(|t| *t /= sum);
            taps
        })
        .collect()
}
