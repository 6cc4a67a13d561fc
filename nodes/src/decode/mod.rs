//! Decoding any file symphonia reads into stereo blocks.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::{AudioError, BlockSource, Precision};

mod wav;

/// What a file is, as its container and codec declare it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    pub codec: String,
    pub sample_rate: u32,
    pub channels: usize,
    /// Bits per sample for integer PCM and lossless codecs; `None` for lossy.
    pub bits: Option<u32>,
    /// Whether the samples are floating point in the file.
    pub float: bool,
    /// Frames, when the container says.
    pub frames: Option<u64>,
}

impl FileInfo {
    /// The precision the decoded samples carry exactly.
    pub fn precision(&self) -> Precision {
        match self.bits {
            Some(bits) if !self.float && bits <= 24 => Precision::Int(bits as u8),
            _ => Precision::Float,
        }
    }
}

/// An audio file being decoded, as stereo blocks (a mono file is copied to
/// both channels).
pub struct DecodedFile {
    path: PathBuf,
    info: FileInfo,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    pending: Option<SampleBuffer<f32>>,
    pending_pos: usize,
    finished: bool,
    /// Frames still to deliver when the container declares its length
    /// exactly (lossless formats). symphonia 0.5 counts an AIFF's SSND
    /// offset fields as audio and reads one frame too many from a trailing
    /// chunk (such as ID3 tags), so for AIFF the COMM chunk's count is used.
    remaining: Option<u64>,
    /// The frame count the container declares exactly, to tell a truncated
    /// file (an interrupted copy) from a whole one.
    declared: Option<u64>,
    /// Frames delivered so far, to say where a bad sample sits.
    decoded: u64,
    /// A WAV file's samples, read without the decoder.
    wav: Option<wav::WavData>,
}

/// The chunks of a RIFF WAV or an AIFF file, walked by their headers
/// without reading the audio.
struct Chunks {
    file: File,
    length: u64,
    /// AIFF sizes are big-endian, RIFF's little-endian.
    aiff: bool,
    /// Where the next chunk header starts.
    next: u64,
}

impl Chunks {
    fn open(path: &Path) -> Option<Self> {
        use std::io::Read;
        let mut file = File::open(path).ok()?;
        let length = file.metadata().ok()?.len();
        let mut header = [0u8; 12];
        file.read_exact(&mut header).ok()?;
        let aiff = match (&header[..4], &header[8..12]) {
            (b"RIFF", b"WAVE") => false,
            (b"FORM", b"AIFF" | b"AIFC") => true,
            _ => return None,
        };
        Some(Chunks {
            file,
            length,
            aiff,
            next: 12,
        })
    }

    /// The next chunk's id, size and body offset, leaving the file at its
    /// body.
    fn next_chunk(&mut self) -> Option<([u8; 4], u32, u64)> {
        use std::io::{Seek, SeekFrom};
        if self.next + 8 > self.length {
            return None;
        }
        self.file.seek(SeekFrom::Start(self.next)).ok()?;
        let header: [u8; 8] = self.read()?;
        let id = header[..4].try_into().ok()?;
        let size_bytes = header[4..8].try_into().ok()?;
        let size = match self.aiff {
            true => u32::from_be_bytes(size_bytes),
            false => u32::from_le_bytes(size_bytes),
        };
        let body = self.next + 8;
        // Chunks are padded to an even length.
        self.next = body + size as u64 + size as u64 % 2;
        Some((id, size, body))
    }

    /// The next `N` bytes of the current chunk.
    fn read<const N: usize>(&mut self) -> Option<[u8; N]> {
        use std::io::Read;
        let mut bytes = [0u8; N];
        self.file.read_exact(&mut bytes).ok()?;
        Some(bytes)
    }
}

/// The frame count in an AIFF file's COMM chunk, if `path` is an AIFF.
fn aiff_frames(path: &Path) -> Option<u64> {
    let mut chunks = Chunks::open(path).filter(|c| c.aiff)?;
    while let Some((id, _, _)) = chunks.next_chunk() {
        if &id == b"COMM" {
            let comm: [u8; 6] = chunks.read()?;
            return Some(u32::from_be_bytes(comm[2..6].try_into().ok()?) as u64);
        }
    }
    None
}

/// Whether a declared length is a streaming writer's placeholder (a WAV
/// `data` size of 0xFFFFFFFF, written when the length was not yet known)
/// rather than a length to hold the file to.
fn is_placeholder_length(frames: u64, channels: usize, bits: Option<u32>) -> bool {
    let bytes_per_frame = channels as u64 * bits.map_or(4, |b| b.div_ceil(8)) as u64;
    frames.saturating_mul(bytes_per_frame) >= u32::MAX as u64 - bytes_per_frame
}

