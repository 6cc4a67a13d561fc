//! Mix revisions in git: `bounce diff` between commits and `bounce build
//! --rev`, in a temporary repository.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn git(project: &TestProject, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(project.path(""))
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The three-track project committed, with one stem kept out of git.
fn committed_project() -> TestProject {
    let project = three_track_project();
    project.write(".gitignore", ".bounce/\nout/\nstems/3/keys.wav\n");
    git(&project, &["init", "-q"]);
    git(&project, &["add", "."]);
    git(&project, &["commit", "-q", "-m", "first mix"]);
    project
}

fn edit(project: &TestProject, from: &str, to: &str) {
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    project.write("bounce.kdl", &text.replacen(from, to, 1));
}

#[test]
fn diff_names_the_parameter_and_nulls_only_the_affected_track() {
    let project = committed_project();
    edit(&project, "gain=-3", "gain=-4.5");
    git(&project, &["commit", "-q", "-am", "kick down"]);
    let output = project.run(&["diff", "HEAD~1", "HEAD", "--message-format", "json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let diff: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        diff["steps"],
        serde_json::json!([{"step": "stem:1:kick", "change": "gain changed from -3.0 to -4.5"}])
    );
    let files = diff["files"].as_array().unwrap();
    assert_eq!(files.len(), 6, "{diff}");
    for file in files {
        let path = file["path"].as_str().unwrap();
        if path.contains("01 - One") {
            let level = file["difference_dbfs"]
                .as_f64()
                .unwrap_or_else(|| panic!("{file}"));
            assert!(level > -40.0 && level < -6.0, "{path}: {level} dBFS");
            assert_eq!(file["same_audio"], false);
        } else {
            assert_eq!(file["same_audio"], true, "{file}");
        }
    }
    // The work tree is the default second revision; human output too.
    edit(&project, "pan=0.2", "pan=0.3");
    let output = project.run(&["diff", "HEAD"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("stem:1:snare: pan changed from 0.2 to 0.3"),
        "{text}"
    );
    assert!(text.contains("hi/02 - Two.wav: loudness"), "{text}");
    assert!(text.contains("same audio"), "{text}");
}

#[test]
fn build_at_a_revision_reproduces_its_files_from_cache() {
    let project = committed_project();
    let first_commit = git(&project, &["rev-parse", "HEAD"]);
    project.build_ok(&[]);
    let first: Vec<Vec<u8>> = ["hi/01 - One.wav", "lo/03 - Three.wav"]
        .iter()
        .map(|f| std::fs::read(project.path(&format!("out/1.0.0/{f}"))).unwrap())
        .collect();
    edit(&project, "gain=-3", "gain=-4.5");
    git(&project, &["commit", "-q", "-am", "kick down"]);
    project.build_ok(&[]);

    let log = project.build_ok(&["--rev", "HEAD~1"]);
    assert!(log.rendered().is_empty(), "{:?}", log.rendered());
    let describe = git(&project, &["describe", "--always", "--tags", "HEAD~1"]);
    let dir = format!("out/rev-{describe}/1.0.0");
    for (file, bytes) in ["hi/01 - One.wav", "lo/03 - Three.wav"].iter().zip(&first) {
        let again = std::fs::read(project.path(&format!("{dir}/{file}"))).unwrap();
        assert!(&again == bytes, "{file} differs from the first build");
    }
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(project.path(&format!("{dir}/manifest.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["git"]["commit"], first_commit.as_str());
    assert_eq!(manifest["git"]["dirty"], false);
}

#[test]
fn templates_can_name_the_revision() {
    let project = committed_project();
    edit(
        &project,
        "format \"wav\" bits=24",
        "format \"wav\" bits=24\n    path \"{deliverable}/{rev}/{track}.{ext}\"",
    );
    git(
        &project,
        &["commit", "-q", "-am", "paths name the revision"],
    );
    project.build_ok(&["hi"]);
    let describe = git(&project, &["describe", "--always", "--tags"]);
    assert!(project
        .path(&format!("out/1.0.0/hi/{describe}/1.wav"))
        .is_file());
}

/// A CUE sheet has no loudness: `diff` says whether its text changed and
/// shows no empty figures for it.
#[test]
fn diff_leaves_cue_sheets_out_of_the_loudness_lines() {
    let project = three_track_project();
    let text = THREE_TRACKS.replace(
        "version \"1.0.0\"",
        "version \"1.0.0\"\n    upc \"5012345678900\"",
    ) + "deliverable \"cd\" {\n    master \"main\"\n    format \"cd\"\n}\n";
    // Red Book wants each track 4 s: lengthen them.
    let text = text.replace(
        "bus \"drums\" \"kick\" \"snare\"",
        "bus \"drums\" \"kick\" \"snare\"\n    length 4",
    );
    project.write("bounce.kdl", &text);
    project.write(".gitignore", ".bounce/\nout/\n");
    git(&project, &["init", "-q"]);
    git(&project, &["add", "."]);
    git(&project, &["commit", "-q", "-m", "first"]);
    edit(&project, "track 2 \"Two\"", "track 2 \"Second\"");
    let output = project.run(&["diff", "HEAD"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let cue = stdout
        .lines()
        .find(|l| l.contains(".cue"))
        .unwrap_or_else(|| panic!("no cue line: {stdout}"));
    assert!(cue.ends_with("text changed"), "{cue}");
    assert!(!cue.contains("LUFS"), "{cue}");
}

#[test]
fn diff_names_the_files_added_and_removed_since_the_revision() {
    let project = committed_project();
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    let (title_line, _) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("track 3 "))
        .expect("a third track");
    let old_line = text.lines().nth(title_line).unwrap().to_string();
    let new_line = old_line.replacen("track 3 \"", "track 3 \"Retitled ", 1);
    project.write("bounce.kdl", &text.replacen(&old_line, &new_line, 1));
    let output = project.run(&["diff", "HEAD", "--message-format", "json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let diff: Value = serde_json::from_slice(&output.stdout).unwrap();
    let with = |presence: &str| -> Vec<String> {
        diff["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["presence"] == presence)
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    };
    let added = with("added");
    let removed = with("removed");
    assert!(
        !added.is_empty() && added.iter().all(|p| p.contains("Retitled")),
        "{added:?}"
    );
    assert_eq!(added.len(), removed.len(), "{added:?} {removed:?}");
    assert!(
        removed.iter().all(|p| !p.contains("Retitled")),
        "{removed:?}"
    );
    // The added ones carry the loudness they were made at.
    let first = diff["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["presence"] == "added")
        .unwrap();
    assert!(
        first["integrated"][1].is_number() || first["path"].as_str().unwrap().ends_with(".cue"),
        "{first}"
    );
    let human = project.run(&["diff", "HEAD"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains(": added"), "{text}");
    assert!(text.contains(": removed"), "{text}");
}

#[test]
fn releasing_a_build_of_a_dirty_work_tree_says_so() {
    let project = committed_project();
    project.build_ok(&[]);
    let clean = project.run(&["release"]);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(!String::from_utf8_lossy(&clean.stderr).contains("uncommitted"));

    let project = committed_project();
    edit(&project, "gain=-3", "gain=-4");
    project.build_ok(&[]);
    let dirty = project.run(&["release"]);
    let stderr = String::from_utf8_lossy(&dirty.stderr);
    assert!(dirty.status.success(), "{stderr}");
    assert!(stderr.contains("uncommitted changes"), "{stderr}");
}

#[test]
fn diff_says_a_new_version() {
    let project = committed_project();
    edit(&project, "version \"1.0.0\"", "version \"1.1.0\"");
    let output = project.run(&["diff", "HEAD"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("release: version \"1.0.0\" → \"1.1.0\""),
        "{stdout}"
    );
}
