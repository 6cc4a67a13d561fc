//! Step keys: what a step's output depends on, hashed.
//!
//! A step's key is BLAKE3 over the canonical JSON of [`KeyMaterial`]:
//!
//! | field | what | why it is there |
//! | --- | --- | --- |
//! | `schema` | [`KEY_SCHEMA`] | changes when this table changes |
//! | `kind` | the step kind (`stem`, `mix`, …) | two kinds never share outputs |
//! | `kind_version` | the kind's own version | its rendering outside processors changed |
//! | `dsp_versions` | each processor's DSP version, in chain order | a processor's output changed |
//! | `resampler` | [`RESAMPLER_VERSION`] | the resampler changed |
//! | `limiter` | [`LIMITER_VERSION`] | the limiter changed (masters and deliverables use it outside any chain) |
//! | `dither` | [`DITHER_VERSION`] | requantisation changed |
//! | `writer` | [`WRITER_VERSION`] | the file writers' bytes changed |
//! | `rate` | the release's processing rate | everything renders at it |
//! | `params` | the step's [`Action`] (chains, gains, formats; no paths) | the settings |
//! | `inputs` | the output hashes of its inputs, in summing order | what it reads |
//!
//! Inputs enter by their *output content hash*, not their key, so a step
//! whose input re-renders to the same bytes keeps its key: early cutoff.
//! A source step's key holds its file's content hash, and its output is the
//! hash of the decoded audio: touching a stem, or re-saving it with other
//! bytes but the same audio, renders nothing downstream.

use bounce_cache::Hash;
use bounce_nodes::processors::LIMITER_VERSION;
use bounce_nodes::{DITHER_VERSION, RESAMPLER_VERSION, WRITER_VERSION};
use serde::Serialize;

use crate::step::{Action, Step};

/// The version of the key layout itself.
pub const KEY_SCHEMA: u32 = 1;

#[derive(Serialize)]
struct KeyMaterial<'a> {
    schema: u32,
    kind: &'static str,
    kind_version: u32,
    dsp_versions: Vec<u32>,
    resampler: u32,
    limiter: u32,
    dither: u32,
    writer: u32,
    rate: u32,
    params: &'a Action,
    inputs: &'a [Hash],
    /// For a source: the file's content hash.
    content: Option<Hash>,
}

/// The key of `step` at processing rate `rate`, given its inputs' output
/// hashes (and, for a file source, the file's content hash).
pub fn step_key(step: &Step, rate: u32, inputs: &[Hash], content: Option<Hash>) -> Hash {
    let material = key_material(step, rate, inputs, content);
    let json = serde_json::to_vec(&material).expect("key material serialises");
    Hash::of_bytes(&json)
}

/// What a key hashes, as JSON text: kept so a later build can say what
/// changed.
pub fn key_json(step: &Step, rate: u32, inputs: &[Hash], content: Option<Hash>) -> String {
    serde_json::to_string(&key_material(step, rate, inputs, content))
        .expect("key material serialises")
}

fn key_material<'a>(
    step: &'a Step,
    rate: u32,
    inputs: &'a [Hash],
    content: Option<Hash>,
) -> KeyMaterial<'a> {
    KeyMaterial {
        schema: KEY_SCHEMA,
        kind: step.kind.name(),
        kind_version: step.kind.version(),
        dsp_versions: step
            .action
            .chains()
            .iter()
            .map(|p| p.dsp_version())
            .collect(),
        resampler: RESAMPLER_VERSION,
        limiter: LIMITER_VERSION,
        dither: DITHER_VERSION,
        writer: WRITER_VERSION,
        rate,
        params: &step.action,
        inputs,
        content,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::StepKind;
    use bounce_nodes::ProcessorSpec;

    fn stem(gain: f64) -> Step {
        Step {
            id: "stem:1:kick".into(),
            kind: StepKind::Stem,
            track: Some(1),
            action: Action::Stem {
                chain: vec![ProcessorSpec::Polarity],
                gain,
                pan: 0.0,
                offset: 0.0,
            },
        }
    }

    #[test]
    fn keys_change_with_params_inputs_and_rate_only() {
        let input = [Hash::of_bytes(b"source")];
        let base = step_key(&stem(-3.0), 48000, &input, None);
        assert_eq!(base, step_key(&stem(-3.0), 48000, &input, None));
        assert_ne!(base, step_key(&stem(-4.0), 48000, &input, None));
        assert_ne!(base, step_key(&stem(-3.0), 44100, &input, None));
        assert_ne!(
            base,
            step_key(&stem(-3.0), 48000, &[Hash::of_bytes(b"other")], None)
        );
        let mut renamed = stem(-3.0);
        renamed.id = "stem:1:bd".into();
        assert_eq!(
            base,
            step_key(&renamed, 48000, &input, None),
            "ids are not settings"
        );
    }
}
