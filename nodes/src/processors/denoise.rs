//! Broadband noise reduction by spectral subtraction (Boll, "Suppression
//! of acoustic noise in speech using spectral subtraction", IEEE Trans.
//! ASSP 27(2), 1979), with the over-subtraction and spectral floor of
//! Berouti, Schwartz and Makhoul (ICASSP 1979). The noise's spectrum is
//! learnt from a region the engineer names (a pause, the room before the
//! first word) in a measuring pass before the render. Each bin's gain is
//! 1 − β·noise/signal, at least the floor `amount` sets; the signal's
//! power is smoothed over neighbouring bins and hops and the gain recovers
//! over about 50 ms, which keeps the isolated short-lived peaks of a
//! spectrum ("musical noise") from being let through one at a time.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::kind::{Kind, Param};
use super::spectral::{Shape, Spectra, Spectral, Stft};
use super::{Processor, ProcessorContext};
use crate::{db_to_gain, AudioError, BlockSink};

/// `denoise profile="FROM-TO" amount=…`: broadband noise reduction.
pub const KIND: Kind = Kind {
    name: "denoise",
    summary: "broadband noise reduction: learns the noise's spectrum from `profile=\"FROM-TO\"` (times in the signal the chain receives, seconds or clock times, at least 0.1 s of noise alone) and lowers each frequency by as much as it is noise, by at most `amount=`",
    params: &[Param::property("amount", "the most it lowers noise", "dB", 12.0, 0.0, 40.0)],
    other_props: &["profile"],
    version: 1,
    build: None,
    in_chain: true,
    example: "denoise profile=\"0:00.0-0:00.8\" amount=12",
};

/// A denoiser's settings, as the project states them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DenoiseParams {
    /// dB: the most any frequency is lowered.
    pub amount: f64,
    /// The profile's region, seconds into the chain's input.
    pub from: f64,
    pub to: f64,
}

/// The noise's mean power in each bin of the transform, learnt from the
/// profile's region.
pub type NoiseProfile = Arc<Vec<f32>>;

/// Over-subtraction: a bin must stand this many times over the noise's
/// mean power to pass whole (Berouti et al. use 3 to 6 dB; 2 is 3 dB).
const OVER_SUBTRACTION: f64 = 2.0;
/// Bins either side a signal's power is averaged over (±94 Hz at 48 kHz).
const SPREAD_BINS: usize = 2;
/// The share of the previous hop's power kept when smoothing over time.
const POWER_MEMORY: f32 = 0.5;
/// How long a bin's gain takes to recover 63 % of the way down.
const RECOVERY_SECONDS: f64 = 0.05;

/// Learns a noise profile: a [`BlockSink`] fed the chain's signal up to
/// the denoiser, which keeps the mean power of each bin over the frames
/// that lie wholly in the region.
pub struct NoiseProfiler {
    stft: Stft,
    region: (u64, u64),
    position: u64,
    /// Transforms made of the region's frames so far.
    frames: usize,
    sums: Vec<f64>,
}

impl NoiseProfiler {
    pub fn new(params: &DenoiseParams, rate: u32) -> Self {
        let stft = Stft::new(rate);
        let bins = stft.size() / 2 + 1;
        let frame = |s: f64| (s * rate as f64).round() as u64;
        NoiseProfiler {
            stft,
            region: (frame(params.from), frame(params.to)),
            position: 0,
            frames: 0,
            sums: vec![0.0; bins],
        }
    }

    /// The profile, or why there is none.
    pub fn profile(&self) -> Result<NoiseProfile, AudioError> {
        // The first transforms reach back before the region.
        let whole = self.frames.saturating_sub(self.stft.size() / self.stft.hop() - 1);
        if whole == 0 || self.position < self.region.1 {
            return Err(AudioError::NoiseProfile(format!(
                "its profile, frames {} to {}, must lie in the signal ({} frames) and hold at least {} frames",
                self.region.0,
                self.region.1,
                self.position,
                self.stft.size() + self.stft.hop()
            )));
        }
        Ok(Arc::new(
            self.sums.iter().map(|s| (s / whole as f64) as f32).collect(),
        ))
    }
}

