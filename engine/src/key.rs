//! Step keys: what a step's output depends on, hashed.
//!
//! A step's key is BLAKE3 over the canonical JSON of [`KeyMaterial`]:
//!
//! | field | what | why it is there |
//! | --- | --- | --- |
//! | `schema` | [`KEY_SCHEMA`] | changes when this table changes |
//! | `kind` | the step kind (`stem`, `mix`, …) | two kinds never share outputs |
//! | `kind_version` | the kind's own version | its rendering outside processors changed |
//! | `versions` | the version of each processor the step runs (faders, pans, fades and limiters included, as the plan states them) and of each tool it uses outside processors (resampler, a file's limiter, dither, writers): [`Action::processors`], [`Action::tools`] | exactly what changed the step's output; bumping one renders again only the steps that run it |
//! | `rate` | the release's processing rate | everything renders at it |
//! | `params` | the step's [`Action`] (chains, gains, formats; no paths) | the settings |
//! | `inputs` | the output hashes of its inputs, in summing order | what it reads |
//!
//! Inputs enter by their *output content hash*, not their key, so a step
//! whose input re-renders to the same bytes keeps its key: early cutoff.
//! A source step's key holds its file's content hash, and its output is the
//! hash of the decoded audio: touching a stem, or re-saving it with other
//! bytes but the same audio, renders nothing downstream.

use std::collections::BTreeMap;

use bounce_cache::Hash;
use serde::Serialize;

use crate::step::{Action, Step};

/// The version of the key layout itself (2: versions of what each step
/// runs, not of every tool in every key).
pub const KEY_SCHEMA: u32 = 2;

#[derive(Serialize)]
struct KeyMaterial<'a> {
    schema: u32,
    kind: &'static str,
    kind_version: u32,
    versions: BTreeMap<&'static str, u32>,
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
        versions: versions(&step.action),
        rate,
        params: &step.action,
        inputs,
        content,
    }
}

/// The version of everything `action` runs, by name.
pub fn versions(action: &Action) -> BTreeMap<&'static str, u32> {
    action
        .processors()
        .into_iter()
        .map(|p| (p.name(), p.dsp_version()))
        .chain(action.tools())
        .collect()
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
                chain: vec![ProcessorSpec::Polarity {}, ProcessorSpec::Gain { db: gain }],
                offset: 0.0,
                trim: crate::model::Trim::default(),
                source: petgraph::graph::NodeIndex::new(0),
                keys: Vec::new(),
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

    /// The key of `step` as if processor or tool `bumped` had a new version.
    fn key_bumped(step: &Step, bumped: &str) -> Hash {
        let mut material = key_material(step, 48000, &[], None);
        if let Some(version) = material.versions.get_mut(bumped) {
            *version += 1;
        }
        Hash::of_bytes(&serde_json::to_vec(&material).unwrap())
    }

    /// The plan states every processor a step runs: faders, pans, fades
    /// and limiters too. So bumping one version changes the keys of the
    /// steps that run it and no others: pan renders stems and buses again
    /// (every fader pans), fades the faded mix, the limiter the masters and
    /// resampled files, the writer only encoding and tagging, never a stem.
    #[test]
    fn a_version_reaches_exactly_the_steps_that_run_it() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("bounce.kdl");
        std::fs::write(
            &project,
            r#"
release "Keys" { version "1"; }
master "m" target=-14 ceiling=-1.0 { eq { bell 1000 gain=1 q=1; }; }
master "plain" { width 1.1; }
track 1 "Faded" {
    tone "a" freq=440 length=5 pan=0.3
    tone "b" freq=660 length=5
    bus "both" "a" "b" gain=-2
    fade-out 2
}
track 2 "Dry" {
    tone "c" freq=550 length=5
}
deliverable "wav" { master "m"; format "wav" bits=24 rate=44100; }
deliverable "flac" { master "plain"; format "flac" bits=16; }
"#,
        )
        .unwrap();
        let project = crate::reader::load_project(&project).unwrap();
        let plan = crate::plan::plan(&project).unwrap();
        let steps: Vec<&Step> = plan.graph.node_weights().collect();
        let changed = |bumped: &str| -> std::collections::BTreeSet<String> {
            steps
                .iter()
                .filter(|s| key_bumped(s, bumped) != key_bumped(s, "nothing"))
                .map(|s| s.id.clone())
                .collect()
        };
        let ids = |kinds: &[&str]| -> std::collections::BTreeSet<String> {
            steps
                .iter()
                .filter(|s| kinds.contains(&s.kind.name()))
                .map(|s| s.id.clone())
                .collect()
        };
        assert_eq!(changed("pan"), ids(&["stem", "bus"]));
        assert_eq!(changed("fade"), ["mix:1".to_string()].into());
        assert_eq!(
            changed("limit"),
            ids(&["master", "album"])
                .into_iter()
                .filter(|id| id.starts_with("master:m:"))
                .collect()
        );
        assert_eq!(changed("limiter"), ids(&["resample", "fit", "deliverable"]));
        assert_eq!(changed("writer"), ids(&["deliverable", "tag", "image"]));
        assert!(changed("writer").iter().all(|id| !id.starts_with("stem:")));
        assert_eq!(changed("dither"), ids(&["deliverable"]));
        assert_eq!(changed("gating"), ids(&["replaygain"]));
        assert_eq!(
            changed("width"),
            ["master:plain:1".to_string(), "master:plain:2".to_string()].into()
        );
    }
}
