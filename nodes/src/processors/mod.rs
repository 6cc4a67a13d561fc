//! The chain processors. A processor is one file: its [`Kind`] (its
//! parameters with their meaning, unit, default and range, its DSP
//! version and an example), its DSP (a type that implements
//! [`Processor`]) and its arms of [`ProcessorSpec`]; and one line in
//! `processors!` below, which declares its variant of [`ProcessorSpec`]
//! (serialisable, part of the cache key) and lists it in [`KINDS`].

mod biquad;
pub mod kind;
pub mod registry;
mod spectral;

pub use crate::measure::interpolation::Interpolator;
pub use automate::{Automation, Breakpoint, Parameter};
pub use compressor::{Compressor, CompressorParams, Detect};
pub use delay::Delay;
pub use denoise::{DenoiseParams, NoiseProfile, NoiseProfiler};
pub use duck::{key_block, key_of, DuckKey, DuckParams, Ducker};
pub use eq::{Eq, EqBand};
pub use fade::{Fade, FadeCurve};
pub use gain::Gain;
pub use gate::{Gate, GateParams};
pub use limiter::{Limiter, PeakDetector, LIMITER_VERSION};
pub use multiband::{BandParams, Multiband};
pub use pan::{Pan, PanLaw};
pub use polarity::Polarity;
pub use reverb::Reverb;
pub use width::Width;

use serde::{Deserialize, Serialize};

use kind::Kind;

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

/// For tests: `signal` on both channels through `processor` in blocks
/// of `block`, its latency taken out as the chain runner takes it out
/// (silence fed after, as many frames dropped from the start); the left
/// channel.
#[cfg(test)]
pub(crate) fn run_aligned(processor: &mut dyn Processor, signal: &[f32], block: usize) -> Vec<f32> {
    let latency = processor.latency();
    let mut left = signal.to_vec();
    left.extend(vec![0.0; latency]);
    let mut right = left.clone();
    for (l, r) in left.chunks_mut(block).zip(right.chunks_mut(block)) {
        processor.process(l, r);
    }
    left.drain(..latency);
    left
}

/// What a processor needs to know of the signal it will run on.
#[derive(Debug, Clone, Copy)]
pub struct ProcessorContext {
    pub sample_rate: u32,
    /// The length of the signal, for processors placed relative to its end.
    pub total_frames: u64,
}

/// "1 band", "3 bands": the signal drawing's words.
fn bands(n: usize) -> String {
    match n {
        1 => "1 band".to_string(),
        _ => format!("{n} bands"),
    }
}

