//! The signal flow as an engineer draws it, per track: stems into buses
//! into the mix, the mix through each master into its deliverables, each
//! with what it does to the sound. In the terminal as a tree, or as DOT or
//! Mermaid (`bounce graph --signal`). The build graph of steps is
//! [`crate::graph::render_graph`]'s.

use std::fmt::Write;

use bounce_nodes::ProcessorSpec;

use crate::graph::GraphFormat;
use crate::model::{Content, Deliverable, Project, SourceKind, Track};

/// One box of the drawing: what it is, and what it does.
struct Block {
    id: String,
    label: String,
    feeds: Vec<String>,
}

/// A fader's gain and pan, then the chain, joined.
fn settings(gain: f64, pan: f64, chain: &[ProcessorSpec]) -> String {
    let mut parts: Vec<String> = chain.iter().map(ProcessorSpec::describe).collect();
    if gain != 0.0 {
        parts.push(format!("gain {gain:+} dB"));
    }
    if pan != 0.0 {
        parts.push(format!("pan {pan:+.2}"));
    }
    parts.join(", ")
}

/// What a deliverable writes.
fn format_of(d: &Deliverable, release_rate: u32) -> String {
    let settled = crate::formats::Settled {
        bits: d.bits,
        float: d.float,
        rate: d.rate,
        codec: d.format.codec,
    };
    d.format.kind.describe(&settled, d.file_rate(release_rate))
}

/// The blocks of one track, outputs last.
fn blocks(project: &Project, track: &Track) -> Vec<Block> {
    let n = track.number;
    let serving: Vec<&Deliverable> = project
        .deliverables
        .iter()
        .filter(|d| d.tracks.as_ref().is_none_or(|t| t.contains(&n)))
        .collect();
    let masters: Vec<&str> = project
        .masters
        .iter()
        .map(|m| m.name.as_str())
        .filter(|m| {
            serving
                .iter()
                .any(|d| d.content == Content::Master(m.to_string()))
        })
        .collect();
    let mut out = source_and_bus_blocks(track);
    out.push(mix_block(track, &masters));
    for name in masters {
        let master = project.master(name).expect("a deliverable's master exists");
        out.push(master_block(n, master, &serving));
    }
    let rate = project.release.sample_rate;
    for d in serving {
        let id = format!("{n}:deliverable:{}", d.name);
        let label = format!("deliverable \"{}\" · {}", d.name, format_of(d, rate));
        let label = match &d.content {
            Content::Master(_) => label,
            // A stems deliverable is fed by the stems and buses it names.
            Content::Stems(names) => {
                for block in out.iter_mut() {
                    let named = names.iter().any(|s| {
                        block.id == format!("{n}:stem:{s}") || block.id == format!("{n}:bus:{s}")
                    });
                    if named {
                        block.feeds.push(id.clone());
                    }
                }
                format!("{label} · stems {}", names.join(", "))
            }
        };
        out.push(Block {
            id,
            label,
            feeds: Vec::new(),
        });
    }
    out
}

