//! MP3 through LAME (the `mp3lame-encoder` crate, which builds LAME 3.100
//! from source): constant bitrate or LAME's VBR quality scale, at the
//! file's own sample rate (LAME is never allowed to resample), with the
//! LAME/Xing info frame that carries the encoder delay and padding, so
//! decoders that honour it (symphonia, ffmpeg) play the file gaplessly.
//!
//! LAME writes its version, "LAME3.100", into the info frame and into
//! spare bits of some frames; it is fixed by the lock file, like every
//! other byte. No time, host or build string enters the file.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mp3lame_encoder::{
    Bitrate, Builder, DualPcm, Encoder, FlushGap, Mode, MonoPcm, Quality, VbrMode,
};
use serde::{Deserialize, Serialize};

use super::Written;
use crate::{copy_source, AudioError, BlockSink, DecodedFile, LoudnessMeter};

/// Sample rates an MPEG-1 Layer III file carries.
pub const MP3_RATES: [u32; 3] = [32000, 44100, 48000];

/// Constant bitrates LAME is offered here, kbit/s (MPEG-1 Layer III).
pub const MP3_BITRATES: [u16; 13] = [32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];

/// How the bits are spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mp3Mode {
    /// Constant bitrate, kbit/s.
    Cbr(u16),
    /// LAME's VBR quality, 0 (best) to 9 (`lame -V`).
    Vbr(u8),
}

/// How LAME encodes a file: how it spends the bits, and how hard it
/// searches for each frame's quantisation (`-q`, 0 slowest to 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mp3Settings {
    pub mode: Mp3Mode,
    pub search: u8,
}

impl Mp3Settings {
    /// `mode` at its default search ([`Mp3Mode::default_search`]).
    pub fn new(mode: Mp3Mode) -> Self {
        Mp3Settings {
            mode,
            search: mode.default_search(),
        }
    }

    /// Whether the search is the one its mode gets by default.
    pub fn is_default_search(self) -> bool {
        self.search == self.mode.default_search()
    }

    /// See [`Mp3Mode::overshoot_db`].
    pub fn overshoot_db(self) -> f64 {
        self.mode.overshoot_db()
    }

    /// The settings in LAME's words, for the manifest:
    /// `LAME 3.100 -b 320 -q 3`, `LAME 3.100 -V 2 -q 3`.
    pub fn describe(self) -> String {
        let mode = match self.mode {
            Mp3Mode::Cbr(kbps) => format!("-b {kbps}"),
            Mp3Mode::Vbr(quality) => format!("-V {quality}"),
        };
        format!("LAME 3.100 {mode} -q {}", self.search)
    }
}

impl Mp3Mode {
    /// LAME's `-q` when a project sets none. At 256 kbit/s and more, and
    /// in VBR, LAME's own default, `-q 3`, as `lame` and ffmpeg's
    /// libmp3lame encode: `-q 2` searches each frame's quantisation longer
    /// (1.8× the encoding time at 320 kbit/s) for 0.2 dB less coding noise
    /// under 15 kHz, where there is little to begin with. Under 256 kbit/s,
    /// where bits are scarce, `-q 2`: at 128 kbit/s `-q 3` moves a tone's
    /// decoded peak by 0.36 dB, `-q 2` by 0.07.
    pub fn default_search(self) -> u8 {
        match self {
            Mp3Mode::Cbr(kbps) if kbps < 256 => 2,
            _ => 3,
        }
    }

    /// How far LAME's decoded true peak commonly rises over its input's,
    /// dB: the room a file's limiter leaves under the ceiling, so that the
    /// decoded MP3 keeps it without a second encode at a lower level (and
    /// so without losing loudness). Seen on limited masters: up to 0.55 dB
    /// at 320 kbps, more as the bitrate falls.
    pub fn overshoot_db(self) -> f64 {
        match self {
            Mp3Mode::Cbr(kbps) if kbps >= 256 => 0.7,
            Mp3Mode::Cbr(kbps) if kbps >= 160 => 1.0,
            Mp3Mode::Cbr(_) => 1.5,
            Mp3Mode::Vbr(quality) if quality <= 2 => 0.8,
            Mp3Mode::Vbr(_) => 1.2,
        }
    }
}

/// Writes an MP3 file from float blocks.
pub struct Mp3Sink {
    path: PathBuf,
    out: BufWriter<File>,
    encoder: Encoder,
    buffer: Vec<u8>,
    frames: u64,
    /// A mono file: the fold-down (L + R) / 2 of what it is given.
    mono: bool,
}

