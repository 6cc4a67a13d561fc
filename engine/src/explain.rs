//! Why a step renders: each build records, per step, the key material it
//! was found or rendered with (`steps.json` in the cache); the next build
//! compares a stale step's material with that record and says, in plain
//! words, what changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bounce_cache::{write_atomically, CacheError, Hash};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A step as it was last built: its key and what the key hashed (as JSON
/// text, parsed only to explain a change: loading stays cheap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub key: Hash,
    pub material: String,
}

/// The records of every step built so far, by step id.
#[derive(Debug, Default)]
pub struct StepRecords {
    path: PathBuf,
    records: BTreeMap<String, StepRecord>,
    changed: bool,
}

impl StepRecords {
    /// Loads the records in a cache folder (none if absent or unreadable).
    pub fn load(cache_root: &Path) -> Self {
        let path = bounce_cache::CacheLayout::new(cache_root).steps();
        let records = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        StepRecords {
            path,
            records,
            changed: false,
        }
    }

    pub fn get(&self, id: &str) -> Option<&StepRecord> {
        self.records.get(id)
    }

    pub fn record(&mut self, id: &str, record: StepRecord) {
        if self.records.get(id) != Some(&record) {
            self.records.insert(id.to_string(), record);
            self.changed = true;
        }
    }

    /// Writes the records if a step's changed.
    pub fn save(&self) -> Result<(), CacheError> {
        if !self.changed {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&self.records).expect("records serialise");
        write_atomically(&self.path, &bytes)
    }
}

/// Versions that, when they change, re-render steps (beside `versions`,
/// each processor's and tool's by name).
const VERSIONS: [(&str, &str); 2] = [("schema", "key layout"), ("kind_version", "step kind")];

/// A value as the project file would show it.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "none".into(),
        Value::String(s) => format!("\"{s}\""),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Why a step renders (or would, in a dry run): `explain`, `--dry-run`
/// and the JSON events' `reason` print it; `code` names the kind.
#[derive(Debug, Clone, PartialEq)]
pub enum RebuildReason {
    /// No build recorded this step.
    NeverBuilt,
    /// Its key is the one recorded, but its output has left the cache.
    Evicted,
    /// What changed in its key since the last build (nothing named when
    /// the key changed in a way no field shows).
    Changed(Vec<Change>),
    /// In a dry run: an input renders first, so this step's key is not
    /// known yet.
    InputRenders { step: String },
}

impl RebuildReason {
    /// A stable name for the kind of reason, for tools reading JSON.
    pub fn code(&self) -> &'static str {
        match self {
            RebuildReason::NeverBuilt => "never-built",
            RebuildReason::Evicted => "evicted",
            RebuildReason::Changed(_) => "changed",
            RebuildReason::InputRenders { .. } => "input-renders",
        }
    }
}

impl std::fmt::Display for RebuildReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RebuildReason::NeverBuilt => f.write_str("never built"),
            RebuildReason::Evicted => f.write_str("its output was evicted from the cache"),
            RebuildReason::InputRenders { step } => write!(f, "input {step} would render"),
            RebuildReason::Changed(changes) if changes.is_empty() => f.write_str("its key changed"),
            RebuildReason::Changed(changes) => {
                for (i, change) in changes.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{change}")?;
                }
                Ok(())
            }
        }
    }
}

/// One thing that changed in a step's key.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The audio file a source step reads.
    Source { file: String },
    /// A processor's, tool's or the key layout's version.
    Version {
        name: String,
        old: String,
        new: String,
    },
    /// The project's processing rate.
    Rate { old: String, new: String },
    /// A parameter (`at` its path in the action, empty for the action).
    Parameter {
        at: String,
        old: String,
        new: String,
    },
    /// The output of the named input step.
    Input { step: String },
    /// The inputs, in a way no single input shows (added or removed).
    Inputs,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Source { file } => write!(f, "source file {file} changed (content)"),
            Change::Version { name, old, new } => write!(f, "new {name} version ({old} → {new})"),
            Change::Rate { old, new } => {
                write!(f, "processing rate changed from {old} to {new}")
            }
            Change::Parameter { at, old, new } => write!(
                f,
                "{} changed from {old} to {new}",
                if at.is_empty() { "the action" } else { at }
            ),
            Change::Input { step } => write!(f, "input {step} changed"),
            Change::Inputs => f.write_str("its inputs changed"),
        }
    }
}

