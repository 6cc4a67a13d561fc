//! Running a chain of processors over a source, including the measuring
//! passes that `loudness` and `denoise` need.

use crate::processors::{NoiseProfiler, ProcessorContext, ProcessorSpec};
use crate::{AudioError, BlockSink, BlockSource, LoudnessMeter, Silence, StereoBuffer};

/// The facts about a signal that a chain needs before it runs.
#[derive(Debug, Clone, Copy)]
pub struct ChainContext {
    pub sample_rate: u32,
    pub total_frames: u64,
    /// Let echoes and reverberation ring out past the input's end (stems,
    /// buses); a mix or master keeps its track's length.
    pub ring_out: bool,
}

/// Renders `chain` over what `open` yields into `sink` and returns the chain
/// as it ran, each `loudness` resolved to the `gain` it applied.
///
/// `open` is called once per pass and must yield the same audio each time:
/// once for every `loudness` processor (a pass that measures the signal at
/// that point) and once for the render itself. Processors are deterministic,
/// so a second pass sees exactly what the first did.
pub fn render_chain(
    open: &mut dyn FnMut() -> Result<Box<dyn BlockSource>, AudioError>,
    chain: &[ProcessorSpec],
    context: &ChainContext,
    sink: &mut dyn BlockSink,
) -> Result<Vec<ProcessorSpec>, AudioError> {
    let mut resolved: Vec<ProcessorSpec> = chain.to_vec();
    for index in 0..resolved.len() {
        match &resolved[index] {
            ProcessorSpec::Loudness { lufs } => {
                let lufs = *lufs;
                let mut meter = LoudnessMeter::integrated_only(context.sample_rate)?;
                run(open()?, &resolved[..index], context, &mut meter)?;
                let measured = meter.report()?.integrated;
                // Silence has no loudness; leave it as it is.
                let db = if measured.is_finite() {
                    lufs - measured
                } else {
                    0.0
                };
                resolved[index] = ProcessorSpec::Gain { db };
            }
            ProcessorSpec::Denoise {
                params,
                profile: None,
            } if !resolved[index].is_identity() => {
                let params = *params;
                let mut profiler = NoiseProfiler::new(&params, context.sample_rate);
                run(open()?, &resolved[..index], context, &mut profiler)?;
                resolved[index] = ProcessorSpec::Denoise {
                    params,
                    profile: Some(profiler.profile()?),
                };
            }
            _ => {}
        }
    }
    run(open()?, &resolved, context, sink)?;
    Ok(resolved)
}

fn run(
    source: Box<dyn BlockSource>,
    chain: &[ProcessorSpec],
    context: &ChainContext,
    sink: &mut dyn BlockSink,
) -> Result<(), AudioError> {
    let processor_context = ProcessorContext {
        sample_rate: context.sample_rate,
        total_frames: context.total_frames,
    };
    let mut processors: Vec<_> = chain
        .iter()
        .filter(|spec| !spec.is_identity())
        .map(|spec| spec.build(&processor_context))
        .collect();
    // Processors with lookahead delay their output: feed that many frames
    // of silence after the source and drop as many from the start, so the
    // output lines up with the input and has its length.
    let latency: usize = processors.iter().map(|p| p.latency()).sum();
    let tail: u64 = if context.ring_out {
        chain
            .iter()
            .map(|p| p.tail_frames(context.sample_rate))
            .sum()
    } else {
        0
    };
    let mut source = Chained::new(source, Box::new(Silence::new(latency as u64 + tail)));
    let mut to_skip = latency;
    let mut buffer = StereoBuffer::default();
    loop {
        let frames = buffer.fill_from(&mut source)?;
        if frames == 0 {
            return Ok(());
        }
        let (left, right) = buffer.slices(frames);
        for processor in processors.iter_mut() {
            processor.process(left, right);
        }
        let skip = to_skip.min(frames);
        to_skip -= skip;
        if skip < frames {
            sink.write(&left[skip..], &right[skip..])?;
        }
    }
}

/// One source, then another.
struct Chained {
    first: Box<dyn BlockSource>,
    second: Box<dyn BlockSource>,
    first_done: bool,
}

impl Chained {
    fn new(first: Box<dyn BlockSource>, second: Box<dyn BlockSource>) -> Self {
        Chained {
            first,
            second,
            first_done: false,
        }
    }
}

impl BlockSource for Chained {
    fn read(&mut self, left: &mut [f32], right: &mut [f32]) -> Result<usize, AudioError> {
        if !self.first_done {
            let n = self.first.read(left, right)?;
            if n > 0 {
                return Ok(n);
            }
            self.first_done = true;
        }
        self.second.read(left, right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tone;

    #[test]
    fn loudness_minus_23_on_a_1k_stereo_sine_lands_within_a_tenth() {
        let rate = 48000;
        let context = ChainContext {
            sample_rate: rate,
            total_frames: 20 * rate as u64,
            ring_out: false,
        };
        let mut open = || -> Result<Box<dyn BlockSource>, AudioError> {
            Ok(Box::new(Tone::new(rate, 1000.0, -6.0, 20 * rate as u64)))
        };
        let mut meter = LoudnessMeter::full(rate).unwrap();
        let resolved = render_chain(
            &mut open,
            &[ProcessorSpec::Loudness { lufs: -23.0 }],
            &context,
            &mut meter,
        )
        .unwrap();
        let report = meter.report().unwrap();
        assert!(
            (report.integrated + 23.0).abs() <= 0.1,
            "integrated {}",
            report.integrated
        );
        // A stereo 1 kHz sine at −6 dBFS peak reads −6.0 LUFS (BS.1770: −3.01 dB
        // RMS, +3.01 dB for two channels, K-weighting ≈ 0 dB at 1 kHz), so the
        // solved gain is close to −17 dB.
        let ProcessorSpec::Gain { db } = resolved[0] else {
            panic!("loudness not resolved: {resolved:?}")
        };
        assert!((db + 17.0).abs() < 0.2, "gain {db}");
    }
}
