//! WAV's PCM read straight from its data chunk: the samples symphonia's
//! PCM decoder gives, converted as it converts them (symphonia-core's
//! `conv.rs`), without its sample-by-sample path. WAV is what bounce reads
//! most: stems, its own deliverables, and every file a report inspects.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::Chunks;
use crate::AudioError;

/// How a sample is stored, among those read here.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    Int16,
    Int24,
    Int32,
    Float32,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::Int16 => 2,
            Encoding::Int24 => 3,
            Encoding::Int32 | Encoding::Float32 => 4,
        }
    }

    /// The name symphonia's decoder gives the same samples.
    fn codec(self) -> &'static str {
        match self {
            Encoding::Int16 => "pcm_s16le",
            Encoding::Int24 => "pcm_s24le",
            Encoding::Int32 => "pcm_s32le",
            Encoding::Float32 => "pcm_f32le",
        }
    }

    /// One sample from its little-endian bytes, as symphonia converts it:
    /// integers over 2^(bits−1), the 32-bit ones by way of f64.
    #[inline(always)]
    fn sample(self, b: &[u8]) -> f32 {
        match self {
            Encoding::Int16 => i16::from_le_bytes([b[0], b[1]]) as f32 / 32_768.0,
            Encoding::Int24 => {
                (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0
            }
            Encoding::Int32 => {
                (i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64 / 2_147_483_648.0) as f32
            }
            Encoding::Float32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        }
    }
}

/// Frames read from the file at once.
const FRAMES_PER_READ: usize = 4096;

/// The data chunk of a WAV file, being read.
pub(super) struct WavData {
    file: File,
    encoding: Encoding,
    channels: usize,
    /// Bytes of the data chunk not read yet.
    left_in_chunk: u64,
    bytes: Vec<u8>,
}

impl WavData {
    /// The data chunk of the WAV file at `path`, when it holds 16, 24 or
    /// 32-bit integers or 32-bit floats in one or two channels, with a
    /// length the header states, and symphonia named its codec `codec`
    /// (so both read the same samples); `None` leaves the file to
    /// symphonia.
    pub(super) fn open(path: &Path, codec: &str) -> Option<WavData> {
        let mut chunks = Chunks::open(path).filter(|c| !c.aiff)?;
        let mut format = None;
        while let Some((id, size, body)) = chunks.next_chunk() {
            match &id {
                b"fmt " => format = format_of(&mut chunks, size),
                b"data" if size != u32::MAX => {
                    let (encoding, channels) = format?;
                    if encoding.codec() != codec {
                        return None;
                    }
                    let mut file = chunks.file;
                    file.seek(SeekFrom::Start(body)).ok()?;
                    return Some(WavData {
                        file,
                        encoding,
                        channels,
                        left_in_chunk: size as u64,
                        bytes: Vec::new(),
                    });
                }
                _ => {}
            }
        }
        None
    }

