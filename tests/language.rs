//! The complete example in docs/language.md (read from the reference
//! itself, so the two cannot drift) builds as written, and its
//! deliverables are what it says.

mod common;

use common::*;

fn analyze(project: &TestProject, file: &str) -> serde_json::Value {
    let output = project.run(&["analyze", "--message-format", "json", file]);
    assert!(output.status.success(), "{file}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The first KDL block of docs/language.md: its complete example.
fn reference_example() -> String {
    let docs = include_str!("../docs/language.md");
    let start = docs.find("```kdl\n").expect("a kdl block") + "```kdl\n".len();
    let end = start + docs[start..].find("```").expect("the block's end");
    docs[start..end].to_string()
}

#[test]
fn the_language_example_builds_as_written() {
    let project = TestProject::new();
    // Its stems: mono and stereo, 48 and 44.1 kHz, one FLAC (made by
    // bounce itself from a WAV), and its cover.
    for stem in ["kick", "snare", "vox"] {
        project.wav(
            &format!("stems/01/{stem}.wav"),
            48000,
            24,
            &sine(48000, 1, 220.0, 0.3, 6.0),
        );
    }
    project.wav(
        "stems/02/mix.wav",
        44100,
        16,
        &sine(44100, 2, 330.0, 0.3, 8.0),
    );
    let flac = TestProject::new();
    flac.wav("bass.wav", 48000, 16, &sine(48000, 1, 55.0, 0.4, 6.0));
    flac.write(
        "bounce.kdl",
        r#"release "B" { version "b"; }
master "flat" { }
track 1 "Bass" { stem "bass" "bass.wav" }
deliverable "f" { master "flat"; format "flac" bits=16; path "bass.flac"; }"#,
    );
    flac.build_ok(&[]);
    std::fs::copy(
        flac.path("out/b/bass.flac"),
        project.path("stems/01/bass.flac"),
    )
    .unwrap();
    std::fs::create_dir_all(project.path("art")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cover.jpg"),
        project.path("art/cover.jpg"),
    )
    .unwrap();
    project.write("bounce.kdl", &reference_example());

    project.build_ok(&[]);
    let out = "out/1.0.0";
    let streaming = analyze(&project, &format!("{out}/streaming/01 - Intro.wav"));
    assert_eq!(streaming["sample_rate"], 44100);
    assert!(
        (streaming["integrated"].as_f64().unwrap() + 14.0).abs() < 0.15,
        "{streaming}"
    );
    let mp3 = analyze(&project, &format!("{out}/mp3/02 - Night Drive.mp3"));
    assert!(mp3["true_peak"].as_f64().unwrap() <= -1.0, "{mp3}");
    let broadcast = analyze(&project, &format!("{out}/broadcast/01 - Intro.wav"));
    assert!(
        (broadcast["integrated"].as_f64().unwrap() + 23.0).abs() <= 0.5,
        "{broadcast}"
    );
    for stem in ["drums", "bass", "vox"] {
        let file = format!("{out}/stems/01 - Intro - {stem}.wav");
        assert!(
            analyze(&project, &file)["frames"].as_u64().unwrap() > 0,
            "{file}"
        );
    }
    let cue = std::fs::read_to_string(project.path(&format!("{out}/cd/Night Drive.cue"))).unwrap();
    assert!(cue.contains("CATALOG 5012345678900"), "{cue}");
    assert!(
        cue.contains("ISRC GBXYZ2600001") && cue.contains("ISRC GBXYZ2600002"),
        "{cue}"
    );
    let image = analyze(&project, &format!("{out}/cd/Night Drive.wav"));
    assert_eq!(
        (image["sample_rate"].as_u64(), image["bits"].as_u64()),
        (Some(44100), Some(16))
    );
    let tag = id3::Tag::read_from_path(project.path(&format!("{out}/mp3/01 - Intro.mp3"))).unwrap();
    assert_eq!(tag.pictures().next().unwrap().mime_type, "image/jpeg");
}

/// The deliverable block of docs/language.md writes a deliverable's own
/// target and ceiling two ways: as properties of the node and as lines of
/// the block. Each, with numbers in the places the reference names, reads.
#[test]
fn both_documented_forms_of_a_deliverables_target_read() {
    let docs = include_str!("../docs/language.md");
    let start = docs.find("## Deliverables").expect("the section");
    let block = &docs[start..start + docs[start..].find("\n```\n\n").expect("its block")];
    assert!(
        block.contains("deliverable \"name\" [target=LUFS] [ceiling=dBTP] {"),
        "{block}"
    );
    assert!(
        block.contains("\n    target LUFS") && block.contains("\n    ceiling dBTP"),
        "{block}"
    );
    for (node, lines) in [
        ("target=-16 ceiling=-1.5", ""),
        ("", "target -16\n    ceiling -1.5\n    "),
    ] {
        let project = TestProject::new();
        project.wav("a.wav", 48000, 24, &sine(48000, 2, 220.0, 0.3, 1.0));
        project.write(
            "bounce.kdl",
            &format!(
                "release \"R\" {{\n    version \"1\"\n}}\nmaster \"m\" {{ }}\ntrack 1 \"T\" {{\n    stem \"a\" \"a.wav\"\n}}\n\
                 deliverable \"d\" {node} {{\n    master \"m\"\n    {lines}format \"wav\"\n}}\n"
            ),
        );
        let output = project.run(&["check"]);
        assert!(
            output.status.success(),
            "{node}{lines}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        project.build_ok(&[]);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(project.path("out/1/manifest.json")).unwrap())
                .unwrap();
        let file = &manifest["files"][0];
        assert!(
            (file["integrated_loudness"].as_f64().unwrap_or(0.0) + 16.0).abs() < 0.2,
            "{file}"
        );
    }
}
