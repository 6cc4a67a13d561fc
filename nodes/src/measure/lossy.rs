//! What a lossy codec changed: its decoded file against a lossless file
//! of the same master at the same rate, sample by sample. The difference
//! is what the codec removed or added; its level and spectrum say how
//! much and where, and a short excerpt of it lets an engineer listen.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::inspect::SpectrumAccumulator;
use super::lanes;
use crate::block::read_full;
use crate::{gain_to_db, AudioError, BlockSink, DecodedFile, Inspector, Spectrum, StereoBuffer};

/// The codec's difference, measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CodecDifference {
    /// RMS level of the difference over both channels, dBFS (−∞ when the
    /// files are identical).
    pub difference_level: f64,
    /// The difference's level against the lossless file's, dB.
    pub difference_to_signal: f64,
    /// The difference's average spectrum (1/6 octave, as a file's).
    pub spectrum: Spectrum,
}

/// Where an excerpt of the difference goes, and what it holds.
pub struct Excerpt<'a> {
    pub path: &'a Path,
    /// Seconds into the files.
    pub start: f64,
    pub seconds: f64,
}

/// An excerpt as written: raised so its peak sits at −1 dBFS (a codec's
/// difference is quiet), by `gain_db`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ExcerptWritten {
    pub start: f64,
    pub seconds: f64,
    pub gain_db: f64,
}

/// Measures `decoded` less `lossless`, frame by frame from the start
/// (a gapless decoder puts the codec's first sample on the source's), and
/// writes an excerpt of it if asked. The decoded audio also flows into
/// `inspector`, if given, so the file is decoded once for both. `None`
/// when the rates differ.
pub fn codec_difference(
    decoded: &Path,
    lossless: &Path,
    excerpt: Option<Excerpt>,
    mut inspector: Option<&mut Inspector>,
) -> Result<Option<(CodecDifference, Option<ExcerptWritten>)>, AudioError> {
    let mut coded = DecodedFile::open(decoded)?;
    let mut clean = DecodedFile::open(lossless)?;
    let rate = clean.info().sample_rate;
    if coded.info().sample_rate != rate {
        return Ok(None);
    }
    let (mut a, mut b) = (StereoBuffer::default(), StereoBuffer::default());
    let mut spectrum = SpectrumAccumulator::new();
    let (mut difference_power, mut signal_power, mut frames) = (0.0f64, 0.0f64, 0u64);
    let window = excerpt.as_ref().map(|e| {
        (
            (e.start * rate as f64) as u64,
            (e.seconds * rate as f64) as u64,
        )
    });
    let mut kept: [Vec<f32>; 2] = [Vec::new(), Vec::new()];
    let mut difference: [Vec<f32>; 2] = [Vec::new(), Vec::new()];
    loop {
        let n = read_full(&mut coded, &mut a.left, &mut a.right)?;
        if let Some(inspector) = inspector.as_deref_mut() {
            inspector.write(&a.left[..n], &a.right[..n])?;
        }
        let m = read_full(&mut clean, &mut b.left, &mut b.right)?;
        let len = n.max(m);
        if len == 0 {
            break;
        }
        // Where one file has ended, the other's samples are the difference.
        let channels = [(&a.left, &b.left), (&a.right, &b.right)];
        for ((coded, clean), out) in channels.into_iter().zip(difference.iter_mut()) {
            let both = n.min(m);
            out.clear();
            out.extend(coded[..both].iter().zip(&clean[..both]).map(|(x, y)| x - y));
            out.extend_from_slice(&coded[both..n]);
            out.extend(clean[both..m].iter().map(|y| -y));
            out.resize(len, 0.0);
            difference_power += lanes::squares(out);
            signal_power += lanes::squares(&clean[..m]);
        }
        spectrum.write(&difference[0], &difference[1]);
        if let Some((start, length)) = window {
            let from = start.saturating_sub(frames).min(len as u64) as usize;
            let to = (start + length).saturating_sub(frames).min(len as u64) as usize;
            for (keep, out) in kept.iter_mut().zip(&difference) {
                keep.extend_from_slice(&out[from..to]);
            }
        }
        frames += len as u64;
    }
    let samples = (2 * frames).max(1) as f64;
    let level = |power: f64| 10.0 * (power / samples).log10();
    let measured = CodecDifference {
        difference_level: level(difference_power),
        difference_to_signal: level(difference_power) - level(signal_power),
        spectrum: spectrum.finish(rate),
    };
    let written = match excerpt {
        Some(e) if !kept[0].is_empty() => Some(write_excerpt(e, rate, &kept)?),
        _ => None,
    };
    Ok(Some((measured, written)))
}

