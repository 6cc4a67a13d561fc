//! PCM files: WAV, Broadcast WAV (WAV with a `bext` chunk, EBU Tech 3285
//! v2), AIFF and FLAC, written block by block, measured as they are
//! written. FLAC frames are encoded one at a time and written at once, so
//! memory does not grow with the length of the file.
//!
//! Written by hand rather than through a WAV library because a broadcast
//! WAV needs its `bext` chunk before the audio, with loudness figures known
//! only once the audio is written: the chunk is reserved first and filled
//! in at the end. Every byte comes from the audio and the given metadata
//! (no clock, no host name), so the same input gives the same file.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::flac::{FlacStream, FLAC_HEADER};
use crate::{AudioError, BlockSink, Dither, LoudnessMeter, LoudnessReport, Overs, Quantizer};

/// Changes whenever the bytes these writers produce change.
/// 6: an MP3 that its codec left under its target is raised to it.
/// 7: FLAC's Rice parameters are chosen from partition sums (libFLAC's
/// estimate), which changes some frames' bytes.
pub const WRITER_VERSION: u32 = 7;

/// The file around the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Container {
    Wav,
    /// WAV with a `bext` chunk.
    Bwf,
    Aiff,
    Flac,
    /// MP3, written by [`crate::Mp3Sink`].
    Mp3,
}

/// The sample format of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WavFormat {
    pub sample_rate: u32,
    /// 16, 24 or 32.
    pub bits: u16,
    /// IEEE float samples (WAV only, with 32 bits).
    pub float: bool,
    pub container: Container,
}

/// The descriptive fields of a `bext` chunk (EBU Tech 3285 v2 §2.3); the
/// loudness fields are filled from the measurement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BextInfo {
    /// Up to 256 ASCII characters.
    pub description: String,
    /// Up to 32.
    pub originator: String,
    /// Up to 32.
    pub originator_reference: String,
    /// `yyyy-mm-dd`.
    pub origination_date: String,
    /// `hh:mm:ss`.
    pub origination_time: String,
}

const BEXT_FIXED: usize = 602;

/// Writes a PCM file and measures exactly the samples it writes.
pub struct WavSink {
    path: PathBuf,
    out: BufWriter<File>,
    format: WavFormat,
    quantizer: Option<Quantizer>,
    /// Measures the samples written, unless their measurement is known
    /// already (`measured`): the same samples in another container.
    meter: Option<LoudnessMeter>,
    measured: Option<LoudnessReport>,
    scratch: [Vec<f32>; 2],
    bytes: Vec<u8>,
    frames: u64,
    bext: Option<BextInfo>,
    /// Offset of the `bext` chunk's body, to fill in at the end.
    bext_at: u64,
    /// Offset of the audio data's first byte.
    data_at: u64,
    flac: Option<FlacStream>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> AudioError + '_ {
    move |e| AudioError::Encode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// ASCII text, cut or zero-padded to `len` bytes.
pub(crate) fn fixed_ascii(text: &str, len: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = text
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c as u8
            } else {
                b'?'
            }
        })
        .take(len)
        .collect();
    bytes.resize(len, 0);
    bytes
}

/// An IEEE 754 80-bit extended float, big-endian, for AIFF's sample rate.
fn extended(value: u32) -> [u8; 10] {
    let mut out = [0u8; 10];
    if value == 0 {
        return out;
    }
    let exponent = 31 - value.leading_zeros();
    let mantissa = (value as u64) << (63 - exponent);
    out[..2].copy_from_slice(&((16383 + exponent) as u16).to_be_bytes());
    out[2..].copy_from_slice(&mantissa.to_be_bytes());
    out
}

impl WavSink {
    /// `dither` applies only to integer formats; `seed` fixes its noise;
    /// `bext` is written for [`Container::Bwf`]. `measured` is the
    /// measurement of exactly these samples when another file already
    /// took it (it is then reported, not measured again).
    pub fn create(
        path: &Path,
        format: WavFormat,
        dither: Dither,
        seed: u64,
        bext: Option<BextInfo>,
        measured: Option<LoudnessReport>,
    ) -> Result<Self, AudioError> {
        if format.container == Container::Mp3 {
            return Err(AudioError::Encode {
                path: path.to_path_buf(),
                reason: "MP3 is written by the MP3 sink".into(),
            });
        }
        let file = File::create(path).map_err(io(path))?;
        let mut sink = WavSink {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            format,
            quantizer: (!format.float).then(|| Quantizer::new(format.bits as u32, dither, seed)),
            meter: match measured {
                Some(_) => None,
                // A bext chunk carries the momentary and short-term maxima.
                None if format.container == Container::Bwf => {
                    Some(LoudnessMeter::full(format.sample_rate)?)
                }
                None => Some(LoudnessMeter::program(format.sample_rate)?),
            },
            measured,
            scratch: [Vec::new(), Vec::new()],
            bytes: Vec::new(),
            frames: 0,
            bext: (format.container == Container::Bwf).then(|| bext.unwrap_or_default()),
            bext_at: 0,
            data_at: 0,
            flac: None,
        };
        if format.container == Container::Flac {
            sink.flac = Some(FlacStream::new(format.sample_rate, format.bits as u32));
        }
        sink.write_header()?;
        Ok(sink)
    }

