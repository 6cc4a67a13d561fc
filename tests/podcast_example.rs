//! The podcast example in `projects/podcast` builds as written, and what
//! it delivers is what it says, measured apart from bounce: the episode's
//! level (ffmpeg's ebur128), its chapters (ffprobe), its feed
//! (feedparser), and the two voices, recorded 12 dB apart, within a LU
//! of each other (ffmpeg's short-term loudness of each turn).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// A copy of `projects/podcast` without its outputs or cache, built.
fn built_example() -> TestProject {
    let project = TestProject::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("projects/podcast");
    std::fs::copy(source.join("bounce.kdl"), project.path("bounce.kdl")).unwrap();
    std::fs::create_dir_all(project.path("sources")).unwrap();
    for entry in std::fs::read_dir(source.join("sources")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flac") {
            std::fs::copy(
                &path,
                project.path(&format!(
                    "sources/{}",
                    path.file_name().unwrap().to_str().unwrap()
                )),
            )
            .unwrap();
        }
    }
    project.build_ok(&[]);
    project
}

const MP3: &str = "out/1/episode/01 - How a record is made.mp3";
const FLAC: &str = "out/1/archive/01 - How a record is made.flac";

#[test]
fn the_episode_is_at_its_level_as_decoded() {
    if !tool_available("ffmpeg", "-version") {
        return;
    }
    let project = built_example();
    let (mono, _, mono_peak) = ffmpeg_ebur128(&project.path(MP3));
    let (stereo, _, stereo_peak) = ffmpeg_ebur128(&project.path(FLAC));
    eprintln!("example: MP3 {mono} LUFS {mono_peak} dBTP, FLAC {stereo} LUFS {stereo_peak} dBTP");
    // ffmpeg prints one decimal.
    assert!(
        (mono + 19.0).abs() <= 0.2 + 0.05,
        "the mono MP3 reads {mono} LUFS"
    );
    assert!(
        (stereo + 16.0).abs() <= 0.1 + 0.05,
        "the stereo FLAC reads {stereo} LUFS"
    );
    assert!(mono_peak <= -1.0 && stereo_peak <= -1.0);
}

#[test]
fn the_episodes_chapters_and_feed_are_what_players_read() {
    if !tool_available("ffprobe", "-version") {
        return;
    }
    let project = built_example();
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_chapters"])
        .arg(project.path(MP3))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let chapters: Vec<(f64, String)> = json["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let start = c["start_time"].as_str().unwrap().parse::<f64>().unwrap();
            (start, c["tags"]["title"].as_str().unwrap().to_string())
        })
        .collect();
    let want = [
        (0.0, "Welcome"),
        (12.6, "Twenty years of renders"),
        (20.8, "A word from our sponsor"),
        (26.9, "Loudness and the services"),
        (41.9, "Goodbye"),
    ];
    assert_eq!(chapters.len(), want.len(), "{chapters:?}");
    for ((start, title), (want_start, want_title)) in chapters.iter().zip(want) {
        assert_eq!(title, want_title);
        assert!((start - want_start).abs() < 0.001, "{title} at {start}");
    }
    if !python_module_available("feedparser") {
        return;
    }
    let script = "import sys, feedparser; d = feedparser.parse(sys.argv[1]); e = d.entries[0]; print(d.bozo, len(d.entries), e.enclosures[0].length, e.itunes_duration)";
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(project.path("out/1/episode/feed.xml"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    let size = std::fs::metadata(project.path(MP3)).unwrap().len();
    assert_eq!(said.trim(), format!("False 1 {size} 0:00:55"), "{said}");
}

#[test]
fn host_and_guest_are_levelled_within_a_lu() {
    if !tool_available("ffmpeg", "-version") {
        return;
    }
    let project = built_example();
    // The raw recordings: the guest far under the host.
    let (host_raw, _, _) = ffmpeg_ebur128(&project.path("sources/host.flac"));
    let (guest_raw, _, _) = ffmpeg_ebur128(&project.path("sources/guest.flac"));
    assert!(
        host_raw - guest_raw > 8.0,
        "host {host_raw}, guest {guest_raw} LUFS as recorded"
    );
    // Each turn on the episode's timeline (seconds): host, guest, host,
    // guest, host.
    let turns = [
        (5.5, 12.6),
        (13.1, 20.0),
        (27.2, 33.1),
        (33.7, 41.3),
        (41.9, 47.0),
    ];
    let readings = ffmpeg_short_term(&project.path(FLAC));
    let medians: Vec<f64> = turns
        .iter()
        .map(|&(from, to)| {
            let mut inside: Vec<f64> = readings
                .iter()
                .filter(|(t, _)| t - 3.0 >= from && *t <= to)
                .map(|&(_, v)| v)
                .collect();
            inside.sort_by(f64::total_cmp);
            inside[inside.len() / 2]
        })
        .collect();
    eprintln!("example: each turn's median short-term loudness {medians:.1?} LUFS");
    let spread = medians.iter().copied().fold(f64::MIN, f64::max)
        - medians.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        spread < 1.0,
        "the turns differ by {spread:.2} LU: {medians:?}"
    );
}

/// The README's excerpt of the example is the example's own text, so it
/// builds as written (the test above builds the whole file).
#[test]
fn the_readmes_excerpt_is_the_examples_text() {
    let readme = include_str!("../README.md");
    let project = include_str!("../projects/podcast/bounce.kdl");
    let section = &readme[readme.find("## A podcast episode").expect("the section")..];
    let start = section.find("```kdl\n").expect("its excerpt") + "```kdl\n".len();
    let excerpt = &section[start..start + section[start..].find("```").unwrap()];
    let lines: Vec<&str> = project.lines().map(str::trim).collect();
    for line in excerpt.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(
            lines.contains(&line),
            "the README's line {line:?} is not in projects/podcast/bounce.kdl"
        );
    }
}
