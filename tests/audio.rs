//! Audio through the binary, measured: bit-exact paths, pan law, gain,
//! polarity, width, resampling and loudness.

mod common;

use common::*;

const RELEASE: &str = r#"
release "Audio" {
    version "t"
}
"#;

fn project_with(body: &str) -> TestProject {
    let project = TestProject::new();
    project.write("bounce.kdl", &format!("{RELEASE}\n{body}"));
    project
}

fn out(project: &TestProject, name: &str) -> (u32, Vec<Vec<f64>>) {
    read_wav_f64(&project.path(&format!("out/t/{name}")))
}

#[test]
fn a_24_bit_wav_through_an_empty_chain_is_bit_identical() {
    // Full-scale-ish noise-like content on the 24-bit grid, stereo.
    let left: Vec<f64> = (0..48000)
        .map(|i| ((i * 7919 % 16_777_213) as f64 / 8_388_607.0) - 1.0)
        .collect();
    let right: Vec<f64> = (0..48000)
        .map(|i| ((i as f64) * 0.013).sin() * 0.99)
        .collect();
    let project = project_with(
        r#"
master "none" {}
track 1 "T" { stem "s" "s.wav" }
deliverable "d" { master "none"; format "wav" bits=24 }
"#,
    );
    project.wav("s.wav", 48000, 24, &[left, right]);
    project.build_ok(&[]);
    let (_, input) = project.read_wav("s.wav");
    let (spec, output) = project.read_wav("out/t/d/01 - T.wav");
    assert_eq!((spec.bits_per_sample, spec.sample_rate), (24, 48000));
    assert!(input == output, "samples differ");
}

#[test]
fn a_16_bit_stem_delivered_at_16_bits_is_not_dithered() {
    let project = project_with(
        r#"
master "none" {}
track 1 "T" { stem "s" "s.wav"; stem "t" "t.wav" }
deliverable "d" { master "none"; format "wav" bits=16 }
"#,
    );
    // Two 16-bit stems sum on the 16-bit grid: no dither is needed.
    project.wav("s.wav", 48000, 16, &sine(48000, 2, 440.0, 0.2, 0.5));
    project.wav("t.wav", 48000, 16, &sine(48000, 2, 660.0, 0.2, 0.5));
    project.build_ok(&[]);
    let (_, a) = project.read_wav("s.wav");
    let (_, b) = project.read_wav("t.wav");
    let (_, sum) = project.read_wav("out/t/d/01 - T.wav");
    for i in 0..a[0].len() {
        assert_eq!(sum[0][i], a[0][i] + b[0][i], "frame {i}");
    }
}

