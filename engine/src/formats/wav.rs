//! WAV: RIFF PCM, integer or float, as most tools read it.

use bounce_nodes::Container;

use super::{Asked, Format, Refusal, Settled, DEFAULT_BITS};

/// The depths a WAV file (and a BWF) stores.
pub(super) const WAV_DEPTHS: &[u16] = &[16, 24, 32];

pub(super) struct Wav;

impl Format for Wav {
    fn name(&self) -> &'static str {
        "wav"
    }
    fn title(&self) -> &'static str {
        "WAV"
    }
    fn summary(&self) -> &'static str {
        "RIFF WAVE PCM: 16-, 24- or 32-bit integers, or 32-bit float \
         (`bits=32 float=#true`). Tagged with an ID3v2.4 chunk."
    }
    fn example(&self) -> &'static str {
        "format \"wav\" bits=24 rate=44100"
    }
    fn mime(&self) -> &'static str {
        "audio/wav"
    }
    fn extension(&self) -> &'static str {
        "wav"
    }
    fn container(&self) -> Container {
        Container::Wav
    }
    fn depths(&self) -> &'static [u16] {
        WAV_DEPTHS
    }
    fn settle(&self, asked: &Asked, refusals: &mut Vec<Refusal>) -> Option<Settled> {
        Some(wave(self.title(), asked, refusals))
    }
}

/// A RIFF file's samples: integers of 16, 24 or 32 bits, or 32-bit float.
pub(super) fn wave(title: &str, asked: &Asked, refusals: &mut Vec<Refusal>) -> Settled {
    let bits = asked.bits.unwrap_or(DEFAULT_BITS);
    if !WAV_DEPTHS.contains(&bits) {
        refusals.push(Refusal::new(
            "bits",
            format!("{bits}-bit {title} is not supported"),
            "bits is 16, 24 or 32",
        ));
    }
    if asked.float && bits != 32 {
        refusals.push(Refusal::new(
            "float",
            "float samples need bits=32",
            "write `bits=32 float=#true`",
        ));
    }
    Settled {
        bits,
        float: asked.float,
        rate: asked.rate,
        codec: None,
    }
}
