//! AIFF: big-endian integer PCM, as older Apple tools take it.

use bounce_nodes::Container;

use super::{integer_pcm, Asked, Format, Refusal, Settled};

pub(super) struct Aiff;

impl Format for Aiff {
    fn name(&self) -> &'static str {
        "aiff"
    }
    fn title(&self) -> &'static str {
        "AIFF"
    }
    fn summary(&self) -> &'static str {
        "Audio Interchange File Format: 16- or 24-bit big-endian integers. \
         Tagged with an ID3 chunk."
    }
    fn example(&self) -> &'static str {
        "format \"aiff\" bits=16"
    }
    fn mime(&self) -> &'static str {
        "audio/aiff"
    }
    fn extension(&self) -> &'static str {
        "aiff"
    }
    fn container(&self) -> Container {
        Container::Aiff
    }
    fn depths(&self) -> &'static [u16] {
        &[16, 24]
    }
    fn settle(&self, asked: &Asked, refusals: &mut Vec<Refusal>) -> Option<Settled> {
        Some(integer_pcm(self.title(), self.depths(), asked, refusals))
    }
}
