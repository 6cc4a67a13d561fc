//! AIFF: IFF chunks, big-endian samples, the rate as an 80-bit float.

use super::{Ending, Layout, PcmFormat};
use crate::LoudnessReport;

/// A FORM/AIFF file.
pub(super) struct AiffLayout {
    format: PcmFormat,
}

impl AiffLayout {
    pub(super) fn new(format: PcmFormat) -> Self {
        AiffLayout { format }
    }
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

impl Layout for AiffLayout {
    fn header(&mut self) -> Vec<u8> {
        let f = self.format;
        let mut h: Vec<u8> = Vec::new();
        h.extend_from_slice(b"FORM\0\0\0\0AIFF");
        h.extend_from_slice(b"COMM");
        h.extend_from_slice(&18u32.to_be_bytes());
        h.extend_from_slice(&f.channels.to_be_bytes());
        h.extend_from_slice(&0u32.to_be_bytes()); // frames, patched
        h.extend_from_slice(&f.bits.to_be_bytes());
        h.extend_from_slice(&extended(f.sample_rate));
        h.extend_from_slice(b"SSND\0\0\0\0");
        h.extend_from_slice(&[0u8; 8]); // offset, block size
        h
    }

    fn integers(&mut self, channels: &[&[i32]], out: &mut Vec<u8>) {
        let width = (self.format.bits / 8) as usize;
        for i in 0..channels[0].len() {
            for channel in channels {
                out.extend_from_slice(&channel[i].to_be_bytes()[4 - width..]);
            }
        }
    }

    fn finish(&mut self, frames: u64, data_at: u64, _: &LoudnessReport) -> Result<Ending, String> {
        let data_bytes = frames * self.format.channels as u64 * (self.format.bits / 8) as u64;
        if data_bytes > u32::MAX as u64 - data_at {
            return Err("longer than an AIFF file can hold (4 GB)".into());
        }
        // Chunks are word-aligned (EA IFF 85): an odd one gets a pad byte.
        let pad = data_bytes % 2 == 1;
        let total = data_at + data_bytes + pad as u64;
        Ok(Ending {
            trailer: if pad { vec![0] } else { Vec::new() },
            patches: vec![
                (4, ((total - 8) as u32).to_be_bytes().to_vec()),
                (22, (frames as u32).to_be_bytes().to_vec()),
                (
                    data_at - 12,
                    ((data_bytes + 8) as u32).to_be_bytes().to_vec(),
                ),
            ],
        })
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
}
