//! Every source format the language promises decodes to the right signal.
//! WAV variants are written with hound; AIFF, FLAC, MP3 and Ogg Vorbis with
//! ffmpeg, an encoder independent of bounce (`.ci/run` installs it).

mod common;

use std::process::Command;

use common::*;

const FREQ: f64 = 1000.0;
const PEAK: f64 = 0.5;

fn project_for(files: &[(&str, u32)]) -> TestProject {
    let project = TestProject::new();
    let mut text = String::from("release \"F\" { version \"v\"; }\nmaster \"none\" {}\n");
    for (i, (file, _)) in files.iter().enumerate() {
        text.push_str(&format!(
            "track {} \"T{}\" {{ stem \"s\" \"{file}\"; }}\n",
            i + 1,
            i + 1
        ));
    }
    text.push_str("deliverable \"d\" { master \"none\"; format \"wav\" bits=32 float=#true; path \"{track}.{ext}\"; }\n");
    project.write("bounce.kdl", &text);
    project
}

/// The delivered track holds the tone at the right level and frequency.
fn assert_tone(project: &TestProject, track: usize, what: &str, bits: u16, mono: bool) {
    let (rate, channels) = read_wav_f64(&project.path(&format!("out/v/{track}.wav")));
    assert_eq!(rate, 48000, "{what}");
    let middle = &channels[0][12000..36000];
    // The test writer scales by 2^(bits-1) - 1, which decoders read back
    // over 2^(bits-1); a mono source is panned centre at constant power.
    let full_scale = (1u128 << (bits - 1)) as f64;
    let writer_scale = (full_scale - 1.0) / full_scale;
    let expected = 20.0 * (PEAK * writer_scale).log10() - if mono { 3.0103 } else { 0.0 };
    let tolerance_db = if bits == 8 { 0.05 } else { 0.005 };
    let level = 20.0 * amplitude_at(middle, rate, FREQ).log10();
    assert!(
        (level - expected).abs() < tolerance_db,
        "{what}: {level:.3} dB, expected {expected:.3}"
    );
    let beside = 20.0 * amplitude_at(middle, rate, FREQ * 1.05).log10();
    assert!(beside < -50.0, "{what}: {beside} dB beside the tone");
}

#[test]
fn wav_in_every_sample_format() {
    let project = project_for(&[
        ("8.wav", 0),
        ("16.wav", 0),
        ("24.wav", 0),
        ("32.wav", 0),
        ("f32.wav", 0),
        ("mono.wav", 0),
    ]);
    let tone = sine(48000, 2, FREQ, PEAK, 1.0);
    project.wav("8.wav", 48000, 8, &tone);
    project.wav("16.wav", 48000, 16, &tone);
    project.wav("24.wav", 48000, 24, &tone);
    project.wav("32.wav", 48000, 32, &tone);
    project.wav("mono.wav", 48000, 24, &sine(48000, 1, FREQ, PEAK, 1.0));
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(project.path("f32.wav"), spec).unwrap();
    for (l, r) in tone[0].iter().zip(&tone[1]) {
        writer.write_sample(*l as f32).unwrap();
        writer.write_sample(*r as f32).unwrap();
    }
    writer.finalize().unwrap();
    project.build_ok(&[]);
    // 8-bit quantisation noise allows a looser level tolerance; float is
    // written unscaled, as if by a writer of unbounded bits.
    for (track, what, bits) in [
        (1, "8-bit", 8),
        (2, "16-bit", 16),
        (3, "24-bit", 24),
        (4, "32-bit", 32),
        (5, "float", 64),
    ] {
        assert_tone(&project, track, what, bits, false);
    }
    assert_tone(&project, 6, "mono", 24, true);
}

fn ffmpeg_available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn aiff_flac_mp3_and_vorbis_from_an_independent_encoder() {
    if !ffmpeg_available() {
        // CI installs ffmpeg and must run this; elsewhere it is skipped loudly.
        assert!(std::env::var_os("CI").is_none(), "ffmpeg is required in CI");
        eprintln!("SKIPPED: ffmpeg is not installed");
        return;
    }
    let files = [
        ("t.aiff", 44100),
        ("t.flac", 96000),
        ("t.mp3", 44100),
        ("t.ogg", 48000),
    ];
    let project = project_for(&files);
    for (file, rate) in files {
        let codec: &[&str] = match file {
            "t.aiff" => &["-c:a", "pcm_s24be"],
            "t.flac" => &["-c:a", "flac", "-sample_fmt", "s32"],
            "t.mp3" => &["-c:a", "libmp3lame", "-b:a", "320k"],
            _ => &["-c:a", "libvorbis", "-q:a", "8"],
        };
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!(
                "sine=frequency={FREQ}:sample_rate={rate}:duration=1"
            ))
            // Copy the mono sine to both sides unchanged (an upmix would lower it 3 dB).
            .args(["-af", "volume=0.5,pan=stereo|c0=c0|c1=c0"])
            .args(codec)
            .arg(project.path(file))
            .status()
            .unwrap();
        assert!(status.success(), "ffmpeg could not write {file}");
    }
    project.build_ok(&[]);
    // ffmpeg's sine source has a peak of 1/8 before the volume filter.
    for (track, (file, _)) in files.iter().enumerate() {
        let (rate, channels) = read_wav_f64(&project.path(&format!("out/v/{}.wav", track + 1)));
        let middle = &channels[0][12000..36000];
        let level = 20.0 * amplitude_at(middle, rate, FREQ).log10();
        let expected = 20.0 * (0.125f64 * 0.5).log10();
        // Lossy encoders move the level a little (libvorbis -q 8: 0.08 dB,
        // as ffmpeg's own decoder also reads); lossless ones must not.
        let tolerance = if file.ends_with(".mp3") || file.ends_with(".ogg") {
            0.1
        } else {
            0.005
        };
        assert!(
            (level - expected).abs() < tolerance,
            "{file}: {level:.3} dB, expected {expected:.3}"
        );
    }
}
