//! Broadcast WAV: WAV with a `bext` chunk (EBU Tech 3285 v2) that carries
//! the release's description and the file's loudness.

use bounce_nodes::Container;

use super::wav::{wave, WAV_DEPTHS};
use super::{Asked, Format, Refusal, Settled};

pub(super) struct Bwf;

impl Format for Bwf {
    fn name(&self) -> &'static str {
        "bwf"
    }
    fn title(&self) -> &'static str {
        "BWF"
    }
    fn summary(&self) -> &'static str {
        "Broadcast WAV: a WAV file with a `bext` chunk (EBU Tech 3285 v2) \
         holding the description, originator, date, coding history and the \
         file's measured loudness, true peak and maximum momentary and \
         short-term loudness."
    }
    fn example(&self) -> &'static str {
        "format \"bwf\" bits=24 rate=48000"
    }
    fn mime(&self) -> &'static str {
        "audio/wav"
    }
    fn extension(&self) -> &'static str {
        "wav"
    }
    fn container(&self) -> Container {
        Container::Bwf
    }
    fn bext(&self) -> bool {
        true
    }
    fn depths(&self) -> &'static [u16] {
        WAV_DEPTHS
    }
    fn settle(&self, asked: &Asked, refusals: &mut Vec<Refusal>) -> Option<Settled> {
        Some(wave("WAV", asked, refusals))
    }
}
