//! What a processor states about itself for the registry: its numbers
//! (name, meaning, unit, default, range), its DSP version, how it is built
//! and an example. Each processor's file holds its own [`Kind`].

use super::ProcessorSpec;

/// A number a processor takes in a project file.
#[derive(Debug)]
pub struct Param {
    /// The property's name; `None` for the node's argument.
    pub name: Option<&'static str>,
    /// What it is, as an error that misses it says (`a gain in dB`).
    pub meaning: &'static str,
    pub unit: &'static str,
    /// `None`: the value must be given.
    pub default: Option<f64>,
    pub min: f64,
    pub max: f64,
}

impl Param {
    /// The node's argument.
    pub const fn argument(meaning: &'static str, unit: &'static str, min: f64, max: f64) -> Param {
        Param {
            name: None,
            meaning,
            unit,
            default: None,
            min,
            max,
        }
    }

    /// A property with its default.
    pub const fn property(
        name: &'static str,
        meaning: &'static str,
        unit: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Param {
        Param {
            name: Some(name),
            meaning,
            unit,
            default: Some(default),
            min,
            max,
        }
    }
}

/// A kind of processor.
#[derive(Debug)]
pub struct Kind {
    /// Its node's name in a chain.
    pub name: &'static str,
    /// What it does, in a sentence.
    pub summary: &'static str,
    /// Its numbers: the argument first, if it takes one, then properties.
    pub params: &'static [Param],
    /// Properties that are not numbers (`detect="rms"`, `link=#false`),
    /// read by the reader itself.
    pub other_props: &'static [&'static str],
    /// The version of its DSP: bump it whenever its output changes, so
    /// cached renders made by the old code are not reused (and only the
    /// steps that run it render again).
    pub version: u32,
    /// Makes the processor from its numbers, in `params` order; `None`
    /// for a kind whose node holds more than numbers (bands, breakpoints),
    /// which the reader reads itself.
    pub build: Option<fn(&[f64]) -> ProcessorSpec>,
    /// Whether a chain may name it: fades and the master's target are
    /// written elsewhere in a project, but are processors all the same.
    pub in_chain: bool,
    /// A node that uses it, for the reference and the registry's tests.
    pub example: &'static str,
}
