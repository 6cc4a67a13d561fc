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

/// One phase: its taps over `window[start..start + taps.len()]`, the
/// zero taps at either end left out (the meter's phases are mostly zero).
#[derive(Clone)]
pub(crate) struct Phase {
    start: usize,
    taps: Vec<f32>,
}

impl Phase {
    fn new(full: [f64; TAPS]) -> Self {
        let first = full.iter().position(|t| *t != 0.0).unwrap_or(0);
        let last = full.iter().rposition(|t| *t != 0.0).unwrap_or(0);
        Phase {
            start: first,
            taps: full[first..=last].iter().map(|t| *t as f32).collect(),
        }
    }

    /// The most this phase can read, relative to the largest magnitude in
    /// its window: the sum of its taps' magnitudes.
    pub(crate) fn gain(&self) -> f32 {
        self.taps.iter().map(|t| t.abs()).sum()
    }
}

/// Frames read together in one vector of sums: an AVX register of f32,
/// or an AVX-512 one.
const LANES: usize = 8;
const LANES_512: usize = 16;

/// For every frame j of `peaks`, raises `peaks[j]` to the magnitude each of
/// `phases` reads from the window `history[j + 1..j + 1 + TAPS]`, so
/// `history` holds TAPS samples before the frames read.
///
/// Each reading sums its taps in order, one frame per lane, so a reading
/// does not depend on where its frame falls in a block nor on how many
/// lanes a vector holds, and every path below (portable, AVX, AVX-512)
/// adds the same products in the same order: the same bits on every
/// machine. Rust never fuses a multiply and an add.
pub(crate) fn read_phases(phases: &[Phase], history: &[f32], peaks: &mut [f32]) {
    assert!(
        history.len() >= peaks.len() + TAPS,
        "history holds TAPS more"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            #[allow(unsafe_code)]
            unsafe {
                read_phases_avx512(phases, history, peaks)
            };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX, checked just above.
            #[allow(unsafe_code)]
            unsafe {
                read_phases_avx(phases, history, peaks)
            };
            return;
        }
    }
    read_phases_portable::<LANES>(phases, history, peaks);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn read_phases_avx(phases: &[Phase], history: &[f32], peaks: &mut [f32]) {
    read_phases_portable::<LANES>(phases, history, peaks);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn read_phases_avx512(phases: &[Phase], history: &[f32], peaks: &mut [f32]) {
    read_phases_portable::<LANES_512>(phases, history, peaks);
}

/// Reads `L` frames to a vector, four vectors at a time: independent
/// additions, so the next can start before the last has finished (one
/// vector alone waits on each).
#[inline(always)]
fn read_phases_portable<const L: usize>(phases: &[Phase], history: &[f32], peaks: &mut [f32]) {
    let wide = 4 * L;
    for phase in phases {
        let taps = phase.taps.as_slice();
        let from = &history[phase.start + 1..];
        let whole = peaks.len() / wide * wide;
        let (head, rest) = peaks.split_at_mut(whole);
        for (group, out) in head.chunks_exact_mut(wide).enumerate() {
            read_wide::<L>(taps, &from[group * wide..], out);
        }
        let lanes = rest.len() / L * L;
        let (middle, tail) = rest.split_at_mut(lanes);
        for (group, out) in middle.chunks_exact_mut(L).enumerate() {
            read_lanes::<L>(taps, &from[whole + group * L..], out);
        }
        for (j, out) in tail.iter_mut().enumerate() {
            let sum = taps
                .iter()
                .zip(&from[whole + lanes + j..])
                .fold(0.0f32, |sum, (h, x)| sum + h * x);
            *out = out.max(sum.abs());
        }
    }
}

/// The readings of `4 L` frames by one phase, from `from[0..]`.
#[inline(always)]
fn read_wide<const L: usize>(taps: &[f32], from: &[f32], out: &mut [f32]) {
    let x = &from[..taps.len() + 4 * L - 1];
    let (mut s0, mut s1, mut s2, mut s3) = ([0.0f32; L], [0.0; L], [0.0; L], [0.0; L]);
    for (k, h) in taps.iter().enumerate() {
        let w = &x[k..k + 4 * L];
        for lane in 0..L {
            s0[lane] += h * w[lane];
            s1[lane] += h * w[L + lane];
            s2[lane] += h * w[2 * L + lane];
            s3[lane] += h * w[3 * L + lane];
        }
    }
    let out = &mut out[..4 * L];
    for lane in 0..L {
        out[lane] = out[lane].max(s0[lane].abs());
        out[L + lane] = out[L + lane].max(s1[lane].abs());
        out[2 * L + lane] = out[2 * L + lane].max(s2[lane].abs());
        out[3 * L + lane] = out[3 * L + lane].max(s3[lane].abs());
    }
}

/// The readings of `L` frames by one phase, from `from[0..]`.
#[inline(always)]
fn read_lanes<const L: usize>(taps: &[f32], from: &[f32], out: &mut [f32]) {
    let x = &from[..taps.len() + L - 1];
    let mut sums = [0.0f32; L];
    for (k, h) in taps.iter().enumerate() {
        let w = &x[k..k + L];
        for lane in 0..L {
            sums[lane] += h * w[lane];
        }
    }
    let out = &mut out[..L];
    for lane in 0..L {
        out[lane] = out[lane].max(sums[lane].abs());
    }
}

/// Raises `peaks[j]` to the magnitude of frame j's own sample, the centre
/// of its window (see [`read_phases`]).
pub(crate) fn read_centres(history: &[f32], peaks: &mut [f32]) {
    for (peak, x) in peaks.iter_mut().zip(&history[CENTRE + 1..]) {
        *peak = peak.max(x.abs());
    }
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

/// The Kaiser phases of `oversample`× interpolation in two sets: the
/// points on a grid of `grid` a sample, with the BS.1770 meter's phases at
/// `rate` (read everywhere), and the points between them (read only where
/// the grid comes close to what is sought).
pub(crate) fn grid_phases(oversample: usize, grid: usize, rate: u32) -> (Vec<Phase>, Vec<Phase>) {
    let (on_grid, between): (Vec<_>, Vec<_>) = kaiser_phases(oversample)
        .into_iter()
        .partition(|(p, _)| p % (oversample / grid) == 0);
    let phases = |set: Vec<(usize, Phase)>| set.into_iter().map(|(_, phase)| phase);
    (
        phases(on_grid).chain(bs1770_phases(rate)).collect(),
        phases(between).collect(),
    )
}

/// Hands `read` each block of up to `block` frames of `samples`, behind
/// the TAPS samples before it: `read` gets `history` (the last TAPS
/// samples, then the block) and the block's length; `history` keeps the
/// last TAPS for the next call.
pub(crate) fn read_in_blocks(
    history: &mut Vec<f32>,
    samples: &[f32],
    block: usize,
    mut read: impl FnMut(&[f32], usize),
) {
    for chunk in samples.chunks(block) {
        history.extend_from_slice(chunk);
        read(history, chunk.len());
        history.drain(..chunk.len());
    }
}

/// The meter's phases at `rate`.
pub(crate) fn bs1770_phases(rate: u32) -> Vec<Phase> {
    meter_phases(rate).into_iter().map(Phase::new).collect()
}

/// One channel's peak reading, block by block: each input sample and the
/// interpolated values after it, by the phases of a Kaiser-windowed sinc
/// and the phases a BS.1770-4 meter uses. The reading for a sample comes
/// with the sample `DETECT_DELAY` later.
#[derive(Clone)]
pub struct Interpolator {
    /// In f32: twice the vector width of f64, and its 1e-7 relative error
    /// is far below any margin a ceiling is checked with.
    phases: Vec<Phase>,
    /// The last TAPS samples, then the block being read.
    history: Vec<f32>,
}

impl Interpolator {
    pub fn new(oversample: usize, rate: u32) -> Self {
        Interpolator {
            phases: kaiser_phases(oversample)
                .into_iter()
                .map(|(_, phase)| phase)
                .chain(bs1770_phases(rate))
                .collect(),
            history: vec![0.0; TAPS],
        }
    }

    /// Appends to `peaks` one reading per sample of `samples`: the largest
    /// magnitude around the sample `DETECT_DELAY` before it.
    pub fn read(&mut self, samples: &[f32], peaks: &mut Vec<f32>) {
        let from = peaks.len();
        self.history.extend_from_slice(samples);
        peaks.resize(from + samples.len(), 0.0);
        read_centres(&self.history, &mut peaks[from..]);
        read_phases(&self.phases, &self.history, &mut peaks[from..]);
        self.history.drain(..samples.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path reads the same bits: vectors of 8 and of 16 frames, and
    /// the one the CPU is given, on blocks whose length leaves frames
    /// outside whole vectors, through the Kaiser and the meter's phases.
    #[test]
    fn every_vector_width_reads_the_same_bits() {
        let mut state = 5u64;
        let history: Vec<f32> = (0..TAPS + 1000)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        let phases: Vec<Phase> = kaiser_phases(8)
            .into_iter()
            .map(|(_, phase)| phase)
            .chain(bs1770_phases(44100))
            .collect();
        for frames in [1, 7, 8, 15, 16, 33, 64, 100, 1000] {
            let history = &history[..TAPS + frames];
            let read = |f: &dyn Fn(&mut [f32])| {
                let mut peaks = vec![0.0f32; frames];
                f(&mut peaks);
                peaks.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
            };
            let eight = read(&|p| read_phases_portable::<LANES>(&phases, history, p));
            let sixteen = read(&|p| read_phases_portable::<LANES_512>(&phases, history, p));
            let dispatched = read(&|p| read_phases(&phases, history, p));
            assert_eq!(eight, sixteen, "{frames} frames");
            assert_eq!(eight, dispatched, "{frames} frames");
            assert!(eight.iter().all(|b| *b != 0));
        }
    }
}