/// The channel count of the first packet that decodes, for a container
/// that does not state it (opened a second time, so the reader the caller
/// keeps starts at the beginning).
fn channels_by_decoding(path: &Path) -> Option<usize> {
    let file = File::open(path).ok()?;
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut probed = crate::contain::contained(|| {
        symphonia::default::get_probe().format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
    })
    .ok()?
    .ok()?;
    let track = probed
        .format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)?
        .clone();
    let mut decoder = crate::contain::contained(|| {
        symphonia::default::get_codecs().make(&track.codec_params, &DecoderOptions::default())
    })
    .ok()?
    .ok()?;
    // A few packets at most: an encoder's priming packet may not decode.
    for _ in 0..16 {
        let format = &mut probed.format;
        let packet = crate::contain::contained(|| format.next_packet())
            .ok()?
            .ok()?;
        if packet.track_id() != track.id {
            continue;
        }
        let decoder = &mut decoder;
        if let Ok(Ok(channels)) = crate::contain::contained(move || {
            decoder.decode(&packet).map(|d| d.spec().channels.count())
        }) {
            return Some(channels);
        }
    }
    None
}

/// Reads only the header of a file (and, for WAV and AIFF, the chunk
/// sizes, to catch a file cut short without decoding it).
pub fn probe_file(path: &Path) -> Result<FileInfo, AudioError> {
    let mut file = DecodedFile::open(path)?;
    let info = file.info.clone();
    // A FLAC frame that fails its checksum is skipped by the decoder, so
    // only decoding the whole stream finds it (as `flac -t` does); FLAC
    // decodes at over a thousand times realtime.
    if info.codec == "flac" {
        crate::copy_source(&mut file, &mut crate::block::Discard)?;
    }
    match cut_short(path) {
        Some((declared, found)) => Err(AudioError::Truncated {
            path: path.to_path_buf(),
            declared,
            found,
        }),
        None => Ok(info),
    }
}

/// The sample rates bounce reads, in hertz: from telephone-band speech
/// well under 8 kHz to DXD's 768 kHz. Checked on every header before any
/// buffer is sized from it: a rate of 4294967295 Hz or 1 Hz would make
/// a short file hours long (docs/commands.md, "Limits").
pub const SOURCE_RATES: std::ops::RangeInclusive<u64> = 1_000..=768_000;

/// What a WAV or AIFF header says that no audio can be: a rate that is
/// not a number or out of [`SOURCE_RATES`], no channels, a frame size of
/// zero (checked before the decoder sees the file, which would not
/// survive them).
fn impossible_header(path: &Path) -> Option<String> {
    let mut chunks = Chunks::open(path)?;
    while let Some((id, _, _)) = chunks.next_chunk() {
        match &id {
            // WAV fmt: channels at 2, rate at 4, block align at 12.
            b"fmt " => {
                let fmt: [u8; 14] = chunks.read()?;
                let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
                let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
                let align = u16::from_le_bytes([fmt[12], fmt[13]]);
                return zero_field(channels as u64, rate as u64, align as u64);
            }
            // AIFF COMM: channels, frames, sample size, rate (80-bit float,
            // zero when its exponent and mantissa are).
            b"COMM" => {
                let comm: [u8; 18] = chunks.read()?;
                let channels = u16::from_be_bytes([comm[0], comm[1]]) as u64;
                let bits = u16::from_be_bytes([comm[6], comm[7]]) as u64;
                let rate = match comm[8..18].try_into().map(extended_rate).ok()? {
                    Ok(rate) => rate,
                    Err(what) => {
                        return Some(format!("its header gives a sample rate that is {what}"))
                    }
                };
                return zero_field(channels, rate, bits);
            }
            _ => {}
        }
    }
    None
}