/// Every leaf that differs between two JSON values, with its path.
pub(crate) fn differences(path: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b))
            if a.get("action") == b.get("action") && a.get("kind") == b.get("kind") =>
        {
            // A processor's main value is named by the processor: "gain
            // changed", "pan changed", not "gain.db", "pan.position".
            const MAIN: [&str; 4] = ["db", "position", "width", "lufs"];
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                if x != y {
                    let main = a.contains_key("kind") && MAIN.contains(&key.as_str());
                    let at = if main { path.to_string() } else { join(key) };
                    differences(&at, x, y, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            // A chain's processors go by name (`compress`, or `compress 2`
            // when the chain has two), not by position.
            let named = path == "chain" || path.ends_with(".chain");
            let kind = |i: usize| b[i]["kind"].as_str().map(str::to_string);
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    let label = match kind(i).filter(|_| named) {
                        Some(k) => {
                            let same = (0..b.len()).filter(|j| kind(*j).as_deref() == Some(&k));
                            match same.clone().count() {
                                1 => k,
                                _ => format!("{k} {}", same.take_while(|j| *j <= i).count()),
                            }
                        }
                        None => i.to_string(),
                    };
                    let at = if named { label } else { join(&label) };
                    differences(&at, x, y, out);
                }
            }
        }
        _ => out.push(in_words(path, old, new)),
    }
}

/// A changed leaf as an engineer says it: bands counted from 1 (`eq band
/// 3 freq`, not `eq.bands.2.freq`), a CD's gaps in seconds rather than CD
/// frames, lists of words as words rather than JSON.
fn in_words(path: &str, old: &Value, new: &Value) -> Change {
    let mut words = Vec::new();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        match (part, parts.peek().and_then(|n| n.parse::<usize>().ok())) {
            ("bands", Some(i)) => {
                words.push(format!("band {}", i + 1));
                parts.next();
            }
            ("text", _) => words.push("CD-TEXT".into()),
            _ => words.push(part.to_string()),
        }
    }
    let at = words.join(" ");
    let frames_as_seconds = |v: &Value| match v.as_array() {
        Some(gaps) => gaps
            .iter()
            .map(|g| match g.as_f64() {
                // Red Book: 75 frames a second.
                Some(frames) => format!("{} s", crate::words::rounded(frames / 75.0, 2)),
                None => show(g),
            })
            .collect::<Vec<_>>()
            .join(", "),
        None => show(v),
    };
    let listed = |v: &Value| match v.as_array() {
        Some(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        }
        _ => show(v),
    };
    if path == "gaps" || path.ends_with(".gaps") {
        return Change::Parameter {
            at: at.replace("gaps", "the gaps before the tracks"),
            old: frames_as_seconds(old),
            new: frames_as_seconds(new),
        };
    }
    Change::Parameter {
        at,
        old: listed(old),
        new: listed(new),
    }
}

/// Why a step whose key is `key` (material `material`) is not in the
/// cache; `inputs` names the step's inputs in order; `source` is the file a
/// source step reads.
pub fn reason(
    record: Option<&StepRecord>,
    key: &Hash,
    material: &str,
    inputs: &[&str],
    source: Option<&Path>,
) -> RebuildReason {
    let Some(record) = record else {
        return RebuildReason::NeverBuilt;
    };
    if &record.key == key {
        return RebuildReason::Evicted;
    }
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let (old, material) = (&parse(&record.material), &parse(material));
    let mut why = Vec::new();
    if old["content"] != material["content"] {
        let file = source.map(|p| p.display().to_string()).unwrap_or_default();
        why.push(Change::Source { file });
    }
    for (field, name) in VERSIONS {
        if old[field] != material[field] {
            why.push(Change::Version {
                name: name.to_string(),
                old: show(&old[field]),
                new: show(&material[field]),
            });
        }
    }
    if let (Value::Object(a), Value::Object(b)) = (&old["versions"], &material["versions"]) {
        for name in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
            // A processor added or removed shows as a parameter change.
            if let (Some(x), Some(y)) = (a.get(name), b.get(name)) {
                if x != y {
                    why.push(Change::Version {
                        name: name.clone(),
                        old: show(x),
                        new: show(y),
                    });
                }
            }
        }
    }
    if old["rate"] != material["rate"] {
        why.push(Change::Rate {
            old: show(&old["rate"]),
            new: show(&material["rate"]),
        });
    }
    if old["params"] != material["params"] {
        differences("", &old["params"], &material["params"], &mut why);
    }
    if old["inputs"] != material["inputs"] {
        let (a, b) = (&old["inputs"], &material["inputs"]);
        let changed: Vec<&str> = inputs
            .iter()
            .enumerate()
            .filter(|(i, _)| a.get(i) != b.get(i))
            .map(|(_, id)| *id)
            .collect();
        if changed.is_empty() {
            why.push(Change::Inputs);
        }
        why.extend(changed.into_iter().map(|id| Change::Input {
            step: id.to_string(),
        }));
    }
    RebuildReason::Changed(why)
}

