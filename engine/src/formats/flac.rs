//! FLAC: lossless, from bounce's own encoder.

use bounce_nodes::Container;

use super::{integer_pcm, Asked, Format, Refusal, Settled};

pub(super) struct Flac;

impl Format for Flac {
    fn name(&self) -> &'static str {
        "flac"
    }
    fn title(&self) -> &'static str {
        "FLAC"
    }
    fn summary(&self) -> &'static str {
        "Free Lossless Audio Codec: 16- or 24-bit, bit-exact with the PCM it \
         encodes (with the MD5 of it in STREAMINFO). Tagged with Vorbis \
         comments and a PICTURE block."
    }
    fn example(&self) -> &'static str {
        "format \"flac\" bits=24 rate=96000"
    }
    fn mime(&self) -> &'static str {
        "audio/flac"
    }
    fn extension(&self) -> &'static str {
        "flac"
    }
    fn container(&self) -> Container {
        Container::Flac
    }
    fn depths(&self) -> &'static [u16] {
        &[16, 24]
    }
    fn settle(&self, asked: &Asked, refusals: &mut Vec<Refusal>) -> Option<Settled> {
        Some(integer_pcm(self.title(), self.depths(), asked, refusals))
    }
}
