//! The codec preview: each lossy file decoded and measured against a
//! lossless file of the same master, rate and targets (the samples the
//! codec was given, but for the file's own limiting and dither): the true
//! peak and overs after decoding, the loudness the codec moved, and the
//! level and spectrum of the difference, with a 10-second excerpt of it
//! to listen to (`report/codec/`).

use std::collections::BTreeMap;
use std::path::Path;

use bounce_nodes::{
    codec_difference, copy_source, AudioError, DecodedFile, Excerpt, ExcerptWritten, Mp3Mode,
    Mp3Sink, Spectrum,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{InspectedFile, InspectionStore, REPORT_DIR};
use crate::model::Project;
use crate::render::Comparison;
use crate::BuildError;

/// Seconds of difference an excerpt holds, around the loudest moment.
const EXCERPT_SECONDS: f64 = 10.0;

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

/// A comparison kept in the cache by both files' hashes.
#[derive(Serialize, Deserialize)]
struct Kept {
    difference: bounce_nodes::CodecDifference,
    excerpt: Option<ExcerptWritten>,
}

/// Adds to every lossy file the build compared with a lossless file
/// (`compared`: the lossy file's path → the lossless file's, and the
/// comparison's blob) its codec report, and writes its excerpt.
pub(super) fn compared(
    store: &InspectionStore,
    version_dir: &Path,
    compared: &BTreeMap<String, (String, bounce_cache::Hash)>,
    by_track: &mut BTreeMap<u32, Vec<InspectedFile>>,
) -> Result<(), BuildError> {
    let codec_dir = version_dir.join(REPORT_DIR).join("codec");
    for (track, files) in by_track.iter_mut() {
        let mut reports = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let Some((against, blob)) = compared.get(&file.path) else {
                continue;
            };
            let Some(lossless) = files.iter().find(|f| &f.path == against) else {
                continue;
            };
            let Some(comparison) = store.blob_json::<Comparison>(blob) else {
                continue;
            };
            create_codec_dir(&codec_dir)?;
            let name = format!("{track:02}-{}.wav", file.deliverable);
            if let Some(audition) = &comparison.audition {
                store.copy_blob(audition, &codec_dir.join(&name))?;
            }
            let kept = Kept {
                difference: comparison.difference,
                excerpt: comparison.excerpt,
            };
            reports.push((i, report_of(kept, file, lossless, &name, None)));
        }
        for (i, report) in reports {
            files[i].codec = Some(report);
        }
    }
    Ok(())
}

/// The previews the report asks for (`report { preview "mp3" … }`): each
/// track's first lossless file at a rate the codec carries, encoded for
/// the report only (kept in the cache by the file's hash and the codec's
/// settings), decoded and measured against it as a delivered lossy file is.
/// Returns, per track, why a preview asked for could not be made.
pub(super) fn requested_previews(
    project: &Project,
    store: &InspectionStore,
    version_dir: &Path,
    by_track: &mut BTreeMap<u32, Vec<InspectedFile>>,
) -> Result<Vec<(u32, String)>, BuildError> {
    let codec_dir = version_dir.join(REPORT_DIR).join("codec");
    let mut jobs = Vec::new();
    let mut missing = Vec::new();
    for (track, files) in by_track.iter() {
        for format in &project.previews {
            let Some(codec) = format.codec else { continue };
            let rates = format.kind.rates();
            let source = files.iter().enumerate().find(|(_, f)| {
                !f.lossy && (rates.is_empty() || rates.contains(&f.figures.sample_rate))
            });
            match source {
                Some((i, file)) => jobs.push((*track, i, file, *format, codec)),
                None => missing.push((
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
                )),
            }
        }
    }
    if jobs.is_empty() {
        return Ok(missing);
    }
    create_codec_dir(&codec_dir)?;
    let made: Vec<(u32, usize, CodecReport)> = jobs
        .par_iter()
        .map(|(track, i, lossless, format, codec)| {
            let slug = match codec {
                Mp3Mode::Cbr(kbps) => format!("{}-{kbps}", format.name()),
                Mp3Mode::Vbr(quality) => format!("{}-v{quality}", format.name()),
            };
            let key = format!("preview-{}-{slug}", lossless.hash);
            let encoded = store.preview(version_dir, lossless, *codec, &key, format.extension())?;
            let (figures, _) = store.inspect(&encoded, &key)?;
            let preview = InspectedFile {
                path: encoded.display().to_string(),
                lossy: true,
                hash: key,
                figures,
                codec: None,
                previews: Vec::new(),
                ..(*lossless).clone()
            };
            let settled = crate::formats::Settled {
                bits: 0,
                float: false,
                rate: None,
                codec: Some(*codec),
            };
            let described = format.kind.describe(&settled, preview.figures.sample_rate);
            let name = format!("{track:02}-preview-{slug}.wav");
            let said = Some(format!("{described} (not delivered)"));
            Ok((
                *track,
                *i,
                compare(
                    store,
                    version_dir,
                    &codec_dir,
                    &preview,
                    lossless,
                    &name,
                    said,
                )?,
            ))
        })
        .collect::<Result<_, BuildError>>()?;
    for (track, i, report) in made {
        if let Some(file) = by_track.get_mut(&track).and_then(|f| f.get_mut(i)) {
            file.previews.push(report);
        }
    }
    Ok(missing)
}

