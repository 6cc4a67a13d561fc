//! Masters that hit their loudness target and keep their ceiling, measured
//! on the delivered files, in track and album mode, at the project's rate
//! and resampled.

mod common;

use common::*;

/// Mixes from quiet and dynamic to loud and dense, as stems.
fn write_mixes(project: &TestProject) {
    let rate = 48000;
    let seconds = 8.0;
    let frames = (rate as f64 * seconds) as usize;
    // Quiet and dynamic: a soft tone with loud swells.
    let dynamic: Vec<f64> = (0..frames)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let swell = if (t % 2.0) < 0.3 { 0.3 } else { 0.01 };
            swell * (std::f64::consts::TAU * 220.0 * t).sin()
        })
        .collect();
    // Loud and dense: a square-ish wave with harmonics up to 20 kHz and noise.
    let mut state = 7u64;
    let dense: Vec<f64> = (0..frames)
        .map(|i| {
            let t = i as f64 / rate as f64;
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
            let square: f64 = (0..40)
                .map(|k| {
                    let n = (2 * k + 1) as f64;
                    (std::f64::consts::TAU * 110.0 * n * t).sin() / n
                })
                .sum();
            0.6 * square + 0.2 * noise
        })
        .collect();
    // In between: a chord at a steady level.
    let middle: Vec<f64> = (0..frames)
        .map(|i| {
            let t = i as f64 / rate as f64;
            [261.6, 329.6, 392.0]
                .iter()
                .map(|f| 0.15 * (std::f64::consts::TAU * f * t).sin())
                .sum()
        })
        .collect();
    // Bright: full-band noise, whose peaks move when resampling drops the
    // band above 20 kHz.
    let mut state = 11u64;
    let bright: Vec<f64> = (0..frames)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            0.3 * (((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0)
        })
        .collect();
    project.wav("bright.wav", rate, 24, &[bright.clone(), bright]);
    project.wav("dynamic.wav", rate, 24, &[dynamic.clone(), dynamic]);
    project.wav("dense.wav", rate, 24, &[dense.clone(), dense]);
    project.wav("middle.wav", rate, 24, &[middle.clone(), middle]);
}

fn project(masters: &str) -> TestProject {
    let project = TestProject::new();
    write_mixes(&project);
    project.write(
        "bounce.kdl",
        &format!(
            r#"
release "Masters" {{ version "m"; sample-rate 48000; }}
{masters}
track 1 "Dynamic" {{ stem "s" "dynamic.wav"; }}
track 2 "Dense" {{ stem "s" "dense.wav"; }}
track 3 "Middle" {{ stem "s" "middle.wav"; }}
track 4 "Bright" {{ stem "s" "bright.wav"; }}
deliverable "at48" {{ master "m"; format "wav" bits=24; path "48/{{track}}.{{ext}}"; }}
deliverable "at44" {{ master "m"; format "wav" bits=16 rate=44100; path "44/{{track}}.{{ext}}"; }}
"#
        ),
    );
    project
}