/// An AIFF sample rate (an 80-bit IEEE 754 extended float, big-endian)
/// in whole hertz as a decoder reads it: 0 for anything under 1 Hz (a
/// zero mantissa with any exponent reads as zero), saturated above
/// `u32::MAX`; a NaN or an infinity (exponent all ones) is named.
fn extended_rate(bytes: [u8; 10]) -> Result<u64, &'static str> {
    let sign_exponent = u16::from_be_bytes([bytes[0], bytes[1]]);
    let mantissa = u64::from_be_bytes(bytes[2..10].try_into().expect("8 bytes"));
    if sign_exponent & 0x7fff == 0x7fff && mantissa != 0 {
        // The integer bit alone is infinity; any other fraction is NaN.
        return Err(if mantissa << 1 == 0 {
            "infinite"
        } else {
            "not a number"
        });
    }
    if sign_exponent & 0x8000 != 0 || mantissa == 0 {
        return Ok(0);
    }
    // value = mantissa · 2^(exponent − 16383 − 63)
    let shift = (sign_exponent & 0x7fff) as i32 - 16383 - 63;
    Ok(match shift {
        s if s <= -64 => 0,
        s if s < 0 => mantissa >> -s,
        s if s < 32 && mantissa.leading_zeros() as i32 >= s + 32 => {
            (mantissa << s).min(u32::MAX as u64)
        }
        _ => u32::MAX as u64,
    })
}

/// Why a sample rate is not one bounce reads, if it is not.
pub fn unreadable_rate(rate: u64) -> Option<String> {
    (!SOURCE_RATES.contains(&rate)).then(|| {
        format!(
            "its header gives a sample rate of {rate} Hz; bounce reads {} to {} Hz",
            SOURCE_RATES.start(),
            SOURCE_RATES.end()
        )
    })
}

fn zero_field(channels: u64, rate: u64, frame: u64) -> Option<String> {
    match (channels, rate, frame) {
        (_, 0, _) => Some("its header gives a sample rate of 0 Hz".into()),
        (0, _, _) => Some("its header gives 0 channels".into()),
        (_, _, 0) => Some("its header gives samples of 0 bytes".into()),
        (_, rate, _) => unreadable_rate(rate),
    }
}

/// For a WAV or AIFF file whose audio chunk claims more bytes than the file
/// holds: the frames it declares and the frames it has.
fn cut_short(path: &Path) -> Option<(u64, u64)> {
    let mut chunks = Chunks::open(path)?;
    let mut frame_bytes = None;
    while let Some((id, size, body)) = chunks.next_chunk() {
        match &id {
            // WAV fmt: block align at byte 12.
            b"fmt " => {
                let fmt: [u8; 14] = chunks.read()?;
                frame_bytes = Some(u16::from_le_bytes([fmt[12], fmt[13]]) as u64);
            }
            // AIFF COMM: channels, frame count, sample size.
            b"COMM" => {
                let comm: [u8; 8] = chunks.read()?;
                let channels = u16::from_be_bytes([comm[0], comm[1]]) as u64;
                let bits = u16::from_be_bytes([comm[6], comm[7]]) as u64;
                frame_bytes = Some(channels * bits.div_ceil(8));
            }
            b"data" | b"SSND" if size != u32::MAX => {
                let frame_bytes = frame_bytes.filter(|&b| b > 0)?;
                // SSND starts with an offset and a block size.
                let skip = if &id == b"SSND" { 8 } else { 0 };
                let held = chunks.length - body;
                return (size as u64 > held).then(|| {
                    let declared = (size as u64).saturating_sub(skip) / frame_bytes;
                    let found = held.saturating_sub(skip) / frame_bytes;
                    (declared, found)
                });
            }
            _ => {}
        }
    }
    None
}

