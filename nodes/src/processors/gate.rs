//! A noise gate as a downward expander with a range (the attenuation it
//! applies when closed), after the gate of Reiss and McPherson, "Audio
//! Effects: Theory, Implementation and Application" (CRC 2015), §6.2: a
//! peak detector, a threshold with hysteresis (it opens at the threshold
//! and closes only under threshold − hysteresis), a hold before it closes,
//! and a gain that ramps linearly in dB, over `attack` to open and over
//! `release` to close. The detector reads the signal `lookahead` ahead of
//! the gain, so a word's onset arrives with the gate already open.

use serde::{Deserialize, Serialize};

use super::kind::{Kind, Param};
use super::{Processor, ProcessorContext, ProcessorSpec};
use crate::db_to_gain;

/// `gate …`: a downward expander for the pauses between words.
pub const KIND: Kind = Kind {
    name: "gate",
    summary: "a downward expander for pauses: under `threshold=` (peak, dBFS) the signal is lowered by `range=`; it opens over `attack=` and, once the level falls `hysteresis=` under the threshold, holds for `hold=` and closes over `release=`; the detector looks `lookahead=` ahead, so a word's onset meets an open gate",
    params: &[
        Param::property("threshold", "a threshold", "dBFS", -50.0, -100.0, 0.0),
        Param::property("range", "the gain when closed", "dB", -20.0, -100.0, 0.0),
        Param::property("attack", "an opening time", "ms", 2.0, 0.0, 500.0),
        Param::property("hold", "a hold time", "ms", 100.0, 0.0, 5000.0),
        Param::property("release", "a closing time", "ms", 150.0, 0.0, 5000.0),
        Param::property(
            "hysteresis",
            "how far under the threshold it closes",
            "dB",
            4.0,
            0.0,
            40.0,
        ),
        Param::property("lookahead", "a lookahead", "ms", 5.0, 0.0, 50.0),
    ],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::Gate {
        params: GateParams::from_numbers(v),
    }),
    in_chain: true,
    example: "gate threshold=-45 range=-18 hold=120 release=200",
};

/// A gate's settings, as the project states them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GateParams {
    /// dBFS, the peak level at which it opens.
    pub threshold: f64,
    /// dB (≤ 0): the gain while closed.
    pub range: f64,
    /// Milliseconds to open fully, from `range` to 0 dB.
    pub attack: f64,
    /// Milliseconds it stays open after the level falls under the
    /// closing level.
    pub hold: f64,
    /// Milliseconds to close fully, from 0 dB to `range`.
    pub release: f64,
    /// dB under the threshold at which it closes.
    pub hysteresis: f64,
    /// Milliseconds the detector reads ahead of the gain.
    pub lookahead: f64,
}

impl GateParams {
    /// From its registry numbers, in their order.
    pub fn from_numbers(v: &[f64]) -> Self {
        GateParams {
            threshold: v[0],
            range: v[1],
            attack: v[2],
            hold: v[3],
            release: v[4],
            hysteresis: v[5],
            lookahead: v[6],
        }
    }
}

/// The peak detector's fall: 20 ms keeps it over the closing level
/// between the peaks of a voice's lowest fundamental (about 80 Hz).
const DETECTOR_FALL_SECONDS: f64 = 0.020;

/// A gate's running state.
pub struct Gate {
    open_level: f64,
    close_level: f64,
    range_db: f64,
    /// dB per frame while opening and closing.
    open_step: f64,
    close_step: f64,
    hold_frames: u64,
    fall: f64,
    envelope: f64,
    open: bool,
    hold_left: u64,
    gain_db: f64,
    gain: f64,
    /// The audio waiting for its gain, `lookahead` frames per channel.
    delay: [Vec<f32>; 2],
    position: usize,
}

impl Gate {
    pub fn new(params: GateParams, rate: u32) -> Self {
        let frames = |ms: f64| (ms / 1000.0 * rate as f64).round();
        let step = |ms: f64| {
            let frames = frames(ms);
            if frames < 1.0 {
                f64::INFINITY
            } else {
                -params.range / frames
            }
        };
        let lookahead = frames(params.lookahead) as usize;
        Gate {
            open_level: db_to_gain(params.threshold),
            close_level: db_to_gain(params.threshold - params.hysteresis),
            range_db: params.range,
            open_step: step(params.attack),
            close_step: step(params.release),
            hold_frames: frames(params.hold) as u64,
            fall: (-1.0 / (DETECTOR_FALL_SECONDS * rate as f64)).exp(),
            envelope: 0.0,
            // Closed until the signal says otherwise.
            open: false,
            hold_left: 0,
            gain_db: params.range,
            gain: db_to_gain(params.range),
            delay: [vec![0.0; lookahead], vec![0.0; lookahead]],
            position: 0,
        }
    }

    /// Moves the detector and the gain on by one frame whose louder
    /// channel peaks at `level`; returns the gain for the frame.
    fn next_gain(&mut self, level: f64) -> f64 {
        self.envelope = level.max(self.envelope * self.fall);
        if self.envelope >= self.open_level {
            self.open = true;
            self.hold_left = self.hold_frames;
        } else if self.open && self.envelope < self.close_level {
            if self.hold_left > 0 {
                self.hold_left -= 1;
            } else {
                self.open = false;
            }
        } else if self.open {
            // Between the two levels: still speaking.
            self.hold_left = self.hold_frames;
        }
        let target = if self.open { 0.0 } else { self.range_db };
        let moved = if self.gain_db < target {
            (self.gain_db + self.open_step).min(target)
        } else if self.gain_db > target {
            (self.gain_db - self.close_step).max(target)
        } else {
            return self.gain;
        };
        self.gain_db = moved;
        self.gain = db_to_gain(moved);
        self.gain
    }
}

