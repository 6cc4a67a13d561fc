//! A slow leveller for speech: its gain rides toward the gain that brings
//! a 3 s window of the voice (BS.1770's short-term window, centred on the
//! sample the gain falls on) to a target loudness. Only the window's
//! 100 ms blocks louder than `silence=` count, and of those the ones
//! within 10 LU of their mean (BS.1770-4's relative gate); a window of
//! less than a second of voice leaves the gain where it is, so a
//! pause neither pumps the gain up nor moves it at all; the gain changes
//! at most `rate=` dB a second and stays within `max-gain=` and
//! `max-cut=`. The detector reads 1.5 s ahead of the gain, which is the
//! leveller's latency.

use super::kind::{Kind, Param};
use super::{Processor, ProcessorContext, ProcessorSpec};
use crate::db_to_gain;
use crate::measure::blocks::{self, BlockMeter};

/// `level TARGET …`: make a voice equally loud throughout.
pub const KIND: Kind = Kind {
    name: "level",
    summary: "a slow leveller: rides the gain toward bringing the short-term loudness (3 s, centred) to a target, counting only its 100 ms blocks louder than `silence=` and within 10 LU of their mean (a window with under 1 s of voice holds the gain), changing at most `rate=` dB a second, within `max-gain=` and `max-cut=`; it starts at the gain the first words ask",
    params: &[
        Param::argument("a loudness in LUFS", "LUFS", -60.0, -5.0),
        Param::property("max-gain", "the most it raises", "dB", 15.0, 0.0, 40.0),
        Param::property("max-cut", "the most it lowers", "dB", 15.0, 0.0, 40.0),
        Param::property("rate", "the fastest it moves", "dB/s", 3.0, 0.1, 60.0),
        Param::property(
            "silence",
            "the loudness of a pause",
            "LUFS",
            -50.0,
            -90.0,
            -10.0,
        ),
    ],
    other_props: &[],
    version: 1,
    build: Some(|v| ProcessorSpec::Level {
        lufs: v[0],
        max_gain: v[1],
        max_cut: v[2],
        rate: v[3],
        silence: v[4],
    }),
    in_chain: true,
    example: "level -18 max-gain=12 rate=2",
};

/// Blocks of 100 ms in the short-term window (EBU Tech 3341: 3 s).
const WINDOW_BLOCKS: usize = 30;
/// A window moves the gain only when it holds at least a second of
/// voice: the last words before a pause are too few to judge by.
const MIN_VOICED_BLOCKS: usize = 10;
/// BS.1770-4's relative gate, LU under the voiced blocks' mean.
const RELATIVE_GATE_LU: f64 = -10.0;

/// A leveller's settings.
#[derive(Debug, Clone, Copy)]
pub struct LevelParams {
    pub lufs: f64,
    pub max_gain: f64,
    pub max_cut: f64,
    /// dB a second.
    pub rate: f64,
    /// LUFS.
    pub silence: f64,
}

/// A leveller's running state.
pub struct Leveller {
    params: LevelParams,
    meter: BlockMeter,
    /// The gain's largest move in one frame, dB.
    step: f64,
    /// The gain the window asks, once a voice has been heard.
    wanted: Option<f64>,
    gain_db: f64,
    gain: f64,
    /// The audio waiting for its gain, half a window per channel.
    delay: [Vec<f32>; 2],
    position: usize,
}

impl Leveller {
    pub fn new(params: LevelParams, rate: u32) -> Self {
        let meter = BlockMeter::stereo(rate, false).expect("a chain's rate is one a meter reads");
        let lookahead = meter.step() * WINDOW_BLOCKS / 2;
        Leveller {
            params,
            meter,
            step: params.rate / rate as f64,
            wanted: None,
            gain_db: 0.0,
            gain: 1.0,
            delay: [vec![0.0; lookahead], vec![0.0; lookahead]],
            position: 0,
        }
    }

