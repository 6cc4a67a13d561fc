//! Ducking: a bed (music under speech) lowered while other stems (the
//! voices) sound. The voices are the sidechain: their rendered sum is
//! read before this stem renders and reduced to a level every 10 ms,
//! which the chain runner hands this processor as its key. Over
//! `threshold=` the gain falls to `depth=` over `attack=`, holds through
//! the gaps between words for `hold=`, and comes back over `release=`
//! once the voices pause; the key is read `attack=` ahead, so the bed is
//! down when the first word arrives.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::kind::{Kind, Param};
use super::{Processor, ProcessorContext};
use crate::db_to_gain;

/// `duck "host" "guest" depth=-12 …`: a bed under voices.
pub const KIND: Kind = Kind {
    name: "duck",
    summary: "lowers this stem by `depth=` while the stems it names (its arguments, of the same track) are louder than `threshold=` (RMS over 10 ms), falling over `attack=`, holding `hold=` through the gaps between words and coming back over `release=`; it reads them `attack=` ahead, so it is down when a voice starts",
    params: &[
        Param::property("depth", "the gain while they sound", "dB", -12.0, -60.0, 0.0),
        Param::property("threshold", "the voices' level that ducks", "dBFS", -40.0, -80.0, 0.0),
        Param::property("attack", "a fall time", "ms", 100.0, 1.0, 5000.0),
        Param::property("hold", "a hold time", "ms", 300.0, 0.0, 5000.0),
        Param::property("release", "a recovery time", "ms", 600.0, 1.0, 10000.0),
    ],
    other_props: &[],
    version: 1,
    build: None,
    in_chain: true,
    example: "duck \"host\" \"guest\" depth=-12 attack=100 release=600",
};

/// Frames of the key's level blocks: 10 ms at 48 kHz.
pub fn key_block(rate: u32) -> usize {
    (rate as usize / 100).max(1)
}

/// A ducker's settings, as the project states them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuckParams {
    /// The stems whose sum ducks this one.
    pub under: Vec<String>,
    pub depth: f64,
    pub threshold: f64,
    pub attack: f64,
    pub hold: f64,
    pub release: f64,
}

/// The key's RMS level (dBFS) of each block of [`key_block`] frames,
/// from this stem's first frame.
pub type DuckKey = Arc<Vec<f32>>;

/// The key of the voices `source` yields (their sum, from the ducked
/// signal's first frame): the RMS level of its mono fold-down over each
/// block of [`key_block`] frames, dBFS.
pub fn key_of(source: &mut dyn crate::BlockSource, rate: u32) -> Result<DuckKey, crate::AudioError> {
    let block = key_block(rate);
    let (mut left, mut right) = (vec![0.0f32; block], vec![0.0f32; block]);
    let mut levels = Vec::new();
    loop {
        let filled = crate::block::read_full(source, &mut left, &mut right)?;
        if filled == 0 {
            return Ok(Arc::new(levels));
        }
        let energy = left[..filled]
            .iter()
            .zip(&right[..filled])
            .map(|(l, r)| ((*l as f64 + *r as f64) / 2.0).powi(2))
            .sum::<f64>()
            / filled as f64;
        levels.push((10.0 * energy.max(1e-20).log10()) as f32);
    }
}

/// A ducker's running state.
pub struct Ducker {
    key: DuckKey,
    block: usize,
    /// Frames the key is read ahead.
    ahead: u64,
    /// Frames it stays down after the key falls under the threshold.
    hold: u64,
    /// The last frame the key was over the threshold.
    last_over: Option<u64>,
    threshold: f32,
    depth: f64,
    /// Per-frame smoothing toward the depth and back (one-pole, in dB).
    fall: f64,
    rise: f64,
    gain_db: f64,
    position: u64,
}

impl Ducker {
    pub fn new(params: &DuckParams, key: DuckKey, rate: u32) -> Self {
        let coefficient = |ms: f64| (-1.0 / (ms / 1000.0 * rate as f64)).exp();
        Ducker {
            key,
            block: key_block(rate),
            ahead: (params.attack / 1000.0 * rate as f64).round() as u64,
            hold: (params.hold / 1000.0 * rate as f64).round() as u64,
            last_over: None,
            threshold: params.threshold as f32,
            depth: params.depth,
            fall: coefficient(params.attack / 3.0),
            rise: coefficient(params.release / 3.0),
            gain_db: 0.0,
            position: 0,
        }
    }

    fn ducked_at(&mut self, frame: u64) -> bool {
        let block = ((frame + self.ahead) / self.block as u64) as usize;
        if self.key.get(block).is_some_and(|level| *level > self.threshold) {
            self.last_over = Some(frame);
        }
        self.last_over.is_some_and(|last| frame - last <= self.hold)
    }
}

impl Processor for Ducker {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let (target, coefficient) = match self.ducked_at(self.position) {
                true => (self.depth, self.fall),
                false => (0.0, self.rise),
            };
            self.gain_db = target + (self.gain_db - target) * coefficient;
            let gain = db_to_gain(self.gain_db) as f32;
            *l *= gain;
            *r *= gain;
            self.position += 1;
        }
    }
}

/// This processor's arms of [`super::ProcessorSpec`] (see `processors!`).
pub(super) fn is_identity(params: &DuckParams, _: &Option<DuckKey>) -> bool {
    params.depth == 0.0
}

pub(super) fn describe(params: &DuckParams, _: &Option<DuckKey>) -> String {
    format!("duck {} dB under {}", params.depth, params.under.join(", "))
}

pub(super) fn build(
    params: &DuckParams,
    key: &Option<DuckKey>,
    context: &ProcessorContext,
) -> Box<dyn Processor> {
    let key = key
        .clone()
        .expect("the renderer reads a ducker's key before it builds it");
    Box::new(Ducker::new(params, key, context.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48000;

    fn params() -> DuckParams {
        DuckParams {
            under: vec!["voice".into()],
            depth: -12.0,
            threshold: -40.0,
            attack: 100.0,
            hold: 300.0,
            release: 600.0,
        }
    }

    /// A key that speaks from 2 s to 4 s, silent otherwise, 8 s long.
    fn key() -> DuckKey {
        let blocks = 8 * 100;
        Arc::new((0..blocks).map(|b| if (200..400).contains(&b) { -20.0 } else { -120.0 }).collect())
    }

    fn gains() -> Vec<f64> {
        let mut ducker = Ducker::new(&params(), key(), RATE);
        let (mut l, mut r) = (vec![1.0f32; 8 * RATE as usize], vec![1.0f32; 8 * RATE as usize]);
        for (l, r) in l.chunks_mut(512).zip(r.chunks_mut(512)) {
            ducker.process(l, r);
        }
        l.iter().map(|g| crate::gain_to_db(*g as f64)).collect()
    }

    #[test]
    fn the_bed_is_down_by_the_depth_while_the_voice_speaks() {
        let gains = gains();
        let at = |s: f64| gains[(s * RATE as f64) as usize];
        // Read 100 ms ahead, falling with a third of it as time constant:
        // down by the first word.
        assert!((at(2.0) + 12.0).abs() < 0.7, "{}", at(2.0));
        assert!((at(3.0) + 12.0).abs() < 0.01, "{}", at(3.0));
        // Back up over the release once the voice pauses.
        assert!(at(1.5).abs() < 0.01 && at(7.0).abs() < 0.01);
        assert!((at(4.15) + 12.0).abs() < 0.01, "held: {}", at(4.15));
        assert!(at(4.3) < -6.0, "{}", at(4.3));
    }
}
