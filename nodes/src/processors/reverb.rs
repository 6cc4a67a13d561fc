//! An algorithmic reverb of the Schroeder–Moorer kind, after Jezar's
//! public-domain Freeverb: eight damped feedback combs in parallel, then
//! four allpasses in series, per channel, the right channel's delays 23
//! samples longer for width.

use super::Processor;

use super::kind::{Kind, Param};
use super::ProcessorSpec;

/// `reverb …`: a Freeverb-class reverberator.
pub const KIND: Kind = Kind {
    name: "reverb",
    summary: "a Freeverb-class reverb (comb and allpass filters); the chain rings out after its input ends",
    params: &[
        Param::property("size", "the room size", "", 0.5, 0.0, 1.0),
        Param::property("damping", "high-frequency damping", "", 0.5, 0.0, 1.0),
        Param::property("mix", "the reverb's share", "", 0.25, 0.0, 1.0),
    ],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::Reverb {
        size: v[0],
        damping: v[1],
        mix: v[2],
    }),
    in_chain: true,
    example: "reverb size=0.6 damping=0.4 mix=0.15",
};

/// Freeverb's tunings, in samples at 44.1 kHz.
const COMBS: [usize; 8] = [1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617];
const ALLPASSES: [usize; 4] = [556, 441, 341, 225];
const STEREO_SPREAD: usize = 23;
const INPUT_GAIN: f32 = 0.015;
const WET_SCALE: f32 = 3.0;
const ALLPASS_FEEDBACK: f32 = 0.5;

struct Comb {
    buffer: Vec<f32>,
    position: usize,
    store: f32,
}

impl Comb {
    fn tick(&mut self, x: f32, feedback: f32, damp: f32) -> f32 {
        let y = self.buffer[self.position];
        self.store = y * (1.0 - damp) + self.store * damp;
        self.buffer[self.position] = x + self.store * feedback;
        self.position = (self.position + 1) % self.buffer.len();
        y
    }
}

struct Allpass {
    buffer: Vec<f32>,
    position: usize,
}

impl Allpass {
    fn tick(&mut self, x: f32) -> f32 {
        let delayed = self.buffer[self.position];
        let y = delayed - x;
        self.buffer[self.position] = x + delayed * ALLPASS_FEEDBACK;
        self.position = (self.position + 1) % self.buffer.len();
        y
    }
}

/// The reverb's running state.
pub struct Reverb {
    combs: [Vec<Comb>; 2],
    allpasses: [Vec<Allpass>; 2],
    feedback: f32,
    damp: f32,
    mix: f32,
}

fn scaled(samples: usize, rate: u32) -> usize {
    ((samples as f64 * rate as f64 / 44100.0).round() as usize).max(1)
}

impl Reverb {
    /// `size`, `damping` and `mix` from 0 to 1.
    pub fn new(size: f64, damping: f64, mix: f64, rate: u32) -> Self {
        let channel = |spread: usize| {
            let combs = COMBS
                .iter()
                .map(|d| Comb {
                    buffer: vec![0.0; scaled(d + spread, rate)],
                    position: 0,
                    store: 0.0,
                })
                .collect();
            let allpasses = ALLPASSES
                .iter()
                .map(|d| Allpass {
                    buffer: vec![0.0; scaled(d + spread, rate)],
                    position: 0,
                })
                .collect();
            (combs, allpasses)
        };
        let (left_combs, left_allpasses) = channel(0);
        let (right_combs, right_allpasses) = channel(STEREO_SPREAD);
        Reverb {
            combs: [left_combs, right_combs],
            allpasses: [left_allpasses, right_allpasses],
            feedback: Self::feedback(size) as f32,
            damp: (damping * 0.4) as f32,
            mix: mix as f32,
        }
    }

    fn feedback(size: f64) -> f64 {
        0.7 + 0.28 * size
    }

    /// Frames until the longest comb has decayed 60 dB.
    pub fn tail_frames(size: f64, rate: u32) -> u64 {
        let per_loop_db = -20.0 * Self::feedback(size).log10();
        let loops = 60.0 / per_loop_db;
        let longest = scaled(COMBS[7] + STEREO_SPREAD, rate) as f64;
        (loops * longest).ceil() as u64
    }
}

impl Processor for Reverb {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let input = (*l + *r) * INPUT_GAIN;
            let mut wet = [0.0f32; 2];
            for (channel, out) in wet.iter_mut().enumerate() {
                let mut sum = 0.0;
                for comb in &mut self.combs[channel] {
                    sum += comb.tick(input, self.feedback, self.damp);
                }
                for allpass in &mut self.allpasses[channel] {
                    sum = allpass.tick(sum);
                }
                *out = sum * WET_SCALE;
            }
            *l = *l * (1.0 - self.mix) + wet[0] * self.mix;
            *r = *r * (1.0 - self.mix) + wet[1] * self.mix;
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`):
/// whether it leaves every sample as it is, its few words for the signal
/// drawing, and its running state.
pub(super) fn is_identity(_: &f64, _: &f64, mix: &f64) -> bool {
    *mix == 0.0
}

pub(super) fn describe(size: &f64, _: &f64, _: &f64) -> String {
    format!("reverb (size {size})")
}

pub(super) fn build(size: &f64, damping: &f64, mix: &f64, context: &super::ProcessorContext) -> Box<dyn Processor> {
    Box::new(Reverb::new(*size, *damping, *mix, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn impulse_response(size: f64, seconds: f64) -> Vec<f32> {
        let rate = 48000;
        let mut reverb = Reverb::new(size, 0.5, 1.0, rate);
        let n = (seconds * rate as f64) as usize;
        let mut l = vec![0.0f32; n];
        l[0] = 1.0;
        let mut r = l.clone();
        for (a, b) in l.chunks_mut(4096).zip(r.chunks_mut(4096)) {
            reverb.process(a, b);
        }
        l
    }

    fn energy_db(signal: &[f32]) -> f64 {
        10.0 * (signal.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / signal.len() as f64)
            .log10()
    }

    #[test]
    fn bigger_rooms_ring_longer_and_tails_decay() {
        let small = impulse_response(0.2, 3.0);
        let large = impulse_response(0.9, 3.0);
        let late = 96000..144000;
        assert!(energy_db(&large[late.clone()]) > energy_db(&small[late]) + 20.0);
        // The tail estimate covers the decay: its last 50 ms are more than
        // 50 dB under the 50 ms after the first reflections.
        let tail = Reverb::tail_frames(0.5, 48000) as usize;
        let ir = impulse_response(0.5, tail as f64 / 48000.0 + 0.1);
        let start = energy_db(&ir[4800..7200]);
        let end = energy_db(&ir[tail - 2400..tail]);
        assert!(start - end > 50.0, "decayed only {} dB", start - end);
    }

    #[test]
    fn dry_mix_is_transparent() {
        let mut reverb = Reverb::new(0.8, 0.5, 0.0, 48000);
        let input: Vec<f32> = (0..4096)
            .map(|i| ((i * 31) % 200) as f32 / 100.0 - 1.0)
            .collect();
        let (mut l, mut r) = (input.clone(), input.clone());
        reverb.process(&mut l, &mut r);
        assert_eq!(l, input);
    }
}