/// Declares every processor once: its module (which holds its [`Kind`],
/// DSP and the arms `is_identity`, `describe` and `build`), and its
/// variant of [`ProcessorSpec`] with the parameters the cache key holds.
/// From this list come the modules, the enum, [`KINDS`] (in this order,
/// the reference's) and the enum's per-processor methods: adding a
/// processor is its file and one line here.
macro_rules! processors {
    ($(
        $(#[$doc:meta])*
        $module:ident => $variant:ident { $( $(#[$field_attr:meta])* $field:ident : $ty:ty ),* $(,)? }
    ),* $(,)?) => {
        $(mod $module;)*

        /// A processor and its parameters, as the project file states them.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "kebab-case")]
        pub enum ProcessorSpec {
            $( $(#[$doc])* $variant { $( $(#[$field_attr])* $field: $ty ),* } ),*
        }

        /// Every processor, in the order the reference lists them.
        pub const KINDS: &[&Kind] = &[ $( &$module::KIND ),* ];

        impl ProcessorSpec {
            /// The processor's name, as the project file writes it.
            pub fn name(&self) -> &'static str {
                match self {
                    $( ProcessorSpec::$variant { .. } => $module::KIND.name ),*
                }
            }

            /// Whether this processor leaves every sample as it is, so that an
            /// integer-precision signal stays on its grid.
            pub fn is_identity(&self) -> bool {
                match self {
                    $( ProcessorSpec::$variant { $($field),* } => $module::is_identity($($field),*) ),*
                }
            }

            /// What this processor does, in a few words (the signal drawing's).
            pub fn describe(&self) -> String {
                match self {
                    $( ProcessorSpec::$variant { $($field),* } => $module::describe($($field),*) ),*
                }
            }

            /// Builds the running state. `Loudness` must have been resolved to a
            /// `Gain` by the chain runner first.
            pub fn build(&self, context: &ProcessorContext) -> Box<dyn Processor> {
                match self {
                    $( ProcessorSpec::$variant { $($field),* } => $module::build($($field,)* context) ),*
                }
            }
        }
    };
}

processors! {
    gain => Gain { db: f64 },
    pan => Pan { position: f64, law: PanLaw },
    polarity => Polarity {},
    width => Width { width: f64 },
    mono_bass => MonoBass { freq: f64 },
    /// Static gain so that the integrated loudness here equals `lufs`; the
    /// chain runner solves it with a measuring pass.
    loudness => Loudness { lufs: f64 },
    eq => Eq { bands: Vec<EqBand> },
    compressor => Compress { #[serde(flatten)] params: CompressorParams },
    multiband => Multiband { crossovers: Vec<f64>, bands: Vec<BandParams> },
    gate => Gate { #[serde(flatten)] params: GateParams },
    de_ess => DeEss { threshold: f64, reduction: f64, low: f64, high: f64, release: f64 },
    level => Level { lufs: f64, max_gain: f64, max_cut: f64, rate: f64, silence: f64 },
    /// Spectral noise reduction; the chain runner learns `profile` from
    /// the signal in a measuring pass (it is not part of the key: the
    /// signal and the region are).
    /// Ducking under other stems; the renderer reads `key` from their
    /// audio (not part of the key: their audio is, as the step's inputs).
    duck => Duck {
        #[serde(flatten)] params: DuckParams,
        #[serde(skip)] key: Option<DuckKey>,
    },
    denoise => Denoise {
        #[serde(flatten)] params: DenoiseParams,
        #[serde(skip)] profile: Option<NoiseProfile>,
    },
    /// True-peak brick-wall limiter: ceiling dBTP, release and lookahead ms.
    limiter => Limit { ceiling: f64, release: f64, lookahead: f64 },
    delay => Delay { seconds: f64, mix: f64, feedback: f64 },
    reverb => Reverb { size: f64, damping: f64, mix: f64 },
    automate => Automate { parameter: Parameter, points: Vec<Breakpoint>, law: PanLaw },
    fade => Fade { fade_in: f64, fade_out: f64, curve: FadeCurve },
}

impl ProcessorSpec {
    /// The version of this kind's DSP, as its registry entry states it.
    pub fn dsp_version(&self) -> u32 {
        registry::kind(self.name())
            .expect("every processor is registered")
            .version
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

    /// The stems a `duck` listens to; `None` for any other processor.
    pub fn ducks_under(&self) -> Option<&[String]> {
        match self {
            ProcessorSpec::Duck { params, .. } => Some(&params.under),
            _ => None,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache key holds processors as JSON: a variant's shape is part
    /// of every key, so these stay as they were written before the list.
    #[test]
    fn processors_serialise_as_the_keys_hold_them() {
        let json = |spec: &ProcessorSpec| serde_json::to_string(spec).unwrap();
        assert_eq!(json(&ProcessorSpec::Polarity {}), r#"{"kind":"polarity"}"#);
        assert_eq!(
            json(&ProcessorSpec::Gain { db: -3.0 }),
            r#"{"kind":"gain","db":-3.0}"#
        );
        let params = CompressorParams::default();
        let compress = ProcessorSpec::Compress { params };
        let text = json(&compress);
        assert!(
            text.starts_with(r#"{"kind":"compress","threshold":"#),
            "{text}"
        );
        for spec in [compress, ProcessorSpec::Polarity {}] {
            let back: ProcessorSpec = serde_json::from_str(&json(&spec)).unwrap();
            assert_eq!(back, spec);
        }
    }

    /// Every kind in the list has its variant, and the other way round.
    #[test]
    fn the_list_names_each_kind_once() {
        for kind in KINDS {
            assert_eq!(KINDS.iter().filter(|k| k.name == kind.name).count(), 1);
        }
        let spec = ProcessorSpec::Width { width: 1.0 };
        assert_eq!(spec.name(), "width");
        assert!(spec.is_identity());
        assert_eq!(spec.describe(), "width 1");
    }
}
