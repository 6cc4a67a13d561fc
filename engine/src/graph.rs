//! The build graph as text for Graphviz (`dot`) or Mermaid, each step
//! marked cached or stale.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::build::Status;
use crate::plan::Plan;

/// The notations a graph is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    /// Lines for a terminal without Graphviz.
    Text,
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Cached => "cached",
        Status::Stale => "stale",
        Status::Built => "built",
        Status::Failed => "failed",
    }
}

/// The steps in `statuses` (by id) and the edges between them.
pub fn render_graph(
    plan: &Plan,
    statuses: &BTreeMap<String, Status>,
    format: GraphFormat,
) -> String {
    let nodes: Vec<_> = plan
        .graph
        .node_indices()
        .filter(|n| statuses.contains_key(&plan.graph[*n].id))
        .collect();
    let number: BTreeMap<_, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut out = String::new();
    match format {
        GraphFormat::Text => {
            // Each step in plan order (inputs first), with its status and
            // the steps it reads.
            let width = nodes
                .iter()
                .map(|n| plan.graph[*n].id.len())
                .max()
                .unwrap_or(0);
            for node in &nodes {
                let id = &plan.graph[*node].id;
                let inputs: Vec<&str> = plan
                    .inputs_of(*node)
                    .iter()
                    .filter(|i| number.contains_key(*i))
                    .map(|i| plan.graph[*i].id.as_str())
                    .collect();
                let _ = write!(out, "{:<7} ", status_name(statuses[id]));
                if inputs.is_empty() {
                    out.push_str(id);
                } else {
                    let _ = write!(out, "{id:<width$} ← {}", inputs.join(", "));
                }
                out.push('\n');
            }
        }
        GraphFormat::Dot => {
            out.push_str("digraph bounce {\n    rankdir=LR;\n");
            out.push_str("    node [shape=box, style=\"rounded,filled\"];\n");
            for node in &nodes {
                let id = &plan.graph[*node].id;
                let status = statuses[id];
                let colour = if status == Status::Cached {
                    "#d9ead3"
                } else {
                    "#f4cccc"
                };
                let _ = writeln!(
                    out,
                    "    \"{id}\" [label=\"{id}\\n{}\", fillcolor=\"{colour}\"];",
                    status_name(status)
                );
            }
            for node in &nodes {
                for input in plan.inputs_of(*node) {
                    if number.contains_key(&input) {
                        let _ = writeln!(
                            out,
                            "    \"{}\" -> \"{}\";",
                            plan.graph[input].id, plan.graph[*node].id
                        );
                    }
                }
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            for node in &nodes {
                let id = &plan.graph[*node].id;
                let _ = writeln!(
                    out,
                    "    n{}[\"{id}\"]:::{}",
                    number[node],
                    status_name(statuses[id])
                );
            }
            for node in &nodes {
                for input in plan.inputs_of(*node) {
                    if let Some(from) = number.get(&input) {
                        let _ = writeln!(out, "    n{from} --> n{}", number[node]);
                    }
                }
            }
            out.push_str("    classDef cached fill:#d9ead3\n    classDef stale fill:#f4cccc\n");
        }
    }
    out
}
