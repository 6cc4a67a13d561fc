//! The processors a project can name. Each kind's parameters (name,
//! meaning, unit, default, range), DSP version and an example live beside
//! its DSP, in its own file, as a [`Kind`]; [`KINDS`], made by the one
//! list in `processors!` (processors/mod.rs), names them all. The reader
//! (and its "expected one of" help), the cache key's versions and the
//! reference in `docs/processors.md` all come from here: adding a
//! processor is its file and one line in that list.

pub use super::kind::{Kind, Param};

/// Every processor, in the order the reference lists them: the list in
/// `processors!` (processors/mod.rs).
pub use super::KINDS;

/// The kind named `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().copied().find(|k| k.name == name)
}

/// The names a chain may use.
pub fn chain_names() -> Vec<&'static str> {
    KINDS
        .iter()
        .filter(|k| k.in_chain)
        .map(|k| k.name)
        .collect()
}

/// A number as the reference prints it (no `.0` on whole numbers).
fn number(value: f64) -> String {
    if value == f64::MAX {
        "∞".into()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// The reference of every processor, as `docs/processors.md` holds it.
pub fn reference() -> String {
    let mut out = String::from(
        "# Processors\n\n\
         Generated from bounce's processor registry (`nodes/src/processors/`, one file per \
         processor, listed once in `processors!`); \
         a test keeps this file equal to it. Each processor's numbers, their defaults and \
         ranges, and its DSP version, which the cache key carries: a new version renders \
         again exactly the steps that run it.\n",
    );
    for kind in KINDS {
        let mut summary = kind.summary.chars();
        let first = summary.next().map(|c| c.to_uppercase().to_string());
        out.push_str(&format!(
            "\n## `{}`\n\n{}{}.{} DSP version {}.\n\n```kdl\n{}\n```\n",
            kind.name,
            first.unwrap_or_default(),
            summary.as_str(),
            if kind.in_chain {
                ""
            } else {
                " Not a chain node: written where the example shows."
            },
            kind.version,
            kind.example
        ));
        if kind.params.is_empty() && kind.other_props.is_empty() {
            continue;
        }
        out.push_str(
            "\n| parameter | what | unit | default | range |\n| --- | --- | --- | --- | --- |\n",
        );
        for p in kind.params {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} to {} |\n",
                p.name
                    .map_or("(argument)".to_string(), |n| format!("`{n}=`")),
                p.meaning,
                p.unit,
                p.default.map_or("required".to_string(), number),
                number(p.min),
                number(p.max)
            ));
        }
        for name in kind.other_props {
            out.push_str(&format!("| `{name}=` | see the summary | | | |\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_defaults_in_range() {
        for (i, kind) in KINDS.iter().enumerate() {
            assert!(
                KINDS[..i].iter().all(|k| k.name != kind.name),
                "{} twice",
                kind.name
            );
            for p in kind.params {
                if let Some(default) = p.default {
                    assert!(
                        (p.min..=p.max).contains(&default),
                        "{} {:?}: default {default} outside {}..{}",
                        kind.name,
                        p.name,
                        p.min,
                        p.max
                    );
                }
            }
            // The argument, if any, comes first.
            assert!(kind.params.iter().skip(1).all(|p| p.name.is_some()));
        }
    }

    /// Every kind that builds from numbers builds itself: its spec names it.
    #[test]
    fn every_kind_builds_the_processor_it_names() {
        for kind in KINDS {
            let Some(build) = kind.build else { continue };
            let values: Vec<f64> = kind
                .params
                .iter()
                .map(|p| p.default.unwrap_or(p.min.max(-1.0).min(p.max)))
                .collect();
            let spec = build(&values);
            assert_eq!(spec.name(), kind.name);
            assert_eq!(spec.dsp_version(), kind.version);
        }
    }
}
