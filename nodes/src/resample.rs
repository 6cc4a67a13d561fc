//! Sample-rate conversion with rubato's synchronous FFT resampler: each
//! chunk is transformed, cut off under the lower Nyquist frequency by a
//! Blackman-Harris²-windowed sinc as long as the chunk, and transformed
//! back at the new rate. Its cost per frame grows with the logarithm of the
//! filter's length, where a sinc interpolator's grows with the length.

use rubato::{FftFixedIn, Resampler};

use crate::block::read_full;
use crate::{AudioError, BlockSource, BLOCK_FRAMES};

/// Changes whenever the resampler's output changes; part of every cache key
/// of a step that resamples.
pub const RESAMPLER_VERSION: u32 = 4;

/// The least length of the transform at the lower rate, which is the
/// length of the sinc there. rubato fits the sinc's cutoff to its length,
/// so the transition band ends at the lower Nyquist frequency: 280 points
/// put the cutoff at 0.95 of it (21 kHz at 44.1 kHz), as the 256-tap sinc
/// before did. A longer sinc keeps more of 21-22 kHz, which LAME's 20.5
/// kHz lowpass then takes out of an MP3: its decoded loudness falls and
/// its peaks move further from the limited file's.
const LOWER_RATE_POINTS: usize = 280;
/// Zero chunks after the input ends; more than the filter's delay needs.
const MAX_FLUSHES: usize = 4;