impl BlockSink for NoiseProfiler {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        let start = self.position;
        self.position += left.len() as u64;
        let (from, to) = self.region;
        let first = from.clamp(start, self.position);
        let last = to.clamp(start, self.position);
        if first >= last {
            return Ok(());
        }
        let range = (first - start) as usize..(last - start) as usize;
        let (mut l, mut r) = (left[range.clone()].to_vec(), right[range].to_vec());
        let lead = self.stft.size() / self.stft.hop() - 1;
        let (frames, sums) = (&mut self.frames, &mut self.sums);
        self.stft.process(&mut l, &mut r, &mut |spectra| {
            *frames += 1;
            // Skip the transforms that still hold the zeros before.
            if *frames <= lead {
                return;
            }
            for (k, sum) in sums.iter_mut().enumerate() {
                *sum += (spectra[0][k].norm_sqr() + spectra[1][k].norm_sqr()) as f64 / 2.0;
            }
        });
        Ok(())
    }
}

/// A denoiser's running state: a transform and its gains.
pub type Denoiser = Spectral<NoiseGains>;

/// What the denoiser does to each frame.
pub struct NoiseGains {
    noise: NoiseProfile,
    floor: f32,
    recovery: f32,
    power: Vec<f32>,
    spread: Vec<f32>,
    gains: Vec<f32>,
}

impl Spectral<NoiseGains> {
    pub fn new(params: &DenoiseParams, noise: NoiseProfile, rate: u32) -> Self {
        let stft = Stft::new(rate);
        let bins = noise.len();
        let hop_seconds = stft.hop() as f64 / rate as f64;
        let gains = NoiseGains {
            noise,
            floor: db_to_gain(-params.amount) as f32,
            recovery: (-hop_seconds / RECOVERY_SECONDS).exp() as f32,
            power: vec![0.0; bins],
            spread: vec![0.0; bins],
            gains: vec![1.0; bins],
        };
        Spectral::of(stft, gains)
    }
}

impl Shape for NoiseGains {
    fn shape(&mut self, spectra: &mut Spectra) {
        let bins = self.power.len();
        let [left, right] = spectra;
        for ((power, l), r) in self.power.iter_mut().zip(left.iter()).zip(right.iter()) {
            let now = (l.norm_sqr() + r.norm_sqr()) / 2.0;
            *power = POWER_MEMORY * *power + (1.0 - POWER_MEMORY) * now;
        }
        for k in 0..bins {
            let lo = k.saturating_sub(SPREAD_BINS);
            let hi = (k + SPREAD_BINS).min(bins - 1);
            self.spread[k] = self.power[lo..=hi].iter().sum::<f32>() / (hi - lo + 1) as f32;
        }
        let bins_of = self.gains.iter_mut().zip(&self.spread).zip(self.noise.iter());
        for (((gain, spread), noise), (l, r)) in bins_of.zip(left.iter_mut().zip(right.iter_mut())) {
            let signal = spread.max(1e-30);
            let wanted = (1.0 - OVER_SUBTRACTION as f32 * noise / signal).max(self.floor);
            // Opens at once, closes over the recovery.
            let recovering = *gain * self.recovery + self.floor * (1.0 - self.recovery);
            *gain = wanted.max(recovering).min(1.0);
            *l *= *gain;
            *r *= *gain;
        }
    }
}


