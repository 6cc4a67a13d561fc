//! A track against the reference tracks the project names: loudness
//! matched (each side's integrated loudness taken off), its tonal balance
//! per octave, its stereo width per octave, and its dynamics.

use bounce_nodes::{Inspection, Spectrum};
use serde::Serialize;

/// Octave bands compared (ISO 266 centres).
const OCTAVES: [f64; 10] = [
    31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0,
];

/// How a track compares with one reference.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub name: String,
    pub path: String,
    /// The reference's own figures.
    pub integrated: f64,
    pub lra: f64,
    pub plr: f64,
    pub psr: f64,
    /// Per octave (centre Hz, dB): the track's level less the
    /// reference's, both taken to the same loudness.
    pub spectrum_difference: Vec<(f64, f64)>,
    /// Per octave (centre Hz, dB): the track's side-to-mid ratio less the
    /// reference's (positive: the track is wider there).
    pub width_difference: Vec<(f64, f64)>,
    /// The reference's mid spectrum at the track's loudness, per 1/6
    /// octave (the track's bands), for the page's plot.
    pub matched_mid: Vec<f64>,
}

pub fn compare(track: &Inspection, name: &str, path: &str, reference: &Inspection) -> Comparison {
    let loudness = |i: &Inspection| {
        if i.integrated.is_finite() {
            i.integrated
        } else {
            0.0
        }
    };
    let offset = loudness(track) - loudness(reference);
    let ours = octaves(&track.spectrum, &track.spectrum.mid);
    let theirs = octaves(&reference.spectrum, &reference.spectrum.mid);
    let spectrum_difference = ours
        .iter()
        .zip(&theirs)
        .map(|((centre, a), (_, b))| (*centre, (a - loudness(track)) - (b - loudness(reference))))
        .collect();
    let width = |i: &Inspection| -> Vec<(f64, f64)> {
        let side = octaves(&i.spectrum, &i.spectrum.side);
        let mid = octaves(&i.spectrum, &i.spectrum.mid);
        side.iter()
            .zip(&mid)
            .map(|((c, s), (_, m))| (*c, s - m))
            .collect()
    };
    let width_difference = width(track)
        .iter()
        .zip(width(reference))
        .map(|((centre, a), (_, b))| (*centre, a - b))
        .collect();
    let matched_mid = track
        .spectrum
        .bands
        .iter()
        .map(|band| level_at(&reference.spectrum, &reference.spectrum.mid, *band) + offset)
        .collect();
    Comparison {
        name: name.to_string(),
        path: path.to_string(),
        integrated: reference.integrated,
        lra: reference.lra,
        plr: reference.plr,
        psr: reference.psr.median,
        spectrum_difference,
        width_difference,
        matched_mid,
    }
}

/// Mean power density per octave, dB, from 1/6-octave bands.
fn octaves(spectrum: &Spectrum, values: &[f64]) -> Vec<(f64, f64)> {
    OCTAVES
        .iter()
        .filter_map(|centre| {
            let (low, high) = (
                centre / std::f64::consts::SQRT_2,
                centre * std::f64::consts::SQRT_2,
            );
            let powers: Vec<f64> = spectrum
                .bands
                .iter()
                .zip(values)
                .filter(|(band, _)| **band >= low && **band < high)
                .map(|(_, db)| 10f64.powf(db / 10.0))
                .collect();
            (!powers.is_empty()).then(|| {
                let mean = powers.iter().sum::<f64>() / powers.len() as f64;
                (*centre, 10.0 * mean.max(1e-30).log10())
            })
        })
        .collect()
}

/// A spectrum's level at `hz`, from its nearest band (references at other
/// rates have the same 1/6-octave centres up to their own Nyquist).
fn level_at(spectrum: &Spectrum, values: &[f64], hz: f64) -> f64 {
    spectrum
        .bands
        .iter()
        .zip(values)
        .min_by(|(a, _), (b, _)| (*a / hz).ln().abs().total_cmp(&(*b / hz).ln().abs()))
        .map_or(f64::NAN, |(_, v)| *v)
}
