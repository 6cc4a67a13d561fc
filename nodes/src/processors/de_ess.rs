//! A split-band de-esser: the level of a sibilance band (5 to 9 kHz by
//! default) is read every hop of a short-time transform, and only that
//! band is lowered, by as much as the level stands over the threshold and
//! at most by `reduction`. The rest of the spectrum, and the band itself
//! while it stays under the threshold, pass as they are, so vowels are
//! not dulled the way a wide-band de-esser dulls them.

use super::kind::{Kind, Param};
use super::spectral::{self, Shape, Spectra, Spectral, Stft};
use super::{Processor, ProcessorContext, ProcessorSpec};
use crate::db_to_gain;

/// `de-ess …`: sibilance reduction in its own band.
pub const KIND: Kind = Kind {
    name: "de-ess",
    summary: "split-band sibilance reduction: where the band from `low=` to `high=` is louder than `threshold=` (its RMS, dBFS), that band alone is lowered by the excess, at most by `reduction=`, recovering over `release=`; under the threshold nothing changes",
    params: &[
        Param::property("threshold", "a threshold", "dBFS", -30.0, -80.0, 0.0),
        Param::property("reduction", "the most it lowers the band", "dB", 6.0, 0.0, 40.0),
        Param::property("low", "the band's lower edge", "Hz", 5000.0, 1000.0, 16000.0),
        Param::property("high", "the band's upper edge", "Hz", 9000.0, 2000.0, 20000.0),
        Param::property("release", "a recovery time", "ms", 40.0, 0.0, 1000.0),
    ],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::DeEss {
        threshold: v[0],
        reduction: v[1],
        low: v[2],
        high: v[3],
        release: v[4],
    }),
    in_chain: true,
    example: "de-ess threshold=-32 reduction=6",
};

/// A de-esser's running state: a transform and its band.
pub type DeEsser = Spectral<Band>;

/// What the de-esser does to each frame.
pub struct Band {
    /// Frames in a transform.
    size: usize,
    /// The band's bins, `first..=last`.
    first: usize,
    last: usize,
    threshold: f64,
    reduction: f64,
    /// The reduction's fall per hop (a factor on its dB).
    recovery: f64,
    /// The reduction now, dB ≥ 0.
    current: f64,
}

impl Spectral<Band> {
    pub fn new(
        threshold: f64,
        reduction: f64,
        band: (f64, f64),
        release: f64,
        rate: u32,
    ) -> Self {
        let stft = Stft::new(rate);
        let nyquist = rate as f64 / 2.0;
        let first = stft.bin(band.0.min(nyquist), rate).max(1);
        let last = stft.bin(band.1.min(nyquist), rate).max(first);
        let hop_seconds = stft.hop() as f64 / rate as f64;
        let recovery = if release <= 0.0 {
            0.0
        } else {
            (-hop_seconds / (release / 1000.0)).exp()
        };
        let band = Band {
            size: stft.size(),
            first,
            last,
            threshold,
            reduction,
            recovery,
            current: 0.0,
        };
        Spectral::of(stft, band)
    }
}

