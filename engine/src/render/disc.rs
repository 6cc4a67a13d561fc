//! The CD image and its CUE sheet, after the Red Book's limits.

use bounce_nodes::{BlockSource, DecodedFile, Dither, PcmFormat, PcmSink, Precision};

use super::{Input, OutputInfo, Renderer, StepOutput};
use crate::error::BuildError;
use crate::step::Step;

/// Where each track (an input) sits on the disc, after the Red Book
/// limits a project file cannot show: each track's length and the disc's.
fn red_book_layout(
    step: &Step,
    inputs: &[Input],
    gaps: &[u64],
) -> Result<Vec<bounce_nodes::TrackPlace>, BuildError> {
    let red_book = |problem: String| BuildError::RedBook {
        step: step.id.clone(),
        problem,
    };
    let samples: Vec<u64> = inputs.iter().map(|i| i.output.info.frames).collect();
    for (input, frames) in inputs.iter().zip(&samples) {
        let seconds = *frames as f64 / bounce_nodes::CD_RATE as f64;
        if seconds < bounce_nodes::MIN_CD_TRACK_SECONDS {
            return Err(red_book(format!(
                "track {} lasts {seconds:.2} s; a CD track lasts at least {} s",
                input.step.track.unwrap_or(0),
                bounce_nodes::MIN_CD_TRACK_SECONDS
            )));
        }
    }
    let places = bounce_nodes::lay_out(&samples, gaps);
    let end = places.last().map_or(0, |p| p.start + p.length);
    let seconds = end as f64 / 75.0;
    if seconds > bounce_nodes::MAX_CD_SECONDS {
        return Err(red_book(format!(
            "the disc lasts {}:{:05.2}; an 80-minute CD holds 79:57",
            (seconds / 60.0) as u64,
            seconds % 60.0
        )));
    }
    Ok(places)
}

impl Renderer<'_> {
    /// Joins the tracks' CD files into one image after checking them
    /// against the Red Book.
    pub(super) fn cd_image(
        &self,
        step: &Step,
        inputs: &[Input],
        gaps: &[u64],
    ) -> Result<StepOutput, BuildError> {
        let places = red_book_layout(step, inputs, gaps)?;
        let audio = &Self::audio(step);
        let mut tracks: Vec<Box<dyn BlockSource>> = Vec::new();
        for input in inputs {
            let path = self.cache.blob_path(&input.output.hash);
            tracks.push(Box::new(DecodedFile::open(&path).map_err(audio)?));
        }
        let format = PcmFormat {
            sample_rate: bounce_nodes::CD_RATE,
            bits: bounce_nodes::CD_BITS,
            float: false,
            container: bounce_nodes::Container::Wav,
            channels: 2,
        };
        let temp = self.cache.temp_file("image");
        // The tracks are 16-bit already: no dither, the samples go through.
        let mut sink =
            PcmSink::create(temp.path(), format, Dither::None, 0, None, None).map_err(audio)?;
        bounce_nodes::write_image(tracks, &places, &mut sink).map_err(audio)?;
        let bounce_nodes::Written { frames, report, .. } = sink.finish().map_err(audio)?;
        let hash = self.cache.commit_blob(temp)?;
        Ok(StepOutput {
            hash,
            info: OutputInfo {
                bits: Some(format.bits),
                measured: Some(report.into()),
                ..OutputInfo::pcm(format.sample_rate, frames, Precision::Int(16))
            },
        })
    }

    /// Writes the CUE sheet of the image the same tracks and gaps make.
    pub(super) fn cue_sheet(
        &self,
        step: &Step,
        inputs: &[Input],
        text: &bounce_nodes::CueText,
        gaps: &[u64],
    ) -> Result<StepOutput, BuildError> {
        let places = red_book_layout(step, inputs, gaps)?;
        let sheet = bounce_nodes::cue_sheet(text, &places);
        let hash = self.commit_bytes("cue", sheet.as_bytes())?;
        let frames =
            places.last().map_or(0, |p| p.start + p.length) * bounce_nodes::SAMPLES_PER_CD_FRAME;
        Ok(StepOutput {
            hash,
            info: OutputInfo::pcm(bounce_nodes::CD_RATE, frames, Precision::Int(16)),
        })
    }
}
