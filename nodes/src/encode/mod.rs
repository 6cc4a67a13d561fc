//! Delivered files: the PCM containers (WAV and Broadcast WAV, AIFF,
//! FLAC) behind one sink that dithers, measures and writes, and MP3
//! through LAME. Each container is one file saying how its bytes lie
//! around the samples ([`Layout`]); the sink does the rest once.
//!
//! Written by hand rather than through a WAV library because a broadcast
//! WAV needs its `bext` chunk before the audio, with loudness figures known
//! only once the audio is written: the chunk is reserved first and filled
//! in at the end. Every byte comes from the audio and the given metadata
//! (no clock, no host name), so the same input gives the same file.

mod aiff;
pub(crate) mod flac;
mod mp3;
mod wav;

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{
    AudioError, BlockSink, Dither, LoudnessBlocks, LoudnessMeter, LoudnessReport, Overs, Quantizer,
};

pub use mp3::{measure_decoded, Mp3Mode, Mp3Settings, Mp3Sink, MP3_BITRATES, MP3_RATES};
pub(crate) use wav::fixed_ascii;
pub use wav::BextInfo;

/// Changes whenever the bytes these writers produce change (each change
/// is listed in docs/design.md, "Versions in a key").
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
    /// MP3, written by [`Mp3Sink`].
    Mp3,
}

/// The sample format of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcmFormat {
    pub sample_rate: u32,
    /// 16, 24 or 32.
    pub bits: u16,
    /// IEEE float samples (WAV only, with 32 bits).
    pub float: bool,
    pub container: Container,
    /// 1 (the master's fold-down, as the plan makes it) or 2. Left out
    /// of a key when 2, so stereo files keep the keys they had.
    #[serde(default = "stereo", skip_serializing_if = "is_stereo")]
    pub channels: u16,
}

fn stereo() -> u16 {
    2
}

fn is_stereo(channels: &u16) -> bool {
    *channels == 2
}

/// What a written file measured.
#[derive(Debug, Clone)]
pub struct Written {
    pub frames: u64,
    pub report: LoudnessReport,
    /// Its 100 ms loudness blocks, when this file was measured (not told
    /// the measurement of the same samples in another file).
    pub blocks: Option<LoudnessBlocks>,
}

/// How a PCM container lays its bytes around the samples.
trait Layout: Send {
    /// Everything before the samples.
    fn header(&mut self) -> Vec<u8>;
    /// One block of integer samples, one slice per channel of the file,
    /// as the file stores them.
    fn integers(&mut self, channels: &[&[i32]], out: &mut Vec<u8>);
    /// One block of float samples (only a layout that takes
    /// [`PcmFormat::float`] is given them).
    fn floats(&mut self, channels: &[&[f32]], out: &mut Vec<u8>) {
        let _ = (channels, out);
        unreachable!("refused by PcmSink::create")
    }
    /// What follows the samples, and the bytes to patch before them once
    /// their count and measurement are known; an error says why the file
    /// cannot hold them.
    fn finish(
        &mut self,
        frames: u64,
        header_len: u64,
        report: &LoudnessReport,
    ) -> Result<Ending, String>;
}

/// The end of a PCM file: bytes after the samples, then patches at offsets.
#[derive(Default)]
struct Ending {
    trailer: Vec<u8>,
    patches: Vec<(u64, Vec<u8>)>,
}

/// The layout that writes `format`'s container.
fn layout(format: PcmFormat, bext: Option<BextInfo>) -> Option<Box<dyn Layout>> {
    Some(match format.container {
        Container::Wav => Box::new(wav::WavLayout::new(format, None)),
        Container::Bwf => Box::new(wav::WavLayout::new(format, Some(bext.unwrap_or_default()))),
        Container::Aiff => Box::new(aiff::AiffLayout::new(format)),
        Container::Flac => Box::new(flac::FlacLayout::new(format)),
        Container::Mp3 => return None,
    })
}

/// The mono fold-down (L + R) / 2 of a block.
pub(crate) fn fold_down(left: &[f32], right: &[f32]) -> Vec<f32> {
    left.iter().zip(right).map(|(l, r)| (l + r) * 0.5).collect()
}

