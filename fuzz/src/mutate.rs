//! Deterministic mutation of seed inputs.

/// Edge values for sizes and counts: chunk sizes, frame counts, rates.
const EDGES: [u32; 10] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];

/// Makes inputs from seeds: the same seed makes the same inputs.
pub struct Mutator {
    state: u64,
    /// Tokens worth inserting whole (KDL syntax, template fields).
    dictionary: &'static [&'static str],
}

impl Mutator {
    pub fn new(seed: u64, dictionary: &'static [&'static str]) -> Self {
        Mutator {
            // Never zero: xorshift stays at zero.
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
            dictionary,
        }
    }

    /// xorshift64*: fast, and enough to spread mutations.
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// Input number `run`: a seed (run 0 to seeds-1 are the seeds as
    /// they are) with one to eight mutations stacked.
    pub fn mutate(&mut self, seeds: &[Vec<u8>], run: u64) -> Vec<u8> {
        if (run as usize) < seeds.len() {
            return seeds[run as usize].clone();
        }
        let mut input = seeds[self.below(seeds.len())].clone();
        let stacked = 1 + self.below(8);
        for _ in 0..stacked {
            self.once(&mut input, seeds);
        }
        input
    }

    fn once(&mut self, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        let len = input.len();
        match self.below(10) {
            // A WAV or AIFF header's sample rate set to an edge: NaN,
            // infinities, huge and tiny rates (random bytes seldom land
            // on the field; these once panicked the decoder or made a
            // 10 KB file a day long).
            9 => self.aim_at_rate(input),
            // A bit flipped.
            0 if len > 0 => {
                let at = self.below(len);
                input[at] ^= 1 << self.below(8);
            }
            // A byte set to an edge value.
            1 if len > 0 => {
                let at = self.below(len);
                input[at] = [0, 1, 0x7f, 0x80, 0xff][self.below(5)];
            }
            // Four bytes set to an edge value, either byte order (chunk
            // sizes are little-endian in RIFF, big-endian in AIFF).
            2 if len >= 4 => {
                let at = self.below(len - 3);
                let value = EDGES[self.below(EDGES.len())];
                let bytes = match self.below(2) {
                    0 => value.to_le_bytes(),
                    _ => value.to_be_bytes(),
                };
                input[at..at + 4].copy_from_slice(&bytes);
            }
            // A range removed.
            3 if len > 1 => {
                let at = self.below(len);
                let end = (at + 1 + self.below(64)).min(len);
                input.drain(at..end);
            }
            // A range repeated.
            4 if len > 1 => {
                let at = self.below(len);
                let end = (at + 1 + self.below(64)).min(len);
                let copy = input[at..end].to_vec();
                let to = self.below(len);
                input.splice(to..to, copy);
            }
            // Cut short.
            5 if len > 1 => input.truncate(self.below(len)),
            // A token of the target's language inserted.
            6 if !self.dictionary.is_empty() => {
                let token = self.dictionary[self.below(self.dictionary.len())];
                let to = self.below(len + 1);
                input.splice(to..to, token.bytes());
            }
            // Another seed's tail spliced on.
            7 => {
                let other = &seeds[self.below(seeds.len())];
                let from = self.below(other.len());
                let to = self.below(len + 1);
                input.truncate(to);
                input.extend_from_slice(&other[from..]);
            }
            // Random bytes inserted.
            _ => {
                let to = self.below(len + 1);
                let count = 1 + self.below(16);
                let bytes: Vec<u8> = (0..count).map(|_| self.next() as u8).collect();
                input.splice(to..to, bytes);
            }
        }
    }
}

/// AIFF rates (80-bit extended floats): NaN, +inf, -inf, 1e30, 1 Hz, 0.5 Hz.
const AIFF_RATES: [[u8; 10]; 6] = [
    [0x7f, 0xff, 0xc0, 0, 0, 0, 0, 0, 0, 0],
    [0x7f, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0],
    [0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0],
    [0x40, 0x62, 0xc9, 0xf2, 0xc9, 0xcd, 0x04, 0x67, 0x4e, 0xdc],
    [0x3f, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0],
    [0x3f, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0],
];

/// WAV rates (32-bit little-endian).
const WAV_RATES: [u32; 6] = [0, 1, 999, 768_001, 0x7fff_ffff, u32::MAX];

impl Mutator {
    /// Sets the rate of the first `fmt ` or `COMM` chunk, if there is one.
    fn aim_at_rate(&mut self, input: &mut [u8]) {
        let find = |id: &[u8]| input.windows(4).position(|w| w == id);
        if let Some(at) = find(b"COMM").map(|at| at + 8 + 8) {
            let rate = AIFF_RATES[self.below(AIFF_RATES.len())];
            if let Some(field) = input.get_mut(at..at + 10) {
                field.copy_from_slice(&rate);
            }
        } else if let Some(at) = find(b"fmt ").map(|at| at + 8 + 4) {
            let rate = WAV_RATES[self.below(WAV_RATES.len())];
            if let Some(field) = input.get_mut(at..at + 4) {
                field.copy_from_slice(&rate.to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_inputs() {
        let seeds = vec![b"release \"A\"".to_vec(), vec![0u8; 40]];
        let make = |seed| {
            let mut m = Mutator::new(seed, &["{", "}"]);
            (0..200)
                .map(|run| m.mutate(&seeds, run))
                .collect::<Vec<_>>()
        };
        assert_eq!(make(7), make(7));
        assert_ne!(make(7), make(8));
        // The seeds come first, untouched; then mutants that differ.
        let inputs = make(7);
        assert_eq!(inputs[..2], seeds[..]);
        let changed = inputs[2..].iter().filter(|i| !seeds.contains(i)).count();
        assert!(
            changed > 190,
            "{changed} of 198 mutants differ from their seeds"
        );
    }
}