    /// The gain the newest window asks, or `None` if it holds no voice.
    fn window_gain(&self) -> Option<f64> {
        let energies = self.meter.energies();
        let last = energies.len().checked_sub(1)?;
        let silence = blocks::energy(self.params.silence);
        let first = (last + 1).saturating_sub(WINDOW_BLOCKS);
        let voiced: Vec<f64> = energies[first..=last]
            .iter()
            .copied()
            .filter(|&e| e > silence)
            .collect();
        if voiced.len() < MIN_VOICED_BLOCKS {
            return None;
        }
        // BS.1770-4's relative gate, within the window: a word's tail and
        // a breath do not pull the reading down.
        let mean = voiced.iter().sum::<f64>() / voiced.len() as f64;
        let gate = mean * 10f64.powf(RELATIVE_GATE_LU / 10.0);
        let kept: Vec<f64> = voiced.into_iter().filter(|&e| e > gate).collect();
        let loudness = blocks::loudness(kept.iter().sum::<f64>() / kept.len() as f64);
        Some((self.params.lufs - loudness).clamp(-self.params.max_cut, self.params.max_gain))
    }

    /// Moves the gain one frame toward what is wanted.
    fn next_gain(&mut self) -> f64 {
        let Some(wanted) = self.wanted else {
            return self.gain;
        };
        if self.gain_db == wanted {
            return self.gain;
        }
        self.gain_db = if self.gain_db < wanted {
            (self.gain_db + self.step).min(wanted)
        } else {
            (self.gain_db - self.step).max(wanted)
        };
        self.gain = db_to_gain(self.gain_db);
        self.gain
    }
}