/// Writes a PCM file and measures exactly the samples it writes.
pub struct PcmSink {
    path: PathBuf,
    out: BufWriter<File>,
    layout: Box<dyn Layout>,
    quantizer: Option<Quantizer>,
    /// A mono file: the fold-down (L + R) / 2 of what it is given, which
    /// for a master folded already is its one channel, exactly.
    mono: bool,
    /// Measures the samples written, unless their measurement is known
    /// already (`measured`): the same samples in another container.
    meter: Option<LoudnessMeter>,
    measured: Option<LoudnessReport>,
    /// The quantised samples, planar, and as the meter reads them.
    integers: [Vec<i32>; 2],
    scratch: [Vec<f32>; 2],
    bytes: Vec<u8>,
    frames: u64,
    header_len: u64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> AudioError + '_ {
    move |e| AudioError::Encode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl PcmSink {
    /// `dither` applies only to integer formats; `seed` fixes its noise;
    /// `bext` is written for [`Container::Bwf`]. `measured` is the
    /// measurement of exactly these samples when another file already
    /// took it (it is then reported, not measured again).
    pub fn create(
        path: &Path,
        format: PcmFormat,
        dither: Dither,
        seed: u64,
        bext: Option<BextInfo>,
        measured: Option<LoudnessReport>,
    ) -> Result<Self, AudioError> {
        let Some(mut layout) = layout(format, bext) else {
            return Err(AudioError::Encode {
                path: path.to_path_buf(),
                reason: "MP3 is written by the MP3 sink".into(),
            });
        };
        let file = File::create(path).map_err(io(path))?;
        let header = layout.header();
        let mut sink = PcmSink {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            layout,
            quantizer: (!format.float).then(|| Quantizer::new(format.bits as u32, dither, seed)),
            mono: format.channels == 1,
            meter: match measured {
                Some(_) => None,
                // A bext chunk carries the momentary and short-term maxima.
                None if format.container == Container::Bwf => {
                    Some(LoudnessMeter::full(format.sample_rate)?.of_channels(format.channels)?)
                }
                None => {
                    Some(LoudnessMeter::program(format.sample_rate)?.of_channels(format.channels)?)
                }
            },
            measured,
            integers: [Vec::new(), Vec::new()],
            scratch: [Vec::new(), Vec::new()],
            bytes: Vec::new(),
            frames: 0,
            header_len: header.len() as u64,
        };
        sink.out.write_all(&header).map_err(io(path))?;
        Ok(sink)
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
    pub fn finish(mut self) -> Result<Written, AudioError> {
        let report = match (&self.meter, self.measured) {
            (Some(meter), _) => meter.report()?,
            (None, Some(known)) => known,
            (None, None) => unreachable!("a sink measures or is told"),
        };
        let ending = self
            .layout
            .finish(self.frames, self.header_len, &report)
            .map_err(|reason| AudioError::Encode {
                path: self.path.clone(),
                reason,
            })?;
        let err = io(&self.path);
        self.out.write_all(&ending.trailer).map_err(&err)?;
        for (at, bytes) in &ending.patches {
            self.out.seek(SeekFrom::Start(*at)).map_err(&err)?;
            self.out.write_all(bytes).map_err(&err)?;
        }
        self.out.flush().map_err(&err)?;
        Ok(Written {
            frames: self.frames,
            report,
            blocks: match &self.meter {
                Some(meter) => meter.loudness_blocks(),
                None => None,
            },
        })
    }
}

impl BlockSink for PcmSink {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        self.bytes.clear();
        self.frames += left.len() as u64;
        let folded;
        let (left, right) = if self.mono {
            folded = fold_down(left, right);
            (&folded[..], &folded[..])
        } else {
            (left, right)
        };
        let Some(quantizer) = &mut self.quantizer else {
            // Float samples are written, and measured, as they come.
            let channels: &[&[f32]] = if self.mono { &[left] } else { &[left, right] };
            self.layout.floats(channels, &mut self.bytes);
            if let Some(meter) = &mut self.meter {
                meter.write(left, right)?;
            }
            return self.out.write_all(&self.bytes).map_err(io(&self.path));
        };
        let [il, ir] = &mut self.integers;
        il.clear();
        ir.clear();
        // Left then right, frame by frame: the dither's noise follows the
        // order of the samples in the file.
        if self.mono {
            il.extend(left.iter().map(|l| quantizer.quantize(*l)));
            ir.extend_from_slice(il);
            self.layout.integers(&[il], &mut self.bytes);
        } else {
            for (l, r) in left.iter().zip(right) {
                il.push(quantizer.quantize(*l));
                ir.push(quantizer.quantize(*r));
            }
            self.layout.integers(&[il, ir], &mut self.bytes);
        }
        // The meter reads the integers written, as a decoder will play
        // them (unless it was told their measurement already).
        if let Some(meter) = &mut self.meter {
            let scale = quantizer.scale();
            let [ml, mr] = &mut self.scratch;
            ml.clear();
            mr.clear();
            ml.extend(il.iter().map(|x| (*x as f64 / scale) as f32));
            mr.extend(ir.iter().map(|x| (*x as f64 / scale) as f32));
            meter.write(ml, mr)?;
        }
        self.out.write_all(&self.bytes).map_err(io(&self.path))
    }
}