/// A track's stems and buses, each feeding its bus or the mix.
fn source_and_bus_blocks(track: &Track) -> Vec<Block> {
    let n = track.number;
    let in_bus = |name: &str| {
        track
            .buses
            .iter()
            .find(|b| b.members.iter().any(|(m, _)| m == name))
            .map(|b| format!("{n}:bus:{}", b.name))
    };
    let mix = format!("{n}:mix");
    let mut out = Vec::new();
    for s in &track.sources {
        let what = match &s.kind {
            SourceKind::File(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |f| f.to_string_lossy().into(),
            ),
            SourceKind::Tone { freq, level, .. } => format!("tone {freq} Hz at {level} dBFS"),
        };
        let mut label = format!("stem \"{}\" · {what}", s.name);
        let how = settings(s.gain, s.pan, &s.chain);
        if !how.is_empty() {
            write!(label, " · {how}").unwrap();
        }
        // Where on the track's timeline the source starts.
        if s.offset != 0.0 {
            write!(label, " · offset {} s", s.offset).unwrap();
        }
        if !s.trim.is_whole() {
            if s.trim.start != 0.0 || s.trim.end.is_some() {
                write!(label, " · from {} s", s.trim.start).unwrap();
            }
            if let Some(end) = s.trim.end {
                write!(label, " to {end} s").unwrap();
            }
            for (from, to) in &s.trim.cuts {
                write!(label, " · cut {from}–{to} s").unwrap();
            }
            if s.trim.fade_in > 0.0 || s.trim.fade_out > 0.0 {
                write!(
                    label,
                    " · fades {} s, {} s",
                    s.trim.fade_in, s.trim.fade_out
                )
                .unwrap();
            }
        }
        if s.mute {
            label.push_str(" · muted");
        }
        out.push(Block {
            id: format!("{n}:stem:{}", s.name),
            label,
            feeds: vec![in_bus(&s.name).unwrap_or_else(|| mix.clone())],
        });
    }
    for b in &track.buses {
        let how = settings(b.gain, b.pan, &b.chain);
        out.push(Block {
            id: format!("{n}:bus:{}", b.name),
            label: if how.is_empty() {
                format!("bus \"{}\"", b.name)
            } else {
                format!("bus \"{}\" · {how}", b.name)
            },
            feeds: vec![in_bus(&b.name).unwrap_or_else(|| mix.clone())],
        });
    }
    out
}

/// A track's mix, with its chain and fades, feeding its `masters`.
fn mix_block(track: &Track, masters: &[&str]) -> Block {
    let n = track.number;
    let mut how: Vec<String> = track.mix.iter().map(ProcessorSpec::describe).collect();
    for (word, fade) in [("fade-in", track.fade_in), ("fade-out", track.fade_out)] {
        if let Some(f) = fade {
            how.push(format!("{word} {} s ({:?})", f.seconds, f.curve).to_lowercase());
        }
    }
    Block {
        id: format!("{n}:mix"),
        label: if how.is_empty() {
            "mix".into()
        } else {
            format!("mix · {}", how.join(", "))
        },
        feeds: masters.iter().map(|m| format!("{n}:master:{m}")).collect(),
    }
}

/// A master of track `n`, with its chain and levels, feeding the
/// deliverables of it that `serving` holds.
fn master_block(n: u32, master: &crate::model::Master, serving: &[&Deliverable]) -> Block {
    let name = &master.name;
    let mut how: Vec<String> = master.chain.iter().map(ProcessorSpec::describe).collect();
    if let Some(t) = master.target {
        how.push(format!("target {t} LUFS"));
    }
    if let Some(c) = master.ceiling {
        how.push(format!("ceiling {c} dBTP"));
    }
    if master.mode == crate::model::LoudnessMode::Album {
        how.push("album mode".into());
    }
    Block {
        id: format!("{n}:master:{name}"),
        label: if how.is_empty() {
            format!("master \"{name}\"")
        } else {
            format!("master \"{name}\" · {}", how.join(", "))
        },
        feeds: serving
            .iter()
            .filter(|d| d.content == Content::Master(name.to_string()))
            .map(|d| format!("{n}:deliverable:{}", d.name))
            .collect(),
    }
}

/// The tracks to draw: all, or the one asked for.
fn tracks(project: &Project, track: Option<u32>) -> Vec<&Track> {
    project
        .tracks
        .iter()
        .filter(|t| track.is_none_or(|n| t.number == n))
        .collect()
}

