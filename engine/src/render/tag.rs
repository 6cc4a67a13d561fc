//! Tags and ReplayGain: a file's metadata written into it, and the
//! album's loudness measured as one programme.

use bounce_nodes::{AudioError, DecodedFile, Precision};

use super::{Input, Measured, OutputInfo, Renderer, StepOutput};
use crate::error::BuildError;
use crate::step::{Step, TagFields};

/// ReplayGain 2.0 works against this reference.
const REPLAY_GAIN_REFERENCE: f64 = -18.0;

/// A file's integrated loudness, true peak (dB) and length, when measured.
fn loudness_figures(info: &OutputInfo) -> Option<(f64, f64, f64)> {
    let measured = info.measured?;
    Some((
        measured.integrated?,
        measured.true_peak?,
        info.frames as f64,
    ))
}

/// ReplayGain 2.0 for an `encoded` file in its `album` (an album
/// ReplayGain step).
fn replay_gain(encoded: Input, album: Option<Input>) -> Option<bounce_nodes::ReplayGain> {
    let (loudness, peak, _) = loudness_figures(&encoded.output.info)?;
    let (album_loudness, album_peak, _) = loudness_figures(&album?.output.info)?;
    let linear = |db: f64| 10f64.powf(db / 20.0);
    Some(bounce_nodes::ReplayGain {
        track_gain: REPLAY_GAIN_REFERENCE - loudness,
        track_peak: linear(peak),
        album_gain: REPLAY_GAIN_REFERENCE - album_loudness,
        album_peak: linear(album_peak),
    })
}

impl Renderer<'_> {
    /// The album's loudness, gated as one programme over the gating
    /// blocks of every file of the deliverable (ReplayGain 2.0's album
    /// loudness, as libebur128's `loudness_global_multiple` gives it), and
    /// its peak (the highest file's), rounded as tags print them: the
    /// output is a tiny blob that changes only when the album figures do.
    /// Each file's blocks come from its own measurement; a file measured
    /// before they were kept is decoded and measured again.
    pub(super) fn album_replay_gain(
        &self,
        step: &Step,
        inputs: &[Input],
    ) -> Result<StepOutput, BuildError> {
        let audio = &Self::audio(step);
        let rate = inputs
            .first()
            .map_or(self.rate, |i| i.output.info.sample_rate);
        let mut programmes = Vec::with_capacity(inputs.len());
        let mut frames = 0;
        for input in inputs {
            frames += input.output.info.frames;
            let blocks = match &input.output.info.blocks {
                Some(blocks) => blocks.clone(),
                None => {
                    let path = self.cache.blob_path(&input.output.hash);
                    let mut file = DecodedFile::open(&path).map_err(audio)?;
                    let (rate, channels) = (file.info().sample_rate, file.info().channels);
                    let mut meter = bounce_nodes::LoudnessMeter::blocks_only(rate)
                        .and_then(|m| m.of_channels(channels as u16))
                        .map_err(audio)?;
                    bounce_nodes::copy_source(&mut file, &mut meter).map_err(audio)?;
                    meter.loudness_blocks().unwrap_or_default()
                }
            };
            programmes.push(blocks);
        }
        let measured = bounce_nodes::LoudnessBlocks::integrated(&programmes);
        let loudness = (measured * 100.0).round() / 100.0;
        let peak = inputs
            .iter()
            .filter_map(|i| loudness_figures(&i.output.info))
            .map(|(_, p, _)| p)
            .fold(f64::NEG_INFINITY, f64::max);
        let peak = (peak * 1000.0).round() / 1000.0;
        let text = format!("album loudness {loudness} LUFS, peak {peak} dBTP\n");
        let hash = self.commit_bytes("replaygain", text.as_bytes())?;
        let finite = |x: f64| x.is_finite().then_some(x);
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                measured: Some(Measured {
                    integrated: finite(loudness),
                    range: None,
                    true_peak: finite(peak),
                    sample_peak: None,
                    max_momentary: None,
                    max_short_term: None,
                }),
                ..OutputInfo::pcm(rate, frames, Precision::Float)
            },
        })
    }

    /// Copies the `encoded` file and writes its tags, with ReplayGain 2.0
    /// from the measured loudness of it and its `album`.
    pub(super) fn tag(
        &self,
        step: &Step,
        encoded: Input,
        album: Option<Input>,
        container: bounce_nodes::Container,
        fields: &TagFields,
    ) -> Result<StepOutput, BuildError> {
        let audio = &Self::audio(step);
        let cover = match &fields.cover_path {
            Some(path) => Some(bounce_nodes::Cover::read(path).map_err(|reason| {
                audio(AudioError::Cover {
                    path: path.clone(),
                    reason,
                })
            })?),
            None => None,
        };
        let info = &encoded.output.info;
        let tags = bounce_nodes::Tags {
            text: fields.text.clone(),
            cover,
            replay_gain: replay_gain(encoded, album),
            duration_ms: (info.frames as f64 * 1000.0 / info.sample_rate as f64).round() as u64,
        };
        let temp = self.cache.temp_file("tag");
        let blob = self.cache.blob_path(&encoded.output.hash);
        std::fs::copy(&blob, temp.path()).map_err(|source| BuildError::Output {
            path: temp.path().to_path_buf(),
            source,
        })?;
        tags.write(temp.path(), container).map_err(audio)?;
        let hash = self.cache.commit_blob(temp)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                warnings: Vec::new(),
                ..encoded.output.info.clone()
            },
        })
    }
}