fn bitrate(kbps: u16) -> Option<Bitrate> {
    Some(match kbps {
        32 => Bitrate::Kbps32,
        40 => Bitrate::Kbps40,
        48 => Bitrate::Kbps48,
        64 => Bitrate::Kbps64,
        80 => Bitrate::Kbps80,
        96 => Bitrate::Kbps96,
        112 => Bitrate::Kbps112,
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        _ => return None,
    })
}

/// A level of one of LAME's 0 (best) to 9 scales: `-V` and `-q`.
fn lame_scale(level: u8) -> Option<Quality> {
    Some(match level {
        0 => Quality::Best,
        1 => Quality::SecondBest,
        2 => Quality::NearBest,
        3 => Quality::VeryNice,
        4 => Quality::Nice,
        5 => Quality::Good,
        6 => Quality::Decent,
        7 => Quality::Ok,
        8 => Quality::SecondWorst,
        9 => Quality::Worst,
        _ => return None,
    })
}

impl Mp3Sink {
    /// An MP3 of `channels` (1, the fold-down LAME codes as MPEG mono,
    /// or 2, joint stereo).
    pub fn create(
        path: &Path,
        sample_rate: u32,
        settings: Mp3Settings,
        channels: u16,
    ) -> Result<Self, AudioError> {
        let fail = |reason: String| AudioError::Encode {
            path: path.to_path_buf(),
            reason,
        };
        if !MP3_RATES.contains(&sample_rate) {
            return Err(fail(format!("MP3 does not carry {sample_rate} Hz")));
        }
        let mut builder = Builder::new().ok_or_else(|| fail("LAME did not start".into()))?;
        let setting = |what: &str| {
            let what = what.to_string();
            move |e: mp3lame_encoder::BuildError| fail(format!("LAME refused {what}: {e:?}"))
        };
        let mono = channels == 1;
        builder
            .set_num_channels(if mono { 1 } else { 2 })
            .map_err(setting("the channels"))?;
        builder
            .set_sample_rate(sample_rate)
            .map_err(setting("the sample rate"))?;
        builder
            .set_output_sample_rate(std::num::NonZeroU32::new(sample_rate))
            .map_err(setting("the output sample rate"))?;
        builder
            .set_mode(if mono { Mode::Mono } else { Mode::JointStereo })
            .map_err(setting("the channel mode"))?;
        let search =
            lame_scale(settings.search).ok_or_else(|| fail(format!("-q {}", settings.search)))?;
        builder
            .set_quality(search)
            .map_err(setting("the search (-q)"))?;
        builder
            .set_to_write_vbr_tag(true)
            .map_err(setting("the info frame"))?;
        match settings.mode {
            Mp3Mode::Cbr(kbps) => {
                let rate = bitrate(kbps).ok_or_else(|| fail(format!("{kbps} kbit/s")))?;
                builder.set_vbr_mode(VbrMode::Off).map_err(setting("CBR"))?;
                builder.set_brate(rate).map_err(setting("the bitrate"))?;
            }
            Mp3Mode::Vbr(level) => {
                let quality =
                    lame_scale(level).ok_or_else(|| fail(format!("VBR quality {level}")))?;
                builder
                    .set_vbr_mode(VbrMode::Mtrh)
                    .map_err(setting("VBR"))?;
                builder
                    .set_vbr_quality(quality)
                    .map_err(setting("the VBR quality"))?;
            }
        }
        let encoder = builder.build().map_err(setting("the settings"))?;
        let file = File::create(path).map_err(|e| AudioError::io(path, e))?;
        Ok(Mp3Sink {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            encoder,
            buffer: Vec::new(),
            frames: 0,
            mono,
        })
    }

    /// Flushes the encoder and writes the final info frame over the
    /// placeholder LAME put first; returns the frames encoded.
    pub fn finish(mut self) -> Result<u64, AudioError> {
        let fail = |reason: String| AudioError::Encode {
            path: self.path.clone(),
            reason,
        };
        self.buffer.clear();
        self.buffer.reserve(7200);
        self.encoder
            .flush_to_vec::<FlushGap>(&mut self.buffer)
            .map_err(|e| fail(format!("LAME: {e:?}")))?;
        let io = |e| AudioError::io(&self.path, e);
        self.out.write_all(&self.buffer).map_err(io)?;
        let mut info = Vec::with_capacity(self.encoder.lame_tag_size());
        if self.encoder.lame_tag_encode_to_vec(&mut info).is_some() {
            self.out.seek(SeekFrom::Start(0)).map_err(io)?;
            self.out.write_all(&info).map_err(io)?;
        }
        self.out.flush().map_err(io)?;
        Ok(self.frames)
    }
}

