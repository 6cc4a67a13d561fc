//! The release report's measurements, as steps: a delivered file's
//! inspection, and what a lossy codec changed against a lossless file.
//! Each output is kept in the cache by the files' content.

use bounce_nodes::{CodecDifference, Excerpt, ExcerptWritten, Inspection, Precision};
use serde::{Deserialize, Serialize};

use super::{Input, OutputInfo, Renderer, StepOutput};
use crate::error::BuildError;
use crate::step::Step;

/// Seconds of difference an excerpt holds, around the loudest moment.
const EXCERPT_SECONDS: f64 = 10.0;

/// What a lossy file's codec changed, as its step keeps it, with the
/// lossy file's inspection made from the same decoding: its fields at the
/// top, so the blob reads as an [`Inspection`] too, wherever one is read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    #[serde(flatten)]
    pub inspection: Inspection,
    pub difference: CodecDifference,
    pub excerpt: Option<ExcerptWritten>,
    /// The excerpt's blob, a WAV file.
    pub audition: Option<bounce_cache::Hash>,
}

impl Renderer<'_> {
    /// Measures the delivered file `file` (every figure of the report).
    pub(super) fn inspect(&self, step: &Step, file: &Input) -> Result<StepOutput, BuildError> {
        let audio = Self::audio(step);
        let path = self.cache.blob_path(&file.output.hash);
        let figures =
            bounce_nodes::inspect_file(&path, already_read(&file.output.info)).map_err(&audio)?;
        let json = serde_json::to_vec(&figures).expect("figures serialise");
        let hash = self.commit_bytes("inspect", &json)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo::pcm(
                figures.sample_rate,
                (figures.seconds * figures.sample_rate as f64).round() as u64,
                Precision::Float,
            ),
        })
    }

    /// Encodes the lossless `file` with `codec`, for the report only.
    pub(super) fn preview(
        &self,
        step: &Step,
        file: &Input,
        codec: bounce_nodes::Mp3Settings,
    ) -> Result<StepOutput, BuildError> {
        let audio = Self::audio(step);
        let mut source = bounce_nodes::DecodedFile::open(&self.cache.blob_path(&file.output.hash))
            .map_err(&audio)?;
        let (rate, channels) = (source.info().sample_rate, source.info().channels as u16);
        let temp = self.cache.temp_file("preview");
        let mut sink =
            bounce_nodes::Mp3Sink::create(temp.path(), rate, codec, channels).map_err(&audio)?;
        let frames = bounce_nodes::copy_source(&mut source, &mut sink).map_err(&audio)?;
        sink.finish().map_err(&audio)?;
        Ok(StepOutput {
            hash: self.cache.commit_blob(temp)?,
            info: OutputInfo::pcm(rate, frames, Precision::Float),
        })
    }

    /// Measures `lossy` decoded less `lossless`, and keeps ten seconds of
    /// the difference around the loudest moment of `lossless` (which its
    /// inspection found) to listen to; inspects `lossy` from the same
    /// decoding.
    pub(super) fn codec_difference(
        &self,
        step: &Step,
        lossy: &Input,
        lossless: &Input,
        inspection: &Input,
    ) -> Result<StepOutput, BuildError> {
        let audio = Self::audio(step);
        let bytes =
            std::fs::read(self.cache.blob_path(&inspection.output.hash)).map_err(|source| {
                BuildError::Read {
                    path: self.cache.blob_path(&inspection.output.hash),
                    source,
                }
            })?;
        let figures: Inspection =
            serde_json::from_slice(&bytes).map_err(|e| BuildError::Audio {
                step: step.id.clone(),
                source: bounce_nodes::AudioError::Meter(format!("an inspection unread: {e}")),
            })?;
        let loudest = figures.peak_times.first().copied().unwrap_or(0.0);
        let seconds = EXCERPT_SECONDS.min(figures.seconds);
        let start = (loudest - seconds / 2.0).clamp(0.0, (figures.seconds - seconds).max(0.0));
        let temp = self.cache.temp_file("excerpt");
        let decoded = self.cache.blob_path(&lossy.output.hash);
        let mut inspector = bounce_nodes::Inspector::new(lossy.output.info.sample_rate)
            .map_err(&audio)?
            .with_already_read(already_read(&lossy.output.info));
        let measured = bounce_nodes::codec_difference(
            &decoded,
            &self.cache.blob_path(&lossless.output.hash),
            Some(Excerpt {
                path: temp.path(),
                start,
                seconds,
            }),
            Some(&mut inspector),
        )
        .map_err(&audio)?;
        let Some((difference, excerpt)) = measured else {
            unreachable!("the plan pairs files of one rate")
        };
        let audition = match excerpt {
            Some(_) => Some(self.cache.commit_blob(temp)?),
            None => None,
        };
        let comparison = Comparison {
            inspection: inspector.finish_file(&decoded).map_err(&audio)?,
            difference,
            excerpt,
            audition,
        };
        let json = serde_json::to_vec(&comparison).expect("figures serialise");
        let hash = self.commit_bytes("codec", &json)?;
        let mut info = OutputInfo::pcm(lossless.output.info.sample_rate, 0, Precision::Float);
        info.also.extend(audition);
        Ok(StepOutput { hash, info })
    }
}

/// What the encoder's meter read of a file's samples already: their true
/// peaks and loudness blocks, which its inspection takes as they are.
fn already_read(info: &OutputInfo) -> bounce_nodes::AlreadyRead<'_> {
    bounce_nodes::AlreadyRead {
        true_peaks: info.true_peak_channels,
        blocks: info
            .blocks
            .as_ref()
            .filter(|b| b.cover(info.frames, info.sample_rate)),
    }
}