/// The signal flow of each track for a terminal: each master with the
/// files it makes, each stems deliverable with what it takes, then the mix
/// as a tree of the buses and stems that feed it.
pub fn signal_text(project: &Project, track: Option<u32>) -> String {
    let mut out = String::new();
    for t in tracks(project, track) {
        writeln!(out, "track {} \"{}\"", t.number, t.title).unwrap();
        let blocks = blocks(project, t);
        let label = |id: &str| {
            blocks
                .iter()
                .find(|b| b.id == id)
                .map_or(id.to_string(), |b| b.label.clone())
        };
        let short = |id: &str| {
            label(id)
                .strip_prefix("deliverable ")
                .map_or_else(|| label(id), |rest| rest.replacen(" · ", " (", 1) + ")")
        };
        let mix = format!("{}:mix", t.number);
        for b in blocks.iter().filter(|b| b.id.contains(":master:")) {
            let files: Vec<String> = b.feeds.iter().map(|d| short(d)).collect();
            writeln!(out, "├─ {} → {}", b.label, files.join(", ")).unwrap();
        }
        for d in blocks.iter().filter(|b| b.id.contains(":deliverable:")) {
            let from: Vec<&str> = blocks
                .iter()
                .filter(|b| b.feeds.contains(&d.id) && !b.id.contains(":master:"))
                .map(|b| b.id.rsplit(':').next().unwrap_or(""))
                .collect();
            if !from.is_empty() {
                writeln!(out, "├─ {} ← {}", d.label, from.join(", ")).unwrap();
            }
        }
        if let Some(block) = blocks.iter().find(|b| b.id == mix) {
            branch(&blocks, block, "", true, &mut out);
        }
        out.push('\n');
    }
    out
}

/// Draws `block` and, under it, what feeds it.
fn branch(blocks: &[Block], block: &Block, indent: &str, last: bool, out: &mut String) {
    let (joint, more) = if last {
        ("└─ ", "   ")
    } else {
        ("├─ ", "│  ")
    };
    writeln!(out, "{indent}{joint}{}", block.label).unwrap();
    let inputs: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.feeds.contains(&block.id))
        .collect();
    for (i, input) in inputs.iter().enumerate() {
        branch(
            blocks,
            input,
            &format!("{indent}{more}"),
            i + 1 == inputs.len(),
            out,
        );
    }
}

/// How DOT and Mermaid write a drawing's parts.
struct Notation {
    head: &'static str,
    cluster: fn(&Track, &str) -> String,
    node: fn(&str, &str) -> String,
    end_cluster: &'static str,
    edge: fn(&str, &str) -> String,
    foot: &'static str,
}

/// A block's id as a Mermaid node name.
fn mermaid_key(id: &str) -> String {
    id.replace([':', ' ', '"', '-'], "_")
}

const DOT: Notation = Notation {
    head: "digraph signal {\n    rankdir=LR;\n    node [shape=box, style=rounded];\n",
    cluster: |t, title| {
        format!(
            "    subgraph \"cluster_{}\" {{\n        label=\"track {} {title}\";\n",
            t.number, t.number
        )
    },
    node: |id, label| format!("        \"{id}\" [label=\"{label}\"];\n"),
    end_cluster: "    }\n",
    edge: |from, to| format!("    \"{from}\" -> \"{to}\";\n"),
    foot: "}\n",
};

const MERMAID: Notation = Notation {
    head: "flowchart LR\n",
    cluster: |t, title| {
        format!(
            "    subgraph t{}[\"track {} {title}\"]\n",
            t.number, t.number
        )
    },
    node: |id, label| format!("        {}[\"{label}\"]\n", mermaid_key(id)),
    end_cluster: "    end\n",
    edge: |from, to| format!("    {} --> {}\n", mermaid_key(from), mermaid_key(to)),
    foot: "",
};

