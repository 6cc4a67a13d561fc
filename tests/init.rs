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

/// `bounce init stems` of 22.05 kHz speech with its cover: the project goes
/// beside the stems folder (its cache and outputs out of it), at a rate
/// stores take, with the cover and places for what init cannot know.
#[test]
fn init_writes_the_project_beside_the_stems_with_choices_an_engineer_makes() {
    let project = TestProject::new();
    project
        .wav(
            "stems/host.wav",
            22050,
            16,
            &sine(22050, 1, 200.0, 0.3, 2.0),
        )
        .wav(
            "stems/guest.wav",
            22050,
            16,
            &sine(22050, 1, 300.0, 0.3, 2.0),
        );
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cover.jpg"),
        project.path("stems/Cover.JPG"),
    )
    .unwrap();
    let output = project.run(&["init", "stems"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!project.path("stems/bounce.kdl").exists());
    // It says what it chose, and why.
    let said = String::from_utf8_lossy(&output.stderr);
    for choice in [
        "Chose bounce.kdl beside stems, so the cache and the outputs stay out of the stems",
        "Chose sample-rate 44100: most stems are at 22050 Hz, but a release is delivered at 44.1 kHz or more",
        "Chose cover: stems/Cover.JPG, found beside the stems",
        "Chose a master at -14 LUFS under a -1 dBTP ceiling",
        "with 1 track and 2 stems",
    ] {
        assert!(said.contains(choice), "no {choice:?} in {said}");
    }
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    assert!(text.contains("sample-rate 44100"), "{text}");
    assert!(text.contains("stem \"host\" \"stems/host.wav\""), "{text}");
    assert!(text.contains("cover \"stems/Cover.JPG\""), "{text}");
    for placeholder in ["// artist ", "// year ", "// isrc "] {
        assert!(text.contains(placeholder), "no {placeholder} in {text}");
    }
    let log = project.build_ok(&[]);
    assert!(log.built().contains("deliverable:wav:1"));
    assert!(project.path(".bounce").is_dir() && !project.path("stems/.bounce").exists());
    let again = project.run(&["init", "stems"]);
    assert_eq!(again.status.code(), Some(1));
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