#[cfg(test)]
mod tests {
    #[test]
    fn changed_leaves_are_said_in_an_engineers_words() {
        let said = |path: &str, old: serde_json::Value, new: serde_json::Value| {
            super::in_words(path, &old, &new).to_string()
        };
        assert_eq!(
            said("eq.bands.2.freq", 1000.into(), 1200.into()),
            "eq band 3 freq changed from 1000 to 1200"
        );
        assert_eq!(
            said(
                "gaps",
                serde_json::json!([150, 0, 0]),
                serde_json::json!([150, 0, 0, 113])
            ),
            "the gaps before the tracks changed from 2 s, 0 s, 0 s to 2 s, 0 s, 0 s, 1.51 s"
        );
        assert_eq!(
            said(
                "text.tracks",
                serde_json::json!(["One", "Two"]),
                serde_json::json!(["One", "2"])
            ),
            "CD-TEXT tracks changed from \"One\", \"Two\" to \"One\", \"2\""
        );
    }

    use super::*;
    use serde_json::json;

    fn material(gain: f64, input: &str) -> String {
        json!({"schema": 2, "versions": {"eq": 1, "gain": 1}, "rate": 48000, "content": null,
               "params": {"action": "stem", "chain": [{"kind": "eq", "bands": [{"bell": {"freq": 100.0}}]},
                                                       {"kind": "gain", "db": gain}]},
               "inputs": [input]})
        .to_string()
    }

    #[test]
    fn names_the_parameter_and_its_values() {
        let old = StepRecord {
            key: Hash::of_bytes(b"old"),
            material: material(-3.0, "a"),
        };
        let new = material(-4.5, "a");
        assert_eq!(
            reason(
                Some(&old),
                &Hash::of_bytes(b"new"),
                &new,
                &["source:1:kick"],
                None
            ),
            RebuildReason::Changed(vec![Change::Parameter {
                at: "gain".into(),
                old: "-3.0".into(),
                new: "-4.5".into()
            }])
        );
        let moved = material(-3.0, "b");
        assert_eq!(
            reason(
                Some(&old),
                &Hash::of_bytes(b"new"),
                &moved,
                &["source:1:kick"],
                None
            ),
            RebuildReason::Changed(vec![Change::Input {
                step: "source:1:kick".into()
            }])
        );
        assert_eq!(
            reason(None, &Hash::of_bytes(b"new"), &new, &[], None),
            RebuildReason::NeverBuilt
        );
        assert_eq!(
            reason(Some(&old), &old.key, &old.material, &[], None),
            RebuildReason::Evicted
        );
    }

    #[test]
    fn reasons_read_as_the_user_would_say_them() {
        let two = RebuildReason::Changed(vec![
            Change::Parameter {
                at: "chain.compress.threshold".into(),
                old: "-18.0".into(),
                new: "-20.0".into(),
            },
            Change::Version {
                name: "eq".into(),
                old: "1".into(),
                new: "2".into(),
            },
        ]);
        assert_eq!(
            two.to_string(),
            "chain.compress.threshold changed from -18.0 to -20.0; new eq version (1 → 2)"
        );
        assert_eq!(two.code(), "changed");
        assert_eq!(
            RebuildReason::Changed(vec![]).to_string(),
            "its key changed"
        );
        assert_eq!(RebuildReason::NeverBuilt.to_string(), "never built");
        assert_eq!(RebuildReason::Evicted.code(), "evicted");
    }
}
