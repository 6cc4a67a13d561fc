use crate::AudioError;

/// The most frames a block carries. Small enough to stay in cache, large
/// enough that per-block overhead vanishes.
pub const BLOCK_FRAMES: usize = 4096;

/// A planar stereo buffer of up to [`BLOCK_FRAMES`] frames.
pub struct StereoBuffer {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
}

impl Default for StereoBuffer {
    fn default() -> Self {
        StereoBuffer {
            left: vec![0.0; BLOCK_FRAMES],
            right: vec![0.0; BLOCK_FRAMES],
        }
    }
}

impl StereoBuffer {
    /// The first `frames` frames of both channels.
    pub fn slices(&mut self, frames: usize) -> (&mut [f32], &mut [f32]) {
        (&mut self.left[..frames], &mut self.right[..frames])
    }

    /// Reads one block from `source`; returns the frame count (0 at the end).
    pub fn fill_from(&mut self, source: &mut dyn BlockSource) -> Result<usize, AudioError> {
        source.read(&mut self.left, &mut self.right)
    }
}

/// Something that yields stereo audio block by block.
pub trait BlockSource: Send {
    /// Fills up to `left.len()` frames (both slices have the same length) and
    /// returns how many it wrote. Returns fewer only at the end of the stream,
    /// and 0 once the stream is exhausted.
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError>;
}

/// Something that consumes stereo audio block by block.
pub trait BlockSink {
    /// Takes one block; both slices have the same length.
    fn write(&mut self, left: &[f32], right: &[f32]) -> Result<(), AudioError>;
}

impl<S: BlockSource + ?Sized> BlockSource for Box<S> {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        (**self).read(left, right)
    }
}

/// Pumps every block of `source` into `sink`; returns the frame count.
pub fn copy_source(
    source: &mut dyn BlockSource,
    sink: &mut dyn BlockSink,
) -> Result<u64, AudioError> {
    let mut buffer = StereoBuffer::default();
    let mut total = 0u64;
    loop {
        let frames = buffer.fill_from(source)?;
        if frames == 0 {
            return Ok(total);
        }
        sink.write(&buffer.left[..frames], &buffer.right[..frames])?;
        total += frames as u64;
    }
}

/// Reads blocks until the slices are full or the source ends.
pub(crate) fn read_full(
    source: &mut dyn BlockSource,
    left: &mut [f32],
    right: &mut [f32],
) -> Result<usize, AudioError> {
    let mut filled = 0;
    while filled < left.len() {
        let n = source.read(&mut left[filled..], &mut right[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// A sink that keeps nothing: for reading a source through to its end.
pub(crate) struct Discard;

impl BlockSink for Discard {
    fn write(&mut self, _: &[f32], _: &[f32]) -> Result<(), AudioError> {
        Ok(())
    }
}
