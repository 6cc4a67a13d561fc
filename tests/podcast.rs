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

/// ffprobe's chapters of a file: (start s, end s, title).
fn ffprobe_chapters(path: &std::path::Path) -> Vec<(f64, f64, String)> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_chapters"])
        .arg(path)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let time = |k: &str| c[k].as_str().unwrap().parse::<f64>().unwrap();
            (
                time("start_time"),
                time("end_time"),
                c["tags"]["title"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const EPISODES: &str = r#"release "The Example Show" {
    artist "Example Hosts"
    version "1"
    description "Two people talk about making records."
    language "en"
    category "Technology"
}
master "episode" target=-16 ceiling=-1 { }
track 1 "Pilot" {
    date "2026-11-30"
    description "Where it starts."
    episode 1
    stem "voices" "voices.wav"
    chapter "Welcome" at=0
    chapter "The studio" at="0:04.5" url="https://example.com/studio"
    chapter "Goodbye" at=9.25
}
track 2 "Second & last" {
    date "2026-12-07"
    episode 2
    explicit #true
    stem "voices" "voices.wav" start=2
}
deliverable "mp3" {
    master "episode"
    format "mp3" bitrate=128 channels=1
    standard "podcast"
    feed base-url="https://example.com/show/1" image="https://example.com/art.jpg"
}
deliverable "flac" {
    master "episode"
    format "flac" bits=16
}
"#;

#[test]
fn chapters_are_where_players_read_them() {
    if !tool_available("ffprobe", "-version") {
        return;
    }
    let project = TestProject::new();
    two_voices(&project);
    project.write("bounce.kdl", EPISODES);
    project.build_ok(&[]);
    let want = [
        (0.0, 4.5, "Welcome"),
        (4.5, 9.25, "The studio"),
        (9.25, 12.0, "Goodbye"),
    ];
    for file in ["mp3/01 - Pilot.mp3", "flac/01 - Pilot.flac"] {
        let path = project.path(&format!("out/1/{file}"));
        let got = ffprobe_chapters(&path);
        assert_eq!(got.len(), want.len(), "{file}: {got:?}");
        for ((start, end, title), (want_start, want_end, want_title)) in got.iter().zip(want) {
            assert_eq!(title, want_title, "{file}");
            assert!(
                (start - want_start).abs() < 0.001,
                "{file}: {title} at {start}"
            );
            // FLAC's Vorbis chapters have no end: ffprobe ends each at the next.
            assert!(
                (end - want_end).abs() < 0.05,
                "{file}: {title} ends at {end}"
            );
        }
    }
    // Players ignore CHAP frames no CTOC lists.
    let tag = id3::Tag::read_from_path(project.path("out/1/mp3/01 - Pilot.mp3")).unwrap();
    let toc: Vec<_> = tag.tables_of_contents().collect();
    assert_eq!(toc.len(), 1);
    assert!(toc[0].top_level && toc[0].ordered);
    assert_eq!(toc[0].elements, ["chp0", "chp1", "chp2"]);
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(project.path("out/1/mp3/01 - Pilot.chapters.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["version"], "1.2.0");
    assert_eq!(json["chapters"][1]["startTime"], 4.5);
    assert_eq!(json["chapters"][1]["url"], "https://example.com/studio");
    // An episode without chapters has no chapters file.
    assert!(!project
        .path("out/1/mp3/02 - Second & last.chapters.json")
        .exists());
}

#[test]
fn the_feed_lists_each_episode_as_built() {
    if !python_module_available("feedparser") {
        return;
    }
    let project = TestProject::new();
    two_voices(&project);
    project.write("bounce.kdl", EPISODES);
    project.build_ok(&[]);
    let script = r#"
import json, sys, feedparser
import xml.etree.ElementTree as ET
d = feedparser.parse(sys.argv[1])
# feedparser maps only the old "yes" to True; Apple's spec now writes
# itunes:explicit as true or false, read here from the XML itself.
itunes = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
items = ET.parse(sys.argv[1]).getroot().find("channel").findall("item")
explicit = [i.findtext(itunes + "explicit") for i in items]
print(json.dumps({
    "bozo": d.bozo,
    "title": d.feed.title,
    "image": d.feed.image.href,
    "entries": [{
        "title": e.title,
        "id": e.id,
        "href": e.enclosures[0].href,
        "length": int(e.enclosures[0].length),
        "type": e.enclosures[0].type,
        "duration": e.itunes_duration,
        "episode": e.get("itunes_episode"),
        "explicit": explicit[n],
        "published": e.published,
    } for n, e in enumerate(d.entries)],
}))
"#;
    let parse = || -> serde_json::Value {
        let output = Command::new("python3")
            .args(["-c", script])
            .arg(project.path("out/1/mp3/feed.xml"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let feed = parse();
    assert_eq!(
        feed["bozo"], false,
        "feedparser found the feed malformed: {feed}"
    );
    assert_eq!(feed["title"], "The Example Show");
    assert_eq!(feed["image"], "https://example.com/art.jpg");
    let entries = feed["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for (entry, file) in entries
        .iter()
        .zip(["01 - Pilot.mp3", "02 - Second & last.mp3"])
    {
        let size = std::fs::metadata(project.path(&format!("out/1/mp3/{file}")))
            .unwrap()
            .len();
        assert_eq!(
            entry["length"], size,
            "{file}: the enclosure's length is the file's size"
        );
        assert_eq!(entry["type"], "audio/mpeg");
        let href = entry["href"].as_str().unwrap();
        assert!(
            href.starts_with("https://example.com/show/1/mp3/0"),
            "{href}"
        );
        assert!(
            !href.contains(' ') && !href[8..].contains('&'),
            "{href} is not encoded"
        );
    }
    assert_eq!(entries[0]["duration"], "0:00:12");
    assert_eq!(entries[1]["duration"], "0:00:10");
    assert_eq!(entries[1]["explicit"], "true");
    assert_eq!(entries[0]["explicit"], serde_json::Value::Null);
    assert_eq!(entries[0]["published"], "Mon, 30 Nov 2026 00:00:00 +0000");
    // A chapter's new title re-tags: no audio renders, and the episode
    // keeps its GUID.
    let edited = EPISODES.replace("\"The studio\"", "\"In the studio\"");
    project.write("bounce.kdl", &edited);
    let log = project.build_ok(&[]);
    let rendered = log.rendered();
    assert!(
        rendered
            .iter()
            .all(|s| s.starts_with("tag:") || s.starts_with("chapters:") || s.starts_with("feed:")),
        "{rendered:?}"
    );
    assert!(rendered.contains("feed:mp3"), "{rendered:?}");
    let again = parse();
    assert_eq!(again["entries"][0]["id"], feed["entries"][0]["id"]);
    assert_ne!(again["entries"][0]["length"], serde_json::Value::Null);
}

#[test]
fn podcast_fields_are_checked_where_they_are_written() {
    let project = TestProject::new();
    two_voices(&project);
    let cases = [
        (
            "chapter \"B\" at=5\n    chapter \"A\" at=2",
            "chapter \"A\" starts at 2 s, not after \"B\" at 5 s",
        ),
        ("date \"2026-02-30\"", "\"2026-02-30\" is not a date"),
        ("chapter \"A\"", "a chapter needs `at=`"),
    ];
    for (line, said) in cases {
        project.write(
            "bounce.kdl",
            &format!(
                "release \"R\" {{ version \"1\"; }}\nmaster \"m\" {{ }}\ntrack 1 \"T\" {{\n    stem \"v\" \"voices.wav\"\n    {line}\n}}\ndeliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n"
            ),
        );
        project.expect(&["check"]).status(2).stderr_has(said);
    }
    let cut = |cuts: &str| {
        format!("release \"R\" {{ version \"1\"; }}\nmaster \"m\" {{ }}\ntrack 1 \"T\" {{\n    stem \"v\" \"voices.wav\" start=1 {{\n        {cuts}\n    }}\n}}\ndeliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n")
    };
    for (cuts, said) in [
        (
            "cut from=2 to=2.005",
            "is shorter than its 0.01 s crossfade",
        ),
        (
            "cut from=0.5 to=2",
            "starts less than a crossfade (0.01 s) after 1 s",
        ),
        (
            "cut from=4 to=5\n        cut from=3 to=3.5",
            "starts less than a crossfade (0.01 s) after 5 s",
        ),
        ("cut from=4", "a cut needs `from=` and `to=`"),
    ] {
        project.write("bounce.kdl", &cut(cuts));
        project.expect(&["check"]).status(2).stderr_has(said);
    }
    project.write(
        "bounce.kdl",
        "release \"R\" { version \"1\"; }\nmaster \"m\" { }\ntrack 1 \"T\" { stem \"v\" \"voices.wav\"; }\ndeliverable \"d\" {\n    stems \"v\"\n    format \"wav\"\n    feed base-url=\"https://example.com/\"\n}\n",
    );
    project
        .expect(&["check"])
        .status(2)
        .stderr_has("a feed lists a master's files as episodes");
}

/// Clicks of 0.5 at each of `seconds` in a silent stereo source `length`
/// seconds long at 48 kHz.
fn clicks(project: &TestProject, name: &str, length: f64, seconds: &[f64]) {
    let frames = (length * 48000.0) as usize;
    let mut signal = vec![vec![0.0; frames], vec![0.0; frames]];
    for s in seconds {
        let at = (s * 48000.0) as usize;
        signal[0][at] = 0.5;
        signal[1][at] = 0.5;
    }
    project.wav(name, 48000, 24, &signal);
}

/// The frames of `channel` louder than 0.1.
fn peaks(channel: &[f64]) -> Vec<usize> {
    (0..channel.len())
        .filter(|&i| channel[i].abs() > 0.1)
        .collect()
}

const CUTS: &str = r#"release "Cuts" {
    version "1"
}
master "raw" { }
track 1 "Edited" {
    stem "host" "host.wav" start=1 at=0.5 {
        cut from=3 to=4.5
        cut from="0:06.0" to="0:06.5"
    }
}
track 2 "Untouched" {
    stem "guest" "guest.wav"
}
deliverable "d" {
    master "raw"
    format "wav" bits=32 float=#true
}
"#;

#[test]
fn cuts_remove_regions_with_a_crossfade_and_keep_every_sample_in_place() {
    let project = TestProject::new();
    // Clicks at 2 s, 5 s and 8 s of the host's source.
    clicks(&project, "host.wav", 10.0, &[2.0, 5.0, 8.0]);
    clicks(&project, "guest.wav", 3.0, &[1.0]);
    project.write("bounce.kdl", CUTS);
    project.build_ok(&[]);
    let (_, out) = read_wav_f64(&project.path("out/1/d/01 - Edited.wav"));
    // Placed at 0.5 s, from 1 s of the source, 1.5 s and 0.5 s cut out.
    let frame = |s: f64| (s * 48000.0) as usize;
    assert_eq!(out[0].len(), frame(0.5 + 9.0 - 2.0));
    let want = [0.5 + 1.0, 0.5 + 4.0 - 1.5, 0.5 + 7.0 - 2.0].map(frame);
    assert_eq!(peaks(&out[0]), want, "each click where the cuts put it");
    // At a seam the click's level is the crossfade's there: whole, as
    // these clicks lie far from the seams.
    assert!(want.iter().all(|&i| (out[0][i] - 0.5).abs() < 1e-6));

    // Moving a cut renders that stem's track again, and not the other.
    project.write(
        "bounce.kdl",
        &CUTS.replace("cut from=3 to=4.5", "cut from=3 to=4.25"),
    );
    let log = project.build_ok(&[]);
    let rendered = log.rendered();
    assert!(rendered.contains("stem:1:host"), "{rendered:?}");
    assert!(
        rendered
            .iter()
            .all(|s| !s.contains(":2") || s.starts_with("replaygain")),
        "track 2 rendered again: {rendered:?}"
    );
    let (_, out) = read_wav_f64(&project.path("out/1/d/01 - Edited.wav"));
    assert_eq!(peaks(&out[0])[1], frame(0.5 + 4.0 - 1.25));
}

#[test]
fn a_stems_fades_shape_its_ends() {
    let project = TestProject::new();
    project.wav("tone.wav", 48000, 24, &sine(48000, 2, 1000.0, 0.5, 4.0));
    project.write(
        "bounce.kdl",
        r#"release "Fades" {
    version "1"
}
master "raw" { }
track 1 "Bed" {
    stem "bed" "tone.wav" fade-in=0.5 fade-out=1
}
deliverable "d" {
    master "raw"
    format "wav" bits=32 float=#true
}
"#,
    );
    project.build_ok(&[]);
    let (_, out) = read_wav_f64(&project.path("out/1/d/01 - Bed.wav"));
    let level = |from: f64, to: f64| {
        let slice = &out[0][(from * 48000.0) as usize..(to * 48000.0) as usize];
        slice.iter().fold(0.0f64, |m, x| m.max(x.abs()))
    };
    // Centre-panned stereo stays whole (a balance, unity at 0).
    assert!(level(0.0, 0.01) < 0.01, "the fade-in starts from silence");
    assert!(
        (level(0.6, 2.9) - 0.5).abs() < 1e-3,
        "the middle is untouched"
    );
    assert!(level(3.99, 4.0) < 0.01, "the fade-out ends in silence");
    // Half-way through the fade-in, a raised cosine is at half.
    assert!(
        (level(0.245, 0.255) - 0.25).abs() < 0.01,
        "{}",
        level(0.245, 0.255)
    );
}

#[test]
fn a_duck_listens_to_stems_of_its_track_that_duck_nothing() {
    let project = TestProject::new();
    two_voices(&project);
    let with = |track: &str| {
        format!("release \"R\" {{ version \"1\"; }}\nmaster \"m\" {{ }}\ntrack 1 \"T\" {{\n{track}\n}}\ndeliverable \"d\" {{ master \"m\"; format \"wav\"; }}\n")
    };
    for (track, said) in [
        ("    stem \"bed\" \"voices.wav\" { duck \"host\"; }", "duck names \"host\", which is no stem that plays in track 1"),
        ("    stem \"bed\" \"voices.wav\" { duck \"bed\"; }", "\"bed\" cannot duck under itself"),
        (
            "    stem \"a\" \"voices.wav\" { duck \"b\"; }\n    stem \"b\" \"voices.wav\" { duck \"a\"; }",
            "ducks under others itself",
        ),
        (
            "    stem \"a\" \"voices.wav\"\n    mix { duck \"a\"; }",
            "a duck belongs in the chain of a stem or bus",
        ),
        ("    stem \"bed\" \"voices.wav\" { duck depth=-6; }", "duck needs the stems it ducks under"),
    ] {
        project.write("bounce.kdl", &with(track));
        project.expect(&["check"]).status(2).stderr_has(said);
    }
}

/// docs/language.md's example of an edited stem builds as written.
#[test]
fn the_references_edited_stem_builds_as_written() {
    let docs = include_str!("../docs/language.md");
    let example = docs
        .split("```kdl\n")
        .map(|block| block.split("```").next().unwrap())
        .find(|block| block.starts_with("stem \"host\""))
        .expect("the edited stem's example in docs/language.md");
    let project = TestProject::new();
    // A minute of a voice-like tone with a quiet room before it.
    let rate = 48000;
    let frames = 60 * rate;
    let host: Vec<f64> = (0..frames)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let room = 0.001 * (t * 7919.0).sin();
            if t < 2.0 {
                room
            } else {
                room + 0.3 * (std::f64::consts::TAU * 180.0 * t).sin()
            }
        })
        .collect();
    project.wav("host.wav", rate as u32, 24, &[host]);
    project.write(
        "bounce.kdl",
        &format!(
            "release \"R\" {{ version \"1\"; }}\nmaster \"m\" {{ }}\ntrack 1 \"T\" {{\n{example}}}\ndeliverable \"d\" {{ master \"m\"; format \"wav\" bits=32 float=#true; }}\n"
        ),
    );
    project.build_ok(&[]);
    let (_, out) = read_wav_f64(&project.path("out/1/d/01 - T.wav"));
    // At 12 s, from 2.5 s of the source, 2.5 s and 1.2 s cut out.
    let seconds = out[0].len() as f64 / 48000.0;
    assert!(
        (seconds - (12.0 + 60.0 - 2.5 - 2.5 - 1.2)).abs() < 1e-3,
        "{seconds} s"
    );
}