fn create_codec_dir(codec_dir: &Path) -> Result<(), BuildError> {
    std::fs::create_dir_all(codec_dir).map_err(|source| BuildError::Output {
        path: codec_dir.to_path_buf(),
        source,
    })
}

/// `lossy` decoded and measured against `lossless`, its excerpt written as
/// `name` in the codec folder; `preview` names a codec the report asked for.
fn compare(
    store: &InspectionStore,
    version_dir: &Path,
    codec_dir: &Path,
    lossy: &InspectedFile,
    lossless: &InspectedFile,
    name: &str,
    preview: Option<String>,
) -> Result<CodecReport, BuildError> {
    let kept = store.codec(version_dir, lossy, lossless, &codec_dir.join(name))?;
    Ok(report_of(kept, lossy, lossless, name, preview))
}

/// The report of `lossy` measured against `lossless`, its excerpt
/// written as `name` in the codec folder.
fn report_of(
    kept: Kept,
    lossy: &InspectedFile,
    lossless: &InspectedFile,
    name: &str,
    preview: Option<String>,
) -> CodecReport {
    CodecReport {
        preview,
        against: lossless.path.clone(),
        true_peak: lossy.figures.true_peak,
        overs: lossy.figures.overs,
        loudness_change: lossy.figures.integrated - lossless.figures.integrated,
        difference_level: kept.difference.difference_level,
        difference_to_signal: kept.difference.difference_to_signal,
        spectrum: kept.difference.spectrum,
        audition: kept.excerpt.map(|_| format!("codec/{name}")),
        audition_start: kept.excerpt.map_or(0.0, |e| e.start),
        audition_seconds: kept.excerpt.map_or(0.0, |e| e.seconds),
        audition_gain_db: kept.excerpt.map_or(0.0, |e| e.gain_db),
    }
}

impl InspectionStore {
    /// `lossless` encoded with `codec` for a preview: from the cache, or
    /// encoded now and kept there under `key`.
    fn preview(
        &self,
        version_dir: &Path,
        lossless: &InspectedFile,
        codec: Mp3Mode,
        key: &str,
        extension: &str,
    ) -> Result<std::path::PathBuf, BuildError> {
        let kept = self.dir.join(format!("{key}.{extension}"));
        if kept.is_file() {
            return Ok(kept);
        }
        let audio = |source: AudioError| BuildError::Audio {
            step: format!("report: preview of {}", lossless.path),
            source,
        };
        let _ = std::fs::create_dir_all(&self.dir);
        let temp = self.dir.join(format!("{key}.{extension}.part"));
        let mut source = DecodedFile::open(&version_dir.join(&lossless.path)).map_err(audio)?;
        let mut sink = Mp3Sink::create(&temp, source.info().sample_rate, codec).map_err(audio)?;
        copy_source(&mut source, &mut sink).map_err(audio)?;
        sink.finish().map_err(audio)?;
        std::fs::rename(&temp, &kept).map_err(|source| BuildError::Output {
            path: kept.clone(),
            source,
        })?;
        Ok(kept)
    }

    /// The comparison of `lossy` with `lossless` (from the cache by both
    /// files' hashes, or measured now, with its excerpt kept beside it),
    /// its excerpt written at `excerpt`.
    fn codec(
        &self,
        version_dir: &Path,
        lossy: &InspectedFile,
        lossless: &InspectedFile,
        excerpt: &Path,
    ) -> Result<Kept, BuildError> {
        let name = format!("codec-{}-{}", lossy.hash, lossless.hash);
        let kept_json = self.dir.join(format!("{name}.json"));
        let kept_wav = self.dir.join(format!("{name}.wav"));
        let known = std::fs::read(&kept_json)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Kept>(&bytes).ok())
            .filter(|k| k.excerpt.is_none() || kept_wav.is_file());
        let kept = match known {
            Some(kept) => kept,
            None => {
                let audio = |source: AudioError| BuildError::Audio {
                    step: format!("report: {}", lossy.path),
                    source,
                };
                // Ten seconds around the lossless file's loudest moment.
                let loudest = lossless.figures.peak_times.first().copied().unwrap_or(0.0);
                let seconds = EXCERPT_SECONDS.min(lossless.figures.seconds);
                let start = (loudest - seconds / 2.0)
                    .clamp(0.0, (lossless.figures.seconds - seconds).max(0.0));
                let _ = std::fs::create_dir_all(&self.dir);
                let temp = self.dir.join(format!("{name}.wav.part"));
                let measured = codec_difference(
                    &version_dir.join(&lossy.path),
                    &version_dir.join(&lossless.path),
                    Some(Excerpt {
                        path: &temp,
                        start,
                        seconds,
                    }),
                )
                .map_err(audio)?
                .expect("partners share a rate");
                let (difference, excerpt) = measured;
                if excerpt.is_some() {
                    std::fs::rename(&temp, &kept_wav).map_err(|source| BuildError::Output {
                        path: kept_wav.clone(),
                        source,
                    })?;
                }
                let kept = Kept {
                    difference,
                    excerpt,
                };
                // Keeping it is an optimisation, as for inspections.
                let _ = bounce_cache::write_atomically(
                    &kept_json,
                    &serde_json::to_vec(&kept).expect("figures serialise"),
                );
                kept
            }
        };
        if kept.excerpt.is_some() {
            let bytes = std::fs::read(&kept_wav).map_err(|source| BuildError::Output {
                path: kept_wav.clone(),
                source,
            })?;
            super::write_unless_same(excerpt, &bytes)?;
        }
        Ok(kept)
    }
}
