//! Running a chain of processors over a source, including the measuring
//! passes that `loudness` needs.

use crate::processors::{ProcessorContext, ProcessorSpec};
use crate::{AudioError, BlockSink, BlockSource, LoudnessMeter, StereoBuffer};

/// The facts about a signal that a chain needs before it runs.
#[derive(Debug, Clone, Copy)]
pub struct ChainContext {
    pub sample_rate: u32,
    pub total_frames: u64,
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
        if let ProcessorSpec::Loudness { lufs } = resolved[index] {
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
    }
    run(open()?, &resolved, context, sink)?;
    Ok(resolved)
}

fn run(
    mut source: Box<dyn BlockSource>,
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
    let mut buffer = StereoBuffer::default();
    loop {
        let frames = buffer.fill_from(source.as_mut())?;
        if frames == 0 {
            return Ok(());
        }
        let (left, right) = buffer.slices(frames);
        for processor in processors.iter_mut() {
            processor.process(left, right);
        }
        sink.write(left, right)?;
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
