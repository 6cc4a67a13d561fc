//! A programme's BS.1770 gating blocks, kept so that an album's loudness
//! can be gated over every block of every track (ReplayGain 2.0's album
//! loudness, as libebur128's `loudness_global_multiple` computes it)
//! from the measurements the files already took, without decoding them
//! again.

use serde::{Deserialize, Serialize};

use crate::measure::blocks::{self, energy};

/// Changes whenever an album's loudness gated from kept blocks changes;
/// part of the key of every step that gates them.
pub const GATING_VERSION: u32 = 1;

/// Blocks are kept as their loudness in these steps of an LU: an
/// error of at most 0.0005 LU on a block, far under the 0.01 LU to
/// which ReplayGain is written.
const STEPS_PER_LU: f64 = 1000.0;

/// The loudness of each 400 ms gating block (75 % overlap) of a
/// programme that is over the absolute gate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GatingBlocks(Vec<i32>);

impl GatingBlocks {
    /// Keeps a block of `loudness` LUFS, unless the absolute gate drops it.
    pub(crate) fn push(&mut self, loudness: f64) {
        if loudness >= blocks::ABSOLUTE_GATE {
            self.0.push((loudness * STEPS_PER_LU).round() as i32);
        }
    }

    /// How many blocks are kept.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The integrated loudness of `programmes` as one, LUFS: the
    /// relative gate set by every block of every programme (−∞ when no
    /// block is over the absolute gate).
    pub fn integrated<'a>(programmes: impl IntoIterator<Item = &'a GatingBlocks> + Clone) -> f64 {
        let energies: Vec<f64> = programmes
            .into_iter()
            .flat_map(|p| p.0.iter())
            .map(|step| energy(*step as f64 / STEPS_PER_LU))
            .collect();
        blocks::integrated(energies.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::blocks::loudness;

    fn blocks(loudnesses: &[f64]) -> GatingBlocks {
        let mut blocks = GatingBlocks::default();
        for l in loudnesses {
            blocks.push(*l);
        }
        blocks
    }

    #[test]
    fn equal_blocks_read_their_own_loudness() {
        assert!((GatingBlocks::integrated([&blocks(&[-23.0; 50])]) + 23.0).abs() < 1e-9);
    }

    #[test]
    fn the_gates_drop_silence_and_quiet_passages() {
        // Blocks under −70 LUFS and more than 10 LU under the rest count
        // for nothing (BS.1770-4 §2.8).
        let loud = blocks(&[-20.0; 10]);
        let with_quiet = blocks(&[
            -20.0, -20.0, -20.0, -20.0, -20.0, -35.0, -80.0, -20.0, -20.0, -20.0, -20.0, -20.0,
        ]);
        assert!(
            (GatingBlocks::integrated([&with_quiet]) - GatingBlocks::integrated([&loud])).abs()
                < 1e-9
        );
        assert_eq!(
            GatingBlocks::integrated([&blocks(&[-75.0; 5])]),
            f64::NEG_INFINITY
        );
        assert_eq!(blocks(&[-75.0; 5]).len(), 0);
    }

    #[test]
    fn an_album_is_gated_as_one_programme() {
        // A track 30 LU under the other is gated out of the album, which a
        // mean of the two tracks' figures would not do.
        let loud = blocks(&[-10.0; 100]);
        let quiet = blocks(&[-40.0; 100]);
        let album = GatingBlocks::integrated([&loud, &quiet]);
        assert!((album + 10.0).abs() < 1e-9, "{album}");
        // Two equal-length tracks 6 LU apart: the energy mean.
        let a = blocks(&[-14.0; 100]);
        let b = blocks(&[-20.0; 100]);
        let expected = loudness((energy(-14.0) + energy(-20.0)) / 2.0);
        assert!((GatingBlocks::integrated([&a, &b]) - expected).abs() < 1e-9);
    }
}
