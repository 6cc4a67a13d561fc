//! The codec preview: each lossy file decoded and measured against a
//! lossless file of the same master, rate and targets (the samples the
//! codec was given, but for the file's own limiting and dither): the true
//! peak and overs after decoding, the loudness the codec moved, and the
//! level and spectrum of the difference, with a 10-second excerpt of it
//! to listen to (`report/codec/`). The build's `codec` and `preview` steps
//! measure them; this gathers their figures for the page.

use std::collections::BTreeMap;
use std::path::Path;

use bounce_nodes::Spectrum;
use serde::Serialize;

use super::{InspectedFile, InspectionStore, REPORT_DIR};
use crate::built::{BuiltFile, BuiltPreview};
use crate::error::BuildError;
use crate::model::Project;
use crate::render::Comparison;

/// What a lossy file's codec changed.
#[derive(Debug, Clone, Serialize)]
pub struct CodecReport {
    /// For a preview the report made (not a delivered file): its codec
    /// and settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// The lossless file it is measured against (its path in the version).
    pub against: String,
    /// True peak of the decoded file, dBTP.
    pub true_peak: f64,
    /// On-sample and inter-sample overs of the decoded file.
    pub overs: bounce_nodes::OverCounts,
    /// Integrated loudness of the decoded file less the lossless one's, LU.
    pub loudness_change: f64,
    /// RMS level of the difference, dBFS.
    pub difference_level: f64,
    /// The difference's level under the music's, dB.
    pub difference_to_signal: f64,
    pub spectrum: Spectrum,
    /// The excerpt, relative to the report folder, where it starts and
    /// how long it lasts (s), and the gain it was raised by to be heard (dB).
    pub audition: Option<String>,
    pub audition_start: f64,
    pub audition_seconds: f64,
    pub audition_gain_db: f64,
}

/// Adds to every lossy file the build compared with a lossless file (its
/// `comparison`: the lossless file's path, and the comparison's blob) its
/// codec report, and writes its excerpt. `read` holds the comparisons
/// read already, by file path; the others are read from their blobs.
pub(super) fn compared(
    store: &InspectionStore,
    version_dir: &Path,
    built: &BTreeMap<&str, &BuiltFile>,
    mut read: BTreeMap<String, Comparison>,
    by_track: &mut BTreeMap<u32, Vec<InspectedFile>>,
) -> Result<(), BuildError> {
    let codec_dir = version_dir.join(REPORT_DIR).join("codec");
    for (track, files) in by_track.iter_mut() {
        let mut reports = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let Some((against, blob)) = built
                .get(file.path.as_str())
                .and_then(|f| f.comparison.as_ref())
            else {
                continue;
            };
            let Some(lossless) = files.iter().find(|f| &f.path == against) else {
                continue;
            };
            let comparison = read.remove(&file.path);
            let Some(comparison) = comparison.or_else(|| store.blob_json::<Comparison>(blob))
            else {
                continue;
            };
            let name = format!("{track:02}-{}.wav", file.deliverable);
            write_excerpt(store, &codec_dir, &comparison, &name)?;
            reports.push((i, report_of(&comparison, file, lossless, &name, None)));
        }
        for (i, report) in reports {
            files[i].codec = Some(report);
        }
    }
    Ok(())
}

/// Adds the previews the report asked for (`report { preview "mp3" … }`)
/// that the build made (`previews`: each track's first lossless file at a
/// rate the codec carries, encoded for the report only, inspected and
/// compared with it as a delivered lossy file is) to their lossless files.
/// Returns, per track, why a preview asked for could not be made.
pub(super) fn requested_previews(
    project: &Project,
    store: &InspectionStore,
    version_dir: &Path,
    previews: &[BuiltPreview],
    by_track: &mut BTreeMap<u32, Vec<InspectedFile>>,
) -> Result<Vec<(u32, String)>, BuildError> {
    let codec_dir = version_dir.join(REPORT_DIR).join("codec");
    let mut missing = Vec::new();
    for (track, files) in by_track.iter_mut() {
        for format in project.previews.iter().filter(|f| f.codec.is_some()) {
            let slug = format.slug();
            let made = previews.iter().find_map(|p| {
                let i = files.iter().position(|f| f.path == p.path)?;
                (p.format.slug() == slug).then_some((i, p))
            });
            let Some((i, built)) = made else {
                let rates = format.kind.rates();
                missing.push((
                    *track,
                    format!(
                        "track {track}: no lossless file at {} Hz to preview as {}",
                        rates
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        format.name()
                    ),
                ));
                continue;
            };
            let Some(comparison) = store.blob_json::<Comparison>(&built.comparison) else {
                continue;
            };
            let lossless = &files[i];
            let preview = InspectedFile {
                lossy: true,
                figures: comparison.inspection.clone(),
                codec: None,
                previews: Vec::new(),
                ..lossless.clone()
            };
            let settled = crate::formats::Settled {
                bits: 0,
                float: false,
                rate: None,
                codec: format.codec,
            };
            let described = format.kind.describe(&settled, preview.figures.sample_rate);
            let name = format!("{track:02}-preview-{slug}.wav");
            write_excerpt(store, &codec_dir, &comparison, &name)?;
            let said = Some(format!("{described} (not delivered)"));
            let report = report_of(&comparison, &preview, lossless, &name, said);
            files[i].previews.push(report);
        }
    }
    Ok(missing)
}

/// Writes a comparison's excerpt as `name` in the codec folder.
fn write_excerpt(
    store: &InspectionStore,
    codec_dir: &Path,
    comparison: &Comparison,
    name: &str,
) -> Result<(), BuildError> {
    let Some(audition) = &comparison.audition else {
        return Ok(());
    };
    std::fs::create_dir_all(codec_dir).map_err(|source| BuildError::Output {
        path: codec_dir.to_path_buf(),
        source,
    })?;
    store.copy_blob(audition, &codec_dir.join(name))
}

/// The report of `lossy` measured against `lossless`, its excerpt
/// written as `name` in the codec folder; `preview` names a codec the
/// report asked for.
fn report_of(
    comparison: &Comparison,
    lossy: &InspectedFile,
    lossless: &InspectedFile,
    name: &str,
    preview: Option<String>,
) -> CodecReport {
    let excerpt = comparison.excerpt;
    CodecReport {
        preview,
        against: lossless.path.clone(),
        true_peak: lossy.figures.true_peak,
        overs: lossy.figures.overs,
        loudness_change: lossy.figures.integrated - lossless.figures.integrated,
        difference_level: comparison.difference.difference_level,
        difference_to_signal: comparison.difference.difference_to_signal,
        spectrum: comparison.difference.spectrum.clone(),
        audition: excerpt.map(|_| format!("codec/{name}")),
        audition_start: excerpt.map_or(0.0, |e| e.start),
        audition_seconds: excerpt.map_or(0.0, |e| e.seconds),
        audition_gain_db: excerpt.map_or(0.0, |e| e.gain_db),
    }
}
