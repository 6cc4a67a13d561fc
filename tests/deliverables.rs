//! Broadcast WAV and AIFF deliverables, read back by readers other than the
//! writer: ffprobe for the container and the `bext` fields, symphonia (via
//! `bounce analyze`) for the audio, and the `bext` loudness fields parsed
//! from the bytes as EBU Tech 3285 v2 lays them out.

mod common;

use std::process::Command;

use common::*;

fn tools_available() -> bool {
    tool_available("ffprobe", "-version")
}

fn project() -> TestProject {
    let project = TestProject::new();
    let rate = 48000;
    let music: Vec<f64> = (0..rate * 6)
        .map(|i| {
            let t = i as f64 / rate as f64;
            0.3 * (std::f64::consts::TAU * 220.0 * t).sin()
                * (1.0 + 0.5 * (std::f64::consts::TAU * 0.5 * t).sin())
        })
        .collect();
    project.wav("mix.wav", rate as u32, 24, &[music.clone(), music]);
    project.write(
        "bounce.kdl",
        r#"
release "Formats" {
    artist "The Examples"
    version "f"
    label "Example Records"
    year 2026
}
master "r128" target=-23 ceiling=-1.0 { }
track 1 "On Air" {
    isrc "GB-XYZ-26-00042"
    stem "mix" "mix.wav"
}
deliverable "broadcast" { master "r128"; format "bwf" bits=24 rate=48000; path "{deliverable}/{track}.{ext}"; }
deliverable "aiff" { master "r128"; format "aiff" bits=24; path "{deliverable}/{track}.{ext}"; }
deliverable "wav" { master "r128"; format "wav" bits=24; path "{deliverable}/w{track}.{ext}"; }
deliverable "flac" { master "r128"; format "flac" bits=16; path "{deliverable}/{track}.{ext}"; }
deliverable "wav16" { master "r128"; format "wav" bits=16; path "{deliverable}/{track}.{ext}"; }
deliverable "flac24" { master "r128"; format "flac" bits=24; path "{deliverable}/{track}.{ext}"; }
deliverable "mp3" { master "r128"; format "mp3" bitrate=320; path "{deliverable}/{track}.{ext}"; }
deliverable "mp3v" { master "r128"; format "mp3" quality=2; path "{deliverable}/{track}.{ext}"; }
"#,
    );
    project
}

