//! Small sources that generate, shift, fit and sum audio.

use crate::{AudioError, BlockSource};

/// A sine on both channels: line-up tones and test signals.
pub struct Tone {
    phase_step: f64,
    amplitude: f64,
    position: u64,
    length: u64,
}

impl Tone {
    /// `level_dbfs` is the peak level.
    pub fn new(sample_rate: u32, freq: f64, level_dbfs: f64, length_frames: u64) -> Self {
        Tone {
            phase_step: std::f64::consts::TAU * freq / sample_rate as f64,
            amplitude: crate::db_to_gain(level_dbfs),
            position: 0,
            length: length_frames,
        }
    }
}

impl BlockSource for Tone {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let frames = (left.len() as u64).min(self.length - self.position) as usize;
        for i in 0..frames {
            // Phase from the absolute position, so no error accumulates.
            let phase = self.phase_step * (self.position + i as u64) as f64;
            let value = (self.amplitude * phase.sin()) as f32;
            left[i] = value;
            right[i] = value;
        }
        self.position += frames as u64;
        Ok(frames)
    }
}

/// Digital silence of a given length.
pub struct Silence {
    remaining: u64,
}

impl Silence {
    pub fn new(frames: u64) -> Self {
        Silence { remaining: frames }
    }
}

impl BlockSource for Silence {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let frames = (left.len() as u64).min(self.remaining) as usize;
        left[..frames].fill(0.0);
        right[..frames].fill(0.0);
        self.remaining -= frames as u64;
        Ok(frames)
    }
}

/// Delays a source by prepending silence.
pub struct Offset<S> {
    inner: S,
    silence: u64,
}

impl<S: BlockSource> Offset<S> {
    pub fn new(inner: S, frames: u64) -> Self {
        Offset {
            inner,
            silence: frames,
        }
    }
}

impl<S: BlockSource> BlockSource for Offset<S> {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        if self.silence > 0 {
            let frames = (left.len() as u64).min(self.silence) as usize;
            left[..frames].fill(0.0);
            right[..frames].fill(0.0);
            self.silence -= frames as u64;
            return Ok(frames);
        }
        self.inner.read(left, right)
    }
}

/// A part of a source: `skip` frames dropped from its start, then at
/// most `take` frames (all the rest without one).
pub struct Trimmed<S> {
    inner: S,
    skip: u64,
    left: Option<u64>,
}

impl<S: BlockSource> Trimmed<S> {
    pub fn new(inner: S, skip: u64, take: Option<u64>) -> Self {
        Trimmed {
            inner,
            skip,
            left: take,
        }
    }
}

impl<S: BlockSource> BlockSource for Trimmed<S> {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        while self.skip > 0 {
            let frames = (left.len() as u64).min(self.skip) as usize;
            let n = self.inner.read(&mut left[..frames], &mut right[..frames])?;
            if n == 0 {
                return Ok(0);
            }
            self.skip -= n as u64;
        }
        let frames = match self.left {
            Some(remaining) => (left.len() as u64).min(remaining) as usize,
            None => left.len(),
        };
        if frames == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut left[..frames], &mut right[..frames])?;
        if let Some(remaining) = &mut self.left {
            *remaining -= n as u64;
        }
        Ok(n)
    }
}

/// Cuts or pads a source to exactly `length` frames.
pub struct Fit<S> {
    inner: S,
    position: u64,
    length: u64,
    inner_done: bool,
}

impl<S: BlockSource> Fit<S> {
    pub fn new(inner: S, length: u64) -> Self {
        Fit {
            inner,
            position: 0,
            length,
            inner_done: false,
        }
    }
}

impl<S: BlockSource> BlockSource for Fit<S> {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let frames = (left.len() as u64).min(self.length - self.position) as usize;
        let mut got = 0;
        while !self.inner_done && got < frames {
            let n = self
                .inner
                .read(&mut left[got..frames], &mut right[got..frames])?;
            if n == 0 {
                self.inner_done = true;
            }
            got += n;
        }
        left[got..frames].fill(0.0);
        right[got..frames].fill(0.0);
        self.position += frames as u64;
        Ok(frames)
    }
}