/// The input frames of one transform: an even number of the smallest
/// whole periods of both rates (160 frames of 48 kHz to 147 of 44.1 kHz),
/// at least [`LOWER_RATE_POINTS`] at the lower rate. rubato centres its
/// sinc on tap n / 2 of as many taps as the chunk has frames, and says its
/// delay is half the output chunk: the two agree, and fall on whole
/// samples, only when the chunk is an even number of periods, so the delay
/// dropped is exactly the filter's.
fn chunk_frames(from: u32, to: u32) -> usize {
    let divisor = gcd(from, to);
    let (period_in, period_out) = ((from / divisor) as usize, (to / divisor) as usize);
    let periods = 2 * LOWER_RATE_POINTS.div_ceil(2 * period_in.min(period_out));
    periods * period_in
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A source resampled to another rate. Its output is aligned with its input
/// (the filter delay is removed) and lasts `ceil(frames × to / from)` frames.
pub struct Resampled<S> {
    inner: S,
    resampler: FftFixedIn<f32>,
    /// Output frames still to drop: the filter's delay.
    skip: usize,
    from: u32,
    to: u32,
    input: [Vec<f32>; 2],
    output: Vec<Vec<f32>>,
    out_pos: usize,
    out_len: usize,
    frames_in: u64,
    frames_out: u64,
    input_done: bool,
    flushes: usize,
}

impl<S: BlockSource> Resampled<S> {
    pub fn new(inner: S, from: u32, to: u32) -> Result<Self, AudioError> {
        let chunk = chunk_frames(from, to);
        let resampler = FftFixedIn::new(from as usize, to as usize, chunk, 1, 2).map_err(|e| {
            AudioError::Resample {
                from,
                to,
                reason: e.to_string(),
            }
        })?;
        let skip = resampler.output_delay();
        let output = resampler.output_buffer_allocate(true);
        Ok(Resampled {
            inner,
            resampler,
            skip,
            from,
            to,
            input: [vec![0.0; chunk], vec![0.0; chunk]],
            output,
            out_pos: 0,
            out_len: 0,
            frames_in: 0,
            frames_out: 0,
            input_done: false,
            flushes: 0,
        })
    }

    /// Output frames owed for the input read so far, once it is all in.
    fn expected_out(&self) -> u64 {
        (self.frames_in * self.to as u64).div_ceil(self.from as u64)
    }

    /// Runs one chunk through the resampler into `output`.
    fn refill(&mut self) -> Result<(), AudioError> {
        let [l, r] = &mut self.input;
        let got = if self.input_done {
            0
        } else {
            read_full(&mut self.inner, l, r)?
        };
        if got < l.len() {
            self.input_done = true;
            l[got..].fill(0.0);
            r[got..].fill(0.0);
        }
        if got == 0 {
            self.flushes += 1;
        }
        self.frames_in += got as u64;
        let (_, produced) = self
            .resampler
            .process_into_buffer(&self.input, &mut self.output, None)
            .map_err(|e| AudioError::Resample {
                from: self.from,
                to: self.to,
                reason: e.to_string(),
            })?;
        let dropped = self.skip.min(produced);
        self.skip -= dropped;
        self.out_pos = dropped;
        self.out_len = produced;
        Ok(())
    }
}

impl<S: BlockSource> BlockSource for Resampled<S> {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let want = left.len().min(BLOCK_FRAMES);
        let mut written = 0;
        while written < want {
            if self.input_done && self.frames_out >= self.expected_out() {
                break;
            }
            if self.out_pos == self.out_len {
                // The filter is finite: a few chunks of zeros flush it.
                if self.flushes > MAX_FLUSHES {
                    break;
                }
                self.refill()?;
                continue;
            }
            let mut take = (self.out_len - self.out_pos).min(want - written);
            if self.input_done {
                take = take.min((self.expected_out() - self.frames_out) as usize);
            }
            let range = self.out_pos..self.out_pos + take;
            left[written..written + take].copy_from_slice(&self.output[0][range.clone()]);
            right[written..written + take].copy_from_slice(&self.output[1][range]);
            self.out_pos += take;
            written += take;
            self.frames_out += take as u64;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tone;

    /// Amplitude and phase-free level of `freq` in `signal` by a single-bin
    /// DFT over a Hann window (window gain corrected).
    pub(super) fn amplitude_at_pub(signal: &[f64], rate: u32, freq: f64) -> f64 {
        let as_f32: Vec<f32> = signal.iter().map(|x| *x as f32).collect();
        amplitude_at(&as_f32, rate, freq)
    }

    fn amplitude_at(signal: &[f32], rate: u32, freq: f64) -> f64 {
        let n = signal.len();
        let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
        for (i, x) in signal.iter().enumerate() {
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos();
            let phase = std::f64::consts::TAU * freq * i as f64 / rate as f64;
            re += *x as f64 * w * phase.cos();
            im += *x as f64 * w * phase.sin();
            wsum += w;
        }
        2.0 * (re * re + im * im).sqrt() / wsum
    }

    fn resample_tone(from: u32, to: u32, freq: f64, seconds: f64) -> Vec<f32> {
        let frames = (from as f64 * seconds) as u64;
        let tone = Tone::new(from, freq, -6.0, frames);
        let mut resampled = Resampled::new(tone, from, to).unwrap();
        let mut out = Vec::new();
        let (mut l, mut r) = (vec![0.0; 1000], vec![0.0; 1000]);
        loop {
            let n = resampled.read(&mut l, &mut r).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&l[..n]);
        }
        let expected = (frames * to as u64).div_ceil(from as u64);
        assert_eq!(out.len() as u64, expected, "length {from}→{to}");
        out
    }

    #[test]
    fn sines_keep_frequency_and_level_across_rates() {
        for (from, to, freq) in [
            (44100, 48000, 1000.0),
            (48000, 44100, 5000.0),
            (96000, 48000, 12000.0),
        ] {
            let out = resample_tone(from, to, freq, 1.0);
            // Skip the edges, where the band-limited start and end ring.
            let middle = &out[to as usize / 10..to as usize * 9 / 10];
            let level = crate::gain_to_db(amplitude_at(middle, to, freq));
            assert!(
                (level + 6.0).abs() < 0.01,
                "{from}→{to} at {freq} Hz: {level} dB"
            );
            // A neighbouring frequency holds nothing: the tone did not move.
            let beside = crate::gain_to_db(amplitude_at(middle, to, freq * 1.01));
            assert!(beside < -60.0, "{from}→{to}: {beside} dB beside the tone");
        }
    }

    #[test]
    fn output_is_time_aligned_with_input() {
        // A sine that starts at phase 0 must still cross zero upward at
        // frame 0 after the delay is removed: compare against the ideal
        // sine. At 997 Hz a fiftieth of a sample off reads over 1.5e-3.
        for (from, to) in [
            (44100, 48000),
            (48000, 44100),
            (96000, 44100),
            (44100, 96000),
            (88200, 48000),
            (192000, 48000),
        ] {
            let out = resample_tone(from, to, 997.0, 0.5);
            let amplitude = crate::db_to_gain(-6.0);
            for i in (to as usize / 10..to as usize * 4 / 10).step_by(97) {
                let t = i as f64 / to as f64;
                let ideal = amplitude * (std::f64::consts::TAU * 997.0 * t).sin();
                assert!(
                    (out[i] as f64 - ideal).abs() < 1.5e-3,
                    "{from}→{to}, frame {i}: {} vs {ideal}",
                    out[i]
                );
            }
        }
    }
}

#[cfg(test)]
mod quality {
    use super::*;
    use crate::Tone;

    fn resample(from: u32, to: u32, freq: f64, level: f64, seconds: f64) -> Vec<f64> {
        let frames = (from as f64 * seconds) as u64;
        let mut r = Resampled::new(Tone::new(from, freq, level, frames), from, to).unwrap();
        let mut out = Vec::new();
        let (mut l, mut rr) = (vec![0.0; 4096], vec![0.0; 4096]);
        loop {
            let n = r.read(&mut l, &mut rr).unwrap();
            if n == 0 {
                break;
            }
            out.extend(l[..n].iter().map(|x| *x as f64));
        }
        out
    }

    fn bessel_i0(x: f64) -> f64 {
        let (mut sum, mut term) = (1.0, 1.0);
        for k in 1..60 {
            term *= (x / 2.0 / k as f64).powi(2);
            sum += term;
        }
        sum
    }

    /// Spectrum (dBFS of a sine's peak) through a Kaiser window, beta 20:
    /// sidelobes under -150 dB, so a -130 dB spur is not window leakage.
    fn spectrum(signal: &[f64]) -> Vec<f64> {
        let n = signal.len();
        let beta = 20.0;
        let w = |i: usize| {
            let r = 2.0 * i as f64 / (n - 1) as f64 - 1.0;
            bessel_i0(beta * (1.0 - r * r).sqrt()) / bessel_i0(beta)
        };
        let wsum: f64 = (0..n).map(w).sum();
        // Naive DFT over bins is slow; use a radix-2 FFT.
        let mut re: Vec<f64> = signal.iter().enumerate().map(|(i, x)| x * w(i)).collect();
        let mut im = vec![0.0; n];
        fft(&mut re, &mut im);
        (0..n / 2)
            .map(|k| 20.0 * (2.0 * re[k].hypot(im[k]) / wsum).log10())
            .collect()
    }

    fn fft(re: &mut [f64], im: &mut [f64]) {
        let n = re.len();
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let ang = -std::f64::consts::TAU / len as f64;
            for start in (0..n).step_by(len) {
                for k in 0..len / 2 {
                    let (s, c) = (ang * k as f64).sin_cos();
                    let (a, b) = (start + k, start + k + len / 2);
                    let tr = re[b] * c - im[b] * s;
                    let ti = re[b] * s + im[b] * c;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            len <<= 1;
        }
    }

    /// The strongest component away from `freq` (±`guard` Hz).
    fn worst_spur(signal: &[f64], rate: u32, freq: f64, guard: f64) -> (f64, f64) {
        let n = 1 << 16;
        let spec = spectrum(&signal[rate as usize / 2..rate as usize / 2 + n]);
        let bin = rate as f64 / n as f64;
        spec.iter()
            .enumerate()
            .filter(|(k, _)| (*k as f64 * bin - freq).abs() > guard)
            .map(|(k, db)| (*db, k as f64 * bin))
            .fold(
                (f64::NEG_INFINITY, 0.0),
                |a, b| if b.0 > a.0 { b } else { a },
            )
    }

    /// Images (upsampling) and aliases (downsampling) of a full-scale sine
    /// stay under -130 dBFS, for the rate pairs users meet; the spectrum of
    /// the output covers the image band and anything folded into the audio
    /// band.
    #[test]
    fn aliases_and_images_stay_under_minus_130_dbfs() {
        let cases = [
            (48000, 44100, 1000.0),
            (48000, 44100, 19000.0),
            // Above the new Nyquist: must vanish, not fold back.
            (48000, 44100, 23000.0),
            (44100, 96000, 1000.0),
            (44100, 96000, 20000.0),
            (44100, 48000, 15000.0),
            (96000, 44100, 30000.0),
            (192000, 48000, 5000.0),
            (88200, 96000, 20000.0),
        ];
        for (from, to, freq) in cases {
            let out = resample(from, to, freq, 0.0, 3.0);
            let kept = if freq < to as f64 / 2.0 { freq } else { -1e9 };
            let (spur, at) = worst_spur(&out, to, kept, 100.0);
            assert!(
                spur < -130.0,
                "{from}→{to}, {freq} Hz: {spur:.1} dBFS at {at:.0} Hz"
            );
        }
    }

    /// The band ends past 20 kHz and before 21.5 kHz at 44.1 kHz (0.95 of
    /// Nyquist, as LOWER_RATE_POINTS sets it): content LAME's lowpass
    /// would take out of an MP3 is not carried into the file's limiter.
    #[test]
    fn the_band_closes_between_20_and_21_5_khz_at_44_1_khz() {
        for (freq, at_least, at_most) in [(20000.0, -0.01, 0.01), (21500.0, -200.0, -20.0)] {
            let out = resample(48000, 44100, freq, 0.0, 1.0);
            let n = out.len();
            let level =
                20.0 * super::tests::amplitude_at_pub(&out[n / 4..3 * n / 4], 44100, freq).log10();
            assert!(
                (at_least..=at_most).contains(&level),
                "{freq} Hz: {level:.2} dB"
            );
        }
    }

    #[test]
    fn passband_is_flat_within_a_hundredth_of_a_db_to_20_khz() {
        for (from, to) in [
            (48000, 44100),
            (44100, 96000),
            (44100, 48000),
            (96000, 48000),
        ] {
            // Third-octaves from 20 Hz, and the band edge itself.
            let frequencies = (0..30)
                .map(|k| 20.0 * 2f64.powf(k as f64 / 3.0))
                .filter(|f| *f < 20000.0);
            for f in frequencies.chain([20000.0]) {
                let out = resample(from, to, f, 0.0, 1.0);
                let n = out.len();
                let level =
                    20.0 * super::tests::amplitude_at_pub(&out[n / 4..3 * n / 4], to, f).log10();
                assert!(
                    level.abs() < 0.01,
                    "{from}→{to} at {f:.0} Hz: {level:.4} dB"
                );
            }
        }
    }
}
