//! A source as an editor leaves it: the regions of it that are kept, in
//! order, joined by an equal-power crossfade at each seam, with a fade
//! in at its start and a fade out at its end. All in the source's own
//! frames, read once from start to end.
//!
//! A seam's crossfade is centred on the cut: the outgoing region plays
//! on for half the crossfade past its out point while the incoming one
//! starts half of it before its in point, so the edited source is
//! exactly as long as its regions put end to end, and a sound after a
//! cut sits where the cuts alone put it.

use crate::{AudioError, BlockSource};

/// What to keep of a source, in its frames.
#[derive(Debug, Clone, PartialEq)]
pub struct EditList {
    /// Kept regions, `(from, to)`, in order and apart.
    pub regions: Vec<(u64, u64)>,
    /// Frames of each seam's crossfade.
    pub crossfade: u64,
    pub fade_in: u64,
    pub fade_out: u64,
}

impl EditList {
    /// Frames the edited source lasts.
    pub fn length(&self) -> u64 {
        self.regions.iter().map(|(from, to)| to - from).sum()
    }

    /// What is wrong with the list, if anything: each region and each
    /// cut between two must be at least a crossfade long, so that a seam
    /// overlaps only its own two regions.
    pub fn check(&self) -> Result<(), String> {
        let x = self.crossfade;
        for (i, &(from, to)) in self.regions.iter().enumerate() {
            if to <= from || to - from < x {
                return Err(format!(
                    "a kept part of {} frames is shorter than the {x}-frame crossfade",
                    to.saturating_sub(from)
                ));
            }
            if let Some(&(next, _)) = self.regions.get(i + 1) {
                if next < to + x {
                    return Err(format!(
                        "a cut of {} frames is shorter than the {x}-frame crossfade",
                        next.saturating_sub(to)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The pieces the edit reads: straight copies and seams.
    fn pieces(&self) -> Vec<Piece> {
        let (before, after) = (self.crossfade / 2, self.crossfade - self.crossfade / 2);
        let last = self.regions.len().saturating_sub(1);
        let mut pieces = Vec::new();
        for (i, &(from, to)) in self.regions.iter().enumerate() {
            let start = if i == 0 { from } else { from + after };
            let end = if i == last { to } else { to - before };
            pieces.push(Piece::Copy {
                from: start,
                to: end,
            });
            if i < last && self.crossfade > 0 {
                pieces.push(Piece::Seam {
                    outgoing: to - before,
                    incoming: self.regions[i + 1].0 - before,
                });
            }
        }
        pieces
    }
}

/// A stretch of the edited source.
#[derive(Debug, Clone, Copy)]
enum Piece {
    /// Source frames `from..to`, as they are.
    Copy { from: u64, to: u64 },
    /// A crossfade's frames from `outgoing` fading out over those from
    /// `incoming` fading in.
    Seam { outgoing: u64, incoming: u64 },
}

/// A source through its edit list.
pub struct Edited<S> {
    inner: S,
    pieces: Vec<Piece>,
    piece: usize,
    /// Frames read from `inner`.
    read: u64,
    /// Frames given out, and how many there will be.
    given: u64,
    length: u64,
    list: EditList,
    /// The seam being given out, mixed, and how far through it.
    seam: [Vec<f32>; 2],
    seam_at: usize,
    scratch: [Vec<f32>; 2],
}

impl<S: BlockSource> Edited<S> {
    /// `list` must pass [`EditList::check`].
    pub fn new(inner: S, list: EditList) -> Self {
        Edited {
            inner,
            pieces: list.pieces(),
            piece: 0,
            read: 0,
            given: 0,
            length: list.length(),
            list,
            seam: [Vec::new(), Vec::new()],
            seam_at: 0,
            scratch: [Vec::new(), Vec::new()],
        }
    }

    /// Reads and drops source frames up to `frame`; false at its end.
    fn skip_to(&mut self, frame: u64) -> Result<bool, AudioError> {
        while self.read < frame {
            let n = (frame - self.read).min(4096) as usize;
            let [l, r] = &mut self.scratch;
            l.resize(n, 0.0);
            r.resize(n, 0.0);
            let got = self.inner.read(l, r)?;
            if got == 0 {
                return Ok(false);
            }
            self.read += got as u64;
        }
        Ok(true)
    }

    /// Reads `frames` source frames from `from` into `out`, short at the
    /// source's end.
    fn take(
        &mut self,
        from: u64,
        frames: usize,
        out: &mut [Vec<f32>; 2],
    ) -> Result<(), AudioError> {
        out[0].clear();
        out[1].clear();
        if !self.skip_to(from)? {
            return Ok(());
        }
        let [l, r] = &mut self.scratch;
        while out[0].len() < frames {
            let n = (frames - out[0].len()).min(4096);
            l.resize(n, 0.0);
            r.resize(n, 0.0);
            let got = self.inner.read(l, r)?;
            if got == 0 {
                break;
            }
            self.read += got as u64;
            out[0].extend_from_slice(&l[..got]);
            out[1].extend_from_slice(&r[..got]);
        }
        Ok(())
    }

    /// Mixes a seam: the outgoing frames under a cosine, the incoming
    /// under a sine, so that their powers sum to one (uncorrelated sides
    /// keep their level through it).
    fn mix_seam(&mut self, outgoing: u64, incoming: u64) -> Result<(), AudioError> {
        let x = self.list.crossfade as usize;
        let mut tail = [Vec::new(), Vec::new()];
        self.take(outgoing, x, &mut tail)?;
        let mut head = [Vec::new(), Vec::new()];
        self.take(incoming, x, &mut head)?;
        for c in 0..2 {
            tail[c].resize(x, 0.0);
            head[c].resize(x, 0.0);
            self.seam[c] = (0..x)
                .map(|i| {
                    let t = (i as f64 + 0.5) / x as f64 * std::f64::consts::FRAC_PI_2;
                    (tail[c][i] as f64 * t.cos() + head[c][i] as f64 * t.sin()) as f32
                })
                .collect();
        }
        self.seam_at = 0;
        Ok(())
    }

    /// The fades' gain at output frame `at` (raised cosine).
    fn fade_gain(&self, at: u64) -> f32 {
        let curve = |t: f64| 0.5 - 0.5 * (std::f64::consts::PI * t.clamp(0.0, 1.0)).cos();
        let mut gain = 1.0;
        if at < self.list.fade_in {
            gain *= curve(at as f64 / self.list.fade_in as f64);
        }
        let fade_out = self.list.fade_out.min(self.length);
        if fade_out > 0 && at >= self.length - fade_out {
            gain *= curve((self.length - 1 - at) as f64 / (fade_out.max(2) - 1) as f64);
        }
        gain as f32
    }
}

impl<S: BlockSource> BlockSource for Edited<S> {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let frames = loop {
            let Some(&piece) = self.pieces.get(self.piece) else {
                return Ok(0);
            };
            match piece {
                Piece::Copy { from, to } => {
                    let at = from.max(self.read);
                    if at >= to || !self.skip_to(from)? {
                        self.piece += 1;
                        continue;
                    }
                    let n = (left.len() as u64).min(to - self.read) as usize;
                    let got = self.inner.read(&mut left[..n], &mut right[..n])?;
                    if got == 0 {
                        // The source ended early: nothing more to give.
                        self.pieces.clear();
                        return Ok(0);
                    }
                    self.read += got as u64;
                    break got;
                }
                Piece::Seam { outgoing, incoming } => {
                    if self.seam_at == 0 && self.seam[0].is_empty() {
                        self.mix_seam(outgoing, incoming)?;
                    }
                    let n = left.len().min(self.seam[0].len() - self.seam_at);
                    let range = self.seam_at..self.seam_at + n;
                    left[..n].copy_from_slice(&self.seam[0][range.clone()]);
                    right[..n].copy_from_slice(&self.seam[1][range]);
                    self.seam_at += n;
                    if self.seam_at == self.seam[0].len() {
                        self.seam = [Vec::new(), Vec::new()];
                        self.seam_at = 0;
                        self.piece += 1;
                    }
                    break n;
                }
            }
        };
        if self.list.fade_in > 0 || self.list.fade_out > 0 {
            for i in 0..frames {
                let gain = self.fade_gain(self.given + i as u64);
                left[i] *= gain;
                right[i] *= gain;
            }
        }
        self.given += frames as u64;
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::Ramp;

    fn edit(list: EditList, total: u64, block: usize) -> Vec<f32> {
        list.check().unwrap();
        let mut edited = Edited::new(Ramp(0, total), list);
        let mut out = Vec::new();
        let (mut l, mut r) = (vec![0.0; block], vec![0.0; block]);
        loop {
            let n = edited.read(&mut l, &mut r).unwrap();
            if n == 0 {
                return out;
            }
            assert!(r[..n].iter().zip(&l[..n]).all(|(r, l)| *r == -*l));
            out.extend_from_slice(&l[..n]);
        }
    }

    #[test]
    fn cuts_keep_the_regions_end_to_end() {
        let list = EditList {
            regions: vec![(100, 1000), (2000, 3000), (5000, 6000)],
            crossfade: 0,
            fade_in: 0,
            fade_out: 0,
        };
        for block in [1, 7, 4096] {
            let out = edit(list.clone(), 10_000, block);
            assert_eq!(out.len() as u64, list.length());
            let want: Vec<f32> = (100..1000)
                .chain(2000..3000)
                .chain(5000..6000)
                .map(|i| i as f32)
                .collect();
            assert_eq!(out, want, "blocks of {block}");
        }
    }

    #[test]
    fn a_seam_crossfades_around_its_cut_at_equal_power() {
        let list = EditList {
            regions: vec![(0, 1000), (3000, 4000)],
            crossfade: 100,
            fade_in: 0,
            fade_out: 0,
        };
        for block in [1, 33, 4096] {
            let out = edit(list.clone(), 4000, block);
            assert_eq!(out.len(), 2000);
            // Before the seam and after it, the regions as they are.
            assert_eq!(out[949], 949.0);
            assert_eq!(out[1050], 3050.0);
            // In it, 950..1050 of the first under a cosine and 2950..3050
            // of the second under a sine.
            for i in 0..100 {
                let t = (i as f64 + 0.5) / 100.0 * std::f64::consts::FRAC_PI_2;
                let want = (950 + i) as f64 * t.cos() + (2950 + i) as f64 * t.sin();
                assert!(
                    (out[950 + i] as f64 - want).abs() < 1e-3,
                    "blocks of {block}, frame {i}"
                );
            }
        }
    }

    #[test]
    fn fades_shape_the_ends() {
        let list = EditList {
            regions: vec![(1000, 2000)],
            crossfade: 0,
            fade_in: 100,
            fade_out: 200,
        };
        let out = edit(list, 5000, 64);
        assert_eq!(out[0], 0.0);
        assert!((out[50] / 1050.0 - 0.5).abs() < 0.02);
        assert_eq!(out[100], 1100.0);
        assert_eq!(out[799], 1799.0);
        assert_eq!(out[999], 0.0);
    }

    #[test]
    fn a_cut_shorter_than_its_crossfade_is_refused() {
        let list = EditList {
            regions: vec![(0, 1000), (1050, 4000)],
            crossfade: 100,
            fade_in: 0,
            fade_out: 0,
        };
        assert!(list.check().unwrap_err().contains("a cut of 50 frames"));
    }
}