#[test]
fn mono_stems_pan_at_constant_power_and_stereo_stems_balance() {
    let project = project_with(
        r#"
master "none" {}
track 1 "Centre" { stem "m" "mono.wav" }
track 2 "Left" { stem "m" "mono.wav" pan=-1 }
track 3 "Half" { stem "m" "mono.wav" pan=0.5 }
track 4 "Balance" { stem "s" "stereo.wav" pan=0.5 }
deliverable "d" { master "none"; format "wav" bits=32 float=#true }
"#,
    );
    project.wav("mono.wav", 48000, 24, &sine(48000, 1, 1000.0, 0.5, 1.0));
    project.wav("stereo.wav", 48000, 24, &sine(48000, 2, 1000.0, 0.5, 1.0));
    project.build_ok(&[]);
    let input_db = rms_db(&sine(48000, 1, 1000.0, 0.5, 1.0)[0]);
    let level = |name: &str, channel: usize| rms_db(&out(&project, name).1[channel]) - input_db;

    assert!((level("d/01 - Centre.wav", 0) + 3.01).abs() < 0.01);
    assert!((level("d/01 - Centre.wav", 1) + 3.01).abs() < 0.01);
    assert!(level("d/02 - Left.wav", 0).abs() < 0.01);
    assert!(level("d/02 - Left.wav", 1) < -120.0);
    // pan 0.5: angle 3π/8; left cos, right sin.
    let (l, r) = (
        (3.0 * std::f64::consts::PI / 8.0).cos(),
        (3.0 * std::f64::consts::PI / 8.0).sin(),
    );
    assert!((level("d/03 - Half.wav", 0) - 20.0 * l.log10()).abs() < 0.01);
    assert!((level("d/03 - Half.wav", 1) - 20.0 * r.log10()).abs() < 0.01);
    // Stereo balance 0.5: left at half, right untouched.
    assert!((level("d/04 - Balance.wav", 0) - 20.0 * 0.5f64.log10()).abs() < 0.01);
    assert!(level("d/04 - Balance.wav", 1).abs() < 0.01);
}

#[test]
fn gain_polarity_and_width_do_what_they_say() {
    let project = project_with(
        r#"
master "none" {}
track 1 "Gain" { stem "s" "s.wav" gain=-6 { gain -4 } }
track 2 "Null" {
    stem "a" "s.wav"
    stem "b" "s.wav" { polarity }
}
track 3 "Mono" { stem "w" "wide.wav" { width 0 } }
track 4 "Wide" { stem "w" "wide.wav" { width 2 } }
deliverable "d" { master "none"; format "wav" bits=32 float=#true }
"#,
    );
    project.wav("s.wav", 48000, 24, &sine(48000, 2, 1000.0, 0.5, 1.0));
    // Left and right differ: side = (l - r) / 2.
    let l = sine(48000, 1, 300.0, 0.4, 1.0).remove(0);
    let r = sine(48000, 1, 500.0, 0.2, 1.0).remove(0);
    project.wav("wide.wav", 48000, 24, &[l.clone(), r.clone()]);
    project.build_ok(&[]);

    let input_db = rms_db(&sine(48000, 1, 1000.0, 0.5, 1.0)[0]);
    let gain = rms_db(&out(&project, "d/01 - Gain.wav").1[0]) - input_db;
    assert!((gain + 10.0).abs() < 0.01, "gain {gain}");

    let (_, null) = out(&project, "d/02 - Null.wav");
    assert!(
        null.iter().flatten().all(|x| *x == 0.0),
        "a signal and its inverse cancel exactly"
    );

    let (_, mono) = out(&project, "d/03 - Mono.wav");
    assert_eq!(mono[0], mono[1], "width 0 is mono");
    let (_, wide) = out(&project, "d/04 - Wide.wav");
    for i in (0..48000).step_by(101) {
        let (mid, side) = ((l[i] + r[i]) / 2.0, (l[i] - r[i]) / 2.0);
        assert!((wide[0][i] - (mid + 2.0 * side)).abs() < 1e-6);
        assert!((wide[1][i] - (mid - 2.0 * side)).abs() < 1e-6);
    }
}

#[test]
fn resampled_stems_keep_frequency_and_level() {
    let project = project_with(
        r#"
master "none" {}
track 1 "Up" { stem "s" "44k.wav" }
track 2 "Down" { stem "s" "96k.wav" }
deliverable "d" { master "none"; format "wav" bits=32 float=#true }
deliverable "cd" { master "none"; format "wav" bits=24 rate=44100; tracks 2 }
"#,
    );
    project.wav("44k.wav", 44100, 24, &sine(44100, 2, 1000.0, 0.5, 2.0));
    project.wav("96k.wav", 96000, 24, &sine(96000, 2, 15000.0, 0.5, 2.0));
    project.build_ok(&[]);
    for (name, rate, freq, frames) in [
        ("d/01 - Up.wav", 48000, 1000.0, 96000),
        ("d/02 - Down.wav", 48000, 15000.0, 96000),
        ("cd/02 - Down.wav", 44100, 15000.0, 88200),
    ] {
        let (got_rate, channels) = out(&project, name);
        assert_eq!(got_rate, rate);
        assert_eq!(channels[0].len(), frames, "{name}: length");
        let middle = &channels[0][rate as usize / 4..rate as usize * 7 / 4];
        let level = 20.0 * amplitude_at(middle, rate, freq).log10();
        assert!(
            (level - 20.0 * 0.5f64.log10()).abs() < 0.01,
            "{name}: {level} dB"
        );
        let beside = 20.0 * amplitude_at(middle, rate, freq * 1.02).log10();
        assert!(beside < -80.0, "{name}: {beside} dB beside the tone");
    }
}

#[test]
fn loudness_minus_23_on_a_stereo_1k_sine_reads_minus_23() {
    let project = project_with(
        r#"
master "r128" { loudness -23 }
track 1 "Tone" { tone "t" freq=1000 level=-6 length=20 }
deliverable "d" { master "r128"; format "wav" bits=24 }
"#,
    );
    project.build_ok(&[]);
    let analysis = project.run(&[
        "analyze",
        "--message-format",
        "json",
        "out/t/d/01 - Tone.wav",
    ]);
    assert!(analysis.status.success());
    let value: serde_json::Value = serde_json::from_slice(&analysis.stdout).unwrap();
    let integrated = value["integrated"].as_f64().unwrap();
    assert!((integrated + 23.0).abs() <= 0.1, "{integrated} LUFS");
}

#[test]
fn analyze_reads_ebu_tech_3341_case_1() {
    // EBU Tech 3341, test 1: stereo 1 kHz sine at -23 dBFS reads -23.0 LUFS ±0.1.
    let project = TestProject::new();
    let peak = 10f64.powf(-23.0 / 20.0);
    project.wav("case1.wav", 48000, 24, &sine(48000, 2, 1000.0, peak, 20.0));
    let output = project.run(&["analyze", "--message-format", "json", "case1.wav"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        (value["integrated"].as_f64().unwrap() + 23.0).abs() <= 0.1,
        "{value}"
    );
    assert!(
        (value["sample_peak"].as_f64().unwrap() + 23.0).abs() <= 0.01,
        "{value}"
    );
    assert_eq!(value["sample_rate"], 48000);
    assert_eq!(value["bits"], 24);
}

#[test]
fn offsets_lengths_and_fades_shape_the_timeline() {
    let project = project_with(
        r#"
master "none" {}
track 1 "Late" {
    stem "s" "s.wav" offset=0.5
    fade-in 0.25 curve="linear"
}
track 2 "Cut" {
    stem "s" "s.wav"
    length 0.4
}
deliverable "d" { master "none"; format "wav" bits=32 float=#true }
"#,
    );
    project.wav("s.wav", 48000, 24, &[vec![0.5; 48000], vec![0.5; 48000]]);
    project.build_ok(&[]);
    let (_, late) = out(&project, "d/01 - Late.wav");
    assert_eq!(late[0].len(), 72000, "offset + source length");
    assert!(
        late[0][..24000].iter().all(|x| *x == 0.0),
        "silent before the offset"
    );
    assert_eq!(late[0][71999], 0.5);
    let (_, cut) = out(&project, "d/02 - Cut.wav");
    assert_eq!(cut[0].len(), 19200);
}

#[test]
fn neutral_settings_of_every_processor_are_bit_transparent() {
    let left: Vec<f64> = (0..48000)
        .map(|i| ((i * 7919 % 16_777_213) as f64 / 8_388_607.0) - 1.0)
        .collect();
    let right: Vec<f64> = (0..48000)
        .map(|i| ((i as f64) * 0.021).sin() * 0.9)
        .collect();
    let project = project_with(
        r#"
master "none" { eq { bell 3000 gain=0 q=1; low-shelf 100 gain=0; } }
track 1 "T" {
    stem "s" "s.wav" {
        compress threshold=-30 ratio=1
        width 1
        delay 0
        reverb mix=0
        eq { high-shelf 9000 gain=0 }
    }
    mix { compress threshold=-10 ratio=1; }
}
deliverable "d" { master "none"; format "wav" bits=24 }
"#,
    );
    project.wav("s.wav", 48000, 24, &[left, right]);
    project.build_ok(&[]);
    let (_, input) = project.read_wav("s.wav");
    let (_, output) = project.read_wav("out/t/d/01 - T.wav");
    assert!(input == output, "neutral processors changed samples");
}

#[test]
fn a_reverb_rings_out_past_its_stem() {
    let project = project_with(
        r#"
master "none" {}
track 1 "Dry" { stem "s" "s.wav"; }
track 2 "Wet" { stem "s" "s.wav" { reverb size=0.8 mix=0.5; } }
deliverable "d" { master "none"; format "wav" bits=32 float=#true }
"#,
    );
    project.wav("s.wav", 48000, 24, &sine(48000, 2, 440.0, 0.5, 1.0));
    project.build_ok(&[]);
    let (_, dry) = out(&project, "d/01 - Dry.wav");
    let (_, wet) = out(&project, "d/02 - Wet.wav");
    assert_eq!(dry[0].len(), 48000);
    assert!(
        wet[0].len() > 48000 * 3,
        "tail of {} frames",
        wet[0].len() - 48000
    );
    let after = &wet[0][48000 + 4800..48000 * 2];
    assert!(
        rms_db(after) > -50.0,
        "the tail is audible after the stem ends: {}",
        rms_db(after)
    );
}

#[test]
fn gain_automation_fades_a_vocal_in() {
    // LANGUAGE.md: automate "gain" { at 0 -60; at 2 0; at 180 0 }
    let project = project_with(
        r#"
master "none" {}
track 1 "Vox" { stem "vox" "s.wav" { automate "gain" { at 0 -60; at 2 0; at 180 0; }; } }
deliverable "d" { master "none"; format "wav" bits=32 float=#true }
"#,
    );
    project.wav(
        "s.wav",
        48000,
        24,
        &[vec![0.5; 3 * 48000], vec![0.5; 3 * 48000]],
    );
    project.build_ok(&[]);
    let (_, channels) = out(&project, "d/01 - Vox.wav");
    let level = |t: f64| 20.0 * (channels[0][(t * 48000.0) as usize] / 0.5).log10();
    assert!((level(0.0) + 60.0).abs() < 0.01);
    assert!((level(1.0) + 30.0).abs() < 0.1, "{}", level(1.0));
    assert!(level(2.5).abs() < 0.01);
}

/// BS.1770-4 sums the channels a file has: a mono file's one channel
/// counts once, so a 1 kHz sine at −20 dBFS in a mono file reads −23.0
/// LUFS (its power, 3 dB under its peak), where the same sine on both
/// channels of a stereo file reads −20.0; ffmpeg's ebur128 agrees.
#[test]
fn analyze_reads_a_mono_file_as_bs1770_weighs_one_channel() {
    let project = TestProject::new();
    let peak = 10f64.powf(-20.0 / 20.0);
    project.wav("mono.wav", 48000, 24, &sine(48000, 1, 1000.0, peak, 20.0));
    project.wav("dual.wav", 48000, 24, &sine(48000, 2, 1000.0, peak, 20.0));
    let integrated = |file: &str| {
        let output = project.run(&["analyze", "--message-format", "json", file]);
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        value["integrated"].as_f64().unwrap()
    };
    let (mono, dual) = (integrated("mono.wav"), integrated("dual.wav"));
    assert!((mono + 23.0).abs() <= 0.1, "{mono} LUFS");
    assert!((dual + 20.0).abs() <= 0.1, "{dual} LUFS");
    if tool_available("ffmpeg", "-version") {
        let (theirs, _, _) = ffmpeg_ebur128(&project.path("mono.wav"));
        assert!(
            (mono - theirs).abs() <= 0.1,
            "bounce {mono}, ffmpeg {theirs}"
        );
    }
}

/// `start=`/`end=` cut a source at its own samples and `at=` places it:
/// a click at 1.25 s of a 3 s source, played from 1.0 s (a clock time) to
/// 2.0 s at 0.5 s on the track, lands at output sample (1.25 − 1.0 + 0.5)
/// × 48000 = 36000, and the track is 0.5 + 1.0 s long.
#[test]
fn a_trimmed_stem_plays_its_in_and_out_points_at_its_place() {
    let project = project_with(
        r#"
master "none" {}
track 1 "Trim" {
    stem "s" "click.wav" start="0:01.0" end=2 at="0:00.5"
}
deliverable "d" { master "none"; format "wav" bits=32 float=#true }
"#,
    );
    let mut click = vec![vec![0.0; 144_000], vec![0.0; 144_000]];
    click[0][60_000] = 0.5;
    click[1][60_000] = 0.5;
    project.wav("click.wav", 48000, 24, &click);
    project.build_ok(&[]);
    let (_, out) = out(&project, "d/01 - Trim.wav");
    assert_eq!(out[0].len(), 72_000, "at + (end - start)");
    let loudest = (0..out[0].len())
        .max_by(|a, b| out[0][*a].abs().total_cmp(&out[0][*b].abs()))
        .unwrap();
    assert_eq!(loudest, 36_000);
    assert!(out[0][..36_000].iter().all(|x| *x == 0.0));
    // Both points at once is an error; so is an end before its start.
    project.write(
        "bounce.kdl",
        &std::fs::read_to_string(project.path("bounce.kdl"))
            .unwrap()
            .replace("at=\"0:00.5\"", "at=1 offset=1")
            .replace("end=2", "end=0.5"),
    );
    let checked = project.run(&["check"]);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(2));
    assert!(
        stderr.contains("give `at=` or `offset=`, not both"),
        "{stderr}"
    );
    assert!(stderr.contains("must come after `start`"), "{stderr}");
}