impl Processor for Gate {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let length = self.delay[0].len();
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let level = l.abs().max(r.abs()) as f64;
            let gain = self.next_gain(level);
            let (dl, dr) = if length == 0 {
                (*l, *r)
            } else {
                let delayed = (self.delay[0][self.position], self.delay[1][self.position]);
                self.delay[0][self.position] = *l;
                self.delay[1][self.position] = *r;
                self.position = (self.position + 1) % length;
                delayed
            };
            *l = (dl as f64 * gain) as f32;
            *r = (dr as f64 * gain) as f32;
        }
    }

    fn latency(&self) -> usize {
        self.delay[0].len()
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`).
pub(super) fn is_identity(params: &GateParams) -> bool {
    params.range == 0.0
}

pub(super) fn describe(params: &GateParams) -> String {
    format!(
        "gate under {} dBFS by {} dB",
        params.threshold, params.range
    )
}

pub(super) fn build(params: &GateParams, context: &ProcessorContext) -> Box<dyn Processor> {
    Box::new(Gate::new(*params, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gain_to_db;

    const RATE: u32 = 48000;

    fn params() -> GateParams {
        GateParams::from_numbers(&[-40.0, -20.0, 2.0, 50.0, 100.0, 6.0, 5.0])
    }

    /// Runs `signal` (both channels) through a gate, its latency removed.
    fn gated(params: GateParams, signal: &[f32]) -> Vec<f32> {
        super::super::run_aligned(&mut Gate::new(params, RATE), signal, 333)
    }

    fn rms_db(s: &[f32]) -> f64 {
        let mean = s.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / s.len() as f64;
        10.0 * mean.log10()
    }

    /// Deterministic noise, uniform in ±`peak`.
    fn noise(frames: usize, peak: f64) -> Vec<f32> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..frames)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * peak as f32
            })
            .collect()
    }

    fn tone(frames: usize, db: f64) -> Vec<f32> {
        let amplitude = db_to_gain(db);
        (0..frames)
            .map(|i| (amplitude * (2.0 * std::f64::consts::PI * 220.0 * i as f64 / RATE as f64).sin()) as f32)
            .collect()
    }

    /// Noise at −60 dBFS, a word (a tone at −12 dBFS) from 0.5 s to 1 s,
    /// then noise again.
    fn word_in_noise() -> Vec<f32> {
        let mut signal = noise(2 * RATE as usize, db_to_gain(-60.0));
        let word = tone(RATE as usize / 2, -12.0);
        for (i, w) in word.iter().enumerate() {
            signal[RATE as usize / 2 + i] += w;
        }
        signal
    }

    #[test]
    fn pauses_are_lowered_by_the_range() {
        let signal = word_in_noise();
        let out = gated(params(), &signal);
        // Before the word (less its lookahead and attack) and well after
        // it (past hold and release), the gate is closed.
        for span in [0..20_000, 60_000..96_000] {
            let drop = rms_db(&signal[span.clone()]) - rms_db(&out[span.clone()]);
            assert!((drop - 20.0).abs() < 0.01, "{span:?}: {drop} dB");
        }
    }

    #[test]
    fn a_words_onset_passes_whole() {
        let signal = word_in_noise();
        let out = gated(params(), &signal);
        // The first 10 ms of the word: the lookahead opened the gate.
        let onset = 24_000..24_480;
        let change = rms_db(&out[onset.clone()]) - rms_db(&signal[onset]);
        assert!(change.abs() < 0.01, "onset changed by {change} dB");
        let word = 24_000..48_000;
        let change = rms_db(&out[word.clone()]) - rms_db(&signal[word]);
        assert!(change.abs() < 0.01, "word changed by {change} dB");
    }

    #[test]
    fn it_holds_then_closes_over_its_release() {
        let signal = word_in_noise();
        let out = gated(params(), &signal);
        let gain_at = |frame: usize| gain_to_db((out[frame] / signal[frame]) as f64);
        // The detector falls under −46 dBFS about 12 dB / (20 ms) later;
        // then 50 ms of hold at 0 dB, then 100 ms to −20 dB.
        let end = 48_000;
        let fall = (DETECTOR_FALL_SECONDS * RATE as f64 * (34.0_f64 / 8.686)) as usize;
        let hold_end = end + fall + 2400;
        // The estimate of the fall is good to a cycle of the tone and the
        // lookahead, under 500 frames.
        assert!(gain_at(hold_end - 500).abs() < 1e-6);
        let mid_release = gain_at(hold_end + 2400);
        assert!((-15.0..-5.0).contains(&mid_release), "{mid_release}");
        assert!((gain_at(hold_end + 4800 + 500) + 20.0).abs() < 1e-6);
    }

    #[test]
    fn between_its_levels_it_keeps_its_state() {
        // −43 dBFS lies between the opening (−40) and closing (−46) levels.
        let mut signal = tone(RATE as usize / 2, -12.0);
        signal.extend(tone(RATE as usize, -43.0));
        let out = gated(params(), &signal);
        let tail = 30_000..72_000;
        let change = rms_db(&out[tail.clone()]) - rms_db(&signal[tail]);
        assert!(change.abs() < 0.01, "a still-open gate changed it by {change}");
        // The same level from a closed gate stays closed.
        let quiet = tone(RATE as usize, -43.0);
        let out = gated(params(), &quiet);
        let change = rms_db(&out[4800..]) - rms_db(&quiet[4800..]);
        assert!((change + 20.0).abs() < 0.01, "{change}");
    }

    #[test]
    fn no_range_is_no_gate() {
        let mut p = params();
        p.range = 0.0;
        assert!(is_identity(&p));
        assert!(!is_identity(&params()));
    }
}
