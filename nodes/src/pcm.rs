//! bounce's intermediate audio format: the bytes of every cached step output.
//!
//! A 16-byte header (`BNCPCM01`, sample rate u32 LE, channels u16 LE = 2,
//! precision u8, reserved u8) then interleaved stereo `f32` LE frames. The
//! frame count follows from the file length, so the writer streams.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::{AudioError, BlockSink, BlockSource};

const MAGIC: &[u8; 8] = b"BNCPCM01";
const HEADER_LEN: u64 = 16;

/// How many bits of integer precision the samples carry exactly, or `Float`
/// once processing has left the integer grid. It decides whether a
/// deliverable needs dither: samples already on a 24-bit grid go to a 24-bit
/// file untouched, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    Int(u8),
    Float,
}

impl Precision {
    fn to_byte(self) -> u8 {
        match self {
            Precision::Int(bits) => bits,
            Precision::Float => 0,
        }
    }
    fn from_byte(byte: u8) -> Self {
        match byte {
            0 => Precision::Float,
            bits => Precision::Int(bits),
        }
    }

    /// The precision of the sum of two signals: integers on a grid stay on
    /// the finer of the two grids.
    pub fn combine(self, other: Precision) -> Precision {
        match (self, other) {
            (Precision::Int(a), Precision::Int(b)) => Precision::Int(a.max(b)),
            _ => Precision::Float,
        }
    }
}

/// Writes the intermediate format.
pub struct PcmWriter {
    path: PathBuf,
    out: BufWriter<File>,
    frames: u64,
    scratch: Vec<u8>,
}

impl PcmWriter {
    pub fn create(path: &Path, sample_rate: u32, precision: Precision) -> Result<Self, AudioError> {
        let file = File::create(path).map_err(|e| AudioError::io(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&sample_rate.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.push(precision.to_byte());
        header.push(0);
        out.write_all(&header)
            .map_err(|e| AudioError::io(path, e))?;
        Ok(PcmWriter {
            path: path.to_path_buf(),
            out,
            frames: 0,
            scratch: Vec::new(),
        })
    }

    /// Flushes and closes the file; returns the frame count.
    pub fn finish(mut self) -> Result<u64, AudioError> {
        self.out
            .flush()
            .map_err(|e| AudioError::io(&self.path, e))?;
        Ok(self.frames)
    }
}

impl BlockSink for PcmWriter {
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError> {
        self.scratch.clear();
        for (l, r) in left.iter().zip(right) {
            self.scratch.extend_from_slice(&l.to_le_bytes());
            self.scratch.extend_from_slice(&r.to_le_bytes());
        }
        self.out
            .write_all(&self.scratch)
            .map_err(|e| AudioError::io(&self.path, e))?;
        self.frames += left.len() as u64;
        Ok(())
    }
}

/// Reads the intermediate format block by block.
pub struct PcmReader {
    path: PathBuf,
    input: BufReader<File>,
    sample_rate: u32,
    precision: Precision,
    frames: u64,
    remaining: u64,
    scratch: Vec<u8>,
    header: [u8; HEADER_LEN as usize],
    /// For a file named by its content: the hash so far and the one due.
    check: Option<(blake3::Hasher, [u8; 32])>,
}

impl PcmReader {
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let file = File::open(path).map_err(|e| AudioError::Open {
            path: path.to_path_buf(),
            source: e,
        })?;
        let len = file.metadata().map_err(|e| AudioError::io(path, e))?.len();
        let bad = |reason: &str| AudioError::BadPcm {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let mut input = BufReader::with_capacity(1 << 16, file);
        let mut header = [0u8; HEADER_LEN as usize];
        input
            .read_exact(&mut header)
            .map_err(|_| bad("shorter than its header"))?;
        if &header[..8] != MAGIC {
            return Err(bad("wrong magic"));
        }
        let sample_rate = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        let channels = u16::from_le_bytes(header[12..14].try_into().expect("2 bytes"));
        if channels != 2 {
            return Err(bad("not stereo"));
        }
        if !(len - HEADER_LEN).is_multiple_of(8) {
            return Err(bad("truncated frame"));
        }
        let frames = (len - HEADER_LEN) / 8;
        Ok(PcmReader {
            path: path.to_path_buf(),
            input,
            sample_rate,
            precision: Precision::from_byte(header[14]),
            frames,
            remaining: frames,
            scratch: Vec::new(),
            header,
            check: None,
        })
    }

    /// Opens a file whose BLAKE3 hash must be `expected` (a cached file,
    /// named by its content): reading it to the end checks that, and a
    /// damaged file fails with [`AudioError::Damaged`] instead of being used.
    pub fn verified(path: &Path, expected: [u8; 32]) -> Result<Self, AudioError> {
        let mut reader = Self::open(path)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(&reader.header);
        reader.check = Some((hasher, expected));
        if reader.remaining == 0 {
            reader.finish_check()?;
        }
        Ok(reader)
    }

    fn finish_check(&mut self) -> Result<(), AudioError> {
        if let Some((hasher, expected)) = self.check.take() {
            if hasher.finalize().as_bytes() != &expected {
                return Err(AudioError::Damaged {
                    path: self.path.clone(),
                });
            }
        }
        Ok(())
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    pub fn precision(&self) -> Precision {
        self.precision
    }
    pub fn frames(&self) -> u64 {
        self.frames
    }
}

impl BlockSource for PcmReader {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        let frames = (left.len() as u64).min(self.remaining) as usize;
        self.scratch.resize(frames * 8, 0);
        self.input
            .read_exact(&mut self.scratch)
            .map_err(|e| AudioError::io(&self.path, e))?;
        for (i, frame) in self.scratch.chunks_exact(8).enumerate() {
            left[i] = f32::from_le_bytes(frame[..4].try_into().expect("4 bytes"));
            right[i] = f32::from_le_bytes(frame[4..].try_into().expect("4 bytes"));
        }
        self.remaining -= frames as u64;
        if let Some((hasher, _)) = &mut self.check {
            hasher.update(&self.scratch);
            if self.remaining == 0 {
                self.finish_check()?;
            }
        }
        Ok(frames)
    }
}