/// Sums several sources sample by sample, in their given order (so the
/// result is the same on every run), padding shorter ones with silence.
pub struct Mixer {
    inputs: Vec<Box<dyn BlockSource>>,
    done: Vec<bool>,
    scratch: [Vec<f32>; 2],
}

impl Mixer {
    pub fn new(inputs: Vec<Box<dyn BlockSource>>) -> Self {
        let done = vec![false; inputs.len()];
        Mixer {
            inputs,
            done,
            scratch: [Vec::new(), Vec::new()],
        }
    }
}

impl BlockSource for Mixer {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let want = left.len();
        self.scratch[0].resize(want, 0.0);
        self.scratch[1].resize(want, 0.0);
        let mut longest = 0;
        let mut first = true;
        for (input, done) in self.inputs.iter_mut().zip(self.done.iter_mut()) {
            if *done {
                continue;
            }
            let [sl, sr] = &mut self.scratch;
            let got = crate::block::read_full(input.as_mut(), sl, sr)?;
            if got < want {
                *done = true;
                sl[got..].fill(0.0);
                sr[got..].fill(0.0);
            }
            if first {
                left.copy_from_slice(sl);
                right.copy_from_slice(sr);
                first = false;
            } else {
                for (acc, x) in left.iter_mut().zip(sl.iter()) {
                    *acc += *x;
                }
                for (acc, x) in right.iter_mut().zip(sr.iter()) {
                    *acc += *x;
                }
            }
            longest = longest.max(got);
        }
        Ok(longest)
    }
}

/// A source at a fixed gain.
pub struct Scaled<S> {
    inner: S,
    gain: f32,
}

impl<S: BlockSource> Scaled<S> {
    pub fn new(inner: S, gain_db: f64) -> Self {
        Scaled {
            inner,
            gain: crate::db_to_gain(gain_db) as f32,
        }
    }
}

impl<S: BlockSource> BlockSource for Scaled<S> {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let n = self.inner.read(left, right)?;
        if self.gain != 1.0 {
            for x in left[..n].iter_mut().chain(right[..n].iter_mut()) {
                *x *= self.gain;
            }
        }
        Ok(n)
    }
}

/// Writes every block to two sinks.
pub struct Tee<'a> {
    pub first: &'a mut dyn crate::BlockSink,
    pub second: &'a mut dyn crate::BlockSink,
}

impl crate::BlockSink for Tee<'_> {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        self.first.write(left, right)?;
        self.second.write(left, right)
    }
}

/// For tests: a ramp from frame `.0` to `.1`, frame i holding i on the
/// left and −i on the right.
#[cfg(test)]
pub(crate) struct Ramp(pub u64, pub u64);

#[cfg(test)]
impl BlockSource for Ramp {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let n = (left.len() as u64).min(self.1 - self.0) as usize;
        for i in 0..n {
            left[i] = (self.0 + i as u64) as f32;
            right[i] = -left[i];
        }
        self.0 += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(source: &mut dyn BlockSource, block: usize) -> Vec<f32> {
        let (mut l, mut r) = (vec![0.0; block], vec![0.0; block]);
        let mut out = Vec::new();
        loop {
            let n = source.read(&mut l, &mut r).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&l[..n]);
        }
    }

    #[test]
    fn a_trim_keeps_exactly_the_frames_between_its_points() {
        for block in [1, 7, 4096] {
            let kept = all(&mut Trimmed::new(Ramp(0, 10_000), 1234, Some(5000)), block);
            assert_eq!(kept.len(), 5000);
            assert_eq!(kept[0], 1234.0);
            assert_eq!(kept[4999], 6233.0);
            let rest = all(&mut Trimmed::new(Ramp(0, 10_000), 9000, None), block);
            assert_eq!(rest.len(), 1000);
            assert!(all(&mut Trimmed::new(Ramp(0, 100), 500, None), block).is_empty());
        }
    }
}