impl DecodedFile {
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        if let Some(what) = crate::not_a_regular_file(path) {
            return Err(AudioError::NotAFile {
                path: path.to_path_buf(),
                what,
            });
        }
        let file = File::open(path).map_err(|e| AudioError::Open {
            path: path.to_path_buf(),
            source: e,
        })?;
        let unsupported = |reason: String| AudioError::Unsupported {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(reason) = impossible_header(path) {
            return Err(unsupported(reason));
        }
        let stream = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let probed = crate::contain::contained(|| {
            symphonia::default::get_probe().format(
                &hint,
                stream,
                // Lossy files lose their encoder delay and padding where
                // the file says how long they are (LAME's info frame).
                &FormatOptions {
                    enable_gapless: true,
                    ..Default::default()
                },
                &MetadataOptions::default(),
            )
        })
        .map_err(|why| unsupported(format!("its header cannot be read ({why})")))?
        .map_err(|e| unsupported(e.to_string()))?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| unsupported("no audio track".into()))?;
        let params = &track.codec_params;
        let sample_rate = params
            .sample_rate
            .ok_or_else(|| unsupported("no sample rate".into()))?;
        if let Some(reason) = unreadable_rate(sample_rate as u64) {
            return Err(unsupported(reason));
        }
        // AAC in MP4 often leaves the layout to the stream: the first
        // packet's decoding says it.
        let channels = params
            .channels
            .map(|c| c.count())
            .or_else(|| channels_by_decoding(path))
            .ok_or_else(|| unsupported("no channel layout".into()))?;
        if channels == 0 || channels > 2 {
            return Err(AudioError::Channels {
                path: path.to_path_buf(),
                channels,
            });
        }
        let codec = symphonia::default::get_codecs()
            .get_codec(params.codec)
            .map(|d| d.short_name.to_string())
            .unwrap_or_else(|| "unknown".into());
        let float = matches!(
            params.sample_format,
            Some(symphonia::core::sample::SampleFormat::F32)
                | Some(symphonia::core::sample::SampleFormat::F64)
        ) || codec.starts_with("pcm_f");
        let lossy = matches!(
            codec.as_str(),
            "mp3" | "mp2" | "mp1" | "vorbis" | "aac" | "opus"
        );
        let info = FileInfo {
            codec,
            sample_rate,
            channels,
            bits: if lossy { None } else { params.bits_per_sample },
            float,
            frames: params.n_frames,
        };
        let decoder = crate::contain::contained(|| {
            symphonia::default::get_codecs().make(params, &DecoderOptions::default())
        })
        .map_err(|why| unsupported(format!("its codec setup cannot be read ({why})")))?
        .map_err(|e| unsupported(e.to_string()))?;
        let track_id = track.id;
        let remaining = if lossy {
            None
        } else {
            aiff_frames(path).or(params.n_frames)
        };
        // PCM and FLAC headers state their length exactly (unless a
        // streaming writer left a placeholder); a shorter stream is a
        // damaged file, not a short one.
        let pcm = info.codec.starts_with("pcm");
        let declared = remaining.filter(|&frames| match pcm {
            true => !is_placeholder_length(frames, channels, params.bits_per_sample),
            false => info.codec == "flac",
        });
        let wav = wav::WavData::open(path, &info.codec);
        Ok(DecodedFile {
            path: path.to_path_buf(),
            wav,
            info,
            format,
            decoder,
            track_id,
            pending: None,
            pending_pos: 0,
            finished: false,
            remaining,
            declared,
            decoded: 0,
        })
    }

    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// Decodes the next packet into `pending`; false at the end of the stream.
    fn decode_next(&mut self) -> Result<bool, AudioError> {
        loop {
            let format = &mut self.format;
            let next = crate::contain::contained(|| format.next_packet())
                .map_err(|why| self.stopped(why))?;
            let packet = match next {
                Ok(packet) => packet,
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(false)
                }
                Err(SymphoniaError::ResetRequired) => return Ok(false),
                Err(e) => return Err(self.damaged(e)),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoder = &mut self.decoder;
            let decoded = crate::contain::contained(move || decoder.decode(&packet));
            let decoded = match decoded {
                Err(why) => {
                    return Err(AudioError::Decode {
                        path: self.path.clone(),
                        reason: format!("the decoder stopped: {why}"),
                    })
                }
                Ok(decoded) => decoded,
            };
            let decoded = match decoded {
                Ok(decoded) => decoded,
                // A corrupt packet in a lossy stream is skipped, as players do.
                Err(SymphoniaError::DecodeError(_)) if self.info.bits.is_none() => continue,
                Err(e) => return Err(self.damaged(e)),
            };
            let spec = *decoded.spec();
            let needed = decoded.capacity() as u64;
            let buffer = match &mut self.pending {
                Some(buffer) if buffer.capacity() >= decoded.capacity() * spec.channels.count() => {
                    buffer
                }
                slot => slot.insert(SampleBuffer::new(needed, spec)),
            };
            buffer.copy_planar_ref(decoded);
            self.pending_pos = 0;
            if !buffer.samples().is_empty() {
                return Ok(true);
            }
        }
    }

    /// Fills `left` and `right` from the decoder, short only at the end
    /// of the stream.
    fn read_decoded(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let mut written = 0;
        while written < left.len() && !self.finished {
            let available = self
                .pending
                .as_ref()
                .map(|b| b.samples().len() / self.info.channels - self.pending_pos)
                .unwrap_or(0);
            if available == 0 {
                if !self.decode_next()? {
                    self.finished = true;
                }
                continue;
            }
            let buffer = self.pending.as_ref().expect("pending buffer");
            let samples = buffer.samples();
            let frames_in_buffer = samples.len() / self.info.channels;
            let take = available.min(left.len() - written);
            let start = self.pending_pos;
            let first = &samples[start..start + take];
            left[written..written + take].copy_from_slice(first);
            if self.info.channels == 2 {
                let second = &samples[frames_in_buffer + start..frames_in_buffer + start + take];
                right[written..written + take].copy_from_slice(second);
            } else {
                right[written..written + take].copy_from_slice(first);
            }
            self.pending_pos += take;
            written += take;
        }
        Ok(written)
    }

    /// A float file can hold NaN or infinities: no level, no loudness, no
    /// dither can be computed from them. Every frame delivered is checked,
    /// however it was decoded, unless the file holds integers (PCM or a
    /// lossless codec's), which are finite by construction; a lossy
    /// decoder's float output is checked too.
    fn check_finite(&self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        if !self.info.float && self.info.bits.is_some() {
            return Ok(());
        }
        let bad = |samples: &[f32]| samples.iter().position(|x| !x.is_finite());
        match bad(left).into_iter().chain(bad(right)).min() {
            Some(at) => Err(AudioError::NotFinite {
                path: self.path.clone(),
                frame: self.decoded + at as u64,
                rate: self.info.sample_rate,
            }),
            None => Ok(()),
        }
    }

    /// The decoder panicked on the stream (see [`crate::contain`]).
    fn stopped(&self, why: String) -> AudioError {
        AudioError::Decode {
            path: self.path.clone(),
            reason: format!("the decoder stopped: {why}"),
        }
    }

    fn damaged(&self, e: SymphoniaError) -> AudioError {
        AudioError::Decode {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }
}