/// Writes the excerpt as 16-bit stereo WAV (every browser plays it),
/// raised so its peak sits at −1 dBFS.
fn write_excerpt(
    excerpt: Excerpt,
    rate: u32,
    kept: &[Vec<f32>; 2],
) -> Result<ExcerptWritten, AudioError> {
    let peak = lanes::peak(&kept[0]).max(lanes::peak(&kept[1]));
    let gain_db = if peak > 0.0 {
        -1.0 - gain_to_db(peak as f64)
    } else {
        0.0
    };
    let gain = crate::db_to_gain(gain_db) as f32;
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let io = |e: hound::Error| AudioError::Encode {
        path: excerpt.path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut writer = hound::WavWriter::create(excerpt.path, spec).map_err(io)?;
    // Rounded half away from zero; a cast to an integer saturates. Computed
    // before writing, in a loop the compiler vectorises.
    let quantise = |s: f32| {
        let v = s * gain * 32767.0;
        (v + 0.5f32.copysign(v)) as i16
    };
    let interleaved: Vec<i16> = kept[0]
        .iter()
        .zip(&kept[1])
        .flat_map(|(l, r)| [quantise(*l), quantise(*r)])
        .collect();
    let mut samples = writer.get_i16_writer(interleaved.len() as u32);
    for sample in interleaved {
        samples.write_sample(sample);
    }
    samples.flush().map_err(io)?;
    writer.finalize().map_err(io)?;
    Ok(ExcerptWritten {
        start: excerpt.start,
        seconds: kept[0].len() as f64 / rate as f64,
        gain_db,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, rate: u32, frames: &[(f32, f32)]) {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for (l, r) in frames {
            w.write_sample(*l).unwrap();
            w.write_sample(*r).unwrap();
        }
        w.finalize().unwrap();
    }

    fn sine(i: usize) -> f32 {
        0.5 * (std::f32::consts::TAU * 997.0 * i as f32 / 48000.0).sin()
    }

    #[test]
    fn a_known_difference_is_measured_and_an_identical_file_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let n = 48000 * 3;
        let clean: Vec<(f32, f32)> = (0..n).map(|i| (sine(i), sine(i))).collect();
        // A 5 kHz tone at -60 dBFS RMS added to both channels.
        let added = |i: usize| {
            std::f32::consts::SQRT_2
                * 0.001
                * (std::f32::consts::TAU * 5000.0 * i as f32 / 48000.0).sin()
        };
        let coded: Vec<(f32, f32)> = (0..n)
            .map(|i| (sine(i) + added(i), sine(i) + added(i)))
            .collect();
        let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
        write(&a, 48000, &clean);
        write(&b, 48000, &coded);
        let excerpt = dir.path().join("difference.wav");
        let mut inspector = Inspector::new(48000).unwrap();
        let (found, written) = codec_difference(
            &b,
            &a,
            Some(Excerpt {
                path: &excerpt,
                start: 1.0,
                seconds: 1.0,
            }),
            Some(&mut inspector),
        )
        .unwrap()
        .unwrap();
        // The inspection made in the same pass is the file's own.
        let inspected = inspector.finish_file(&b).unwrap();
        let alone = crate::inspect_file(&b, crate::AlreadyRead::default()).unwrap();
        assert_eq!(
            serde_json::to_string(&inspected).unwrap(),
            serde_json::to_string(&alone).unwrap()
        );
        assert!((found.difference_level + 60.0).abs() < 0.05, "{found:?}");
        // The sine is at -9.03 dBFS RMS (0.5 peak).
        let expected = -60.0 - 20.0 * (0.5f64 / 2f64.sqrt()).log10();
        assert!((found.difference_to_signal - expected).abs() < 0.05);
        // The difference's spectrum peaks in the band of 5 kHz.
        let loudest = found
            .spectrum
            .mid
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .unwrap()
            .0;
        let centre = found.spectrum.bands[loudest];
        assert!((centre / 5000.0).log2().abs() < 1.0 / 12.0, "{centre} Hz");
        // The excerpt is the difference, raised to peak at -1 dBFS.
        let written = written.unwrap();
        assert!((written.seconds - 1.0).abs() < 1e-9);
        let expected_gain = -1.0 - 20.0 * (0.001 * std::f64::consts::SQRT_2).log10();
        assert!(
            (written.gain_db - expected_gain).abs() < 0.01,
            "{written:?}"
        );
        let mut reader = hound::WavReader::open(&excerpt).unwrap();
        assert_eq!(reader.spec().sample_rate, 48000);
        let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(samples.len(), 2 * 48000);
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap() as f64 / 32767.0;
        assert!((20.0 * peak.log10() + 1.0).abs() < 0.01, "{peak}");

        let (same, _) = codec_difference(&a, &a, None, None).unwrap().unwrap();
        assert_eq!(same.difference_level, f64::NEG_INFINITY);
    }

    #[test]
    fn files_at_different_rates_are_not_compared() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
        write(&a, 48000, &[(0.1, 0.1); 4800]);
        write(&b, 44100, &[(0.1, 0.1); 4410]);
        assert!(codec_difference(&b, &a, None, None).unwrap().is_none());
    }
}
