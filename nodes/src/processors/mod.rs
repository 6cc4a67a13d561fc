//! The chain processors. Each is a small type: its parameters live in
//! [`ProcessorSpec`] (serialisable, part of the cache key, with a DSP
//! version per kind), its running state in a type that implements
//! [`Processor`].

mod automate;
mod biquad;
mod compressor;
mod delay;
mod eq;
mod fade;
mod gain;
pub mod kind;
mod limiter;
mod multiband;
mod pan;
mod polarity;
pub mod registry;
mod reverb;
mod width;

pub use crate::measure::interpolation::Interpolator;
pub use automate::{Automation, Breakpoint, Parameter};
pub use compressor::{Compressor, CompressorParams, Detect};
pub use delay::Delay;
pub use eq::{Eq, EqBand};
pub use fade::{Fade, FadeCurve};
pub use gain::Gain;
pub use limiter::{Limiter, PeakDetector, LIMITER_VERSION};
pub use multiband::{BandParams, Multiband};
pub use pan::{Pan, PanLaw};
pub use polarity::Polarity;
pub use reverb::Reverb;
pub use width::Width;

use serde::{Deserialize, Serialize};

/// A processor's running state.
pub trait Processor: Send {
    /// Processes one block in place; both slices have the same length. A
    /// processor keeps its own notion of time, counting the frames it has seen.
    fn process(&mut self, left: &mut [f32], right: &mut [f32]);

    /// Frames by which the output lags the input; the chain runner removes
    /// the delay, so a chain's output stays aligned with its input.
    fn latency(&self) -> usize {
        0
    }
}

/// What a processor needs to know of the signal it will run on.
#[derive(Debug, Clone, Copy)]
pub struct ProcessorContext {
    pub sample_rate: u32,
    /// The length of the signal, for processors placed relative to its end.
    pub total_frames: u64,
}

/// A processor and its parameters, as the project file states them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProcessorSpec {
    Gain {
        db: f64,
    },
    Pan {
        position: f64,
        law: PanLaw,
    },
    Polarity,
    Eq {
        bands: Vec<EqBand>,
    },
    Compress(CompressorParams),
    Delay {
        seconds: f64,
        mix: f64,
        feedback: f64,
    },
    Reverb {
        size: f64,
        damping: f64,
        mix: f64,
    },
    Automate {
        parameter: Parameter,
        points: Vec<Breakpoint>,
        law: PanLaw,
    },
    /// True-peak brick-wall limiter: ceiling dBTP, release and lookahead ms.
    Limit {
        ceiling: f64,
        release: f64,
        lookahead: f64,
    },
    Multiband {
        crossovers: Vec<f64>,
        bands: Vec<BandParams>,
    },
    Width {
        width: f64,
    },
    /// Static gain so that the integrated loudness here equals `lufs`; the
    /// chain runner solves it with a measuring pass.
    Loudness {
        lufs: f64,
    },
    Fade {
        fade_in: f64,
        fade_out: f64,
        curve: FadeCurve,
    },
}