fn ffprobe(project: &TestProject, file: &str) -> serde_json::Value {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(project.path(file))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// ffmpeg's integrated loudness (LUFS) and true peak (dBTP) of a file.
fn ffmpeg_loudness(project: &TestProject, file: &str) -> (f64, f64) {
    let (integrated, _, peak) = ffmpeg_ebur128(&project.path(file));
    (integrated, peak)
}

fn analyze(project: &TestProject, file: &str) -> serde_json::Value {
    let output = project.run(&["analyze", "--message-format", "json", file]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The `bext` chunk's body, found by walking the RIFF chunks.
fn bext_body(bytes: &[u8]) -> &[u8] {
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if &bytes[at..at + 4] == b"bext" {
            return &bytes[at + 8..at + 8 + size];
        }
        at += 8 + size + size % 2;
    }
    panic!("no bext chunk");
}

#[test]
fn broadcast_wav_carries_bext_with_the_measured_loudness() {
    if !tools_available() {
        return;
    }
    let project = project();
    project.build_ok(&[]);
    let probe = ffprobe(&project, "out/f/broadcast/1.wav");
    // ffprobe names the bext fields: description → comment, originator →
    // encoded_by, origination date → date, origination time → creation_time.
    let tags = &probe["format"]["tags"];
    assert_eq!(tags["comment"], "The Examples - On Air", "{tags}");
    assert_eq!(tags["encoded_by"], "Example Records", "{tags}");
    assert_eq!(tags["originator_reference"], "GBXYZ2600042", "{tags}");
    assert_eq!(tags["date"], "2026-01-01", "{tags}");
    assert_eq!(tags["creation_time"], "00:00:00", "{tags}");
    assert_eq!(tags["time_reference"], "0", "{tags}");
    assert!(
        tags["coding_history"]
            .as_str()
            .unwrap()
            .starts_with("A=PCM,F=48000,W=24,M=stereo"),
        "{tags}"
    );
    assert_eq!(probe["streams"][0]["codec_name"], "pcm_s24le");

    let bytes = std::fs::read(project.path("out/f/broadcast/1.wav")).unwrap();
    let bext = bext_body(&bytes);
    let field = |offset: usize| i16::from_le_bytes([bext[offset], bext[offset + 1]]) as f64 / 100.0;
    assert_eq!(
        u16::from_le_bytes([bext[346], bext[347]]),
        2,
        "bext version 2"
    );
    let measured = analyze(&project, "out/f/broadcast/1.wav");
    let loudness = field(412);
    assert!((loudness + 23.0).abs() <= 0.1, "bext loudness {loudness}");
    assert!((loudness - measured["integrated"].as_f64().unwrap()).abs() <= 0.011);
    assert!((field(414) - measured["loudness_range"].as_f64().unwrap()).abs() <= 0.011);
    assert!(field(416) <= -1.0, "bext max true peak {}", field(416));
    assert!((field(418) - measured["max_momentary"].as_f64().unwrap()).abs() <= 0.011);
    assert!((field(420) - measured["max_short_term"].as_f64().unwrap()).abs() <= 0.011);
}

#[test]
fn aiff_holds_the_same_samples_as_the_wav() {
    if !tools_available() {
        return;
    }
    let project = project();
    project.build_ok(&[]);
    let probe = ffprobe(&project, "out/f/aiff/1.aiff");
    assert_eq!(probe["format"]["format_name"], "aiff");
    assert_eq!(probe["streams"][0]["codec_name"], "pcm_s24be");
    assert_eq!(probe["streams"][0]["sample_rate"], "48000");
    assert_eq!(probe["streams"][0]["channels"], 2);
    // Symphonia reads it like the WAV of the same master.
    let aiff = analyze(&project, "out/f/aiff/1.aiff");
    let wav = analyze(&project, "out/f/wav/w1.wav");
    assert_eq!(aiff["frames"], wav["frames"]);
    assert!(
        (aiff["integrated"].as_f64().unwrap() - wav["integrated"].as_f64().unwrap()).abs() < 0.01
    );
    // ffmpeg's decode nulls against the WAV of the same master: the two
    // files differ only in their TPDF dither (seeded per step), ±2 LSB.
    assert_ffmpeg_nulls(&project, "out/f/aiff/1.aiff", "out/f/wav/w1.wav", 24, 2);
}

#[test]
fn flac_passes_the_reference_decoder_and_nulls_against_the_wav() {
    if !tools_available() {
        return;
    }
    let project = project();
    project.build_ok(&[]);
    for (flac_file, wav_file, bits) in [
        ("out/f/flac/1.flac", "out/f/wav16/1.wav", 16),
        ("out/f/flac24/1.flac", "out/f/wav/w1.wav", 24),
    ] {
        let file = project.path(flac_file);
        let check = Command::new("flac").args(["-t", "-s"]).arg(&file).output();
        match check {
            Ok(output) => assert!(
                output.status.success(),
                "flac -t {flac_file}: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(_) => assert!(std::env::var_os("CI").is_none(), "flac is required in CI"),
        }
        let probe = ffprobe(&project, flac_file);
        assert_eq!(probe["format"]["format_name"], "flac");
        assert_eq!(probe["streams"][0]["bits_per_raw_sample"], bits.to_string());
        assert_eq!(probe["streams"][0]["sample_rate"], "48000");
        // Lossless coding of music is smaller than the raw samples.
        let size = std::fs::metadata(&file).unwrap().len();
        let raw = std::fs::metadata(project.path(wav_file)).unwrap().len();
        assert!(size < raw, "{flac_file}: {size} bytes against {raw} of WAV");
        // Symphonia decodes it (bounce analyze) to the WAV's length and loudness.
        let flac = analyze(&project, flac_file);
        let wav = analyze(&project, wav_file);
        assert_eq!(flac["frames"], wav["frames"]);
        assert!(
            (flac["integrated"].as_f64().unwrap() - wav["integrated"].as_f64().unwrap()).abs()
                < 0.01
        );
        // ffmpeg's decode nulls against the WAV within the two files' dither.
        assert_ffmpeg_nulls(&project, flac_file, wav_file, bits, 2);
    }
}

#[test]
fn deliverables_are_byte_identical_across_clean_builds_and_dates_come_from_the_epoch() {
    let one = project();
    let two = project();
    one.build_ok(&[]);
    two.build_ok(&["-j", "1"]);
    for file in [
        "broadcast/1.wav",
        "aiff/1.aiff",
        "wav/w1.wav",
        "flac/1.flac",
        "flac24/1.flac",
        "mp3/1.mp3",
        "mp3v/1.mp3",
    ] {
        let a = std::fs::read(one.path(&format!("out/f/{file}"))).unwrap();
        let b = std::fs::read(two.path(&format!("out/f/{file}"))).unwrap();
        assert!(a == b, "{file} differs between two clean builds");
    }
    let dated = project();
    let output = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .args(["build", "broadcast"])
        .current_dir(dated.path(""))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(output.status.success());
    let bytes = std::fs::read(dated.path("out/f/broadcast/1.wav")).unwrap();
    let bext = bext_body(&bytes);
    assert_eq!(&bext[320..330], b"2023-11-14");
    assert_eq!(&bext[330..338], b"22:13:20");
}

#[test]
fn aiff_refuses_what_it_cannot_carry() {
    let project = project();
    let text = std::fs::read_to_string(project.path("bounce.kdl"))
        .unwrap()
        .replace(
            r#"format "aiff" bits=24"#,
            r#"format "aiff" bits=32 float=#true"#,
        );
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AIFF deliverables are 16 or 24 bits, not 32"),
        "{stderr}"
    );
    assert!(
        stderr.contains("AIFF carries integer samples only"),
        "{stderr}"
    );
    assert!(stderr.contains("[bounce.kdl:"), "{stderr}");
}

/// A 1×1 PNG.
const COVER: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn tagged_project() -> TestProject {
    let project = project();
    std::fs::write(project.path("cover.png"), COVER).unwrap();
    let text = std::fs::read_to_string(project.path("bounce.kdl"))
        .unwrap()
        .replace("    year 2026\n", "    year 2026\n    genre \"Electronic\"\n    upc \"5012345678900\"\n    cover \"cover.png\"\n");
    project.write("bounce.kdl", &text);
    project
}

#[test]
fn id3_tags_round_trip_in_wav_and_aiff() {
    let project = tagged_project();
    project.build_ok(&[]);
    for file in [
        "out/f/wav/w1.wav",
        "out/f/aiff/1.aiff",
        "out/f/broadcast/1.wav",
        "out/f/mp3/1.mp3",
        "out/f/mp3v/1.mp3",
    ] {
        use id3::TagLike;
        let tag =
            id3::Tag::read_from_path(project.path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(tag.title(), Some("On Air"), "{file}");
        assert_eq!(tag.artist(), Some("The Examples"));
        assert_eq!(tag.album(), Some("Formats"));
        assert_eq!((tag.track(), tag.total_tracks()), (Some(1), Some(1)));
        assert_eq!(tag.genre(), Some("Electronic"));
        let text = |id: &str| {
            tag.get(id)
                .and_then(|f| f.content().text())
                .map(str::to_string)
        };
        assert_eq!(text("TSRC").as_deref(), Some("GBXYZ2600042"));
        assert_eq!(text("TPUB").as_deref(), Some("Example Records"));
        let extended: Vec<_> = tag
            .extended_texts()
            .map(|t| (t.description.clone(), t.value.clone()))
            .collect();
        assert!(
            extended.contains(&("BARCODE".into(), "5012345678900".into())),
            "{extended:?}"
        );
        let track_gain = extended
            .iter()
            .find(|(d, _)| d == "REPLAYGAIN_TRACK_GAIN")
            .expect("track gain")
            .1
            .clone();
        // The master reads -23 LUFS: +5 dB to the -18 LUFS reference.
        let gain: f64 = track_gain.trim_end_matches(" dB").parse().unwrap();
        assert!((gain - 5.0).abs() < 0.1, "{track_gain}");
        let picture = tag.pictures().next().expect("cover art");
        assert_eq!(picture.data, COVER);
        assert_eq!(picture.mime_type, "image/png");
    }
    // The broadcast WAV keeps its bext chunk beside the ID3 tag.
    let bytes = std::fs::read(project.path("out/f/broadcast/1.wav")).unwrap();
    assert_eq!(&bext_body(&bytes)[..21], b"The Examples - On Air");
}

#[test]
fn vorbis_comments_and_picture_round_trip_in_flac() {
    if !tools_available() {
        return;
    }
    let project = tagged_project();
    project.build_ok(&[]);
    let probe = ffprobe(&project, "out/f/flac/1.flac");
    let tags = &probe["format"]["tags"];
    let get = |key: &str| {
        tags[key]
            .as_str()
            .or_else(|| tags[key.to_lowercase()].as_str())
            .map(str::to_string)
    };
    assert_eq!(get("TITLE").as_deref(), Some("On Air"), "{tags}");
    assert_eq!(get("ISRC").as_deref(), Some("GBXYZ2600042"), "{tags}");
    assert_eq!(get("BARCODE").as_deref(), Some("5012345678900"), "{tags}");
    assert_eq!(
        get("track").or(get("TRACKNUMBER")).as_deref(),
        Some("1"),
        "{tags}"
    );
    assert!(get("REPLAYGAIN_ALBUM_GAIN").is_some(), "{tags}");
    let picture = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_name"] == "png");
    assert!(
        picture.is_some_and(|p| p["disposition"]["attached_pic"] == 1),
        "{probe}"
    );
    if let Ok(output) = Command::new("flac")
        .args(["-t", "-s"])
        .arg(project.path("out/f/flac/1.flac"))
        .output()
    {
        assert!(output.status.success(), "tagged FLAC fails flac -t");
    }
}

#[test]
fn retitling_or_a_new_isrc_retags_and_renders_no_audio() {
    let project = tagged_project();
    project.build_ok(&[]);
    let text = std::fs::read_to_string(project.path("bounce.kdl"))
        .unwrap()
        .replace("\"On Air\"", "\"On Air (Radio Edit)\"");
    project.write("bounce.kdl", &text);
    let log = project.build_ok(&[]);
    let built = log.built();
    assert!(
        !built.is_empty() && built.iter().all(|s| s.starts_with("tag:")),
        "{built:?}"
    );
    use id3::TagLike;
    let tag = id3::Tag::read_from_path(project.path("out/f/aiff/1.aiff")).unwrap();
    assert_eq!(tag.title(), Some("On Air (Radio Edit)"));
    // A corrected ISRC: tags again (and the bext reference), no audio.
    let text = std::fs::read_to_string(project.path("bounce.kdl"))
        .unwrap()
        .replace("GB-XYZ-26-00042", "GB-XYZ-26-00043");
    project.write("bounce.kdl", &text);
    let built = project.build_ok(&[]).built();
    assert!(
        !built.is_empty() && built.iter().all(|s| s.starts_with("tag:")),
        "{built:?}"
    );
    let tag = id3::Tag::read_from_path(project.path("out/f/mp3/1.mp3")).unwrap();
    let isrc = tag.get("TSRC").and_then(|f| f.content().text());
    assert_eq!(isrc, Some("GBXYZ2600043"));
    let bytes = std::fs::read(project.path("out/f/broadcast/1.wav")).unwrap();
    assert_eq!(&bext_body(&bytes)[288..300], b"GBXYZ2600043");
}

#[test]
fn a_cover_that_is_not_an_image_is_refused_at_check() {
    let project = tagged_project();
    std::fs::write(project.path("cover.png"), b"not a picture").unwrap();
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot be used: not a JPEG or PNG image"),
        "{stderr}"
    );
}

#[test]
fn stems_null_against_the_mix() {
    let project = TestProject::new();
    project
        .wav("kick.wav", 48000, 24, &sine(48000, 1, 60.0, 0.5, 2.0))
        .wav("snare.wav", 44100, 16, &sine(44100, 1, 200.0, 0.3, 1.5))
        .wav("keys.wav", 48000, 24, &sine(48000, 2, 440.0, 0.3, 2.5));
    project.write(
        "bounce.kdl",
        r#"
release "Stems" { version "s"; }
master "flat" { }
track 1 "Song" {
    stem "kick" "kick.wav" gain=-3
    stem "snare" "snare.wav" pan=0.3 { eq { highpass 100; }; }
    stem "keys" "keys.wav" offset=0.5 { reverb size=0.6 mix=0.3; }
    bus "drums" "kick" "snare" { compress threshold=-20 ratio=3; }
}
deliverable "mix" { master "flat"; format "wav" bits=32 float=#true; }
deliverable "stems" { stems "drums" "keys"; format "wav" bits=32 float=#true; }
"#,
    );
    project.build_ok(&[]);
    let (_, mix) = read_wav_f64(&project.path("out/s/mix/01 - Song.wav"));
    let (_, drums) = read_wav_f64(&project.path("out/s/stems/01 - Song - drums.wav"));
    let (_, keys) = read_wav_f64(&project.path("out/s/stems/01 - Song - keys.wav"));
    assert_eq!(
        drums[0].len(),
        mix[0].len(),
        "stems run the track's whole length from 0"
    );
    assert_eq!(keys[0].len(), mix[0].len());
    let mut worst = 0.0f64;
    for channel in 0..2 {
        for i in 0..mix[0].len() {
            worst = worst.max((drums[channel][i] + keys[channel][i] - mix[channel][i]).abs());
        }
    }
    let level = 20.0 * worst.max(1e-12).log10();
    assert!(level < -120.0, "stems minus mix peaks at {level:.1} dBFS");
    // The stems carry their own tags.
    use id3::TagLike;
    let tag = id3::Tag::read_from_path(project.path("out/s/stems/01 - Song - keys.wav")).unwrap();
    assert_eq!(tag.title(), Some("Song (keys)"));
}

#[test]
fn a_stems_deliverable_naming_no_stem_is_an_error() {
    let project = project();
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap()
        + "deliverable \"parts\" { stems \"mix\" \"vox\"; format \"wav\"; }\n";
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no track has a stem or bus \"vox\""),
        "{stderr}"
    );
    assert!(
        !stderr.contains("no track has a stem or bus \"mix\""),
        "{stderr}"
    );
}

#[test]
fn every_format_meets_target_and_ceiling_in_ffmpegs_meter() {
    if !tools_available() {
        return;
    }
    let project = project();
    project.build_ok(&[]);
    for file in [
        "broadcast/1.wav",
        "aiff/1.aiff",
        "wav/w1.wav",
        "flac/1.flac",
        "flac24/1.flac",
        "wav16/1.wav",
        "mp3/1.mp3",
        "mp3v/1.mp3",
    ] {
        let (loudness, true_peak) = ffmpeg_loudness(&project, &format!("out/f/{file}"));
        // MP3s may give up a little level to keep the ceiling decoded.
        let slack = if file.ends_with(".mp3") { 0.6 } else { 0.15 };
        assert!(
            (loudness + 23.0).abs() <= slack,
            "{file}: {loudness} LUFS against -23"
        );
        assert!(true_peak <= -1.0, "{file}: {true_peak} dBTP over -1");
    }
}

#[test]
fn mp3_is_gapless_at_its_bitrate_and_rate() {
    if !tools_available() {
        return;
    }
    let project = project();
    project.build_ok(&[]);
    let wav = analyze(&project, "out/f/wav/w1.wav");
    // An MP3 of a 48 kHz release is 44.1 kHz unless it says otherwise.
    let frames_at_44k1 = (wav["frames"].as_f64().unwrap() * 44100.0 / 48000.0).round();
    for (file, bitrate) in [("mp3/1.mp3", Some("320000")), ("mp3v/1.mp3", None)] {
        // symphonia, honouring LAME's info frame, decodes exactly the
        // master's frames at the file's rate: no encoder delay, no padding.
        let mp3 = analyze(&project, &format!("out/f/{file}"));
        assert_eq!(mp3["frames"].as_f64().unwrap(), frames_at_44k1, "{file}");
        assert!(mp3["true_peak"].as_f64().unwrap() <= -1.0, "{mp3}");
        let probe = ffprobe(&project, &format!("out/f/{file}"));
        let stream = &probe["streams"][0];
        assert_eq!(stream["codec_name"], "mp3", "{file}");
        assert_eq!(stream["sample_rate"], "44100", "{file}");
        if let Some(bitrate) = bitrate {
            assert_eq!(stream["bit_rate"], bitrate, "{file}");
        }
        // ffmpeg trims the same delay and padding.
        let seconds: f64 = probe["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let start: f64 = probe["format"]["start_time"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (seconds - start - wav["duration"].as_f64().unwrap()).abs() < 0.03,
            "{file}: {seconds} s from {start}"
        );
    }
}

#[test]
fn an_mp3_keeps_the_ceiling_on_its_decoded_audio_in_one_encode() {
    let project = TestProject::new();
    let rate = 44100;
    // Pink noise limited loud: a low-bitrate MP3 of it overshoots.
    let mut seed = 1u32;
    let mut poles = [0.0f64; 3];
    let noise: Vec<f64> = (0..rate * 4)
        .map(|_| {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let white = (seed >> 8) as f64 / (1u32 << 24) as f64 - 0.5;
            // Paul Kellet's economy pinking filter.
            poles[0] = 0.99765 * poles[0] + white * 0.0990460;
            poles[1] = 0.96300 * poles[1] + white * 0.2965164;
            poles[2] = 0.57000 * poles[2] + white * 1.0526913;
            0.1 * (poles.iter().sum::<f64>() + white * 0.1848)
        })
        .collect();
    project.wav("loud.wav", rate as u32, 24, &[noise.clone(), noise]);
    project.write(
        "bounce.kdl",
        r#"
release "Loud" { sample-rate 44100; version "l"; }
master "loud" target=-9 ceiling=-1.0 { }
track 1 "Hot" { stem "loud" "loud.wav" }
deliverable "mp3" { master "loud"; format "mp3" bitrate=96; path "{track}.{ext}"; }
"#,
    );
    let log = project.build_ok(&[]);
    let said = |field: &str| -> Vec<String> {
        log.steps
            .iter()
            .filter(|s| s["step"] == "deliverable:mp3:1")
            .flat_map(|s| s[field].as_array().cloned().unwrap_or_default())
            .map(|w| w.as_str().unwrap().to_string())
            .collect()
    };
    let (warnings, notes) = (said("warnings"), said("notes"));
    // The codec's overshoot was made room for under the ceiling, and the
    // loudness that took restored: a routine note (not a warning) says so,
    // in the manifest too, and no second encode at a lower level was needed.
    assert!(
        notes
            .iter()
            .any(|w| w.contains("room for the MP3 codec's overshoot")),
        "{notes:?}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.path("out/l/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["files"][0]["notes"].as_array().unwrap().len(),
        notes.len()
    );
    assert!(
        !warnings.iter().any(|w| w.starts_with("gain lowered by")),
        "{warnings:?}"
    );
    let decoded = analyze(&project, "out/l/1.mp3");
    assert!(decoded["true_peak"].as_f64().unwrap() <= -1.0, "{decoded}");
}

#[test]
fn mp3_refuses_what_it_cannot_carry() {
    let project = project();
    let text = std::fs::read_to_string(project.path("bounce.kdl"))
        .unwrap()
        .replace(
            r#"format "mp3" bitrate=320"#,
            r#"format "mp3" bitrate=300 rate=96000 bits=24"#,
        )
        .replace(
            r#"format "mp3" quality=2"#,
            r#"format "mp3" quality=2 bitrate=128"#,
        );
    project.write("bounce.kdl", &text);
    let output = project.run(&["check"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "300 kbit/s is not an MP3 bitrate bounce writes",
        "MP3 does not carry 96000 Hz",
        "MP3 has no `bits`",
        "an MP3 is either constant bitrate or VBR",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

/// The quality field of the info frame LAME writes first (after the ID3
/// tag): 100 − 10 × its VBR level − its `-q`.
fn lame_info_quality(bytes: &[u8]) -> i64 {
    let at = bytes
        .windows(4)
        .position(|w| w == b"Info" || w == b"Xing")
        .expect("an info frame");
    let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    let flags = word(at + 4);
    assert!(flags & 8 != 0, "the info frame carries its quality");
    let skipped: usize = [(1, 4), (2, 4), (4, 100)]
        .iter()
        .filter(|(flag, _)| flags & flag != 0)
        .map(|(_, size)| size)
        .sum();
    word(at + 8 + skipped) as i64
}

#[test]
fn lame_q_reaches_lame_and_the_manifest_records_each_mp3s_settings() {
    let project = project();
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap()
        + r#"deliverable "mp3q0" { master "r128"; format "mp3" lame-q=0; path "{deliverable}/{track}.{ext}"; }
"#;
    project.write("bounce.kdl", &text);
    project.build_ok(&["mp3", "mp3v", "mp3q0"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.path("out/f/manifest.json")).unwrap())
            .unwrap();
    let codec = |deliverable: &str| {
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["deliverable"] == deliverable)
            .map(|f| f["codec"].clone())
            .unwrap()
    };
    // LAME's own default search unless the project sets one.
    assert_eq!(codec("mp3"), "LAME 3.100 -b 320 -q 3");
    assert_eq!(codec("mp3v"), "LAME 3.100 -V 2 -q 3");
    assert_eq!(codec("mp3q0"), "LAME 3.100 -b 320 -q 0");
    // LAME itself says so in the delivered files' info frames, and the
    // slower search encodes other bytes.
    let default = std::fs::read(project.path("out/f/mp3/1.mp3")).unwrap();
    let slow = std::fs::read(project.path("out/f/mp3q0/1.mp3")).unwrap();
    assert_eq!(lame_info_quality(&slow) - lame_info_quality(&default), 3);
    assert_ne!(default, slow);
    let decoded = analyze(&project, "out/f/mp3q0/1.mp3");
    assert!(decoded["true_peak"].as_f64().unwrap() <= -1.0, "{decoded}");
    assert!(
        (decoded["integrated"].as_f64().unwrap() + 23.0).abs() <= 0.1,
        "{decoded}"
    );
    // A PCM format has no LAME to search with; the scale stops at 9.
    for (broken, expected) in [
        (
            text.replace(
                r#"format "wav" bits=24;"#,
                r#"format "wav" bits=24 lame-q=2;"#,
            ),
            "`lame-q` applies to MP3 only",
        ),
        (text.replace("lame-q=0", "lame-q=10"), "10 is out of range"),
    ] {
        project.write("bounce.kdl", &broken);
        let output = project.run(&["check"]);
        assert_eq!(output.status.code(), Some(2), "{expected}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

#[test]
fn album_replay_gain_measures_the_album_as_one_programme() {
    let project = TestProject::new();
    // A loud track and a very quiet one: the album's relative gate drops
    // the quiet one, which a mean of the tracks' figures would not.
    project.wav("loud.wav", 48000, 24, &sine(48000, 2, 1000.0, 0.5, 5.0));
    project.wav("quiet.wav", 48000, 24, &sine(48000, 2, 1000.0, 0.005, 5.0));
    project.write(
        "bounce.kdl",
        r#"
release "RG" { version "rg"; }
master "flat" { }
track 1 "Loud" { stem "a" "loud.wav" }
track 2 "Quiet" { stem "a" "quiet.wav" }
deliverable "wav" { master "flat"; format "wav" bits=24; path "{track}.{ext}"; }
"#,
    );
    project.build_ok(&[]);
    // Every gating block of every track gated together (ReplayGain 2.0, as
    // libebur128's loudness_global_multiple): the quiet track's blocks,
    // 40 dB under the loud one's, fall under the album's relative gate,
    // so the album reads as the loud track, measured by `bounce analyze`.
    let tracks: Vec<f64> = ["out/rg/1.wav", "out/rg/2.wav"]
        .iter()
        .map(|f| analyze(&project, f)["integrated"].as_f64().unwrap())
        .collect();
    let album = tracks[0];
    let mean = 10.0 * ((10f64.powf(tracks[0] / 10.0) + 10f64.powf(tracks[1] / 10.0)) / 2.0).log10();
    assert!(
        (album - mean).abs() > 1.0,
        "the test tells them apart: {album} vs {mean}"
    );
    for file in ["out/rg/1.wav", "out/rg/2.wav"] {
        let tag = id3::Tag::read_from_path(project.path(file)).unwrap();
        let gain = tag
            .extended_texts()
            .find(|t| t.description == "REPLAYGAIN_ALBUM_GAIN")
            .map(|t| t.value.trim_end_matches(" dB").parse::<f64>().unwrap())
            .unwrap();
        assert!(
            (gain - (-18.0 - album)).abs() < 0.02,
            "{file}: album gain {gain} for {album} LUFS"
        );
    }
}

#[test]
fn samples_clipped_to_an_integer_files_full_scale_are_reported() {
    let project = TestProject::new();
    // A 0.5 s sine at -1 dBFS, raised 6 dB by the stem's gain: +5 dBFS.
    project.wav("hot.wav", 48000, 24, &sine(48000, 2, 440.0, 0.891, 0.5));
    project.write(
        "bounce.kdl",
        r#"
release "Hot" { sample-rate 48000; version "h"; }
master "flat" { }
master "safe" ceiling=-1.0 { }
track 1 "Loud" { stem "hot" "hot.wav" gain=6 }
deliverable "pcm" { master "flat"; format "wav" bits=24; path "pcm.{ext}"; }
deliverable "float" { master "flat"; format "wav" bits=32 float=#true; path "float.{ext}"; }
deliverable "limited" { master "safe"; format "flac" bits=16; path "limited.{ext}"; }
"#,
    );
    let log = project.build_ok(&[]);
    let warnings = |step: &str| -> Vec<String> {
        log.steps
            .iter()
            .filter(|s| s["step"] == step)
            .flat_map(|s| s["warnings"].as_array().cloned().unwrap_or_default())
            .map(|w| w.as_str().unwrap().to_string())
            .collect()
    };
    // Every sample over full scale is counted, from the file itself.
    let (_, samples) = project.read_wav("out/h/pcm.wav");
    let full_scale = (1 << 23) - 1;
    let at_full_scale: usize = samples
        .iter()
        .map(|channel| channel.iter().filter(|s| s.abs() >= full_scale).count())
        .sum();
    let pcm = warnings("deliverable:pcm:1");
    assert_eq!(pcm.len(), 1, "{pcm:?}");
    let counted: usize = pcm[0].split(' ').next().unwrap().parse().unwrap();
    assert!(
        counted > 0 && counted <= at_full_scale,
        "{counted} reported, {at_full_scale} at full scale"
    );
    assert!(
        pcm[0].contains("peaks at +5.0") && pcm[0].contains("24-bit file's full scale"),
        "{pcm:?}"
    );
    // A float file holds the overs; a ceiling keeps them out.
    assert!(warnings("deliverable:float:1").is_empty());
    assert!(warnings("deliverable:limited:1").is_empty());
}

/// An ISRC names the recording: the track's file carries it, its stems do
/// not (in their tags and in the manifest).
#[test]
fn stems_carry_no_isrc() {
    let project = TestProject::new();
    project.wav("kick.wav", 48000, 24, &sine(48000, 1, 60.0, 0.5, 1.0));
    project.write(
        "bounce.kdl",
        r#"
release "Parts" { version "1"; }
master "m" { }
track 1 "One" {
    isrc "GB-XYZ-26-00042"
    stem "kick" "kick.wav"
}
deliverable "mix" { master "m"; format "wav" bits=24; path "{deliverable}.{ext}"; }
deliverable "parts" { stems "kick"; format "wav" bits=24; path "{deliverable}/{stem}.{ext}"; }
"#,
    );
    project.build_ok(&[]);
    let isrc = |file: &str| {
        use id3::TagLike;
        id3::Tag::read_from_path(project.path(&format!("out/1/{file}")))
            .unwrap()
            .get("TSRC")
            .and_then(|f| f.content().text().map(str::to_string))
    };
    assert_eq!(isrc("mix.wav").as_deref(), Some("GBXYZ2600042"));
    assert_eq!(isrc("parts/kick.wav"), None);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.path("out/1/manifest.json")).unwrap())
            .unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let expected = if file["path"] == "mix.wav" {
            "GBXYZ2600042"
        } else {
            ""
        };
        assert_eq!(file["isrc"].as_str().unwrap_or(""), expected, "{file}");
    }
}

/// Every sample of a decoded file, planar.
fn decoded_samples(path: &std::path::Path) -> [Vec<f32>; 2] {
    use bounce_nodes::BlockSource;
    let mut file = bounce_nodes::DecodedFile::open(path).unwrap();
    let (mut left, mut right) = (vec![0.0f32; 4096], vec![0.0f32; 4096]);
    let mut out = [Vec::new(), Vec::new()];
    loop {
        let n = file.read(&mut left, &mut right).unwrap();
        if n == 0 {
            return out;
        }
        out[0].extend_from_slice(&left[..n]);
        out[1].extend_from_slice(&right[..n]);
    }
}

/// A WAV and a FLAC of one master at one rate and depth carry the same
/// samples, dither included (it is seeded by where the samples come
/// from, not by the file): they null exactly, and one measurement serves
/// both.
#[test]
fn wav_and_flac_of_one_master_carry_the_same_samples() {
    let project = TestProject::new();
    project.wav("a.wav", 48000, 24, &sine(48000, 2, 1000.0, 0.5, 3.0));
    project.write(
        "bounce.kdl",
        r#"
release "Twins" { version "t"; }
master "m" target=-16 ceiling=-1.0 { }
track 1 "One" { stem "a" "a.wav" }
deliverable "wav" { master "m"; format "wav" bits=16 rate=44100; path "one.{ext}"; }
deliverable "flac" { master "m"; format "flac" bits=16 rate=44100; path "one.{ext}"; }
deliverable "aiff" { master "m"; format "aiff" bits=16 rate=44100; path "one.{ext}"; }
"#,
    );
    project.build_ok(&[]);
    let wav = decoded_samples(&project.path("out/t/one.wav"));
    assert!(wav[0].len() > 100_000);
    for other in ["out/t/one.flac", "out/t/one.aiff"] {
        assert!(
            decoded_samples(&project.path(other)) == wav,
            "{other} differs from the WAV"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.path("out/t/manifest.json")).unwrap())
            .unwrap();
    let loudness: Vec<f64> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["integrated_loudness"].as_f64().unwrap())
        .collect();
    assert!(loudness.windows(2).all(|w| w[0] == w[1]), "{loudness:?}");
}

/// An MP3 at a low bitrate at the release's own rate lands on its target:
/// LAME takes loudness off (about half a dB at 128 kbps), and the file is
/// raised through its own limiter until its decoded loudness is the
/// target, its true peak still under the ceiling.
#[test]
fn a_low_bitrate_mp3_is_raised_to_its_target() {
    let project = TestProject::new();
    // Noise with a falling spectrum: what a codec thins out.
    let mut state = 7u64;
    let mut lowpassed = 0.0;
    let noise: Vec<f64> = (0..44100 * 8)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let white = ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
            lowpassed = 0.9 * lowpassed + 0.1 * white;
            (0.2 * white + 1.0 * lowpassed).clamp(-0.99, 0.99)
        })
        .collect();
    project.wav("noise.wav", 44100, 24, &[noise.clone(), noise]);
    project.write(
        "bounce.kdl",
        r#"
release "Low" { sample-rate 44100; version "l"; }
master "m" target=-16 ceiling=-1.0 { }
track 1 "Noise" { stem "n" "noise.wav" }
deliverable "mp3" { master "m"; format "mp3" bitrate=96; path "low.{ext}"; }
"#,
    );
    project.build_ok(&[]);
    let measured = analyze(&project, "out/l/low.mp3");
    let loudness = measured["integrated"].as_f64().unwrap();
    let peak = measured["true_peak"].as_f64().unwrap();
    assert!((loudness + 16.0).abs() <= 0.1, "{loudness} LUFS");
    assert!(peak <= -1.0, "{peak} dBTP");
}

#[test]
fn a_stems_deliverable_says_which_tracks_lack_a_name() {
    let project = three_track_project();
    // Track 3 has no drums bus.
    let text = THREE_TRACKS.replacen(
        "    bus \"drums\" \"kick\" \"snare\"\n}\n\n",
        "    bus \"drums\" \"kick\" \"snare\"\n}\n",
        0,
    );
    let at = text.find("track 3 \"Three\"").unwrap();
    let (head, tail) = text.split_at(at);
    let tail = tail.replacen("    bus \"drums\" \"kick\" \"snare\"\n", "", 1);
    project.write(
        "bounce.kdl",
        &format!(
            "{head}{tail}deliverable \"parts\" {{ stems \"drums\" \"keys\"; format \"wav\"; }}\n"
        ),
    );
    let said = "deliverable \"parts\" writes no \"drums\" for track 3 (\"Three\"), which has no stem or bus of that name";
    let check = project.run(&["check"]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{stderr}");
    assert!(stderr.contains(said), "{stderr}");
    assert!(
        !stderr.contains("track 1 (") && !stderr.contains("track 2 ("),
        "{stderr}"
    );
    let log = project.build_ok(&[]);
    assert!(String::from_utf8_lossy(&log.output.stderr).contains(said));
    assert!(!project
        .path("out/1.0.0/parts/03 - Three - drums.wav")
        .exists());
    assert!(project
        .path("out/1.0.0/parts/03 - Three - keys.wav")
        .is_file());
}

#[test]
fn an_mp3_left_under_its_target_says_the_room_kept_for_the_encoder() {
    let project = TestProject::new();
    // White noise: the top octave a 64 kbit/s encoder drops is loud in it.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let channels: Vec<Vec<f64>> = (0..2)
        .map(|_| (0..48000 * 3).map(|_| noise()).collect())
        .collect();
    project.wav("noise.wav", 48000, 24, &channels);
    project.write(
        "bounce.kdl",
        "release \"P\" { version \"1\"; }\nmaster \"m\" target=-8 ceiling=-1.0 { }\n\
         track 1 \"T\" { stem \"a\" \"noise.wav\"; }\n\
         deliverable \"pod\" { master \"m\"; format \"mp3\" bitrate=64; }\n",
    );
    let output = project.run(&["build"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("under its master"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.path("out/1/manifest.json")).unwrap())
            .unwrap();
    let peak = manifest["files"][0]["true_peak"].as_f64().unwrap();
    assert!(
        line.contains(&format!("the file peaks at {peak:.1} dBTP")),
        "{line} ({peak})"
    );
    assert!(
        line.contains(&format!(
            "{:.1} dB under it: the room kept for the encoder's overshoot",
            -1.0 - peak
        )),
        "{line}"
    );
}
