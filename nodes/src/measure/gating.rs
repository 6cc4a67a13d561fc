//! A programme's BS.1770 loudness blocks, kept by the meter that measured
//! a delivered file: the K-weighted energy of each 100 ms block. From them
//! an album's loudness is gated over every gating block of every track
//! (ReplayGain 2.0's album loudness, as libebur128's
//! `loudness_global_multiple` computes it), and the report reads a file's
//! loudness over time, neither decoding the file again.

use serde::{Deserialize, Serialize};

use crate::measure::blocks;

/// Changes whenever an album's loudness gated from kept blocks changes;
/// part of the key of every step that gates them.
pub const GATING_VERSION: u32 = 2;

/// The K-weighted energy of each whole 100 ms block of a programme
/// (channels weighted and summed), exactly as the meter read it: figures
/// made from them are the meter's to the last bit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoudnessBlocks {
    energies: Vec<f64>,
    /// The energy of each whole block of the mono fold-down (L + R)/2
    /// heard on both speakers (none kept by a meter of one channel).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fold_down: Vec<f64>,
    /// When the programme ends inside a block: the energy of its last
    /// 100 ms and its last 400 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tail: Option<[f64; 2]>,
}

impl LoudnessBlocks {
    pub(crate) fn new(energies: &[f64], fold_down: &[f64], tail: Option<[f64; 2]>) -> Self {
        LoudnessBlocks {
            energies: energies.to_vec(),
            fold_down: fold_down.to_vec(),
            tail,
        }
    }

    /// Each whole block's energy of the mono fold-down, when kept (as
    /// many as `energies`).
    pub fn fold_down(&self) -> Option<&[f64]> {
        (self.fold_down.len() == self.energies.len()).then_some(self.fold_down.as_slice())
    }

    /// Each whole block's energy.
    pub fn energies(&self) -> &[f64] {
        &self.energies
    }

    /// The energy of the last 100 ms and 400 ms, when the programme ends
    /// inside a block.
    pub fn tail(&self) -> Option<[f64; 2]> {
        self.tail
    }

    /// Whether these are the blocks of `frames` frames at `rate`: every
    /// whole block, and the tail of one not whole.
    pub fn cover(&self, frames: u64, rate: u32) -> bool {
        let step = blocks::block_frames(rate) as u64;
        let ends_on_a_block = frames.is_multiple_of(step);
        self.len() as u64 == frames / step && self.tail.is_none() == ends_on_a_block
    }

    /// How many whole blocks are kept.
    pub fn len(&self) -> usize {
        self.energies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.energies.is_empty()
    }

    /// The integrated loudness of `programmes` as one, LUFS: the relative
    /// gate set by every gating block of every programme (−∞ when no block
    /// is over the absolute gate).
    pub fn integrated<'a>(programmes: impl IntoIterator<Item = &'a LoudnessBlocks>) -> f64 {
        let gating: Vec<f64> = programmes
            .into_iter()
            .flat_map(|p| blocks::gating_energies(p.energies()))
            .collect();
        blocks::integrated(gating.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::blocks::{energy, loudness};

    fn steady(loudness: f64, blocks: usize) -> LoudnessBlocks {
        LoudnessBlocks::new(&vec![energy(loudness); blocks], &[], None)
    }

    #[test]
    fn equal_blocks_read_their_own_loudness() {
        let read = LoudnessBlocks::integrated([&steady(-23.0, 50)]);
        assert!((read + 23.0).abs() < 1e-6, "{read}");
    }

    #[test]
    fn silence_under_the_absolute_gate_reads_nothing() {
        // Blocks under −70 LUFS count for nothing (BS.1770-4 §2.8).
        assert_eq!(
            LoudnessBlocks::integrated([&steady(-75.0, 50)]),
            f64::NEG_INFINITY
        );
        let with_silence = LoudnessBlocks::integrated([&steady(-20.0, 50), &steady(-90.0, 50)]);
        assert!((with_silence + 20.0).abs() < 1e-6, "{with_silence}");
    }

    #[test]
    fn an_album_is_gated_as_one_programme() {
        // A track 30 LU under the other is gated out of the album, which a
        // mean of the two tracks' figures would not do.
        let album = LoudnessBlocks::integrated([&steady(-10.0, 100), &steady(-40.0, 100)]);
        assert!((album + 10.0).abs() < 1e-6, "{album}");
        // Two equal-length tracks 6 LU apart: the energy mean.
        let expected = loudness((energy(-14.0) + energy(-20.0)) / 2.0);
        let read = LoudnessBlocks::integrated([&steady(-14.0, 100), &steady(-20.0, 100)]);
        assert!((read - expected).abs() < 1e-6, "{read} against {expected}");
    }
}
