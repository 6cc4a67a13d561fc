//! Build behaviour through the binary: what renders, what is cached, what
//! is written.

mod common;

use std::collections::BTreeSet;

use common::*;

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn first_build_renders_everything_and_second_nothing() {
    let project = three_track_project();
    let first = project.build_ok(&[]);
    // 3 tracks × (3 sources + 3 stems + 1 bus + 1 mix + 1 master
    // + 1 resample to 44.1 kHz and its fit + 2 deliverables + 2 tag
    // steps), and an album ReplayGain step for each of the 2 deliverables.
    assert_eq!(first.all().len(), 47);
    assert_eq!(
        first.built(),
        first.all(),
        "a cold build renders every step"
    );
    assert_eq!(first.summary["built"], 47);
    for step in &first.steps {
        for field in ["step", "kind", "track", "status", "ms"] {
            assert!(
                !step[field].is_null() || field == "track",
                "{field} missing in {step}"
            );
        }
    }
    let second = project.build_ok(&[]);
    assert!(second.built().is_empty(), "rebuilt: {:?}", second.built());
    assert_eq!(second.cached().len(), 47);
    assert_eq!(second.summary["written"].as_array().unwrap().len(), 0);
}

#[test]
fn one_gain_change_renders_only_that_stems_path() {
    let project = three_track_project();
    project.build_ok(&[]);
    let edited = THREE_TRACKS.replacen(
        r#"stem "snare" "stems/2/snare.wav" pan=0.2"#,
        r#"stem "snare" "stems/2/snare.wav" pan=0.2 gain=-1"#,
        1,
    );
    project.write("bounce.kdl", &edited);
    let log = project.build_ok(&[]);
    let path = set(&[
        "stem:2:snare",
        "bus:2:drums",
        "mix:2",
        "master:main:2",
        "deliverable:hi:2",
        "resample:main:2:44100",
        "fit:main:2:44100",
        "deliverable:lo:2",
        "tag:hi:2",
        "tag:lo:2",
        "replaygain:hi",
        "replaygain:lo",
    ]);
    assert_only_this_track_renders(&log, &path);
    // Track 2's files change; another track's file only if its album
    // ReplayGain tag did.
    let written: Vec<String> = log.summary["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(
        written.iter().filter(|p| p.contains("02 - Two")).count() == 2,
        "{written:?}"
    );
    for other in ["01 - One", "03 - Three"] {
        let retagged = log
            .built()
            .iter()
            .any(|s| s.starts_with("tag:") && s.ends_with(&other[1..2]));
        assert!(
            retagged || !written.iter().any(|p| p.contains(other)),
            "{other} rewritten: {written:?}"
        );
    }
    assert!(written.iter().any(|p| p.ends_with("manifest.json")));
}

/// Exactly `path` renders, plus at most the re-tagging of other tracks
/// (when the album's ReplayGain figures moved): no audio of another track.
fn assert_only_this_track_renders(log: &BuildLog, path: &BTreeSet<String>) {
    let built = log.built();
    assert!(
        built.is_superset(path),
        "missing: {:?}",
        path.difference(&built).collect::<Vec<_>>()
    );
    let extra: Vec<&String> = built.difference(path).collect();
    assert!(
        extra.iter().all(|s| s.starts_with("tag:")),
        "other tracks' audio rendered: {extra:?}"
    );
}

#[test]
fn resaving_a_stem_with_identical_audio_renders_nothing() {
    let project = three_track_project();
    project.build_ok(&[]);
    // The same audio written again: new inode, new mtime, same bytes.
    let path = project.path("stems/1/kick.wav");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    assert!(project.build_ok(&[]).rendered().is_empty());

    // The same audio in a file with other bytes: an extra chunk hound skips.
    let mut reencoded = bytes.clone();
    let junk = b"JUNK\x04\x00\x00\x00abcd";
    reencoded.splice(12..12, junk.iter().copied());
    let riff_size = (reencoded.len() - 8) as u32;
    reencoded[4..8].copy_from_slice(&riff_size.to_le_bytes());
    std::fs::write(&path, &reencoded).unwrap();
    let log = project.build_ok(&[]);
    assert_eq!(
        log.built(),
        set(&["source:1:kick"]),
        "only the file is re-read"
    );
}