    /// Reads up to `left.len()` frames; fewer only where the data chunk
    /// or the file ends (a partial last frame is dropped, as symphonia
    /// drops it). A mono file fills both channels.
    pub(super) fn read(
        &mut self,
        path: &Path,
        left: &mut [f32],
        right: &mut [f32],
    ) -> Result<usize, AudioError> {
        let frame = self.channels * self.encoding.bytes();
        let mut written = 0;
        while written < left.len() {
            let frames = (left.len() - written)
                .min(FRAMES_PER_READ)
                .min((self.left_in_chunk / frame as u64) as usize);
            if frames == 0 {
                break;
            }
            self.bytes.resize(frames * frame, 0);
            let got =
                read_up_to(&mut self.file, &mut self.bytes).map_err(|e| AudioError::Decode {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            self.left_in_chunk -= got as u64;
            let frames = got / frame;
            let (l, r) = (
                &mut left[written..written + frames],
                &mut right[written..written + frames],
            );
            self.convert(&self.bytes[..frames * frame], l, r);
            written += frames;
            if got < self.bytes.len() {
                self.left_in_chunk = 0;
                break;
            }
        }
        Ok(written)
    }

    fn convert(&self, bytes: &[u8], left: &mut [f32], right: &mut [f32]) {
        // One loop per encoding, so each compiles to straight-line code.
        match self.encoding {
            Encoding::Int16 => self.convert_as(Encoding::Int16, bytes, left, right),
            Encoding::Int24 => self.convert_as(Encoding::Int24, bytes, left, right),
            Encoding::Int32 => self.convert_as(Encoding::Int32, bytes, left, right),
            Encoding::Float32 => self.convert_as(Encoding::Float32, bytes, left, right),
        }
    }

    #[inline(always)]
    fn convert_as(&self, encoding: Encoding, bytes: &[u8], left: &mut [f32], right: &mut [f32]) {
        let width = encoding.bytes();
        match self.channels {
            2 => {
                for ((b, l), r) in bytes.chunks_exact(2 * width).zip(left).zip(right) {
                    *l = encoding.sample(&b[..width]);
                    *r = encoding.sample(&b[width..]);
                }
            }
            _ => {
                for ((b, l), r) in bytes.chunks_exact(width).zip(left).zip(right) {
                    *l = encoding.sample(b);
                    *r = *l;
                }
            }
        }
    }
}

/// The encoding and channel count of a `fmt ` chunk of `size` bytes, if
/// read here: format 1 (integer PCM), 3 (IEEE float), or the extensible
/// format carrying either with every bit of its container valid.
fn format_of(chunks: &mut Chunks, size: u32) -> Option<(Encoding, usize)> {
    let fmt: [u8; 16] = chunks.read()?;
    let field = |at: usize| u16::from_le_bytes([fmt[at], fmt[at + 1]]);
    let (mut tag, channels, align, bits) = (field(0), field(2), field(12), field(14));
    if tag == 0xFFFE {
        if size < 40 {
            return None;
        }
        // cbSize, valid bits, channel mask, then the sub-format's GUID,
        // whose first two bytes are the format tag.
        let extension: [u8; 10] = chunks.read()?;
        let valid = u16::from_le_bytes([extension[2], extension[3]]);
        if valid != bits {
            return None;
        }
        tag = u16::from_le_bytes([extension[8], extension[9]]);
    }
    let encoding = match (tag, bits) {
        (1, 16) => Encoding::Int16,
        (1, 24) => Encoding::Int24,
        (1, 32) => Encoding::Int32,
        (3, 32) => Encoding::Float32,
        _ => return None,
    };
    let channels = channels as usize;
    let whole = (1..=2).contains(&channels) && align as usize == channels * encoding.bytes();
    whole.then_some((encoding, channels))
}

/// Fills `bytes` from `file`, short only at the file's end.
fn read_up_to(file: &mut File, bytes: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < bytes.len() {
        match file.read(&mut bytes[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BlockSource, DecodedFile};

    /// A signal that reaches both ends of the scale and every bit of a
    /// 32-bit integer: a sweep, full-scale extremes and noise.
    fn signal(frames: usize, channel: usize) -> Vec<f64> {
        let mut state = 17u64 + channel as u64;
        (0..frames)
            .map(|i| match i % 1000 {
                0 => 1.0,
                1 => -1.0,
                _ => {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                    0.6 * (i as f64 * 0.001 * (1.0 + channel as f64)).sin() + 0.3 * noise
                }
            })
            .collect()
    }

    fn write(path: &Path, channels: u16, bits: u16, float: bool, frames: usize) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 44100,
            bits_per_sample: bits,
            sample_format: match float {
                true => hound::SampleFormat::Float,
                false => hound::SampleFormat::Int,
            },
        };
        let mut writer = hound::WavWriter::create(path, spec).unwrap();
        let signals: Vec<Vec<f64>> = (0..channels as usize).map(|c| signal(frames, c)).collect();
        let full = (1i64 << (bits - 1)) as f64;
        for i in 0..frames {
            for s in &signals {
                match (float, bits) {
                    (true, _) => writer.write_sample(s[i] as f32).unwrap(),
                    (false, 16) => writer
                        .write_sample((s[i] * full).clamp(-full, full - 1.0) as i16)
                        .unwrap(),
                    (false, _) => writer
                        .write_sample((s[i] * full).clamp(-full, full - 1.0) as i32)
                        .unwrap(),
                }
            }
        }
        writer.finalize().unwrap();
    }

    fn decode(path: &Path, direct: bool, chunk: usize) -> (Vec<u32>, bool) {
        let mut file = DecodedFile::open(path).unwrap();
        let read_directly = file.wav.is_some();
        if !direct {
            file.wav = None;
        }
        let (mut left, mut right) = (vec![0.0f32; chunk], vec![0.0f32; chunk]);
        let mut bits = Vec::new();
        loop {
            let n = file.read(&mut left, &mut right).unwrap();
            if n == 0 {
                break;
            }
            for i in 0..n {
                bits.extend([left[i].to_bits(), right[i].to_bits()]);
            }
        }
        (bits, read_directly)
    }

    /// Every encoding read here gives the bits symphonia's decoder gives,
    /// mono and stereo, plain and extensible headers (hound writes the
    /// extensible one over 16 bits), in reads of any size.
    #[test]
    fn reads_the_samples_symphonia_reads() {
        let dir = tempfile::tempdir().unwrap();
        for (bits, float) in [(16, false), (24, false), (32, false), (32, true)] {
            for channels in [1u16, 2] {
                let path = dir.path().join(format!("{bits}-{float}-{channels}.wav"));
                write(&path, channels, bits, float, 10_000);
                let (expected, _) = decode(&path, false, 4096);
                assert_eq!(expected.len(), 20_000);
                for chunk in [1, 1000, 4096, 20_000] {
                    let (read, direct) = decode(&path, true, chunk);
                    assert!(direct, "{bits}-bit {channels} channels read by symphonia");
                    assert!(
                        read == expected,
                        "{bits}-bit, float {float}, {channels} channels, reads of {chunk}"
                    );
                }
            }
        }
    }

    /// A chunk after the audio (tags) is not read as audio, and a file cut
    /// inside its data chunk reads as cut short, as symphonia reports it.
    #[test]
    fn stops_at_the_data_chunk_and_reports_a_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tagged.wav");
        write(&path, 2, 24, false, 5000);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"LIST\x08\x00\x00\x00INFOabcd");
        let riff = (bytes.len() - 8) as u32;
        bytes[4..8].copy_from_slice(&riff.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let (read, direct) = decode(&path, true, 4096);
        assert!(direct);
        assert_eq!(read.len(), 10_000);
        assert!(read == decode(&path, false, 4096).0);

        let cut = dir.path().join("cut.wav");
        std::fs::write(&cut, &bytes[..bytes.len() - 16 - 3000]).unwrap();
        let mut file = DecodedFile::open(&cut).unwrap();
        assert!(file.wav.is_some());
        let error = crate::copy_source(&mut file, &mut crate::block::Discard).unwrap_err();
        assert!(
            matches!(
                error,
                AudioError::Truncated {
                    declared: 5000,
                    found: 4500,
                    ..
                }
            ),
            "{error}"
        );
    }

    /// A NaN in a float file is an error that says which frame, read
    /// straight or through symphonia's decoder.
    #[test]
    fn a_nan_is_found_at_its_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.wav");
        write(&path, 2, 32, true, 3000);
        let mut bytes = std::fs::read(&path).unwrap();
        let data = bytes.windows(4).position(|w| w == b"data").unwrap() + 8;
        let at = data + (2345 * 2 + 1) * 4;
        bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        for direct in [true, false] {
            let mut file = DecodedFile::open(&path).unwrap();
            assert!(file.wav.is_some());
            if !direct {
                file.wav = None;
            }
            let error = crate::copy_source(&mut file, &mut crate::block::Discard).unwrap_err();
            assert!(
                matches!(error, AudioError::NotFinite { frame: 2345, .. }),
                "read directly {direct}: {error}"
            );
        }
    }
}