impl Shape for Band {
    /// The reduction a frame's band asks for, smoothed: it falls at once
    /// (a sibilant is short) and recovers over the release.
    fn shape(&mut self, spectra: &mut Spectra) {
        let power: f64 = spectra
            .iter()
            .map(|s| {
                s[self.first..=self.last]
                    .iter()
                    .map(|x| x.norm_sqr() as f64)
                    .sum::<f64>()
            })
            .sum::<f64>()
            / 2.0;
        let level = 10.0 * spectral::mean_square(power, self.size).max(1e-30).log10();
        let wanted = (level - self.threshold).clamp(0.0, self.reduction);
        self.current = wanted.max(self.current * self.recovery);
        if self.current < 1e-6 {
            return;
        }
        let gain = db_to_gain(-self.current) as f32;
        for spectrum in spectra.iter_mut() {
            for x in &mut spectrum[self.first..=self.last] {
                *x *= gain;
            }
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`).
pub(super) fn is_identity(_: &f64, reduction: &f64, _: &f64, _: &f64, _: &f64) -> bool {
    *reduction == 0.0
}

pub(super) fn describe(
    threshold: &f64,
    reduction: &f64,
    low: &f64,
    high: &f64,
    _: &f64,
) -> String {
    format!("de-ess {low}–{high} Hz over {threshold} dBFS, at most {reduction} dB")
}

pub(super) fn build(
    threshold: &f64,
    reduction: &f64,
    low: &f64,
    high: &f64,
    release: &f64,
    context: &ProcessorContext,
) -> Box<dyn Processor> {
    Box::new(DeEsser::new(
        *threshold,
        *reduction,
        (*low, *high),
        *release,
        context.sample_rate,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;
    use std::f64::consts::PI;

    const RATE: u32 = 48000;

    /// Sines every `step` Hz from `low` to `high` with phases spread so
    /// they sum to noise-like sound, scaled to an RMS of `rms_db` dBFS.
    fn partials(low: f64, high: f64, step: f64, rms_db: f64, frames: usize) -> Vec<f32> {
        let freqs: Vec<f64> = (0..)
            .map(|i| low + step * i as f64)
            .take_while(|f| *f <= high)
            .collect();
        // Each partial's mean square is a²/2; together they make rms².
        let amplitude = (2.0 * db_to_gain(2.0 * rms_db) / freqs.len() as f64).sqrt();
        (0..frames)
            .map(|n| {
                let t = n as f64 / RATE as f64;
                freqs
                    .iter()
                    .enumerate()
                    .map(|(k, f)| amplitude * (2.0 * PI * f * t + k as f64 * k as f64 * 0.7).sin())
                    .sum::<f64>() as f32
            })
            .collect()
    }

    fn mix(a: &[f32], b: &[f32]) -> Vec<f32> {
        a.iter().zip(b).map(|(x, y)| x + y).collect()
    }

    fn de_essed(signal: &[f32], threshold: f64, reduction: f64) -> Vec<f32> {
        let mut de_esser = DeEsser::new(threshold, reduction, (5000.0, 9000.0), 40.0, RATE);
        super::super::run_aligned(&mut de_esser, signal, 500)
    }

    /// The energy (dB) of `signal` from `low` to `high` Hz, from one
    /// Hann-windowed transform of its middle second.
    fn band_db(signal: &[f32], low: f64, high: f64) -> f64 {
        let size = RATE as usize;
        let start = (signal.len() - size) / 2;
        let mut frame: Vec<f32> = signal[start..start + size]
            .iter()
            .enumerate()
            .map(|(n, x)| x * (0.5 - 0.5 * (2.0 * PI * n as f64 / size as f64).cos()) as f32)
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(size);
        let mut spectrum = fft.make_output_vec();
        fft.process(&mut frame, &mut spectrum).unwrap();
        // One-second frames: bin k is k Hz.
        let energy: f64 = spectrum[low as usize..=high as usize]
            .iter()
            .map(|x| x.norm_sqr() as f64)
            .sum();
        10.0 * energy.log10()
    }

    /// A vowel: a 150 Hz voice's harmonics to 4 kHz, and faint ones in
    /// the sibilance band, 40 dB under the threshold.
    fn vowel(frames: usize) -> Vec<f32> {
        mix(
            &partials(150.0, 4000.0, 150.0, -14.0, frames),
            &partials(5100.0, 8850.0, 150.0, -70.0, frames),
        )
    }

    #[test]
    fn a_sibilant_far_over_the_threshold_loses_the_set_amount() {
        let frames = 2 * RATE as usize;
        let sibilant = partials(5200.0, 8800.0, 37.0, -10.0, frames);
        let out = de_essed(&sibilant, -30.0, 6.0);
        let change = band_db(&out, 5000.0, 9000.0) - band_db(&sibilant, 5000.0, 9000.0);
        assert!((change + 6.0).abs() < 0.1, "band changed by {change} dB");
    }

    #[test]
    fn a_sibilant_just_over_the_threshold_loses_its_excess() {
        let frames = 2 * RATE as usize;
        let sibilant = partials(5200.0, 8800.0, 37.0, -27.0, frames);
        let out = de_essed(&sibilant, -30.0, 6.0);
        let change = band_db(&out, 5000.0, 9000.0) - band_db(&sibilant, 5000.0, 9000.0);
        assert!((change + 3.0).abs() < 0.3, "band changed by {change} dB");
    }

    #[test]
    fn a_vowel_passes_as_it_is() {
        let frames = 2 * RATE as usize;
        let vowel = vowel(frames);
        let out = de_essed(&vowel, -30.0, 6.0);
        for (low, high) in [(100.0, 4100.0), (5000.0, 9000.0)] {
            let change = band_db(&out, low, high) - band_db(&vowel, low, high);
            assert!(change.abs() < 0.01, "{low}–{high} Hz changed by {change} dB");
        }
        let worst = out.iter().zip(&vowel).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-5, "a sample moved by {worst}");
    }

    #[test]
    fn under_a_sibilant_the_voice_below_the_band_is_kept() {
        let frames = 2 * RATE as usize;
        let voiced = vowel(frames);
        let both = mix(&voiced, &partials(5200.0, 8800.0, 37.0, -10.0, frames));
        let out = de_essed(&both, -30.0, 6.0);
        let below = band_db(&out, 100.0, 4100.0) - band_db(&both, 100.0, 4100.0);
        assert!(below.abs() < 0.1, "the voice changed by {below} dB");
        let band = band_db(&out, 5000.0, 9000.0) - band_db(&both, 5000.0, 9000.0);
        assert!((band + 6.0).abs() < 0.1, "the band changed by {band} dB");
    }
}