#[test]
fn editing_a_comment_renders_nothing() {
    let project = three_track_project();
    project.build_ok(&[]);
    let edited = format!("// mix notes: more air on the keys\n{THREE_TRACKS}")
        .replace("width 1.1", "width 1.1 // glue");
    project.write("bounce.kdl", &edited);
    assert!(project.build_ok(&[]).built().is_empty());
}

#[test]
fn changing_a_stem_file_renders_its_path_only() {
    let project = three_track_project();
    project.build_ok(&[]);
    project.wav(
        "stems/3/keys.wav",
        44100,
        16,
        &sine(44100, 2, 440.0, 0.25, 1.2),
    );
    let log = project.build_ok(&[]);
    let path = set(&[
        "source:3:keys",
        "stem:3:keys",
        "mix:3",
        "master:main:3",
        "deliverable:hi:3",
        "resample:main:3:44100",
        "fit:main:3:44100",
        "deliverable:lo:3",
        "tag:hi:3",
        "tag:lo:3",
        "replaygain:hi",
        "replaygain:lo",
    ]);
    assert_only_this_track_renders(&log, &path);
}

#[test]
fn thread_count_does_not_change_a_byte() {
    let one = three_track_project();
    let two = three_track_project();
    one.build_ok(&["-j", "1"]);
    two.build_ok(&["-j", "2"]);
    for name in [
        "hi/01 - One.wav",
        "hi/03 - Three.wav",
        "lo/02 - Two.wav",
        "manifest.json",
    ] {
        let a = std::fs::read(one.path(&format!("out/1.0.0/{name}"))).unwrap();
        let b = std::fs::read(two.path(&format!("out/1.0.0/{name}"))).unwrap();
        assert!(a == b, "{name} differs between -j 1 and -j 2");
    }
}

#[test]
fn unchanged_outputs_are_not_rewritten() {
    let project = three_track_project();
    project.build_ok(&[]);
    let file = project.path("out/1.0.0/hi/01 - One.wav");
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    let manifest_before = std::fs::metadata(project.path("out/1.0.0/manifest.json"))
        .unwrap()
        .modified()
        .unwrap();
    // Drop the cache: everything re-renders to the same bytes.
    std::fs::remove_dir_all(project.path(".bounce")).unwrap();
    let log = project.build_ok(&[]);
    assert_eq!(log.built().len(), 47);
    assert_eq!(log.summary["written"].as_array().unwrap().len(), 0);
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before
    );
    let manifest_after = std::fs::metadata(project.path("out/1.0.0/manifest.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(manifest_after, manifest_before);
}

#[test]
fn a_target_builds_only_what_it_needs() {
    let project = three_track_project();
    let log = project.build_ok(&["lo:2"]);
    // The file needs its album's ReplayGain, so the deliverable's other
    // tracks are encoded (not tagged, not published); nothing of "hi" runs.
    assert!(log.all().contains("tag:lo:2"));
    assert!(!log.all().iter().any(|s| s == "tag:lo:1" || s == "tag:lo:3"));
    assert!(
        !log.all().iter().any(|s| s.contains(":hi")),
        "{:?}",
        log.all()
    );
    assert!(project.path("out/1.0.0/lo/02 - Two.wav").is_file());
    assert!(!project.path("out/1.0.0/lo/01 - One.wav").exists());

    let unknown = project.run(&["build", "loo"]);
    assert_eq!(unknown.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown target \"loo\"") && stderr.contains("did you mean \"lo\""),
        "{stderr}"
    );
}

#[test]
fn dry_run_names_the_stale_steps_and_renders_nothing() {
    let project = three_track_project();
    project.build_ok(&[]);
    project.write(
        "bounce.kdl",
        &THREE_TRACKS.replace("loudness -18", "loudness -17"),
    );
    let log = project.build_ok(&["--dry-run"]);
    let stale: BTreeSet<String> = log
        .steps
        .iter()
        .filter(|s| s["status"] == "stale")
        .map(|s| s["step"].as_str().unwrap().to_string())
        .collect();
    // 3 masters, 3 resamples, 3 fits, 6 encodes, 6 tag steps and 2
    // album ReplayGain steps.
    assert_eq!(stale.len(), 23, "{stale:?}");
    let downstream = [
        "master:",
        "resample:",
        "fit:",
        "deliverable:",
        "tag:",
        "replaygain:",
    ];
    assert!(stale
        .iter()
        .all(|s| downstream.iter().any(|d| s.starts_with(d))));
    assert!(log.built().is_empty());
    // Nothing was rendered: the real build still has all of them to do.
    assert_eq!(project.build_ok(&[]).built().len(), 23);
}

