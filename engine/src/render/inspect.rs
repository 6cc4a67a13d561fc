//! The release report's measurement of a delivered file, as a step: its
//! output is the inspection, kept in the cache by the file's content.

use bounce_nodes::Precision;

use super::{Input, OutputInfo, Renderer, StepOutput};
use crate::step::Step;
use crate::BuildError;

impl Renderer<'_> {
    /// Measures the delivered file `file` (every figure of the report).
    pub(super) fn inspect(&self, step: &Step, file: &Input) -> Result<StepOutput, BuildError> {
        let audio = Self::audio(step);
        let path = self.cache.blob_path(&file.output.hash);
        // The encoder's meter read these samples' true peaks already.
        let peaks = file.output.info.true_peak_channels;
        let figures = bounce_nodes::inspect_file(&path, peaks).map_err(&audio)?;
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
}
