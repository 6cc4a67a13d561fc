//! `bounce explain` and `bounce graph`: the reason each stale step gives,
//! one test per kind of reason, and the graph with cached/stale marks.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// `bounce explain --message-format json`: step id → reason, stale steps only.
fn explain(project: &TestProject, targets: &[&str]) -> BTreeMap<String, String> {
    let mut args = vec!["explain", "--message-format", "json"];
    args.extend_from_slice(targets);
    let output = project.run(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["status"] == "stale")
        .map(|v| {
            (
                v["step"].as_str().unwrap().to_string(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn edit(project: &TestProject, from: &str, to: &str) {
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    assert!(text.contains(from));
    project.write("bounce.kdl", &text.replacen(from, to, 1));
}

#[test]
fn a_step_never_built_says_so() {
    let project = three_track_project();
    let reasons = explain(&project, &["hi:1"]);
    assert_eq!(reasons["source:1:kick"], "never built");
    assert_eq!(reasons["stem:1:kick"], "input source:1:kick would render");
    // Nothing was rendered or written.
    assert!(!project.path("out").exists());
}

#[test]
fn a_changed_parameter_is_named_with_both_values() {
    let project = three_track_project();
    project.build_ok(&[]);
    assert!(
        explain(&project, &[]).is_empty(),
        "a fresh build has nothing stale"
    );
    edit(&project, "gain=-3", "gain=-4.5");
    let reasons = explain(&project, &[]);
    assert_eq!(reasons["stem:1:kick"], "gain changed from -3.0 to -4.5");
    assert_eq!(reasons["bus:1:drums"], "input stem:1:kick would render");
    // Other tracks' audio stays; only their tags wait on the album ReplayGain.
    for id in reasons
        .keys()
        .filter(|id| id.ends_with(":2") || id.ends_with(":3"))
    {
        assert!(id.starts_with("tag:"), "{id}: {reasons:?}");
    }
    // The build renders what explain said, and says why too.
    let log = project.build_ok(&[]);
    let stem = log
        .steps
        .iter()
        .find(|s| s["step"] == "stem:1:kick")
        .unwrap();
    assert_eq!(stem["reason"], "gain changed from -3.0 to -4.5");
    let bus = log
        .steps
        .iter()
        .find(|s| s["step"] == "bus:1:drums")
        .unwrap();
    assert_eq!(bus["reason"], "input stem:1:kick changed");
    assert_eq!(bus["reason_code"], "changed");
    let never: Vec<_> = log
        .steps
        .iter()
        .filter(|s| s["reason_code"] == "never-built")
        .collect();
    assert!(never.is_empty(), "every step was built before: {never:?}");
}

#[test]
fn a_source_file_with_new_content_is_named_and_a_touched_one_is_not() {
    let project = three_track_project();
    project.build_ok(&[]);
    // Same bytes, new modification time: nothing to do.
    let path = project.path("stems/2/snare.wav");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    assert!(explain(&project, &[]).is_empty());
    project.wav(
        "stems/2/snare.wav",
        48000,
        16,
        &sine(48000, 1, 500.0, 0.3, 1.0),
    );
    let reasons = explain(&project, &[]);
    assert!(
        reasons["source:2:snare"].starts_with("source file ")
            && reasons["source:2:snare"].ends_with("stems/2/snare.wav changed (content)"),
        "{reasons:?}"
    );
    assert_eq!(reasons["stem:2:snare"], "input source:2:snare would render");
}

/// Rewrites the cache's record of a step as an older bounce would have
/// left it: `field` at `old`, under another key.
fn age_record(project: &TestProject, step: &str, field: &str, old: Value) {
    let path = project.path(".bounce/steps.json");
    let mut records: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let record = &mut records[step];
    let key = record["key"].as_str().unwrap().to_string();
    let mut material: Value = serde_json::from_str(record["material"].as_str().unwrap()).unwrap();
    material[field] = old;
    record["material"] = Value::String(material.to_string());
    record["key"] = Value::String("0".repeat(64));
    std::fs::write(&path, serde_json::to_vec(&records).unwrap()).unwrap();
    // The old bounce had no entry under today's key.
    std::fs::remove_file(project.path(&format!(".bounce/actions/{}/{key}.json", &key[..2])))
        .unwrap();
}

#[test]
fn a_new_dsp_version_is_named() {
    let project = three_track_project();
    project.build_ok(&[]);
    let records: Value =
        serde_json::from_slice(&std::fs::read(project.path(".bounce/steps.json")).unwrap())
            .unwrap();
    let material: Value =
        serde_json::from_str(records["master:main:1"]["material"].as_str().unwrap()).unwrap();
    let current = material["versions"]["width"].as_u64().unwrap();
    let mut versions = material["versions"].clone();
    versions["width"] = Value::from(current - 1);
    age_record(&project, "master:main:1", "versions", versions);
    let reasons = explain(&project, &[]);
    assert_eq!(
        reasons["master:main:1"],
        format!("new width version ({} → {current})", current - 1)
    );
    assert!(!reasons.contains_key("master:main:2"), "{reasons:?}");
    assert!(!reasons.contains_key("mix:1"), "{reasons:?}");
}

#[test]
fn an_evicted_output_is_named() {
    let project = three_track_project();
    let log = project.build_ok(&[]);
    std::fs::remove_file(blob_of(&project, &log, "mix:3")).unwrap();
    let reasons = explain(&project, &[]);
    assert_eq!(reasons["mix:3"], "its output was evicted from the cache");
}

#[test]
fn the_graph_marks_what_is_stale() {
    let project = three_track_project();
    project.build_ok(&[]);
    edit(&project, "gain=-3", "gain=-4.5");
    let output = project.run(&["graph", "hi"]);
    assert!(output.status.success());
    let dot = String::from_utf8_lossy(&output.stdout);
    assert!(dot.starts_with("digraph bounce {"), "{dot}");
    let stale: Vec<&str> = dot
        .lines()
        .filter(|l| l.contains("\\nstale"))
        .map(|l| l.trim().split('"').nth(1).unwrap())
        .collect();
    assert_eq!(
        stale,
        [
            "stem:1:kick",
            "bus:1:drums",
            "mix:1",
            "master:main:1",
            "deliverable:hi:1",
            "replaygain:hi",
            "tag:hi:1",
            "tag:hi:2",
            "tag:hi:3"
        ]
    );
    assert!(dot.contains("\"stem:1:kick\" -> \"bus:1:drums\";"));
    let edges = dot.lines().filter(|l| l.contains(" -> ")).count();
    let output = project.run(&["graph", "hi", "--format", "mermaid"]);
    let mermaid = String::from_utf8_lossy(&output.stdout);
    assert!(mermaid.starts_with("flowchart LR\n"));
    assert_eq!(
        mermaid.lines().filter(|l| l.contains(" --> ")).count(),
        edges
    );
    assert_eq!(mermaid.matches(":::stale").count(), stale.len());
}

/// What `explain` and `--dry-run` find is their answer: standard output,
/// so it pipes into `grep`; standard error stays for progress and warnings.
#[test]
fn the_answer_of_explain_goes_to_standard_output() {
    let project = three_track_project();
    project.build_ok(&[]);
    edit(&project, "gain=-3", "gain=-4.5");
    for args in [vec!["explain"], vec!["build", "--dry-run"]] {
        let output = project.run(&args);
        assert!(output.status.success());
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("stem:1:kick: gain changed from -3.0 to -4.5"),
            "{args:?}: {stdout}"
        );
        assert!(stdout.contains("would render"), "{args:?}: {stdout}");
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains("Stale"),
            "{args:?}"
        );
    }
}

/// `graph --signal` draws each track's signal flow in the terminal, from
/// the masters and their files down to the stems; `--format text` lists
/// the build's steps with their status and inputs.
#[test]
fn graph_draws_the_signal_flow_and_the_steps_as_text() {
    let project = three_track_project();
    let output = project.run(&["graph", "--signal", "hi:2"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "track 2 \"Two\"", "{text}");
    assert!(!text.contains("track 1"), "{text}");
    // Every source of track 2 hangs under the mix, once.
    let mix = lines.iter().position(|l| l.starts_with("└─ mix")).unwrap();
    assert!(
        lines[..mix].iter().any(|l| l.starts_with("├─ master ")),
        "{text}"
    );
    for stem in ["kick", "snare"] {
        let found = lines[mix..]
            .iter()
            .filter(|l| l.contains(&format!("stem \"{stem}\"")))
            .count();
        assert_eq!(found, 1, "{stem}: {text}");
    }
    let dot = project.run(&["graph", "--signal", "--format", "dot"]);
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(dot.starts_with("digraph signal"), "{dot}");
    assert!(dot.contains("\"2:mix\" -> \"2:master:"), "{dot}");

    let steps = project.run(&["graph", "--format", "text", "hi:1"]);
    let steps = String::from_utf8_lossy(&steps.stdout);
    let mix_line = steps.lines().find(|l| l.contains("mix:1")).unwrap();
    assert!(mix_line.starts_with("stale"), "{mix_line}");
    assert!(mix_line.contains("← "), "{mix_line}");
    project.build_ok(&[]);
    let steps = project.run(&["graph", "--format", "text", "hi:1"]);
    let steps = String::from_utf8_lossy(&steps.stdout);
    assert!(steps.lines().all(|l| l.starts_with("cached")), "{steps}");
}

#[test]
fn graph_signal_takes_a_track_number_and_shows_offsets() {
    let project = three_track_project();
    let text = THREE_TRACKS.replacen(
        "stem \"keys\" \"stems/2/keys.wav\"",
        "stem \"keys\" \"stems/2/keys.wav\" offset=1.5",
        1,
    );
    project.write("bounce.kdl", &text);
    let output = project.run(&["graph", "--signal", "2"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("track 2 \"Two\""), "{stdout}");
    assert!(!stdout.contains("track 1"), "{stdout}");
    let keys = stdout
        .lines()
        .find(|l| l.contains("stem \"keys\""))
        .unwrap();
    assert!(keys.contains("offset 1.5 s"), "{keys}");
    let missing = project.run(&["graph", "--signal", "9"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no track 9"));
}
