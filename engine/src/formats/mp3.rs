//! MP3 through LAME: constant bitrate or VBR quality, measured decoded.

use bounce_nodes::{Container, Mp3Mode, Mp3Settings, MP3_BITRATES, MP3_RATES};

use super::{khz, list, Asked, Format, Refusal, Settled};

/// Bitrate when an MP3 names neither `bitrate=` nor `quality=`.
const DEFAULT_BITRATE: u16 = 320;

pub(super) struct Mp3;

impl Format for Mp3 {
    fn name(&self) -> &'static str {
        "mp3"
    }
    fn title(&self) -> &'static str {
        "MP3"
    }
    fn summary(&self) -> &'static str {
        "MPEG-1 Layer III through LAME 3.100: `bitrate=` kbit/s (constant, \
         320 unless set) or `quality=` 0–9 (LAME's VBR scale, `-V`), and \
         `lame-q=` 0–9, how hard LAME searches each frame's quantisation \
         (`-q`; unless set 3, LAME's own default, as `lame` and ffmpeg \
         encode, and 2 under 256 kbit/s, where bits are scarce; 2 takes \
         about 1.8× as long), with the LAME info frame for \
         gapless playback. Measured decoded; tagged with ID3v2.4; the \
         manifest records the settings. Of a release at 48 kHz or more, an \
         MP3 is 44.1 kHz unless `rate=` says otherwise."
    }
    fn example(&self) -> &'static str {
        "format \"mp3\" bitrate=256"
    }
    fn mime(&self) -> &'static str {
        "audio/mpeg"
    }
    fn extension(&self) -> &'static str {
        "mp3"
    }
    fn container(&self) -> Container {
        Container::Mp3
    }
    fn lossy(&self) -> bool {
        true
    }
    fn codec_properties(&self) -> &'static [&'static str] {
        &["bitrate", "quality", "lame-q"]
    }
    fn depths(&self) -> &'static [u16] {
        &[]
    }
    fn rates(&self) -> &'static [u32] {
        &MP3_RATES
    }
    fn settle(&self, asked: &Asked, refusals: &mut Vec<Refusal>) -> Option<Settled> {
        for (name, given) in [("bits", asked.bits.is_some()), ("float", asked.float)] {
            if given {
                refusals.push(Refusal::new(
                    name,
                    format!("MP3 has no `{name}`: the codec decides the samples"),
                    "set `bitrate=` (CBR) or `quality=` (VBR) instead",
                ));
            }
        }
        if let Some(r) = asked.rate.filter(|r| !MP3_RATES.contains(r)) {
            refusals.push(Refusal::new(
                "rate",
                format!("MP3 does not carry {r} Hz"),
                "MP3 is 32000, 44100 or 48000 Hz",
            ));
        }
        let mode = match (asked.bitrate, asked.quality) {
            (Some(_), Some(_)) => {
                refusals.push(Refusal::new(
                    "quality",
                    "an MP3 is either constant bitrate or VBR",
                    "keep `bitrate=` for CBR or `quality=` for VBR, not both",
                ));
                return None;
            }
            (_, Some(q)) => Mp3Mode::Vbr(q as u8),
            (b, None) => {
                let kbps = b.map(|b| b as u16).unwrap_or(DEFAULT_BITRATE);
                if !MP3_BITRATES.contains(&kbps) {
                    refusals.push(Refusal::new(
                        "bitrate",
                        format!("{kbps} kbit/s is not an MP3 bitrate bounce writes"),
                        format!("one of {}", list(&MP3_BITRATES)),
                    ));
                }
                Mp3Mode::Cbr(kbps)
            }
        };
        Some(Settled {
            bits: super::DEFAULT_BITS,
            float: false,
            rate: asked.rate,
            codec: Some(Mp3Settings {
                mode,
                search: asked.search.map_or(mode.default_search(), |q| q as u8),
            }),
        })
    }
    /// MP3s are played and sold at 44.1 kHz: so is one of a release at
    /// 48 kHz or more.
    fn default_rate(&self, release_rate: u32) -> u32 {
        if release_rate >= 48_000 {
            44_100
        } else {
            release_rate
        }
    }
    fn describe(&self, settled: &Settled, rate: u32) -> String {
        let Some(codec) = settled.codec else {
            return format!("MP3, {}", khz(rate));
        };
        let mode = match codec.mode {
            Mp3Mode::Vbr(q) => format!("MP3 VBR V{q}"),
            Mp3Mode::Cbr(kbps) => format!("MP3 {kbps} kbps"),
        };
        if codec.is_default_search() {
            format!("{mode}, {}", khz(rate))
        } else {
            format!("{mode} -q {}, {}", codec.search, khz(rate))
        }
    }
}