impl ProcessorSpec {
    /// The processor's name, as the project file writes it.
    pub fn name(&self) -> &'static str {
        match self {
            ProcessorSpec::Gain { .. } => "gain",
            ProcessorSpec::Pan { .. } => "pan",
            ProcessorSpec::Polarity => "polarity",
            ProcessorSpec::Width { .. } => "width",
            ProcessorSpec::Eq { .. } => "eq",
            ProcessorSpec::Compress(_) => "compress",
            ProcessorSpec::Delay { .. } => "delay",
            ProcessorSpec::Reverb { .. } => "reverb",
            ProcessorSpec::Automate { .. } => "automate",
            ProcessorSpec::Limit { .. } => "limit",
            ProcessorSpec::Multiband { .. } => "multiband",
            ProcessorSpec::Loudness { .. } => "loudness",
            ProcessorSpec::Fade { .. } => "fade",
        }
    }

    /// What this processor does, in a few words (the signal drawing's).
    pub fn describe(&self) -> String {
        let bands = |n: usize| match n {
            1 => "1 band".to_string(),
            _ => format!("{n} bands"),
        };
        match self {
            ProcessorSpec::Gain { db } => format!("gain {db:+} dB"),
            ProcessorSpec::Pan { position, .. } => format!("pan {position:+.2}"),
            ProcessorSpec::Polarity => "polarity".into(),
            ProcessorSpec::Width { width } => format!("width {width}"),
            ProcessorSpec::Eq { bands: b } => format!("eq ({})", bands(b.len())),
            ProcessorSpec::Compress(c) => {
                format!("compress {}:1 at {} dBFS", c.ratio, c.threshold)
            }
            ProcessorSpec::Multiband { bands: b, .. } => format!("multiband ({})", bands(b.len())),
            ProcessorSpec::Limit { ceiling, .. } => format!("limit {ceiling} dBTP"),
            ProcessorSpec::Loudness { lufs } => format!("loudness {lufs} LUFS"),
            ProcessorSpec::Delay { seconds, .. } => format!("delay {seconds} s"),
            ProcessorSpec::Reverb { size, .. } => format!("reverb (size {size})"),
            ProcessorSpec::Automate { parameter, .. } => match parameter {
                Parameter::Gain => "gain automation".into(),
                Parameter::Pan => "pan automation".into(),
            },
            ProcessorSpec::Fade {
                fade_in, fade_out, ..
            } => format!("fades {fade_in} s / {fade_out} s"),
        }
    }

    /// The version of this kind's DSP, as its registry entry states it.
    pub fn dsp_version(&self) -> u32 {
        registry::kind(self.name())
            .expect("every processor is registered")
            .version
    }

    /// Whether this processor leaves every sample as it is, so that an
    /// integer-precision signal stays on its grid.
    pub fn is_identity(&self) -> bool {
        match self {
            ProcessorSpec::Gain { db } => *db == 0.0,
            ProcessorSpec::Pan { position, law } => {
                *position == 0.0 && *law != PanLaw::ConstantPower
            }
            ProcessorSpec::Width { width } => *width == 1.0,
            ProcessorSpec::Eq { bands } => bands.iter().all(EqBand::is_identity),
            ProcessorSpec::Compress(params) => params.is_identity(),
            ProcessorSpec::Delay { seconds, mix, .. } => *seconds == 0.0 || *mix == 0.0,
            ProcessorSpec::Reverb { mix, .. } => *mix == 0.0,
            ProcessorSpec::Automate { .. } => false,
            ProcessorSpec::Limit { .. } => false,
            // Neutral bands still pass an allpass: not an identity.
            ProcessorSpec::Multiband { .. } => false,
            ProcessorSpec::Fade {
                fade_in, fade_out, ..
            } => *fade_in == 0.0 && *fade_out == 0.0,
            ProcessorSpec::Polarity | ProcessorSpec::Loudness { .. } => false,
        }
    }

    /// Frames of sound this processor adds after its input ends (echoes,
    /// reverberation), so a chain can ring out instead of being cut.
    pub fn tail_frames(&self, rate: u32) -> u64 {
        match self {
            _ if self.is_identity() => 0,
            ProcessorSpec::Delay {
                seconds, feedback, ..
            } => Delay::tail_frames(*seconds, *feedback, rate),
            ProcessorSpec::Reverb { size, .. } => Reverb::tail_frames(*size, rate),
            _ => 0,
        }
    }

    /// This processor with any `Auto` pan law resolved for its signal.
    pub fn resolve_pan_law(&self, mono_source: bool) -> ProcessorSpec {
        match self {
            ProcessorSpec::Automate {
                parameter,
                points,
                law,
            } => ProcessorSpec::Automate {
                parameter: *parameter,
                points: points.clone(),
                law: law.resolve(mono_source),
            },
            ProcessorSpec::Pan { position, law } => ProcessorSpec::Pan {
                position: *position,
                law: law.resolve(mono_source),
            },
            other => other.clone(),
        }
    }

    /// Builds the running state. `Loudness` must have been resolved to a
    /// `Gain` by the chain runner first.
    pub fn build(&self, context: &ProcessorContext) -> Box<dyn Processor> {
        match self {
            ProcessorSpec::Gain { db } => Box::new(Gain::new(*db)),
            ProcessorSpec::Pan { position, law } => Box::new(Pan::new(*position, *law)),
            ProcessorSpec::Polarity => Box::new(Polarity),
            ProcessorSpec::Width { width } => Box::new(Width::new(*width)),
            ProcessorSpec::Eq { bands } => Box::new(Eq::new(bands, context.sample_rate)),
            ProcessorSpec::Compress(params) => {
                Box::new(Compressor::new(*params, context.sample_rate))
            }
            ProcessorSpec::Delay {
                seconds,
                mix,
                feedback,
            } => Box::new(Delay::new(*seconds, *mix, *feedback, context.sample_rate)),
            ProcessorSpec::Reverb { size, damping, mix } => {
                Box::new(Reverb::new(*size, *damping, *mix, context.sample_rate))
            }
            ProcessorSpec::Automate {
                parameter,
                points,
                law,
            } => Box::new(Automation::new(*parameter, *law, points, context)),
            ProcessorSpec::Limit {
                ceiling,
                release,
                lookahead,
            } => Box::new(Limiter::new(
                *ceiling,
                *release,
                *lookahead,
                context.sample_rate,
            )),
            ProcessorSpec::Multiband { crossovers, bands } => {
                Box::new(Multiband::new(crossovers, bands, context.sample_rate))
            }
            ProcessorSpec::Loudness { .. } => {
                unreachable!("the chain runner resolves loudness before building")
            }
            ProcessorSpec::Fade {
                fade_in,
                fade_out,
                curve,
            } => Box::new(Fade::new(*fade_in, *fade_out, *curve, context)),
        }
    }
}