impl BlockSink for Mp3Sink {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        self.buffer.clear();
        // LAME's bound for one call: 1.25 × samples + 7200 bytes.
        self.buffer.reserve(left.len() * 5 / 4 + 7200);
        let encoded = if self.mono {
            let folded = super::fold_down(left, right);
            self.encoder
                .encode_to_vec(MonoPcm(&folded[..]), &mut self.buffer)
        } else {
            self.encoder
                .encode_to_vec(DualPcm { left, right }, &mut self.buffer)
        };
        encoded.map_err(|e| AudioError::Encode {
            path: self.path.clone(),
            reason: format!("LAME: {e:?}"),
        })?;
        self.frames += left.len() as u64;
        self.out
            .write_all(&self.buffer)
            .map_err(|e| AudioError::io(&self.path, e))
    }
}

/// Decodes a delivered file and measures what a listener's decoder
/// plays: its length in frames and its loudness.
pub fn measure_decoded(path: &Path) -> Result<Written, AudioError> {
    let mut file = DecodedFile::open(path)?;
    let info = file.info();
    let mut meter = LoudnessMeter::program(info.sample_rate)?.of_channels(info.channels as u16)?;
    let frames = copy_source(&mut file, &mut meter)?;
    Ok(Written {
        frames,
        report: meter.report()?,
        blocks: meter.loudness_blocks(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BlockSource, Tone};

    fn encode_tone(path: &Path, mode: Mp3Mode, frames: u64) -> u64 {
        encode_tone_with(path, Mp3Settings::new(mode), frames)
    }

    fn encode_tone_with(path: &Path, settings: Mp3Settings, frames: u64) -> u64 {
        let mut tone = Tone::new(48000, 997.0, -6.0, frames);
        let mut sink = Mp3Sink::create(path, 48000, settings, 2).unwrap();
        copy_source(&mut tone as &mut dyn BlockSource, &mut sink).unwrap();
        sink.finish().unwrap()
    }

    #[test]
    fn decodes_gaplessly_at_the_level_encoded() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [Mp3Mode::Cbr(320), Mp3Mode::Cbr(128), Mp3Mode::Vbr(2)] {
            let path = dir.path().join("tone.mp3");
            let written = encode_tone(&path, mode, 48000 + 123);
            let Written { frames, report, .. } = measure_decoded(&path).unwrap();
            assert_eq!(frames, written, "{mode:?}: decoded length");
            // A −6 dBFS sine reads −6.0 dBTP; the codec moves it a little.
            assert!(
                (report.true_peak + 6.0).abs() < 0.3,
                "{mode:?}: {}",
                report.true_peak
            );
        }
    }

    #[test]
    fn the_same_audio_gives_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.mp3"), dir.path().join("b.mp3"));
        encode_tone(&a, Mp3Mode::Vbr(0), 30000);
        encode_tone(&b, Mp3Mode::Vbr(0), 30000);
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    }

    #[test]
    fn each_search_changes_the_encoding_and_decodes_at_the_level_encoded() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        let default_search = Mp3Mode::Cbr(320).default_search();
        assert_eq!(default_search, 3, "LAME's own default at 320 kbit/s");
        assert_eq!(Mp3Mode::Cbr(128).default_search(), 2);
        for search in [0, 2, default_search, 9] {
            let path = dir.path().join(format!("q{search}.mp3"));
            let settings = Mp3Settings {
                mode: Mp3Mode::Cbr(320),
                search,
            };
            let written = encode_tone_with(&path, settings, 48000);
            let decoded = measure_decoded(&path).unwrap();
            assert_eq!(decoded.frames, written, "-q {search}: decoded length");
            assert!(
                (decoded.report.true_peak + 6.0).abs() < 0.3,
                "-q {search}: {}",
                decoded.report.true_peak
            );
            files.push((search, std::fs::read(&path).unwrap()));
        }
        // Each search encodes its own bytes (the info frame LAME writes
        // says which: the deliverables' test reads it).
        let (_, default) = &files[2];
        for (search, bytes) in &files {
            if *search != default_search {
                assert_ne!(bytes, default, "-q {search} encodes as the default does");
            }
        }
        assert_eq!(
            Mp3Settings::new(Mp3Mode::Cbr(320)).describe(),
            "LAME 3.100 -b 320 -q 3"
        );
    }

    #[test]
    fn refuses_rates_mp3_cannot_carry() {
        let dir = tempfile::tempdir().unwrap();
        let err = Mp3Sink::create(
            &dir.path().join("x.mp3"),
            96000,
            Mp3Settings::new(Mp3Mode::Cbr(320)),
            2,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("96000 Hz"), "{err}");
    }
}