    fn bytes_per_sample(&self) -> u16 {
        self.format.bits / 8
    }

    /// Everything before the samples; sizes are patched in `finish`.
    fn write_header(&mut self) -> Result<(), AudioError> {
        let f = self.format;
        let block_align = 2 * self.bytes_per_sample();
        let mut h: Vec<u8> = Vec::new();
        match f.container {
            Container::Wav | Container::Bwf => {
                h.extend_from_slice(b"RIFF\0\0\0\0WAVE");
                if let Some(bext) = &self.bext {
                    let history = self.coding_history();
                    h.extend_from_slice(b"bext");
                    h.extend_from_slice(&((BEXT_FIXED + history.len()) as u32).to_le_bytes());
                    self.bext_at = h.len() as u64;
                    h.extend_from_slice(&fixed_ascii(&bext.description, 256));
                    h.extend_from_slice(&fixed_ascii(&bext.originator, 32));
                    h.extend_from_slice(&fixed_ascii(&bext.originator_reference, 32));
                    h.extend_from_slice(&fixed_ascii(&bext.origination_date, 10));
                    h.extend_from_slice(&fixed_ascii(&bext.origination_time, 8));
                    h.extend_from_slice(&[0u8; 8]); // time reference: the file starts at 0
                    h.extend_from_slice(&2u16.to_le_bytes()); // version 2
                    h.extend_from_slice(&[0u8; 64]); // UMID: none
                    h.extend_from_slice(&[0u8; 10]); // loudness fields, filled at the end
                    h.extend_from_slice(&[0u8; 180]); // reserved
                    h.extend_from_slice(history.as_bytes());
                    if h.len() % 2 == 1 {
                        h.push(0);
                    }
                }
                let tag: u16 = if f.float { 3 } else { 1 };
                h.extend_from_slice(b"fmt ");
                h.extend_from_slice(&(if f.float { 18u32 } else { 16 }).to_le_bytes());
                h.extend_from_slice(&tag.to_le_bytes());
                h.extend_from_slice(&2u16.to_le_bytes());
                h.extend_from_slice(&f.sample_rate.to_le_bytes());
                h.extend_from_slice(&(f.sample_rate * block_align as u32).to_le_bytes());
                h.extend_from_slice(&block_align.to_le_bytes());
                h.extend_from_slice(&f.bits.to_le_bytes());
                if f.float {
                    h.extend_from_slice(&0u16.to_le_bytes());
                    // Non-PCM formats carry a fact chunk with the frame count.
                    h.extend_from_slice(b"fact\x04\0\0\0\0\0\0\0");
                }
                h.extend_from_slice(b"data\0\0\0\0");
            }
            // Reserved; the STREAMINFO is written once the stream is known.
            Container::Flac => h.resize(FLAC_HEADER, 0),
            Container::Mp3 => unreachable!("refused by create"),
            Container::Aiff => {
                h.extend_from_slice(b"FORM\0\0\0\0AIFF");
                h.extend_from_slice(b"COMM");
                h.extend_from_slice(&18u32.to_be_bytes());
                h.extend_from_slice(&2u16.to_be_bytes());
                h.extend_from_slice(&0u32.to_be_bytes()); // frames, patched
                h.extend_from_slice(&f.bits.to_be_bytes());
                h.extend_from_slice(&extended(f.sample_rate));
                h.extend_from_slice(b"SSND\0\0\0\0");
                h.extend_from_slice(&[0u8; 8]); // offset, block size
            }
        }
        self.data_at = h.len() as u64;
        self.out.write_all(&h).map_err(io(&self.path))
    }

    /// EBU R98 coding history: what the file is, one line.
    fn coding_history(&self) -> String {
        let f = self.format;
        format!(
            "A=PCM,F={},W={},M=stereo,T=bounce\r\n",
            f.sample_rate, f.bits
        )
    }

    /// The samples clipped to full scale so far (integer formats).
    pub fn overs(&self) -> Overs {
        self.quantizer
            .as_ref()
            .map(Quantizer::overs)
            .unwrap_or_default()
    }

