//! A short-time Fourier transform for the processors that shape a
//! spectrum (the de-esser, the denoiser): frames of about 21 ms, a hop of
//! a quarter frame, a periodic square-root Hann window on analysis and on
//! synthesis. Their product, a Hann window, sums to 2 at that overlap
//! (Allen and Rabiner, "A unified approach to short-time Fourier analysis
//! and synthesis", Proc. IEEE 65(11), 1977: the constant-overlap-add
//! condition), so a spectrum left as it is gives back the input, delayed
//! by one frame.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// A frame's two spectra, bins 0 to size / 2.
pub type Spectra = [Vec<Complex<f32>>; 2];

/// The running transform of both channels.
pub struct Stft {
    size: usize,
    hop: usize,
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// The last `size` input frames per channel, a ring from `write`.
    history: [Vec<f32>; 2],
    write: usize,
    /// Frames read since the last transform.
    pending: usize,
    /// The overlap-add of the frames' outputs.
    sum: [Vec<f32>; 2],
    /// The `hop` frames of output being handed out.
    ready: [Vec<f32>; 2],
    frame: Vec<f32>,
    spectra: Spectra,
}

impl Stft {
    /// A transform whose frames last about 21 ms at `rate` (1024 at
    /// 44.1 and 48 kHz, 2048 at 88.2 and 96 kHz).
    pub fn new(rate: u32) -> Self {
        let size = ((rate as f64 * 0.0213).round() as usize).next_power_of_two();
        let hop = size / 4;
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(size);
        let inverse = planner.plan_fft_inverse(size);
        let window = (0..size)
            .map(|n| {
                let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / size as f64).cos();
                hann.sqrt() as f32
            })
            .collect();
        let bins = size / 2 + 1;
        Stft {
            size,
            hop,
            window,
            forward,
            inverse,
            history: [vec![0.0; size], vec![0.0; size]],
            write: 0,
            pending: 0,
            sum: [vec![0.0; size], vec![0.0; size]],
            ready: [vec![0.0; hop], vec![0.0; hop]],
            frame: vec![0.0; size],
            spectra: [
                vec![Complex::default(); bins],
                vec![Complex::default(); bins],
            ],
        }
    }

    /// Frames in a transform.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Frames between two transforms.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// The output lags the input by one frame.
    pub fn latency(&self) -> usize {
        self.size
    }

    /// The bin nearest `freq` Hz at `rate`.
    pub fn bin(&self, freq: f64, rate: u32) -> usize {
        ((freq * self.size as f64 / rate as f64).round() as usize).min(self.size / 2)
    }

    /// Runs the transform over a block in place; `shape` changes each
    /// frame's spectra before they are turned back into sound.
    pub fn process(
        &mut self,
        left: &mut [f32],
        right: &mut [f32],
        shape: &mut dyn FnMut(&mut Spectra),
    ) {
        for i in 0..left.len() {
            let position = self.pending;
            let input = [left[i], right[i]];
            left[i] = self.ready[0][position];
            right[i] = self.ready[1][position];
            for (c, x) in input.into_iter().enumerate() {
                self.history[c][self.write] = x;
            }
            self.write = (self.write + 1) % self.size;
            self.pending += 1;
            if self.pending == self.hop {
                self.transform(shape);
                self.pending = 0;
            }
        }
    }

    fn transform(&mut self, shape: &mut dyn FnMut(&mut Spectra)) {
        for c in 0..2 {
            for (n, sample) in self.frame.iter_mut().enumerate() {
                *sample = self.history[c][(self.write + n) % self.size] * self.window[n];
            }
            self.forward
                .process(&mut self.frame, &mut self.spectra[c])
                .expect("the frame and spectrum fit the plan");
        }
        shape(&mut self.spectra);
        // realfft's inverse is unnormalised (× size), and the windows'
        // overlap sums to 2.
        let scale = 0.5 / self.size as f32;
        for c in 0..2 {
            // The inverse needs DC and Nyquist real, as a real signal's are.
            let last = self.spectra[c].len() - 1;
            self.spectra[c][0].im = 0.0;
            self.spectra[c][last].im = 0.0;
            self.inverse
                .process(&mut self.spectra[c], &mut self.frame)
                .expect("the spectrum and frame fit the plan");
            let sum = &mut self.sum[c];
            for (n, sample) in self.frame.iter().enumerate() {
                sum[n] += sample * self.window[n] * scale;
            }
            self.ready[c].copy_from_slice(&sum[..self.hop]);
            sum.rotate_left(self.hop);
            let tail = self.size - self.hop;
            sum[tail..].fill(0.0);
        }
    }
}

/// What a spectral processor does to each frame's spectra.
pub trait Shape: Send {
    fn shape(&mut self, spectra: &mut Spectra);
}

/// A processor that changes the spectra of a running transform: the
/// transform and the [`Shape`] it applies, its latency one frame.
pub struct Spectral<S> {
    stft: Stft,
    shape: S,
}

impl<S: Shape> Spectral<S> {
    pub fn of(stft: Stft, shape: S) -> Self {
        Spectral { stft, shape }
    }
}

impl<S: Shape> super::Processor for Spectral<S> {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let shape = &mut self.shape;
        self.stft
            .process(left, right, &mut |spectra| shape.shape(spectra));
    }

    fn latency(&self) -> usize {
        self.stft.latency()
    }
}

/// The mean square of a signal whose frame of a transform of `size`
/// gave `power` (the sum of its bins' |X|²): by Parseval, with each
/// one-sided bin counted twice and the window's energy (size / 2) taken
/// out.
pub fn mean_square(power: f64, size: usize) -> f64 {
    4.0 * power / (size as f64 * size as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untouched_spectrum_gives_the_input_back_a_frame_later() {
        let mut stft = Stft::new(48000);
        assert_eq!((stft.size(), stft.hop()), (1024, 256));
        let input: Vec<f32> = (0..20_000)
            .map(|i| ((i as f32) * 0.0123).sin() * 0.5 + if i == 3000 { 0.4 } else { 0.0 })
            .collect();
        let mut left = input.clone();
        left.extend(vec![0.0; stft.latency()]);
        let mut right: Vec<f32> = left.iter().map(|x| -x).collect();
        for (l, r) in left.chunks_mut(77).zip(right.chunks_mut(77)) {
            stft.process(l, r, &mut |_| {});
        }
        let latency = stft.latency();
        for (i, x) in input.iter().enumerate() {
            assert!(
                (left[i + latency] - x).abs() < 1e-5,
                "{i}: {} against {x}",
                left[i + latency]
            );
            assert!((right[i + latency] + x).abs() < 1e-5);
        }
    }

    #[test]
    fn a_frames_power_reads_as_the_signals_mean_square() {
        let rate = 48000;
        let mut stft = Stft::new(rate);
        // A sine of amplitude 0.5 (mean square 0.125) on a bin.
        let freq = 30.0 * rate as f64 / stft.size() as f64;
        let mut left: Vec<f32> = (0..8192)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32
            })
            .collect();
        let mut right = left.clone();
        let mut last = 0.0;
        stft.process(&mut left, &mut right, &mut |spectra| {
            last = spectra[0].iter().map(|x| x.norm_sqr() as f64).sum();
        });
        let mean_square = mean_square(last, stft.size());
        assert!((mean_square / 0.125 - 1.0).abs() < 1e-3, "{mean_square}");
    }
}
