//! CD images and CUE sheets: the sheet parsed by an independent CUE parser
//! (cuetools' `cueprint` and `cuebreakpoints`), its INDEX positions checked
//! against the image to the sample, and the Red Book limits.

mod common;

use std::process::Command;

use common::*;

fn cuetools_available() -> bool {
    tool_available("cueprint", "-V")
}

/// Three tracks of 4.5, 5.01 and 6 s at 48 kHz (so the CD files are
/// resampled, dithered and of lengths that are no whole CD frames), with a
/// 3 s pregap and a 1.5 s gap before track 3.
fn project() -> TestProject {
    let project = TestProject::new();
    for (n, seconds, freq) in [(1, 4.5, 220.0), (2, 5.01, 330.0), (3, 6.0, 440.0)] {
        project.wav(
            &format!("{n}.wav"),
            48000,
            24,
            &sine(48000, 2, freq, 0.4, seconds),
        );
    }
    project.write(
        "bounce.kdl",
        r#"
release "Disc \"One\"" {
    artist "The Examples"
    upc "012345678905"
    composer "A. Writer"
    version "cd"
}
master "m" target=-16 ceiling=-1.0 { }
track 1 "Opening" { isrc "GB-XYZ-26-00001"; gap 3; stem "a" "1.wav" }
track 2 "Middle" { isrc "GB-XYZ-26-00002"; artist "Guest"; stem "a" "2.wav" }
track 3 "Close" { isrc "GB-XYZ-26-00003"; gap 1.5; stem "a" "3.wav" }
deliverable "cd" { master "m"; format "cd"; }
deliverable "tracks" { master "m"; format "wav" bits=16 rate=44100; path "{track}.{ext}"; }
"#,
    );
    project
}

/// `m:ss.ff` as cuebreakpoints prints it, in samples at 44.1 kHz.
fn breakpoint_samples(text: &str) -> usize {
    let (minutes, rest) = text.split_once(':').unwrap();
    let (seconds, frames) = rest.split_once('.').unwrap();
    let frames: usize = frames.parse().unwrap();
    ((minutes.parse::<usize>().unwrap() * 60 + seconds.parse::<usize>().unwrap()) * 75 + frames)
        * 588
}

