//! A CD image: the release as one 16-bit/44.1 kHz WAV and a CUE sheet,
//! laid out by the Red Book's rules.

use bounce_nodes::{Container, CD_BITS, CD_RATE};

use super::{Asked, Format, Refusal, Settled};

pub(super) struct Cd;

impl Format for Cd {
    fn name(&self) -> &'static str {
        "cd"
    }
    fn title(&self) -> &'static str {
        "CD image"
    }
    fn summary(&self) -> &'static str {
        "The whole release as one 44.1 kHz/16-bit WAV image and a CUE sheet \
         (Red Book: 2-second first pregap, tracks of 4 s or more, at most 99 \
         tracks and 79:57 in all, sector-aligned), with CD-TEXT, ISRCs and \
         the UPC as the catalogue number."
    }
    fn example(&self) -> &'static str {
        "format \"cd\""
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
    fn disc_image(&self) -> bool {
        true
    }
    /// Red Book audio is two channels (IEC 60908 §16).
    fn carries_mono(&self) -> bool {
        false
    }
    fn depths(&self) -> &'static [u16] {
        &[CD_BITS]
    }
    fn rates(&self) -> &'static [u32] {
        &[CD_RATE]
    }
    fn settle(&self, asked: &Asked, refusals: &mut Vec<Refusal>) -> Option<Settled> {
        let off_book = [
            ("bits", asked.bits.is_some_and(|b| b != CD_BITS)),
            ("rate", asked.rate.is_some_and(|r| r != CD_RATE)),
        ];
        for (name, _) in off_book.iter().filter(|(_, off)| *off) {
            refusals.push(Refusal::new(
                name,
                "a CD image is 44100 Hz, 16 bits",
                format!("remove `{name}=`: Red Book audio has one format"),
            ));
        }
        if asked.float {
            refusals.push(Refusal::new(
                "float",
                "a CD image carries 16-bit integers",
                "remove `float=`",
            ));
        }
        Some(Settled {
            bits: CD_BITS,
            float: false,
            rate: Some(CD_RATE),
            codec: None,
        })
    }
    fn describe(&self, _: &Settled, _: u32) -> String {
        "CD image, 16-bit 44.1 kHz".into()
    }
}