impl Processor for Leveller {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let length = self.delay[0].len();
        let step = self.meter.step();
        let mut start = 0;
        while start < left.len() {
            // Up to the next block's end, so each new window is read as it
            // closes.
            let end = (start + step - self.meter.pending()).min(left.len());
            let closed = self
                .meter
                .write(&[&left[start..end], &right[start..end]])
                .expect("two channels of one length");
            if closed > 0 {
                if let Some(gain) = self.window_gain() {
                    if self.wanted.is_none() {
                        // The first words: start where they ask.
                        self.gain_db = gain;
                        self.gain = db_to_gain(gain);
                    }
                    self.wanted = Some(gain);
                }
            }
            for i in start..end {
                let gain = self.next_gain();
                let delayed = (self.delay[0][self.position], self.delay[1][self.position]);
                self.delay[0][self.position] = left[i];
                self.delay[1][self.position] = right[i];
                self.position = (self.position + 1) % length;
                left[i] = (delayed.0 as f64 * gain) as f32;
                right[i] = (delayed.1 as f64 * gain) as f32;
            }
            start = end;
        }
    }

    fn latency(&self) -> usize {
        self.delay[0].len()
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`).
pub(super) fn is_identity(_: &f64, max_gain: &f64, max_cut: &f64, _: &f64, _: &f64) -> bool {
    *max_gain == 0.0 && *max_cut == 0.0
}

pub(super) fn describe(lufs: &f64, _: &f64, _: &f64, rate: &f64, _: &f64) -> String {
    format!("level to {lufs} LUFS at {rate} dB/s")
}

pub(super) fn build(
    lufs: &f64,
    max_gain: &f64,
    max_cut: &f64,
    rate: &f64,
    silence: &f64,
    context: &ProcessorContext,
) -> Box<dyn Processor> {
    let params = LevelParams {
        lufs: *lufs,
        max_gain: *max_gain,
        max_cut: *max_cut,
        rate: *rate,
        silence: *silence,
    };
    Box::new(Leveller::new(params, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BlockSink, LoudnessMeter};

    const RATE: u32 = 48000;

    fn params() -> LevelParams {
        LevelParams {
            lufs: -23.0,
            max_gain: 15.0,
            max_cut: 15.0,
            rate: 3.0,
            silence: -50.0,
        }
    }

    /// A 1 kHz tone on both channels, each second at its own peak level
    /// (dBFS); `None` for a second of near-silence (−80 dBFS).
    fn tone(seconds: &[Option<f64>]) -> Vec<f32> {
        seconds
            .iter()
            .flat_map(|db| {
                let amplitude = db_to_gain(db.unwrap_or(-80.0));
                (0..RATE).map(move |i| {
                    (amplitude * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / RATE as f64).sin())
                        as f32
                })
            })
            .collect()
    }

    fn loudness(signal: &[f32]) -> f64 {
        let mut meter = LoudnessMeter::integrated_only(RATE).unwrap();
        meter.write(signal, signal).unwrap();
        meter.report().unwrap().integrated
    }

    /// The leveller's gain (dB) at each frame of `signal`.
    fn gains(params: LevelParams, signal: &[f32]) -> Vec<f64> {
        let out = super::super::run_aligned(&mut Leveller::new(params, RATE), signal, 1000);
        out.iter()
            .zip(signal)
            .map(|(out, x)| crate::gain_to_db((out / x) as f64))
            .collect()
    }

    fn at(gains: &[f64], seconds: f64) -> f64 {
        // The nearest frame whose input is far from a zero crossing.
        let frame = (seconds * RATE as f64) as usize;
        gains[frame..frame + 48]
            .iter()
            .copied()
            .filter(|g| g.is_finite())
            .fold(f64::NAN, |_, g| g)
    }

    #[test]
    fn a_steady_voice_is_brought_to_the_target_from_its_first_word() {
        let signal = tone(&[Some(-31.0); 8]);
        let wanted = -23.0 - loudness(&signal);
        let gains = gains(params(), &signal);
        for t in [0.01, 1.0, 4.0, 7.5] {
            assert!((at(&gains, t) - wanted).abs() < 0.05, "at {t} s: {} against {wanted}", at(&gains, t));
        }
    }

    #[test]
    fn a_pause_holds_the_gain() {
        let mut seconds = vec![Some(-31.0); 5];
        seconds.extend([None; 6]);
        seconds.extend([Some(-31.0); 4]);
        let signal = tone(&seconds);
        let wanted = -23.0 - loudness(&tone(&[Some(-31.0); 5]));
        let gains = gains(params(), &signal);
        // The pause's −80 dBFS would ask for the most gain: it gets none.
        for t in [7.0, 8.0, 9.5, 12.0] {
            assert!((at(&gains, t) - wanted).abs() < 0.05, "at {t} s: {}", at(&gains, t));
        }
    }

    #[test]
    fn digital_silence_holds_the_gain() {
        let mut signal = tone(&[Some(-31.0); 5]);
        signal.extend(vec![0.0; 6 * RATE as usize]);
        signal.extend(tone(&[Some(-31.0); 4]));
        let wanted = -23.0 - loudness(&tone(&[Some(-31.0); 5]));
        let gains = gains(params(), &signal);
        for t in [1.0, 4.0, 11.2, 12.0, 14.0] {
            assert!((at(&gains, t) - wanted).abs() < 0.05, "at {t} s: {}", at(&gains, t));
        }
    }

    #[test]
    fn a_louder_passage_is_ridden_down_at_the_rate() {
        let mut seconds = vec![Some(-31.0); 8];
        seconds.extend([Some(-21.0); 10]);
        let signal = tone(&seconds);
        let gains = gains(params(), &signal);
        let (before, after) = (at(&gains, 4.0), at(&gains, 16.0));
        assert!((before - after - 10.0).abs() < 0.1, "{before} then {after}");
        // Mid-way the gain falls 3 dB a second.
        let slope = at(&gains, 7.5) - at(&gains, 8.0);
        assert!((slope - 1.5).abs() < 0.05, "{slope} dB in half a second");
    }

    #[test]
    fn its_gain_stays_within_its_limits() {
        let signal = tone(&[Some(-45.0); 6]);
        let gains = gains(params(), &signal);
        assert!((at(&gains, 3.0) - 15.0).abs() < 1e-6, "{}", at(&gains, 3.0));
    }
}