#[test]
fn manifest_records_every_file() {
    let project = three_track_project();
    project.build_ok(&[]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.path("out/1.0.0/manifest.json")).unwrap())
            .unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 6);
    for file in files {
        let path = project.path(&format!("out/1.0.0/{}", file["path"].as_str().unwrap()));
        let hash = blake3::hash(&std::fs::read(&path).unwrap())
            .to_hex()
            .to_string();
        assert_eq!(file["blake3"], hash.as_str());
        let loudness = file["integrated_loudness"].as_f64().unwrap();
        assert!((loudness + 18.0).abs() < 0.15, "{loudness}");
        assert!(file["true_peak"].as_f64().unwrap() < 0.0);
        assert!(file["duration"].as_f64().unwrap() > 1.1);
    }
    assert_eq!(manifest["version"], "1.0.0");
    assert!(manifest["tool_version"].is_string());
}

#[test]
fn clean_removes_the_cache() {
    let project = three_track_project();
    project.build_ok(&[]);
    assert!(project.path(".bounce/CACHEDIR.TAG").is_file());
    let output = project.run(&["clean"]);
    assert!(output.status.success());
    assert!(!project.path(".bounce").exists());
    assert!(
        project.path("out/1.0.0/manifest.json").exists(),
        "outputs stay without --outputs"
    );
    assert_eq!(project.build_ok(&[]).built().len(), 47);
}

/// Two tracks of identical audio render it once, even side by side: the
/// second of each pair of steps waits for the first and reports `cached`.
#[test]
fn identical_steps_in_flight_render_once() {
    let project = TestProject::new();
    project.wav("stems/a.wav", 48000, 24, &sine(48000, 2, 220.0, 0.4, 2.0));
    project.write(
        "bounce.kdl",
        r#"
release "Twins" {
    version "1"
}
master "m" {
    eq { bell 1000 gain=2 q=1; }
    loudness -16
}
track 1 "One" {
    stem "a" "stems/a.wav" { compress threshold=-20 ratio=3; }
}
track 2 "Two" {
    stem "a" "stems/a.wav" { compress threshold=-20 ratio=3; }
}
deliverable "wav" {
    master "m"
    format "wav" bits=24
}
"#,
    );
    let log = project.build_ok(&["-j", "2"]);
    for step in ["stem:{}:a", "mix:{}", "master:m:{}", "deliverable:wav:{}"] {
        let ids = [step.replace("{}", "1"), step.replace("{}", "2")];
        let built = ids.iter().filter(|id| log.built().contains(*id)).count();
        let cached = ids.iter().filter(|id| log.cached().contains(*id)).count();
        assert_eq!((built, cached), (1, 1), "{step}: {:?}", log.built());
    }
}

/// A warning comes with the render that found it; a later build that
/// finds the step cached recalls it as such, in both output formats.
#[test]
fn warnings_from_cached_steps_are_recalled_not_repeated_as_news() {
    let project = three_track_project();
    project.write(
        "bounce.kdl",
        &THREE_TRACKS.replace("loudness -18", "loudness -18\n    gain 30"),
    );
    let first = project.build_ok(&[]);
    let warned: Vec<&serde_json::Value> = first
        .steps
        .iter()
        .filter(|s| s["warnings"].is_array())
        .collect();
    assert!(!warned.is_empty(), "the clipping masters warn");
    assert!(warned.iter().all(|s| s["warnings_recalled"] == false));
    let second = project.build_ok(&[]);
    let recalled: Vec<&serde_json::Value> = second
        .steps
        .iter()
        .filter(|s| s["warnings"].is_array())
        .collect();
    assert_eq!(recalled.len(), warned.len());
    assert!(recalled.iter().all(|s| s["warnings_recalled"] == true));
    let human = project.run(&["build"]);
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        stderr.contains("Recalled") && stderr.contains("(from the cache)"),
        "{stderr}"
    );
    assert!(!stderr.contains("   Warning "), "{stderr}");
}
