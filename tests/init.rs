//! `bounce init` and `bounce completions`.

mod common;

use common::*;

#[test]
fn init_writes_a_project_with_a_track_per_folder_that_builds() {
    let project = TestProject::new();
    project
        .wav("Intro/kick.wav", 48000, 24, &sine(48000, 1, 60.0, 0.5, 1.0))
        .wav(
            "Intro/keys.wav",
            48000,
            16,
            &sine(48000, 2, 440.0, 0.3, 1.0),
        )
        .wav(
            "Outro \"B\"/pad.wav",
            44100,
            16,
            &sine(44100, 2, 330.0, 0.3, 1.0),
        );
    let output = project.run(&["init"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    assert!(text.contains("sample-rate 48000"), "{text}");
    assert!(text.contains("track 1 \"Intro\""), "{text}");
    assert!(text.contains("track 2 \"Outro \\\"B\\\"\""), "{text}");
    assert!(
        text.contains("stem \"kick\" \"Intro/kick.wav\"    // pcm_s24le 48000 Hz 24-bit mono"),
        "{text}"
    );
    assert!(project.run(&["check"]).status.success());
    let log = project.build_ok(&[]);
    assert!(log.built().contains("deliverable:wav:2"));
    // It never overwrites a project.
    let again = project.run(&["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn init_names_a_file_it_cannot_read_and_writes_nothing() {
    let project = TestProject::new();
    project.wav("a.wav", 48000, 24, &sine(48000, 1, 60.0, 0.5, 1.0));
    project.write("b.wav", "not audio at all");
    let output = project.run(&["init"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("b.wav: not an audio file bounce can read"),
        "{stderr}"
    );
    assert!(!project.path("bounce.kdl").exists());
}

#[test]
fn completions_cover_every_command() {
    let project = TestProject::new();
    for shell in ["bash", "zsh", "fish"] {
        let output = project.run(&["completions", shell]);
        assert!(output.status.success());
        let script = String::from_utf8_lossy(&output.stdout);
        for command in [
            "build", "explain", "graph", "release", "cache", "init", "diff",
        ] {
            assert!(script.contains(command), "{shell}: {command}");
        }
    }
}