impl BlockSource for DecodedFile {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let want = match self.remaining {
            Some(remaining) => (left.len() as u64).min(remaining) as usize,
            None => left.len(),
        };
        let (left, right) = (&mut left[..want], &mut right[..want]);
        let written = match &mut self.wav {
            Some(wav) => {
                let written = wav.read(&self.path, left, right)?;
                self.finished = written < want;
                written
            }
            None => self.read_decoded(left, right)?,
        };
        self.check_finite(&left[..written], &right[..written])?;
        self.decoded += written as u64;
        if let Some(remaining) = &mut self.remaining {
            *remaining -= written as u64;
            if let (true, Some(declared)) = (self.finished && written < want, self.declared) {
                let found = declared - *remaining;
                let path = self.path.clone();
                // PCM runs out only where the file ends; a coded stream
                // also loses the frames its decoder skips as corrupt.
                return Err(match self.info.codec.starts_with("pcm") {
                    true => AudioError::Truncated {
                        path,
                        declared,
                        found,
                    },
                    false => AudioError::FramesMissing {
                        path,
                        declared,
                        found,
                    },
                });
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aiff_rates_read_as_a_decoder_reads_them() {
        // 44100 and 48000 as AIFF writes them (ffmpeg, sox).
        let rate = |hex: &str| {
            let bytes: Vec<u8> = (0..20)
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            extended_rate(bytes.try_into().unwrap())
        };
        let rate = |hex: &str| rate(hex).unwrap_or(u64::MAX);
        assert_eq!(rate("400EAC44000000000000"), 44100);
        assert_eq!(rate("400EBB80000000000000"), 48000);
        // A zero mantissa is zero whatever the exponent says (a fuzzed
        // header that panicked the decoder); under 1 Hz is 0 Hz too.
        assert_eq!(rate("02000000000000000000"), 0);
        assert_eq!(rate("3FFE8000000000000000"), 0);
        assert_eq!(rate("C00EAC44000000000000"), 0);
        assert_eq!(rate("404E8000000000000000"), u32::MAX as u64);
        // An infinity and NaNs are named, never read as a rate.
        let named = |hex: &str| {
            let bytes: Vec<u8> = (0..20)
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            extended_rate(bytes.try_into().unwrap()).unwrap_err()
        };
        assert_eq!(named("7FFF8000000000000000"), "infinite");
        assert_eq!(named("FFFF8000000000000000"), "infinite");
        assert_eq!(named("7FFFC000000000000000"), "not a number");
        assert_eq!(named("7FFF0000000000000001"), "not a number");
    }

    #[test]
    fn rates_outside_what_bounce_reads_are_named() {
        assert!(unreadable_rate(44_100).is_none());
        assert!(unreadable_rate(768_000).is_none());
        assert!(unreadable_rate(999).unwrap().contains("999 Hz"));
        assert!(unreadable_rate(4_294_967_295).is_some());
        assert!(unreadable_rate(1).is_some());
    }
}
