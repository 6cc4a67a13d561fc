//! Spoken-word deliverables: mono files (the master's fold-down, measured
//! as BS.1770-4 measures one channel) and the podcast standards that
//! pick their level by channel count, checked with ffmpeg and ffprobe.

mod common;

use std::process::Command;

use common::*;

/// A stereo programme whose channels differ (so the fold-down is not
/// either channel): 330 Hz on the left, 550 Hz on the right, 12 s.
fn two_voices(project: &TestProject) {
    let rate = 48000;
    let frames = 12 * rate as usize;
    let tone = |freq: f64, peak: f64| -> Vec<f64> {
        (0..frames)
            .map(|i| peak * (std::f64::consts::TAU * freq * i as f64 / rate as f64).sin())
            .collect()
    };
    project.wav(
        "voices.wav",
        rate,
        24,
        &[tone(330.0, 0.3), tone(550.0, 0.2)],
    );
}

/// ffprobe's channel count of a file.
fn channels_of(path: &std::path::Path) -> u32 {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=channels",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    // The audio stream's line ("1" or "1,", by container).
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().next().unwrap_or_default();
    first.trim().trim_end_matches(',').parse().unwrap()
}

#[test]
fn mono_files_are_held_to_their_level_as_one_channel_is_measured() {
    if !tool_available("ffmpeg", "-version") || !tool_available("ffprobe", "-version") {
        return;
    }
    let project = TestProject::new();
    two_voices(&project);
    project.write(
        "bounce.kdl",
        r#"release "Pod" {
    version "1"
}
master "episode" target=-16 ceiling=-1 { }
track 1 "Episode" { stem "voices" "voices.wav"; }
deliverable "wav-mono" {
    master "episode"
    format "wav" channels=1
    standard "podcast"
}
deliverable "flac-mono" {
    master "episode"
    format "flac" bits=16 channels=1
}
deliverable "aiff-mono" {
    master "episode"
    format "aiff" channels=1
    standard "apple-podcasts"
}
deliverable "mp3-mono" {
    master "episode"
    format "mp3" bitrate=128 channels=1
    standard "podcast"
}
deliverable "mp3-stereo" {
    master "episode"
    format "mp3" bitrate=128
    standard "podcast"
}
deliverable "wav-stereo" {
    master "episode"
    format "wav"
    standard "podcast"
}
"#,
    );
    let log = project.build_ok(&[]);
    let stderr = String::from_utf8_lossy(&log.output.stderr);
    for (name, why) in [
        ("wav-mono", "the -16 LUFS of standard \"podcast\""),
        ("flac-mono", "the -16 LUFS of its master"),
        ("aiff-mono", "the -16 LUFS of standard \"apple-podcasts\""),
    ] {
        let note = format!("deliverable \"{name}\" is mono: its files are held to -19 LUFS, {why}");
        assert!(stderr.contains(&note), "no note {note:?} in {stderr}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.path("out/1/manifest.json")).unwrap())
            .unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let path = project.path(&format!("out/1/{}", file["path"].as_str().unwrap()));
        let name = file["path"].as_str().unwrap();
        let mono = name.contains("-mono/");
        assert_eq!(channels_of(&path), if mono { 1 } else { 2 }, "{name}");
        let (ffmpeg, _, peak) = ffmpeg_ebur128(&path);
        let want = if mono { -19.0 } else { -16.0 };
        // ffmpeg prints one decimal; an MP3 is what its decoder plays.
        let slack = if name.ends_with(".mp3") { 0.2 } else { 0.1 };
        assert!(
            (ffmpeg - want).abs() <= slack + 0.05,
            "{name}: ffmpeg reads {ffmpeg} LUFS, the target is {want}"
        );
        let recorded = file["integrated_loudness"].as_f64().unwrap();
        assert!(
            (recorded - ffmpeg).abs() <= 0.1,
            "{name}: the manifest says {recorded}, ffmpeg {ffmpeg}"
        );
        assert!(peak <= -1.0 + 0.05, "{name}: {peak} dBTP");
    }
}

#[test]
fn a_mono_file_is_its_masters_fold_down() {
    let project = TestProject::new();
    two_voices(&project);
    project.write(
        "bounce.kdl",
        r#"release "Pod" {
    version "1"
}
master "raw" { }
track 1 "Episode" { stem "voices" "voices.wav"; }
deliverable "stereo" {
    master "raw"
    format "wav" bits=32 float=#true
}
deliverable "mono" {
    master "raw"
    format "wav" bits=32 float=#true channels=1
}
deliverable "mono-24" {
    master "raw"
    format "wav" bits=24 channels=1
    dither "none"
}
deliverable "flac" {
    master "raw"
    format "flac" bits=24 channels=1
    dither "none"
}
"#,
    );
    project.build_ok(&[]);
    let read = |path: &str| read_wav(&project.path(path));
    let (_, stereo) = read("out/1/stereo/01 - Episode.wav");
    let (spec, mono) = read("out/1/mono/01 - Episode.wav");
    assert_eq!((spec.channels, mono.len()), (1, 1));
    let as_f32 = |bits: i32| f32::from_bits(bits as u32);
    for i in 0..mono[0].len() {
        let (l, r) = (as_f32(stereo[0][i]), as_f32(stereo[1][i]));
        assert_eq!(as_f32(mono[0][i]), (l + r) * 0.5, "frame {i}");
    }
    // The same samples at 24 bits, in WAV and in FLAC, bit for bit.
    let (_, wav24) = read("out/1/mono-24/01 - Episode.wav");
    if tool_available("flac", "--version") {
        let decoded = project.path("decoded.wav");
        let status = Command::new("flac")
            .args(["-d", "-s", "-f", "-o"])
            .arg(&decoded)
            .arg(project.path("out/1/flac/01 - Episode.flac"))
            .status()
            .unwrap();
        assert!(status.success(), "flac cannot decode the mono FLAC");
        let (spec, flac) = read_wav(&decoded);
        assert_eq!(spec.channels, 1);
        assert!(flac == wav24, "the FLAC's samples differ from the WAV's");
    }
}

#[test]
fn a_cd_is_stereo_only() {
    let project = TestProject::new();
    two_voices(&project);
    project.write(
        "bounce.kdl",
        r#"release "Pod" {
    version "1"
}
master "raw" { }
track 1 "Episode" { stem "voices" "voices.wav"; }
deliverable "cd" {
    master "raw"
    format "cd" channels=1
}
"#,
    );
    project
        .expect(&["check"])
        .status(2)
        .stderr_has("CD image is stereo only");
}