/// The signal flow as DOT or Mermaid (one cluster per track), or as text.
pub fn signal_graph(project: &Project, track: Option<u32>, format: GraphFormat) -> String {
    let notation = match format {
        GraphFormat::Text => return signal_text(project, track),
        GraphFormat::Dot => DOT,
        GraphFormat::Mermaid => MERMAID,
    };
    let quote = |s: &str| s.replace('"', "'");
    let mut out = String::from(notation.head);
    for t in tracks(project, track) {
        out.push_str(&(notation.cluster)(t, &quote(&t.title)));
        let blocks = blocks(project, t);
        for b in &blocks {
            out.push_str(&(notation.node)(&b.id, &quote(&b.label)));
        }
        out.push_str(notation.end_cluster);
        for b in &blocks {
            for to in &b.feeds {
                out.push_str(&(notation.edge)(&b.id, to));
            }
        }
    }
    out.push_str(notation.foot);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Project {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../projects/demo/bounce.kdl");
        crate::reader::load_project(std::path::Path::new(path)).unwrap()
    }

    #[test]
    fn the_text_shows_masters_with_their_files_and_the_mix_as_a_tree() {
        let project = demo();
        let text = signal_text(&project, Some(1));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "track 1 \"First Light\"");
        assert!(!text.contains("track 2"), "one track asked for");
        assert!(
            lines.contains(&"├─ master \"streaming\" · eq (4 bands), multiband (4 bands), width 1.1, target -14 LUFS, ceiling -1 dBTP → \"streaming\" (WAV 24-bit, 48 kHz), \"cd-preview\" (WAV 16-bit, 44.1 kHz), \"promo\" (MP3 320 kbps, 44.1 kHz), \"cd\" (CD image, 16-bit 44.1 kHz)"),
            "{text}"
        );
        // Track 1 is not in "reference" (track 2 only): no flat master.
        assert!(!text.contains("master \"flat\""), "{text}");
        let mix = lines.iter().position(|l| l.starts_with("└─ mix")).unwrap();
        assert_eq!(
            lines[mix],
            "└─ mix · fade-in 0.5 s (cos), fade-out 2 s (exp)"
        );
        let drums = lines
            .iter()
            .position(|l| l.contains("bus \"drums\" · gain -1 dB"))
            .unwrap();
        assert!(drums > mix);
        assert_eq!(
            lines[drums + 1],
            "   │  ├─ stem \"kick\" · kick.wav · gain -2 dB"
        );
        assert_eq!(
            lines[drums + 2],
            "   │  └─ stem \"hats\" · hats.flac · gain -8 dB, pan +0.30"
        );
        // Every stem once, in the mix's tree.
        assert_eq!(
            text.matches("stem \"").count(),
            project.tracks[0].sources.len()
        );
    }

    /// A stems deliverable hangs off the stems and buses it names; a
    /// master with nothing in it is named bare.
    #[test]
    fn a_stems_deliverable_is_fed_by_what_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bounce.kdl");
        std::fs::write(
            &path,
            "release \"R\" { version \"1\"; }\nmaster \"m\" { }\ntrack 1 \"T\" { tone \"a\" freq=440 length=1; tone \"b\" freq=550 length=1; bus \"ab\" \"a\" \"b\"; }\ndeliverable \"d\" { master \"m\"; format \"wav\"; }\ndeliverable \"s\" { stems \"a\" \"ab\"; format \"wav\"; }\n",
        )
        .unwrap();
        let project = crate::reader::load_project(&path).unwrap();
        let dot = signal_graph(&project, None, GraphFormat::Dot);
        assert!(dot.contains("\"1:stem:a\" -> \"1:deliverable:s\""), "{dot}");
        assert!(dot.contains("\"1:bus:ab\" -> \"1:deliverable:s\""), "{dot}");
        assert!(
            !dot.contains("\"1:stem:b\" -> \"1:deliverable:s\""),
            "{dot}"
        );
        let text = signal_text(&project, None);
        assert!(text.contains("├─ master \"m\" → \"d\""), "{text}");
        assert!(text.contains("stems a, ab ← a, ab"), "{text}");
    }

    #[test]
    fn dot_and_mermaid_draw_the_same_edges() {
        let project = demo();
        let dot = signal_graph(&project, None, GraphFormat::Dot);
        let mermaid = signal_graph(&project, None, GraphFormat::Mermaid);
        assert_eq!(
            dot.matches(" -> ").count(),
            mermaid.matches(" --> ").count()
        );
        assert!(dot.contains("\"1:bus:drums\" -> \"1:mix\""), "{dot}");
        assert!(dot.contains("\"1:mix\" -> \"1:master:streaming\""), "{dot}");
        assert_eq!(dot.matches("subgraph").count(), project.tracks.len());
    }
}