    /// Finalises the sizes (and the `bext` loudness); returns the frame
    /// count and the measurement of the written samples.
    pub fn finish(mut self) -> Result<(u64, LoudnessReport), AudioError> {
        let report = match (&self.meter, self.measured) {
            (Some(meter), _) => meter.report()?,
            (None, Some(known)) => known,
            (None, None) => unreachable!("a sink measures or is told"),
        };
        if let Some(flac) = &mut self.flac {
            let err = io(&self.path);
            self.out.write_all(&flac.finish()).map_err(&err)?;
            self.out.seek(SeekFrom::Start(0)).map_err(&err)?;
            self.out.write_all(&flac.header()).map_err(&err)?;
            self.out.flush().map_err(&err)?;
            return Ok((self.frames, report));
        }
        let data_bytes = self.frames * 2 * self.bytes_per_sample() as u64;
        let err = io(&self.path);
        if data_bytes > u32::MAX as u64 - self.data_at {
            return Err(AudioError::Encode {
                path: self.path.clone(),
                reason: "longer than a WAV or AIFF file can hold (4 GB)".into(),
            });
        }
        let pad = data_bytes % 2 == 1;
        if pad {
            self.out.write_all(&[0]).map_err(&err)?;
        }
        let total = self.data_at + data_bytes + pad as u64;
        let mut put = |at: u64, bytes: &[u8]| -> Result<(), AudioError> {
            self.out.seek(SeekFrom::Start(at)).map_err(&err)?;
            self.out.write_all(bytes).map_err(&err)
        };
        match self.format.container {
            Container::Wav | Container::Bwf => {
                put(4, &((total - 8) as u32).to_le_bytes())?;
                put(self.data_at - 4, &(data_bytes as u32).to_le_bytes())?;
                if self.format.float {
                    put(self.data_at - 12, &(self.frames as u32).to_le_bytes())?;
                }
                if self.bext.is_some() {
                    put(self.bext_at + 412, &bext_loudness(&report))?;
                }
            }
            Container::Flac | Container::Mp3 => unreachable!("finished above or refused"),
            Container::Aiff => {
                put(4, &((total - 8) as u32).to_be_bytes())?;
                put(22, &(self.frames as u32).to_be_bytes())?;
                put(self.data_at - 12, &((data_bytes + 8) as u32).to_be_bytes())?;
            }
        }
        self.out.flush().map_err(&err)?;
        Ok((self.frames, report))
    }
}

/// The five loudness fields of `bext` v2, each a value × 100 as i16
/// (EBU Tech 3285 v2 §2.3): 0x7fff where the figure does not exist.
fn bext_loudness(report: &LoudnessReport) -> [u8; 10] {
    let mut out = [0u8; 10];
    let values = [
        report.integrated,
        report.range,
        report.true_peak,
        report.max_momentary,
        report.max_short_term,
    ];
    for (i, value) in values.iter().enumerate() {
        let encoded = if value.is_finite() {
            (value * 100.0)
                .round()
                .clamp(i16::MIN as f64, i16::MAX as f64 - 1.0) as i16
        } else {
            i16::MAX
        };
        out[2 * i..2 * i + 2].copy_from_slice(&encoded.to_le_bytes());
    }
    out
}

impl BlockSink for WavSink {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        let big_endian = self.format.container == Container::Aiff;
        // FLAC takes whole i32 samples; the files take `bits / 8` bytes.
        let width = if self.flac.is_some() {
            4
        } else {
            self.bytes_per_sample() as usize
        };
        let [ml, mr] = &mut self.scratch;
        ml.clear();
        mr.clear();
        self.bytes.clear();
        match &mut self.quantizer {
            Some(quantizer) => {
                let scale = quantizer.scale();
                for (l, r) in left.iter().zip(right) {
                    for (value, measured) in [
                        (quantizer.quantize(*l), &mut *ml),
                        (quantizer.quantize(*r), &mut *mr),
                    ] {
                        let le = value.to_le_bytes();
                        if big_endian {
                            self.bytes.extend(le[..width].iter().rev());
                        } else {
                            self.bytes.extend_from_slice(&le[..width]);
                        }
                        measured.push((value as f64 / scale) as f32);
                    }
                }
            }
            None => {
                for (l, r) in left.iter().zip(right) {
                    self.bytes.extend_from_slice(&l.to_le_bytes());
                    self.bytes.extend_from_slice(&r.to_le_bytes());
                }
                ml.extend_from_slice(left);
                mr.extend_from_slice(right);
            }
        }
        self.frames += left.len() as u64;
        if let Some(meter) = &mut self.meter {
            meter.write(ml, mr)?;
        }
        if let Some(flac) = &mut self.flac {
            let mut channels = [Vec::new(), Vec::new()];
            for (i, b) in self.bytes.chunks_exact(4).enumerate() {
                channels[i % 2].push(i32::from_le_bytes(b.try_into().expect("4 bytes")));
            }
            let frames = flac.push(&channels[0], &channels[1]);
            self.out.write_all(&frames).map_err(io(&self.path))
        } else {
            self.out.write_all(&self.bytes).map_err(io(&self.path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_floats_encode_common_rates() {
        // 44100 = 0x400E AC44000000000000 in 80-bit extended.
        assert_eq!(extended(44100), [0x40, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]);
        assert_eq!(extended(48000), [0x40, 0x0E, 0xBB, 0x80, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn bext_loudness_is_hundredths_with_a_missing_marker() {
        let report = LoudnessReport {
            integrated: -23.04,
            range: 5.5,
            true_peak: -1.0,
            max_momentary: f64::NEG_INFINITY,
            max_short_term: -18.0,
            sample_peak: -1.2,
        };
        let bytes = bext_loudness(&report);
        let field = |i: usize| i16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]);
        assert_eq!(
            (field(0), field(1), field(2), field(3), field(4)),
            (-2304, 550, -100, i16::MAX, -1800)
        );
    }
}
