//! A podcast's feed, from what the project says of its episodes and
//! what their built files are.

use super::{Input, OutputInfo, Renderer, StepOutput};
use crate::error::BuildError;
use crate::feed::{Enclosure, FeedText};

impl Renderer<'_> {
    /// The feed of `files`: each one's exact length in bytes and its
    /// duration, as its enclosure and `itunes:duration` say them.
    pub(super) fn feed(&self, feed: &FeedText, files: &[Input]) -> Result<StepOutput, BuildError> {
        let mut enclosures = Vec::with_capacity(files.len());
        for file in files {
            let path = self.cache.blob_path(&file.output.hash);
            let bytes = std::fs::metadata(&path)
                .map_err(|source| BuildError::Output { path, source })?
                .len();
            let info = &file.output.info;
            enclosures.push(Enclosure {
                bytes,
                seconds: info.frames as f64 / info.sample_rate as f64,
            });
        }
        let text = feed.render(&enclosures);
        Ok(StepOutput {
            hash: self.commit_bytes("feed", text.as_bytes())?,
            info: OutputInfo::text(),
        })
    }
}