/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`).
pub(super) fn is_identity(params: &DenoiseParams, _: &Option<NoiseProfile>) -> bool {
    params.amount == 0.0
}

pub(super) fn describe(params: &DenoiseParams, _: &Option<NoiseProfile>) -> String {
    format!(
        "denoise by up to {} dB (profile {} s to {} s)",
        params.amount, params.from, params.to
    )
}

pub(super) fn build(
    params: &DenoiseParams,
    profile: &Option<NoiseProfile>,
    context: &ProcessorContext,
) -> Box<dyn Processor> {
    let profile = profile
        .clone()
        .expect("the chain runner learns a denoiser's profile before it builds it");
    Box::new(Denoiser::new(params, profile, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;
    use std::f64::consts::PI;

    const RATE: u32 = 48000;

    /// White noise, uniform in ±`peak`, the same every run.
    fn noise(frames: usize, peak: f32) -> Vec<f32> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        (0..frames)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * peak
            })
            .collect()
    }

    /// A voiced vowel: a 150 Hz voice's harmonics to 4 kHz, −20 dBFS RMS.
    fn vowel(frames: usize) -> Vec<f32> {
        let harmonics = 26;
        let amplitude = (2.0 * 0.01 / harmonics as f64).sqrt();
        (0..frames)
            .map(|n| {
                let t = n as f64 / RATE as f64;
                (1..=harmonics)
                    .map(|h| amplitude * (2.0 * PI * 150.0 * h as f64 * t + h as f64).sin())
                    .sum::<f64>() as f32
            })
            .collect()
    }

    /// 1 s of noise alone, 1 s of a vowel in it, 1 s of noise alone.
    fn recording() -> Vec<f32> {
        let second = RATE as usize;
        let mut signal = noise(3 * second, 0.0017); // −60 dBFS RMS
        for (i, v) in vowel(second).iter().enumerate() {
            signal[second + i] += v;
        }
        signal
    }

    fn denoised(signal: &[f32], amount: f64) -> Vec<f32> {
        let params = DenoiseParams {
            amount,
            from: 0.0,
            to: 0.8,
        };
        let mut profiler = NoiseProfiler::new(&params, RATE);
        profiler.write(signal, signal).unwrap();
        let mut denoiser = Denoiser::new(&params, profiler.profile().unwrap(), RATE);
        super::super::run_aligned(&mut denoiser, signal, 700)
    }

    fn rms_db(s: &[f32]) -> f64 {
        10.0 * (s.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / s.len() as f64).log10()
    }

    /// The energy (dB) at the vowel's harmonics, from one Hann-windowed
    /// transform of the second from `start`.
    fn harmonics_db(signal: &[f32], start: usize) -> f64 {
        let size = RATE as usize;
        let mut frame: Vec<f32> = signal[start..start + size]
            .iter()
            .enumerate()
            .map(|(n, x)| x * (0.5 - 0.5 * (2.0 * PI * n as f64 / size as f64).cos()) as f32)
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(size);
        let mut spectrum = fft.make_output_vec();
        fft.process(&mut frame, &mut spectrum).unwrap();
        let energy: f64 = (1..=26)
            .flat_map(|h| [150 * h - 1, 150 * h, 150 * h + 1])
            .map(|k| spectrum[k].norm_sqr() as f64)
            .sum();
        10.0 * energy.log10()
    }

    #[test]
    fn noise_alone_is_lowered_by_the_amount() {
        let signal = recording();
        let out = denoised(&signal, 12.0);
        // The last half second, well after the vowel.
        let tail = 2 * RATE as usize + RATE as usize / 2..3 * RATE as usize;
        let drop = rms_db(&signal[tail.clone()]) - rms_db(&out[tail]);
        assert!((11.0..=12.5).contains(&drop), "the noise fell {drop} dB");
    }

    #[test]
    fn a_voice_in_the_noise_keeps_its_level() {
        let signal = recording();
        let out = denoised(&signal, 12.0);
        let second = RATE as usize;
        let voice = vowel(second);
        let mut clean = vec![0.0f32; 3 * second];
        clean[second..2 * second].copy_from_slice(&voice);
        let change = harmonics_db(&out, second) - harmonics_db(&clean, second);
        assert!(change.abs() < 0.5, "the voice changed by {change} dB");
    }

    #[test]
    fn a_region_outside_the_signal_is_said() {
        let params = DenoiseParams {
            amount: 12.0,
            from: 2.0,
            to: 3.0,
        };
        let mut profiler = NoiseProfiler::new(&params, RATE);
        let signal = noise(RATE as usize, 0.01);
        profiler.write(&signal, &signal).unwrap();
        let error = profiler.profile().unwrap_err().to_string();
        assert!(error.contains("must lie in the signal"), "{error}");
    }
}