fn analyze(project: &TestProject, file: &str) -> serde_json::Value {
    let output = project.run(&[
        "analyze",
        "--message-format",
        "json",
        &format!("out/m/{file}"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn every_track_lands_on_target_under_the_ceiling() {
    let project = project(r#"master "m" target=-14 ceiling=-1.0 { }"#);
    project.build_ok(&[]);
    for track in 1..=4 {
        for folder in ["48", "44"] {
            let value = analyze(&project, &format!("{folder}/{track}.wav"));
            let loudness = value["integrated"].as_f64().unwrap();
            let peak = value["true_peak"].as_f64().unwrap();
            assert!(
                (loudness + 14.0).abs() <= 0.1,
                "{folder}/{track}: {loudness} LUFS"
            );
            assert!(peak <= -1.0, "{folder}/{track}: {peak} dBTP");
        }
    }
}

#[test]
fn a_loud_target_warns_about_heavy_limiting() {
    let project = TestProject::new();
    // A -20 dBFS sine with full-scale clicks every 100 ms: a 20 dB crest.
    let peaky: Vec<f64> = (0..48000 * 6)
        .map(|i| {
            if i % 4800 == 0 {
                1.0
            } else {
                0.1 * (std::f64::consts::TAU * 330.0 * i as f64 / 48000.0).sin()
            }
        })
        .collect();
    project.wav("peaky.wav", 48000, 24, &[peaky.clone(), peaky]);
    project.write(
        "bounce.kdl",
        r#"
release "Loud" { version "m"; }
master "m" target=-9 ceiling=-1.0 { }
track 1 "Peaky" { stem "s" "peaky.wav"; }
deliverable "d" { master "m"; format "wav" bits=24; path "{track}.{ext}"; }
"#,
    );
    let log = project.build_ok(&[]);
    let master = log
        .steps
        .iter()
        .find(|s| s["step"] == "master:m:1")
        .unwrap();
    let warning = master["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("dB to reach the target under the -1 dBTP ceiling"),
        "{master}"
    );
    let value = analyze(&project, "1.wav");
    assert!(
        (value["integrated"].as_f64().unwrap() + 9.0).abs() <= 0.1,
        "{value}"
    );
    assert!(value["true_peak"].as_f64().unwrap() <= -1.0, "{value}");
    // The warning comes back with the cached step.
    let again = project.build_ok(&[]);
    let cached = again
        .steps
        .iter()
        .find(|s| s["step"] == "master:m:1")
        .unwrap();
    assert_eq!(cached["status"], "cached");
    assert_eq!(cached["warnings"], master["warnings"]);
}

#[test]
fn an_unreachable_target_fails_with_the_figures() {
    let project = project(r#"master "m" target=-2 ceiling=-1.0 { }"#);
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&log.output.stderr);
    assert!(
        stderr.contains("cannot reach -2 LUFS under a -1 dBTP ceiling"),
        "{stderr}"
    );
    // In an engineer's terms: the loudest level it can reach, no gain
    // figure of hundreds of dB.
    let reached: f64 = stderr
        .split("the loudest this mix gets under it is about ")
        .nth(1)
        .and_then(|rest| rest.split(" LUFS").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no loudest level in {stderr}"));
    assert!(reached > -20.0 && reached < -2.0, "{reached}");
    assert!(!stderr.contains("into the limiter"), "{stderr}");
    assert!(!project.path("out").exists());
}

#[test]
fn album_mode_hits_the_target_as_one_programme_and_keeps_the_differences() {
    let project = project(r#"master "m" target=-16 ceiling=-1.0 mode="album" { }"#);
    project.build_ok(&[]);
    // The whole album, measured as one programme.
    let mut whole: Vec<Vec<f64>> = vec![Vec::new(), Vec::new()];
    for track in 1..=4 {
        let (_, channels) = read_wav_f64(&project.path(&format!("out/m/48/{track}.wav")));
        for (w, c) in whole.iter_mut().zip(channels) {
            w.extend(c);
        }
        let peak = analyze(&project, &format!("48/{track}.wav"))["true_peak"]
            .as_f64()
            .unwrap();
        assert!(peak <= -1.0, "track {track}: {peak} dBTP");
    }
    project.wav("album.wav", 48000, 24, &whole);
    let album = project.run(&["analyze", "--message-format", "json", "album.wav"]);
    let value: serde_json::Value = serde_json::from_slice(&album.stdout).unwrap();
    let loudness = value["integrated"].as_f64().unwrap();
    assert!(
        (loudness + 16.0).abs() <= 0.1,
        "album reads {loudness} LUFS"
    );

    // The tracks keep their relative loudness: compare with the mixes.
    let mix = |f: &str| {
        let output = project.run(&["analyze", "--message-format", "json", f]);
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()["integrated"]
            .as_f64()
            .unwrap()
    };
    let mastered = |t: u32| {
        analyze(&project, &format!("48/{t}.wav"))["integrated"]
            .as_f64()
            .unwrap()
    };
    let before = mix("middle.wav") - mix("dynamic.wav");
    let after = mastered(3) - mastered(1);
    assert!(
        (before - after).abs() < 0.5,
        "difference {before:.2} LU became {after:.2} LU"
    );
    assert!(
        (mastered(1) - mastered(3)).abs() > 1.0,
        "album mode must not level the tracks"
    );
}

#[test]
fn a_ceiling_without_a_target_only_limits() {
    let project = project(r#"master "m" ceiling=-3.0 { gain 6 }"#);
    project.build_ok(&[]);
    for track in 1..=3 {
        let value = analyze(&project, &format!("44/{track}.wav"));
        assert!(value["true_peak"].as_f64().unwrap() <= -3.0, "{value}");
    }
}

/// `loudness` in a master without a ceiling levels the music but holds no
/// peak: `check` and the build say so, once for the master, with the form
/// that does; a ceiling silences it.
#[test]
fn a_master_with_loudness_and_no_ceiling_warns() {
    let project = three_track_project();
    let unheld = "master \"main\" sets a loudness but has no ceiling";
    project
        .expect(&["check"])
        .status(0)
        .warns(1, unheld)
        .warns(1, "write `target=LUFS ceiling=-1.0` on the master");
    project.expect(&["build"]).status(0).warns(1, unheld);
    project.write(
        "bounce.kdl",
        &THREE_TRACKS.replace("master \"main\" {", "master \"main\" ceiling=-1.0 {"),
    );
    project.expect(&["check"]).status(0).warns(0, unheld);
    project.expect(&["build"]).status(0).warns(0, unheld);
}
