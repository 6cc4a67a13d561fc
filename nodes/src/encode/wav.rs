//! WAV and Broadcast WAV (WAV with a `bext` chunk, EBU Tech 3285 v2):
//! RIFF chunks, little-endian samples.

use super::{Ending, Layout, PcmFormat};
use crate::LoudnessReport;

use serde::{Deserialize, Serialize};

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

/// A RIFF/WAVE file, with a `bext` chunk for a Broadcast WAV.
pub(super) struct WavLayout {
    format: PcmFormat,
    bext: Option<BextInfo>,
    /// Offset of the `bext` chunk's body, to fill in at the end.
    bext_at: u64,
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

impl WavLayout {
    pub(super) fn new(format: PcmFormat, bext: Option<BextInfo>) -> Self {
        WavLayout {
            format,
            bext,
            bext_at: 0,
        }
    }

    /// EBU R98 coding history: what the file is, one line.
    fn coding_history(&self) -> String {
        let f = self.format;
        format!(
            "A=PCM,F={},W={},M={},T=bounce\r\n",
            f.sample_rate,
            f.bits,
            if f.channels == 1 { "mono" } else { "stereo" }
        )
    }
}

impl Layout for WavLayout {
    fn header(&mut self) -> Vec<u8> {
        let f = self.format;
        let block_align = f.channels * (f.bits / 8);
        let mut h: Vec<u8> = Vec::new();
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
        h.extend_from_slice(&f.channels.to_le_bytes());
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
        h
    }

    fn integers(&mut self, channels: &[&[i32]], out: &mut Vec<u8>) {
        let width = (self.format.bits / 8) as usize;
        for i in 0..channels[0].len() {
            for channel in channels {
                out.extend_from_slice(&channel[i].to_le_bytes()[..width]);
            }
        }
    }

    fn floats(&mut self, channels: &[&[f32]], out: &mut Vec<u8>) {
        for i in 0..channels[0].len() {
            for channel in channels {
                out.extend_from_slice(&channel[i].to_le_bytes());
            }
        }
    }

    fn finish(
        &mut self,
        frames: u64,
        data_at: u64,
        report: &LoudnessReport,
    ) -> Result<Ending, String> {
        let data_bytes = frames * self.format.channels as u64 * (self.format.bits / 8) as u64;
        if data_bytes > u32::MAX as u64 - data_at {
            return Err("longer than a WAV file can hold (4 GB)".into());
        }
        // Chunks are word-aligned (RIFF): an odd data chunk gets a pad byte.
        let pad = data_bytes % 2 == 1;
        let total = data_at + data_bytes + pad as u64;
        let mut ending = Ending {
            trailer: if pad { vec![0] } else { Vec::new() },
            patches: vec![
                (4, ((total - 8) as u32).to_le_bytes().to_vec()),
                (data_at - 4, (data_bytes as u32).to_le_bytes().to_vec()),
            ],
        };
        if self.format.float {
            let fact = (frames as u32).to_le_bytes().to_vec();
            ending.patches.push((data_at - 12, fact));
        }
        if self.bext.is_some() {
            let loudness = bext_loudness(report).to_vec();
            ending.patches.push((self.bext_at + 412, loudness));
        }
        Ok(ending)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bext_loudness_is_hundredths_with_a_missing_marker() {
        let report = LoudnessReport {
            integrated: -23.04,
            range: 5.5,
            true_peak: -1.0,
            true_peak_channels: [-1.0, -1.5],
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
