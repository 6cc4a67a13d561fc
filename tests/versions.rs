//! Released versions and concurrent builds.

mod common;

use std::process::{Command, Stdio};

use common::*;

fn edit(project: &TestProject, from: &str, to: &str) {
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    assert!(text.contains(from));
    project.write("bounce.kdl", &text.replacen(from, to, 1));
}

fn read(project: &TestProject, file: &str) -> Vec<u8> {
    std::fs::read(project.path(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn a_released_version_refuses_a_changed_rebuild_and_accepts_an_identical_one() {
    let project = three_track_project();
    let early = project.run(&["release"]);
    assert_eq!(early.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&early.stderr).contains("build it first"));

    project.build_ok(&[]);
    let released = project.run(&["release"]);
    assert!(released.status.success());
    assert!(project.path("out/1.0.0/release.lock").is_file());
    let before = read(&project, "out/1.0.0/hi/01 - One.wav");
    let manifest = read(&project, "out/1.0.0/manifest.json");

    // The same sources and settings: passes, rewrites nothing.
    let log = project.build_ok(&[]);
    assert_eq!(log.summary["written"].as_array().unwrap().len(), 0);

    // A changed setting is refused from the keys, before anything renders,
    // naming what changed.
    edit(&project, "gain=-3", "gain=-4");
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&log.output.stderr);
    assert!(
        // Every file: the album ReplayGain tags move with one track.
        stderr.contains("version 1.0.0 is released and this build would change hi/01 - One.wav, hi/02 - Two.wav")
            && stderr.contains("lo/03 - Three.wav (stem:1:kick: gain changed from -3.0 to -4.0); set a new `version`"),
        "{stderr}"
    );
    let rendered: Vec<_> = log
        .steps
        .iter()
        .filter(|s| s["status"] == "built")
        .collect();
    assert!(
        rendered.is_empty(),
        "rendered before refusing: {rendered:?}"
    );
    assert_eq!(read(&project, "out/1.0.0/hi/01 - One.wav"), before);
    assert_eq!(read(&project, "out/1.0.0/manifest.json"), manifest);

    // A new version builds beside it; `clean --outputs` keeps the release.
    edit(&project, "version \"1.0.0\"", "version \"1.0.1\"");
    project.build_ok(&[]);
    assert_ne!(read(&project, "out/1.0.1/hi/01 - One.wav"), before);
    assert!(project.run(&["clean", "--outputs"]).status.success());
    assert!(!project.path("out/1.0.1").exists());
    assert_eq!(read(&project, "out/1.0.0/hi/01 - One.wav"), before);
}

#[test]
fn two_builds_at_once_both_finish_with_correct_outputs() {
    let project = three_track_project();
    let reference = three_track_project();
    reference.build_ok(&[]);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_bounce"))
            .args(["build", "-j", "1"])
            .current_dir(project.path(""))
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let mut waited = false;
    for output in &outputs {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        waited |= stderr.contains("Waiting for another bounce build");
    }
    assert!(waited, "the second build says it waits");
    for file in ["hi/01 - One.wav", "hi/02 - Two.wav", "lo/03 - Three.wav"] {
        let path = format!("out/1.0.0/{file}");
        assert!(read(&project, &path) == read(&reference, &path), "{file}");
    }
}

/// The engineer's story: a full build, an edit, a rebuild of one target
/// only (as `watch` on a target does). The folder now mixes two states of
/// the project; `release` refuses it, naming what would render, and locks
/// it once a complete build has brought every file up to date.
#[test]
fn release_never_locks_a_folder_built_from_two_states_of_the_project() {
    let project = three_track_project();
    project.build_ok(&[]);
    edit(&project, "gain=-3", "gain=-4");
    project.build_ok(&["hi"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&project, "out/1.0.0/manifest.json")).unwrap();
    assert_eq!(
        manifest["partial"], true,
        "a build of one target marks the version"
    );

    let refused = project.run(&["release"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("would render") && stderr.contains("deliverable:lo:1"),
        "{stderr}"
    );
    assert!(!project.path("out/1.0.0/release.lock").exists());

    project.build_ok(&[]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&project, "out/1.0.0/manifest.json")).unwrap();
    assert_eq!(manifest["partial"], false);
    assert!(project.run(&["release"]).status.success());
    // Every locked file is what a clean build of the project makes now.
    let clean = three_track_project();
    clean.write(
        "bounce.kdl",
        &std::fs::read_to_string(project.path("bounce.kdl")).unwrap(),
    );
    clean.build_ok(&[]);
    for file in ["hi/01 - One.wav", "lo/01 - One.wav", "lo/03 - Three.wav"] {
        assert_eq!(
            read(&project, &format!("out/1.0.0/{file}")),
            read(&clean, &format!("out/1.0.0/{file}")),
            "{file}"
        );
    }
}
