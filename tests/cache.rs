//! The cache looks after itself: a size cap with least-recently-used
//! eviction, statistics, garbage collection and verification.

mod common;

use common::*;

fn blob_files(project: &TestProject) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for shard in std::fs::read_dir(project.path(".bounce/blobs")).unwrap() {
        for blob in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            files.push(blob.unwrap().path());
        }
    }
    files
}

fn outputs(project: &TestProject) -> Vec<Vec<u8>> {
    ["hi/01 - One.wav", "hi/02 - Two.wav", "lo/03 - Three.wav"]
        .iter()
        .map(|f| std::fs::read(project.path(&format!("out/1.0.0/{f}"))).unwrap())
        .collect()
}

#[test]
fn stats_report_size_entries_and_hit_rate() {
    let project = three_track_project();
    project.build_ok(&[]);
    project.build_ok(&[]);
    let output = project.run(&["cache", "stats"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let files = blob_files(&project).len();
    assert!(text.contains(&format!(" in {files} files")), "{text}");
    assert!(text.contains("0 rendered: 100 % hit rate"), "{text}");
}

#[test]
fn a_size_cap_evicts_what_the_build_did_not_use_and_rebuilds_stay_identical() {
    let project = three_track_project();
    project.build_ok(&[]);
    let before = outputs(&project);
    let files = blob_files(&project).len();
    // A one-byte cap while building "hi": everything "hi" used stays (a
    // build never evicts its own inputs); "lo"'s files, its seven
    // encode, ReplayGain and tag outputs, go.
    let log = project.build_ok(&["hi", "--cache-size", "1"]);
    assert_eq!(log.summary["evicted"], 7, "{}", log.summary);
    assert_eq!(blob_files(&project).len(), files - 7);
    // The next full build renders those again, says why, and delivers
    // the same bytes.
    let log = project.build_ok(&[]);
    let rendered = log.rendered();
    assert_eq!(rendered.len(), 7, "{rendered:?}");
    assert!(rendered.iter().all(|s| s.contains(":lo")), "{rendered:?}");
    for step in log.steps.iter().filter(|s| s["status"] == "built") {
        let reason = step["reason"].as_str().unwrap();
        assert!(
            reason == "its output was evicted from the cache" || reason.starts_with("input "),
            "{step}"
        );
    }
    assert_eq!(outputs(&project), before);
}

#[test]
fn verify_finds_damage_and_the_next_build_renders_it_again() {
    let project = three_track_project();
    let log = project.build_ok(&[]);
    assert!(project.run(&["cache", "verify"]).status.success());
    let before = outputs(&project);
    // Damage the blob of track 2's 24-bit file (its master is transient:
    // the rebuild renders it again too).
    let path = blob_of(&project, &log, "deliverable:hi:2");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();

    let verify = project.run(&["cache", "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        stderr.contains("damaged (removed; its step renders again)"),
        "{stderr}"
    );
    assert!(!path.exists());
    let log = project.build_ok(&[]);
    assert!(log.built().contains("deliverable:hi:2"));
    assert_eq!(outputs(&project), before);
    let verify = project.run(&["cache", "verify"]);
    assert!(verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stderr).contains("clean"));
}

#[test]
fn gc_removes_files_no_step_names() {
    let project = three_track_project();
    project.build_ok(&[]);
    let orphan = project.path(".bounce/blobs/00/00orphan");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"left by a killed build").unwrap();
    let count = blob_files(&project).len();
    let output = project.run(&["cache", "gc"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("removed 1 unused files"));
    assert_eq!(blob_files(&project).len(), count - 1);
    // Nothing a build needs went.
    let log = project.build_ok(&[]);
    assert!(log.built().is_empty(), "{:?}", log.built());
}

#[test]
fn a_damaged_intermediate_is_never_used_and_renders_again() {
    let project = three_track_project();
    let log = project.build_ok(&[]);
    let path = blob_of(&project, &log, "mix:2");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    // The master reads the mix again.
    let text = std::fs::read_to_string(project.path("bounce.kdl")).unwrap();
    project.write("bounce.kdl", &text.replace("width 1.1", "width 1.2"));
    let log = project.build(&[]);
    assert_eq!(log.output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&log.output.stderr);
    assert!(stderr.contains("a cached file is damaged"), "{stderr}");
    assert!(!path.exists(), "the damaged file is removed");
    let log = project.build_ok(&[]);
    assert!(log.built().contains("mix:2"));
    let clean = three_track_project();
    clean.write("bounce.kdl", &text.replace("width 1.1", "width 1.2"));
    clean.build_ok(&[]);
    assert_eq!(outputs(&project), outputs(&clean));
}

/// Stems and buses are transient: after a build the cache holds no file of
/// theirs (their keys stay), a no-op build renders nothing, and a one-stem
/// edit renders the track's other stems again to mix them, giving exactly
/// the files a clean build of the edited project gives.
#[test]
fn stems_and_buses_are_not_kept_and_edits_still_render_exactly() {
    let project = three_track_project();
    let log = project.build_ok(&[]);
    let transient: Vec<&serde_json::Value> = log
        .steps
        .iter()
        .filter(|s| s["kind"] == "stem" || s["kind"] == "bus")
        .collect();
    assert!(transient.len() >= 12, "{} stems and buses", transient.len());
    for step in &transient {
        let key = step["key"].as_str().unwrap();
        let entry: serde_json::Value = serde_json::from_slice(
            &std::fs::read(project.path(&format!(".bounce/actions/{}/{key}.json", &key[..2])))
                .unwrap(),
        )
        .unwrap();
        let output = entry["output"].as_str().unwrap();
        assert!(
            !project
                .path(&format!(".bounce/blobs/{}/{output}", &output[..2]))
                .exists(),
            "{} kept its output",
            step["step"]
        );
    }
    assert_eq!(
        std::fs::read_dir(project.path(".bounce/scratch"))
            .unwrap()
            .count(),
        0,
        "scratch outlived the build"
    );
    assert!(project.build_ok(&[]).rendered().is_empty());

    let edited = THREE_TRACKS.replacen(
        "stem \"kick\" \"stems/2/kick.wav\" gain=-3",
        "stem \"kick\" \"stems/2/kick.wav\" gain=-4",
        1,
    );
    project.write("bounce.kdl", &edited);
    let log = project.build_ok(&[]);
    let rendered = log.rendered();
    assert!(rendered.contains("stem:2:kick"), "{rendered:?}");
    assert!(rendered.contains("mix:2"), "{rendered:?}");
    let track_one_audio = |s: &String| {
        s.starts_with("stem:1:") || s.starts_with("bus:1:") || s == "mix:1" || s == "master:main:1"
    };
    assert!(!rendered.iter().any(track_one_audio), "{rendered:?}");
    let after_edit = outputs(&project);

    let clean = three_track_project();
    clean.write("bounce.kdl", &edited);
    clean.build_ok(&[]);
    assert_eq!(
        after_edit,
        outputs(&clean),
        "an edit renders what a clean build does"
    );
}