fn tool(project: &TestProject, name: &str, args: &[&str]) -> String {
    let output = Command::new(name)
        .args(args)
        .current_dir(project.path("out/cd/cd"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_cue_sheet_parses_and_its_indexes_fall_on_the_image_tracks() {
    if !cuetools_available() {
        return;
    }
    let project = project();
    project.build_ok(&[]);
    let cue = "Disc _One_.cue";
    let disc = tool(&project, "cueprint", &["-d", "%N|%P|%T\n", "-t", "", cue]);
    assert_eq!(disc.lines().next(), Some("3|The Examples|Disc 'One'"));
    let tracks = tool(
        &project,
        "cueprint",
        &["-d", "", "-t", "%n|%i|%t|%p\n", cue],
    );
    assert_eq!(
        tracks.lines().collect::<Vec<_>>(),
        [
            "1|GBXYZ2600001|Opening|The Examples",
            "2|GBXYZ2600002|Middle|Guest",
            "3|GBXYZ2600003|Close|The Examples"
        ]
    );
    let sheet = std::fs::read_to_string(project.path(&format!("out/cd/cd/{cue}"))).unwrap();
    assert!(sheet.starts_with("CATALOG 0012345678905\r\n"), "{sheet}");
    assert!(sheet.contains("FILE \"Disc _One_.wav\" WAVE"), "{sheet}");

    let (spec, image) = project.read_wav("out/cd/cd/Disc _One_.wav");
    assert_eq!((spec.sample_rate, spec.bits_per_sample), (44100, 16));
    assert_eq!(image[0].len() % 588, 0, "the image is whole CD frames");
    // INDEX 01 of tracks 2 and 3 (cuebreakpoints), and of track 1 (the
    // pregap: 3 s).
    let mut starts = vec![3 * 44100];
    starts.extend(
        tool(&project, "cuebreakpoints", &[cue])
            .lines()
            .map(breakpoint_samples),
    );
    assert_eq!(starts.len(), 3);
    let mut end_of_previous = 0;
    for (n, start) in (1..=3).zip(&starts) {
        // The track's own 16-bit/44.1 kHz file of the same master is in
        // the image at its INDEX 01, sample for sample.
        let (_, track) = project.read_wav(&format!("out/cd/{n}.wav"));
        let length = track[0].len();
        for channel in 0..2 {
            assert_eq!(
                &image[channel][*start..start + length],
                &track[channel][..],
                "track {n}, channel {channel}"
            );
            // Before it, the gap and the previous track's padding: silence.
            assert!(
                image[channel][end_of_previous..*start]
                    .iter()
                    .all(|s| *s == 0),
                "track {n}: silence before"
            );
        }
        end_of_previous = start + length;
    }
    assert!(image[0][end_of_previous..].iter().all(|s| *s == 0));
    assert!(image[0].len() - end_of_previous < 588);
    // Track 2 (5.01 s, 220941 samples) fills 376 CD frames; track 3's
    // 1.5 s gap is 112.5 frames, rounded to 113.
    assert_eq!(starts[2], starts[1] + (376 + 113) * 588);
}

#[test]
fn the_manifest_lists_image_and_sheet_for_the_release() {
    let project = project();
    project.build_ok(&["cd"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.path("out/cd/manifest.json")).unwrap())
            .unwrap();
    let files: Vec<(String, serde_json::Value)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f["track"].clone()))
        .collect();
    assert_eq!(
        files,
        [
            ("cd/Disc _One_.cue".to_string(), serde_json::Value::Null),
            ("cd/Disc _One_.wav".to_string(), serde_json::Value::Null)
        ]
    );
}

#[test]
fn red_book_limits_are_checked() {
    let project = project();
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    let broken = text
        .replace("gap 3;", "gap 1;")
        .replace("artist \"Guest\";", "artist \"Guest\"; length 3;")
        .replace(r#"format "cd";"#, r#"format "cd" bits=24;"#);
    project.write("bounce.kdl", &broken);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "track 1 opens the CD with a 1 s gap",
        "track 2 lasts 3 s, too short for a CD",
        "a CD image is 44100 Hz, 16 bits",
        "[bounce.kdl:",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    // 100 tracks do not fit.
    let mut many = text.clone();
    for n in 4..=100 {
        many.push_str(&format!(
            "track {n} \"T{n}\" {{ tone \"t\" freq=440 level=-20 length=5 }}\n"
        ));
    }
    project.write("bounce.kdl", &many);
    let output = project.run(&["check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("100 tracks do not fit a CD"), "{stderr}");
}

#[test]
fn a_track_that_renders_shorter_than_four_seconds_fails_the_image() {
    let project = project();
    project.wav("2.wav", 48000, 24, &sine(48000, 2, 330.0, 0.4, 3.5));
    let log = project.build(&["cd"]);
    assert_eq!(log.output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&log.output.stderr);
    assert!(
        stderr.contains("not a Red Book CD: track 2 lasts 3.50 s; a CD track lasts at least 4 s"),
        "{stderr}"
    );
    assert!(!project.path("out/cd/cd").exists());
}

#[test]
fn two_clean_builds_give_the_same_image_and_sheet() {
    let (one, two) = (project(), project());
    one.build_ok(&["cd"]);
    two.build_ok(&["cd", "-j", "1"]);
    for file in ["Disc _One_.wav", "Disc _One_.cue"] {
        let path = format!("out/cd/cd/{file}");
        assert!(
            std::fs::read(one.path(&path)).unwrap() == std::fs::read(two.path(&path)).unwrap(),
            "{file} differs"
        );
    }
}
